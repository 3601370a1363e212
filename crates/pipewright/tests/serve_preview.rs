//! What the page's Preview shows, from outside: `POST /api/v1/pipeline/generate` with a
//! `group/project` path on the configured (fake) GitLab answers, beside the files, the
//! repository's own version of each file it would replace and the diff to it.

mod serve_support;

use pipewright_adapters::fake_gitlab::{FakeGitLab, FAKE_TOKEN};
use serde_json::json;
use serve_support::{fixture_files, spawn_with, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_by_group_project_diffs_the_files_the_repository_has() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let mut files = fixture_files("python-flask-pip");
    files.insert(
        ".gitlab-ci.yml".into(),
        "stages: [test]\ntest:\n  script: pytest\n".into(),
    );
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
        .collect();
    gitlab.add_project("team/app", &pairs);
    let options = Options::default()
        .env("GITLAB_URL", &gitlab.url())
        .env("GITLAB_TOKEN", FAKE_TOKEN);
    let server = tokio::task::spawn_blocking(move || spawn_with(options))
        .await
        .unwrap();

    let (status, body) = server
        .call(
            "/api/v1/pipeline/generate",
            &json!({ "repository_url": "team/app", "use_template_only": true }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["commit_tag"], "[Template]");
    let existing = body["existing"].as_object().expect("existing");
    let ci = &existing[".gitlab-ci.yml"];
    assert_eq!(ci["content"], "stages: [test]\ntest:\n  script: pytest\n");
    let diff = ci["diff"].as_str().unwrap();
    assert!(
        diff.starts_with("--- a/.gitlab-ci.yml\n+++ b/.gitlab-ci.yml\n"),
        "{diff}"
    );
    assert!(diff.contains("\n-stages: [test]\n"), "{diff}");
    // The repository has no Dockerfile: nothing to compare it with.
    assert!(body["files"]["Dockerfile"].is_string());
    assert!(existing.get("Dockerfile").is_none(), "{existing:?}");

    // A path that is not a project on the configured GitLab is a 404, not a guess.
    let (status, e) = server
        .call(
            "/api/v1/pipeline/generate",
            &json!({ "repository_url": "team/missing" }),
        )
        .await;
    assert_eq!(status, 404, "{e}");
}
