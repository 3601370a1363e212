//! `POST /api/v1/pipeline/analyze`: the stack profile of a repository, the same JSON as
//! `pipewright analyze --json`.

use super::repository::{self, repository_request};
use crate::serve::error::{ApiError, ErrorKind};
use crate::serve::extract::ApiJson;
use crate::serve::openapi::{CommonErrors, RepositoryErrors};
use crate::serve::state::AppState;
use axum::extract::State;
use axum::Json;
use pipewright_core::stack::StackProfile;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A request's `overrides`, checked like a `pipewright.toml` (400 naming the key when wrong).
pub(crate) fn request_overrides(
    value: Option<serde_json::Value>,
) -> Result<pipewright_workflow::analyze::OverrideLayers, ApiError> {
    let explicit = match value {
        None => None,
        Some(v) => Some(
            pipewright_core::overrides::Overrides::from_json(&v, "request overrides", false)
                .map_err(|e| ApiError::invalid_field("overrides", e.to_string()))?,
        ),
    };
    Ok(pipewright_workflow::analyze::OverrideLayers {
        user: None,
        explicit,
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(analyze))
}

repository_request! {
    /// A repository to analyze: exactly one of `repository_url`, `files`, `path`.
    #[schema(example = json!({
        "files": {
            "app.py": "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route(\"/\")\ndef index():\n    return \"ok\"\n",
            "requirements.txt": "flask==3.0.3\n"
        }
    }))]
    AnalyzeRequest {
        /// What the repository is, where detection needs correcting: the `[services."path"]`
        /// and `ignore` entries of `pipewright.toml` as JSON; they win over the repository's
        /// own `pipewright.toml` and over detection.
        #[schema(value_type = Option<Object>)]
        overrides: Option<serde_json::Value>,
    }
}

/// Detects every service of a repository: language, framework, build tool, test framework,
/// runtime version, port, databases, commands, with the evidence for each conclusion.
#[utoipa::path(
    post,
    path = "/api/v1/pipeline/analyze",
    tag = "pipeline",
    request_body = AnalyzeRequest,
    responses(
        (status = 200, description = "The stack profile, as `pipewright analyze --json` prints it; 422 `nothing_recognised` with it in `details.profile` when no stack was recognised", body = StackProfile),
        CommonErrors,
        RepositoryErrors,
    )
)]
async fn analyze(
    State(state): State<AppState>,
    ApiJson(mut request): ApiJson<AnalyzeRequest>,
) -> Result<Json<StackProfile>, ApiError> {
    let layers = request_overrides(request.overrides.take())?;
    let source = repository::open(&state, request.repository()?).await?;
    let profile = crate::serve::blocking(move || {
        pipewright_workflow::analyze::analyze_with_overrides(source.as_ref(), &layers)
            .map(|(_, profile)| profile)
    })
    .await??;
    if profile.services.is_empty() {
        return Err(ApiError::new(
            ErrorKind::NothingRecognised,
            format!(
                "no supported stack was recognised in {}; `details.profile` says what was seen",
                profile.root
            ),
        )
        .details(serde_json::json!({ "profile": profile })));
    }
    Ok(Json(profile))
}
