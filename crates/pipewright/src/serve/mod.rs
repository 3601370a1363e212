//! `pipewright serve`: the HTTP API. It starts with no configuration at all (the embedded
//! store, no LLM needed, GitLab only for the requests that touch it), prints one line with
//! the address it listens on, logs every request with its id (text or JSON), bounds every
//! request's body and time, and on SIGTERM or SIGINT stops taking connections, lets the
//! requests in flight finish, and exits 0.
//!
//! Layout: `state.rs` (what handlers share), `error.rs` (the one error shape and status
//! table), `auth.rs` (API tokens), `bounds.rs` (bounds on every string a client sends), `connections.rs`
//! (the accept loop: header-read timeout, connection cap), `middleware.rs` (request id, time limit), `extract.rs`
//! (JSON/query extractors with JSON refusals), `openapi.rs` (the document's frame), `schemas.rs`
//! (schemas of answers assembled as JSON),
//! `routes/` (one module per group of endpoints; `routes/mod.rs` assembles them).

mod auth;
mod bounds;
mod connections;
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
use pipewright_core::heal::FixMemory;
use pipewright_core::monitor::MonitorStore;
use pipewright_core::runs::RunStore;
use state::{gitlab_from_env, ApiTokens, AppState, Shared};
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
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
    /// Seconds a connection may take to send each request's head (headers), counted from when
    /// the server starts waiting for it: a connection that sends nothing, trickles a half-sent
    /// head, or sits idle between requests is closed when it runs out.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub header_read_timeout: u64,
    /// Connections served at once; a connection beyond them is answered 503 and closed.
    /// Lowered at start to fit the process's descriptor limit (`ulimit -n`) with room kept
    /// for files and outgoing calls.
    #[arg(long, value_name = "COUNT", default_value_t = 512)]
    pub max_connections: usize,
    /// Seconds each /health check (store, LLM, GitLab, database) may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 2)]
    pub health_timeout: u64,
    /// Accept `path` (a folder on this server's disk) in analyze and generate requests, but
    /// only inside these folders (one or more; links leading out of them are refused too).
    #[arg(long, value_name = "DIR", num_args = 1..)]
    pub allow_local_paths: Vec<PathBuf>,
    /// A pipewright.toml with the base settings (default: ./pipewright.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The shared run store: `postgres://user:password@host:5432/database`, for several
    /// instances sharing runs, monitor tasks and webhooks [default: the embedded SQLite file
    /// in the data folder].
    #[arg(
        long,
        env = "PIPEWRIGHT_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
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
    let code = runtime.block_on(serve(args, addr, settings));
    // Blocking work that ignores cancellation (a clone, a call that has not timed out yet)
    // must not keep the process alive after the last answer.
    runtime.shutdown_timeout(Duration::from_secs(5));
    code
}

async fn serve(args: ServeArgs, addr: SocketAddr, settings: config::Settings) -> i32 {
    let state = match open_state(&args, settings).await {
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
    let state_monitor = state.monitor.as_ref().ok().cloned();
    let app = routes::router(state, Duration::from_secs(args.request_timeout.max(1)));
    // The one line tests and operators read to find the server.
    outln!("pipewright listening on http://{bound}");
    let _ = std::io::stdout().flush();
    tracing::info!(address = %bound, "listening");
    let descriptors = connections::descriptor_limit();
    let max_connections = connections::fit_to_descriptors(args.max_connections, descriptors);
    if max_connections < args.max_connections {
        tracing::warn!(
            requested = args.max_connections,
            max_connections,
            descriptor_limit = descriptors,
            "--max-connections lowered to fit the descriptor limit (ulimit -n); raise the limit to serve more connections at once"
        );
    }
    let limits = connections::ConnectionLimits {
        header_read_timeout: Duration::from_secs(args.header_read_timeout.max(1)),
        max_connections,
    };
    let drained = connections::serve(listener, app, limits, shutdown_signal()).await;
    // A graceful stop hands this instance's monitor tasks to the others at once.
    if let Some(monitor) = state_monitor {
        let released = monitor.release_all().await;
        if released > 0 {
            tracing::info!(
                tasks = released,
                "monitor leases released for the other instances"
            );
        }
    }
    if drained {
        tracing::info!("stopped: every request in flight was answered");
    } else {
        tracing::warn!("stopped with requests still in flight (their work was cancelled)");
    }
    exit::OK
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
async fn open_state(args: &ServeArgs, settings: config::Settings) -> Result<AppState, String> {
    // First: a token list that fails open must stop the start before anything is opened.
    let tokens = ApiTokens::parse(&std::env::var("PIPEWRIGHT_API_TOKENS").unwrap_or_default())?;
    let mut local_roots = Vec::with_capacity(args.allow_local_paths.len());
    for dir in &args.allow_local_paths {
        match std::fs::canonicalize(dir) {
            Ok(root) if root.is_dir() => local_roots.push(root),
            Ok(_) => {
                return Err(format!(
                    "--allow-local-paths {}: not a folder; name the folders requests may read",
                    dir.display()
                ))
            }
            Err(e) => {
                return Err(format!(
                    "--allow-local-paths {}: {e}; name existing folders",
                    dir.display()
                ))
            }
        }
    }
    if local_roots.iter().any(|r| r.parent().is_none()) {
        tracing::warn!(
            "--allow-local-paths includes `/`: requests may read any folder on this machine"
        );
    }
    let mut monitor_config =
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
        Ok(l) => {
            tracing::info!(model = %l.model(), endpoint = %pipewright_core::redact::redact_url(l.endpoint()), "LLM configured")
        }
        Err(reason) => {
            tracing::info!(%reason, "no LLM; the built-in generator writes every pipeline")
        }
    }
    let shared = open_shared_runs(args.database_url.as_deref(), &mut monitor_config).await?;
    let (runs, tasks, memory, wakeups) = match shared {
        Some((store, wakeups)) => (
            Ok(store.clone() as Arc<dyn RunStore>),
            Ok(store.clone() as Arc<dyn MonitorStore>),
            Some(store as Arc<dyn FixMemory>),
            Some(wakeups),
        ),
        None => {
            let sqlite = args.backends.open_sqlite_runs().map(Arc::new);
            (
                sqlite.clone().map(|s| s as Arc<dyn RunStore>),
                sqlite.clone().map(|s| s as Arc<dyn MonitorStore>),
                sqlite.ok().map(|s| s as Arc<dyn FixMemory>),
                None,
            )
        }
    };
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
    if tokens.is_empty() {
        tracing::warn!("PIPEWRIGHT_API_TOKENS is not set: the API answers anyone who can reach it");
    }
    let monitor = match (&gitlab, &tasks) {
        (Ok(client), Ok(tasks)) => {
            let monitor = pipewright_workflow::monitor::Monitor::with_tools(
                client.clone(),
                tasks.clone(),
                store.clone(),
                monitor_config,
                heal_tools(&llm, temperature, &settings, memory),
            );
            if let Some(wakeups) = wakeups {
                monitor.listen(wakeups);
            }
            Ok(monitor)
        }
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
        local_roots,
        tokens,
        max_body_bytes: args.max_body_bytes,
        health_timeout: Duration::from_secs(args.health_timeout.max(1)),
        started: Instant::now(),
        monitor,
    }))
}

/// What self-heal may use: the configured model, and the team's registry when `[images]`
/// names one (else a missing image stops the loop with what to do).
fn heal_tools(
    llm: &Result<std::sync::Arc<dyn pipewright_core::llm::LlmProvider>, String>,
    temperature: f32,
    settings: &config::Settings,
    memory: Option<Arc<dyn FixMemory>>,
) -> pipewright_workflow::monitor::HealTools {
    let images = match crate::cli::images::seeding(&settings.images, &settings.generator, None) {
        Ok(s) => Some((
            std::sync::Arc::new(s.registry)
                as std::sync::Arc<dyn pipewright_core::images::Registry>,
            s.settings,
        )),
        Err(reason) => {
            tracing::info!(%reason, "self-heal cannot seed missing images");
            None
        }
    };
    pipewright_workflow::monitor::HealTools {
        llm: llm.as_ref().ok().map(|l| (l.clone(), temperature)),
        images,
        memory,
    }
}

/// The shared run store when `--database-url` / `PIPEWRIGHT_DATABASE_URL` is set: connected,
/// its schema migrated, its wake-ups listened to. An unreachable database or a newer schema is
/// an error (the service does not start: another instance would not see its runs). Each
/// instance on a shared database holds leases under an id of its own unless
/// `PIPEWRIGHT_INSTANCE_ID` names one.
async fn open_shared_runs(
    url: Option<&str>,
    monitor: &mut pipewright_workflow::monitor::MonitorConfig,
) -> Result<
    Option<(
        Arc<pipewright_adapters::runs::PgRunStore>,
        tokio::sync::mpsc::Receiver<pipewright_adapters::runs::Wakeup>,
    )>,
    String,
> {
    let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let store = pipewright_adapters::runs::PgRunStore::connect(url)
        .await
        .map_err(|e| format!("{e}; pipewright does not start without the database it was given"))?;
    if monitor.instance_id == pipewright_workflow::monitor::EMBEDDED_INSTANCE {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "pipewright".into());
        monitor.instance_id = format!("{host}-{}-{:08x}", std::process::id(), fastrand::u32(..));
    }
    tracing::info!(database = %store.describe(), instance = %monitor.instance_id, "shared run store opened");
    let wakeups = store.listen();
    Ok(Some((Arc::new(store), wakeups)))
}

/// Logs to stderr, as text or one JSON object per line, each with its request's span (and so
/// its request id). The level is `filter` (`-q`/`-v`, else RUST_LOG, else `info`).
fn init_logging(format: LogFormat, filter: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let targets = crate::cli::output::log_targets(filter, tracing::Level::INFO);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let layer = match format {
        LogFormat::Text => layer.with_filter(targets).boxed(),
        LogFormat::Json => layer
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(targets)
            .boxed(),
    };
    if let Err(e) = tracing_subscriber::registry().with(layer).try_init() {
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
/// blocking thread, inside the request's span, cancellably: when the request ends first (its
/// time limit answered 504, the client went away) or the server shuts down, the work's
/// cancellation flag is set and its long loops stop ([`pipewright_core::cancel`]). Work
/// stopped that way is never answered as if it had finished.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    /// Sets the flag when the request's future is dropped, finished or not.
    struct CancelOnDrop(Arc<AtomicBool>);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let span = tracing::Span::current();
    let flag = Arc::new(AtomicBool::new(false));
    let _cancel = CancelOnDrop(flag.clone());
    let (output, cancelled) = tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            pipewright_core::cancel::with_flag(flag, || {
                let output = work();
                (output, pipewright_core::cancel::requested())
            })
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("the work for this request failed: {e}")))?;
    if cancelled {
        return Err(ApiError::new(
            error::ErrorKind::Overloaded,
            "the server is shutting down and stopped this request's work; send it again",
        ));
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request that ends first (its time limit, a client gone) stops the work it handed to
    /// a blocking thread: the work sees the cancellation in its loop.
    #[tokio::test]
    async fn work_of_a_request_that_ended_is_cancelled() {
        let (tx, rx) = std::sync::mpsc::channel();
        let request = blocking(move || {
            let started = std::time::Instant::now();
            while !pipewright_core::cancel::requested() {
                if started.elapsed() > Duration::from_secs(30) {
                    let _ = tx.send(false);
                    return;
                }
                std::hint::spin_loop();
            }
            let _ = tx.send(true);
        });
        // What `time_limit` does: the request's future is dropped when its time is up.
        let ended = tokio::time::timeout(Duration::from_millis(100), request).await;
        assert!(ended.is_err(), "the work ran until cancelled");
        let stopped = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(5)))
            .await
            .expect("join");
        assert_eq!(
            stopped,
            Ok(true),
            "the work went on after its request ended"
        );
    }

    #[tokio::test]
    async fn work_that_finishes_is_answered() {
        assert_eq!(blocking(|| 41 + 1).await.ok(), Some(42));
    }
}
