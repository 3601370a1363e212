//! Reading from GitLab through the client, against the fake: project lookup, the tree with
//! keyset pagination, raw files with encoded paths, and the errors GitLab answers with.

mod gitlab_support;

use gitlab_support::{client, client_with, spawn, PYTHON_SERVICE};
use pipewright_adapters::fake_gitlab::FAKE_TOKEN;
use pipewright_adapters::gitlab::{GitLabClient, GitLabToken};
use pipewright_core::gitlab::{GitLab, GitLabError, ProjectRef, RawFile, TreeEntryKind};

#[tokio::test]
async fn a_project_is_found_by_id_and_by_its_encoded_path() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("platform/backend/api", PYTHON_SERVICE);
    let client = client(&gitlab);

    let by_id = client.project(&ProjectRef::Id(id)).await.unwrap();
    let by_path = client
        .project(&"platform/backend/api".into())
        .await
        .unwrap();

    assert_eq!(by_id, by_path);
    assert_eq!(by_id.path_with_namespace, "platform/backend/api");
    assert_eq!(by_id.default_branch.as_deref(), Some("main"));
    let paths: Vec<String> = gitlab.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            format!("/api/v4/projects/{id}"),
            "/api/v4/projects/platform%2Fbackend%2Fapi".to_string()
        ]
    );
}

#[tokio::test]
async fn every_request_carries_the_token_as_private_token() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    client(&gitlab).project(&ProjectRef::Id(id)).await.unwrap();
    let request = &gitlab.requests()[0];
    assert!(request.authenticated);
    assert!(request
        .headers
        .iter()
        .any(|(k, v)| k == "user-agent" && v.starts_with("pipewright/")));
}

#[tokio::test]
async fn an_unknown_project_is_not_found_with_its_name_in_the_message() {
    let gitlab = spawn().await;
    let err = client(&gitlab)
        .project(&"nobody/nothing".into())
        .await
        .unwrap_err();
    assert!(matches!(err, GitLabError::NotFound { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("project `nobody/nothing`"), "{text}");
    assert!(text.contains("404 Project Not Found"), "{text}");
}

#[tokio::test]
async fn a_bad_token_is_unauthorized_with_gitlabs_message_and_is_not_retried() {
    let gitlab = spawn().await;
    gitlab.add_project("g/p", PYTHON_SERVICE);
    let client = client_with(&gitlab, |c| c.token = GitLabToken::new("glpat-wrong"));
    let err = client.project(&"g/p".into()).await.unwrap_err();
    match &err {
        GitLabError::Unauthorized { message, .. } => assert_eq!(message, "401 Unauthorized"),
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    assert!(err.to_string().contains("GITLAB_TOKEN"));
    assert!(!err.to_string().contains("glpat-wrong"));
    assert_eq!(client.requests_sent(), 1);
}

#[tokio::test]
async fn the_recursive_tree_follows_keyset_pages_to_the_end() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    let client = client_with(&gitlab, |c| c.page_size = 3);

    let tree = client
        .tree(&ProjectRef::Id(id), Some("main"))
        .await
        .unwrap();

    let blobs: Vec<&str> = tree
        .iter()
        .filter(|e| e.kind == TreeEntryKind::Blob)
        .map(|e| e.path.as_str())
        .collect();
    assert_eq!(blobs.len(), PYTHON_SERVICE.len());
    assert!(blobs.contains(&"app/routes/users.py"));
    assert!(tree
        .iter()
        .any(|e| e.kind == TreeEntryKind::Tree && e.path == "app/routes"));
    // 9 files and 6 folders, 3 per page: 5 pages, each after the first asking for the
    // token the previous `Link: rel="next"` gave.
    let requests = gitlab.requests();
    assert_eq!(requests.len(), 5);
    assert_eq!(
        requests[0].query_param("pagination").as_deref(),
        Some("keyset")
    );
    assert_eq!(
        requests[0].query_param("recursive").as_deref(),
        Some("true")
    );
    assert_eq!(requests[0].query_param("page_token"), None);
    assert!(requests[1..]
        .iter()
        .all(|r| r.query_param("page_token").is_some()));
    assert_eq!(client.requests_sent(), 5);
}

#[tokio::test]
async fn a_nested_file_is_read_raw_with_its_path_encoded() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    let client = client(&gitlab);

    let file = client
        .raw_file(&ProjectRef::Id(id), "app/routes/items.py", "main", 1024)
        .await
        .unwrap();

    assert_eq!(
        file,
        RawFile::Bytes(b"def items():\n    return []\n".to_vec())
    );
    let request = &gitlab.requests()[0];
    assert_eq!(
        request.path,
        format!("/api/v4/projects/{id}/repository/files/app%2Froutes%2Fitems%2Epy/raw")
    );
    assert_eq!(request.query_param("ref").as_deref(), Some("main"));
}

#[tokio::test]
async fn a_file_over_the_limit_is_reported_too_large_not_read() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    let file = client(&gitlab)
        .raw_file(&ProjectRef::Id(id), "requirements.txt", "main", 10)
        .await
        .unwrap();
    let size = PYTHON_SERVICE
        .iter()
        .find(|(p, _)| *p == "requirements.txt")
        .map(|(_, c)| c.len() as u64);
    assert_eq!(Some(file), size.map(|size| RawFile::TooLarge { size }));
}

#[tokio::test]
async fn a_missing_file_is_not_found_with_path_and_ref_in_the_message() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    let err = client(&gitlab)
        .raw_file(&ProjectRef::Id(id), "src/nope.rs", "main", 1024)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, GitLabError::NotFound { .. }));
    assert!(text.contains("`src/nope.rs` at `main`"), "{text}");
}

#[tokio::test]
async fn the_fake_answers_404_to_an_unencoded_path_like_gitlab() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    let http = pipewright_adapters::http::client().expect("an HTTP client");
    let get = |path: String| {
        http.get(format!("{}/api/v4/{path}", gitlab.url()))
            .header("PRIVATE-TOKEN", FAKE_TOKEN)
            .send()
    };
    let raw = get(format!(
        "projects/{id}/repository/files/app/main.py/raw?ref=main"
    ))
    .await
    .unwrap();
    assert_eq!(raw.status(), 404);
    let project = get("projects/g/p".to_string()).await.unwrap();
    assert_eq!(project.status(), 404);
    let encoded = get(format!(
        "projects/{id}/repository/files/app%2Fmain.py/raw?ref=main"
    ))
    .await
    .unwrap();
    assert_eq!(encoded.status(), 200);
}

#[tokio::test]
async fn file_existence_is_probed_with_head() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    let client = client(&gitlab);
    let project = ProjectRef::Id(id);
    assert!(client
        .file_exists(&project, "app/main.py", "main")
        .await
        .unwrap());
    assert!(!client
        .file_exists(&project, "Dockerfile", "main")
        .await
        .unwrap());
    let methods: Vec<String> = gitlab.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["HEAD", "HEAD"]);
}

#[tokio::test]
async fn the_tree_of_an_unknown_ref_is_not_found() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("g/p", PYTHON_SERVICE);
    let err = client(&gitlab)
        .tree(&ProjectRef::Id(id), Some("no-such-branch"))
        .await
        .unwrap_err();
    assert!(matches!(err, GitLabError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("`no-such-branch`"));
}

#[tokio::test]
async fn a_configuration_with_an_empty_token_is_refused_before_any_request() {
    let gitlab = spawn().await;
    let mut config = gitlab_support::config(&gitlab);
    config.token = GitLabToken::new("  ");
    let err = GitLabClient::new(config).unwrap_err();
    assert!(matches!(err, GitLabError::Config(_)));
    assert!(gitlab.requests().is_empty());
}

#[tokio::test]
async fn the_version_answers_only_a_valid_token() {
    let gitlab = spawn().await;
    let version = client(&gitlab).version().await.unwrap();
    assert!(version.starts_with("17."), "{version}");
    let refused = client_with(&gitlab, |c| c.token = GitLabToken::new("wrong"))
        .version()
        .await
        .unwrap_err();
    assert!(refused.is_auth(), "{refused:?}");
    assert_eq!(gitlab.requests()[0].path, "/api/v4/version");
}
