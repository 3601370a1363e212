//! A faithful fake GitLab for tests (feature `test-support`): a real HTTP server on
//! 127.0.0.1 that answers the REST API v4 routes pipewright uses the way GitLab documents
//! them (`shared/research/gitlab.md` §3), error codes and messages included.
//!
//! What it follows: `PRIVATE-TOKEN` (or `Authorization: Bearer`) on every call, else
//! `401 {"message":"401 Unauthorized"}`; project ids as numbers or encoded paths, and 404 for
//! a path with a raw `/`; the recursive tree with keyset pagination (`Link: rel="next"` with
//! `page_token`) and offset pagination (`x-next-page` …); raw and base64 file reads and
//! `HEAD` with `X-Gitlab-*` headers; branches; commits with `create|update|delete|move|chmod`
//! actions, atomic, with GitLab's 400s ("A file with this name already exists" …); a pipeline
//! per commit that holds a `.gitlab-ci.yml`; pipeline jobs with `include_retried`; job traces
//! as text; CI Lint.
//!
//! What tests get: [`FakeGitLab::requests`] (every request, token left out) and
//! [`FakeGitLab::commits`] to assert on what was sent, [`FakeGitLab::files`] to read a
//! branch back, fault injection ([`Fault`]: 429 with `Retry-After`/`RateLimit-Reset`, 5xx
//! bursts, delays, per route or global), and knobs for pipelines and jobs.
//!
//! This file holds the state and the test-facing API; `routes.rs` the HTTP side (one handler
//! per GitLab route), `lint.rs` the CI Lint rules.
//!
//! ```no_run
//! # async fn demo() {
//! use pipewright_adapters::fake_gitlab::{FakeGitLab, FAKE_TOKEN};
//! let gitlab = FakeGitLab::start().await.unwrap();
//! let id = gitlab.add_project("team/app", &[("app.py", "print(1)\n")]);
//! // point a client at gitlab.url() with FAKE_TOKEN …
//! assert_eq!(gitlab.files(id, "main").unwrap()["app.py"], "print(1)\n");
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod lint;
mod pipelines;
mod routes;

pub use pipelines::{Delivery, FakeHook, JobOutcome, PipelineScript};
use routes::router;

/// The only token the fake accepts.
pub const FAKE_TOKEN: &str = "glpat-FAKE-token-0123456789";

/// Requests bodies larger than this are refused (413), as a proxy in front of GitLab would.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One request as the fake received it. The token is never kept; `authenticated` says
/// whether it was right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The path as sent, still percent-encoded.
    pub path: String,
    pub query: Option<String>,
    /// `content-type`, `accept`, `user-agent` when sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub authenticated: bool,
}

impl RecordedRequest {
    /// A decoded query parameter.
    pub fn query_param(&self, key: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }
}

/// One action of a commit the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedAction {
    pub action: String,
    pub file_path: String,
    pub content: Option<String>,
}

/// A commit the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCommit {
    pub project_id: u64,
    pub sha: String,
    pub branch: String,
    pub start_branch: Option<String>,
    pub message: String,
    pub actions: Vec<RecordedAction>,
}

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 `Retry later`, with `Retry-After` as given (seconds or an HTTP date) and/or
    /// `RateLimit-Reset` at now + the duration.
    RateLimited {
        retry_after: Option<String>,
        reset_in: Option<Duration>,
    },
    /// This status with GitLab's body for it (JSON for 500, a proxy's HTML for 502–504).
    Status(u16),
    /// Waits this long, then answers normally.
    Delay(Duration),
    /// Handles the request at once (a commit is made), then waits this long before answering:
    /// GitLab acted but its answer is late, as when the client dies or gives up meanwhile.
    DelayAnswer(Duration),
}

/// A fault for the next `times` matching requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub times: u32,
    /// Only requests with this method (`"GET"` …), when set.
    pub method: Option<String>,
    /// Only requests whose raw path contains this, when set.
    pub path_contains: Option<String>,
}

impl Fault {
    /// A fault on any request.
    pub fn new(kind: FaultKind, times: u32) -> Self {
        Fault {
            kind,
            times,
            method: None,
            path_contains: None,
        }
    }

    /// Limits the fault to paths containing `fragment` (raw, e.g. `"/repository/tree"`).
    pub fn on_path(mut self, fragment: &str) -> Self {
        self.path_contains = Some(fragment.to_string());
        self
    }

    /// Limits the fault to one method.
    pub fn on_method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.times > 0
            && self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
    }
}

/// A job of a fake pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeJob {
    pub id: u64,
    pub name: String,
    pub stage: String,
    pub status: String,
    pub failure_reason: Option<String>,
    pub allow_failure: bool,
    /// A retried attempt: listed only with `include_retried=true`.
    pub retried: bool,
    /// The log; `None` answers 404 like a job that never ran.
    pub trace: Option<String>,
    /// `on_success`, `on_failure`, `always`, `manual` (from the committed file).
    pub when: String,
}

impl FakeJob {
    /// A job (its id is given when it is added).
    pub fn new(name: &str, stage: &str, status: &str) -> Self {
        FakeJob {
            id: 0,
            name: name.to_string(),
            stage: stage.to_string(),
            status: status.to_string(),
            failure_reason: None,
            allow_failure: false,
            retried: false,
            trace: None,
            when: "on_success".into(),
        }
    }

    pub fn failure_reason(mut self, reason: &str) -> Self {
        self.failure_reason = Some(reason.to_string());
        self
    }

    pub fn trace(mut self, text: &str) -> Self {
        self.trace = Some(text.to_string());
        self
    }

    pub fn retried(mut self) -> Self {
        self.retried = true;
        self
    }

    pub fn allow_failure(mut self) -> Self {
        self.allow_failure = true;
        self
    }
}

/// A fake pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePipeline {
    pub id: u64,
    pub iid: u64,
    pub project_id: u64,
    pub sha: String,
    pub git_ref: String,
    pub status: String,
    pub source: String,
    pub jobs: Vec<FakeJob>,
    pub created_at: String,
    pub created: SystemTime,
    pub started_at: Option<SystemTime>,
    pub finished_at: Option<SystemTime>,
}

/// One commit's full tree (the fake keeps every version, so any SHA can be read).
#[derive(Debug, Clone)]
struct Snapshot {
    parent: Option<String>,
    message: String,
    files: BTreeMap<String, String>,
    created_at: String,
}

#[derive(Debug)]
struct ProjectState {
    id: u64,
    path: String,
    default_branch: Option<String>,
    branches: BTreeMap<String, String>,
    commits: HashMap<String, Snapshot>,
    next_iid: u64,
}

impl ProjectState {
    /// The SHA a ref names: `HEAD` or nothing (the default branch), a branch, a full SHA or
    /// an unambiguous prefix of 7 or more characters.
    fn resolve(&self, reference: Option<&str>) -> Option<String> {
        let reference = match reference {
            None | Some("HEAD") => self.default_branch.as_deref()?,
            Some(r) => r,
        };
        if let Some(sha) = self.branches.get(reference) {
            return Some(sha.clone());
        }
        if reference.len() >= 7 && reference.chars().all(|c| c.is_ascii_hexdigit()) {
            let mut found = self.commits.keys().filter(|sha| sha.starts_with(reference));
            if let (Some(sha), None) = (found.next(), found.next()) {
                return Some(sha.clone());
            }
        }
        None
    }

    fn snapshot(&self, reference: Option<&str>) -> Option<(String, &Snapshot)> {
        let sha = self.resolve(reference)?;
        let snapshot = self.commits.get(&sha)?;
        Some((sha, snapshot))
    }
}

#[derive(Debug, Default)]
struct State {
    projects: Vec<ProjectState>,
    pipelines: Vec<FakePipeline>,
    next_project_id: u64,
    next_pipeline_id: u64,
    next_job_id: u64,
    requests: Vec<RecordedRequest>,
    commits: Vec<RecordedCommit>,
    faults: Vec<Fault>,
    /// Project-context lint errors: content containing the first text gets the second as
    /// an error (what CI Lint knows and pipewright cannot: missing includes, runner tags …).
    lint_rules: Vec<(String, String)>,
    /// How each project's pipelines run (by project id).
    scripts: HashMap<u64, PipelineScript>,
    hooks: Vec<FakeHook>,
    next_hook_id: u64,
    deliveries: Vec<Delivery>,
    event_counter: u64,
}

impl State {
    fn project(&self, id: &str) -> Option<&ProjectState> {
        match id.parse::<u64>() {
            Ok(n) => self.projects.iter().find(|p| p.id == n),
            Err(_) => self
                .projects
                .iter()
                .find(|p| p.path.eq_ignore_ascii_case(id)),
        }
    }

    fn project_mut(&mut self, id: &str) -> Option<&mut ProjectState> {
        match id.parse::<u64>() {
            Ok(n) => self.projects.iter_mut().find(|p| p.id == n),
            Err(_) => self
                .projects
                .iter_mut()
                .find(|p| p.path.eq_ignore_ascii_case(id)),
        }
    }
}

struct Shared {
    state: Mutex<State>,
    base_url: String,
}

impl Shared {
    /// Moves a pipeline on by one step and delivers its webhooks (in order, awaited).
    async fn step_pipeline(self: &Arc<Self>, pipeline_id: u64) -> Option<String> {
        let (status, queued) = {
            let mut state = self.lock();
            if !pipelines::advance(&mut state, pipeline_id) {
                return None;
            }
            let queued = pipelines::queue_deliveries(self, &mut state, pipeline_id);
            let status = state
                .pipelines
                .iter()
                .find(|p| p.id == pipeline_id)
                .map(|p| p.status.clone());
            (status, queued)
        };
        pipelines::send(self.clone(), queued).await;
        status
    }

    /// Runs a pipeline on its project's clock until it is final.
    fn drive(self: &Arc<Self>, pipeline_id: u64, step: Duration) {
        let shared = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(step).await;
                match shared.step_pipeline(pipeline_id).await {
                    Some(s)
                        if ["success", "failed", "canceled", "skipped"].contains(&s.as_str()) =>
                    {
                        break
                    }
                    Some(_) => {}
                    None => break,
                }
            }
        });
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock must not hide its own failure behind
        // a poisoned-lock panic in the server.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Stops the server when the last handle is dropped.
struct ServerTask(tokio::task::JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A running fake GitLab. Clones share the same server and state.
#[derive(Clone)]
pub struct FakeGitLab {
    shared: Arc<Shared>,
    _task: Arc<ServerTask>,
}

impl std::fmt::Debug for FakeGitLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGitLab")
            .field("url", &self.shared.base_url)
            .finish()
    }
}

type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

impl FakeGitLab {
    /// Starts the server on a free port of 127.0.0.1, on the current tokio runtime.
    pub async fn start() -> std::io::Result<FakeGitLab> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                next_project_id: 1,
                next_pipeline_id: 1000,
                next_job_id: 5000,
                next_hook_id: 1,
                ..State::default()
            }),
            base_url: format!("http://{addr}"),
        });
        let app = router(shared.clone());
        let task = tokio::spawn(async move {
            // The server ends when the test drops the fake; an accept error ends it too,
            // and the test then sees connection errors.
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeGitLab {
            shared,
            _task: Arc::new(ServerTask(task)),
        })
    }

    /// The address to use as `GITLAB_URL` (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Adds a project with `files` committed on `main`; no files makes an empty repository
    /// (no default branch). Returns its id.
    pub fn add_project(&self, path: &str, files: &[(&str, &str)]) -> u64 {
        let mut state = self.shared.lock();
        let id = state.next_project_id;
        state.next_project_id += 1;
        let mut project = ProjectState {
            id,
            path: path.trim_matches('/').to_string(),
            default_branch: None,
            branches: BTreeMap::new(),
            commits: HashMap::new(),
            next_iid: 1,
        };
        if !files.is_empty() {
            let files: BTreeMap<String, String> = files
                .iter()
                .map(|(p, c)| (p.to_string(), c.to_string()))
                .collect();
            let snapshot = Snapshot {
                parent: None,
                message: "Initial commit".into(),
                files,
                created_at: now_iso(),
            };
            let sha = commit_sha(&snapshot);
            project.commits.insert(sha.clone(), snapshot);
            project.branches.insert("main".into(), sha);
            project.default_branch = Some("main".into());
        }
        state.projects.push(project);
        id
    }

    /// Adds `branch` at the head of `from` (a branch or SHA). False when `from` is unknown.
    pub fn add_branch(&self, project_id: u64, branch: &str, from: &str) -> bool {
        let mut state = self.shared.lock();
        let Some(project) = state.project_mut(&project_id.to_string()) else {
            return false;
        };
        let Some(sha) = project.resolve(Some(from)) else {
            return false;
        };
        project.branches.insert(branch.to_string(), sha);
        true
    }

    /// The files at `reference` (a branch or SHA), or `None` when it does not exist.
    pub fn files(&self, project_id: u64, reference: &str) -> Option<BTreeMap<String, String>> {
        let state = self.shared.lock();
        let project = state.project(&project_id.to_string())?;
        project
            .snapshot(Some(reference))
            .map(|(_, s)| s.files.clone())
    }

    /// The SHA a branch points at.
    pub fn branch_head(&self, project_id: u64, branch: &str) -> Option<String> {
        let state = self.shared.lock();
        state
            .project(&project_id.to_string())?
            .branches
            .get(branch)
            .cloned()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Every commit accepted so far, in order.
    pub fn commits(&self) -> Vec<RecordedCommit> {
        self.shared.lock().commits.clone()
    }

    /// A client configuration for this fake with `token` and short waits, so that retries
    /// cost milliseconds: 5 s per call, 1 s to connect, 4 retries from 10 ms.
    pub fn client_config(&self, token: &str) -> crate::gitlab::GitLabConfig {
        use crate::gitlab::{GitLabConfig, GitLabToken, RetryPolicy};
        let mut config = GitLabConfig::new(self.url(), GitLabToken::new(token));
        config.timeout = Duration::from_secs(5);
        config.connect_timeout = Duration::from_secs(1);
        config.retry = RetryPolicy {
            max_retries: 4,
            base_delay: Duration::from_millis(10),
            max_wait: Duration::from_secs(5),
        };
        config
    }

    /// Makes CI Lint reject any pipeline containing `needle` with `error`, the way GitLab
    /// rejects what only the project's context reveals (an include that does not exist, a
    /// job that needs a runner tag nobody has).
    pub fn reject_lint(&self, needle: &str, error: &str) {
        self.shared
            .lock()
            .lint_rules
            .push((needle.to_string(), error.to_string()));
    }

    /// Arms a fault; faults are matched in the order they were added.
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Every pipeline of a project, oldest first.
    pub fn pipelines(&self, project_id: u64) -> Vec<FakePipeline> {
        self.shared
            .lock()
            .pipelines
            .iter()
            .filter(|p| p.project_id == project_id)
            .cloned()
            .collect()
    }

    /// Adds a pipeline for `git_ref` at its current head (as a push would). Returns its id.
    pub fn add_pipeline(&self, project_id: u64, git_ref: &str, status: &str) -> Option<u64> {
        let mut state = self.shared.lock();
        let sha = state
            .project(&project_id.to_string())?
            .resolve(Some(git_ref))?;
        Some(create_pipeline(
            &mut state, project_id, &sha, git_ref, status,
        ))
    }

    /// Sets how the project's future pipelines run: their jobs come from the committed
    /// `.gitlab-ci.yml`, each ends as `script` says, and with `script.step` they move on by
    /// themselves.
    pub fn script_pipelines(&self, project_id: u64, script: PipelineScript) {
        self.shared.lock().scripts.insert(project_id, script);
    }

    /// Moves a pipeline on by one step (`created` → `pending` → `running`, one stage per
    /// step, then final) and delivers its webhooks. The new status, or `None` when it was
    /// already final or does not exist.
    pub async fn advance_pipeline(&self, pipeline_id: u64) -> Option<String> {
        self.shared.step_pipeline(pipeline_id).await
    }

    /// Advances a pipeline until it is final; its final status.
    pub async fn finish_pipeline(&self, pipeline_id: u64) -> Option<String> {
        let mut last = None;
        while let Some(status) = self.advance_pipeline(pipeline_id).await {
            last = Some(status);
        }
        last
    }

    /// Adds a project hook as `POST /projects/:id/hooks` would; returns its id.
    pub fn add_hook(&self, project_id: u64, url: &str, token: Option<&str>) -> u64 {
        let mut state = self.shared.lock();
        add_hook(&mut state, project_id, url, token, true, false)
    }

    /// Every project hook.
    pub fn hooks(&self) -> Vec<FakeHook> {
        self.shared.lock().hooks.clone()
    }

    /// Every webhook delivery made so far, in order, with the receiver's answer.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().deliveries.clone()
    }

    /// Sends delivery `index` again, unchanged (same `Idempotency-Key` and event UUID), as
    /// GitLab does on a retry; its answer is recorded as a new delivery.
    pub async fn redeliver(&self, index: usize) -> Option<u16> {
        let copy = {
            let mut state = self.shared.lock();
            let mut d = state.deliveries.get(index)?.clone();
            d.status = None;
            d.elapsed = None;
            state.deliveries.push(d);
            state.deliveries.len() - 1
        };
        pipelines::send(self.shared.clone(), vec![copy]).await;
        self.shared.lock().deliveries.get(copy)?.status
    }

    /// Sets a pipeline's status. False when there is no such pipeline.
    pub fn set_pipeline_status(&self, pipeline_id: u64, status: &str) -> bool {
        let mut state = self.shared.lock();
        match state.pipelines.iter_mut().find(|p| p.id == pipeline_id) {
            Some(p) => {
                p.status = status.to_string();
                true
            }
            None => false,
        }
    }

    /// Adds a job to a pipeline and returns the job's id.
    pub fn add_job(&self, pipeline_id: u64, mut job: FakeJob) -> Option<u64> {
        let mut state = self.shared.lock();
        let id = state.next_job_id;
        let pipeline = state.pipelines.iter_mut().find(|p| p.id == pipeline_id)?;
        job.id = id;
        pipeline.jobs.push(job);
        state.next_job_id += 1;
        Some(id)
    }

    /// Sets a job's status and failure reason. False when there is no such job.
    pub fn set_job_status(&self, job_id: u64, status: &str, failure_reason: Option<&str>) -> bool {
        let mut state = self.shared.lock();
        let job = state
            .pipelines
            .iter_mut()
            .flat_map(|p| p.jobs.iter_mut())
            .find(|j| j.id == job_id);
        match job {
            Some(job) => {
                job.status = status.to_string();
                job.failure_reason = failure_reason.map(str::to_string);
                true
            }
            None => false,
        }
    }
}

fn add_hook(
    state: &mut State,
    project_id: u64,
    url: &str,
    token: Option<&str>,
    pipeline_events: bool,
    push_events: bool,
) -> u64 {
    let id = state.next_hook_id;
    state.next_hook_id += 1;
    state.hooks.push(FakeHook {
        id,
        project_id,
        url: url.to_string(),
        token: token.map(str::to_string),
        pipeline_events,
        push_events,
        uuid: pipelines::uuid_like(&["hook", &id.to_string(), &pipelines::now_nanos()]),
    });
    id
}

/// Records a pipeline for `sha` on `git_ref` (ids are global, `iid`s per project).
fn create_pipeline(
    state: &mut State,
    project_id: u64,
    sha: &str,
    git_ref: &str,
    status: &str,
) -> u64 {
    let id = state.next_pipeline_id;
    state.next_pipeline_id += 1;
    let iid = match state.projects.iter_mut().find(|p| p.id == project_id) {
        Some(p) => {
            p.next_iid += 1;
            p.next_iid - 1
        }
        None => 1,
    };
    state.pipelines.push(FakePipeline {
        id,
        iid,
        project_id,
        sha: sha.to_string(),
        git_ref: git_ref.to_string(),
        status: status.to_string(),
        source: "push".into(),
        jobs: Vec::new(),
        created_at: now_iso(),
        created: SystemTime::now(),
        started_at: None,
        finished_at: None,
    });
    id
}

/// A 40-hex-digit id derived from `parts` (stable within a build, like a SHA).
fn hex_id(parts: &[&str]) -> String {
    let mut out = String::with_capacity(48);
    for round in 0u8..3 {
        let mut hasher = DefaultHasher::new();
        round.hash(&mut hasher);
        parts.hash(&mut hasher);
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out.truncate(40);
    out
}

/// A commit's SHA: its parent, message, time and every file.
fn commit_sha(snapshot: &Snapshot) -> String {
    let mut parts: Vec<&str> = vec![
        snapshot.parent.as_deref().unwrap_or(""),
        &snapshot.message,
        &snapshot.created_at,
    ];
    for (path, content) in &snapshot.files {
        parts.push(path);
        parts.push(content);
    }
    hex_id(&parts)
}

/// Now as GitLab writes times in the REST API (`2026-05-01T12:00:00.123Z`).
fn now_iso() -> String {
    iso_at(SystemTime::now())
}

/// A time as GitLab writes times in the REST API.
fn iso_at(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_have_gitlab_shape() {
        let t = now_iso();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }
}
