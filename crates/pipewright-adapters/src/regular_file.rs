//! Opening a file a user or a repository named, without trusting it: only a regular file is
//! read (a FIFO would block forever, `/dev/zero` never ends, a socket or a device is no
//! file), the check is made on the opened descriptor (`fstat`, so a swap between check and
//! read changes nothing), the open itself never blocks (`O_NONBLOCK`), and reading stops
//! at a hard byte cap whatever length the file claims. Every reader of outside files goes
//! through [`open_regular`] or [`read_text`]: the CLI's `validate` and `--config`,
//! template folders, the local source.
//!
//! ```no_run
//! use pipewright_adapters::regular_file::read_text;
//! let text = read_text(std::path::Path::new("pipewright.toml"), 1024 * 1024)?;
//! # Ok::<(), pipewright_adapters::regular_file::ReadError>(())
//! ```

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

/// Why a file was not read. The message names no path: callers say which file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("does not exist")]
    NotFound,
    #[error("is {0}, not a regular file; pipewright reads only regular files")]
    NotRegular(&'static str),
    #[error("is larger than the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error("is not UTF-8 text")]
    NotText,
    #[error("cannot be read: {0}")]
    Io(String),
}

/// What kind of file `meta` describes, for the refusal.
fn kind_of(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    "a special file"
}

/// Opens `path` (links followed) for reading without blocking, and returns it only when it
/// is a regular file.
pub fn open_regular(path: &Path) -> Result<(File, Metadata), ReadError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO opens at once instead of waiting for a writer; a terminal is not adopted.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotFound,
        _ => ReadError::Io(e.to_string()),
    })?;
    let meta = file.metadata().map_err(|e| ReadError::Io(e.to_string()))?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind_of(&meta)));
    }
    Ok((file, meta))
}

/// The bytes of a regular file of at most `max_bytes`, read no further than that.
pub fn read_bytes(path: &Path, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
    let (file, meta) = open_regular(path)?;
    if meta.len() > max_bytes {
        return Err(ReadError::TooLarge { limit: max_bytes });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Io(e.to_string()))?;
    if bytes.len() as u64 > max_bytes {
        return Err(ReadError::TooLarge { limit: max_bytes });
    }
    Ok(bytes)
}

/// [`read_bytes`], as UTF-8 text.
pub fn read_text(path: &Path, max_bytes: u64) -> Result<String, ReadError> {
    String::from_utf8(read_bytes(path, max_bytes)?).map_err(|_| ReadError::NotText)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Runs `f` on a thread and fails if it has not returned within 10 s (a blocked read).
    fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the read returned within 10 s")
    }

    pub(crate) fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo runs");
        assert!(status.success(), "mkfifo {}", path.display());
    }

    #[test]
    fn special_files_are_refused_without_blocking_or_reading_forever() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.yml");
        mkfifo(&fifo);
        let zero = dir.path().join("Dockerfile");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        for (path, kind) in [
            (fifo, "a FIFO (named pipe)"),
            (zero, "a character device"),
            (folder, "a folder"),
        ] {
            let result = within_10s(move || read_text(&path, 1024));
            assert_eq!(result, Err(ReadError::NotRegular(kind)));
        }
    }

    #[test]
    fn regular_files_are_read_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "hello").unwrap();
        assert_eq!(read_text(&file, 5).as_deref(), Ok("hello"));
        assert_eq!(read_text(&file, 4), Err(ReadError::TooLarge { limit: 4 }));
        assert_eq!(
            read_text(&dir.path().join("missing"), 4),
            Err(ReadError::NotFound)
        );
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        assert_eq!(read_text(&file, 5), Err(ReadError::NotText));
    }
}
