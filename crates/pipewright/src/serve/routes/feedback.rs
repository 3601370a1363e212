//! `POST /api/v1/pipeline/feedback`: stores a user's correction of generated files in the
//! knowledge store's `pipeline_feedback` collection, once the files pass pipewright's
//! validator (the same check as a template import); 422 with the findings otherwise.

use crate::serve::error::ApiError;
use crate::serve::extract::{parse_name, ApiJson};
use crate::serve::openapi::{CommonErrors, StoreErrors};
use crate::serve::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use pipewright_adapters::store::now;
use pipewright_core::knowledge::{Origin, Record, StackKey};
use pipewright_workflow::generate::validator_settings;
use pipewright_workflow::templates::store_feedback;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(feedback))
}

/// A correction: the stack it is for, the corrected file(s), and what was changed and why.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "stack": {"language": "python", "framework": "flask", "build_tool": "pip"},
    "dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nUSER 1000\nEXPOSE 5000\nCMD [\"python\", \"-m\", \"flask\", \"run\", \"--host=0.0.0.0\"]\n",
    "comment": "run as a non-root user"
}))]
pub struct FeedbackRequest {
    /// The stack the files are for.
    pub stack: StackNames,
    /// The corrected `.gitlab-ci.yml`.
    #[serde(default)]
    pub gitlab_ci: Option<String>,
    /// The corrected Dockerfile.
    #[serde(default)]
    pub dockerfile: Option<String>,
    /// What was changed and why.
    pub comment: String,
    /// The GitLab project (id or path) the correction came from.
    #[serde(default)]
    pub project: Option<String>,
    /// The GitLab pipeline id.
    #[serde(default)]
    pub pipeline: Option<String>,
}

/// A stack by its names, as the CLI takes them.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackNames {
    /// `python`, `javascript`, `go` …
    pub language: String,
    /// `flask`, `express` …, when there is one.
    #[serde(default)]
    pub framework: Option<String>,
    /// `pip`, `npm`, `maven` …, when known.
    #[serde(default)]
    pub build_tool: Option<String>,
}

impl StackNames {
    fn key(&self) -> Result<StackKey, ApiError> {
        let language = parse_name("stack.language", Some(&self.language))?
            .ok_or_else(|| ApiError::invalid_field("stack.language", "give the language"))?;
        Ok(StackKey::new(language)
            .with_framework(parse_name("stack.framework", self.framework.as_deref())?)
            .with_build_tool(parse_name("stack.build_tool", self.build_tool.as_deref())?))
    }
}

/// The stored correction.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackResponse {
    pub id: String,
    /// Always `pipeline_feedback`.
    pub collection: String,
    /// False when the same correction was stored before (its count was raised).
    pub created: bool,
    /// How many times this correction was given.
    pub success_count: u32,
}

/// Stores a correction of generated files, validated first.
#[utoipa::path(
    post,
    path = "/api/v1/pipeline/feedback",
    tag = "pipeline",
    request_body = FeedbackRequest,
    responses(
        (status = 201, description = "Stored (or its count raised); files the validator rejects are 422 `invalid_files` with `details.findings`", body = FeedbackResponse),
        CommonErrors,
        StoreErrors,
    )
)]
async fn feedback(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<FeedbackRequest>,
) -> Result<(StatusCode, Json<FeedbackResponse>), ApiError> {
    let stack = request.stack.key()?;
    if request.gitlab_ci.is_none() && request.dockerfile.is_none() {
        return Err(ApiError::invalid_field(
            "gitlab_ci",
            "give the corrected `gitlab_ci` and/or `dockerfile`",
        ));
    }
    let record = Record::feedback(
        stack,
        request.gitlab_ci,
        request.dockerfile,
        request.comment,
        Origin {
            project: request.project,
            pipeline: request.pipeline,
        },
        now(),
    );
    let vsettings = validator_settings(&state.settings.generator, &state.settings.allowed_hosts);
    let learned = store_feedback(state.store()?, record, &vsettings).await?;
    Ok((
        StatusCode::CREATED,
        Json(FeedbackResponse {
            id: learned.record.id,
            collection: learned.record.collection.as_str().to_string(),
            created: learned.created,
            success_count: learned.record.success_count,
        }),
    ))
}
