//! The workflow up to the commit against the fake GitLab: a single service and a monorepo,
//! the create/update choice, branches, CI Lint feeding the repair loop, retries, and the
//! error paths. The fake records what was committed; the tests read it back and validate it.

mod scripted;

use pipewright_adapters::fake_gitlab::{FakeGitLab, Fault, FaultKind, RecordedRequest, FAKE_TOKEN};
use pipewright_adapters::gitlab::GitLabClient;
use pipewright_adapters::runs::SqliteRunStore;
use pipewright_core::generate::GeneratorSettings;
use pipewright_core::gitlab::CommitActionKind;
use pipewright_core::llm::LlmProvider;
use pipewright_core::runs::{RunStatus, RunStore, StepStatus};
use pipewright_core::validate::{has_errors, validate_dockerfile, validate_pipeline};
use pipewright_workflow::generate::{validator_settings, Provenance};
use pipewright_workflow::paths::PathOptions;
use pipewright_workflow::workflow::{
    branch_name, check_branch_name, default_branch_name, run_workflow, WorkflowContext,
    WorkflowError, WorkflowOutcome, WorkflowRequest,
};
use scripted::{answer_json, model, ScriptedModel};
use std::path::Path;
use std::sync::Arc;

/// Every text file of a fixture repository, as (relative path, content).
fn fixture_files(name: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/repos")
        .join(name);
    let mut out = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("fixture folder is readable") {
            let path = entry.expect("fixture entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                let rel = path.strip_prefix(&dir).expect("inside the fixture");
                out.push((rel.to_string_lossy().replace('\\', "/"), text));
            }
        }
    }
    out.sort();
    out
}

struct Setup {
    gitlab: FakeGitLab,
    client: GitLabClient,
    runs: SqliteRunStore,
    _dir: tempfile::TempDir,
}

async fn setup_with(token: &str) -> Setup {
    let gitlab = FakeGitLab::start().await.expect("fake GitLab starts");
    let config = gitlab.client_config(token);
    let client = GitLabClient::new(config).expect("valid configuration");
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = SqliteRunStore::open(dir.path()).expect("run store");
    Setup {
        gitlab,
        client,
        runs,
        _dir: dir,
    }
}

async fn setup() -> Setup {
    setup_with(FAKE_TOKEN).await
}

fn add_fixture(s: &Setup, path: &str, fixture: &str) -> u64 {
    let files = fixture_files(fixture);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    s.gitlab.add_project(path, &refs)
}

fn request(project: &str) -> WorkflowRequest {
    WorkflowRequest {
        project: project.to_string(),
        reference: None,
        use_template_only: false,
        branch: None,
        generator: GeneratorSettings::default(),
        allowed_hosts: Vec::new(),
    }
}

fn no_llm() -> PathOptions {
    PathOptions {
        template_only: false,
        store: Err("not used in this test".into()),
        llm: Err("LLM_PROVIDER=none".into()),
        temperature: 0.2,
        repair_rounds: 2,
    }
}

fn with_llm(llm: Arc<ScriptedModel>) -> PathOptions {
    PathOptions {
        llm: Ok(llm as Arc<dyn LlmProvider>),
        ..no_llm()
    }
}

async fn run(
    s: &Setup,
    req: WorkflowRequest,
    paths: PathOptions,
    run_id: &str,
) -> Result<WorkflowOutcome, WorkflowError> {
    run_workflow(
        req,
        WorkflowContext {
            gitlab: &s.client,
            policy: s.client.policy(),
            paths,
            runs: Some(&s.runs),
            run_id: run_id.to_string(),
            images: None,
        },
    )
    .await
}

/// The files on `branch` pass pipewright's validator.
fn assert_branch_is_valid(s: &Setup, project_id: u64, branch: &str) {
    let files = s.gitlab.files(project_id, branch).expect("branch exists");
    let settings = validator_settings(&GeneratorSettings::default(), &[]);
    let ci = files.get(".gitlab-ci.yml").expect("pipeline committed");
    let findings = validate_pipeline(ci, &settings);
    assert!(!has_errors(&findings), "{findings:#?}");
    for (path, text) in &files {
        if path.rsplit('/').next() == Some("Dockerfile") {
            let findings = validate_dockerfile(text, &settings);
            assert!(!has_errors(&findings), "{path}: {findings:#?}");
        }
    }
}

#[tokio::test]
async fn a_single_service_is_committed_to_a_new_branch_and_recorded() {
    let s = setup().await;
    let id = add_fixture(&s, "team/flask-api", "python-flask-pip");
    let url = format!("{}/team/flask-api", s.gitlab.url());
    let out = run(&s, request(&url), no_llm(), "run_000000000001_0000aaaa")
        .await
        .expect("workflow succeeds");

    assert!(
        out.branch.starts_with("feature/ai-pipeline-"),
        "{}",
        out.branch
    );
    assert_eq!(out.project_id, id);
    assert_eq!(out.model_used, "template");
    assert_eq!(out.provenance, Provenance::Template);
    assert!(out
        .commit_message
        .starts_with("[Template] Add GitLab CI/CD pipeline for python/flask"));
    assert!(out.lint.valid && out.lint.calls == 1);
    assert!(out
        .actions
        .iter()
        .all(|a| a.action == CommitActionKind::Create));

    let commits = s.gitlab.commits();
    assert_eq!(commits.len(), 1, "one commit with every file");
    let commit = &commits[0];
    assert_eq!(commit.sha, out.commit_id);
    assert_eq!(commit.branch, out.branch);
    assert_eq!(commit.start_branch.as_deref(), Some("main"));
    let committed: Vec<&str> = commit
        .actions
        .iter()
        .map(|a| a.file_path.as_str())
        .collect();
    assert_eq!(
        committed,
        vec![".dockerignore", ".gitlab-ci.yml", "Dockerfile"]
    );
    assert_branch_is_valid(&s, id, &out.branch);
    assert!(
        !s.gitlab
            .files(id, "main")
            .expect("main")
            .contains_key(".gitlab-ci.yml"),
        "the default branch is untouched"
    );

    // What the whole workflow cost: the project, one tree page, one raw read per file the
    // detectors want, one lint, one branch lookup, one existence probe per file, the commit.
    let requests = s.gitlab.requests();
    let count =
        |pred: &dyn Fn(&RecordedRequest) -> bool| requests.iter().filter(|r| pred(r)).count();
    let raw = count(&|r| r.path.ends_with("/raw"));
    let probes = count(&|r| r.method == "HEAD");
    assert_eq!(count(&|r| r.path.ends_with("/repository/tree")), 1);
    assert_eq!(count(&|r| r.path.ends_with("/ci/lint")), 1);
    assert_eq!(probes, 3, "one probe per committed file");
    assert_eq!(count(&|r| r.path.contains("/repository/branches/")), 1);
    assert_eq!(out.files_read, raw);
    assert_eq!(
        requests.len(),
        1 + 1 + raw + 1 + 1 + probes + 1,
        "{requests:#?}"
    );
    eprintln!("workflow requests: {} ({raw} raw reads)", requests.len());

    let recorded = s
        .runs
        .get(&out.run_id)
        .await
        .unwrap()
        .expect("run recorded");
    assert_eq!(recorded.status, RunStatus::Succeeded);
    assert_eq!(recorded.project_id, Some(id));
    let steps: Vec<&str> = recorded.steps.iter().map(|st| st.name.as_str()).collect();
    assert_eq!(
        steps,
        [
            "resolve_project",
            "read_repository",
            "analyze",
            "generate",
            "lint",
            "commit"
        ]
    );
    assert!(recorded.steps.iter().all(|st| st.status == StepStatus::Ok));
    assert_eq!(
        recorded.result.as_ref().unwrap()["commit_id"],
        out.commit_id.as_str()
    );
}

#[tokio::test]
async fn files_that_exist_are_updated_and_new_ones_created() {
    let s = setup().await;
    let mut files = fixture_files("python-flask-pip");
    files.push((
        ".gitlab-ci.yml".into(),
        "stages: [old]\nold:\n  stage: old\n  script: [echo]\n".into(),
    ));
    files.push((".dockerignore".into(), ".git\n".into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let id = s.gitlab.add_project("team/has-ci", &refs);

    let out = run(
        &s,
        request("team/has-ci"),
        no_llm(),
        "run_000000000002_0000aaaa",
    )
    .await
    .expect("workflow succeeds");
    let action = |p: &str| out.actions.iter().find(|a| a.path == p).map(|a| a.action);
    assert_eq!(action(".gitlab-ci.yml"), Some(CommitActionKind::Update));
    assert_eq!(action(".dockerignore"), Some(CommitActionKind::Update));
    assert_eq!(action("Dockerfile"), Some(CommitActionKind::Create));
    let recorded: Vec<(String, String)> = s.gitlab.commits()[0]
        .actions
        .iter()
        .map(|a| (a.file_path.clone(), a.action.clone()))
        .collect();
    assert!(recorded.contains(&(".gitlab-ci.yml".into(), "update".into())));
    assert!(recorded.contains(&("Dockerfile".into(), "create".into())));
    assert_branch_is_valid(&s, id, &out.branch);
}

#[tokio::test]
async fn a_monorepo_gets_jobs_per_service_and_a_dockerfile_per_service() {
    let s = setup().await;
    let id = add_fixture(&s, "team/platform", "monorepo-compose");
    let out = run(
        &s,
        request(&id.to_string()),
        no_llm(),
        "run_000000000003_0000aaaa",
    )
    .await
    .expect("workflow succeeds");
    let dockerfiles: Vec<&String> = out
        .files
        .keys()
        .filter(|p| p.ends_with("Dockerfile"))
        .collect();
    assert!(dockerfiles.len() >= 2, "{dockerfiles:?}");
    let ci = &out.files[".gitlab-ci.yml"];
    assert!(ci.contains("compile:"), "jobs are named per service");
    assert!(out.commit_message.contains(", "), "{}", out.commit_message);
    let committed = s.gitlab.files(id, &out.branch).expect("branch");
    for path in out.files.keys() {
        assert_eq!(committed.get(path), out.files.get(path), "{path}");
    }
    assert_branch_is_valid(&s, id, &out.branch);
}

#[tokio::test]
async fn a_named_branch_that_exists_receives_the_commit_on_top() {
    let s = setup().await;
    let id = add_fixture(&s, "team/api", "python-flask-pip");
    assert!(s.gitlab.add_branch(id, "ci/pipewright", "main"));
    let mut req = request("team/api");
    req.branch = Some("ci/pipewright".into());
    let out = run(&s, req, no_llm(), "run_000000000004_0000aaaa")
        .await
        .expect("ok");
    assert_eq!(out.branch, "ci/pipewright");
    let commit = &s.gitlab.commits()[0];
    assert_eq!(
        commit.start_branch, None,
        "no start_branch onto an existing branch"
    );
    assert_eq!(
        s.gitlab.branch_head(id, "ci/pipewright").as_deref(),
        Some(out.commit_id.as_str())
    );
}

#[tokio::test]
async fn a_branch_in_ref_form_commits_to_the_branch_it_names() {
    // Before, `refs/heads/ci/pipewright` created a branch literally called that.
    let s = setup().await;
    let id = add_fixture(&s, "team/api", "python-flask-pip");
    let mut req = request("team/api");
    req.branch = Some("refs/heads/ci/pipewright".into());
    let out = run(&s, req, no_llm(), "run_000000000004_0000aaab")
        .await
        .expect("ok");
    assert_eq!(out.branch, "ci/pipewright");
    assert_eq!(
        s.gitlab.branch_head(id, "ci/pipewright").as_deref(),
        Some(out.commit_id.as_str())
    );
    assert_eq!(
        s.gitlab.branch_head(id, "refs/heads/ci/pipewright"),
        None,
        "no branch named like a ref"
    );
}

#[tokio::test]
async fn the_default_branch_and_malformed_branch_names_are_refused() {
    let s = setup().await;
    add_fixture(&s, "team/api", "python-flask-pip");
    let mut req = request("team/api");
    req.branch = Some("main".into());
    let err = run(&s, req, no_llm(), "run_000000000005_0000aaaa")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_branch");
    assert!(err.to_string().contains("default branch"), "{err}");
    assert!(s.gitlab.commits().is_empty());

    // The default branch under its other names is the default branch.
    for other_name in ["refs/heads/main", "heads/main"] {
        let mut req = request("team/api");
        req.branch = Some(other_name.into());
        let err = run(&s, req, no_llm(), "run_000000000005_0000aaab")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_branch", "{other_name}");
        assert!(
            err.to_string().contains("default branch"),
            "{other_name}: {err}"
        );
    }
    // Forms that name no branch are refused before any request.
    for not_a_branch in [
        "refs/tags/v1",
        "refs/remotes/origin/x",
        "refs/heads/refs/heads/main",
        "HEAD",
    ] {
        s.gitlab.clear_requests();
        let mut req = request("team/api");
        req.branch = Some(not_a_branch.into());
        let err = run(&s, req, no_llm(), "run_000000000005_0000aaac")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_branch", "{not_a_branch}");
        assert!(
            s.gitlab.requests().is_empty(),
            "{not_a_branch}: refused before any request"
        );
    }
    assert!(s.gitlab.commits().is_empty());

    s.gitlab.clear_requests();
    let mut req = request("team/api");
    req.branch = Some("feature/bad name..x".into());
    let err = run(&s, req, no_llm(), "run_000000000006_0000aaaa")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_branch");
    assert!(s.gitlab.requests().is_empty(), "refused before any request");
    let recorded = s
        .runs
        .get("run_000000000006_0000aaaa")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.status, RunStatus::Failed);
    assert_eq!(recorded.error.unwrap().code, "invalid_branch");
}

#[tokio::test]
async fn urls_off_the_configured_gitlab_are_refused_before_any_connection() {
    let s = setup().await;
    add_fixture(&s, "team/api", "python-flask-pip");
    for url in [
        "https://gitlab.example.org/team/api",
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.2:8080/team/api",
        "ftp://gitlab/team/api",
    ] {
        let err = run(&s, request(url), no_llm(), "run_000000000007_0000aaaa")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "project_refused", "{url}: {err}");
    }
    assert!(s.gitlab.requests().is_empty());
}

#[tokio::test]
async fn a_lint_error_goes_back_to_the_llm_which_repairs_it() {
    let s = setup().await;
    let files = fixture_files("run-python-pytest");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    s.gitlab.add_project("team/lint", &refs);
    // The built-in answer, once with a marker GitLab's lint rejects in the project's context.
    let first = run(
        &s,
        request("team/lint"),
        no_llm(),
        "run_000000000008_0000aaaa",
    )
    .await
    .expect("built-in");
    let ci = first.files[".gitlab-ci.yml"].clone();
    let dockerfile = first.files["Dockerfile"].clone();
    let marked = format!("{ci}\n# uses-runner-tag: gpu-large\n");
    s.gitlab.reject_lint(
        "gpu-large",
        "jobs:test config uses a runner tag `gpu-large` that no runner of this project has",
    );
    let llm = model(vec![
        Ok(answer_json(&marked, &dockerfile)),
        Ok(answer_json(&ci, &dockerfile)),
    ]);

    let out = run(
        &s,
        request("team/lint"),
        with_llm(llm.clone()),
        "run_000000000009_0000aaaa",
    )
    .await
    .expect("repaired");
    assert_eq!(out.provenance, Provenance::AiGenerated);
    assert_eq!(out.model_used, "scripted");
    assert!(out.commit_message.starts_with("[AI Generated]"));
    let prompts = llm.prompts.lock().unwrap();
    assert_eq!(prompts.len(), 2, "one repair round");
    assert!(
        prompts[1].contains("gpu-large") && prompts[1].contains("GitLab CI Lint"),
        "{}",
        prompts[1]
    );
    assert_eq!(out.lint.calls, 2, "each distinct candidate linted once");
}

#[tokio::test]
async fn when_lint_rejects_even_the_built_in_pipeline_nothing_is_committed() {
    let s = setup().await;
    add_fixture(&s, "team/api", "python-flask-pip");
    s.gitlab
        .reject_lint("stages:", "Included file `ci/shared.yml` does not exist");
    let err = run(
        &s,
        request("team/api"),
        no_llm(),
        "run_000000000010_0000aaaa",
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "lint_rejected");
    assert!(err.to_string().contains("ci/shared.yml"), "{err}");
    assert!(s.gitlab.commits().is_empty());
    let recorded = s
        .runs
        .get("run_000000000010_0000aaaa")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.status, RunStatus::Failed);
    assert_eq!(recorded.steps.last().unwrap().name, "lint");
    assert_eq!(recorded.steps.last().unwrap().status, StepStatus::Failed);
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_to_success() {
    let s = setup().await;
    add_fixture(&s, "team/api", "python-flask-pip");
    s.gitlab
        .inject(Fault::new(FaultKind::Status(502), 2).on_path("/repository/tree"));
    s.gitlab.inject(
        Fault::new(
            FaultKind::RateLimited {
                retry_after: Some("0".into()),
                reset_in: None,
            },
            1,
        )
        .on_path("/ci/lint"),
    );
    let out = run(
        &s,
        request("team/api"),
        no_llm(),
        "run_000000000011_0000aaaa",
    )
    .await
    .expect("retries hide the faults");
    assert_eq!(s.gitlab.commits().len(), 1);
    assert!(!out.commit_id.is_empty());
}

#[tokio::test]
async fn a_refused_token_and_an_unknown_project_fail_with_gitlabs_answer() {
    let s = setup_with("glpat-WRONG-token-000000000").await;
    add_fixture(&s, "team/api", "python-flask-pip");
    let err = run(
        &s,
        request("team/api"),
        no_llm(),
        "run_000000000012_0000aaaa",
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "gitlab_auth");
    let recorded = s
        .runs
        .get("run_000000000012_0000aaaa")
        .await
        .unwrap()
        .unwrap();
    let text = serde_json::to_string(&recorded).unwrap();
    assert!(
        !text.contains("glpat-WRONG"),
        "the token never reaches the run record"
    );
    assert!(!err.to_string().contains("glpat-WRONG"));

    let s = setup().await;
    let err = run(
        &s,
        request("team/missing"),
        no_llm(),
        "run_000000000013_0000aaaa",
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "gitlab_not_found");
}

#[test]
fn branch_names_follow_git_rules() {
    assert!(check_branch_name("feature/ai-pipeline-20261122-100405").is_ok());
    for bad in [
        "",
        "-x",
        "a..b",
        "a b",
        "a:b",
        "x.lock",
        "a/.hidden",
        "a//b",
        "ends/",
        "a@{1}",
        "t~1",
    ] {
        assert!(check_branch_name(bad).is_err(), "{bad}");
    }
    assert_eq!(
        branch_name("refs/heads/feature/x").as_deref(),
        Ok("feature/x")
    );
    assert_eq!(branch_name("heads/main").as_deref(), Ok("main"));
    assert_eq!(branch_name("main").as_deref(), Ok("main"));
    assert!(branch_name("refs/heads/").is_err());
    assert!(branch_name("refs/tags/v1").is_err());
    assert_eq!(
        default_branch_name(1_795_341_845_000),
        "feature/ai-pipeline-20261122-100405"
    );
}

/// A registry that holds only the images named, and cannot copy anything: the seeding
/// step's contract without a server (the copier itself is tested against real registries).
struct PartialRegistry {
    present: Vec<&'static str>,
}

#[async_trait::async_trait]
impl pipewright_core::images::Registry for PartialRegistry {
    async fn digest(
        &self,
        image: &pipewright_core::images::ImageRef,
    ) -> Result<Option<pipewright_core::images::Digest>, pipewright_core::images::RegistryError>
    {
        let name = image.repository.rsplit('/').next().unwrap_or("");
        Ok(self
            .present
            .contains(&name)
            .then(|| pipewright_core::images::Digest::sha256_of(name.as_bytes())))
    }

    async fn copy(
        &self,
        source: &pipewright_core::images::ImageRef,
        _target: &pipewright_core::images::ImageRef,
        _platforms: &[pipewright_core::images::Platform],
    ) -> Result<pipewright_core::images::CopyReport, pipewright_core::images::RegistryError> {
        Err(pipewright_core::images::RegistryError::NotFound {
            image: source.to_string(),
            message: "MANIFEST_UNKNOWN".into(),
        })
    }
}

#[tokio::test]
async fn images_that_cannot_be_seeded_are_warnings_in_the_answer_and_the_run() {
    let s = setup().await;
    add_fixture(&s, "team/flask-api", "python-flask-pip");
    let url = format!("{}/team/flask-api", s.gitlab.url());
    let registry = PartialRegistry {
        present: vec![
            "python",
            "kaniko-executor",
            "semgrep",
            "sonar-scanner-cli",
            "trivy",
            "trivy-db",
            "crane",
        ],
    };
    let generator = GeneratorSettings::default();
    let out = run_workflow(
        request(&url),
        WorkflowContext {
            gitlab: &s.client,
            policy: s.client.policy(),
            paths: no_llm(),
            runs: Some(&s.runs),
            run_id: "run_000000000099_0000aaaa".into(),
            images: Some(pipewright_workflow::workflow::ImageSeeding {
                registry: &registry,
                settings: pipewright_core::images::ImageSettings::for_registry(
                    "nexus:5001",
                    None,
                    &generator,
                ),
                options: Default::default(),
            }),
        },
    )
    .await
    .expect("a missing image does not stop the commit");
    let warning = out
        .warnings
        .iter()
        .find(|w| w.contains("nexus:5001/apm-repo/demo/curl:"))
        .unwrap_or_else(|| panic!("{:?}", out.warnings));
    assert!(
        warning.contains("docker.io/curlimages/curl") && warning.contains("does not exist"),
        "{warning}"
    );
    let recorded = s
        .runs
        .get(&out.run_id)
        .await
        .unwrap()
        .expect("run recorded");
    let step = recorded
        .steps
        .iter()
        .find(|st| st.name == "images")
        .expect("images step");
    assert_eq!(step.status, StepStatus::Failed);
    assert!(
        step.detail.contains("apm-repo/demo/curl"),
        "{}",
        step.detail
    );
    let names: Vec<&str> = recorded.steps.iter().map(|st| st.name.as_str()).collect();
    assert_eq!(&names[names.len() - 2..], ["images", "commit"]);
}
