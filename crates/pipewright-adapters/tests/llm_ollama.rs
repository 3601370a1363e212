//! The Ollama provider against a fake `/api/chat` that answers like Ollama does (its reply
//! shape, its `{"error": …}` bodies and status codes).

mod llm_fake;

use llm_fake::{answer_json, closed_port, fenced_answer, quick_limits, spawn, Reply};
use pipewright_adapters::llm::{CallLimits, LlmConfig, OllamaConfig, OllamaProvider, RetryPolicy};
use pipewright_core::llm::answer::answer_schema;
use pipewright_core::llm::{parse_answer, AnswerError, LlmError, LlmProvider, LlmRequest};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn ollama_reply(content: &str) -> Value {
    json!({
        "model": "pipeline-generator-v5",
        "created_at": "2026-02-09T10:00:00.000000Z",
        "message": {"role": "assistant", "content": content},
        "done_reason": "stop",
        "done": true,
        "total_duration": 5191566416u64,
        "load_duration": 2154458,
        "prompt_eval_count": 1200,
        "prompt_eval_duration": 383809000,
        "eval_count": 640,
        "eval_duration": 4799921000u64
    })
}

fn provider(base_url: &str, limits: CallLimits) -> OllamaProvider {
    OllamaProvider::new(
        OllamaConfig {
            host: base_url.to_string(),
            ..OllamaConfig::default()
        },
        limits,
    )
    .unwrap()
}

fn request() -> LlmRequest {
    LlmRequest::for_pipeline("SYSTEM RULES".into(), "USER PROJECT".into(), 0.2)
}

#[tokio::test]
async fn sends_the_documented_chat_request_and_reads_message_content() {
    let fake = spawn(|_, _| Reply::Json(200, ollama_reply(&answer_json()))).await;
    let answer = provider(&fake.base_url, quick_limits())
        .complete(&request())
        .await
        .unwrap();

    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/api/chat");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.body["model"], "pipeline-generator-v5");
    assert_eq!(r.body["stream"], false);
    assert_eq!(&r.body["format"], answer_schema());
    assert_eq!(r.body["options"]["num_ctx"], 16384);
    let temperature = r.body["options"]["temperature"].as_f64().unwrap();
    assert!((temperature - 0.2).abs() < 1e-6);
    assert_eq!(
        r.body["messages"],
        json!([
            {"role": "system", "content": "SYSTEM RULES"},
            {"role": "user", "content": "USER PROJECT"}
        ])
    );

    assert_eq!(answer.model, "pipeline-generator-v5");
    let usage = answer.usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (1200, 640));
    let files = parse_answer(&answer.text).unwrap();
    assert_eq!(files.notes, ["port 4567 assumed"]);
}

#[tokio::test]
async fn max_tokens_becomes_num_predict() {
    let fake = spawn(|_, _| Reply::Json(200, ollama_reply(&answer_json()))).await;
    let mut req = request();
    req.max_tokens = Some(4096);
    req.json_schema = None;
    provider(&fake.base_url, quick_limits())
        .complete(&req)
        .await
        .unwrap();
    let body = &fake.requests()[0].body;
    assert_eq!(body["options"]["num_predict"], 4096);
    assert!(body.get("format").is_none());
}

#[tokio::test]
async fn an_answer_in_a_fenced_block_is_read() {
    let fake = spawn(|_, _| Reply::Json(200, ollama_reply(&fenced_answer()))).await;
    let answer = provider(&fake.base_url, quick_limits())
        .complete(&request())
        .await
        .unwrap();
    let files = parse_answer(&answer.text).unwrap();
    assert!(files.dockerfile.contains("USER app"));
}

#[tokio::test]
async fn a_malformed_answer_reaches_the_parser_which_rejects_it() {
    let fake = spawn(|_, _| {
        Reply::Json(
            200,
            ollama_reply("{\"gitlab_ci\": \"stages: [compile]\", \"dockerfile\": "),
        )
    })
    .await;
    let answer = provider(&fake.base_url, quick_limits())
        .complete(&request())
        .await
        .unwrap();
    assert!(matches!(
        parse_answer(&answer.text),
        Err(AnswerError::InvalidJson { .. })
    ));
    assert_eq!(fake.count(), 1, "a bad answer is not a transport failure");
}

#[tokio::test]
async fn a_reply_that_is_not_ollama_json_is_a_bad_answer() {
    let fake = spawn(|_, _| Reply::Text(200, "<html>proxy login</html>".into())).await;
    let err = provider(&fake.base_url, quick_limits())
        .complete(&request())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::BadAnswer { .. }), "{err:?}");
    assert!(err.to_string().contains("OLLAMA_HOST"), "{err}");
}

#[tokio::test]
async fn an_empty_reply_is_a_bad_answer_and_not_retried() {
    let fake = spawn(|_, _| Reply::Json(200, ollama_reply("  \n"))).await;
    let err = provider(&fake.base_url, quick_limits())
        .complete(&request())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::BadAnswer { .. }), "{err:?}");
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let fake = spawn(|n, _| {
        if n < 2 {
            Reply::Json(
                500,
                json!({"error": "llama runner process has terminated: signal: killed"}),
            )
        } else {
            Reply::Json(200, ollama_reply(&answer_json()))
        }
    })
    .await;
    let answer = provider(&fake.base_url, quick_limits())
        .complete(&request())
        .await
        .unwrap();
    assert_eq!(fake.count(), 3);
    assert!(parse_answer(&answer.text).is_ok());
}

#[tokio::test]
async fn a_busy_server_is_retried_a_bounded_number_of_times() {
    let fake = spawn(|_, _| {
        Reply::Json(
            503,
            json!({"error": "server busy, please try again.  maximum pending requests exceeded"}),
        )
    })
    .await;
    let err = provider(&fake.base_url, quick_limits())
        .complete(&request())
        .await
        .unwrap_err();
    assert_eq!(fake.count(), 3, "one attempt and two retries");
    match &err {
        LlmError::Server { status, detail, .. } => {
            assert_eq!(*status, 503);
            assert!(detail.contains("server busy"));
        }
        other => panic!("expected a server error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_model_is_reported_as_such_and_not_retried() {
    let fake = spawn(|_, _| {
        Reply::Json(
            404,
            json!({"error": "model \"pipeline-generator-v5\" not found, try pulling it first"}),
        )
    })
    .await;
    let err = provider(&fake.base_url, quick_limits())
        .complete(&request())
        .await
        .unwrap_err();
    assert_eq!(fake.count(), 1);
    assert!(matches!(err, LlmError::ModelNotFound { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("`pipeline-generator-v5`"), "{text}");
    assert!(text.contains("ollama pull"), "{text}");
    assert!(text.contains("OLLAMA_MODEL"), "{text}");
}

#[tokio::test]
async fn a_slow_server_times_out_and_is_retried_within_the_bound() {
    let fake = spawn(|_, _| {
        Reply::Slow(
            Duration::from_secs(3),
            Box::new(Reply::Json(200, ollama_reply(&answer_json()))),
        )
    })
    .await;
    let limits = CallLimits {
        timeout: Duration::from_millis(300),
        retry: RetryPolicy {
            max_retries: 1,
            ..quick_limits().retry
        },
        ..quick_limits()
    };
    let started = Instant::now();
    let err = provider(&fake.base_url, limits)
        .complete(&request())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("LLM_TIMEOUT_SECS"), "{err}");
    assert_eq!(fake.count(), 2);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_refused_connection_fails_fast_without_retries() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    // A backoff this long would show in the elapsed time if the refusal were retried.
    let limits = CallLimits {
        retry: RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_secs(2),
            ..RetryPolicy::default()
        },
        ..CallLimits::default()
    };
    let started = Instant::now();
    let err = provider(&base, limits)
        .complete(&request())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
    assert!(matches!(err, LlmError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.to_lowercase().contains("connection refused"), "{text}");
    assert!(text.contains(&base), "{text}");
    assert!(text.contains("LLM_PROVIDER=none"), "{text}");
}

#[tokio::test]
async fn with_the_seed_defaults_an_absent_ollama_costs_one_quick_attempt() {
    let host = format!("127.0.0.1:{}", closed_port());
    let config = LlmConfig::from_lookup(|name| match name {
        "OLLAMA_HOST" => Some(host.clone()),
        _ => None,
    })
    .unwrap();
    let provider = config
        .build()
        .unwrap()
        .expect("ollama is the default provider");
    let started = Instant::now();
    let err = provider
        .complete(&config.request("s".into(), "u".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Unreachable { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}
