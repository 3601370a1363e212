//! `pipewright serve`: the HTTP API. It starts with no configuration at all (the embedded
//! store, no LLM needed, GitLab only for the requests that touch it), prints one line with
//! the address it listens on, logs every request with its id (text or JSON), bounds every
//! request's body and time, and on SIGTERM or SIGINT stops taking connections, lets the
//! requests in flight finish, and exits 0.
//!
//! Layout: `state.rs` (what handlers share), `error.rs` (the one error shape and status
//! table), `auth.rs` (API tokens), `middleware.rs` (request id, time limit), `extract.rs`
//! (JSON/query extractors with JSON refusals), `openapi.rs` (the document's frame), `schemas.rs`
//! (schemas of answers assembled as JSON),
//! `routes/` (one module per group of endpoints; `routes/mod.rs` assembles them).

mod auth;
pub(crate) mod error;
mod extract;
mod middleware;
mod openapi;
mod routes;
mod schemas;
mod state;

use crate::cli::config;
use crate::cli::exit;
use clap::{Args, ValueEnum};
use error::ApiError;
use state::{gitlab_from_env, ApiTokens, AppState, Shared};
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The port when neither `--listen` nor `PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 8003;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, `HOST:PORT` with an IP address or a host name (`localhost:9000`,
    /// `[::1]:9000`) [default: 0.0.0.0:8003, or 0.0.0.0:$PORT when PORT is set].
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Log lines as `text` or `json` (one object per line); the level comes from -q/-v, else
    /// RUST_LOG (default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// The largest request body accepted, in bytes; larger ones are answered 413.
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds a request may take before it is answered 504 (LLM generation can take minutes).
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub request_timeout: u64,
    /// Seconds each /health check (store, LLM, GitLab) may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 2)]
    pub health_timeout: u64,
    /// Accept `path` (a folder on this server's disk) in analyze and generate requests.
    #[arg(long)]
    pub allow_local_paths: bool,
    /// A pipewright.toml with the base settings (default: ./pipewright.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub backends: crate::setup::BackendArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Runs the service until SIGTERM or SIGINT; returns the exit code.
pub fn run(args: ServeArgs, global: &crate::cli::output::GlobalArgs) -> i32 {
    let filter = global.log_filter("info", std::env::var("RUST_LOG").ok().as_deref());
    init_logging(args.log_format, &filter);
    let addr = match listen_address(args.listen.as_deref()) {
        Ok(a) => a,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::USAGE;
        }
    };
    let settings = match config::load_base(args.config.as_deref()).and_then(|mut s| {
        config::apply(&mut s, &config::SettingsOverrides::default())?;
        Ok(s)
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let Some(runtime) = crate::setup::runtime(true) else {
        return exit::FAILURE;
    };
    runtime.block_on(serve(args, addr, settings))
}

async fn serve(args: ServeArgs, addr: SocketAddr, settings: config::Settings) -> i32 {
    let state = match open_state(&args, settings) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::USAGE;
        }
    };
    if let Ok(monitor) = &state.monitor {
        match monitor.resume().await {
            Ok(n) => tracing::info!(tasks = n, "monitor resumed the unfinished tasks"),
            Err(e) => {
                tracing::error!(error = %e, "monitor tasks could not be read; they resume at the next start")
            }
        }
    }
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "error: cannot listen on {addr}: {e}; choose another address with --listen or PORT"
            );
            return exit::USAGE;
        }
    };
    let bound = listener.local_addr().unwrap_or(addr);
    let app = routes::router(state, Duration::from_secs(args.request_timeout.max(1)));
    // The one line tests and operators read to find the server.
    outln!("pipewright listening on http://{bound}");
    let _ = std::io::stdout().flush();
    tracing::info!(address = %bound, "listening");
    match axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        Ok(()) => {
            tracing::info!("stopped: every request in flight was answered");
            exit::OK
        }
        Err(e) => {
            tracing::error!(error = %e, "the server failed");
            exit::FAILURE
        }
    }
}

/// `--listen`, else `0.0.0.0:$PORT`, else `0.0.0.0:8003`.
fn listen_address(listen: Option<&str>) -> Result<SocketAddr, String> {
    if let Some(text) = listen {
        return resolve_listen(text);
    }
    let port = match std::env::var("PORT") {
        Ok(text) if !text.trim().is_empty() => text.trim().parse::<u16>().map_err(|_| {
            format!("PORT `{text}` is not a port number (1-65535); fix it or use --listen ADDR")
        })?,
        _ => DEFAULT_PORT,
    };
    Ok(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))
}

/// `HOST:PORT` to the address to bind: an IP address as written, a host name through the
/// system's resolver (the first address it gives, IPv4 before IPv6 as `getaddrinfo` orders
/// them for `localhost`).
fn resolve_listen(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let usage = "use HOST:PORT, e.g. --listen 127.0.0.1:8003, --listen localhost:8003 or --listen [::1]:8003";
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("--listen `{text}` has no port; {usage}"));
    };
    if host.is_empty() {
        return Err(format!("--listen `{text}` has no host; {usage}"));
    }
    if port.parse::<u16>().is_err() {
        return Err(format!(
            "--listen `{text}`: `{port}` is not a port number (0-65535); {usage}"
        ));
    }
    let mut addrs = text
        .to_socket_addrs()
        .map_err(|e| format!("--listen `{text}`: cannot resolve `{host}`: {e}; {usage}"))?;
    addrs
        .next()
        .ok_or_else(|| format!("--listen `{text}`: `{host}` has no address; {usage}"))
}

/// Opens the store, the LLM and the GitLab client once; failures are kept as reasons. A
/// monitor setting that does not parse is an error (the service does not start).
fn open_state(args: &ServeArgs, settings: config::Settings) -> Result<AppState, String> {
    let monitor_config =
        pipewright_workflow::monitor::MonitorConfig::from_lookup(|k| std::env::var(k).ok())?;
    let store = args.backends.open_store().map_err(|e| e.to_string());
    match &store {
        Ok(s) => tracing::info!(store = %s.describe(), "knowledge store opened"),
        Err(reason) => {
            tracing::warn!(%reason, "knowledge store not available; generation uses the built-in generator")
        }
    }
    let (llm, temperature) = args.backends.open_llm();
    match &llm {
        Ok(l) => tracing::info!(model = %l.model(), endpoint = %l.endpoint(), "LLM configured"),
        Err(reason) => {
            tracing::info!(%reason, "no LLM; the built-in generator writes every pipeline")
        }
    }
    let sqlite_runs = args.backends.open_sqlite_runs();
    let runs = sqlite_runs
        .clone()
        .map(|s| std::sync::Arc::new(s) as std::sync::Arc<dyn pipewright_core::runs::RunStore>);
    match &runs {
        Ok(_) => tracing::info!("run store opened"),
        Err(reason) => {
            tracing::warn!(%reason, "run store not available; workflow runs are not recorded")
        }
    }
    let gitlab = gitlab_from_env();
    match &gitlab {
        Ok(client) => tracing::info!(gitlab = %client.policy().base(), "GitLab configured"),
        Err(unset) => tracing::info!(
            setting = unset.setting,
            "GitLab not configured; requests that need it are answered 503"
        ),
    }
    let tokens = ApiTokens::parse(&std::env::var("PIPEWRIGHT_API_TOKENS").unwrap_or_default());
    if tokens.is_empty() {
        tracing::warn!("PIPEWRIGHT_API_TOKENS is not set: the API answers anyone who can reach it");
    }
    let monitor = match (&gitlab, &sqlite_runs) {
        (Ok(client), Ok(tasks)) => Ok(pipewright_workflow::monitor::Monitor::new(
            client.clone(),
            std::sync::Arc::new(tasks.clone()),
            store.clone(),
            monitor_config,
        )),
        (Err(unset), _) => Err(format!("GitLab is not configured: {}", unset.message)),
        (_, Err(reason)) => Err(format!("the run store is not available: {reason}")),
    };
    if let Err(reason) = &monitor {
        tracing::info!(%reason, "pipelines are not monitored");
    }
    Ok(AppState::new(Shared {
        store,
        llm,
        temperature,
        runs,
        gitlab,
        settings,
        allow_local_paths: args.allow_local_paths,
        tokens,
        max_body_bytes: args.max_body_bytes,
        health_timeout: Duration::from_secs(args.health_timeout.max(1)),
        started: Instant::now(),
        monitor,
    }))
}

/// Logs to stderr, as text or one JSON object per line, each with its request's span (and so
/// its request id). The level is `filter` (`-q`/`-v`, else RUST_LOG, else `info`).
fn init_logging(format: LogFormat, filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    if let Err(e) = result {
        eprintln!("warning: logging could not be set up: {e}");
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: finishing the requests in flight"),
        () = terminate => tracing::info!("SIGTERM: finishing the requests in flight"),
    }
}

/// Runs CPU-heavy or blocking work (analysis, generation, validation, listing a folder) on a
/// blocking thread, inside the request's span.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|e| ApiError::internal(format!("the work for this request failed: {e}")))
}
