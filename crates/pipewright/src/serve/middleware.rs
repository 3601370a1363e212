//! The layers every request passes: [`request_context`] (request id, the tracing span every
//! log line of the request is written in, one log line per request) and [`time_limit`].
//! Headers are never logged (they may carry tokens); the path is, the query is not.

use super::error::{ApiError, ErrorKind, REQUEST_ID};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// The request id header, read from clients and always sent back.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client-given request id that is kept.
const MAX_REQUEST_ID: usize = 128;

/// A client's id is kept when it is short and plain (letters, digits, `-_.:/+=@`), so that it
/// cannot forge log lines; otherwise a new one is made.
fn sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/+=@".contains(c))
}

/// A new random id: 32 hex digits.
fn new_request_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// Gives the request its id (the client's when sane), runs it inside a span carrying the id,
/// logs its outcome, and returns the id in `x-request-id`.
pub async fn request_context(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map(str::to_string)
        .unwrap_or_else(new_request_id);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = Instant::now();
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "request finished"
        )
    });
    response
}

/// Answers 504 when the request takes longer than `limit`. Dropping the request's future sets
/// the cancellation flag of work it handed to a blocking thread (`serve::blocking`), whose
/// long loops then stop.
pub async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            ErrorKind::Timeout,
            format!(
                "the request took longer than this server's limit of {} s (--request-timeout) and was stopped; try again, with `use_template_only` for generation, or ask the operator to raise the limit",
                limit.as_secs_f64()
            ),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_request_ids_are_kept() {
        assert!(sane("abc-123_x.y:z"));
        assert!(!sane(""));
        assert!(!sane("a b"));
        assert!(!sane("line\nbreak"));
        assert!(!sane(&"x".repeat(129)));
        assert_eq!(new_request_id().len(), 32);
    }
}
