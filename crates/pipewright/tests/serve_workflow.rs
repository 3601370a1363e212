//! `POST /api/v1/pipeline/workflow` and the runs endpoints from outside: the binary on a free
//! port against the fake GitLab. A single service and a monorepo go to a commit that the
//! fake records and the test reads back and validates; existing files are updated, new ones
//! created; 5xx bursts and 429 are retried; every error path answers in the JSON shape and is
//! recorded as a run; the token appears nowhere.

mod serve_support;

use pipewright_adapters::fake_gitlab::{FakeGitLab, Fault, FaultKind, FAKE_TOKEN};
use pipewright_core::generate::GeneratorSettings;
use pipewright_core::validate::{has_errors, validate_dockerfile, validate_pipeline};
use pipewright_workflow::generate::validator_settings;
use serde_json::{json, Value};
use serve_support::{fixture_files, spawn_with, Options, Server};

const WORKFLOW: &str = "/api/v1/pipeline/workflow";

/// A fake GitLab holding the given fixtures as projects, and a server pointed at it.
async fn setup(token: &str, projects: &[(&str, &str)]) -> (FakeGitLab, Server, Vec<u64>) {
    let gitlab = FakeGitLab::start().await.expect("fake GitLab");
    let mut ids = Vec::new();
    for (path, fixture) in projects {
        let files = fixture_files(fixture);
        let pairs: Vec<(&str, &str)> = files
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
            .collect();
        ids.push(gitlab.add_project(path, &pairs));
    }
    let options = Options::default()
        .env("GITLAB_URL", &gitlab.url())
        .env("GITLAB_TOKEN", token);
    let server = tokio::task::spawn_blocking(move || spawn_with(options))
        .await
        .expect("spawn");
    (gitlab, server, ids)
}

/// Every committed pipeline and Dockerfile on `branch` passes pipewright's validator.
fn assert_valid_on_branch(gitlab: &FakeGitLab, project: u64, branch: &str) {
    let files = gitlab.files(project, branch).expect("the branch exists");
    let settings = validator_settings(&GeneratorSettings::default(), &[]);
    let ci = files
        .get(".gitlab-ci.yml")
        .expect("a pipeline was committed");
    let findings = validate_pipeline(ci, &settings);
    assert!(!has_errors(&findings), "{findings:#?}");
    for (path, text) in &files {
        if path.rsplit('/').next() == Some("Dockerfile") {
            let findings = validate_dockerfile(text, &settings);
            assert!(!has_errors(&findings), "{path}: {findings:#?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_service_project_is_committed_and_its_run_can_be_read() {
    let (gitlab, server, ids) = setup(FAKE_TOKEN, &[("team/app", "python-flask-pip")]).await;
    let url = format!("{}/team/app", gitlab.url());
    let (status, body) = server
        .call(
            WORKFLOW,
            &json!({ "repository_url": url, "use_template_only": true }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let branch = body["branch"].as_str().expect("branch");
    assert!(branch.starts_with("feature/ai-pipeline-"), "{branch}");
    assert_eq!(body["project_id"], ids[0]);
    assert_eq!(body["model_used"], "template");
    assert_eq!(body["commit_tag"], "[Template]");
    assert!(
        body["web_url"].as_str().unwrap().contains("/-/commit/"),
        "{body}"
    );
    for key in ["commit_id", "run_id", "files", "actions", "commit_message"] {
        assert!(!body[key].is_null(), "{key} missing: {body}");
    }

    let commits = gitlab.commits();
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].sha, body["commit_id"].as_str().unwrap());
    assert!(commits[0].message.starts_with("[Template] "));
    assert!(commits[0].actions.iter().all(|a| a.action == "create"));
    assert_valid_on_branch(&gitlab, ids[0], branch);

    // The run, by id and in the list.
    let run_id = body["run_id"].as_str().unwrap();
    let (status, run) = server
        .get_json(&format!("/api/v1/pipeline/runs/{run_id}"))
        .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["project_id"], ids[0]);
    assert_eq!(run["steps"].as_array().unwrap().len(), 6, "{run}");
    assert!(run["duration_ms"].is_u64() && run["created_at"].is_string());
    assert_eq!(run["result"]["commit_id"], body["commit_id"]);
    let (status, list) = server.get_json("/api/v1/pipeline/runs").await;
    assert_eq!(status, 200);
    assert_eq!(list["runs"][0]["id"], run_id);

    let text = std::fs::read_to_string(server.data_dir.path().join("data/runs.sqlite3"))
        .unwrap_or_default();
    assert!(!text.contains(FAKE_TOKEN), "the token is never recorded");
    assert!(
        !server.log().contains(FAKE_TOKEN),
        "the token is never logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monorepo_by_id_gets_a_dockerfile_per_service_in_one_commit() {
    let (gitlab, server, ids) = setup(FAKE_TOKEN, &[("team/platform", "ts-pnpm-monorepo")]).await;
    let (status, body) = server
        .call(
            WORKFLOW,
            &json!({ "project_id": ids[0], "branch": "ci/pipewright" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["branch"], "ci/pipewright");
    let dockerfiles: Vec<&String> = body["files"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.ends_with("Dockerfile"))
        .collect();
    assert!(dockerfiles.len() >= 2, "{dockerfiles:?}");
    let commits = gitlab.commits();
    assert_eq!(commits.len(), 1, "every file in one commit");
    assert_eq!(
        commits[0].actions.len(),
        body["files"].as_object().unwrap().len()
    );
    assert_valid_on_branch(&gitlab, ids[0], "ci/pipewright");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_files_are_updated_and_retries_hide_bursts() {
    let gitlab = FakeGitLab::start().await.expect("fake GitLab");
    let files = fixture_files("python-flask-pip");
    let mut pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
        .collect();
    pairs.push((
        ".gitlab-ci.yml",
        "stages: [x]\nx:\n  stage: x\n  script: [echo]\n",
    ));
    let id = gitlab.add_project("team/app", &pairs);
    gitlab.inject(Fault::new(FaultKind::Status(503), 2).on_path("/repository/tree"));
    gitlab.inject(
        Fault::new(
            FaultKind::RateLimited {
                retry_after: Some("1".into()),
                reset_in: None,
            },
            1,
        )
        .on_path("/ci/lint"),
    );
    let options = Options::default()
        .env("GITLAB_URL", &gitlab.url())
        .env("GITLAB_TOKEN", FAKE_TOKEN);
    let server = tokio::task::spawn_blocking(move || spawn_with(options))
        .await
        .expect("spawn");
    let (status, body) = server
        .call(WORKFLOW, &json!({ "project_id": "team/app" }))
        .await;
    assert_eq!(status, 201, "{body}");
    let actions: Vec<(String, String)> = gitlab.commits()[0]
        .actions
        .iter()
        .map(|a| (a.file_path.clone(), a.action.clone()))
        .collect();
    assert!(
        actions.contains(&(".gitlab-ci.yml".into(), "update".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("Dockerfile".into(), "create".into())),
        "{actions:?}"
    );
    assert_valid_on_branch(&gitlab, id, body["branch"].as_str().unwrap());
    let tree_calls = gitlab
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/repository/tree"))
        .count();
    assert_eq!(tree_calls, 3, "two 503s, then success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_path_answers_in_the_json_shape_and_is_recorded() {
    let (gitlab, server, _) = setup(FAKE_TOKEN, &[("team/app", "python-flask-pip")]).await;
    let url = format!("{}/team/app", gitlab.url());
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({}), 422, "invalid_request"),
        (
            json!({ "repository_url": url, "project_id": 1 }),
            422,
            "invalid_request",
        ),
        (json!({ "project_id": true }), 422, "invalid_field"),
        (
            json!({ "project_id": 1, "unknown": 1 }),
            422,
            "invalid_field",
        ),
        (
            json!({ "repository_url": "https://evil.example.com/team/app" }),
            400,
            "url_refused",
        ),
        (
            json!({ "repository_url": "http://169.254.169.254/latest" }),
            400,
            "url_refused",
        ),
        (json!({ "project_id": "team/nothing" }), 404, "not_found"),
        (
            json!({ "project_id": 1, "branch": "main" }),
            422,
            "invalid_field",
        ),
        (
            json!({ "project_id": 1, "branch": "bad name" }),
            422,
            "invalid_field",
        ),
    ];
    for (request, status, code) in cases {
        let (got, body) = server.call(WORKFLOW, &request).await;
        assert_eq!(got, status, "{request}: {body}");
        assert_eq!(body["error"]["code"], code, "{request}: {body}");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    assert!(gitlab.commits().is_empty());
    let refused_hosts = gitlab
        .requests()
        .iter()
        .filter(|r| r.path.contains("evil") || r.path.contains("latest"))
        .count();
    assert_eq!(refused_hosts, 0);

    // CI Lint rejecting even the built-in pipeline: 422 naming the lint errors, no commit.
    gitlab.reject_lint("stages:", "Included file `ci/shared.yml` does not exist");
    let (status, body) = server.call(WORKFLOW, &json!({ "project_id": 1 })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "lint_rejected");
    assert!(body["error"]["details"]["lint_errors"][0]
        .as_str()
        .unwrap()
        .contains("ci/shared.yml"));
    let run_id = body["error"]["details"]["run_id"].as_str().expect("run id");
    let (_, run) = server
        .get_json(&format!("/api/v1/pipeline/runs/{run_id}"))
        .await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error"]["code"], "lint_rejected");
    assert!(gitlab.commits().is_empty());

    let (status, failed) = server
        .get_json("/api/v1/pipeline/runs?status=failed&limit=2")
        .await;
    assert_eq!(status, 200, "{failed}");
    assert_eq!(failed["runs"].as_array().unwrap().len(), 2);
    let next = failed["next_before"].as_str().expect("another page");
    let (status, page) = server
        .get_json(&format!(
            "/api/v1/pipeline/runs?status=failed&before={next}"
        ))
        .await;
    assert_eq!(status, 200);
    assert!(!page["runs"].as_array().unwrap().is_empty());

    for (path, status, code) in [
        (
            "/api/v1/pipeline/runs/run_000000000000_00000000",
            404,
            "not_found",
        ),
        ("/api/v1/pipeline/runs/../../etc", 404, "not_found"),
        ("/api/v1/pipeline/runs/nonsense", 422, "invalid_field"),
        ("/api/v1/pipeline/runs?limit=0", 422, "invalid_field"),
        ("/api/v1/pipeline/runs?status=weird", 422, "invalid_field"),
        ("/api/v1/pipeline/runs?before=x", 422, "invalid_field"),
    ] {
        let (got, body) = server.get_json(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_502_with_gitlabs_message_and_never_echoed() {
    let wrong = "glpat-WRONG-0000000000000000";
    let (_gitlab, server, _) = setup(wrong, &[("team/app", "python-flask-pip")]).await;
    let (status, body) = server
        .call(WORKFLOW, &json!({ "project_id": "team/app" }))
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "gitlab_auth_failed");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("401"),
        "{body}"
    );
    assert!(!body.to_string().contains(wrong));
    assert!(!server.log().contains(wrong));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_gitlab_the_workflow_is_503_naming_the_setting() {
    let server = tokio::task::spawn_blocking(|| spawn_with(Options::default()))
        .await
        .expect("spawn");
    let (status, body) = server.call(WORKFLOW, &json!({ "project_id": 1 })).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "gitlab_not_configured");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("GITLAB_URL"));
    let (status, _) = server.get_json("/api/v1/pipeline/runs").await;
    assert_eq!(status, 200, "runs are listed without GitLab");
}
