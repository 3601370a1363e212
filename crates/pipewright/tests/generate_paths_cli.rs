//! The four generation paths end to end through `pipewright generate`, with the embedded store
//! seeded for each case and the `claude-code` provider pointed at a fake command (a script that
//! reads the prompt on stdin and prints a scripted answer). The provenance tag is asserted, and
//! so is the cost of an unreachable LLM: one refused connection, no long timeout.

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/repos")
        .join(name)
}

fn pipewright(data: &Path, envs: &[(&str, &str)], args: &[&str]) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pipewright"));
    cmd.env("PIPEWRIGHT_DATA_DIR", data)
        .env_remove("CHROMADB_HOST")
        .env_remove("PIPEWRIGHT_STORE")
        .env_remove("LLM_PROVIDER")
        .env_remove("OLLAMA_HOST")
        .env_remove("OLLAMA_EMBED_MODEL");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.args(args).output().expect("run pipewright");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn generate(data: &Path, envs: &[(&str, &str)], repo: &str) -> Value {
    let target = fixture(repo);
    let target = target.to_str().expect("utf-8 path");
    pipewright(data, envs, &["generate", "--dry-run", "--json", target])
}

/// A fake `claude-code` command that prints `answer` whatever the prompt.
fn fake_command(dir: &Path, answer: &Value) -> PathBuf {
    let answer_file = dir.join("answer.json");
    std::fs::write(&answer_file, answer.to_string()).expect("write answer");
    let script = dir.join("fake-claude");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat > /dev/null\ncat '{}'\n",
            answer_file.display()
        ),
    )
    .expect("write script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

#[test]
fn template_when_no_llm_and_nothing_stored() {
    let data = tempfile::tempdir().expect("tempdir");
    let v = generate(
        data.path(),
        &[("LLM_PROVIDER", "none")],
        "run-python-pytest",
    );
    assert_eq!(v["commit_tag"], "[Template]");
    assert!(v["warnings"].to_string().contains("LLM_PROVIDER=none"));
}

#[test]
fn rag_template_when_a_stored_pair_has_both_files() {
    let data = tempfile::tempdir().expect("tempdir");
    let repo = fixture("python-flask-pip");
    pipewright(
        data.path(),
        &[],
        &["templates", "seed", repo.to_str().expect("utf-8"), "--json"],
    );
    let v = generate(
        data.path(),
        &[("LLM_PROVIDER", "none")],
        "run-python-pytest",
    );
    assert_eq!(v["commit_tag"], "[RAG Template]", "{}", v["explanation"]);
    assert_eq!(v["path"]["attempts"], 0);
}

#[test]
fn ai_generated_and_rag_llm_with_a_model_command() {
    let data = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let built = generate(
        data.path(),
        &[("LLM_PROVIDER", "none")],
        "run-python-pytest",
    );
    let answer = serde_json::json!({
        "gitlab_ci": built["files"][".gitlab-ci.yml"],
        "dockerfile": built["files"]["Dockerfile"],
        "notes": ["from the fake model"],
    });
    let script = fake_command(work.path(), &answer);
    let envs = [
        ("LLM_PROVIDER", "claude-code"),
        ("CLAUDE_CODE_COMMAND", script.to_str().expect("utf-8")),
    ];
    let v = generate(data.path(), &envs, "run-python-pytest");
    assert_eq!(v["commit_tag"], "[AI Generated]", "{}", v["warnings"]);
    assert_eq!(v["path"]["attempts"], 1);

    // A stored template with the pipeline only: the model adapts it.
    let folder = work.path().join("tpl");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(
        folder.join(".gitlab-ci.yml"),
        built["files"][".gitlab-ci.yml"].as_str().unwrap_or(""),
    )
    .expect("write");
    std::fs::write(folder.join("pipewright-template.toml"), "language = \"python\"\nframework = \"flask\"\nbuild_tool = \"pip\"\nid = \"house-flask\"\n").expect("write");
    pipewright(
        data.path(),
        &[],
        &[
            "templates",
            "import",
            folder.to_str().expect("utf-8"),
            "--json",
        ],
    );
    let v = generate(data.path(), &envs, "run-python-pytest");
    assert_eq!(v["commit_tag"], "[RAG + LLM]", "{}", v["explanation"]);
}

#[test]
fn an_unreachable_llm_costs_one_refused_connection() {
    let data = tempfile::tempdir().expect("tempdir");
    // A port nobody listens on: the connection is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let host = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let v = generate(
        data.path(),
        &[("LLM_PROVIDER", "ollama"), ("OLLAMA_HOST", &host)],
        "run-python-pytest",
    );
    let with_refused = started.elapsed();
    assert_eq!(v["commit_tag"], "[Template]");
    assert_eq!(v["path"]["attempts"], 1);
    assert!(
        v["warnings"].to_string().contains("could not be reached"),
        "{}",
        v["warnings"]
    );
    let started = Instant::now();
    generate(
        data.path(),
        &[("LLM_PROVIDER", "none")],
        "run-python-pytest",
    );
    let with_none = started.elapsed();
    // Same work plus one refused connection: well under a second more, never a timeout.
    assert!(
        with_refused.as_millis() < with_none.as_millis() + 1000,
        "{with_refused:?} vs {with_none:?}"
    );
}
