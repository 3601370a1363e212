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
mod linguist_rules;

pub use gitattributes::GitAttributes;
pub use linguist::{language_for_path, Exclusion};

use std::collections::{BTreeMap, HashMap};

/// Files larger than this are listed but never read.
pub const MAX_READ_BYTES: u64 = 1024 * 1024;

/// The estimated size of a file when no file at all was measured (a source that lists no
/// sizes, such as the GitLab tree API): language shares then follow file counts.
pub const NOMINAL_FILE_BYTES: u64 = 1024;

/// A file as a source lists it: a `/`-separated path relative to the root, and its size
/// when the source measured it (sources may measure only a sample: see [`LanguageStats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub path: String,
    pub size: Option<u64>,
    /// What the path alone says, when the source worked it out already (a local walk does,
    /// on its own threads); `None` means [`RepoIndex::build`] works it out.
    pub facts: Option<PathFacts>,
}

impl RawEntry {
    /// An entry whose size was measured.
    pub fn new(path: impl Into<String>, size: u64) -> Self {
        RawEntry {
            path: path.into(),
            size: Some(size),
            facts: None,
        }
    }

    /// An entry whose size was not measured.
    pub fn unmeasured(path: impl Into<String>) -> Self {
        RawEntry {
            path: path.into(),
            size: None,
            facts: None,
        }
    }

    /// The same entry carrying the facts of its path (which must be [`PathFacts::of`] it).
    pub fn with_facts(mut self, facts: PathFacts) -> Self {
        self.facts = Some(facts);
        self
    }

    /// True when the detectors want this file read ([`wants_content`]).
    pub fn wanted(&self) -> bool {
        match &self.facts {
            Some(facts) => facts.wanted,
            None => wants_content(&self.path),
        }
    }
}

/// What a file's path alone says about it, before the repository's `.gitattributes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathFacts {
    /// Language by name or extension ([`language_for_path`]).
    pub language: Option<&'static str>,
    /// Linguist's built-in exclusion (vendored, generated, documentation paths).
    pub exclusion: Option<Exclusion>,
    /// [`wants_content`].
    pub wanted: bool,
    /// The name is a manifest of some ecosystem (`package.json`, `go.mod`, `*.csproj` …).
    pub manifest: bool,
}

impl PathFacts {
    /// The facts of one path.
    pub fn of(path: &str) -> Self {
        FolderFacts::new(parent_dir(path)).file(path)
    }
}

/// Works out [`PathFacts`] for the files of one folder, matching the folder's rules once.
#[derive(Debug, Clone, Copy)]
pub struct FolderFacts {
    exclusion: Option<Exclusion>,
}

impl FolderFacts {
    /// `dir` is the root-relative folder, `""` for the root.
    pub fn new(dir: &str) -> Self {
        FolderFacts {
            exclusion: linguist::dir_exclusion(dir),
        }
    }

    /// The facts of `path`, a file directly in this folder.
    pub fn file(&self, path: &str) -> PathFacts {
        let name = file_name(path);
        PathFacts {
            language: linguist::language_for_name(name),
            exclusion: self.exclusion.or_else(|| linguist::name_exclusion(name)),
            wanted: wants_content(path),
            manifest: crate::detect::is_manifest(name),
        }
    }
}

/// How many counted files had a measured size; when not all did, byte totals are estimates
/// (measured bytes plus the language's mean measured size for each unmeasured file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LanguageStats {
    pub counted_files: usize,
    pub measured_files: usize,
}

impl LanguageStats {
    pub fn estimated(&self) -> bool {
        self.measured_files < self.counted_files
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
    /// Size in bytes, when the source measured it.
    pub size: Option<u64>,
    /// Language for the language share (Linguist names, lowercase), if any.
    pub language: Option<&'static str>,
    /// Why the file does not count toward the language share, if it does not.
    pub excluded: Option<Exclusion>,
    /// Where the name starts in `path` (detectors ask for names of every file, often).
    name_at: u32,
    /// [`PathFacts::manifest`]: asked of every file, and reading the name would be a cache
    /// miss on a large tree.
    manifest: bool,
}

impl IndexedFile {
    /// The file name without its folder.
    pub fn name(&self) -> &str {
        match self.path.get(self.name_at as usize..) {
            Some(name) if self.name_at != u32::MAX => name,
            _ => file_name(&self.path),
        }
    }

    /// True when the name is a manifest of some ecosystem.
    pub fn is_manifest(&self) -> bool {
        self.manifest
    }

    /// The folder holding the file, `""` for the root.
    pub fn dir(&self) -> &str {
        match self.name_at {
            0 => "",
            u32::MAX => parent_dir(&self.path),
            at => self.path.get(..at as usize - 1).unwrap_or(""),
        }
    }
}

/// The index every detector queries.
#[derive(Debug, Default)]
pub struct RepoIndex {
    /// Sorted by path: lookups are binary searches, subtrees are contiguous ranges.
    files: Vec<IndexedFile>,
    /// Folder → its id in `dir_files` and `dir_totals`.
    dir_ids: HashMap<String, u32>,
    dir_files: Vec<Vec<u32>>,
    contents: HashMap<String, Content>,
    /// Mean measured size per language, for files the source did not measure.
    mean_size: HashMap<&'static str, u64>,
    /// The estimate for a language with no measured file: the mean of all measured files,
    /// or [`NOMINAL_FILE_BYTES`] when none was measured.
    fallback_size: u64,
    /// Counted files per folder and language: (files, measured bytes, unmeasured files).
    /// Subtree totals sum folders, not files (a tree has far fewer folders).
    dir_totals: Vec<Vec<(&'static str, u64, u64, u64)>>,
    stats: LanguageStats,
}

impl RepoIndex {
    /// Classifies the entries and keeps the contents that were read.
    pub fn build(mut entries: Vec<RawEntry>, contents: HashMap<String, Content>) -> Self {
        // A local walk lists in path order already; anything else is sorted here.
        let (dir_ids, layout) = match layout(&entries) {
            Some(found) => found,
            None => {
                entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
                entries.dedup_by(|a, b| a.path == b.path);
                // Sorted without duplicates now, so this finds the layout.
                layout(&entries).unwrap_or_default()
            }
        };
        let attributes = GitAttributes::from_contents(&contents);
        let mut classifier = linguist::Classifier::default();
        let mut dir_files: Vec<Vec<u32>> = vec![Vec::new(); dir_ids.len()];
        let mut dir_totals: Vec<Vec<(&'static str, u64, u64, u64)>> =
            vec![Vec::new(); dir_ids.len()];
        let mut measured: HashMap<&'static str, (u64, u64)> = HashMap::new();
        let mut stats = LanguageStats::default();
        let mut position: u32 = 0;
        // Entries become files in place (same size): no second list of 100,000 records. This
        // pass reads no path when the source worked out the facts: paths another thread wrote
        // are cache misses, and `layout` already paid for them once.
        let files: Vec<IndexedFile> = entries
            .into_iter()
            .zip(layout)
            .map(|(entry, (dir_id, name_at))| {
                let (mut language, mut excluded, manifest) = match entry.facts {
                    Some(facts) => (facts.language, facts.exclusion, facts.manifest),
                    None => (
                        language_for_path(&entry.path),
                        classifier.exclusion(&entry.path),
                        crate::detect::is_manifest(file_name(&entry.path)),
                    ),
                };
                if !attributes.is_empty() {
                    let over = attributes.overrides(&entry.path);
                    if let Some(forced) = over.language {
                        language = Some(forced);
                    }
                    excluded = over.apply(excluded);
                }
                if language.is_none() && excluded.is_none() {
                    excluded = Some(Exclusion::NotCode);
                }
                if let (Some(lang), None) = (language, excluded) {
                    stats.counted_files += 1;
                    if let Some(size) = entry.size {
                        stats.measured_files += 1;
                        let m = measured.entry(lang).or_default();
                        m.0 += size;
                        m.1 += 1;
                    }
                    if let Some(totals) = dir_totals.get_mut(dir_id as usize) {
                        let slot = match totals.iter().position(|t| t.0 == lang) {
                            Some(i) => &mut totals[i],
                            None => {
                                totals.push((lang, 0, 0, 0));
                                let last = totals.len() - 1;
                                &mut totals[last]
                            }
                        };
                        slot.1 += 1;
                        match entry.size {
                            Some(size) => slot.2 += size,
                            None => slot.3 += 1,
                        }
                    }
                }
                if let Some(files) = dir_files.get_mut(dir_id as usize) {
                    files.push(position);
                }
                position += 1;
                IndexedFile {
                    name_at,
                    manifest,
                    path: entry.path,
                    size: entry.size,
                    language,
                    excluded,
                }
            })
            .collect();
        let (all_bytes, all_files) = measured
            .values()
            .fold((0u64, 0u64), |(b, n), (bytes, files)| {
                (b + bytes, n + files)
            });
        let fallback_size = all_bytes
            .checked_div(all_files)
            .unwrap_or(NOMINAL_FILE_BYTES);
        let mean_size = measured
            .into_iter()
            .map(|(lang, (bytes, n))| (lang, bytes.checked_div(n).unwrap_or(0)))
            .collect();
        RepoIndex {
            files,
            dir_ids,
            dir_files,
            contents,
            mean_size,
            fallback_size,
            dir_totals,
            stats,
        }
    }

    /// How many counted files had a measured size.
    pub fn language_stats(&self) -> LanguageStats {
        self.stats
    }

    /// The file's size, or the mean measured size of its language when it was not measured.
    pub fn size_or_estimate(&self, f: &IndexedFile) -> u64 {
        match (f.size, f.language) {
            (Some(s), _) => s,
            (None, Some(lang)) => self
                .mean_size
                .get(lang)
                .copied()
                .unwrap_or(self.fallback_size),
            (None, None) => 0,
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
        self.files
            .binary_search_by(|f| f.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.files[i])
    }

    pub fn exists(&self, path: &str) -> bool {
        self.file(path).is_some()
    }

    /// The files directly inside `dir` (`""` for the root).
    pub fn files_in<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a IndexedFile> + 'a {
        self.dir_ids
            .get(dir)
            .map(|&id| &self.dir_files[id as usize])
            .into_iter()
            .flatten()
            .map(move |&i| &self.files[i as usize])
    }

    /// Every folder that directly holds files, with those files (folders in no set order).
    pub fn folders<'a>(
        &'a self,
    ) -> impl Iterator<Item = (&'a str, impl Iterator<Item = &'a IndexedFile> + 'a)> + 'a {
        self.dir_ids.iter().map(move |(dir, &id)| {
            let files = self.dir_files[id as usize]
                .iter()
                .map(move |&i| &self.files[i as usize]);
            (dir.as_str(), files)
        })
    }

    /// Every file below `dir` at any depth (`""` for the whole tree).
    pub fn files_under<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a IndexedFile> + 'a {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        // The subtree is one contiguous range: find both ends by binary search rather than
        // comparing the prefix with every file of it.
        let start = self
            .files
            .partition_point(|f| f.path.as_str() < prefix.as_str());
        let rest = self.files.get(start..).unwrap_or_default();
        let len = rest.partition_point(|f| f.path.starts_with(prefix.as_str()));
        rest.get(..len).unwrap_or_default().iter()
    }

    /// The paths of the files that were read, in no set order.
    pub fn read_paths(&self) -> impl Iterator<Item = &str> {
        self.contents.keys().map(String::as_str)
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

    /// Counted bytes per language below `dir`, largest first (ties by name). Unmeasured
    /// files count at their language's mean measured size.
    pub fn language_bytes(&self, dir: &str) -> Vec<(&'static str, usize, u64)> {
        let mut totals: BTreeMap<&'static str, (usize, u64)> = BTreeMap::new();
        for (d, &id) in &self.dir_ids {
            let langs = &self.dir_totals[id as usize];
            let inside = dir.is_empty()
                || d == dir
                || (d.len() > dir.len() && d.starts_with(dir) && d.as_bytes()[dir.len()] == b'/');
            if !inside {
                continue;
            }
            for &(lang, files, bytes, unmeasured) in langs {
                let mean = self
                    .mean_size
                    .get(lang)
                    .copied()
                    .unwrap_or(self.fallback_size);
                let t = totals.entry(lang).or_default();
                t.0 += files as usize;
                t.1 += bytes + unmeasured * mean;
            }
        }
        let mut out: Vec<_> = totals.into_iter().map(|(l, (n, b))| (l, n, b)).collect();
        out.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
        out
    }
}

/// Where the last `/` of a path is. A plain backward loop: the slash is a few bytes from
/// the end, and this runs for every file many times.
fn last_slash(path: &str) -> Option<usize> {
    path.as_bytes().iter().rposition(|&b| b == b'/')
}

/// Folder → id, and each entry's folder id and where its name starts.
type Layout = (HashMap<String, u32>, Vec<(u32, u32)>);

/// Each entry's folder (an id in the returned map) and where its name starts, in one pass
/// that also checks the entries are sorted by path without duplicates; `None` when they are
/// not.
fn layout(entries: &[RawEntry]) -> Option<Layout> {
    let mut dir_ids: HashMap<String, u32> = HashMap::new();
    let mut layout = Vec::with_capacity(entries.len());
    let mut previous: Option<&str> = None;
    // Consecutive paths mostly share their folder: look the folder up only when it changes.
    let mut last_dir: Option<(&str, u32)> = None;
    for entry in entries {
        let path = entry.path.as_str();
        if previous.is_some_and(|p| p >= path) {
            return None;
        }
        previous = Some(path);
        let dir = parent_dir(path);
        let dir_id = match last_dir {
            Some((d, id)) if d == dir => id,
            _ => {
                let id = match dir_ids.get(dir) {
                    Some(&id) => id,
                    None => {
                        let id = dir_ids.len() as u32;
                        dir_ids.insert(dir.to_string(), id);
                        id
                    }
                };
                last_dir = Some((dir, id));
                id
            }
        };
        let name_at = if dir.is_empty() { 0 } else { dir.len() + 1 };
        layout.push((dir_id, u32::try_from(name_at).unwrap_or(u32::MAX)));
    }
    Some((dir_ids, layout))
}

/// The last component of a `/`-separated path.
pub fn file_name(path: &str) -> &str {
    match last_slash(path) {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// The folder of a `/`-separated path, `""` at the root.
pub fn parent_dir(path: &str) -> &str {
    match last_slash(path) {
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

/// True when a source should read this file for the detectors. Sources enforce
/// [`MAX_READ_BYTES`] when reading.
pub fn wants_content(path: &str) -> bool {
    crate::detect::wants_content(path)
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
    fn entries_and_files_have_one_size_so_build_converts_in_place() {
        assert_eq!(
            std::mem::size_of::<RawEntry>(),
            std::mem::size_of::<IndexedFile>()
        );
        assert_eq!(
            std::mem::align_of::<RawEntry>(),
            std::mem::align_of::<IndexedFile>()
        );
    }

    #[test]
    fn manifests_are_flagged_with_or_without_facts() {
        let plain = idx(&[("web/package.json", 1), ("web/app.js", 1), ("a.csproj", 1)]);
        let with_facts = RepoIndex::build(
            ["web/package.json", "web/app.js", "a.csproj"]
                .into_iter()
                .map(|p| RawEntry::new(p, 1).with_facts(PathFacts::of(p)))
                .collect(),
            HashMap::new(),
        );
        for index in [&plain, &with_facts] {
            let flagged: Vec<&str> = index
                .files()
                .iter()
                .filter(|f| f.is_manifest())
                .map(|f| f.path.as_str())
                .collect();
            assert_eq!(flagged, vec!["a.csproj", "web/package.json"]);
        }
        assert_eq!(plain.files(), with_facts.files());
    }

    #[test]
    fn unsorted_and_repeated_entries_give_the_same_index_as_sorted_ones() {
        let sorted = idx(&[("a.py", 1), ("a/b.py", 2), ("a/c/d.py", 3), ("a0.py", 4)]);
        let shuffled = idx(&[
            ("a/c/d.py", 3),
            ("a0.py", 4),
            ("a.py", 1),
            ("a/b.py", 2),
            ("a.py", 1),
        ]);
        assert_eq!(sorted.files(), shuffled.files());
        for dir in ["", "a", "a/c"] {
            let names = |i: &RepoIndex| {
                i.files_in(dir)
                    .map(|f| f.name().to_string())
                    .collect::<Vec<_>>()
            };
            assert_eq!(names(&sorted), names(&shuffled), "{dir}");
            assert_eq!(
                sorted.language_bytes(dir),
                shuffled.language_bytes(dir),
                "{dir}"
            );
        }
        let f = sorted.file("a/c/d.py").unwrap();
        assert_eq!((f.name(), f.dir()), ("d.py", "a/c"));
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

    #[test]
    fn unmeasured_files_count_at_their_language_mean() {
        let i = RepoIndex::build(
            vec![
                RawEntry::new("a.py", 100),
                RawEntry::new("b.py", 300),
                RawEntry::unmeasured("c.py"),
            ],
            HashMap::new(),
        );
        assert_eq!(i.language_bytes(""), vec![("python", 3, 600)]);
        assert!(i.language_stats().estimated());
    }

    #[test]
    fn with_no_size_measured_at_all_shares_follow_file_counts() {
        let i = RepoIndex::build(
            ["a.js", "b.js", "c.js", "d.ts"]
                .into_iter()
                .map(RawEntry::unmeasured)
                .collect(),
            HashMap::new(),
        );
        assert_eq!(
            i.language_bytes(""),
            vec![
                ("javascript", 3, 3 * NOMINAL_FILE_BYTES),
                ("typescript", 1, NOMINAL_FILE_BYTES)
            ]
        );
    }

    #[test]
    fn a_language_with_no_measured_file_counts_at_the_overall_mean() {
        let i = RepoIndex::build(
            vec![
                RawEntry::new("a.py", 100),
                RawEntry::new("b.py", 300),
                RawEntry::unmeasured("c.rb"),
            ],
            HashMap::new(),
        );
        assert_eq!(
            i.language_bytes(""),
            vec![("python", 2, 400), ("ruby", 1, 200)]
        );
    }
}
