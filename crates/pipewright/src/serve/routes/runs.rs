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
        .routes(routes!(run_events))
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
    #[schema(value_type = Vec<crate::serve::schemas::RunSummary>)]
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
        (status = 200, description = "The run, with its pipeline's monitor", body = crate::serve::schemas::RunDetail),
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
        Some(run) => {
            let mut json = run.to_json();
            json["monitor"] = monitor_json(&state, &id).await?;
            Ok(Json(json))
        }
        None => Err(ApiError::new(
            ErrorKind::NotFound,
            format!("no run has the id `{id}`; list runs with GET /api/v1/pipeline/runs"),
        )),
    }
}

/// The run's `monitor` object, or null when its pipeline is not monitored.
async fn monitor_json(state: &AppState, id: &str) -> Result<Value, ApiError> {
    let Ok(monitor) = &state.monitor else {
        return Ok(Value::Null);
    };
    Ok(monitor
        .store()
        .task(id)
        .await?
        .map(|t| t.to_json())
        .unwrap_or(Value::Null))
}

/// How often an event stream reads its task from the store (changes another instance made).
const STORE_EVENT_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Server-Sent Events of a run's monitor: the current state at once (`event: monitor`), then
/// every change, and the stream ends after the final one.
#[utoipa::path(
    get,
    path = "/api/v1/pipeline/runs/{id}/events",
    tag = "runs",
    params(("id" = String, Path, description = "The run id")),
    responses(
        (status = 200, description = "`text/event-stream`: one `monitor` event per change, data is the run's monitor object", content_type = "text/event-stream", body = String),
        (status = 404, description = "No monitored pipeline for this run", body = ErrorBody),
        (status = 422, description = "Not a run id", body = ErrorBody),
        (status = 503, description = "Monitoring is not available", body = ErrorBody),
    )
)]
async fn run_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<
    axum::response::Sse<
        impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
    ApiError,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    if !is_run_id(&id) {
        return Err(ApiError::invalid_field(
            "id",
            "not a run id; run ids look like `run_0193a4f2c1d0_5f3a9c21`",
        ));
    }
    let monitor = state.monitor()?.clone();
    // Subscribed before reading, so no change falls between the read and the stream.
    let updates = monitor.subscribe();
    let Some(task) = monitor.store().task(&id).await? else {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            format!("run `{id}` has no monitored pipeline"),
        ));
    };
    let first = task.to_json();
    let done = !task.is_unfinished();
    let event = |v: &Value| Event::default().event("monitor").data(v.to_string());
    // Changes made here arrive on the broadcast; the store is read too, every
    // `STORE_EVENT_POLL`, for a task another instance sharing the database drives.
    struct Follow {
        pending: Option<Value>,
        last: Value,
        done: bool,
        updates: tokio::sync::broadcast::Receiver<pipewright_workflow::monitor::MonitorUpdate>,
        monitor: pipewright_workflow::monitor::Monitor,
        tick: tokio::time::Interval,
        id: String,
    }
    let mut tick = tokio::time::interval(STORE_EVENT_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = Follow {
        pending: Some(first.clone()),
        last: first,
        done,
        updates,
        monitor,
        tick,
        id,
    };
    let stream = futures_util::stream::unfold(start, move |mut f| async move {
        if let Some(v) = f.pending.take() {
            return Some((Ok(event(&v)), f));
        }
        if f.done {
            return None;
        }
        loop {
            let change = tokio::select! {
                update = f.updates.recv() => match update {
                    Ok(u) if u.run_id == f.id => Some((u.monitor, u.is_final)),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => None,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                },
                _ = f.tick.tick() => match f.monitor.store().task(&f.id).await {
                    Ok(Some(task)) => Some((task.to_json(), !task.is_unfinished())),
                    Ok(None) | Err(_) => None,
                },
            };
            if let Some((monitor, fin)) = change {
                if monitor != f.last {
                    f.last = monitor.clone();
                    f.done = fin;
                    return Some((Ok(event(&monitor)), f));
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
