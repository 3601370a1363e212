//! The self-heal loop from outside: `pipewright serve` against the fake GitLab with scripted
//! failures (logs from the classifier's fixtures). A timeout is fixed by a commit on the same
//! branch (`[Self-Heal 1/10] …` with the `Pipewright-Run` trailer), the next pipeline goes
//! green and the healed pair is stored; the same failure after the same fix stops early with
//! the reason; a failing unit test ends `needs_code_fix` without a commit; a runner failure
//! is retried unchanged (twice) and commits nothing; a server killed with SIGKILL after GitLab
//! made its fix commit but before the answer came back commits nothing twice after a restart.

mod serve_support;

use pipewright_adapters::fake_gitlab::{
    FakeGitLab, Fault, FaultKind, JobOutcome, PipelineScript, FAKE_TOKEN,
};
use serde_json::{json, Value};
use serve_support::{fixture_files, spawn_with, Options, Server};
use std::path::Path;
use std::time::{Duration, Instant};

fn add_fixture(gitlab: &FakeGitLab, path: &str, fixture: &str) -> u64 {
    let files = fixture_files(fixture);
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
        .collect();
    gitlab.add_project(path, &pairs)
}

/// A job log from the classifier's fixtures.
fn log(class: &str, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipewright-core/tests/fixtures/logs")
        .join(class)
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn start(gitlab: &FakeGitLab) -> Server {
    start_in(gitlab, None).await
}

/// A server keeping its runs in `data` when given (so a restarted one finds them).
async fn start_in(gitlab: &FakeGitLab, data: Option<&Path>) -> Server {
    let mut options = Options::default()
        .env("GITLAB_URL", &gitlab.url())
        .env("GITLAB_TOKEN", FAKE_TOKEN)
        .env("PIPEWRIGHT_POLL_INTERVAL", "0.05");
    if let Some(data) = data {
        options = options.env("PIPEWRIGHT_DATA_DIR", &data.to_string_lossy());
    }
    tokio::task::spawn_blocking(move || spawn_with(options))
        .await
        .expect("spawn")
}

async fn commit(server: &Server, project: u64) -> Value {
    let (status, body) = server
        .call(
            "/api/v1/pipeline/workflow",
            &json!({ "project_id": project }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn final_monitor(server: &Server, run_id: &str) -> Value {
    let started = Instant::now();
    loop {
        let (status, run) = server
            .get_json(&format!("/api/v1/pipeline/runs/{run_id}"))
            .await;
        assert_eq!(status, 200, "{run}");
        let m = &run["monitor"];
        let done = [
            "succeeded",
            "failed",
            "timed_out",
            "canceled",
            "exhausted",
            "needs_code_fix",
        ]
        .contains(&m["status"].as_str().unwrap_or(""))
            && m["learn_note"] != "storing the pipeline";
        if done {
            return m.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "monitor never finished: {m}\nlog:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The recorded failed job `name` of an attempt.
fn failed_job(attempt: &Value, name: &str) -> Value {
    attempt["failed_jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("{name} not recorded: {attempt}"))
}

fn failed(reason: &str, trace: String) -> JobOutcome {
    JobOutcome::Failed {
        reason: reason.into(),
        trace,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_fixed_by_a_commit_the_next_pipeline_is_green_and_stored() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(
        p,
        PipelineScript::every(Duration::from_millis(30))
            .job(
                "test",
                failed(
                    "job_execution_timeout",
                    log("timeout_error", "job-execution-took-longer.log"),
                ),
            )
            .fixed_by("test", "timeout: 2h"),
    );
    let server = start(&gitlab).await;
    let body = commit(&server, p).await;
    let run_id = body["run_id"].as_str().unwrap();
    let monitor = final_monitor(&server, run_id).await;
    assert_eq!(monitor["status"], "succeeded", "{monitor}");
    let attempts = monitor["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{monitor}");
    let job = failed_job(&attempts[0], "test");
    assert_eq!(job["class"], "timeout_error");
    assert!(job["line"].as_u64().is_some(), "{job}");
    assert!(attempts[0]["fix"].is_null());
    let fix = &attempts[1]["fix"];
    assert_eq!(fix["strategy"], "raise_timeout", "{fix}");
    assert!(
        fix["diff"].as_str().unwrap().contains("+  timeout: 2h"),
        "{fix}"
    );

    let commits = gitlab.commits();
    assert_eq!(commits.len(), 2, "the workflow's commit and one fix");
    let heal = &commits[1];
    assert_eq!(heal.branch, body["branch"].as_str().unwrap(), "same branch");
    assert_eq!(Some(heal.sha.as_str()), fix["commit_id"].as_str());
    assert!(
        heal.message.starts_with("[Self-Heal 1/10] timeout_error: "),
        "{}",
        heal.message
    );
    assert!(
        heal.message
            .contains(&format!("Pipewright-Run: {run_id}/1")),
        "{}",
        heal.message
    );
    assert_eq!(heal.actions.len(), 1);
    assert_eq!(heal.actions[0].file_path, ".gitlab-ci.yml");
    assert_eq!(heal.actions[0].action, "update");

    // The healed pair is what is stored.
    let id = monitor["learned_template_id"].as_str().expect("learned");
    let (status, record) = server.get_json(&format!("/api/v1/templates/{id}")).await;
    assert_eq!(status, 200, "{record}");
    assert!(record.to_string().contains("timeout: 2h"), "{record}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_failure_after_the_same_fix_stops_early_with_the_reason() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(
        p,
        PipelineScript::every(Duration::from_millis(30)).job(
            "test",
            failed(
                "job_execution_timeout",
                log("timeout_error", "job-execution-took-longer.log"),
            ),
        ),
    );
    let server = start(&gitlab).await;
    let body = commit(&server, p).await;
    let monitor = final_monitor(&server, body["run_id"].as_str().unwrap()).await;
    assert_eq!(monitor["status"], "exhausted", "{monitor}");
    assert_eq!(monitor["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(gitlab.commits().len(), 2, "one fix, never repeated");
    let note = monitor["heal_note"].as_str().unwrap();
    assert!(note.contains("raised once already"), "{note}");
    assert!(monitor["learned_template_id"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_unit_test_needs_a_code_fix_and_nothing_is_committed() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(
        p,
        PipelineScript::every(Duration::from_millis(30)).job(
            "test",
            failed(
                "script_failure",
                log("test_failure", "pytest-assertion.log"),
            ),
        ),
    );
    let server = start(&gitlab).await;
    let body = commit(&server, p).await;
    let monitor = final_monitor(&server, body["run_id"].as_str().unwrap()).await;
    assert_eq!(monitor["status"], "needs_code_fix", "{monitor}");
    assert_eq!(monitor["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(gitlab.commits().len(), 1, "only the workflow's commit");
    let job = failed_job(&monitor["attempts"][0], "test");
    assert_eq!(job["class"], "test_failure", "{job}");
    let evidence = job["evidence"].as_str().unwrap();
    assert!(monitor["heal_note"].as_str().unwrap().contains(evidence));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_failure_commits_nothing() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(
        p,
        PipelineScript::every(Duration::from_millis(30)).job(
            "test",
            failed(
                "runner_system_failure",
                log("runner_system_failure", "docker-no-such-container.log"),
            ),
        ),
    );
    let server = start(&gitlab).await;
    let body = commit(&server, p).await;
    let monitor = final_monitor(&server, body["run_id"].as_str().unwrap()).await;
    assert_eq!(monitor["status"], "exhausted", "{monitor}");
    assert_eq!(
        gitlab.commits().len(),
        1,
        "no fix commit for a runner failure"
    );
    assert_eq!(
        failed_job(&monitor["attempts"][0], "test")["class"],
        "runner_system_failure"
    );
    assert!(
        monitor["heal_note"]
            .as_str()
            .unwrap()
            .contains("2 unchanged retries"),
        "{monitor}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_gitlab_made_the_fix_commit_and_before_its_answer_commits_nothing_twice() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(
        p,
        PipelineScript::every(Duration::from_millis(200))
            .job(
                "test",
                failed(
                    "job_execution_timeout",
                    log("timeout_error", "job-execution-took-longer.log"),
                ),
            )
            .fixed_by("test", "timeout: 2h"),
    );
    let data = tempfile::tempdir().unwrap();
    let server = start_in(&gitlab, Some(data.path())).await;
    let body = commit(&server, p).await;
    let run_id = body["run_id"].as_str().unwrap().to_string();
    // The next commit (the fix) is made at once, but its answer is held back: the server is
    // killed in between, so its store never learns the commit happened.
    gitlab.inject(
        Fault::new(FaultKind::DelayAnswer(Duration::from_secs(60)), 1)
            .on_method("POST")
            .on_path("/repository/commits"),
    );
    let started = Instant::now();
    while gitlab.commits().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no fix commit: {}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (_, run) = server
        .get_json(&format!("/api/v1/pipeline/runs/{run_id}"))
        .await;
    assert_eq!(
        run["monitor"]["attempts"].as_array().map(Vec::len),
        Some(1),
        "the fix is not saved yet: {run}"
    );
    drop(server); // SIGKILL

    let server = start_in(&gitlab, Some(data.path())).await;
    let monitor = final_monitor(&server, &run_id).await;
    assert_eq!(monitor["status"], "succeeded", "{monitor}");
    let commits = gitlab.commits();
    assert_eq!(
        commits.len(),
        2,
        "the workflow's commit and one fix, never two"
    );
    let attempts = monitor["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{monitor}");
    assert_eq!(
        attempts[1]["fix"]["commit_id"].as_str(),
        Some(commits[1].sha.as_str()),
        "the fix found on the branch is the one recorded"
    );
    assert!(
        server.log().contains("already on the branch"),
        "{}",
        server.log()
    );
}
