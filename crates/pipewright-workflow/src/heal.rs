//! The self-heal loop's decision for one failed gate: classify each failed job, judge the
//! previous fix, pick what to do (a fix commit, `needs_code_fix`, or stop) under the loop
//! guards. The monitor ([`crate::monitor`]) saves the answer before acting on it.
//!
//! Order: a failure in the project's own code wins (pipewright never weakens the pipeline to
//! hide it); then unchanged retries of runner and network failures (no commit, their own
//! budget); then the first deterministic patch the guards allow; then seeding a missing
//! image (when a registry is configured); then the language model (when one is configured);
//! anything else stops the loop with the reason.

use pipewright_core::heal::{
    assess, check_fix, commit_message, decide, distinct_signatures, file_state_hash, heal_request,
    read_llm_fix, Classification, FailureClass, FailureSignature, FixContext, GeneratedFile,
    HealDecision, HealGuard, HealPromptInput, LearnedFix, Observation, StopReason,
};
use pipewright_core::llm::prompt::PromptSettings;
use pipewright_core::llm::LlmProvider;
use pipewright_core::monitor::{AttemptFix, FailedJob, HealIntent, MonitorTask};
use pipewright_core::validate::ValidatorSettings;
use std::collections::BTreeMap;

/// `MAX_SELF_HEAL_ATTEMPTS`' default: fix commits per run.
pub const DEFAULT_MAX_SELF_HEAL_ATTEMPTS: u32 = 10;

/// A failed job with the classifier's answer over its log.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifiedJob {
    /// GitLab's id of this run of the job (what a retry names).
    pub job_id: u64,
    pub job: FailedJob,
    pub classification: Classification,
    /// The end of the job's log (what the language model is shown).
    pub log_tail: String,
}

/// A job to retry unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryJob {
    pub job_id: u64,
    pub name: String,
}

/// What the monitor can do beyond deterministic patches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealAbilities {
    /// A registry to seed missing images into is configured.
    pub seed_images: bool,
    /// A language model is configured.
    pub llm: bool,
}

/// What to do about a failed gate.
#[derive(Debug, Clone, PartialEq)]
pub enum HealPlan {
    /// Commit this fix (after CI Lint), then watch its pipeline.
    Commit(Box<HealIntent>),
    /// Retry these jobs unchanged (runner or transient network trouble): no commit.
    Retry {
        jobs: Vec<RetryJob>,
        signatures: Vec<FailureSignature>,
        summary: String,
    },
    /// Seed `image` into the registry runners pull from, then retry `jobs` unchanged.
    SeedImage {
        image: String,
        jobs: Vec<RetryJob>,
        signature: FailureSignature,
    },
    /// No deterministic fix: ask the language model for one about this job.
    AskLlm {
        job: Box<ClassifiedJob>,
        signature: FailureSignature,
        reason: String,
    },
    /// The project's own code or tests fail; the note names the job and the evidence.
    NeedsCodeFix(String),
    /// Stop: the note says why and what a person can do.
    Exhausted(String),
}

/// The signature of one classified job.
pub fn signature(job: &FailedJob) -> Option<FailureSignature> {
    let class = job.class.as_deref().and_then(FailureClass::parse)?;
    Some(FailureSignature::new(
        &job.name,
        class,
        job.evidence.as_deref(),
    ))
}

/// What a pipeline showed, from its stored failed jobs (`stages`: the committed file's
/// stage order, to tell whether the first failure moved later).
pub fn observe(jobs: &[FailedJob], stages: &[String]) -> Observation {
    let failed: Vec<&FailedJob> = jobs.iter().filter(|j| j.status == "failed").collect();
    Observation {
        signatures: distinct_signatures(failed.iter().filter_map(|j| signature(j))),
        failed_jobs: failed.len(),
        earliest_failed_stage: failed
            .iter()
            .filter_map(|j| stages.iter().position(|s| *s == j.stage))
            .min(),
    }
}

/// Judges the latest fix (when the current attempt was reached through one) and records it
/// in the guard.
pub fn judge_previous_fix(task: &mut MonitorTask, stages: &[String]) {
    let Some(target) = task.heal_target.clone() else {
        return;
    };
    let n = task.attempts.len();
    if n < 2 {
        return;
    }
    let before = observe(&task.attempts[n - 2].failed_jobs, stages);
    let after = observe(&task.attempts[n - 1].failed_jobs, stages);
    let progress = assess(&target, &before, &after);
    if let Some(guard) = task.heal_guard.as_mut() {
        guard.record_progress(&target, progress);
    }
    task.heal_target = None;
}

/// The generated files as the fix strategies see them.
pub fn generated_files(files: &BTreeMap<String, String>) -> Vec<GeneratedFile> {
    files
        .iter()
        .map(|(p, t)| GeneratedFile::new(p.clone(), t.clone()))
        .collect()
}

/// Decides what to do about the failed jobs of the current attempt. `task.heal_guard` is
/// created here on the first failed gate.
pub fn plan(
    task: &mut MonitorTask,
    jobs: &[ClassifiedJob],
    max_attempts: u32,
    settings: &ValidatorSettings,
    parent_sha: &str,
    abilities: HealAbilities,
    learned: &BTreeMap<FailureSignature, Vec<LearnedFix>>,
) -> HealPlan {
    let files = generated_files(&task.files);
    let guard = task
        .heal_guard
        .get_or_insert_with(|| HealGuard::new(max_attempts, &file_state_hash(&files)))
        .clone();
    let failed: Vec<&ClassifiedJob> = jobs.iter().filter(|j| j.job.status == "failed").collect();
    if failed.is_empty() {
        let names: Vec<&str> = jobs.iter().map(|j| j.job.name.as_str()).collect();
        return HealPlan::Exhausted(format!(
            "no job failed, but {} did not pass (skipped, manual or canceled): nothing to heal",
            names.join(", ")
        ));
    }
    let mut decisions = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for job in &failed {
        let sig = FailureSignature::new(
            &job.job.name,
            job.classification.class,
            job.classification.evidence.as_deref(),
        );
        // Matrix and parallel jobs failing the same way get one fix.
        if !seen.insert(sig.clone()) {
            continue;
        }
        let ctx = FixContext {
            classification: &job.classification,
            job: &job.job.name,
            stage: &job.job.stage,
            files: &files,
            settings,
            registry_tags: None,
            retries_used: guard.retries_used(&sig),
        };
        decisions.push((job, sig, decide(&ctx)));
    }
    if let Some((
        job,
        _,
        HealDecision::NeedsCodeFix {
            class,
            evidence,
            line,
        },
    )) = decisions
        .iter()
        .find(|(_, _, d)| matches!(d, HealDecision::NeedsCodeFix { .. }))
    {
        let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
        return HealPlan::NeedsCodeFix(format!(
            "`{}` fails in the project's own code or tests ({class}){at}: {}",
            job.job.name,
            evidence
                .as_deref()
                .unwrap_or("no single line shows the cause")
        ));
    }
    // Flakes first: retried unchanged, every run of the signature (matrix jobs included).
    let retry_sigs: Vec<FailureSignature> = decisions
        .iter()
        .filter(|(_, _, d)| matches!(d, HealDecision::Retry { .. }))
        .map(|(_, sig, _)| sig.clone())
        .collect();
    if !retry_sigs.is_empty() {
        let retry_jobs: Vec<RetryJob> = failed
            .iter()
            .filter(|j| retry_sigs.contains(&job_signature(j)))
            .map(|j| RetryJob {
                job_id: j.job_id,
                name: j.job.name.clone(),
            })
            .collect();
        let names: Vec<&str> = retry_jobs.iter().map(|j| j.name.as_str()).collect();
        let classes: Vec<&str> = retry_sigs.iter().map(|s| s.class.as_str()).collect();
        return HealPlan::Retry {
            summary: format!(
                "retried {} unchanged ({})",
                names.join(", "),
                classes.join(", ")
            ),
            jobs: retry_jobs,
            signatures: retry_sigs,
        };
    }
    // What worked before for the same failure is tried first.
    for (_, sig, decision) in &decisions {
        if matches!(decision, HealDecision::Retry { .. }) {
            continue;
        }
        for fix in learned.get(sig).map(Vec::as_slice).unwrap_or(&[]) {
            let Some(changed) = fix.apply(&files) else {
                continue;
            };
            if check_fix(&files, &changed, settings).is_err() {
                continue;
            }
            let strategy = format!("{LEARNED_PREFIX}{}", fix.strategy);
            let summary = format!("{} (learned from {})", fix.summary, fix.project);
            if let Ok(intent) =
                commit_intent(task, &guard, sig, &strategy, &summary, &changed, parent_sha)
            {
                return HealPlan::Commit(Box::new(intent));
            }
        }
    }
    let mut stop: Option<String> = None;
    let mut later: Option<HealPlan> = None;
    for (job, sig, decision) in &decisions {
        let note = match decision {
            HealDecision::Patch(patch) => match commit_intent(
                task,
                &guard,
                sig,
                patch.strategy.as_str(),
                &patch.summary,
                &patch.files,
                parent_sha,
            ) {
                Ok(intent) => return HealPlan::Commit(Box::new(intent)),
                // The deterministic fix did not help: the model may find another.
                Err(IntentRefused::Guard(StopReason::FixAlreadyTried { .. }))
                    if abilities.llm && guard.may_try(sig, LLM_STRATEGY).is_ok() =>
                {
                    later.get_or_insert_with(|| HealPlan::AskLlm {
                        job: Box::new((**job).clone()),
                        signature: sig.clone(),
                        reason: format!(
                            "the deterministic fix `{}` was already tried and did not help",
                            patch.strategy.as_str()
                        ),
                    });
                    continue;
                }
                Err(reason) => format!("`{}` ({}): {reason}", job.job.name, sig.class),
            },
            HealDecision::Retry { .. } => continue,
            HealDecision::SeedImage { image } => {
                let seeded_before = guard.retries_used(sig) > 0;
                if abilities.seed_images && !seeded_before {
                    later.get_or_insert_with(|| HealPlan::SeedImage {
                        image: image.clone(),
                        jobs: failed
                            .iter()
                            .filter(|j| job_signature(j) == *sig)
                            .map(|j| RetryJob {
                                job_id: j.job_id,
                                name: j.job.name.clone(),
                            })
                            .collect(),
                        signature: sig.clone(),
                    });
                    continue;
                }
                if seeded_before {
                    format!(
                        "`{}`: image `{image}` is still missing after it was seeded and the job retried; check the registry's upstream and the image name",
                        job.job.name
                    )
                } else {
                    format!(
                        "`{}`: image `{image}` is missing from the registry and no registry is configured to seed it into; seed it (`pipewright images`, `POST /api/v1/images/seed`) and retry the job",
                        job.job.name
                    )
                }
            }
            HealDecision::Escalate { reason } => {
                format!("`{}` ({}): {reason}", job.job.name, sig.class)
            }
            HealDecision::AskLlm { reason } => {
                if !abilities.llm {
                    format!(
                        "`{}` ({}): no deterministic fix and no LLM configured ({reason})",
                        job.job.name, sig.class
                    )
                } else if let Err(stop) = guard.may_try(sig, LLM_STRATEGY) {
                    format!("`{}` ({}): {stop}", job.job.name, sig.class)
                } else {
                    later.get_or_insert_with(|| HealPlan::AskLlm {
                        job: Box::new((**job).clone()),
                        signature: sig.clone(),
                        reason: reason.clone(),
                    });
                    continue;
                }
            }
            HealDecision::NeedsCodeFix { .. } => continue,
        };
        stop.get_or_insert(note);
    }
    if let Some(plan) = later {
        return plan;
    }
    HealPlan::Exhausted(stop.unwrap_or_else(|| "no fix found".into()))
}

/// Why a fix is not committed.
#[derive(Debug, Clone, PartialEq)]
pub enum IntentRefused {
    /// The fix changes no file.
    Unchanged { strategy: String },
    /// The loop guard says no (attempts used up, the fix tried already, fixes that did not
    /// help, an earlier file state).
    Guard(StopReason),
}

impl std::fmt::Display for IntentRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IntentRefused::Unchanged { strategy } => {
                write!(f, "the fix `{strategy}` changes nothing")
            }
            IntentRefused::Guard(reason) => reason.fmt(f),
        }
    }
}

/// The commit that applies `files` (whole, changed or not) as attempt `guard.attempts + 1`
/// for `sig`, or why it is refused.
pub fn commit_intent(
    task: &MonitorTask,
    guard: &HealGuard,
    sig: &FailureSignature,
    strategy: &str,
    summary: &str,
    files: &[GeneratedFile],
    parent_sha: &str,
) -> Result<HealIntent, IntentRefused> {
    let changed: BTreeMap<String, String> = files
        .iter()
        .filter(|f| task.files.get(&f.path) != Some(&f.text))
        .map(|f| (f.path.clone(), f.text.clone()))
        .collect();
    if changed.is_empty() {
        return Err(IntentRefused::Unchanged {
            strategy: strategy.to_string(),
        });
    }
    let mut after = task.files.clone();
    after.extend(changed.iter().map(|(p, t)| (p.clone(), t.clone())));
    let state = file_state_hash(&generated_files(&after));
    guard
        .check(sig, strategy, &state)
        .map_err(IntentRefused::Guard)?;
    let attempt = guard.attempts + 1;
    Ok(HealIntent {
        attempt,
        signature: sig.clone(),
        strategy: strategy.to_string(),
        summary: summary.to_string(),
        diff: unified_diff(&task.files, &changed),
        message: commit_message(
            attempt,
            guard.max_attempts,
            sig.class,
            summary,
            &task.run_id,
        ),
        files: changed,
        state,
        parent_sha: parent_sha.to_string(),
    })
}

fn job_signature(job: &ClassifiedJob) -> FailureSignature {
    FailureSignature::new(
        &job.job.name,
        job.classification.class,
        job.classification.evidence.as_deref(),
    )
}

/// The attempt's `fix` object once `intent` is committed as `commit_id`.
pub fn attempt_fix(intent: &HealIntent, commit_id: &str) -> AttemptFix {
    AttemptFix {
        strategy: intent.strategy.clone(),
        summary: intent.summary.clone(),
        diff: intent.diff.clone(),
        commit_id: Some(commit_id.to_string()),
        signature: Some(intent.signature.clone()),
    }
}

/// A unified diff of each changed file against the committed one.
pub fn unified_diff(
    before: &BTreeMap<String, String>,
    changed: &BTreeMap<String, String>,
) -> String {
    let mut out = String::new();
    for (path, text) in changed {
        let old = before.get(path).map(String::as_str).unwrap_or("");
        let diff = similar::TextDiff::from_lines(old, text.as_str());
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(2)
                .header(&format!("a/{path}"), &format!("b/{path}"))
                .to_string(),
        );
    }
    out
}

/// Asks the model for a fix of `job` and turns a valid answer into a commit under the guard.
/// The answer is checked like a generation's (validator, no weakening, only generated
/// files); a refused answer or a model error stops the loop with the reason, nothing is
/// committed. The model's evidence quote, when its notes give one, is not trusted: the
/// commit message names the classifier's class and evidence only.
#[allow(clippy::too_many_arguments)]
pub async fn llm_fix(
    llm: &dyn LlmProvider,
    temperature: f32,
    task: &MonitorTask,
    job: &ClassifiedJob,
    signature: &FailureSignature,
    reason: &str,
    settings: &ValidatorSettings,
    parent_sha: &str,
) -> HealPlan {
    let files = generated_files(&task.files);
    let previous_diff = task
        .attempts
        .iter()
        .rev()
        .find_map(|a| a.fix.as_ref().filter(|f| !f.diff.is_empty()))
        .map(|f| f.diff.clone());
    let input = HealPromptInput {
        job: &job.job.name,
        stage: &job.job.stage,
        classification: &job.classification,
        reason,
        log_tail: &job.log_tail,
        files: &files,
        previous_diff: previous_diff.as_deref(),
    };
    let request = heal_request(&input, &PromptSettings::default(), temperature);
    let stop = |why: String| {
        HealPlan::Exhausted(format!(
            "`{}` ({}): {why}; nothing was committed",
            job.job.name, signature.class
        ))
    };
    let answer = match llm.complete(&request).await {
        Ok(a) => a,
        Err(e) => return stop(format!("the model could not be asked for a fix: {e}")),
    };
    let changed = match read_llm_fix(&answer.text, &files, settings) {
        Ok(c) => c,
        Err(e) => return stop(e.to_string()),
    };
    let Some(guard) = task.heal_guard.as_ref() else {
        return stop("the heal guard is missing".into());
    };
    let paths: Vec<&str> = changed.iter().map(|f| f.path.as_str()).collect();
    let summary = format!(
        "the model's fix of {} ({})",
        paths.join(" and "),
        llm.model()
    );
    match commit_intent(
        task,
        guard,
        signature,
        LLM_STRATEGY,
        &summary,
        &changed,
        parent_sha,
    ) {
        Ok(intent) => HealPlan::Commit(Box::new(intent)),
        Err(why) => stop(why.to_string()),
    }
}

/// The strategy name of a learned fix starts with this, then the strategy that made it.
pub const LEARNED_PREFIX: &str = "learned:";

/// The fixes of a run that worked, once its pipeline passed the gate: a committed fix whose
/// signature is gone from the pipeline it led to.
pub fn fixes_that_worked(task: &MonitorTask, now_ms: u64) -> Vec<LearnedFix> {
    task.attempts
        .iter()
        .filter_map(|a| {
            let fix = a.fix.as_ref()?;
            fix.commit_id.as_ref()?;
            let sig = fix.signature.as_ref()?;
            let still = a
                .failed_jobs
                .iter()
                .filter(|j| j.status == "failed")
                .any(|j| signature(j).as_ref() == Some(sig));
            if still {
                return None;
            }
            let strategy = fix
                .strategy
                .strip_prefix(LEARNED_PREFIX)
                .unwrap_or(&fix.strategy);
            LearnedFix::from_diff(
                sig,
                strategy,
                &fix.summary,
                &fix.diff,
                &task.project_path,
                &task.run_id,
                now_ms,
            )
        })
        .collect()
}

/// The strategy name of a model's fix.
pub const LLM_STRATEGY: &str = "llm";
