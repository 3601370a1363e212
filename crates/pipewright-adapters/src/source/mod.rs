//! Repository sources: a local folder ([`LocalSource`]), a shallow git clone ([`GitSource`]),
//! files posted inline ([`InlineSource`]) and the GitLab API (`crate::gitlab::GitLabSource`), all implementing
//! [`pipewright_core::source::RepoSource`].

mod git;
mod inline;
mod local;
mod walk;

pub use git::{redact_url, redact_urls_in, GitSource, GitUrl, DEFAULT_CLONE_TIMEOUT};
pub use inline::{InlineError, InlineSource, MAX_INLINE_FILES};
pub use local::LocalSource;

use pipewright_core::index::Content;

/// Folders no source lists: they never hold a service's own source, and they can be huge.
pub(crate) const PRUNED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "bower_components",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".gradle",
    ".next",
    ".nuxt",
    ".terraform",
    ".idea",
    ".vscode",
];

/// True when a folder of the `/`-separated `path` is one of [`PRUNED_DIRS`].
pub(crate) fn is_pruned(path: &str) -> bool {
    let mut components = path.split('/');
    components.next_back();
    components.any(|c| PRUNED_DIRS.contains(&c))
}

/// How many leading bytes are checked for NUL to call a file binary.
const BINARY_SNIFF: usize = 8000;

/// Text when the bytes are UTF-8 without NUL in their first 8,000; binary otherwise.
pub(crate) fn content_from_bytes(bytes: Vec<u8>) -> Content {
    if bytes[..bytes.len().min(BINARY_SNIFF)].contains(&0) {
        return Content::Binary;
    }
    match String::from_utf8(bytes) {
        Ok(text) => Content::Text(text),
        Err(_) => Content::Binary,
    }
}

/// Writing test trees, for the local source's and the walk's tests.
#[cfg(test)]
pub(crate) mod test_files {
    use std::fs;
    use std::path::Path;

    /// Writes `text` at `rel` under `root`, making the folders.
    pub fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(p, text).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_folders_are_pruned() {
        assert!(is_pruned("web/node_modules/x/package.json"));
        assert!(is_pruned(".git/config"));
        assert!(!is_pruned("node_modules"));
        assert!(!is_pruned("src/venv_tools.py"));
    }
}
