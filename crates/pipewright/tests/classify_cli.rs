//! `pipewright classify` as a user runs it: the built binary on fixture logs, from a file and
//! from standard input, checked for the JSON contract, the human output and exit codes (0
//! classified, 3 unknown, 2 unreadable).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn log(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipewright-core/tests/fixtures/logs")
        .join(rel)
}

fn pipewright(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .arg("classify")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pipewright");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

#[test]
fn json_names_class_evidence_line_and_candidates() {
    let path = log("service_connection/pytest-psycopg-connection-refused.log");
    let out = pipewright(&[path.to_str().unwrap(), "--json"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["class"], "service_connection");
    assert!(v["evidence"]
        .as_str()
        .unwrap()
        .contains("Connection refused"));
    assert!(v["line"].as_u64().unwrap() > 20);
    assert!(v["confidence"].as_f64().unwrap() > 0.5);
    let candidates = v["candidates"].as_array().unwrap();
    assert!(candidates
        .iter()
        .any(|c| c["class"] == "test_failure" && c["evidence"].is_string() && c["line"].is_u64()));
}

#[test]
fn standard_input_and_failure_reason_are_read() {
    let bytes = std::fs::read(log("test_failure/pytest-assertion.log")).unwrap();
    let out = pipewright(
        &["-", "--json", "--failure-reason", "runner_system_failure"],
        Some(&bytes),
    );
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["class"], "runner_system_failure");
    assert_eq!(v["basis"], "failure_reason");
    let out = pipewright(&["-", "--json"], Some(&bytes));
    assert_eq!(json(&out)["class"], "test_failure");
}

#[test]
fn people_get_the_evidence_with_its_context() {
    let path = log("disk_full/trap-exit-137-no-space-gradle.log");
    let out = pipewright(&[path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("class: disk_full (confidence"), "{text}");
    assert!(text.contains("> "), "the evidence line is marked: {text}");
    assert!(
        text.contains("java.io.IOException: No space left on device"),
        "{text}"
    );
    assert!(text.contains("exit code: 137"), "{text}");
    assert!(text.contains("out_of_memory at line"), "{text}");
}

#[test]
fn unknown_failures_exit_3_and_show_the_end_of_the_log() {
    let path = log("unknown/make-error-2.log");
    let out = pipewright(&[path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("class: unknown"), "{text}");
    assert!(
        text.contains("make: *** [Makefile:12: verify] Error 2"),
        "{text}"
    );
    let out = pipewright(
        &[path.to_str().unwrap(), "--json", "--exit-code", "137"],
        None,
    );
    assert_eq!(
        json(&out)["class"],
        "out_of_memory",
        "an exit code given hints"
    );
}

#[test]
fn a_missing_log_or_a_folder_exits_2() {
    let out = pipewright(&["/nonexistent/job.log", "--json"], None);
    assert_eq!(out.status.code(), Some(2));
    let body = json(&out);
    assert_eq!(body["error"]["code"], "invalid_field");
    assert_eq!(body["error"]["field"], "log");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cannot read /nonexistent/job.log"));
    let dir = tempfile::tempdir().unwrap();
    let out = pipewright(&[dir.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a folder"));
}
