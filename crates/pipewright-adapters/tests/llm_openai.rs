//! The OpenAI-compatible provider against a fake `/v1/chat/completions` that answers like
//! OpenAI (its completion shape, its `{"error": {message, type, param, code}}` bodies, 429 with
//! `retry-after`) and like compatible servers that reject `response_format`.

mod llm_fake;

use llm_fake::{answer_json, closed_port, fenced_answer, quick_limits, spawn, Reply};
use pipewright_adapters::llm::{CallLimits, OpenAiConfig, OpenAiProvider, RetryPolicy, Secret};
use pipewright_core::llm::answer::{answer_schema, ANSWER_SCHEMA_NAME};
use pipewright_core::llm::{parse_answer, LlmError, LlmProvider, LlmRequest};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const KEY: &str = "sk-test-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3ecdef";

fn completion(content: Value) -> Value {
    json!({
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": 1900,
            "completion_tokens": 700,
            "total_tokens": 2600,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306"
    })
}

fn openai_error(message: &str, kind: &str, param: Value, code: Value) -> Value {
    json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
}

fn provider_with(base_url: &str, key: Option<&str>, limits: CallLimits) -> OpenAiProvider {
    OpenAiProvider::new(
        OpenAiConfig {
            base_url: base_url.to_string(),
            api_key: key.map(Secret::new),
            model: "gpt-4o-mini".into(),
        },
        limits,
    )
    .unwrap()
}

fn provider(base_url: &str) -> OpenAiProvider {
    provider_with(base_url, Some(KEY), quick_limits())
}

fn request() -> LlmRequest {
    LlmRequest::for_pipeline("SYSTEM RULES".into(), "USER PROJECT".into(), 0.2)
}

#[tokio::test]
async fn sends_bearer_auth_and_a_strict_json_schema_and_reads_the_first_choice() {
    let fake = spawn(|_, _| Reply::Json(200, completion(json!(answer_json())))).await;
    let answer = provider(&fake.base_url).complete(&request()).await.unwrap();

    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body["model"], "gpt-4o-mini");
    assert_eq!(
        r.body["messages"],
        json!([
            {"role": "system", "content": "SYSTEM RULES"},
            {"role": "user", "content": "USER PROJECT"}
        ])
    );
    let temperature = r.body["temperature"].as_f64().unwrap();
    assert!((temperature - 0.2).abs() < 1e-6);
    let format = &r.body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["name"], ANSWER_SCHEMA_NAME);
    assert_eq!(format["json_schema"]["strict"], true);
    assert_eq!(&format["json_schema"]["schema"], answer_schema());

    assert_eq!(answer.model, "gpt-4o-mini-2024-07-18");
    let usage = answer.usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (1900, 700));
    assert!(parse_answer(&answer.text).is_ok());
}

#[tokio::test]
async fn a_base_url_ending_in_v1_is_not_doubled() {
    let fake = spawn(|_, _| Reply::Json(200, completion(json!(answer_json())))).await;
    provider(&format!("{}/v1/", fake.base_url))
        .complete(&request())
        .await
        .unwrap();
    assert_eq!(fake.requests()[0].path, "/v1/chat/completions");
}

#[tokio::test]
async fn a_local_server_without_a_key_gets_no_authorization_header() {
    let fake = spawn(|_, _| Reply::Json(200, completion(json!(answer_json())))).await;
    provider_with(&fake.base_url, None, quick_limits())
        .complete(&request())
        .await
        .unwrap();
    assert_eq!(fake.requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn an_answer_in_a_fenced_block_is_read() {
    let fake = spawn(|_, _| Reply::Json(200, completion(json!(fenced_answer())))).await;
    let answer = provider(&fake.base_url).complete(&request()).await.unwrap();
    assert!(parse_answer(&answer.text)
        .unwrap()
        .gitlab_ci
        .contains("learn"));
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_that_never_shows_the_key() {
    let fake = spawn(|_, _| {
        Reply::Json(
            401,
            openai_error(
                "Incorrect API key provided: sk-test-4f9a***********************cdef. You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                Value::Null,
                json!("invalid_api_key"),
            ),
        )
    })
    .await;
    let provider = provider(&fake.base_url);
    let err = provider.complete(&request()).await.unwrap_err();
    assert_eq!(fake.count(), 1, "a 401 is not retried");
    assert!(matches!(err, LlmError::Auth { status: 401, .. }), "{err:?}");
    let shown = format!("{err} {err:?} {provider:?}");
    assert!(shown.contains("OPENAI_API_KEY"), "{shown}");
    assert!(shown.contains("Incorrect API key provided"), "{shown}");
    for fragment in [KEY, "4f9a", "cdef"] {
        assert!(!shown.contains(fragment), "`{fragment}` leaked: {shown}");
    }
}

#[tokio::test]
async fn an_unknown_model_is_reported_as_such() {
    let fake = spawn(|_, _| {
        Reply::Json(
            404,
            openai_error(
                "The model `gpt-4o-mini` does not exist or you do not have access to it.",
                "invalid_request_error",
                Value::Null,
                json!("model_not_found"),
            ),
        )
    })
    .await;
    let err = provider(&fake.base_url)
        .complete(&request())
        .await
        .unwrap_err();
    assert_eq!(fake.count(), 1);
    assert!(matches!(err, LlmError::ModelNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("OPENAI_MODEL"), "{err}");
}

#[tokio::test]
async fn a_rate_limit_waits_as_long_as_retry_after_says_then_succeeds() {
    let fake = spawn(|n, _| {
        if n == 0 {
            Reply::JsonWithHeaders(
                429,
                openai_error(
                    "Rate limit reached for gpt-4o-mini in organization org-abc on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s.",
                    "requests",
                    Value::Null,
                    json!("rate_limit_exceeded"),
                ),
                vec![("retry-after", "1".to_string())],
            )
        } else {
            Reply::Json(200, completion(json!(answer_json())))
        }
    })
    .await;
    let started = Instant::now();
    let answer = provider(&fake.base_url).complete(&request()).await.unwrap();
    assert_eq!(fake.count(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert!(answer.elapsed >= Duration::from_millis(950));
}

#[tokio::test]
async fn an_exhausted_quota_is_not_retried() {
    let fake = spawn(|_, _| {
        Reply::Json(
            429,
            openai_error(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                Value::Null,
                json!("insufficient_quota"),
            ),
        )
    })
    .await;
    let err = provider(&fake.base_url)
        .complete(&request())
        .await
        .unwrap_err();
    assert_eq!(fake.count(), 1);
    assert!(matches!(err, LlmError::QuotaExhausted { .. }), "{err:?}");
}

#[tokio::test]
async fn a_server_that_rejects_response_format_is_asked_again_without_it() {
    let fake = spawn(|_, r| {
        if r.body.get("response_format").is_some() {
            Reply::Json(
                400,
                openai_error(
                    "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
                    "invalid_request_error",
                    json!("response_format"),
                    Value::Null,
                ),
            )
        } else {
            Reply::Json(200, completion(json!(fenced_answer())))
        }
    })
    .await;
    let provider = provider(&fake.base_url);
    let answer = provider.complete(&request()).await.unwrap();
    assert!(parse_answer(&answer.text).is_ok());
    provider.complete(&request()).await.unwrap();

    let sent = fake.requests();
    assert_eq!(sent.len(), 3, "one refusal, then plain requests only");
    assert!(sent[0].body.get("response_format").is_some());
    assert!(sent[1].body.get("response_format").is_none());
    assert!(sent[2].body.get("response_format").is_none());
}

#[tokio::test]
async fn a_flat_vllm_style_error_body_is_read() {
    let fake = spawn(|_, _| {
        Reply::Json(
            400,
            json!({"object": "error", "message": "This model's maximum context length is 8192 tokens.", "type": "BadRequestError", "param": null, "code": 400}),
        )
    })
    .await;
    let err = provider(&fake.base_url)
        .complete(&request())
        .await
        .unwrap_err();
    assert_eq!(fake.count(), 1);
    match &err {
        LlmError::Rejected { status, detail, .. } => {
            assert_eq!(*status, 400);
            assert!(detail.contains("maximum context length"), "{detail}");
        }
        other => panic!("expected a rejected request, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_then_success_takes_two_attempts() {
    let fake = spawn(|n, _| {
        if n == 0 {
            Reply::Json(
                500,
                openai_error(
                    "The server had an error while processing your request. Sorry about that!",
                    "server_error",
                    Value::Null,
                    Value::Null,
                ),
            )
        } else {
            Reply::Json(200, completion(json!(answer_json())))
        }
    })
    .await;
    provider(&fake.base_url).complete(&request()).await.unwrap();
    assert_eq!(fake.count(), 2);
}

#[tokio::test]
async fn a_refusal_without_content_is_a_bad_answer() {
    let fake = spawn(|_, _| {
        let mut body = completion(Value::Null);
        body["choices"][0]["message"]["refusal"] = json!("I can't help with that.");
        Reply::Json(200, body)
    })
    .await;
    let err = provider(&fake.base_url)
        .complete(&request())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::BadAnswer { .. }), "{err:?}");
    assert!(err.to_string().contains("I can't help with that."), "{err}");
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let fake = spawn(|_, _| {
        Reply::Slow(
            Duration::from_secs(3),
            Box::new(Reply::Json(200, completion(json!(answer_json())))),
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
    let err = provider_with(&fake.base_url, Some(KEY), limits)
        .complete(&request())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Timeout { .. }), "{err:?}");
    assert_eq!(fake.count(), 1);
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
    let err = provider_with(
        &format!("http://127.0.0.1:{}", closed_port()),
        Some(KEY),
        limits,
    )
    .complete(&request())
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, LlmError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("OPENAI_BASE_URL"), "{err}");
}
