//! HTTP plumbing shared by the HTTP providers: the client with its two timeouts, sending one
//! JSON request and reading the reply under a size cap, turning transport failures into
//! [`LlmError`]s (refused → `Unreachable`, slow → `Timeout`, broken → `Transport`), and the
//! status-code table that every provider falls back to after reading its own error body.

use super::{CallLimits, LlmConfigError};
use pipewright_core::llm::error::scrub_detail;
use pipewright_core::llm::{LlmError, ProviderKind};
use reqwest::header::HeaderMap;
use std::time::Duration;

/// The largest response body read, in bytes: an answer is capped far lower (512 KiB of text),
/// but JSON escaping and metadata can double it.
pub(crate) const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Builds a client whose connect timeout is separate from the overall limit.
pub(crate) fn client(
    provider: ProviderKind,
    limits: &CallLimits,
) -> Result<reqwest::Client, LlmConfigError> {
    crate::http::client_builder()
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.timeout)
        .build()
        .map_err(|e| LlmConfigError::Client {
            provider,
            reason: e.to_string(),
        })
}

/// Who is being called, for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Target<'a> {
    pub provider: ProviderKind,
    /// The base URL as shown to users (no credentials).
    pub endpoint: &'a str,
    pub model: &'a str,
    /// The key to scrub from server text, if the provider has one.
    pub secret: Option<&'a str>,
    pub timeout: Duration,
}

/// A reply as read from the wire.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

/// Sends the request and reads the whole body (up to [`MAX_RESPONSE_BYTES`]).
pub(crate) async fn send(
    target: &Target<'_>,
    request: reqwest::RequestBuilder,
) -> Result<Reply, LlmError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| transport_error(target, &e))?;
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(target, &e))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(LlmError::TooLarge {
                provider: target.provider,
                endpoint: target.endpoint.to_string(),
                limit: MAX_RESPONSE_BYTES,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply {
        status,
        retry_after,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Classifies a reqwest failure. A connect failure (refused, unknown host, connect timeout)
/// is `Unreachable` even when it is also a timeout, because it must not be retried.
fn transport_error(target: &Target<'_>, error: &reqwest::Error) -> LlmError {
    let endpoint = target.endpoint.to_string();
    let provider = target.provider;
    if error.is_connect() {
        LlmError::Unreachable {
            provider,
            endpoint,
            reason: root_cause(error),
        }
    } else if error.is_timeout() {
        LlmError::Timeout {
            provider,
            endpoint,
            limit: target.timeout,
        }
    } else {
        LlmError::Transport {
            provider,
            endpoint,
            reason: root_cause(error),
        }
    }
}

/// The innermost cause, which names the real problem ("Connection refused (os error 111)",
/// "dns error: …") rather than reqwest's wrapper text.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    scrub_detail(&current.to_string(), None)
}

/// Reads `retry-after-ms` (OpenAI) or `retry-after` in seconds; an HTTP-date is ignored and the
/// normal backoff applies.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| number("retry-after").map(Duration::from_secs_f64))
}

/// What a failed status means, before any provider-specific reading of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    Auth,
    ModelNotFound,
    Quota,
    RateLimited,
    Server,
    Rejected,
}

/// The status table: 401/403 are credentials, 429 a rate limit, 5xx (and Anthropic's 529) the
/// server; every other status is a rejected request.
pub(crate) fn class_of_status(status: u16) -> ErrorClass {
    const TABLE: &[(u16, u16, ErrorClass)] = &[
        (401, 401, ErrorClass::Auth),
        (403, 403, ErrorClass::Auth),
        (429, 429, ErrorClass::RateLimited),
        (500, 599, ErrorClass::Server),
    ];
    TABLE
        .iter()
        .find(|(low, high, _)| (*low..=*high).contains(&status))
        .map_or(ErrorClass::Rejected, |(_, _, class)| *class)
}

/// Builds the error for a failed reply; `detail` is the server's message (scrubbed here).
pub(crate) fn status_error(
    target: &Target<'_>,
    class: ErrorClass,
    reply: &Reply,
    detail: &str,
) -> LlmError {
    let provider = target.provider;
    let endpoint = target.endpoint.to_string();
    let status = reply.status;
    let detail = scrub_detail(detail, target.secret);
    match class {
        ErrorClass::Auth => LlmError::Auth {
            provider,
            endpoint,
            status,
            detail,
        },
        ErrorClass::ModelNotFound => LlmError::ModelNotFound {
            provider,
            endpoint,
            model: target.model.to_string(),
            detail,
        },
        ErrorClass::Quota => LlmError::QuotaExhausted {
            provider,
            endpoint,
            status,
            detail,
        },
        ErrorClass::RateLimited => LlmError::RateLimited {
            provider,
            endpoint,
            retry_after: reply.retry_after,
            detail,
        },
        ErrorClass::Server => LlmError::Server {
            provider,
            endpoint,
            status,
            detail,
        },
        ErrorClass::Rejected => LlmError::Rejected {
            provider,
            endpoint,
            status,
            detail,
        },
    }
}

/// A reply body that is not in the documented shape.
pub(crate) fn bad_answer(target: &Target<'_>, detail: &str) -> LlmError {
    LlmError::BadAnswer {
        provider: target.provider,
        endpoint: target.endpoint.to_string(),
        detail: scrub_detail(detail, target.secret),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn status_table() {
        assert_eq!(class_of_status(401), ErrorClass::Auth);
        assert_eq!(class_of_status(403), ErrorClass::Auth);
        assert_eq!(class_of_status(429), ErrorClass::RateLimited);
        assert_eq!(class_of_status(500), ErrorClass::Server);
        assert_eq!(class_of_status(529), ErrorClass::Server);
        assert_eq!(class_of_status(400), ErrorClass::Rejected);
        assert_eq!(class_of_status(404), ErrorClass::Rejected);
    }

    #[test]
    fn retry_after_reads_seconds_and_milliseconds() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut d = HeaderMap::new();
        d.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&d), None);
    }
}
