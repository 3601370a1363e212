//! `POST /api/v1/webhooks/gitlab`: GitLab's pipeline webhooks. Outside the bearer-token
//! check (GitLab cannot send one): the `X-Gitlab-Token` header is compared in constant time
//! with `PIPEWRIGHT_WEBHOOK_SECRET` instead, and without a secret configured every delivery
//! is refused. The answer comes in milliseconds: a delivery is recorded (deduplicated by
//! `Idempotency-Key`, else `X-Gitlab-Event-UUID`, in the shared run store) and only wakes the
//! task watching that commit (here, or through the database on the instance holding it), which then reads GitLab itself; the payload's status is never trusted. Other
//! events and pipelines nobody watches are answered 200 and ignored, so GitLab never
//! disables the hook for them.

use crate::serve::error::{ApiError, ErrorBody, ErrorKind};
use crate::serve::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use pipewright_adapters::runs::now_ms;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(gitlab_webhook))
}

/// What was done with a delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookAnswer {
    /// `queued` (a task was woken), `duplicate` (already received), or `ignored`.
    pub status: &'static str,
    pub reason: String,
}

fn answer(status: &'static str, reason: impl Into<String>) -> Json<WebhookAnswer> {
    Json(WebhookAnswer {
        status,
        reason: reason.into(),
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// True when `presented` is the secret (digests compared in constant time).
fn token_matches(secret: &str, presented: &str) -> bool {
    let a = Sha256::digest(secret.as_bytes());
    let b = Sha256::digest(presented.as_bytes());
    a.ct_eq(&b).into()
}

/// Receives a GitLab webhook (pipeline events) and wakes the task watching that commit.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/gitlab",
    tag = "pipeline",
    security(()),
    request_body(content = crate::serve::schemas::PipelineHook, description = "GitLab's `Pipeline Hook` payload"),
    params(
        ("X-Gitlab-Token" = String, Header, description = "The hook's secret token: PIPEWRIGHT_WEBHOOK_SECRET"),
        ("X-Gitlab-Event" = String, Header, description = "`Pipeline Hook`; other events are ignored"),
        ("Idempotency-Key" = Option<String>, Header, description = "Deduplicates redeliveries (else X-Gitlab-Event-UUID)"),
    ),
    responses(
        (status = 200, description = "Received: queued, duplicate or ignored", body = WebhookAnswer),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "X-Gitlab-Token missing or wrong (nothing was recorded)", body = ErrorBody),
        (status = 503, description = "Monitoring is not available (GitLab or the run store missing)", body = ErrorBody),
    )
)]
async fn gitlab_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookAnswer>, ApiError> {
    let secret = state
        .monitor
        .as_ref()
        .ok()
        .and_then(|m| m.config().webhook_secret.clone());
    let Some(secret) = secret else {
        return Err(ApiError::new(
            ErrorKind::Unauthorized,
            "webhooks are refused: set PIPEWRIGHT_WEBHOOK_SECRET and give the same value as the hook's secret token",
        ));
    };
    match header(&headers, "x-gitlab-token") {
        Some(token) if token_matches(&secret, token) => {}
        Some(_) => {
            return Err(ApiError::new(
                ErrorKind::Unauthorized,
                "X-Gitlab-Token is not accepted; set the hook's secret token to PIPEWRIGHT_WEBHOOK_SECRET",
            ))
        }
        None => {
            return Err(ApiError::new(
                ErrorKind::Unauthorized,
                "X-Gitlab-Token is missing; set the hook's secret token to PIPEWRIGHT_WEBHOOK_SECRET",
            ))
        }
    }
    let monitor = state.monitor()?;
    let event = header(&headers, "x-gitlab-event").unwrap_or("");
    if event != "Pipeline Hook" {
        return Ok(answer("ignored", format!("`{event}` events are not used")));
    }
    let payload: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            ErrorKind::InvalidJson,
            format!("the webhook body is not JSON: {e}"),
        )
    })?;
    if payload.get("object_kind").and_then(Value::as_str) != Some("pipeline") {
        return Ok(answer("ignored", "not a pipeline event"));
    }
    let project_id = payload.pointer("/project/id").and_then(Value::as_u64);
    let sha = payload
        .pointer("/object_attributes/sha")
        .and_then(Value::as_str);
    let (Some(project_id), Some(sha)) = (project_id, sha) else {
        return Ok(answer(
            "ignored",
            "the payload names no project id or commit",
        ));
    };
    let key =
        header(&headers, "idempotency-key").or_else(|| header(&headers, "x-gitlab-event-uuid"));
    if let Some(key) = key {
        let fresh = monitor
            .store()
            .record_delivery(key, now_ms())
            .await
            .map_err(ApiError::from)?;
        if !fresh {
            return Ok(answer("duplicate", "this delivery was already received"));
        }
    }
    // Woken here, or announced to the instances sharing the database (the one holding the
    // task wakes it). When that fails the delivery is forgotten, so GitLab's retry of it is
    // acted on rather than taken for a duplicate.
    let delivered = match monitor.deliver(project_id, sha).await {
        Ok(delivered) => delivered,
        Err(e) => {
            if let Some(key) = key {
                if let Err(forget) = monitor.store().forget_delivery(key).await {
                    tracing::warn!(error = %forget, "a delivery that was not acted on could not be forgotten; the poll reads the pipeline");
                }
            }
            return Err(ApiError::from(e));
        }
    };
    if delivered {
        Ok(answer(
            "queued",
            "the task watching this commit reads the pipeline now",
        ))
    } else {
        Ok(answer("ignored", "no task watches this pipeline"))
    }
}
