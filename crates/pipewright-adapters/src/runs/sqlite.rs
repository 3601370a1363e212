//! [`SqliteRunStore`]: runs in a SQLite file. One row per run; the steps, request and result
//! are JSON in the row, the fields lists filter on are columns with an index.

use async_trait::async_trait;
use pipewright_core::heal::{memory_key, FailureClass, FixMemory, LearnedFix};
use pipewright_core::monitor::{LeaseCounts, MonitorStore, MonitorTask};
use pipewright_core::runs::{Run, RunFilter, RunStatus, RunStore, RunStoreError};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const FILE_NAME: &str = "runs.sqlite3";

/// Schema versions, applied in order; `PRAGMA user_version` holds how many were applied.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        project TEXT,
        project_id INTEGER,
        created_at_ms INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX runs_status ON runs(status, id);
    CREATE INDEX runs_project ON runs(project, id);",
    // Monitor tasks: one per workflow run; `version` makes saves forward-only.
    "CREATE TABLE monitor_tasks (
        run_id TEXT PRIMARY KEY,
        project_id INTEGER NOT NULL,
        commit_id TEXT NOT NULL,
        status TEXT NOT NULL,
        unfinished INTEGER NOT NULL,
        version INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX monitor_tasks_unfinished ON monitor_tasks(unfinished, run_id);
    CREATE INDEX monitor_tasks_commit ON monitor_tasks(project_id, commit_id, run_id);
    CREATE TABLE webhook_deliveries (
        key TEXT PRIMARY KEY,
        received_at_ms INTEGER NOT NULL
    );",
    // Leases: which instance drives a task, until when (ms since the epoch).
    "ALTER TABLE monitor_tasks ADD COLUMN lease_owner TEXT;
    ALTER TABLE monitor_tasks ADD COLUMN lease_until_ms INTEGER;",
    // Self-heal's memory: fixes that led to a green pipeline, found by failure key.
    "CREATE TABLE learned_fixes (
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        learned_at_ms INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX learned_fixes_key ON learned_fixes(key, learned_at_ms);",
];

/// Most runs one list returns.
pub const MAX_LIST: usize = 500;

/// The embedded run store.
#[derive(Clone)]
pub struct SqliteRunStore {
    shown: Arc<str>,
    conn: Arc<Mutex<Connection>>,
}

impl SqliteRunStore {
    /// Opens (creating if needed) `runs.sqlite3` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, RunStoreError> {
        let path = data_dir.join(FILE_NAME);
        let shown = path.display().to_string();
        std::fs::create_dir_all(data_dir).map_err(|e| {
            failure(
                &shown,
                "create the data folder",
                format!("{e}; choose another folder with --data-dir or PIPEWRIGHT_DATA_DIR"),
            )
        })?;
        let mut conn = Connection::open(&path).map_err(|e| failure(&shown, "open", e))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| failure(&shown, "set the busy timeout", e))?;
        let _mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| failure(&shown, "switch to WAL mode", e))?;
        migrate(&mut conn, &shown)?;
        Ok(SqliteRunStore {
            shown: shown.into(),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The SQLite file.
    pub fn path(&self) -> &str {
        &self.shown
    }

    async fn blocking<T, F>(&self, operation: &'static str, work: F) -> Result<T, RunStoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let shown = Arc::clone(&self.shown);
        let joined = tokio::task::spawn_blocking(move || {
            let guard = conn.lock().map_err(|_| {
                failure(
                    &shown,
                    operation,
                    "a previous task panicked while holding the database",
                )
            })?;
            work(&guard).map_err(|e| failure(&shown, operation, e))
        })
        .await;
        joined.map_err(|e| failure(&self.shown, operation, e))?
    }
}

fn failure(shown: &str, operation: &str, message: impl ToString) -> RunStoreError {
    RunStoreError::Backend {
        store: shown.to_string(),
        operation: operation.to_string(),
        message: message.to_string(),
    }
}

fn migrate(conn: &mut Connection, shown: &str) -> Result<(), RunStoreError> {
    let applied: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| failure(shown, "read the schema version", e))?;
    let known = MIGRATIONS.len() as i64;
    if applied > known {
        return Err(failure(
            shown,
            "open",
            format!("its schema version is {applied} but this pipewright knows only up to {known}; use a newer pipewright or another --data-dir"),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        let version = i as i64 + 1;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| failure(shown, "start a schema migration", e))?;
        tx.execute_batch(sql)
            .and_then(|_| tx.pragma_update(None, "user_version", version))
            .and_then(|_| tx.commit())
            .map_err(|e| failure(shown, "migrate the schema", e))?;
    }
    Ok(())
}

fn decode(body: String) -> rusqlite::Result<Run> {
    serde_json::from_str(&body).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

#[async_trait]
impl RunStore for SqliteRunStore {
    async fn save(&self, run: &Run) -> Result<(), RunStoreError> {
        let body =
            serde_json::to_string(run).map_err(|e| failure(&self.shown, "encode a run", e))?;
        let run = run.clone();
        self.blocking("save a run", move |conn| {
            conn.execute(
                "INSERT INTO runs (id, status, project, project_id, created_at_ms, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(id) DO UPDATE SET status = excluded.status,
                   project = excluded.project, project_id = excluded.project_id,
                   body = excluded.body",
                params![
                    run.id,
                    run.status.as_str(),
                    run.project,
                    run.project_id.map(|i| i as i64),
                    run.created_at_ms as i64,
                    body
                ],
            )
            .map(|_| ())
        })
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<Run>, RunStoreError> {
        let id = id.to_string();
        self.blocking("read a run", move |conn| {
            conn.query_row("SELECT body FROM runs WHERE id = ?1", [id], |r| r.get(0))
                .optional()?
                .map(decode)
                .transpose()
        })
        .await
    }

    async fn list(&self, filter: &RunFilter) -> Result<Vec<Run>, RunStoreError> {
        let filter = filter.clone();
        self.blocking("list runs", move |conn| {
            let limit = filter.limit.clamp(1, MAX_LIST) as i64;
            let project_id: Option<i64> = filter
                .project
                .as_deref()
                .and_then(|p| p.parse::<i64>().ok());
            let mut stmt = conn.prepare_cached(
                "SELECT body FROM runs
                 WHERE (?1 IS NULL OR id < ?1)
                   AND (?2 IS NULL OR status = ?2)
                   AND (?3 IS NULL OR project = ?3 OR project_id = ?4)
                 ORDER BY id DESC LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![
                    filter.before,
                    filter.status.map(RunStatus::as_str),
                    filter.project,
                    project_id,
                    limit
                ],
                |r| r.get::<_, String>(0),
            )?;
            rows.map(|body| body.and_then(decode)).collect()
        })
        .await
    }

    async fn check(&self) -> Result<String, RunStoreError> {
        // The file's location stays in the log: answers (`/health`) name only the backend.
        self.blocking("read the schema version", move |conn| {
            let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            Ok(format!("SQLite, schema {version}"))
        })
        .await
    }
}

fn decode_task(body: String) -> rusqlite::Result<MonitorTask> {
    serde_json::from_str(&body).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Deliveries older than this are forgotten (GitLab retries a delivery for far less long).
const DELIVERY_MEMORY_MS: u64 = 7 * 24 * 3600 * 1000;

#[async_trait]
impl FixMemory for SqliteRunStore {
    async fn remember(&self, fix: &LearnedFix) -> Result<bool, RunStoreError> {
        let body = serde_json::to_string(fix)
            .map_err(|e| failure(&self.shown, "encode a learned fix", e))?;
        let (id, key, at) = (fix.id(), fix.key(), fix.learned_at_ms as i64);
        self.blocking("remember a fix", move |conn| {
            conn.execute(
                "INSERT INTO learned_fixes (id, key, learned_at_ms, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(id) DO NOTHING",
                params![id, key, at, body],
            )
            .map(|changed| changed > 0)
        })
        .await
    }

    async fn recall(
        &self,
        class: FailureClass,
        template: &str,
        limit: usize,
    ) -> Result<Vec<LearnedFix>, RunStoreError> {
        let key = memory_key(class, template);
        self.blocking("recall learned fixes", move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT body FROM learned_fixes WHERE key = ?1 ORDER BY learned_at_ms DESC, id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![key, limit as i64], |r| r.get::<_, String>(0))?;
            rows.map(|body| {
                let body = body?;
                serde_json::from_str::<LearnedFix>(&body).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })
            })
            .collect()
        })
        .await
    }
}

#[async_trait]
impl MonitorStore for SqliteRunStore {
    async fn save_task(&self, task: &MonitorTask) -> Result<bool, RunStoreError> {
        let body = serde_json::to_string(task)
            .map_err(|e| failure(&self.shown, "encode a monitor task", e))?;
        let task = task.clone();
        self.blocking("save a monitor task", move |conn| {
            // The WHERE on the update keeps a stale writer from moving a task backwards.
            conn.execute(
                "INSERT INTO monitor_tasks (run_id, project_id, commit_id, status, unfinished, version, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(run_id) DO UPDATE SET status = excluded.status,
                   commit_id = excluded.commit_id, unfinished = excluded.unfinished, version = excluded.version, body = excluded.body
                 WHERE excluded.version > monitor_tasks.version",
                params![
                    task.run_id,
                    task.project_id as i64,
                    task.commit_id,
                    task.status.as_str(),
                    task.is_unfinished(),
                    task.version as i64,
                    body
                ],
            )
            .map(|changed| changed > 0)
        })
        .await
    }

    async fn task(&self, run_id: &str) -> Result<Option<MonitorTask>, RunStoreError> {
        let id = run_id.to_string();
        self.blocking("read a monitor task", move |conn| {
            conn.query_row(
                "SELECT body FROM monitor_tasks WHERE run_id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .map(decode_task)
            .transpose()
        })
        .await
    }

    async fn unfinished_tasks(&self) -> Result<Vec<MonitorTask>, RunStoreError> {
        self.blocking("list unfinished monitor tasks", move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT body FROM monitor_tasks WHERE unfinished = 1 ORDER BY run_id",
            )?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.map(|body| body.and_then(decode_task)).collect()
        })
        .await
    }

    async fn task_for_commit(
        &self,
        project_id: u64,
        commit_id: &str,
    ) -> Result<Option<MonitorTask>, RunStoreError> {
        let commit = commit_id.to_string();
        self.blocking("find a monitor task by commit", move |conn| {
            conn.query_row(
                "SELECT body FROM monitor_tasks WHERE project_id = ?1 AND commit_id = ?2
                 ORDER BY run_id DESC LIMIT 1",
                params![project_id as i64, commit],
                |r| r.get(0),
            )
            .optional()?
            .map(decode_task)
            .transpose()
        })
        .await
    }

    async fn record_delivery(&self, key: &str, now_ms: u64) -> Result<bool, RunStoreError> {
        let key = key.to_string();
        self.blocking("record a webhook delivery", move |conn| {
            let inserted = conn.execute(
                "INSERT OR IGNORE INTO webhook_deliveries (key, received_at_ms) VALUES (?1, ?2)",
                params![key, now_ms as i64],
            )?;
            if inserted > 0 && fastrand::u8(..) == 0 {
                conn.execute(
                    "DELETE FROM webhook_deliveries WHERE received_at_ms < ?1",
                    [now_ms.saturating_sub(DELIVERY_MEMORY_MS) as i64],
                )?;
            }
            Ok(inserted > 0)
        })
        .await
    }

    async fn forget_delivery(&self, key: &str) -> Result<(), RunStoreError> {
        let key = key.to_string();
        self.blocking("forget a webhook delivery", move |conn| {
            conn.execute("DELETE FROM webhook_deliveries WHERE key = ?1", [key])
                .map(|_| ())
        })
        .await
    }

    async fn claim_tasks(
        &self,
        owner: &str,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<MonitorTask>, RunStoreError> {
        let owner = owner.to_string();
        self.blocking("claim monitor tasks", move |conn| {
            let now = super::now_ms() as i64;
            // One statement: SQLite runs it alone, so two claims never share a task.
            let mut stmt = conn.prepare_cached(
                "UPDATE monitor_tasks SET lease_owner = ?1, lease_until_ms = ?2
                 WHERE run_id IN (
                   SELECT run_id FROM monitor_tasks WHERE unfinished = 1
                     AND (lease_owner IS NULL OR lease_until_ms < ?3)
                   ORDER BY run_id LIMIT ?4)
                 RETURNING body",
            )?;
            let rows = stmt.query_map(
                params![
                    owner,
                    now.saturating_add(lease_ms as i64),
                    now,
                    limit.min(i64::MAX as usize) as i64
                ],
                |r| r.get::<_, String>(0),
            )?;
            let mut tasks = rows
                .map(|body| body.and_then(decode_task))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tasks.sort_by(|a, b| a.run_id.cmp(&b.run_id));
            Ok(tasks)
        })
        .await
    }

    async fn claim_task(
        &self,
        run_id: &str,
        owner: &str,
        lease_ms: u64,
    ) -> Result<Option<MonitorTask>, RunStoreError> {
        let (id, owner) = (run_id.to_string(), owner.to_string());
        self.blocking("claim a monitor task", move |conn| {
            let now = super::now_ms() as i64;
            conn.query_row(
                "UPDATE monitor_tasks SET lease_owner = ?2, lease_until_ms = ?3
                 WHERE run_id = ?1 AND unfinished = 1
                   AND (lease_owner IS NULL OR lease_owner = ?2 OR lease_until_ms < ?4)
                 RETURNING body",
                params![id, owner, now.saturating_add(lease_ms as i64), now],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .map(decode_task)
            .transpose()
        })
        .await
    }

    async fn renew_lease(
        &self,
        run_id: &str,
        owner: &str,
        lease_ms: u64,
    ) -> Result<bool, RunStoreError> {
        let (id, owner) = (run_id.to_string(), owner.to_string());
        self.blocking("renew a lease", move |conn| {
            let until = (super::now_ms() as i64).saturating_add(lease_ms as i64);
            conn.execute(
                "UPDATE monitor_tasks SET lease_until_ms = ?3 WHERE run_id = ?1 AND lease_owner = ?2",
                params![id, owner, until],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn renew_leases(&self, owner: &str, lease_ms: u64) -> Result<Vec<String>, RunStoreError> {
        let owner = owner.to_string();
        self.blocking("renew leases", move |conn| {
            let until = (super::now_ms() as i64).saturating_add(lease_ms as i64);
            let mut stmt = conn.prepare_cached(
                "UPDATE monitor_tasks SET lease_until_ms = ?2
                 WHERE lease_owner = ?1 AND unfinished = 1 RETURNING run_id",
            )?;
            let rows = stmt.query_map(params![owner, until], |r| r.get::<_, String>(0))?;
            rows.collect()
        })
        .await
    }

    async fn release_task(&self, run_id: &str, owner: &str) -> Result<(), RunStoreError> {
        let (id, owner) = (run_id.to_string(), owner.to_string());
        self.blocking("release a lease", move |conn| {
            conn.execute(
                "UPDATE monitor_tasks SET lease_owner = NULL, lease_until_ms = NULL
                 WHERE run_id = ?1 AND lease_owner = ?2",
                params![id, owner],
            )
            .map(|_| ())
        })
        .await
    }

    async fn next_lease_end(&self, owner: &str) -> Result<Option<Duration>, RunStoreError> {
        let owner = owner.to_string();
        self.blocking("find the next lease end", move |conn| {
            let now = super::now_ms() as i64;
            let until: Option<i64> = conn.query_row(
                "SELECT MIN(lease_until_ms) FROM monitor_tasks
                 WHERE unfinished = 1 AND lease_owner IS NOT NULL AND lease_owner <> ?1",
                [&owner],
                |r| r.get(0),
            )?;
            Ok(until.map(|u| Duration::from_millis(u.saturating_sub(now).max(0) as u64)))
        })
        .await
    }

    async fn lease_counts(&self) -> Result<LeaseCounts, RunStoreError> {
        self.blocking("count leases", move |conn| {
            let now = super::now_ms() as i64;
            conn.query_row(
                "SELECT COALESCE(SUM(lease_owner IS NOT NULL AND lease_until_ms >= ?1), 0),
                        COALESCE(SUM(lease_owner IS NULL OR lease_until_ms < ?1), 0)
                 FROM monitor_tasks WHERE unfinished = 1",
                [now],
                |r| {
                    Ok(LeaseCounts {
                        held: r.get::<_, i64>(0)? as u64,
                        free: r.get::<_, i64>(1)? as u64,
                    })
                },
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipewright_core::runs::{run_id, RunKind, RunStep, StepStatus};

    fn run(n: u64, project: &str, status: RunStatus) -> Run {
        let mut r = Run::start(
            run_id(1_000 + n, n as u32),
            RunKind::Workflow,
            Some(project.into()),
            serde_json::json!({"n": n}),
            1_000 + n,
        );
        r.status = status;
        r.project_id = Some(n % 2 + 10);
        r.steps.push(RunStep {
            name: "analyze".into(),
            status: StepStatus::Ok,
            started_after_ms: 1,
            duration_ms: 2,
            detail: "python".into(),
        });
        r
    }

    #[tokio::test]
    async fn saves_updates_lists_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteRunStore::open(dir.path()).unwrap();
        for n in 0..5 {
            let status = if n % 2 == 0 {
                RunStatus::Succeeded
            } else {
                RunStatus::Failed
            };
            store
                .save(&run(n, if n < 3 { "a/x" } else { "b/y" }, status))
                .await
                .unwrap();
        }
        let mut first = run(0, "a/x", RunStatus::Running);
        first.status = RunStatus::Failed;
        store.save(&first).await.unwrap();
        drop(store);

        let store = SqliteRunStore::open(dir.path()).unwrap();
        let got = store.get(&first.id).await.unwrap().unwrap();
        assert_eq!(got, first);
        assert!(store
            .get("run_000000000000_00000000")
            .await
            .unwrap()
            .is_none());

        let all = store
            .list(&RunFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let ids: Vec<u64> = all.iter().map(|r| r.created_at_ms - 1_000).collect();
        assert_eq!(ids, vec![4, 3, 2, 1, 0]);

        let page = store
            .list(&RunFilter {
                limit: 2,
                before: Some(all[1].id.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            page.iter()
                .map(|r| r.created_at_ms - 1_000)
                .collect::<Vec<_>>(),
            vec![2, 1]
        );

        let failed = store
            .list(&RunFilter {
                limit: 10,
                status: Some(RunStatus::Failed),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(failed.len(), 3);

        let by_path = store
            .list(&RunFilter {
                limit: 10,
                project: Some("b/y".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(by_path.len(), 2);
        let by_id = store
            .list(&RunFilter {
                limit: 10,
                project: Some("11".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(by_id.len(), 2, "runs 1 and 3 have project id 11");
    }

    #[tokio::test]
    async fn monitor_tasks_save_forward_only_and_survive_a_reopen() {
        use pipewright_core::monitor::{Event, MonitorStatus};
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteRunStore::open(dir.path()).unwrap();
        let mut task = MonitorTask::new(
            "run_1".into(),
            7,
            "g/p".into(),
            "b".into(),
            "abc".into(),
            None,
            Default::default(),
            1,
            1000,
        );
        assert!(store.save_task(&task).await.unwrap());
        let stale = task.clone();
        task.apply(Event::PipelineFound, 2).unwrap();
        assert!(store.save_task(&task).await.unwrap());
        assert!(
            !store.save_task(&stale).await.unwrap(),
            "an older version is ignored"
        );
        assert_eq!(store.unfinished_tasks().await.unwrap().len(), 1);
        task.apply(Event::GateFailed, 3).unwrap();
        store.save_task(&task).await.unwrap();
        drop(store);
        let store = SqliteRunStore::open(dir.path()).unwrap();
        let got = store.task("run_1").await.unwrap().unwrap();
        assert_eq!(got.status, MonitorStatus::Failed);
        assert!(store.unfinished_tasks().await.unwrap().is_empty());
        assert_eq!(
            store
                .task_for_commit(7, "abc")
                .await
                .unwrap()
                .unwrap()
                .run_id,
            "run_1"
        );
        assert!(store.task_for_commit(8, "abc").await.unwrap().is_none());
        assert!(store.record_delivery("k1", 5).await.unwrap());
        assert!(!store.record_delivery("k1", 6).await.unwrap());
    }

    #[test]
    fn a_newer_schema_is_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        {
            let c = Connection::open(dir.path().join(FILE_NAME)).unwrap();
            c.pragma_update(None, "user_version", 99).unwrap();
        }
        let err = SqliteRunStore::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("schema version is 99"), "{err}");
    }
}
