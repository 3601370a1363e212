//! Every subcommand's `--json` error is the API's shape,
//! `{"error": {"code", "message", "field"?, "details"?}}`, with the API's stable codes, on
//! stdout; the message is on stderr too, and the exit codes are those `cli/exit.rs` lists.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/repos/python-django-tailwind"
);

/// The codes `serve/error.rs` defines (the service's table).
const API_CODES: &[&str] = &[
    "invalid_json",
    "invalid_field",
    "invalid_request",
    "unsupported_media_type",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "ambiguous",
    "payload_too_large",
    "nothing_recognised",
    "invalid_files",
    "url_refused",
    "gitlab_not_configured",
    "gitlab_auth_failed",
    "gitlab_failed",
    "gitlab_timeout",
    "gitlab_rate_limited",
    "lint_rejected",
    "registry_not_configured",
    "store_unavailable",
    "store_failed",
    "timeout",
    "internal",
    "source_unreachable",
    "files_exist",
    "write_failed",
];

fn pipewright(sandbox: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pipewright"));
    for key in [
        "GITLAB_URL",
        "GITLAB_TOKEN",
        "CHROMADB_HOST",
        "PIPEWRIGHT_STORE",
        "NEXUS_REGISTRY",
        "NEXUS_PULL_REGISTRY",
        "NEXUS_INTERNAL_REGISTRY",
        "NEXUS_USERNAME",
        "NEXUS_PASSWORD",
        "RUST_LOG",
    ] {
        cmd.env_remove(key);
    }
    cmd.env("LLM_PROVIDER", "none")
        .env("PIPEWRIGHT_DATA_DIR", sandbox.join("data"))
        .env("HOME", sandbox.join("home"))
        .current_dir(sandbox)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run pipewright")
}

/// Checks the contract and returns the `error` object.
fn error_of(out: &Output, exit: i32) -> serde_json::Map<String, Value> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(exit),
        "stdout {stdout}\nstderr {stderr}"
    );
    let body: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {stdout}"));
    let top = body.as_object().expect("an object");
    assert_eq!(top.keys().collect::<Vec<_>>(), ["error"], "{body}");
    let error = body["error"]
        .as_object()
        .expect("error is an object")
        .clone();
    for key in error.keys() {
        assert!(
            ["code", "message", "field", "details"].contains(&key.as_str()),
            "unexpected key {key} in {body}"
        );
    }
    let code = error["code"].as_str().expect("code is a string");
    assert!(
        API_CODES.contains(&code),
        "{code} is not one of the API's codes"
    );
    let message = error["message"].as_str().expect("message is a string");
    assert!(!message.is_empty());
    assert!(
        stderr.contains(&format!("error: {message}")),
        "stderr does not say it: {stderr}"
    );
    error
}

#[test]
fn analyze() {
    let sandbox = tempfile::tempdir().unwrap();
    let e = error_of(
        &pipewright(sandbox.path(), &["analyze", "--json", "/no/such/repo"]),
        2,
    );
    assert_eq!(
        (e["code"].as_str(), e["field"].as_str()),
        (Some("invalid_field"), Some("target"))
    );
}

#[test]
fn generate() {
    let sandbox = tempfile::tempdir().unwrap();
    let e = error_of(
        &pipewright(sandbox.path(), &["generate", "--json", "/no/such/repo"]),
        2,
    );
    assert_eq!(
        (e["code"].as_str(), e["field"].as_str()),
        (Some("invalid_field"), Some("target"))
    );

    let empty = sandbox.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "prose\n").unwrap();
    let e = error_of(
        &pipewright(
            sandbox.path(),
            &["generate", "--json", empty.to_str().unwrap()],
        ),
        3,
    );
    assert_eq!(e["code"], "nothing_recognised");

    let out_dir = sandbox.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(out_dir.join(".gitlab-ci.yml"), "kept\n").unwrap();
    let e = error_of(
        &pipewright(
            sandbox.path(),
            &[
                "generate",
                "--json",
                "--out",
                out_dir.to_str().unwrap(),
                FIXTURE,
            ],
        ),
        2,
    );
    assert_eq!(
        (e["code"].as_str(), e["field"].as_str()),
        (Some("files_exist"), Some("--force"))
    );
    assert_eq!(e["details"]["existing"][0], ".gitlab-ci.yml");
    assert_eq!(
        std::fs::read_to_string(out_dir.join(".gitlab-ci.yml")).unwrap(),
        "kept\n"
    );

    let e = error_of(
        &pipewright(
            sandbox.path(),
            &[
                "generate",
                "--json",
                "https://gitlab.example.com/group/app.git",
            ],
        ),
        2,
    );
    assert_eq!(e["field"], "--out");
}

#[test]
fn validate() {
    let sandbox = tempfile::tempdir().unwrap();
    let e = error_of(
        &pipewright(sandbox.path(), &["validate", "--json", "missing.yml"]),
        2,
    );
    assert_eq!(
        (e["code"].as_str(), e["field"].as_str()),
        (Some("invalid_field"), Some("file"))
    );
}

#[test]
fn classify() {
    let sandbox = tempfile::tempdir().unwrap();
    let e = error_of(
        &pipewright(sandbox.path(), &["classify", "--json", "missing.log"]),
        2,
    );
    assert_eq!(
        (e["code"].as_str(), e["field"].as_str()),
        (Some("invalid_field"), Some("log"))
    );
}

#[test]
fn images() {
    let sandbox = tempfile::tempdir().unwrap();
    let e = error_of(
        &pipewright(sandbox.path(), &["images", "--json", "no-such-folder"]),
        2,
    );
    assert_eq!(
        (e["code"].as_str(), e["field"].as_str()),
        (Some("invalid_field"), Some("dir"))
    );
    let app = sandbox.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("Dockerfile"), "FROM python:3.12-slim\n").unwrap();
    let e = error_of(
        &pipewright(sandbox.path(), &["images", "--json", "--seed", "app"]),
        2,
    );
    assert_eq!(e["code"], "registry_not_configured");
    let e = error_of(
        &pipewright(
            sandbox.path(),
            &["images", "--json", "--platform", "not a platform", FIXTURE],
        ),
        2,
    );
    assert_eq!(e["field"], "--platform");
}

#[test]
fn templates() {
    let sandbox = tempfile::tempdir().unwrap();
    let e = error_of(
        &pipewright(
            sandbox.path(),
            &["templates", "show", "no-such-id", "--json"],
        ),
        2,
    );
    assert_eq!(
        (e["code"].as_str(), e["field"].as_str()),
        (Some("not_found"), Some("id"))
    );
    let e = error_of(
        &pipewright(
            sandbox.path(),
            &["templates", "import", "no-such-folder", "--json"],
        ),
        2,
    );
    assert_eq!(
        (e["code"].as_str(), e["field"].as_str()),
        (Some("invalid_field"), Some("path"))
    );
}

#[test]
fn watch() {
    let sandbox = tempfile::tempdir().unwrap();
    let e = error_of(
        &pipewright(sandbox.path(), &["watch", "group/app", "--json"]),
        2,
    );
    assert_eq!(e["code"], "gitlab_not_configured");
    let e = error_of(
        &pipewright(
            sandbox.path(),
            &["watch", "group/app", "--json", "--interval", "0"],
        ),
        2,
    );
    assert_eq!(
        (e["code"].as_str(), e["field"].as_str()),
        (Some("invalid_field"), Some("--interval"))
    );
}
