//! `pipewright watch` against the fake GitLab: it follows a pipeline to its end and exits 0
//! when the quality gate passes, 1 when it does not (a green pipeline with a manual job
//! included), with one JSON object under `--json`.

mod serve_support;

use pipewright_adapters::fake_gitlab::{FakeGitLab, JobOutcome, PipelineScript, FAKE_TOKEN};
use std::process::Command;
use std::time::Duration;

const CI: &str = "stages: [build, test, notify]\nbuild:\n  stage: build\n  script: [make]\ntest:\n  stage: test\n  script: [make test]\nnotify-failure:\n  stage: notify\n  when: on_failure\n  script: [echo failed]\n";

async fn run_watch(gitlab: &FakeGitLab, args: Vec<String>) -> (i32, String) {
    let url = gitlab.url();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_pipewright"))
            .arg("watch")
            .args(&args)
            .env("GITLAB_URL", url)
            .env("GITLAB_TOKEN", FAKE_TOKEN)
            .env_remove("PIPEWRIGHT_POLL_INTERVAL")
            .output()
            .expect("run pipewright watch");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_exits_by_the_quality_gate() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let green = gitlab.add_project("team/green", &[(".gitlab-ci.yml", CI)]);
    let manual = gitlab.add_project("team/manual", &[(".gitlab-ci.yml", CI)]);
    let red = gitlab.add_project("team/red", &[(".gitlab-ci.yml", CI)]);
    let step = Duration::from_millis(40);
    gitlab.script_pipelines(green, PipelineScript::every(step));
    gitlab.script_pipelines(
        manual,
        PipelineScript::every(step).job("test", JobOutcome::Manual),
    );
    gitlab.script_pipelines(
        red,
        PipelineScript::every(step).job(
            "test",
            JobOutcome::Failed {
                reason: "script_failure".into(),
                trace: "boom\n".into(),
            },
        ),
    );
    for (project, expected, passed) in [(green, 0, true), (manual, 1, false), (red, 1, false)] {
        // A commit through the API starts the pipeline, as a push does.
        let client = pipewright_adapters::http::client().expect("an HTTP client");
        let response = client
            .post(format!("{}/api/v4/projects/{project}/repository/commits", gitlab.url()))
            .header("PRIVATE-TOKEN", FAKE_TOKEN)
            .json(&serde_json::json!({"branch": "feature/x", "start_branch": "main",
                "commit_message": "ci", "actions": [{"action": "update", "file_path": ".gitlab-ci.yml", "content": format!("{CI}\n")}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
        let (code, out) = run_watch(
            &gitlab,
            vec![
                project.to_string(),
                "--branch".into(),
                "feature/x".into(),
                "--json".into(),
                "--interval".into(),
                "0.05".into(),
            ],
        )
        .await;
        assert_eq!(code, expected, "{out}");
        let value: serde_json::Value = serde_json::from_str(&out).expect(&out);
        assert_eq!(value["gate"]["passed"], passed, "{value}");
    }
    // Without --json: a line per job and the verdict.
    let pipeline = gitlab.pipelines(green)[0].id;
    let (code, out) = run_watch(
        &gitlab,
        vec![green.to_string(), "--pipeline".into(), pipeline.to_string()],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("build") && out.contains("success"), "{out}");
    assert!(out.contains("quality gate passed"), "{out}");
}
