//! `pipewright heal` against the fake GitLab: a branch whose pipeline times out is fixed by a
//! `[Self-Heal 1/3]` commit on that branch and goes green (exit 0, the run's `monitor` object
//! under `--json`); job lines like `watch`'s while it runs; the default branch and a branch
//! without a pipeline file are refused (exit 2).

use pipewright_adapters::fake_gitlab::{FakeGitLab, JobOutcome, PipelineScript, FAKE_TOKEN};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const CI: &str = "stages: [test]\ntest:\n  stage: test\n  script:\n    - pytest\n";

fn log(class: &str, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipewright-core/tests/fixtures/logs")
        .join(class)
        .join(name);
    std::fs::read_to_string(&path).unwrap()
}

async fn run_heal(gitlab: &FakeGitLab, data: &Path, args: &[&str]) -> (i32, String, String) {
    let url = gitlab.url();
    let data = data.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_pipewright"))
            .arg("heal")
            .args(&args)
            .env("GITLAB_URL", url)
            .env("GITLAB_TOKEN", FAKE_TOKEN)
            .env("PIPEWRIGHT_POLL_INTERVAL", "0.05")
            .env("PIPEWRIGHT_DATA_DIR", &data)
            .env("PIPEWRIGHT_STORE", "embedded")
            .env("LLM_PROVIDER", "none")
            .env_remove("NEXUS_REGISTRY")
            .env_remove("MAX_SELF_HEAL_ATTEMPTS")
            .output()
            .expect("run pipewright heal");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

async fn project_with_branch(gitlab: &FakeGitLab) -> u64 {
    let p = gitlab.add_project("team/app", &[("app.py", "print(1)\n")]);
    gitlab.script_pipelines(
        p,
        PipelineScript::every(Duration::from_millis(30))
            .job(
                "test",
                JobOutcome::Failed {
                    reason: "job_execution_timeout".into(),
                    trace: log("timeout_error", "job-execution-took-longer.log"),
                },
            )
            .fixed_by("test", "timeout: 2h"),
    );
    let response = pipewright_adapters::http::client()
        .expect("an HTTP client")
        .post(format!("{}/api/v4/projects/{p}/repository/commits", gitlab.url()))
        .header("PRIVATE-TOKEN", FAKE_TOKEN)
        .json(&serde_json::json!({"branch": "feature/ci", "start_branch": "main",
            "commit_message": "ci", "actions": [{"action": "create", "file_path": ".gitlab-ci.yml", "content": CI}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heal_fixes_a_branch_and_prints_the_monitor_object() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = project_with_branch(&gitlab).await;
    let data = tempfile::tempdir().unwrap();
    let (code, out, err) = run_heal(
        &gitlab,
        data.path(),
        &["team/app", "--branch", "feature/ci", "--max", "3", "--json"],
    )
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    let monitor: serde_json::Value = serde_json::from_str(&out).expect(&out);
    assert_eq!(monitor["status"], "succeeded", "{monitor}");
    assert_eq!(monitor["attempts"][1]["fix"]["strategy"], "raise_timeout");
    let commits = gitlab.commits();
    assert_eq!(commits.len(), 2, "the branch's commit and one fix");
    assert!(
        commits[1]
            .message
            .starts_with("[Self-Heal 1/3] timeout_error: "),
        "{}",
        commits[1].message
    );
    assert_eq!(commits[1].branch, "feature/ci");
    assert!(gitlab.files(p, "feature/ci").unwrap()[".gitlab-ci.yml"].contains("timeout: 2h"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heal_shows_job_lines_per_attempt() {
    let gitlab = FakeGitLab::start().await.unwrap();
    project_with_branch(&gitlab).await;
    let data = tempfile::tempdir().unwrap();
    let (code, out, err) = run_heal(
        &gitlab,
        data.path(),
        &["team/app", "--branch", "feature/ci"],
    )
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("attempt 0 — as committed"), "{out}");
    assert!(out.contains("attempt 1 — raise_timeout: "), "{out}");
    assert!(out.contains("[FAIL] test"), "{out}");
    assert!(out.contains("[  ok] test"), "{out}");
    assert!(
        out.contains("succeeded: 2 attempt(s), 1 fix commit(s)"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heal_refuses_the_default_branch_and_a_branch_without_a_pipeline() {
    let gitlab = FakeGitLab::start().await.unwrap();
    project_with_branch(&gitlab).await;
    let data = tempfile::tempdir().unwrap();
    let (code, _, err) = run_heal(&gitlab, data.path(), &["team/app", "--branch", "main"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("default branch"), "{err}");
    let (code, _, err) = run_heal(&gitlab, data.path(), &["team/app", "--branch", "nope"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no branch `nope`"), "{err}");
    let (code, _, err) = run_heal(
        &gitlab,
        data.path(),
        &["team/app", "--branch", "feature/ci", "--max", "0"],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(gitlab.commits().len() == 1, "nothing committed");
}
