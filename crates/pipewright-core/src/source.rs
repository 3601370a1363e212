//! The contract every repository source fulfils: list the tree once, read a file by path.
//!
//! Implementations (a local folder, a shallow git clone, the GitLab API) live in the adapters
//! crate; the core only defines what they must answer, so the analyzer never knows where a
//! repository came from.

use crate::index::{Content, RawEntry};

/// A listing of the whole tree, with the problems met along the way.
#[derive(Debug, Default)]
pub struct Listing {
    pub entries: Vec<RawEntry>,
    /// Parts of the tree that could not be listed (permission denied …), as messages.
    pub warnings: Vec<String>,
}

/// A repository whose files can be listed and read.
pub trait RepoSource: Send + Sync {
    /// How the user named the repository (a path or a URL with any credentials removed).
    fn label(&self) -> &str;
    /// Lists every file once (ignore rules applied where the source can apply them).
    fn list(&self) -> Result<Listing, SourceError>;
    /// Reads one file by its root-relative path, at most `max_bytes`.
    fn read(&self, path: &str, max_bytes: u64) -> Content;
}

/// Why a repository could not be opened or listed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("`{0}` does not exist; give the path of a repository folder or a git URL")]
    NotFound(String),
    #[error("`{0}` is a file, not a folder; give the repository's folder")]
    NotADirectory(String),
    #[error("`{path}` cannot be read: {reason}; check its permissions")]
    Unreadable { path: String, reason: String },
    #[error("`{url}` uses an unsupported scheme; use a local path, https://, ssh://, git@host:path or file://")]
    UnsupportedScheme { url: String },
    #[error("`git` is needed to clone `{url}` but could not be started: {reason}; install git or analyze a local folder")]
    GitMissing { url: String, reason: String },
    #[error("cloning `{url}` failed: {stderr}; check the URL, your access to it, and the ref")]
    CloneFailed { url: String, stderr: String },
    #[error("cloning `{url}` took longer than {seconds} s and was stopped; raise --clone-timeout or clone it yourself and analyze the folder")]
    CloneTimedOut { url: String, seconds: u64 },
    #[error("{0}; fix the value or remove it (see the pipewright.toml reference in the README)")]
    BadOverrides(#[from] crate::overrides::OverrideError),
    #[error("{0}")]
    Other(String),
}

impl SourceError {
    /// True when the user named something wrong (as opposed to the source being unreachable).
    pub fn is_usage_error(&self) -> bool {
        matches!(
            self,
            SourceError::NotFound(_)
                | SourceError::NotADirectory(_)
                | SourceError::Unreadable { .. }
                | SourceError::UnsupportedScheme { .. }
                | SourceError::BadOverrides(_)
        )
    }
}
