//! The web page in a real browser: Debian's chromium driven by Playwright (PyPI) through
//! `tests/web/page_flow.py`, against the real `pipewright serve` wired to the fake GitLab
//! (scripted pipelines) and a fake model (Ollama's `/api/chat`) that answers chat questions
//! from the facts and sources pipewright sends it. `scripts/test.sh` installs both
//! (`scripts/services/browser.sh`) and exports `PIPEWRIGHT_PLAYWRIGHT_PYTHON` and
//! `PIPEWRIGHT_CHROMIUM`; without them these tests fail under `CI=true` and are skipped (with
//! a message) elsewhere. Screenshots of each step go to
//! `$CARGO_TARGET_TMPDIR/web-page/`.

mod serve_support;

use axum::routing::post;
use axum::{Json, Router};
use pipewright_adapters::fake_gitlab::{FakeGitLab, JobOutcome, PipelineScript, FAKE_TOKEN};
use serde_json::{json, Value};
use serve_support::{fixture_files, spawn_with, Options, Server};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The Python with Playwright and the chromium binary, or `None` (a skip) outside CI.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var_os("PIPEWRIGHT_PLAYWRIGHT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".ci-cache/browser-venv/bin/python"));
    let chromium = std::env::var_os("PIPEWRIGHT_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let missing: Vec<String> = [&python, &chromium]
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some((python, chromium));
    }
    let message = format!(
        "the browser tests need {}; run scripts/test.sh (it installs chromium and Playwright)",
        missing.join(" and ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("skipped: {message}");
    None
}

/// A fake Ollama: answers with the facts block pipewright worked out and cites the source
/// closest to them, as a well-behaved model would; the test sees its answers reach the page.
async fn fake_model(Json(body): Json<Value>) -> Json<Value> {
    let user = body["messages"][1]["content"].as_str().unwrap_or("");
    let facts = user
        .split("<repository-data source=\"chat-facts\">\n")
        .nth(1)
        .and_then(|rest| rest.split("</repository-data>").next())
        .unwrap_or("I cannot answer that from the sources.")
        .trim();
    // Cite the source closest to the facts.
    let words = |text: &str| -> std::collections::BTreeSet<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 3)
            .map(str::to_lowercase)
            .collect()
    };
    let said = words(facts);
    let cited = user
        .split("\n[")
        .skip(1)
        .filter_map(|part| {
            let (n, block) = part.split_once(']')?;
            let own = words(block);
            // Shared words per word of the source, so a whole file does not win by size.
            let score = own.intersection(&said).count() * 1000 / own.len().max(1);
            Some((score, n.parse::<usize>().ok()?))
        })
        .max_by_key(|(shared, n)| (*shared, std::cmp::Reverse(*n)))
        .map(|(_, n)| n)
        .unwrap_or(1);
    Json(json!({
        "model": "fake-chat",
        "created_at": "2026-02-09T10:00:00.000000Z",
        "message": {"role": "assistant", "content": format!("{facts} [{cited}]")},
        "done_reason": "stop",
        "done": true,
    }))
}

async fn start_fake_model() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let host = format!("http://{}", listener.local_addr().expect("address"));
    let app = Router::new().route("/api/chat", post(fake_model));
    tokio::spawn(async move { axum::serve(listener, app).await });
    host
}

fn timeout_log() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipewright-core/tests/fixtures/logs/timeout_error/job-execution-took-longer.log");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-page");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// Runs one flow of `page_flow.py`; panics with its output (and the server's log) when it
/// fails.
fn run_flow((python, chromium): &(PathBuf, PathBuf), server: &Server, flow: &str, extra: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web/page_flow.py");
    let output = Command::new(python)
        .arg(&script)
        .args(["--base", &server.base, "--flow", flow])
        .arg("--chromium")
        .arg(chromium)
        .arg("--screenshots")
        .arg(screenshots())
        .args(extra)
        .output()
        .expect("start python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the {flow} flow failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        server.log()
    );
    eprintln!("{flow} flow timings: {}", stdout.trim());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_previews_commits_watches_the_run_and_asks() {
    let Some(browser) = browser() else { return };
    let gitlab = FakeGitLab::start().await.expect("fake GitLab");
    let mut files = fixture_files("python-flask-pip");
    // An old pipeline the preview shows a diff against.
    files.insert(
        ".gitlab-ci.yml".into(),
        "stages: [test]\ntest:\n  script: pytest\n".into(),
    );
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
        .collect();
    let project = gitlab.add_project("team/app", &pairs);
    // Slow enough for the page to show the run moving, fast enough for a short test. The
    // first pipeline's test job times out; self-heal raises the timeout and the second
    // pipeline is green, so the page shows a failed job, its class and evidence, the fix
    // and its diff.
    gitlab.script_pipelines(
        project,
        PipelineScript::every(Duration::from_millis(150))
            .job(
                "test",
                JobOutcome::Failed {
                    reason: "job_execution_timeout".into(),
                    trace: timeout_log(),
                },
            )
            .fixed_by("test", "timeout: 2h"),
    );
    let model = start_fake_model().await;
    let options = Options::default()
        .env("GITLAB_URL", &gitlab.url())
        .env("GITLAB_TOKEN", FAKE_TOKEN)
        .env("PIPEWRIGHT_POLL_INTERVAL", "0.2")
        .env("LLM_PROVIDER", "ollama")
        .env("OLLAMA_HOST", &model)
        .env("OLLAMA_MODEL", "fake-chat");
    let server = tokio::task::spawn_blocking(move || spawn_with(options))
        .await
        .expect("spawn");
    let repository = format!("{}/team/app", gitlab.url().trim_end_matches('/'));
    let flow = tokio::task::spawn_blocking(move || {
        run_flow(&browser, &server, "main", &["--repository", &repository]);
        server
    });
    flow.await.expect("the main flow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_asks_for_a_token_and_shows_nothing_without_it() {
    let Some(browser) = browser() else { return };
    let token = "page-t0ken-s3cret";
    let options = Options::default().env("PIPEWRIGHT_API_TOKENS", token);
    let server = tokio::task::spawn_blocking(move || spawn_with(options))
        .await
        .expect("spawn");
    // The page itself is open; the data behind it is not.
    let page = server.get("/").await;
    assert_eq!(page.status(), 200);
    assert!(page
        .headers()
        .get("content-security-policy")
        .is_some_and(|v| v.to_str().unwrap_or("").contains("script-src 'self'")));
    assert_eq!(server.get("/api/v1/pipeline/runs").await.status(), 401);
    tokio::task::spawn_blocking(move || {
        run_flow(&browser, &server, "token", &["--token", token]);
    })
    .await
    .expect("the token flow");
}
