//! Command-line parsing and dispatch. Each subcommand lives in its own module and returns an
//! exit code; nothing here panics on user input.

#[macro_use]
pub mod output;
mod analyze;
mod classify;
pub mod config;
mod docs;
pub mod exit;
mod failure;
mod files;
mod generate;
mod heal;
pub mod images;
mod init;
mod progress;
mod templates;
pub mod validate;
mod watch;

use clap::{Parser, Subcommand};

/// Turns a source repository into a working GitLab CI/CD pipeline.
#[derive(Debug, Parser)]
#[command(name = "pipewright", version = VERSION, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: output::GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// `--version`: the package version, the commit and its date (see `build.rs`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("PIPEWRIGHT_BUILD_DETAIL"),
    ")"
);

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Detect the stack of a repository (a local folder or a git URL) and explain why.
    Analyze(analyze::AnalyzeArgs),
    /// Write .gitlab-ci.yml, Dockerfile and .dockerignore for a repository, and say why.
    Generate(Box<generate::GenerateArgs>),
    /// Write a commented starter pipewright.toml from the current detection.
    Init(init::InitArgs),
    /// List the images generated files use and copy the missing ones into the team's registry.
    Images(images::ImagesArgs),
    /// Manage the knowledge store: list, show, import, export, delete, stats.
    Templates(templates::TemplatesArgs),
    /// Check a .gitlab-ci.yml (and a Dockerfile): schema, pipeline rules, secrets, lint.
    Validate(validate::ValidateArgs),
    /// Classify why a CI job failed, from its log (a file or -) and GitLab's failure_reason.
    Classify(classify::ClassifyArgs),
    /// Run the HTTP API (default port 8003): analyze, generate, validate, feedback, templates.
    Serve(Box<crate::serve::ServeArgs>),
    /// Follow a GitLab pipeline to its end and run the quality gate (exit 0 when it passes).
    Watch(watch::WatchArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(docs::CompletionsArgs),
    /// Print the man page (roff) to stdout: `pipewright man > pipewright.1`.
    Man,
    /// Heal a branch's failing pipeline: classify, retry or fix, recommit, at most --max times.
    Heal(Box<heal::HealArgs>),
}

/// Runs the parsed command and returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    output::init(&cli.global);
    if !matches!(cli.command, Command::Serve(_)) {
        output::init_logging(&cli.global);
    }
    let code = match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Generate(args) => generate::run(*args),
        Command::Init(args) => init::run(args),
        Command::Images(args) => images::run(args),
        Command::Templates(args) => templates::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Classify(args) => classify::run(args),
        Command::Serve(args) => crate::serve::run(*args, &cli.global),
        Command::Watch(args) => watch::run(args),
        Command::Completions(args) => docs::completions(&args),
        Command::Man => docs::man(),
        Command::Heal(args) => heal::run(*args),
    };
    output::flush_stdout();
    code
}
