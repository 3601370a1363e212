//! Every rule the validator knows, in one table: its stable id, severity, the file it applies
//! to, and a one-line description. Findings take their severity from here, so the table is the
//! single place to read (or generate docs from) what the validator enforces.

use super::text::Pos;
use super::{Finding, Fix, Severity};
use serde::Serialize;

/// Which file a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// `.gitlab-ci.yml`.
    Pipeline,
    /// `Dockerfile`.
    Dockerfile,
    /// Both files.
    Both,
}

/// One validator rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable kebab-case id, used in output and to silence or look up a rule.
    pub id: &'static str,
    /// The severity of every finding of this rule.
    pub severity: Severity,
    /// The file it applies to.
    pub target: Target,
    /// What it checks, in one line.
    pub summary: &'static str,
}

impl Rule {
    /// A finding of this rule at `pos` of the file this rule's target names by default.
    pub(crate) fn at(&self, pos: Pos, message: impl Into<String>) -> Finding {
        Finding {
            rule: self.id,
            severity: self.severity,
            message: message.into(),
            file: match self.target {
                Target::Dockerfile => "Dockerfile".to_string(),
                _ => ".gitlab-ci.yml".to_string(),
            },
            line: pos.line,
            column: pos.column,
            fix: None,
        }
    }

    /// Like [`Rule::at`], with a fix.
    pub(crate) fn fixable(
        &self,
        pos: Pos,
        message: impl Into<String>,
        fix: Option<Fix>,
    ) -> Finding {
        Finding {
            fix,
            ..self.at(pos, message)
        }
    }
}

const fn rule(id: &'static str, severity: Severity, target: Target, summary: &'static str) -> Rule {
    Rule {
        id,
        severity,
        target,
        summary,
    }
}

use Severity::{Error, Info, Warning};
use Target::{Both, Dockerfile, Pipeline};

// YAML reading
pub const YAML_SYNTAX: Rule = rule("yaml-syntax", Error, Pipeline, "The file is valid YAML.");
pub const YAML_TOO_LARGE: Rule = rule(
    "yaml-too-large",
    Error,
    Pipeline,
    "The file is under the size limit (4 MiB).",
);
pub const YAML_ALIAS_BUDGET: Rule = rule(
    "yaml-alias-budget",
    Error,
    Pipeline,
    "Anchors/aliases and !reference expand to a bounded number of nodes (no billion laughs).",
);
pub const YAML_TOO_DEEP: Rule = rule(
    "yaml-too-deep",
    Error,
    Pipeline,
    "The YAML nests at most 128 levels deep.",
);
pub const YAML_NOT_MAPPING: Rule = rule(
    "yaml-not-mapping",
    Error,
    Pipeline,
    "The document is a mapping of keywords and jobs.",
);
pub const DUPLICATE_KEY: Rule = rule(
    "duplicate-key",
    Error,
    Pipeline,
    "No key appears twice in one mapping (YAML keeps only the last, silently).",
);
// GitLab's schema
pub const GITLAB_SCHEMA: Rule = rule(
    "gitlab-schema",
    Error,
    Pipeline,
    "The configuration matches GitLab's official CI JSON schema.",
);
// Pipeline semantics
pub const STAGE_UNDECLARED: Rule = rule(
    "stage-undeclared",
    Error,
    Pipeline,
    "Every job's stage is declared in `stages`.",
);
pub const NEEDS_UNKNOWN_JOB: Rule = rule(
    "needs-unknown-job",
    Error,
    Pipeline,
    "Every `needs` entry names a job of the pipeline.",
);
pub const DEPENDENCIES_UNKNOWN_JOB: Rule = rule(
    "dependencies-unknown-job",
    Error,
    Pipeline,
    "Every `dependencies` entry names a job of the pipeline.",
);
pub const DEPENDENCIES_NOT_IN_NEEDS: Rule = rule(
    "dependencies-not-in-needs",
    Error,
    Pipeline,
    "When a job has both, each of its `dependencies` is also in its `needs`.",
);
pub const NEEDS_LATER_STAGE: Rule = rule(
    "needs-later-stage",
    Error,
    Pipeline,
    "`needs` and `dependencies` point at jobs of the same or an earlier stage.",
);
pub const NEEDS_CYCLE: Rule = rule(
    "needs-cycle",
    Error,
    Pipeline,
    "`needs` between jobs form no cycle.",
);
pub const EXTENDS_UNKNOWN: Rule = rule(
    "extends-unknown",
    Error,
    Pipeline,
    "Every `extends` entry names a job or hidden job of the file.",
);
pub const EXTENDS_CYCLE: Rule = rule(
    "extends-cycle",
    Error,
    Pipeline,
    "`extends` chains end (no job extends itself, directly or not).",
);
pub const REFERENCE_UNKNOWN: Rule = rule(
    "reference-unknown",
    Error,
    Pipeline,
    "Every `!reference [job, key…]` points at an existing key.",
);
pub const EXTERNAL_REFERENCE: Rule = rule(
    "external-reference",
    Warning,
    Pipeline,
    "A job or key referred to is not in this file; it may come from an `include`.",
);
pub const SCRIPT_MISSING: Rule = rule(
    "script-missing",
    Error,
    Pipeline,
    "Every job that is not a trigger has a `script` (its own or inherited through `extends`).",
);
pub const IMAGE_REGISTRY: Rule = rule(
    "image-registry",
    Error,
    Pipeline,
    "Job and service images come from the configured registry.",
);
pub const PUSH_REGISTRY: Rule = rule(
    "push-registry",
    Error,
    Pipeline,
    "Images are pushed only to the configured push registry.",
);
pub const TRUSTED_VARIABLE_OVERRIDDEN: Rule = rule(
    "trusted-variable-overridden",
    Error,
    Pipeline,
    "The file does not redefine a registry or allowed-host variable to somewhere else.",
);
pub const INCLUDE_REMOTE: Rule = rule(
    "include-remote",
    Error,
    Pipeline,
    "Remote includes and components come from an allowed host.",
);
pub const CREDENTIAL_EXFILTRATION: Rule = rule(
    "credential-exfiltration",
    Error,
    Pipeline,
    "No credential variable (or copy of one, or the whole environment) is sent to a host outside the allow list.",
);
pub const OWNED_STAGES: Rule = rule(
    "owned-stages",
    Error,
    Pipeline,
    "An owned pipeline declares the nine stages, in order.",
);
pub const OWNED_STAGE_EMPTY: Rule = rule(
    "owned-stage-empty",
    Error,
    Pipeline,
    "Each of the nine stages of an owned pipeline has at least one job.",
);
pub const OWNED_LEARN_JOB: Rule = rule(
    "owned-learn-job",
    Error,
    Pipeline,
    "An owned pipeline has the `learn` job, in the `learn` stage.",
);
// Both files
pub const SECRET_IN_CLEAR: Rule = rule(
    "secret-in-clear",
    Error,
    Both,
    "No secret is written in clear (tokens, passwords, private keys, cloud keys).",
);
pub const SERVICE_PASSWORD_IN_CLEAR: Rule = rule(
    "service-password-in-clear",
    Warning,
    Pipeline,
    "A throwaway service container's password (POSTGRES_PASSWORD…) is written in clear; never reuse it.",
);
pub const REMOTE_CODE_RUN: Rule = rule(
    "remote-code-run",
    Error,
    Both,
    "No script or RUN pipes a download into a shell or interpreter (`curl … | sh`): download, check a checksum, then run.",
);
// Dockerfile
pub const DOCKERFILE_SYNTAX: Rule = rule(
    "dockerfile-syntax",
    Error,
    Dockerfile,
    "Every instruction is known and complete (heredocs closed).",
);
pub const DOCKERFILE_NO_FROM: Rule = rule(
    "dockerfile-no-from",
    Error,
    Dockerfile,
    "The Dockerfile has a FROM before its other build instructions.",
);
pub const FROM_UNPINNED: Rule = rule(
    "from-unpinned",
    Error,
    Dockerfile,
    "Base images carry an explicit tag other than `latest` (or a digest).",
);
pub const FROM_TAG_UNVERIFIED: Rule = rule(
    "from-tag-unverified",
    Info,
    Dockerfile,
    "The base image tag comes from a build argument without a default, so it cannot be checked.",
);
pub const USER_ROOT: Rule = rule(
    "user-root",
    Error,
    Dockerfile,
    "The final stage switches to a non-root USER.",
);
pub const COPY_OVER_ADD: Rule = rule(
    "copy-over-add",
    Error,
    Dockerfile,
    "Local files are copied with COPY, not ADD.",
);
pub const APT_NO_INSTALL_RECOMMENDS: Rule = rule(
    "apt-no-install-recommends",
    Warning,
    Dockerfile,
    "`apt-get install` uses `--no-install-recommends`.",
);
pub const PACKAGE_CACHE_NOT_CLEANED: Rule = rule(
    "package-cache-not-cleaned",
    Warning,
    Dockerfile,
    "Package installs in the final image clean their cache (apt lists, `apk --no-cache`, `yum clean all`, `pip --no-cache-dir`).",
);
pub const SECRET_IN_ARG_ENV: Rule = rule(
    "secret-in-arg-env",
    Error,
    Dockerfile,
    "No credential is baked into the image through ARG or ENV values.",
);
pub const CREDENTIAL_BUILD_ARG: Rule = rule(
    "credential-build-arg",
    Warning,
    Dockerfile,
    "Credentials are not passed as build arguments (they stay in the image history); use a secret mount.",
);
pub const EXEC_FORM: Rule = rule(
    "exec-form",
    Warning,
    Dockerfile,
    "CMD and ENTRYPOINT use the exec (JSON array) form, so signals reach the process.",
);
pub const EXPOSE_PORT: Rule = rule(
    "expose-port",
    Error,
    Dockerfile,
    "The final stage EXPOSEs the port the service was detected to listen on.",
);

/// Every rule, in the order documentation lists them.
pub const RULES: &[Rule] = &[
    YAML_SYNTAX,
    YAML_TOO_LARGE,
    YAML_ALIAS_BUDGET,
    YAML_TOO_DEEP,
    YAML_NOT_MAPPING,
    DUPLICATE_KEY,
    GITLAB_SCHEMA,
    STAGE_UNDECLARED,
    NEEDS_UNKNOWN_JOB,
    DEPENDENCIES_UNKNOWN_JOB,
    DEPENDENCIES_NOT_IN_NEEDS,
    NEEDS_LATER_STAGE,
    NEEDS_CYCLE,
    EXTENDS_UNKNOWN,
    EXTENDS_CYCLE,
    REFERENCE_UNKNOWN,
    EXTERNAL_REFERENCE,
    SCRIPT_MISSING,
    IMAGE_REGISTRY,
    PUSH_REGISTRY,
    TRUSTED_VARIABLE_OVERRIDDEN,
    INCLUDE_REMOTE,
    CREDENTIAL_EXFILTRATION,
    OWNED_STAGES,
    OWNED_STAGE_EMPTY,
    OWNED_LEARN_JOB,
    SECRET_IN_CLEAR,
    SERVICE_PASSWORD_IN_CLEAR,
    REMOTE_CODE_RUN,
    DOCKERFILE_SYNTAX,
    DOCKERFILE_NO_FROM,
    FROM_UNPINNED,
    FROM_TAG_UNVERIFIED,
    USER_ROOT,
    COPY_OVER_ADD,
    APT_NO_INSTALL_RECOMMENDS,
    PACKAGE_CACHE_NOT_CLEANED,
    SECRET_IN_ARG_ENV,
    CREDENTIAL_BUILD_ARG,
    EXEC_FORM,
    EXPOSE_PORT,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for r in RULES {
            assert!(seen.insert(r.id), "{} listed twice", r.id);
            assert!(
                r.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{} is not kebab-case",
                r.id
            );
        }
    }
}
