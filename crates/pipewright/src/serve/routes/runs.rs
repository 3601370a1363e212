//! `GET /api/v1/pipeline/runs` and `GET /api/v1/pipeline/runs/{id}`: every workflow request
//! recorded, newest first, with its steps, timings and outcome. Listing pages by keyset:
//! pass the last id you got as `before`.

use crate::serve::error::{ApiError, ErrorBody, ErrorKind};
use crate::serve::extract::ApiQuery;
use crate::serve::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use pipewright_core::runs::{is_run_id, RunFilter, RunStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Runs one page returns when `limit` is not given.
const DEFAULT_LIMIT: usize = 50;
/// The largest `limit` accepted.
const MAX_LIMIT: usize = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
}

/// Which runs to list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// At most this many (1–500, default 50).
    pub limit: Option<usize>,
    /// Only runs older than this run id (the last id of the previous page).
    pub before: Option<String>,
    /// `running`, `succeeded` or `failed`.
    pub status: Option<String>,
    /// Only runs for this project (as named in the request, or its numeric id).
    pub project: Option<String>,
}

/// A page of runs, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunList {
    /// Each run with its steps, times (RFC 3339) and outcome.
    #[schema(value_type = Vec<Object>)]
    pub runs: Vec<Value>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<String>,
}

/// Lists recorded runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/pipeline/runs",
    tag = "runs",
    params(RunsQuery),
    responses(
        (status = 200, description = "A page of runs", body = RunList),
        (status = 422, description = "A bad query parameter", body = ErrorBody),
        (status = 503, description = "The run store is not available", body = ErrorBody),
    )
)]
async fn list_runs(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<RunsQuery>,
) -> Result<Json<RunList>, ApiError> {
    let store = state.run_store()?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid_field(
            "limit",
            format!("`limit` must be between 1 and {MAX_LIMIT}"),
        ));
    }
    if let Some(before) = &query.before {
        if !is_run_id(before) {
            return Err(ApiError::invalid_field(
                "before",
                "`before` must be a run id such as `run_0193a4f2c1d0_5f3a9c21`",
            ));
        }
    }
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(RunStatus::parse(text).ok_or_else(|| {
            ApiError::invalid_field(
                "status",
                format!("unknown status `{text}`; use running, succeeded or failed"),
            )
        })?),
    };
    let runs = store
        .list(&RunFilter {
            limit,
            before: query.before,
            status,
            project: query.project,
        })
        .await?;
    let next_before = (runs.len() == limit)
        .then(|| runs.last().map(|r| r.id.clone()))
        .flatten();
    Ok(Json(RunList {
        runs: runs.iter().map(|r| r.to_json()).collect(),
        next_before,
    }))
}

/// One run with its steps, timings and outcome.
#[utoipa::path(
    get,
    path = "/api/v1/pipeline/runs/{id}",
    tag = "runs",
    params(("id" = String, Path, description = "The run id, as the workflow answered it")),
    responses(
        (status = 200, description = "The run", body = Object),
        (status = 404, description = "No run has this id", body = ErrorBody),
        (status = 422, description = "Not a run id", body = ErrorBody),
        (status = 503, description = "The run store is not available", body = ErrorBody),
    )
)]
async fn get_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !is_run_id(&id) {
        return Err(ApiError::invalid_field(
            "id",
            "not a run id; run ids look like `run_0193a4f2c1d0_5f3a9c21`",
        ));
    }
    let store = state.run_store()?;
    match store.get(&id).await? {
        Some(run) => Ok(Json(run.to_json())),
        None => Err(ApiError::new(
            ErrorKind::NotFound,
            format!("no run has the id `{id}`; list runs with GET /api/v1/pipeline/runs"),
        )),
    }
}
