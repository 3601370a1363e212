//! The seed's decision between its generation paths, after the built-in generator has
//! produced a valid fallback:
//!
//! - a stored pair with both files → used as it is, no LLM → `[RAG Template]`;
//! - a stored pair with one file → the LLM adapts it → `[RAG + LLM]`;
//! - nothing stored → the LLM writes both files → `[AI Generated]`;
//! - `use_template_only`, no LLM configured, the LLM unavailable, or an answer that stays
//!   invalid after the repair rounds → the built-in generator → `[Template]`, with a warning
//!   that says why.
//!
//! Every file that leaves this module passed the validator (LLM answers get the findings back
//! for a bounded number of repair rounds), so an invalid pipeline is never returned.

use crate::generate::{validate_bundle, validate_kept, GenerateOutcome, Provenance};
use pipewright_core::generate::{Explanation, PipelineBundle, Topic};
use pipewright_core::knowledge::{retrieve, KnowledgeStore, Record, Retrieval, StackKey};
use pipewright_core::llm::answer::{parse_answer_for, Expected, GeneratedFiles};
use pipewright_core::llm::prompt::{
    system_prompt, user_prompt, PromptSettings, ReferenceTemplate, RepairInput, UserPromptInput,
};
use pipewright_core::llm::{LlmProvider, LlmRequest};
use pipewright_core::stack::{SchemaVersion, StackProfile};
use pipewright_core::validate::{has_errors, Finding, Severity, ValidatorSettings};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// What the decision may use.
#[derive(Clone)]
pub struct PathOptions {
    /// The seed's `use_template_only`: always the built-in generator.
    pub template_only: bool,
    /// The knowledge store, or why it could not be opened.
    pub store: Result<Arc<dyn KnowledgeStore>, String>,
    /// The LLM, or why there is none (`LLM_PROVIDER=none`, a configuration error).
    pub llm: Result<Arc<dyn LlmProvider>, String>,
    pub temperature: f32,
    /// Repair rounds after the first answer (default 2).
    pub repair_rounds: u32,
}

/// How the files were made: the path, the model, the attempts and the time.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PathReport {
    /// Where retrieval found something (rank and reason), when the store was searched.
    pub retrieval: Option<String>,
    pub model: Option<String>,
    /// LLM calls made (first answer plus repairs).
    pub attempts: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub elapsed_ms: u128,
}

/// A check beyond pipewright's own validator that a candidate must pass, such as GitLab's CI
/// Lint: its errors go back to the LLM like the validator's findings.
#[async_trait::async_trait]
pub trait BundleCheck: Send + Sync {
    /// What the check is, for messages (`GitLab CI Lint`).
    fn name(&self) -> &str;
    /// The errors found (empty when the bundle passes), or why the check could not run.
    async fn check(&self, bundle: &PipelineBundle) -> Result<Vec<String>, String>;
}

/// What a generation produced, as `pipewright generate --json` prints it and the service
/// returns it: the profile, the files, the path taken and why, the validator's findings.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GenerateSummary {
    /// The contract version (`pipewright_core::stack::SCHEMA_VERSION`), described by
    /// `schemas/generate.schema.json`.
    #[cfg_attr(feature = "openapi", schema(value_type = u32))]
    pub schema_version: SchemaVersion,
    /// The stack profile, as `pipewright analyze --json` prints it.
    pub profile: StackProfile,
    /// Path → content of every generated file (`.gitlab-ci.yml`, Dockerfiles, `.dockerignore`s).
    pub files: BTreeMap<String, String>,
    pub provenance: Provenance,
    /// The tag for the commit message: `[RAG Template]`, `[RAG + LLM]`, `[AI Generated]` or
    /// `[Template]`.
    pub commit_tag: String,
    pub path: PathReport,
    /// One `{service, topic, text}` entry per decision, in the order they were made.
    pub explanation: Vec<Explanation>,
    /// The validator's findings on the files (never an error: those files are not returned).
    pub findings: Vec<Finding>,
    pub warnings: Vec<String>,
}

impl GenerateSummary {
    /// The summary of a generation's outcome and the path report.
    pub fn new(outcome: GenerateOutcome, path: PathReport) -> Self {
        GenerateSummary {
            schema_version: SchemaVersion,
            commit_tag: outcome.provenance.tag().to_string(),
            profile: outcome.profile,
            files: outcome.bundle.files,
            provenance: outcome.provenance,
            path,
            explanation: outcome.bundle.explanation,
            findings: outcome.findings,
            warnings: outcome.bundle.warnings,
        }
    }
}

/// Applies the decision to an outcome of the built-in generator (already validated).
pub async fn choose_path(
    outcome: GenerateOutcome,
    opts: &PathOptions,
    vsettings: &ValidatorSettings,
) -> (GenerateOutcome, PathReport) {
    choose_path_checked(outcome, opts, vsettings, None).await
}

/// Runs `check` on a candidate that passed the validator. Returns the errors as repair
/// messages; a check that cannot run is a warning and the candidate stands.
async fn extra_errors(
    check: Option<&dyn BundleCheck>,
    candidate: &mut GenerateOutcome,
) -> Vec<String> {
    let Some(check) = check else {
        return Vec::new();
    };
    match check.check(&candidate.bundle).await {
        Ok(errors) => errors
            .into_iter()
            .map(|e| format!(".gitlab-ci.yml: [{}] {e}", check.name()))
            .collect(),
        Err(reason) => {
            candidate
                .bundle
                .warnings
                .push(format!("{} could not run: {reason}", check.name()));
            Vec::new()
        }
    }
}

/// [`choose_path`] with an extra check (GitLab's CI Lint) that stored pairs and LLM answers
/// must pass too. The built-in generator's own output is not checked here: the caller
/// checks whatever is returned.
pub async fn choose_path_checked(
    mut outcome: GenerateOutcome,
    opts: &PathOptions,
    vsettings: &ValidatorSettings,
    check: Option<&dyn BundleCheck>,
) -> (GenerateOutcome, PathReport) {
    let started = Instant::now();
    let mut report = PathReport::default();
    let warn = |o: &mut GenerateOutcome, w: String| o.bundle.warnings.push(w);
    if opts.template_only {
        outcome.bundle.explanation.push(Explanation::pipeline(
            Topic::Path,
            "use_template_only: the built-in generator writes the pipeline",
        ));
        report.elapsed_ms = started.elapsed().as_millis();
        return (outcome, report);
    }
    let [service] = outcome.profile.services.as_slice() else {
        outcome.bundle.explanation.push(Explanation::pipeline(
            Topic::Path,
            "a monorepo: the built-in generator writes one set of jobs per service (stored pairs describe one stack)",
        ));
        return (outcome, report);
    };
    let stack = StackKey::from_service(service);
    let retrieval = match &opts.store {
        Ok(store) => retrieve(store.as_ref(), &stack).await,
        Err(reason) => Retrieval {
            pick: None,
            rank: pipewright_core::knowledge::RetrievalRank::BuiltIn,
            path: None,
            reason:
                "the knowledge store is not available; the built-in generator writes the pipeline"
                    .into(),
            warnings: vec![format!("knowledge store: {reason}")],
        },
    };
    report.retrieval = Some(retrieval.summary());
    outcome.bundle.explanation.push(Explanation::pipeline(
        Topic::Path,
        format!("retrieval: {}", retrieval.summary()),
    ));
    for w in &retrieval.warnings {
        warn(&mut outcome, w.clone());
    }
    let pick = retrieval.pick.clone();

    // Path A: a stored pair with both files is used as it is, once it passes the validator.
    if let Some(record) = pick
        .as_ref()
        .filter(|r| r.gitlab_ci.is_some() && r.dockerfile.is_some())
    {
        let mut candidate = outcome.clone();
        set_files(
            &mut candidate,
            record.gitlab_ci.as_deref().unwrap_or(""),
            record.dockerfile.as_deref().unwrap_or(""),
        );
        let findings = validate_bundle(&candidate.bundle, vsettings);
        let extra = if has_errors(&findings) {
            Vec::new()
        } else {
            extra_errors(check, &mut candidate).await
        };
        if has_errors(&findings) {
            warn(
                &mut outcome,
                format!(
                    "the stored pair {} fails validation ({}); it was not used",
                    record.id,
                    first_errors(&findings)
                ),
            );
        } else if !extra.is_empty() {
            warn(
                &mut outcome,
                format!(
                    "the stored pair {} fails {} ({}); it was not used",
                    record.id,
                    check.map(|c| c.name()).unwrap_or("the check"),
                    extra.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
                ),
            );
        } else {
            candidate.findings = findings;
            candidate
                .findings
                .extend(validate_kept(&candidate.bundle, vsettings));
            candidate.provenance = Provenance::RagTemplate;
            candidate.bundle.explanation.push(Explanation::pipeline(
                Topic::Path,
                format!("used the stored pair {} as it is (no LLM)", record.id),
            ));
            report.elapsed_ms = started.elapsed().as_millis();
            return (candidate, report);
        }
    }

    // Paths B and C need the LLM.
    let llm = match &opts.llm {
        Ok(llm) => llm.clone(),
        Err(reason) => {
            warn(
                &mut outcome,
                format!("no LLM ({reason}); the built-in generator wrote the pipeline"),
            );
            report.elapsed_ms = started.elapsed().as_millis();
            return (outcome, report);
        }
    };
    report.model = Some(llm.model().to_string());
    let reference = pick.as_ref().map(|r: &Record| ReferenceTemplate {
        origin: r.id.as_str(),
        gitlab_ci: r.gitlab_ci.as_deref(),
        dockerfile: r.dockerfile.as_deref(),
    });
    let provenance = if reference.is_some() {
        Provenance::RagLlm
    } else {
        Provenance::AiGenerated
    };
    let file_names: Vec<String> = outcome.index_files.clone();
    // A repository that keeps its Dockerfile gets only the pipeline written.
    let kept_dockerfile = outcome.bundle.kept.get("Dockerfile").cloned();
    let expected = if kept_dockerfile.is_some() {
        Expected::PipelineOnly
    } else {
        Expected::Both
    };
    let system = system_prompt(&PromptSettings::default());
    let mut previous: Option<(GeneratedFiles, Vec<String>)> = None;
    for round in 0..=opts.repair_rounds {
        let input = UserPromptInput {
            profile: &outcome.profile,
            file_names: &file_names,
            readme: None,
            reference,
            repair: previous.as_ref().map(|(files, findings)| RepairInput {
                previous: files,
                findings,
            }),
            kept_dockerfile: kept_dockerfile.as_deref(),
        };
        let request =
            LlmRequest::for_pipeline(system.clone(), user_prompt(&input), opts.temperature);
        report.attempts += 1;
        let answer = match llm.complete(&request).await {
            Ok(a) => a,
            Err(e) => {
                warn(
                    &mut outcome,
                    format!(
                        "the LLM is unavailable ({e}); the built-in generator wrote the pipeline"
                    ),
                );
                break;
            }
        };
        let files = match parse_answer_for(&answer.text, expected) {
            Ok(f) => f,
            Err(e) => {
                let message = format!("the answer could not be read: {e}");
                previous = Some((
                    GeneratedFiles {
                        gitlab_ci: String::new(),
                        dockerfile: String::new(),
                        notes: Vec::new(),
                    },
                    vec![message],
                ));
                continue;
            }
        };
        let mut candidate = outcome.clone();
        set_files(&mut candidate, &files.gitlab_ci, &files.dockerfile);
        let findings = validate_bundle(&candidate.bundle, vsettings);
        let extra = if has_errors(&findings) {
            Vec::new()
        } else {
            extra_errors(check, &mut candidate).await
        };
        if !extra.is_empty() {
            previous = Some((files, extra));
            continue;
        }
        if !has_errors(&findings) {
            candidate.findings = findings;
            candidate
                .findings
                .extend(validate_kept(&candidate.bundle, vsettings));
            candidate.provenance = provenance;
            candidate.bundle.explanation.push(Explanation::pipeline(
                Topic::Path,
                format!(
                    "{} by {} after {} attempt(s){}",
                    if provenance == Provenance::RagLlm {
                        "adapted from the stored reference"
                    } else {
                        "written"
                    },
                    llm.model(),
                    report.attempts,
                    if round > 0 {
                        " (repaired with the findings)"
                    } else {
                        ""
                    }
                ),
            ));
            candidate.bundle.explanation.extend(
                files
                    .notes
                    .iter()
                    .map(|n| Explanation::pipeline(Topic::Model, format!("model: {n}"))),
            );
            report.elapsed_ms = started.elapsed().as_millis();
            return (candidate, report);
        }
        let messages: Vec<String> = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("{}:{}: [{}] {}", f.file, f.line, f.rule, f.message))
            .collect();
        previous = Some((files, messages));
    }
    if let Some((_, findings)) = &previous {
        warn(
            &mut outcome,
            format!(
                "the LLM's answer still failed validation after {} attempt(s) ({}); the built-in generator wrote the pipeline",
                report.attempts,
                findings.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
            ),
        );
    }
    report.elapsed_ms = started.elapsed().as_millis();
    (outcome, report)
}

/// Replaces the pipeline and the root Dockerfile of a single-service bundle; a repository's
/// own Dockerfile (not in the bundle) is kept.
fn set_files(o: &mut GenerateOutcome, ci: &str, dockerfile: &str) {
    o.bundle
        .files
        .insert(".gitlab-ci.yml".into(), ci.to_string());
    if let Some(existing) = o.bundle.files.get_mut("Dockerfile") {
        *existing = dockerfile.to_string();
    }
}

fn first_errors(findings: &[Finding]) -> String {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .take(3)
        .map(|f| format!("{}: [{}] {}", f.file, f.rule, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}
