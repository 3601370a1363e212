//! How the CLI talks to a terminal: standard output that ends quietly when the reader goes
//! away (`pipewright … | head` exits 0, as ripgrep does, instead of panicking), the global
//! `-q/--quiet`, `-v/--verbose` and `--color` flags, and the log level they choose.
//!
//! Every subcommand prints its answer with [`outln!`]/[`out!`], never `println!`.

use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

/// Prints to standard output like `print!`; a closed pipe ends the process with status 0.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!($($arg)*))
    };
}

/// Prints a line to standard output like `println!`; a closed pipe ends the process with
/// status 0.
macro_rules! outln {
    () => {
        $crate::cli::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes to standard output. A reader that went away (`EPIPE`) is not an error for a
/// command-line tool: the process ends at once with status 0 and says nothing. Any other
/// failure to write (a full disk behind a redirect) ends it with status 1 and the reason.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args) {
        stdout_failed(&e);
    }
}

/// Flushes standard output before the process ends, with the same rule as [`write_stdout`].
pub fn flush_stdout() {
    if let Err(e) = std::io::stdout().lock().flush() {
        stdout_failed(&e);
    }
}

/// Ends the process after a failed write to standard output: quietly with 0 on a closed pipe.
pub fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(super::exit::OK);
    }
    // Standard error may be gone as well; nothing more can be said then.
    let _ = writeln!(
        std::io::stderr(),
        "error: cannot write to standard output: {e}"
    );
    std::process::exit(super::exit::FAILURE);
}

/// When to color the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    /// Color when standard output is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Always color, even into a pipe or file.
    Always,
    /// Never color.
    Never,
}

impl ColorChoice {
    /// Whether to color, given the environment's `NO_COLOR` and `TERM` and whether the
    /// output is a terminal (<https://no-color.org>: any non-empty `NO_COLOR` turns color off).
    pub fn resolve(self, no_color: Option<&str>, term: Option<&str>, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                no_color.is_none_or(str::is_empty) && term != Some("dumb") && is_terminal
            }
        }
    }
}

/// The flags every subcommand takes.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Print only the answer and errors: no notes, warnings or progress.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more on stderr: -v info, -vv debug, -vvv trace (RUST_LOG applies without -v/-q).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Color the output: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, env = "PIPEWRIGHT_COLOR")]
    pub color: ColorChoice,
}

impl GlobalArgs {
    /// The log filter these flags choose: `-q` errors only, each `-v` one level more than
    /// `default`; with neither, `RUST_LOG` when set, else `default`.
    pub fn log_filter(&self, default: &str, rust_log: Option<&str>) -> String {
        const LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];
        if self.quiet {
            return "error".to_string();
        }
        if self.verbose == 0 {
            return rust_log
                .filter(|v| !v.trim().is_empty())
                .unwrap_or(default)
                .to_string();
        }
        let base = LEVELS.iter().position(|l| *l == default).unwrap_or(1);
        let level = (base + usize::from(self.verbose)).min(LEVELS.len() - 1);
        LEVELS[level].to_string()
    }
}

/// What the global flags decided, set once at start.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub quiet: bool,
    pub color: bool,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// Records the global flags' decisions for the rest of the run.
pub fn init(args: &GlobalArgs) {
    let color = args.color.resolve(
        std::env::var("NO_COLOR").ok().as_deref(),
        std::env::var("TERM").ok().as_deref(),
        std::io::stdout().is_terminal(),
    );
    let _ = SETTINGS.set(Settings {
        quiet: args.quiet,
        color,
    });
}

fn settings() -> Settings {
    SETTINGS.get().copied().unwrap_or(Settings {
        quiet: false,
        color: false,
    })
}

/// Log lines on stderr for a command (the service sets up its own): warnings by default, as
/// `-q`/`-v`/`RUST_LOG` choose ([`GlobalArgs::log_filter`]).
pub fn init_logging(args: &GlobalArgs) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = args.log_filter("warn", std::env::var("RUST_LOG").ok().as_deref());
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(settings().color && std::io::stderr().is_terminal())
        .without_time()
        .with_filter(log_targets(&filter, tracing::Level::WARN));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// The log filter `spec` (RUST_LOG's `level,target=level,...`), or `fallback` for everything
/// when it does not parse. `Targets` rather than `EnvFilter`: the latter's field matchers
/// switch the regex crate's full-DFA construction on for every regex in the program, which
/// made each run build automata it never needed (the one-file `analyze` profile).
pub fn log_targets(spec: &str, fallback: tracing::Level) -> tracing_subscriber::filter::Targets {
    spec.parse()
        .unwrap_or_else(|_| tracing_subscriber::filter::Targets::new().with_default(fallback))
}

/// Whether `-q` was given: notes and progress stay silent.
pub fn quiet() -> bool {
    settings().quiet
}

/// A note for people on stderr (not an error); silent with `-q`.
pub fn note(text: &str) {
    if !quiet() {
        let _ = writeln!(std::io::stderr(), "{text}");
    }
}

/// How a word is emphasised in human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Error,
    Warning,
    Good,
}

impl Tone {
    fn style(self) -> anstyle::Style {
        use anstyle::{AnsiColor, Style};
        match self {
            Tone::Error => Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
            Tone::Warning => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
            Tone::Good => Style::new().fg_color(Some(AnsiColor::Green.into())),
        }
    }
}

/// `text` in `tone` when color is on, else `text` as it is.
pub fn paint(text: &str, tone: Tone) -> String {
    if settings().color {
        let style = tone.style();
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_turns_auto_off_but_not_always() {
        assert!(!ColorChoice::Auto.resolve(Some("1"), Some("xterm"), true));
        assert!(ColorChoice::Auto.resolve(Some(""), Some("xterm"), true));
        assert!(ColorChoice::Auto.resolve(None, Some("xterm"), true));
        assert!(!ColorChoice::Auto.resolve(None, Some("xterm"), false));
        assert!(!ColorChoice::Auto.resolve(None, Some("dumb"), true));
        assert!(ColorChoice::Always.resolve(Some("1"), None, false));
        assert!(!ColorChoice::Never.resolve(None, None, true));
    }

    #[test]
    fn verbosity_moves_the_log_level() {
        let flags = |quiet, verbose| GlobalArgs {
            quiet,
            verbose,
            color: ColorChoice::Auto,
        };
        assert_eq!(flags(false, 0).log_filter("warn", None), "warn");
        assert_eq!(flags(false, 0).log_filter("warn", Some("debug")), "debug");
        assert_eq!(flags(false, 1).log_filter("warn", Some("error")), "info");
        assert_eq!(flags(false, 2).log_filter("warn", None), "debug");
        assert_eq!(flags(false, 9).log_filter("info", None), "trace");
        assert_eq!(flags(true, 0).log_filter("info", Some("trace")), "error");
    }
}
