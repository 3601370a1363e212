//! How the client rides out a struggling GitLab: 429 waits as long as GitLab asks, 5xx bursts
//! are retried with backoff on reads but not on writes, 4xx are never retried, and a slow
//! answer hits the time limit.

mod gitlab_support;

use gitlab_support::{client, client_with, spawn, PYTHON_SERVICE};
use pipewright_adapters::fake_gitlab::{Fault, FaultKind};
use pipewright_adapters::gitlab::{GitLabClient, GitLabConfig, GitLabToken};
use pipewright_core::gitlab::{GitLab, GitLabError, ProjectRef};
use std::time::{Duration, Instant};

fn rate_limited(retry_after: Option<&str>, reset_in: Option<Duration>) -> FaultKind {
    FaultKind::RateLimited {
        retry_after: retry_after.map(str::to_string),
        reset_in,
    }
}

#[tokio::test]
async fn a_429_waits_the_retry_after_seconds_then_succeeds() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    gitlab.inject(Fault::new(rate_limited(Some("1"), None), 1));
    let client = client(&gitlab);

    let started = Instant::now();
    client.project(&ProjectRef::Id(id)).await.unwrap();
    let waited = started.elapsed();

    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    assert_eq!(client.requests_sent(), 2);
}

#[tokio::test]
async fn a_429_without_retry_after_waits_until_ratelimit_reset() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    gitlab.inject(Fault::new(
        rate_limited(None, Some(Duration::from_millis(1500))),
        1,
    ));
    let client = client(&gitlab);

    let started = Instant::now();
    client.project(&ProjectRef::Id(id)).await.unwrap();
    let waited = started.elapsed();

    // The reset is a whole-second Unix time 1.5 s ahead, rounded up: at least 1 s away.
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(4), "waited {waited:?}");
    assert_eq!(client.requests_sent(), 2);
}

#[tokio::test]
async fn a_429_asking_for_longer_than_the_cap_fails_at_once_with_the_wait() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    gitlab.inject(Fault::new(rate_limited(Some("120"), None), 1));
    let client = client(&gitlab);

    let started = Instant::now();
    let err = client.project(&ProjectRef::Id(id)).await.unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        err,
        GitLabError::RateLimited {
            what: format!("looking up project {id}"),
            retry_after: Some(Duration::from_secs(120)),
        }
    );
    assert!(err.to_string().contains("it asked to wait 120 s"));
    assert_eq!(client.requests_sent(), 1);
}

#[tokio::test]
async fn a_burst_of_5xx_on_a_read_is_retried_until_it_passes() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    gitlab.inject(Fault::new(FaultKind::Status(502), 2).on_path("/repository/tree"));
    gitlab.inject(Fault::new(FaultKind::Status(500), 1).on_path("/repository/tree"));
    let client = client(&gitlab);

    let tree = client.tree(&ProjectRef::Id(id), None).await.unwrap();

    assert!(!tree.is_empty());
    assert_eq!(client.requests_sent(), 4, "three failures, then the answer");
}

#[tokio::test]
async fn a_5xx_that_never_ends_gives_up_after_the_retry_budget() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    gitlab.inject(Fault::new(FaultKind::Status(503), 100));
    let client = client(&gitlab);

    let err = client.project(&ProjectRef::Id(id)).await.unwrap_err();

    match &err {
        GitLabError::Server {
            status, attempts, ..
        } => {
            assert_eq!(*status, 503);
            assert_eq!(*attempts, 5);
        }
        other => panic!("expected Server, got {other:?}"),
    }
    assert!(err.to_string().contains("503 Service Unavailable"), "{err}");
    assert_eq!(client.requests_sent(), 5, "one attempt and four retries");
}

#[tokio::test]
async fn a_5xx_on_a_commit_is_not_retried_and_says_it_may_have_been_applied() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    gitlab.inject(
        Fault::new(FaultKind::Status(500), 1)
            .on_method("POST")
            .on_path("/repository/commits"),
    );
    let client = client(&gitlab);
    let files = vec![("Dockerfile".to_string(), "FROM scratch\n".to_string())];

    let err = client
        .commit_files(&ProjectRef::Id(id), "b", Some("main"), "m", &files)
        .await
        .unwrap_err();

    assert!(matches!(
        err,
        GitLabError::Server {
            may_have_applied: true,
            attempts: 1,
            ..
        }
    ));
    assert!(err.to_string().contains("may or may not have been made"));
    let posts = gitlab
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn a_429_on_a_commit_is_retried_because_gitlab_did_not_process_it() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    gitlab.inject(
        Fault::new(rate_limited(Some("0"), None), 1)
            .on_method("POST")
            .on_path("/repository/commits"),
    );
    let client = client(&gitlab);
    let files = vec![("Dockerfile".to_string(), "FROM scratch\n".to_string())];

    client
        .commit_files(&ProjectRef::Id(id), "b", Some("main"), "m", &files)
        .await
        .unwrap();

    assert_eq!(gitlab.commits().len(), 1);
}

#[tokio::test]
async fn a_400_is_never_retried() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    let client = client(&gitlab);

    let err = client
        .create_branch(&ProjectRef::Id(id), "x", "no-such-ref")
        .await
        .unwrap_err();

    assert!(matches!(err, GitLabError::BadRequest { .. }), "{err:?}");
    assert!(err
        .to_string()
        .contains("Invalid reference name: no-such-ref"));
    assert_eq!(client.requests_sent(), 1);
    assert_eq!(gitlab.requests().len(), 1);
}

#[tokio::test]
async fn a_slow_answer_hits_the_time_limit_and_the_retry_gets_through() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    gitlab.inject(Fault::new(FaultKind::Delay(Duration::from_secs(2)), 1));
    let client = client_with(&gitlab, |c| c.timeout = Duration::from_millis(300));

    let started = Instant::now();
    client.project(&ProjectRef::Id(id)).await.unwrap();

    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(client.requests_sent(), 2);
}

#[tokio::test]
async fn an_answer_that_never_comes_is_a_timeout_error() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    gitlab.inject(Fault::new(FaultKind::Delay(Duration::from_secs(5)), 100));
    let client = client_with(&gitlab, |c| {
        c.timeout = Duration::from_millis(200);
        c.retry.max_retries = 1;
    });

    let started = Instant::now();
    let err = client.project(&ProjectRef::Id(id)).await.unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(err, GitLabError::Timeout { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("no answer within 0.2 s"), "{err}");
}

#[tokio::test]
async fn a_gitlab_that_does_not_listen_is_unreachable_after_the_retries() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = GitLabConfig::new(
        format!("http://127.0.0.1:{port}"),
        GitLabToken::new("glpat-secret-value"),
    );
    config.retry.base_delay = Duration::from_millis(5);
    let client = GitLabClient::new(config).unwrap();

    let err = client.project(&"g/p".into()).await.unwrap_err();

    assert!(matches!(err, GitLabError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("http://127.0.0.1:{port}/")),
        "{text}"
    );
    assert!(!text.contains("glpat-secret-value"));
    assert_eq!(client.requests_sent(), 5);
}
