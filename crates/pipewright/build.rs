//! Gives `pipewright --version` the commit it was built from and that commit's date, read
//! from git when the sources are a git checkout. Outside one (a source archive, `cargo
//! install` from a tarball) `PIPEWRIGHT_BUILD_COMMIT` and `PIPEWRIGHT_BUILD_DATE` may say
//! them; otherwise the version says the commit is unknown. A build never fails over this.
//!
//! On Linux the binary is linked as a position-dependent executable (`-no-pie`): a PIE
//! binary of this size carries some 40,000 relative relocations that the dynamic loader
//! applies on every start, writing (and so copying) about 170 pages; without them a start
//! costs 0.5 M fewer instructions and about 0.3 ms less (see README "Speed"). The cost is
//! that the executable's own code and data sit at a fixed address (libraries, stack and heap
//! are still randomised). `PIPEWRIGHT_PIE=1` at build time keeps the default PIE link.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn from_env(name: &str) -> Option<String> {
    println!("cargo:rerun-if-env-changed={name}");
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn main() {
    let commit =
        from_env("PIPEWRIGHT_BUILD_COMMIT").or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    let date =
        from_env("PIPEWRIGHT_BUILD_DATE").or_else(|| git(&["log", "-1", "--format=%cs", "HEAD"]));
    // A new commit or checkout moves HEAD or its log: only then is the version read again.
    for path in ["HEAD", "logs/HEAD"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    let detail = match (commit, date) {
        (Some(c), Some(d)) => format!("{c} {d}"),
        (Some(c), None) => c,
        _ => "commit unknown: not built from a git checkout".to_string(),
    };
    println!("cargo:rustc-env=PIPEWRIGHT_BUILD_DETAIL={detail}");

    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if linux && from_env("PIPEWRIGHT_PIE").is_none_or(|v| v == "0") {
        // The C compiler drives the link on Linux; its last `-pie`/`-no-pie` wins over rustc's.
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
