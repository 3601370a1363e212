//! What self-heal remembers: a fix that led to a green pipeline, keyed by the failure it cured
//! (class and masked evidence, whatever the job is called), so the same failure elsewhere is
//! met with that fix first. A fix is kept as one unified diff per file and applies only where
//! every hunk's context matches exactly (no fuzz): a learned fix never lands in a file it was
//! not made for.

use super::class::FailureClass;
use super::fix::GeneratedFile;
use super::guard::FailureSignature;
use crate::runs::RunStoreError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One file's change, as a unified diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePatch {
    pub path: String,
    pub patch: String,
}

/// A fix that worked: the failure it cured and the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnedFix {
    pub class: FailureClass,
    /// The masked evidence line ([`super::mask_evidence`]).
    pub template: String,
    /// The job it was made for (for people; the key ignores it).
    pub job: String,
    /// The strategy that made it (`raise_timeout`, `llm` …).
    pub strategy: String,
    pub summary: String,
    pub patches: Vec<FilePatch>,
    /// The project and run it was learned from.
    pub project: String,
    pub run_id: String,
    /// Milliseconds since the Unix epoch.
    pub learned_at_ms: u64,
}

/// The key fixes are found by: class and masked evidence.
pub fn memory_key(class: FailureClass, template: &str) -> String {
    let mut h = Sha256::new();
    h.update(class.as_str().as_bytes());
    h.update([0]);
    h.update(template.as_bytes());
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl LearnedFix {
    /// The fix aimed at `signature` whose change is `diff` (one unified diff, `a/` and `b/`
    /// headers per file, as the heal loop records it). `None` when the diff holds no file.
    #[allow(clippy::too_many_arguments)]
    pub fn from_diff(
        signature: &FailureSignature,
        strategy: &str,
        summary: &str,
        diff: &str,
        project: &str,
        run_id: &str,
        learned_at_ms: u64,
    ) -> Option<LearnedFix> {
        let patches = split_diff(diff);
        if patches.is_empty() {
            return None;
        }
        Some(LearnedFix {
            class: signature.class,
            template: signature.template.clone(),
            job: signature.job.clone(),
            strategy: strategy.to_string(),
            summary: summary.to_string(),
            patches,
            project: project.to_string(),
            run_id: run_id.to_string(),
            learned_at_ms,
        })
    }

    pub fn key(&self) -> String {
        memory_key(self.class, &self.template)
    }

    /// A stable id: the key and the change (the same fix learned twice is one entry).
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.key().as_bytes());
        for p in &self.patches {
            h.update([0]);
            h.update(p.path.as_bytes());
            h.update([0]);
            h.update(p.patch.as_bytes());
        }
        h.finalize()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The files after applying this fix to `files`, or `None` when a patched file is not
    /// among them or a hunk's context does not match exactly.
    pub fn apply(&self, files: &[GeneratedFile]) -> Option<Vec<GeneratedFile>> {
        self.patches
            .iter()
            .map(|p| {
                let file = files.iter().find(|f| f.path == p.path)?;
                let patch = diffy::Patch::from_str(&p.patch).ok()?;
                let text = diffy::apply(&file.text, &patch).ok()?;
                Some(GeneratedFile::new(&p.path, text))
            })
            .collect()
    }
}

/// A multi-file unified diff split into one patch per file (`--- a/<path>` starts each).
pub fn split_diff(diff: &str) -> Vec<FilePatch> {
    let mut out: Vec<FilePatch> = Vec::new();
    for line in diff.split_inclusive('\n') {
        if let Some(path) = line.strip_prefix("--- a/") {
            out.push(FilePatch {
                path: path.trim_end().to_string(),
                patch: String::new(),
            });
        }
        if let Some(last) = out.last_mut() {
            last.patch.push_str(line);
        }
    }
    out.retain(|p| p.patch.contains("\n@@"));
    out
}

/// Where learned fixes are kept. `recall` answers the newest first.
#[async_trait]
pub trait FixMemory: Send + Sync {
    /// Keeps `fix`; the same fix again is one entry. True when it was new.
    async fn remember(&self, fix: &LearnedFix) -> Result<bool, RunStoreError>;
    /// The fixes learned for `class` with this masked evidence, newest first, at most `limit`.
    async fn recall(
        &self,
        class: FailureClass,
        template: &str,
        limit: usize,
    ) -> Result<Vec<LearnedFix>, RunStoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "stages: [test]\ntest:\n  stage: test\n  script:\n    - pytest\n";
    const AFTER: &str =
        "stages: [test]\ntest:\n  stage: test\n  timeout: 2h\n  script:\n    - pytest\n";

    fn diff() -> String {
        "--- a/.gitlab-ci.yml\n+++ b/.gitlab-ci.yml\n@@ -2,4 +2,5 @@\n test:\n   stage: test\n+  timeout: 2h\n   script:\n     - pytest\n".to_string()
    }

    #[test]
    fn a_learned_fix_applies_where_its_context_matches_and_nowhere_else() {
        let sig = FailureSignature::new("test", FailureClass::TimeoutError, Some("took 1h"));
        let fix = LearnedFix::from_diff(&sig, "raise_timeout", "raise", &diff(), "team/a", "r1", 1)
            .unwrap();
        assert_eq!(fix.patches.len(), 1);
        assert_eq!(fix.patches[0].path, ".gitlab-ci.yml");
        let same = [GeneratedFile::new(".gitlab-ci.yml", BEFORE)];
        let applied = fix.apply(&same).unwrap();
        assert_eq!(applied[0].text, AFTER);
        let other = [GeneratedFile::new(
            ".gitlab-ci.yml",
            "stages: [build]\nbuild:\n  script: [make]\n",
        )];
        assert!(fix.apply(&other).is_none());
        assert!(fix.apply(&[]).is_none());
        let again =
            LearnedFix::from_diff(&sig, "raise_timeout", "raise", &diff(), "team/b", "r2", 2)
                .unwrap();
        assert_eq!(fix.id(), again.id(), "one entry per change");
        let elsewhere =
            FailureSignature::new("pytest", FailureClass::TimeoutError, Some("took 1h"));
        assert_eq!(
            memory_key(elsewhere.class, &elsewhere.template),
            fix.key(),
            "the job's name is not part of the key"
        );
    }
}
