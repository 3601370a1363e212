//! `pipewright`: turns a source repository into a working GitLab CI/CD pipeline.
//!
//! This crate is the interface layer: it parses arguments, calls the workflow, and renders
//! the answer for people (default) or machines (`--json`); `pipewright serve` does the same
//! over HTTP ([`serve`]). Exit codes are listed in [`cli::exit`]. It is a library with a
//! one-line binary (`main.rs`) so that a fresh build compiles it while the crates below are
//! still generating code; only the final link waits for all of them.

#[macro_use]
mod cli;
mod serve;
mod setup;

/// Runs the command line of this process and answers its exit code.
pub fn main_exit_code() -> i32 {
    // Every HTTP client needs rustls' provider; code that builds one with reqwest directly
    // finds it installed too.
    pipewright_adapters::http::install_crypto_provider();
    let args = cli::Cli::parse_args(std::env::args_os().collect());
    cli::run(args)
}
