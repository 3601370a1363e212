//! Figures for `scripts/bench-monitor.sh` (ignored by default: it is a benchmark, not a
//! check). 1,000 monitor tasks (`TASKS`) are written to the run store as a previous
//! `pipewright serve` left them (each watching a running pipeline of the fake GitLab); a new
//! server resumes them with a 1 s poll interval. Measured: the server's RSS, GitLab requests
//! per pipeline per poll over a 10 s window, and the webhook answer latency while `RATE`
//! deliveries/s arrive for 5 s.

mod serve_support;

use pipewright_adapters::fake_gitlab::{FakeGitLab, FAKE_TOKEN};
use pipewright_adapters::runs::SqliteRunStore;
use pipewright_core::monitor::{Event, MonitorStore, MonitorTask};
use serde_json::json;
use serve_support::{spawn_with, Options};
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run scripts/bench-monitor.sh"]
async fn monitor_figures() {
    let tasks = env_usize("TASKS", 1000);
    let rate = env_usize("RATE", 200);
    let gitlab = FakeGitLab::start().await.unwrap();
    let project = gitlab.add_project("bench/app", &[("app.py", "print(1)\n")]);
    let sha = gitlab.branch_head(project, "main").unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = SqliteRunStore::open(data.path()).unwrap();
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
    drop(store);
    let data_dir = data.path().to_string_lossy().to_string();
    let options = Options::default()
        .env("GITLAB_URL", &gitlab.url())
        .env("GITLAB_TOKEN", FAKE_TOKEN)
        .env("PIPEWRIGHT_POLL_INTERVAL", "1")
        .env("PIPEWRIGHT_MONITOR_TIMEOUT", "3600")
        .env("PIPEWRIGHT_WEBHOOK_SECRET", "bench-secret")
        .env("PIPEWRIGHT_DATA_DIR", &data_dir)
        .env("RUST_LOG", "warn");
    let server = tokio::task::spawn_blocking(move || spawn_with(options))
        .await
        .unwrap();
    // Warm-up: every task makes its first reads.
    tokio::time::sleep(Duration::from_secs(3)).await;
    gitlab.clear_requests();
    let window = Duration::from_secs(10);
    tokio::time::sleep(window).await;
    let requests = gitlab.requests().len();
    let per_pipeline_per_poll = requests as f64 / tasks as f64 / window.as_secs_f64();
    let rss_polling = rss_kib(server.pid());

    // Webhooks at `rate` per second for 5 s, each a distinct delivery.
    let client = pipewright_adapters::http::client().expect("an HTTP client");
    let url = server.url("/api/v1/webhooks/gitlab");
    let total = rate * 5;
    let gap = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let mut handles = Vec::with_capacity(total);
    for i in 0..total {
        let due = started + gap * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let client = client.clone();
        let url = url.clone();
        let body = json!({
            "object_kind": "pipeline",
            "object_attributes": {"id": 1000 + (i % tasks), "sha": sha, "ref": "main", "status": "running"},
            "project": {"id": project, "path_with_namespace": "bench/app"},
            "builds": [],
        });
        handles.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = client
                .post(url)
                .header("X-Gitlab-Event", "Pipeline Hook")
                .header("X-Gitlab-Token", "bench-secret")
                .header("Idempotency-Key", format!("bench-{i}"))
                .json(&body)
                .send()
                .await;
            (t.elapsed(), r.map(|r| r.status().as_u16()).unwrap_or(0))
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut not_ok = 0;
    for h in handles {
        let (d, status) = h.await.unwrap();
        if status != 200 {
            not_ok += 1;
        }
        latencies.push(d);
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    let rss_hooks = rss_kib(server.pid());
    println!("monitor benchmark: {tasks} tasks resumed, poll interval 1 s");
    println!(
        "  RSS while polling:              {:.1} MiB",
        rss_polling as f64 / 1024.0
    );
    println!(
        "  RSS after the webhook burst:    {:.1} MiB",
        rss_hooks as f64 / 1024.0
    );
    println!(
        "  GitLab requests per pipeline per poll: {per_pipeline_per_poll:.2} ({requests} in {} s)",
        window.as_secs()
    );
    println!(
        "  webhooks: {total} at {rate}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, non-200: {not_ok}",
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        latencies.last().unwrap().as_secs_f64() * 1000.0
    );
    assert_eq!(not_ok, 0);
}
