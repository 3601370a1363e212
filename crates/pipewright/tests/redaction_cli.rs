//! Tokens in git URLs named to the CLI (issue 16, class 5): whatever `analyze` or `generate`
//! prints about the URL (a failed clone, a refusal, `--json`), the secret in the userinfo
//! (also with `/` in the password), the query or the fragment is never shown.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "S3CR3T-glpat";

/// Every place a URL can carry a secret; port 9 on loopback refuses at once, so git fails and
/// names the URL.
fn urls() -> Vec<String> {
    let s = SECRET;
    vec![
        format!("https://oauth2:{s}@127.0.0.1:9/team/app.git"),
        format!("https://user:pa/{s}@127.0.0.1:9/team/app.git"),
        format!("https://{s}@127.0.0.1:9/team/app.git"),
        format!("https://127.0.0.1:9/team/app.git?private_token={s}"),
        format!("https://127.0.0.1:9/team/app.git?ref=main&access_token={s}"),
        format!("https://127.0.0.1:9/team/app.git#{s}"),
        format!("ftp://user:{s}@127.0.0.1:9/team/app.git"),
    ]
}

/// Runs `pipewright args…` with a 60 s limit; exit code, stdout and stderr.
fn run(args: &[&str], data: &std::path::Path) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(args)
        .env("PIPEWRIGHT_DATA_DIR", data)
        .env("LLM_PROVIDER", "none")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("CHROMADB_HOST")
        .env_remove("PIPEWRIGHT_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pipewright");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pipewright {args:?} was still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn no_command_prints_the_secret_of_a_git_url() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let commands: [&[&str]; 5] = [
        &["analyze"],
        &["analyze", "--json"],
        // Without --out: refused before any clone, naming the URL.
        &["generate"],
        &["generate", "--dry-run"],
        &["generate", "--dry-run", "--json"],
    ];
    for url in urls() {
        for command in commands {
            let mut args = command.to_vec();
            args.push(&url);
            let (code, stdout, stderr) = run(&args, &data);
            assert_ne!(code, Some(0), "{args:?}: {stderr}");
            assert!(
                !stdout.contains(SECRET) && !stderr.contains(SECRET),
                "{args:?} showed the secret:\nstdout: {stdout}\nstderr: {stderr}"
            );
            assert!(
                stderr.contains("127.0.0.1:9"),
                "{args:?}: the URL is still named, masked: {stderr}"
            );
        }
    }
}
