//! The `claude-code` provider against fake commands: small shell scripts that behave like
//! `claude -p --output-format text` (prompt on stdin, answer on stdout, errors on stderr with a
//! non-zero exit), including ones that hang, print too much, or fail. Scripts are run as
//! `sh <script>` so no freshly written file is executed directly.
#![cfg(unix)]

mod llm_fake;

use llm_fake::{answer_json, fenced_answer, quick_limits};
use pipewright_adapters::llm::{
    CallLimits, ClaudeCodeConfig, ClaudeCodeProvider, LlmConfig, ProviderConfig, RetryPolicy,
};
use pipewright_core::llm::{parse_answer, LlmError, LlmProvider, LlmRequest};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A temporary folder holding one fake command.
struct FakeCommand {
    dir: tempfile::TempDir,
}

impl FakeCommand {
    fn new(body: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("fake-claude.sh"),
            format!("d=\"$(dirname \"$0\")\"\necho run >> \"$d/runs\"\n{body}\n"),
        )
        .unwrap();
        FakeCommand { dir }
    }

    fn script(&self) -> String {
        self.path("fake-claude.sh").display().to_string()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    fn runs(&self) -> usize {
        self.read("runs").lines().count()
    }

    fn provider(&self, extra_args: &[&str], limits: CallLimits) -> ClaudeCodeProvider {
        let mut args = vec![self.script()];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        ClaudeCodeProvider::new(
            ClaudeCodeConfig {
                program: "sh".into(),
                args,
            },
            limits,
        )
    }
}

fn request() -> LlmRequest {
    LlmRequest::for_pipeline("SYSTEM RULES".into(), "USER PROJECT".into(), 0.2)
}

/// Writes `text` to a file the script prints, so no quoting of JSON in shell is needed.
fn with_answer(fake: &FakeCommand, text: &str) {
    std::fs::write(fake.path("answer.txt"), text).unwrap();
}

fn alive(pid: &str) -> bool {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid.trim()).join("stat"));
    match stat {
        // The state follows the parenthesised command name; `Z` is a zombie (already dead).
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

#[tokio::test]
async fn the_prompt_goes_to_stdin_and_stdout_is_the_answer() {
    let fake = FakeCommand::new(
        "printf '%s\\n' \"$@\" > \"$d/args\"\npwd > \"$d/cwd\"\nls -A > \"$d/cwd-listing\"\ncat > \"$d/stdin\"\ncat \"$d/answer.txt\"",
    );
    with_answer(&fake, &answer_json());
    let provider = fake.provider(
        &["-p", "--append-system-prompt", "be brief"],
        quick_limits(),
    );
    let answer = provider.complete(&request()).await.unwrap();

    assert!(parse_answer(&answer.text).is_ok());
    assert_eq!(answer.model, "sh");
    assert_eq!(provider.endpoint(), "sh");
    let stdin = fake.read("stdin");
    assert!(stdin.starts_with("SYSTEM RULES"), "{stdin}");
    assert!(stdin.contains("USER PROJECT"), "{stdin}");
    assert!(stdin.find("SYSTEM RULES") < stdin.find("USER PROJECT"));
    assert_eq!(fake.read("args"), "-p\n--append-system-prompt\nbe brief\n");
    let cwd = fake.read("cwd");
    assert_ne!(
        cwd.trim(),
        std::env::current_dir().unwrap().display().to_string()
    );
    assert_eq!(
        fake.read("cwd-listing"),
        "",
        "the command runs in an empty folder"
    );
    assert!(
        !Path::new(cwd.trim()).exists(),
        "the folder is removed afterwards"
    );
}

#[tokio::test]
async fn an_answer_in_a_fenced_block_is_read() {
    let fake = FakeCommand::new("cat > /dev/null\ncat \"$d/answer.txt\"");
    with_answer(&fake, &fenced_answer());
    let answer = fake
        .provider(&[], quick_limits())
        .complete(&request())
        .await
        .unwrap();
    assert!(parse_answer(&answer.text).is_ok());
}

#[tokio::test]
async fn a_malformed_answer_reaches_the_parser_which_rejects_it() {
    let fake = FakeCommand::new(
        "cat > /dev/null\necho 'I would need more information about the project.'",
    );
    let answer = fake
        .provider(&[], quick_limits())
        .complete(&request())
        .await
        .unwrap();
    assert!(parse_answer(&answer.text).is_err());
}

#[tokio::test]
async fn a_failing_command_reports_its_status_and_stderr_tail_and_is_not_retried() {
    let fake = FakeCommand::new(
        "cat > /dev/null\necho 'starting' >&2\necho 'Invalid API key · Please run /login' >&2\nexit 1",
    );
    let err = fake
        .provider(&[], quick_limits())
        .complete(&request())
        .await
        .unwrap_err();
    assert_eq!(fake.runs(), 1);
    match &err {
        LlmError::CommandFailed {
            status,
            stderr_tail,
            ..
        } => {
            assert_eq!(status, "exited with status 1");
            assert!(
                stderr_tail.ends_with("Invalid API key · Please run /login"),
                "{stderr_tail}"
            );
        }
        other => panic!("expected a failed command, got {other:?}"),
    }
    assert!(err.to_string().contains("run it by hand"), "{err}");
}

#[tokio::test]
async fn a_hanging_command_is_killed_with_its_children_at_the_time_limit() {
    let fake =
        FakeCommand::new("echo $$ > \"$d/pid\"\nsleep 30 &\necho $! > \"$d/child-pid\"\nwait");
    let limits = CallLimits {
        timeout: Duration::from_millis(400),
        retry: RetryPolicy {
            max_retries: 1,
            ..quick_limits().retry
        },
        ..quick_limits()
    };
    let started = Instant::now();
    let err = fake
        .provider(&[], limits)
        .complete(&request())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, LlmError::Timeout { .. }), "{err:?}");
    assert_eq!(fake.runs(), 2, "a timeout is retried within the bound");

    let (pid, child) = (fake.read("pid"), fake.read("child-pid"));
    let deadline = Instant::now() + Duration::from_secs(2);
    while (alive(&pid) || alive(&child)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!alive(&pid), "the command survived its timeout");
    assert!(!alive(&child), "the command's child survived its timeout");
}

#[tokio::test]
async fn a_missing_program_is_reported_with_what_to_set() {
    let provider = ClaudeCodeProvider::new(
        ClaudeCodeConfig {
            program: "pipewright-no-such-claude".into(),
            args: vec!["-p".into()],
        },
        quick_limits(),
    );
    let err = provider.complete(&request()).await.unwrap_err();
    assert!(matches!(err, LlmError::CommandStart { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("pipewright-no-such-claude"), "{text}");
    assert!(text.contains("CLAUDE_CODE_COMMAND"), "{text}");
}

#[tokio::test]
async fn too_much_output_is_refused() {
    let fake = FakeCommand::new("cat > /dev/null\nhead -c 2000000 /dev/zero | tr '\\0' x");
    let err = fake
        .provider(&[], quick_limits())
        .complete(&request())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::TooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn success_without_output_is_a_bad_answer() {
    let fake = FakeCommand::new("cat > /dev/null\necho 'no credits left' >&2");
    let err = fake
        .provider(&[], quick_limits())
        .complete(&request())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::BadAnswer { .. }), "{err:?}");
    assert!(err.to_string().contains("no credits left"), "{err}");
}

#[tokio::test]
async fn a_command_that_ignores_a_large_prompt_still_answers() {
    let fake = FakeCommand::new("cat \"$d/answer.txt\"");
    with_answer(&fake, &answer_json());
    let mut big = request();
    big.user = "x".repeat(1024 * 1024);
    let answer = fake
        .provider(&[], quick_limits())
        .complete(&big)
        .await
        .unwrap();
    assert!(parse_answer(&answer.text).is_ok());
}

#[tokio::test]
async fn the_command_line_comes_from_claude_code_command_split_without_a_shell() {
    let fake = FakeCommand::new(
        "printf '%s\\n' \"$@\" > \"$d/args\"\ncat > /dev/null\ncat \"$d/answer.txt\"",
    );
    with_answer(&fake, &answer_json());
    let line = format!("sh '{}' -p --model \"claude sonnet\" $HOME", fake.script());
    let config = LlmConfig::from_lookup(|name| match name {
        "LLM_PROVIDER" => Some("claude-code".into()),
        "CLAUDE_CODE_COMMAND" => Some(line.clone()),
        _ => None,
    })
    .unwrap();
    assert!(matches!(config.provider, ProviderConfig::ClaudeCode(_)));
    let provider = config.build().unwrap().unwrap();
    provider
        .complete(&config.request("s".into(), "u".into()))
        .await
        .unwrap();
    assert_eq!(fake.read("args"), "-p\n--model\nclaude sonnet\n$HOME\n");
}
