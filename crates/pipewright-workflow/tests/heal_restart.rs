//! Self-heal across a crash: a fix commit that reached GitLab before its save is found on
//! the branch after the restart and never committed a second time.

use pipewright_adapters::fake_gitlab::{FakeGitLab, FAKE_TOKEN};
use pipewright_adapters::gitlab::GitLabClient;
use pipewright_adapters::runs::SqliteRunStore;
use pipewright_core::gitlab::{GitLab, ProjectRef};
use pipewright_core::heal::{commit_message, FailureClass, FailureSignature, HealGuard};
use pipewright_core::monitor::{Event, HealIntent, MonitorStore, MonitorTask};
use pipewright_workflow::monitor::{Monitor, MonitorConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CI: &str = "stages: [test]\ntest:\n  stage: test\n  script:\n    - pytest\n";
const FIXED: &str =
    "stages: [test]\ntest:\n  stage: test\n  timeout: 2h\n  script:\n    - pytest\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fix_committed_before_a_crash_is_not_committed_again() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let p = gitlab.add_project(
        "team/app",
        &[(".gitlab-ci.yml", CI), ("app.py", "print(1)\n")],
    );
    assert!(gitlab.add_branch(p, "feature/ai", "main"));
    let parent = gitlab.branch_head(p, "feature/ai").unwrap();
    let client: Arc<dyn GitLab> =
        Arc::new(GitLabClient::new(gitlab.client_config(FAKE_TOKEN)).unwrap());
    let class = FailureClass::TimeoutError;
    let summary = "raise the timeout of `test` to 2h";
    let message = commit_message(1, 10, class, summary, "run_crash");
    // The fix commit reached GitLab; then the process died before saving it.
    let sent = client
        .commit_files(
            &ProjectRef::Id(p),
            "feature/ai",
            None,
            &message,
            &[(".gitlab-ci.yml".to_string(), FIXED.to_string())],
        )
        .await
        .unwrap();
    let commits_before = gitlab.commits().len();

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteRunStore::open(dir.path()).unwrap());
    let now = pipewright_adapters::runs::now_ms();
    let files = BTreeMap::from([(".gitlab-ci.yml".to_string(), CI.to_string())]);
    let mut task = MonitorTask::new(
        "run_crash".into(),
        p,
        "team/app".into(),
        "feature/ai".into(),
        parent.clone(),
        None,
        files,
        now,
        60_000,
    );
    task.apply(Event::PipelineFound, now).unwrap();
    task.apply(Event::HealStarted, now).unwrap();
    task.heal_guard = Some(HealGuard::new(10, "as generated"));
    task.heal_pending = Some(HealIntent {
        attempt: 1,
        signature: FailureSignature::new(
            "test",
            class,
            Some("ERROR: Job failed: execution took longer than 1h0m0s seconds"),
        ),
        strategy: "raise_timeout".into(),
        summary: summary.into(),
        diff: String::new(),
        message,
        files: BTreeMap::from([(".gitlab-ci.yml".to_string(), FIXED.to_string())]),
        state: "after fix 1".into(),
        parent_sha: parent,
    });
    store.save_task(&task).await.unwrap();

    let config = MonitorConfig {
        poll_interval: Duration::from_millis(50),
        ..MonitorConfig::default()
    };
    let monitor = Monitor::new(client, store.clone(), Err("not used".into()), config);
    assert_eq!(monitor.resume().await.unwrap(), 1);
    let started = Instant::now();
    let task = loop {
        let t = store.task("run_crash").await.unwrap().unwrap();
        if t.heal_pending.is_none() {
            break t;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{t:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(gitlab.commits().len(), commits_before, "no second commit");
    assert_eq!(task.attempts.len(), 2);
    assert_eq!(task.commit_id, sent.id);
    let fix = task.attempts[1].fix.as_ref().unwrap();
    assert_eq!(fix.commit_id.as_deref(), Some(sent.id.as_str()));
    assert_eq!(task.files[".gitlab-ci.yml"], FIXED);
    assert_eq!(task.heal_guard.as_ref().unwrap().attempts, 1);
}
