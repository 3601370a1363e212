//! The seed's pipeline workflow up to the commit: read a GitLab project through the API,
//! analyze it, choose the generation path, validate, check the pipeline with GitLab's CI Lint
//! (a lint error goes back to the LLM like a validator finding), and commit the files to a
//! new branch in one commit, each file as `create` or `update` by whether it exists where the
//! branch starts.
//!
//! Every step is recorded in the run (when a [`RunStore`] is given) as it ends, so a run that
//! stops half-way says where. Nothing is committed unless every file passed the validator and
//! CI Lint.

use crate::generate::{
    generate_from_source, validator_settings, GenerateFlowError, GenerateOutcome, Provenance,
};
use crate::paths::{choose_path_checked, BundleCheck, PathOptions, PathReport};
use pipewright_adapters::gitlab::{GitLabSource, UrlPolicy};
use pipewright_adapters::runs::now_ms;
use pipewright_core::generate::{GeneratorSettings, PipelineBundle};
use pipewright_core::gitlab::{
    CommitActionKind, CommitRequest, GitLab, GitLabError, LintResult, ProjectRef,
};
use pipewright_core::runs::{Run, RunError, RunKind, RunStatus, RunStep, RunStore, StepStatus};
use pipewright_core::stack::StackProfile;
use pipewright_core::validate::Finding;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// What the user asked for (the seed's `PipelineWorkflowRequest`).
#[derive(Debug, Clone)]
pub struct WorkflowRequest {
    /// A GitLab project URL, a `group/project` path, or a numeric id.
    pub project: String,
    /// The branch to read and to start the new branch from (default: the project's default).
    pub reference: Option<String>,
    /// The seed's `use_template_only`: always the built-in generator.
    pub use_template_only: bool,
    /// The branch to commit to (default `feature/ai-pipeline-<timestamp>`). An existing
    /// branch receives the commit on top of its head.
    pub branch: Option<String>,
    /// Generator settings with the request's overrides applied.
    pub generator: GeneratorSettings,
    /// Extra hosts the validator accepts in pipelines.
    pub allowed_hosts: Vec<String>,
}

/// What the workflow uses.
pub struct WorkflowContext<'a> {
    pub gitlab: &'a dyn GitLab,
    pub policy: &'a UrlPolicy,
    /// The store and LLM (the request's `use_template_only` is applied on top).
    pub paths: PathOptions,
    pub runs: Option<&'a dyn RunStore>,
    /// The id under which the run is recorded and returned.
    pub run_id: String,
    /// Seed the team's registry with the pipeline's images before the commit (when configured).
    pub images: Option<ImageSeeding<'a>>,
}

/// The registry and settings for the seeding step.
pub struct ImageSeeding<'a> {
    pub registry: &'a dyn pipewright_core::images::Registry,
    pub settings: pipewright_core::images::ImageSettings,
    pub options: crate::images::SeedOptions,
}

/// One committed file and how it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommittedFile {
    pub path: String,
    /// `create` or `update`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub action: CommitActionKind,
}

/// What the workflow did (the seed's answer plus what explains it).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkflowOutcome {
    pub branch: String,
    pub commit_id: String,
    /// The commit's page in GitLab.
    pub web_url: String,
    pub project_id: u64,
    pub project_path: String,
    /// The branch the new one starts from.
    pub start_branch: String,
    /// The LLM's model, or `template` (built-in) / `rag-template` (a stored pair as it is).
    pub model_used: String,
    pub provenance: Provenance,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub commit_tag: &'static str,
    pub commit_message: String,
    /// The committed files (path → content).
    pub files: BTreeMap<String, String>,
    pub actions: Vec<CommittedFile>,
    pub run_id: String,
    /// One `{service, topic, text}` entry per decision.
    pub explanation: Vec<pipewright_core::generate::Explanation>,
    pub warnings: Vec<String>,
    pub findings: Vec<Finding>,
    pub lint: LintSummary,
    pub path: PathReport,
    /// GitLab API requests the analysis needed (project, tree pages, raw files).
    pub files_read: usize,
    /// The stack a learned pair is stored under (`None` for a monorepo).
    #[serde(skip)]
    pub stack: Option<pipewright_core::knowledge::StackKey>,
}

/// What CI Lint said about the committed pipeline.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LintSummary {
    pub valid: bool,
    pub warnings: Vec<String>,
    /// Lint calls made (candidates checked).
    pub calls: usize,
}

/// Why the workflow stopped. Nothing was committed unless the variant says it may have been.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The project URL was refused before any connection (host policy, scheme, shape).
    #[error("{0}")]
    ProjectRefused(GitLabError),
    #[error("`{branch}` cannot be used as the branch: {reason}")]
    BadBranch { branch: String, reason: String },
    #[error(transparent)]
    GitLab(GitLabError),
    #[error("{0}")]
    NothingRecognised(String),
    #[error(transparent)]
    Generate(GenerateFlowError),
    #[error("GitLab's CI Lint rejects the pipeline ({}); nothing was committed", .errors.join("; "))]
    LintRejected { errors: Vec<String> },
    #[error("the analysis stopped unexpectedly: {0}")]
    Internal(String),
}

impl WorkflowError {
    /// A stable code for clients and run records.
    pub fn code(&self) -> &'static str {
        match self {
            WorkflowError::ProjectRefused(_) => "project_refused",
            WorkflowError::BadBranch { .. } => "invalid_branch",
            WorkflowError::GitLab(e) => match e {
                GitLabError::NotFound { .. } => "gitlab_not_found",
                e if e.is_auth() => "gitlab_auth",
                GitLabError::BadRequest { .. } | GitLabError::Conflict { .. } => "gitlab_rejected",
                GitLabError::RateLimited { .. } => "gitlab_rate_limited",
                GitLabError::Timeout { .. } => "gitlab_timeout",
                _ => "gitlab_unavailable",
            },
            WorkflowError::NothingRecognised(_) => "nothing_recognised",
            WorkflowError::Generate(_) => "generation_failed",
            WorkflowError::LintRejected { .. } => "lint_rejected",
            WorkflowError::Internal(_) => "internal",
        }
    }
}

/// Checks candidates with GitLab's CI Lint in the project's context, remembering answers so
/// the same text is never linted twice.
struct LintCheck<'a> {
    gitlab: &'a dyn GitLab,
    project: ProjectRef,
    seen: Mutex<HashMap<String, LintResult>>,
    calls: AtomicUsize,
}

impl LintCheck<'_> {
    async fn lint(&self, content: &str) -> Result<LintResult, GitLabError> {
        if let Some(found) = self.seen.lock().ok().and_then(|s| s.get(content).cloned()) {
            return Ok(found);
        }
        let result = self.gitlab.lint(&self.project, content).await?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(content.to_string(), result.clone());
        }
        Ok(result)
    }

    /// CI Lint's verdict on the bundle's pipeline (valid when there is none).
    async fn verdict(&self, bundle: &PipelineBundle) -> Result<LintResult, GitLabError> {
        match bundle.files.get(".gitlab-ci.yml") {
            Some(ci) => self.lint(ci).await,
            None => Ok(LintResult {
                valid: true,
                errors: Vec::new(),
                warnings: Vec::new(),
                merged_yaml: None,
            }),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

/// The errors of a verdict: none when valid, GitLab's, or a placeholder when it gave none.
fn lint_errors(verdict: &LintResult) -> Vec<String> {
    if verdict.valid {
        Vec::new()
    } else if verdict.errors.is_empty() {
        vec!["invalid (GitLab gave no reason)".into()]
    } else {
        verdict.errors.clone()
    }
}

#[async_trait::async_trait]
impl BundleCheck for LintCheck<'_> {
    fn name(&self) -> &str {
        "GitLab CI Lint"
    }

    async fn check(&self, bundle: &PipelineBundle) -> Result<Vec<String>, String> {
        self.verdict(bundle)
            .await
            .map(|v| lint_errors(&v))
            .map_err(|e| e.to_string())
    }
}

/// Records steps as they end and saves the run after each.
struct Recorder<'a> {
    store: Option<&'a dyn RunStore>,
    run: Run,
    started: Instant,
    /// Problems saving the run (reported as warnings, never failing the workflow).
    save_errors: Vec<String>,
}

impl Recorder<'_> {
    async fn save(&mut self) {
        if let Some(store) = self.store {
            if let Err(e) = store.save(&self.run).await {
                if self.save_errors.is_empty() {
                    self.save_errors
                        .push(format!("the run was not recorded: {e}"));
                }
            }
        }
    }

    async fn step(&mut self, name: &str, began: Instant, status: StepStatus, detail: String) {
        self.run.steps.push(RunStep {
            name: name.to_string(),
            status,
            started_after_ms: began.duration_since(self.started).as_millis() as u64,
            duration_ms: began.elapsed().as_millis() as u64,
            detail,
        });
        self.save().await;
    }

    async fn fail(&mut self, name: &str, began: Instant, error: WorkflowError) -> WorkflowError {
        self.step(name, began, StepStatus::Failed, error.to_string())
            .await;
        self.run.status = RunStatus::Failed;
        self.run.error = Some(RunError {
            code: error.code().to_string(),
            message: error.to_string(),
        });
        self.run.finished_at_ms = Some(now_ms());
        self.save().await;
        error
    }
}

/// The request as recorded in the run (credentials in the URL removed).
fn request_json(request: &WorkflowRequest) -> serde_json::Value {
    serde_json::json!({
        "project": pipewright_adapters::source::redact_url(&request.project),
        "ref": request.reference,
        "use_template_only": request.use_template_only,
        "branch": request.branch,
    })
}

/// How the user named the project, as a reference GitLab understands; URLs must pass the
/// host policy first.
pub fn project_ref(policy: &UrlPolicy, text: &str) -> Result<ProjectRef, GitLabError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(GitLabError::Refused {
            url: String::new(),
            reason: "the project is empty; give its URL, its `group/project` path or its id".into(),
        });
    }
    if text.contains("://") || text.starts_with("git@") {
        let location = policy.project_from_url(text)?;
        return Ok(ProjectRef::Path(location.project_path));
    }
    Ok(ProjectRef::from(text))
}

/// `feature/ai-pipeline-YYYYMMDD-HHMMSS` (UTC) for the time `now_ms`.
pub fn default_branch_name(now_ms: u64) -> String {
    let stamp: String = pipewright_core::runs::rfc3339(now_ms)
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .map(|c| if c == 'T' { '-' } else { c })
        .collect();
    format!("feature/ai-pipeline-{stamp}")
}

/// Ref forms a user may write for a branch: the prefix, and `None` when what follows it is the
/// branch, or why the form is refused (it names no branch, or one GitLab would read apart).
const REF_FORMS: &[(&str, Option<&str>)] = &[
    ("refs/heads/", None),
    ("heads/", None),
    ("refs/tags/", Some("it names a tag, not a branch")),
    ("tags/", Some("it names a tag, not a branch")),
    (
        "refs/remotes/",
        Some("it names a remote-tracking ref, not a branch"),
    ),
    (
        "refs/",
        Some("it names a ref outside `refs/heads/`, not a branch"),
    ),
];

/// Names git gives meanings of its own, refused as branch names.
const RESERVED_BRANCH_NAMES: &[&str] = &["HEAD", "FETCH_HEAD", "ORIG_HEAD", "MERGE_HEAD"];

/// The branch a user's name means: `refs/heads/main` and `heads/main` are `main` (so they
/// compare equal to the default branch and never create a branch literally called
/// `refs/heads/main`); tags, other refs and git's reserved names are refused; the result
/// follows git's rules ([`check_branch_name`]).
pub fn branch_name(name: &str) -> Result<String, String> {
    let mut branch = name;
    for (prefix, refusal) in REF_FORMS {
        if let Some(rest) = branch.strip_prefix(prefix) {
            if let Some(why) = refusal {
                return Err((*why).to_string());
            }
            branch = rest;
            break;
        }
    }
    if branch.starts_with("refs/") || branch.starts_with("heads/") {
        return Err(
            "it names a ref inside a ref (`refs/heads/refs/…`); give the branch name alone".into(),
        );
    }
    if RESERVED_BRANCH_NAMES.contains(&branch) {
        return Err(format!("`{branch}` is a name git reserves"));
    }
    check_branch_name(branch)?;
    Ok(branch.to_string())
}

/// Checks a branch name against git's rules for ref names (`git check-ref-format`).
pub fn check_branch_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(why.to_string());
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 200 {
        return bad("it is longer than 200 characters");
    }
    if name.starts_with('-') || name.starts_with('/') || name.ends_with('/') {
        return bad("it may not start with `-` or `/`, or end with `/`");
    }
    if name.ends_with('.') || name.ends_with(".lock") {
        return bad("it may not end with `.` or `.lock`");
    }
    if name.contains("..") || name.contains("//") || name.contains("@{") || name == "@" {
        return bad("it may not contain `..`, `//` or `@{`");
    }
    if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
    {
        return bad("it may not contain spaces, control characters or any of ~ ^ : ? * [ \\");
    }
    if name.split('/').any(|part| part.starts_with('.')) {
        return bad("no part of it may start with `.`");
    }
    Ok(())
}

/// Each service as `language/framework`, with its folder when it is not the root.
fn stacks(profile: &StackProfile) -> Vec<String> {
    profile
        .services
        .iter()
        .map(|s| {
            let name = match &s.framework {
                Some(f) => format!("{}/{}", s.language, f),
                None => s.language.to_string(),
            };
            if s.path == "." {
                name
            } else {
                format!("{name} ({})", s.path)
            }
        })
        .collect()
}

fn commit_message(outcome: &GenerateOutcome, run_id: &str, model_used: &str) -> String {
    let stacks = stacks(&outcome.profile);
    let mut message = format!(
        "{} Add GitLab CI/CD pipeline for {}\n\nGenerated by pipewright (run {run_id}, {model_used}).\n",
        outcome.provenance.tag(),
        if stacks.is_empty() {
            "this repository".to_string()
        } else {
            stacks.join(", ")
        }
    );
    if !outcome.bundle.explanation.is_empty() {
        message.push('\n');
        for line in outcome.bundle.explanation.iter().take(20) {
            message.push_str("- ");
            message.push_str(&line.to_string());
            message.push('\n');
        }
    }
    message
}

fn model_used(provenance: Provenance, report: &PathReport) -> String {
    match provenance {
        Provenance::Template => "template".into(),
        Provenance::RagTemplate => "rag-template".into(),
        Provenance::RagLlm | Provenance::AiGenerated => {
            report.model.clone().unwrap_or_else(|| "llm".into())
        }
    }
}

/// Runs the workflow and records it. The run is saved under `ctx.run_id` whatever happens.
pub async fn run_workflow(
    request: WorkflowRequest,
    ctx: WorkflowContext<'_>,
) -> Result<WorkflowOutcome, WorkflowError> {
    let mut rec = Recorder {
        store: ctx.runs,
        run: Run::start(
            ctx.run_id.clone(),
            RunKind::Workflow,
            Some(pipewright_adapters::source::redact_url(&request.project)),
            request_json(&request),
            now_ms(),
        ),
        started: Instant::now(),
        save_errors: Vec::new(),
    };
    rec.save().await;

    // 1. Which project: refused URLs never reach the network.
    let began = Instant::now();
    let project = match project_ref(ctx.policy, &request.project) {
        Ok(p) => p,
        Err(e) => {
            return Err(rec
                .fail("resolve_project", began, WorkflowError::ProjectRefused(e))
                .await)
        }
    };
    let mut request = request;
    if let Some(given) = request.branch.take() {
        match branch_name(&given) {
            Ok(branch) => request.branch = Some(branch),
            Err(reason) => {
                let e = WorkflowError::BadBranch {
                    branch: given,
                    reason,
                };
                return Err(rec.fail("resolve_project", began, e).await);
            }
        }
    }
    rec.step(
        "resolve_project",
        began,
        StepStatus::Ok,
        format!("{project}"),
    )
    .await;

    // 2. Read the repository through the API: the tree and only the files detectors want.
    let began = Instant::now();
    let source = match GitLabSource::fetch(ctx.gitlab, &project, request.reference.as_deref()).await
    {
        Ok(s) => s,
        Err(e) => {
            return Err(rec
                .fail("read_repository", began, WorkflowError::GitLab(e))
                .await)
        }
    };
    let found = source.project().clone();
    rec.run.project_id = Some(found.id);
    let start_branch = source.reference().to_string();
    let files_read = source.files_fetched();
    rec.step(
        "read_repository",
        began,
        StepStatus::Ok,
        format!(
            "{} (id {}) at `{start_branch}`: {files_read} file(s) read",
            found.path_with_namespace, found.id
        ),
    )
    .await;

    // 3. Analyze and generate with the built-in generator (CPU only: off the async threads).
    let began = Instant::now();
    let generator = request.generator.clone();
    let hosts = request.allowed_hosts.clone();
    let built =
        tokio::task::spawn_blocking(move || generate_from_source(&source, &generator, &hosts))
            .await;
    let built_in = match built {
        Ok(Ok(o)) => o,
        Ok(Err(GenerateFlowError::Generate(e))) => {
            let e = WorkflowError::NothingRecognised(e.to_string());
            return Err(rec.fail("analyze", began, e).await);
        }
        Ok(Err(GenerateFlowError::Source(e))) => {
            let e = WorkflowError::NothingRecognised(e.to_string());
            return Err(rec.fail("analyze", began, e).await);
        }
        Ok(Err(e)) => return Err(rec.fail("analyze", began, WorkflowError::Generate(e)).await),
        Err(e) => {
            let e = WorkflowError::Internal(e.to_string());
            return Err(rec.fail("analyze", began, e).await);
        }
    };
    rec.step(
        "analyze",
        began,
        StepStatus::Ok,
        stacks(&built_in.profile).join("; "),
    )
    .await;

    // 4. Choose the path; stored pairs and LLM answers must pass CI Lint too.
    let began = Instant::now();
    let lint = LintCheck {
        gitlab: ctx.gitlab,
        project: ProjectRef::Id(found.id),
        seen: Mutex::new(HashMap::new()),
        calls: AtomicUsize::new(0),
    };
    let mut paths = ctx.paths.clone();
    paths.template_only = paths.template_only || request.use_template_only;
    let vsettings = validator_settings(&request.generator, &request.allowed_hosts);
    let (outcome, report) =
        choose_path_checked(built_in.clone(), &paths, &vsettings, Some(&lint)).await;
    let model = model_used(outcome.provenance, &report);
    rec.step(
        "generate",
        began,
        StepStatus::Ok,
        format!(
            "{} {model}{}",
            outcome.provenance.tag(),
            report
                .retrieval
                .as_deref()
                .map(|r| format!("; retrieval: {r}"))
                .unwrap_or_default()
        ),
    )
    .await;

    // 5. The chosen files must pass CI Lint (answered from the cache when the path already
    //    linted them). A stored pair or LLM answer that fails now falls back to the built-in
    //    output, which must pass too.
    let began = Instant::now();
    let mut outcome = outcome;
    let mut model = model;
    let mut verdict = match lint.verdict(&outcome.bundle).await {
        Ok(v) => v,
        Err(e) => return Err(rec.fail("lint", began, WorkflowError::GitLab(e)).await),
    };
    if !verdict.valid && outcome.provenance != Provenance::Template {
        let mut fallback = built_in;
        fallback.bundle.warnings.push(format!(
            "GitLab CI Lint rejected the {} pipeline ({}); the built-in generator wrote it",
            outcome.provenance.tag(),
            lint_errors(&verdict).join("; ")
        ));
        outcome = fallback;
        model = "template".into();
        verdict = match lint.verdict(&outcome.bundle).await {
            Ok(v) => v,
            Err(e) => return Err(rec.fail("lint", began, WorkflowError::GitLab(e)).await),
        };
    }
    if !verdict.valid {
        let e = WorkflowError::LintRejected {
            errors: lint_errors(&verdict),
        };
        return Err(rec.fail("lint", began, e).await);
    }
    let lint_warnings = verdict.warnings;
    rec.step(
        "lint",
        began,
        StepStatus::Ok,
        format!(
            "valid ({} call(s), {} warning(s))",
            lint.calls(),
            lint_warnings.len()
        ),
    )
    .await;

    // 6. Every image the files use must be in the registry: copy what is missing. A missing
    //    image that cannot be copied is a warning (the pipeline would fail on it), not a stop.
    let mut image_warnings = Vec::new();
    if let Some(seeding) = &ctx.images {
        let began = Instant::now();
        let plan = crate::images::plan_files(&outcome.bundle.files, &seeding.settings);
        let seeded = crate::images::seed_images(seeding.registry, &plan, &seeding.options).await;
        image_warnings = seeded.failures();
        let copied = seeded.images.iter().filter(|i| i.copied).count();
        let status = if image_warnings.is_empty() {
            StepStatus::Ok
        } else {
            StepStatus::Failed
        };
        let mut detail = format!(
            "{} image(s): {} present, {copied} copied",
            seeded.images.len(),
            seeded.images.iter().filter(|i| i.present).count()
        );
        for w in &image_warnings {
            detail.push_str("; ");
            detail.push_str(w);
        }
        rec.step("images", began, status, detail).await;
    }

    // 7. Commit both files in one commit on a new (or the named) branch.
    let began = Instant::now();
    let project_id = ProjectRef::Id(found.id);
    let branch = match &request.branch {
        Some(b) => b.clone(),
        None => default_branch_name(now_ms()),
    };
    if found.default_branch.as_deref() == Some(branch.as_str()) {
        let e = WorkflowError::BadBranch {
            branch: branch.clone(),
            reason: "it is the project's default branch; pipewright commits to a feature branch so the pipeline can be reviewed in a merge request".into(),
        };
        return Err(rec.fail("commit", began, e).await);
    }
    let existing = match ctx.gitlab.branch(&project_id, &branch).await {
        Ok(b) => b,
        Err(e) => return Err(rec.fail("commit", began, WorkflowError::GitLab(e)).await),
    };
    let (branch, start) = match (existing, request.branch.is_some()) {
        // The user's branch exists: commit on top of it.
        (Some(_), true) => (branch, None),
        // Our timestamped name is taken (two runs in one second): make it unique.
        (Some(_), false) => (
            format!("{branch}-{}", &ctx.run_id[ctx.run_id.len() - 4..]),
            Some(start_branch.as_str()),
        ),
        (None, _) => (branch, Some(start_branch.as_str())),
    };
    let message = commit_message(&outcome, &ctx.run_id, &model);
    let files: Vec<(String, String)> = outcome
        .bundle
        .files
        .iter()
        .map(|(p, c)| (p.clone(), c.clone()))
        .collect();
    let probe = start.unwrap_or(&branch);
    let planned = match ctx.gitlab.plan_actions(&project_id, probe, &files).await {
        Ok(a) => a,
        Err(e) => return Err(rec.fail("commit", began, WorkflowError::GitLab(e)).await),
    };
    let actions: Vec<CommittedFile> = planned
        .iter()
        .map(|a| CommittedFile {
            path: a.file_path.clone(),
            action: a.action,
        })
        .collect();
    let commit = CommitRequest {
        branch: branch.clone(),
        commit_message: message.clone(),
        start_branch: start.map(str::to_string),
        actions: planned,
    };
    let committed = match ctx.gitlab.commit(&project_id, &commit).await {
        Ok(c) => c,
        Err(e) => return Err(rec.fail("commit", began, WorkflowError::GitLab(e)).await),
    };
    rec.step(
        "commit",
        began,
        StepStatus::Ok,
        format!("{} on `{branch}`", committed.short_id),
    )
    .await;

    let mut warnings = outcome.bundle.warnings.clone();
    warnings.extend(image_warnings);
    warnings.extend(rec.save_errors.iter().cloned());
    let result = WorkflowOutcome {
        branch,
        commit_id: committed.id,
        web_url: committed.web_url,
        project_id: found.id,
        project_path: found.path_with_namespace,
        start_branch,
        model_used: model,
        provenance: outcome.provenance,
        commit_tag: outcome.provenance.tag(),
        commit_message: message,
        files: outcome.bundle.files.clone(),
        actions,
        run_id: ctx.run_id.clone(),
        explanation: outcome.bundle.explanation.clone(),
        warnings,
        findings: outcome.findings.clone(),
        lint: LintSummary {
            valid: true,
            warnings: lint_warnings,
            calls: lint.calls(),
        },
        path: report,
        files_read,
        stack: match outcome.profile.services.as_slice() {
            [service] => Some(pipewright_core::knowledge::StackKey::from_service(service)),
            _ => None,
        },
    };
    rec.run.status = RunStatus::Succeeded;
    rec.run.finished_at_ms = Some(now_ms());
    rec.run.result = Some(serde_json::json!({
        "branch": result.branch,
        "commit_id": result.commit_id,
        "web_url": result.web_url,
        "project_id": result.project_id,
        "project_path": result.project_path,
        "model_used": result.model_used,
        "commit_tag": result.commit_tag,
        "files": result.actions,
        "warnings": result.warnings,
    }));
    rec.save().await;
    Ok(result)
}
