//! Writing files the safe way for every subcommand: a set of files is written whole or not at
//! all.
//!
//! [`write_set`] checks every target before it writes anything (a folder where a file should
//! go, a file where a folder should go, a file that exists without `force`), writes each file
//! to a temporary file beside it (`tempfile`: an unpredictable name, created exclusively),
//! flushes it to disk, and only then renames them all into place; a rename that fails puts back
//! what the earlier ones replaced. A run killed at any moment leaves no half-written target,
//! only temporary files named `.pipewright-<pid>-<random>.tmp`, which the next run in that
//! folder removes once their process is gone.

use std::fs;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

/// The start of every temporary file pipewright writes (followed by its process id).
const TEMP_PREFIX: &str = ".pipewright-";
const TEMP_SUFFIX: &str = ".tmp";

/// Why a set of files was not written (and nothing of it was).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{} already exist(s) in {dir}; pass --force to overwrite, or --out to write elsewhere", .paths.join(", "))]
    Exists { dir: String, paths: Vec<String> },
    #[error("cannot write {path}: {reason}; nothing was written")]
    Target { path: String, reason: String },
    #[error("cannot write {path}: {reason}; nothing was written")]
    Io { path: String, reason: String },
}

impl WriteError {
    fn io(path: &Path, e: impl std::fmt::Display) -> WriteError {
        WriteError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

/// Writes one file whole (see [`write_set`]), over an existing one.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), WriteError> {
    let name = path
        .file_name()
        .map(PathBuf::from)
        .ok_or_else(|| WriteError::Target {
            path: path.display().to_string(),
            reason: "it names no file".into(),
        })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    write_set(dir, &[(name, text)], true).map(|_| ())
}

/// Writes every `(relative path, text)` under `dir`, all or nothing: refuses to overwrite
/// unless `force`, never replaces anything but a regular file, creates missing folders.
/// Returns the paths written.
pub fn write_set<P: AsRef<Path>>(
    dir: &Path,
    files: &[(P, &str)],
    force: bool,
) -> Result<Vec<PathBuf>, WriteError> {
    // 1. Every target checked before anything is written.
    let mut existing = Vec::new();
    for (rel, _) in files {
        let rel = rel.as_ref();
        let path = dir.join(rel);
        check_target(dir, rel, &path)?;
        if fs::symlink_metadata(&path).is_ok() {
            existing.push(rel.display().to_string());
        }
    }
    if !force && !existing.is_empty() {
        return Err(WriteError::Exists {
            dir: dir.display().to_string(),
            paths: existing,
        });
    }
    // 2. Folders, then every file to a temporary file beside its target, on disk.
    let mut created_dirs = Vec::new();
    let result = stage_all(dir, files, &mut created_dirs);
    let staged = match result {
        Ok(s) => s,
        Err(e) => {
            // The temporary files are removed when dropped; the folders made for them go too.
            for d in created_dirs.iter().rev() {
                let _ = fs::remove_dir(d);
            }
            return Err(e);
        }
    };
    // 3. Renames, each atomic; a failure puts back what the earlier ones replaced.
    let mut done: Vec<(PathBuf, Option<Vec<u8>>)> = Vec::new();
    for (path, tmp, previous) in staged {
        if let Err(e) = tmp.persist(&path) {
            for (p, old) in done.iter().rev() {
                match old {
                    Some(bytes) => {
                        let _ = fs::write(p, bytes);
                    }
                    None => {
                        let _ = fs::remove_file(p);
                    }
                }
            }
            for d in created_dirs.iter().rev() {
                let _ = fs::remove_dir(d);
            }
            return Err(WriteError::io(&path, e.error));
        }
        done.push((path, previous));
    }
    let mut parents: Vec<PathBuf> = done
        .iter()
        .filter_map(|(p, _)| p.parent().map(Path::to_path_buf))
        .collect();
    parents.sort();
    parents.dedup();
    for p in &parents {
        // The renames themselves reach the disk with the folder's entry.
        if let Ok(d) = fs::File::open(p) {
            let _ = d.sync_all();
        }
    }
    Ok(done.into_iter().map(|(p, _)| p).collect())
}

/// Refuses a target that is not a plain relative path, or where a folder, a link or a special
/// file stands in the way of it or of one of its folders.
fn check_target(dir: &Path, rel: &Path, path: &Path) -> Result<(), WriteError> {
    let refuse = |reason: String| WriteError::Target {
        path: path.display().to_string(),
        reason,
    };
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(refuse("the path leaves the output folder".into()));
    }
    let mut at = dir.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        let Ok(meta) = fs::symlink_metadata(&at) else {
            return Ok(());
        };
        let last = i + 1 == parts.len();
        let kind = meta.file_type();
        if last && !kind.is_file() {
            let what = if kind.is_dir() {
                "a folder"
            } else if kind.is_symlink() {
                "a symbolic link"
            } else {
                "a special file"
            };
            return Err(refuse(format!(
                "{what} is in its place; move it away or write elsewhere with --out"
            )));
        }
        if !last && !kind.is_dir() {
            return Err(refuse(format!(
                "{} is not a folder; move it away or write elsewhere with --out",
                at.display()
            )));
        }
    }
    Ok(())
}

type Staged = Vec<(PathBuf, tempfile::NamedTempFile, Option<Vec<u8>>)>;

fn stage_all<P: AsRef<Path>>(
    dir: &Path,
    files: &[(P, &str)],
    created_dirs: &mut Vec<PathBuf>,
) -> Result<Staged, WriteError> {
    let mut staged = Vec::new();
    let mut swept: Vec<PathBuf> = Vec::new();
    for (rel, text) in files {
        let path = dir.join(rel.as_ref());
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        create_dirs(&parent, created_dirs).map_err(|e| WriteError::io(&parent, e))?;
        if !swept.contains(&parent) {
            remove_stale_temporaries(&parent);
            swept.push(parent.clone());
        }
        let previous = fs::read(&path).ok();
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
            .suffix(TEMP_SUFFIX)
            .tempfile_in(&parent)
            .map_err(|e| WriteError::io(&path, e))?;
        tmp.write_all(text.as_bytes())
            .and_then(|_| {
                if let Ok(meta) = fs::metadata(&path) {
                    tmp.as_file().set_permissions(meta.permissions())?;
                }
                tmp.as_file().sync_all()
            })
            .map_err(|e| WriteError::io(&path, e))?;
        staged.push((path, tmp, previous));
    }
    Ok(staged)
}

/// `create_dir_all`, remembering each folder it made (outermost first) for a rollback.
fn create_dirs(dir: &Path, created: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.as_os_str().is_empty() && fs::symlink_metadata(at).is_err() {
        missing.push(at.to_path_buf());
        match at.parent() {
            Some(p) => at = p,
            None => break,
        }
    }
    for d in missing.into_iter().rev() {
        fs::create_dir(&d)?;
        created.push(d);
    }
    Ok(())
}

/// Removes temporary files an earlier pipewright left in `dir` when it was killed: ours by
/// name, and only once the process that made them is gone (a run in progress keeps its own).
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let Some(pid) = temp_owner(name) else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) {
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if is_file {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// The process id in one of our temporary names: `.pipewright-<pid>-<random>.tmp`, and the
/// older `.<file>.pipewright-<pid>.tmp`.
fn temp_owner(name: &str) -> Option<u32> {
    let body = name.strip_suffix(TEMP_SUFFIX)?;
    if let Some(rest) = body.strip_prefix(TEMP_PREFIX) {
        let (pid, random) = rest.split_once('-')?;
        return (!random.is_empty()).then_some(pid.parse().ok()?);
    }
    let (_, pid) = body.strip_prefix('.')?.rsplit_once(".pipewright-")?;
    pid.parse().ok()
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        // Without /proc, assume it may still run: a stale file is better than a lost one.
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_temporary_names_are_recognised_and_no_others() {
        assert_eq!(temp_owner(".pipewright-4242-a8Xk2q.tmp"), Some(4242));
        assert_eq!(temp_owner(".Dockerfile.pipewright-27426.tmp"), Some(27426));
        assert_eq!(temp_owner(".pipewright-4242-.tmp"), None);
        assert_eq!(temp_owner("pipewright-1.tmp"), None);
        assert_eq!(temp_owner(".gitlab-ci.yml"), None);
        assert_eq!(temp_owner(".pipewright.toml"), None);
    }

    #[test]
    fn a_folder_in_a_targets_place_stops_the_whole_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("Dockerfile")).expect("mkdir");
        let err = write_set(
            dir.path(),
            &[
                (".dockerignore", "x\n"),
                (".gitlab-ci.yml", "a: 1\n"),
                ("Dockerfile", "FROM x\n"),
            ],
            true,
        )
        .expect_err("refused");
        assert!(
            err.to_string().contains("a folder is in its place"),
            "{err}"
        );
        assert!(!dir.path().join(".dockerignore").exists());
        assert!(!dir.path().join(".gitlab-ci.yml").exists());
        let left: Vec<_> = fs::read_dir(dir.path()).expect("ls").collect();
        assert_eq!(left.len(), 1, "only the folder: {left:?}");
    }

    #[test]
    fn a_file_where_a_folder_should_be_stops_the_whole_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("svc"), "a file").expect("write");
        let err = write_set(
            dir.path(),
            &[(".gitlab-ci.yml", "a: 1\n"), ("svc/Dockerfile", "FROM x\n")],
            true,
        )
        .expect_err("refused");
        assert!(err.to_string().contains("is not a folder"), "{err}");
        assert!(!dir.path().join(".gitlab-ci.yml").exists());
    }

    #[test]
    fn files_are_written_with_their_folders_and_existing_permissions_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let ci = dir.path().join(".gitlab-ci.yml");
        fs::write(&ci, "old").expect("write");
        fs::set_permissions(&ci, fs::Permissions::from_mode(0o640)).expect("chmod");
        let written = write_set(
            dir.path(),
            &[(".gitlab-ci.yml", "new\n"), ("a/b/Dockerfile", "FROM x\n")],
            true,
        )
        .expect("written");
        assert_eq!(written.len(), 2);
        assert_eq!(fs::read_to_string(&ci).expect("read"), "new\n");
        let mode = fs::metadata(&ci).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert!(dir.path().join("a/b/Dockerfile").is_file());
    }

    #[test]
    fn stale_temporaries_of_dead_runs_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        // No process has pid 4294967 (above Linux's pid_max), so its files are stale.
        let stale = dir.path().join(".pipewright-4294967-Zq81x.tmp");
        let old_style = dir.path().join(".Dockerfile.pipewright-4294967.tmp");
        let live = dir
            .path()
            .join(format!(".pipewright-{}-abcdef.tmp", std::process::id()));
        let theirs = dir.path().join(".notes.tmp");
        for f in [&stale, &old_style, &live, &theirs] {
            fs::write(f, "x").expect("write");
        }
        remove_stale_temporaries(dir.path());
        assert!(!stale.exists());
        assert!(!old_style.exists());
        assert!(live.exists());
        assert!(theirs.exists());
    }
}
