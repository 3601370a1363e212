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

use clap::{Args, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;

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

impl Cli {
    /// Parses `args` (the program name first). clap builds the whole command tree before it
    /// parses, every subcommand with every argument, which is about half the instructions a
    /// small `analyze` runs; so the parse is first tried with a tree holding only the
    /// subcommand `args[1]` names. When that parser accepts the arguments the full one gives
    /// the same answer (it differs only in the subcommands not named); help, `--version`, a
    /// global flag before the subcommand, an unknown name and every error go to the full
    /// parser, which prints the one usage text and exits as clap does.
    pub fn parse_args(args: Vec<OsString>) -> Cli {
        match Self::parse_named(&args) {
            Some(cli) => cli,
            None => Cli::parse_from(args),
        }
    }

    fn parse_named(args: &[OsString]) -> Option<Cli> {
        let name = args.get(1)?.to_str()?;
        let (name, augment) = SUBCOMMANDS.iter().find(|(n, _)| *n == name)?;
        let command = output::GlobalArgs::augment_args(clap::Command::new("pipewright"))
            .subcommand(augment(clap::Command::new(*name)))
            .subcommand_required(true);
        let matches = command.try_get_matches_from(args).ok()?;
        Cli::from_arg_matches(&matches).ok()
    }
}

/// Each subcommand's name and the function adding its arguments, for [`Cli::parse_args`]
/// (a test checks this against [`Command`]).
type AddArgs = fn(clap::Command) -> clap::Command;
const SUBCOMMANDS: &[(&str, AddArgs)] = &[
    ("analyze", analyze::AnalyzeArgs::augment_args),
    ("generate", generate::GenerateArgs::augment_args),
    ("init", init::InitArgs::augment_args),
    ("images", images::ImagesArgs::augment_args),
    ("templates", templates::TemplatesArgs::augment_args),
    ("validate", validate::ValidateArgs::augment_args),
    ("classify", classify::ClassifyArgs::augment_args),
    ("serve", crate::serve::ServeArgs::augment_args),
    ("watch", watch::WatchArgs::augment_args),
    ("completions", docs::CompletionsArgs::augment_args),
    ("man", |command| command),
    ("heal", heal::HealArgs::augment_args),
];

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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// A command's arguments and nested subcommands, as clap describes them (help texts
    /// excluded: they only show in output the full parser prints).
    fn shape(command: &clap::Command) -> Vec<String> {
        let mut out: Vec<String> = command
            .get_arguments()
            .map(|arg| {
                let arg = arg.clone().help(None::<&str>).long_help(None::<&str>);
                format!("{}: {arg:?}", command.get_name())
            })
            .collect();
        for sub in command.get_subcommands() {
            out.push(format!("{} > {}", command.get_name(), sub.get_name()));
            out.extend(shape(sub));
        }
        out
    }

    #[test]
    fn the_one_subcommand_trees_match_the_full_tree() {
        let full = Cli::command();
        let mut names: Vec<&str> = full.get_subcommands().map(|c| c.get_name()).collect();
        let mut listed: Vec<&str> = SUBCOMMANDS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        listed.sort_unstable();
        assert_eq!(
            names, listed,
            "SUBCOMMANDS must list every subcommand of Command"
        );
        for (name, augment) in SUBCOMMANDS {
            let whole = full.find_subcommand(name).expect("listed above");
            let alone = augment(clap::Command::new(*name));
            assert_eq!(shape(&alone), shape(whole), "{name}");
            assert!(
                whole.get_all_aliases().next().is_none(),
                "{name}: an alias would only reach the full parser (add it here too)"
            );
        }
    }

    fn argv(line: &str) -> Vec<OsString> {
        std::iter::once("pipewright")
            .chain(line.split_whitespace())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn accepted_arguments_parse_as_the_full_parser_parses_them() {
        for line in [
            "analyze .",
            "analyze --json -q fixtures/repos/go-gin",
            "analyze -vv --color never https://example.com/a.git",
            "generate --dry-run .",
            "generate --out /tmp/x --json .",
            "init .",
            "images .",
            "templates list",
            "templates stats --json",
            "validate .gitlab-ci.yml",
            "classify job.log",
            "serve --listen localhost:9000",
            "watch 1 --pipeline 2",
            "watch group/app --branch main --json",
            "completions bash",
            "man",
            "heal 1 --branch b --max 2",
        ] {
            let args = argv(line);
            let full = match Cli::try_parse_from(&args) {
                Ok(cli) => format!("{cli:?}"),
                Err(e) => panic!("{line}: the samples must be valid: {e}"),
            };
            let fast = Cli::parse_named(&args).map(|cli| format!("{cli:?}"));
            assert_eq!(fast.as_deref(), Some(full.as_str()), "{line}");
        }
    }

    #[test]
    fn help_version_errors_and_leading_flags_go_to_the_full_parser() {
        for line in [
            "",
            "--version",
            "--help",
            "analyze --help",
            "help analyze",
            "-q analyze .",
            "--color never analyze .",
            "analyze",
            "analyze . --no-such-flag",
            "analyse .",
            "templates",
        ] {
            assert!(Cli::parse_named(&argv(line)).is_none(), "{line}");
        }
        assert!(Cli::try_parse_from(argv("-q analyze .")).is_ok());
    }
}
