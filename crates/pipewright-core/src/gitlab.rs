//! GitLab as the workflow sees it: the [`GitLab`] trait, the records it answers with, and
//! [`GitLabError`], whose messages say what failed, on which project or path, and what to do.
//!
//! This module holds types and one piece of pure logic ([`GitLab::commit_files`] choosing
//! `create` or `update` per file); it performs no I/O. The HTTP client lives in
//! `pipewright_adapters::gitlab`, and tests use the fake GitLab beside it. Field names follow
//! GitLab's REST API (v4), so the records (de)serialize from its JSON as they are.
//!
//! ```
//! use pipewright_core::gitlab::{PipelineStatus, ProjectRef};
//! assert!(PipelineStatus::parse("success").is_terminal());
//! assert_eq!(PipelineStatus::parse("waiting_for_callback").as_str(), "waiting_for_callback");
//! assert_eq!(ProjectRef::from("group/sub/app").to_string(), "project `group/sub/app`");
//! ```

use async_trait::async_trait;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// How a project is named in an API call: its numeric id or its full path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProjectRef {
    Id(u64),
    /// `group/sub/project`, not encoded (the client encodes it).
    Path(String),
}

impl From<u64> for ProjectRef {
    fn from(id: u64) -> Self {
        ProjectRef::Id(id)
    }
}

impl From<&str> for ProjectRef {
    /// A string of digits is an id; anything else is a path.
    fn from(text: &str) -> Self {
        match text.parse::<u64>() {
            Ok(id) => ProjectRef::Id(id),
            Err(_) => ProjectRef::Path(text.trim_matches('/').to_string()),
        }
    }
}

impl fmt::Display for ProjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProjectRef::Id(id) => write!(f, "project {id}"),
            ProjectRef::Path(path) => write!(f, "project `{path}`"),
        }
    }
}

/// A project (`GET /projects/:id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: u64,
    pub name: String,
    pub path_with_namespace: String,
    /// `None` for an empty repository.
    #[serde(default)]
    pub default_branch: Option<String>,
    pub web_url: String,
}

/// What a tree entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeEntryKind {
    Blob,
    Tree,
    /// A submodule (GitLab calls it `commit`).
    Submodule,
    Unknown(String),
}

/// One entry of `GET /projects/:id/repository/tree`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// The blob or tree object id.
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: TreeEntryKind,
    /// Root-relative, `/`-separated.
    pub path: String,
    pub mode: String,
}

/// The commit a branch points at, as the branches API embeds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchCommit {
    pub id: String,
    #[serde(default)]
    pub short_id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
}

/// A branch (`POST /projects/:id/repository/branches`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branch {
    pub name: String,
    pub commit: BranchCommit,
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub web_url: Option<String>,
}

/// The kind of change one commit action makes (GitLab also has `move` and `chmod`, which
/// pipewright never sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitActionKind {
    Create,
    Update,
    Delete,
}

/// One file change in a commit (`actions[]` of `POST /repository/commits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitAction {
    pub action: CommitActionKind,
    /// Plain path: the commits API takes it unencoded in the JSON body.
    pub file_path: String,
    /// Text content; `None` for a delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// A commit to send: the target branch, where it starts, and the changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRequest {
    /// The branch that receives the commit (created from `start_branch` when given).
    pub branch: String,
    pub commit_message: String,
    /// Creates `branch` from this branch; leave `None` to commit onto an existing `branch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_branch: Option<String>,
    pub actions: Vec<CommitAction>,
}

/// A commit GitLab made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitResult {
    /// The full commit SHA.
    pub id: String,
    #[serde(default)]
    pub short_id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub web_url: String,
}

/// A pipeline or job status. GitLab adds values over time, so an unknown one is kept as
/// [`PipelineStatus::Unknown`] instead of failing the whole response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PipelineStatus {
    Created,
    WaitingForResource,
    Preparing,
    Pending,
    Running,
    Success,
    Failed,
    Canceling,
    Canceled,
    Skipped,
    Manual,
    Scheduled,
    WaitingForCallback,
    Unknown(String),
}

/// Jobs use the same status vocabulary as pipelines.
pub type JobStatus = PipelineStatus;

/// Every known status with its API spelling (gitlab.md §3.8).
const STATUS_NAMES: &[(&str, PipelineStatus)] = &[
    ("created", PipelineStatus::Created),
    ("waiting_for_resource", PipelineStatus::WaitingForResource),
    ("preparing", PipelineStatus::Preparing),
    ("pending", PipelineStatus::Pending),
    ("running", PipelineStatus::Running),
    ("success", PipelineStatus::Success),
    ("failed", PipelineStatus::Failed),
    ("canceling", PipelineStatus::Canceling),
    ("canceled", PipelineStatus::Canceled),
    ("skipped", PipelineStatus::Skipped),
    ("manual", PipelineStatus::Manual),
    ("scheduled", PipelineStatus::Scheduled),
    ("waiting_for_callback", PipelineStatus::WaitingForCallback),
];

impl PipelineStatus {
    /// Reads the API spelling; anything unknown is kept as [`PipelineStatus::Unknown`].
    pub fn parse(text: &str) -> Self {
        STATUS_NAMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, status)| status.clone())
            .unwrap_or_else(|| PipelineStatus::Unknown(text.to_string()))
    }

    /// The API spelling.
    pub fn as_str(&self) -> &str {
        match self {
            PipelineStatus::Unknown(text) => text,
            known => STATUS_NAMES
                .iter()
                .find(|(_, status)| status == known)
                .map(|(name, _)| *name)
                .unwrap_or("unknown"),
        }
    }

    /// True for the states GitLab never leaves on its own: `success`, `failed`, `canceled`,
    /// `skipped` (`has_status.rb`).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            PipelineStatus::Success
                | PipelineStatus::Failed
                | PipelineStatus::Canceled
                | PipelineStatus::Skipped
        )
    }

    /// True for the states that wait for a person or a clock: `manual`, `scheduled`.
    pub fn is_blocked(&self) -> bool {
        matches!(self, PipelineStatus::Manual | PipelineStatus::Scheduled)
    }
}

impl fmt::Display for PipelineStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PipelineStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PipelineStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PipelineStatus::parse(&String::deserialize(d)?))
    }
}

impl TreeEntryKind {
    fn as_str(&self) -> &str {
        match self {
            TreeEntryKind::Blob => "blob",
            TreeEntryKind::Tree => "tree",
            TreeEntryKind::Submodule => "commit",
            TreeEntryKind::Unknown(text) => text,
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "blob" => TreeEntryKind::Blob,
            "tree" => TreeEntryKind::Tree,
            "commit" => TreeEntryKind::Submodule,
            other => TreeEntryKind::Unknown(other.to_string()),
        }
    }
}

impl Serialize for TreeEntryKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TreeEntryKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(TreeEntryKind::parse(&String::deserialize(d)?))
    }
}

/// A pipeline (`GET /projects/:id/pipelines[/:pipeline_id]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pipeline {
    pub id: u64,
    #[serde(default)]
    pub iid: Option<u64>,
    pub project_id: u64,
    pub status: PipelineStatus,
    /// The branch or tag (`ref` in the API).
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub sha: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub web_url: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A job of a pipeline (`GET /projects/:id/pipelines/:pipeline_id/jobs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    pub name: String,
    pub stage: String,
    pub status: JobStatus,
    /// GitLab's own classification of a failure (`script_failure`, `stuck_or_timeout_failure` …).
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub allow_failure: bool,
    #[serde(default)]
    pub web_url: String,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Seconds.
    #[serde(default)]
    pub duration: Option<f64>,
}

/// A project webhook (`GET /projects/:id/hooks`); the token is never read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectHook {
    pub id: u64,
    pub url: String,
    #[serde(default)]
    pub pipeline_events: bool,
    #[serde(default)]
    pub push_events: bool,
}

/// A project webhook to create: pipeline events only, with the secret GitLab sends back as
/// `X-Gitlab-Token`. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct NewProjectHook {
    pub url: String,
    pub token: String,
    pub pipeline_events: bool,
    pub push_events: bool,
    pub enable_ssl_verification: bool,
}

impl fmt::Debug for NewProjectHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewProjectHook")
            .field("url", &self.url)
            .field("token", &"***")
            .field("pipeline_events", &self.pipeline_events)
            .finish()
    }
}

/// A job's log, or its last part when it was longer than asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTrace {
    /// The log (lossy UTF-8), ANSI codes and section markers included.
    pub text: String,
    /// True when the beginning was dropped to stay within the limit (the end is what explains
    /// a failure).
    pub truncated: bool,
}

/// The answer of CI Lint (`POST /projects/:id/ci/lint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintResult {
    pub valid: bool,
    #[serde(default)]
    pub errors: Vec<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub merged_yaml: Option<String>,
}

/// A raw file, or the news that it is larger than the caller wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawFile {
    Bytes(Vec<u8>),
    /// Not downloaded past the limit; `size` is GitLab's announced length, or the bytes seen
    /// when it announced none.
    TooLarge {
        size: u64,
    },
}

/// Why a GitLab call failed. Messages name the call (`what`: the operation with its project,
/// ref or path) and say what to do; none of them ever holds the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GitLabError {
    #[error("{what}: GitLab answered 404 Not Found ({message}); check that the project, ref and path exist and that the token's user is a member of the project")]
    NotFound { what: String, message: String },
    #[error("{what}: GitLab refused the token ({message}); set GITLAB_TOKEN to a valid, unexpired access token with the `api` scope")]
    Unauthorized { what: String, message: String },
    #[error("{what}: GitLab answered 403 Forbidden ({message}); the token's user needs at least the Developer role on the project and the token the `api` scope")]
    Forbidden { what: String, message: String },
    #[error("{what}: GitLab rejected the request with 400 Bad Request: {message}{hint}")]
    BadRequest {
        what: String,
        message: String,
        /// Advice for the messages pipewright knows, empty otherwise.
        hint: String,
    },
    #[error("{what}: GitLab answered 409 Conflict ({message}); someone changed the same thing at the same time, read it again and retry")]
    Conflict { what: String, message: String },
    #[error("{what}: GitLab is rate limiting this token{}; wait and try again, or raise the limit for this user", wait_text(*.retry_after))]
    RateLimited {
        what: String,
        /// How long GitLab asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    #[error("{what}: GitLab answered {status} ({message}) after {attempts} attempt(s); it is failing or overloaded, try again later{}", write_note(*.may_have_applied))]
    Server {
        what: String,
        status: u16,
        message: String,
        attempts: u32,
        /// True for a write that may have been carried out before the failure.
        may_have_applied: bool,
    },
    #[error("{what}: no answer within {} s (after {attempts} attempt(s)); check that GITLAB_URL answers, or raise the time limit{}", seconds_text(*.limit), write_note(*.may_have_applied))]
    Timeout {
        what: String,
        /// The time limit of one attempt.
        limit: Duration,
        attempts: u32,
        may_have_applied: bool,
    },
    #[error(
        "{what}: GitLab at {url} cannot be reached ({reason}); check GITLAB_URL and the network"
    )]
    Unreachable {
        what: String,
        url: String,
        reason: String,
    },
    #[error("`{url}` is refused: {reason}")]
    Refused { url: String, reason: String },
    #[error("{what}: GitLab answered {status} ({message})")]
    Http {
        what: String,
        status: u16,
        message: String,
    },
    #[error("{what}: GitLab's answer could not be read ({reason}); check that GITLAB_URL points at GitLab itself, not a proxy or login page")]
    InvalidResponse { what: String, reason: String },
    #[error("GitLab is not configured: {0}")]
    Config(String),
}

fn wait_text(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(" (it asked to wait {} s)", d.as_secs().max(1)),
        None => String::new(),
    }
}

fn seconds_text(d: Duration) -> String {
    let text = format!("{:.1}", d.as_secs_f64());
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

fn write_note(may_have_applied: bool) -> &'static str {
    if may_have_applied {
        "; the change may or may not have been made, so look at the branch before sending it again"
    } else {
        ""
    }
}

impl GitLabError {
    /// True when the token itself was refused: nothing else will work until it is replaced.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            GitLabError::Unauthorized { .. } | GitLabError::Forbidden { .. }
        )
    }
}

impl From<GitLabError> for crate::source::SourceError {
    fn from(e: GitLabError) -> Self {
        crate::source::SourceError::Other(e.to_string())
    }
}

/// The GitLab operations pipewright uses. Implemented over HTTP by
/// `pipewright_adapters::gitlab::GitLabClient`; every method names what failed in its error.
#[async_trait]
pub trait GitLab: Send + Sync {
    /// Looks a project up by id or path.
    async fn project(&self, project: &ProjectRef) -> Result<Project, GitLabError>;

    /// Every entry of the tree at `reference` (the default branch when `None`), recursively,
    /// all pages followed.
    async fn tree(
        &self,
        project: &ProjectRef,
        reference: Option<&str>,
    ) -> Result<Vec<TreeEntry>, GitLabError>;

    /// The raw bytes of one file, at most `max_bytes` of them.
    async fn raw_file(
        &self,
        project: &ProjectRef,
        path: &str,
        reference: &str,
        max_bytes: u64,
    ) -> Result<RawFile, GitLabError>;

    /// True when `path` exists at `reference` (a cheap `HEAD`).
    async fn file_exists(
        &self,
        project: &ProjectRef,
        path: &str,
        reference: &str,
    ) -> Result<bool, GitLabError>;

    /// Looks a branch up by name; `None` when the project has no such branch.
    async fn branch(&self, project: &ProjectRef, name: &str)
        -> Result<Option<Branch>, GitLabError>;

    /// Creates `branch` from `from_ref` (a branch, tag or SHA).
    async fn create_branch(
        &self,
        project: &ProjectRef,
        branch: &str,
        from_ref: &str,
    ) -> Result<Branch, GitLabError>;

    /// Sends one commit with exactly the given actions.
    async fn commit(
        &self,
        project: &ProjectRef,
        request: &CommitRequest,
    ) -> Result<CommitResult, GitLabError>;

    /// Pipelines of commit `sha` (optionally on `git_ref` only), newest first.
    async fn pipelines_for_sha(
        &self,
        project: &ProjectRef,
        sha: &str,
        git_ref: Option<&str>,
    ) -> Result<Vec<Pipeline>, GitLabError>;

    /// One pipeline.
    async fn pipeline(
        &self,
        project: &ProjectRef,
        pipeline_id: u64,
    ) -> Result<Pipeline, GitLabError>;

    /// The jobs of a pipeline; retried attempts too when `include_retried`.
    async fn pipeline_jobs(
        &self,
        project: &ProjectRef,
        pipeline_id: u64,
        include_retried: bool,
    ) -> Result<Vec<Job>, GitLabError>;

    /// A job's log, its last `max_bytes` when longer.
    async fn job_trace(
        &self,
        project: &ProjectRef,
        job_id: u64,
        max_bytes: u64,
    ) -> Result<JobTrace, GitLabError>;

    /// Retries a finished job unchanged (`POST /projects/:id/jobs/:job_id/retry`): GitLab
    /// creates a new job with the same name in the same pipeline and answers it; the old one
    /// is then listed only with `include_retried`. A job that is not retryable (running,
    /// or its pipeline archived) is refused with 403.
    async fn retry_job(&self, project: &ProjectRef, job_id: u64) -> Result<Job, GitLabError>;

    /// The project's webhooks, all pages.
    async fn project_hooks(&self, project: &ProjectRef) -> Result<Vec<ProjectHook>, GitLabError>;

    /// Adds a webhook to the project.
    async fn create_project_hook(
        &self,
        project: &ProjectRef,
        hook: &NewProjectHook,
    ) -> Result<ProjectHook, GitLabError>;

    /// Checks a `.gitlab-ci.yml` text in the project's context with CI Lint.
    async fn lint(&self, project: &ProjectRef, content: &str) -> Result<LintResult, GitLabError>;

    /// One action per file: `update` when it exists at `reference`, `create` otherwise (a
    /// `create` of an existing file fails the whole commit).
    async fn plan_actions(
        &self,
        project: &ProjectRef,
        reference: &str,
        files: &[(String, String)],
    ) -> Result<Vec<CommitAction>, GitLabError> {
        let mut actions = Vec::with_capacity(files.len());
        for (path, content) in files {
            let action = if self.file_exists(project, path, reference).await? {
                CommitActionKind::Update
            } else {
                CommitActionKind::Create
            };
            actions.push(CommitAction {
                action,
                file_path: path.clone(),
                content: Some(content.clone()),
            });
        }
        Ok(actions)
    }

    /// Commits `files` (path, text) to `branch` in one commit, each as `update` when it
    /// already exists where the commit starts and `create` otherwise: a `create` of an
    /// existing file fails the whole commit with "A file with this name already exists".
    ///
    /// With `start_branch` (different from `branch`), the commit creates `branch` from it;
    /// with `None`, `branch` must exist.
    async fn commit_files(
        &self,
        project: &ProjectRef,
        branch: &str,
        start_branch: Option<&str>,
        message: &str,
        files: &[(String, String)],
    ) -> Result<CommitResult, GitLabError> {
        let start_branch = start_branch.filter(|start| *start != branch);
        let actions = self
            .plan_actions(project, start_branch.unwrap_or(branch), files)
            .await?;
        let request = CommitRequest {
            branch: branch.to_string(),
            commit_message: message.to_string(),
            start_branch: start_branch.map(str::to_string),
            actions,
        };
        self.commit(project, &request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_status_round_trips_and_unknown_ones_are_kept() {
        for (name, status) in STATUS_NAMES {
            assert_eq!(&PipelineStatus::parse(name), status);
            assert_eq!(status.as_str(), *name);
        }
        let odd = PipelineStatus::parse("paused_by_admin");
        assert_eq!(odd, PipelineStatus::Unknown("paused_by_admin".into()));
        assert_eq!(odd.as_str(), "paused_by_admin");
        assert!(!odd.is_terminal());
    }

    #[test]
    fn terminal_and_blocked_states_follow_has_status() {
        let terminal: Vec<&str> = STATUS_NAMES
            .iter()
            .filter(|(_, s)| s.is_terminal())
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(terminal, ["success", "failed", "canceled", "skipped"]);
        assert!(PipelineStatus::Manual.is_blocked());
        assert!(!PipelineStatus::Running.is_blocked());
    }

    #[test]
    fn records_read_gitlab_json() {
        let p: Pipeline = serde_json::from_str(
            r#"{"id":7,"iid":2,"project_id":1,"status":"canceling","ref":"main","sha":"abc",
                "source":"push","web_url":"http://x/p/-/pipelines/7","extra":true}"#,
        )
        .unwrap();
        assert_eq!(p.status, PipelineStatus::Canceling);
        assert_eq!(p.git_ref, "main");
        let e: TreeEntry = serde_json::from_str(
            r#"{"id":"a1","name":"lib","type":"commit","path":"vendor/lib","mode":"160000"}"#,
        )
        .unwrap();
        assert_eq!(e.kind, TreeEntryKind::Submodule);
    }

    #[test]
    fn a_number_names_a_project_by_id_and_anything_else_by_path() {
        assert_eq!(ProjectRef::from("42"), ProjectRef::Id(42));
        assert_eq!(
            ProjectRef::from("/g/sub/p/"),
            ProjectRef::Path("g/sub/p".into())
        );
    }
}
