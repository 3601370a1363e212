//! Fix strategies: given a classified failure, the failed job and the files pipewright
//! generated, decide what to do: retry unchanged, patch the generated files deterministically,
//! seed a missing image, report a failure in the project's own code, escalate to a person, or
//! ask the language model. One function per class, chosen through one table
//! ([`STRATEGIES`]). A patch never weakens the pipeline (no `allow_failure`, no `|| true`, no
//! deleted test or job) and every patched file passes the validator, or the patch is dropped.

use super::class::FailureClass;
use super::classify::Classification;
use super::edit;
use crate::validate::{
    fix_pipeline, has_errors, validate_dockerfile, validate_pipeline, Severity, ValidatorSettings,
};
use regex::Regex;
use serde::Serialize;
use std::sync::OnceLock;

/// One file pipewright generated, as committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedFile {
    /// Repository path (`.gitlab-ci.yml`, `Dockerfile`, `services/api/Dockerfile`).
    pub path: String,
    pub text: String,
}

impl GeneratedFile {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        GeneratedFile {
            path: path.into(),
            text: text.into(),
        }
    }

    pub(crate) fn is_pipeline(&self) -> bool {
        self.path.rsplit('/').next() == Some(".gitlab-ci.yml")
    }

    pub(crate) fn is_dockerfile(&self) -> bool {
        let name = self
            .path
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        name == "dockerfile" || name.starts_with("dockerfile.") || name.ends_with(".dockerfile")
    }
}

/// Everything a strategy may look at.
#[derive(Debug, Clone, Copy)]
pub struct FixContext<'a> {
    pub classification: &'a Classification,
    /// The failed job's name and stage.
    pub job: &'a str,
    pub stage: &'a str,
    /// The files pipewright generated (the pipeline and its Dockerfiles); only these are
    /// ever edited.
    pub files: &'a [GeneratedFile],
    pub settings: &'a ValidatorSettings,
    /// The tags of the missing image's repository, when the caller listed them.
    pub registry_tags: Option<&'a [String]>,
    /// Unchanged retries already spent on this failure.
    pub retries_used: u32,
}

/// Unchanged retries per failure before a network or runner failure is escalated.
pub const RETRY_BUDGET: u32 = 2;

/// Which deterministic fix a patch applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    PinImageTag,
    InstallCommand,
    AddService,
    ServiceReadiness,
    RaiseTimeout,
    MemorySettings,
    AlignArtifactPaths,
    NeedArtifacts,
    ValidatorFix,
    ChmodScript,
    GitSafeDirectory,
    GitFullDepth,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::PinImageTag => "pin_image_tag",
            Strategy::InstallCommand => "install_command",
            Strategy::AddService => "add_service",
            Strategy::ServiceReadiness => "service_readiness",
            Strategy::RaiseTimeout => "raise_timeout",
            Strategy::MemorySettings => "memory_settings",
            Strategy::AlignArtifactPaths => "align_artifact_paths",
            Strategy::NeedArtifacts => "need_artifacts",
            Strategy::ValidatorFix => "validator_fix",
            Strategy::ChmodScript => "chmod_script",
            Strategy::GitSafeDirectory => "git_safe_directory",
            Strategy::GitFullDepth => "git_full_depth",
        }
    }
}

/// A deterministic change to the generated files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Patch {
    pub strategy: Strategy,
    /// What changed, in a few words (goes into the commit message).
    pub summary: String,
    /// The changed files, whole; each passed the validator.
    pub files: Vec<GeneratedFile>,
}

/// What to do about one failed job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum HealDecision {
    /// Retry the job unchanged (runner or transient network trouble): no commit.
    Retry { reason: String },
    /// The image does not exist in the registry: seed it there, then retry.
    SeedImage { image: String },
    /// Commit these changes.
    Patch(Patch),
    /// The project's own code or tests fail: report, never weaken the pipeline.
    NeedsCodeFix {
        class: FailureClass,
        evidence: Option<String>,
        line: Option<u64>,
    },
    /// Nothing pipewright may change would help (credentials, a deleted branch, a runner
    /// that keeps failing): a person has to act.
    Escalate { reason: String },
    /// No deterministic fix: the language model gets the evidence and the files.
    AskLlm { reason: String },
}

type StrategyFn = fn(&FixContext<'_>) -> HealDecision;

/// The strategy per class.
pub const STRATEGIES: &[(FailureClass, StrategyFn)] = &[
    (FailureClass::RunnerSystemFailure, retry_then_escalate),
    (FailureClass::TlsNetworkError, retry_then_escalate),
    (FailureClass::RateLimited, retry_then_escalate),
    (FailureClass::DiskFull, retry_then_escalate),
    (FailureClass::ImageNotFound, image_not_found),
    (FailureClass::MissingCommand, missing_command),
    (FailureClass::ServiceConnection, service_connection),
    (FailureClass::TimeoutError, timeout_error),
    (FailureClass::OutOfMemory, out_of_memory),
    (FailureClass::ArtifactMissing, artifact_missing),
    (FailureClass::YamlSyntax, validator_fix),
    (FailureClass::InvalidStage, validator_fix),
    (FailureClass::PermissionError, permission_error),
    (FailureClass::GitCheckoutFailure, git_checkout_failure),
    (FailureClass::AuthFailure, auth_failure),
    (FailureClass::DependencyResolution, dependency_resolution),
    (FailureClass::BuildFailure, build_failure),
    (FailureClass::TestFailure, needs_code_fix),
    (FailureClass::LintFailure, needs_code_fix),
    (FailureClass::SecurityScanFailure, needs_code_fix),
    (FailureClass::Unknown, ask_llm_unknown),
];

/// Decides what to do about one failed job.
pub fn decide(ctx: &FixContext<'_>) -> HealDecision {
    let class = ctx.classification.class;
    STRATEGIES
        .iter()
        .find(|(c, _)| *c == class)
        .map(|(_, f)| f(ctx))
        .unwrap_or_else(|| ask(format!("no strategy for {class}")))
}

fn ask(reason: impl Into<String>) -> HealDecision {
    HealDecision::AskLlm {
        reason: reason.into(),
    }
}

fn signature(ctx: &FixContext<'_>) -> &'static str {
    ctx.classification.signature.unwrap_or("")
}

fn evidence<'a>(ctx: &FixContext<'a>) -> &'a str {
    ctx.classification.evidence.as_deref().unwrap_or("")
}

fn pipeline<'a>(ctx: &FixContext<'a>) -> Option<&'a GeneratedFile> {
    ctx.files.iter().find(|f| f.is_pipeline())
}

/// Validates the changed files and wraps them in a patch; a change that fails the validator
/// (or changes nothing) is dropped and the model is asked instead.
fn patch(
    ctx: &FixContext<'_>,
    strategy: Strategy,
    summary: String,
    changed: Vec<GeneratedFile>,
) -> HealDecision {
    let changed: Vec<GeneratedFile> = changed
        .into_iter()
        .filter(|f| {
            ctx.files
                .iter()
                .any(|o| o.path == f.path && o.text != f.text)
        })
        .collect();
    if changed.is_empty() {
        return ask(format!("the {} fix changed nothing", strategy.as_str()));
    }
    for f in &changed {
        let findings = if f.is_pipeline() {
            validate_pipeline(&f.text, ctx.settings)
        } else {
            validate_dockerfile(&f.text, ctx.settings)
        };
        if has_errors(&findings) {
            let first = findings
                .iter()
                .find(|x| x.severity == Severity::Error)
                .map(|x| format!("{} (line {})", x.message, x.line))
                .unwrap_or_default();
            return ask(format!(
                "the {} fix of {} did not pass the validator: {first}",
                strategy.as_str(),
                f.path
            ));
        }
    }
    HealDecision::Patch(Patch {
        strategy,
        summary,
        files: changed,
    })
}

fn pipeline_patch(
    ctx: &FixContext<'_>,
    strategy: Strategy,
    summary: String,
    text: Option<String>,
) -> HealDecision {
    match (pipeline(ctx), text) {
        (Some(p), Some(text)) => patch(
            ctx,
            strategy,
            summary,
            vec![GeneratedFile::new(&p.path, text)],
        ),
        (None, _) => ask("no generated .gitlab-ci.yml to change"),
        (Some(_), None) => ask(format!(
            "the {} fix does not apply to job `{}` as written",
            strategy.as_str(),
            ctx.job
        )),
    }
}

fn retry_then_escalate(ctx: &FixContext<'_>) -> HealDecision {
    let class = ctx.classification.class;
    if ctx.retries_used < RETRY_BUDGET {
        return HealDecision::Retry {
            reason: format!(
                "{class} is usually transient: retry `{}` unchanged",
                ctx.job
            ),
        };
    }
    HealDecision::Escalate {
        reason: format!(
            "{class} persisted through {} unchanged retries of `{}`: {}",
            ctx.retries_used,
            ctx.job,
            evidence(ctx)
        ),
    }
}

fn needs_code_fix(ctx: &FixContext<'_>) -> HealDecision {
    HealDecision::NeedsCodeFix {
        class: ctx.classification.class,
        evidence: ctx.classification.evidence.clone(),
        line: ctx.classification.line,
    }
}

fn ask_llm_unknown(_: &FixContext<'_>) -> HealDecision {
    ask("the failure was not recognised")
}

fn auth_failure(ctx: &FixContext<'_>) -> HealDecision {
    HealDecision::Escalate {
        reason: format!(
            "credentials were refused in `{}` ({}); check the masked CI/CD variables (NEXUS_USERNAME, NEXUS_PASSWORD, SONAR_TOKEN …): pipewright never writes secrets",
            ctx.job,
            evidence(ctx)
        ),
    }
}

fn dependency_resolution(ctx: &FixContext<'_>) -> HealDecision {
    match signature(ctx) {
        // The lock file is the project's: pipewright never edits it.
        "lockfile_out_of_sync" | "npm_ci_without_lockfile" => needs_code_fix(ctx),
        _ => ask("dependency versions do not resolve"),
    }
}

fn build_failure(ctx: &FixContext<'_>) -> HealDecision {
    match signature(ctx) {
        "toolchain_mismatch" => {
            ask("the build image's toolchain differs from the one the project declares")
        }
        "docker_copy_missing" | "kaniko_build_error" => {
            ask("the image build failed in the generated Dockerfile")
        }
        _ => needs_code_fix(ctx),
    }
}

fn validator_fix(ctx: &FixContext<'_>) -> HealDecision {
    let Some(p) = pipeline(ctx) else {
        return ask("no generated .gitlab-ci.yml to change");
    };
    let outcome = fix_pipeline(&p.text, ctx.settings);
    if !outcome.changed() {
        return ask("the validator has no fix for this pipeline");
    }
    let summary = outcome
        .fixed
        .iter()
        .filter_map(|f| f.fix.as_ref().map(|x| x.description.clone()))
        .collect::<Vec<_>>()
        .join("; ");
    patch(
        ctx,
        Strategy::ValidatorFix,
        summary,
        vec![GeneratedFile::new(&p.path, outcome.text)],
    )
}

// ---- image_not_found ------------------------------------------------------------------------

fn regexes() -> &'static Regexes {
    static R: OnceLock<Regexes> = OnceLock::new();
    R.get_or_init(Regexes::new)
}

struct Regexes {
    image_refs: Vec<Regex>,
    manifest_url: Regex,
    commands: Vec<Regex>,
    rustup: Regex,
    script_path: Regex,
    took_longer: Regex,
    no_matching_files: Regex,
}

impl Regexes {
    fn new() -> Self {
        let re = |s: &str| Regex::new(s).expect("fix regexes compile");
        Regexes {
            image_refs: [
                r#"manifest for ([^\s"]+) not found"#,
                r#"failed to resolve reference "([^"]+)""#,
                r#"(?:pull|pulling|fetching) image "([^"]+)""#,
                r#"fetching "([^"]+)""#,
                r#"No such image: ([^\s"]+)"#,
            ]
            .iter()
            .map(|s| re(s))
            .collect(),
            manifest_url: re(r"https?://([^/\s]+)/v2/([^\s]+)/manifests/([^\s:;]+)"),
            commands: [
                r"(?:^|\s)([\w./+-]+): command not found",
                r"\bsh: (?:line \d+: |\d+: )?([^\s:]+): not found",
                r#"exec: "([^"]+)": executable file not found"#,
                r"/usr/bin/env: '?([^\s:']+)'?: No such file or directory",
            ]
            .iter()
            .map(|s| re(s))
            .collect(),
            rustup: re(
                r"'(?:cargo-)?(clippy|rustfmt|fmt)(?:-driver)?' is not installed for the toolchain",
            ),
            script_path: re(r"(\./[\w./-]+): Permission denied"),
            took_longer: re(r"took longer than (?:(\d+)h)?(?:(\d+)m)?"),
            no_matching_files: re(r"(\S+): no matching files"),
        }
    }
}

/// `registry/path/name:tag` split into (path after the registry, tag).
fn image_path_and_tag(image: &str) -> Option<(String, String)> {
    let image = image.split('@').next()?;
    let (name, tag) = image.rsplit_once(':').filter(|(_, t)| !t.contains('/'))?;
    let path = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.starts_with('$') =>
        {
            rest
        }
        _ => name,
    };
    Some((path.to_string(), tag.to_string()))
}

fn missing_image(ctx: &FixContext<'_>) -> Option<String> {
    let r = regexes();
    let text = evidence(ctx);
    for re in &r.image_refs {
        if let Some(c) = re.captures(text) {
            return Some(c[1].to_string());
        }
    }
    r.manifest_url
        .captures(text)
        .map(|c| format!("{}/{}:{}", &c[1], &c[2], &c[3]))
}

fn looks_like_commit_tag(tag: &str) -> bool {
    let t = tag.strip_suffix("-test").unwrap_or(tag);
    (7..=40).contains(&t.len()) && t.chars().all(|c| c.is_ascii_hexdigit())
}

/// `v1.23.2-debug` → ([1, 23, 2], "-debug"); `16-alpine` → ([16], "-alpine").
fn parse_tag(tag: &str) -> Option<(Vec<u64>, String)> {
    let t = tag.strip_prefix('v').unwrap_or(tag);
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let numbers: Vec<u64> = t[..end]
        .trim_end_matches('.')
        .split('.')
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    Some((numbers, t[end..].to_string()))
}

/// The existing tag nearest to `wanted`: same variant suffix and same major version; the
/// highest one below it, else the lowest above it. Never a tag that is not in `tags`.
pub fn nearest_tag(wanted: &str, tags: &[String]) -> Option<String> {
    let (want, suffix) = parse_tag(wanted)?;
    let mut same: Vec<(Vec<u64>, &String)> = tags
        .iter()
        .filter(|t| t.as_str() != wanted)
        .filter_map(|t| parse_tag(t).map(|(v, s)| (v, s, t)))
        .filter(|(v, s, _)| *s == suffix && v.first() == want.first())
        .map(|(v, _, t)| (v, t))
        .collect();
    same.sort();
    let below = same.iter().rev().find(|(v, _)| *v < want);
    let above = same.iter().find(|(v, _)| *v > want);
    below.or(above).map(|(_, t)| (*t).clone())
}

fn image_not_found(ctx: &FixContext<'_>) -> HealDecision {
    let Some(image) = missing_image(ctx) else {
        return ask("the missing image is not named in the evidence");
    };
    let Some((path, tag)) = image_path_and_tag(&image) else {
        return ask(format!("`{image}` has no tag to check"));
    };
    if looks_like_commit_tag(&tag) {
        return ask(format!(
            "`{image}` is an image this pipeline builds; the job ran before it was pushed"
        ));
    }
    let Some(tags) = ctx.registry_tags else {
        return HealDecision::SeedImage { image };
    };
    let Some(pinned) = nearest_tag(&tag, tags) else {
        return HealDecision::SeedImage { image };
    };
    let old = format!("/{path}:{tag}");
    let new = format!("/{path}:{pinned}");
    let changed: Vec<GeneratedFile> = ctx
        .files
        .iter()
        .filter(|f| f.text.contains(&old))
        .map(|f| GeneratedFile::new(&f.path, f.text.replace(&old, &new)))
        .collect();
    if changed.is_empty() {
        return HealDecision::SeedImage { image };
    }
    patch(
        ctx,
        Strategy::PinImageTag,
        format!("pin {path} to the existing tag {pinned} ({tag} is not in the registry)"),
        changed,
    )
}

// ---- missing_command ------------------------------------------------------------------------

/// Commands a distribution package provides: (command, Debian package, Alpine package).
const COMMAND_PACKAGES: &[(&str, &str, &str)] = &[
    ("jq", "jq", "jq"),
    ("curl", "curl", "curl"),
    ("wget", "wget", "wget"),
    ("git", "git", "git"),
    ("make", "make", "make"),
    ("gcc", "build-essential", "build-base"),
    ("g++", "build-essential", "build-base"),
    ("unzip", "unzip", "unzip"),
    ("zip", "zip", "zip"),
    ("bash", "bash", "bash"),
    ("ssh", "openssh-client", "openssh-client"),
    ("envsubst", "gettext-base", "gettext"),
    ("nc", "netcat-openbsd", "netcat-openbsd"),
    ("ps", "procps", "procps"),
    ("xz", "xz-utils", "xz"),
    ("patch", "patch", "patch"),
    ("file", "file", "file"),
    ("pg_isready", "postgresql-client", "postgresql-client"),
    ("psql", "postgresql-client", "postgresql-client"),
    ("mysql", "default-mysql-client", "mysql-client"),
    ("redis-cli", "redis-tools", "redis"),
    ("python3", "python3", "python3"),
    ("openssl", "openssl", "openssl"),
    ("rsync", "rsync", "rsync"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Debian,
    Alpine,
}

/// Which package manager an image name implies (`None`: busybox, distroless, unknown).
fn image_family(image: &str) -> Option<Family> {
    let last = image
        .rsplit('/')
        .next()
        .unwrap_or(image)
        .to_ascii_lowercase();
    let (name, tag) = last.split_once(':').unwrap_or((&last, ""));
    if tag.contains("alpine") || ["curl", "trivy", "composer", "docker"].contains(&name) {
        return Some(Family::Alpine);
    }
    if name.contains("distroless") || tag.contains("debug") {
        return None;
    }
    let debian_tags = ["bookworm", "bullseye", "slim", "jammy", "noble", "focal"];
    let debian_images = [
        "python",
        "node",
        "ruby",
        "golang",
        "rust",
        "maven",
        "gradle",
        "eclipse-temurin",
        "php",
        "elixir",
        "dotnet-sdk",
        "openjdk",
    ];
    if debian_tags.iter().any(|t| tag.contains(t)) || debian_images.contains(&name) {
        return Some(Family::Debian);
    }
    None
}

fn install_line(family: Family, package: &str) -> String {
    match family {
        Family::Debian => format!(
            "apt-get update && apt-get install -y --no-install-recommends {package} && rm -rf /var/lib/apt/lists/*"
        ),
        Family::Alpine => format!("apk add --no-cache {package}"),
    }
}

/// The job runs in the image the pipeline built from the Dockerfile's `test` stage.
fn runs_in_test_image(image: &str) -> bool {
    image.ends_with("-test")
}

fn missing_command(ctx: &FixContext<'_>) -> HealDecision {
    let r = regexes();
    let text = evidence(ctx);
    let Some(p) = pipeline(ctx) else {
        return ask("no generated .gitlab-ci.yml to change");
    };
    let image = edit::job_scalar(&p.text, ctx.job, "image").unwrap_or_default();
    if let Some(c) = r.rustup.captures(text) {
        let component = if &c[1] == "fmt" { "rustfmt" } else { &c[1] };
        let command = format!("rustup component add {component}");
        if runs_in_test_image(&image) {
            return dockerfile_test_stage(
                ctx,
                Strategy::InstallCommand,
                &format!("RUN {command}"),
                format!("add the {component} component to the test image"),
            );
        }
        let text = edit::add_before_script(&p.text, ctx.job, &command);
        return pipeline_patch(
            ctx,
            Strategy::InstallCommand,
            format!("add the {component} component before `{}` runs", ctx.job),
            text,
        );
    }
    let Some(command) = r
        .commands
        .iter()
        .find_map(|re| re.captures(text).map(|c| c[1].to_string()))
    else {
        return ask("the missing command is not named in the evidence");
    };
    let name = command.rsplit('/').next().unwrap_or(&command).to_string();
    let Some((_, debian, alpine)) = COMMAND_PACKAGES.iter().find(|(c, _, _)| *c == name) else {
        return ask(format!("no known package provides `{name}`"));
    };
    if runs_in_test_image(&image) {
        let Some(df) = ctx.files.iter().find(|f| f.is_dockerfile()) else {
            return ask("no generated Dockerfile to change");
        };
        let Some(family) =
            edit::dockerfile_stage_base(&df.text, "test").and_then(|b| image_family(&b))
        else {
            return ask("the test image's base has no known package manager");
        };
        let package = if family == Family::Debian {
            debian
        } else {
            alpine
        };
        return dockerfile_test_stage(
            ctx,
            Strategy::InstallCommand,
            &format!("RUN {}", install_line(family, package)),
            format!("install {package} (for `{name}`) in the test image"),
        );
    }
    let Some(family) = image_family(&image) else {
        return ask(format!(
            "the image of `{}` has no known package manager",
            ctx.job
        ));
    };
    let package = if family == Family::Debian {
        debian
    } else {
        alpine
    };
    let text = edit::add_before_script(&p.text, ctx.job, &install_line(family, package));
    pipeline_patch(
        ctx,
        Strategy::InstallCommand,
        format!("install {package} (for `{name}`) before `{}` runs", ctx.job),
        text,
    )
}

fn dockerfile_test_stage(
    ctx: &FixContext<'_>,
    strategy: Strategy,
    instruction: &str,
    summary: String,
) -> HealDecision {
    let Some(df) = ctx.files.iter().find(|f| f.is_dockerfile()) else {
        return ask("no generated Dockerfile to change");
    };
    if df.text.lines().any(|l| l.trim() == instruction) {
        return ask(format!("the test image already runs `{instruction}`"));
    }
    match edit::dockerfile_after_from(&df.text, "test", instruction) {
        Some(text) => patch(
            ctx,
            strategy,
            summary,
            vec![GeneratedFile::new(&df.path, text)],
        ),
        None => ask("the generated Dockerfile has no `test` stage"),
    }
}

// ---- service_connection ---------------------------------------------------------------------

/// (alias, port, image, service variables, job variable and its value).
/// A service a job may need: alias, port, image, its variables, and the job variable that
/// points the application at it.
type ServiceSpec = (
    &'static str,
    u16,
    &'static str,
    &'static [(&'static str, &'static str)],
    (&'static str, &'static str),
);

const SERVICES: &[ServiceSpec] = &[
    (
        "postgres",
        5432,
        "postgres:16-alpine",
        &[
            ("POSTGRES_HOST_AUTH_METHOD", "trust"),
            ("POSTGRES_DB", "test"),
        ],
        ("DATABASE_URL", "postgres://postgres@postgres:5432/test"),
    ),
    (
        "mysql",
        3306,
        "mysql:8.4",
        &[
            ("MYSQL_ALLOW_EMPTY_PASSWORD", "yes"),
            ("MYSQL_DATABASE", "test"),
        ],
        ("DATABASE_URL", "mysql://root@mysql:3306/test"),
    ),
    (
        "redis",
        6379,
        "redis:7-alpine",
        &[],
        ("REDIS_URL", "redis://redis:6379/0"),
    ),
    (
        "mongo",
        27017,
        "mongo:7",
        &[],
        ("MONGODB_URL", "mongodb://mongo:27017/test"),
    ),
    (
        "rabbitmq",
        5672,
        "rabbitmq:3.13-alpine",
        &[],
        ("AMQP_URL", "amqp://guest:guest@rabbitmq:5672/"),
    ),
];

fn service_connection(ctx: &FixContext<'_>) -> HealDecision {
    if signature(ctx) == "docker_daemon" {
        return ask("the job needs a Docker daemon; pipewright's pipelines build with Kaniko");
    }
    let text = ctx
        .classification
        .context
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(evidence(ctx)))
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_lowercase();
    let Some(&(alias, port, image, vars, job_var)) = SERVICES.iter().find(|(alias, port, ..)| {
        text.contains(&format!(":{port}"))
            || text.contains(&format!("port {port}"))
            || text.contains(alias)
    }) else {
        return ask("the service is not named in the evidence");
    };
    let Some(p) = pipeline(ctx) else {
        return ask("no generated .gitlab-ci.yml to change");
    };
    let lines: Vec<&str> = p.text.lines().collect();
    if let Some((start, end)) = edit::key_block(&p.text, ctx.job, "services") {
        // The service is there: make the runner wait until its port answers.
        let Some(item) = (start + 1..end).find(|&i| {
            lines[i].trim_start().starts_with("- ")
                && lines[i].contains(&format!("/{}", image.split(':').next().unwrap_or(image)))
                || lines[i].trim() == format!("alias: {alias}")
        }) else {
            return add_service(ctx, p, alias, port, image, vars, job_var);
        };
        let item_start = (start + 1..=item)
            .rev()
            .find(|&i| lines[i].trim_start().starts_with("- "))
            .unwrap_or(item);
        let indent = lines[item_start].find('-').unwrap_or(4) + 2;
        let item_end = (item_start + 1..end)
            .find(|&i| {
                lines[i].trim_start().starts_with("- ")
                    && lines[i].find('-') == lines[item_start].find('-')
            })
            .unwrap_or(end);
        if (item_start..item_end).any(|i| lines[i].contains("HEALTHCHECK_TCP_PORT")) {
            return ask(format!("the {alias} service already has a readiness check; the job may not use its alias `{alias}`"));
        }
        let entry = format!("{}HEALTHCHECK_TCP_PORT: \"{port}\"", " ".repeat(indent + 2));
        let new = match (item_start..item_end).find(|&i| lines[i].trim() == "variables:") {
            Some(v) => edit::insert_after(&p.text, v, &entry),
            None => edit::insert_after(
                &p.text,
                item_end - 1,
                &format!("{}variables:\n{entry}", " ".repeat(indent)),
            ),
        };
        return pipeline_patch(
            ctx,
            Strategy::ServiceReadiness,
            format!("wait for {alias}:{port} before `{}` starts", ctx.job),
            Some(new),
        );
    }
    add_service(ctx, p, alias, port, image, vars, job_var)
}

fn add_service(
    ctx: &FixContext<'_>,
    p: &GeneratedFile,
    alias: &str,
    port: u16,
    image: &str,
    vars: &[(&str, &str)],
    job_var: (&str, &str),
) -> HealDecision {
    if edit::key_block(&p.text, ctx.job, "services").is_some() {
        return ask(format!(
            "`{}` has services, but none the evidence names as {alias}",
            ctx.job
        ));
    }
    let (Some(template), Some(registry)) = (
        ctx.settings.image_path_template.as_deref(),
        ctx.settings.registries.first(),
    ) else {
        return ask("no registry path template to name the service image");
    };
    let (name, tag) = image.split_once(':').unwrap_or((image, "latest"));
    let full = template
        .replace("{registry}", registry)
        .replace("{image}", name)
        .replace("{tag}", tag);
    let mut block = format!("  services:\n    - name: {full}\n      alias: {alias}\n      variables:\n        HEALTHCHECK_TCP_PORT: \"{port}\"\n");
    for (k, v) in vars {
        block.push_str(&format!("        {k}: {}\n", edit::yaml_scalar(v)));
    }
    let Some(mut text) = edit::add_job_key(&p.text, ctx.job, "services", block.trim_end()) else {
        return ask("cannot add services to the job");
    };
    if let Some(t) = edit::set_job_variable(&text, ctx.job, job_var.0, job_var.1) {
        text = t;
    }
    pipeline_patch(
        ctx,
        Strategy::AddService,
        format!("add the {alias} service to `{}`", ctx.job),
        Some(text),
    )
}

// ---- timeout, memory ----------------------------------------------------------------------------

fn timeout_error(ctx: &FixContext<'_>) -> HealDecision {
    match signature(ctx) {
        "go_test_timeout" | "pytest_timeout" | "mocha_timeout" => return needs_code_fix(ctx),
        "job_execution_timeout" | "timeout_command" => {}
        _ if ctx.classification.basis == super::classify::Basis::FailureReason => {}
        _ => return retry_then_escalate(ctx),
    }
    let Some(p) = pipeline(ctx) else {
        return ask("no generated .gitlab-ci.yml to change");
    };
    if edit::job_key_line(&p.text, ctx.job, "timeout").is_some() {
        return ask(format!(
            "the timeout of `{}` was raised once already",
            ctx.job
        ));
    }
    let minutes = regexes()
        .took_longer
        .captures(evidence(ctx))
        .map(|c| {
            let h: u64 = c.get(1).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
            let m: u64 = c.get(2).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
            h * 60 + m
        })
        .filter(|m| *m > 0)
        .unwrap_or(60);
    let raised = (minutes * 2).min(6 * 60);
    let value = if raised.is_multiple_of(60) {
        format!("{}h", raised / 60)
    } else {
        format!("{}h {}m", raised / 60, raised % 60)
    };
    let text = edit::add_job_key(&p.text, ctx.job, "timeout", &format!("  timeout: {value}"));
    pipeline_patch(
        ctx,
        Strategy::RaiseTimeout,
        format!("raise the timeout of `{}` to {value}", ctx.job),
        text,
    )
}

/// (a word in the job's script or the evidence, variable, value).
const MEMORY_SETTINGS: &[(&str, &str, &str)] = &[
    (
        "javascript heap",
        "NODE_OPTIONS",
        "--max-old-space-size=4096",
    ),
    (
        "gradle",
        "GRADLE_OPTS",
        "-Xmx2g -Dorg.gradle.jvmargs=-Xmx2g",
    ),
    ("mvn", "MAVEN_OPTS", "-Xmx2g"),
    (
        "outofmemoryerror",
        "JAVA_TOOL_OPTIONS",
        "-XX:MaxRAMPercentage=75",
    ),
    ("cargo", "CARGO_BUILD_JOBS", "2"),
    ("go build", "GOFLAGS", "-p=2"),
    ("go test", "GOFLAGS", "-p=2"),
    ("npm", "NODE_OPTIONS", "--max-old-space-size=4096"),
];

fn out_of_memory(ctx: &FixContext<'_>) -> HealDecision {
    let Some(p) = pipeline(ctx) else {
        return ask("no generated .gitlab-ci.yml to change");
    };
    let Some((start, end)) = edit::job_block(&p.text, ctx.job) else {
        return ask(format!(
            "job `{}` is not in the generated pipeline",
            ctx.job
        ));
    };
    let job_text: String = p
        .text
        .lines()
        .skip(start)
        .take(end - start)
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_lowercase();
    if job_text.contains("/kaniko/executor") && !job_text.contains("--compressed-caching=false") {
        let new = p
            .text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if (start..end).contains(&i) {
                    l.replace(
                        "/kaniko/executor ",
                        "/kaniko/executor --compressed-caching=false ",
                    )
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + if p.text.ends_with('\n') { "\n" } else { "" };
        return pipeline_patch(
            ctx,
            Strategy::MemorySettings,
            format!(
                "run Kaniko in `{}` without compressed caching (less memory)",
                ctx.job
            ),
            Some(new),
        );
    }
    let haystack = format!("{}\n{}", evidence(ctx).to_ascii_lowercase(), job_text);
    for (word, var, value) in MEMORY_SETTINGS {
        if haystack.contains(word) {
            return match edit::set_job_variable(&p.text, ctx.job, var, value) {
                Some(text) => pipeline_patch(
                    ctx,
                    Strategy::MemorySettings,
                    format!("set {var}={value} in `{}`", ctx.job),
                    Some(text),
                ),
                None => ask(format!("{var} is already set in `{}`", ctx.job)),
            };
        }
    }
    ask("no known memory setting for the tool that ran out of memory")
}

// ---- artifacts, permissions, git ------------------------------------------------------------

/// (a word in the job's script, where that tool writes its output).
const OUTPUT_DIRS: &[(&str, &str)] = &[
    ("cargo build --release", "target/release/"),
    ("cargo build", "target/debug/"),
    ("mvn", "target/"),
    ("gradle", "build/libs/"),
    ("vite build", "dist/"),
    ("npm run build", "dist/"),
    ("mix release", "_build/"),
    ("dotnet publish", "publish/"),
];

fn artifact_missing(ctx: &FixContext<'_>) -> HealDecision {
    let Some(p) = pipeline(ctx) else {
        return ask("no generated .gitlab-ci.yml to change");
    };
    match signature(ctx) {
        "artifact_no_matching_files" | "artifact_no_files_to_upload" => {
            let lines = ctx
                .classification
                .context
                .iter()
                .map(String::as_str)
                .chain(std::iter::once(evidence(ctx)));
            let Some(path) = lines
                .filter_map(|l| {
                    regexes()
                        .no_matching_files
                        .captures(l)
                        .map(|c| c[1].to_string())
                })
                .next_back()
            else {
                return ask("the artifact path is not named in the evidence");
            };
            let Some((start, end)) = edit::job_block(&p.text, ctx.job) else {
                return ask(format!(
                    "job `{}` is not in the generated pipeline",
                    ctx.job
                ));
            };
            let script: String = p
                .text
                .lines()
                .skip(start)
                .take(end - start)
                .collect::<Vec<_>>()
                .join("\n");
            let Some((_, dir)) = OUTPUT_DIRS.iter().find(|(word, _)| script.contains(word)) else {
                return ask(format!("no known build output folder for `{}`", ctx.job));
            };
            let Some(at) = (start..end).find(|&i| {
                p.text
                    .lines()
                    .nth(i)
                    .is_some_and(|l| l.trim() == format!("- {path}"))
            }) else {
                return ask(format!("`{path}` is not an artifact path of `{}`", ctx.job));
            };
            let old = p.text.lines().nth(at).unwrap_or_default();
            let new_line = old.replace(&path, dir);
            pipeline_patch(
                ctx,
                Strategy::AlignArtifactPaths,
                format!(
                    "upload {dir} (where the build writes) instead of {path} in `{}`",
                    ctx.job
                ),
                Some(edit::replace_line(&p.text, at, &new_line)),
            )
        }
        "kaniko_context_file_missing" | "unable_to_access_jarfile" | "cannot_stat" => {
            // The job needs an earlier job's output but its `needs` leaves the artifacts out.
            let Some((start, end)) = edit::key_block(&p.text, ctx.job, "needs") else {
                return ask(format!(
                    "`{}` needs no job whose artifacts it could take",
                    ctx.job
                ));
            };
            let lines: Vec<&str> = p.text.lines().collect();
            let Some(at) = (start..end).find(|&i| lines[i].trim() == "artifacts: false") else {
                return ask(format!(
                    "`{}` already takes the artifacts of the jobs it needs",
                    ctx.job
                ));
            };
            let producer = lines[at - 1]
                .trim()
                .trim_start_matches("- ")
                .trim_start_matches("job:")
                .trim()
                .to_string();
            if edit::job_key_line(&p.text, &producer, "artifacts").is_none() {
                return ask(format!("`{producer}` keeps no artifacts for `{}`", ctx.job));
            }
            let new_line = lines[at].replace("artifacts: false", "artifacts: true");
            pipeline_patch(
                ctx,
                Strategy::NeedArtifacts,
                format!("`{}` takes the artifacts of `{producer}`", ctx.job),
                Some(edit::replace_line(&p.text, at, &new_line)),
            )
        }
        _ => ask("the missing artifact has no deterministic fix"),
    }
}

fn permission_error(ctx: &FixContext<'_>) -> HealDecision {
    let Some(p) = pipeline(ctx) else {
        return ask("no generated .gitlab-ci.yml to change");
    };
    let image = edit::job_scalar(&p.text, ctx.job, "image").unwrap_or_default();
    if signature(ctx) == "git_dubious_ownership" {
        let text = edit::add_before_script(
            &p.text,
            ctx.job,
            "git config --global --add safe.directory \"$CI_PROJECT_DIR\"",
        );
        return pipeline_patch(
            ctx,
            Strategy::GitSafeDirectory,
            format!("mark the checkout safe for git in `{}`", ctx.job),
            text,
        );
    }
    if let Some(c) = regexes().script_path.captures(evidence(ctx)) {
        if runs_in_test_image(&image) {
            return ask(
                "the script lives in the built test image; its mode comes from the repository",
            );
        }
        let script = c[1].to_string();
        let text = edit::add_before_script(&p.text, ctx.job, &format!("chmod +x {script}"));
        return pipeline_patch(
            ctx,
            Strategy::ChmodScript,
            format!("make {script} executable in `{}`", ctx.job),
            text,
        );
    }
    ask("the permission problem has no deterministic fix")
}

fn git_checkout_failure(ctx: &FixContext<'_>) -> HealDecision {
    match signature(ctx) {
        "git_no_tags_describe" | "git_shallow" => {
            let Some(p) = pipeline(ctx) else {
                return ask("no generated .gitlab-ci.yml to change");
            };
            let already = edit::key_block(&p.text, ctx.job, "variables").is_some_and(|(s, e)| {
                p.text
                    .lines()
                    .skip(s)
                    .take(e - s)
                    .any(|l| l.trim().starts_with("GIT_DEPTH:"))
            });
            let text = if already {
                // The job sets a depth of its own: make it the full history.
                let at = edit::key_block(&p.text, ctx.job, "variables").and_then(|(s, e)| {
                    (s..e).find(|&i| {
                        p.text
                            .lines()
                            .nth(i)
                            .is_some_and(|l| l.trim().starts_with("GIT_DEPTH:"))
                    })
                });
                at.and_then(|i| {
                    let old = p.text.lines().nth(i)?;
                    (old.trim() != "GIT_DEPTH: \"0\"").then(|| {
                        edit::replace_line(
                            &p.text,
                            i,
                            &format!(
                                "{}GIT_DEPTH: \"0\"",
                                &old[..old.len() - old.trim_start().len()]
                            ),
                        )
                    })
                })
            } else {
                edit::set_job_variable(&p.text, ctx.job, "GIT_DEPTH", "0")
            };
            pipeline_patch(
                ctx,
                Strategy::GitFullDepth,
                format!("fetch the full history (tags) in `{}`", ctx.job),
                text,
            )
        }
        "git_rpc_failed" | "git_unable_to_access" => retry_then_escalate(ctx),
        _ => HealDecision::Escalate {
            reason: format!("the repository could not be checked out: {}", evidence(ctx)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_tag_keeps_variant_and_major_and_never_invents() {
        let tags: Vec<String> = [
            "16-alpine",
            "16.4-alpine",
            "16.6-alpine",
            "17.0-alpine",
            "16.6",
            "15-alpine",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            nearest_tag("16.9-alpine", &tags).as_deref(),
            Some("16.6-alpine")
        );
        assert_eq!(
            nearest_tag("16.1-alpine", &tags).as_deref(),
            Some("16-alpine")
        );
        assert_eq!(nearest_tag("18-alpine", &tags), None);
        assert_eq!(nearest_tag("latest", &tags), None);
        let kaniko: Vec<String> = vec!["v1.23.0-debug".into(), "v1.22.0".into()];
        assert_eq!(
            nearest_tag("v1.23.2-debug", &kaniko).as_deref(),
            Some("v1.23.0-debug")
        );
    }

    #[test]
    fn image_names_split_into_path_and_tag() {
        assert_eq!(
            image_path_and_tag("localhost:5001/apm-repo/demo/node:23.1-alpine"),
            Some(("apm-repo/demo/node".into(), "23.1-alpine".into()))
        );
        assert_eq!(
            image_path_and_tag("node:20"),
            Some(("node".into(), "20".into()))
        );
        assert_eq!(image_path_and_tag("ai-nexus:5001/apm-repo/demo/node"), None);
        assert!(looks_like_commit_tag("3f9c2e1a-test"));
        assert!(!looks_like_commit_tag("16-alpine"));
    }

    #[test]
    fn image_families_come_from_names_and_tags() {
        assert_eq!(
            image_family("$R/apm-repo/demo/golang:1.23.1-bookworm"),
            Some(Family::Debian)
        );
        assert_eq!(
            image_family("$R/apm-repo/demo/redis:7-alpine"),
            Some(Family::Alpine)
        );
        assert_eq!(
            image_family("$R/apm-repo/demo/curl:8.10.1"),
            Some(Family::Alpine)
        );
        assert_eq!(
            image_family("$R/apm-repo/demo/kaniko-executor:v1.23.2-debug"),
            None
        );
        assert_eq!(
            image_family("$R/apm-repo/demo/distroless/static-debian12:nonroot"),
            None
        );
    }

    #[test]
    fn every_class_has_one_strategy() {
        for class in FailureClass::ALL {
            assert_eq!(
                STRATEGIES.iter().filter(|(c, _)| *c == class).count(),
                1,
                "{class}"
            );
        }
    }
}
