//! Leases between two monitors on one run store (the embedded file, and a real PostgreSQL
//! when `PIPEWRIGHT_TEST_DATABASE_URL` is set; under `CI` it must be): a task an instance
//! held when it died is taken over only once its lease ran out, and a fix that instance saved
//! as an intent is committed exactly once, whether or not it reached GitLab before the death;
//! a monitor whose task was taken over stops driving it.

use pipewright_adapters::fake_gitlab::{FakeGitLab, FAKE_TOKEN};
use pipewright_adapters::gitlab::GitLabClient;
use pipewright_adapters::runs::{PgRunStore, SqliteRunStore};
use pipewright_core::gitlab::{GitLab, ProjectRef};
use pipewright_core::heal::{commit_message, FailureClass, FailureSignature, HealGuard};
use pipewright_core::monitor::{Event, HealIntent, MonitorStore, MonitorTask};
use pipewright_workflow::monitor::{Monitor, MonitorConfig};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CI: &str = "stages: [test]\ntest:\n  stage: test\n  script:\n    - pytest\n";
const FIXED: &str =
    "stages: [test]\ntest:\n  stage: test\n  timeout: 2h\n  script:\n    - pytest\n";

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The stores to run on: the embedded one always, PostgreSQL when the test server is there.
async fn stores(test: &str) -> Vec<(Arc<dyn MonitorStore>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn MonitorStore> = Arc::new(SqliteRunStore::open(dir.path()).unwrap());
    let mut out = vec![(sqlite, dir)];
    match std::env::var("PIPEWRIGHT_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(server) => {
            let name = format!(
                "pwl_{test}_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            );
            let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let url = format!("{}/{name}", server.rsplit_once('/').unwrap().0);
            out.push((
                Arc::new(PgRunStore::connect(&url).await.unwrap()),
                tempfile::tempdir().unwrap(),
            ));
        }
        None if std::env::var_os("CI").is_some() => panic!(
            "CI is set but PIPEWRIGHT_TEST_DATABASE_URL is not: source scripts/services/postgres.sh and call postgres_start"
        ),
        None => eprintln!("{test}: PostgreSQL skipped (PIPEWRIGHT_TEST_DATABASE_URL is not set)"),
    }
    out
}

fn config(instance: &str, lease_ms: u64) -> MonitorConfig {
    MonitorConfig {
        poll_interval: Duration::from_millis(50),
        lease: Duration::from_millis(lease_ms),
        instance_id: instance.into(),
        ..MonitorConfig::default()
    }
}

/// A task in `healing` with its fix saved as an intent, as an instance leaves it when it dies
/// between the save and (maybe) the commit.
fn healing_task(run_id: &str, project: u64, parent: &str, message: &str) -> MonitorTask {
    let now = pipewright_adapters::runs::now_ms();
    let files = BTreeMap::from([(".gitlab-ci.yml".to_string(), CI.to_string())]);
    let mut task = MonitorTask::new(
        run_id.into(),
        project,
        "team/app".into(),
        "feature/ai".into(),
        parent.into(),
        None,
        files,
        now,
        60_000,
    );
    task.apply(Event::PipelineFound, now).unwrap();
    task.apply(Event::HealStarted, now).unwrap();
    task.heal_guard = Some(HealGuard::new(10, "as generated"));
    task.heal_pending = Some(HealIntent {
        attempt: 1,
        signature: FailureSignature::new(
            "test",
            FailureClass::TimeoutError,
            Some("ERROR: Job failed: execution took longer than 1h0m0s seconds"),
        ),
        strategy: "raise_timeout".into(),
        summary: "raise the timeout of `test` to 2h".into(),
        diff: String::new(),
        message: message.into(),
        files: BTreeMap::from([(".gitlab-ci.yml".to_string(), FIXED.to_string())]),
        state: "after fix 1".into(),
        parent_sha: parent.into(),
    });
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_instances_fix_is_committed_once_after_its_lease_runs_out() {
    // A fresh store per case: the monitor of one case never sees the other's task.
    for sent_before_death in [true, false] {
        for (store, _dir) in stores(&format!("dead_fix_{sent_before_death}")).await {
            let gitlab = FakeGitLab::start().await.unwrap();
            let p = gitlab.add_project(
                "team/app",
                &[(".gitlab-ci.yml", CI), ("app.py", "print(1)\n")],
            );
            assert!(gitlab.add_branch(p, "feature/ai", "main"));
            let parent = gitlab.branch_head(p, "feature/ai").unwrap();
            let client: Arc<dyn GitLab> =
                Arc::new(GitLabClient::new(gitlab.client_config(FAKE_TOKEN)).unwrap());
            let run_id = format!("run_dead_{sent_before_death}");
            let message = commit_message(
                1,
                10,
                FailureClass::TimeoutError,
                "raise the timeout of `test` to 2h",
                &run_id,
            );
            store
                .save_task(&healing_task(&run_id, p, &parent, &message))
                .await
                .unwrap();
            // Instance "dead" held it (lease 800 ms), maybe sent the commit, then died.
            assert!(store
                .claim_task(&run_id, "dead", 800)
                .await
                .unwrap()
                .is_some());
            let died = Instant::now();
            if sent_before_death {
                client
                    .commit_files(
                        &ProjectRef::Id(p),
                        "feature/ai",
                        None,
                        &message,
                        &[(".gitlab-ci.yml".to_string(), FIXED.to_string())],
                    )
                    .await
                    .unwrap();
            }
            let commits_before = gitlab.commits().len();

            let b = Monitor::new(
                client,
                store.clone(),
                Err("not used".into()),
                // One id per monitor: the same id is a restart, which takes its own back.
                // B's own lease is long (a claim round every 10 s): it claims the dead
                // instance's task when that lease ends, not at its next round.
                config(&format!("b-{sent_before_death}"), 30_000),
            );
            assert_eq!(
                b.resume().await.unwrap(),
                0,
                "a live lease is not taken (sent before the death: {sent_before_death}, {:?} after the claim)",
                died.elapsed()
            );
            let task = loop {
                let t = store.task(&run_id).await.unwrap().unwrap();
                if t.heal_pending.is_none() {
                    break t;
                }
                assert!(died.elapsed() < Duration::from_secs(30), "{t:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            assert!(
                died.elapsed() >= Duration::from_millis(800),
                "taken over only after the lease ran out ({:?})",
                died.elapsed()
            );
            assert!(
                died.elapsed() < Duration::from_secs(8),
                "taken over as the lease ended, not at B's next round ({:?})",
                died.elapsed()
            );
            let expected = if sent_before_death { 0 } else { 1 };
            assert_eq!(
                gitlab.commits().len() - commits_before,
                expected,
                "sent before the death: {sent_before_death}"
            );
            assert_eq!(task.attempts.len(), 2);
            assert_eq!(task.files[".gitlab-ci.yml"], FIXED);
            let fix_commits = gitlab
                .commits()
                .iter()
                .filter(|c| c.message == message)
                .count();
            assert_eq!(fix_commits, 1, "the fix is on GitLab exactly once");
            // B stops (as at SIGTERM).
            b.release_all().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_whose_task_was_taken_over_stops_driving_it() {
    for (store, _dir) in stores("taken_over").await {
        let gitlab = FakeGitLab::start().await.unwrap();
        let p = gitlab.add_project("team/app", &[("app.py", "print(1)\n")]);
        let sha = gitlab.branch_head(p, "main").unwrap();
        gitlab.add_pipeline(p, "main", "running").unwrap();
        let client: Arc<dyn GitLab> =
            Arc::new(GitLabClient::new(gitlab.client_config(FAKE_TOKEN)).unwrap());
        let a = Monitor::new(
            client,
            store.clone(),
            Err("not used".into()),
            config("a", 300),
        );
        a.resume().await.unwrap();
        a.watch(
            "run_taken",
            p,
            "team/app",
            "main",
            &sha,
            None,
            BTreeMap::new(),
        )
        .await
        .unwrap();
        assert_eq!(a.active(), 1);
        // Another instance takes it (as after a partition longer than the lease).
        store.release_task("run_taken", "a").await.unwrap();
        assert!(store
            .claim_task("run_taken", "b", 60_000)
            .await
            .unwrap()
            .is_some());
        let started = Instant::now();
        while a.active() > 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "A still drives the task"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            !store
                .renew_leases("a", 60_000)
                .await
                .unwrap()
                .contains(&"run_taken".to_string()),
            "A did not take it back"
        );
    }
}
