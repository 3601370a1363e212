//! `pipewright`: turns a source repository into a working GitLab CI/CD pipeline.
//!
//! This binary is the interface layer: it parses arguments, calls the workflow, and renders
//! the answer for people (default) or machines (`--json`); `pipewright serve` does the same
//! over HTTP ([`serve`]). Exit codes are listed in [`cli::exit`].

#[macro_use]
mod cli;
mod serve;
mod setup;

use clap::Parser;

fn main() {
    // Every HTTP client needs rustls' provider; code that builds one with reqwest directly
    // finds it installed too.
    pipewright_adapters::http::install_crypto_provider();
    let args = cli::Cli::parse();
    let code = cli::run(args);
    std::process::exit(code);
}
