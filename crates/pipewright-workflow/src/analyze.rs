//! The analysis flow: open a source from what the user typed, list it once, read only the
//! files the detectors want, build the index, run the detectors.

use pipewright_adapters::gitlab::{GitLabClient, GitLabSource};
use pipewright_adapters::source::{GitSource, GitUrl, LocalSource, DEFAULT_CLONE_TIMEOUT};
use pipewright_core::detect;
use pipewright_core::gitlab::{GitLabError, ProjectRef};
use pipewright_core::index::{RepoIndex, MAX_READ_BYTES};
use pipewright_core::overrides::{self, Overrides};
use pipewright_core::source::{RepoSource, SourceError};
use pipewright_core::stack::StackProfile;
use std::collections::HashMap;
use std::time::Duration;

/// How to open a repository.
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    /// Branch or tag to clone (git URLs only).
    pub reference: Option<String>,
    /// Time limit for a clone.
    pub clone_timeout: Duration,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            reference: None,
            clone_timeout: DEFAULT_CLONE_TIMEOUT,
        }
    }
}

/// Opens a local folder or clones a git URL.
pub fn open_source(
    target: &str,
    opts: &AnalyzeOptions,
) -> Result<Box<dyn RepoSource>, SourceError> {
    match GitUrl::parse(target) {
        Some(Ok(url)) => Ok(Box::new(GitSource::clone(
            &url,
            opts.reference.as_deref(),
            opts.clone_timeout,
        )?)),
        Some(Err(e)) => Err(e),
        None => Ok(Box::new(LocalSource::open(target)?)),
    }
}

/// Lists the source once and reads the files the detectors want. Returns the index and the
/// problems met while listing and reading.
pub fn build_index(source: &dyn RepoSource) -> Result<(RepoIndex, Vec<String>), SourceError> {
    let listing = source.list()?;
    let mut warnings = listing.warnings;
    let mut contents = HashMap::new();
    for entry in &listing.entries {
        if entry.wanted() {
            let content = source.read(&entry.path, MAX_READ_BYTES);
            match &content {
                pipewright_core::index::Content::Unreadable(reason) => {
                    warnings.push(format!("{}: not read: {reason}", entry.path))
                }
                pipewright_core::index::Content::TooLarge(size) => warnings.push(format!(
                    "{}: not read: {size} bytes is over the {MAX_READ_BYTES}-byte limit",
                    entry.path
                )),
                _ => {}
            }
            contents.insert(entry.path.clone(), content);
        }
    }
    Ok((RepoIndex::build(listing.entries, contents), warnings))
}

/// Overrides given beside the repository's own `pipewright.toml`: the user's config folder's
/// file (below the repository's) and `--config` or an API request's (above it).
#[derive(Debug, Clone, Default)]
pub struct OverrideLayers {
    pub user: Option<Overrides>,
    pub explicit: Option<Overrides>,
}

impl OverrideLayers {
    /// The layers merged in precedence order with the repository's file between them.
    fn with_repository(&self, repo: Option<Overrides>) -> Overrides {
        let mut all = self.user.clone().unwrap_or_default();
        if let Some(r) = repo {
            all.merge(r);
        }
        if let Some(e) = &self.explicit {
            all.merge(e.clone());
        }
        all
    }
}

/// The repository's own `pipewright.toml` (at its root), checked.
pub fn repository_overrides(index: &RepoIndex) -> Result<Option<Overrides>, SourceError> {
    match index.text(overrides::FILE_NAME) {
        Some(text) => Ok(Some(Overrides::from_toml(text, overrides::FILE_NAME)?)),
        None => Ok(None),
    }
}

/// Analyzes a source that is already open.
pub fn analyze_source(source: &dyn RepoSource) -> Result<StackProfile, SourceError> {
    analyze_with_index(source).map(|(_, profile)| profile)
}

/// Analyzes a source and keeps the index (the generator looks up files in it).
pub fn analyze_with_index(
    source: &dyn RepoSource,
) -> Result<(RepoIndex, StackProfile), SourceError> {
    analyze_with_overrides(source, &OverrideLayers::default())
}

/// Analyzes a source, then applies the overrides: the repository's `pipewright.toml` between
/// the user's and the explicit layer. A wrong value anywhere is an error naming the key.
pub fn analyze_with_overrides(
    source: &dyn RepoSource,
    layers: &OverrideLayers,
) -> Result<(RepoIndex, StackProfile), SourceError> {
    let (index, warnings) = build_index(source)?;
    let mut profile = detect::analyze(&index, source.label());
    profile.warnings.extend(warnings);
    let all = layers.with_repository(repository_overrides(&index)?);
    if !all.is_empty() {
        all.apply(&mut profile)?;
    }
    Ok((index, profile))
}

/// Opens `target` (a folder or a git URL) and analyzes it.
pub fn analyze(target: &str, opts: &AnalyzeOptions) -> Result<StackProfile, SourceError> {
    let source = open_source(target, opts)?;
    analyze_source(source.as_ref())
}

/// Reads the GitLab project a user's URL names through the GitLab API: the URL must pass the
/// client's [`UrlPolicy`](pipewright_adapters::gitlab::UrlPolicy) first (the configured GitLab
/// only, no loopback or metadata hosts), so a refused URL causes no connection at all. The
/// ref is `reference`, else one written in the URL (`/-/tree/<ref>`), else the default branch.
pub async fn open_gitlab_project(
    client: &GitLabClient,
    url: &str,
    reference: Option<&str>,
) -> Result<GitLabSource, GitLabError> {
    let location = client.policy().project_from_url(url)?;
    let reference = reference.or(location.reference.as_deref());
    GitLabSource::fetch(client, &ProjectRef::Path(location.project_path), reference).await
}
