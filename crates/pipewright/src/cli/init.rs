//! `pipewright init [PATH]`: writes a commented starter `pipewright.toml` into the repository
//! from the current detection, every value commented out, so the team corrects it in place.

use super::{exit, files};
use clap::Args;
use pipewright_core::overrides::{starter_file, FILE_NAME};
use pipewright_workflow::analyze::{analyze_with_index, open_source, AnalyzeOptions};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The repository folder (default: the current folder).
    #[arg(default_value = ".")]
    pub target: PathBuf,
    /// Replace an existing pipewright.toml.
    #[arg(long)]
    pub force: bool,
    /// Print the file instead of writing it.
    #[arg(long)]
    pub stdout: bool,
}

pub fn run(args: InitArgs) -> i32 {
    let target = args.target.display().to_string();
    if !args.target.is_dir() {
        eprintln!("error: `{target}` is not a folder; give the repository's folder");
        return exit::USAGE;
    }
    let out = args.target.join(FILE_NAME);
    if out.exists() && !args.force && !args.stdout {
        eprintln!(
            "error: {} exists; edit it, or use --force to replace it with a fresh starter file",
            out.display()
        );
        return exit::USAGE;
    }
    let analyzed = open_source(&target, &AnalyzeOptions::default())
        .and_then(|s| analyze_with_index(s.as_ref()).map(|(_, p)| p));
    let profile = match analyzed {
        Ok(p) => p,
        Err(e) => return super::failure::Failure::from(e).report(false),
    };
    let text = starter_file(&profile);
    if args.stdout {
        print!("{text}");
        return exit::OK;
    }
    match files::write_atomically(&out, &text) {
        Ok(()) => {
            println!(
                "wrote {} ({} service(s)); uncomment a line to correct what pipewright detected",
                out.display(),
                profile.services.len()
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", out.display());
            exit::FAILURE
        }
    }
}
