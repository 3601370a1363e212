//! `pipewright analyze <PATH|GIT_URL>`: the stack profile, as a readable summary or JSON.

use super::exit;
use super::failure::{print_json, Failure};
use clap::Args;
use pipewright_core::stack::StackProfile;
use pipewright_workflow::analyze::{analyze_with_overrides, open_source, AnalyzeOptions};
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// A local folder, or a git URL (https://, ssh://, git@host:path, file://).
    pub target: String,
    /// Print the profile as JSON.
    #[arg(long)]
    pub json: bool,
    /// Branch or tag to clone (git URLs only).
    #[arg(long = "ref")]
    pub reference: Option<String>,
    /// Seconds a clone may take before it is stopped.
    #[arg(long, default_value_t = 120)]
    pub clone_timeout: u64,
    /// A pipewright.toml whose `[services."path"]`/`ignore` entries win over the repository's
    /// own pipewright.toml and over detection.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
}

pub fn run(args: AnalyzeArgs) -> i32 {
    let opts = AnalyzeOptions {
        reference: args.reference.clone(),
        clone_timeout: Duration::from_secs(args.clone_timeout),
    };
    let layers = match super::config::override_layers(args.config.as_deref()) {
        Ok(l) => l,
        Err(e) => return Failure::usage("--config", e.to_string()).report(args.json),
    };
    let spinner = super::progress::Spinner::start(format!(
        "analyzing {}",
        pipewright_adapters::source::redact_url(&args.target)
    ));
    let analyzed = open_source(&args.target, &opts).and_then(|source| {
        let (index, profile) = analyze_with_overrides(source.as_ref(), &layers)?;
        // The process ends once the profile is printed: freeing an index of 100,000 paths
        // one by one would only delay that, the system takes the memory back at once.
        std::mem::forget(index);
        Ok(profile)
    });
    drop(spinner);
    let profile = match analyzed {
        Ok(profile) => profile,
        Err(e) => return Failure::from(e).report(args.json),
    };
    if args.json {
        if let Err(f) = print_json(&profile) {
            return f.report(false);
        }
    } else {
        out!(
            "{}",
            pipewright_core::quote::for_terminal(&render(&profile))
        );
    }
    if profile.services.is_empty() {
        if !args.json {
            super::output::note(&format!(
                "pipewright: nothing recognised in {}",
                pipewright_core::quote::for_terminal(&profile.root)
            ));
        }
        exit::NOTHING_RECOGNISED
    } else {
        exit::OK
    }
}

/// The human summary: one block per service, each conclusion with its evidence.
pub fn render(p: &StackProfile) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Repository: {}", p.root);
    let _ = writeln!(
        out,
        "Primary language: {}{}",
        p.primary_language
            .map(|l| l.as_str())
            .unwrap_or("none recognised"),
        if p.monorepo {
            format!("   (monorepo, {} services)", p.services.len())
        } else {
            String::new()
        }
    );
    if !p.languages.is_empty() {
        let langs: Vec<String> = p
            .languages
            .iter()
            .take(6)
            .map(|l| format!("{} {:.1}%", l.name, l.share * 100.0))
            .collect();
        let _ = writeln!(out, "Languages: {}", langs.join(", "));
    }
    let _ = writeln!(
        out,
        "Index: {} files, {} left out of the language share, {} read",
        p.index.files, p.index.excluded_from_share, p.index.files_read
    );
    for s in &p.services {
        let _ = writeln!(out);
        let fw = s.framework.map(|f| format!(" / {f}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "Service {}: {}{}  [{}]",
            s.path,
            s.language,
            fw,
            format!("{:?}", s.role).to_lowercase()
        );
        let line = |label: &str, value: Option<String>| match value {
            Some(v) => format!("  {label:<15}{v}\n"),
            None => format!("  {label:<15}-\n"),
        };
        out.push_str(&line("build tool", s.build_tool.map(|b| b.to_string())));
        out.push_str(&line("tests", s.test_framework.map(|t| t.to_string())));
        out.push_str(&line(
            "runtime",
            s.runtime_version
                .as_ref()
                .map(|v| format!("{} {} (from {})", v.name, v.value, v.source)),
        ));
        out.push_str(&line(
            "port",
            s.port
                .map(|p| format!("{p} (from {})", s.port_source.as_deref().unwrap_or("?"))),
        ));
        if !s.databases.is_empty() {
            let dbs: Vec<&str> = s.databases.iter().map(|d| d.as_str()).collect();
            out.push_str(&line("needs", Some(dbs.join(", "))));
        }
        let c = &s.commands;
        for (label, cmd) in [
            ("install", &c.install),
            ("build", &c.build),
            ("test", &c.test),
            ("lint", &c.lint),
            ("start", &c.start),
        ] {
            if let Some(cmd) = cmd {
                out.push_str(&line(label, Some(cmd.clone())));
            }
        }
        for sec in &s.secondary {
            let _ = writeln!(out, "  also present:  {}", sec.reason);
        }
        let _ = writeln!(out, "  evidence:");
        for e in &s.evidence {
            let _ = writeln!(out, "    - {:<16} {}  ({})", e.conclusion, e.detail, e.file);
        }
    }
    if !p.warnings.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Warnings:");
        for w in &p.warnings {
            let _ = writeln!(out, "  - {w}");
        }
    }
    out
}
