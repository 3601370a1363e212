//! Hostile input against the real service (issue 16): each test reproduces one way a client
//! or an operator's setting could break `pipewright serve`, and checks the refusal.

mod serve_support;

use serde_json::{json, Value};
use serve_support::{spawn, spawn_with, Options};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn error_of(body: &Value) -> &Value {
    body.get("error")
        .unwrap_or_else(|| panic!("not an error answer: {body}"))
}

/// Starts `pipewright serve` expecting it to refuse to start; its exit code and stderr.
fn start_refused(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_pipewright"));
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("PIPEWRIGHT_DATA_DIR", dir.path().join("data"))
        .env("LLM_PROVIDER", "none")
        .env_remove("GITLAB_URL")
        .env_remove("GITLAB_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("start pipewright serve");
    let started = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("pipewright serve did not refuse to start within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn api_tokens_of_only_separators_refuse_to_start() {
    for value in [" , ", ",", " ,, "] {
        let (code, stderr) = start_refused(&[("PIPEWRIGHT_API_TOKENS", value)]);
        assert_eq!(code, Some(2), "exit code for {value:?}; stderr: {stderr}");
        assert!(
            stderr.contains("PIPEWRIGHT_API_TOKENS holds only separators"),
            "{stderr}"
        );
    }
}
