//! Pipeline monitoring as pure code: the durable [`MonitorTask`] pipewright keeps for every
//! committed pipeline, the state machine it moves through ([`TRANSITIONS`], forward only),
//! the quality gate ([`quality_gate`]) that decides whether a finished pipeline is learned,
//! and the [`MonitorStore`] trait the run store implements. No I/O here: the workflow's
//! monitor drives tasks with GitLab answers and saves each transition before acting on it.
//!
//! ```
//! use pipewright_core::gitlab::{Job, PipelineStatus};
//! use pipewright_core::monitor::{quality_gate, GateInput};
//! let job = |name: &str, status: &str| Job {
//!     id: 1, name: name.into(), stage: "test".into(), status: PipelineStatus::parse(status),
//!     failure_reason: None, allow_failure: false, web_url: String::new(),
//!     started_at: None, finished_at: None, duration: None,
//! };
//! let jobs = [job("build", "success"), job("test", "skipped")];
//! assert!(!quality_gate(&GateInput::new(&jobs)).passed);
//! ```

use crate::gitlab::{Job, JobStatus, PipelineStatus};
use crate::heal::{FailureSignature, HealGuard};
use crate::knowledge::StackKey;
use crate::runs::RunStoreError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Where a monitor task stands (the `monitor.status` users see). The self-heal issue adds
/// statuses between `running` and the final ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MonitorStatus {
    /// Committed; no pipeline seen yet.
    Waiting,
    /// A pipeline exists and has not finished.
    Running,
    /// The pipeline finished and every job passed the quality gate.
    Succeeded,
    /// The pipeline finished and the gate did not pass.
    Failed,
    /// No final pipeline within `PIPEWRIGHT_MONITOR_TIMEOUT`.
    TimedOut,
    /// The pipeline was canceled in GitLab.
    Canceled,
    /// The gate failed and self-heal is fixing it (retrying jobs or committing a fix); the
    /// next attempt's pipeline is awaited.
    Healing,
    /// Self-heal stopped without a green pipeline (attempts used up, a fix that did not
    /// help, a file state seen before, no deterministic fix and no model).
    Exhausted,
    /// The failure is in the project's own code or tests: pipewright does not weaken the
    /// pipeline, it reports the evidence.
    NeedsCodeFix,
}

impl MonitorStatus {
    pub const ALL: &'static [MonitorStatus] = &[
        MonitorStatus::Waiting,
        MonitorStatus::Running,
        MonitorStatus::Succeeded,
        MonitorStatus::Failed,
        MonitorStatus::TimedOut,
        MonitorStatus::Canceled,
        MonitorStatus::Healing,
        MonitorStatus::Exhausted,
        MonitorStatus::NeedsCodeFix,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MonitorStatus::Waiting => "waiting",
            MonitorStatus::Running => "running",
            MonitorStatus::Succeeded => "succeeded",
            MonitorStatus::Failed => "failed",
            MonitorStatus::TimedOut => "timed_out",
            MonitorStatus::Canceled => "canceled",
            MonitorStatus::Healing => "healing",
            MonitorStatus::Exhausted => "exhausted",
            MonitorStatus::NeedsCodeFix => "needs_code_fix",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.as_str() == text)
    }

    /// True when nothing moves the task on any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            MonitorStatus::Succeeded
                | MonitorStatus::Failed
                | MonitorStatus::TimedOut
                | MonitorStatus::Canceled
                | MonitorStatus::Exhausted
                | MonitorStatus::NeedsCodeFix
        )
    }
}

/// What moves a task: one of these, decided by the driver from GitLab's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The commit's pipeline was found.
    PipelineFound,
    /// The pipeline finished and the gate passed.
    GatePassed,
    /// The pipeline finished and the gate did not pass.
    GateFailed,
    /// The pipeline was canceled.
    PipelineCanceled,
    /// The deadline passed.
    DeadlineExceeded,
    /// The gate failed and self-heal has a fix to try (a retry or a commit): the task waits
    /// for the next attempt's pipeline.
    HealStarted,
    /// The healing attempt's pipeline (or retried job) was found running.
    HealPipelineFound,
    /// Self-heal stopped: no fix left, a guard tripped, or attempts used up.
    HealExhausted,
    /// The failure is in the project's own code or tests.
    CodeFixNeeded,
}

/// Every allowed move, as data: (from, event, to). Anything else is refused, so a task never
/// moves backwards and a final task never moves at all.
pub const TRANSITIONS: &[(MonitorStatus, Event, MonitorStatus)] = &[
    (
        MonitorStatus::Waiting,
        Event::PipelineFound,
        MonitorStatus::Running,
    ),
    (
        MonitorStatus::Waiting,
        Event::DeadlineExceeded,
        MonitorStatus::TimedOut,
    ),
    (
        MonitorStatus::Running,
        Event::GatePassed,
        MonitorStatus::Succeeded,
    ),
    (
        MonitorStatus::Running,
        Event::GateFailed,
        MonitorStatus::Failed,
    ),
    (
        MonitorStatus::Running,
        Event::PipelineCanceled,
        MonitorStatus::Canceled,
    ),
    (
        MonitorStatus::Running,
        Event::DeadlineExceeded,
        MonitorStatus::TimedOut,
    ),
    (
        MonitorStatus::Running,
        Event::HealStarted,
        MonitorStatus::Healing,
    ),
    (
        MonitorStatus::Running,
        Event::HealExhausted,
        MonitorStatus::Exhausted,
    ),
    (
        MonitorStatus::Running,
        Event::CodeFixNeeded,
        MonitorStatus::NeedsCodeFix,
    ),
    (
        MonitorStatus::Healing,
        Event::HealPipelineFound,
        MonitorStatus::Running,
    ),
    (
        MonitorStatus::Healing,
        Event::HealExhausted,
        MonitorStatus::Exhausted,
    ),
    (
        MonitorStatus::Healing,
        Event::PipelineCanceled,
        MonitorStatus::Canceled,
    ),
    (
        MonitorStatus::Healing,
        Event::DeadlineExceeded,
        MonitorStatus::TimedOut,
    ),
];

/// The state `event` moves `from` to, or `None` when that move is not allowed.
pub fn next_status(from: MonitorStatus, event: Event) -> Option<MonitorStatus> {
    TRANSITIONS
        .iter()
        .find(|(f, e, _)| *f == from && *e == event)
        .map(|(_, _, to)| *to)
}

/// A job that did not pass, as recorded for the self-heal issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedJob {
    pub name: String,
    pub stage: String,
    /// Its status (`failed`, `skipped`, `manual`, `canceled` …).
    pub status: String,
    pub failure_reason: Option<String>,
    /// The end of its log, ANSI codes and section markers removed, at most
    /// [`TRACE_EXCERPT_BYTES`].
    pub trace_excerpt: String,
    /// The classifier's class (`crate::heal::FailureClass` public name), when the log was
    /// read.
    #[serde(default)]
    pub class: Option<String>,
    /// The line that decided the class, verbatim as the log viewer shows it.
    #[serde(default)]
    pub evidence: Option<String>,
    /// Its 1-based line number in the log.
    #[serde(default)]
    pub line: Option<u64>,
}

/// The fix self-heal applied to reach an attempt (`None` for attempt 0 and for attempts
/// whose failure had no fix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptFix {
    /// `retry`, `seed_image`, or a patch strategy's public name (`raise_timeout` …).
    pub strategy: String,
    /// What changed, in a few words (the commit message's subject after the class).
    pub summary: String,
    /// A unified diff of the changed files (empty for a retry).
    pub diff: String,
    /// The fix commit (`None` for a retry or an image seeding, which commit nothing).
    pub commit_id: Option<String>,
    /// The failure the fix aimed at (none for fixes recorded before it was kept).
    #[serde(default)]
    pub signature: Option<FailureSignature>,
}

/// The most of a job's log kept in a task.
pub const TRACE_EXCERPT_BYTES: usize = 4 * 1024;
/// The most failed jobs whose logs are read and kept per attempt.
pub const MAX_FAILED_JOBS: usize = 10;

/// One pipeline watched for the task (attempt 0 is the workflow's commit; self-heal adds
/// one per fix it commits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub attempt: u32,
    pub commit_id: String,
    pub pipeline_id: Option<u64>,
    pub pipeline_url: Option<String>,
    /// GitLab's last known pipeline status (for display only, never for the gate).
    pub pipeline_status: Option<String>,
    pub failed_jobs: Vec<FailedJob>,
    /// Milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    pub finished_at_ms: Option<u64>,
    /// The fix that led to this attempt.
    #[serde(default)]
    pub fix: Option<AttemptFix>,
}

/// Whether the pair was learned, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Learning {
    /// Nothing to learn (yet).
    NotDue,
    /// The gate passed: the record must be stored (saved before the store is written, so a
    /// restart finishes it).
    Pending,
    /// Stored (or found already stored for this pipeline).
    Done { template_id: String },
    /// The gate passed but the pair cannot be learned (a monorepo, no Dockerfile …).
    Skipped { reason: String },
}

/// A durable monitor task: one per (project, branch, commit) a workflow committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorTask {
    /// The workflow run that committed (one task per run).
    pub run_id: String,
    pub project_id: u64,
    pub project_path: String,
    pub branch: String,
    pub commit_id: String,
    pub status: MonitorStatus,
    pub attempts: Vec<Attempt>,
    pub learning: Learning,
    /// The stack the pair is stored under (`None` for a monorepo: stored pairs describe one
    /// stack).
    pub stack: Option<StackKey>,
    /// The committed files (path → content), what is learned on a pass.
    pub files: BTreeMap<String, String>,
    /// Saves so far; each transition raises it, and a store never replaces a newer save.
    pub version: u64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    /// When the task gives up (`timed_out`).
    pub deadline_ms: u64,
    /// Why self-heal stopped (`exhausted`) or what the project must fix (`needs_code_fix`).
    #[serde(default)]
    pub heal_note: Option<String>,
    /// Self-heal's memory (attempts, fixes tried per signature, file states seen); `None`
    /// until the first failed gate is healed.
    #[serde(default)]
    pub heal_guard: Option<HealGuard>,
    /// A fix decided and saved but not yet known to be committed (write-ahead): a restart
    /// finishes it, checking the branch for its commit first.
    #[serde(default)]
    pub heal_pending: Option<HealIntent>,
    /// The signature the latest fix commit aimed at, judged on its pipeline.
    #[serde(default)]
    pub heal_target: Option<FailureSignature>,
}

/// A fix commit about to be made, saved before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealIntent {
    /// The fix attempt this commit makes (1-based; the trailer's `<attempt>`).
    pub attempt: u32,
    pub signature: FailureSignature,
    pub strategy: String,
    pub summary: String,
    pub diff: String,
    /// The whole commit message (subject and `Pipewright-Run` trailer).
    pub message: String,
    /// The changed files, whole (path → content).
    pub files: BTreeMap<String, String>,
    /// The file state after the fix (`heal::file_state_hash`).
    pub state: String,
    /// The branch head the fix was made on; a different head whose subject names this
    /// attempt is this fix, already committed.
    pub parent_sha: String,
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("monitor task {run_id}: `{event:?}` does not apply in state `{}`", .from.as_str())]
pub struct TransitionError {
    pub run_id: String,
    pub from: MonitorStatus,
    pub event: Event,
}

impl MonitorTask {
    /// A new task, `waiting`, with attempt 0 for `commit_id`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        run_id: String,
        project_id: u64,
        project_path: String,
        branch: String,
        commit_id: String,
        stack: Option<StackKey>,
        files: BTreeMap<String, String>,
        now_ms: u64,
        timeout_ms: u64,
    ) -> Self {
        MonitorTask {
            run_id,
            project_id,
            project_path,
            branch,
            attempts: vec![Attempt {
                attempt: 0,
                commit_id: commit_id.clone(),
                pipeline_id: None,
                pipeline_url: None,
                pipeline_status: None,
                failed_jobs: Vec::new(),
                started_at_ms: now_ms,
                finished_at_ms: None,
                fix: None,
            }],
            commit_id,
            status: MonitorStatus::Waiting,
            learning: Learning::NotDue,
            stack,
            files,
            version: 1,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            deadline_ms: now_ms.saturating_add(timeout_ms),
            heal_note: None,
            heal_guard: None,
            heal_pending: None,
            heal_target: None,
        }
    }

    /// Starts the next attempt: a new pipeline for `commit_id` (a fix commit, or the same
    /// commit after a retry), reached through `fix`. The caller applies `HealStarted` first.
    pub fn push_attempt(&mut self, commit_id: String, fix: Option<AttemptFix>, now_ms: u64) {
        let attempt = self.attempts.len() as u32;
        self.current_mut().finished_at_ms.get_or_insert(now_ms);
        self.attempts.push(Attempt {
            attempt,
            commit_id: commit_id.clone(),
            pipeline_id: None,
            pipeline_url: None,
            pipeline_status: None,
            failed_jobs: Vec::new(),
            started_at_ms: now_ms,
            finished_at_ms: None,
            fix,
        });
        self.commit_id = commit_id;
        self.touch(now_ms);
    }

    /// The attempt being watched.
    pub fn current(&self) -> &Attempt {
        // `new` always makes attempt 0 and nothing removes attempts.
        &self.attempts[self.attempts.len() - 1]
    }

    pub fn current_mut(&mut self) -> &mut Attempt {
        let last = self.attempts.len() - 1;
        &mut self.attempts[last]
    }

    /// True while the driver still has something to do: not final, or a learn to finish.
    pub fn is_unfinished(&self) -> bool {
        !self.status.is_final() || self.learning == Learning::Pending
    }

    /// Applies `event` (forward only) and marks the change as a new version to save.
    pub fn apply(&mut self, event: Event, now_ms: u64) -> Result<MonitorStatus, TransitionError> {
        let to = next_status(self.status, event).ok_or_else(|| TransitionError {
            run_id: self.run_id.clone(),
            from: self.status,
            event,
        })?;
        self.status = to;
        if to.is_final() {
            self.current_mut().finished_at_ms = Some(now_ms);
        }
        if to == MonitorStatus::Succeeded {
            self.learning = Learning::Pending;
        }
        self.touch(now_ms);
        Ok(to)
    }

    /// Marks a change that is not a transition (a pipeline status seen, learning done).
    pub fn touch(&mut self, now_ms: u64) {
        self.version += 1;
        self.updated_at_ms = now_ms;
    }

    /// The `.gitlab-ci.yml` and the one Dockerfile to learn, or why the pair cannot be.
    pub fn learnable_pair(&self) -> Result<(StackKey, String, String), String> {
        let Some(stack) = self.stack.clone() else {
            return Err("no single stack is known (a monorepo, or a heal started from the command line): stored pairs describe one stack, so it is not learned".into());
        };
        let Some(ci) = self.files.get(".gitlab-ci.yml") else {
            return Err("no .gitlab-ci.yml was committed".into());
        };
        let dockerfiles: Vec<&String> = self
            .files
            .iter()
            .filter(|(p, _)| p.rsplit('/').next() == Some("Dockerfile"))
            .map(|(_, c)| c)
            .collect();
        match dockerfiles.as_slice() {
            [one] => Ok((stack, ci.clone(), (*one).clone())),
            [] => Err("no Dockerfile was committed; a stored pair needs both files".into()),
            _ => Err("several Dockerfiles were committed; a stored pair holds one".into()),
        }
    }

    /// The `monitor` object of `GET /api/v1/pipeline/runs/{id}`.
    pub fn to_json(&self) -> serde_json::Value {
        let attempts: Vec<serde_json::Value> = self
            .attempts
            .iter()
            .map(|a| {
                serde_json::json!({
                    "attempt": a.attempt,
                    "commit_id": a.commit_id,
                    "pipeline_id": a.pipeline_id,
                    "pipeline_url": a.pipeline_url,
                    "pipeline_status": a.pipeline_status,
                    "failed_jobs": a.failed_jobs.iter().map(|j| serde_json::json!({
                        "name": j.name,
                        "stage": j.stage,
                        "status": j.status,
                        "failure_reason": j.failure_reason,
                        "trace_excerpt": j.trace_excerpt,
                        "class": j.class,
                        "evidence": j.evidence,
                        "line": j.line,
                    })).collect::<Vec<_>>(),
                    "fix": a.fix.as_ref().map(|f| serde_json::json!({
                        "strategy": f.strategy,
                        "summary": f.summary,
                        "diff": f.diff,
                        "commit_id": f.commit_id,
                    })),
                    "started_at": crate::runs::rfc3339(a.started_at_ms),
                    "finished_at": a.finished_at_ms.map(crate::runs::rfc3339),
                })
            })
            .collect();
        let (learned, learn_note) = match &self.learning {
            Learning::Done { template_id } => (Some(template_id.clone()), None),
            Learning::Skipped { reason } => (None, Some(reason.clone())),
            Learning::Pending => (None, Some("storing the pipeline".to_string())),
            Learning::NotDue => (None, None),
        };
        serde_json::json!({
            "status": self.status.as_str(),
            "project_id": self.project_id,
            "branch": self.branch,
            "commit_id": self.commit_id,
            "attempts": attempts,
            "learned_template_id": learned,
            "learn_note": learn_note,
            "heal_note": self.heal_note,
            "updated_at": crate::runs::rfc3339(self.updated_at_ms),
        })
    }
}

/// What the quality gate looks at.
#[derive(Debug, Clone)]
pub struct GateInput<'a> {
    /// The pipeline's jobs; several attempts of one job may be listed (only the latest, by
    /// id, counts).
    pub jobs: &'a [Job],
    /// Jobs declared `when: on_failure` in the committed file: in a pipeline where nothing
    /// failed GitLab leaves them `skipped`, which is their correct outcome, not a gap.
    pub on_failure_jobs: BTreeSet<String>,
    /// The job asking (the `learn` job calling `/pipeline/learn` while it runs): counted as
    /// passed when `running` or `success`.
    pub caller: Option<String>,
}

impl<'a> GateInput<'a> {
    pub fn new(jobs: &'a [Job]) -> Self {
        GateInput {
            jobs,
            on_failure_jobs: BTreeSet::new(),
            caller: None,
        }
    }
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GateVerdict {
    pub passed: bool,
    /// Jobs whose latest attempt did not pass (name, stage, status), in stage order of the
    /// listing.
    pub blocking: Vec<Job>,
    /// One line for people.
    pub reason: String,
}

/// The latest attempt of each job (highest id per name), in the order first seen.
pub fn latest_attempts(jobs: &[Job]) -> Vec<Job> {
    let mut latest: BTreeMap<&str, &Job> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for job in jobs {
        match latest.get(job.name.as_str()) {
            Some(seen) if seen.id >= job.id => {}
            Some(_) => {
                latest.insert(&job.name, job);
            }
            None => {
                order.push(&job.name);
                latest.insert(&job.name, job);
            }
        }
    }
    order.iter().map(|n| latest[n].clone()).collect()
}

/// The quality gate: passes only when every job's latest attempt is `success`,
/// `allow_failure` ones included; `skipped`, `manual`, `canceled` and anything unfinished
/// block. Two exceptions, both about jobs that report rather than check: a `when:
/// on_failure` job left `skipped` when nothing failed, and the calling job itself while it
/// runs.
pub fn quality_gate(input: &GateInput<'_>) -> GateVerdict {
    let jobs = latest_attempts(input.jobs);
    if jobs.is_empty() {
        return GateVerdict {
            passed: false,
            blocking: Vec::new(),
            reason: "the pipeline has no jobs".into(),
        };
    }
    let any_failed = jobs.iter().any(|j| j.status == PipelineStatus::Failed);
    let passes = |job: &Job| -> bool {
        match &job.status {
            JobStatus::Success => true,
            JobStatus::Skipped => !any_failed && input.on_failure_jobs.contains(&job.name),
            JobStatus::Running | JobStatus::Pending | JobStatus::Created => {
                input.caller.as_deref() == Some(job.name.as_str())
            }
            _ => false,
        }
    };
    let blocking: Vec<Job> = jobs.iter().filter(|j| !passes(j)).cloned().collect();
    let reason = if blocking.is_empty() {
        format!("all {} jobs passed", jobs.len())
    } else {
        // Failures first: they explain the rest (later jobs skipped after them).
        let mut shown: Vec<&Job> = blocking.iter().collect();
        shown.sort_by_key(|j| j.status != PipelineStatus::Failed);
        let names: Vec<String> = shown
            .iter()
            .take(5)
            .map(|j| format!("{} ({})", j.name, j.status))
            .collect();
        format!(
            "{} of {} jobs did not pass: {}",
            blocking.len(),
            jobs.len(),
            names.join(", ")
        )
    };
    GateVerdict {
        passed: blocking.is_empty(),
        blocking,
        reason,
    }
}

/// Names of the jobs a `.gitlab-ci.yml` declares `when: on_failure`.
pub fn on_failure_jobs(gitlab_ci: &str) -> BTreeSet<String> {
    let Ok(doc) = crate::yaml::to_json(gitlab_ci) else {
        return BTreeSet::new();
    };
    let Some(map) = doc.as_object() else {
        return BTreeSet::new();
    };
    map.iter()
        .filter(|(_, job)| job.get("when").and_then(|w| w.as_str()) == Some("on_failure"))
        .map(|(name, _)| name.clone())
        .collect()
}

/// The `stages:` a `.gitlab-ci.yml` declares, in order (empty when it names none or does
/// not parse): self-heal reads whether the first failure moved to a later stage.
pub fn stage_order(gitlab_ci: Option<&str>) -> Vec<String> {
    gitlab_ci
        .and_then(|ci| crate::yaml::to_json(ci).ok())
        .and_then(|doc| doc.get("stages").and_then(|s| s.as_array()).cloned())
        .map(|stages| {
            stages
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The end of a job log as kept in a task: ANSI escapes and GitLab's `section_start:` /
/// `section_end:` markers removed, the last `max_bytes` (cut at a character boundary).
pub fn trace_excerpt(log: &str, max_bytes: usize) -> String {
    let mut clean = String::with_capacity(log.len().min(max_bytes * 2));
    for line in log.lines() {
        let line = strip_sections(line);
        let line = strip_ansi(&line);
        if !line.trim().is_empty() {
            clean.push_str(line.trim_end());
            clean.push('\n');
        }
    }
    if clean.len() <= max_bytes {
        return clean;
    }
    let mut start = clean.len() - max_bytes;
    while !clean.is_char_boundary(start) {
        start += 1;
    }
    clean[start..].to_string()
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // CSI: parameters until a final byte in @..~
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        if c != '\r' {
            out.push(c);
        }
    }
    out
}

/// Removes `section_start:<time>:<name>[options]` and `section_end:<time>:<name>` markers,
/// which GitLab puts at line starts (followed by the header text, which is kept).
fn strip_sections(line: &str) -> String {
    let mut rest = line;
    let mut out = String::new();
    loop {
        let found = ["section_start:", "section_end:"]
            .iter()
            .filter_map(|m| rest.find(m).map(|i| (i, m.len())))
            .min();
        let Some((i, len)) = found else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        let after = &rest[i + len..];
        // <time>:<name> then optional [options]; the marker ends at the first space or the
        // end of the name.
        let end = after
            .find(|c: char| c.is_whitespace() || c == '\u{1b}')
            .unwrap_or(after.len());
        rest = &after[end..];
    }
}

/// Where monitor tasks and webhook deliveries are kept. Implemented by the embedded run
/// store (SQLite); a shared backend (PostgreSQL) implements the same contract.
#[async_trait]
pub trait MonitorStore: Send + Sync {
    /// Inserts the task, or replaces the stored one when `task.version` is newer; an older
    /// or equal version is ignored (returns false), so a task never moves backwards.
    async fn save_task(&self, task: &MonitorTask) -> Result<bool, RunStoreError>;
    /// The task of a workflow run.
    async fn task(&self, run_id: &str) -> Result<Option<MonitorTask>, RunStoreError>;
    /// Every task still to drive (not final, or a learn pending), oldest first.
    async fn unfinished_tasks(&self) -> Result<Vec<MonitorTask>, RunStoreError>;
    /// The newest task for a commit of a project.
    async fn task_for_commit(
        &self,
        project_id: u64,
        commit_id: &str,
    ) -> Result<Option<MonitorTask>, RunStoreError>;
    /// Records a webhook delivery key; false when it was already recorded (a redelivery).
    async fn record_delivery(&self, key: &str, now_ms: u64) -> Result<bool, RunStoreError>;
    /// Forgets a recorded delivery key (it could not be acted on: GitLab's retry must count
    /// as new).
    async fn forget_delivery(&self, key: &str) -> Result<(), RunStoreError>;

    // Leases: which instance drives a task. A task is driven only by the holder of its lease;
    // an instance that dies stops renewing, and once the lease has run out another instance
    // claims the task and resumes it from its last save.

    /// Claims up to `limit` unfinished tasks that nobody holds (no lease, or an expired one)
    /// for `owner` for `lease_ms`, oldest first; two instances claiming at once never get the
    /// same task. (A restarted instance finds the tasks it still holds with `renew_leases`.)
    async fn claim_tasks(
        &self,
        owner: &str,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<MonitorTask>, RunStoreError>;
    /// Claims one task (a new one right after its first save, or one `owner` holds) unless
    /// another owner holds a live lease on it or it is finished; the task as stored now.
    async fn claim_task(
        &self,
        run_id: &str,
        owner: &str,
        lease_ms: u64,
    ) -> Result<Option<MonitorTask>, RunStoreError>;
    /// Extends `owner`'s lease on one task; false when `owner` no longer holds it (another
    /// instance took it over) or it is gone. Checked before every side effect.
    async fn renew_lease(
        &self,
        run_id: &str,
        owner: &str,
        lease_ms: u64,
    ) -> Result<bool, RunStoreError>;
    /// Extends every lease `owner` holds; returns the run ids it still holds.
    async fn renew_leases(&self, owner: &str, lease_ms: u64) -> Result<Vec<String>, RunStoreError>;
    /// Gives a lease up (the task finished, or the instance stops).
    async fn release_task(&self, run_id: &str, owner: &str) -> Result<(), RunStoreError>;
    /// Unfinished tasks held by a live lease, and not held (waiting for an instance).
    async fn lease_counts(&self) -> Result<LeaseCounts, RunStoreError>;
    /// How long until the first lease another owner than `owner` holds on an unfinished task
    /// runs out (zero when one already has); `None` when others hold none. The lease keeper
    /// claims then, so a dead instance's tasks move on as soon as its leases end.
    async fn next_lease_end(&self, owner: &str) -> Result<Option<Duration>, RunStoreError>;
    /// Tells every instance sharing the store that a pipeline of this commit changed (a
    /// webhook arrived here), so the one holding its task wakes it. An embedded store has
    /// one instance: nothing to tell (false).
    async fn announce(&self, _project_id: u64, _commit_id: &str) -> Result<bool, RunStoreError> {
        Ok(false)
    }
    /// Tells every instance sharing the store that tasks were given up (an instance is
    /// stopping), so they claim them now rather than at their next lease round. An embedded
    /// store: nothing to tell (false).
    async fn announce_free(&self) -> Result<bool, RunStoreError> {
        Ok(false)
    }
}

/// How many unfinished tasks are driven by some instance, and how many wait for one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LeaseCounts {
    pub held: u64,
    pub free: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64, name: &str, status: &str) -> Job {
        Job {
            id,
            name: name.into(),
            stage: "test".into(),
            status: PipelineStatus::parse(status),
            failure_reason: None,
            allow_failure: false,
            web_url: String::new(),
            started_at: None,
            finished_at: None,
            duration: None,
        }
    }

    fn task() -> MonitorTask {
        MonitorTask::new(
            "run_1".into(),
            1,
            "g/p".into(),
            "b".into(),
            "abc".into(),
            None,
            BTreeMap::new(),
            1_000,
            900_000,
        )
    }

    #[test]
    fn states_move_forward_only_and_finals_never_move() {
        let mut t = task();
        assert!(
            t.apply(Event::GatePassed, 2).is_err(),
            "waiting cannot pass"
        );
        assert_eq!(
            t.apply(Event::PipelineFound, 2).unwrap(),
            MonitorStatus::Running
        );
        assert!(t.apply(Event::PipelineFound, 3).is_err());
        assert_eq!(
            t.apply(Event::GatePassed, 4).unwrap(),
            MonitorStatus::Succeeded
        );
        assert_eq!(t.learning, Learning::Pending);
        assert_eq!(t.current().finished_at_ms, Some(4));
        for e in [
            Event::PipelineFound,
            Event::GatePassed,
            Event::GateFailed,
            Event::PipelineCanceled,
            Event::DeadlineExceeded,
        ] {
            assert!(t.apply(e, 5).is_err(), "{e:?}");
        }
        assert_eq!(t.version, 3);
        // Every transition leads to a state of higher rank, except a healing attempt's
        // pipeline found, which starts the next attempt (forward in attempts).
        let rank = |s: MonitorStatus| match s {
            MonitorStatus::Waiting => 0,
            MonitorStatus::Running => 1,
            MonitorStatus::Healing => 2,
            _ => 3,
        };
        assert!(TRANSITIONS
            .iter()
            .filter(|(_, e, _)| *e != Event::HealPipelineFound)
            .all(|(f, _, t)| rank(*t) > rank(*f)));
    }

    #[test]
    fn healing_starts_a_new_attempt_and_ends_in_a_final_state() {
        let mut t = task();
        t.apply(Event::PipelineFound, 2).unwrap();
        assert_eq!(
            t.apply(Event::HealStarted, 3).unwrap(),
            MonitorStatus::Healing
        );
        t.push_attempt(
            "def".into(),
            Some(AttemptFix {
                strategy: "raise_timeout".into(),
                summary: "timeout 1h for test".into(),
                diff: "-a\n+b\n".into(),
                commit_id: Some("def".into()),
                signature: None,
            }),
            3,
        );
        assert_eq!(t.attempts.len(), 2);
        assert_eq!(t.current().attempt, 1);
        assert_eq!(t.commit_id, "def");
        assert_eq!(t.attempts[0].finished_at_ms, Some(3));
        assert!(t.apply(Event::GatePassed, 4).is_err(), "healing waits");
        assert_eq!(
            t.apply(Event::HealPipelineFound, 4).unwrap(),
            MonitorStatus::Running
        );
        assert_eq!(
            t.apply(Event::CodeFixNeeded, 5).unwrap(),
            MonitorStatus::NeedsCodeFix
        );
        assert!(t.status.is_final());
        assert!(!t.is_unfinished());
        let json = t.to_json();
        assert_eq!(json["status"], "needs_code_fix");
        assert_eq!(json["attempts"][1]["fix"]["strategy"], "raise_timeout");
        assert_eq!(json["attempts"][1]["fix"]["commit_id"], "def");
        assert!(json["attempts"][0]["fix"].is_null());
        for s in MonitorStatus::ALL {
            assert_eq!(MonitorStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(
            next_status(MonitorStatus::Healing, Event::HealExhausted),
            Some(MonitorStatus::Exhausted)
        );
    }

    #[test]
    fn tasks_saved_before_self_heal_still_read() {
        let mut old = serde_json::to_value(task()).unwrap();
        old.as_object_mut().unwrap().remove("heal_note");
        old["attempts"][0].as_object_mut().unwrap().remove("fix");
        old["attempts"][0]["failed_jobs"] = serde_json::json!([{
            "name": "test", "stage": "test", "status": "failed",
            "failure_reason": "script_failure", "trace_excerpt": "x"
        }]);
        let back: MonitorTask = serde_json::from_value(old).unwrap();
        assert_eq!(back.attempts[0].fix, None);
        assert_eq!(back.attempts[0].failed_jobs[0].class, None);
    }

    #[test]
    fn the_gate_needs_every_latest_attempt_green_allow_failure_included() {
        let mut notify = job(3, "notify", "failed");
        notify.allow_failure = true;
        let jobs = [
            job(1, "build", "success"),
            job(2, "test", "success"),
            notify,
        ];
        let verdict = quality_gate(&GateInput::new(&jobs));
        assert!(!verdict.passed);
        assert_eq!(verdict.blocking[0].name, "notify");
        assert!(
            verdict.reason.contains("notify (failed)"),
            "{}",
            verdict.reason
        );

        // A retried job counts by its latest attempt only.
        let jobs = [
            job(1, "build", "success"),
            job(2, "test", "failed"),
            job(5, "test", "success"),
        ];
        assert!(quality_gate(&GateInput::new(&jobs)).passed);
        let jobs = [job(5, "test", "failed"), job(2, "test", "success")];
        assert!(!quality_gate(&GateInput::new(&jobs)).passed);
    }

    #[test]
    fn skipped_manual_canceled_and_unfinished_jobs_block() {
        for status in [
            "skipped",
            "manual",
            "canceled",
            "running",
            "created",
            "scheduled",
        ] {
            let jobs = [job(1, "build", "success"), job(2, "deploy", status)];
            assert!(!quality_gate(&GateInput::new(&jobs)).passed, "{status}");
        }
        assert!(!quality_gate(&GateInput::new(&[])).passed, "no jobs");
    }

    #[test]
    fn on_failure_jobs_and_the_caller_are_the_only_exceptions() {
        let jobs = [
            job(1, "build", "success"),
            job(2, "notify-failure", "skipped"),
            job(3, "learn", "running"),
        ];
        let mut input = GateInput::new(&jobs);
        assert!(!quality_gate(&input).passed);
        input.on_failure_jobs = ["notify-failure".to_string()].into();
        assert!(!quality_gate(&input).passed, "learn still running");
        input.caller = Some("learn".into());
        assert!(quality_gate(&input).passed);
        // When something failed, a skipped on_failure job is no longer expected.
        let jobs = [
            job(1, "build", "failed"),
            job(2, "notify-failure", "skipped"),
        ];
        let mut input = GateInput::new(&jobs);
        input.on_failure_jobs = ["notify-failure".to_string()].into();
        let verdict = quality_gate(&input);
        assert_eq!(verdict.blocking.len(), 2);
    }

    #[test]
    fn on_failure_jobs_are_read_from_the_file() {
        let ci = "stages: [a]\nbuild:\n  stage: a\n  script: [x]\nnotify-failure:\n  stage: a\n  when: on_failure\n  script: [y]\n";
        assert_eq!(on_failure_jobs(ci), ["notify-failure".to_string()].into());
    }

    #[test]
    fn trace_excerpts_are_clean_and_bounded() {
        let log = "section_start:1700000000:step_script\r\u{1b}[0KRunning\n\u{1b}[31;1mERROR: boom\u{1b}[0m\nsection_end:1700000001:step_script\r\u{1b}[0K\n";
        assert_eq!(trace_excerpt(log, 1024), "Running\nERROR: boom\n");
        let long = "é".repeat(100);
        let cut = trace_excerpt(&long, 11);
        assert!(cut.len() <= 11 && cut.ends_with('\n'), "{cut:?}");
    }

    #[test]
    fn a_task_says_what_it_can_learn() {
        let mut t = task();
        assert!(t.learnable_pair().unwrap_err().contains("monorepo"));
        t.stack = Some(StackKey::new(crate::stack::Language::Python));
        t.files
            .insert(".gitlab-ci.yml".into(), "stages: []\n".into());
        assert!(t.learnable_pair().unwrap_err().contains("no Dockerfile"));
        t.files.insert("Dockerfile".into(), "FROM x\n".into());
        assert!(t.learnable_pair().is_ok());
        let json = t.to_json();
        assert_eq!(json["status"], "waiting");
        assert_eq!(json["attempts"][0]["attempt"], 0);
        assert_eq!(
            json["attempts"][0]["started_at"],
            "1970-01-01T00:00:01.000Z"
        );
        assert!(json["learned_template_id"].is_null());
    }
}
