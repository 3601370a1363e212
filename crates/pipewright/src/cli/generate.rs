//! `pipewright generate <PATH|GIT_URL>`: writes `.gitlab-ci.yml`, the Dockerfile(s) and
//! `.dockerignore`(s), and says why each choice was made. Files are never overwritten without
//! `--force`, and the set is written whole or not at all (`files::write_set`).

use super::config::{self, SettingsArgs};
use super::exit;
use super::failure::{print_json, Failure};
use super::files::{write_set, WriteError};
use crate::serve::error::ErrorKind;
use clap::Args;
use pipewright_workflow::analyze::AnalyzeOptions;
use pipewright_workflow::generate::{
    generate_for_with, validator_settings, GenerateFlowError, GenerateOutcome, Provenance,
};
use pipewright_workflow::paths::{choose_path, GenerateSummary, PathOptions, PathReport};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// A local folder, or a git URL (https://, ssh://, git@host:path, file://).
    pub target: String,
    /// Where to write the files (default: the repository folder; required for git URLs).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the result as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
    /// Print the files without writing them.
    #[arg(long)]
    pub dry_run: bool,
    /// Write pipewright's Dockerfile even when the repository has its own.
    #[arg(long)]
    pub replace_dockerfile: bool,
    /// Branch or tag to clone (git URLs only).
    #[arg(long = "ref")]
    pub reference: Option<String>,
    /// Seconds a clone may take before it is stopped.
    #[arg(long, default_value_t = 120)]
    pub clone_timeout: u64,
    /// Always use the built-in generator (the seed's use_template_only).
    #[arg(long)]
    pub template_only: bool,
    #[command(flatten)]
    pub backends: crate::setup::BackendArgs,
    /// Repair rounds for an LLM answer that fails validation.
    #[arg(long, default_value_t = 2)]
    pub repair_rounds: u32,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// The store and the LLM for the generation paths; failures become reasons, never errors. A
/// dry run creates no store (see [`crate::setup::BackendArgs::open_store_if_present`]).
fn path_options(args: &GenerateArgs) -> PathOptions {
    let store = if args.dry_run {
        args.backends.open_store_if_present()
    } else {
        args.backends.open_store().map_err(|e| e.to_string())
    };
    let (llm, temperature) = args.backends.open_llm();
    PathOptions {
        template_only: args.template_only,
        store,
        llm,
        temperature,
        repair_rounds: args.repair_rounds,
    }
}

pub fn run(args: GenerateArgs) -> i32 {
    let json = args.json;
    match generate(args) {
        Ok(code) => code,
        Err(f) => f.report(json),
    }
}

fn generate(args: GenerateArgs) -> Result<i32, Failure> {
    let mut settings =
        config::load(&args.settings).map_err(|e| Failure::usage("--config", e.to_string()))?;
    if args.replace_dockerfile {
        settings.generator.replace_dockerfile = true;
    }
    let is_url = pipewright_adapters::source::GitUrl::parse(&args.target).is_some();
    let out_dir = match (&args.out, is_url, args.dry_run) {
        (Some(d), _, _) => d.clone(),
        (None, false, _) => PathBuf::from(&args.target),
        (None, true, true) => PathBuf::from("."),
        (None, true, false) => {
            return Err(Failure::usage(
                "--out",
                format!(
                    "`{}` is a git URL; say where to write the files with --out DIR (or use --dry-run)",
                    pipewright_adapters::source::redact_url(&args.target)
                ),
            ));
        }
    };
    let opts = AnalyzeOptions {
        reference: args.reference.clone(),
        clone_timeout: Duration::from_secs(args.clone_timeout),
    };
    let layers = config::override_layers(args.settings.config.as_deref())
        .map_err(|e| Failure::usage("--config", e.to_string()))?;
    let spinner = super::progress::Spinner::start(format!(
        "analyzing {}",
        pipewright_adapters::source::redact_url(&args.target)
    ));
    let built_in = generate_for_with(
        &args.target,
        &opts,
        &settings.generator,
        &settings.allowed_hosts,
        &layers,
    );
    drop(spinner);
    let built_in = match built_in {
        Ok(o) => o,
        Err(GenerateFlowError::Source(e)) => return Err(e.into()),
        Err(e @ GenerateFlowError::Generate(_)) => {
            return Err(Failure::api(exit::NOTHING_RECOGNISED, e).field("target"))
        }
        Err(GenerateFlowError::Invalid(findings)) => {
            for f in &findings {
                eprintln!(
                    "  {}:{}:{}: {:?}[{}] {}",
                    f.file, f.line, f.column, f.severity, f.rule, f.message
                );
            }
            return Err(Failure::api(
                exit::FAILURE,
                GenerateFlowError::Invalid(findings),
            ));
        }
    };
    let runtime = crate::setup::runtime(false)
        .ok_or_else(|| Failure::internal("cannot start the async runtime"))?;
    let popts = path_options(&args);
    let vsettings = validator_settings(&settings.generator, &settings.allowed_hosts);
    let spinner = super::progress::Spinner::start("generating (knowledge store, model)");
    let (outcome, report) = runtime.block_on(choose_path(built_in, &popts, &vsettings));
    drop(spinner);
    let mut written = Vec::new();
    if !args.dry_run {
        written = write_files(&out_dir, &outcome, args.force).map_err(|e| match &e {
            WriteError::Exists { paths, .. } => {
                let paths = paths.clone();
                Failure::new(exit::USAGE, ErrorKind::FilesExist, e.to_string())
                    .field("--force")
                    .details(serde_json::json!({ "existing": paths }))
            }
            WriteError::Target { .. } | WriteError::Io { .. } => {
                Failure::new(exit::USAGE, ErrorKind::WriteFailed, e.to_string()).field("--out")
            }
        })?;
    }
    if args.json {
        let written: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        let mut body = serde_json::to_value(GenerateSummary::new(outcome, report))
            .map_err(|e| Failure::internal(format!("cannot render JSON: {e}")))?;
        if let Some(fields) = body.as_object_mut() {
            fields.insert("written".into(), written.into());
        }
        print_json(&body)?;
    } else {
        out!(
            "{}",
            pipewright_core::quote::for_terminal(&render(
                &outcome,
                &report,
                &written,
                args.dry_run
            ))
        );
    }
    Ok(exit::OK)
}

/// Writes every file of the bundle, all or nothing, refusing to overwrite unless `force`.
fn write_files(
    dir: &Path,
    outcome: &GenerateOutcome,
    force: bool,
) -> Result<Vec<PathBuf>, WriteError> {
    let files: Vec<(&str, &str)> = outcome
        .bundle
        .files
        .iter()
        .map(|(rel, text)| (rel.as_str(), text.as_str()))
        .collect();
    write_set(dir, &files, force)
}

fn render(o: &GenerateOutcome, report: &PathReport, written: &[PathBuf], dry_run: bool) -> String {
    let mut out = String::new();
    let how = match o.provenance {
        Provenance::Template => "the built-in generator",
        Provenance::RagTemplate => "a stored pipeline, used as it is",
        Provenance::RagLlm => "a stored reference adapted by the LLM",
        Provenance::AiGenerated => "the LLM",
    };
    let _ = writeln!(
        out,
        "Generated with {how} {} for {}",
        o.provenance.tag(),
        o.profile.root
    );
    if let Some(model) = &report.model {
        let _ = writeln!(
            out,
            "LLM: {model}, {} attempt(s), {} ms",
            report.attempts, report.elapsed_ms
        );
    }
    let _ = writeln!(out, "\nWhy:");
    for line in &o.bundle.explanation {
        let _ = writeln!(out, "  - {line}");
    }
    let _ = writeln!(
        out,
        "\nValidation (schema, pipeline rules, secrets, Dockerfile rules):"
    );
    if o.findings.is_empty() {
        let _ = writeln!(out, "  no problems found");
    }
    for f in &o.findings {
        let _ = writeln!(
            out,
            "  {}:{}:{}: {:?}[{}] {}",
            f.file, f.line, f.column, f.severity, f.rule, f.message
        );
    }
    if !o.bundle.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings:");
        for w in &o.bundle.warnings {
            let _ = writeln!(out, "  - {w}");
        }
    }
    if dry_run {
        for (path, content) in &o.bundle.files {
            let _ = writeln!(out, "\n===== {path} =====\n{content}");
        }
    } else {
        let _ = writeln!(out, "\nWrote:");
        for p in written {
            let _ = writeln!(out, "  {}", p.display());
        }
    }
    out
}
