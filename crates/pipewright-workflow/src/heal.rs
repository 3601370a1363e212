//! The self-heal loop's decision for one failed gate: classify each failed job, judge the
//! previous fix, pick what to do (a fix commit, `needs_code_fix`, or stop) under the loop
//! guards. The monitor ([`crate::monitor`]) saves the answer before acting on it.
//!
//! Order: a failure in the project's own code wins (pipewright never weakens the pipeline to
//! hide it); then the first deterministic patch the guards allow; anything else stops the
//! loop with the reason (retries, image seeding and the language model are not run by the
//! monitor yet, so they stop it with a message saying what a person should do).

use pipewright_core::heal::{
    assess, commit_message, decide, distinct_signatures, file_state_hash, Classification,
    FailureClass, FailureSignature, FixContext, GeneratedFile, HealDecision, HealGuard,
    Observation,
};
use pipewright_core::monitor::{AttemptFix, FailedJob, HealIntent, MonitorTask};
use pipewright_core::validate::ValidatorSettings;
use std::collections::BTreeMap;

/// `MAX_SELF_HEAL_ATTEMPTS`' default: fix commits per run.
pub const DEFAULT_MAX_SELF_HEAL_ATTEMPTS: u32 = 10;

/// A failed job with the classifier's answer over its log.
#[derive(Debug, Clone)]
pub struct ClassifiedJob {
    pub job: FailedJob,
    pub classification: Classification,
}

/// What to do about a failed gate.
#[derive(Debug, Clone, PartialEq)]
pub enum HealPlan {
    /// Commit this fix (after CI Lint), then watch its pipeline.
    Commit(Box<HealIntent>),
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
            retries_used: 0,
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
    let mut stop: Option<String> = None;
    for (job, sig, decision) in &decisions {
        let note = match decision {
            HealDecision::Patch(patch) => {
                let mut after = task.files.clone();
                for f in &patch.files {
                    after.insert(f.path.clone(), f.text.clone());
                }
                let state = file_state_hash(&generated_files(&after));
                if let Err(reason) = guard.check(sig, patch.strategy.as_str(), &state) {
                    format!("`{}` ({}): {reason}", job.job.name, sig.class)
                } else {
                    let attempt = guard.attempts + 1;
                    let changed: BTreeMap<String, String> = patch
                        .files
                        .iter()
                        .filter(|f| task.files.get(&f.path) != Some(&f.text))
                        .map(|f| (f.path.clone(), f.text.clone()))
                        .collect();
                    if changed.is_empty() {
                        format!(
                            "`{}` ({}): the fix `{}` changes nothing",
                            job.job.name,
                            sig.class,
                            patch.strategy.as_str()
                        )
                    } else {
                        return HealPlan::Commit(Box::new(HealIntent {
                            attempt,
                            signature: sig.clone(),
                            strategy: patch.strategy.as_str().to_string(),
                            summary: patch.summary.clone(),
                            diff: unified_diff(&task.files, &changed),
                            message: commit_message(
                                attempt,
                                guard.max_attempts,
                                sig.class,
                                &patch.summary,
                                &task.run_id,
                            ),
                            files: changed,
                            state,
                            parent_sha: parent_sha.to_string(),
                        }));
                    }
                }
            }
            HealDecision::Retry { reason } => format!(
                "`{}` ({}) needs an unchanged retry ({reason}); the monitor does not retry jobs yet: retry it in GitLab",
                job.job.name, sig.class
            ),
            HealDecision::SeedImage { image } => format!(
                "`{}`: image `{image}` is missing from the registry; seed it (`POST /api/v1/images/seed`) and retry the job",
                job.job.name
            ),
            HealDecision::Escalate { reason } => {
                format!("`{}` ({}): {reason}", job.job.name, sig.class)
            }
            HealDecision::AskLlm { reason } => format!(
                "`{}` ({}): no deterministic fix and no LLM configured ({reason})",
                job.job.name, sig.class
            ),
            HealDecision::NeedsCodeFix { .. } => continue,
        };
        stop.get_or_insert(note);
    }
    HealPlan::Exhausted(stop.unwrap_or_else(|| "no fix found".into()))
}

/// The attempt's `fix` object once `intent` is committed as `commit_id`.
pub fn attempt_fix(intent: &HealIntent, commit_id: &str) -> AttemptFix {
    AttemptFix {
        strategy: intent.strategy.clone(),
        summary: intent.summary.clone(),
        diff: intent.diff.clone(),
        commit_id: Some(commit_id.to_string()),
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
