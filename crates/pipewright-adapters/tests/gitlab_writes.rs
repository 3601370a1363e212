//! Writing to GitLab through the client, against the fake: one commit with both files, each
//! sent as `create` or `update` by what the start branch holds; GitLab's 400s surfaced
//! clearly; branches; then the pipeline the commit started, its jobs, logs, and CI Lint.

mod gitlab_support;

use gitlab_support::{client, spawn, PYTHON_SERVICE};
use pipewright_adapters::fake_gitlab::FakeJob;
use pipewright_core::gitlab::{
    CommitAction, CommitActionKind, CommitRequest, GitLab, GitLabError, PipelineStatus, ProjectRef,
};

const CI: &str = "stages: [build]\nbuild:\n  stage: build\n  script: [make]\n";
const DOCKERFILE: &str = "FROM python:3.12-slim\nUSER app\n";

fn pipeline_files() -> Vec<(String, String)> {
    vec![
        (".gitlab-ci.yml".to_string(), CI.to_string()),
        ("Dockerfile".to_string(), DOCKERFILE.to_string()),
    ]
}

#[tokio::test]
async fn both_files_go_in_one_commit_as_create_when_new_and_update_when_present() {
    let gitlab = spawn().await;
    let mut files = PYTHON_SERVICE.to_vec();
    files.push(("Dockerfile", "FROM python:3.11\n"));
    let id = gitlab.add_project("team/api", &files);
    let client = client(&gitlab);

    let commit = client
        .commit_files(
            &ProjectRef::Id(id),
            "feature/ai-pipeline-1",
            Some("main"),
            "[Template] Add CI pipeline",
            &pipeline_files(),
        )
        .await
        .unwrap();

    let recorded = gitlab.commits();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].sha, commit.id);
    assert_eq!(recorded[0].branch, "feature/ai-pipeline-1");
    assert_eq!(recorded[0].start_branch.as_deref(), Some("main"));
    let actions: Vec<(&str, &str)> = recorded[0]
        .actions
        .iter()
        .map(|a| (a.action.as_str(), a.file_path.as_str()))
        .collect();
    assert_eq!(
        actions,
        [("create", ".gitlab-ci.yml"), ("update", "Dockerfile")]
    );
    let branch = gitlab.files(id, "feature/ai-pipeline-1").unwrap();
    assert_eq!(branch[".gitlab-ci.yml"], CI);
    assert_eq!(branch["Dockerfile"], DOCKERFILE);
    assert_eq!(
        gitlab.files(id, "main").unwrap()["Dockerfile"],
        "FROM python:3.11\n"
    );
    assert!(commit
        .web_url
        .ends_with(&format!("/team/api/-/commit/{}", commit.id)));
    // Two existence probes on the start branch, then the commit.
    assert_eq!(client.requests_sent(), 3);
    let probes = gitlab.requests();
    assert!(probes[..2]
        .iter()
        .all(|r| r.method == "HEAD" && r.query_param("ref").as_deref() == Some("main")));
}

#[tokio::test]
async fn a_second_commit_onto_the_branch_updates_both_files() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("team/api", PYTHON_SERVICE);
    let client = client(&gitlab);
    let project = ProjectRef::Id(id);
    client
        .commit_files(&project, "fix", Some("main"), "first", &pipeline_files())
        .await
        .unwrap();
    let mut fixed = pipeline_files();
    fixed[1].1 = "FROM python:3.12-slim\nUSER 1000\n".into();

    // The start branch equal to the branch means "commit onto it".
    client
        .commit_files(&project, "fix", Some("fix"), "second", &fixed)
        .await
        .unwrap();

    let second = &gitlab.commits()[1];
    assert_eq!(second.start_branch, None);
    assert!(second.actions.iter().all(|a| a.action == "update"));
    assert_eq!(gitlab.files(id, "fix").unwrap()["Dockerfile"], fixed[1].1);
}

#[tokio::test]
async fn creating_an_existing_file_is_a_clear_bad_request_and_changes_nothing() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("team/api", PYTHON_SERVICE);
    let client = client(&gitlab);
    let before = gitlab.branch_head(id, "main");
    let request = CommitRequest {
        branch: "main".into(),
        commit_message: "add".into(),
        start_branch: None,
        actions: vec![
            CommitAction {
                action: CommitActionKind::Create,
                file_path: "Dockerfile".into(),
                content: Some(DOCKERFILE.into()),
            },
            CommitAction {
                action: CommitActionKind::Create,
                file_path: "requirements.txt".into(),
                content: Some("flask\n".into()),
            },
        ],
    };

    let err = client
        .commit(&ProjectRef::Id(id), &request)
        .await
        .unwrap_err();

    match &err {
        GitLabError::BadRequest { message, .. } => {
            assert_eq!(message, "A file with this name already exists")
        }
        other => panic!("expected BadRequest, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("committing Dockerfile, requirements.txt to branch `main`"),
        "{text}"
    );
    assert!(text.contains("must be sent as `update`"), "{text}");
    assert_eq!(gitlab.branch_head(id, "main"), before);
    assert!(gitlab.commits().is_empty());
    assert_eq!(client.requests_sent(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn updating_a_missing_file_is_a_bad_request() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("team/api", PYTHON_SERVICE);
    let request = CommitRequest {
        branch: "main".into(),
        commit_message: "update".into(),
        start_branch: None,
        actions: vec![CommitAction {
            action: CommitActionKind::Update,
            file_path: "Dockerfile".into(),
            content: Some(DOCKERFILE.into()),
        }],
    };
    let err = client(&gitlab)
        .commit(&ProjectRef::Id(id), &request)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("A file with this name doesn't exist"),
        "{err}"
    );
}

#[tokio::test]
async fn committing_to_a_missing_branch_without_a_start_branch_says_to_give_one() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("team/api", PYTHON_SERVICE);
    let err = client(&gitlab)
        .commit_files(
            &ProjectRef::Id(id),
            "feature/x",
            None,
            "m",
            &pipeline_files(),
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("You can only create or edit files when you are on a branch"),
        "{text}"
    );
    assert!(text.contains("give a start branch"), "{text}");
}

#[tokio::test]
async fn a_branch_is_created_from_a_ref_and_a_duplicate_is_refused() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("team/api", PYTHON_SERVICE);
    let client = client(&gitlab);
    let project = ProjectRef::Id(id);

    let branch = client
        .create_branch(&project, "feature/ai-pipeline-2", "main")
        .await
        .unwrap();

    assert_eq!(branch.name, "feature/ai-pipeline-2");
    assert_eq!(Some(branch.commit.id), gitlab.branch_head(id, "main"));
    let again = client
        .create_branch(&project, "feature/ai-pipeline-2", "main")
        .await
        .unwrap_err();
    assert!(
        again.to_string().contains("Branch already exists"),
        "{again}"
    );
}

#[tokio::test]
async fn the_commit_starts_a_pipeline_whose_jobs_and_logs_can_be_read() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("team/api", PYTHON_SERVICE);
    let client = client(&gitlab);
    let project = ProjectRef::Id(id);
    let commit = client
        .commit_files(
            &project,
            "feature/p",
            Some("main"),
            "add CI",
            &pipeline_files(),
        )
        .await
        .unwrap();

    let pipelines = client
        .pipelines_for_sha(&project, &commit.id, Some("feature/p"))
        .await
        .unwrap();
    assert_eq!(pipelines.len(), 1);
    assert_eq!(pipelines[0].status, PipelineStatus::Created);
    assert_eq!(pipelines[0].git_ref, "feature/p");

    let pipeline_id = pipelines[0].id;
    // The committed file's own jobs, all waiting to run.
    let declared = client
        .pipeline_jobs(&project, pipeline_id, false)
        .await
        .unwrap();
    assert!(!declared.is_empty());
    assert!(declared.iter().all(|j| j.status == PipelineStatus::Created));
    gitlab
        .add_job(
            pipeline_id,
            FakeJob::new("build", "build", "failed")
                .failure_reason("script_failure")
                .trace("step 1\nERROR: manifest unknown\n")
                .retried(),
        )
        .unwrap();
    let retry = gitlab
        .add_job(
            pipeline_id,
            FakeJob::new("build", "build", "failed")
                .failure_reason("script_failure")
                .trace("step 1\nERROR: manifest unknown\n"),
        )
        .unwrap();
    gitlab.set_pipeline_status(pipeline_id, "failed");

    let pipeline = client.pipeline(&project, pipeline_id).await.unwrap();
    assert!(pipeline.status.is_terminal());
    let latest = client
        .pipeline_jobs(&project, pipeline_id, false)
        .await
        .unwrap();
    assert_eq!(latest.len(), declared.len() + 1);
    // Newest first, as GitLab sorts.
    assert_eq!(latest[0].id, retry);
    assert_eq!(latest[0].failure_reason.as_deref(), Some("script_failure"));
    let all = client
        .pipeline_jobs(&project, pipeline_id, true)
        .await
        .unwrap();
    assert_eq!(all.len(), declared.len() + 2);
    let trace = client.job_trace(&project, retry, 1024).await.unwrap();
    assert!(trace.text.ends_with("ERROR: manifest unknown\n"));
    assert!(!trace.truncated);
    let tail = client.job_trace(&project, retry, 10).await.unwrap();
    assert_eq!(tail.text, "t unknown\n");
    assert!(tail.truncated);
}

#[tokio::test]
async fn a_commit_without_a_ci_file_starts_no_pipeline() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("team/api", PYTHON_SERVICE);
    let files = vec![("Dockerfile".to_string(), DOCKERFILE.to_string())];
    client(&gitlab)
        .commit_files(&ProjectRef::Id(id), "d", Some("main"), "m", &files)
        .await
        .unwrap();
    assert!(gitlab.pipelines(id).is_empty());
}

#[tokio::test]
async fn ci_lint_accepts_a_valid_configuration_and_explains_an_invalid_one() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("team/api", PYTHON_SERVICE);
    let client = client(&gitlab);
    let project = ProjectRef::Id(id);

    let good = client.lint(&project, CI).await.unwrap();
    assert!(good.valid);
    assert_eq!(good.merged_yaml.as_deref(), Some(CI));

    let bad = client
        .lint(
            &project,
            "stages: [build]\ntest:\n  stage: test\n  script: [pytest]\n",
        )
        .await
        .unwrap();
    assert!(!bad.valid);
    assert_eq!(
        bad.errors,
        ["test job: chosen stage test does not exist; available stages are .pre, build, .post"]
    );
}

#[tokio::test]
async fn project_hooks_are_created_and_listed_without_their_token() {
    use pipewright_core::gitlab::NewProjectHook;
    let gitlab = spawn().await;
    let id = gitlab.add_project("team/api", PYTHON_SERVICE);
    let client = client(&gitlab);
    let project = ProjectRef::Id(id);
    assert!(client.project_hooks(&project).await.unwrap().is_empty());
    let hook = NewProjectHook {
        url: "https://pipewright.example/api/v1/webhooks/gitlab".into(),
        token: "hook-secret".into(),
        pipeline_events: true,
        push_events: false,
        enable_ssl_verification: true,
    };
    assert!(!format!("{hook:?}").contains("hook-secret"));
    let created = client.create_project_hook(&project, &hook).await.unwrap();
    assert!(created.pipeline_events && !created.push_events);
    let listed = client.project_hooks(&project).await.unwrap();
    assert_eq!(listed, vec![created]);
    assert_eq!(gitlab.hooks()[0].token.as_deref(), Some("hook-secret"));
    let sent = gitlab.requests();
    assert!(!sent
        .iter()
        .filter(|r| r.method == "GET")
        .any(|r| r.body.contains("hook-secret")));
}

#[tokio::test]
async fn a_finished_job_is_retried_in_its_pipeline_and_a_running_one_is_refused() {
    let gitlab = spawn().await;
    let id = gitlab.add_project("team/api", PYTHON_SERVICE);
    let client = client(&gitlab);
    let project = ProjectRef::Id(id);
    let commit = client
        .commit_files(
            &project,
            "feature/r",
            Some("main"),
            "add CI",
            &pipeline_files(),
        )
        .await
        .unwrap();
    let pipeline_id = client
        .pipelines_for_sha(&project, &commit.id, None)
        .await
        .unwrap()[0]
        .id;
    let build = client
        .pipeline_jobs(&project, pipeline_id, false)
        .await
        .unwrap()[0]
        .id;
    assert!(gitlab.set_job_status(build, "failed", Some("runner_system_failure")));
    gitlab.set_pipeline_status(pipeline_id, "failed");
    gitlab.clear_requests();

    let new = client.retry_job(&project, build).await.unwrap();
    assert_ne!(new.id, build);
    assert_eq!(new.name, "build");
    let sent = gitlab.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST");
    assert!(
        sent[0]
            .path
            .ends_with(&format!("/projects/{id}/jobs/{build}/retry")),
        "{}",
        sent[0].path
    );
    // The failed run is kept as a retried job; the pipeline runs again.
    let latest = client
        .pipeline_jobs(&project, pipeline_id, false)
        .await
        .unwrap();
    assert!(latest.iter().any(|j| j.id == new.id));
    assert!(latest.iter().all(|j| j.id != build));
    let all = client
        .pipeline_jobs(&project, pipeline_id, true)
        .await
        .unwrap();
    assert!(all.iter().any(|j| j.id == build));
    let pipeline = client.pipeline(&project, pipeline_id).await.unwrap();
    assert_eq!(pipeline.status, PipelineStatus::Running);

    // The retried run cannot be retried again, nor can a running job; an unknown job is 404.
    for job in [build, new.id] {
        let e = client.retry_job(&project, job).await.unwrap_err();
        assert!(matches!(e, GitLabError::Forbidden { .. }), "{e:?}");
    }
    let e = client.retry_job(&project, 999_999).await.unwrap_err();
    assert!(matches!(e, GitLabError::NotFound { .. }), "{e:?}");
}
