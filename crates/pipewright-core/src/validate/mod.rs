//! The validator: every `.gitlab-ci.yml` and Dockerfile pipewright writes passes through here
//! first, and it works just as well on files pipewright did not write. It reads YAML safely
//! (limits, alias budget, positions), checks GitLab's official schema, then the rules a schema
//! cannot express (stage and job references, image registries, secrets in clear, credentials
//! sent outside an allow list, the nine owned stages) and hadolint-style Dockerfile rules.
//!
//! Every problem is a [`Finding`] with a stable rule id from [`RULES`], a position, and a
//! [`Fix`] where one is safe; [`fix_pipeline`] and [`fix_dockerfile`] apply those fixes.
//! Nothing here performs I/O: callers hand in text and get findings back.
//!
//! ```
//! use pipewright_core::validate::{validate_pipeline, ValidatorSettings, Severity};
//! let text = "stages: [build]\nbuild:\n  stage: build\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/maven:3.9\n  script: [mvn package]\n";
//! let findings = validate_pipeline(text, &ValidatorSettings::default());
//! assert!(findings.iter().all(|f| f.severity != Severity::Error), "{findings:?}");
//! ```

mod catalog;
mod dockerfile;
mod fix;
mod pipeline_rules;
mod remote_code;
mod schema;
mod secrets;
mod shell;
mod text;
mod yaml_doc;

pub use catalog::{Rule, Target, RULES};
/// The Dockerfile reader and the shell word splitter, shared with `images` (image references).
pub use dockerfile::{arg_pairs, parse as parse_dockerfile, Dockerfile, Instruction};
pub use dockerfile::{stage_list, stage_names, stage_workdir};
pub use fix::FixOutcome;
pub use schema::{GITLAB_CI_SCHEMA, GITLAB_CI_SCHEMA_NOTICE};
pub use shell::words as shell_words;

use serde::Serialize;

/// How bad a finding is. Only [`Severity::Error`] makes `pipewright validate` fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file must not be used as it is.
    Error,
    /// Works, but against good practice; worth fixing.
    Warning,
    /// Could not be verified either way; for the reader's attention.
    Info,
}

impl Severity {
    /// The lowercase name used in human and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One text replacement, in byte offsets of the text that was validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Edit {
    /// First byte replaced.
    pub start: usize,
    /// One past the last byte replaced (`start == end` inserts).
    pub end: usize,
    /// What goes in its place.
    pub replacement: String,
}

/// A safe, mechanical correction for one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Fix {
    /// What the fix does, in a few words ("replace ADD with COPY").
    pub description: String,
    /// The edits, non-overlapping, against the validated text.
    pub edits: Vec<Edit>,
}

/// One problem found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    /// Stable kebab-case rule id, one of [`RULES`].
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub rule: &'static str,
    /// Taken from the rule's entry in [`RULES`].
    pub severity: Severity,
    /// What is wrong and, where it helps, what to do. Never contains a secret's value.
    pub message: String,
    /// The file's name: `.gitlab-ci.yml` or `Dockerfile` until the caller names it with
    /// [`Finding::in_file`].
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// A safe fix, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
}

impl Finding {
    /// The same finding, reported against `file`.
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = file.into();
        self
    }
}

/// What the validator accepts; the defaults are pipewright's house rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSettings {
    /// Image prefixes jobs may pull from (`image:`, `services:`). An image matches when it
    /// starts with a prefix followed by `/`.
    pub registries: Vec<String>,
    /// Prefixes images may be pushed to (Kaniko `--destination`, `docker push`, `crane`…).
    /// Jobs may also run images from here (the images the pipeline built).
    pub push_registries: Vec<String>,
    /// Where credentials may be sent: variables (`$SONAR_HOST_URL`) or host names
    /// (`sonar.example.com`, or `.example.com` for every subdomain). Remote includes must
    /// come from these too.
    pub allowed_hosts: Vec<String>,
    /// Credential variables besides the built-in table and the name heuristic
    /// (anything named like `*_TOKEN`, `*_PASSWORD`, `*_SECRET`, `*_API_KEY`…).
    pub credential_variables: Vec<String>,
    /// The pipeline is one pipewright owns: the nine stages, in order, each with a job, and
    /// the `learn` job are required.
    pub owned: bool,
    /// Stages of an owned pipeline left out on purpose (the team's `skip_stages`, or build,
    /// security and push in a repository of libraries only, which ships no image).
    pub left_out: Vec<String>,
    /// The port the service listens on; the Dockerfile must `EXPOSE` it.
    pub expected_port: Option<u16>,
    /// How an outside image is renamed into the registry by the `image-registry` fix:
    /// `{registry}` is the first of `registries`, `{image}` the image's last path segment,
    /// `{tag}` its tag. `None` disables that fix.
    pub image_path_template: Option<String>,
}

/// The nine stages of a pipewright pipeline, in order.
pub const OWNED_STAGES: [&str; 9] = [
    "compile", "build", "test", "sast", "quality", "security", "push", "notify", "learn",
];

/// Where credentials may go by default: the servers pipewright's own jobs talk to, GitLab
/// itself, and the registries, each as the CI/CD variable that names it.
pub const DEFAULT_ALLOWED_HOSTS: &[&str] = &[
    "$SONAR_HOST_URL",
    "$SPLUNK_HEC_URL",
    "$PIPEWRIGHT_URL",
    "$TRIVY_SERVER_URL",
    "$CI_API_V4_URL",
    "$CI_API_GRAPHQL_URL",
    "$CI_SERVER_URL",
    "$CI_SERVER_HOST",
    "$CI_SERVER_FQDN",
    "$CI_PROJECT_URL",
    "$CI_REPOSITORY_URL",
    "$CI_REGISTRY",
    "$NEXUS_REGISTRY",
    "$NEXUS_PULL_REGISTRY",
    "$NEXUS_INTERNAL_REGISTRY",
];

impl Default for ValidatorSettings {
    fn default() -> Self {
        ValidatorSettings {
            registries: vec![
                "$NEXUS_PULL_REGISTRY".to_string(),
                "${NEXUS_PULL_REGISTRY}".to_string(),
            ],
            push_registries: vec![
                "$NEXUS_INTERNAL_REGISTRY".to_string(),
                "${NEXUS_INTERNAL_REGISTRY}".to_string(),
            ],
            allowed_hosts: DEFAULT_ALLOWED_HOSTS
                .iter()
                .map(|h| h.to_string())
                .collect(),
            credential_variables: Vec::new(),
            owned: false,
            left_out: Vec::new(),
            expected_port: None,
            image_path_template: Some("{registry}/apm-repo/demo/{image}:{tag}".to_string()),
        }
    }
}

/// Validates a `.gitlab-ci.yml`: YAML, GitLab's schema, then the semantic rules. Findings come
/// sorted by line; a file that cannot be read as YAML yields only the reason why.
pub fn validate_pipeline(text: &str, settings: &ValidatorSettings) -> Vec<Finding> {
    let lines = text::LineIndex::new(text);
    let doc = match yaml_doc::load(text) {
        Ok(doc) => doc,
        Err(fatal) => return sorted(fatal),
    };
    let mut findings = doc.findings.clone();
    findings.extend(schema::check(&doc));
    let facts = pipeline_rules::Facts::new(&doc, &lines);
    findings.extend(pipeline_rules::check(&doc, text, &lines, settings, &facts));
    findings.extend(secrets::check_pipeline(&doc, &lines, settings, &facts));
    sorted(findings)
}

/// Validates a Dockerfile against the hadolint-style rules. Findings come sorted by line.
pub fn validate_dockerfile(text: &str, settings: &ValidatorSettings) -> Vec<Finding> {
    sorted(dockerfile::check(text, settings))
}

/// Applies every safe fix to a pipeline (repeatedly, as one fix can enable another) and
/// re-validates the result.
pub fn fix_pipeline(text: &str, settings: &ValidatorSettings) -> FixOutcome {
    fix::fix_until_stable(text, |t| validate_pipeline(t, settings))
}

/// Applies every safe fix to a Dockerfile and re-validates the result.
pub fn fix_dockerfile(text: &str, settings: &ValidatorSettings) -> FixOutcome {
    fix::fix_until_stable(text, |t| validate_dockerfile(t, settings))
}

/// True when any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

/// Sorts by position and drops repeats of one rule at one position (a merged anchor or a
/// `!reference` reports its problem once, where it is written).
fn sorted(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| {
        (a.line, a.column, a.rule, &a.message).cmp(&(b.line, b.column, b.rule, &b.message))
    });
    findings.dedup_by(|b, a| a.rule == b.rule && a.line == b.line && a.column == b.column);
    findings
}
