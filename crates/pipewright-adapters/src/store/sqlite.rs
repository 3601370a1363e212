//! The embedded knowledge store: one SQLite file (`knowledge.sqlite3` in the data folder) and
//! in-process vector search, so pipewright remembers pipelines with no server to set up.
//!
//! Records and their embeddings live in SQLite; at open the schema is migrated and every
//! embedding is loaded into one [`VectorIndex`] per collection, which each committed write
//! updates. Another process writing the same file (the CLI beside `pipewright serve`) is
//! noticed through `PRAGMA data_version` before each search, and the indexes are reloaded.
//! Writes run in one transaction each, so a failed batch writes nothing. Each collection
//! records the embedder and dimension it was built with; a different one is refused.

use async_trait::async_trait;
use pipewright_core::knowledge::{
    build_tool_name, databases_text, embed_query, embed_records, framework_name, meta_of,
    parse_databases, parse_or_none, test_framework_name, Collection, DimensionError, Embedder,
    Filter, KnowledgeStore, Learned, Meta, MetaKey, Origin, Query, Record, RecordSource, Scored,
    StackKey, StoreError, VectorIndex,
};
use pipewright_core::stack::{BuildTool, Framework, Language, TestFramework};
use rusqlite::types::Value;
use rusqlite::TransactionBehavior;
use rusqlite::{params, params_from_iter, Connection, ErrorCode, OptionalExtension, Row};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// The file name inside the data folder.
pub const FILE_NAME: &str = "knowledge.sqlite3";

const BACKEND: &str = "embedded store";

/// Schema versions, applied in order; `PRAGMA user_version` holds how many were applied.
const MIGRATIONS: &[&str] = &[
    // 1: records of the three collections, and the embedder each collection was built with.
    "CREATE TABLE records (
        collection     TEXT NOT NULL,
        id             TEXT NOT NULL,
        gitlab_ci      TEXT,
        dockerfile     TEXT,
        language       TEXT NOT NULL,
        framework      TEXT NOT NULL,
        build_tool     TEXT NOT NULL,
        test_framework TEXT NOT NULL,
        runtime_major  INTEGER,
        databases      TEXT NOT NULL,
        stages_count   INTEGER NOT NULL,
        source         TEXT NOT NULL,
        success_count  INTEGER NOT NULL,
        content_hash   TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL,
        project        TEXT,
        pipeline       TEXT,
        description    TEXT,
        comment        TEXT,
        embedding      BLOB NOT NULL,
        PRIMARY KEY (collection, id)
    ) WITHOUT ROWID;
    CREATE INDEX records_by_stack ON records (collection, language, framework);
    CREATE TABLE collections (
        name      TEXT PRIMARY KEY,
        embedder  TEXT NOT NULL,
        dimension INTEGER NOT NULL
    );",
];

/// The record columns, in the order [`read_record`] expects them.
const COLUMNS: &str = "collection, id, gitlab_ci, dockerfile, language, framework, build_tool, \
    test_framework, runtime_major, databases, stages_count, source, success_count, content_hash, \
    created_at, updated_at, project, pipeline, description, comment";

/// How the file is opened.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// How long a write waits for another process's lock before failing with
    /// [`StoreError::Locked`].
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The embedded backend. Cheap to clone; clones share the connection and the indexes.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    shown: String,
    conn: Mutex<Connection>,
    indexes: RwLock<HashMap<Collection, VectorIndex>>,
    /// `PRAGMA data_version` when the indexes were last in step with the file.
    synced_version: AtomicI64,
    embedder: Arc<dyn Embedder>,
}

impl SqliteStore {
    /// Opens (creating if needed) `knowledge.sqlite3` in `data_dir`, migrates the schema and
    /// loads the embeddings.
    pub fn open(data_dir: &Path, embedder: Arc<dyn Embedder>) -> Result<Self, StoreError> {
        Self::open_with(data_dir, embedder, &SqliteOptions::default())
    }

    /// [`SqliteStore::open`] with options.
    pub fn open_with(
        data_dir: &Path,
        embedder: Arc<dyn Embedder>,
        options: &SqliteOptions,
    ) -> Result<Self, StoreError> {
        let path = data_dir.join(FILE_NAME);
        let shown = path.display().to_string();
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Backend {
            backend: BACKEND.into(),
            operation: format!("create the data folder {}", data_dir.display()),
            message: format!("{e}; choose another folder with --data-dir or PIPEWRIGHT_DATA_DIR"),
        })?;
        let mut conn = Connection::open(&path).map_err(|e| sql_error(&shown, "open", e))?;
        conn.busy_timeout(options.busy_timeout)
            .map_err(|e| sql_error(&shown, "set the busy timeout", e))?;
        let _mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| sql_error(&shown, "switch to WAL mode", e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| sql_error(&shown, "set synchronous mode", e))?;
        migrate(&mut conn, &shown)?;
        let version = data_version(&conn, &shown)?;
        let indexes = load_indexes(&conn, &shown)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                shown,
                conn: Mutex::new(conn),
                indexes: RwLock::new(indexes),
                synced_version: AtomicI64::new(version),
                embedder,
            }),
        })
    }

    /// The SQLite file.
    pub fn path(&self) -> &str {
        &self.inner.shown
    }

    /// Runs `work` on a blocking thread with the shared state.
    async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| StoreError::Backend {
                backend: BACKEND.into(),
                operation: "run a database task".into(),
                message: e.to_string(),
            })?
    }
}

impl Inner {
    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| poisoned(&self.shown))
    }

    /// Reloads the indexes when another connection committed since they were last in step.
    fn catch_up(&self, conn: &Connection) -> Result<(), StoreError> {
        let version = data_version(conn, &self.shown)?;
        if version != self.synced_version.load(Ordering::SeqCst) {
            let fresh = load_indexes(conn, &self.shown)?;
            *self.indexes.write().map_err(|_| poisoned(&self.shown))? = fresh;
            self.synced_version.store(version, Ordering::SeqCst);
        }
        Ok(())
    }

    fn update_indexes(
        &self,
        change: impl FnOnce(&mut HashMap<Collection, VectorIndex>) -> Result<(), DimensionError>,
    ) -> Result<(), StoreError> {
        let mut indexes = self.indexes.write().map_err(|_| poisoned(&self.shown))?;
        change(&mut indexes).map_err(|e| StoreError::Backend {
            backend: BACKEND.into(),
            operation: "update the in-memory index".into(),
            message: format!("{e}; restart pipewright to reload it from {}", self.shown),
        })
    }
}

fn poisoned(shown: &str) -> StoreError {
    StoreError::Backend {
        backend: BACKEND.into(),
        operation: format!("use {shown}"),
        message: "an earlier operation panicked while holding the store; restart pipewright".into(),
    }
}

#[async_trait]
impl KnowledgeStore for SqliteStore {
    fn describe(&self) -> String {
        format!("embedded ({})", self.inner.shown)
    }

    async fn upsert(&self, records: &[Record]) -> Result<(), StoreError> {
        for r in records {
            r.check()?;
        }
        if records.is_empty() {
            return Ok(());
        }
        let vectors = embed_records(self.inner.embedder.as_ref(), records).await?;
        let records = records.to_vec();
        let embedder = self.inner.embedder.name().to_string();
        self.blocking(move |inner| {
            let mut conn = inner.conn()?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql_error(&inner.shown, "start a write", e))?;
            for (r, v) in records.iter().zip(&vectors) {
                check_collection(&tx, &inner.shown, r.collection, &embedder, v.len(), true)?;
                write_record(&tx, &inner.shown, r, v)?;
            }
            tx.commit()
                .map_err(|e| sql_error(&inner.shown, "commit the write", e))?;
            inner.update_indexes(|ix| {
                for (r, v) in records.iter().zip(&vectors) {
                    ix.entry(r.collection)
                        .or_default()
                        .upsert(&r.id, meta_of(r), v)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn learn(&self, record: Record) -> Result<Learned, StoreError> {
        record.check()?;
        let vector = embed_records(self.inner.embedder.as_ref(), std::slice::from_ref(&record))
            .await?
            .remove(0);
        let embedder = self.inner.embedder.name().to_string();
        self.blocking(move |inner| {
            let mut conn = inner.conn()?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql_error(&inner.shown, "start a write", e))?;
            check_collection(
                &tx,
                &inner.shown,
                record.collection,
                &embedder,
                vector.len(),
                true,
            )?;
            let existing = fetch(&tx, &inner.shown, record.collection, &record.id)?;
            let created = existing.is_none();
            let stored = match existing {
                Some(old) => Record::repeated(&old, &record),
                None => record,
            };
            write_record(&tx, &inner.shown, &stored, &vector)?;
            tx.commit()
                .map_err(|e| sql_error(&inner.shown, "commit the write", e))?;
            inner.update_indexes(|ix| {
                ix.entry(stored.collection).or_default().upsert(
                    &stored.id,
                    meta_of(&stored),
                    &vector,
                )
            })?;
            Ok(Learned {
                record: stored,
                created,
            })
        })
        .await
    }

    async fn get(&self, collection: Collection, id: &str) -> Result<Option<Record>, StoreError> {
        let id = id.to_string();
        self.blocking(move |inner| {
            let conn = inner.conn()?;
            fetch(&conn, &inner.shown, collection, &id)
        })
        .await
    }

    async fn delete(&self, collection: Collection, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.blocking(move |inner| {
            let mut conn = inner.conn()?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql_error(&inner.shown, "start a write", e))?;
            let n = tx
                .execute(
                    "DELETE FROM records WHERE collection = ?1 AND id = ?2",
                    params![collection.as_str(), id],
                )
                .map_err(|e| sql_error(&inner.shown, "delete a record", e))?;
            // An emptied collection forgets its embedder, so another one may start it afresh.
            tx.execute(
                "DELETE FROM collections WHERE name = ?1
                 AND NOT EXISTS (SELECT 1 FROM records WHERE collection = ?1)",
                params![collection.as_str()],
            )
            .map_err(|e| sql_error(&inner.shown, "update the collection", e))?;
            tx.commit()
                .map_err(|e| sql_error(&inner.shown, "commit the delete", e))?;
            inner.update_indexes(|ix| {
                if let Some(index) = ix.get_mut(&collection) {
                    index.remove(&id);
                }
                Ok(())
            })?;
            Ok(n > 0)
        })
        .await
    }

    async fn list(
        &self,
        collection: Collection,
        filter: &Filter,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Record>, StoreError> {
        let filter = filter.clone();
        self.blocking(move |inner| {
            let conn = inner.conn()?;
            let (clause, mut values) = where_clause(collection, &filter);
            values.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
            values.push(Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
            let sql = format!(
                "SELECT {COLUMNS} FROM records WHERE {clause} ORDER BY id LIMIT ? OFFSET ?"
            );
            let mut stmt = conn
                .prepare(&sql)
                .map_err(|e| sql_error(&inner.shown, "list records", e))?;
            let rows = stmt
                .query_map(params_from_iter(values), |row| Ok(read_record(row)))
                .map_err(|e| sql_error(&inner.shown, "list records", e))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row.map_err(|e| sql_error(&inner.shown, "list records", e))??);
            }
            Ok(out)
        })
        .await
    }

    async fn count(&self, collection: Collection, filter: &Filter) -> Result<usize, StoreError> {
        let filter = filter.clone();
        self.blocking(move |inner| {
            let conn = inner.conn()?;
            let (clause, values) = where_clause(collection, &filter);
            let n: i64 = conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM records WHERE {clause}"),
                    params_from_iter(values),
                    |r| r.get(0),
                )
                .map_err(|e| sql_error(&inner.shown, "count records", e))?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn query(&self, query: &Query) -> Result<Vec<Scored>, StoreError> {
        let vector = embed_query(self.inner.embedder.as_ref(), &query.stack).await?;
        let embedder = self.inner.embedder.name().to_string();
        let query = query.clone();
        self.blocking(move |inner| {
            let conn = inner.conn()?;
            inner.catch_up(&conn)?;
            if !check_collection(
                &conn,
                &inner.shown,
                query.collection,
                &embedder,
                vector.len(),
                false,
            )? {
                return Ok(Vec::new());
            }
            let hits = {
                let indexes = inner.indexes.read().map_err(|_| poisoned(&inner.shown))?;
                match indexes.get(&query.collection) {
                    Some(index) => index
                        .search(&vector, &query.filter, query.limit)
                        .map_err(|e| mismatch(query.collection, &embedder, e))?,
                    None => Vec::new(),
                }
            };
            let mut out = Vec::with_capacity(hits.len());
            for hit in hits {
                if let Some(record) = fetch(&conn, &inner.shown, query.collection, &hit.id)? {
                    out.push(Scored {
                        record,
                        distance: hit.distance,
                    });
                }
            }
            Ok(out)
        })
        .await
    }
}

fn mismatch(collection: Collection, embedder: &str, e: DimensionError) -> StoreError {
    StoreError::DimensionMismatch {
        collection: collection.as_str().into(),
        expected: e.expected,
        got: e.got,
        embedder: embedder.into(),
    }
}

/// Compares the embedder and dimension recorded for `collection` with the current ones; with
/// `record_if_new`, records them for a collection that has none. Returns whether the
/// collection has a record of its embedder (false: it is empty).
fn check_collection(
    conn: &Connection,
    shown: &str,
    collection: Collection,
    embedder: &str,
    dimension: usize,
    record_if_new: bool,
) -> Result<bool, StoreError> {
    let recorded: Option<(String, i64)> = conn
        .prepare_cached("SELECT embedder, dimension FROM collections WHERE name = ?1")
        .and_then(|mut s| {
            s.query_row(params![collection.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(|e| sql_error(shown, "read the collection's embedder", e))?;
    match recorded {
        Some((name, dim)) => {
            if usize::try_from(dim).ok() != Some(dimension) {
                return Err(StoreError::DimensionMismatch {
                    collection: collection.as_str().into(),
                    expected: usize::try_from(dim).unwrap_or(0),
                    got: dimension,
                    embedder: embedder.into(),
                });
            }
            if name != embedder {
                return Err(StoreError::EmbedderMismatch {
                    collection: collection.as_str().into(),
                    recorded: name,
                    current: embedder.into(),
                });
            }
            Ok(true)
        }
        None if record_if_new => {
            conn.execute(
                "INSERT INTO collections (name, embedder, dimension) VALUES (?1, ?2, ?3)",
                params![
                    collection.as_str(),
                    embedder,
                    i64::try_from(dimension).unwrap_or(i64::MAX)
                ],
            )
            .map_err(|e| sql_error(shown, "record the collection's embedder", e))?;
            Ok(true)
        }
        None => Ok(false),
    }
}

fn where_clause(collection: Collection, filter: &Filter) -> (String, Vec<Value>) {
    let mut clause = String::from("collection = ?");
    let mut values = vec![Value::Text(collection.as_str().into())];
    for (key, value) in filter.conditions() {
        // Column names come from MetaKey::name, a closed set, never from input.
        clause.push_str(&format!(" AND {} = ?", key.name()));
        values.push(Value::Text((*value).into()));
    }
    (clause, values)
}

fn write_record(
    conn: &Connection,
    shown: &str,
    r: &Record,
    vector: &[f32],
) -> Result<(), StoreError> {
    let blob: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO records ({COLUMNS}, embedding)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            r.collection.as_str(),
            r.id,
            r.gitlab_ci,
            r.dockerfile,
            MetaKey::Language.value_of(r),
            MetaKey::Framework.value_of(r),
            MetaKey::BuildTool.value_of(r),
            test_framework_name(r.stack.test_framework),
            r.stack.runtime_major,
            databases_text(&r.stack.databases),
            r.stages_count,
            r.source.as_str(),
            r.success_count,
            r.content_hash,
            r.created_at,
            r.updated_at,
            r.origin.project,
            r.origin.pipeline,
            r.description,
            r.comment,
            blob,
        ])
    })
    .map_err(|e| sql_error(shown, &format!("write record `{}`", r.id), e))?;
    Ok(())
}

fn fetch(
    conn: &Connection,
    shown: &str,
    collection: Collection,
    id: &str,
) -> Result<Option<Record>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM records WHERE collection = ?1 AND id = ?2"
        ))
        .and_then(|mut s| {
            s.query_row(params![collection.as_str(), id], |row| Ok(read_record(row)))
                .optional()
        })
        .map_err(|e| sql_error(shown, &format!("read record `{id}`"), e))?;
    row.transpose()
}

/// Reads a row selected with [`COLUMNS`]; a value that does not parse is
/// [`StoreError::Malformed`], not a panic.
fn read_record(row: &Row<'_>) -> Result<Record, StoreError> {
    let collection_text: String = row.get(0).unwrap_or_default();
    let id: String = row.get(1).unwrap_or_default();
    let bad = |reason: String| StoreError::Malformed {
        collection: collection_text.clone(),
        id: id.clone(),
        reason,
    };
    let text = |i: usize| -> Result<String, StoreError> {
        row.get::<_, String>(i).map_err(|e| bad(e.to_string()))
    };
    let opt_text = |i: usize| -> Result<Option<String>, StoreError> {
        row.get::<_, Option<String>>(i)
            .map_err(|e| bad(e.to_string()))
    };
    let int = |i: usize| -> Result<i64, StoreError> {
        row.get::<_, i64>(i).map_err(|e| bad(e.to_string()))
    };
    let collection = Collection::from_str(&collection_text).map_err(bad)?;
    let language = Language::from_str(&text(4)?).map_err(bad)?;
    let framework = parse_or_none::<Framework>(&text(5)?).map_err(bad)?;
    let build_tool = parse_or_none::<BuildTool>(&text(6)?).map_err(bad)?;
    let test_framework = parse_or_none::<TestFramework>(&text(7)?).map_err(bad)?;
    let runtime_major = row
        .get::<_, Option<u32>>(8)
        .map_err(|e| bad(e.to_string()))?;
    let databases = parse_databases(&text(9)?).map_err(bad)?;
    let count = |i: usize| -> Result<u32, StoreError> {
        u32::try_from(int(i)?).map_err(|e| bad(e.to_string()))
    };
    Ok(Record {
        collection,
        gitlab_ci: opt_text(2)?,
        dockerfile: opt_text(3)?,
        stack: StackKey {
            language,
            framework,
            build_tool,
            test_framework,
            runtime_major,
            databases,
        },
        stages_count: count(10)?,
        source: RecordSource::from_str(&text(11)?).map_err(bad)?,
        success_count: count(12)?,
        content_hash: text(13)?,
        created_at: int(14)?,
        updated_at: int(15)?,
        origin: Origin {
            project: opt_text(16)?,
            pipeline: opt_text(17)?,
        },
        description: opt_text(18)?,
        comment: opt_text(19)?,
        id: id.clone(),
    })
}

fn migrate(conn: &mut Connection, shown: &str) -> Result<(), StoreError> {
    let applied: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| sql_error(shown, "read the schema version", e))?;
    let known = MIGRATIONS.len() as i64;
    if applied > known {
        return Err(StoreError::Backend {
            backend: BACKEND.into(),
            operation: format!("open {shown}"),
            message: format!(
                "its schema version is {applied} but this pipewright knows only up to {known}; use a newer pipewright or another --data-dir"
            ),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        let version = i as i64 + 1;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_error(shown, "start a schema migration", e))?;
        tx.execute_batch(sql)
            .and_then(|_| tx.pragma_update(None, "user_version", version))
            .map_err(|e| {
                sql_error(
                    shown,
                    &format!("migrate the schema to version {version}"),
                    e,
                )
            })?;
        tx.commit()
            .map_err(|e| sql_error(shown, "commit a schema migration", e))?;
    }
    Ok(())
}

/// Changes when another connection commits to the file (not on this connection's commits).
fn data_version(conn: &Connection, shown: &str) -> Result<i64, StoreError> {
    conn.pragma_query_value(None, "data_version", |r| r.get(0))
        .map_err(|e| sql_error(shown, "read the data version", e))
}

fn load_indexes(
    conn: &Connection,
    shown: &str,
) -> Result<HashMap<Collection, VectorIndex>, StoreError> {
    let mut indexes: HashMap<Collection, VectorIndex> = HashMap::new();
    let mut stmt = conn
        .prepare(
            "SELECT collection, id, language, framework, build_tool, source, embedding FROM records",
        )
        .map_err(|e| sql_error(shown, "load the embeddings", e))?;
    let mut rows = stmt
        .query([])
        .map_err(|e| sql_error(shown, "load the embeddings", e))?;
    while let Some(row) = rows
        .next()
        .map_err(|e| sql_error(shown, "load the embeddings", e))?
    {
        let texts: Result<Vec<String>, _> = (0..6).map(|i| row.get::<_, String>(i)).collect();
        let texts = texts.map_err(|e| sql_error(shown, "load the embeddings", e))?;
        let bad = |reason: String| StoreError::Malformed {
            collection: texts[0].clone(),
            id: texts[1].clone(),
            reason,
        };
        let collection = Collection::from_str(&texts[0]).map_err(bad)?;
        let meta = parse_meta(&texts[2], &texts[3], &texts[4], &texts[5]).map_err(bad)?;
        let blob: Vec<u8> = row
            .get(6)
            .map_err(|e| sql_error(shown, "load the embeddings", e))?;
        if !blob.len().is_multiple_of(4) {
            return Err(bad(format!(
                "its embedding is {} bytes, not whole floats",
                blob.len()
            )));
        }
        let vector: Vec<f32> = blob
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        indexes
            .entry(collection)
            .or_default()
            .upsert(&texts[1], meta, &vector)
            .map_err(|e| bad(e.to_string()))?;
    }
    Ok(indexes)
}

/// The interned metadata of a stored row, in [`MetaKey::ALL`] order.
fn parse_meta(
    language: &str,
    framework: &str,
    build_tool: &str,
    source: &str,
) -> Result<Meta, String> {
    Ok([
        Language::from_str(language)?.as_str(),
        framework_name(parse_or_none::<Framework>(framework)?),
        build_tool_name(parse_or_none::<BuildTool>(build_tool)?),
        RecordSource::from_str(source)?.as_str(),
    ])
}

/// What a SQLite failure means for the user.
#[derive(Clone, Copy)]
enum Failure {
    Locked,
    Corrupt,
    Other,
}

const FAILURES: &[(ErrorCode, Failure)] = &[
    (ErrorCode::DatabaseBusy, Failure::Locked),
    (ErrorCode::DatabaseLocked, Failure::Locked),
    (ErrorCode::NotADatabase, Failure::Corrupt),
    (ErrorCode::DatabaseCorrupt, Failure::Corrupt),
];

fn sql_error(shown: &str, operation: &str, e: rusqlite::Error) -> StoreError {
    let failure = match &e {
        rusqlite::Error::SqliteFailure(f, _) => FAILURES
            .iter()
            .find(|(code, _)| *code == f.code)
            .map(|(_, kind)| *kind)
            .unwrap_or(Failure::Other),
        _ => Failure::Other,
    };
    match failure {
        Failure::Locked => StoreError::Locked {
            path: shown.into(),
            reason: e.to_string(),
        },
        Failure::Corrupt => StoreError::Corrupt {
            path: shown.into(),
            reason: e.to_string(),
        },
        Failure::Other => StoreError::Backend {
            backend: BACKEND.into(),
            operation: format!("{operation} in {shown}"),
            message: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipewright_core::knowledge::BuiltinEmbedder;

    fn embedder() -> Arc<dyn Embedder> {
        Arc::new(BuiltinEmbedder::default())
    }

    fn record(id: &str) -> Record {
        Record::new(
            Collection::Templates,
            id,
            StackKey::new(Language::Go),
            Some("stages: [compile]\n".into()),
            Some("FROM golang:1.22\n".into()),
            RecordSource::Imported,
            1,
        )
    }

    #[tokio::test]
    async fn records_and_index_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SqliteStore::open(dir.path(), embedder()).unwrap();
            s.upsert(&[record("a"), record("b")]).await.unwrap();
        }
        let s = SqliteStore::open(dir.path(), embedder()).unwrap();
        let hits = s
            .query(&Query {
                collection: Collection::Templates,
                stack: StackKey::new(Language::Go),
                filter: Filter::all().language(Language::Go),
                limit: 5,
            })
            .await
            .unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(
            s.get(Collection::Templates, "a").await.unwrap(),
            Some(record("a"))
        );
    }

    #[tokio::test]
    async fn writes_by_another_process_are_found_by_search() {
        let dir = tempfile::tempdir().unwrap();
        let server = SqliteStore::open(dir.path(), embedder()).unwrap();
        let cli = SqliteStore::open(dir.path(), embedder()).unwrap();
        server.upsert(&[record("mine")]).await.unwrap();
        cli.upsert(&[record("imported")]).await.unwrap();
        cli.delete(Collection::Templates, "mine").await.unwrap();
        let query = Query {
            collection: Collection::Templates,
            stack: StackKey::new(Language::Go),
            filter: Filter::all(),
            limit: 5,
        };
        let ids: Vec<String> = server
            .query(&query)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.record.id)
            .collect();
        assert_eq!(ids, vec!["imported"]);
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "not a database ".repeat(500)).unwrap();
        let err = SqliteStore::open(dir.path(), embedder()).err().unwrap();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("move it aside"), "{err}");
    }

    #[tokio::test]
    async fn a_locked_file_is_a_clear_error_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open_with(
            dir.path(),
            embedder(),
            &SqliteOptions {
                busy_timeout: Duration::from_millis(100),
            },
        )
        .unwrap();
        let other = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let err = s.upsert(&[record("a")]).await.unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        other.execute_batch("ROLLBACK").unwrap();
        assert_eq!(
            s.count(Collection::Templates, &Filter::all())
                .await
                .unwrap(),
            0
        );
        s.upsert(&[record("a")]).await.unwrap();
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path(), embedder()).unwrap());
        let c = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let err = SqliteStore::open(dir.path(), embedder()).err().unwrap();
        assert!(err.to_string().contains("schema version is 99"), "{err}");
    }
}
