//! [`PgRunStore`]: runs, monitor tasks, leases and webhook deliveries in a PostgreSQL database
//! that several pipewright instances share (`PIPEWRIGHT_DATABASE_URL`). Same rows as the
//! embedded store; the clock of leases is the database's (`now()`), so instances with skewed
//! clocks agree on when a lease ran out.
//!
//! - Migrations are versioned (`pipewright_schema`) and applied at open inside one transaction
//!   under an advisory lock, so two instances starting at once apply each version once; a
//!   database whose schema is newer than this binary knows is refused.
//! - Claims use `FOR UPDATE SKIP LOCKED`: two instances claiming at once never get one task.
//! - Connection loss: the pool drops broken connections; an operation that failed for a
//!   connection reason is tried again with backoff (all operations are idempotent), and past
//!   that the monitor's own backoff retries the step. Tasks live in the database, so none is
//!   lost.
//! - Wake-ups: a webhook received by any instance is announced with `NOTIFY`; every instance
//!   `LISTEN`s on one connection of its own ([`PgRunStore::listen`]) and wakes its task.

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::StreamExt;
use pipewright_core::heal::{memory_key, FailureClass, FixMemory, LearnedFix};
use pipewright_core::monitor::{LeaseCounts, MonitorStore, MonitorTask};
use pipewright_core::runs::{Run, RunFilter, RunStatus, RunStore, RunStoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::config::Host;
use tokio_postgres::{AsyncMessage, Config, NoTls};

/// Schema versions, applied in order; `pipewright_schema` holds the versions applied. Ids are
/// `COLLATE "C"` so keyset pages sort as the embedded store's do, whatever the database locale.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE runs (
        id TEXT COLLATE \"C\" PRIMARY KEY,
        status TEXT NOT NULL,
        project TEXT,
        project_id BIGINT,
        created_at_ms BIGINT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX runs_status ON runs(status, id);
    CREATE INDEX runs_project ON runs(project, id);
    CREATE TABLE monitor_tasks (
        run_id TEXT COLLATE \"C\" PRIMARY KEY,
        project_id BIGINT NOT NULL,
        commit_id TEXT NOT NULL,
        status TEXT NOT NULL,
        unfinished BOOLEAN NOT NULL,
        version BIGINT NOT NULL,
        body TEXT NOT NULL,
        lease_owner TEXT,
        lease_until TIMESTAMPTZ
    );
    CREATE INDEX monitor_tasks_unfinished ON monitor_tasks(run_id) WHERE unfinished;
    CREATE INDEX monitor_tasks_owner ON monitor_tasks(lease_owner) WHERE unfinished;
    CREATE INDEX monitor_tasks_commit ON monitor_tasks(project_id, commit_id, run_id);
    CREATE TABLE webhook_deliveries (
        key TEXT PRIMARY KEY,
        received_at_ms BIGINT NOT NULL
    );
    CREATE INDEX webhook_deliveries_age ON webhook_deliveries(received_at_ms);",
    // Self-heal's memory: fixes that led to a green pipeline, found by failure key.
    "CREATE TABLE learned_fixes (
        id TEXT COLLATE \"C\" PRIMARY KEY,
        key TEXT NOT NULL,
        learned_at_ms BIGINT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX learned_fixes_key ON learned_fixes(key, learned_at_ms);",
];

/// The advisory lock migrations hold (any constant; "pwschema" in ASCII).
const MIGRATION_LOCK: i64 = 0x7077_7363_6865_6d61;
/// The `NOTIFY` channel of wake-ups.
const WAKE_CHANNEL: &str = "pipewright_wake";
/// Tries of an operation that failed for a connection reason.
const TRIES: u32 = 5;
/// Connections per instance.
const POOL_SIZE: usize = 16;
/// Deliveries older than this are forgotten (GitLab retries a delivery for far less long).
const DELIVERY_MEMORY_MS: u64 = 7 * 24 * 3600 * 1000;

/// A webhook announced by some instance: the commit whose pipeline changed; `Claim` when an
/// instance gave its leases up (stopping), so the others claim its tasks now; or `All` after
/// the listening connection was lost and came back (announcements may have been missed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wakeup {
    Commit { project_id: u64, commit_id: String },
    Claim,
    All,
}

/// The payload of [`Wakeup::Claim`] (a commit's payload always holds a `:`).
const CLAIM_PAYLOAD: &str = "claim";

/// The shared run store.
#[derive(Clone)]
pub struct PgRunStore {
    shown: Arc<str>,
    config: Config,
    pool: Pool,
}

/// Why one try failed.
enum Failure {
    Pool(deadpool_postgres::PoolError),
    Db(tokio_postgres::Error),
    Data(String),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Db(e)
    }
}

impl From<deadpool_postgres::PoolError> for Failure {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Failure::Pool(e)
    }
}

impl Failure {
    /// A connection problem that another try (on a fresh connection) may not have.
    fn is_transient(&self) -> bool {
        match self {
            // A new connection the server refused for good (no such database, a refused
            // login) is not retried; one it could not be reached for is.
            Failure::Pool(deadpool_postgres::PoolError::Backend(e)) => transient(e),
            Failure::Pool(_) => true,
            Failure::Data(_) => false,
            Failure::Db(e) => transient(e),
        }
    }

    fn message(&self) -> String {
        match self {
            // The server's own words (a database that does not exist, a refused login).
            Failure::Pool(deadpool_postgres::PoolError::Backend(e)) => db_message(e),
            Failure::Pool(e) => e.to_string(),
            Failure::Data(m) => m.clone(),
            Failure::Db(e) => db_message(e),
        }
    }
}

/// A connection problem, shutdown, lack of resources (too many connections), serialization
/// failure or deadlock: another try may not have it.
fn transient(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        Some(code) => {
            let code = code.code();
            code.starts_with("08")
                || code.starts_with("57P")
                || code.starts_with("53")
                || code == "40001"
                || code == "40P01"
        }
        None => e.is_closed() || e.as_db_error().is_none(),
    }
}

fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// Runs `$body` (an async block using the pooled client `$c`, returning
/// `Result<T, Failure>`) and tries again on connection failures.
macro_rules! retrying {
    ($self:ident, $operation:expr, |$c:ident| $body:block) => {{
        let mut tried = 0u32;
        loop {
            let outcome: Result<_, Failure> = async {
                let $c = $self.pool.get().await?;
                $body
            }
            .await;
            match outcome {
                Ok(value) => break Ok(value),
                Err(e) if e.is_transient() && tried + 1 < TRIES => {
                    tried += 1;
                    tracing::warn!(store = %$self.shown, operation = $operation, tried, error = %e.message(), "database operation failed; trying again");
                    tokio::time::sleep(backoff(tried)).await;
                }
                Err(e) => break Err(failure(&$self.shown, $operation, e.message())),
            }
        }
    }};
}

fn backoff(tried: u32) -> Duration {
    Duration::from_millis((100u64 << tried.min(5)).min(2_000))
}

fn failure(shown: &str, operation: &str, message: impl ToString) -> RunStoreError {
    RunStoreError::Backend {
        store: shown.to_string(),
        operation: operation.to_string(),
        message: message.to_string(),
    }
}

/// Where a URL points, without its password: `user@host:port/database`.
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or("postgres")
    )
}

fn decode<T: serde::de::DeserializeOwned>(body: &str, what: &str) -> Result<T, Failure> {
    serde_json::from_str(body)
        .map_err(|e| Failure::Data(format!("a stored {what} is not valid: {e}")))
}

impl PgRunStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`), checks the schema
    /// and applies the migrations this binary has and the database lacks. Fails with a
    /// message naming the database (never the password) when it cannot be reached, or when its
    /// schema is newer than this binary.
    pub async fn connect(url: &str) -> Result<Self, RunStoreError> {
        let mut config: Config = url.parse().map_err(|e| {
            failure(
                "PIPEWRIGHT_DATABASE_URL",
                "read the URL",
                format!("{e}; write it as postgres://user:password@host:5432/database"),
            )
        })?;
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(failure(
                &describe(&config),
                "connect",
                "sslmode=require: this build has no TLS for PostgreSQL; reach the database over a private network (sslmode=disable or prefer) or through a TLS-terminating proxy",
            ));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.application_name("pipewright");
        let shown: Arc<str> = describe(&config).into();
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Verified,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| failure(&shown, "set up the connection pool", e))?;
        let store = PgRunStore {
            shown,
            config,
            pool,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// `user@host:port/database` (no password).
    pub fn describe(&self) -> &str {
        &self.shown
    }

    async fn migrate(&self) -> Result<(), RunStoreError> {
        let mut client = self.pool.get().await.map_err(|e| {
            failure(
                &self.shown,
                "connect",
                format!(
                    "{}; check PIPEWRIGHT_DATABASE_URL (or --database-url) and that the server accepts connections",
                    Failure::Pool(e).message()
                ),
            )
        })?;
        let known = MIGRATIONS.len() as i32;
        let tx = client
            .transaction()
            .await
            .map_err(|e| failure(&self.shown, "start a migration", Failure::Db(e).message()))?;
        let step = |e: tokio_postgres::Error| {
            failure(&self.shown, "migrate the schema", Failure::Db(e).message())
        };
        // Held until the commit: a second instance starting now waits here, then finds the
        // versions applied.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(step)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS pipewright_schema (
                version INTEGER PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(step)?;
        let applied: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM pipewright_schema",
                &[],
            )
            .await
            .map_err(step)?
            .get(0);
        if applied > known {
            return Err(failure(
                &self.shown,
                "open",
                format!("its schema version is {applied} but this pipewright knows only up to {known}; upgrade this instance to the version the others run"),
            ));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            let version = i as i32 + 1;
            tx.batch_execute(sql).await.map_err(step)?;
            tx.execute(
                "INSERT INTO pipewright_schema (version) VALUES ($1)",
                &[&version],
            )
            .await
            .map_err(step)?;
            tracing::info!(store = %self.shown, version, "database schema migrated");
        }
        tx.commit().await.map_err(step)?;
        Ok(())
    }

    /// Wake-ups announced by any instance (including this one), on a connection of its own;
    /// the connection is opened again after a loss (then [`Wakeup::All`] is sent, since
    /// announcements may have been missed). Ends when the receiver is dropped.
    pub fn listen(&self) -> mpsc::Receiver<Wakeup> {
        let (sender, receiver) = mpsc::channel(1024);
        let config = self.config.clone();
        let shown = Arc::clone(&self.shown);
        tokio::spawn(async move {
            let mut failures = 0u32;
            let mut first = true;
            while !sender.is_closed() {
                match config.connect(NoTls).await {
                    Ok((client, connection)) => {
                        let mut messages = futures_util::stream::poll_fn({
                            let mut connection = connection;
                            move |cx| connection.poll_message(cx)
                        });
                        let listening = async {
                            client
                                .batch_execute(&format!("LISTEN {WAKE_CHANNEL}"))
                                .await
                        };
                        // The connection must be polled for LISTEN to complete.
                        let mut listening = std::pin::pin!(listening);
                        let ready = loop {
                            tokio::select! {
                                done = &mut listening => break done.map_err(|e| Failure::Db(e).message()),
                                message = messages.next() => match message {
                                    Some(Ok(_)) => {}
                                    Some(Err(e)) => break Err(Failure::Db(e).message()),
                                    None => break Err("the connection closed".into()),
                                },
                            }
                        };
                        if let Err(e) = ready {
                            tracing::warn!(store = %shown, error = %e, "cannot listen for wake-ups; trying again");
                        } else {
                            failures = 0;
                            if !first && sender.send(Wakeup::All).await.is_err() {
                                return;
                            }
                            first = false;
                            while let Some(message) = messages.next().await {
                                match message {
                                    Ok(AsyncMessage::Notification(n)) => {
                                        if let Some(wakeup) = parse_wakeup(n.payload()) {
                                            if sender.send(wakeup).await.is_err() {
                                                return;
                                            }
                                        }
                                    }
                                    Ok(_) => {}
                                    Err(e) => {
                                        tracing::warn!(store = %shown, error = %Failure::Db(e).message(), "the wake-up connection failed; reconnecting");
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(store = %shown, error = %Failure::Db(e).message(), "cannot open the wake-up connection; trying again");
                    }
                }
                failures = failures.saturating_add(1);
                tokio::time::sleep(backoff(failures)).await;
            }
        });
        receiver
    }
}

fn parse_wakeup(payload: &str) -> Option<Wakeup> {
    if payload == CLAIM_PAYLOAD {
        return Some(Wakeup::Claim);
    }
    let (project, commit) = payload.split_once(':')?;
    Some(Wakeup::Commit {
        project_id: project.parse().ok()?,
        commit_id: commit.to_string(),
    })
}

#[async_trait]
impl RunStore for PgRunStore {
    async fn save(&self, run: &Run) -> Result<(), RunStoreError> {
        let body =
            serde_json::to_string(run).map_err(|e| failure(&self.shown, "encode a run", e))?;
        let project_id = run.project_id.map(|i| i as i64);
        let created = run.created_at_ms as i64;
        retrying!(self, "save a run", |c| {
            c.execute(
                "INSERT INTO runs (id, status, project, project_id, created_at_ms, body)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                   project = excluded.project, project_id = excluded.project_id,
                   body = excluded.body",
                &[
                    &run.id,
                    &run.status.as_str(),
                    &run.project,
                    &project_id,
                    &created,
                    &body,
                ],
            )
            .await?;
            Ok(())
        })
    }

    async fn get(&self, id: &str) -> Result<Option<Run>, RunStoreError> {
        retrying!(self, "read a run", |c| {
            let row = c
                .query_opt("SELECT body FROM runs WHERE id = $1", &[&id])
                .await?;
            row.map(|r| decode::<Run>(r.get(0), "run")).transpose()
        })
    }

    async fn list(&self, filter: &RunFilter) -> Result<Vec<Run>, RunStoreError> {
        let limit = filter.limit.clamp(1, super::sqlite::MAX_LIST) as i64;
        let project_id: Option<i64> = filter
            .project
            .as_deref()
            .and_then(|p| p.parse::<i64>().ok());
        let status = filter.status.map(RunStatus::as_str);
        retrying!(self, "list runs", |c| {
            let rows = c
                .query(
                    "SELECT body FROM runs
                     WHERE ($1::text IS NULL OR id < $1)
                       AND ($2::text IS NULL OR status = $2)
                       AND ($3::text IS NULL OR project = $3 OR project_id = $4)
                     ORDER BY id DESC LIMIT $5",
                    &[
                        &filter.before,
                        &status,
                        &filter.project,
                        &project_id,
                        &limit,
                    ],
                )
                .await?;
            rows.iter()
                .map(|r| decode::<Run>(r.get(0), "run"))
                .collect()
        })
    }

    async fn check(&self) -> Result<String, RunStoreError> {
        // One try, not retried: a health check reports what it finds now, and its reason.
        let outcome: Result<String, Failure> = async {
            let c = self.pool.get().await?;
            let row = c
                .query_one(
                    "SELECT current_setting('server_version'),
                            (SELECT COALESCE(MAX(version), 0) FROM pipewright_schema)",
                    &[],
                )
                .await?;
            let version: String = row.get(0);
            let schema: i32 = row.get(1);
            // The server's address stays in the log: answers name only the backend.
            Ok(format!("PostgreSQL {version}, schema {schema}"))
        }
        .await;
        outcome.map_err(|e| failure(&self.shown, "check the database", e.message()))
    }
}

fn tasks_of(rows: &[tokio_postgres::Row]) -> Result<Vec<MonitorTask>, Failure> {
    rows.iter()
        .map(|r| decode::<MonitorTask>(r.get(0), "monitor task"))
        .collect()
}

/// Fixes learned on any instance are recalled on every instance.
#[async_trait]
impl FixMemory for PgRunStore {
    async fn remember(&self, fix: &LearnedFix) -> Result<bool, RunStoreError> {
        let body = serde_json::to_string(fix)
            .map_err(|e| failure(&self.shown, "encode a learned fix", e))?;
        let (id, key, at) = (fix.id(), fix.key(), fix.learned_at_ms as i64);
        retrying!(self, "remember a fix", |c| {
            let changed = c
                .execute(
                    "INSERT INTO learned_fixes (id, key, learned_at_ms, body) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO NOTHING",
                    &[&id, &key, &at, &body],
                )
                .await?;
            Ok(changed > 0)
        })
    }

    async fn recall(
        &self,
        class: FailureClass,
        template: &str,
        limit: usize,
    ) -> Result<Vec<LearnedFix>, RunStoreError> {
        let key = memory_key(class, template);
        let limit = limit as i64;
        retrying!(self, "recall learned fixes", |c| {
            let rows = c
                .query(
                    "SELECT body FROM learned_fixes WHERE key = $1
                     ORDER BY learned_at_ms DESC, id LIMIT $2",
                    &[&key, &limit],
                )
                .await?;
            rows.iter()
                .map(|r| decode::<LearnedFix>(r.get(0), "learned fix"))
                .collect()
        })
    }
}

#[async_trait]
impl MonitorStore for PgRunStore {
    async fn save_task(&self, task: &MonitorTask) -> Result<bool, RunStoreError> {
        let body = serde_json::to_string(task)
            .map_err(|e| failure(&self.shown, "encode a monitor task", e))?;
        let project_id = task.project_id as i64;
        let version = task.version as i64;
        let unfinished = task.is_unfinished();
        retrying!(self, "save a monitor task", |c| {
            // The WHERE on the update keeps a stale writer from moving a task backwards.
            let changed = c
                .execute(
                    "INSERT INTO monitor_tasks (run_id, project_id, commit_id, status, unfinished, version, body)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (run_id) DO UPDATE SET status = excluded.status,
                       commit_id = excluded.commit_id, unfinished = excluded.unfinished, version = excluded.version, body = excluded.body
                     WHERE excluded.version > monitor_tasks.version",
                    &[
                        &task.run_id,
                        &project_id,
                        &task.commit_id,
                        &task.status.as_str(),
                        &unfinished,
                        &version,
                        &body,
                    ],
                )
                .await?;
            Ok(changed > 0)
        })
    }

    async fn task(&self, run_id: &str) -> Result<Option<MonitorTask>, RunStoreError> {
        retrying!(self, "read a monitor task", |c| {
            let row = c
                .query_opt(
                    "SELECT body FROM monitor_tasks WHERE run_id = $1",
                    &[&run_id],
                )
                .await?;
            row.map(|r| decode::<MonitorTask>(r.get(0), "monitor task"))
                .transpose()
        })
    }

    async fn unfinished_tasks(&self) -> Result<Vec<MonitorTask>, RunStoreError> {
        retrying!(self, "list unfinished monitor tasks", |c| {
            let rows = c
                .query(
                    "SELECT body FROM monitor_tasks WHERE unfinished ORDER BY run_id",
                    &[],
                )
                .await?;
            tasks_of(&rows)
        })
    }

    async fn task_for_commit(
        &self,
        project_id: u64,
        commit_id: &str,
    ) -> Result<Option<MonitorTask>, RunStoreError> {
        let project_id = project_id as i64;
        retrying!(self, "find a monitor task by commit", |c| {
            let row = c
                .query_opt(
                    "SELECT body FROM monitor_tasks WHERE project_id = $1 AND commit_id = $2
                     ORDER BY run_id DESC LIMIT 1",
                    &[&project_id, &commit_id],
                )
                .await?;
            row.map(|r| decode::<MonitorTask>(r.get(0), "monitor task"))
                .transpose()
        })
    }

    async fn record_delivery(&self, key: &str, now_ms: u64) -> Result<bool, RunStoreError> {
        let now = now_ms as i64;
        let forget = fastrand::u8(..) == 0;
        let before = now_ms.saturating_sub(DELIVERY_MEMORY_MS) as i64;
        retrying!(self, "record a webhook delivery", |c| {
            let inserted = c
                .execute(
                    "INSERT INTO webhook_deliveries (key, received_at_ms) VALUES ($1, $2)
                     ON CONFLICT (key) DO NOTHING",
                    &[&key, &now],
                )
                .await?;
            if inserted > 0 && forget {
                c.execute(
                    "DELETE FROM webhook_deliveries WHERE received_at_ms < $1",
                    &[&before],
                )
                .await?;
            }
            Ok(inserted > 0)
        })
    }

    async fn forget_delivery(&self, key: &str) -> Result<(), RunStoreError> {
        retrying!(self, "forget a webhook delivery", |c| {
            c.execute("DELETE FROM webhook_deliveries WHERE key = $1", &[&key])
                .await?;
            Ok(())
        })
    }

    async fn claim_tasks(
        &self,
        owner: &str,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<MonitorTask>, RunStoreError> {
        let lease = lease_ms as f64 / 1000.0;
        let limit = limit.min(i64::MAX as usize) as i64;
        retrying!(self, "claim monitor tasks", |c| {
            // Rows another instance is claiming right now are skipped, not waited for.
            let rows = c
                .query(
                    "UPDATE monitor_tasks t
                     SET lease_owner = $1, lease_until = now() + make_interval(secs => $2)
                     FROM (SELECT run_id FROM monitor_tasks
                           WHERE unfinished
                             AND (lease_owner IS NULL OR lease_until < now())
                           ORDER BY run_id LIMIT $3
                           FOR UPDATE SKIP LOCKED) free
                     WHERE t.run_id = free.run_id
                     RETURNING t.body",
                    &[&owner, &lease, &limit],
                )
                .await?;
            let mut tasks = tasks_of(&rows)?;
            tasks.sort_by(|a, b| a.run_id.cmp(&b.run_id));
            Ok(tasks)
        })
    }

    async fn claim_task(
        &self,
        run_id: &str,
        owner: &str,
        lease_ms: u64,
    ) -> Result<Option<MonitorTask>, RunStoreError> {
        let lease = lease_ms as f64 / 1000.0;
        retrying!(self, "claim a monitor task", |c| {
            let row = c
                .query_opt(
                    "UPDATE monitor_tasks
                     SET lease_owner = $2, lease_until = now() + make_interval(secs => $3)
                     WHERE run_id = $1 AND unfinished
                       AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < now())
                     RETURNING body",
                    &[&run_id, &owner, &lease],
                )
                .await?;
            row.map(|r| decode::<MonitorTask>(r.get(0), "monitor task"))
                .transpose()
        })
    }

    async fn renew_lease(
        &self,
        run_id: &str,
        owner: &str,
        lease_ms: u64,
    ) -> Result<bool, RunStoreError> {
        let lease = lease_ms as f64 / 1000.0;
        retrying!(self, "renew a lease", |c| {
            let n = c
                .execute(
                    "UPDATE monitor_tasks SET lease_until = now() + make_interval(secs => $3)
                     WHERE run_id = $1 AND lease_owner = $2",
                    &[&run_id, &owner, &lease],
                )
                .await?;
            Ok(n > 0)
        })
    }

    async fn renew_leases(&self, owner: &str, lease_ms: u64) -> Result<Vec<String>, RunStoreError> {
        let lease = lease_ms as f64 / 1000.0;
        retrying!(self, "renew leases", |c| {
            let rows = c
                .query(
                    "UPDATE monitor_tasks SET lease_until = now() + make_interval(secs => $2)
                     WHERE lease_owner = $1 AND unfinished RETURNING run_id",
                    &[&owner, &lease],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
        })
    }

    async fn release_task(&self, run_id: &str, owner: &str) -> Result<(), RunStoreError> {
        retrying!(self, "release a lease", |c| {
            c.execute(
                "UPDATE monitor_tasks SET lease_owner = NULL, lease_until = NULL
                 WHERE run_id = $1 AND lease_owner = $2",
                &[&run_id, &owner],
            )
            .await?;
            Ok(())
        })
    }

    async fn lease_counts(&self) -> Result<LeaseCounts, RunStoreError> {
        retrying!(self, "count leases", |c| {
            let row = c
                .query_one(
                    "SELECT COUNT(*) FILTER (WHERE lease_owner IS NOT NULL AND lease_until >= now()),
                            COUNT(*) FILTER (WHERE lease_owner IS NULL OR lease_until < now())
                     FROM monitor_tasks WHERE unfinished",
                    &[],
                )
                .await?;
            Ok(LeaseCounts {
                held: row.get::<_, i64>(0) as u64,
                free: row.get::<_, i64>(1) as u64,
            })
        })
    }

    async fn next_lease_end(&self, owner: &str) -> Result<Option<Duration>, RunStoreError> {
        retrying!(self, "find the next lease end", |c| {
            let row = c
                .query_one(
                    "SELECT (EXTRACT(EPOCH FROM MIN(lease_until) - now()) * 1000)::float8
                     FROM monitor_tasks
                     WHERE unfinished AND lease_owner IS NOT NULL AND lease_owner <> $1",
                    &[&owner],
                )
                .await?;
            let ms: Option<f64> = row.get(0);
            Ok(ms.map(|ms| Duration::from_millis(ms.max(0.0) as u64)))
        })
    }

    async fn announce(&self, project_id: u64, commit_id: &str) -> Result<bool, RunStoreError> {
        let payload = format!("{project_id}:{commit_id}");
        retrying!(self, "announce a webhook", |c| {
            c.execute("SELECT pg_notify($1, $2)", &[&WAKE_CHANNEL, &payload])
                .await?;
            Ok(true)
        })
    }

    async fn announce_free(&self) -> Result<bool, RunStoreError> {
        retrying!(self, "announce free tasks", |c| {
            c.execute("SELECT pg_notify($1, $2)", &[&WAKE_CHANNEL, &CLAIM_PAYLOAD])
                .await?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_password() {
        let config: Config = "postgres://pw:s3cret@db.example:6543/runs".parse().unwrap();
        let shown = describe(&config);
        assert_eq!(shown, "postgres://pw@db.example:6543/runs");
        assert!(!shown.contains("s3cret"));
    }

    #[test]
    fn wakeups_parse_and_refuse_junk() {
        assert_eq!(
            parse_wakeup("7:abc"),
            Some(Wakeup::Commit {
                project_id: 7,
                commit_id: "abc".into()
            })
        );
        assert_eq!(parse_wakeup("claim"), Some(Wakeup::Claim));
        assert_eq!(parse_wakeup("x:abc"), None);
        assert_eq!(parse_wakeup("abc"), None);
    }

    #[tokio::test]
    async fn required_tls_is_refused_before_connecting() {
        let err = PgRunStore::connect("postgres://pw:s3cret@127.0.0.1:1/runs?sslmode=require")
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("sslmode=require"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[tokio::test]
    async fn a_bad_url_is_refused_with_advice() {
        let err = PgRunStore::connect("mysql://nope").await.err().unwrap();
        assert!(err.to_string().contains("postgres://"), "{err}");
    }
}
