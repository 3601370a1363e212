//! `pipewright serve` reading repositories by `repository_url` through a faithful fake GitLab
//! (`pipewright_adapters::fake_gitlab`): success, unknown project, a refused token, URLs the
//! policy refuses before any connection, GitLab in `/health`, the request time limit, and a
//! request in flight that SIGTERM lets finish.

mod serve_support;

use pipewright_adapters::fake_gitlab::{FakeGitLab, Fault, FaultKind, FAKE_TOKEN};
use serde_json::{json, Value};
use serve_support::{fixture_files, spawn_with, Options, Server};
use std::time::Duration;

/// A fake GitLab holding `team/app` (the Flask fixture), and a server pointed at it.
async fn gitlab_and_server(token: &str, extra: Options) -> (FakeGitLab, Server) {
    let gitlab = FakeGitLab::start().await.expect("fake GitLab");
    let files = fixture_files("python-flask-pip");
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
        .collect();
    gitlab.add_project("team/app", &pairs);
    let options = extra
        .env("GITLAB_URL", &gitlab.url())
        .env("GITLAB_TOKEN", token);
    let server = tokio::task::spawn_blocking(move || spawn_with(options))
        .await
        .expect("spawn");
    (gitlab, server)
}

fn error_of(body: &Value) -> &Value {
    assert!(body["error"]["code"].is_string(), "{body}");
    &body["error"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyze_and_generate_read_the_project_through_the_api() {
    let (gitlab, server) = gitlab_and_server(FAKE_TOKEN, Options::default()).await;
    let url = format!("{}/team/app", gitlab.url());
    let (status, body) = server
        .call(
            "/api/v1/pipeline/analyze",
            &json!({ "repository_url": url }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["services"][0]["framework"], "flask", "{body}");
    let requests = gitlab.requests();
    assert!(requests.iter().all(|r| r.authenticated));
    assert!(requests
        .iter()
        .any(|r| r.path.ends_with("/repository/tree")));

    let (status, body) = server.call("/api/v1/pipeline/generate",
                &json!({ "repository_url": format!("{url}.git"), "ref": "main", "use_template_only": true })).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["files"][".gitlab-ci.yml"].is_string(), "{body}");
    assert!(gitlab.commits().is_empty(), "generate must commit nothing");

    let (_, health) = server.get_json("/health").await;
    assert_eq!(health["dependencies"]["gitlab"]["state"], "ok", "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_project_is_404() {
    let (gitlab, server) = gitlab_and_server(FAKE_TOKEN, Options::default()).await;
    let (status, body) = server
        .call(
            "/api/v1/pipeline/analyze",
            &json!({ "repository_url": format!("{}/team/nothing", gitlab.url()) }),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_of(&body)["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_502_with_gitlabs_message_and_no_token() {
    let token = "glpat-wrong-token-abcdef";
    let (gitlab, server) = gitlab_and_server(token, Options::default()).await;
    let response = server
        .post(
            "/api/v1/pipeline/analyze",
            &json!({ "repository_url": format!("{}/team/app", gitlab.url()) }),
        )
        .await;
    let text = response.text().await.expect("body");
    let body: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(error_of(&body)["code"], "gitlab_auth_failed", "{body}");
    assert!(text.contains("401 Unauthorized"), "{text}");
    assert!(!text.contains(token), "{text}");

    let (status, health) = server.get_json("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "degraded");
    assert_eq!(
        health["dependencies"]["gitlab"]["state"], "unavailable",
        "{health}"
    );
    assert!(!health.to_string().contains(token));
    assert!(!server.log().contains(token), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_off_the_configured_gitlab_are_refused_before_any_request() {
    let (gitlab, server) = gitlab_and_server(FAKE_TOKEN, Options::default()).await;
    let port = gitlab
        .url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .expect("port");
    for url in [
        "https://gitlab.other.example/team/app".to_string(),
        format!("http://127.0.0.1:{}/team/app", port.wrapping_add(1).max(1)),
        format!("http://localhost:{port}/team/app"),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "http://10.0.0.8/team/app".to_string(),
        "file:///etc/passwd".to_string(),
    ] {
        let (status, body) = server
            .call(
                "/api/v1/pipeline/analyze",
                &json!({ "repository_url": url }),
            )
            .await;
        assert_eq!(status, 400, "{url}: {body}");
        let error = error_of(&body);
        assert_eq!(error["code"], "url_refused", "{url}");
        assert_eq!(error["field"], "repository_url", "{url}");
    }
    assert!(gitlab.requests().is_empty(), "{:?}", gitlab.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_time_limit_is_504() {
    let (gitlab, server) = gitlab_and_server(
        FAKE_TOKEN,
        Options::default().arg("--request-timeout").arg("1"),
    )
    .await;
    gitlab.inject(Fault::new(FaultKind::Delay(Duration::from_secs(3)), 1));
    let started = std::time::Instant::now();
    let (status, body) = server
        .call(
            "/api/v1/pipeline/analyze",
            &json!({ "repository_url": format!("{}/team/app", gitlab.url()) }),
        )
        .await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(error_of(&body)["code"], "timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_request_in_flight_finish() {
    let (gitlab, mut server) = gitlab_and_server(FAKE_TOKEN, Options::default()).await;
    gitlab.inject(Fault::new(FaultKind::Delay(Duration::from_millis(1500)), 1));
    let request = server
        .client
        .post(server.url("/api/v1/pipeline/analyze"))
        .json(&json!({ "repository_url": format!("{}/team/app", gitlab.url()) }))
        .send();
    let in_flight = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.terminate();
    let response = in_flight.await.expect("join").expect("answered");
    assert_eq!(response.status().as_u16(), 200);
    let status =
        tokio::task::block_in_place(|| server.wait_exit(Duration::from_secs(10))).expect("exited");
    assert_eq!(status.code(), Some(0), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_gitlab_is_502_after_the_retries() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let gitlab_url = format!("http://{closed}");
    let options = Options::default()
        .env("GITLAB_URL", &gitlab_url)
        .env("GITLAB_TOKEN", FAKE_TOKEN);
    let server = tokio::task::spawn_blocking(move || spawn_with(options))
        .await
        .expect("spawn");
    let (status, body) = server
        .call(
            "/api/v1/pipeline/analyze",
            &json!({ "repository_url": format!("{gitlab_url}/team/app") }),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    let error = error_of(&body);
    assert_eq!(error["code"], "gitlab_failed");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot be reached"),
        "{body}"
    );
}
