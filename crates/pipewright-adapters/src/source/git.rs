//! A repository reached by git URL: cloned shallow (`--depth 1`) with the `git` command into a
//! temporary folder that is removed when the source is dropped, under a time limit after which
//! `git` is killed. Credentials in URLs never appear in labels or errors.

use super::LocalSource;
use pipewright_core::index::Content;
use pipewright_core::source::{Listing, RepoSource, SourceError};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;
use wait_timeout::ChildExt;

/// How long a clone may take unless told otherwise.
pub const DEFAULT_CLONE_TIMEOUT: Duration = Duration::from_secs(120);

/// A URL `git clone` accepts and pipewright allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitUrl {
    url: String,
}

impl GitUrl {
    /// Accepts `https://`, `ssh://`, `git@host:path` (scp-like) and `file://`; anything else
    /// that looks like a URL is refused. Returns `None` for something that is not a URL at all
    /// (a local path).
    pub fn parse(text: &str) -> Option<Result<GitUrl, SourceError>> {
        let t = text.trim();
        if let Some((scheme, _)) = t.split_once("://") {
            let ok = matches!(
                scheme.to_ascii_lowercase().as_str(),
                "https" | "ssh" | "file"
            );
            return Some(if ok && t.len() > scheme.len() + 3 {
                Ok(GitUrl { url: t.to_string() })
            } else {
                Err(SourceError::UnsupportedScheme { url: redact_url(t) })
            });
        }
        if is_scp_like(t) {
            return Some(Ok(GitUrl { url: t.to_string() }));
        }
        None
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }
}

/// `user@host:path`, the scp-like form git accepts for ssh (not a Windows drive, not a path).
fn is_scp_like(t: &str) -> bool {
    let Some((left, right)) = t.split_once(':') else {
        return false;
    };
    let Some((user, host)) = left.split_once('@') else {
        return false;
    };
    !user.is_empty()
        && !host.is_empty()
        && !right.is_empty()
        && !left.contains('/')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// The one redaction of URLs (userinfo, credential query values, fragment), kept here under
/// its old path for the adapters that show URLs.
pub use pipewright_core::redact::{redact_url, redact_urls_in};

/// A shallow clone in a temporary folder, read like a local folder.
#[derive(Debug)]
pub struct GitSource {
    local: LocalSource,
    // Dropped after `local`; removing the folder is the point of holding it.
    _dir: TempDir,
}

impl GitSource {
    /// Clones `url` (optionally at `reference`, a branch or tag) within `timeout`.
    pub fn clone(
        url: &GitUrl,
        reference: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, SourceError> {
        let shown = redact_url(url.as_str());
        let dir = tempfile::Builder::new()
            .prefix("pipewright-clone-")
            .tempdir()
            .map_err(|e| {
                SourceError::Other(format!(
                    "cannot create a temporary folder for the clone: {e}"
                ))
            })?;
        let target = dir.path().join("repo");
        let mut cmd = Command::new("git");
        cmd.arg("clone")
            .arg("--depth=1")
            .arg("--single-branch")
            .arg("--no-tags")
            .arg("--quiet");
        if let Some(r) = reference {
            cmd.arg("--branch").arg(r);
        }
        cmd.arg("--")
            .arg(url.as_str())
            .arg(&target)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env(
                "GIT_SSH_COMMAND",
                "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
            )
            .env("GIT_LFS_SKIP_SMUDGE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| SourceError::GitMissing {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
        let status = match child.wait_timeout(timeout) {
            Ok(Some(status)) => status,
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SourceError::CloneTimedOut {
                    url: shown,
                    seconds: timeout.as_secs(),
                });
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SourceError::Other(format!("waiting for git failed: {e}")));
            }
        };
        if !status.success() {
            let mut stderr = String::new();
            if let Some(mut s) = child.stderr.take() {
                let _ = s.read_to_string(&mut stderr);
            }
            let stderr = stderr
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| redact_urls_in(&l.replace(url.as_str(), &shown)))
                .collect::<Vec<_>>()
                .join(" ");
            return Err(SourceError::CloneFailed {
                url: shown,
                stderr: if stderr.is_empty() {
                    format!("git exited with {status}")
                } else {
                    stderr
                },
            });
        }
        let local = LocalSource::open_labelled(&target, &shown)?;
        Ok(GitSource { local, _dir: dir })
    }
}

impl RepoSource for GitSource {
    fn label(&self) -> &str {
        self.local.label()
    }

    fn list(&self) -> Result<Listing, SourceError> {
        self.local.list()
    }

    fn read(&self, path: &str, max_bytes: u64) -> Content {
        self.local.read(path, max_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_and_refused_urls() {
        assert!(matches!(
            GitUrl::parse("https://gitlab.example.com/g/p.git"),
            Some(Ok(_))
        ));
        assert!(matches!(
            GitUrl::parse("ssh://git@host/g/p.git"),
            Some(Ok(_))
        ));
        assert!(matches!(
            GitUrl::parse("git@gitlab.example.com:g/p.git"),
            Some(Ok(_))
        ));
        assert!(matches!(GitUrl::parse("file:///srv/repo"), Some(Ok(_))));
        assert!(matches!(
            GitUrl::parse("ftp://host/repo"),
            Some(Err(SourceError::UnsupportedScheme { .. }))
        ));
        assert!(matches!(GitUrl::parse("http://host/repo"), Some(Err(_))));
        assert!(GitUrl::parse("./some/folder").is_none());
        assert!(GitUrl::parse("/abs/path").is_none());
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redact_url("https://user:glpat-123@host/g/p.git"),
            "https://user:***@host/g/p.git"
        );
        assert_eq!(redact_url("https://oauth2@host/p"), "https://***@host/p");
        assert_eq!(redact_url("https://host/p"), "https://host/p");
    }

    #[test]
    fn a_failed_clone_shows_no_secret_of_the_url() {
        // Port 9 (discard) on loopback refuses at once: git fails and prints the URL.
        for url in [
            "https://user:pa/S3CR3T@127.0.0.1:9/g/p.git",
            "https://127.0.0.1:9/g/p.git?private_token=S3CR3T",
            "https://S3CR3T@127.0.0.1:9/g/p.git#S3CR3T",
        ] {
            let parsed = GitUrl::parse(url).unwrap().unwrap();
            let err = GitSource::clone(&parsed, None, Duration::from_secs(20)).unwrap_err();
            let shown = err.to_string();
            assert!(!shown.contains("S3CR3T"), "{url}: {shown}");
            assert!(shown.contains("127.0.0.1:9"), "{shown}");
        }
    }

    #[test]
    fn a_failed_clone_says_why_and_leaves_no_folder() {
        let dir = tempfile::tempdir().unwrap();
        let url = GitUrl::parse(&format!("file://{}/missing", dir.path().display()))
            .unwrap()
            .unwrap();
        let err = GitSource::clone(&url, None, Duration::from_secs(30)).unwrap_err();
        assert!(matches!(err, SourceError::CloneFailed { .. }), "{err}");
    }
}
