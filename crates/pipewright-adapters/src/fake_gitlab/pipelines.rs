//! Scripted pipelines and pipeline webhooks of the fake GitLab.
//!
//! A commit holding a `.gitlab-ci.yml` gets a pipeline with one job per job of that file, in
//! the file's stages (GitLab's defaults when it names none). The pipeline then moves the way
//! GitLab's does: `created` → `pending` → `running` stage by stage → a final status, each job
//! ending as the project's [`PipelineScript`] says (success unless told otherwise). After a
//! failed job, later `on_success` jobs are `skipped` and `when: on_failure` jobs run; in a
//! green pipeline `on_failure` jobs are `skipped`. A `manual` job does not block the
//! pipeline (GitLab's manual jobs allow failure), which still ends `success`.
//!
//! Every status change is delivered to the project's hooks with pipeline events, with
//! GitLab's documented payload (`object_kind: "pipeline"`, `object_attributes`, `builds` …,
//! times as `2016-08-12 15:23:28 UTC`) and headers (`X-Gitlab-Event: Pipeline Hook`,
//! `X-Gitlab-Token`, `X-Gitlab-Event-UUID`, `X-Gitlab-Webhook-UUID`, `Idempotency-Key`,
//! `X-Gitlab-Instance`, `User-Agent: GitLab/…`).

use super::{hex_id, FakeJob, FakePipeline, Shared, State};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How one job of a scripted pipeline ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Success,
    /// `failed` with this `failure_reason` and log.
    Failed {
        reason: String,
        trace: String,
    },
    Skipped,
    Manual,
    Canceled,
}

/// How a project's pipelines run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PipelineScript {
    /// Outcomes by job name; jobs not named succeed.
    pub outcomes: BTreeMap<String, JobOutcome>,
    /// Moves every pipeline on by one step this often; `None`: only
    /// [`super::FakeGitLab::advance_pipeline`] moves it.
    pub step: Option<Duration>,
    /// Job name → a text whose presence in the pipeline's committed files makes the job
    /// succeed whatever `outcomes` says (a failure that a change to a file fixes).
    pub fixed_by: BTreeMap<String, String>,
    /// Job name → failures in order, each with the text that fixes it: the job fails with
    /// the first one whose text the committed files lack, and succeeds when all are fixed.
    pub failures: BTreeMap<String, Vec<(JobOutcome, String)>>,
    /// Job name → how many of its runs in one pipeline fail as `outcomes` says; later runs
    /// (retries through `POST /jobs/:id/retry`) succeed: a flaky job.
    pub flaky: BTreeMap<String, u32>,
}

impl PipelineScript {
    /// Every job succeeds, one step each `step`.
    pub fn every(step: Duration) -> Self {
        PipelineScript {
            outcomes: BTreeMap::new(),
            step: Some(step),
            fixed_by: BTreeMap::new(),
            flaky: BTreeMap::new(),
            failures: BTreeMap::new(),
        }
    }

    /// Pipelines move only when the test says.
    pub fn by_hand() -> Self {
        PipelineScript::default()
    }

    /// The job named `name` ends with `outcome`.
    pub fn job(mut self, name: &str, outcome: JobOutcome) -> Self {
        self.outcomes.insert(name.to_string(), outcome);
        self
    }

    /// The job named `name` fails (as its outcome says) in its first `failures` runs of a
    /// pipeline and succeeds when retried after that.
    pub fn flaky(mut self, name: &str, failures: u32) -> Self {
        self.flaky.insert(name.to_string(), failures);
        self
    }

    /// The job named `name` fails with each outcome in turn until the committed files hold
    /// its text (one failure after another, each fixed by its own change).
    pub fn failures(mut self, name: &str, failures: Vec<(JobOutcome, String)>) -> Self {
        self.failures.insert(name.to_string(), failures);
        self
    }

    /// The job named `name` succeeds in pipelines whose committed files contain `text`.
    pub fn fixed_by(mut self, name: &str, text: &str) -> Self {
        self.fixed_by.insert(name.to_string(), text.to_string());
        self
    }
}

/// A project webhook of the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeHook {
    pub id: u64,
    pub project_id: u64,
    pub url: String,
    pub token: Option<String>,
    pub pipeline_events: bool,
    pub push_events: bool,
    /// `X-Gitlab-Webhook-UUID`.
    pub uuid: String,
}

/// One webhook delivery the fake made (or is making).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub hook_id: u64,
    pub url: String,
    /// Header name → value, as sent.
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// The receiver's status; `None` until it answered (or when it could not be reached).
    pub status: Option<u16>,
    /// How long the receiver took to answer.
    pub elapsed: Option<Duration>,
}

impl Delivery {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// GitLab's stages when a file names none.
const DEFAULT_STAGES: &[&str] = &[".pre", "build", "test", "deploy", ".post"];
/// Top-level keys of `.gitlab-ci.yml` that are not jobs.
const RESERVED: &[&str] = &[
    "stages",
    "variables",
    "default",
    "include",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "types",
    "pages:deploy",
];

/// A job of the file: name, stage, `when`, `allow_failure`.
struct DeclaredJob {
    name: String,
    stage: String,
    when: String,
    allow_failure: bool,
}

/// The jobs a `.gitlab-ci.yml` declares, ordered by stage (then by name, as GitLab lists).
fn declared_jobs(ci: &str) -> Vec<DeclaredJob> {
    let Ok(doc) = pipewright_core::yaml::to_json(ci) else {
        return Vec::new();
    };
    let Some(map) = doc.as_object() else {
        return Vec::new();
    };
    let stages: Vec<String> = map
        .get("stages")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_else(|| DEFAULT_STAGES.iter().map(|s| s.to_string()).collect());
    let mut jobs: Vec<DeclaredJob> = map
        .iter()
        .filter(|(name, job)| {
            !name.starts_with('.') && !RESERVED.contains(&name.as_str()) && job.is_object()
        })
        .map(|(name, job)| {
            let when = job
                .get("when")
                .and_then(Value::as_str)
                .or_else(|| {
                    job.get("rules")
                        .and_then(Value::as_array)
                        .and_then(|r| r.first())
                        .and_then(|r| r.get("when"))
                        .and_then(Value::as_str)
                })
                .unwrap_or("on_success")
                .to_string();
            DeclaredJob {
                name: name.clone(),
                stage: job
                    .get("stage")
                    .and_then(Value::as_str)
                    .unwrap_or("test")
                    .to_string(),
                allow_failure: job
                    .get("allow_failure")
                    .and_then(Value::as_bool)
                    .unwrap_or(when == "manual"),
                when,
            }
        })
        .collect();
    let rank = |stage: &str| stages.iter().position(|s| s == stage).unwrap_or(usize::MAX);
    jobs.sort_by(|a, b| (rank(&a.stage), &a.name).cmp(&(rank(&b.stage), &b.name)));
    jobs
}

/// The jobs of a new pipeline for `ci`, ids from `next_job_id`.
pub(super) fn jobs_for(ci: &str, next_job_id: &mut u64) -> Vec<FakeJob> {
    declared_jobs(ci)
        .into_iter()
        .map(|d| {
            let mut job = FakeJob::new(&d.name, &d.stage, "created");
            job.id = *next_job_id;
            *next_job_id += 1;
            job.allow_failure = d.allow_failure;
            job.when = d.when;
            job
        })
        .collect()
}

/// Moves a pipeline on by one step. Returns true when something changed.
pub(super) fn advance(state: &mut State, pipeline_id: u64) -> bool {
    let script = {
        let Some(p) = state.pipelines.iter().find(|p| p.id == pipeline_id) else {
            return false;
        };
        let mut script = state
            .scripts
            .get(&p.project_id)
            .cloned()
            .unwrap_or_default();
        let files: Vec<String> = state
            .project(&p.project_id.to_string())
            .and_then(|project| project.snapshot(Some(&p.sha)))
            .map(|(_, snapshot)| snapshot.files.values().cloned().collect())
            .unwrap_or_default();
        let holds = |needle: &str| files.iter().any(|f| f.contains(needle));
        let fixed: Vec<String> = script
            .fixed_by
            .iter()
            .filter(|(_, needle)| holds(needle))
            .map(|(job, _)| job.clone())
            .collect();
        for job in fixed {
            script.outcomes.remove(&job);
        }
        for (job, chain) in &script.failures {
            match chain.iter().find(|(_, needle)| !holds(needle)) {
                Some((outcome, _)) => {
                    script.outcomes.insert(job.clone(), outcome.clone());
                }
                None => {
                    script.outcomes.remove(job);
                }
            }
        }
        script
    };
    let Some(p) = state.pipelines.iter_mut().find(|p| p.id == pipeline_id) else {
        return false;
    };
    match p.status.as_str() {
        "created" => {
            p.status = "pending".into();
            true
        }
        "pending" => {
            p.status = "running".into();
            p.started_at = Some(SystemTime::now());
            start_next_stage(p);
            true
        }
        "running" => {
            let earlier_runs = |jobs: &[FakeJob], name: &str| {
                jobs.iter().filter(|j| j.retried && j.name == name).count() as u32
            };
            let runs: Vec<u32> = p
                .jobs
                .iter()
                .map(|j| earlier_runs(&p.jobs, &j.name))
                .collect();
            for (job, before) in p.jobs.iter_mut().zip(runs) {
                if job.status != "running" {
                    continue;
                }
                let flaky_passed = script.flaky.get(&job.name).is_some_and(|n| before >= *n);
                if flaky_passed {
                    finish_job(job, &PipelineScript::default());
                } else {
                    finish_job(job, &script);
                }
            }
            if !start_next_stage(p) {
                conclude(p);
            }
            true
        }
        _ => false,
    }
}

fn finish_job(job: &mut FakeJob, script: &PipelineScript) {
    let outcome = script
        .outcomes
        .get(&job.name)
        .cloned()
        .unwrap_or(JobOutcome::Success);
    let (status, reason, trace) = match outcome {
        JobOutcome::Success => (
            "success",
            None,
            format!("$ run {}\nJob succeeded\n", job.name),
        ),
        JobOutcome::Failed { reason, trace } => ("failed", Some(reason), trace),
        JobOutcome::Skipped => ("skipped", None, String::new()),
        JobOutcome::Manual => ("manual", None, String::new()),
        JobOutcome::Canceled => ("canceled", None, String::new()),
    };
    job.status = status.to_string();
    job.failure_reason = reason;
    if !trace.is_empty() {
        job.trace = Some(trace);
    }
}

/// True when a job failed that may not fail.
fn blocked(p: &FakePipeline) -> bool {
    p.jobs
        .iter()
        .filter(|j| !j.retried)
        .any(|j| (j.status == "failed" && !j.allow_failure) || j.status == "canceled")
}

/// Starts the jobs of the next stage that has `created` jobs; false when none is left.
fn start_next_stage(p: &mut FakePipeline) -> bool {
    let failed = blocked(p);
    loop {
        let Some(stage) = p
            .jobs
            .iter()
            .find(|j| j.status == "created")
            .map(|j| j.stage.clone())
        else {
            return false;
        };
        let mut started = false;
        for job in p
            .jobs
            .iter_mut()
            .filter(|j| j.stage == stage && j.status == "created")
        {
            let runs = match job.when.as_str() {
                "on_failure" => failed,
                "always" => true,
                "manual" => {
                    job.status = "manual".into();
                    continue;
                }
                _ => !failed,
            };
            if runs {
                job.status = "running".into();
                started = true;
            } else {
                job.status = "skipped".into();
            }
        }
        if started {
            return true;
        }
    }
}

fn conclude(p: &mut FakePipeline) {
    p.status = if p.jobs.iter().any(|j| !j.retried && j.status == "canceled") {
        "canceled"
    } else if blocked(p) {
        "failed"
    } else {
        "success"
    }
    .into();
    p.finished_at = Some(SystemTime::now());
}

/// Why a job cannot be retried (GitLab answers 403 or 404).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RetryRefused {
    NoSuchJob,
    NotRetryable,
}

/// `POST /projects/:id/jobs/:job_id/retry`, as GitLab does it: the finished job (failed,
/// canceled or success) is kept as a retried attempt and a new job with the same name
/// starts in the same pipeline, which runs again; skipped jobs of later stages are
/// processed again. Returns the new job and its pipeline's id.
pub(super) fn retry(
    state: &mut State,
    project_id: u64,
    job_id: u64,
) -> Result<(FakeJob, u64), RetryRefused> {
    let new_id = state.next_job_id;
    let p = state
        .pipelines
        .iter_mut()
        .filter(|p| p.project_id == project_id)
        .find(|p| p.jobs.iter().any(|j| j.id == job_id))
        .ok_or(RetryRefused::NoSuchJob)?;
    let index = p
        .jobs
        .iter()
        .position(|j| j.id == job_id)
        .ok_or(RetryRefused::NoSuchJob)?;
    let old = &p.jobs[index];
    if old.retried || !["failed", "canceled", "success"].contains(&old.status.as_str()) {
        return Err(RetryRefused::NotRetryable);
    }
    let mut job = FakeJob::new(&old.name, &old.stage, "running");
    job.id = new_id;
    job.when = old.when.clone();
    job.allow_failure = old.allow_failure;
    let stage = old.stage.clone();
    p.jobs[index].retried = true;
    let stage_of = |name: &str, jobs: &[FakeJob]| jobs.iter().position(|j| j.stage == name);
    let first_of_stage = stage_of(&stage, &p.jobs).unwrap_or(0);
    for later in p.jobs.iter_mut().skip(first_of_stage) {
        if later.stage != stage && later.status == "skipped" && !later.retried {
            later.status = "created".into();
        }
    }
    p.jobs.push(job.clone());
    p.status = "running".into();
    p.finished_at = None;
    let pipeline_id = p.id;
    state.next_job_id += 1;
    Ok((job, pipeline_id))
}

/// GitLab's webhook time format: `2016-08-12 15:23:28 UTC`.
fn hook_time(at: SystemTime) -> String {
    let iso = super::iso_at(at);
    format!("{} {} UTC", &iso[..10], &iso[11..19])
}

/// The `Pipeline Hook` payload for a pipeline as it is now.
pub(super) fn payload(shared: &Shared, state: &State, p: &FakePipeline) -> Value {
    let project = state.projects.iter().find(|x| x.id == p.project_id);
    let path = project.map(|x| x.path.clone()).unwrap_or_default();
    let web_url = format!("{}/{path}", shared.base_url);
    let snapshot = project.and_then(|x| x.commits.get(&p.sha));
    let mut stages: Vec<String> = Vec::new();
    for job in &p.jobs {
        if !stages.contains(&job.stage) {
            stages.push(job.stage.clone());
        }
    }
    let duration = match (p.started_at, p.finished_at) {
        (Some(s), Some(f)) => json!(f.duration_since(s).unwrap_or_default().as_secs()),
        _ => Value::Null,
    };
    json!({
        "object_kind": "pipeline",
        "object_attributes": {
            "id": p.id,
            "iid": p.iid,
            "name": null,
            "ref": p.git_ref,
            "tag": false,
            "sha": p.sha,
            "before_sha": "0000000000000000000000000000000000000000",
            "source": p.source,
            "status": p.status,
            "detailed_status": if p.status == "success" { "passed".to_string() } else { p.status.clone() },
            "stages": stages,
            "created_at": hook_time(p.created),
            "finished_at": p.finished_at.map(hook_time),
            "duration": duration,
            "queued_duration": 0,
            "variables": [],
            "url": format!("{web_url}/-/pipelines/{}", p.id),
        },
        "merge_request": null,
        "user": { "id": 1, "name": "pipewright", "username": "pipewright", "avatar_url": null, "email": "[REDACTED]" },
        "project": {
            "id": p.project_id,
            "name": path.rsplit('/').next().unwrap_or(&path),
            "description": null,
            "web_url": web_url,
            "avatar_url": null,
            "git_ssh_url": format!("git@fake:{path}.git"),
            "git_http_url": format!("{web_url}.git"),
            "namespace": path.rsplit_once('/').map_or("", |(ns, _)| ns),
            "visibility_level": 0,
            "path_with_namespace": path,
            "default_branch": project.and_then(|x| x.default_branch.clone()),
            "ci_config_path": null,
        },
        "commit": {
            "id": p.sha,
            "message": snapshot.map(|s| s.message.clone()).unwrap_or_default(),
            "title": snapshot.map(|s| s.message.lines().next().unwrap_or("").to_string()).unwrap_or_default(),
            "timestamp": snapshot.map(|s| s.created_at.clone()),
            "url": format!("{web_url}/-/commit/{}", p.sha),
            "author": { "name": "pipewright", "email": "pipewright@example.com" },
        },
        "builds": p.jobs.iter().filter(|j| !j.retried).map(|j| json!({
            "id": j.id,
            "stage": j.stage,
            "name": j.name,
            "status": j.status,
            "created_at": hook_time(p.created),
            "started_at": null,
            "finished_at": null,
            "duration": null,
            "queued_duration": null,
            "failure_reason": if j.status == "failed" { j.failure_reason.clone() } else { None },
            "when": j.when,
            "manual": j.when == "manual",
            "allow_failure": j.allow_failure,
            "user": { "id": 1, "name": "pipewright", "username": "pipewright" },
            "runner": null,
            "artifacts_file": { "filename": null, "size": null },
            "environment": null,
        })).collect::<Vec<_>>(),
    })
}

/// Deliveries due for the pipeline's current status: one per hook with pipeline events.
pub(super) fn queue_deliveries(shared: &Shared, state: &mut State, pipeline_id: u64) -> Vec<usize> {
    let Some(p) = state
        .pipelines
        .iter()
        .find(|p| p.id == pipeline_id)
        .cloned()
    else {
        return Vec::new();
    };
    let body = payload(shared, state, &p);
    let hooks: Vec<FakeHook> = state
        .hooks
        .iter()
        .filter(|h| h.project_id == p.project_id && h.pipeline_events)
        .cloned()
        .collect();
    let mut queued = Vec::new();
    for hook in hooks {
        state.event_counter += 1;
        let event_uuid = uuid_like(&["event", &state.event_counter.to_string(), &p.status]);
        let idempotency = uuid_like(&["delivery", &event_uuid, &hook.id.to_string()]);
        let mut headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("User-Agent".to_string(), "GitLab/17.9.0-fake".to_string()),
            ("X-Gitlab-Event".to_string(), "Pipeline Hook".to_string()),
            ("X-Gitlab-Instance".to_string(), shared.base_url.clone()),
            ("X-Gitlab-Webhook-UUID".to_string(), hook.uuid.clone()),
            ("X-Gitlab-Event-UUID".to_string(), event_uuid),
            ("Idempotency-Key".to_string(), idempotency),
        ];
        if let Some(token) = &hook.token {
            headers.push(("X-Gitlab-Token".to_string(), token.clone()));
        }
        state.deliveries.push(Delivery {
            hook_id: hook.id,
            url: hook.url.clone(),
            headers,
            body: body.clone(),
            status: None,
            elapsed: None,
        });
        queued.push(state.deliveries.len() - 1);
    }
    queued
}

/// Sends deliveries (by index) in order, recording each answer.
pub(super) async fn send(shared: Arc<Shared>, indexes: Vec<usize>) {
    let client = match crate::http::client_builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(_) => return,
    };
    for i in indexes {
        let Some(delivery) = shared.lock().deliveries.get(i).cloned() else {
            continue;
        };
        let mut request = client.post(&delivery.url).json(&delivery.body);
        for (k, v) in &delivery.headers {
            if !k.eq_ignore_ascii_case("content-type") {
                request = request.header(k.as_str(), v.as_str());
            }
        }
        let started = std::time::Instant::now();
        let status = request.send().await.ok().map(|r| r.status().as_u16());
        let elapsed = started.elapsed();
        if let Some(d) = shared.lock().deliveries.get_mut(i) {
            d.status = status;
            d.elapsed = Some(elapsed);
        }
    }
}

/// A UUID-shaped id derived from `parts`.
pub(super) fn uuid_like(parts: &[&str]) -> String {
    let hex = hex_id(parts);
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// Seconds since the epoch, for ids that must differ between runs.
pub(super) fn now_nanos() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_follow_the_files_stages_and_whens() {
        let ci = "stages: [build, test, notify]\nvariables: {A: b}\n.hidden: {script: [x]}\ntest:\n  stage: test\n  script: [t]\nbuild:\n  stage: build\n  script: [b]\nnotify-failure:\n  stage: notify\n  when: on_failure\n  allow_failure: true\n  script: [n]\n";
        let mut next = 10;
        let jobs = jobs_for(ci, &mut next);
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["build", "test", "notify-failure"]);
        assert_eq!(jobs[2].when, "on_failure");
        assert!(jobs[2].allow_failure);
        assert_eq!(next, 13);
    }
}
