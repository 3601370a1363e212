//! `pipewright templates` as a user runs it: the real binary, a data folder of its own per
//! test, JSON output and exit codes checked.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn pipewright(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .arg("templates")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("CHROMADB_HOST")
        .env_remove("PIPEWRIGHT_STORE")
        .env_remove("OLLAMA_EMBED_MODEL")
        .output()
        .expect("run pipewright")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn template_folder(root: &Path, name: &str, meta: &str, ci: Option<&str>, docker: Option<&str>) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pipewright-template.toml"), meta).unwrap();
    if let Some(ci) = ci {
        std::fs::write(dir.join(".gitlab-ci.yml"), ci).unwrap();
    }
    if let Some(d) = docker {
        std::fs::write(dir.join("Dockerfile"), d).unwrap();
    }
}

/// The pipeline and Dockerfile pipewright generates for a fixture repository: valid files.
fn generated(fixture: &str) -> (String, String) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/repos")
        .join(fixture);
    let out = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["generate", "--dry-run", "--json"])
        .arg(repo)
        .output()
        .expect("run pipewright generate");
    let v = json(&out);
    let file = |name: &str| v["files"][name].as_str().unwrap_or_default().to_string();
    (file(".gitlab-ci.yml"), file("Dockerfile"))
}

#[test]
fn import_refuses_files_that_fail_validation() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = tmp.path().join("in");
    template_folder(
        &input,
        "toy",
        "language = \"python\"\nframework = \"django\"\n",
        Some("stages: [compile, build]\n"),
        Some("FROM python:3.12-slim\n"),
    );
    let out = pipewright(&data, &["import", input.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[owned-learn-job]") && stderr.contains("[user-root]"),
        "{stderr}"
    );
    let out = pipewright(&data, &["list", "--json"]);
    assert_eq!(
        json(&out).as_array().map(Vec::len),
        Some(0),
        "nothing may be stored"
    );
}

#[test]
fn import_list_show_export_delete_round() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = tmp.path().join("in");
    let (ci, dockerfile) = generated("python-django-tailwind");
    template_folder(
        &input,
        "django",
        "language = \"python\"\nframework = \"django\"\nid = \"house-django\"\n",
        Some(&ci),
        Some(&dockerfile),
    );
    let (_, go_dockerfile) = generated("go-gin");
    template_folder(
        &input,
        "go",
        "language = \"go\"\n",
        None,
        Some(&go_dockerfile),
    );

    let out = pipewright(&data, &["import", input.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["imported"].as_array().map(Vec::len), Some(2));

    let out = pipewright(&data, &["list", "--language", "python", "--json"]);
    let listed = json(&out);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["id"], "house-django");
    assert_eq!(listed[0]["stages_count"], 9);

    let out = pipewright(&data, &["list", "--framework", "none", "--json"]);
    assert_eq!(json(&out)[0]["language"], "go");

    let out = pipewright(&data, &["show", "house-django", "--json"]);
    let shown = json(&out);
    assert_eq!(shown["dockerfile"], dockerfile.as_str());
    assert_eq!(shown["collection"], "pipeline_templates");

    let out = pipewright(&data, &["show", "house-django"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--- .gitlab-ci.yml"), "{text}");

    let export = tmp.path().join("out");
    let out = pipewright(&data, &["export", export.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(export
        .join("pipeline_templates/house-django/Dockerfile")
        .is_file());

    let out = pipewright(&data, &["delete", "house-django", "--json"]);
    assert_eq!(json(&out)["deleted"], "house-django");
    let out = pipewright(&data, &["delete", "house-django"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "deleting a missing id is a usage error"
    );

    let out = pipewright(&data, &["stats", "--json"]);
    assert_eq!(json(&out)["collections"][0]["records"], 1);
}

#[test]
fn a_refused_import_lists_the_findings_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = tmp.path().join("in");
    template_folder(
        &input,
        "ok",
        "language = \"go\"\n",
        None,
        Some("FROM golang:1.22\n"),
    );
    template_folder(
        &input,
        "bad",
        "language = \"go\"\n",
        Some("stages: [a\n"),
        None,
    );
    let out = pipewright(&data, &["import", input.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let body = json(&out);
    assert_eq!(body["error"]["code"], "invalid_files");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("nothing was stored"));
    assert!(body["error"]["details"]["refused"][0]["findings"][0]
        .as_str()
        .unwrap_or("")
        .contains("YAML syntax error"));
    let out = pipewright(&data, &["list", "--json"]);
    assert_eq!(json(&out), Value::Array(vec![]));
}

#[test]
fn a_corrupt_store_file_is_a_store_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("knowledge.sqlite3"),
        "not sqlite ".repeat(200),
    )
    .unwrap();
    let out = pipewright(tmp.path(), &["list"]);
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a usable SQLite database"), "{err}");
}

#[test]
fn chromadb_down_is_an_unreachable_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["templates", "stats", "--store", "chromadb"])
        .env("CHROMADB_HOST", "127.0.0.1")
        .env("CHROMADB_PORT", port.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach ChromaDB"), "{err}");
}
