//! The Anthropic provider against a fake Messages API that checks the required headers and
//! answers like Anthropic (content blocks, `{"type":"error","error":{type,message}}` bodies,
//! 529 overloaded, 429 with `retry-after`).

mod llm_fake;

use llm_fake::{answer_json, closed_port, fenced_answer, quick_limits, spawn, Recorded, Reply};
use pipewright_adapters::llm::{
    AnthropicConfig, AnthropicProvider, CallLimits, RetryPolicy, Secret,
};
use pipewright_core::llm::{parse_answer, LlmError, LlmProvider, LlmRequest};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const KEY: &str = "sk-ant-api03-Zx9Yw8Xv7Wu6Vt5Us4Tr3Sq2Rp1Qo0-abcdefAA";

fn message(text: &str) -> Value {
    json!({
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {
            "input_tokens": 2095,
            "output_tokens": 503,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0
        }
    })
}

fn anthropic_error(kind: &str, message: &str) -> Value {
    json!({
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"
    })
}

/// Answers like the real API when a required header is missing or wrong.
fn check_headers(r: &Recorded) -> Option<Reply> {
    if r.header("x-api-key") != Some(KEY) {
        return Some(Reply::Json(
            401,
            anthropic_error("authentication_error", "invalid x-api-key"),
        ));
    }
    if r.header("anthropic-version").is_none() {
        return Some(Reply::Json(
            400,
            anthropic_error(
                "invalid_request_error",
                "anthropic-version: header is required",
            ),
        ));
    }
    None
}

fn provider_with(base_url: &str, key: &str, limits: CallLimits) -> AnthropicProvider {
    AnthropicProvider::new(
        AnthropicConfig {
            base_url: base_url.to_string(),
            api_key: Secret::new(key),
            model: "claude-sonnet-4-5".into(),
            max_tokens: 8192,
        },
        limits,
    )
    .unwrap()
}

fn provider(base_url: &str) -> AnthropicProvider {
    provider_with(base_url, KEY, quick_limits())
}

fn request() -> LlmRequest {
    LlmRequest::for_pipeline("SYSTEM RULES".into(), "USER PROJECT".into(), 0.2)
}

#[tokio::test]
async fn sends_the_required_headers_and_body_and_reads_the_text_block() {
    let fake =
        spawn(|_, r| check_headers(r).unwrap_or(Reply::Json(200, message(&answer_json())))).await;
    let answer = provider(&fake.base_url).complete(&request()).await.unwrap();

    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some(KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.body["model"], "claude-sonnet-4-5");
    assert_eq!(r.body["max_tokens"], 8192);
    assert_eq!(r.body["system"], "SYSTEM RULES");
    assert_eq!(
        r.body["messages"],
        json!([{"role": "user", "content": "USER PROJECT"}])
    );
    let temperature = r.body["temperature"].as_f64().unwrap();
    assert!((temperature - 0.2).abs() < 1e-6);

    assert_eq!(answer.model, "claude-sonnet-4-5-20250929");
    let usage = answer.usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (2095, 503));
    assert!(parse_answer(&answer.text).is_ok());
}

#[tokio::test]
async fn only_text_blocks_make_the_answer() {
    let fake = spawn(|_, _| {
        let mut body = message(&fenced_answer());
        body["content"] = json!([
            {"type": "thinking", "thinking": "{\"gitlab_ci\": \"draft\"}", "signature": "abc"},
            {"type": "text", "text": fenced_answer()}
        ]);
        Reply::Json(200, body)
    })
    .await;
    let answer = provider(&fake.base_url).complete(&request()).await.unwrap();
    assert_eq!(answer.text, fenced_answer());
    assert!(parse_answer(&answer.text).is_ok());
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_that_never_shows_the_key() {
    let fake =
        spawn(|_, r| check_headers(r).unwrap_or(Reply::Json(200, message(&answer_json())))).await;
    let wrong = "sk-ant-api03-WRONGWRONGWRONG-0000";
    let provider = provider_with(&fake.base_url, wrong, quick_limits());
    let err = provider.complete(&request()).await.unwrap_err();
    assert_eq!(fake.count(), 1, "a 401 is not retried");
    assert!(matches!(err, LlmError::Auth { status: 401, .. }), "{err:?}");
    let shown = format!("{err} {err:?} {provider:?}");
    assert!(shown.contains("ANTHROPIC_API_KEY"), "{shown}");
    assert!(shown.contains("invalid x-api-key"), "{shown}");
    assert!(!shown.contains(wrong), "{shown}");
    assert!(!shown.contains("WRONGWRONG"), "{shown}");
}

#[tokio::test]
async fn an_unknown_model_is_reported_as_such() {
    let fake = spawn(|_, _| {
        Reply::Json(
            404,
            anthropic_error("not_found_error", "model: claude-sonnet-4-5"),
        )
    })
    .await;
    let err = provider(&fake.base_url)
        .complete(&request())
        .await
        .unwrap_err();
    assert_eq!(fake.count(), 1);
    assert!(matches!(err, LlmError::ModelNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("ANTHROPIC_MODEL"), "{err}");
}

#[tokio::test]
async fn a_wrong_path_is_not_mistaken_for_a_missing_model() {
    let fake =
        spawn(|_, _| Reply::Json(404, anthropic_error("not_found_error", "Not Found"))).await;
    let err = provider(&fake.base_url)
        .complete(&request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, LlmError::Rejected { status: 404, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("ANTHROPIC_BASE_URL"), "{err}");
}

#[tokio::test]
async fn overloaded_is_retried_then_succeeds() {
    let fake = spawn(|n, _| {
        if n < 2 {
            Reply::Json(529, anthropic_error("overloaded_error", "Overloaded"))
        } else {
            Reply::Json(200, message(&answer_json()))
        }
    })
    .await;
    provider(&fake.base_url).complete(&request()).await.unwrap();
    assert_eq!(fake.count(), 3);
}

#[tokio::test]
async fn api_errors_are_retried_a_bounded_number_of_times() {
    let fake =
        spawn(|_, _| Reply::Json(500, anthropic_error("api_error", "Internal server error"))).await;
    let err = provider(&fake.base_url)
        .complete(&request())
        .await
        .unwrap_err();
    assert_eq!(fake.count(), 3);
    assert!(
        matches!(err, LlmError::Server { status: 500, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_rate_limit_honours_retry_after() {
    let fake = spawn(|n, _| {
        if n == 0 {
            Reply::JsonWithHeaders(
                429,
                anthropic_error(
                    "rate_limit_error",
                    "Number of request tokens has exceeded your per-minute rate limit",
                ),
                vec![("retry-after", "1".to_string())],
            )
        } else {
            Reply::Json(200, message(&answer_json()))
        }
    })
    .await;
    let started = Instant::now();
    provider(&fake.base_url).complete(&request()).await.unwrap();
    assert_eq!(fake.count(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_reply_without_text_is_a_bad_answer() {
    let fake = spawn(|_, _| {
        let mut body = message("");
        body["content"] = json!([]);
        Reply::Json(200, body)
    })
    .await;
    let err = provider(&fake.base_url)
        .complete(&request())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::BadAnswer { .. }), "{err:?}");
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let fake = spawn(|_, _| {
        Reply::Slow(
            Duration::from_secs(3),
            Box::new(Reply::Json(200, message(&answer_json()))),
        )
    })
    .await;
    let limits = CallLimits {
        timeout: Duration::from_millis(300),
        retry: RetryPolicy {
            max_retries: 0,
            ..quick_limits().retry
        },
        ..quick_limits()
    };
    let err = provider_with(&fake.base_url, KEY, limits)
        .complete(&request())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn a_refused_connection_fails_fast_without_retries() {
    let limits = CallLimits {
        retry: RetryPolicy {
            base_delay: Duration::from_secs(2),
            ..RetryPolicy::default()
        },
        ..CallLimits::default()
    };
    let started = Instant::now();
    let err = provider_with(&format!("http://127.0.0.1:{}", closed_port()), KEY, limits)
        .complete(&request())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, LlmError::Unreachable { .. }), "{err:?}");
    assert!(!format!("{err:?}").contains(KEY));
}
