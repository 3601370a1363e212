//! The one walk of a local tree: folders read on two threads (`getdents64` into a reused
//! buffer on Linux, `std::fs::read_dir` elsewhere), file types from the directory entries
//! themselves (no `stat`), ignore rules matched with the `ignore` crate's `Gitignore`
//! matchers built only for folders holding a `.gitignore` or `.ignore`. Each folder's
//! entries are sorted on the thread that read it and the path facts of its files worked out
//! there too, so the listing comes back in path order with little left for the index to do.
//!
//! What is listed is what `ignore::WalkBuilder` listed with `hidden(false)`,
//! `require_git(false)`, no parent, global or `info/exclude` rules, links not followed, and
//! [`PRUNED_DIRS`] filtered out:
//! - a path is matched against the `.ignore` files of its folder and every folder above it up
//!   to the root, the nearest first, then likewise against the `.gitignore` files; the first
//!   rule that matches decides (ignore or negation `!`), and a `.ignore` decision wins over a
//!   `.gitignore` one; an ignored folder is not entered;
//! - hidden files are listed; `.gitignore` is honoured with or without a `.git` folder;
//! - symbolic links are never followed into folders; a link to a file is kept only when its
//!   target lies inside the root; an ignore file is read only when it is a file or a link to
//!   a file inside the root (never a link out of it, nor a pipe that would block the read);
//! - a folder that cannot be read, and a path that is not UTF-8, become warnings.

use super::PRUNED_DIRS;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;
use pipewright_core::index::{file_name, FolderFacts, PathFacts, RawEntry};
use pipewright_core::source::Listing;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Sizes are measured for this many code files per language, then for one in
/// [`SAMPLE_STRIDE`]: a `stat` costs more than the rest of the walk, and the language share
/// only needs totals (the index estimates unmeasured files at their language's mean size).
const MEASURE_ALL_UP_TO: u32 = 2000;
const SAMPLE_STRIDE: u32 = 64;

/// The patterns kept from one `.gitignore` or `.ignore` file (real ones hold tens to a few
/// hundred); the rest are dropped with a warning.
pub const MAX_IGNORE_PATTERNS: usize = 10_000;

/// The largest ignore file read (past [`MAX_IGNORE_PATTERNS`] lines of long patterns).
const MAX_IGNORE_BYTES: u64 = 4 * 1024 * 1024;

/// Threads reading folders, the calling thread included.
const WALK_THREADS: usize = 2;

/// Folders the calling thread reads alone before a helper is started (see [`list`]).
const SOLO_FOLDERS: usize = 48;

/// Whether [`Walk::work`] read every folder or stopped at its limit.
#[derive(Debug, PartialEq, Eq)]
enum Progress {
    Done,
    Stopped,
}

/// Lists every file below `root` (a canonical folder), sorted by path.
pub(crate) fn list(root: &Path) -> Listing {
    let walk = Walk {
        root,
        queue: Mutex::new(Queue {
            jobs: vec![DirJob {
                id: 0,
                abs: root.to_path_buf(),
                rel: Vec::new(),
                rules: None,
            }],
            busy: 0,
        }),
        wake: Condvar::new(),
        seen: Mutex::new(HashMap::new()),
        next_id: AtomicUsize::new(1),
    };
    // Small trees are read on this thread alone: a helper thread costs more to start (its
    // stack, its allocator arena) than a few dozen folders take to read. Only when
    // `SOLO_FOLDERS` have been read and more are waiting does a helper join in.
    let mut first = Part::default();
    let mut scratch = Scratch::default();
    if walk.work(&mut first, &mut scratch, Some(SOLO_FOLDERS)) == Progress::Done {
        return walk.join(vec![first]);
    }
    // The helpers stop with the calling thread's work (a request past its time limit).
    let flag = pipewright_core::cancel::current_flag();
    let parts = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..WALK_THREADS)
            .map(|_| {
                let flag = flag.clone();
                s.spawn(|| {
                    let run = || {
                        let mut part = Part::default();
                        walk.work(&mut part, &mut Scratch::default(), None);
                        part
                    };
                    match flag {
                        Some(flag) => pipewright_core::cancel::with_flag(flag, run),
                        None => run(),
                    }
                })
            })
            .collect();
        walk.work(&mut first, &mut scratch, None);
        let mut parts = vec![first];
        for helper in helpers {
            match helper.join() {
                Ok(part) => parts.push(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        parts
    });
    walk.join(parts)
}

impl Walk<'_> {
    /// The listing from every thread's share, in path order.
    fn join(&self, parts: Vec<Part>) -> Listing {
        // Every folder's items are in path order: joining them depth first gives the whole
        // listing in path order, so the index does not sort it again.
        let mut folders: Vec<Vec<Item>> = Vec::new();
        folders.resize_with(self.next_id.load(Ordering::Relaxed), Vec::new);
        let mut listing = Listing::default();
        let mut files = 0;
        for part in parts {
            for (id, items) in part.folders {
                files += items.len();
                if let Some(slot) = folders.get_mut(id) {
                    *slot = items;
                }
            }
            listing.warnings.extend(part.warnings);
        }
        listing.warnings.sort();
        listing.entries.reserve_exact(files);
        let root_items = folders.first_mut().map(std::mem::take).unwrap_or_default();
        let mut stack = vec![root_items.into_iter()];
        while let Some(top) = stack.last_mut() {
            match top.next() {
                Some(Item::File(entry)) => listing.entries.push(entry),
                Some(Item::Dir { id, .. }) => {
                    if let Some(items) = folders.get_mut(id) {
                        stack.push(std::mem::take(items).into_iter());
                    }
                }
                None => {
                    stack.pop();
                }
            }
        }
        listing
    }
}

/// One folder waiting to be read.
struct DirJob {
    /// Where its items go in the joined listing.
    id: usize,
    abs: PathBuf,
    /// Root-relative, `/`-separated, `""` for the root (bytes: it may not be UTF-8).
    rel: Vec<u8>,
    /// The ignore rules in force in this folder, nearest folder first.
    rules: Option<Arc<Rules>>,
}

/// What a folder holds: files, and folders whose items come in their place.
enum Item {
    File(RawEntry),
    Dir { name: Vec<u8>, id: usize },
}

impl Item {
    /// The name, and whether a `/` follows it in the paths below.
    fn key(&self) -> (&[u8], bool) {
        match self {
            Item::File(entry) => (file_name(&entry.path).as_bytes(), false),
            Item::Dir { name, .. } => (name, true),
        }
    }
}

/// The order of full paths, from names alone: a folder sorts as its name followed by `/`.
fn path_order(a: &Item, b: &Item) -> std::cmp::Ordering {
    let ((a, a_dir), (b, b_dir)) = (a.key(), b.key());
    let n = a.len().min(b.len());
    a[..n].cmp(&b[..n]).then_with(|| {
        let next = |s: &[u8], dir: bool| s.get(n).copied().or(dir.then_some(b'/'));
        next(a, a_dir).cmp(&next(b, b_dir))
    })
}

/// Sorts a folder's items into [`path_order`]. Sorted as small keys (the first eight bytes
/// of the name, then the position) so that most comparisons are one integer comparison;
/// the items then move once, in place.
fn sort(items: &mut [Item]) {
    let mut order: Vec<(u64, usize)> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let (name, dir) = item.key();
            let mut prefix = [0u8; 8];
            for (slot, &b) in prefix
                .iter_mut()
                .zip(name.iter().chain(dir.then_some(&b'/')))
            {
                *slot = b;
            }
            (u64::from_be_bytes(prefix), i)
        })
        .collect();
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| path_order(&items[a.1], &items[b.1]))
    });
    // Where each item goes, then swaps along the cycles of that permutation.
    let mut dest = vec![0; order.len()];
    for (to, &(_, from)) in order.iter().enumerate() {
        dest[from] = to;
    }
    for i in 0..items.len() {
        while dest[i] != i {
            let to = dest[i];
            items.swap(i, to);
            dest.swap(i, to);
        }
    }
}

/// One thread's share of the walk.
#[derive(Default)]
struct Part {
    folders: Vec<(usize, Vec<Item>)>,
    warnings: Vec<String>,
}

/// The `.ignore` and `.gitignore` of one folder, linked to those of the folders above it.
struct Rules {
    /// Root-relative folder holding the files.
    dir: Vec<u8>,
    ignore: Gitignore,
    gitignore: Gitignore,
    parent: Option<Arc<Rules>>,
}

impl Rules {
    /// True when the nearest matching rule ignores `rel` (a `.ignore` decision first).
    fn ignores(&self, rel: &[u8], is_dir: bool) -> bool {
        let mut from_ignore = Match::None;
        let mut from_gitignore = Match::None;
        let mut rules = Some(self);
        while let Some(r) = rules {
            // Each matcher sees the path relative to its own folder.
            let below = if r.dir.is_empty() {
                rel
            } else {
                rel.get(r.dir.len() + 1..).unwrap_or(rel)
            };
            let below = Path::new(os_str(below));
            if from_ignore.is_none() {
                from_ignore = r.ignore.matched(below, is_dir).map(|_| ());
            }
            if from_gitignore.is_none() {
                from_gitignore = r.gitignore.matched(below, is_dir).map(|_| ());
            }
            if !from_ignore.is_none() {
                break;
            }
            rules = r.parent.as_deref();
        }
        from_ignore.or(from_gitignore).is_ignore()
    }
}

struct Queue {
    jobs: Vec<DirJob>,
    /// Threads reading a folder (which may add jobs).
    busy: usize,
}

struct Walk<'a> {
    root: &'a Path,
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Code files seen so far per language, for the size sample.
    seen: Mutex<HashMap<&'static str, u32>>,
    next_id: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Buffers one thread reuses from folder to folder.
#[derive(Default)]
struct Scratch {
    /// For `getdents64`.
    buf: Vec<u8>,
    entries: Vec<(Vec<u8>, Kind)>,
    files: Vec<Found>,
}

/// A file of one folder, before sizes are decided.
struct Found {
    path: String,
    /// Where the name starts in `path`.
    name_at: usize,
    facts: PathFacts,
}

impl Walk<'_> {
    /// Takes folders off the shared stack until none is left and no thread can add one, or
    /// until `limit` folders have been read while others still wait (those stay queued).
    fn work(&self, out: &mut Part, scratch: &mut Scratch, limit: Option<usize>) -> Progress {
        let mut next: Option<DirJob> = None;
        let mut read = 0;
        loop {
            if limit.is_some_and(|limit| read >= limit) {
                let mut queue = lock(&self.queue);
                if let Some(job) = next.take() {
                    queue.jobs.push(job);
                    queue.busy -= 1;
                }
                if !queue.jobs.is_empty() {
                    return Progress::Stopped;
                }
            }
            let job = match next.take() {
                Some(job) => job,
                None => {
                    let mut queue = lock(&self.queue);
                    loop {
                        if let Some(job) = queue.jobs.pop() {
                            queue.busy += 1;
                            break job;
                        }
                        if queue.busy == 0 {
                            self.wake.notify_all();
                            return Progress::Done;
                        }
                        queue = self
                            .wake
                            .wait(queue)
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                    }
                }
            };
            read += 1;
            // Cancelled: the folders still queued are taken off unread, so every thread ends.
            let mut children = if pipewright_core::cancel::requested() {
                Vec::new()
            } else {
                self.read_dir(job, out, scratch)
            };
            // Keep one folder for this thread (depth first), share the rest.
            next = children.pop();
            let mut queue = lock(&self.queue);
            if next.is_none() {
                queue.busy -= 1;
            }
            if !children.is_empty() {
                queue.jobs.append(&mut children);
                self.wake.notify_all();
            } else if queue.busy == 0 && queue.jobs.is_empty() {
                self.wake.notify_all();
            }
        }
    }

    /// Lists one folder into `out`; returns the folders to enter.
    fn read_dir(&self, job: DirJob, out: &mut Part, scratch: &mut Scratch) -> Vec<DirJob> {
        let not_listed =
            |path: &Path, e: &std::io::Error| format!("not listed: {}: {e}", path.display());
        let folder = match Folder::open(&job.abs) {
            Ok(folder) => folder,
            Err(e) => {
                out.warnings.push(not_listed(&job.abs, &e));
                return Vec::new();
            }
        };
        // Every entry as its root-relative path (the one allocation per file).
        let name_at = if job.rel.is_empty() {
            0
        } else {
            job.rel.len() + 1
        };
        let Scratch {
            buf,
            entries,
            files,
        } = scratch;
        entries.clear();
        files.clear();
        let (mut ignore_kind, mut gitignore_kind) = (None, None);
        let result = folder.entries(buf, |name, kind| {
            let kind = match kind {
                Some(kind) => kind,
                None => match folder.kind_of(name) {
                    Ok(kind) => kind,
                    Err(e) => {
                        out.warnings
                            .push(not_listed(&job.abs.join(os_str(name)), &e));
                        return;
                    }
                },
            };
            if name == b".ignore" {
                ignore_kind = Some(kind);
            } else if name == b".gitignore" {
                gitignore_kind = Some(kind);
            }
            let mut rel = Vec::with_capacity(name_at + name.len());
            if name_at > 0 {
                rel.extend_from_slice(&job.rel);
                rel.push(b'/');
            }
            rel.extend_from_slice(name);
            entries.push((rel, kind));
        });
        if let Err(e) = result {
            out.warnings.push(not_listed(&job.abs, &e));
        }
        let rules = if ignore_kind.is_some() || gitignore_kind.is_some() {
            Some(Arc::new(Rules {
                ignore: self.ignore_file(&job.abs, &job.rel, ".ignore", ignore_kind, out),
                gitignore: self.ignore_file(&job.abs, &job.rel, ".gitignore", gitignore_kind, out),
                dir: job.rel.clone(),
                parent: job.rules,
            }))
        } else {
            job.rules
        };

        let mut dirs = Vec::new();
        let mut items = Vec::with_capacity(entries.len());
        // Not UTF-8: nothing below is listed, so no facts are needed.
        let facts = std::str::from_utf8(&job.rel).ok().map(FolderFacts::new);
        for (rel, kind) in entries.drain(..) {
            let name = rel.get(name_at..).unwrap_or_default();
            if let Some(rules) = &rules {
                if rules.ignores(&rel, kind == Kind::Dir) {
                    continue;
                }
            }
            if kind == Kind::Dir {
                if std::str::from_utf8(name).is_ok_and(|n| PRUNED_DIRS.contains(&n)) {
                    continue;
                }
                let abs = job.abs.join(os_str(name));
                if std::str::from_utf8(&rel).is_err() {
                    out.warnings.push(not_utf8(&abs));
                }
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                items.push(Item::Dir {
                    name: name.to_vec(),
                    id,
                });
                dirs.push(DirJob {
                    id,
                    abs,
                    rel,
                    rules: rules.clone(),
                });
                continue;
            }
            let path = match String::from_utf8(rel) {
                Ok(path) => path,
                Err(e) => {
                    let name = e.as_bytes().get(name_at..).unwrap_or_default();
                    out.warnings.push(not_utf8(&job.abs.join(os_str(name))));
                    continue;
                }
            };
            match kind {
                Kind::File => {
                    let facts = match &facts {
                        Some(facts) => facts.file(&path),
                        None => PathFacts::of(&path),
                    };
                    files.push(Found {
                        path,
                        name_at,
                        facts,
                    });
                }
                Kind::Symlink => {
                    let full = job.abs.join(path.get(name_at..).unwrap_or_default());
                    if let Some(entry) = self.link(&full, path, out) {
                        items.push(Item::File(entry));
                    }
                }
                Kind::Dir | Kind::Other => {}
            }
        }
        self.measure(&folder, files, &mut items);
        sort(&mut items);
        out.folders.push((job.id, items));
        dirs
    }

    /// The matcher for one ignore file of `dir`; empty when there is none or it cannot be
    /// read (as with the `ignore` crate, a bad line is skipped without a warning). At most
    /// [`MAX_IGNORE_BYTES`] are read and [`MAX_IGNORE_PATTERNS`] patterns kept, with a
    /// warning naming the file when it holds more (200,000 patterns took 15 s to match).
    fn ignore_file(
        &self,
        dir: &Path,
        rel: &[u8],
        name: &str,
        kind: Option<Kind>,
        out: &mut Part,
    ) -> Gitignore {
        let path = dir.join(name);
        match kind {
            Some(Kind::File) => {}
            // A link is read only when it leads to a file inside the repository.
            Some(Kind::Symlink) => match fs::canonicalize(&path) {
                Ok(target)
                    if target.starts_with(self.root)
                        && fs::metadata(&target).is_ok_and(|m| m.is_file()) => {}
                _ => return Gitignore::empty(),
            },
            // Nothing, a folder, or a pipe or device (which could block a read).
            _ => return Gitignore::empty(),
        }
        let shown = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", String::from_utf8_lossy(rel))
        };
        let text = match crate::regular_file::read_bytes(&path, MAX_IGNORE_BYTES) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(crate::regular_file::ReadError::TooLarge { limit }) => {
                out.warnings.push(format!(
                    "{shown}: larger than {limit} bytes, not read; its patterns are not applied"
                ));
                return Gitignore::empty();
            }
            Err(_) => return Gitignore::empty(),
        };
        let mut builder = GitignoreBuilder::new(dir);
        let mut patterns = 0usize;
        for line in text.lines() {
            let pattern = line.trim();
            if pattern.is_empty() || pattern.starts_with('#') {
                continue;
            }
            if patterns == MAX_IGNORE_PATTERNS {
                out.warnings.push(format!(
                    "{shown}: more than {MAX_IGNORE_PATTERNS} patterns; only the first {MAX_IGNORE_PATTERNS} are applied"
                ));
                break;
            }
            patterns += 1;
            let _ = builder.add_line(Some(path.clone()), line);
        }
        builder.build().unwrap_or_else(|_| Gitignore::empty())
    }

    /// Keeps a link to a file inside the repository; links out of it, links to folders and
    /// dangling links are not followed.
    fn link(&self, full: &Path, rel: String, out: &mut Part) -> Option<RawEntry> {
        match fs::canonicalize(full) {
            Ok(target) if target.starts_with(self.root) => match fs::metadata(&target) {
                Ok(meta) if meta.is_file() => return Some(RawEntry::new(rel, meta.len())),
                _ => {}
            },
            Ok(_) => out.warnings.push(format!(
                "{rel}: symbolic link out of the repository, not followed"
            )),
            Err(e) => out
                .warnings
                .push(format!("{rel}: symbolic link not followed: {e}")),
        }
        None
    }

    /// Adds one folder's files, measuring every code file up to [`MEASURE_ALL_UP_TO`] per
    /// language (over the whole walk) and one in [`SAMPLE_STRIDE`] beyond.
    fn measure(&self, folder: &Folder, files: &mut Vec<Found>, items: &mut Vec<Item>) {
        // Reserve this folder's places in the per-language counts with one lock.
        let mut counts: Vec<(&'static str, u32)> = Vec::new();
        for f in files.iter() {
            if let Some(lang) = f.facts.language {
                match counts.iter_mut().find(|(l, _)| *l == lang) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((lang, 1)),
                }
            }
        }
        if !counts.is_empty() {
            let mut seen = lock(&self.seen);
            for (lang, n) in &mut counts {
                let total = seen.entry(*lang).or_default();
                let first = *total;
                *total = total.saturating_add(*n);
                *n = first;
            }
        }
        for f in files.drain(..) {
            let measure = match f.facts.language {
                Some(lang) => {
                    counts
                        .iter_mut()
                        .find(|(l, _)| *l == lang)
                        .is_some_and(|(_, before)| {
                            *before = before.saturating_add(1);
                            *before <= MEASURE_ALL_UP_TO || before.is_multiple_of(SAMPLE_STRIDE)
                        })
                }
                None => false,
            };
            let size = if measure {
                folder.size(f.path.get(f.name_at..).unwrap_or_default())
            } else {
                None
            };
            let entry = match size {
                Some(size) => RawEntry::new(f.path, size),
                None => RawEntry::unmeasured(f.path),
            };
            items.push(Item::File(entry.with_facts(f.facts)));
        }
    }
}

fn not_utf8(full: &Path) -> String {
    format!("skipped a path that is not valid UTF-8: {}", full.display())
}

/// The bytes of a name or path as an `OsStr`.
fn os_str(bytes: &[u8]) -> &OsStr {
    #[cfg(unix)]
    {
        std::os::unix::ffi::OsStrExt::from_bytes(bytes)
    }
    #[cfg(not(unix))]
    {
        // Names are taken from `OsStr::as_encoded_bytes`; only UTF-8 ones are listed.
        std::str::from_utf8(bytes)
            .map(OsStr::new)
            .unwrap_or_default()
    }
}

/// What a directory entry is, as its directory reports it (links not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

impl From<fs::FileType> for Kind {
    fn from(t: fs::FileType) -> Self {
        if t.is_dir() {
            Kind::Dir
        } else if t.is_file() {
            Kind::File
        } else if t.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Other
        }
    }
}

use folder::Folder;

/// Reading one folder. On Linux: `getdents64` into a reused buffer (no allocation per
/// entry) and `fstatat` relative to the open folder; elsewhere: `std::fs`.
#[cfg(target_os = "linux")]
mod folder {
    use super::Kind;
    use rustix::fs::{openat, statat, AtFlags, FileType, Mode, OFlags, RawDir, CWD};
    use std::os::fd::OwnedFd;
    use std::path::Path;

    /// Bytes read per `getdents64` call.
    pub(super) const BUFFER: usize = 32 * 1024;

    pub(super) struct Folder {
        fd: OwnedFd,
    }

    fn kind(t: FileType) -> Option<Kind> {
        Some(match t {
            FileType::Directory => Kind::Dir,
            FileType::RegularFile => Kind::File,
            FileType::Symlink => Kind::Symlink,
            FileType::Unknown => return None,
            _ => Kind::Other,
        })
    }

    impl Folder {
        pub(super) fn open(path: &Path) -> std::io::Result<Folder> {
            // NOFOLLOW: a folder swapped for a link since it was listed is not entered.
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
            let fd = openat(CWD, path, flags, Mode::empty())?;
            Ok(Folder { fd })
        }

        /// Calls `each` with every entry's name (but `.` and `..`) and its kind, `None` when
        /// the file system does not say.
        pub(super) fn entries(
            &self,
            buf: &mut Vec<u8>,
            mut each: impl FnMut(&[u8], Option<Kind>),
        ) -> std::io::Result<()> {
            buf.clear();
            buf.reserve(BUFFER);
            let mut dir = RawDir::new(&self.fd, buf.spare_capacity_mut());
            while let Some(entry) = dir.next() {
                let entry = entry?;
                let name = entry.file_name().to_bytes();
                if name != b"." && name != b".." {
                    each(name, kind(entry.file_type()));
                }
            }
            Ok(())
        }

        /// The kind of an entry whose folder did not say, from `lstat`.
        pub(super) fn kind_of(&self, name: &[u8]) -> std::io::Result<Kind> {
            let stat = statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
            Ok(kind(FileType::from_raw_mode(stat.st_mode)).unwrap_or(Kind::Other))
        }

        /// The size of a file of this folder.
        pub(super) fn size(&self, name: &str) -> Option<u64> {
            let stat = statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
            u64::try_from(stat.st_size).ok()
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod folder {
    use super::{os_str, Kind};
    use std::fs;
    use std::path::{Path, PathBuf};

    pub(super) const BUFFER: usize = 0;

    pub(super) struct Folder {
        path: PathBuf,
        read: std::cell::RefCell<Option<fs::ReadDir>>,
    }

    impl Folder {
        pub(super) fn open(path: &Path) -> std::io::Result<Folder> {
            let read = fs::read_dir(path)?;
            Ok(Folder {
                path: path.to_path_buf(),
                read: std::cell::RefCell::new(Some(read)),
            })
        }

        pub(super) fn entries(
            &self,
            _buf: &mut Vec<u8>,
            mut each: impl FnMut(&[u8], Option<Kind>),
        ) -> std::io::Result<()> {
            let Some(read) = self.read.borrow_mut().take() else {
                return Ok(());
            };
            for entry in read {
                let entry = entry?;
                let name = entry.file_name();
                each(
                    name.as_encoded_bytes(),
                    entry.file_type().ok().map(Kind::from),
                );
            }
            Ok(())
        }

        pub(super) fn kind_of(&self, name: &[u8]) -> std::io::Result<Kind> {
            Ok(Kind::from(
                fs::symlink_metadata(self.path.join(os_str(name)))?.file_type(),
            ))
        }

        pub(super) fn size(&self, name: &str) -> Option<u64> {
            fs::symlink_metadata(self.path.join(name))
                .ok()
                .map(|m| m.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::test_files::write;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn listed(root: &Path) -> (Vec<String>, Vec<String>) {
        let root = fs::canonicalize(root).unwrap();
        let listing = list(&root);
        let paths = listing.entries.into_iter().map(|e| e.path).collect();
        (paths, listing.warnings)
    }

    /// What `ignore::WalkBuilder` lists with the settings the walk reproduces.
    fn listed_by_walk_builder(root: &Path) -> Vec<String> {
        let root = fs::canonicalize(root).unwrap();
        let mut out = Vec::new();
        let walker = ignore::WalkBuilder::new(&root)
            .hidden(false)
            .parents(false)
            .ignore(true)
            .git_ignore(true)
            .git_global(false)
            .git_exclude(false)
            .require_git(false)
            .follow_links(false)
            .filter_entry(|e| {
                !(e.file_type().is_some_and(|t| t.is_dir())
                    && e.file_name()
                        .to_str()
                        .is_some_and(|n| PRUNED_DIRS.contains(&n)))
            })
            .build();
        for entry in walker.flatten() {
            if entry.file_type().is_some_and(|t| t.is_file()) {
                let rel = entry.path().strip_prefix(&root).unwrap();
                out.push(rel.to_str().unwrap().to_string());
            }
        }
        out.sort();
        out
    }

    #[test]
    fn a_cancelled_walk_reads_no_more_folders() {
        use std::sync::atomic::AtomicBool;
        let dir = tempfile::tempdir().unwrap();
        for i in 0..50 {
            write(dir.path(), &format!("d{i}/e/f.txt"), "x");
        }
        let root = fs::canonicalize(dir.path()).unwrap();
        assert_eq!(list(&root).entries.len(), 50);
        let flag = Arc::new(AtomicBool::new(true));
        let started = std::time::Instant::now();
        let listing = pipewright_core::cancel::with_flag(flag, || list(&root));
        assert!(
            listing.entries.is_empty(),
            "{} listed",
            listing.entries.len()
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn an_ignore_file_with_too_many_patterns_is_capped_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let mut patterns = String::from("# generated\nfirst.txt\n");
        for i in 0..200_000 {
            patterns.push_str(&format!("n{i}/\n"));
        }
        patterns.push_str("last.txt\n");
        write(r, "sub/.gitignore", &patterns);
        write(r, "sub/first.txt", "x");
        write(r, "sub/last.txt", "x");
        write(r, "sub/app.py", "x");
        let (paths, warnings) = listed(r);
        assert!(!paths.contains(&"sub/first.txt".to_string()), "{paths:?}");
        assert!(
            paths.contains(&"sub/last.txt".to_string()),
            "beyond the cap: {paths:?}"
        );
        assert!(paths.contains(&"sub/app.py".to_string()));
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("sub/.gitignore: more than 10000 patterns")),
            "{warnings:?}"
        );
        let (_, warnings) = {
            write(r, "sub/.gitignore", &"x".repeat(5 * 1024 * 1024));
            listed(r)
        };
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("sub/.gitignore: larger than")),
            "{warnings:?}"
        );
    }

    #[test]
    fn ignore_rules_match_the_ignore_crates_walk() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(
            r,
            ".gitignore",
            "*.log\nbuild/\n/top-only.txt\nsecret*\n!secret-ok.txt\n",
        );
        write(r, ".ignore", "from-ignore.txt\n");
        write(r, "a.log", "x");
        write(r, "top-only.txt", "x");
        write(r, "secret.txt", "x");
        write(r, "secret-ok.txt", "x");
        write(r, "from-ignore.txt", "x");
        write(r, "build/out.py", "x");
        write(r, "src/build", "a file named like an ignored folder");
        write(r, "src/top-only.txt", "x");
        write(r, "src/app.py", "x");
        // A nested .gitignore re-includes what the root ignores, and ignores more.
        write(
            r,
            "src/.gitignore",
            "!keep.log\n*.tmp\ndocs/*\n!docs/index.md\n",
        );
        write(r, "src/keep.log", "x");
        write(r, "src/drop.log", "x");
        write(r, "src/x.tmp", "x");
        write(r, "src/docs/index.md", "x");
        write(r, "src/docs/other.md", "x");
        // Nothing re-includes a file inside an ignored folder.
        write(r, "build/.gitignore", "!*\n");
        write(r, "build/deep/keep.py", "x");
        // `.ignore` wins over `.gitignore` at any depth.
        write(r, "src/deep/.gitignore", "!from-ignore.txt\n!secret.txt\n");
        write(r, "src/deep/from-ignore.txt", "x");
        write(r, "src/deep/secret.txt", "x");
        write(r, "src/deep/sub/.ignore", "!*.log\n");
        write(r, "src/deep/sub/late.log", "x");
        // Hidden files are listed; pruned folders are not; a file named like one is.
        write(r, ".env.example", "x");
        write(r, ".github/workflows/ci.yml", "x");
        write(r, "node_modules/x/index.js", "x");
        write(r, "web/node_modules/y/index.js", "x");
        write(r, ".git/config", "x");
        write(r, "lib/venv", "a file, not a folder");
        write(r, "lib/.venv/bin/python", "x");
        let (mine, warnings) = listed(r);
        let mut sorted = mine.clone();
        sorted.sort();
        assert_eq!(mine, sorted, "the listing comes sorted by path");
        assert_eq!(mine, listed_by_walk_builder(r));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(mine.contains(&"src/keep.log".to_string()));
        assert!(mine.contains(&"src/docs/index.md".to_string()));
        assert!(mine.contains(&"src/deep/sub/late.log".to_string()));
        assert!(!mine.contains(&"src/deep/from-ignore.txt".to_string()));
        assert!(!mine.contains(&"build/deep/keep.py".to_string()));
        assert!(mine.contains(&"lib/venv".to_string()));
    }

    #[test]
    fn items_are_no_larger_than_entries() {
        assert_eq!(std::mem::size_of::<Item>(), std::mem::size_of::<RawEntry>());
    }

    #[test]
    fn the_listing_is_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        for p in [
            "a.txt",
            "a-b/x",
            "a/b.c/d",
            "a/b-c",
            "a/b/c",
            "a/bc",
            "ab",
            "a0/z",
            "A/q",
            "é/x",
            "z",
            "a/b/c2/d/e/f",
        ] {
            write(r, p, "x");
        }
        let (mine, _) = listed(r);
        let mut sorted = mine.clone();
        sorted.sort();
        assert_eq!(mine, sorted);
        assert_eq!(mine.len(), 12);
    }

    #[test]
    fn a_tree_past_the_solo_limit_is_listed_whole_and_in_order_with_its_ignore_rules() {
        // Enough folders that the helper thread starts part way through, with ignore files
        // on both sides of that point.
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, ".gitignore", "*.log\n");
        let mut expected = vec![".gitignore".to_string()];
        for i in 0..(SOLO_FOLDERS * 3) {
            let folder = format!("pkg{i:03}/sub");
            write(r, &format!("{folder}/a.py"), "x");
            write(r, &format!("{folder}/b.log"), "x");
            expected.push(format!("{folder}/a.py"));
            if i % 40 == 7 {
                write(r, &format!("pkg{i:03}/.ignore"), "a.py\n");
                expected.pop();
                expected.push(format!("pkg{i:03}/.ignore"));
            }
        }
        expected.sort();
        let (mine, _) = listed(r);
        assert_eq!(mine, expected);
        assert_eq!(mine, listed_by_walk_builder(r));
    }

    #[test]
    fn symlinks_are_not_followed_out_of_the_root_or_into_folders() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret.py", "x");
        write(outside.path(), "lib/mod.py", "x");
        write(outside.path(), "ignore-rules", "*.py\n");
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "app.py", "x");
        write(r, "pkg/inner.py", "x");
        symlink(outside.path().join("secret.py"), r.join("leak.py")).unwrap();
        symlink(outside.path().join("lib"), r.join("lib")).unwrap();
        symlink(r.join("pkg"), r.join("pkg-alias")).unwrap();
        symlink(r.join("pkg/inner.py"), r.join("inner-alias.py")).unwrap();
        symlink(r.join("missing.py"), r.join("dangling.py")).unwrap();
        // Loops: to the root, to an ancestor, and a link to itself.
        symlink(r, r.join("pkg/root-loop")).unwrap();
        symlink("..", r.join("pkg/up")).unwrap();
        symlink("self", r.join("self")).unwrap();
        // An ignore file that points out of the root is not read.
        symlink(outside.path().join("ignore-rules"), r.join(".gitignore")).unwrap();
        let (mine, warnings) = listed(r);
        assert_eq!(mine, vec!["app.py", "inner-alias.py", "pkg/inner.py"]);
        for link in ["leak.py", "lib"] {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.starts_with(link) && w.contains("out of the repository")),
                "{link}: {warnings:?}"
            );
        }
        assert!(warnings.iter().any(|w| w.starts_with("dangling.py")));
        assert!(warnings.iter().any(|w| w.starts_with("self")));
    }

    #[test]
    fn an_ignore_file_that_is_a_pipe_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "app.py", "x");
        let made = std::process::Command::new("mkfifo")
            .arg(r.join(".gitignore"))
            .status()
            .is_ok_and(|s| s.success());
        if !made {
            return; // no mkfifo here
        }
        symlink(r.join(".gitignore"), r.join("sub-link")).unwrap();
        write(r, "sub/x.py", "x");
        symlink(r.join(".gitignore"), r.join("sub/.gitignore")).unwrap();
        let (mine, _) = listed(r);
        assert_eq!(mine, vec!["app.py", "sub/x.py"]);
    }

    #[test]
    fn an_unreadable_folder_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "app.py", "x");
        write(r, "locked/inner.py", "x");
        let locked = r.join("locked");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        let readable_anyway = fs::read_dir(&locked).is_ok(); // root reads everything
        let (mine, warnings) = listed(r);
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
        if readable_anyway {
            assert_eq!(mine, vec!["app.py", "locked/inner.py"]);
            return;
        }
        assert_eq!(mine, vec!["app.py"]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("not listed: ") && warnings[0].contains("locked"));
    }

    #[test]
    fn a_folder_gone_before_it_is_read_is_a_warning() {
        // Also what an unreadable folder gives when the tests run as root (who reads all).
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let listing = list(&gone);
        assert!(listing.entries.is_empty());
        assert_eq!(listing.warnings.len(), 1);
        assert!(
            listing.warnings[0].starts_with(&format!("not listed: {}: ", gone.display())),
            "{:?}",
            listing.warnings
        );
    }

    #[test]
    fn sizes_are_measured_up_to_the_limit_then_sampled() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let files = MEASURE_ALL_UP_TO + 3 * SAMPLE_STRIDE;
        for i in 0..files {
            write(r, &format!("d{}/f{i}.py", i % 7), "print(1)\n");
        }
        write(r, "README.md", "not code: never measured");
        let root = fs::canonicalize(r).unwrap();
        let listing = list(&root);
        let measured: Vec<&RawEntry> = listing
            .entries
            .iter()
            .filter(|e| e.size.is_some())
            .collect();
        assert_eq!(measured.len() as u32, MEASURE_ALL_UP_TO + 3);
        assert!(measured.iter().all(|e| e.size == Some(9)));
        let facts = listing.entries.iter().find(|e| e.path == "d0/f0.py");
        assert_eq!(facts.and_then(|e| e.facts), Some(PathFacts::of("d0/f0.py")));
    }
}
