//! The self-heal loop end to end: the monitor against the fake GitLab (scripted job outcomes,
//! logs from the classifier's fixtures), a scripted model, and real registries for seeding.
//!
//! A flaky runner failure is retried unchanged (no commit); ten different failures make
//! exactly `MAX` fix commits and then stop `exhausted`; two fixes that leave one failure in
//! place stop the loop, as does a fix that would bring back earlier files (A→B→A); a model's
//! fix that fails the validator is not committed; a missing image is seeded, the job retried,
//! and the green pair stored.

mod common;
mod scripted;

use pipewright_adapters::fake_gitlab::{FakeGitLab, JobOutcome, PipelineScript, FAKE_TOKEN};
use pipewright_adapters::gitlab::GitLabClient;
use pipewright_adapters::registry::{ClientSettings, CopySettings, NativeRegistry};
use pipewright_adapters::runs::SqliteRunStore;
use pipewright_adapters::source::LocalSource;
use pipewright_adapters::store::sqlite::SqliteStore;
use pipewright_adapters::test_registry::{RegistryServer, TestBlob, TestImage, TestPlatform};
use pipewright_core::generate::{generate, GeneratorSettings};
use pipewright_core::gitlab::{GitLab, ProjectRef};
use pipewright_core::images::{ImageSettings, Mirror, Registry};
use pipewright_core::knowledge::{BuiltinEmbedder, Collection, KnowledgeStore, StackKey};
use pipewright_core::monitor::{MonitorStatus, MonitorStore, MonitorTask};
use pipewright_workflow::analyze::analyze_with_index;
use pipewright_workflow::monitor::{HealTools, Monitor, MonitorConfig};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BRANCH: &str = "feature/ai-pipeline";
const STEP: Duration = Duration::from_millis(15);

/// A job log from the classifier's fixtures.
fn log(class: &str, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipewright-core/tests/fixtures/logs")
        .join(class)
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn failed(reason: &str, trace: String) -> JobOutcome {
    JobOutcome::Failed {
        reason: reason.into(),
        trace,
    }
}

/// The generated pair of a fixture and its stack.
fn generated(fixture: &str) -> (BTreeMap<String, String>, StackKey) {
    let path = common::fixtures_dir().join(fixture);
    let src = LocalSource::open_labelled(&path, fixture).unwrap();
    let (index, profile) = analyze_with_index(&src).unwrap();
    let bundle = generate(&profile, &index, &GeneratorSettings::default()).unwrap();
    (
        bundle.files.clone(),
        StackKey::from_service(&profile.services[0]),
    )
}

/// The recorded `test` job of an attempt.
fn test_job(attempt: &pipewright_core::monitor::Attempt) -> &pipewright_core::monitor::FailedJob {
    attempt
        .failed_jobs
        .iter()
        .find(|j| j.name == "test")
        .unwrap_or_else(|| panic!("no test job: {:?}", attempt.failed_jobs))
}

struct Loop {
    gitlab: FakeGitLab,
    tasks: Arc<SqliteRunStore>,
    knowledge: Arc<SqliteStore>,
    run_id: String,
    _dir: tempfile::TempDir,
}

impl Loop {
    /// Commits `files` on a new branch of a new project whose pipelines run as `script`, and
    /// lets a monitor (with `tools`, at most `max` fix commits) watch it.
    async fn start(
        files: &BTreeMap<String, String>,
        stack: StackKey,
        script: PipelineScript,
        tools: HealTools,
        max: u32,
    ) -> Loop {
        let gitlab = FakeGitLab::start().await.unwrap();
        let p = gitlab.add_project("team/app", &[("app.py", "print(1)\n")]);
        gitlab.script_pipelines(p, script);
        let client: Arc<dyn GitLab> =
            Arc::new(GitLabClient::new(gitlab.client_config(FAKE_TOKEN)).unwrap());
        let list: Vec<(String, String)> =
            files.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let commit = client
            .commit_files(
                &ProjectRef::Id(p),
                BRANCH,
                Some("main"),
                "Add the generated pipeline",
                &list,
            )
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let tasks = Arc::new(SqliteRunStore::open(dir.path()).unwrap());
        let mut tools = tools;
        // Unless the test shares one between runs, this run's store remembers fixes.
        if tools.memory.is_none() {
            tools.memory = Some(tasks.clone());
        }
        let knowledge =
            Arc::new(SqliteStore::open(dir.path(), Arc::new(BuiltinEmbedder::default())).unwrap());
        let config = MonitorConfig {
            poll_interval: Duration::from_millis(20),
            timeout: Duration::from_secs(60),
            max_heal_attempts: max,
            ..MonitorConfig::default()
        };
        let monitor = Monitor::with_tools(
            client,
            tasks.clone(),
            Ok(knowledge.clone() as Arc<dyn KnowledgeStore>),
            config,
            tools,
        );
        let run_id = "run_heal_loop".to_string();
        monitor
            .watch(
                &run_id,
                p,
                "team/app",
                BRANCH,
                &commit.id,
                Some(stack),
                files.clone(),
            )
            .await
            .unwrap();
        Loop {
            gitlab,
            tasks,
            knowledge,
            run_id,
            _dir: dir,
        }
    }

    /// The task once it is final (and its learn done).
    async fn finished(&self) -> MonitorTask {
        let started = Instant::now();
        loop {
            let task = self.tasks.task(&self.run_id).await.unwrap().unwrap();
            if !task.is_unfinished() {
                return task;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the loop never finished: {}",
                task.to_json()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Commits made after the workflow's own.
    fn fix_commits(&self) -> Vec<String> {
        self.gitlab
            .commits()
            .iter()
            .skip(1)
            .map(|c| c.message.clone())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_runner_failure_is_retried_unchanged_and_nothing_is_committed() {
    let (files, stack) = generated("python-flask-pip");
    let script = PipelineScript::every(STEP)
        .job(
            "test",
            failed(
                "runner_system_failure",
                log("runner_system_failure", "docker-no-such-container.log"),
            ),
        )
        .flaky("test", 1);
    let l = Loop::start(&files, stack, script, HealTools::default(), 10).await;
    let task = l.finished().await;
    assert_eq!(task.status, MonitorStatus::Succeeded, "{}", task.to_json());
    assert!(l.fix_commits().is_empty(), "{:?}", l.fix_commits());
    assert_eq!(task.attempts.len(), 2, "{}", task.to_json());
    assert_eq!(
        test_job(&task.attempts[0]).class.as_deref(),
        Some("runner_system_failure")
    );
    let fix = task.attempts[1].fix.as_ref().unwrap();
    assert_eq!(fix.strategy, "retry");
    assert!(fix.commit_id.is_none() && fix.diff.is_empty(), "{fix:?}");
    assert_eq!(task.attempts[0].commit_id, task.attempts[1].commit_id);
    assert_eq!(task.attempts[0].pipeline_id, task.attempts[1].pipeline_id);
    // GitLab kept the failed run as a retried job and ran a new one.
    let pipelines = l.gitlab.pipelines(1);
    let runs = pipelines[0]
        .jobs
        .iter()
        .filter(|j| j.name == "test")
        .count();
    assert_eq!(runs, 2);
    assert_eq!(task.heal_guard.as_ref().unwrap().attempts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_that_keeps_failing_is_retried_twice_then_escalated_without_a_commit() {
    let (files, stack) = generated("python-flask-pip");
    let script = PipelineScript::every(STEP).job(
        "test",
        failed(
            "runner_system_failure",
            log("runner_system_failure", "docker-no-such-container.log"),
        ),
    );
    let l = Loop::start(&files, stack, script, HealTools::default(), 10).await;
    let task = l.finished().await;
    assert_eq!(task.status, MonitorStatus::Exhausted, "{}", task.to_json());
    assert!(l.fix_commits().is_empty());
    let retries = task
        .attempts
        .iter()
        .filter(|a| a.fix.as_ref().is_some_and(|f| f.strategy == "retry"))
        .count();
    assert_eq!(retries, 2, "{}", task.to_json());
    let note = task.heal_note.unwrap();
    assert!(note.contains("2 unchanged retries"), "{note}");
}

/// The fixture's missing-command log, for `command`.
fn missing(command: &str) -> JobOutcome {
    failed(
        "script_failure",
        log("missing_command", "sh-golangci-lint-not-found.log").replace("golangci-lint", command),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_different_failures_make_exactly_max_fix_commits_then_exhausted() {
    let (files, stack) = generated("python-flask-pip");
    // Each fixed by installing its package in the test image; an eleventh stays.
    let commands = [
        ("jq", "jq"),
        ("curl", "curl"),
        ("wget", "wget"),
        ("make", "make"),
        ("unzip", "unzip"),
        ("zip", " zip "),
        ("envsubst", "gettext-base"),
        ("nc", "netcat-openbsd"),
        ("ps", "procps"),
        ("xz", "xz-utils"),
        ("rsync", "rsync"),
    ];
    let chain = commands
        .iter()
        .map(|(command, package)| {
            (
                missing(command),
                format!("--no-install-recommends {}", package.trim()),
            )
        })
        .collect();
    let script = PipelineScript::every(STEP).failures("test", chain);
    let l = Loop::start(&files, stack, script, HealTools::default(), 10).await;
    let task = l.finished().await;
    assert_eq!(task.status, MonitorStatus::Exhausted, "{}", task.to_json());
    let commits = l.fix_commits();
    assert_eq!(commits.len(), 10, "{commits:#?}");
    for (i, message) in commits.iter().enumerate() {
        let n = i + 1;
        assert!(
            message.starts_with(&format!("[Self-Heal {n}/10] missing_command: install ")),
            "{message}"
        );
        assert!(message.contains(&format!("Pipewright-Run: run_heal_loop/{n}")));
    }
    let note = task.heal_note.unwrap();
    assert!(note.contains("10 fix attempts made, the limit"), "{note}");
    assert_eq!(task.attempts.len(), 11);
    let last = task.attempts.last().unwrap();
    let evidence = test_job(last).evidence.clone().unwrap();
    assert!(evidence.contains("rsync"), "{evidence}");
}

fn timeout_script() -> PipelineScript {
    PipelineScript::every(STEP).job(
        "test",
        failed(
            "job_execution_timeout",
            log("timeout_error", "job-execution-took-longer.log"),
        ),
    )
}

fn llm_tools(model: Arc<scripted::ScriptedModel>) -> HealTools {
    HealTools {
        llm: Some((model, 0.1)),
        ..HealTools::default()
    }
}

/// The generated `.gitlab-ci.yml` with a harmless change a model might make.
fn touched(ci: &str, note: &str) -> String {
    format!("{ci}# {note}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fixes_that_leave_the_failure_in_place_stop_the_loop_with_the_reason() {
    let (files, stack) = generated("python-flask-pip");
    let raised =
        files[".gitlab-ci.yml"].replace("  stage: test\n", "  stage: test\n  timeout: 2h\n");
    // The model's fix keeps the raised timeout and adds a line; the job still times out.
    let model = scripted::model(vec![Ok(scripted::answer_json(
        &touched(&raised, "tests run with a longer budget"),
        &files["Dockerfile"],
    ))]);
    let l = Loop::start(
        &files,
        stack,
        timeout_script(),
        llm_tools(model.clone()),
        10,
    )
    .await;
    let task = l.finished().await;
    assert_eq!(task.status, MonitorStatus::Exhausted, "{}", task.to_json());
    let commits = l.fix_commits();
    assert_eq!(commits.len(), 2, "{commits:#?}");
    assert!(commits[0].starts_with("[Self-Heal 1/10] timeout_error"));
    assert!(commits[1].starts_with("[Self-Heal 2/10] timeout_error: the model's fix"));
    let note = task.heal_note.unwrap();
    assert!(
        note.contains("2 fixes did not help `test` (timeout_error)"),
        "{note}"
    );
    // The model saw the log, both files and the previous fix's diff as data.
    let prompts = model.prompts.lock().unwrap().clone();
    assert_eq!(
        prompts.len(),
        1,
        "asked once, never for the stopped signature"
    );
    for source in [
        "job-log",
        "previous-gitlab-ci",
        "previous-dockerfile",
        "previous-fix-diff",
    ] {
        assert!(
            prompts[0].contains(&format!("source=\"{source}\"")),
            "{source}"
        );
    }
    assert!(
        prompts[0].contains("+  timeout: 2h"),
        "the previous diff is quoted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fix_that_brings_back_earlier_files_stops_the_loop() {
    let (files, stack) = generated("python-flask-pip");
    // The model answers with the files as first generated: A → B → A.
    let model = scripted::model(vec![Ok(scripted::answer_json(
        &files[".gitlab-ci.yml"],
        &files["Dockerfile"],
    ))]);
    let l = Loop::start(&files, stack, timeout_script(), llm_tools(model), 10).await;
    let task = l.finished().await;
    assert_eq!(task.status, MonitorStatus::Exhausted, "{}", task.to_json());
    assert_eq!(l.fix_commits().len(), 1);
    let note = task.heal_note.unwrap();
    assert!(
        note.contains("would restore the files of attempt 0"),
        "{note}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_fix_that_fails_the_validator_is_not_committed() {
    let (files, stack) = generated("python-flask-pip");
    let broken = files[".gitlab-ci.yml"].replace("  stage: test\n", "  stage: tests\n");
    let model = scripted::model(vec![Ok(scripted::answer_json(
        &broken,
        &files["Dockerfile"],
    ))]);
    let script = PipelineScript::every(STEP).job(
        "test",
        failed("script_failure", log("unknown", "custom-exit-3.log")),
    );
    let l = Loop::start(&files, stack, script, llm_tools(model.clone()), 10).await;
    let task = l.finished().await;
    assert_eq!(task.status, MonitorStatus::Exhausted, "{}", task.to_json());
    assert!(l.fix_commits().is_empty(), "{:?}", l.fix_commits());
    assert_eq!(model.prompts.lock().unwrap().len(), 1);
    let note = task.heal_note.unwrap();
    assert!(
        note.contains("does not pass the validator") && note.contains("nothing was committed"),
        "{note}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_fix_that_hides_the_failure_is_not_committed() {
    let (files, stack) = generated("python-flask-pip");
    let hidden = files[".gitlab-ci.yml"]
        .replace("  stage: test\n", "  stage: test\n  allow_failure: true\n");
    let model = scripted::model(vec![Ok(scripted::answer_json(
        &hidden,
        &files["Dockerfile"],
    ))]);
    let script = PipelineScript::every(STEP).job(
        "test",
        failed("script_failure", log("unknown", "custom-exit-3.log")),
    );
    let l = Loop::start(&files, stack, script, llm_tools(model), 10).await;
    let task = l.finished().await;
    assert_eq!(task.status, MonitorStatus::Exhausted, "{}", task.to_json());
    assert!(l.fix_commits().is_empty());
    let note = task.heal_note.unwrap();
    assert!(note.contains("weakens the pipeline"), "{note}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_unit_test_needs_a_code_fix_and_the_model_is_not_asked() {
    let (files, stack) = generated("python-flask-pip");
    let model = scripted::model(vec![Ok(scripted::answer_json(
        &touched(&files[".gitlab-ci.yml"], "x"),
        &files["Dockerfile"],
    ))]);
    let script = PipelineScript::every(STEP).job(
        "test",
        failed(
            "script_failure",
            log("test_failure", "pytest-assertion.log"),
        ),
    );
    let l = Loop::start(&files, stack, script, llm_tools(model.clone()), 10).await;
    let task = l.finished().await;
    assert_eq!(
        task.status,
        MonitorStatus::NeedsCodeFix,
        "{}",
        task.to_json()
    );
    assert!(l.fix_commits().is_empty());
    assert!(model.prompts.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_fix_that_works_is_committed_and_the_pair_stored() {
    let (files, stack) = generated("python-flask-pip");
    let fixed = touched(&files[".gitlab-ci.yml"], "PIPEWRIGHT_FIXED");
    let model = scripted::model(vec![Ok(scripted::answer_json(
        &fixed,
        &files["Dockerfile"],
    ))]);
    let script = PipelineScript::every(STEP)
        .job(
            "test",
            failed("script_failure", log("unknown", "custom-exit-3.log")),
        )
        .fixed_by("test", "PIPEWRIGHT_FIXED");
    let l = Loop::start(&files, stack, script, llm_tools(model), 10).await;
    let task = l.finished().await;
    assert_eq!(task.status, MonitorStatus::Succeeded, "{}", task.to_json());
    let commits = l.fix_commits();
    assert_eq!(commits.len(), 1);
    assert!(
        commits[0].starts_with("[Self-Heal 1/10] unknown: the model's fix of .gitlab-ci.yml"),
        "{}",
        commits[0]
    );
    let fix = task.attempts[1].fix.as_ref().unwrap();
    assert_eq!(fix.strategy, "llm");
    assert!(fix.diff.contains("+# PIPEWRIGHT_FIXED"), "{}", fix.diff);
    let pipewright_core::monitor::Learning::Done { template_id } = &task.learning else {
        panic!("not learned: {:?}", task.learning);
    };
    let record = l
        .knowledge
        .get(Collection::Successful, template_id)
        .await
        .unwrap()
        .unwrap();
    assert!(record
        .gitlab_ci
        .as_deref()
        .unwrap_or("")
        .contains("PIPEWRIGHT_FIXED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_is_seeded_the_job_retried_and_the_green_pair_stored() {
    let (Some(upstream), Some(nexus)) = (RegistryServer::start(None), RegistryServer::start(None))
    else {
        return;
    };
    let python = TestImage {
        repository: "library/python".into(),
        tag: "3.12-slim".into(),
        platforms: vec![TestPlatform::new(
            "linux",
            "amd64",
            vec![TestBlob {
                seed: 7,
                size: 20_000,
            }],
        )],
        index: false,
    }
    .push(&upstream.url(), None)
    .await;
    let (_, stack) = generated("python-flask-pip");
    let ci = "stages: [test]\ntest:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/python:3.12-slim\n  script:\n    - python -m pytest\n";
    let dockerfile = "ARG BASE_REGISTRY=ai-nexus:5001\nFROM ${BASE_REGISTRY}/apm-repo/demo/python:3.12-slim AS runtime\nCMD [\"python\"]\n";
    let files: BTreeMap<String, String> = [(".gitlab-ci.yml", ci), ("Dockerfile", dockerfile)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let missing = format!("{}/apm-repo/demo/python:3.12-slim", nexus.host);
    let trace = log("image_not_found", "runner-job-image-manifest-unknown.log")
        .replace("localhost:5001/apm-repo/demo/node:23.1-alpine", &missing);
    // The job fails while the image is missing; its retry runs after the seeding.
    let script = PipelineScript::every(STEP)
        .job("test", failed("script_failure", trace))
        .flaky("test", 1);
    let mut settings =
        ImageSettings::for_registry(&nexus.host, None, &GeneratorSettings::default());
    settings.mirrors = Mirror::parse_list(&format!("docker.io={}", upstream.host)).unwrap();
    let registry = NativeRegistry::new(
        ClientSettings {
            insecure: vec![nexus.host.clone(), upstream.host.clone()],
            ..Default::default()
        },
        CopySettings::default(),
    )
    .unwrap();
    let tools = HealTools {
        llm: None,
        images: Some((Arc::new(registry) as Arc<dyn Registry>, settings)),
        ..HealTools::default()
    };
    let l = Loop::start(&files, stack, script, tools, 10).await;
    let task = l.finished().await;
    assert_eq!(task.status, MonitorStatus::Succeeded, "{}", task.to_json());
    assert_eq!(
        test_job(&task.attempts[0]).class.as_deref(),
        Some("image_not_found")
    );
    let fix = task.attempts[1].fix.as_ref().unwrap();
    assert_eq!(fix.strategy, "seed_image", "{fix:?}");
    assert!(fix.summary.contains(&missing), "{}", fix.summary);
    assert!(l.fix_commits().is_empty(), "seeding commits nothing");
    // The image is in the registry now, with the upstream's digest.
    let check = NativeRegistry::new(
        ClientSettings {
            insecure: vec![nexus.host.clone()],
            ..Default::default()
        },
        CopySettings::default(),
    )
    .unwrap();
    let found = check
        .digest(&pipewright_core::images::ImageRef::parse(&missing).unwrap())
        .await
        .unwrap();
    assert_eq!(found.map(|d| d.to_string()), Some(python.digest.clone()));
    let pipewright_core::monitor::Learning::Done { template_id } = &task.learning else {
        panic!("not learned: {:?}", task.learning);
    };
    let record = l
        .knowledge
        .get(Collection::Successful, template_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.gitlab_ci.as_deref(), Some(ci));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fix_that_worked_is_remembered_and_tried_first_next_time() {
    let (files, stack) = generated("python-flask-pip");
    let fixed = touched(&files[".gitlab-ci.yml"], "PIPEWRIGHT_FIXED");
    let script = || {
        PipelineScript::every(STEP)
            .job(
                "test",
                failed("script_failure", log("unknown", "custom-exit-3.log")),
            )
            .fixed_by("test", "PIPEWRIGHT_FIXED")
    };
    let memory_dir = tempfile::tempdir().unwrap();
    let memory = Arc::new(SqliteRunStore::open(memory_dir.path()).unwrap());
    let first_model = scripted::model(vec![Ok(scripted::answer_json(
        &fixed,
        &files["Dockerfile"],
    ))]);
    let first = Loop::start(
        &files,
        stack.clone(),
        script(),
        HealTools {
            llm: Some((first_model, 0.1)),
            memory: Some(memory.clone()),
            ..HealTools::default()
        },
        10,
    )
    .await;
    assert_eq!(first.finished().await.status, MonitorStatus::Succeeded);
    let kept = pipewright_core::heal::FixMemory::recall(
        memory.as_ref(),
        pipewright_core::heal::FailureClass::Unknown,
        &first.finished().await.attempts[0]
            .failed_jobs
            .iter()
            .find(|j| j.name == "test")
            .and_then(|j| j.evidence.as_deref())
            .map(pipewright_core::heal::mask_evidence)
            .unwrap_or_default(),
        5,
    )
    .await
    .unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].strategy, "llm");

    // Another project fails the same way: the learned fix comes first, the model is not asked.
    let second_model = scripted::model(vec![Ok("not asked".to_string())]);
    let second = Loop::start(
        &files,
        stack,
        script(),
        HealTools {
            llm: Some((second_model.clone(), 0.1)),
            memory: Some(memory.clone()),
            ..HealTools::default()
        },
        10,
    )
    .await;
    let task = second.finished().await;
    assert_eq!(task.status, MonitorStatus::Succeeded, "{}", task.to_json());
    assert!(second_model.prompts.lock().unwrap().is_empty());
    let fix = task.attempts[1].fix.as_ref().unwrap();
    assert_eq!(fix.strategy, "learned:llm");
    assert!(
        fix.summary.contains("learned from team/app"),
        "{}",
        fix.summary
    );
    let commits = second.fix_commits();
    assert_eq!(commits.len(), 1);
    assert!(
        commits[0].starts_with("[Self-Heal 1/10] unknown: the model's fix"),
        "{}",
        commits[0]
    );
}
