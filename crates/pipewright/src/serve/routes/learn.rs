//! `POST /api/v1/pipeline/learn`: the route every generated pipeline's `learn` job calls.
//! The body is a claim, never a fact: the pipeline is read from GitLab (its commit must match
//! the body's `sha` when given), its jobs go through the same quality gate as the monitor's,
//! and the pair is stored only on a pass. The `learn` job calls while it runs, so the gate
//! counts that one job (it must exist in the pipeline and be running or passed) as passed;
//! every other job must have passed already. See ARCHITECTURE.md, "Decisions".

use super::workflow::ProjectId;
use crate::serve::error::{ApiError, ErrorBody};
use crate::serve::extract::ApiJson;
use crate::serve::state::AppState;
use axum::extract::State;
use axum::Json;
use pipewright_adapters::gitlab::GitLabSource;
use pipewright_core::gitlab::{GitLab, ProjectRef, RawFile};
use pipewright_core::knowledge::StackKey;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(learn))
}

/// What the `learn` job reports (CI variables, so numbers may come as strings).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"project_id": "42", "pipeline_id": "1001", "sha": "3f9c2a1e5b7d4c6f8a0b2c4d6e8f0a1b3c5d7e9f", "ref": "feature/ai-pipeline", "service": ""}))]
pub struct LearnRequest {
    /// `$CI_PROJECT_ID`.
    pub project_id: ProjectId,
    /// `$CI_PIPELINE_ID`.
    pub pipeline_id: ProjectId,
    /// `$CI_COMMIT_SHA`: must be the pipeline's commit.
    #[serde(default)]
    pub sha: Option<String>,
    /// `$CI_COMMIT_REF_NAME` (informational).
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    /// The service slug of a monorepo job (`learn:<service>`), empty for one service.
    #[serde(default)]
    pub service: Option<String>,
}

/// Whether the pipeline was stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LearnAnswer {
    pub stored: bool,
    pub template_id: Option<String>,
    pub reason: String,
}

fn refuse(reason: impl Into<String>) -> Json<LearnAnswer> {
    Json(LearnAnswer {
        stored: false,
        template_id: None,
        reason: reason.into(),
    })
}

fn number(field: &str, value: &ProjectId) -> Result<u64, ApiError> {
    match value {
        ProjectId::Number(n) => Ok(*n),
        ProjectId::Text(t) => t.trim().parse::<u64>().map_err(|_| {
            ApiError::invalid_field(field, format!("`{field}` must be a number, not `{t}`"))
        }),
    }
}

/// A file's text at `sha`, or `None` when absent.
async fn file_at(
    gitlab: &dyn GitLab,
    project: &ProjectRef,
    path: &str,
    sha: &str,
) -> Result<Option<String>, ApiError> {
    if !gitlab.file_exists(project, path, sha).await? {
        return Ok(None);
    }
    match gitlab.raw_file(project, path, sha, 256 * 1024).await? {
        RawFile::Bytes(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        RawFile::TooLarge { .. } => Ok(None),
    }
}

/// Re-reads a pipeline from GitLab, runs the quality gate, and stores the pair on a pass.
#[utoipa::path(
    post,
    path = "/api/v1/pipeline/learn",
    tag = "pipeline",
    request_body = LearnRequest,
    responses(
        (status = 200, description = "Decided: stored, or why not", body = LearnAnswer),
        (status = 404, description = "GitLab has no such project or pipeline", body = ErrorBody),
        (status = 422, description = "A bad field", body = ErrorBody),
        (status = 503, description = "Monitoring is not available (GitLab or the run store missing)", body = ErrorBody),
    )
)]
async fn learn(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<LearnRequest>,
) -> Result<Json<LearnAnswer>, ApiError> {
    let monitor = state.monitor()?;
    let gitlab = monitor.gitlab();
    let project_id = number("project_id", &request.project_id)?;
    let pipeline_id = number("pipeline_id", &request.pipeline_id)?;
    let project = ProjectRef::Id(project_id);
    tracing::info!(project_id, pipeline_id, reference = ?request.reference, "learn requested");
    let pipeline = gitlab.pipeline(&project, pipeline_id).await?;
    if let Some(sha) = request.sha.as_deref().filter(|s| !s.is_empty()) {
        if sha != pipeline.sha {
            return Ok(refuse(format!(
                "pipeline {pipeline_id} is for commit {}, not {sha}; nothing stored",
                pipeline.sha
            )));
        }
    }
    // The pair and its stack: from the task that committed it, else read at the commit.
    let task = monitor
        .store()
        .task_for_commit(project_id, &pipeline.sha)
        .await?;
    let (stack, ci, dockerfile, project_name): (
        Option<StackKey>,
        Option<String>,
        Option<String>,
        String,
    ) = match &task {
        Some(task) => match task.learnable_pair() {
            Ok((stack, ci, df)) => (Some(stack), Some(ci), Some(df), task.project_path.clone()),
            Err(reason) => return Ok(refuse(reason)),
        },
        None => {
            let source = GitLabSource::fetch(gitlab, &project, Some(&pipeline.sha)).await?;
            let name = source.project().path_with_namespace.clone();
            let profile = crate::serve::blocking(move || {
                pipewright_workflow::analyze::analyze_source(&source)
            })
            .await?;
            let stack =
                match profile.as_ref().map(|p| p.services.as_slice()) {
                    Ok([service]) => Some(StackKey::from_service(service)),
                    Ok(_) => return Ok(refuse(
                        "not one service: stored pairs describe one stack, so it is not learned",
                    )),
                    Err(e) => return Ok(refuse(format!("the commit could not be analyzed: {e}"))),
                };
            let ci = file_at(gitlab, &project, ".gitlab-ci.yml", &pipeline.sha).await?;
            let df = file_at(gitlab, &project, "Dockerfile", &pipeline.sha).await?;
            (stack, ci, df, name)
        }
    };
    let (Some(stack), Some(ci), Some(dockerfile)) = (stack, ci, dockerfile) else {
        return Ok(refuse(
            "the commit lacks a .gitlab-ci.yml or a Dockerfile; a stored pair needs both",
        ));
    };
    // The caller is the learn job: it runs now, so it cannot have passed yet.
    let caller = match request.service.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => format!("learn:{s}"),
        _ => "learn".to_string(),
    };
    let verdict = monitor
        .gate(&project, pipeline_id, Some(&ci), Some(caller))
        .await?;
    if !verdict.passed {
        return Ok(refuse(format!(
            "the quality gate did not pass: {}",
            verdict.reason
        )));
    }
    match monitor
        .learn_pair(stack, ci, dockerfile, &project_name, pipeline_id)
        .await
    {
        Ok(outcome) => Ok(Json(LearnAnswer {
            stored: true,
            reason: if outcome.counted {
                format!(
                    "{}; stored (it has gone green {} time(s))",
                    verdict.reason, outcome.success_count
                )
            } else {
                format!("{}; this pipeline was already stored", verdict.reason)
            },
            template_id: Some(outcome.template_id),
        })),
        Err(reason) => Err(ApiError::new(
            crate::serve::error::ErrorKind::StoreFailed,
            format!("the pipeline passed but could not be stored: {reason}"),
        )),
    }
}
