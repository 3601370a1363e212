//! Remote code run unseen: a download piped or substituted straight into a shell or an
//! interpreter (`curl … | sh`, `wget -O- … | sudo bash`, `sh -c "$(curl …)"`, `bash <(curl …)`,
//! `eval "$(wget …)"`). Whatever the server answers that day runs in the job or the image
//! build, with no checksum. Used on job scripts and on Dockerfile `RUN` instructions.

use regex::Regex;
use std::sync::LazyLock;

/// A downloader, then within the same statement a pipe into a shell or an interpreter
/// (possibly through `sudo`/`env` and their flags).
static PIPED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        \b(?:curl|wget|fetch|aria2c)\b [^|]* (?:\|[^|]*)*?
        \|\s* (?:(?:sudo|env|exec|nohup|command)\s+(?:-\S+\s+|[A-Z_][A-Z0-9_]*=\S*\s+)*)*
        (?:/usr)?(?:/bin/)?(?:ba|z|da|k|a|fi)?sh\b
        |
        \b(?:curl|wget|fetch|aria2c)\b [^|]* (?:\|[^|]*)*?
        \|\s* (?:(?:sudo|env|exec)\s+(?:-\S+\s+)*)*
        (?:python[0-9.]*|perl|ruby|node|php|pwsh|powershell)\b (?:\s+-)?\s*(?:$|[;&|)])",
    )
    .expect("PIPED compiles")
});

/// A shell or `eval`/`source` reading a download through `$(…)`, backticks or `<(…)`.
static SUBSTITUTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?x)
        \b(?:(?:ba|z|da|k|a)?sh|eval|source|python[0-9.]*|perl|ruby|node)\b
        (?:\s+-\S+)* \s* (?:-c\s+)? ["']? \s*
        (?:\$\(|`|<\() \s* (?:curl|wget|fetch|aria2c)\b"#,
    )
    .expect("SUBSTITUTED compiles")
});

/// The part of `text` that fetches and runs remote code, if any.
pub fn fetch_and_run(text: &str) -> Option<&str> {
    // Cheap test first: most statements name no downloader.
    if !["curl", "wget", "fetch", "aria2c"]
        .iter()
        .any(|d| text.contains(d))
    {
        return None;
    }
    PIPED
        .find(text)
        .or_else(|| SUBSTITUTED.find(text))
        .map(|m| m.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_run_by_a_shell_are_found() {
        for bad in [
            "curl -fsSL https://get.example.com | sh",
            "wget -qO- http://x.example/i.sh | bash",
            "wget -O - http://x | sudo -E bash -s -- --yes",
            "curl -s https://x | tee /tmp/log | sh",
            "curl https://x | /bin/sh",
            "curl -sSL https://install.python-poetry.org | python3 -",
            "sh -c \"$(curl -fsSL https://x)\"",
            "bash <(curl -s https://x)",
            "eval \"$(wget -qO- https://x)\"",
            "curl https://x | env FOO=1 sh",
        ] {
            assert!(fetch_and_run(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn downloads_kept_or_checked_are_not() {
        for good in [
            "curl -fsS -o /tmp/x.tar.gz https://x && sha256sum -c x.sha256",
            "wget -q https://x/file.tgz",
            "curl -s https://x | jq .version",
            "curl -fsS --max-time 10 -d \"{}\" \"$SPLUNK_HEC_URL/services/collector/event\"",
            "echo hello | sh",
            "curl -s https://x | grep -q shell",
        ] {
            assert_eq!(fetch_and_run(good), None, "{good}");
        }
    }
}
