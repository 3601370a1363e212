//! `pipewright templates list | show ID | import PATH | export DIR | delete ID | stats`: the
//! knowledge store from a terminal, as readable text or `--json`.
//!
//! The store is the embedded SQLite file in the data folder unless `--store chromadb` (or
//! `CHROMADB_HOST`) says otherwise. Store failures end with a clear message and an exit code:
//! [`exit::UNREACHABLE`] when ChromaDB cannot be reached, [`exit::STORE`] for other store
//! failures, [`exit::FAILURE`] when an import is refused.

use super::exit;
use super::failure::{print_json, Failure};
use crate::serve::error::ErrorKind;
use clap::{Args, Subcommand};
use pipewright_adapters::store::folder::{self, FolderError};
use pipewright_adapters::store::{now, StoreKind};
use pipewright_core::knowledge::{
    format_timestamp, parse_or_none, stats, Collection, KnowledgeStore, Record, RecordSource, Stats,
};
use pipewright_core::stack::{BuildTool, Framework, Language};
use pipewright_workflow::templates::{
    self, validator_for_records, ListQuery, RecordSummary, TemplatesError,
};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct TemplatesArgs {
    #[command(subcommand)]
    pub command: TemplatesCommand,
    /// Folder of the embedded store's file [default: $PIPEWRIGHT_DATA_DIR, else the platform's data folder].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// `embedded` or `chromadb` [default: chromadb when CHROMADB_HOST is set, else embedded].
    #[arg(long, global = true, env = "PIPEWRIGHT_STORE", value_name = "KIND")]
    pub store: Option<StoreKind>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// List stored records (files left out; see `show`).
    List(ListArgs),
    /// Show one record with its files.
    Show {
        id: String,
        /// Look only in this collection (pipeline_templates, successful_pipelines, pipeline_feedback).
        #[arg(long)]
        collection: Option<Collection>,
    },
    /// Import a template folder (.gitlab-ci.yml and/or Dockerfile + pipewright-template.toml)
    /// or a folder of such folders. All or nothing.
    Import { path: PathBuf },
    /// Export records as template folders under DIR/<collection>/<id>/.
    Export {
        dir: PathBuf,
        /// Only this collection [default: all three].
        #[arg(long)]
        collection: Option<Collection>,
    },
    /// Store the built-in generator's output for these repositories as starting templates
    /// (collection pipeline_templates, source built-in), one per single-service repository.
    Seed {
        /// Repository folders (or git URLs) to generate for.
        #[arg(required = true)]
        repos: Vec<String>,
    },
    /// Delete one record.
    Delete {
        id: String,
        /// The record's collection [default: the only one holding ID].
        #[arg(long)]
        collection: Option<Collection>,
    },
    /// Count records by collection, language and source.
    Stats,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this collection [default: all three].
    #[arg(long)]
    pub collection: Option<Collection>,
    #[arg(long)]
    pub language: Option<Language>,
    /// A framework, or `none` for records without one.
    #[arg(long, value_parser = parse_optional::<Framework>)]
    pub framework: Option<OrNone<Framework>>,
    /// A build tool, or `none` for records without one.
    #[arg(long, value_parser = parse_optional::<BuildTool>)]
    pub build_tool: Option<OrNone<BuildTool>>,
    #[arg(long)]
    pub source: Option<RecordSource>,
    /// At most this many records per collection.
    #[arg(long, default_value_t = templates::DEFAULT_LIMIT)]
    pub limit: usize,
    /// Skip this many records per collection first.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
}

/// A filter value that may be `none` (records without one).
#[derive(Debug, Clone, Copy)]
pub struct OrNone<T>(pub Option<T>);

/// `none` → `OrNone(None)`, anything else parsed by the type.
fn parse_optional<T: std::str::FromStr<Err = String>>(text: &str) -> Result<OrNone<T>, String> {
    parse_or_none(text).map(OrNone)
}

/// A records error with the CLI's exit code: a record not found or ambiguous is the user's
/// to fix (exit 2), a refused import exits 1, the store's own failures 4 or 5.
impl From<TemplatesError> for Failure {
    fn from(e: TemplatesError) -> Self {
        match e {
            TemplatesError::Store(s) => s.into(),
            TemplatesError::Folder(f) => f.into(),
            TemplatesError::NotFound { .. } => Failure::api(exit::USAGE, e).field("id"),
            TemplatesError::Ambiguous { .. } => Failure::api(exit::USAGE, e).field("--collection"),
            TemplatesError::Invalid(_) => Failure::api(exit::FAILURE, e),
        }
    }
}

/// A template folder that cannot be read (exit 2), is refused (exit 1, every refusal in
/// `details.refused`), or cannot be written (exit 1).
impl From<FolderError> for Failure {
    fn from(e: FolderError) -> Self {
        match e {
            FolderError::Store(s) => s.into(),
            FolderError::Refused(ref refusals) => {
                let refused = json!(refusals);
                Failure::new(exit::FAILURE, ErrorKind::InvalidFiles, e.to_string())
                    .field("path")
                    .details(json!({ "refused": refused }))
            }
            FolderError::Read { .. } | FolderError::NothingFound { .. } => {
                Failure::usage("path", e.to_string())
            }
            FolderError::Write { .. } => {
                Failure::new(exit::FAILURE, ErrorKind::WriteFailed, e.to_string()).field("dir")
            }
        }
    }
}

/// Generates with the built-in generator for each repository and stores the pair.
async fn seed(store: &dyn KnowledgeStore, repos: &[String]) -> Result<Output, Failure> {
    let settings = super::config::load(&super::config::SettingsArgs::default())
        .map_err(|e| config_error(e.to_string()))?;
    let mut records = Vec::new();
    let mut text = String::new();
    for (n, repo) in repos.iter().enumerate() {
        let spinner = super::progress::Spinner::start(format!(
            "seeding {}/{}: {}",
            n + 1,
            repos.len(),
            pipewright_adapters::source::redact_url(repo)
        ));
        let outcome = pipewright_workflow::generate::generate_for(
            repo,
            &pipewright_workflow::analyze::AnalyzeOptions::default(),
            &settings.generator,
            &settings.allowed_hosts,
        );
        drop(spinner);
        let outcome = outcome.map_err(|e| match e {
            pipewright_workflow::generate::GenerateFlowError::Source(s) => {
                Failure::from(s).field("repos")
            }
            other => Failure::api(exit::USAGE, other).field("repos"),
        })?;
        let [service] = outcome.profile.services.as_slice() else {
            let _ = writeln!(
                text,
                "skipped {repo}: {} services; a template describes one stack",
                outcome.profile.services.len()
            );
            continue;
        };
        let files = &outcome.bundle.files;
        let (Some(ci), Some(dockerfile)) = (files.get(".gitlab-ci.yml"), files.get("Dockerfile"))
        else {
            let _ = writeln!(text, "skipped {repo}: it keeps its own Dockerfile");
            continue;
        };
        let stack = pipewright_core::knowledge::StackKey::from_service(service);
        let hash = pipewright_core::knowledge::content_hash(Some(ci), Some(dockerfile));
        let id = pipewright_core::knowledge::stack_id("builtin", &stack, &hash);
        let record = Record::new(
            Collection::Templates,
            id,
            stack,
            Some(ci.clone()),
            Some(dockerfile.clone()),
            RecordSource::BuiltIn,
            now(),
        );
        let _ = writeln!(text, "  {}  ({})", record.id, stack_label(&record));
        records.push(record);
    }
    if !records.is_empty() {
        store.upsert(&records).await?;
    }
    Ok(Output {
        text: format!(
            "stored {} built-in template{} in {}\n{text}",
            records.len(),
            plural(records.len()),
            store.describe()
        ),
        json: json!({ "seeded": records.iter().map(summary).collect::<Vec<_>>() }),
    })
}

/// `pipewright.toml` or the environment's settings cannot be used.
fn config_error(message: String) -> Failure {
    Failure::usage("--config", message)
}

/// Output: text for people, a JSON value for machines.
struct Output {
    text: String,
    json: Value,
}

pub fn run(args: TemplatesArgs) -> i32 {
    let json = args.json;
    let Some(runtime) = crate::setup::runtime(false) else {
        return exit::FAILURE;
    };
    match runtime.block_on(execute(args)) {
        Ok(out) => {
            if json {
                if let Err(f) = print_json(&out.json) {
                    return f.report(false);
                }
            } else {
                out!("{}", pipewright_core::quote::for_terminal(&out.text));
            }
            exit::OK
        }
        Err(f) => f.report(json),
    }
}

fn open(args: &TemplatesArgs) -> Result<Arc<dyn KnowledgeStore>, Failure> {
    Ok(crate::setup::store(args.store, args.data_dir.as_deref())?)
}

async fn execute(args: TemplatesArgs) -> Result<Output, Failure> {
    let store = open(&args)?;
    let store = store.as_ref();
    match args.command {
        TemplatesCommand::List(list) => list_records(store, &list).await,
        TemplatesCommand::Show { id, collection } => {
            let (_, record) = templates::find(store, &id, collection).await?;
            Ok(Output {
                text: render_record(&record),
                json: serde_json::to_value(&record).unwrap_or(Value::Null),
            })
        }
        TemplatesCommand::Import { path } => {
            let settings = super::config::load(&super::config::SettingsArgs::default())
                .map_err(|e| config_error(e.to_string()))?;
            let vsettings = pipewright_workflow::generate::validator_settings(
                &settings.generator,
                &settings.allowed_hosts,
            );
            let check = validator_for_records(&vsettings);
            let stored = folder::import(store, &path, Some(&check), now()).await?;
            let mut text = format!(
                "imported {} record{} into {}\n",
                stored.len(),
                plural(stored.len()),
                store.describe()
            );
            for r in &stored {
                let _ = writeln!(text, "  {}  ({}, {})", r.id, r.collection, stack_label(r));
            }
            Ok(Output {
                text,
                json: json!({ "imported": stored.iter().map(summary).collect::<Vec<_>>() }),
            })
        }
        TemplatesCommand::Export { dir, collection } => {
            let written = folder::export(store, &dir, &templates::chosen(collection)).await?;
            Ok(Output {
                text: format!(
                    "exported {} record{} to {}\n",
                    written.len(),
                    plural(written.len()),
                    dir.display()
                ),
                json: json!({
                    "exported": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>()
                }),
            })
        }
        TemplatesCommand::Seed { repos } => seed(store, &repos).await,
        TemplatesCommand::Delete { id, collection } => {
            let collection = templates::delete(store, &id, collection).await?;
            Ok(Output {
                text: format!("deleted {id} from {collection}\n"),
                json: json!({ "deleted": id, "collection": collection.as_str() }),
            })
        }
        TemplatesCommand::Stats => {
            let st = stats(store).await?;
            Ok(Output {
                text: render_stats(&st),
                json: serde_json::to_value(&st).unwrap_or(Value::Null),
            })
        }
    }
}

async fn list_records(store: &dyn KnowledgeStore, args: &ListArgs) -> Result<Output, Failure> {
    let query = ListQuery {
        collection: args.collection,
        language: args.language,
        framework: args.framework.map(|OrNone(f)| f),
        build_tool: args.build_tool.map(|OrNone(b)| b),
        source: args.source,
        limit: args.limit,
        offset: args.offset,
    };
    let records = templates::list(store, &query).await?;
    let mut text = String::new();
    if records.is_empty() {
        let _ = writeln!(text, "no records in {}", store.describe());
    } else {
        let _ = writeln!(
            text,
            "{:<44} {:<21} {:<28} {:<6} {:>6} {:>9}  {:<9} UPDATED",
            "ID", "COLLECTION", "STACK", "FILES", "STAGES", "SUCCESSES", "SOURCE"
        );
        for r in &records {
            let _ = writeln!(
                text,
                "{:<44} {:<21} {:<28} {:<6} {:>6} {:>9}  {:<9} {}",
                r.id,
                r.collection.as_str(),
                stack_label(r),
                files_label(r),
                r.stages_count,
                r.success_count,
                r.source.as_str(),
                format_timestamp(r.updated_at)
            );
        }
    }
    Ok(Output {
        text,
        json: Value::Array(records.iter().map(summary).collect()),
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn stack_label(r: &Record) -> String {
    let mut label = r.stack.language.as_str().to_string();
    if let Some(f) = r.stack.framework {
        let _ = write!(label, "/{f}");
    }
    if let Some(b) = r.stack.build_tool {
        let _ = write!(label, " ({b})");
    }
    label
}

fn files_label(r: &Record) -> &'static str {
    match (r.gitlab_ci.is_some(), r.dockerfile.is_some()) {
        (true, true) => "both",
        (true, false) => "ci",
        (false, true) => "docker",
        (false, false) => "-",
    }
}

/// A record without its file bodies.
fn summary(r: &Record) -> Value {
    serde_json::to_value(RecordSummary::from(r)).unwrap_or(Value::Null)
}

fn render_record(r: &Record) -> String {
    let mut out = String::new();
    let dbs: Vec<&str> = r.stack.databases.iter().map(|d| d.as_str()).collect();
    let rows: [(&str, String); 12] = [
        ("id", r.id.clone()),
        ("collection", r.collection.to_string()),
        ("stack", r.stack.fingerprint()),
        ("stages", r.stages_count.to_string()),
        ("successes", r.success_count.to_string()),
        ("source", r.source.to_string()),
        ("content hash", r.content_hash.clone()),
        ("created", format_timestamp(r.created_at)),
        ("updated", format_timestamp(r.updated_at)),
        (
            "origin",
            match (&r.origin.project, &r.origin.pipeline) {
                (None, None) => "-".into(),
                (p, q) => format!(
                    "project {} pipeline {}",
                    p.as_deref().unwrap_or("?"),
                    q.as_deref().unwrap_or("?")
                ),
            },
        ),
        (
            "description",
            r.description.clone().unwrap_or_else(|| "-".into()),
        ),
        ("comment", r.comment.clone().unwrap_or_else(|| "-".into())),
    ];
    for (label, value) in rows {
        let _ = writeln!(out, "{label:<13}{value}");
    }
    if !dbs.is_empty() {
        let _ = writeln!(out, "{:<13}{}", "databases", dbs.join(", "));
    }
    for (name, text) in [
        (".gitlab-ci.yml", &r.gitlab_ci),
        ("Dockerfile", &r.dockerfile),
    ] {
        let _ = writeln!(out);
        match text {
            Some(t) => {
                let _ = writeln!(out, "--- {name}");
                out.push_str(t);
                if !t.ends_with('\n') {
                    out.push('\n');
                }
            }
            None => {
                let _ = writeln!(out, "--- {name}: not stored");
            }
        }
    }
    out
}

fn render_stats(st: &Stats) -> String {
    let mut out = format!("{}\n", st.backend);
    for c in &st.collections {
        let _ = writeln!(out, "{:<22}{:>8} records", c.collection, c.records);
        let parts = |v: &[(String, usize)]| {
            v.iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !c.by_language.is_empty() {
            let _ = writeln!(out, "  by language: {}", parts(&c.by_language));
        }
        if !c.by_source.is_empty() {
            let _ = writeln!(out, "  by source:   {}", parts(&c.by_source));
        }
    }
    out
}
