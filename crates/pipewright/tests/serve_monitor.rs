//! The pipeline monitor from outside: `pipewright serve` against the fake GitLab running
//! scripted pipelines (jobs from the committed file, statuses moving on, failure reasons,
//! traces, pipeline webhooks with GitLab's headers). A green pipeline is learned under the
//! seed's id and served first next time; a red one is recorded and not learned; a skipped or
//! manual job blocks the gate; webhooks need the secret and are deduplicated; polling alone
//! and webhooks alone each finish; `kill -9` at any point loses and repeats nothing; a GitLab
//! outage is survived; the learn route trusts GitLab, never the body.

mod serve_support;

use pipewright_adapters::fake_gitlab::{
    FakeGitLab, Fault, FaultKind, JobOutcome, PipelineScript, FAKE_TOKEN,
};
use pipewright_core::knowledge::content_hash;
use serde_json::{json, Value};
use serve_support::{fixture_files, spawn_with, Options, Server};
use std::time::{Duration, Instant};

const WORKFLOW: &str = "/api/v1/pipeline/workflow";
const WEBHOOK: &str = "/api/v1/webhooks/gitlab";
const SECRET: &str = "hook-s3cret-value";

fn add_fixture(gitlab: &FakeGitLab, path: &str, fixture: &str) -> u64 {
    let files = fixture_files(fixture);
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
        .collect();
    gitlab.add_project(path, &pairs)
}

async fn start(gitlab: &FakeGitLab, poll: &str, extra: &[(&str, &str)]) -> Server {
    let mut options = Options::default()
        .env("GITLAB_URL", &gitlab.url())
        .env("GITLAB_TOKEN", FAKE_TOKEN)
        .env("PIPEWRIGHT_POLL_INTERVAL", poll)
        .env("PIPEWRIGHT_WEBHOOK_SECRET", SECRET);
    for (k, v) in extra {
        options = options.env(k, v);
    }
    tokio::task::spawn_blocking(move || spawn_with(options))
        .await
        .expect("spawn")
}

/// Commits through the workflow; the answer.
async fn commit(server: &Server, project: u64) -> Value {
    let (status, body) = server
        .call(WORKFLOW, &json!({ "project_id": project }))
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

/// Polls the run until its monitor satisfies `done`; the monitor object.
async fn wait_monitor(server: &Server, run_id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let (status, run) = server
            .get_json(&format!("/api/v1/pipeline/runs/{run_id}"))
            .await;
        assert_eq!(status, 200, "{run}");
        if done(&run["monitor"]) {
            return run["monitor"].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "monitor never got there: {}\nlog:\n{}",
            run["monitor"],
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn is_final(m: &Value) -> bool {
    [
        "succeeded",
        "failed",
        "timed_out",
        "canceled",
        "exhausted",
        "needs_code_fix",
    ]
    .contains(&m["status"].as_str().unwrap_or(""))
        && m["learn_note"] != "storing the pipeline"
}

/// The id the seed gives the committed pair.
fn expected_id(body: &Value) -> String {
    let ci = body["files"][".gitlab-ci.yml"].as_str().unwrap();
    let df = body["files"]["Dockerfile"].as_str().unwrap();
    format!(
        "manual_python_flask_{}",
        &content_hash(Some(ci), Some(df))[..12]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_green_pipeline_is_learned_by_polling_and_served_first_next_time() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let a = add_fixture(&gitlab, "team/app", "python-flask-pip");
    let b = add_fixture(&gitlab, "team/other", "python-flask-pip");
    for p in [a, b] {
        gitlab.script_pipelines(p, PipelineScript::every(Duration::from_millis(30)));
    }
    // No hook reaches pipewright: polling alone finishes. The public URL registers the hook
    // once per project.
    let server = start(
        &gitlab,
        "0.1",
        &[("PIPEWRIGHT_PUBLIC_URL", "http://127.0.0.1:9/")],
    )
    .await;
    let body = commit(&server, a).await;
    assert_eq!(body["commit_tag"], "[Template]");
    let run_id = body["run_id"].as_str().unwrap();
    let monitor = wait_monitor(&server, run_id, is_final).await;
    assert_eq!(monitor["status"], "succeeded", "{monitor}");
    let id = expected_id(&body);
    assert_eq!(monitor["learned_template_id"], id.as_str());
    let attempt = &monitor["attempts"][0];
    assert_eq!(attempt["attempt"], 0);
    assert_eq!(attempt["commit_id"], body["commit_id"]);
    assert_eq!(attempt["pipeline_status"], "success");
    assert!(attempt["pipeline_url"]
        .as_str()
        .unwrap()
        .contains("/-/pipelines/"));
    assert!(attempt["started_at"].is_string() && attempt["finished_at"].is_string());
    assert_eq!(attempt["failed_jobs"], json!([]));

    // The same stack next time takes the stored pair at priority 1.
    let second = commit(&server, b).await;
    assert_eq!(second["commit_tag"], "[RAG Template]", "{second}");
    let run2 = second["run_id"].as_str().unwrap();
    let monitor = wait_monitor(&server, run2, is_final).await;
    assert_eq!(monitor["learned_template_id"], id.as_str());
    let (status, record) = server.get_json(&format!("/api/v1/templates/{id}")).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(
        record["success_count"], 2,
        "a second success bumps the count"
    );

    let hooks = gitlab.hooks();
    let ours: Vec<_> = hooks
        .iter()
        .filter(|h| h.url == "http://127.0.0.1:9/api/v1/webhooks/gitlab")
        .collect();
    assert_eq!(ours.len(), 2, "one hook per project: {hooks:?}");
    assert!(ours.iter().all(|h| h.pipeline_events && !h.push_events));
    assert!(ours.iter().all(|h| h.token.as_deref() == Some(SECRET)));
    assert!(!server.log().contains(SECRET), "the secret is never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_red_pipeline_is_recorded_with_its_failed_jobs_and_not_learned() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(
        p,
        PipelineScript::every(Duration::from_millis(30)).job(
            "test",
            JobOutcome::Failed {
                reason: "script_failure".into(),
                trace: "section_start:1:step_script\r\u{1b}[0K$ pytest\n\u{1b}[31mE   AssertionError: expected 200\u{1b}[0m\nERROR: Job failed: exit code 1\n".into(),
            },
        ),
    );
    let server = start(&gitlab, "0.1", &[]).await;
    let body = commit(&server, p).await;
    let monitor = wait_monitor(&server, body["run_id"].as_str().unwrap(), is_final).await;
    // A failing test is the project's to fix: self-heal commits nothing.
    assert_eq!(monitor["status"], "needs_code_fix", "{monitor}");
    assert_eq!(gitlab.commits().len(), 1);
    assert!(monitor["learned_template_id"].is_null());
    let failed = monitor["attempts"][0]["failed_jobs"].as_array().unwrap();
    let test = failed
        .iter()
        .find(|j| j["name"] == "test")
        .expect("test recorded");
    assert_eq!(test["stage"], "test");
    assert_eq!(test["failure_reason"], "script_failure");
    let excerpt = test["trace_excerpt"].as_str().unwrap();
    assert!(
        excerpt.contains("AssertionError: expected 200"),
        "{excerpt}"
    );
    assert!(!excerpt.contains('\u{1b}') && !excerpt.contains("section_start"));
    let (status, _) = server
        .get_json(&format!("/api/v1/templates/{}", expected_id(&body)))
        .await;
    assert_eq!(status, 404, "a red pipeline is not stored");

    // The learn route reads GitLab, whatever the body claims.
    let pipeline = gitlab.pipelines(p)[0].id;
    let (status, answer) = server
        .call(
            "/api/v1/pipeline/learn",
            &json!({"project_id": p.to_string(), "pipeline_id": pipeline.to_string(),
                    "sha": body["commit_id"], "ref": body["branch"], "service": "", "status": "success"}),
        )
        .await;
    assert_eq!(status, 422, "unknown fields are refused: {answer}");
    let (status, answer) = server
        .call(
            "/api/v1/pipeline/learn",
            &json!({"project_id": p.to_string(), "pipeline_id": pipeline.to_string(),
                    "sha": body["commit_id"], "ref": body["branch"], "service": ""}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["stored"], false);
    assert!(answer["template_id"].is_null());
    assert!(
        answer["reason"].as_str().unwrap().contains("test (failed)"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_or_skipped_job_blocks_the_gate_though_the_pipeline_is_green() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let a = add_fixture(&gitlab, "team/a", "python-flask-pip");
    let b = add_fixture(&gitlab, "team/b", "python-flask-pip");
    gitlab.script_pipelines(
        a,
        PipelineScript::every(Duration::from_millis(30)).job("sast", JobOutcome::Manual),
    );
    gitlab.script_pipelines(
        b,
        PipelineScript::every(Duration::from_millis(30)).job("quality", JobOutcome::Skipped),
    );
    let server = start(&gitlab, "0.1", &[]).await;
    for (p, job, status) in [(a, "sast", "manual"), (b, "quality", "skipped")] {
        let body = commit(&server, p).await;
        let monitor = wait_monitor(&server, body["run_id"].as_str().unwrap(), is_final).await;
        assert_eq!(monitor["attempts"][0]["pipeline_status"], "success");
        assert_eq!(monitor["status"], "failed", "{monitor}");
        let failed = &monitor["attempts"][0]["failed_jobs"];
        assert_eq!(failed[0]["name"], job, "{failed}");
        assert_eq!(failed[0]["status"], status);
        assert!(monitor["learned_template_id"].is_null());
    }
}

/// Sends a recorded delivery again with `token` in place of the hook's.
async fn send_delivery(
    server: &Server,
    d: &pipewright_adapters::fake_gitlab::Delivery,
    token: Option<&str>,
) -> (u16, Value) {
    let mut request = server.client.post(server.url(WEBHOOK)).json(&d.body);
    for (k, v) in &d.headers {
        if k.eq_ignore_ascii_case("x-gitlab-token") || k.eq_ignore_ascii_case("content-type") {
            continue;
        }
        request = request.header(k.as_str(), v.as_str());
    }
    if let Some(t) = token {
        request = request.header("X-Gitlab-Token", t);
    }
    serve_support::json(request.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_alone_finish_a_run_need_the_secret_and_count_once() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(p, PipelineScript::by_hand());
    // Polls every hour: only webhooks can move the task on.
    let server = start(&gitlab, "3600", &[]).await;
    gitlab.add_hook(p, &server.url(WEBHOOK), Some(SECRET));
    let body = commit(&server, p).await;
    let run_id = body["run_id"].as_str().unwrap();
    wait_monitor(&server, run_id, |m| m["status"] == "running").await;
    let pipeline = gitlab.pipelines(p)[0].id;

    // One step: the delivery is answered, and the task reads the pipeline.
    assert_eq!(
        gitlab.advance_pipeline(pipeline).await.as_deref(),
        Some("pending")
    );
    let first = gitlab.deliveries()[0].clone();
    assert_eq!(first.status, Some(200));
    assert_eq!(first.header("X-Gitlab-Event"), Some("Pipeline Hook"));
    assert!(first.elapsed.unwrap() < Duration::from_secs(1));
    wait_monitor(&server, run_id, |m| {
        m["attempts"][0]["pipeline_status"] == "pending"
    })
    .await;

    // A wrong or missing token: 401, and nothing is recorded: the same key with the secret
    // is still new afterwards.
    assert_eq!(
        gitlab.advance_pipeline(pipeline).await.as_deref(),
        Some("running")
    );
    let mut fresh = gitlab.deliveries().last().unwrap().clone();
    for (k, v) in fresh.headers.iter_mut() {
        if k.eq_ignore_ascii_case("idempotency-key") {
            *v = "fresh-delivery-key".into();
        }
    }
    for token in [None, Some("wrong")] {
        let (status, answer) = send_delivery(&server, &fresh, token).await;
        assert_eq!(status, 401, "{answer}");
        assert_eq!(answer["error"]["code"], "unauthorized");
    }
    // The same delivery twice: the first wakes the task (it reads GitLab), the second does
    // nothing at all.
    gitlab.clear_requests();
    let (status, answer) = send_delivery(&server, &fresh, Some(SECRET)).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("queued")),
        "{answer}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !gitlab.requests().is_empty(),
        "the first delivery made the task read"
    );
    gitlab.clear_requests();
    let (status, answer) = send_delivery(&server, &fresh, Some(SECRET)).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    let (status, answer) = send_delivery(&server, &first, Some(SECRET)).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(gitlab.requests().is_empty(), "{:?}", gitlab.requests());

    // The rest of the pipeline by webhooks only.
    assert_eq!(
        gitlab.finish_pipeline(pipeline).await.as_deref(),
        Some("success")
    );
    let monitor = wait_monitor(&server, run_id, is_final).await;
    assert_eq!(monitor["status"], "succeeded", "{monitor}");
    assert!(gitlab.deliveries().iter().all(|d| d.status == Some(200)));

    // Other events: 2xx, ignored.
    let response = server
        .client
        .post(server.url(WEBHOOK))
        .header("X-Gitlab-Token", SECRET)
        .header("X-Gitlab-Event", "Push Hook")
        .json(&json!({"object_kind": "push"}))
        .send()
        .await
        .unwrap();
    let (status, answer) = serve_support::json(response).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("ignored")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_every_state_resumes_and_repeats_nothing() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(p, PipelineScript::by_hand());
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_string_lossy().to_string();
    let extra = [("PIPEWRIGHT_DATA_DIR", data_dir.as_str())];

    // Killed at once after the commit (waiting or just running).
    let server = start(&gitlab, "0.1", &extra).await;
    let body = commit(&server, p).await;
    let run_id = body["run_id"].as_str().unwrap().to_string();
    drop(server); // SIGKILL
    let server = start(&gitlab, "0.1", &extra).await;
    wait_monitor(&server, &run_id, |m| m["status"] == "running").await;
    let pipeline = gitlab.pipelines(p)[0].id;
    gitlab.advance_pipeline(pipeline).await;
    gitlab.advance_pipeline(pipeline).await;
    wait_monitor(&server, &run_id, |m| {
        m["attempts"][0]["pipeline_status"] == "running"
    })
    .await;

    // Killed while running; the pipeline finishes while pipewright is down.
    drop(server);
    assert_eq!(
        gitlab.finish_pipeline(pipeline).await.as_deref(),
        Some("success")
    );
    let server = start(&gitlab, "0.1", &extra).await;
    let monitor = wait_monitor(&server, &run_id, is_final).await;
    assert_eq!(monitor["status"], "succeeded", "{monitor}");
    let id = expected_id(&body);
    assert_eq!(monitor["learned_template_id"], id.as_str());

    // Killed after the end: a restart changes nothing.
    drop(server);
    let server = start(&gitlab, "0.1", &extra).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, record) = server.get_json(&format!("/api/v1/templates/{id}")).await;
    assert_eq!(record["success_count"], 1, "learned once: {record}");
    assert_eq!(gitlab.commits().len(), 1, "committed once");
    assert_eq!(gitlab.pipelines(p).len(), 1);
    let (_, run) = server
        .get_json(&format!("/api/v1/pipeline/runs/{run_id}"))
        .await;
    assert_eq!(run["monitor"]["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_outage_during_monitoring_is_survived() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(p, PipelineScript::by_hand());
    let server = start(&gitlab, "0.1", &[]).await;
    let body = commit(&server, p).await;
    let run_id = body["run_id"].as_str().unwrap();
    wait_monitor(&server, run_id, |m| m["status"] == "running").await;
    let pipeline = gitlab.pipelines(p)[0].id;
    // Every pipeline read fails for a while: 5xx bursts, then rate limiting.
    gitlab.inject(Fault::new(FaultKind::Status(503), 12).on_path("/pipelines"));
    gitlab.inject(
        Fault::new(
            FaultKind::RateLimited {
                retry_after: Some("1".into()),
                reset_in: None,
            },
            8,
        )
        .on_path("/pipelines"),
    );
    assert_eq!(
        gitlab.finish_pipeline(pipeline).await.as_deref(),
        Some("success")
    );
    let monitor = wait_monitor(&server, run_id, is_final).await;
    assert_eq!(monitor["status"], "succeeded", "{monitor}");
    assert!(
        server.log().contains("monitor step failed"),
        "the outage was seen"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_learn_job_calling_while_it_runs_stores_a_pipeline_that_passed_otherwise() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(p, PipelineScript::by_hand());
    let server = start(&gitlab, "3600", &[]).await;
    let (status, body) = server
        .call(WORKFLOW, &json!({ "project_id": p, "monitor": false }))
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, run) = server
        .get_json(&format!(
            "/api/v1/pipeline/runs/{}",
            body["run_id"].as_str().unwrap()
        ))
        .await;
    assert!(run["monitor"].is_null(), "monitor: false watches nothing");
    let pipeline = gitlab.pipelines(p)[0].id;
    let learn = json!({"project_id": p.to_string(), "pipeline_id": pipeline.to_string(),
                       "sha": body["commit_id"], "ref": body["branch"], "service": ""});
    // Until the learn job runs, other jobs have not all passed.
    let (status, answer) = server.call("/api/v1/pipeline/learn", &learn).await;
    assert_eq!(
        (status, answer["stored"].as_bool()),
        (200, Some(false)),
        "{answer}"
    );
    loop {
        let status = gitlab.advance_pipeline(pipeline).await;
        let jobs = &gitlab.pipelines(p)[0].jobs;
        if jobs
            .iter()
            .any(|j| j.name == "learn" && j.status == "running")
        {
            break;
        }
        assert!(status.is_some(), "the learn job never ran: {jobs:?}");
    }
    let (status, answer) = server.call("/api/v1/pipeline/learn", &learn).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["stored"], true, "{answer}");
    assert_eq!(answer["template_id"], expected_id(&body).as_str());
    // Called again (a retried job): not counted twice.
    let (_, again) = server.call("/api/v1/pipeline/learn", &learn).await;
    assert_eq!(again["stored"], true);
    let (_, record) = server
        .get_json(&format!("/api/v1/templates/{}", expected_id(&body)))
        .await;
    assert_eq!(record["success_count"], 1);
    // A different commit than the pipeline's is refused.
    let mut wrong = learn.clone();
    wrong["sha"] = json!("0123456789abcdef0123456789abcdef01234567");
    let (_, answer) = server.call("/api/v1/pipeline/learn", &wrong).await;
    assert_eq!(answer["stored"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learn_left_pending_by_a_crash_is_finished_once_at_restart() {
    use pipewright_adapters::runs::SqliteRunStore;
    use pipewright_core::knowledge::StackKey;
    use pipewright_core::monitor::{Event, MonitorStore, MonitorTask};
    use pipewright_core::stack::{Framework, Language};
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = gitlab.add_project("team/app", &[("app.py", "print(1)\n")]);
    let pipeline = gitlab.add_pipeline(p, "main", "success").unwrap();
    let data = tempfile::tempdir().unwrap();
    let ci = "stages: [build]\nbuild:\n  stage: build\n  script: [make]\n";
    let df = "FROM python:3.12-slim\n";
    {
        // What a server killed between saving the pass and writing the store leaves.
        let store = SqliteRunStore::open(data.path()).unwrap();
        let mut task = MonitorTask::new(
            "run_0193a4f2c1d0_5f3a9c21".into(),
            p,
            "team/app".into(),
            "main".into(),
            gitlab.branch_head(p, "main").unwrap(),
            Some(StackKey::new(Language::Python).with_framework(Some(Framework::Flask))),
            [
                (".gitlab-ci.yml".to_string(), ci.to_string()),
                ("Dockerfile".to_string(), df.to_string()),
            ]
            .into(),
            pipewright_adapters::runs::now_ms(),
            900_000,
        );
        task.current_mut().pipeline_id = Some(pipeline);
        task.apply(Event::PipelineFound, 1).unwrap();
        task.apply(Event::GatePassed, 2).unwrap();
        store.save_task(&task).await.unwrap();
    }
    let data_dir = data.path().to_string_lossy().to_string();
    let id = format!(
        "manual_python_flask_{}",
        &content_hash(Some(ci), Some(df))[..12]
    );
    for _ in 0..2 {
        let server = start(&gitlab, "0.1", &[("PIPEWRIGHT_DATA_DIR", &data_dir)]).await;
        let started = Instant::now();
        loop {
            let task = SqliteRunStore::open(data.path())
                .unwrap()
                .task("run_0193a4f2c1d0_5f3a9c21")
                .await
                .unwrap()
                .unwrap();
            if !task.is_unfinished() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (status, record) = server.get_json(&format!("/api/v1/templates/{id}")).await;
        assert_eq!(status, 200, "{record}");
        assert_eq!(record["success_count"], 1, "counted once: {record}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_that_never_ends_times_out() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(p, PipelineScript::by_hand());
    let server = start(&gitlab, "0.1", &[("PIPEWRIGHT_MONITOR_TIMEOUT", "1.5")]).await;
    let body = commit(&server, p).await;
    let monitor = wait_monitor(&server, body["run_id"].as_str().unwrap(), is_final).await;
    assert_eq!(monitor["status"], "timed_out", "{monitor}");
    assert!(monitor["learned_template_id"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_stream_shows_every_change_and_ends_after_the_final_one() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(p, PipelineScript::by_hand());
    let server = start(&gitlab, "0.1", &[]).await;
    let body = commit(&server, p).await;
    let run_id = body["run_id"].as_str().unwrap();
    let mut response = server
        .get(&format!("/api/v1/pipeline/runs/{run_id}/events"))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let pipeline = gitlab.pipelines(p)[0].id;
    let finisher = gitlab.clone();
    tokio::spawn(async move {
        while finisher.advance_pipeline(pipeline).await.is_some() {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    });
    let mut text = String::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(read.is_ok(), "the stream did not end: {text}");
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(text.contains("event: monitor"));
    assert!(events.len() >= 3, "{text}");
    assert_eq!(events.last().unwrap()["status"], "succeeded", "{text}");
    assert!(events
        .iter()
        .any(|e| e["attempts"][0]["pipeline_status"] == "running"));
}
