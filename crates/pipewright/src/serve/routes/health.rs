//! `GET /health`: pipewright's status and each dependency's (store, LLM, GitLab), checked
//! concurrently, each within the health time limit. Always 200 while pipewright itself can
//! answer: a degraded dependency is reported, not fatal.

use crate::serve::state::AppState;
use axum::extract::State;
use axum::Json;
use pipewright_core::knowledge::{Collection, Filter};
use serde::Serialize;
use std::future::Future;
use std::time::{Duration, Instant};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// The answer of `/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when every configured dependency answers, `degraded` otherwise.
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_seconds: u64,
    pub dependencies: Dependencies,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Dependencies {
    /// The knowledge store (templates, learned pipelines, feedback).
    pub store: DependencyHealth,
    /// The language model; without one the built-in generator writes every pipeline.
    pub llm: DependencyHealth,
    /// GitLab, needed only by requests that read or write GitLab.
    pub gitlab: DependencyHealth,
    /// The run store (embedded SQLite, or the PostgreSQL database instances share): runs,
    /// monitor tasks and their leases.
    pub database: DependencyHealth,
}

/// One dependency's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct DependencyHealth {
    /// `ok`, `unavailable` or `not_configured`.
    pub state: DependencyState,
    /// How long the check took.
    pub latency_ms: u64,
    /// What was checked (when `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Why it is not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DependencyState {
    Ok,
    Unavailable,
    NotConfigured,
}

/// pipewright's health and its dependencies'.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    security(()),
    responses((status = 200, description = "pipewright answers; see each dependency's state", body = Health))
)]
async fn health(State(state): State<AppState>) -> Json<Health> {
    let limit = state.health_timeout;
    let (store, llm, gitlab, database) = tokio::join!(
        check_store(&state, limit),
        check_llm(&state, limit),
        check_gitlab(&state, limit),
        check_database(&state, limit)
    );
    let degraded = [&store, &llm, &gitlab, &database]
        .iter()
        .any(|d| d.state == DependencyState::Unavailable);
    Json(Health {
        status: if degraded { "degraded" } else { "ok" },
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs(),
        dependencies: Dependencies {
            store,
            llm,
            gitlab,
            database,
        },
    })
}

/// Runs one check within `limit`, timing it.
async fn timed(
    limit: Duration,
    check: impl Future<Output = Result<String, String>>,
) -> DependencyHealth {
    let started = Instant::now();
    let outcome = tokio::time::timeout(limit, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} ms", limit.as_millis())));
    let latency_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(detail) => DependencyHealth {
            state: DependencyState::Ok,
            latency_ms,
            detail: Some(detail),
            reason: None,
        },
        Err(reason) => DependencyHealth {
            state: DependencyState::Unavailable,
            latency_ms,
            detail: None,
            reason: Some(reason),
        },
    }
}

fn not_configured(reason: String) -> DependencyHealth {
    DependencyHealth {
        state: DependencyState::NotConfigured,
        latency_ms: 0,
        detail: None,
        reason: Some(reason),
    }
}

/// The store's backend and its count of templates. `/health` answers anyone, so it names the
/// backend (`embedded`, `chromadb`) but never where it is: a file path or a URL, and the
/// reasons that quote them, stay in the server's log.
async fn check_store(state: &AppState, limit: Duration) -> DependencyHealth {
    let store = match &state.store {
        Ok(store) => store.clone(),
        Err(_) => {
            return timed(limit, async {
                Err("the knowledge store could not be opened; the server's log says why".into())
            })
            .await
        }
    };
    timed(limit, async move {
        let described = store.describe();
        let backend = backend_name(&described);
        match store.count(Collection::Templates, &Filter::all()).await {
            Ok(templates) => Ok(format!("{backend}, {templates} template(s)")),
            Err(e) => {
                tracing::warn!(error = %e, "health: the knowledge store did not answer");
                Err(format!(
                    "the {backend} knowledge store did not answer; the server's log says why"
                ))
            }
        }
    })
    .await
}

/// `embedded` from `embedded (/path/knowledge.sqlite3)`: the backend without its location.
fn backend_name(described: &str) -> &str {
    described.split(" (").next().unwrap_or(described).trim()
}

async fn check_llm(state: &AppState, limit: Duration) -> DependencyHealth {
    match &state.llm {
        Ok(llm) => {
            let llm = llm.clone();
            timed(limit, async move {
                pipewright_adapters::llm::probe(llm.as_ref(), limit)
                    .await
                    .map(|detail| format!("{} ({detail})", llm.model()))
            })
            .await
        }
        Err(reason) if reason.contains("LLM_PROVIDER=none") => not_configured(format!(
            "{reason}: the built-in generator writes every pipeline"
        )),
        Err(reason) => timed(limit, async { Err(reason.clone()) }).await,
    }
}

async fn check_gitlab(state: &AppState, limit: Duration) -> DependencyHealth {
    match &state.gitlab {
        Ok(client) => {
            let client = client.clone();
            timed(limit, async move {
                client
                    .version()
                    .await
                    .map(|version| format!("GitLab {version} at {}", client.policy().base()))
                    .map_err(|e| e.to_string())
            })
            .await
        }
        Err(unset) => not_configured(unset.message.clone()),
    }
}

async fn check_database(state: &AppState, limit: Duration) -> DependencyHealth {
    let runs = match &state.runs {
        Ok(runs) => runs.clone(),
        Err(reason) => return timed(limit, async { Err(reason.clone()) }).await,
    };
    let monitor = state.monitor.as_ref().ok().cloned();
    timed(limit, async move {
        let mut detail = runs.check().await.map_err(|e| e.to_string())?;
        if let Some(monitor) = monitor {
            let leases = monitor
                .store()
                .lease_counts()
                .await
                .map_err(|e| e.to_string())?;
            detail.push_str(&format!(
                "; monitor tasks: {} held by an instance ({} here), {} waiting for one",
                leases.held,
                monitor.active(),
                leases.free
            ));
        }
        Ok(detail)
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_backend_is_named_without_its_location() {
        assert_eq!(
            super::backend_name("embedded (/data/knowledge.sqlite3)"),
            "embedded"
        );
        assert_eq!(
            super::backend_name("chromadb (http://chroma:8000, t/d)"),
            "chromadb"
        );
        assert_eq!(super::backend_name("embedded"), "embedded");
    }
}
