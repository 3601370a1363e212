//! One behavioural suite, run against both run store backends: the embedded SQLite file
//! always, and a real PostgreSQL server when `PIPEWRIGHT_TEST_DATABASE_URL` is set (see
//! `scripts/services/postgres.sh`). With `CI` set and no server, the PostgreSQL tests fail
//! rather than skip. Each PostgreSQL test works in a database of its own, so tests run in
//! parallel.

use pipewright_adapters::runs::{PgRunStore, SqliteRunStore};
use pipewright_core::heal::{FailureClass, FailureSignature, FixMemory, LearnedFix};
use pipewright_core::monitor::{Event, LeaseCounts, MonitorStatus, MonitorStore, MonitorTask};
use pipewright_core::runs::{
    run_id, Run, RunFilter, RunKind, RunStatus, RunStep, RunStore, StepStatus,
};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// The traits the service holds the run store by.
trait Store: RunStore + MonitorStore + FixMemory {}
impl<T: RunStore + MonitorStore + FixMemory> Store for T {}

enum Harness {
    Embedded(TempDir),
    Postgres(String),
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The test server's URL, or `None` (skip) outside CI.
fn server_url(test: &str) -> Option<String> {
    match std::env::var("PIPEWRIGHT_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(url) => Some(url),
        None if std::env::var_os("CI").is_some() => panic!(
            "CI is set but PIPEWRIGHT_TEST_DATABASE_URL is not: the PostgreSQL tests must run in CI; \
             source scripts/services/postgres.sh and call postgres_start first"
        ),
        None => {
            eprintln!("skipped {test} on PostgreSQL: PIPEWRIGHT_TEST_DATABASE_URL is not set");
            None
        }
    }
}

/// A fresh database on the test server; its URL.
async fn fresh_database(server: &str, test: &str) -> String {
    let name = format!(
        "pw_{}_{}_{}",
        test.chars().take(30).collect::<String>(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let (client, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    let (base, _) = server.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{name}")
}

impl Harness {
    async fn postgres(test: &str) -> Option<Harness> {
        let server = server_url(test)?;
        Some(Harness::Postgres(fresh_database(&server, test).await))
    }

    /// A handle on the store (a second call: another handle on the same data, as a second
    /// instance or a restart has).
    async fn open(&self) -> Arc<dyn Store> {
        match self {
            Harness::Embedded(dir) => {
                Arc::new(SqliteRunStore::open(dir.path()).expect("open the embedded run store"))
            }
            Harness::Postgres(url) => Arc::new(
                PgRunStore::connect(url)
                    .await
                    .expect("connect to the test database"),
            ),
        }
    }
}

macro_rules! behaviours {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("a temporary folder");
                    super::$name(super::Harness::Embedded(dir)).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(h) = super::Harness::postgres(stringify!($name)).await {
                        super::$name(h).await;
                    }
                }
            )*
        }
    };
}

behaviours!(
    runs_save_update_list_and_page,
    runs_are_seen_by_a_second_handle,
    monitor_tasks_move_forward_only,
    deliveries_are_recorded_once,
    two_owners_claiming_at_once_share_no_task,
    an_expired_lease_is_taken_over_and_the_old_owner_knows,
    an_owner_reclaims_its_own_tasks_at_once,
    the_next_lease_end_of_other_owners_is_known,
    finished_tasks_are_never_claimed,
    the_check_names_the_backend_and_schema,
    learned_fixes_are_kept_once_and_recalled_newest_first,
);

// ---------------------------------------------------------------- fixtures

fn run(n: u64, project: &str, status: RunStatus) -> Run {
    let mut r = Run::start(
        run_id(1_000 + n, n as u32),
        RunKind::Workflow,
        Some(project.into()),
        serde_json::json!({"n": n}),
        1_000 + n,
    );
    r.status = status;
    r.project_id = Some(n % 2 + 10);
    r.steps.push(RunStep {
        name: "analyze".into(),
        status: StepStatus::Ok,
        started_after_ms: 1,
        duration_ms: 2,
        detail: "python".into(),
    });
    r
}

fn task(n: u64) -> MonitorTask {
    MonitorTask::new(
        run_id(2_000 + n, n as u32),
        7,
        "g/p".into(),
        "b".into(),
        format!("commit{n}"),
        None,
        Default::default(),
        1,
        1_000_000,
    )
}

fn ids(tasks: &[MonitorTask]) -> BTreeSet<String> {
    tasks.iter().map(|t| t.run_id.clone()).collect()
}

// ---------------------------------------------------------------- behaviours

async fn runs_save_update_list_and_page(h: Harness) {
    let store = h.open().await;
    for n in 0..5 {
        let status = if n % 2 == 0 {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        store
            .save(&run(n, if n < 3 { "a/x" } else { "b/y" }, status))
            .await
            .unwrap();
    }
    let mut first = run(0, "a/x", RunStatus::Running);
    first.status = RunStatus::Failed;
    store.save(&first).await.unwrap();
    assert_eq!(store.get(&first.id).await.unwrap().unwrap(), first);
    assert!(store
        .get("run_000000000000_00000000")
        .await
        .unwrap()
        .is_none());
    let list = |filter: RunFilter| {
        let store = store.clone();
        async move {
            store
                .list(&filter)
                .await
                .unwrap()
                .iter()
                .map(|r| r.created_at_ms - 1_000)
                .collect::<Vec<_>>()
        }
    };
    let all = store
        .list(&RunFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|r| r.created_at_ms - 1_000)
            .collect::<Vec<_>>(),
        vec![4, 3, 2, 1, 0]
    );
    assert_eq!(
        list(RunFilter {
            limit: 2,
            before: Some(all[1].id.clone()),
            ..Default::default()
        })
        .await,
        vec![2, 1]
    );
    assert_eq!(
        list(RunFilter {
            limit: 10,
            status: Some(RunStatus::Failed),
            ..Default::default()
        })
        .await,
        vec![3, 1, 0]
    );
    assert_eq!(
        list(RunFilter {
            limit: 10,
            project: Some("b/y".into()),
            ..Default::default()
        })
        .await,
        vec![4, 3]
    );
    assert_eq!(
        list(RunFilter {
            limit: 10,
            project: Some("11".into()),
            ..Default::default()
        })
        .await,
        vec![3, 1],
        "runs 1 and 3 have project id 11"
    );
}

async fn runs_are_seen_by_a_second_handle(h: Harness) {
    let a = h.open().await;
    let b = h.open().await;
    let made = run(1, "a/x", RunStatus::Running);
    a.save(&made).await.unwrap();
    assert_eq!(b.get(&made.id).await.unwrap().unwrap(), made);
    let mut t = task(1);
    a.save_task(&t).await.unwrap();
    t.apply(Event::PipelineFound, 2).unwrap();
    assert!(b.save_task(&t).await.unwrap());
    assert_eq!(
        a.task(&t.run_id).await.unwrap().unwrap().status,
        MonitorStatus::Running
    );
}

async fn monitor_tasks_move_forward_only(h: Harness) {
    let store = h.open().await;
    let mut t = task(1);
    assert!(store.save_task(&t).await.unwrap());
    let stale = t.clone();
    t.apply(Event::PipelineFound, 2).unwrap();
    assert!(store.save_task(&t).await.unwrap());
    assert!(
        !store.save_task(&stale).await.unwrap(),
        "an older version is ignored"
    );
    assert!(
        !store.save_task(&t).await.unwrap(),
        "the same version twice: the second writer learns it lost"
    );
    assert_eq!(store.unfinished_tasks().await.unwrap().len(), 1);
    t.apply(Event::GateFailed, 3).unwrap();
    assert!(store.save_task(&t).await.unwrap());
    let reopened = h.open().await;
    let got = reopened.task(&t.run_id).await.unwrap().unwrap();
    assert_eq!(got, t);
    assert!(reopened.unfinished_tasks().await.unwrap().is_empty());
    assert_eq!(
        reopened
            .task_for_commit(7, "commit1")
            .await
            .unwrap()
            .unwrap()
            .run_id,
        t.run_id
    );
    assert!(reopened
        .task_for_commit(8, "commit1")
        .await
        .unwrap()
        .is_none());
    // A fix commit moves the task to a new commit: webhooks for it find the task.
    let mut moved = t.clone();
    moved.commit_id = "commit1fix".into();
    moved.version += 1;
    assert!(store.save_task(&moved).await.unwrap());
    assert_eq!(
        reopened
            .task_for_commit(7, "commit1fix")
            .await
            .unwrap()
            .unwrap(),
        moved
    );
}

async fn deliveries_are_recorded_once(h: Harness) {
    let a = h.open().await;
    let b = h.open().await;
    assert!(a.record_delivery("k1", 5).await.unwrap());
    assert!(
        !b.record_delivery("k1", 6).await.unwrap(),
        "a redelivery to another handle is a duplicate"
    );
    assert!(b.record_delivery("k2", 6).await.unwrap());
    // A delivery that could not be acted on is forgotten: its retry is new.
    b.forget_delivery("k1").await.unwrap();
    assert!(a.record_delivery("k1", 7).await.unwrap());
    assert!(!a.record_delivery("k2", 7).await.unwrap());
    b.forget_delivery("never-seen").await.unwrap();
}

async fn two_owners_claiming_at_once_share_no_task(h: Harness) {
    let a = h.open().await;
    let b = h.open().await;
    for n in 0..40 {
        a.save_task(&task(n)).await.unwrap();
    }
    // Small batches, many rounds, both at once: every task ends with exactly one owner.
    let claim = |store: Arc<dyn Store>, owner: &'static str| async move {
        let mut got = Vec::new();
        loop {
            let batch = store.claim_tasks(owner, 60_000, 3).await.unwrap();
            if batch.is_empty() {
                break got;
            }
            got.extend(batch);
        }
    };
    let (got_a, got_b) = tokio::join!(claim(a.clone(), "a"), claim(b.clone(), "b"));
    let (ids_a, ids_b) = (ids(&got_a), ids(&got_b));
    assert_eq!(ids_a.len() + ids_b.len(), 40, "{ids_a:?} {ids_b:?}");
    assert!(ids_a.is_disjoint(&ids_b), "{ids_a:?} {ids_b:?}");
    assert_eq!(
        a.lease_counts().await.unwrap(),
        LeaseCounts { held: 40, free: 0 }
    );
    assert!(b.claim_tasks("c", 60_000, 100).await.unwrap().is_empty());
    // One claimer may have taken all 40 before the other's first try.
    let (held, holder, other) = match ids_a.iter().next() {
        Some(id) => (id.clone(), "a", "b"),
        None => (ids_b.iter().next().unwrap().clone(), "b", "a"),
    };
    assert!(
        b.claim_task(&held, other, 60_000).await.unwrap().is_none(),
        "a task another owner holds is not claimed"
    );
    assert!(a.claim_task(&held, holder, 60_000).await.unwrap().is_some());
    a.save_task(&task(99)).await.unwrap();
    assert!(b
        .claim_task(&task(99).run_id, "b", 60_000)
        .await
        .unwrap()
        .is_some());
    assert!(b
        .claim_task("run_missing", "b", 60_000)
        .await
        .unwrap()
        .is_none());
    let renewed: BTreeSet<String> = a
        .renew_leases("a", 60_000)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(renewed, ids_a);
    assert_eq!(
        b.renew_leases("b", 60_000).await.unwrap().len(),
        ids_b.len() + 1
    );
}

async fn an_expired_lease_is_taken_over_and_the_old_owner_knows(h: Harness) {
    let a = h.open().await;
    let b = h.open().await;
    let t = task(1);
    a.save_task(&t).await.unwrap();
    assert_eq!(ids(&a.claim_tasks("a", 300, 10).await.unwrap()).len(), 1);
    assert!(
        b.claim_tasks("b", 60_000, 10).await.unwrap().is_empty(),
        "a live lease is not taken"
    );
    assert!(a.renew_lease(&t.run_id, "a", 300).await.unwrap());
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        a.lease_counts().await.unwrap(),
        LeaseCounts { held: 0, free: 1 },
        "an expired lease counts as free"
    );
    let taken = b.claim_tasks("b", 60_000, 10).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0], t, "the new owner resumes from the last save");
    assert!(
        !a.renew_lease(&t.run_id, "a", 60_000).await.unwrap(),
        "the old owner learns it lost the task"
    );
    assert!(a.renew_leases("a", 60_000).await.unwrap().is_empty());
    a.release_task(&t.run_id, "a").await.unwrap();
    assert_eq!(
        b.lease_counts().await.unwrap(),
        LeaseCounts { held: 1, free: 0 },
        "releasing a lease one does not hold changes nothing"
    );
    b.release_task(&t.run_id, "b").await.unwrap();
    assert_eq!(a.claim_tasks("a", 60_000, 10).await.unwrap().len(), 1);
}

async fn the_next_lease_end_of_other_owners_is_known(h: Harness) {
    let a = h.open().await;
    assert_eq!(a.next_lease_end("b").await.unwrap(), None, "no task");
    for i in 1..=3 {
        a.save_task(&task(i)).await.unwrap();
    }
    assert_eq!(
        a.next_lease_end("b").await.unwrap(),
        None,
        "nobody holds one"
    );
    assert!(a
        .claim_task(&task(1).run_id, "a", 60_000)
        .await
        .unwrap()
        .is_some());
    assert!(a
        .claim_task(&task(2).run_id, "a", 2_000)
        .await
        .unwrap()
        .is_some());
    assert!(a
        .claim_task(&task(3).run_id, "b", 500)
        .await
        .unwrap()
        .is_some());
    let end = a.next_lease_end("b").await.unwrap().expect("a's leases");
    assert!(
        end > Duration::from_millis(1_000) && end <= Duration::from_millis(2_000),
        "the sooner of a's two leases: {end:?}"
    );
    assert_eq!(
        a.next_lease_end("a")
            .await
            .unwrap()
            .map(|d| d <= Duration::from_millis(500)),
        Some(true),
        "b's lease, not a's own"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        a.next_lease_end("a").await.unwrap(),
        Some(Duration::ZERO),
        "an ended lease: claim now"
    );
    // A released lease does not count.
    a.release_task(&task(3).run_id, "b").await.unwrap();
    assert_eq!(a.next_lease_end("a").await.unwrap(), None);
}

async fn an_owner_reclaims_its_own_tasks_at_once(h: Harness) {
    let a = h.open().await;
    a.save_task(&task(1)).await.unwrap();
    assert_eq!(a.claim_tasks("a", 60_000, 10).await.unwrap().len(), 1);
    // A restart with the same instance id does not wait for its own lease to run out.
    let restarted = h.open().await;
    let held = restarted.renew_leases("a", 60_000).await.unwrap();
    assert_eq!(held.len(), 1);
    assert!(restarted
        .claim_task(&held[0], "a", 60_000)
        .await
        .unwrap()
        .is_some());
    assert!(
        restarted
            .claim_tasks("a", 60_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "a claim of free tasks does not return the ones held"
    );
}

async fn finished_tasks_are_never_claimed(h: Harness) {
    let a = h.open().await;
    let mut t = task(1);
    t.apply(Event::PipelineFound, 2).unwrap();
    t.apply(Event::GateFailed, 3).unwrap();
    a.save_task(&t).await.unwrap();
    assert!(a.claim_tasks("a", 60_000, 10).await.unwrap().is_empty());
    assert!(a
        .claim_task(&t.run_id, "a", 60_000)
        .await
        .unwrap()
        .is_none());
    assert_eq!(a.lease_counts().await.unwrap(), LeaseCounts::default());
}

async fn the_check_names_the_backend_and_schema(h: Harness) {
    let a = h.open().await;
    let detail = a.check().await.unwrap();
    let expected = match &h {
        Harness::Embedded(_) => "SQLite",
        Harness::Postgres(_) => "PostgreSQL 1",
    };
    assert!(detail.contains(expected), "{detail}");
    assert!(detail.contains("schema "), "{detail}");
}

async fn learned_fixes_are_kept_once_and_recalled_newest_first(h: Harness) {
    let a = h.open().await;
    let sig = FailureSignature::new("test", FailureClass::TimeoutError, Some("took 1h"));
    let fix = |timeout: &str, at: u64| {
        let diff = format!(
            "--- a/.gitlab-ci.yml\n+++ b/.gitlab-ci.yml\n@@ -2,4 +2,5 @@\n test:\n   stage: test\n+  timeout: {timeout}\n   script:\n     - pytest\n"
        );
        LearnedFix::from_diff(&sig, "raise_timeout", "raise", &diff, "team/a", "r1", at)
            .expect("a fix from a diff")
    };
    let (older, newer) = (fix("2h", 1_000), fix("3h", 2_000));
    assert!(a.remember(&older).await.unwrap());
    assert!(a.remember(&newer).await.unwrap());
    assert!(
        !a.remember(&newer).await.unwrap(),
        "the same fix twice is one entry"
    );
    // Another handle (a second instance, a restart) recalls what the first learned.
    let b = h.open().await;
    let recalled = b
        .recall(FailureClass::TimeoutError, &sig.template, 5)
        .await
        .unwrap();
    assert_eq!(recalled, vec![newer.clone(), older]);
    assert_eq!(
        b.recall(FailureClass::TimeoutError, &sig.template, 1)
            .await
            .unwrap(),
        vec![newer]
    );
    let other = b
        .recall(FailureClass::BuildFailure, &sig.template, 5)
        .await
        .unwrap();
    assert!(other.is_empty(), "another class recalls nothing: {other:?}");
}

// ---------------------------------------------------------------- PostgreSQL only

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_starting_at_once_migrate_once() {
    let Some(server) = server_url("postgres_instances_starting_at_once_migrate_once") else {
        return;
    };
    let url = fresh_database(&server, "migrate_once").await;
    let opens = (0..6).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { PgRunStore::connect(&url).await.map(|_| ()) })
    });
    for joined in futures_util::future::join_all(opens).await {
        joined.unwrap().unwrap();
    }
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let versions: Vec<i32> = client
        .query(
            "SELECT version FROM pipewright_schema ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, vec![1, 2], "each version applied once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_newer_schema_is_refused_with_advice() {
    let Some(server) = server_url("postgres_a_newer_schema_is_refused_with_advice") else {
        return;
    };
    let url = fresh_database(&server, "newer_schema").await;
    PgRunStore::connect(&url).await.unwrap();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("INSERT INTO pipewright_schema (version) VALUES (99)")
        .await
        .unwrap();
    let err = PgRunStore::connect(&url).await.err().unwrap().to_string();
    assert!(err.contains("schema version is 99"), "{err}");
    assert!(err.contains("upgrade"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_unreachable_server_is_a_clear_error_without_the_password() {
    // A loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = PgRunStore::connect(&format!("postgres://pw:s3cret@127.0.0.1:{port}/runs"))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("PIPEWRIGHT_DATABASE_URL"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_missing_database_is_named_in_the_servers_words() {
    let Some(server) = server_url("postgres_a_missing_database_is_named_in_the_servers_words")
    else {
        return;
    };
    let (base, _) = server.rsplit_once('/').unwrap();
    let err = PgRunStore::connect(&format!("{base}/pw_no_such_database"))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("database \"pw_no_such_database\" does not exist"),
        "{err}"
    );
    assert!(err.contains("PIPEWRIGHT_DATABASE_URL"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_announcements_reach_every_listener() {
    use pipewright_adapters::runs::Wakeup;
    let Some(server) = server_url("postgres_announcements_reach_every_listener") else {
        return;
    };
    let url = fresh_database(&server, "announce").await;
    let a = PgRunStore::connect(&url).await.unwrap();
    let b = PgRunStore::connect(&url).await.unwrap();
    let mut heard = b.listen();
    // The listener connects in the background; announce until it hears.
    let wanted = Wakeup::Commit {
        project_id: 7,
        commit_id: "abc".into(),
    };
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            assert!(a.announce(7, "abc").await.unwrap());
            if let Ok(Some(w)) =
                tokio::time::timeout(Duration::from_millis(200), heard.recv()).await
            {
                break w;
            }
        }
    })
    .await
    .expect("a wake-up within 10 s");
    assert_eq!(got, wanted);
    // Tasks given up (an instance stopping): every listener is told to claim now.
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), heard.recv()).await {}
    assert!(a.announce_free().await.unwrap());
    let claim = tokio::time::timeout(Duration::from_secs(10), heard.recv())
        .await
        .expect("a claim notice within 10 s");
    assert_eq!(claim, Some(Wakeup::Claim));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_dropped_connection_is_retried() {
    let Some(server) = server_url("postgres_a_dropped_connection_is_retried") else {
        return;
    };
    let url = fresh_database(&server, "dropped").await;
    let store = PgRunStore::connect(&url).await.unwrap();
    store
        .save(&run(1, "a/x", RunStatus::Running))
        .await
        .unwrap();
    // The server ends every pipewright connection (as a failover or restart does).
    let (admin, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let db = url.rsplit('/').next().unwrap().to_string();
    let ended = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&db],
        )
        .await
        .unwrap();
    assert!(!ended.is_empty(), "the pool had a connection to end");
    let got = store
        .get(&run(1, "a/x", RunStatus::Running).id)
        .await
        .unwrap();
    assert!(got.is_some(), "read again on a fresh connection");
}
