//! Template folders: how records travel in and out of a store.
//!
//! A template folder holds a `.gitlab-ci.yml` and/or a `Dockerfile` and a
//! `pipewright-template.toml` that names the stack:
//!
//! ```toml
//! language = "python"          # required
//! framework = "django"         # optional; absent = a template for the language
//! build_tool = "poetry"        # optional
//! description = "Django on Poetry, the house layout"
//! ```
//!
//! `import` takes one such folder or a tree of them (found up to [`MAX_DEPTH`] levels down),
//! checks every record (sizes, YAML, `FROM`, plus the caller's validator) and stores all of
//! them in one batch, or none when any is refused. `export` writes
//! `<dir>/<collection>/<id>/` for every record, with every field in the metadata file, so an
//! export imports back as it was (the source becomes `imported`).

use pipewright_core::knowledge::{
    stack_id, Collection, KnowledgeStore, Origin, Record, RecordSource, StackKey, StoreError,
    MAX_FILE_BYTES,
};
use pipewright_core::stack::{BuildTool, Database, Framework, Language, TestFramework};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The metadata file that marks a template folder.
pub const METADATA_FILE: &str = "pipewright-template.toml";
/// The pipeline file's name in a template folder.
pub const PIPELINE_FILE: &str = ".gitlab-ci.yml";
/// The Dockerfile's name in a template folder.
pub const DOCKERFILE: &str = "Dockerfile";
/// How many folder levels below the import path are searched for template folders.
pub const MAX_DEPTH: usize = 3;
/// Records read per page while exporting.
const PAGE: usize = 500;

/// The contents of `pipewright-template.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateMetadata {
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default: `imported_<language>_<framework>_<sha256[:12]>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Default: `pipeline_templates`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_framework: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_major: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
}

/// Why an import or export did not happen.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("cannot read `{path}`: {reason}; check the path and its permissions")]
    Read { path: String, reason: String },
    #[error("no template folder (one holding {METADATA_FILE}) in `{path}` or up to {MAX_DEPTH} levels below it; add the metadata file next to .gitlab-ci.yml/Dockerfile")]
    NothingFound { path: String },
    #[error("import refused, nothing was stored:\n{}", render_findings(.0))]
    Refused(Vec<Refusal>),
    #[error("cannot write `{path}`: {reason}; check the folder and the free space")]
    Write { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything wrong with one template folder (or one posted template).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The folder, or for posted templates their position (`templates[0]`).
    pub folder: String,
    pub findings: Vec<String>,
}

fn render_findings(refusals: &[Refusal]) -> String {
    refusals
        .iter()
        .flat_map(|r| {
            r.findings
                .iter()
                .map(move |f| format!("  {}: {f}", r.folder))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A record read from a folder.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateFolder {
    pub folder: PathBuf,
    pub record: Record,
}

/// Reads every template folder at or below `path`. Folders whose metadata or files cannot be
/// used are returned as refusals, not errors, so that all problems are reported at once.
pub fn read_folders(
    path: &Path,
    now: i64,
) -> Result<(Vec<TemplateFolder>, Vec<Refusal>), FolderError> {
    let meta = fs::metadata(path).map_err(|e| FolderError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Err(FolderError::Read {
            path: path.display().to_string(),
            reason: "it is a file, not a folder".into(),
        });
    }
    let mut folders = Vec::new();
    find_folders(path, 0, &mut folders)?;
    if folders.is_empty() {
        return Err(FolderError::NothingFound {
            path: path.display().to_string(),
        });
    }
    folders.sort();
    let mut read = Vec::new();
    let mut refused = Vec::new();
    for folder in folders {
        match read_one(path, &folder, now) {
            Ok(record) => read.push(TemplateFolder { folder, record }),
            Err(findings) => refused.push(Refusal {
                folder: folder.display().to_string(),
                findings,
            }),
        }
    }
    Ok((read, refused))
}

fn find_folders(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), FolderError> {
    if dir.join(METADATA_FILE).is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Ok(());
    }
    let entries = fs::read_dir(dir).map_err(|e| FolderError::Read {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    for entry in entries.flatten() {
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.file_type().is_ok_and(|t| t.is_dir()) {
            find_folders(&entry.path(), depth + 1, out)?;
        }
    }
    Ok(())
}

/// Reads a regular file of at most [`MAX_FILE_BYTES`] inside `root` (the folder being
/// imported); `Ok(None)` when it does not exist. A link leading out of `root`, a FIFO, a
/// device or an oversize file is refused without being read.
fn read_limited(root: &Path, path: &Path) -> Result<Option<String>, String> {
    use crate::regular_file::{read_text, ReadError};
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{name}: cannot be read: {e}")),
        Ok(_) => {}
    }
    let inside = match (fs::canonicalize(root), fs::canonicalize(path)) {
        (Ok(root), Ok(target)) => target.starts_with(root),
        // A dangling link, or one into a loop.
        _ => false,
    };
    if !inside {
        return Err(format!(
            "{name}: is a link leading out of the folder being imported (or nowhere); copy the file in instead"
        ));
    }
    match read_text(path, MAX_FILE_BYTES as u64) {
        Ok(text) => Ok(Some(text)),
        Err(ReadError::NotFound) => Ok(None),
        Err(ReadError::NotText) => Err(format!("{name}: cannot be read as UTF-8 text")),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

fn read_one(root: &Path, folder: &Path, now: i64) -> Result<Record, Vec<String>> {
    let mut findings = Vec::new();
    let mut file = |name: &str| match read_limited(root, &folder.join(name)) {
        Ok(text) => text,
        Err(f) => {
            findings.push(f);
            None
        }
    };
    let meta_text = file(METADATA_FILE);
    let gitlab_ci = file(PIPELINE_FILE);
    let dockerfile = file(DOCKERFILE);
    let meta: Option<TemplateMetadata> = meta_text.and_then(|t| match toml::from_str(&t) {
        Ok(m) => Some(m),
        Err(e) => {
            findings.push(format!("{METADATA_FILE}: {}", e.message()));
            None
        }
    });
    let record = meta.and_then(|m| match record_from(&m, gitlab_ci, dockerfile, now) {
        Ok(r) => Some(r),
        Err(mut more) => {
            findings.append(&mut more);
            None
        }
    });
    match record {
        Some(r) if findings.is_empty() => Ok(r),
        _ => Err(findings),
    }
}

/// Parses an optional closed-set name, collecting the error.
fn parse_opt<T: FromStr<Err = String>>(
    text: &Option<String>,
    findings: &mut Vec<String>,
) -> Option<T> {
    text.as_deref().and_then(|t| match t.parse() {
        Ok(v) => Some(v),
        Err(e) => {
            findings.push(format!("{METADATA_FILE}: {e}"));
            None
        }
    })
}

/// The record a template's metadata and files describe (source `imported`, default id
/// `imported_<language>_<framework>_<sha256[:12]>`), or every problem with the metadata.
pub fn record_from(
    m: &TemplateMetadata,
    gitlab_ci: Option<String>,
    dockerfile: Option<String>,
    now: i64,
) -> Result<Record, Vec<String>> {
    let mut findings = Vec::new();
    let language: Option<Language> = parse_opt(&Some(m.language.clone()), &mut findings);
    let framework: Option<Framework> = parse_opt(&m.framework, &mut findings);
    let build_tool: Option<BuildTool> = parse_opt(&m.build_tool, &mut findings);
    let test_framework: Option<TestFramework> = parse_opt(&m.test_framework, &mut findings);
    let collection = parse_opt::<Collection>(&m.collection, &mut findings);
    let mut databases = Vec::new();
    for d in &m.databases {
        if let Some(db) = parse_opt::<Database>(&Some(d.clone()), &mut findings) {
            databases.push(db);
        }
    }
    if gitlab_ci.is_none() && dockerfile.is_none() {
        findings.push(format!(
            "neither {PIPELINE_FILE} nor {DOCKERFILE} is present"
        ));
    }
    let Some(language) = language else {
        return Err(findings);
    };
    if !findings.is_empty() {
        return Err(findings);
    }
    let mut stack = StackKey::new(language)
        .with_framework(framework)
        .with_build_tool(build_tool)
        .with_databases(databases);
    stack.test_framework = test_framework;
    stack.runtime_major = m.runtime_major;
    let mut record = Record::new(
        collection.unwrap_or(Collection::Templates),
        String::new(),
        stack,
        gitlab_ci,
        dockerfile,
        RecordSource::Imported,
        now,
    );
    record.id =
        m.id.clone()
            .unwrap_or_else(|| stack_id("imported", &record.stack, &record.content_hash));
    record.description = m.description.clone();
    record.comment = m.comment.clone();
    record.success_count = m.success_count.unwrap_or(0);
    record.origin = Origin {
        project: m.project.clone(),
        pipeline: m.pipeline.clone(),
    };
    Ok(record)
}

/// A check run on every imported record; returns findings, empty when the record is fine.
pub type Validator<'a> = &'a (dyn Fn(&Record) -> Vec<String> + Sync);

/// Imports the template folders at or below `path`; see [`store_checked`] for what each
/// record must pass. All or nothing. Returns the stored records.
pub async fn import(
    store: &dyn KnowledgeStore,
    path: &Path,
    validate: Option<Validator<'_>>,
    now: i64,
) -> Result<Vec<Record>, FolderError> {
    let (read, refused) = read_folders(path, now)?;
    let labelled = read
        .into_iter()
        .map(|t| (t.folder.display().to_string(), t.record))
        .collect();
    store_checked(store, labelled, refused, validate).await
}

/// Stores records that each come with a label for messages (a folder, a list position), all
/// or none. Each must pass [`Record::check`] and [`Record::content_findings`], and `validate`
/// when given (pipewright's pipeline and Dockerfile validator, passed in by the caller); two
/// records may not share a collection and id. Any finding, or any refusal already in
/// `refused`, refuses the whole batch and nothing is stored; otherwise all records are stored
/// in one batch. Returns the stored records.
pub async fn store_checked(
    store: &dyn KnowledgeStore,
    records: Vec<(String, Record)>,
    mut refused: Vec<Refusal>,
    validate: Option<Validator<'_>>,
) -> Result<Vec<Record>, FolderError> {
    let mut seen: std::collections::HashMap<(Collection, String), String> = Default::default();
    for (label, record) in &records {
        let mut findings = Vec::new();
        if let Err(e) = record.check() {
            findings.push(e.to_string());
        }
        findings.extend(record.content_findings());
        if let Some(validate) = validate {
            findings.extend(validate(record));
        }
        let key = (record.collection, record.id.clone());
        if let Some(first) = seen.insert(key, label.clone()) {
            findings.push(format!(
                "id `{}` is also used by {first}; give one of them another `id`",
                record.id
            ));
        }
        if !findings.is_empty() {
            refused.push(Refusal {
                folder: label.clone(),
                findings,
            });
        }
    }
    if !refused.is_empty() {
        return Err(FolderError::Refused(refused));
    }
    let records: Vec<Record> = records.into_iter().map(|(_, r)| r).collect();
    store.upsert(&records).await?;
    Ok(records)
}

/// The metadata file for a record (every field, so it imports back as it was).
pub fn metadata_for(r: &Record) -> TemplateMetadata {
    TemplateMetadata {
        language: r.stack.language.as_str().into(),
        framework: r.stack.framework.map(|f| f.as_str().into()),
        build_tool: r.stack.build_tool.map(|b| b.as_str().into()),
        description: r.description.clone(),
        id: Some(r.id.clone()),
        collection: Some(r.collection.as_str().into()),
        test_framework: r.stack.test_framework.map(|t| t.as_str().into()),
        runtime_major: r.stack.runtime_major,
        databases: r
            .stack
            .databases
            .iter()
            .map(|d| d.as_str().into())
            .collect(),
        success_count: Some(r.success_count),
        comment: r.comment.clone(),
        project: r.origin.project.clone(),
        pipeline: r.origin.pipeline.clone(),
    }
}

/// Writes one record's template folder `<dir>/<collection>/<id>/`.
pub fn write_folder(dir: &Path, r: &Record) -> Result<PathBuf, FolderError> {
    // Ids passed Record::check when stored: no separators, no leading dot.
    let folder = dir.join(r.collection.as_str()).join(&r.id);
    let write_err = |p: &Path, e: std::io::Error| FolderError::Write {
        path: p.display().to_string(),
        reason: e.to_string(),
    };
    fs::create_dir_all(&folder).map_err(|e| write_err(&folder, e))?;
    let meta = toml::to_string(&metadata_for(r)).map_err(|e| FolderError::Write {
        path: folder.join(METADATA_FILE).display().to_string(),
        reason: e.to_string(),
    })?;
    let files = [
        (METADATA_FILE, Some(meta.as_str())),
        (PIPELINE_FILE, r.gitlab_ci.as_deref()),
        (DOCKERFILE, r.dockerfile.as_deref()),
    ];
    for (name, text) in files {
        let p = folder.join(name);
        match text {
            Some(t) => fs::write(&p, t).map_err(|e| write_err(&p, e))?,
            None => match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(write_err(&p, e)),
            },
        }
    }
    Ok(folder)
}

/// Exports every record of `collections` to `dir`; returns the folders written.
pub async fn export(
    store: &dyn KnowledgeStore,
    dir: &Path,
    collections: &[Collection],
) -> Result<Vec<PathBuf>, FolderError> {
    let mut written = Vec::new();
    for collection in collections {
        let mut offset = 0;
        loop {
            let page = store
                .list(
                    *collection,
                    &pipewright_core::knowledge::Filter::all(),
                    PAGE,
                    offset,
                )
                .await?;
            for r in &page {
                written.push(write_folder(dir, r)?);
            }
            if page.len() < PAGE {
                break;
            }
            offset += page.len();
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(p, text).unwrap();
    }

    #[test]
    fn a_tree_of_folders_is_read_and_problems_are_collected() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "django/pipewright-template.toml",
            "language = \"python\"\nframework = \"django\"\n",
        );
        write(
            dir.path(),
            "django/.gitlab-ci.yml",
            "stages: [compile, build]\n",
        );
        write(
            dir.path(),
            "bad/pipewright-template.toml",
            "language = \"cobol\"\nflavour = 1\n",
        );
        write(
            dir.path(),
            "empty/pipewright-template.toml",
            "language = \"go\"\n",
        );
        let (read, refused) = read_folders(dir.path(), 5).unwrap();
        assert_eq!(read.len(), 1);
        let r = &read[0].record;
        assert!(r.id.starts_with("imported_python_django_"), "{}", r.id);
        assert_eq!(r.stages_count, 2);
        assert_eq!(r.created_at, 5);
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(refused[0].findings[0].contains("flavour"), "{refused:?}");
        assert!(refused[1].findings[0].contains("neither"), "{refused:?}");
    }

    #[test]
    fn an_oversize_file_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "pipewright-template.toml",
            "language = \"go\"\n",
        );
        write(dir.path(), "Dockerfile", &"#".repeat(MAX_FILE_BYTES + 1));
        let (read, refused) = read_folders(dir.path(), 0).unwrap();
        assert!(read.is_empty());
        assert!(refused[0].findings[0].contains("limit"), "{refused:?}");
    }

    #[test]
    fn a_folder_without_templates_says_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_folders(dir.path(), 0).unwrap_err();
        assert!(err.to_string().contains(METADATA_FILE), "{err}");
    }
}
