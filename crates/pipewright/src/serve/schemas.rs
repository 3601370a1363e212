//! Schemas of the answers the service assembles as JSON values rather than from one Rust
//! type: a run (`Run::to_json`, whose `request` and `result` are stored as JSON) and its
//! monitor (`MonitorTask::to_json`). They exist for the OpenAPI document only; the test
//! `serve_openapi` checks real answers against them, so they cannot drift unnoticed.

#![allow(dead_code)]

use pipewright_core::monitor::MonitorStatus;
use pipewright_core::runs::{RunError, RunKind, RunStatus, RunStep};
use pipewright_workflow::workflow::CommittedFile;
use serde::Serialize;
use utoipa::ToSchema;

/// A recorded run: what was asked, each step with its timing, and the outcome.
#[derive(Serialize, ToSchema)]
pub struct RunSummary {
    /// `run_` + creation time + randomness (`run_0193a4f2c1d0_5f3a9c21`); sorts by time.
    id: String,
    kind: RunKind,
    status: RunStatus,
    /// The project as the user named it (URL without credentials, or id).
    project: Option<String>,
    /// GitLab's id once the project was found.
    project_id: Option<u64>,
    request: RunRequest,
    steps: Vec<RunStep>,
    /// What the run produced, once it succeeded.
    result: Option<RunResult>,
    /// Why it failed, once it failed.
    error: Option<RunError>,
    /// Milliseconds since the Unix epoch.
    created_at_ms: u64,
    finished_at_ms: Option<u64>,
    /// RFC 3339, UTC (`2026-11-22T10:04:05.123Z`).
    created_at: String,
    finished_at: Option<String>,
    duration_ms: Option<u64>,
}

/// One run with the monitor of the pipeline it committed.
#[derive(Serialize, ToSchema)]
pub struct RunDetail {
    #[serde(flatten)]
    run: RunSummary,
    /// The pipeline's monitor; null when the run committed nothing or monitoring is off.
    monitor: Option<RunMonitor>,
}

/// The workflow request's fields as recorded (never a token).
#[derive(Serialize, ToSchema)]
pub struct RunRequest {
    /// The project URL (credentials removed), `group/project` path or id.
    project: String,
    #[serde(rename = "ref")]
    reference: Option<String>,
    use_template_only: bool,
    /// The branch asked for, if any.
    branch: Option<String>,
}

/// What a successful workflow run committed.
#[derive(Serialize, ToSchema)]
pub struct RunResult {
    branch: String,
    commit_id: String,
    /// The commit's page in GitLab.
    web_url: String,
    project_id: u64,
    project_path: String,
    /// The LLM's model, or `template` / `rag-template`.
    model_used: String,
    commit_tag: String,
    files: Vec<CommittedFile>,
    warnings: Vec<String>,
}

/// The monitor of a committed pipeline: its status, each attempt (the first commit, then one
/// per self-heal fix) and what was learned.
#[derive(Serialize, ToSchema)]
pub struct RunMonitor {
    status: MonitorStatus,
    project_id: u64,
    branch: String,
    /// The latest commit watched.
    commit_id: String,
    attempts: Vec<MonitorAttempt>,
    /// The stored template's id once the green pipeline was learned.
    learned_template_id: Option<String>,
    /// Why it was not learned, or that it is being stored.
    learn_note: Option<String>,
    /// Why self-heal stopped, or what the project must fix.
    heal_note: Option<String>,
    /// RFC 3339, UTC.
    updated_at: String,
}

/// One pipeline watched for a run.
#[derive(Serialize, ToSchema)]
pub struct MonitorAttempt {
    /// 0 for the workflow's commit, then 1, 2 … per fix.
    attempt: u32,
    commit_id: String,
    pipeline_id: Option<u64>,
    pipeline_url: Option<String>,
    /// GitLab's last known pipeline status.
    pipeline_status: Option<String>,
    failed_jobs: Vec<MonitorFailedJob>,
    /// The fix that led to this attempt.
    fix: Option<MonitorFix>,
    /// RFC 3339, UTC.
    started_at: String,
    finished_at: Option<String>,
}

/// A job that did not pass.
#[derive(Serialize, ToSchema)]
pub struct MonitorFailedJob {
    name: String,
    stage: String,
    /// `failed`, `skipped`, `manual`, `canceled` …
    status: String,
    failure_reason: Option<String>,
    /// The end of its log, ANSI codes removed.
    trace_excerpt: String,
    /// The classifier's class, when the log was read.
    class: Option<String>,
    /// The log line that decided the class.
    evidence: Option<String>,
    /// Its 1-based line number in the log.
    line: Option<u64>,
}

/// A fix self-heal applied.
#[derive(Serialize, ToSchema)]
pub struct MonitorFix {
    /// `retry`, `seed_image`, or a patch strategy (`raise_timeout` …).
    strategy: String,
    summary: String,
    /// A unified diff of the changed files (empty for a retry).
    diff: String,
    /// The fix commit (null for a retry or an image seeding).
    commit_id: Option<String>,
}

/// The part of GitLab's `Pipeline Hook` payload pipewright reads; GitLab sends more, which is
/// accepted and left alone.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "object_kind": "pipeline",
    "object_attributes": {"id": 1001, "ref": "feature/ai-pipeline", "sha": "3f9c2a1e5b7d4c6f8a0b2c4d6e8f0a1b3c5d7e9f", "status": "success"},
    "project": {"id": 42, "path_with_namespace": "group/app"}
}))]
pub struct PipelineHook {
    /// `pipeline`; other kinds are ignored.
    object_kind: String,
    object_attributes: PipelineHookAttributes,
    project: PipelineHookProject,
}

/// The pipeline the hook is about.
#[derive(Serialize, ToSchema)]
pub struct PipelineHookAttributes {
    id: u64,
    #[serde(rename = "ref")]
    reference: String,
    /// The commit: the monitor task watching it is woken.
    sha: String,
    status: String,
}

/// The project the pipeline ran in.
#[derive(Serialize, ToSchema)]
pub struct PipelineHookProject {
    id: u64,
    path_with_namespace: String,
}
