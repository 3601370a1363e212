//! The accept loop: HTTP/1 connections served by hyper with a header-read timeout and a cap on
//! how many are open at once. A connection must deliver each request's head within
//! `--header-read-timeout`, counted from the moment the server waits for it, so the timer
//! covers a fresh connection that sends nothing, one that trickles a half-sent head, and a
//! keep-alive connection left idle between requests; the server closes any of them when it
//! runs out. Beyond `--max-connections` open connections a new one is answered
//! `503 overloaded` at once (without reading it) and closed, so idle clients can never use up
//! the descriptors `/health` needs. On shutdown the listener closes first, then every
//! connection finishes the request it is serving, within [`SHUTDOWN_GRACE`]; after it the
//! requests' CPU work is cancelled.

use super::error::{ApiError, ErrorKind};
use axum::response::IntoResponse;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// How long a refused connection may take to receive its 503.
const REFUSAL_WRITE_LIMIT: Duration = Duration::from_secs(2);

/// The connection limits (`ServeArgs`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time for each request head, counted from when the server starts waiting for it.
    pub header_read_timeout: Duration,
    /// Open connections served at once; more are answered 503.
    pub max_connections: usize,
}

/// Descriptors kept for what is not a client connection (the data folder, SQLite, calls to
/// GitLab, the LLM and ChromaDB, the 503 written to a connection over the cap), at least this
/// many and at least a quarter of the limit.
const RESERVED_DESCRIPTORS: u64 = 64;

/// The process's descriptor limit (`ulimit -n`, the soft limit), when it has one.
pub fn descriptor_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct it is given, which lives for the call.
        let status = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        (status == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// `wanted` connections, lowered so that they and the reserve fit in `limit` descriptors:
/// past the limit `accept` fails, new connections (`/health` too) wait unanswered in the
/// kernel's queue, and the cap's 503 never comes.
pub fn fit_to_descriptors(wanted: usize, limit: Option<u64>) -> usize {
    let Some(limit) = limit else {
        return wanted.max(1);
    };
    let room = limit
        .saturating_sub(RESERVED_DESCRIPTORS.max(limit / 4))
        .max(1);
    wanted.clamp(1, usize::try_from(room).unwrap_or(usize::MAX))
}

/// How long requests in flight may go on after SIGTERM before their CPU work is cancelled.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long the server waits for them after that.
const SHUTDOWN_LAST_WAIT: Duration = Duration::from_secs(5);

/// Serves `app` on `listener` until `shutdown` resolves, then lets the requests in flight
/// finish: for [`SHUTDOWN_GRACE`], then with their CPU work cancelled. True when every one
/// was answered.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> bool {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors (EMFILE) and the like: wait a little instead of spinning.
                    tracing::warn!(error = %e, "a connection could not be accepted");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream, limits.max_connections));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    let drained = graceful.shutdown();
    let mut drained = std::pin::pin!(drained);
    if tokio::time::timeout(SHUTDOWN_GRACE, &mut drained)
        .await
        .is_ok()
    {
        return true;
    }
    // Requests still at work: their CPU work is cancelled; what still runs (a call to an
    // LLM) gets a last few seconds.
    tracing::warn!(
        grace_seconds = SHUTDOWN_GRACE.as_secs(),
        "requests still in flight after the shutdown grace; their work is cancelled"
    );
    pipewright_core::cancel::cancel_all();
    tokio::time::timeout(SHUTDOWN_LAST_WAIT, drained)
        .await
        .is_ok()
}

/// Answers 503 `overloaded` on a connection over the cap, without reading it, and closes it.
async fn refuse(mut stream: TcpStream, max_connections: usize) {
    tracing::warn!(
        max_connections,
        "connection refused: this server serves at most --max-connections at once"
    );
    let response = ApiError::new(
        ErrorKind::Overloaded,
        format!(
            "this server already serves {max_connections} connections (--max-connections); try again shortly"
        ),
    )
    .into_response();
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 * 1024).await else {
        return;
    };
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: {}\r\n",
        parts.status.as_u16(),
        parts.status.canonical_reason().unwrap_or(""),
        body.len()
    );
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("\r\n");
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(REFUSAL_WRITE_LIMIT, write).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_descriptors_for_everything_else() {
        assert_eq!(fit_to_descriptors(512, None), 512);
        assert_eq!(fit_to_descriptors(512, Some(1_048_576)), 512);
        // A 256 limit: 64 kept, 192 connections.
        assert_eq!(fit_to_descriptors(512, Some(256)), 192);
        // 1,024: a quarter kept.
        assert_eq!(fit_to_descriptors(2_000, Some(1_024)), 768);
        assert_eq!(fit_to_descriptors(100, Some(1_024)), 100);
        // Absurdly low limits still serve one connection.
        assert_eq!(fit_to_descriptors(512, Some(10)), 1);
        assert_eq!(fit_to_descriptors(0, None), 1);
    }
}
