//! The closed set of failure classes and their public snake_case names.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a CI job failed, as far as pipewright can tell. The seed's ten classes come first; the
/// names are part of the `classify --json` contract and of stored heal records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The job's image, a service image or a base image does not exist (manifest unknown).
    ImageNotFound,
    /// TLS, DNS or network trouble reaching a registry, index or host.
    TlsNetworkError,
    /// A service the job needs (database, cache, Docker daemon) refused or did not answer.
    ServiceConnection,
    /// A command the script runs is not installed where the job runs.
    MissingCommand,
    /// The project's code did not compile, or the image build failed.
    BuildFailure,
    /// A file or socket could not be used for lack of permission.
    PermissionError,
    /// The job, a step or a command ran out of time.
    TimeoutError,
    /// Artifacts a job uploads or needs were not there.
    ArtifactMissing,
    /// The pipeline file itself is not valid YAML / CI configuration.
    YamlSyntax,
    /// A job names a stage the pipeline does not declare.
    InvalidStage,
    /// Packages could not be resolved: conflicts, missing versions, stale lock files.
    DependencyResolution,
    /// The project's tests failed.
    TestFailure,
    /// A linter or formatter check failed.
    LintFailure,
    /// A security scanner (Trivy, Semgrep…) found problems and failed the job.
    SecurityScanFailure,
    /// A process ran out of memory or was killed for it.
    OutOfMemory,
    /// No space left on the runner's or the container's disk.
    DiskFull,
    /// Credentials were missing or refused (registry, API, git).
    AuthFailure,
    /// A registry or API answered "too many requests".
    RateLimited,
    /// The runner itself failed (preparation, system failure, lost pod); not the job's fault.
    RunnerSystemFailure,
    /// Fetching or checking out the repository failed.
    GitCheckoutFailure,
    /// Nothing recognised: the log and the failure reason say nothing pipewright knows.
    Unknown,
}

impl FailureClass {
    /// Every class, in declaration order.
    pub const ALL: [FailureClass; 21] = [
        FailureClass::ImageNotFound,
        FailureClass::TlsNetworkError,
        FailureClass::ServiceConnection,
        FailureClass::MissingCommand,
        FailureClass::BuildFailure,
        FailureClass::PermissionError,
        FailureClass::TimeoutError,
        FailureClass::ArtifactMissing,
        FailureClass::YamlSyntax,
        FailureClass::InvalidStage,
        FailureClass::DependencyResolution,
        FailureClass::TestFailure,
        FailureClass::LintFailure,
        FailureClass::SecurityScanFailure,
        FailureClass::OutOfMemory,
        FailureClass::DiskFull,
        FailureClass::AuthFailure,
        FailureClass::RateLimited,
        FailureClass::RunnerSystemFailure,
        FailureClass::GitCheckoutFailure,
        FailureClass::Unknown,
    ];

    /// The public snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::ImageNotFound => "image_not_found",
            FailureClass::TlsNetworkError => "tls_network_error",
            FailureClass::ServiceConnection => "service_connection",
            FailureClass::MissingCommand => "missing_command",
            FailureClass::BuildFailure => "build_failure",
            FailureClass::PermissionError => "permission_error",
            FailureClass::TimeoutError => "timeout_error",
            FailureClass::ArtifactMissing => "artifact_missing",
            FailureClass::YamlSyntax => "yaml_syntax",
            FailureClass::InvalidStage => "invalid_stage",
            FailureClass::DependencyResolution => "dependency_resolution",
            FailureClass::TestFailure => "test_failure",
            FailureClass::LintFailure => "lint_failure",
            FailureClass::SecurityScanFailure => "security_scan_failure",
            FailureClass::OutOfMemory => "out_of_memory",
            FailureClass::DiskFull => "disk_full",
            FailureClass::AuthFailure => "auth_failure",
            FailureClass::RateLimited => "rate_limited",
            FailureClass::RunnerSystemFailure => "runner_system_failure",
            FailureClass::GitCheckoutFailure => "git_checkout_failure",
            FailureClass::Unknown => "unknown",
        }
    }

    /// The class with this public name.
    pub fn parse(name: &str) -> Option<FailureClass> {
        FailureClass::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Position in [`FailureClass::ALL`], for per-class tables.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Failures that happen in the application's own code or tests: pipewright reports them
    /// and never weakens the pipeline to hide them.
    pub fn is_in_project_code(self) -> bool {
        matches!(
            self,
            FailureClass::BuildFailure
                | FailureClass::TestFailure
                | FailureClass::LintFailure
                | FailureClass::SecurityScanFailure
        )
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for class in FailureClass::ALL {
            assert_eq!(FailureClass::parse(class.as_str()), Some(class));
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.as_str()));
            assert_eq!(FailureClass::ALL[class.index()], class);
        }
        assert_eq!(FailureClass::parse("oom"), None);
    }
}
