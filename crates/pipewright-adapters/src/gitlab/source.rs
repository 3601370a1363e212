//! [`GitLabSource`]: a repository read through the GitLab API, for the analyzer.
//!
//! [`RepoSource`] is synchronous and the client is not, so everything is fetched up front by
//! the async [`GitLabSource::fetch`]: one project lookup, the recursive tree (one request per
//! page of 100), and one raw read for each file [`wants_content`] names, a few at a time.
//! Nothing else is downloaded; `list` and `read` then answer from memory. The tree carries no
//! sizes, so entries are unmeasured and the index estimates the language shares.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use pipewright_adapters::gitlab::{GitLabClient, GitLabConfig, GitLabSource};
//! use pipewright_core::source::RepoSource;
//! let client = GitLabClient::new(GitLabConfig::from_env()?)?;
//! let source = GitLabSource::fetch(&client, &"group/app".into(), None).await?;
//! println!(
//!     "{} files listed, {} downloaded, {} requests",
//!     source.list()?.entries.len(),
//!     source.files_fetched(),
//!     client.requests_sent()
//! );
//! # Ok(()) }
//! ```

use crate::source::{content_from_bytes, is_pruned};
use futures_util::stream::{self, StreamExt};
use pipewright_core::gitlab::{GitLab, GitLabError, Project, ProjectRef, RawFile, TreeEntryKind};
use pipewright_core::index::{wants_content, Content, RawEntry, MAX_READ_BYTES};
use pipewright_core::source::{Listing, RepoSource, SourceError};
use std::collections::HashMap;

/// Raw reads in flight at once: enough to hide latency, few enough not to trip rate limits.
pub const FETCH_CONCURRENCY: usize = 8;

/// A GitLab project's tree and the files the analyzer wants, fetched once.
#[derive(Debug)]
pub struct GitLabSource {
    label: String,
    project: Project,
    reference: String,
    entries: Vec<RawEntry>,
    contents: HashMap<String, Content>,
    warnings: Vec<String>,
}

impl GitLabSource {
    /// Looks the project up, lists its tree at `reference` (its default branch when `None`)
    /// and downloads the files the detectors read. A refused token stops the fetch; a file
    /// that cannot be read becomes a warning.
    pub async fn fetch(
        gitlab: &dyn GitLab,
        project: &ProjectRef,
        reference: Option<&str>,
    ) -> Result<Self, GitLabError> {
        let found = gitlab.project(project).await?;
        let by_id = ProjectRef::Id(found.id);
        let label = found.web_url.clone();
        let reference = match reference.or(found.default_branch.as_deref()) {
            Some(r) => r.to_string(),
            None => {
                // An empty repository has no tree to list (GitLab answers 404 for it).
                return Ok(GitLabSource {
                    label,
                    warnings: vec![format!(
                        "{} has no commits yet: there is nothing to analyze",
                        found.path_with_namespace
                    )],
                    project: found,
                    reference: String::new(),
                    entries: Vec::new(),
                    contents: HashMap::new(),
                });
            }
        };
        let tree = gitlab.tree(&by_id, Some(&reference)).await?;
        let entries: Vec<RawEntry> = tree
            .into_iter()
            .filter(|e| e.kind == TreeEntryKind::Blob && !is_pruned(&e.path))
            .map(|e| RawEntry::unmeasured(e.path))
            .collect();
        let wanted: Vec<&str> = entries
            .iter()
            .map(|e| e.path.as_str())
            .filter(|p| wants_content(p))
            .collect();
        // The futures are built before they are streamed: a closure kept inside the stream
        // would make this future lose `Send` (rustc cannot prove it for every lifetime).
        let reads: Vec<_> = wanted
            .iter()
            .map(|path| read_one(gitlab, &by_id, path, &reference))
            .collect();
        let results: Vec<(String, Result<RawFile, GitLabError>)> = stream::iter(reads)
            .buffer_unordered(FETCH_CONCURRENCY)
            .collect()
            .await;
        let mut contents = HashMap::with_capacity(results.len());
        for (path, result) in results {
            let content = match result {
                Ok(RawFile::Bytes(bytes)) => content_from_bytes(bytes),
                Ok(RawFile::TooLarge { size }) => Content::TooLarge(size),
                // Nothing else will work with a refused token; say so once, not per file.
                Err(e) if e.is_auth() => return Err(e),
                Err(e) => Content::Unreadable(e.to_string()),
            };
            contents.insert(path, content);
        }
        Ok(GitLabSource {
            label,
            project: found,
            reference,
            entries,
            contents,
            warnings: Vec::new(),
        })
    }

    /// The project as GitLab described it.
    pub fn project(&self) -> &Project {
        &self.project
    }

    /// The branch, tag or SHA that was read (empty for an empty repository).
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// How many files were downloaded.
    pub fn files_fetched(&self) -> usize {
        self.contents.len()
    }
}

async fn read_one(
    gitlab: &dyn GitLab,
    project: &ProjectRef,
    path: &str,
    reference: &str,
) -> (String, Result<RawFile, GitLabError>) {
    let file = gitlab
        .raw_file(project, path, reference, MAX_READ_BYTES)
        .await;
    (path.to_string(), file)
}

impl RepoSource for GitLabSource {
    fn label(&self) -> &str {
        &self.label
    }

    fn list(&self) -> Result<Listing, SourceError> {
        Ok(Listing {
            entries: self.entries.clone(),
            warnings: self.warnings.clone(),
        })
    }

    fn read(&self, path: &str, max_bytes: u64) -> Content {
        match self.contents.get(path) {
            Some(Content::Text(text)) if text.len() as u64 > max_bytes => {
                Content::TooLarge(text.len() as u64)
            }
            Some(content) => content.clone(),
            None => Content::Unreadable(format!(
                "`{path}` was not downloaded from GitLab: only the files the analyzer reads are fetched"
            )),
        }
    }
}
