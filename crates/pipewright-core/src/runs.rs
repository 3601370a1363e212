//! Runs: every workflow request pipewright served, with its steps, timings and outcome, so a
//! user can see what was done to their repository and why. The model and the [`RunStore`]
//! trait live here; the embedded SQLite store is in the adapters crate.
//!
//! A run is written when it starts (`running`) and again when each step ends, so a crash
//! leaves a record that says how far it got. Later issues add run kinds (pipeline
//! monitoring, repairs, image seeding) and steps without changing this shape.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::{Duration, UNIX_EPOCH};

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// `POST /api/v1/pipeline/workflow`: analyze, generate, lint, commit.
    Workflow,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(RunStatus::Running),
            "succeeded" => Some(RunStatus::Succeeded),
            "failed" => Some(RunStatus::Failed),
            _ => None,
        }
    }
}

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Ok,
    Failed,
}

/// One step of a run: its name, when it started (ms after the run started), how long it took
/// and what it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunStep {
    pub name: String,
    pub status: StepStatus,
    pub started_after_ms: u64,
    pub duration_ms: u64,
    /// One line a person can read: what the step decided or why it failed.
    pub detail: String,
}

/// Why a run failed: a stable code (the HTTP error code) and the message the user got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunError {
    pub code: String,
    pub message: String,
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub kind: RunKind,
    pub status: RunStatus,
    /// The project as the user named it (URL without credentials, or id).
    pub project: Option<String>,
    /// GitLab's id once the project was found.
    pub project_id: Option<u64>,
    /// The request's fields (never a token).
    pub request: serde_json::Value,
    pub steps: Vec<RunStep>,
    /// What the run produced when it succeeded (branch, commit, files …).
    pub result: Option<serde_json::Value>,
    pub error: Option<RunError>,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    pub finished_at_ms: Option<u64>,
}

impl Run {
    /// A run that starts now (`now_ms`), with no steps yet.
    pub fn start(
        id: String,
        kind: RunKind,
        project: Option<String>,
        request: serde_json::Value,
        now_ms: u64,
    ) -> Self {
        Run {
            id,
            kind,
            status: RunStatus::Running,
            project,
            project_id: None,
            request,
            steps: Vec::new(),
            result: None,
            error: None,
            created_at_ms: now_ms,
            finished_at_ms: None,
        }
    }

    /// Milliseconds from the start to the end, once finished.
    pub fn duration_ms(&self) -> Option<u64> {
        self.finished_at_ms
            .map(|end| end.saturating_sub(self.created_at_ms))
    }

    /// The same run as JSON for people and programs: every field, plus RFC 3339 times and
    /// the duration.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(obj) = value.as_object_mut() {
            obj.insert("created_at".into(), rfc3339(self.created_at_ms).into());
            obj.insert(
                "finished_at".into(),
                self.finished_at_ms.map(rfc3339).into(),
            );
            obj.insert("duration_ms".into(), self.duration_ms().into());
        }
        value
    }
}

/// Milliseconds since the epoch as an RFC 3339 UTC time (`2026-11-22T10:04:05.123Z`).
pub fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// Which runs to list: newest first, at most `limit`, older than the run `before` (keyset
/// pagination by id, which sorts by creation time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub limit: usize,
    pub before: Option<String>,
    pub status: Option<RunStatus>,
    /// Runs whose project (as named) or project id equals this.
    pub project: Option<String>,
}

/// Why the run store failed.
#[derive(Debug, thiserror::Error)]
pub enum RunStoreError {
    #[error("run store {store}: cannot {operation}: {message}")]
    Backend {
        store: String,
        operation: String,
        message: String,
    },
}

/// Where runs are kept.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Inserts or replaces the run with the same id.
    async fn save(&self, run: &Run) -> Result<(), RunStoreError>;
    async fn get(&self, id: &str) -> Result<Option<Run>, RunStoreError>;
    /// Newest first.
    async fn list(&self, filter: &RunFilter) -> Result<Vec<Run>, RunStoreError>;
    /// A round trip to the store; says what it is (`/health`).
    async fn check(&self) -> Result<String, RunStoreError>;
}

/// A new run id: `run_` + the creation time and randomness in lowercase hex, so ids sort by
/// creation time (`run_0193a4f2c1d0_5f3a9c21`).
pub fn run_id(now_ms: u64, random: u32) -> String {
    format!("run_{now_ms:012x}_{random:08x}")
}

/// True when `text` has the shape of a run id (checked before any lookup).
pub fn is_run_id(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("run_") else {
        return false;
    };
    let mut parts = rest.split('_');
    let (Some(time), Some(random), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    time.len() >= 12
        && time.len() <= 16
        && random.len() == 8
        && time
            .chars()
            .chain(random.chars())
            .all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_are_recognised() {
        let a = run_id(1_700_000_000_000, 0xffff_ffff);
        let b = run_id(1_700_000_000_001, 0);
        assert!(a < b);
        assert!(is_run_id(&a) && is_run_id(&b));
        for bad in [
            "",
            "run_",
            "run_xyz_12345678",
            "run_0193a4f2c1d0_1234",
            "x_0193a4f2c1d0_12345678",
            "run_0193a4f2c1d0_12345678_1",
        ] {
            assert!(!is_run_id(bad), "{bad}");
        }
    }

    #[test]
    fn json_has_readable_times_and_duration() {
        let mut run = Run::start(
            run_id(1_000, 1),
            RunKind::Workflow,
            Some("group/app".into()),
            serde_json::json!({"ref": null}),
            1_000,
        );
        run.finished_at_ms = Some(3_500);
        run.status = RunStatus::Succeeded;
        let json = run.to_json();
        assert_eq!(json["created_at"], "1970-01-01T00:00:01.000Z");
        assert_eq!(json["finished_at"], "1970-01-01T00:00:03.500Z");
        assert_eq!(json["duration_ms"], 2_500);
        assert_eq!(json["status"], "succeeded");
        assert_eq!(json["kind"], "workflow");
        let back: Run = serde_json::from_value(json).unwrap();
        assert_eq!(back, run);
    }
}
