//! Fake LLM servers for the provider tests: an axum server on 127.0.0.1:0 that records every
//! request (method, path, headers, JSON body) and answers with whatever the test's script says
//! for the n-th request, so a test can assert both what was sent and how the provider reacts to
//! the real API's answers, error bodies included.
#![allow(dead_code)] // each test file uses a different part

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use pipewright_adapters::llm::{CallLimits, RetryPolicy};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    /// The body as JSON (`Value::Null` when it was not JSON).
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the fake answers.
#[derive(Debug, Clone)]
pub enum Reply {
    Json(u16, Value),
    JsonWithHeaders(u16, Value, Vec<(&'static str, String)>),
    Text(u16, String),
    /// Waits, then answers.
    Slow(Duration, Box<Reply>),
}

/// The test's script: the 0-based request number and the request, to the reply.
pub type Script = Arc<dyn Fn(usize, &Recorded) -> Reply + Send + Sync>;

/// A running fake.
pub struct Fake {
    pub base_url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Fake {
    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.requests().len()
    }
}

/// Starts a fake that answers every path with `script`.
pub async fn spawn(script: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static) -> Fake {
    let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
    let script: Script = Arc::new(script);
    let seen = requests.clone();
    let app = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            let script = script.clone();
            async move {
                let recorded = Recorded {
                    method,
                    path: uri.path().to_string(),
                    headers,
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                };
                let n = {
                    let mut all = seen.lock().unwrap();
                    all.push(recorded.clone());
                    all.len() - 1
                };
                respond(script(n, &recorded)).await
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Fake {
        base_url: format!("http://{addr}"),
        requests,
    }
}

fn respond(reply: Reply) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>> {
    Box::pin(async move {
        match reply {
            Reply::Json(status, body) => (code(status), axum::Json(body)).into_response(),
            Reply::JsonWithHeaders(status, body, headers) => {
                let mut response = (code(status), axum::Json(body)).into_response();
                for (name, value) in headers {
                    response.headers_mut().insert(name, value.parse().unwrap());
                }
                response
            }
            Reply::Text(status, text) => (code(status), text).into_response(),
            Reply::Slow(wait, then) => {
                tokio::time::sleep(wait).await;
                respond(*then).await
            }
        }
    })
}

fn code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap()
}

/// Limits for tests: short waits so retries do not slow the suite.
pub fn quick_limits() -> CallLimits {
    CallLimits {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
            max_retry_after: Duration::from_secs(5),
        },
    }
}

/// A port on which nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// A well-formed answer object as a model writes it.
pub fn answer_json() -> String {
    serde_json::json!({
        "gitlab_ci": "stages: [compile, build, test, sast, quality, security, push, notify, learn]\n",
        "dockerfile": "ARG BASE_REGISTRY\nFROM ${BASE_REGISTRY}/apm-repo/demo/ruby:3.3-alpine\nUSER app\n",
        "notes": ["port 4567 assumed"]
    })
    .to_string()
}

/// The same answer in a ```json fence with prose around it.
pub fn fenced_answer() -> String {
    format!(
        "Here are the files you asked for:\n\n```json\n{}\n```\n\nLet me know if anything needs changing.",
        answer_json()
    )
}
