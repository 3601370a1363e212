//! The knowledge store's records as the CLI (`pipewright templates`) and the service
//! (`/api/v1/templates`, `/api/v1/pipeline/feedback`) both see them: listing with filters,
//! finding one record by id across collections, deleting, importing posted templates all or
//! nothing, and storing a user's correction. Every record that may later be committed as it
//! is passes pipewright's validator first ([`validator_for_records`]).
//!
//! ```no_run
//! # async fn demo(store: &dyn pipewright_core::knowledge::KnowledgeStore) {
//! use pipewright_workflow::templates::{list, ListQuery, RecordSummary};
//! let records = list(store, &ListQuery::default()).await.unwrap();
//! let shown: Vec<RecordSummary> = records.iter().map(RecordSummary::from).collect();
//! # }
//! ```

use pipewright_adapters::store::folder::{self, FolderError, Refusal, TemplateMetadata};
use pipewright_core::knowledge::{
    format_timestamp, Collection, Filter, KnowledgeStore, Learned, Record, RecordSource, StoreError,
};
use pipewright_core::stack::{BuildTool, Framework, Language};
use pipewright_core::validate::{
    has_errors, validate_dockerfile, validate_pipeline, Finding, Severity, ValidatorSettings,
};

/// Which records to list. `None` on a filter means "any"; `Some(None)` on framework and build
/// tool means "records without one".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Only this collection; all three when `None`.
    pub collection: Option<Collection>,
    pub language: Option<Language>,
    pub framework: Option<Option<Framework>>,
    pub build_tool: Option<Option<BuildTool>>,
    pub source: Option<RecordSource>,
    /// At most this many records per collection.
    pub limit: usize,
    /// Skip this many records per collection first.
    pub offset: usize,
}

/// How many records a listing returns per collection unless told otherwise.
pub const DEFAULT_LIMIT: usize = 100;

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            collection: None,
            language: None,
            framework: None,
            build_tool: None,
            source: None,
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// Why a templates operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TemplatesError {
    #[error("no record `{id}` in {}; list the records to see their ids", .collection.map(|c| c.as_str()).unwrap_or("any collection"))]
    NotFound {
        id: String,
        collection: Option<Collection>,
    },
    #[error("`{id}` is in several collections ({}); say which collection", .collections.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", "))]
    Ambiguous {
        id: String,
        collections: Vec<Collection>,
    },
    /// The posted files fail pipewright's validator; nothing was stored.
    #[error("the files fail pipewright's validator ({} error(s)); nothing was stored", .0.iter().filter(|f| f.severity == Severity::Error).count())]
    Invalid(Vec<Finding>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Folder(#[from] FolderError),
}

/// The collection named, or all three.
pub fn chosen(collection: Option<Collection>) -> Vec<Collection> {
    match collection {
        Some(c) => vec![c],
        None => Collection::ALL.to_vec(),
    }
}

/// The records `query` selects, collection by collection.
pub async fn list(
    store: &dyn KnowledgeStore,
    query: &ListQuery,
) -> Result<Vec<Record>, StoreError> {
    let mut filter = Filter::all();
    if let Some(l) = query.language {
        filter = filter.language(l);
    }
    if let Some(f) = query.framework {
        filter = filter.framework(f);
    }
    if let Some(b) = query.build_tool {
        filter = filter.build_tool(b);
    }
    if let Some(s) = query.source {
        filter = filter.source(s);
    }
    let mut records = Vec::new();
    for c in chosen(query.collection) {
        records.extend(store.list(c, &filter, query.limit, query.offset).await?);
    }
    Ok(records)
}

/// The one record with `id` (in `collection`, or in whichever collection holds it).
pub async fn find(
    store: &dyn KnowledgeStore,
    id: &str,
    collection: Option<Collection>,
) -> Result<(Collection, Record), TemplatesError> {
    let mut found = Vec::new();
    for c in chosen(collection) {
        if let Some(r) = store.get(c, id).await? {
            found.push((c, r));
        }
    }
    match found.len() {
        0 => Err(TemplatesError::NotFound {
            id: id.to_string(),
            collection,
        }),
        1 => Ok(found.remove(0)),
        _ => Err(TemplatesError::Ambiguous {
            id: id.to_string(),
            collections: found.into_iter().map(|(c, _)| c).collect(),
        }),
    }
}

/// Deletes the one record with `id`; returns the collection it was in.
pub async fn delete(
    store: &dyn KnowledgeStore,
    id: &str,
    collection: Option<Collection>,
) -> Result<Collection, TemplatesError> {
    let (collection, _) = find(store, id, collection).await?;
    store.delete(collection, id).await?;
    Ok(collection)
}

/// The validator's errors on a record's files, each naming its file.
pub fn record_errors(record: &Record, settings: &ValidatorSettings) -> Vec<Finding> {
    let mut found = Vec::new();
    if let Some(ci) = &record.gitlab_ci {
        found.extend(validate_pipeline(ci, settings));
    }
    if let Some(d) = &record.dockerfile {
        found.extend(
            validate_dockerfile(d, settings)
                .into_iter()
                .map(|f| f.in_file("Dockerfile")),
        );
    }
    found.retain(|f| f.severity == Severity::Error);
    found
}

/// The import check: a stored pair may be committed as it is (the `[RAG Template]` path), so
/// it must pass the same validator as pipewright's own files. One line per error.
pub fn validator_for_records(
    settings: &ValidatorSettings,
) -> impl Fn(&Record) -> Vec<String> + Sync + '_ {
    move |r: &Record| {
        record_errors(r, settings)
            .into_iter()
            .map(|f| {
                format!(
                    "{}:{}:{}: [{}] {}",
                    f.file, f.line, f.column, f.rule, f.message
                )
            })
            .collect()
    }
}

/// One posted template: its metadata (as in `pipewright-template.toml`) and its files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostedTemplate {
    pub metadata: TemplateMetadata,
    pub gitlab_ci: Option<String>,
    pub dockerfile: Option<String>,
}

/// Imports posted templates all or nothing: each is read like a template folder, checked like
/// one (see [`folder::store_checked`]) and validated; any problem refuses the whole batch with
/// every problem listed (labels `templates[i]`).
pub async fn import_posted(
    store: &dyn KnowledgeStore,
    templates: Vec<PostedTemplate>,
    settings: &ValidatorSettings,
    now: i64,
) -> Result<Vec<Record>, TemplatesError> {
    let mut records = Vec::new();
    let mut refused = Vec::new();
    for (i, t) in templates.into_iter().enumerate() {
        let label = format!("templates[{i}]");
        match folder::record_from(&t.metadata, t.gitlab_ci, t.dockerfile, now) {
            Ok(record) => records.push((label, record)),
            Err(findings) => refused.push(Refusal {
                folder: label,
                findings,
            }),
        }
    }
    let validate = validator_for_records(settings);
    Ok(folder::store_checked(store, records, refused, Some(&validate)).await?)
}

/// Stores a user's correction in the feedback collection once its files pass the validator
/// (the same check as an import); the same correction given again raises its count.
pub async fn store_feedback(
    store: &dyn KnowledgeStore,
    record: Record,
    settings: &ValidatorSettings,
) -> Result<Learned, TemplatesError> {
    // The size limits first: the validator is not run on files that cannot be stored.
    record.check().map_err(StoreError::from)?;
    let errors = record_errors(&record, settings);
    if has_errors(&errors) {
        return Err(TemplatesError::Invalid(errors));
    }
    Ok(store.learn(record).await?)
}

/// A record without its file bodies, as listings show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordSummary {
    pub id: String,
    /// `pipeline_templates`, `successful_pipelines` or `pipeline_feedback`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub collection: Collection,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub language: Language,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub framework: Option<Framework>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub build_tool: Option<BuildTool>,
    pub stages_count: u32,
    pub success_count: u32,
    /// `built-in`, `imported`, `learned` or `feedback`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub source: RecordSource,
    pub has_gitlab_ci: bool,
    pub has_dockerfile: bool,
    pub content_hash: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
}

impl From<&Record> for RecordSummary {
    fn from(r: &Record) -> Self {
        RecordSummary {
            id: r.id.clone(),
            collection: r.collection,
            language: r.stack.language,
            framework: r.stack.framework,
            build_tool: r.stack.build_tool,
            stages_count: r.stages_count,
            success_count: r.success_count,
            source: r.source,
            has_gitlab_ci: r.gitlab_ci.is_some(),
            has_dockerfile: r.dockerfile.is_some(),
            content_hash: r.content_hash.clone(),
            updated_at: format_timestamp(r.updated_at),
        }
    }
}
