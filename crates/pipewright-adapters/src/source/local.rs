//! A repository in a local folder, listed by one parallel walk (see `walk.rs`).
//!
//! `.gitignore` and `.ignore` files are honoured even without a `.git` folder; `.git` and
//! folders that never hold source (`node_modules`, virtualenvs, tool caches) are pruned during
//! the walk. Symbolic links are never followed into folders; a link to a file is kept only
//! when its target lies inside the repository. Sizes are measured for every code file up to
//! 2,000 per language and a 1-in-64 sample beyond (a `stat` costs more than the walk itself);
//! only files the detectors want are read (up to a size cap; binary files are not read).

use super::{content_from_bytes, walk};
use pipewright_core::index::Content;
use pipewright_core::source::{Listing, RepoSource, SourceError};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A repository folder on this machine.
#[derive(Debug, Clone)]
pub struct LocalSource {
    root: PathBuf,
    label: String,
}

impl LocalSource {
    /// Opens a folder, checking that it exists, is a folder, and can be listed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SourceError> {
        Self::open_labelled(path.as_ref(), &path.as_ref().display().to_string())
    }

    /// Opens a folder but names it `label` in output (used for clones).
    pub fn open_labelled(path: &Path, label: &str) -> Result<Self, SourceError> {
        let shown = path.display().to_string();
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SourceError::NotFound(shown))
            }
            Err(e) => {
                return Err(SourceError::Unreadable {
                    path: shown,
                    reason: e.to_string(),
                })
            }
        };
        if !meta.is_dir() {
            return Err(SourceError::NotADirectory(shown));
        }
        if let Err(e) = fs::read_dir(path) {
            return Err(SourceError::Unreadable {
                path: shown,
                reason: e.to_string(),
            });
        }
        let root = fs::canonicalize(path).map_err(|e| SourceError::Unreadable {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Ok(LocalSource {
            root,
            label: label.to_string(),
        })
    }

    /// The canonical folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl RepoSource for LocalSource {
    fn label(&self) -> &str {
        &self.label
    }

    fn list(&self) -> Result<Listing, SourceError> {
        Ok(walk::list(&self.root))
    }

    fn read(&self, path: &str, max_bytes: u64) -> Content {
        if path.split('/').any(|c| c == "..") {
            return Content::Unreadable("path leaves the repository".to_string());
        }
        let full = self.root.join(path);
        match fs::canonicalize(&full) {
            Ok(target) if !target.starts_with(&self.root) => {
                return Content::Unreadable("path leaves the repository".to_string())
            }
            Err(e) => return Content::Unreadable(e.to_string()),
            Ok(_) => {}
        }
        // Only a regular file, opened without blocking: a FIFO or a device in a repository
        // must not hang or flood the analysis.
        let (file, meta) = match crate::regular_file::open_regular(&full) {
            Ok(opened) => opened,
            Err(e) => return Content::Unreadable(e.to_string()),
        };
        let size = meta.len();
        if size > max_bytes {
            return Content::TooLarge(size);
        }
        let mut bytes = Vec::with_capacity(size as usize);
        if let Err(e) = file.take(max_bytes + 1).read_to_end(&mut bytes) {
            return Content::Unreadable(e.to_string());
        }
        if bytes.len() as u64 > max_bytes {
            return Content::TooLarge(bytes.len() as u64);
        }
        content_from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::test_files::write;

    #[test]
    fn gitignore_is_honoured_without_a_git_folder() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".gitignore", "build/\n*.log\n");
        write(dir.path(), "app.py", "x");
        write(dir.path(), "build/out.py", "x");
        write(dir.path(), "debug.log", "x");
        write(dir.path(), "node_modules/a/index.js", "x");
        let src = LocalSource::open(dir.path()).unwrap();
        let mut paths: Vec<String> = src
            .list()
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.path)
            .collect();
        paths.sort();
        assert_eq!(paths, vec![".gitignore", "app.py"]);
    }

    #[test]
    fn symlinks_out_of_the_repository_and_loops_are_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret.py", "x");
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "app.py", "x");
        std::os::unix::fs::symlink(outside.path().join("secret.py"), dir.path().join("leak.py"))
            .unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("app.py"), dir.path().join("alias.py")).unwrap();
        let src = LocalSource::open(dir.path()).unwrap();
        let listing = src.list().unwrap();
        let mut paths: Vec<String> = listing.entries.into_iter().map(|e| e.path).collect();
        paths.sort();
        assert_eq!(paths, vec!["alias.py", "app.py"]);
        assert!(listing.warnings.iter().any(|w| w.contains("leak.py")));
        assert!(matches!(src.read("leak.py", 100), Content::Unreadable(_)));
    }

    #[test]
    fn large_and_binary_files_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "big.txt", &"x".repeat(200));
        fs::write(dir.path().join("bin.dat"), [0u8, 1, 2]).unwrap();
        let src = LocalSource::open(dir.path()).unwrap();
        assert_eq!(src.read("big.txt", 100), Content::TooLarge(200));
        assert_eq!(src.read("bin.dat", 100), Content::Binary);
    }

    #[test]
    fn missing_path_and_file_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "f.txt", "x");
        assert!(matches!(
            LocalSource::open(dir.path().join("nope")),
            Err(SourceError::NotFound(_))
        ));
        assert!(matches!(
            LocalSource::open(dir.path().join("f.txt")),
            Err(SourceError::NotADirectory(_))
        ));
    }
}
