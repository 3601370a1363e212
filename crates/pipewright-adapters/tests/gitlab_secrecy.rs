//! The GitLab token never shows: not in `Debug` output, not in any error, not even when a
//! server echoes it back.

mod gitlab_support;

use gitlab_support::{client_with, spawn, PYTHON_SERVICE};
use pipewright_adapters::fake_gitlab::{Fault, FaultKind, FAKE_TOKEN};
use pipewright_adapters::gitlab::{GitLabClient, GitLabConfig, GitLabToken};
use pipewright_core::gitlab::{GitLab, GitLabError, ProjectRef};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "glpat-Sup3rS3cretValue";

#[test]
fn debug_output_of_the_token_config_and_client_hides_the_token() {
    let mut config = GitLabConfig::new("https://gitlab.example.com", GitLabToken::new(SECRET));
    config.allowed_hosts = vec!["code.example.com".into()];
    let client = GitLabClient::new(config.clone()).unwrap();
    for text in [
        format!("{:?}", GitLabToken::new(SECRET)),
        format!("{config:?}"),
        format!("{client:?}"),
        format!("{client:#?}"),
    ] {
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("Sup3r"), "{text}");
    }
}

#[test]
fn configuration_errors_never_show_the_token() {
    let err = GitLabConfig::from_lookup(|key| match key {
        "GITLAB_TOKEN" => Some(SECRET.to_string()),
        _ => None,
    })
    .unwrap_err();
    assert!(err.to_string().contains("GITLAB_URL is not set"));
    assert!(!format!("{err} {err:?}").contains(SECRET));

    let bad_header = GitLabClient::new(GitLabConfig::new(
        "https://gitlab.example.com",
        GitLabToken::new(format!("{SECRET}\u{7f}")),
    ))
    .unwrap_err();
    assert!(!format!("{bad_header} {bad_header:?}").contains(SECRET));
}

#[tokio::test]
async fn errors_from_every_kind_of_failure_hold_no_token() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    let good = client_with(&gitlab, |c| {
        c.timeout = Duration::from_millis(200);
        c.retry.max_retries = 0;
    });
    let project = ProjectRef::Id(id);
    let mut errors: Vec<GitLabError> = Vec::new();
    errors.push(good.project(&"no/such".into()).await.unwrap_err());
    gitlab.inject(Fault::new(FaultKind::Status(500), 1));
    errors.push(good.project(&project).await.unwrap_err());
    gitlab.inject(Fault::new(
        FaultKind::RateLimited {
            retry_after: Some("1".into()),
            reset_in: None,
        },
        1,
    ));
    errors.push(good.project(&project).await.unwrap_err());
    gitlab.inject(Fault::new(FaultKind::Delay(Duration::from_secs(1)), 1));
    errors.push(good.project(&project).await.unwrap_err());
    errors.push(
        good.create_branch(&project, "x", "missing")
            .await
            .unwrap_err(),
    );
    let bad = client_with(&gitlab, |c| c.token = GitLabToken::new(SECRET));
    errors.push(bad.project(&project).await.unwrap_err());

    assert_eq!(errors.len(), 6);
    for err in &errors {
        let text = format!("{err} {err:?}");
        assert!(!text.contains(FAKE_TOKEN), "{text}");
        assert!(!text.contains(SECRET), "{text}");
    }
    assert!(gitlab.requests().iter().all(|r| {
        let text = format!("{r:?}");
        !text.contains(FAKE_TOKEN) && !text.contains(SECRET)
    }));
}

/// A broken server that puts the request's token into its error message.
async fn echoing_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = vec![0u8; 8192];
            let n = socket.read(&mut buffer).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buffer[..n]).to_string();
            let token = request
                .lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.eq_ignore_ascii_case("private-token"))
                        .map(|(_, v)| v.trim().to_string())
                })
                .unwrap_or_default();
            let body = format!("{{\"message\":\"token {token} is not allowed here\"}}");
            let response = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nlocation: https://x/?t={token}\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_token_echoed_by_the_server_is_scrubbed_from_the_error() {
    let url = echoing_server().await;
    let client = GitLabClient::new(GitLabConfig::new(url, GitLabToken::new(SECRET))).unwrap();

    let err = client.project(&"g/p".into()).await.unwrap_err();

    let text = format!("{err} {err:?}");
    assert!(
        text.contains("token [REDACTED] is not allowed here"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");
}
