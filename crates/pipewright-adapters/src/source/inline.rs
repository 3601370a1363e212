//! [`InlineSource`]: a repository given as `{path: content}` (the HTTP API's `files`), checked
//! the way a folder on disk would be: paths are relative, `/`-separated, without `..`, and the
//! same pruned folders and size limit apply.

use super::{content_from_bytes, is_pruned};
use pipewright_core::index::{Content, RawEntry};
use pipewright_core::source::{Listing, RepoSource, SourceError};
use std::collections::BTreeMap;

/// Most files an inline repository may hold.
pub const MAX_INLINE_FILES: usize = 20_000;

/// Why an inline repository was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InlineError {
    #[error("`files` is empty; give at least the repository's manifest (for example `package.json` or `pyproject.toml`) with its content")]
    Empty,
    #[error("`files` holds {0} entries; at most {MAX_INLINE_FILES} are accepted: send the manifests and source files, not build output")]
    TooMany(usize),
    #[error("`files` key `{path}` is not a repository path: {reason}")]
    BadPath { path: String, reason: &'static str },
}

/// A repository held in memory.
#[derive(Debug, Clone)]
pub struct InlineSource {
    label: String,
    files: BTreeMap<String, String>,
}

impl InlineSource {
    /// Checks every path and keeps the files; files in pruned folders (`node_modules/` …) are
    /// dropped as a walk would drop them.
    pub fn new(
        label: impl Into<String>,
        files: BTreeMap<String, String>,
    ) -> Result<Self, InlineError> {
        if files.is_empty() {
            return Err(InlineError::Empty);
        }
        if files.len() > MAX_INLINE_FILES {
            return Err(InlineError::TooMany(files.len()));
        }
        for path in files.keys() {
            check_path(path)?;
        }
        let files = files.into_iter().filter(|(p, _)| !is_pruned(p)).collect();
        Ok(InlineSource {
            label: label.into(),
            files,
        })
    }
}

fn check_path(path: &str) -> Result<(), InlineError> {
    let bad = |reason| {
        Err(InlineError::BadPath {
            path: path.chars().take(200).collect(),
            reason,
        })
    };
    if path.is_empty() {
        return bad("it is empty");
    }
    if path.len() > 1024 {
        return bad("it is longer than 1,024 bytes");
    }
    if path.starts_with('/') || path.contains('\\') || path.contains(':') {
        return bad("use a relative path with `/` between folders (like `src/app.py`)");
    }
    if path.contains('\0') || path.chars().any(char::is_control) {
        return bad("it contains control characters");
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return bad("empty, `.` and `..` segments are not allowed");
    }
    Ok(())
}

impl RepoSource for InlineSource {
    fn label(&self) -> &str {
        &self.label
    }

    fn list(&self) -> Result<Listing, SourceError> {
        Ok(Listing {
            entries: self
                .files
                .iter()
                .map(|(path, text)| RawEntry::new(path.clone(), text.len() as u64))
                .collect(),
            warnings: Vec::new(),
        })
    }

    fn read(&self, path: &str, max_bytes: u64) -> Content {
        match self.files.get(path) {
            None => Content::Unreadable("not among the posted files".into()),
            Some(text) if text.len() as u64 > max_bytes => Content::TooLarge(text.len() as u64),
            Some(text) => content_from_bytes(text.as_bytes().to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect()
    }

    #[test]
    fn lists_and_reads_what_was_posted() {
        let src = InlineSource::new(
            "inline",
            files(&[("app.py", "print(1)\n"), ("node_modules/x/index.js", "x")]),
        )
        .unwrap();
        let listing = src.list().unwrap();
        assert_eq!(listing.entries, vec![RawEntry::new("app.py", 9)]);
        assert_eq!(src.read("app.py", 100), Content::Text("print(1)\n".into()));
        assert_eq!(src.read("app.py", 3), Content::TooLarge(9));
        assert!(matches!(src.read("nope", 10), Content::Unreadable(_)));
    }

    #[test]
    fn refuses_paths_that_leave_the_repository() {
        for bad in ["/etc/passwd", "../x", "a/../b", "a//b", "C:\\x", "", "./a"] {
            let err = InlineSource::new("inline", files(&[(bad, "")])).unwrap_err();
            assert!(matches!(err, InlineError::BadPath { .. }), "{bad}: {err}");
        }
        assert_eq!(
            InlineSource::new("inline", BTreeMap::new()).unwrap_err(),
            InlineError::Empty
        );
    }
}
