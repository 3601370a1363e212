//! `POST /api/v1/pipeline/workflow`: the seed's workflow up to the commit. The project (URL
//! on the configured GitLab, `group/project` path or id) is read through the GitLab API,
//! analyzed, generated for, validated, checked with GitLab's CI Lint (its errors go back to
//! the LLM like validator findings), and committed to a new branch in one commit. Every
//! request is recorded as a run (`GET /api/v1/pipeline/runs/{id}`), failed ones included.

use crate::cli::config::SettingsOverrides;
use crate::cli::images::seeding;
use crate::serve::error::{ApiError, ErrorBody, ErrorKind};
use crate::serve::extract::ApiJson;
use crate::serve::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use pipewright_adapters::runs::new_run_id;
use pipewright_workflow::images::SeedOptions;
use pipewright_workflow::workflow::{
    run_workflow, ImageSeeding, WorkflowContext, WorkflowError, WorkflowOutcome, WorkflowRequest,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(workflow))
}

/// A project by URL or id, untyped in JSON (a number or a string).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ProjectId {
    Number(u64),
    Text(String),
}

/// The seed's `PipelineWorkflowRequest`: which project (exactly one of `repository_url` and
/// `project_id`), from which branch, and how.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"project_id": "group/app", "use_template_only": true}))]
pub struct PipelineWorkflowRequest {
    /// The project's URL on the configured GitLab (`https://gitlab.example.com/group/app`).
    #[serde(default, alias = "repo_url", alias = "gitlab_url")]
    pub repository_url: Option<String>,
    /// The project's numeric id or `group/project` path.
    #[serde(default)]
    pub project_id: Option<ProjectId>,
    /// The branch to read and to start the new branch from (default: the project's default).
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    /// Always use the built-in generator.
    #[serde(default)]
    pub use_template_only: bool,
    /// The branch to commit to (default `feature/ai-pipeline-<UTC timestamp>`); an existing
    /// branch receives the commit on top. Never the default branch.
    #[serde(default, alias = "branch_name")]
    pub branch: Option<String>,
    /// Write pipewright's Dockerfile even when the repository has its own.
    #[serde(default)]
    pub replace_dockerfile: bool,
    /// Overrides of the server's settings for this request.
    #[serde(default)]
    pub settings: SettingsOverrides,
    /// Watch the pipeline the commit starts, gate it and learn it (default true; needs the
    /// run store). `false` commits and walks away.
    #[serde(default)]
    pub monitor: Option<bool>,
}

impl PipelineWorkflowRequest {
    /// The project as one string: the URL, the path or the id.
    fn project(&self) -> Result<String, ApiError> {
        match (&self.repository_url, &self.project_id) {
            (Some(_), Some(_)) => Err(ApiError::new(
                ErrorKind::InvalidRequest,
                "give the project once: either `repository_url` or `project_id`, not both",
            )
            .field("project_id")),
            (None, None) => Err(ApiError::new(
                ErrorKind::InvalidRequest,
                "name the GitLab project: `repository_url` (its URL) or `project_id` (its id or `group/project` path)",
            )
            .field("repository_url")),
            (Some(url), None) if url.trim().is_empty() => Err(ApiError::invalid_field(
                "repository_url",
                "`repository_url` is empty; give the project's URL on the configured GitLab",
            )),
            (Some(url), None) => Ok(url.trim().to_string()),
            (None, Some(ProjectId::Number(n))) => Ok(n.to_string()),
            (None, Some(ProjectId::Text(t))) if t.trim().is_empty() => Err(
                ApiError::invalid_field("project_id", "`project_id` is empty; give the id or the `group/project` path"),
            ),
            (None, Some(ProjectId::Text(t))) => Ok(t.trim().to_string()),
        }
    }
}

/// The error answer for a workflow failure, naming the run that recorded it.
fn workflow_error(e: WorkflowError, run_id: &str) -> ApiError {
    let error = match e {
        WorkflowError::ProjectRefused(inner) => ApiError::from(inner),
        WorkflowError::GitLab(inner) => ApiError::from(inner),
        WorkflowError::BadBranch { .. } => ApiError::invalid_field("branch", e.to_string()),
        WorkflowError::NothingRecognised(_) => {
            ApiError::new(ErrorKind::NothingRecognised, e.to_string())
        }
        WorkflowError::LintRejected { ref errors } => {
            let errors = errors.clone();
            ApiError::new(ErrorKind::LintRejected, e.to_string())
                .details(serde_json::json!({ "lint_errors": errors }))
        }
        WorkflowError::Generate(inner) => ApiError::from(inner),
        WorkflowError::Internal(_) => ApiError::internal(e.to_string()),
    };
    error.with_detail("run_id", run_id)
}

/// Analyzes a GitLab project, generates and validates its pipeline and Dockerfile, checks
/// them with GitLab's CI Lint, and commits them to a new branch.
#[utoipa::path(
    post,
    path = "/api/v1/pipeline/workflow",
    tag = "pipeline",
    request_body = PipelineWorkflowRequest,
    responses(
        (status = 201, description = "Committed: the branch, the commit and what was done", body = WorkflowOutcome),
        (status = 400, description = "Not JSON, or a project URL the policy refuses", body = ErrorBody),
        (status = 404, description = "The project (or ref) does not exist, or the token cannot see it", body = ErrorBody),
        (status = 422, description = "A bad field, a bad branch, nothing recognised, or CI Lint rejects the pipeline", body = ErrorBody),
        (status = 502, description = "GitLab refused the token or failed", body = ErrorBody),
        (status = 503, description = "GitLab is not configured (GITLAB_URL / GITLAB_TOKEN)", body = ErrorBody),
        (status = 504, description = "GitLab did not answer in time", body = ErrorBody),
    )
)]
async fn workflow(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<PipelineWorkflowRequest>,
) -> Result<(StatusCode, Json<WorkflowOutcome>), ApiError> {
    let project = request.project()?;
    let settings = state.settings_for(&request.settings, request.replace_dockerfile)?;
    let gitlab = state.gitlab()?;
    let watch = request.monitor.unwrap_or(true);
    let run_id = new_run_id();
    tracing::info!(run_id = %run_id, "workflow started");
    // With a registry configured, the images are seeded before the commit.
    let seeding = match state.settings.images.registry {
        Some(_) => match seeding(&state.settings.images, &settings.generator, None) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "images are not seeded");
                None
            }
        },
        None => None,
    };
    let outcome = run_workflow(
        WorkflowRequest {
            project,
            reference: request.reference,
            use_template_only: request.use_template_only,
            branch: request.branch,
            generator: settings.generator,
            allowed_hosts: settings.allowed_hosts,
        },
        WorkflowContext {
            gitlab,
            policy: gitlab.policy(),
            paths: state.path_options(false),
            runs: state.runs.as_ref().ok().map(|r| r.as_ref()),
            run_id: run_id.clone(),
            images: seeding.as_ref().map(|s| ImageSeeding {
                registry: &s.registry,
                settings: s.settings.clone(),
                options: SeedOptions::default(),
            }),
        },
    )
    .await
    .map_err(|e| workflow_error(e, &run_id))?;
    tracing::info!(
        run_id = %run_id,
        branch = %outcome.branch,
        commit = %outcome.commit_id,
        tag = outcome.commit_tag,
        "workflow committed"
    );
    let mut outcome = outcome;
    if watch {
        // Saved before the answer: a restart from here on resumes it.
        match &state.monitor {
            Ok(monitor) => {
                if let Err(e) = monitor
                    .watch(
                        &run_id,
                        outcome.project_id,
                        &outcome.project_path,
                        &outcome.branch,
                        &outcome.commit_id,
                        outcome.stack.clone(),
                        outcome.files.clone(),
                    )
                    .await
                {
                    outcome
                        .warnings
                        .push(format!("the pipeline is not monitored: {e}"));
                }
            }
            Err(reason) => outcome
                .warnings
                .push(format!("the pipeline is not monitored: {reason}")),
        }
    }
    Ok((StatusCode::CREATED, Json(outcome)))
}
