//! The repository index: every file of the tree, listed once, plus the contents of the few
//! files detectors need.
//!
//! A source adapter walks (or lists) the tree exactly once and hands over [`RawEntry`]s and
//! the [`Content`] of each file [`wants_content`] asked for. [`RepoIndex::build`] then
//! classifies every path the way Linguist does (vendored, generated, documentation, and the
//! repository's own `.gitattributes` overrides) and answers every detector query from memory.
//! No detector walks the tree again.
//!
//! ```
//! use pipewright_core::index::{Content, RawEntry, RepoIndex};
//! let index = RepoIndex::build(
//!     vec![RawEntry::new("app.py", 12), RawEntry::new("node_modules/x/index.js", 900)],
//!     [("app.py".to_string(), Content::Text("import flask\n".into()))].into(),
//! );
//! assert_eq!(index.text("app.py"), Some("import flask\n"));
//! assert!(index.file("node_modules/x/index.js").unwrap().excluded.is_some());
//! ```

mod gitattributes;
mod linguist;

pub use gitattributes::GitAttributes;
pub use linguist::{language_for_path, Exclusion};

use std::collections::{BTreeMap, HashMap};

/// Files larger than this are listed but never read.
pub const MAX_READ_BYTES: u64 = 1024 * 1024;

/// A file as a source lists it: a `/`-separated path relative to the root, and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub path: String,
    pub size: u64,
}

impl RawEntry {
    pub fn new(path: impl Into<String>, size: u64) -> Self {
        RawEntry {
            path: path.into(),
            size,
        }
    }
}

/// What reading a file gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text(String),
    /// Not read because it holds NUL bytes or is not UTF-8.
    Binary,
    /// Not read because it is larger than [`MAX_READ_BYTES`].
    TooLarge(u64),
    /// Reading failed; the reason is kept for the warnings.
    Unreadable(String),
}

/// One file of the index with its classification.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedFile {
    pub path: String,
    pub size: u64,
    /// Language for the language share (Linguist names, lowercase), if any.
    pub language: Option<&'static str>,
    /// Why the file does not count toward the language share, if it does not.
    pub excluded: Option<Exclusion>,
}

impl IndexedFile {
    /// The file name without its folder.
    pub fn name(&self) -> &str {
        file_name(&self.path)
    }

    /// The folder holding the file, `""` for the root.
    pub fn dir(&self) -> &str {
        parent_dir(&self.path)
    }
}

/// The index every detector queries.
#[derive(Debug, Default)]
pub struct RepoIndex {
    files: Vec<IndexedFile>,
    by_path: HashMap<String, usize>,
    by_dir: HashMap<String, Vec<usize>>,
    contents: HashMap<String, Content>,
}

impl RepoIndex {
    /// Classifies the entries and keeps the contents that were read.
    pub fn build(mut entries: Vec<RawEntry>, contents: HashMap<String, Content>) -> Self {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries.dedup_by(|a, b| a.path == b.path);
        let attributes = GitAttributes::from_contents(&contents);
        let mut files = Vec::with_capacity(entries.len());
        let mut by_path = HashMap::with_capacity(entries.len());
        let mut by_dir: HashMap<String, Vec<usize>> = HashMap::new();
        for entry in entries {
            let over = attributes.overrides(&entry.path);
            let mut language = language_for_path(&entry.path);
            if let Some(forced) = over.language {
                language = Some(forced);
            }
            let mut excluded = linguist::exclusion(&entry.path);
            excluded = over.apply(excluded);
            if language.is_none() && excluded.is_none() {
                excluded = Some(Exclusion::NotCode);
            }
            let idx = files.len();
            by_path.insert(entry.path.clone(), idx);
            by_dir
                .entry(parent_dir(&entry.path).to_string())
                .or_default()
                .push(idx);
            files.push(IndexedFile {
                path: entry.path,
                size: entry.size,
                language,
                excluded,
            });
        }
        RepoIndex {
            files,
            by_path,
            by_dir,
            contents,
        }
    }

    /// Every file, sorted by path.
    pub fn files(&self) -> &[IndexedFile] {
        &self.files
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn file(&self, path: &str) -> Option<&IndexedFile> {
        self.by_path.get(path).map(|&i| &self.files[i])
    }

    pub fn exists(&self, path: &str) -> bool {
        self.by_path.contains_key(path)
    }

    /// The files directly inside `dir` (`""` for the root).
    pub fn files_in<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a IndexedFile> + 'a {
        self.by_dir
            .get(dir)
            .into_iter()
            .flatten()
            .map(move |&i| &self.files[i])
    }

    /// Every file below `dir` at any depth (`""` for the whole tree).
    pub fn files_under<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a IndexedFile> + 'a {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let start = self
            .files
            .partition_point(|f| f.path.as_str() < prefix.as_str());
        self.files[start..]
            .iter()
            .take_while(move |f| f.path.starts_with(&prefix))
    }

    /// Every folder that holds at least one file, sorted.
    pub fn dirs(&self) -> Vec<&str> {
        let mut dirs: Vec<&str> = self.by_dir.keys().map(String::as_str).collect();
        dirs.sort_unstable();
        dirs
    }

    /// What reading `path` gave, if it was read.
    pub fn content(&self, path: &str) -> Option<&Content> {
        self.contents.get(path)
    }

    /// The text of `path`, if it was read and is text.
    pub fn text(&self, path: &str) -> Option<&str> {
        match self.contents.get(path) {
            Some(Content::Text(t)) => Some(t),
            _ => None,
        }
    }

    /// How many files were read.
    pub fn files_read(&self) -> usize {
        self.contents.len()
    }

    /// Counted bytes per language below `dir`, largest first (ties by name).
    pub fn language_bytes(&self, dir: &str) -> Vec<(&'static str, usize, u64)> {
        let mut totals: BTreeMap<&'static str, (usize, u64)> = BTreeMap::new();
        for f in self.files_under(dir) {
            if let (Some(lang), None) = (f.language, f.excluded) {
                let t = totals.entry(lang).or_default();
                t.0 += 1;
                t.1 += f.size;
            }
        }
        let mut out: Vec<_> = totals.into_iter().map(|(l, (n, b))| (l, n, b)).collect();
        out.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
        out
    }
}

/// The last component of a `/`-separated path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The folder of a `/`-separated path, `""` at the root.
pub fn parent_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i],
        None => "",
    }
}

/// Joins a folder (`""` for the root) and a relative path.
pub fn join(dir: &str, rest: &str) -> String {
    if dir.is_empty() {
        rest.to_string()
    } else {
        format!("{dir}/{rest}")
    }
}

/// True when a source should read this file for the detectors (and it is not too large).
pub fn wants_content(path: &str, size: u64) -> bool {
    size <= MAX_READ_BYTES && crate::detect::wants_content(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(paths: &[(&str, u64)]) -> RepoIndex {
        RepoIndex::build(
            paths.iter().map(|(p, s)| RawEntry::new(*p, *s)).collect(),
            HashMap::new(),
        )
    }

    #[test]
    fn files_under_a_folder_do_not_include_its_prefix_siblings() {
        let i = idx(&[("api/a.py", 1), ("api2/b.py", 1), ("api/x/c.py", 1)]);
        let under: Vec<&str> = i.files_under("api").map(|f| f.path.as_str()).collect();
        assert_eq!(under, vec!["api/a.py", "api/x/c.py"]);
    }

    #[test]
    fn language_bytes_leave_out_vendored_files() {
        let i = idx(&[("app.py", 100), ("third_party/lib.c", 10_000)]);
        let langs = i.language_bytes("");
        assert_eq!(langs, vec![("python", 1, 100)]);
    }
}
