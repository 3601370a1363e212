//! Loop detection for the heal loop, as pure code: failure signatures (job, class, masked
//! evidence), whether a fix helped, A→B→A file states, the per-signature budget, and the
//! commit message with its `Pipewright-Run` trailer that makes a restarted loop idempotent.

use super::class::FailureClass;
use super::fix::GeneratedFile;
use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::OnceLock;

/// Attempts without progress on one signature before the loop stops.
pub const MAX_INEFFECTIVE_PER_SIGNATURE: u32 = 2;

/// The seed's outer bound on fix commits per run (`MAX_SELF_HEAL_ATTEMPTS`).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// The evidence line with what changes between runs masked: timestamps, UUIDs, hashes,
/// temporary paths, URLs' hosts stay but their numbers go, every other number becomes `<n>`.
pub fn mask_evidence(line: &str) -> String {
    static MASKS: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    let masks = MASKS.get_or_init(|| {
        [
            (r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?", "<time>"),
            (r"\b\d\d:\d\d:\d\d(?:\.\d+)?\b", "<time>"),
            (r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<uuid>"),
            (r"(?i)\bsha256:[0-9a-f]{12,64}\b", "<digest>"),
            (r"(?i)\b[0-9a-f]*[a-f][0-9a-f]*\d[0-9a-f]*\b|\b[0-9a-f]*\d[0-9a-f]*[a-f][0-9a-f]*\b", "<hex>"),
            (r"(?:/tmp|/var/tmp|/var/folders|/private/var/folders)/[^\s'\x22:;,)]+", "<tmp>"),
            (r"\b(?:tmp|temp)[._-]?[A-Za-z0-9]{4,}\b", "<tmp>"),
            (r"\d+", "<n>"),
        ]
        .into_iter()
        .map(|(re, to)| (Regex::new(re).expect("mask regexes compile"), to))
        .collect()
    });
    let mut out = line.trim().to_string();
    for (re, to) in masks {
        let src = out.clone();
        out = re
            .replace_all(&src, |c: &regex::Captures<'_>| {
                let m = c.get(0).map(|m| (m.start(), m.end())).unwrap_or((0, 0));
                let letter = |ch: Option<char>| ch.is_some_and(|ch| ch.is_ascii_alphabetic());
                let inside_word =
                    letter(src[..m.0].chars().next_back()) && letter(src[m.1..].chars().next());
                // Short hex-looking words (`e2e`, `v1`) are not hashes; digits inside a word
                // (`e2e`, `utf8x`) are part of its name.
                if (*to == "<hex>" && c[0].len() < 7) || (*to == "<n>" && inside_word) {
                    c[0].to_string()
                } else {
                    (*to).to_string()
                }
            })
            .into_owned();
    }
    out
}

/// A job name without its matrix or parallel suffix: `rspec 2/4` → `rspec`,
/// `test: [3.12, postgres]` → `test`.
pub fn base_job_name(name: &str) -> &str {
    let name = name.trim();
    if let Some(i) = name.find(": [") {
        if name.ends_with(']') {
            return name[..i].trim_end();
        }
    }
    if let Some((head, tail)) = name.rsplit_once(' ') {
        if let Some((a, b)) = tail.split_once('/') {
            if a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok() {
                return head.trim_end();
            }
        }
    }
    name
}

/// What identifies one failure across pipelines: the job (matrix suffix dropped), the class
/// and the masked evidence.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FailureSignature {
    pub job: String,
    pub class: FailureClass,
    pub template: String,
}

impl FailureSignature {
    pub fn new(job: &str, class: FailureClass, evidence: Option<&str>) -> Self {
        FailureSignature {
            job: base_job_name(job).to_string(),
            class,
            template: evidence.map(mask_evidence).unwrap_or_default(),
        }
    }

    /// A short stable id (16 hex digits of SHA-256).
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.job.as_bytes());
        h.update([0]);
        h.update(self.class.as_str().as_bytes());
        h.update([0]);
        h.update(self.template.as_bytes());
        hex(&h.finalize()[..8])
    }
}

/// One signature per distinct failure: parallel and matrix jobs failing the same way get one
/// fix. Order of first appearance is kept.
pub fn distinct_signatures(
    signatures: impl IntoIterator<Item = FailureSignature>,
) -> Vec<FailureSignature> {
    let mut seen = HashSet::new();
    signatures
        .into_iter()
        .filter(|s| seen.insert(s.clone()))
        .collect()
}

/// SHA-256 of the generated files (sorted by path): equal hashes, equal files.
pub fn file_state_hash(files: &[GeneratedFile]) -> String {
    let mut sorted: Vec<&GeneratedFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut h = Sha256::new();
    for f in sorted {
        h.update(f.path.as_bytes());
        h.update([0]);
        h.update((f.text.len() as u64).to_le_bytes());
        h.update(f.text.as_bytes());
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a pipeline showed, for judging a fix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    pub signatures: Vec<FailureSignature>,
    pub failed_jobs: usize,
    /// Index of the earliest stage with a failed job.
    pub earliest_failed_stage: Option<usize>,
}

/// Whether a fix helped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// The signature it targeted is gone.
    Effective,
    /// The signature stays, but fewer jobs fail or the first failure moved to a later stage.
    Partial,
    /// Nothing moved.
    Ineffective,
}

/// Judges the fix aimed at `target` from the pipelines before and after it.
pub fn assess(target: &FailureSignature, before: &Observation, after: &Observation) -> Progress {
    if !after.signatures.contains(target) {
        return Progress::Effective;
    }
    let later_stage = match (before.earliest_failed_stage, after.earliest_failed_stage) {
        (Some(b), Some(a)) => a > b,
        _ => false,
    };
    if after.failed_jobs < before.failed_jobs || later_stage {
        Progress::Partial
    } else {
        Progress::Ineffective
    }
}

/// Why the loop stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StopReason {
    /// `max` fix commits were made.
    MaxAttempts { max: u32 },
    /// Fixes for one signature did not help, `attempts` times.
    Ineffective {
        signature: FailureSignature,
        attempts: u32,
    },
    /// The fix would bring back files seen after an earlier attempt (A→B→A).
    FileStateRepeated { seen_after_attempt: u32 },
    /// This fix was tried on this signature already.
    FixAlreadyTried {
        signature: FailureSignature,
        fix: String,
    },
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::MaxAttempts { max } => write!(f, "{max} fix attempts made, the limit"),
            StopReason::Ineffective {
                signature,
                attempts,
            } => write!(
                f,
                "{attempts} fixes did not help `{}` ({}): {}",
                signature.job, signature.class, signature.template
            ),
            StopReason::FileStateRepeated { seen_after_attempt } => write!(
                f,
                "the fix would restore the files of attempt {seen_after_attempt} (a cycle)"
            ),
            StopReason::FixAlreadyTried { signature, fix } => write!(
                f,
                "`{fix}` was already tried on `{}` ({}) and did not help",
                signature.job, signature.class
            ),
        }
    }
}

/// The heal loop's memory: attempts made, fixes tried per signature, ineffective counts and
/// the file states seen. Rebuilt from stored attempts after a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealGuard {
    pub max_attempts: u32,
    pub attempts: u32,
    /// Signature id → fixes tried on it.
    pub tried: HashMap<String, Vec<String>>,
    /// Signature id → attempts that did not help.
    pub ineffective: HashMap<String, u32>,
    /// File-state hash → the attempt after which it was committed (0: as generated).
    pub states: HashMap<String, u32>,
    /// Signature id → unchanged job retries spent on it (their own budget, not attempts).
    #[serde(default)]
    pub retries: HashMap<String, u32>,
}

impl HealGuard {
    /// A guard for a run whose generated files hash to `initial_state`.
    pub fn new(max_attempts: u32, initial_state: &str) -> Self {
        let mut states = HashMap::new();
        states.insert(initial_state.to_string(), 0);
        HealGuard {
            max_attempts,
            states,
            ..HealGuard::default()
        }
    }

    /// May `fix` (a strategy name or a diff id) be committed for `signature`, producing files
    /// hashing to `new_state`?
    pub fn check(
        &self,
        signature: &FailureSignature,
        fix: &str,
        new_state: &str,
    ) -> Result<(), StopReason> {
        if self.attempts >= self.max_attempts {
            return Err(StopReason::MaxAttempts {
                max: self.max_attempts,
            });
        }
        let id = signature.id();
        let ineffective = self.ineffective.get(&id).copied().unwrap_or(0);
        if ineffective >= MAX_INEFFECTIVE_PER_SIGNATURE {
            return Err(StopReason::Ineffective {
                signature: signature.clone(),
                attempts: ineffective,
            });
        }
        if self
            .tried
            .get(&id)
            .is_some_and(|t| t.iter().any(|x| x == fix))
        {
            return Err(StopReason::FixAlreadyTried {
                signature: signature.clone(),
                fix: fix.to_string(),
            });
        }
        if let Some(&seen) = self.states.get(new_state).filter(|_| !new_state.is_empty()) {
            return Err(StopReason::FileStateRepeated {
                seen_after_attempt: seen,
            });
        }
        Ok(())
    }

    /// May `fix` be tried on `signature` at all (before its files are known)? The same
    /// checks as [`HealGuard::check`] but the file state.
    pub fn may_try(&self, signature: &FailureSignature, fix: &str) -> Result<(), StopReason> {
        self.check(signature, fix, "")
    }

    /// Records a committed fix (the attempt counter moves on).
    pub fn record_commit(
        &mut self,
        signature: &FailureSignature,
        fix: &str,
        new_state: &str,
    ) -> u32 {
        self.attempts += 1;
        self.tried
            .entry(signature.id())
            .or_default()
            .push(fix.to_string());
        self.states.insert(new_state.to_string(), self.attempts);
        self.attempts
    }

    /// Unchanged retries spent on `signature` so far.
    pub fn retries_used(&self, signature: &FailureSignature) -> u32 {
        self.retries.get(&signature.id()).copied().unwrap_or(0)
    }

    /// Records one unchanged retry of the jobs failing with `signature`.
    pub fn record_retry(&mut self, signature: &FailureSignature) -> u32 {
        let n = self.retries.entry(signature.id()).or_default();
        *n += 1;
        *n
    }

    /// Records what the next pipeline showed about the fixed signature.
    pub fn record_progress(&mut self, signature: &FailureSignature, progress: Progress) {
        if progress == Progress::Ineffective {
            *self.ineffective.entry(signature.id()).or_default() += 1;
        }
    }
}

/// The trailer key that ties a commit to a run's attempt.
pub const RUN_TRAILER: &str = "Pipewright-Run";

/// `[Self-Heal N/MAX] <class>: <what changed>` and the `Pipewright-Run: <run>/<attempt>`
/// trailer. The summary is cut to one line of at most 100 characters.
pub fn commit_message(
    attempt: u32,
    max: u32,
    class: FailureClass,
    summary: &str,
    run_id: &str,
) -> String {
    let line = summary.lines().next().unwrap_or("").trim();
    let mut short: String = line.chars().take(100).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    format!("[Self-Heal {attempt}/{max}] {class}: {short}\n\n{RUN_TRAILER}: {run_id}/{attempt}\n")
}

/// The run and attempt a commit message's trailer names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunTrailer {
    pub run_id: String,
    pub attempt: u32,
}

/// Reads the `Pipewright-Run: <run id>/<attempt>` trailer (the last one wins).
pub fn parse_trailer(message: &str) -> Option<RunTrailer> {
    message.lines().rev().find_map(|line| {
        let value = line
            .trim()
            .strip_prefix(RUN_TRAILER)?
            .strip_prefix(':')?
            .trim();
        let (run, attempt) = value.rsplit_once('/')?;
        let attempt = attempt.parse().ok()?;
        (!run.is_empty() && !run.contains(char::is_whitespace)).then(|| RunTrailer {
            run_id: run.to_string(),
            attempt,
        })
    })
}

/// Reads `[Self-Heal N/MAX] <class>: …` from a commit's first line.
pub fn parse_subject(message: &str) -> Option<(u32, u32, FailureClass)> {
    let first = message.lines().next()?;
    let rest = first.strip_prefix("[Self-Heal ")?;
    let (counts, rest) = rest.split_once("] ")?;
    let (n, max) = counts.split_once('/')?;
    let (class, _) = rest.split_once(':')?;
    Some((
        n.parse().ok()?,
        max.parse().ok()?,
        FailureClass::parse(class)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_removes_what_changes_between_runs() {
        let a = mask_evidence("2026-12-07T03:05:41Z FATAL image ai-nexus:5001/apm-repo/demo/orders:3f9c2e1a not found in /tmp/kaniko-123abc/x after 12 tries");
        let b = mask_evidence("2026-12-08T11:00:02Z FATAL image ai-nexus:5001/apm-repo/demo/orders:9d8e7f6a not found in /tmp/kaniko-999zzz/x after 3 tries");
        assert_eq!(a, b);
        assert!(a.contains("apm-repo/demo/orders"));
        assert_eq!(mask_evidence("e2e job: exit 1"), "e2e job: exit <n>");
        assert_eq!(
            mask_evidence("id 123e4567-e89b-12d3-a456-426614174000 at 10:01:02.5"),
            "id <uuid> at <time>"
        );
    }

    #[test]
    fn matrix_and_parallel_jobs_share_a_signature() {
        assert_eq!(base_job_name("rspec 2/4"), "rspec");
        assert_eq!(base_job_name("test: [3.12, postgres]"), "test");
        assert_eq!(base_job_name("test:api"), "test:api");
        let sigs = distinct_signatures([
            FailureSignature::new(
                "rspec 1/4",
                FailureClass::ServiceConnection,
                Some("ECONNREFUSED 127.0.0.1:5432 after 31ms"),
            ),
            FailureSignature::new(
                "rspec 2/4",
                FailureClass::ServiceConnection,
                Some("ECONNREFUSED 127.0.0.1:5432 after 12ms"),
            ),
            FailureSignature::new("lint", FailureClass::LintFailure, Some("3 offenses")),
        ]);
        assert_eq!(sigs.len(), 2);
        assert_eq!(sigs[0].id().len(), 16);
        assert_ne!(sigs[0].id(), sigs[1].id());
    }

    fn sig() -> FailureSignature {
        FailureSignature::new(
            "test",
            FailureClass::MissingCommand,
            Some("sh: 1: jq: not found"),
        )
    }

    #[test]
    fn progress_is_judged_from_signatures_jobs_and_stages() {
        let before = Observation {
            signatures: vec![sig()],
            failed_jobs: 2,
            earliest_failed_stage: Some(2),
        };
        let gone = Observation {
            signatures: vec![],
            failed_jobs: 1,
            earliest_failed_stage: Some(5),
        };
        assert_eq!(assess(&sig(), &before, &gone), Progress::Effective);
        let fewer = Observation {
            signatures: vec![sig()],
            failed_jobs: 1,
            earliest_failed_stage: Some(2),
        };
        assert_eq!(assess(&sig(), &before, &fewer), Progress::Partial);
        assert_eq!(
            assess(&sig(), &before, &before.clone()),
            Progress::Ineffective
        );
    }

    #[test]
    fn the_guard_stops_on_budget_repeats_cycles_and_the_limit() {
        let mut g = HealGuard::new(3, "A");
        assert_eq!(g.check(&sig(), "install_command", "B"), Ok(()));
        g.record_commit(&sig(), "install_command", "B");
        g.record_progress(&sig(), Progress::Ineffective);
        assert!(matches!(
            g.check(&sig(), "install_command", "C"),
            Err(StopReason::FixAlreadyTried { .. })
        ));
        assert_eq!(
            g.check(&sig(), "llm:1", "A"),
            Err(StopReason::FileStateRepeated {
                seen_after_attempt: 0
            })
        );
        assert_eq!(g.check(&sig(), "llm:1", "C"), Ok(()));
        g.record_commit(&sig(), "llm:1", "C");
        g.record_progress(&sig(), Progress::Ineffective);
        let stop = g.check(&sig(), "llm:2", "D").unwrap_err();
        assert!(matches!(stop, StopReason::Ineffective { attempts: 2, .. }));
        assert!(stop.to_string().contains("2 fixes did not help `test`"));
        let other = FailureSignature::new("build", FailureClass::OutOfMemory, Some("Killed"));
        g.record_commit(&other, "memory_settings", "E");
        assert_eq!(
            g.check(&other, "x", "F"),
            Err(StopReason::MaxAttempts { max: 3 })
        );
    }

    #[test]
    fn commit_messages_carry_a_trailer_that_parses_back() {
        let m = commit_message(
            3,
            10,
            FailureClass::MissingCommand,
            "install jq (for `jq`) before `test` runs\nmore",
            "01JEXAMPLE",
        );
        assert!(m.starts_with(
            "[Self-Heal 3/10] missing_command: install jq (for `jq`) before `test` runs\n\n"
        ));
        assert_eq!(
            parse_trailer(&m),
            Some(RunTrailer {
                run_id: "01JEXAMPLE".into(),
                attempt: 3
            })
        );
        assert_eq!(
            parse_subject(&m),
            Some((3, 10, FailureClass::MissingCommand))
        );
        assert_eq!(parse_trailer("fix\n\nPipewright-Run: nope"), None);
        assert_eq!(parse_subject("Update README"), None);
        let long = commit_message(1, 10, FailureClass::Unknown, &"x".repeat(300), "r");
        assert!(long.lines().next().unwrap().chars().count() < 140);
    }

    #[test]
    fn file_state_hash_ignores_order_and_sees_every_byte() {
        let a = GeneratedFile::new(".gitlab-ci.yml", "a");
        let d = GeneratedFile::new("Dockerfile", "FROM x");
        assert_eq!(
            file_state_hash(&[a.clone(), d.clone()]),
            file_state_hash(&[d.clone(), a.clone()])
        );
        let a2 = GeneratedFile::new(".gitlab-ci.yml", "a ");
        assert_ne!(file_state_hash(&[a, d.clone()]), file_state_hash(&[a2, d]));
    }
}
