//! The GitLab API as a repository source: it lists the tree and downloads only the files the
//! analyzer reads, and the requests are counted to prove it.

mod gitlab_support;

use gitlab_support::{client, client_with, spawn, PYTHON_SERVICE};
use pipewright_adapters::fake_gitlab::{Fault, FaultKind};
use pipewright_adapters::gitlab::GitLabSource;
use pipewright_core::gitlab::{GitLab, GitLabError, ProjectRef};
use pipewright_core::index::{wants_content, Content, MAX_READ_BYTES};
use pipewright_core::source::RepoSource;

/// The files of [`PYTHON_SERVICE`] outside pruned folders that the detectors ask for.
fn wanted() -> Vec<&'static str> {
    PYTHON_SERVICE
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !p.starts_with("node_modules/") && wants_content(p))
        .collect()
}

#[tokio::test]
async fn it_costs_one_lookup_the_tree_pages_and_one_read_per_wanted_file() {
    let gitlab = spawn().await;
    gitlab.add_project("team/api", PYTHON_SERVICE);
    let client = client_with(&gitlab, |c| c.page_size = 4);

    let source = GitLabSource::fetch(&client, &"team/api".into(), None)
        .await
        .unwrap();

    let wanted = wanted();
    assert!(wanted.contains(&"requirements.txt") && wanted.contains(&".python-version"));
    assert!(!wanted.contains(&"docs/index.md"));
    // 9 files + 6 folders = 15 tree entries, 4 per page: 4 pages.
    let tree_pages = 4;
    assert_eq!(
        client.requests_sent(),
        (1 + tree_pages + wanted.len()) as u64
    );
    let requests = gitlab.requests();
    let raw_reads: Vec<String> = requests
        .iter()
        .filter(|r| r.path.ends_with("/raw"))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(raw_reads.len(), wanted.len());
    assert_eq!(source.files_fetched(), wanted.len());
    assert!(requests
        .iter()
        .filter(|r| r.path.ends_with("/raw"))
        .all(|r| r.query_param("ref").as_deref() == Some("main")));
}

#[tokio::test]
async fn it_lists_every_file_outside_pruned_folders_and_reads_from_memory() {
    let gitlab = spawn().await;
    gitlab.add_project("team/api", PYTHON_SERVICE);
    let client = client(&gitlab);
    let source = GitLabSource::fetch(&client, &"team/api".into(), None)
        .await
        .unwrap();
    let sent = client.requests_sent();

    let listing = source.list().unwrap();
    let mut paths: Vec<&str> = listing.entries.iter().map(|e| e.path.as_str()).collect();
    paths.sort_unstable();
    let mut expected: Vec<&str> = PYTHON_SERVICE
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !p.starts_with("node_modules/"))
        .collect();
    expected.sort_unstable();
    assert_eq!(paths, expected);
    assert!(listing.entries.iter().all(|e| e.size.is_none()));
    assert_eq!(
        source.read("requirements.txt", MAX_READ_BYTES),
        Content::Text("fastapi==0.110.0\nuvicorn==0.29.0\n".into())
    );
    assert_eq!(source.read("requirements.txt", 5), Content::TooLarge(33));
    assert!(matches!(
        source.read("app/routes/items.py", MAX_READ_BYTES),
        Content::Unreadable(_)
    ));
    assert_eq!(client.requests_sent(), sent, "list and read send nothing");
    assert!(source.label().ends_with("/team/api"));
    assert_eq!(source.reference(), "main");
}

#[tokio::test]
async fn a_given_ref_is_read_instead_of_the_default_branch() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("team/api", PYTHON_SERVICE);
    let client = client(&gitlab);
    client
        .commit_files(
            &ProjectRef::Id(id),
            "py313",
            Some("main"),
            "bump",
            &[(".python-version".to_string(), "3.13.0\n".to_string())],
        )
        .await
        .unwrap();

    let source = GitLabSource::fetch(&client, &ProjectRef::Id(id), Some("py313"))
        .await
        .unwrap();

    assert_eq!(
        source.read(".python-version", 100),
        Content::Text("3.13.0\n".into())
    );
}

#[tokio::test]
async fn an_empty_repository_is_an_empty_listing_with_a_warning() {
    let gitlab = spawn().await;
    gitlab.add_project("team/empty", &[]);
    let client = client(&gitlab);
    let source = GitLabSource::fetch(&client, &"team/empty".into(), None)
        .await
        .unwrap();
    let listing = source.list().unwrap();
    assert!(listing.entries.is_empty());
    assert!(listing.warnings[0].contains("no commits yet"));
    assert_eq!(client.requests_sent(), 1);
}

#[tokio::test]
async fn a_file_that_keeps_failing_becomes_unreadable_not_a_failed_fetch() {
    let gitlab = spawn().await;
    gitlab.add_project("team/api", PYTHON_SERVICE);
    gitlab.inject(Fault::new(FaultKind::Status(500), 100).on_path("requirements%2Etxt/raw"));
    let client = client(&gitlab);

    let source = GitLabSource::fetch(&client, &"team/api".into(), None)
        .await
        .unwrap();

    match source.read("requirements.txt", MAX_READ_BYTES) {
        Content::Unreadable(reason) => {
            assert!(
                reason.contains("reading `requirements.txt` at `main`"),
                "{reason}"
            )
        }
        other => panic!("expected Unreadable, got {other:?}"),
    }
    assert!(matches!(
        source.read(".python-version", MAX_READ_BYTES),
        Content::Text(_)
    ));
}

#[tokio::test]
async fn a_refused_token_stops_the_fetch() {
    let gitlab = spawn().await;
    gitlab.add_project("team/api", PYTHON_SERVICE);
    let client = client_with(&gitlab, |c| {
        c.token = pipewright_adapters::gitlab::GitLabToken::new("glpat-expired")
    });
    let err = GitLabSource::fetch(&client, &"team/api".into(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, GitLabError::Unauthorized { .. }));
    assert_eq!(client.requests_sent(), 1);
}

#[tokio::test]
async fn the_fetch_can_run_on_another_task() {
    let gitlab = spawn().await;
    gitlab.add_project("team/api", PYTHON_SERVICE);
    let client = std::sync::Arc::new(client(&gitlab));
    // The service fetches inside spawned tasks, so the future must be `Send`.
    let task = tokio::spawn({
        let client = client.clone();
        async move {
            GitLabSource::fetch(client.as_ref(), &"team/api".into(), None)
                .await
                .map(|s| s.files_fetched())
        }
    });
    assert_eq!(task.await.unwrap().unwrap(), wanted().len());
}
