//! `pipewright classify LOG [--failure-reason R] [--exit-code N] [--json]`: why a CI job
//! failed, from its log (a file, or `-` for standard input) and GitLab's `failure_reason`. The
//! log is streamed through the classifier, never held whole. Exit 0 when a class was found,
//! 3 when nothing was recognised (`unknown`), 2 when the log cannot be read.

use super::exit;
use super::failure::{print_json, Failure};
use crate::serve::error::ErrorKind;
use clap::Args;
use pipewright_core::heal::{Classification, Classifier, ClassifierOptions, FailureClass};
use std::fmt::Write as _;
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// The job log (GitLab's raw trace, ANSI codes and section markers included), or `-`
    /// to read standard input.
    pub log: PathBuf,
    /// GitLab's `failure_reason` for the job (`script_failure`, `runner_system_failure` …).
    #[arg(long, value_name = "R")]
    pub failure_reason: Option<String>,
    /// The job's exit code, when known (otherwise read from `ERROR: Job failed: exit code N`).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub exit_code: Option<i32>,
    /// Print `{"class", "evidence", "line", "confidence", "candidates": [...]}`.
    #[arg(long)]
    pub json: bool,
}

/// Bytes read at a time.
const CHUNK: usize = 256 * 1024;

pub fn run(args: ClassifyArgs) -> i32 {
    let classifier = Classifier::new(ClassifierOptions::default())
        .with_failure_reason(args.failure_reason.as_deref())
        .with_exit_code(args.exit_code);
    let result = if args.log.as_os_str() == "-" {
        read_into(classifier, std::io::stdin().lock(), "standard input")
    } else {
        let shown = args.log.display().to_string();
        match std::fs::File::open(&args.log) {
            Ok(file) if file.metadata().is_ok_and(|m| m.is_dir()) => Err(Failure::usage(
                "log",
                format!("{shown} is a folder; name the job log file (or - for standard input)"),
            )),
            Ok(file) => read_into(classifier, file, &shown),
            Err(e) => Err(Failure::usage("log", format!("cannot read {shown}: {e}"))),
        }
    };
    let classification = match result {
        Ok(c) => c,
        Err(f) => return f.report(args.json),
    };
    if args.json {
        if let Err(f) = print_json(&json_answer(&classification)) {
            return f.report(false);
        }
    } else {
        out!(
            "{}",
            pipewright_core::quote::for_terminal(&render(&classification))
        );
    }
    if classification.class == FailureClass::Unknown {
        exit::NOTHING_RECOGNISED
    } else {
        exit::OK
    }
}

fn read_into(
    mut classifier: Classifier,
    mut input: impl Read,
    shown: &str,
) -> Result<Classification, Failure> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match input.read(&mut buf) {
            Ok(0) => return Ok(classifier.finish()),
            Ok(n) => classifier.feed(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Failure::new(
                    exit::FAILURE,
                    ErrorKind::InvalidField,
                    format!("cannot read {shown}: {e}"),
                )
                .field("log"))
            }
        }
    }
}

/// The `--json` contract.
pub fn json_answer(c: &Classification) -> serde_json::Value {
    serde_json::json!({
        "class": c.class,
        "evidence": c.evidence,
        "line": c.line,
        "confidence": c.confidence,
        "basis": c.basis,
        "signature": c.signature,
        "exit_code": c.exit_code,
        "candidates": c.candidates.iter().map(|x| serde_json::json!({
            "class": x.class,
            "evidence": x.evidence,
            "line": x.line,
        })).collect::<Vec<_>>(),
    })
}

fn render(c: &Classification) -> String {
    let mut out = String::new();
    let basis = match c.basis {
        pipewright_core::heal::Basis::FailureReason => "GitLab's failure_reason",
        pipewright_core::heal::Basis::Log => "the log",
        pipewright_core::heal::Basis::ExitCode => "the exit code only",
        pipewright_core::heal::Basis::Nothing => "nothing recognised",
    };
    let _ = writeln!(
        out,
        "class: {} (confidence {:.2}, from {basis})",
        c.class, c.confidence
    );
    match (&c.evidence, c.line) {
        (Some(evidence), Some(line)) => {
            let section = c
                .section
                .as_deref()
                .map(|s| format!(" in {s}"))
                .unwrap_or_default();
            let _ = writeln!(out, "evidence: line {line}{section}: {evidence}");
            if let Some(start) = c.context_start {
                let _ = writeln!(out, "context:");
                for (i, text) in c.context.iter().enumerate() {
                    let n = start + i as u64;
                    let mark = if n == line { '>' } else { ' ' };
                    let _ = writeln!(out, "  {mark}{n:>6} | {text}");
                }
            }
        }
        _ => {
            let _ = writeln!(out, "evidence: none");
        }
    }
    if let Some(code) = c.exit_code {
        let _ = writeln!(out, "exit code: {code}");
    }
    if !c.candidates.is_empty() {
        let _ = writeln!(out, "also seen:");
        for x in &c.candidates {
            let _ = writeln!(out, "  {} at line {}: {}", x.class, x.line, x.evidence);
        }
    }
    if c.class == FailureClass::Unknown {
        let _ = writeln!(out, "last lines of the log:");
        let tail = c.tail();
        let lines: Vec<&str> = tail.lines().collect();
        for line in &lines[lines.len().saturating_sub(10)..] {
            let _ = writeln!(out, "  | {line}");
        }
    }
    out
}
