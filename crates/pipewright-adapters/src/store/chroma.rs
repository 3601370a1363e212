//! The ChromaDB knowledge store: a small client of ChromaDB's v2 HTTP API, on the project's
//! one HTTP stack (reqwest), instead of a client crate that brings its own.
//!
//! The tenant, database and the seed's three collections are created on first use. Record
//! calls name the collection by its UUID (the v2 API refuses names there), writes use
//! `upsert` (`add` with an existing id silently does nothing), and filters become `where`
//! clauses. Each collection's metadata records the embedder and dimension it was built with;
//! a different one is refused before anything is sent, and the server's own dimension check
//! (HTTP 400) is reported the same way.
//!
//! Layout of one record: the id; the document is the pipeline text (empty when absent); the
//! metadata holds the stack, counts, hash, times, origin, and the Dockerfile text.
//!
//! ChromaDB has no transactions: a batch is checked in full before the first request, but a
//! connection lost between two requests of a large batch leaves the earlier ones stored, and
//! `learn` is a read then a write, so two instances learning the same pair at the same moment
//! may count one success instead of two.

use super::error_chain;
use async_trait::async_trait;
use pipewright_core::knowledge::{
    databases_text, embed_query, embed_records, parse_databases, parse_or_none,
    test_framework_name, Collection, Embedder, Filter, KnowledgeStore, Learned, MetaKey, Origin,
    Query, Record, RecordSource, Scored, StackKey, StoreError,
};
use pipewright_core::stack::{BuildTool, Framework, Language, TestFramework};
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

const BACKEND: &str = "chromadb";

/// ChromaDB's default tenant and database (they exist on every server).
pub const DEFAULT_TENANT: &str = "default_tenant";
pub const DEFAULT_DATABASE: &str = "default_database";
/// The port used when `CHROMADB_PORT` is not set.
pub const DEFAULT_PORT: u16 = 8000;

/// Records per `upsert` request (the server allows about 5,000; smaller keeps requests light).
const BATCH: usize = 500;

/// Metadata keys of a collection that record how it was built.
const META_EMBEDDER: &str = "pipewright_embedder";
const META_DIMENSION: &str = "pipewright_dimension";

/// Where the server is and which tenant and database to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChromaConfig {
    /// Base URL without a path, e.g. `http://127.0.0.1:8000`.
    pub url: String,
    pub tenant: String,
    pub database: String,
    /// Time limit for opening a connection.
    pub connect_timeout: Duration,
    /// Time limit for a whole request.
    pub timeout: Duration,
}

impl ChromaConfig {
    /// A configuration for `url` with the default tenant and database.
    pub fn new(url: impl Into<String>) -> Self {
        ChromaConfig {
            url: url.into().trim_end_matches('/').to_string(),
            tenant: DEFAULT_TENANT.into(),
            database: DEFAULT_DATABASE.into(),
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(60),
        }
    }

    /// Reads `CHROMADB_HOST` (a host name or a URL), `CHROMADB_PORT` (default 8000, unless the
    /// host carries a port), `CHROMADB_TENANT` and `CHROMADB_DATABASE` through `var`. `None`
    /// when `CHROMADB_HOST` is not set.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, StoreError> {
        let Some(host) = var("CHROMADB_HOST").filter(|h| !h.trim().is_empty()) else {
            return Ok(None);
        };
        let host = host.trim();
        let (scheme, rest) = match host.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r.trim_end_matches('/')),
            None => ("http".to_string(), host.trim_end_matches('/')),
        };
        if scheme != "http" && scheme != "https" {
            return Err(settings_error(format!(
                "CHROMADB_HOST `{host}` uses the scheme `{scheme}`; use a host name, http:// or https://"
            )));
        }
        let has_port = rest
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        let url = if has_port {
            format!("{scheme}://{rest}")
        } else {
            let port = match var("CHROMADB_PORT").filter(|p| !p.trim().is_empty()) {
                Some(p) => p.trim().parse::<u16>().map_err(|_| {
                    settings_error(format!(
                        "CHROMADB_PORT `{p}` is not a port number; give a number from 1 to 65535"
                    ))
                })?,
                None => DEFAULT_PORT,
            };
            format!("{scheme}://{rest}:{port}")
        };
        let mut cfg = ChromaConfig::new(url);
        for (name, slot) in [
            ("CHROMADB_TENANT", &mut cfg.tenant),
            ("CHROMADB_DATABASE", &mut cfg.database),
        ] {
            if let Some(v) = var(name).filter(|v| !v.trim().is_empty()) {
                check_name(name, v.trim())?;
                *slot = v.trim().to_string();
            }
        }
        Ok(Some(cfg))
    }
}

fn settings_error(message: String) -> StoreError {
    StoreError::Backend {
        backend: BACKEND.into(),
        operation: "read its settings".into(),
        message,
    }
}

/// ChromaDB accepts tenant, database and collection names of 3-512 characters from
/// `[a-zA-Z0-9._-]`.
pub fn check_name(what: &str, name: &str) -> Result<(), StoreError> {
    let ok = (3..=512).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(settings_error(format!(
            "{what} `{name}` is not a name ChromaDB accepts; use 3-512 letters, digits, `.`, `_` or `-`"
        )))
    }
}

/// What the client knows about one collection on the server.
#[derive(Debug, Clone)]
struct CollectionInfo {
    id: String,
    dimension: Option<usize>,
    embedder: Option<String>,
}

/// The ChromaDB backend.
pub struct ChromaStore {
    http: reqwest::Client,
    config: ChromaConfig,
    embedder: Arc<dyn Embedder>,
    database_ready: OnceCell<()>,
    collections: Mutex<HashMap<Collection, CollectionInfo>>,
}

impl ChromaStore {
    /// A client for the server in `config`; nothing is sent until the first call.
    pub fn new(config: ChromaConfig, embedder: Arc<dyn Embedder>) -> Result<Self, StoreError> {
        check_name("the tenant", &config.tenant)?;
        check_name("the database", &config.database)?;
        let http = crate::http::client_builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .build()
            .map_err(|e| StoreError::Backend {
                backend: BACKEND.into(),
                operation: "set up its HTTP client".into(),
                message: error_chain(&e),
            })?;
        Ok(ChromaStore {
            http,
            config,
            embedder,
            database_ready: OnceCell::new(),
            collections: Mutex::new(HashMap::new()),
        })
    }

    fn database_path(&self) -> String {
        format!(
            "/api/v2/tenants/{}/databases/{}",
            self.config.tenant, self.config.database
        )
    }

    /// Sends one request and returns the status and the JSON body (`Null` when empty).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        operation: &str,
    ) -> Result<(StatusCode, Value), StoreError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.config.url));
        if let Some(b) = body {
            request = request.json(b);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_connect() || e.is_timeout() {
                StoreError::Unreachable {
                    backend: "ChromaDB".into(),
                    location: self.config.url.clone(),
                    reason: error_chain(&e.without_url()),
                }
            } else {
                StoreError::Backend {
                    backend: BACKEND.into(),
                    operation: operation.into(),
                    message: error_chain(&e.without_url()),
                }
            }
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| StoreError::Backend {
            backend: BACKEND.into(),
            operation: operation.into(),
            message: format!(
                "reading the answer failed: {}",
                error_chain(&e.without_url())
            ),
        })?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| StoreError::Backend {
                backend: BACKEND.into(),
                operation: operation.into(),
                message: format!("the answer (HTTP {status}) is not JSON: {e}"),
            })?
        };
        Ok((status, value))
    }

    /// Like [`ChromaStore::call`], but any status other than 2xx is an error.
    async fn call_ok(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        operation: &str,
        collection: Option<Collection>,
    ) -> Result<Value, StoreError> {
        let (status, value) = self.call(method, path, body, operation).await?;
        if status.is_success() {
            Ok(value)
        } else {
            Err(self.server_error(status, &value, operation, collection))
        }
    }

    fn server_error(
        &self,
        status: StatusCode,
        body: &Value,
        operation: &str,
        collection: Option<Collection>,
    ) -> StoreError {
        let message = body
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| body.to_string());
        if let (Some(c), Some((expected, got))) = (collection, parse_dimension_error(&message)) {
            return StoreError::DimensionMismatch {
                collection: c.as_str().into(),
                expected,
                got,
                embedder: self.embedder.name().into(),
            };
        }
        StoreError::Backend {
            backend: BACKEND.into(),
            operation: operation.into(),
            message: format!("HTTP {status}: {message}"),
        }
    }

    /// Creates the tenant and the database when they do not exist (once per client).
    async fn ensure_database(&self) -> Result<(), StoreError> {
        self.database_ready
            .get_or_try_init(|| async {
                let tenant_path = format!("/api/v2/tenants/{}", self.config.tenant);
                let steps = [
                    (
                        tenant_path.clone(),
                        "/api/v2/tenants".to_string(),
                        self.config.tenant.clone(),
                        "create the tenant",
                    ),
                    (
                        self.database_path(),
                        format!("{tenant_path}/databases"),
                        self.config.database.clone(),
                        "create the database",
                    ),
                ];
                for (exists_path, create_path, name, operation) in steps {
                    let (status, _) = self
                        .call(Method::GET, &exists_path, None, operation)
                        .await?;
                    if status.is_success() {
                        continue;
                    }
                    let (status, body) = self
                        .call(
                            Method::POST,
                            &create_path,
                            Some(&json!({ "name": name })),
                            operation,
                        )
                        .await?;
                    // 409: created meanwhile by another client.
                    if !status.is_success() && status != StatusCode::CONFLICT {
                        return Err(self.server_error(status, &body, operation, None));
                    }
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// The collection's id and recorded embedder; `None` when it does not exist. With
    /// `create_for`, a missing collection is created for vectors of that dimension.
    async fn collection(
        &self,
        collection: Collection,
        create_for: Option<usize>,
    ) -> Result<Option<CollectionInfo>, StoreError> {
        if let Some(info) = self.cached(collection)? {
            return Ok(Some(info));
        }
        self.ensure_database().await?;
        let base = format!("{}/collections", self.database_path());
        let operation = format!("open the collection `{collection}`");
        let value = match create_for {
            None => {
                let (status, value) = self
                    .call(
                        Method::GET,
                        &format!("{base}/{collection}"),
                        None,
                        &operation,
                    )
                    .await?;
                if status == StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                if !status.is_success() {
                    return Err(self.server_error(status, &value, &operation, None));
                }
                value
            }
            Some(dimension) => {
                let body = json!({
                    "name": collection.as_str(),
                    "metadata": {
                        "hnsw:space": "cosine",
                        META_EMBEDDER: self.embedder.name(),
                        META_DIMENSION: dimension,
                    },
                    "get_or_create": true,
                });
                self.call_ok(Method::POST, &base, Some(&body), &operation, None)
                    .await?
            }
        };
        let id = value
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| StoreError::Backend {
                backend: BACKEND.into(),
                operation: operation.clone(),
                message: format!("the answer has no collection id: {value}"),
            })?
            .to_string();
        let meta = value.get("metadata");
        let recorded_dimension = meta
            .and_then(|m| m.get(META_DIMENSION))
            .and_then(Value::as_u64)
            .or_else(|| value.get("dimension").and_then(Value::as_u64))
            .and_then(|d| usize::try_from(d).ok());
        let info = CollectionInfo {
            id,
            dimension: recorded_dimension,
            embedder: meta
                .and_then(|m| m.get(META_EMBEDDER))
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        self.collections
            .lock()
            .map_err(|_| poisoned())?
            .insert(collection, info.clone());
        Ok(Some(info))
    }

    fn cached(&self, collection: Collection) -> Result<Option<CollectionInfo>, StoreError> {
        Ok(self
            .collections
            .lock()
            .map_err(|_| poisoned())?
            .get(&collection)
            .cloned())
    }

    /// Refuses vectors of another dimension or from another embedder than the collection's.
    fn check_embedding(
        &self,
        collection: Collection,
        info: &CollectionInfo,
        dimension: usize,
    ) -> Result<(), StoreError> {
        if let Some(expected) = info.dimension {
            if expected != dimension {
                return Err(StoreError::DimensionMismatch {
                    collection: collection.as_str().into(),
                    expected,
                    got: dimension,
                    embedder: self.embedder.name().into(),
                });
            }
        }
        if let Some(recorded) = &info.embedder {
            if recorded != self.embedder.name() {
                return Err(StoreError::EmbedderMismatch {
                    collection: collection.as_str().into(),
                    recorded: recorded.clone(),
                    current: self.embedder.name().into(),
                });
            }
        }
        Ok(())
    }

    fn records_path(&self, info: &CollectionInfo, action: &str) -> String {
        format!("{}/collections/{}/{action}", self.database_path(), info.id)
    }

    /// Writes records of one collection whose vectors are already made.
    async fn write(
        &self,
        collection: Collection,
        records: &[&Record],
        vectors: &[&Vec<f32>],
    ) -> Result<(), StoreError> {
        let dimension = vectors.first().map(|v| v.len()).unwrap_or(0);
        let info = self
            .collection(collection, Some(dimension))
            .await?
            .ok_or_else(|| StoreError::Backend {
                backend: BACKEND.into(),
                operation: format!("create the collection `{collection}`"),
                message: "the server did not create it".into(),
            })?;
        self.check_embedding(collection, &info, dimension)?;
        let operation = format!("store records in `{collection}`");
        for (chunk, vecs) in records.chunks(BATCH).zip(vectors.chunks(BATCH)) {
            let body = json!({
                "ids": chunk.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
                "embeddings": vecs,
                "documents": chunk.iter().map(|r| r.gitlab_ci.as_deref().unwrap_or("")).collect::<Vec<_>>(),
                "metadatas": chunk.iter().map(|r| to_metadata(r)).collect::<Vec<_>>(),
            });
            self.call_ok(
                Method::POST,
                &self.records_path(&info, "upsert"),
                Some(&body),
                &operation,
                Some(collection),
            )
            .await?;
        }
        Ok(())
    }

    /// `POST …/get` with ids or a filter; returns the parsed records.
    async fn fetch(
        &self,
        collection: Collection,
        info: &CollectionInfo,
        mut body: Map<String, Value>,
    ) -> Result<Vec<Record>, StoreError> {
        body.insert("include".into(), json!(["documents", "metadatas"]));
        let operation = format!("read records from `{collection}`");
        let value = self
            .call_ok(
                Method::POST,
                &self.records_path(info, "get"),
                Some(&Value::Object(body)),
                &operation,
                Some(collection),
            )
            .await?;
        let ids = string_list(&value, "ids");
        let documents = value.get("documents").and_then(Value::as_array);
        let metadatas = value.get("metadatas").and_then(Value::as_array);
        ids.iter()
            .enumerate()
            .map(|(i, id)| {
                from_chroma(
                    collection,
                    id,
                    documents.and_then(|d| d.get(i)),
                    metadatas.and_then(|m| m.get(i)),
                )
            })
            .collect()
    }

    async fn get_by_id(
        &self,
        collection: Collection,
        info: &CollectionInfo,
        id: &str,
    ) -> Result<Option<Record>, StoreError> {
        let mut body = Map::new();
        body.insert("ids".into(), json!([id]));
        Ok(self.fetch(collection, info, body).await?.into_iter().next())
    }
}

fn poisoned() -> StoreError {
    StoreError::Backend {
        backend: BACKEND.into(),
        operation: "use its collection cache".into(),
        message: "an earlier operation panicked; restart pipewright".into(),
    }
}

#[async_trait]
impl KnowledgeStore for ChromaStore {
    fn describe(&self) -> String {
        format!(
            "chromadb ({}, {}/{})",
            self.config.url, self.config.tenant, self.config.database
        )
    }

    async fn upsert(&self, records: &[Record]) -> Result<(), StoreError> {
        for r in records {
            r.check()?;
        }
        if records.is_empty() {
            return Ok(());
        }
        let vectors = embed_records(self.embedder.as_ref(), records).await?;
        for collection in Collection::ALL {
            let (rs, vs): (Vec<&Record>, Vec<&Vec<f32>>) = records
                .iter()
                .zip(&vectors)
                .filter(|(r, _)| r.collection == *collection)
                .unzip();
            if !rs.is_empty() {
                self.write(*collection, &rs, &vs).await?;
            }
        }
        Ok(())
    }

    async fn learn(&self, record: Record) -> Result<Learned, StoreError> {
        record.check()?;
        let vectors = embed_records(self.embedder.as_ref(), std::slice::from_ref(&record)).await?;
        let existing = match self.collection(record.collection, None).await? {
            Some(info) => self.get_by_id(record.collection, &info, &record.id).await?,
            None => None,
        };
        let created = existing.is_none();
        let stored = match existing {
            Some(old) => Record::repeated(&old, &record),
            None => record,
        };
        let refs: Vec<&Vec<f32>> = vectors.iter().collect();
        self.write(stored.collection, &[&stored], &refs).await?;
        Ok(Learned {
            record: stored,
            created,
        })
    }

    async fn get(&self, collection: Collection, id: &str) -> Result<Option<Record>, StoreError> {
        match self.collection(collection, None).await? {
            Some(info) => self.get_by_id(collection, &info, id).await,
            None => Ok(None),
        }
    }

    async fn delete(&self, collection: Collection, id: &str) -> Result<bool, StoreError> {
        let Some(info) = self.collection(collection, None).await? else {
            return Ok(false);
        };
        // The server answers `deleted: 1` even for an id it does not hold, so look first.
        if self.get_by_id(collection, &info, id).await?.is_none() {
            return Ok(false);
        }
        self.call_ok(
            Method::POST,
            &self.records_path(&info, "delete"),
            Some(&json!({ "ids": [id] })),
            &format!("delete `{id}` from `{collection}`"),
            Some(collection),
        )
        .await?;
        Ok(true)
    }

    async fn list(
        &self,
        collection: Collection,
        filter: &Filter,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Record>, StoreError> {
        let Some(info) = self.collection(collection, None).await? else {
            return Ok(Vec::new());
        };
        let mut body = Map::new();
        if let Some(w) = where_clause(filter) {
            body.insert("where".into(), w);
        }
        body.insert("limit".into(), json!(limit));
        body.insert("offset".into(), json!(offset));
        self.fetch(collection, &info, body).await
    }

    async fn count(&self, collection: Collection, filter: &Filter) -> Result<usize, StoreError> {
        let Some(info) = self.collection(collection, None).await? else {
            return Ok(0);
        };
        let operation = format!("count records in `{collection}`");
        match where_clause(filter) {
            None => {
                let value = self
                    .call_ok(
                        Method::GET,
                        &self.records_path(&info, "count"),
                        None,
                        &operation,
                        Some(collection),
                    )
                    .await?;
                value
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| StoreError::Backend {
                        backend: BACKEND.into(),
                        operation,
                        message: format!("the answer is not a count: {value}"),
                    })
            }
            Some(w) => {
                let value = self
                    .call_ok(
                        Method::POST,
                        &self.records_path(&info, "get"),
                        Some(&json!({ "where": w, "include": [] })),
                        &operation,
                        Some(collection),
                    )
                    .await?;
                Ok(string_list(&value, "ids").len())
            }
        }
    }

    async fn query(&self, query: &Query) -> Result<Vec<Scored>, StoreError> {
        let vector = embed_query(self.embedder.as_ref(), &query.stack).await?;
        let Some(info) = self.collection(query.collection, None).await? else {
            return Ok(Vec::new());
        };
        self.check_embedding(query.collection, &info, vector.len())?;
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut body = json!({
            "query_embeddings": [vector],
            "n_results": query.limit,
            "include": ["documents", "metadatas", "distances"],
        });
        if let (Some(w), Some(obj)) = (where_clause(&query.filter), body.as_object_mut()) {
            obj.insert("where".into(), w);
        }
        let value = self
            .call_ok(
                Method::POST,
                &self.records_path(&info, "query"),
                Some(&body),
                &format!("search `{}`", query.collection),
                Some(query.collection),
            )
            .await?;
        // Answers are nested: one list per query embedding; we send one.
        let first = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_array)
        };
        let ids: Vec<String> = first("ids")
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let documents = first("documents");
        let metadatas = first("metadatas");
        let distances = first("distances");
        ids.iter()
            .enumerate()
            .map(|(i, id)| {
                Ok(Scored {
                    record: from_chroma(
                        query.collection,
                        id,
                        documents.and_then(|d| d.get(i)),
                        metadatas.and_then(|m| m.get(i)),
                    )?,
                    distance: distances
                        .and_then(|d| d.get(i))
                        .and_then(Value::as_f64)
                        .unwrap_or(f64::MAX) as f32,
                })
            })
            .collect()
    }
}

/// `Collection expecting embedding with dimension of 3, got 2` → (3, 2).
fn parse_dimension_error(message: &str) -> Option<(usize, usize)> {
    let rest = message.split("dimension of ").nth(1)?;
    let (expected, rest) = rest.split_once(',')?;
    let got = rest.trim().strip_prefix("got ")?;
    let got: String = got.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((expected.trim().parse().ok()?, got.parse().ok()?))
}

/// The filter as a `where` clause: one condition as `{key: {"$eq": v}}`, more under `$and`.
fn where_clause(filter: &Filter) -> Option<Value> {
    let mut parts: Vec<Value> = filter
        .conditions()
        .iter()
        .map(|(k, v)| json!({ k.name(): { "$eq": v } }))
        .collect();
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(json!({ "$and": parts })),
    }
}

fn string_list(value: &Value, key: &str) -> Vec<String> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The record's metadata as ChromaDB stores it (absent values are left out).
fn to_metadata(r: &Record) -> Value {
    let mut m = Map::new();
    for key in MetaKey::ALL {
        m.insert(key.name().into(), json!(key.value_of(r)));
    }
    m.insert(
        "test_framework".into(),
        json!(test_framework_name(r.stack.test_framework)),
    );
    m.insert(
        "databases".into(),
        json!(databases_text(&r.stack.databases)),
    );
    m.insert("stages_count".into(), json!(r.stages_count));
    m.insert("success_count".into(), json!(r.success_count));
    m.insert("content_hash".into(), json!(r.content_hash));
    m.insert("created_at".into(), json!(r.created_at));
    m.insert("updated_at".into(), json!(r.updated_at));
    m.insert("has_gitlab_ci".into(), json!(r.gitlab_ci.is_some()));
    let optional = [
        ("runtime_major", r.stack.runtime_major.map(|v| json!(v))),
        ("dockerfile", r.dockerfile.as_ref().map(|v| json!(v))),
        ("project", r.origin.project.as_ref().map(|v| json!(v))),
        ("pipeline", r.origin.pipeline.as_ref().map(|v| json!(v))),
        ("description", r.description.as_ref().map(|v| json!(v))),
        ("comment", r.comment.as_ref().map(|v| json!(v))),
    ];
    for (key, value) in optional {
        if let Some(v) = value {
            m.insert(key.into(), v);
        }
    }
    Value::Object(m)
}

/// Rebuilds a record from its id, document and metadata.
fn from_chroma(
    collection: Collection,
    id: &str,
    document: Option<&Value>,
    metadata: Option<&Value>,
) -> Result<Record, StoreError> {
    let bad = |reason: String| StoreError::Malformed {
        collection: collection.as_str().into(),
        id: id.into(),
        reason,
    };
    let meta = metadata
        .and_then(Value::as_object)
        .ok_or_else(|| bad("it has no metadata".into()))?;
    let text = |key: &str| -> Result<&str, StoreError> {
        meta.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("its metadata has no text `{key}`")))
    };
    let opt_text = |key: &str| meta.get(key).and_then(Value::as_str).map(str::to_string);
    let int = |key: &str| -> Result<i64, StoreError> {
        meta.get(key)
            .and_then(Value::as_i64)
            .ok_or_else(|| bad(format!("its metadata has no number `{key}`")))
    };
    let count = |key: &str| -> Result<u32, StoreError> {
        u32::try_from(int(key)?).map_err(|e| bad(format!("`{key}`: {e}")))
    };
    let gitlab_ci = if meta.get("has_gitlab_ci").and_then(Value::as_bool) == Some(true) {
        Some(
            document
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        )
    } else {
        None
    };
    let databases = parse_databases(text("databases")?).map_err(bad)?;
    Ok(Record {
        id: id.to_string(),
        collection,
        stack: StackKey {
            language: Language::from_str(text("language")?).map_err(bad)?,
            framework: parse_or_none::<Framework>(text("framework")?).map_err(bad)?,
            build_tool: parse_or_none::<BuildTool>(text("build_tool")?).map_err(bad)?,
            test_framework: parse_or_none::<TestFramework>(text("test_framework")?).map_err(bad)?,
            runtime_major: meta
                .get("runtime_major")
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok()),
            databases,
        },
        gitlab_ci,
        dockerfile: opt_text("dockerfile"),
        stages_count: count("stages_count")?,
        source: RecordSource::from_str(text("source")?).map_err(bad)?,
        success_count: count("success_count")?,
        content_hash: text("content_hash")?.to_string(),
        created_at: int("created_at")?,
        updated_at: int("updated_at")?,
        origin: Origin {
            project: opt_text("project"),
            pipeline: opt_text("pipeline"),
        },
        description: opt_text("description"),
        comment: opt_text("comment"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn settings_come_from_the_seed_variables() {
        assert_eq!(ChromaConfig::from_vars(vars(&[])).unwrap(), None);
        let c = ChromaConfig::from_vars(vars(&[("CHROMADB_HOST", "chromadb")]))
            .unwrap()
            .unwrap();
        assert_eq!(c.url, "http://chromadb:8000");
        assert_eq!(c.tenant, DEFAULT_TENANT);
        let c = ChromaConfig::from_vars(vars(&[
            ("CHROMADB_HOST", "https://rag.example.com"),
            ("CHROMADB_PORT", "8443"),
            ("CHROMADB_TENANT", "platform"),
            ("CHROMADB_DATABASE", "ci-knowledge"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.url, "https://rag.example.com:8443");
        assert_eq!(
            (c.tenant.as_str(), c.database.as_str()),
            ("platform", "ci-knowledge")
        );
        let c = ChromaConfig::from_vars(vars(&[("CHROMADB_HOST", "http://h:9000/")]))
            .unwrap()
            .unwrap();
        assert_eq!(c.url, "http://h:9000");
    }

    #[test]
    fn bad_settings_are_refused_with_the_rule() {
        let err =
            ChromaConfig::from_vars(vars(&[("CHROMADB_HOST", "h"), ("CHROMADB_PORT", "eighty")]))
                .unwrap_err();
        assert!(err.to_string().contains("CHROMADB_PORT"), "{err}");
        let err =
            ChromaConfig::from_vars(vars(&[("CHROMADB_HOST", "h"), ("CHROMADB_TENANT", "ab")]))
                .unwrap_err();
        assert!(err.to_string().contains("3-512"), "{err}");
    }

    #[test]
    fn filters_become_where_clauses() {
        assert_eq!(where_clause(&Filter::all()), None);
        assert_eq!(
            where_clause(&Filter::all().language(Language::Ruby)),
            Some(json!({"language": {"$eq": "ruby"}}))
        );
        assert_eq!(
            where_clause(&Filter::all().language(Language::Ruby).framework(None)),
            Some(json!({"$and": [{"language": {"$eq": "ruby"}}, {"framework": {"$eq": "none"}}]}))
        );
    }

    #[test]
    fn the_servers_dimension_message_is_understood() {
        assert_eq!(
            parse_dimension_error("Collection expecting embedding with dimension of 256, got 8"),
            Some((256, 8))
        );
        assert_eq!(parse_dimension_error("something else"), None);
    }

    #[test]
    fn metadata_round_trips() {
        let mut r = Record::feedback(
            StackKey::new(Language::Python)
                .with_framework(Some(Framework::Flask))
                .with_databases(vec![pipewright_core::stack::Database::Redis]),
            None,
            Some("FROM python:3.12\n".into()),
            "pin the base image".into(),
            Origin {
                project: Some("group/app".into()),
                pipeline: Some("42".into()),
            },
            7,
        );
        r.stack.runtime_major = Some(3);
        let back = from_chroma(
            r.collection,
            &r.id,
            Some(&json!("")),
            Some(&to_metadata(&r)),
        )
        .unwrap();
        assert_eq!(back, r);
    }
}
