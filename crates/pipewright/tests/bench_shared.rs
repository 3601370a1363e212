//! Figures for `scripts/bench-shared.sh` (ignored by default: a benchmark, not a check).
//! 1,000 monitor tasks (`TASKS`), each watching a running pipeline of the fake GitLab, are
//! written to a fresh PostgreSQL database (`PIPEWRIGHT_TEST_DATABASE_URL`); instance A starts
//! and claims them, instance B joins and half the tasks go to it, A is killed with `-9`, and
//! B takes every task over when A's leases run out (`LEASE` seconds, default 30). Measured:
//! GitLab requests per pipeline per poll with A alone, with A and B sharing the tasks, and
//! with B alone after the takeover; the time from the kill until every task is held again.

mod serve_support;

use pipewright_adapters::fake_gitlab::{FakeGitLab, FAKE_TOKEN};
use pipewright_adapters::runs::PgRunStore;
use pipewright_core::monitor::{Event, MonitorStore, MonitorTask};
use serve_support::{spawn_with, Options, Server};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

async fn start(gitlab: &FakeGitLab, url: &str, name: &str, lease: &str) -> Server {
    let options = Options::default()
        .env("GITLAB_URL", &gitlab.url())
        .env("GITLAB_TOKEN", FAKE_TOKEN)
        .env("PIPEWRIGHT_POLL_INTERVAL", "1")
        .env("PIPEWRIGHT_MONITOR_TIMEOUT", "3600")
        .env("PIPEWRIGHT_LEASE_SECONDS", lease)
        .env("PIPEWRIGHT_INSTANCE_ID", name)
        .env("PIPEWRIGHT_DATABASE_URL", url)
        .env("RUST_LOG", "warn");
    tokio::task::spawn_blocking(move || spawn_with(options))
        .await
        .unwrap()
}

/// GitLab requests per pipeline per poll (1 s) over `window`.
async fn request_rate(gitlab: &FakeGitLab, tasks: usize, window: Duration) -> (f64, usize) {
    gitlab.clear_requests();
    tokio::time::sleep(window).await;
    let requests = gitlab.requests().len();
    (
        requests as f64 / tasks as f64 / window.as_secs_f64(),
        requests,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run scripts/bench-shared.sh"]
async fn shared_database_figures() {
    let tasks: usize = env_or("TASKS", "1000").parse().unwrap();
    let lease = env_or("LEASE", "30");
    let server = std::env::var("PIPEWRIGHT_TEST_DATABASE_URL")
        .expect("PIPEWRIGHT_TEST_DATABASE_URL: run scripts/bench-shared.sh");
    let name = format!("pw_bench_{}", std::process::id());
    let (admin, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = format!("{}/{name}", server.rsplit_once('/').unwrap().0);

    let gitlab = FakeGitLab::start().await.unwrap();
    let project = gitlab.add_project("bench/app", &[("app.py", "print(1)\n")]);
    let sha = gitlab.branch_head(project, "main").unwrap();
    let store = PgRunStore::connect(&url).await.unwrap();
    for i in 0..tasks {
        let pipeline = gitlab.add_pipeline(project, "main", "running").unwrap();
        let mut task = MonitorTask::new(
            format!("run_{:012x}_{:08x}", 1_700_000_000_000u64 + i as u64, i),
            project,
            "bench/app".into(),
            "main".into(),
            sha.clone(),
            None,
            Default::default(),
            pipewright_adapters::runs::now_ms(),
            3_600_000,
        );
        task.current_mut().pipeline_id = Some(pipeline);
        task.apply(Event::PipelineFound, pipewright_adapters::runs::now_ms())
            .unwrap();
        store.save_task(&task).await.unwrap();
    }
    let window = Duration::from_secs(10);
    let warm = Duration::from_secs(3);

    let a = start(&gitlab, &url, "a", &lease).await;
    tokio::time::sleep(warm).await;
    let held_a = store.lease_counts().await.unwrap();
    let (one, one_n) = request_rate(&gitlab, tasks, window).await;

    // Work spread over both instances, as runs arriving through a load balancer would be:
    // every second task is handed to B in the database (B's start takes back the tasks its id
    // holds); A drops them at its next lease round (a third of the lease) when it finds
    // them held by another.
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let lease_s: f64 = lease.parse().unwrap();
    db.execute(
        "UPDATE monitor_tasks SET lease_owner = 'b', lease_until = now() + make_interval(secs => $1)
         WHERE unfinished AND right(run_id, 1) IN ('1','3','5','7','9','b','d','f')",
        &[&lease_s],
    )
    .await
    .unwrap();
    let b = start(&gitlab, &url, "b", &lease).await;
    tokio::time::sleep(Duration::from_secs_f64(lease_s / 3.0) + warm).await;
    let (two, two_n) = request_rate(&gitlab, tasks, window).await;
    let held_by_b = || async {
        db.query_one(
            "SELECT COUNT(*) FROM monitor_tasks
             WHERE unfinished AND lease_owner = 'b' AND lease_until >= now()",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0) as usize
    };
    let before_kill = held_by_b().await;
    let before_kill_a = db
        .query_one(
            "SELECT COUNT(*) FROM monitor_tasks
             WHERE unfinished AND lease_owner = 'a' AND lease_until >= now()",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    // When A's last lease ends (the database's clock), measured just before the kill.
    let a_leases_left: f64 = db
        .query_one(
            "SELECT (EXTRACT(EPOCH FROM MAX(lease_until) - now()))::float8
             FROM monitor_tasks WHERE unfinished AND lease_owner = 'a'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, Option<f64>>(0)
        .unwrap_or(0.0);
    let killed = Instant::now();
    drop(a); // SIGKILL
    let owned_again = loop {
        if held_by_b().await == tasks {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(600),
            "not every task was taken over: {:?}\n{}",
            store.lease_counts().await,
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(warm).await;
    let (after, after_n) = request_rate(&gitlab, tasks, window).await;

    println!("shared database benchmark: {tasks} monitored pipelines, poll 1 s, lease {lease} s");
    println!(
        "  A alone (held {} of {tasks}):             {one:.2} GitLab requests per pipeline per poll ({one_n} in {} s)",
        held_a.held,
        window.as_secs()
    );
    println!(
        "  A and B (A held {before_kill_a}, B {before_kill}):          {two:.2} ({two_n} in {} s)",
        window.as_secs()
    );
    println!(
        "  A killed -9: every task held again after {:.2} s ({:.2} s after A's last lease ended)",
        owned_again.as_secs_f64(),
        owned_again.as_secs_f64() - a_leases_left
    );
    println!(
        "  B alone after the takeover:           {after:.2} ({after_n} in {} s)",
        window.as_secs()
    );
    drop(b);
}
