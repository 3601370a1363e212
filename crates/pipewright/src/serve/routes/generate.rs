//! `POST /api/v1/pipeline/generate`: the files pipewright would write for a repository, with
//! the path taken (and its commit tag), the explanation, the validator's findings and the
//! warnings. The same flow as `pipewright generate`: the built-in generator first
//! (`generate_from_source`), then the seed's choice of path (`choose_path`). Nothing is
//! written or committed.

use super::repository::{self, repository_request};
use crate::cli::config::SettingsOverrides;
use crate::serve::error::ApiError;
use crate::serve::extract::ApiJson;
use crate::serve::openapi::{CommonErrors, RepositoryErrors};
use crate::serve::state::AppState;
use axum::extract::State;
use axum::Json;
use pipewright_workflow::generate::{generate_with_overrides, validator_settings};
use pipewright_workflow::paths::{choose_path, GenerateSummary};
use pipewright_workflow::preview::{existing_files, ExistingFile};
use std::collections::BTreeMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(generate))
}

repository_request! {
    /// A repository to generate for (exactly one of `repository_url`, `files`, `path`) and how.
    #[schema(example = json!({
        "files": {
            "app.py": "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route(\"/\")\ndef index():\n    return \"ok\"\n",
            "requirements.txt": "flask==3.0.3\n"
        },
        "use_template_only": true
    }))]
    GenerateRequest {
        /// Always use the built-in generator (the seed's `use_template_only`).
        use_template_only: bool,
        /// Write pipewright's Dockerfile even when the repository has its own.
        replace_dockerfile: bool,
        /// Overrides of the server's settings for this request.
        settings: SettingsOverrides,
        /// What the repository is, where detection needs correcting (`pipewright.toml`'s
        /// `[services."path"]` and `ignore` as JSON).
        #[schema(value_type = Option<Object>)]
        overrides: Option<serde_json::Value>,
    }
}

/// Generates `.gitlab-ci.yml`, Dockerfile(s) and `.dockerignore`(s) for a repository, each
/// validated; commits nothing.
#[utoipa::path(
    post,
    path = "/api/v1/pipeline/generate",
    tag = "pipeline",
    request_body = GenerateRequest,
    responses(
        (status = 200, description = "The files and how they were made", body = GeneratePreview),
        CommonErrors,
        RepositoryErrors,
    )
)]
async fn generate(
    State(state): State<AppState>,
    ApiJson(mut request): ApiJson<GenerateRequest>,
) -> Result<Json<GeneratePreview>, ApiError> {
    let layers = super::analyze::request_overrides(request.overrides.take())?;
    let repository = request.repository()?;
    let settings = state.settings_for(&request.settings, request.replace_dockerfile)?;
    let source = repository::open(&state, repository).await?;
    let for_generator = settings.clone();
    let (built_in, source) = crate::serve::blocking(move || {
        let built_in = generate_with_overrides(
            source.as_ref(),
            &for_generator.generator,
            &for_generator.allowed_hosts,
            &layers,
        );
        (built_in, source)
    })
    .await?;
    let vsettings = validator_settings(&settings.generator, &settings.allowed_hosts);
    let options = state.path_options(request.use_template_only);
    let (outcome, report) = choose_path(built_in?, &options, &vsettings).await;
    let summary = GenerateSummary::new(outcome, report);
    let existing = existing_files(source.as_ref(), &summary.files);
    Ok(Json(GeneratePreview { summary, existing }))
}

/// The generate answer, plus the repository's own version of each file it would replace.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct GeneratePreview {
    #[serde(flatten)]
    pub summary: GenerateSummary,
    /// Path → the repository's content and the diff to pipewright's, for each generated file
    /// the repository already has.
    pub existing: BTreeMap<String, ExistingFile>,
}
