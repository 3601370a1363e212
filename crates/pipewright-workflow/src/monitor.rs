//! The monitor: drives every [`MonitorTask`] from `waiting` to a final state, woken by GitLab
//! pipeline webhooks and by polling (whichever comes first), and learns the committed pair
//! when the quality gate passes.
//!
//! Each task runs on its own tokio task. One step reads GitLab (the commit's pipelines, the
//! pipeline, its jobs, failed jobs' logs) and decides; every decision is saved in the
//! [`MonitorStore`] **before** its side effect (write-ahead): a pass is saved with the learn
//! still pending, then the knowledge store is written, then the learn is marked done. A
//! restart resumes every unfinished task ([`Monitor::resume`]); a learn interrupted between
//! the write and the mark is recognised by the stored record's origin (this pipeline) and
//! not counted twice. A webhook only wakes a task: its payload's status is never trusted.
//! GitLab failures (5xx, 429, timeouts) keep the task and back off; only the deadline ends it.

use crate::heal::{self, ClassifiedJob, HealAbilities, HealPlan, RetryJob};
use pipewright_adapters::runs::now_ms;
use pipewright_core::gitlab::{GitLab, GitLabError, NewProjectHook, PipelineStatus, ProjectRef};
use pipewright_core::heal::{classify, parse_subject, FailureSignature, FixMemory, LearnedFix};
use pipewright_core::images::{ImageSettings, Registry};
use pipewright_core::knowledge::{Collection, KnowledgeStore, Origin, Record, StackKey};
use pipewright_core::llm::LlmProvider;
use pipewright_core::monitor::{
    on_failure_jobs, quality_gate, stage_order, trace_excerpt, AttemptFix, Event, FailedJob,
    GateInput, GateVerdict, Learning, MonitorStatus, MonitorStore, MonitorTask, MAX_FAILED_JOBS,
    TRACE_EXCERPT_BYTES,
};
use pipewright_core::runs::RunStoreError;
use pipewright_core::validate::ValidatorSettings;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};

/// The webhook route pipewright serves, appended to `PIPEWRIGHT_PUBLIC_URL`.
pub const WEBHOOK_PATH: &str = "/api/v1/webhooks/gitlab";
/// How much of a failed job's log is downloaded (the excerpt kept is smaller).
const TRACE_DOWNLOAD_BYTES: u64 = 64 * 1024;
/// How much of a failed job's log the language model is shown.
const LLM_LOG_BYTES: usize = 8 * 1024;
/// The longest wait between polls after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How the monitor runs (from the environment).
#[derive(Clone, PartialEq, Eq)]
pub struct MonitorConfig {
    /// `PIPEWRIGHT_POLL_INTERVAL` (seconds, fractions allowed; default 30).
    pub poll_interval: Duration,
    /// `PIPEWRIGHT_MONITOR_TIMEOUT` (seconds; default 900).
    pub timeout: Duration,
    /// `PIPEWRIGHT_PUBLIC_URL`: where GitLab reaches pipewright; the hook is registered only
    /// when set.
    pub public_url: Option<String>,
    /// `PIPEWRIGHT_WEBHOOK_SECRET`: sent by GitLab as `X-Gitlab-Token`.
    pub webhook_secret: Option<String>,
    /// `MAX_SELF_HEAL_ATTEMPTS`: fix commits per run (default 10); 0 turns self-heal off
    /// (a failed gate then ends `failed`).
    pub max_heal_attempts: u32,
    /// `PIPEWRIGHT_LEASE_SECONDS` (default 30): how long a task stays with an instance that
    /// stopped renewing; renewed every third of it.
    pub lease: Duration,
    /// `PIPEWRIGHT_INSTANCE_ID`: who holds leases. Default `embedded` (one instance per data
    /// folder, so a restart takes its tasks back at once); the service gives each instance on
    /// a shared database its own.
    pub instance_id: String,
}

impl std::fmt::Debug for MonitorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorConfig")
            .field("poll_interval", &self.poll_interval)
            .field("timeout", &self.timeout)
            .field("public_url", &self.public_url)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "***"),
            )
            .field("max_heal_attempts", &self.max_heal_attempts)
            .field("lease", &self.lease)
            .field("instance_id", &self.instance_id)
            .finish()
    }
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            poll_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(900),
            public_url: None,
            webhook_secret: None,
            max_heal_attempts: crate::heal::DEFAULT_MAX_SELF_HEAL_ATTEMPTS,
            lease: Duration::from_secs(30),
            instance_id: EMBEDDED_INSTANCE.to_string(),
        }
    }
}

/// The lease owner of the only instance on an embedded store.
pub const EMBEDDED_INSTANCE: &str = "embedded";
/// Most tasks one claim takes.
const CLAIM_BATCH: usize = 500;
/// How long after another instance's lease ends the keeper claims (and the least it waits).
const LEASE_END_MARGIN: Duration = Duration::from_millis(50);

impl MonitorConfig {
    /// Reads the variables through `lookup`; a bad number is an error naming the variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let seconds = |name: &str, default: f64| -> Result<Duration, String> {
            match lookup(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(Duration::from_secs_f64(default)),
                Some(text) => text
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v > 0.0 && *v <= 31_536_000.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| {
                        format!(
                            "{name} `{text}` is not a number of seconds above 0 (e.g. 30 or 0.5)"
                        )
                    }),
            }
        };
        let text = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let public_url = text("PIPEWRIGHT_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_string());
        if let Some(url) = &public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "PIPEWRIGHT_PUBLIC_URL `{url}` must start with http:// or https://"
                ));
            }
        }
        let max_heal_attempts = match text("MAX_SELF_HEAL_ATTEMPTS") {
            None => crate::heal::DEFAULT_MAX_SELF_HEAL_ATTEMPTS,
            Some(v) => v.parse::<u32>().ok().filter(|n| *n <= 100).ok_or_else(|| {
                format!("MAX_SELF_HEAL_ATTEMPTS `{v}` is not a whole number from 0 (off) to 100")
            })?,
        };
        let instance_id = match text("PIPEWRIGHT_INSTANCE_ID") {
            None => EMBEDDED_INSTANCE.to_string(),
            Some(id) if id.len() <= 200 && !id.chars().any(char::is_control) => id,
            Some(_) => {
                return Err(
                    "PIPEWRIGHT_INSTANCE_ID must be at most 200 printable characters".into(),
                )
            }
        };
        Ok(MonitorConfig {
            lease: seconds("PIPEWRIGHT_LEASE_SECONDS", 30.0)?,
            instance_id,
            max_heal_attempts,
            poll_interval: seconds("PIPEWRIGHT_POLL_INTERVAL", 30.0)?,
            timeout: seconds("PIPEWRIGHT_MONITOR_TIMEOUT", 900.0)?,
            public_url,
            webhook_secret: text("PIPEWRIGHT_WEBHOOK_SECRET"),
        })
    }
}

/// A change of a task, for `GET /runs/{id}/events`.
#[derive(Debug, Clone)]
pub struct MonitorUpdate {
    pub run_id: String,
    /// The task's `monitor` object as it is now.
    pub monitor: serde_json::Value,
    pub is_final: bool,
}

/// What learning a pair did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnOutcome {
    pub template_id: String,
    /// False when this pipeline had already been counted.
    pub counted: bool,
    pub success_count: u32,
}

/// Why a step could not finish (the task stays and is tried again later).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    GitLab(#[from] GitLabError),
    #[error(transparent)]
    Store(#[from] RunStoreError),
    /// Another instance took the task over (this one's lease ran out): stop driving it.
    #[error("the task's lease was lost to another instance")]
    LeaseLost,
}

/// What self-heal may use beyond GitLab: a language model for failures no deterministic fix
/// covers, and the team's registry to seed missing images into.
#[derive(Clone, Default)]
pub struct HealTools {
    /// The model and its temperature.
    pub llm: Option<(Arc<dyn LlmProvider>, f32)>,
    /// The registry and how the files name it.
    pub images: Option<(Arc<dyn Registry>, ImageSettings)>,
    /// Where fixes that worked are kept and found again.
    pub memory: Option<Arc<dyn FixMemory>>,
}

struct Inner {
    gitlab: Arc<dyn GitLab>,
    tools: HealTools,
    tasks: Arc<dyn MonitorStore>,
    knowledge: Result<Arc<dyn KnowledgeStore>, String>,
    config: MonitorConfig,
    /// Running drivers: run id → its wake-up.
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
    /// Running drivers: run id → set when the lease was lost (the driver stops).
    lost: Mutex<HashMap<String, Arc<AtomicBool>>>,
    /// The lease keeper runs (started by the first `resume`).
    keeping: AtomicBool,
    /// Wakes the lease keeper for a claim round now (another instance gave tasks up).
    claim_now: Notify,
    /// Set by `release_all`: this instance is stopping and claims nothing more.
    stopping: AtomicBool,
    /// (project id, commit) → run id, for webhooks.
    by_commit: Mutex<HashMap<(u64, String), String>>,
    /// Projects whose hook was checked in this process.
    hooked: tokio::sync::Mutex<HashSet<u64>>,
    /// One learn at a time, so the learn route and a task never count one pipeline twice.
    learning: tokio::sync::Mutex<()>,
    events: broadcast::Sender<MonitorUpdate>,
}

/// The monitor; cheap to clone.
#[derive(Clone)]
pub struct Monitor(Arc<Inner>);

impl Monitor {
    pub fn new(
        gitlab: Arc<dyn GitLab>,
        tasks: Arc<dyn MonitorStore>,
        knowledge: Result<Arc<dyn KnowledgeStore>, String>,
        config: MonitorConfig,
    ) -> Self {
        Self::with_tools(gitlab, tasks, knowledge, config, HealTools::default())
    }

    /// A monitor whose self-heal may also ask a model and seed images.
    pub fn with_tools(
        gitlab: Arc<dyn GitLab>,
        tasks: Arc<dyn MonitorStore>,
        knowledge: Result<Arc<dyn KnowledgeStore>, String>,
        config: MonitorConfig,
        tools: HealTools,
    ) -> Self {
        let (events, _) = broadcast::channel(1024);
        Monitor(Arc::new(Inner {
            gitlab,
            tools,
            tasks,
            knowledge,
            config,
            wakers: Mutex::new(HashMap::new()),
            lost: Mutex::new(HashMap::new()),
            keeping: AtomicBool::new(false),
            claim_now: Notify::new(),
            stopping: AtomicBool::new(false),
            by_commit: Mutex::new(HashMap::new()),
            hooked: tokio::sync::Mutex::new(HashSet::new()),
            learning: tokio::sync::Mutex::new(()),
            events,
        }))
    }

    pub fn config(&self) -> &MonitorConfig {
        &self.0.config
    }

    pub fn store(&self) -> &dyn MonitorStore {
        self.0.tasks.as_ref()
    }

    /// Every task change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<MonitorUpdate> {
        self.0.events.subscribe()
    }

    /// Saves a new task for a commit (before anything is waited on), then drives it.
    #[allow(clippy::too_many_arguments)]
    pub async fn watch(
        &self,
        run_id: &str,
        project_id: u64,
        project_path: &str,
        branch: &str,
        commit_id: &str,
        stack: Option<StackKey>,
        files: BTreeMap<String, String>,
    ) -> Result<MonitorTask, RunStoreError> {
        let task = MonitorTask::new(
            run_id.to_string(),
            project_id,
            project_path.to_string(),
            branch.to_string(),
            commit_id.to_string(),
            stack,
            files,
            now_ms(),
            self.0.config.timeout.as_millis() as u64,
        );
        self.0.tasks.save_task(&task).await?;
        self.publish(&task);
        let lease = self.lease_ms();
        // A stopping instance leaves the new task to the others.
        if !self.0.stopping.load(Ordering::SeqCst) {
            if let Some(claimed) = self.0.tasks.claim_task(run_id, self.owner(), lease).await? {
                self.spawn(claimed);
            }
        }
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.ensure_hook(project_id).await {
                tracing::warn!(project_id, error = %e, "the pipeline webhook could not be registered; polling goes on");
            }
        });
        Ok(task)
    }

    /// Resumes the tasks this instance still holds (a restart with the same instance id) and
    /// claims the ones nobody holds, then keeps leases: renews this instance's every third of
    /// the lease, stops drivers whose lease another instance took, and claims tasks whose
    /// lease ran out (an instance died). Returns how many tasks it resumed now.
    pub async fn resume(&self) -> Result<usize, RunStoreError> {
        let n = self.claim_round(true).await?;
        if !self.0.keeping.swap(true, Ordering::SeqCst) {
            let me = self.clone();
            tokio::spawn(async move { me.keep_leases().await });
        }
        Ok(n)
    }

    /// Gives up every lease this instance holds (a graceful stop) and tells the other
    /// instances, so they take the tasks over at once instead of when the leases run out;
    /// from then on this instance claims nothing. Returns how many.
    pub async fn release_all(&self) -> usize {
        self.0.stopping.store(true, Ordering::SeqCst);
        let driving: Vec<String> = self
            .0
            .lost
            .lock()
            .map(|l| l.keys().cloned().collect())
            .unwrap_or_default();
        let mut released = 0;
        for run_id in driving {
            self.mark_lost(&run_id);
            match self.0.tasks.release_task(&run_id, self.owner()).await {
                Ok(()) => released += 1,
                Err(e) => {
                    tracing::warn!(%run_id, error = %e, "a lease could not be released; it runs out")
                }
            }
        }
        if released > 0 {
            if let Err(e) = self.0.tasks.announce_free().await {
                tracing::warn!(error = %e, "the other instances could not be told; they claim the tasks at their next lease round");
            }
        }
        released
    }

    fn owner(&self) -> &str {
        &self.0.config.instance_id
    }

    fn lease_ms(&self) -> u64 {
        (self.0.config.lease.as_millis() as u64).max(1)
    }

    /// Renews the leases held, stops the drivers that lost theirs, claims free tasks; with
    /// `own`, also takes back the tasks this owner holds but drives no more (a restart).
    async fn claim_round(&self, own: bool) -> Result<usize, RunStoreError> {
        if self.0.stopping.load(Ordering::SeqCst) {
            return Ok(0);
        }
        let lease = self.lease_ms();
        let driving: Vec<String> = self
            .0
            .lost
            .lock()
            .map(|l| l.keys().cloned().collect())
            .unwrap_or_default();
        let held: HashSet<String> = self
            .0
            .tasks
            .renew_leases(self.owner(), lease)
            .await?
            .into_iter()
            .collect();
        for run_id in driving.iter().filter(|id| !held.contains(*id)) {
            self.mark_lost(run_id);
        }
        let mut n = 0;
        if own {
            for run_id in held.iter().filter(|id| !driving.contains(id)) {
                if let Some(task) = self.0.tasks.claim_task(run_id, self.owner(), lease).await? {
                    self.spawn(task);
                    n += 1;
                }
            }
        }
        loop {
            let claimed = self
                .0
                .tasks
                .claim_tasks(self.owner(), lease, CLAIM_BATCH)
                .await?;
            let full = claimed.len() == CLAIM_BATCH;
            n += claimed.len();
            for task in claimed {
                tracing::info!(run_id = %task.run_id, instance = %self.owner(), "monitor task claimed");
                self.spawn(task);
            }
            if !full {
                return Ok(n);
            }
        }
    }

    fn mark_lost(&self, run_id: &str) {
        let flag = self.0.lost.lock().ok().and_then(|l| l.get(run_id).cloned());
        if let Some(flag) = flag {
            if !flag.swap(true, Ordering::SeqCst) {
                tracing::info!(%run_id, "another instance took this task over; stopping here");
            }
            let waker = self
                .0
                .wakers
                .lock()
                .ok()
                .and_then(|w| w.get(run_id).cloned());
            if let Some(waker) = waker {
                waker.notify_one();
            }
        }
    }

    /// Every third of the lease a claim round, or sooner: when another instance's lease runs
    /// out before then (it died: its tasks move on as its leases end, not up to a third of
    /// a lease later), or when one gave its tasks up.
    async fn keep_leases(&self) {
        let every = (self.0.config.lease / 3).max(Duration::from_millis(50));
        loop {
            let wait = match self.0.tasks.next_lease_end(self.owner()).await {
                // Just past the end (claims take leases that ended before now), never a busy
                // loop.
                Ok(Some(end)) => (end + LEASE_END_MARGIN).clamp(LEASE_END_MARGIN, every),
                Ok(None) => every,
                Err(e) => {
                    tracing::warn!(error = %e, "the next lease end could not be read");
                    every
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.0.claim_now.notified() => {}
            }
            if self.0.stopping.load(Ordering::SeqCst) {
                return;
            }
            if let Err(e) = self.claim_round(false).await {
                tracing::warn!(error = %e, "monitor leases could not be renewed or claimed; trying again");
            }
        }
    }

    /// Checks (and extends) this instance's lease before a side effect another instance
    /// must not repeat.
    async fn hold(&self, task: &MonitorTask) -> Result<(), StepError> {
        if self
            .0
            .tasks
            .renew_lease(&task.run_id, self.owner(), self.lease_ms())
            .await?
        {
            Ok(())
        } else {
            Err(StepError::LeaseLost)
        }
    }

    /// Wake-ups announced by other instances (`PgRunStore::listen`): wakes the task of that
    /// commit when this instance drives it; `Claim` (an instance gave its tasks up) runs a
    /// claim round now; `All` (announcements may have been missed) does both for every task.
    pub fn listen(
        &self,
        mut wakeups: tokio::sync::mpsc::Receiver<pipewright_adapters::runs::Wakeup>,
    ) {
        use pipewright_adapters::runs::Wakeup;
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(wakeup) = wakeups.recv().await {
                match wakeup {
                    Wakeup::Commit {
                        project_id,
                        commit_id,
                    } => {
                        me.wake_for(project_id, &commit_id);
                    }
                    Wakeup::Claim => me.0.claim_now.notify_one(),
                    Wakeup::All => {
                        me.0.claim_now.notify_one();
                        let all: Vec<Arc<Notify>> =
                            me.0.wakers
                                .lock()
                                .map(|w| w.values().cloned().collect())
                                .unwrap_or_default();
                        for waker in all {
                            waker.notify_one();
                        }
                    }
                }
            }
        });
    }

    /// A webhook for a pipeline of this commit: wakes the task here when this instance
    /// drives it, else, when an unfinished task watches the commit, tells the other
    /// instances sharing the store (the holder wakes it; nobody holds it: the next claim
    /// reads GitLab anyway). True when a task was woken or the others were told.
    pub async fn deliver(&self, project_id: u64, commit_id: &str) -> Result<bool, RunStoreError> {
        if self.wake_for(project_id, commit_id) {
            return Ok(true);
        }
        let watched = self
            .0
            .tasks
            .task_for_commit(project_id, commit_id)
            .await?
            .is_some_and(|t| t.is_unfinished());
        if !watched {
            return Ok(false);
        }
        self.0.tasks.announce(project_id, commit_id).await
    }

    /// A pipeline event arrived: wakes the task of that commit. False when no running task
    /// watches it (the event is then ignored).
    pub fn wake_for(&self, project_id: u64, commit_id: &str) -> bool {
        let run_id = self
            .0
            .by_commit
            .lock()
            .ok()
            .and_then(|m| m.get(&(project_id, commit_id.to_string())).cloned());
        let Some(run_id) = run_id else {
            return false;
        };
        let waker = self
            .0
            .wakers
            .lock()
            .ok()
            .and_then(|w| w.get(&run_id).cloned());
        match waker {
            Some(n) => {
                n.notify_one();
                true
            }
            None => false,
        }
    }

    /// How many tasks are being driven now.
    pub fn active(&self) -> usize {
        self.0.wakers.lock().map(|w| w.len()).unwrap_or(0)
    }

    /// Registers pipewright's pipeline webhook on the project once (when
    /// `PIPEWRIGHT_PUBLIC_URL` is set): an existing hook with the same URL is kept.
    pub async fn ensure_hook(&self, project_id: u64) -> Result<bool, GitLabError> {
        let Some(base) = &self.0.config.public_url else {
            return Ok(false);
        };
        let mut hooked = self.0.hooked.lock().await;
        if hooked.contains(&project_id) {
            return Ok(false);
        }
        let url = format!("{base}{WEBHOOK_PATH}");
        let project = ProjectRef::Id(project_id);
        let existing = self.0.gitlab.project_hooks(&project).await?;
        let created = if existing.iter().any(|h| h.url == url && h.pipeline_events) {
            false
        } else {
            self.0
                .gitlab
                .create_project_hook(
                    &project,
                    &NewProjectHook {
                        url,
                        token: self.0.config.webhook_secret.clone().unwrap_or_default(),
                        pipeline_events: true,
                        push_events: false,
                        enable_ssl_verification: true,
                    },
                )
                .await?;
            true
        };
        hooked.insert(project_id);
        Ok(created)
    }

    /// Stores a pair that went green, once per pipeline: a second pipeline with the same
    /// pair raises the count, the same pipeline again (a restart, the learn route and the
    /// monitor both) does not.
    pub async fn learn_pair(
        &self,
        stack: StackKey,
        gitlab_ci: String,
        dockerfile: String,
        project: &str,
        pipeline_id: u64,
    ) -> Result<LearnOutcome, String> {
        let store = self.0.knowledge.as_ref().map_err(|r| r.clone())?;
        let _one = self.0.learning.lock().await;
        let now = (now_ms() / 1000) as i64;
        let origin = Origin {
            project: Some(project.to_string()),
            pipeline: Some(pipeline_id.to_string()),
        };
        let record = Record::learned(stack, gitlab_ci, dockerfile, origin.clone(), now);
        let existing = store
            .get(Collection::Successful, &record.id)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(found) = existing.filter(|r| r.origin == origin) {
            return Ok(LearnOutcome {
                template_id: found.id,
                counted: false,
                success_count: found.success_count,
            });
        }
        let learned = store.learn(record).await.map_err(|e| e.to_string())?;
        Ok(LearnOutcome {
            template_id: learned.record.id,
            counted: true,
            success_count: learned.record.success_count,
        })
    }

    /// Reads a pipeline's jobs (all pages, latest attempt of each) and runs the gate.
    pub async fn gate(
        &self,
        project: &ProjectRef,
        pipeline_id: u64,
        gitlab_ci: Option<&str>,
        caller: Option<String>,
    ) -> Result<GateVerdict, GitLabError> {
        let jobs = self
            .0
            .gitlab
            .pipeline_jobs(project, pipeline_id, false)
            .await?;
        let mut input = GateInput::new(&jobs);
        input.on_failure_jobs = gitlab_ci.map(on_failure_jobs).unwrap_or_default();
        input.caller = caller;
        Ok(quality_gate(&input))
    }

    pub fn gitlab(&self) -> &dyn GitLab {
        self.0.gitlab.as_ref()
    }

    fn publish(&self, task: &MonitorTask) {
        // No subscriber is not an error.
        let _ = self.0.events.send(MonitorUpdate {
            run_id: task.run_id.clone(),
            monitor: task.to_json(),
            is_final: !task.is_unfinished(),
        });
    }

    /// Saves `next` and, once saved, makes it the task (write-ahead: callers act after).
    async fn commit(&self, task: &mut MonitorTask, next: MonitorTask) -> Result<(), StepError> {
        if !self.0.tasks.save_task(&next).await? {
            // Another instance saved this version first: it drives the task now.
            return Err(StepError::LeaseLost);
        }
        *task = next;
        self.publish(task);
        Ok(())
    }

    fn spawn(&self, task: MonitorTask) {
        let notify = Arc::new(Notify::new());
        if let Ok(mut w) = self.0.wakers.lock() {
            if w.contains_key(&task.run_id) {
                return;
            }
            w.insert(task.run_id.clone(), notify.clone());
        }
        let lost = Arc::new(AtomicBool::new(false));
        if let Ok(mut l) = self.0.lost.lock() {
            l.insert(task.run_id.clone(), lost.clone());
        }
        if let Ok(mut m) = self.0.by_commit.lock() {
            m.insert(
                (task.project_id, task.commit_id.clone()),
                task.run_id.clone(),
            );
        }
        let me = self.clone();
        tokio::spawn(async move {
            let run_id = task.run_id.clone();
            let key = (task.project_id, task.commit_id.clone());
            me.drive(task, notify, &lost).await;
            if let Ok(mut w) = me.0.wakers.lock() {
                w.remove(&run_id);
            }
            if let Ok(mut l) = me.0.lost.lock() {
                l.remove(&run_id);
            }
            if let Ok(mut m) = me.0.by_commit.lock() {
                m.remove(&key);
            }
        });
    }

    async fn drive(&self, mut task: MonitorTask, notify: Arc<Notify>, lost: &AtomicBool) {
        let poll = self.0.config.poll_interval;
        let mut failures: u32 = 0;
        while task.is_unfinished() {
            if lost.load(Ordering::SeqCst) {
                return;
            }
            if self.0.stopping.load(Ordering::SeqCst) {
                // Claimed while `release_all` ran: given up too.
                if let Err(e) = self.0.tasks.release_task(&task.run_id, self.owner()).await {
                    tracing::warn!(run_id = %task.run_id, error = %e, "a lease could not be released; it runs out");
                }
                return;
            }
            let mut wait = poll;
            match self.step(&mut task).await {
                Ok(()) => failures = 0,
                Err(StepError::LeaseLost) => {
                    tracing::info!(run_id = %task.run_id, "another instance drives this task now; stopping here");
                    return;
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let backoff = poll
                        .saturating_mul(1u32 << failures.min(10))
                        .min(MAX_BACKOFF.max(poll));
                    wait = match &e {
                        StepError::GitLab(GitLabError::RateLimited {
                            retry_after: Some(after),
                            ..
                        }) => backoff.max(*after),
                        _ => backoff,
                    };
                    tracing::warn!(run_id = %task.run_id, failures, error = %e, wait_ms = wait.as_millis() as u64, "monitor step failed; trying again later");
                }
            }
            if !task.is_unfinished() {
                break;
            }
            if !task.status.is_final() {
                let left = task.deadline_ms.saturating_sub(now_ms());
                wait = wait.min(Duration::from_millis(left.max(1)));
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = notify.notified() => {}
            }
        }
        tracing::info!(run_id = %task.run_id, status = task.status.as_str(), "monitor task finished");
        if let Err(e) = self.0.tasks.release_task(&task.run_id, self.owner()).await {
            tracing::warn!(run_id = %task.run_id, error = %e, "the finished task's lease could not be released; it runs out");
        }
    }

    /// One look at GitLab, and the decision it allows.
    async fn step(&self, task: &mut MonitorTask) -> Result<(), StepError> {
        if task.learning == Learning::Pending {
            return self.finish_learning(task).await;
        }
        let now = now_ms();
        if now >= task.deadline_ms {
            let mut next = task.clone();
            if next.apply(Event::DeadlineExceeded, now).is_ok() {
                self.commit(task, next).await?;
            }
            return Ok(());
        }
        let project = ProjectRef::Id(task.project_id);
        if task.status == MonitorStatus::Healing && task.heal_pending.is_some() {
            return self.finish_heal_commit(task).await;
        }
        if matches!(task.status, MonitorStatus::Waiting | MonitorStatus::Healing) {
            let event = if task.status == MonitorStatus::Waiting {
                Event::PipelineFound
            } else {
                Event::HealPipelineFound
            };
            let pipelines = self
                .0
                .gitlab
                .pipelines_for_sha(&project, &task.commit_id, Some(&task.branch))
                .await?;
            let Some(found) = pipelines.into_iter().max_by_key(|p| p.id) else {
                return Ok(());
            };
            let mut next = task.clone();
            let attempt = next.current_mut();
            attempt.pipeline_id = Some(found.id);
            attempt.pipeline_url = Some(found.web_url.clone());
            attempt.pipeline_status = Some(found.status.to_string());
            if next.apply(event, now).is_ok() {
                self.commit(task, next).await?;
            }
        }
        if task.status != MonitorStatus::Running {
            return Ok(());
        }
        let Some(pipeline_id) = task.current().pipeline_id else {
            return Ok(());
        };
        let pipeline = self.0.gitlab.pipeline(&project, pipeline_id).await?;
        let status = pipeline.status.to_string();
        if task.current().pipeline_status.as_deref() != Some(status.as_str()) {
            let mut next = task.clone();
            next.current_mut().pipeline_status = Some(status);
            next.touch(now_ms());
            self.commit(task, next).await?;
        }
        if !pipeline.status.is_terminal() {
            return Ok(());
        }
        if pipeline.status == PipelineStatus::Canceled {
            let mut next = task.clone();
            if next.apply(Event::PipelineCanceled, now_ms()).is_ok() {
                self.commit(task, next).await?;
            }
            return Ok(());
        }
        let verdict = self
            .gate(
                &project,
                pipeline_id,
                task.files.get(".gitlab-ci.yml").map(String::as_str),
                None,
            )
            .await?;
        // A retried job may still be starting while GitLab reports the pipeline as finished;
        // a manual or scheduled job waits for a person, so it blocks the gate instead.
        if verdict
            .blocking
            .iter()
            .any(|j| !j.status.is_terminal() && !j.status.is_blocked())
        {
            return Ok(());
        }
        let mut next = task.clone();
        if verdict.passed {
            // Saved with the learn pending before the knowledge store is written.
            if next.apply(Event::GatePassed, now_ms()).is_ok() {
                self.commit(task, next).await?;
                return self.finish_learning(task).await;
            }
            return Ok(());
        }
        let mut classified = Vec::new();
        for job in verdict.blocking.iter().take(MAX_FAILED_JOBS) {
            let (excerpt, tail, classification) = if job.status == PipelineStatus::Failed {
                let log = match self
                    .0
                    .gitlab
                    .job_trace(&project, job.id, TRACE_DOWNLOAD_BYTES)
                    .await
                {
                    Ok(trace) => trace.text,
                    Err(GitLabError::NotFound { .. }) => String::new(),
                    Err(e) => return Err(e.into()),
                };
                (
                    trace_excerpt(&log, TRACE_EXCERPT_BYTES),
                    trace_excerpt(&log, LLM_LOG_BYTES),
                    Some(classify(
                        log.as_bytes(),
                        job.failure_reason.as_deref(),
                        None,
                    )),
                )
            } else {
                (String::new(), String::new(), None)
            };
            let failed = FailedJob {
                name: job.name.clone(),
                stage: job.stage.clone(),
                status: job.status.to_string(),
                failure_reason: job.failure_reason.clone(),
                trace_excerpt: excerpt,
                class: classification
                    .as_ref()
                    .map(|c| c.class.as_str().to_string()),
                evidence: classification.as_ref().and_then(|c| c.evidence.clone()),
                line: classification.as_ref().and_then(|c| c.line),
            };
            classified.push((job.id, failed, tail, classification));
        }
        next.current_mut().failed_jobs = classified.iter().map(|(_, j, _, _)| j.clone()).collect();
        let max = self.0.config.max_heal_attempts;
        let any_failed = classified.iter().any(|(_, _, _, c)| c.is_some());
        if max == 0 || !any_failed {
            if next.apply(Event::GateFailed, now_ms()).is_ok() {
                self.commit(task, next).await?;
            }
            return Ok(());
        }
        let jobs: Vec<ClassifiedJob> = classified
            .into_iter()
            .filter_map(|(job_id, job, log_tail, c)| {
                c.map(|classification| ClassifiedJob {
                    job_id,
                    job,
                    classification,
                    log_tail,
                })
            })
            .collect();
        self.heal(task, next, &project, &jobs).await
    }

    /// A failed gate with failed jobs: judge the last fix, plan, and act (write-ahead).
    async fn heal(
        &self,
        task: &mut MonitorTask,
        mut next: MonitorTask,
        project: &ProjectRef,
        jobs: &[ClassifiedJob],
    ) -> Result<(), StepError> {
        let stages = stage_order(next.files.get(".gitlab-ci.yml").map(String::as_str));
        heal::judge_previous_fix(&mut next, &stages);
        let head = self
            .0
            .gitlab
            .branch(project, &next.branch)
            .await?
            .map(|b| b.commit.id)
            .unwrap_or_else(|| next.commit_id.clone());
        let settings = ValidatorSettings::default();
        let abilities = HealAbilities {
            seed_images: self.0.tools.images.is_some(),
            llm: self.0.tools.llm.is_some(),
        };
        let learned = self.recall(jobs).await;
        let mut plan = heal::plan(
            &mut next,
            jobs,
            self.0.config.max_heal_attempts,
            &settings,
            &head,
            abilities,
            &learned,
        );
        if let HealPlan::AskLlm {
            job,
            signature,
            reason,
        } = &plan
        {
            plan = match &self.0.tools.llm {
                Some((llm, temperature)) => {
                    heal::llm_fix(
                        llm.as_ref(),
                        *temperature,
                        &next,
                        job,
                        signature,
                        reason,
                        &settings,
                        &head,
                    )
                    .await
                }
                None => HealPlan::Exhausted(format!(
                    "`{}` ({}): no deterministic fix and no LLM configured ({reason})",
                    job.job.name, signature.class
                )),
            };
        }
        if let HealPlan::SeedImage {
            image,
            jobs,
            signature,
        } = &plan
        {
            plan = self.seed_for_heal(&next, image, jobs, signature).await;
        }
        // A patched pipeline goes through GitLab's CI Lint too, as the workflow's commit does.
        if let HealPlan::Commit(intent) = &plan {
            if let Some(ci) = intent.files.get(".gitlab-ci.yml") {
                let lint = self.0.gitlab.lint(project, ci).await?;
                if !lint.valid {
                    plan = HealPlan::Exhausted(format!(
                        "the `{}` fix for `{}` failed GitLab's CI Lint: {}",
                        intent.strategy,
                        intent.signature.job,
                        lint.errors.join("; ")
                    ));
                }
            }
        }
        let now = now_ms();
        match plan {
            HealPlan::NeedsCodeFix(note) => {
                next.heal_note = Some(note);
                next.apply(Event::CodeFixNeeded, now).ok();
                self.commit(task, next).await
            }
            HealPlan::Exhausted(note) => {
                next.heal_note = Some(note);
                next.apply(Event::HealExhausted, now).ok();
                self.commit(task, next).await
            }
            HealPlan::Retry {
                jobs,
                signatures,
                summary,
            } => {
                self.retry_jobs(task, next, project, &jobs, &signatures, "retry", summary)
                    .await
            }
            HealPlan::SeedImage { .. } | HealPlan::AskLlm { .. } => {
                // Both were turned into a retry, a commit or a stop above.
                Ok(())
            }
            HealPlan::Commit(intent) => {
                if next.apply(Event::HealStarted, now).is_err() {
                    return Ok(());
                }
                next.heal_pending = Some(*intent);
                // Saved before the commit is sent: a restart finishes it without a second one.
                self.commit(task, next).await?;
                self.finish_heal_commit(task).await
            }
        }
    }

    /// The fixes that worked before for each failed job's signature (none without a memory;
    /// a memory that cannot be read is logged and skipped: healing goes on without it).
    async fn recall(&self, jobs: &[ClassifiedJob]) -> BTreeMap<FailureSignature, Vec<LearnedFix>> {
        let mut out = BTreeMap::new();
        let Some(memory) = &self.0.tools.memory else {
            return out;
        };
        for job in jobs {
            let sig = FailureSignature::new(
                &job.job.name,
                job.classification.class,
                job.classification.evidence.as_deref(),
            );
            if out.contains_key(&sig) {
                continue;
            }
            match memory.recall(sig.class, &sig.template, 5).await {
                Ok(fixes) if !fixes.is_empty() => {
                    out.insert(sig, fixes);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "learned fixes could not be read; healing without them")
                }
            }
        }
        out
    }

    /// Seeds the pipeline's images (the missing `image` among them) into the team's registry;
    /// the plan becomes a retry of the jobs when it is there afterwards.
    async fn seed_for_heal(
        &self,
        task: &MonitorTask,
        image: &str,
        jobs: &[RetryJob],
        signature: &pipewright_core::heal::FailureSignature,
    ) -> HealPlan {
        let Some((registry, settings)) = &self.0.tools.images else {
            return HealPlan::Exhausted(format!(
                "image `{image}` is missing and no registry is configured to seed it into"
            ));
        };
        let plan = crate::images::plan_files(&task.files, settings);
        let options = crate::images::SeedOptions {
            seed: true,
            ..Default::default()
        };
        let report = crate::images::seed_images(registry.as_ref(), &plan, &options).await;
        if !report.all_present() {
            return HealPlan::Exhausted(format!(
                "image `{image}` is missing and seeding the registry did not help: {}",
                report.failures().join("; ")
            ));
        }
        let copied: Vec<&str> = report
            .images
            .iter()
            .filter(|i| i.copied)
            .map(|i| i.target.as_str())
            .collect();
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        HealPlan::Retry {
            jobs: jobs.to_vec(),
            signatures: vec![signature.clone()],
            summary: format!(
                "seeded {} into the registry and retried {} unchanged",
                if copied.is_empty() {
                    image.to_string()
                } else {
                    copied.join(", ")
                },
                names.join(", ")
            ),
        }
    }

    /// Retries `jobs` unchanged in their pipeline (no commit): saved first as a new attempt
    /// on the same commit whose `fix` names the retry, then sent. The retry budget per
    /// signature is the guard's.
    #[allow(clippy::too_many_arguments)]
    async fn retry_jobs(
        &self,
        task: &mut MonitorTask,
        mut next: MonitorTask,
        project: &ProjectRef,
        jobs: &[RetryJob],
        signatures: &[pipewright_core::heal::FailureSignature],
        strategy: &str,
        summary: String,
    ) -> Result<(), StepError> {
        let now = now_ms();
        if next.apply(Event::HealStarted, now).is_err() {
            return Ok(());
        }
        if let Some(guard) = next.heal_guard.as_mut() {
            for sig in signatures {
                guard.record_retry(sig);
            }
        }
        let strategy = if summary.starts_with("seeded") {
            "seed_image"
        } else {
            strategy
        };
        let commit_id = next.commit_id.clone();
        let pipeline = next.current().pipeline_id;
        next.push_attempt(
            commit_id,
            Some(AttemptFix {
                strategy: strategy.to_string(),
                summary,
                diff: String::new(),
                commit_id: None,
                signature: signatures.first().cloned(),
            }),
            now,
        );
        next.current_mut().pipeline_id = pipeline;
        next.deadline_ms = now.saturating_add(self.0.config.timeout.as_millis() as u64);
        self.commit(task, next).await?;
        for job in jobs {
            match self.0.gitlab.retry_job(project, job.job_id).await {
                Ok(new) => {
                    tracing::info!(run_id = %task.run_id, job = %job.name, new_job = new.id, "job retried unchanged")
                }
                // Refused (already retried, not retryable): the next look at the pipeline
                // sees the failure again and spends the budget.
                Err(e) => {
                    tracing::warn!(run_id = %task.run_id, job = %job.name, error = %e, "the job could not be retried")
                }
            }
        }
        Ok(())
    }

    /// Sends the saved fix commit, unless the branch already has it (a crash after the
    /// commit and before the save), then starts the next attempt.
    async fn finish_heal_commit(&self, task: &mut MonitorTask) -> Result<(), StepError> {
        let Some(intent) = task.heal_pending.clone() else {
            return Ok(());
        };
        let project = ProjectRef::Id(task.project_id);
        let max = task
            .heal_guard
            .as_ref()
            .map(|g| g.max_attempts)
            .unwrap_or(self.0.config.max_heal_attempts);
        let existing = self
            .0
            .gitlab
            .branch(&project, &task.branch)
            .await?
            .filter(|b| b.commit.id != intent.parent_sha)
            .filter(|b| {
                b.commit.title.as_deref().and_then(parse_subject)
                    == Some((intent.attempt, max, intent.signature.class))
            })
            .map(|b| b.commit.id);
        let commit_id = match existing {
            Some(id) => {
                tracing::info!(run_id = %task.run_id, attempt = intent.attempt, commit = %id, "the fix commit is already on the branch; not committing again");
                id
            }
            None => {
                // The one side effect another instance must not repeat: only the lease
                // holder sends it.
                self.hold(task).await?;
                let files: Vec<(String, String)> = intent
                    .files
                    .iter()
                    .map(|(p, t)| (p.clone(), t.clone()))
                    .collect();
                self.0
                    .gitlab
                    .commit_files(&project, &task.branch, None, &intent.message, &files)
                    .await?
                    .id
            }
        };
        let now = now_ms();
        let mut next = task.clone();
        for (path, text) in &intent.files {
            next.files.insert(path.clone(), text.clone());
        }
        if let Some(guard) = next.heal_guard.as_mut() {
            guard.record_commit(&intent.signature, &intent.strategy, &intent.state);
        }
        next.heal_target = Some(intent.signature.clone());
        next.heal_pending = None;
        next.push_attempt(
            commit_id.clone(),
            Some(heal::attempt_fix(&intent, &commit_id)),
            now,
        );
        next.deadline_ms = now.saturating_add(self.0.config.timeout.as_millis() as u64);
        self.commit(task, next).await?;
        if let Ok(mut m) = self.0.by_commit.lock() {
            m.insert((task.project_id, commit_id), task.run_id.clone());
        }
        Ok(())
    }

    /// Keeps the fixes that led to this green pipeline (the same fix twice is one entry, so a
    /// restart that learns again changes nothing).
    async fn remember_fixes(&self, task: &MonitorTask) {
        let Some(memory) = &self.0.tools.memory else {
            return;
        };
        for fix in heal::fixes_that_worked(task, now_ms()) {
            if let Err(e) = memory.remember(&fix).await {
                tracing::warn!(run_id = %task.run_id, error = %e, "a fix that worked could not be kept");
            }
        }
    }

    async fn finish_learning(&self, task: &mut MonitorTask) -> Result<(), StepError> {
        let mut next = task.clone();
        next.learning = match task.learnable_pair() {
            Err(reason) => Learning::Skipped { reason },
            Ok((stack, ci, dockerfile)) => {
                let pipeline_id = task.current().pipeline_id.unwrap_or(0);
                match self
                    .learn_pair(stack, ci, dockerfile, &task.project_path, pipeline_id)
                    .await
                {
                    Ok(outcome) => {
                        self.remember_fixes(task).await;
                        Learning::Done {
                            template_id: outcome.template_id,
                        }
                    }
                    Err(reason) if self.0.knowledge.is_err() => Learning::Skipped {
                        reason: format!("the knowledge store is not available: {reason}"),
                    },
                    Err(reason) => {
                        tracing::warn!(run_id = %task.run_id, %reason, "learning failed; trying again later");
                        return Err(StepError::Store(RunStoreError::Backend {
                            store: "knowledge store".into(),
                            operation: "learn a pipeline".into(),
                            message: reason,
                        }));
                    }
                }
            }
        };
        next.touch(now_ms());
        self.commit(task, next).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<MonitorConfig, String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MonitorConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn settings_have_defaults_take_fractions_and_refuse_nonsense() {
        let c = config(&[]).unwrap();
        assert_eq!(c.poll_interval, Duration::from_secs(30));
        assert_eq!(c.timeout, Duration::from_secs(900));
        assert!(c.public_url.is_none() && c.webhook_secret.is_none());
        assert_eq!(c.max_heal_attempts, 10);
        assert_eq!(
            config(&[("MAX_SELF_HEAL_ATTEMPTS", "0")])
                .unwrap()
                .max_heal_attempts,
            0
        );
        let c = config(&[
            ("PIPEWRIGHT_POLL_INTERVAL", "0.25"),
            ("PIPEWRIGHT_PUBLIC_URL", "https://pw.example/"),
            ("PIPEWRIGHT_WEBHOOK_SECRET", "s"),
        ])
        .unwrap();
        assert_eq!(c.poll_interval, Duration::from_millis(250));
        assert_eq!(c.public_url.as_deref(), Some("https://pw.example"));
        assert!(!format!("{c:?}").contains("\"s\""));
        for (k, v) in [
            ("PIPEWRIGHT_POLL_INTERVAL", "0"),
            ("PIPEWRIGHT_POLL_INTERVAL", "soon"),
            ("PIPEWRIGHT_MONITOR_TIMEOUT", "-1"),
            ("PIPEWRIGHT_PUBLIC_URL", "pw.example"),
            ("MAX_SELF_HEAL_ATTEMPTS", "-1"),
            ("MAX_SELF_HEAL_ATTEMPTS", "1000"),
        ] {
            let e = config(&[(k, v)]).unwrap_err();
            assert!(e.contains(k), "{e}");
        }
    }
}
