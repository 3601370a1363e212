//! GitLab's `failure_reason`, read before the log: only `script_failure` (and reasons GitLab
//! does not know better than the log) need the trace; the runner's own reasons say it all.

use super::class::FailureClass;

/// What a `failure_reason` tells the classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonVerdict {
    /// The reason names the class; the log only supplies evidence for it.
    Decisive(FailureClass),
    /// The log decides (`script_failure`, `unknown_failure`, an unknown new value).
    ReadLog,
}

/// `failure_reason` values (GitLab's `Enums::Ci::CommitStatus` and the newer `retry:when`
/// names) and what each says. Values not listed read the log.
const REASONS: &[(&str, ReasonVerdict)] = {
    use FailureClass::*;
    use ReasonVerdict::*;
    &[
        ("script_failure", ReadLog),
        ("unknown_failure", ReadLog),
        ("api_failure", Decisive(RunnerSystemFailure)),
        ("stuck_or_timeout_failure", Decisive(RunnerSystemFailure)),
        ("runner_system_failure", Decisive(RunnerSystemFailure)),
        ("missing_dependency_failure", Decisive(ArtifactMissing)),
        ("runner_unsupported", Decisive(RunnerSystemFailure)),
        ("stale_schedule", Decisive(RunnerSystemFailure)),
        ("job_execution_timeout", Decisive(TimeoutError)),
        ("archived_failure", Decisive(RunnerSystemFailure)),
        ("unmet_prerequisites", Decisive(RunnerSystemFailure)),
        ("scheduler_failure", Decisive(RunnerSystemFailure)),
        ("data_integrity_failure", Decisive(RunnerSystemFailure)),
        ("no_matching_runner", Decisive(RunnerSystemFailure)),
        ("trace_size_exceeded", Decisive(RunnerSystemFailure)),
        (
            "job_execution_server_timeout",
            Decisive(RunnerSystemFailure),
        ),
        (
            "stuck_pending_with_matching_runners",
            Decisive(RunnerSystemFailure),
        ),
        (
            "stuck_pending_no_matching_runners",
            Decisive(RunnerSystemFailure),
        ),
        ("no_updates_running", Decisive(RunnerSystemFailure)),
        ("no_updates_canceling", Decisive(RunnerSystemFailure)),
        ("server_timeout_running", Decisive(RunnerSystemFailure)),
        ("server_timeout_canceling", Decisive(RunnerSystemFailure)),
        ("runner_interrupted", Decisive(RunnerSystemFailure)),
        (
            "runner_external_dependency_failure",
            Decisive(RunnerSystemFailure),
        ),
        // "Invalid image or tag, incompatible pull policy": the log says which.
        ("runner_configuration_error", ReadLog),
        ("image_pull_failure", ReadLog),
        ("ci_quota_exceeded", Decisive(RunnerSystemFailure)),
        ("secrets_provider_not_found", Decisive(AuthFailure)),
        ("secrets_manager_access_denied", Decisive(AuthFailure)),
        ("job_token_expired", Decisive(AuthFailure)),
        ("insufficient_bridge_permissions", Decisive(AuthFailure)),
        ("insufficient_upstream_permissions", Decisive(AuthFailure)),
        ("ip_restriction_failure", Decisive(AuthFailure)),
        ("user_blocked", Decisive(AuthFailure)),
    ]
};

/// What `reason` (GitLab's `failure_reason`, any case) tells the classifier.
pub fn reason_verdict(reason: &str) -> ReasonVerdict {
    let reason = reason.trim().to_ascii_lowercase();
    REASONS
        .iter()
        .find(|(name, _)| *name == reason)
        .map(|(_, v)| *v)
        .unwrap_or(ReasonVerdict::ReadLog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_reasons_are_decisive_and_script_failure_reads_the_log() {
        assert_eq!(reason_verdict("script_failure"), ReasonVerdict::ReadLog);
        assert_eq!(
            reason_verdict("runner_system_failure"),
            ReasonVerdict::Decisive(FailureClass::RunnerSystemFailure)
        );
        assert_eq!(
            reason_verdict("Job_Execution_Timeout"),
            ReasonVerdict::Decisive(FailureClass::TimeoutError)
        );
        assert_eq!(
            reason_verdict("missing_dependency_failure"),
            ReasonVerdict::Decisive(FailureClass::ArtifactMissing)
        );
        assert_eq!(reason_verdict("a_reason_from_2030"), ReasonVerdict::ReadLog);
    }

    #[test]
    fn reason_table_has_no_duplicates() {
        let mut names: Vec<&str> = REASONS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
