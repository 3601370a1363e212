//! Two `pipewright serve` processes sharing one PostgreSQL database (`PIPEWRIGHT_DATABASE_URL`)
//! against the fake GitLab: a run made on A is read on B; with polling off, a webhook
//! delivered to B finishes a run A drives; A killed with `-9` while monitoring → B takes the
//! task over when the lease runs out and finishes it with exactly the expected commits; eight
//! workflows spread over both instances all finish with no duplicate commit; an unreachable
//! database stops the start with a clear message.
//!
//! Needs `PIPEWRIGHT_TEST_DATABASE_URL` (`scripts/services/postgres.sh`); each test works in a
//! database of its own. Without it the tests are skipped, and under `CI` they fail.

mod serve_support;

use pipewright_adapters::fake_gitlab::{FakeGitLab, JobOutcome, PipelineScript, FAKE_TOKEN};
use serde_json::{json, Value};
use serve_support::{fixture_files, spawn_with, Options, Server};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const WEBHOOK: &str = "/api/v1/webhooks/gitlab";
const SECRET: &str = "hook-s3cret-value";

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh database on the test server, or `None` (skip) outside CI.
async fn database(test: &str) -> Option<String> {
    let Some(server) = std::env::var("PIPEWRIGHT_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "CI is set but PIPEWRIGHT_TEST_DATABASE_URL is not: the shared-database tests must run in CI; \
                 source scripts/services/postgres.sh and call postgres_start first"
            );
        }
        eprintln!("skipped {test}: PIPEWRIGHT_TEST_DATABASE_URL is not set");
        return None;
    };
    let name = format!(
        "pws_{}_{}_{}",
        test.chars().take(30).collect::<String>(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    let (base, _) = server.rsplit_once('/').expect("a URL with a database");
    Some(format!("{base}/{name}"))
}

fn add_fixture(gitlab: &FakeGitLab, path: &str, fixture: &str) -> u64 {
    let files = fixture_files(fixture);
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
        .collect();
    gitlab.add_project(path, &pairs)
}

fn log(class: &str, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipewright-core/tests/fixtures/logs")
        .join(class)
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A test job that times out until the committed file raises its timeout (self-heal fixes
/// it with one commit).
fn timeout_until_fixed(script: PipelineScript) -> PipelineScript {
    script
        .job(
            "test",
            JobOutcome::Failed {
                reason: "job_execution_timeout".into(),
                trace: log("timeout_error", "job-execution-took-longer.log"),
            },
        )
        .fixed_by("test", "timeout: 2h")
}

async fn start(gitlab: &FakeGitLab, url: &str, name: &str, poll: &str, lease: &str) -> Server {
    let options = Options::default()
        .env("GITLAB_URL", &gitlab.url())
        .env("GITLAB_TOKEN", FAKE_TOKEN)
        .env("PIPEWRIGHT_POLL_INTERVAL", poll)
        .env("PIPEWRIGHT_LEASE_SECONDS", lease)
        .env("PIPEWRIGHT_WEBHOOK_SECRET", SECRET)
        .env("PIPEWRIGHT_INSTANCE_ID", name)
        .arg("--database-url")
        .arg(url);
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

/// Polls the run on `server` until its monitor satisfies `done`; the monitor object.
async fn wait_monitor(
    server: &Server,
    others: &[&Server],
    run_id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let (status, run) = server
            .get_json(&format!("/api/v1/pipeline/runs/{run_id}"))
            .await;
        assert_eq!(status, 200, "{run}");
        if done(&run["monitor"]) {
            return run["monitor"].clone();
        }
        if started.elapsed() > Duration::from_secs(120) {
            let logs: Vec<String> = std::iter::once(server)
                .chain(others.iter().copied())
                .map(Server::log)
                .collect();
            panic!(
                "monitor never got there: {}\nlogs:\n{}",
                run["monitor"],
                logs.join("\n----\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Finishes every unfinished pipeline the fake runs by hand, until `stop` is dropped.
fn finish_pipelines_by_hand(gitlab: &FakeGitLab, project: u64) -> tokio::task::JoinHandle<()> {
    let gitlab = gitlab.clone();
    tokio::spawn(async move {
        loop {
            for p in gitlab.pipelines(project) {
                if !["success", "failed", "canceled", "skipped"].contains(&p.status.as_str()) {
                    gitlab.finish_pipeline(p.id).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// Sends a delivery the fake GitLab made to another instance, with the secret.
async fn send_delivery(
    server: &Server,
    d: &pipewright_adapters::fake_gitlab::Delivery,
) -> (u16, Value) {
    let mut request = server.client.post(server.url(WEBHOOK)).json(&d.body);
    for (k, v) in &d.headers {
        if k.eq_ignore_ascii_case("content-type") {
            continue;
        }
        request = request.header(k.as_str(), v.as_str());
    }
    serve_support::json(request.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_made_on_a_is_read_on_b_and_a_webhook_to_b_finishes_it() {
    let Some(url) = database("webhook_to_b").await else {
        return;
    };
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(p, PipelineScript::by_hand());
    // Polling every hour: only a webhook can move the task on.
    let a = start(&gitlab, &url, "a", "3600", "30").await;
    let b = start(&gitlab, &url, "b", "3600", "30").await;
    // GitLab's hook points at B (the load balancer chose it).
    gitlab.add_hook(p, &b.url(WEBHOOK), Some(SECRET));
    let body = commit(&a, p).await;
    let run_id = body["run_id"].as_str().unwrap();

    // A run made on A is read on B, listed there too.
    let (status, run) = b.get_json(&format!("/api/v1/pipeline/runs/{run_id}")).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "succeeded", "{run}");
    let (_, list) = b.get_json("/api/v1/pipeline/runs").await;
    assert!(list.to_string().contains(run_id), "{list}");
    wait_monitor(&b, &[&a], run_id, |m| m["status"] == "running").await;

    // B reports the shared database, the task held by an instance.
    let (_, health) = b.get_json("/health").await;
    let database = &health["dependencies"]["database"];
    assert_eq!(database["state"], "ok", "{health}");
    let detail = database["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("PostgreSQL 15"), "{health}");
    assert!(
        detail.contains("1 held by an instance (0 here)"),
        "{health}"
    );
    assert!(!detail.contains("password"), "{health}");

    // B streams the changes A makes (read from the shared store).
    let mut events = b
        .get(&format!("/api/v1/pipeline/runs/{run_id}/events"))
        .await;
    assert_eq!(events.status().as_u16(), 200);
    let pipeline = gitlab.pipelines(p)[0].id;
    assert_eq!(
        gitlab.finish_pipeline(pipeline).await.as_deref(),
        Some("success")
    );
    let monitor = wait_monitor(&a, &[&b], run_id, is_final).await;
    assert_eq!(monitor["status"], "succeeded", "{monitor}");
    let mut text = String::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(chunk) = events.chunk().await.unwrap() {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(read.is_ok(), "B's stream did not end: {text}");
    let last: Value = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next_back()
        .map(|d| serde_json::from_str(d).unwrap())
        .unwrap();
    assert_eq!(last["status"], "succeeded", "{text}");
    let deliveries = gitlab.deliveries();
    assert!(!deliveries.is_empty());
    assert!(
        deliveries.iter().all(|d| d.status == Some(200)),
        "{deliveries:?}"
    );
    // Deduplication is shared: a delivery B received, redelivered to A, is a duplicate there.
    let redelivered = send_delivery(&a, &deliveries[0]).await;
    assert_eq!(
        (redelivered.0, redelivered.1["status"].as_str()),
        (200, Some("duplicate")),
        "{redelivered:?}"
    );
    assert!(
        a.log().contains("monitor task finished"),
        "A drove the task: {}",
        a.log()
    );
    assert!(!b.log().contains("monitor task claimed"), "{}", b.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_while_monitoring_b_takes_over_with_exactly_the_expected_commits() {
    let Some(url) = database("kill_9_takeover").await else {
        return;
    };
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(p, timeout_until_fixed(PipelineScript::by_hand()));
    // A 2 s lease, renewed every 667 ms: a loaded machine does not delay a renewal that long.
    let a = start(&gitlab, &url, "a", "0.1", "2").await;
    let b = start(&gitlab, &url, "b", "0.1", "2").await;
    let body = commit(&a, p).await;
    let run_id = body["run_id"].as_str().unwrap().to_string();
    wait_monitor(&b, &[&a], &run_id, |m| m["status"] == "running").await;
    // A holds the task across several renewals; B does not touch it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(!b.log().contains("monitor task claimed"), "{}", b.log());

    let killed = Instant::now();
    drop(a); // SIGKILL while the pipeline runs
    let finisher = finish_pipelines_by_hand(&gitlab, p);
    let monitor = wait_monitor(&b, &[], &run_id, is_final).await;
    finisher.abort();
    assert_eq!(monitor["status"], "succeeded", "{monitor}");
    assert!(
        b.log().contains("monitor task claimed"),
        "B took it over: {}",
        b.log()
    );
    eprintln!(
        "taken over and finished {} ms after the kill",
        killed.elapsed().as_millis()
    );
    let attempts = monitor["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{monitor}");
    let commits = gitlab.commits();
    assert_eq!(
        commits.len(),
        2,
        "the workflow's commit and one fix: {commits:?}"
    );
    assert!(commits[1]
        .message
        .starts_with("[Self-Heal 1/10] timeout_error: "));
    assert_eq!(attempts[1]["fix"]["commit_id"], commits[1].sha.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_instance_hands_its_tasks_over_at_once() {
    let Some(url) = database("sigterm_handover").await else {
        return;
    };
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(p, PipelineScript::by_hand());
    // A 60 s lease (renewed, and free tasks claimed, every 20 s): B could only take over this
    // fast if A gave its lease up and told B so.
    let mut a = start(&gitlab, &url, "a", "0.1", "60").await;
    let b = start(&gitlab, &url, "b", "0.1", "60").await;
    let run_id = commit(&a, p).await["run_id"].as_str().unwrap().to_string();
    wait_monitor(&b, &[&a], &run_id, |m| m["status"] == "running").await;
    let stopped = Instant::now();
    a.terminate();
    assert!(
        a.wait_exit(Duration::from_secs(20)).is_some(),
        "{}",
        a.log()
    );
    assert!(a.log().contains("monitor leases released"), "{}", a.log());
    let finisher = finish_pipelines_by_hand(&gitlab, p);
    let monitor = wait_monitor(&b, &[], &run_id, is_final).await;
    finisher.abort();
    assert_eq!(monitor["status"], "succeeded", "{monitor}");
    eprintln!(
        "stopped A's task finished on B {} ms after SIGTERM",
        stopped.elapsed().as_millis()
    );
    assert!(
        stopped.elapsed() < Duration::from_secs(12),
        "taken over at once, not at B's next lease round ({:?})",
        stopped.elapsed()
    );
    assert!(b.log().contains("monitor task claimed"), "{}", b.log());
    assert_eq!(gitlab.commits().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_workflows_over_both_instances_finish_with_no_duplicate_commit() {
    let Some(url) = database("eight_workflows").await else {
        return;
    };
    let gitlab = FakeGitLab::start().await.unwrap();
    let projects: Vec<u64> = (0..8)
        .map(|i| {
            let p = add_fixture(&gitlab, &format!("team/app{i}"), "python-flask-pip");
            gitlab.script_pipelines(
                p,
                timeout_until_fixed(PipelineScript::every(Duration::from_millis(40))),
            );
            p
        })
        .collect();
    let a = start(&gitlab, &url, "a", "0.1", "1").await;
    let b = start(&gitlab, &url, "b", "0.1", "1").await;
    let mut runs = Vec::new();
    for (i, p) in projects.iter().enumerate() {
        let server = if i % 2 == 0 { &a } else { &b };
        runs.push(
            commit(server, *p).await["run_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // A pair healed on one instance is learned there, and a later workflow on that instance
    // may start from it and pass at once: each run's expected commits are its attempts.
    let mut expected = BTreeMap::new();
    for (i, run_id) in runs.iter().enumerate() {
        let (reader, other) = if i % 2 == 0 { (&b, &a) } else { (&a, &b) };
        let monitor = wait_monitor(reader, &[other], run_id, is_final).await;
        assert_eq!(monitor["status"], "succeeded", "{monitor}");
        let attempts = monitor["attempts"].as_array().unwrap().len();
        assert!((1..=2).contains(&attempts), "{monitor}");
        expected.insert(projects[i], attempts);
    }
    let commits = gitlab.commits();
    for (p, attempts) in &expected {
        let of_project: Vec<&str> = commits
            .iter()
            .filter(|c| c.project_id == *p)
            .map(|c| c.message.lines().next().unwrap_or(""))
            .collect();
        assert_eq!(of_project.len(), *attempts, "project {p}: {of_project:?}");
        if *attempts == 2 {
            assert!(
                of_project[1].starts_with("[Self-Heal 1/10]"),
                "{of_project:?}"
            );
        }
    }
    let healed = expected.values().filter(|a| **a == 2).count();
    assert!(
        healed >= 2,
        "at least the first run on each instance healed"
    );
    assert_eq!(commits.len(), 8 + healed, "no duplicate commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_database_connection_dropped_mid_run_loses_nothing() {
    let Some(url) = database("connections_dropped").await else {
        return;
    };
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(p, PipelineScript::by_hand());
    // Webhooks only: the wake-up has to cross the database after it dropped everything.
    let a = start(&gitlab, &url, "a", "3600", "30").await;
    let b = start(&gitlab, &url, "b", "3600", "30").await;
    gitlab.add_hook(p, &b.url(WEBHOOK), Some(SECRET));
    let body = commit(&a, p).await;
    let run_id = body["run_id"].as_str().unwrap();
    wait_monitor(&b, &[&a], run_id, |m| m["status"] == "running").await;

    // The server ends every connection to the database (a failover or restart does this).
    let server = std::env::var("PIPEWRIGHT_TEST_DATABASE_URL").unwrap();
    let (admin, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let db = url.rsplit('/').next().unwrap().to_string();
    let ended = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&db],
        )
        .await
        .unwrap();
    assert!(ended.len() >= 2, "both instances had connections");
    // The listeners reconnect after a short backoff.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let pipeline = gitlab.pipelines(p)[0].id;
    assert_eq!(
        gitlab.finish_pipeline(pipeline).await.as_deref(),
        Some("success")
    );
    let monitor = wait_monitor(&b, &[&a], run_id, is_final).await;
    assert_eq!(monitor["status"], "succeeded", "{monitor}");
    assert!(gitlab.deliveries().iter().all(|d| d.status == Some(200)));
    assert_eq!(gitlab.commits().len(), 1);
}

/// Runs a `pipewright serve` that must refuse to start: its output once it exited (killed,
/// and the test failed, when it is still running after 30 s).
fn refused_start(command: &mut std::process::Command) -> std::process::Output {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run pipewright serve");
    let started = Instant::now();
    while child
        .try_wait()
        .expect("wait for pipewright serve")
        .is_none()
    {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let output = child.wait_with_output().expect("collect the output");
            panic!(
                "pipewright serve started instead of refusing: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("collect the output")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_stops_the_start_with_a_clear_message() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = tempfile::tempdir().unwrap();
    let output = refused_start(
        std::process::Command::new(env!("CARGO_BIN_EXE_pipewright"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("LLM_PROVIDER", "none")
            .env(
                "PIPEWRIGHT_DATABASE_URL",
                format!("postgres://pw:s3cret@127.0.0.1:{port}/runs"),
            )
            .env("PIPEWRIGHT_DATA_DIR", data.path()),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PIPEWRIGHT_DATABASE_URL"), "{stderr}");
    assert!(stderr.contains("does not start"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_newer_than_the_binary_stops_the_start_and_is_left_alone() {
    let Some(url) = database("newer_schema").await else {
        return;
    };
    // An instance of this version migrates the database, then a newer one records version 99.
    drop(
        pipewright_adapters::runs::PgRunStore::connect(&url)
            .await
            .unwrap(),
    );
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("INSERT INTO pipewright_schema (version) VALUES (99)")
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let output = refused_start(
        std::process::Command::new(env!("CARGO_BIN_EXE_pipewright"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
            .env("LLM_PROVIDER", "none")
            .env_remove("PIPEWRIGHT_DATABASE_URL")
            .env("PIPEWRIGHT_DATA_DIR", data.path()),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("schema version is 99"), "{stderr}");
    assert!(stderr.contains("upgrade this instance"), "{stderr}");
    assert!(stderr.contains("does not start"), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).is_empty());
    // Nothing was changed: the newer schema is still the newest.
    let newest: i32 = client
        .query_one("SELECT MAX(version) FROM pipewright_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(newest, 99);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_could_not_be_passed_on_is_new_when_gitlab_retries_it() {
    let Some(url) = database("webhook_retry").await else {
        return;
    };
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = add_fixture(&gitlab, "team/app", "python-flask-pip");
    gitlab.script_pipelines(p, PipelineScript::by_hand());
    let a = start(&gitlab, &url, "a", "3600", "30").await;
    let b = start(&gitlab, &url, "b", "3600", "30").await;
    let run_id = commit(&a, p).await["run_id"].as_str().unwrap().to_string();
    wait_monitor(&b, &[&a], &run_id, |m| m["status"] == "running").await;
    let sha = gitlab.commits()[0].sha.clone();
    // A pipeline event for A's task, delivered to B, which passes it on through the database.
    let deliver = || async {
        let response = b
            .client
            .post(b.url(WEBHOOK))
            .header("X-Gitlab-Event", "Pipeline Hook")
            .header("X-Gitlab-Token", SECRET)
            .header("X-Gitlab-Event-UUID", "retried-delivery-1")
            .json(&json!({
                "object_kind": "pipeline",
                "project": { "id": p },
                "object_attributes": { "sha": sha, "status": "running" }
            }))
            .send()
            .await
            .unwrap();
        serve_support::json(response).await
    };
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // The tasks' table is out of reach: the delivery is recorded, but cannot be passed on.
    client
        .batch_execute("ALTER TABLE monitor_tasks RENAME TO monitor_tasks_away")
        .await
        .unwrap();
    let (status, answer) = deliver().await;
    client
        .batch_execute("ALTER TABLE monitor_tasks_away RENAME TO monitor_tasks")
        .await
        .unwrap();
    assert!(status >= 500, "{status} {answer}");
    // GitLab retries the same delivery: acted on, not taken for a duplicate.
    let (status, answer) = deliver().await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("queued")),
        "{answer}"
    );
    let (status, answer) = deliver().await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate")),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_a_database_that_went_away() {
    let Some(url) = database("health_down").await else {
        return;
    };
    let gitlab = FakeGitLab::start().await.unwrap();
    let a = start(&gitlab, &url, "a", "3600", "30").await;
    let (_, health) = a.get_json("/health").await;
    assert_eq!(
        health["dependencies"]["database"]["state"], "ok",
        "{health}"
    );
    // The database is dropped under the running instance.
    let server = std::env::var("PIPEWRIGHT_TEST_DATABASE_URL").unwrap();
    let name = url.rsplit_once('/').unwrap().1.to_string();
    let (admin, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    let started = Instant::now();
    let (status, health) = a.get_json("/health").await;
    assert_eq!(status, 200, "{health}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "answered within the health timeout ({:?})",
        started.elapsed()
    );
    assert_eq!(health["status"], "degraded", "{health}");
    let database = &health["dependencies"]["database"];
    assert_eq!(database["state"], "unavailable", "{health}");
    let reason = database["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("database \"{name}\" does not exist")),
        "the reason names the database: {health}"
    );
}
