//! A model behind a command line, `claude-code` in the seed: the configured command
//! (`CLAUDE_CODE_COMMAND`, split into program and arguments here, never given to a shell) gets the
//! prompt on stdin and writes the answer to stdout. It runs in an empty temporary folder, so an
//! agentic CLI finds no files to wander into, in its own process group, so that on timeout the
//! command and everything it started are killed together. Its exit status is checked, and a
//! failure reports the tail of its stderr. Only the program name ever appears in messages: the
//! arguments may carry settings the user would not want printed.

use super::{CallLimits, Env, LlmConfigError};
use async_trait::async_trait;
use pipewright_core::llm::error::scrub_detail;
use pipewright_core::llm::{LlmAnswer, LlmError, LlmProvider, LlmRequest, ProviderKind};
use std::process::{ExitStatus, Stdio};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// Claude Code in print mode: reads the prompt from stdin, prints the answer as text.
pub const DEFAULT_CLAUDE_CODE_COMMAND: &str = "claude -p --output-format text";
/// The most stdout read, in bytes; more means the command is not answering the question.
pub const MAX_COMMAND_OUTPUT: usize = 1024 * 1024;
/// How much of stderr is kept for an error message.
const STDERR_TAIL_BYTES: usize = 2048;

/// The command to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeCodeConfig {
    pub program: String,
    pub args: Vec<String>,
}

impl ClaudeCodeConfig {
    /// Splits a command line (see [`split_command_line`]).
    pub fn from_command_line(line: &str) -> Result<Self, LlmConfigError> {
        let invalid = |expected| LlmConfigError::Invalid {
            var: "CLAUDE_CODE_COMMAND",
            value: line.split_whitespace().next().unwrap_or("").to_string(),
            expected,
        };
        let mut words = split_command_line(line).map_err(invalid)?;
        if words.is_empty() {
            return Err(invalid("a command line (a program and its arguments)"));
        }
        let program = words.remove(0);
        Ok(ClaudeCodeConfig {
            program,
            args: words,
        })
    }

    pub(crate) fn from_env(env: &Env<'_>) -> Result<Self, LlmConfigError> {
        let line = env
            .get("CLAUDE_CODE_COMMAND")
            .unwrap_or_else(|| DEFAULT_CLAUDE_CODE_COMMAND.to_string());
        Self::from_command_line(&line)
    }
}

/// Splits a command line into words the way a POSIX shell would, without running one:
/// whitespace separates words, `'…'` is literal, `"…"` allows `\"` and `\\`, and a backslash
/// outside quotes escapes the next character. No variables, globs or pipes.
pub fn split_command_line(line: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a command line with every ' closed"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a command line with every \" closed"),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a command line with every \" closed"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("a command line that does not end with a lone backslash"),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Runs the configured command for each request.
#[derive(Debug)]
pub struct ClaudeCodeProvider {
    config: ClaudeCodeConfig,
    limits: CallLimits,
}

impl ClaudeCodeProvider {
    pub fn new(config: ClaudeCodeConfig, limits: CallLimits) -> Self {
        ClaudeCodeProvider { config, limits }
    }

    /// The prompt as one text: a command has a single input.
    fn prompt(request: &LlmRequest) -> String {
        format!(
            "{}\n\n---\n\n{}\n",
            request.system.trim_end(),
            request.user.trim_end()
        )
    }

    async fn attempt(&self, prompt: &str) -> Result<String, LlmError> {
        let program = self.config.program.clone();
        // An empty folder as the working directory: the command sees no repository.
        let workdir = tempfile::tempdir().map_err(|e| LlmError::CommandStart {
            provider: ProviderKind::ClaudeCode,
            program: program.clone(),
            reason: format!("no temporary folder to run in: {e}"),
        })?;
        let mut command = Command::new(&self.config.program);
        command
            .args(&self.config.args)
            .current_dir(workdir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command.spawn().map_err(|e| LlmError::CommandStart {
            provider: ProviderKind::ClaudeCode,
            program: program.clone(),
            reason: e.to_string(),
        })?;
        let group = child.id();

        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let run = async {
            let write = async {
                if let Some(mut stdin) = stdin {
                    // A command that exits without reading its input closes the pipe; its exit
                    // status says whether that was a failure.
                    let _ = stdin.write_all(prompt.as_bytes()).await;
                    let _ = stdin.shutdown().await;
                }
            };
            let (_, out, err) = tokio::join!(
                write,
                read_capped(stdout, MAX_COMMAND_OUTPUT),
                read_tail(stderr, STDERR_TAIL_BYTES)
            );
            let status = child.wait().await;
            (out, err, status)
        };

        let outcome = tokio::time::timeout(self.limits.timeout, run).await;
        let Ok((out, err, status)) = outcome else {
            kill_group(group);
            return Err(LlmError::Timeout {
                provider: ProviderKind::ClaudeCode,
                endpoint: program,
                limit: self.limits.timeout,
            });
        };
        let Some(out) = out else {
            kill_group(group);
            return Err(LlmError::TooLarge {
                provider: ProviderKind::ClaudeCode,
                endpoint: program,
                limit: MAX_COMMAND_OUTPUT,
            });
        };
        let status = status.map_err(|e| LlmError::CommandFailed {
            provider: ProviderKind::ClaudeCode,
            program: program.clone(),
            status: format!("could not be waited for ({e})"),
            stderr_tail: String::new(),
        })?;
        if !status.success() {
            return Err(LlmError::CommandFailed {
                provider: ProviderKind::ClaudeCode,
                program,
                status: describe_status(status),
                stderr_tail: tail_text(&err),
            });
        }
        let text = String::from_utf8_lossy(&out).into_owned();
        if text.trim().is_empty() {
            return Err(LlmError::BadAnswer {
                provider: ProviderKind::ClaudeCode,
                endpoint: program,
                detail: format!(
                    "it succeeded but wrote nothing to stdout; stderr: {}",
                    tail_text(&err)
                ),
            });
        }
        Ok(text)
    }
}

/// Reads everything, or `None` as soon as there is more than `cap` bytes.
async fn read_capped(pipe: Option<impl AsyncRead + Unpin>, cap: usize) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let Some(pipe) = pipe else {
        return Some(data);
    };
    // One byte over the cap is enough to know the output is too large.
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    let mut limited = pipe.take(limit);
    if limited.read_to_end(&mut data).await.is_err() {
        return Some(data);
    }
    (data.len() <= cap).then_some(data)
}

/// Reads everything, keeping only the last `keep` bytes.
async fn read_tail(pipe: Option<impl AsyncRead + Unpin>, keep: usize) -> Vec<u8> {
    let mut tail = Vec::new();
    let Some(mut pipe) = pipe else {
        return tail;
    };
    let mut buf = [0u8; 4096];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > keep {
            tail.drain(..tail.len() - keep);
        }
    }
    tail
}

fn tail_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "(nothing)".to_string();
    }
    // The end of stderr is where the reason usually is; keep that end, not the start.
    let chars: Vec<char> = text.chars().collect();
    let start = chars
        .len()
        .saturating_sub(pipewright_core::llm::error::MAX_DETAIL_CHARS - 1);
    let end: String = chars[start..].iter().collect();
    scrub_detail(&end, None)
}

fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    "ended without an exit status".to_string()
}

/// Kills the command's whole process group (it was started as the group's leader), so helpers
/// it started do not outlive it. Dropping the child kills the leader in any case.
fn kill_group(group: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = group.and_then(|g| i32::try_from(g).ok()).filter(|g| *g > 0) {
        // SAFETY: kill(2) with a negative pid signals the process group we created with
        // process_group(0); it touches no memory of ours.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = group;
}

#[async_trait]
impl LlmProvider for ClaudeCodeProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::ClaudeCode
    }

    /// The model is whatever the command uses; the program stands in for it.
    fn model(&self) -> &str {
        &self.config.program
    }

    fn endpoint(&self) -> &str {
        &self.config.program
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmAnswer, LlmError> {
        let started = Instant::now();
        let prompt = Self::prompt(request);
        let text = self.limits.retry.run(|| self.attempt(&prompt)).await?;
        Ok(LlmAnswer {
            text,
            model: self.config.program.clone(),
            usage: None,
            elapsed: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell_without_one() {
        assert_eq!(
            split_command_line(r#"claude -p --append-system-prompt "be \"brief\"" 'a b' c\ d"#)
                .unwrap(),
            [
                "claude",
                "-p",
                "--append-system-prompt",
                "be \"brief\"",
                "a b",
                "c d"
            ]
        );
        assert_eq!(split_command_line("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split_command_line("x ''").unwrap(), ["x", ""]);
        assert!(split_command_line("x 'open").is_err());
        assert!(split_command_line("x \"open").is_err());
        assert!(split_command_line("x \\").is_err());
    }

    #[test]
    fn an_empty_command_line_is_refused() {
        assert!(ClaudeCodeConfig::from_command_line("   ").is_err());
        let c = ClaudeCodeConfig::from_command_line(DEFAULT_CLAUDE_CODE_COMMAND).unwrap();
        assert_eq!(c.program, "claude");
        assert_eq!(c.args, ["-p", "--output-format", "text"]);
    }

    #[test]
    fn the_stderr_tail_keeps_the_end() {
        let long = format!("{}THE REASON", "x".repeat(5000));
        let tail = tail_text(long.as_bytes());
        assert!(tail.ends_with("THE REASON"), "{tail}");
        assert_eq!(tail_text(b"  \n"), "(nothing)");
    }
}
