//! A proxy in front of a real registry that injects the faults registries are known for and
//! counts what passes: mounts declined with the spec's 202 (the registry's own upload session
//! is handed back), bursts of 503, slow blob bodies, monolithic uploads refused with 413, and
//! the Bearer token flow (`/token` checks Basic credentials, as Docker Hub's and GitLab's
//! token services do).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, TryStreamExt};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Faults to inject; change them at any time.
#[derive(Debug, Default)]
pub struct Faults {
    /// Answer mount requests with a plain upload session (202) instead of mounting.
    pub decline_mounts: AtomicBool,
    /// Answer the next N requests whose path contains `fail_path` with 503.
    pub fail_requests: AtomicUsize,
    pub fail_path: Mutex<String>,
    /// Send blob bodies in 64 KiB pieces with this pause between them.
    pub slow_blobs: Mutex<Option<Duration>>,
    /// Refuse blob PUTs that carry a body (413), as size-limited front ends do.
    pub refuse_monolithic: AtomicBool,
    /// Demand Bearer tokens; `/token` gives one for these Basic credentials.
    pub bearer: Mutex<Option<(String, String)>>,
}

/// What the proxy forwarded.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicUsize,
    /// `POST …/blobs/uploads/` without a mount.
    pub upload_starts: AtomicUsize,
    pub mount_attempts: AtomicUsize,
    /// Blob `PUT`s that carried the blob.
    pub blob_puts: AtomicUsize,
    pub patches: AtomicUsize,
    pub injected_failures: AtomicUsize,
    pub tokens_issued: AtomicUsize,
}

impl Counters {
    pub fn get(c: &AtomicUsize) -> usize {
        c.load(Ordering::SeqCst)
    }
}

struct ProxyState {
    upstream: String,
    me: String,
    faults: Arc<Faults>,
    counters: Arc<Counters>,
    http: reqwest::Client,
}

/// A running proxy; it stops with the test's runtime.
pub struct FaultProxy {
    /// `127.0.0.1:PORT`.
    pub host: String,
    pub faults: Arc<Faults>,
    pub counters: Arc<Counters>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://host:port`) on a free loopback port.
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let host = listener.local_addr().expect("addr").to_string();
        let faults = Arc::new(Faults::default());
        let counters = Arc::new(Counters::default());
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_string(),
            me: format!("http://{host}"),
            faults: faults.clone(),
            counters: counters.clone(),
            http: crate::http::client_builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        });
        let app = axum::Router::new().fallback(handle).with_state(state);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultProxy {
            host,
            faults,
            counters,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }
}

fn basic_ok(header: Option<&HeaderValue>, user: &str, pass: &str) -> bool {
    use base64::Engine as _;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    );
    header.and_then(|h| h.to_str().ok()) == Some(expected.as_str())
}

async fn handle(State(s): State<Arc<ProxyState>>, req: Request) -> Response {
    let c = &s.counters;
    c.requests.fetch_add(1, Ordering::SeqCst);
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let method = req.method().clone();
    let bearer = s.faults.bearer.lock().map(|b| b.clone()).unwrap_or(None);
    if let Some((user, pass)) = &bearer {
        if path == "/token" {
            if !basic_ok(req.headers().get("authorization"), user, pass) {
                return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
            }
            c.tokens_issued.fetch_add(1, Ordering::SeqCst);
            return axum::Json(serde_json::json!({"token": "tok-ok", "expires_in": 300}))
                .into_response();
        }
        let ok = req
            .headers()
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            == Some("Bearer tok-ok");
        if !ok {
            let challenge = format!(
                "Bearer realm=\"{}/token\",service=\"fault-proxy\",scope=\"repository:x:pull\"",
                s.me
            );
            return Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header("www-authenticate", challenge)
                .header("content-type", "application/json")
                .body(Body::from(
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                ))
                .unwrap_or_default();
        }
    }
    let fail_path = s
        .faults
        .fail_path
        .lock()
        .map(|p| p.clone())
        .unwrap_or_default();
    if path.contains(&fail_path)
        && s.faults
            .fail_requests
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        c.injected_failures.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::SERVICE_UNAVAILABLE, "injected 503").into_response();
    }
    let mut query = query;
    if method == "POST" && path.ends_with("/blobs/uploads/") {
        if query.as_deref().is_some_and(|q| q.contains("mount=")) {
            c.mount_attempts.fetch_add(1, Ordering::SeqCst);
            if s.faults.decline_mounts.load(Ordering::SeqCst) {
                query = None;
            }
        } else {
            c.upload_starts.fetch_add(1, Ordering::SeqCst);
        }
    }
    let length: u64 = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if method == "PUT" && path.contains("/blobs/uploads/") && length > 0 {
        if s.faults.refuse_monolithic.load(Ordering::SeqCst) {
            return (StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response();
        }
        c.blob_puts.fetch_add(1, Ordering::SeqCst);
    }
    if method == "PATCH" {
        c.patches.fetch_add(1, Ordering::SeqCst);
    }
    let url = match &query {
        Some(q) => format!("{}{path}?{q}", s.upstream),
        None => format!("{}{path}", s.upstream),
    };
    let mut fwd = s.http.request(method.clone(), &url);
    for (k, v) in req.headers() {
        if k != "host" && !(bearer.is_some() && k == "authorization") {
            fwd = fwd.header(k, v);
        }
    }
    let body = reqwest::Body::wrap_stream(req.into_body().into_data_stream());
    let resp = match fwd.body(body).send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let mut out = Response::builder().status(resp.status().as_u16());
    for (k, v) in resp.headers() {
        if k == "location" {
            let l = v.to_str().unwrap_or("").replace(&s.upstream, &s.me);
            out = out.header(k, l);
        } else {
            out = out.header(k, v);
        }
    }
    let slow = *s.faults.slow_blobs.lock().expect("lock");
    let stream = resp.bytes_stream().map_err(std::io::Error::other);
    let body = match slow {
        Some(pause) if method == "GET" && path.contains("/blobs/") => Body::from_stream(
            stream
                .map_ok(|b| {
                    let pieces: Vec<Result<bytes::Bytes, std::io::Error>> = (0..b.len())
                        .step_by(64 * 1024)
                        .map(|i| Ok(b.slice(i..(i + 64 * 1024).min(b.len()))))
                        .collect();
                    futures_util::stream::iter(pieces)
                })
                .try_flatten()
                .then(move |piece| async move {
                    tokio::time::sleep(pause).await;
                    piece
                }),
        ),
        _ => Body::from_stream(stream),
    };
    out.body(body).unwrap_or_default()
}
