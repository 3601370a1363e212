//! The knowledge store (RAG): what pipewright remembers about pipelines, and how it picks one
//! for a new repository.
//!
//! The seed's three collections ([`Collection`]) hold [`Record`]s: a `.gitlab-ci.yml` and/or a
//! `Dockerfile` with the [`StackKey`] they fit. Backends implement [`KnowledgeStore`] (the
//! embedded SQLite file and ChromaDB live in the adapters crate); an [`Embedder`] turns stacks
//! and texts into vectors. [`retrieve`] walks the seed's priority order and explains its pick.
//! Nothing here performs I/O: clocks, files and servers are the callers' and backends' job.
//!
//! ```
//! use pipewright_core::knowledge::{Record, StackKey, Origin};
//! use pipewright_core::stack::{Framework, Language};
//! let stack = StackKey::new(Language::Ruby).with_framework(Some(Framework::Sinatra));
//! let r = Record::learned(stack, "stages: [compile]\n".into(), "FROM ruby:3.3\n".into(), Origin::default(), 0);
//! assert!(r.id.starts_with("manual_ruby_sinatra_"));
//! ```

mod embed;
mod filter;
mod record;
mod retrieve;
mod stack_key;
mod vectors;

pub use embed::{
    embed_query, embed_records, normalize, BuiltinEmbedder, EmbedError, EmbedInput, Embedder,
    BUILTIN_DIMENSION,
};
pub use filter::{Filter, MetaKey};
pub use record::{
    check_id, content_hash, count_stages, format_timestamp, framework_slug, stack_id, Collection,
    Origin, Record, RecordError, RecordSource, MAX_FILE_BYTES, MAX_ID_LEN, MAX_NOTE_BYTES,
};
pub use retrieve::{rank, retrieve, RagPath, Retrieval, RetrievalRank, CANDIDATES};
pub use stack_key::{
    build_tool_name, databases_text, framework_name, major_version, parse_databases, parse_or_none,
    test_framework_name, StackField, StackKey, NONE,
};
pub use vectors::{meta_of, DimensionError, Hit, Meta, VectorIndex};

use async_trait::async_trait;

/// A nearest-neighbour question to one collection.
#[derive(Debug, Clone)]
pub struct Query {
    pub collection: Collection,
    /// The stack to look for (embedded with an empty text).
    pub stack: StackKey,
    pub filter: Filter,
    /// At most this many answers.
    pub limit: usize,
}

/// A record found by a [`Query`], with its cosine distance to the question.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub record: Record,
    pub distance: f32,
}

/// The outcome of [`KnowledgeStore::learn`].
#[derive(Debug, Clone, PartialEq)]
pub struct Learned {
    /// The record as stored now.
    pub record: Record,
    /// True when it was new; false when an existing record's success count was raised.
    pub created: bool,
}

/// Where records are kept and searched. Every method is atomic for the records it is given:
/// a batch that fails writes nothing (the embedded backend uses one transaction; ChromaDB
/// batches are checked in full before the first request).
#[async_trait]
pub trait KnowledgeStore: Send + Sync {
    /// The backend and where it is, for messages: `embedded (/path/knowledge.sqlite3)`,
    /// `chromadb (http://host:8000, tenant/database)`.
    fn describe(&self) -> String;

    /// Inserts or replaces records (same collection and id = same record).
    async fn upsert(&self, records: &[Record]) -> Result<(), StoreError>;

    /// Stores a record, or when one with the same collection and id exists, raises its
    /// success count instead (see [`Record::repeated`]). Never duplicates.
    async fn learn(&self, record: Record) -> Result<Learned, StoreError>;

    /// One record by id.
    async fn get(&self, collection: Collection, id: &str) -> Result<Option<Record>, StoreError>;

    /// Deletes one record; false when there was none.
    async fn delete(&self, collection: Collection, id: &str) -> Result<bool, StoreError>;

    /// Records matching `filter`, at most `limit` after skipping `offset`, in a stable order
    /// (by id for the embedded backend, the server's order for ChromaDB).
    async fn list(
        &self,
        collection: Collection,
        filter: &Filter,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Record>, StoreError>;

    /// How many records match `filter`.
    async fn count(&self, collection: Collection, filter: &Filter) -> Result<usize, StoreError>;

    /// The records nearest to the query's stack among those its filter accepts, nearest first.
    async fn query(&self, query: &Query) -> Result<Vec<Scored>, StoreError>;
}

/// Why the knowledge store could not do what was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("cannot reach {backend} at {location}: {reason}; check that the server runs and that CHROMADB_HOST / CHROMADB_PORT point at it, or use --store embedded")]
    Unreachable {
        backend: String,
        location: String,
        reason: String,
    },
    #[error("{backend} failed to {operation}: {message}")]
    Backend {
        backend: String,
        operation: String,
        message: String,
    },
    #[error("the knowledge store file {path} is not a usable SQLite database ({reason}); move it aside (a new one is created on the next run) or restore it from a backup, then re-import your templates")]
    Corrupt { path: String, reason: String },
    #[error("the knowledge store file {path} is locked by another process ({reason}); wait for it to finish, or stop it, and retry")]
    Locked { path: String, reason: String },
    #[error("collection `{collection}` holds {expected}-dimension embeddings but the embedder `{embedder}` gives {got}; use the embedder it was built with, or export the records, delete the collection and import them again")]
    DimensionMismatch {
        collection: String,
        expected: usize,
        got: usize,
        embedder: String,
    },
    #[error("collection `{collection}` was built with the embedder `{recorded}`, not `{current}` (same dimension, different meaning); use `{recorded}`, or export, delete and re-import")]
    EmbedderMismatch {
        collection: String,
        recorded: String,
        current: String,
    },
    #[error("{0}")]
    InvalidRecord(#[from] RecordError),
    #[error("{0}")]
    Embed(#[from] EmbedError),
    #[error("stored record `{id}` in `{collection}` cannot be read back: {reason}; delete it and store it again")]
    Malformed {
        collection: String,
        id: String,
        reason: String,
    },
}

impl StoreError {
    /// True when a server could not be reached at all (as opposed to answering with an error).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            StoreError::Unreachable { .. } | StoreError::Embed(EmbedError::Unreachable { .. })
        )
    }
}

/// Counts of records, per collection and by language and source.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stats {
    /// The backend and where it is (`embedded (<file>)`, `chromadb (<url>, tenant/database)`).
    pub backend: String,
    pub collections: Vec<CollectionStats>,
}

/// Counts for one collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectionStats {
    pub collection: String,
    pub records: usize,
    /// Only languages with at least one record: `[language, records]` pairs.
    pub by_language: Vec<(String, usize)>,
    /// Only sources with at least one record: `[source, records]` pairs.
    pub by_source: Vec<(String, usize)>,
}

/// Counts every collection by language and by source, with filtered counts only (so it costs
/// the same on every backend).
pub async fn stats(store: &dyn KnowledgeStore) -> Result<Stats, StoreError> {
    let mut out = Stats {
        backend: store.describe(),
        collections: Vec::new(),
    };
    for collection in Collection::ALL {
        let records = store.count(*collection, &Filter::all()).await?;
        let mut c = CollectionStats {
            collection: collection.as_str().to_string(),
            records,
            ..Default::default()
        };
        if records > 0 {
            for language in crate::stack::Language::ALL {
                let n = store
                    .count(*collection, &Filter::all().language(*language))
                    .await?;
                if n > 0 {
                    c.by_language.push((language.as_str().to_string(), n));
                }
            }
            for source in RecordSource::ALL {
                let n = store
                    .count(*collection, &Filter::all().source(*source))
                    .await?;
                if n > 0 {
                    c.by_source.push((source.as_str().to_string(), n));
                }
            }
        }
        out.collections.push(c);
    }
    Ok(out)
}
