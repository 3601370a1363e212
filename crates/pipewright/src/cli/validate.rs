//! `pipewright validate FILE [--dockerfile FILE]`: checks any `.gitlab-ci.yml` (and
//! Dockerfile) with the same validator pipewright runs on its own output, prints the findings
//! for people or as JSON, and with `--fix` applies the safe fixes in place (atomically) and
//! checks again. Exit 0 when no error remains, 1 when one does, 2 when a file cannot be read.

use super::exit;
use super::failure::{print_json, Failure};
use super::files::write_atomically;
use super::output::{paint, Tone};
use crate::serve::error::ErrorKind;
use clap::Args;
use pipewright_core::validate::{
    fix_dockerfile, fix_pipeline, has_errors, validate_dockerfile, validate_pipeline, Finding,
    Severity, ValidatorSettings,
};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Files larger than this are not read at all (the validator refuses YAML over 4 MiB anyway).
const MAX_READ_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The `.gitlab-ci.yml` to check (a file named like a Dockerfile is checked as one).
    pub file: PathBuf,
    /// A Dockerfile to check as well.
    #[arg(long, value_name = "FILE")]
    pub dockerfile: Option<PathBuf>,
    /// Print `{"findings": [...], "fixed": [...]}` instead of lines for people.
    #[arg(long)]
    pub json: bool,
    /// Apply the safe fixes in place, then check again.
    #[arg(long)]
    pub fix: bool,
    #[command(flatten)]
    pub choices: ValidatorChoices,
}

/// What the validator is told beyond its defaults: the CLI's flags, the `settings` of the
/// service's validate request.
#[derive(Debug, Clone, Default, Args, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidatorChoices {
    /// The pipeline is one pipewright owns: require the nine stages and the `learn` job.
    #[arg(long)]
    #[serde(default)]
    pub owned: bool,
    /// An image prefix jobs may pull from (repeatable). Replaces the default:
    /// `$NEXUS_PULL_REGISTRY` (both forms) and, when set, that variable's value.
    #[arg(long = "registry", value_name = "PREFIX")]
    #[serde(default)]
    pub registries: Vec<String>,
    /// A prefix images may be pushed to (repeatable). Replaces the default:
    /// `$NEXUS_INTERNAL_REGISTRY` (both forms) and, when set, that variable's value.
    #[arg(long = "push-registry", value_name = "PREFIX")]
    #[serde(default)]
    pub push_registries: Vec<String>,
    /// A host (or `$VARIABLE`, or `.domain` for its subdomains) credentials may be sent to,
    /// besides the defaults (repeatable).
    #[arg(long = "allow-host", value_name = "HOST")]
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// The port the service listens on; the Dockerfile must EXPOSE it.
    #[arg(long, value_name = "N")]
    #[serde(default)]
    pub port: Option<u16>,
}

/// Which validator a file goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pipeline,
    Dockerfile,
}

pub fn run(args: ValidateArgs) -> i32 {
    let settings = validator_settings(&args.choices);
    let mut files = vec![(args.file.clone(), kind_of(&args.file))];
    if let Some(d) = &args.dockerfile {
        files.push((d.clone(), FileKind::Dockerfile));
    }
    // Read everything first: a missing second file must not leave the first half-fixed.
    let mut texts = Vec::new();
    for (path, kind) in &files {
        match read_text(path) {
            Ok(text) => texts.push((path, *kind, text)),
            Err(message) => {
                let field = if kind == &FileKind::Dockerfile && args.dockerfile.is_some() {
                    "--dockerfile"
                } else {
                    "file"
                };
                return Failure::usage(field, message).report(args.json);
            }
        }
    }
    let mut findings: Vec<Finding> = Vec::new();
    let mut fixed: Vec<Finding> = Vec::new();
    for (path, kind, text) in texts {
        let name = path.display().to_string();
        let checked = check(&text, kind, &settings, args.fix);
        if let Some(new_text) = &checked.fixed_text {
            if let Err(e) = write_atomically(path, new_text) {
                return Failure::new(
                    exit::FAILURE,
                    ErrorKind::WriteFailed,
                    format!("cannot write the fixed {name}: {e}; the file is unchanged"),
                )
                .field("--fix")
                .report(args.json);
            }
        }
        fixed.extend(checked.fixed.into_iter().map(|f| f.in_file(&name)));
        findings.extend(checked.findings.into_iter().map(|f| f.in_file(&name)));
    }
    if args.json {
        let body = serde_json::json!({ "findings": findings, "fixed": fixed });
        if let Err(f) = print_json(&body) {
            return f.report(false);
        }
    } else {
        out!("{}", render(&findings, &fixed));
    }
    if has_errors(&findings) {
        exit::FAILURE
    } else {
        exit::OK
    }
}

/// One file checked, and fixed when asked.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// What remains wrong (after the fixes, when fixing).
    pub findings: Vec<Finding>,
    /// The findings the fixes removed.
    pub fixed: Vec<Finding>,
    /// The fixed text, when a fix changed it.
    pub fixed_text: Option<String>,
}

/// Runs the validator for `kind` on `text`, applying the safe fixes first when `fix`.
pub fn check(text: &str, kind: FileKind, settings: &ValidatorSettings, fix: bool) -> Checked {
    if !fix {
        let findings = match kind {
            FileKind::Pipeline => validate_pipeline(text, settings),
            FileKind::Dockerfile => validate_dockerfile(text, settings),
        };
        return Checked {
            findings,
            ..Checked::default()
        };
    }
    let outcome = match kind {
        FileKind::Pipeline => fix_pipeline(text, settings),
        FileKind::Dockerfile => fix_dockerfile(text, settings),
    };
    let changed = outcome.changed();
    Checked {
        findings: outcome.remaining,
        fixed: outcome.fixed,
        fixed_text: changed.then_some(outcome.text),
    }
}

/// The validator settings: defaults, environment, then the choices.
pub fn validator_settings(choices: &ValidatorChoices) -> ValidatorSettings {
    let mut s = ValidatorSettings::default();
    let env_value = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if choices.registries.is_empty() {
        s.registries.extend(env_value("NEXUS_PULL_REGISTRY"));
    } else {
        s.registries = choices.registries.clone();
    }
    if choices.push_registries.is_empty() {
        s.push_registries
            .extend(env_value("NEXUS_INTERNAL_REGISTRY"));
    } else {
        s.push_registries = choices.push_registries.clone();
    }
    s.allowed_hosts.extend(choices.allow_hosts.iter().cloned());
    s.owned = choices.owned;
    s.expected_port = choices.port;
    s
}

/// Dockerfiles are recognised by name: `Dockerfile`, `Dockerfile.*`, `*.Dockerfile`,
/// `Containerfile`.
fn kind_of(path: &Path) -> FileKind {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name == "dockerfile"
        || name == "containerfile"
        || name.starts_with("dockerfile.")
        || name.ends_with(".dockerfile")
    {
        FileKind::Dockerfile
    } else {
        FileKind::Pipeline
    }
}

fn read_text(path: &Path) -> Result<String, String> {
    use pipewright_adapters::regular_file::{read_text, ReadError};
    let shown = path.display();
    read_text(path, MAX_READ_BYTES).map_err(|e| match e {
        ReadError::NotRegular("a folder") => format!("{shown} is a folder; name the file to check"),
        ReadError::TooLarge { .. } => format!(
            "{shown} is larger than {} MiB; that is no CI file",
            MAX_READ_BYTES / 1024 / 1024
        ),
        other => format!("{shown} {other}"),
    })
}

/// `file:line:col: severity[rule] message`, fixed findings first, then a summary line.
/// The human report; every value from the checked files is escaped for the terminal here,
/// so only pipewright's own colours reach it as control characters.
fn render(findings: &[Finding], fixed: &[Finding]) -> String {
    use pipewright_core::quote::for_terminal as t;
    let mut out = String::new();
    for f in fixed {
        let what = f.fix.as_ref().map(|x| x.description.as_str()).unwrap_or("");
        out.push_str(&format!(
            "{}:{}:{}: {}[{}] {}\n",
            t(&f.file),
            f.line,
            f.column,
            paint("fixed", Tone::Good),
            t(f.rule),
            t(what)
        ));
    }
    for f in findings {
        out.push_str(&format!(
            "{}:{}:{}: {}[{}] {}{}\n",
            t(&f.file),
            f.line,
            f.column,
            paint(
                f.severity.as_str(),
                if f.severity == Severity::Error {
                    Tone::Error
                } else {
                    Tone::Warning
                }
            ),
            t(f.rule),
            t(&f.message),
            if f.fix.is_some() {
                " (fix available)"
            } else {
                ""
            }
        ));
    }
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    if findings.is_empty() {
        out.push_str(&paint("no problems found", Tone::Good));
    } else {
        out.push_str(&format!("{errors} error(s), {warnings} warning(s)"));
    }
    if !fixed.is_empty() {
        out.push_str(&format!(", {} fixed", fixed.len()));
    }
    out.push('\n');
    out
}
