//! `pipewright completions SHELL` and `pipewright man`: generated from the same clap
//! definitions the binary parses with, so they can never disagree with it.

use super::exit;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Writes the completion script for `args.shell` to stdout.
pub fn completions(args: &CompletionsArgs) -> i32 {
    let mut cmd = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "pipewright", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    exit::OK
}

/// Writes the man page (roff, section 1) for pipewright and its subcommands to stdout.
pub fn man() -> i32 {
    let cmd = super::Cli::command();
    let mut page = Vec::new();
    if let Err(e) = render_man(cmd, &mut page) {
        eprintln!("error: cannot render the man page: {e}");
        return exit::FAILURE;
    }
    out!("{}", String::from_utf8_lossy(&page));
    exit::OK
}

/// The top page followed by one section per subcommand, so `man pipewright` tells everything.
fn render_man(cmd: clap::Command, page: &mut Vec<u8>) -> std::io::Result<()> {
    clap_mangen::Man::new(cmd.clone()).render(page)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let heading = format!(".SH \"PIPEWRIGHT {}\"\n", sub.get_name().to_uppercase());
        page.extend_from_slice(heading.as_bytes());
        let man = clap_mangen::Man::new(sub.clone());
        man.render_description_section(page)?;
        man.render_synopsis_section(page)?;
        man.render_options_section(page)?;
    }
    Ok(())
}
