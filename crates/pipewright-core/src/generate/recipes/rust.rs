//! Rust with cargo: dependencies are compiled once against stub sources from the manifests
//! (so the layer survives code changes), the release binary is copied alone into a slim
//! Debian image, and tests plus clippy run in the test stage. Workspace members are built
//! from the workspace root with `-p <package>`.

use super::{
    add_app_user, dockerfile_base, dockerignore, finish_runtime, lock_cache, Lint, Recipe,
};
use crate::dockerfile::{Instruction, Stage};
use crate::generate::ServiceContext;
use crate::index::{join, parent_dir};

/// The runtime base: current Debian stable, whose glibc is at least as new as that of any
/// `rust:<version>-slim` image (bookworm or trixie), so the binary always runs; no toolchain.
const RUNTIME: (&str, &str) = ("debian", "trixie-slim");

/// The package name and the binary name(s) from a Cargo.toml.
fn package(toml_text: &str) -> (Option<String>, Vec<String>) {
    let Ok(t) = toml_text.parse::<toml::Table>() else {
        return (None, Vec::new());
    };
    let name = t
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(String::from);
    let bins: Vec<String> = t
        .get("bin")
        .and_then(|b| b.as_array())
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("name").and_then(|n| n.as_str()).map(String::from))
        .collect();
    (name, bins)
}

/// The nearest folder above the service whose Cargo.toml declares `[workspace]`.
fn workspace_root(ctx: &ServiceContext<'_>) -> Option<String> {
    if ctx.dir.is_empty() {
        return None;
    }
    let mut dir = parent_dir(ctx.dir);
    loop {
        if ctx
            .index
            .text(&join(dir, "Cargo.toml"))
            .is_some_and(|t| t.lines().any(|l| l.trim() == "[workspace]"))
        {
            return Some(dir.to_string());
        }
        if dir.is_empty() {
            return None;
        }
        dir = parent_dir(dir);
    }
}

pub fn recipe(ctx: &ServiceContext<'_>) -> Recipe {
    let tag = format!("{}-slim", ctx.runtime.version);
    let svc = ctx.service;
    let mut notes = vec![format!(
        "rust image rust:{tag}; the runtime is {}:{} with the binary alone",
        RUNTIME.0, RUNTIME.1
    )];
    let mut warnings = Vec::new();
    let manifest = ctx.text("Cargo.toml").unwrap_or("");
    let (pkg_name, bins) = package(manifest);
    let locked = if ctx.has("Cargo.lock")
        || workspace_root(ctx).is_some_and(|r| ctx.index.exists(&join(&r, "Cargo.lock")))
    {
        " --locked"
    } else {
        warnings.push("no Cargo.lock: builds resolve dependencies afresh each time; commit the lock file for reproducible images".into());
        ""
    };
    let has_lib = ctx.has("src/lib.rs");
    let has_main = ctx.has("src/main.rs") || !bins.is_empty();
    // The binary the image runs: the start command's, else the package's.
    let bin = svc
        .commands
        .start
        .as_deref()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.rsplit('/').next())
        .map(String::from)
        .or_else(|| bins.first().cloned())
        .or_else(|| pkg_name.clone().filter(|_| has_main));
    let member = workspace_root(ctx);
    let package_flag = match (&member, &pkg_name) {
        (Some(_), Some(name)) => format!(" -p {name}"),
        _ => String::new(),
    };

    // Dockerfile
    let mut d = dockerfile_base(ctx);
    let base = ctx.base_image("rust", &tag);
    let mut deps = Stage::new(&base, "deps");
    deps.push(Instruction::Workdir("/app".into()));
    deps.push(Instruction::Env(vec![(
        "CARGO_TERM_COLOR".into(),
        "never".into(),
    )]));
    let mut build = Stage::new("deps", "build");
    match &member {
        Some(root) => {
            deps.comment = vec![
                "A workspace member: the workspace root is the build context, so the whole".into(),
                "workspace is copied; dependencies are fetched before compiling.".into(),
            ];
            deps.copy(["."], ".");
            deps.run([format!("cargo fetch{locked}")]);
            build.run([format!("cargo build --release{locked}{package_flag}")]);
            notes.push(format!(
                "workspace member of `{}`: built from the workspace root with{package_flag}",
                if root.is_empty() { "." } else { root }
            ));
        }
        None => {
            deps.comment = vec![
                "Dependencies only: the manifests with stub sources compile every dependency once;"
                    .into(),
                "this layer is rebuilt only when Cargo.toml or Cargo.lock change.".into(),
            ];
            let mut manifests = vec!["Cargo.toml".to_string()];
            if ctx.has("Cargo.lock") {
                manifests.push("Cargo.lock".into());
            }
            for f in ["rust-toolchain.toml", "rust-toolchain", "build.rs"] {
                if ctx.has(f) {
                    manifests.push(f.into());
                }
            }
            deps.copy(manifests, "./");
            let mut stub = vec!["mkdir -p src".to_string()];
            if has_main {
                stub.push("echo 'fn main() {}' > src/main.rs".into());
            }
            if has_lib || !has_main {
                stub.push("touch src/lib.rs".into());
            }
            stub.push(format!("cargo build --release{locked}"));
            stub.push("rm -rf src".into());
            deps.run(stub);
            build.copy(["."], ".");
            // The stubs' build artifacts are newer than the copied sources; touch them so
            // cargo rebuilds the crate itself.
            build.run([
                "find src -name '*.rs' -exec touch {} +".to_string(),
                format!("cargo build --release{locked}"),
            ]);
        }
    }
    if let Some(b) = &bin {
        build.run([format!("cp target/release/{b} /usr/local/bin/app")]);
    }
    let mut test = Stage::new("build", "test");
    test.comment =
        vec!["Test binaries and clippy, compiled here so the CI test job only runs them.".into()];
    test.run([
        // Images with rustup lack clippy until asked; distribution toolchains ship it.
        "if command -v rustup >/dev/null; then rustup component add clippy; fi".to_string(),
        format!("cargo test --release{locked}{package_flag} --no-run"),
    ]);
    let mut runtime = Stage::new(ctx.base_image(RUNTIME.0, RUNTIME.1), "runtime");
    // A working folder the app user owns: programs that write relative files (SQLite,
    // uploads) must not land in `/`.
    runtime.push(Instruction::Workdir("/app".into()));
    add_app_user(&mut runtime);
    match &bin {
        Some(b) => {
            runtime.comment = vec![format!(
                "Only the `{b}` binary on a slim Debian: no compiler, no sources."
            )];
            runtime.push(Instruction::Copy {
                from: Some("build".into()),
                chown: None,
                src: vec!["/usr/local/bin/app".into()],
                dest: format!("/usr/local/bin/{b}"),
            });
            let start = format!("/usr/local/bin/{b}");
            warnings.extend(finish_runtime(ctx, &mut runtime, "app", Some(&start), &[]));
        }
        None => {
            runtime.comment = vec![
                "A library: the image carries the compiled crate so the same jobs apply.".into(),
            ];
            runtime.push(Instruction::Copy {
                from: Some("build".into()),
                chown: None,
                src: vec!["/app/target/release".into()],
                dest: "/opt/crate".into(),
            });
            warnings.extend(finish_runtime(
                ctx,
                &mut runtime,
                "app",
                None,
                &["ls", "/opt/crate"],
            ));
            notes.push("a library crate: publish it to a crate registry separately; the image only proves it builds".into());
        }
    }
    d.stages = vec![deps, build, test, runtime];

    // CI
    let compile = vec![format!("cargo build --release{locked}{package_flag}")];
    let clippy_configured =
        ctx.has("clippy.toml") || ctx.has(".clippy.toml") || manifest.contains("[lints");
    let lint = Lint {
        tool: "clippy".into(),
        command: format!(
            "cargo clippy --release{locked}{package_flag} --all-targets --message-format=json -- -D warnings > \"$CI_PROJECT_DIR/lint-report.json\""
        ),
        report: "lint-report.json".into(),
        sonar_property: Some("sonar.rust.clippy.reportPaths".into()),
        enforced: clippy_configured,
        why: if clippy_configured {
            "the project configures clippy, so its warnings fail the job".into()
        } else {
            "the project does not configure clippy, so its warnings are advisory".into()
        },
    };
    notes.push(format!("linter: clippy ({})", lint.why));
    notes.push(
        "cargo test writes no JUnit report without extra tools; GitLab shows the job log".into(),
    );
    Recipe {
        build_image: ("rust".into(), tag),
        compile,
        compile_variables: vec![("CARGO_HOME".into(), "$CI_PROJECT_DIR/.cargo".into())],
        test_variables: Vec::new(),
        cache: Some(lock_cache(
            ctx,
            &["Cargo.lock", "Cargo.toml"],
            &[".cargo/registry", "target"],
            "rust",
        )),
        compile_artifacts: bin.iter().map(|b| format!("target/release/{b}")).collect(),
        test_setup: vec!["export APP_DIR=\"$PWD\"".into()],
        test: vec![format!("cargo test --release{locked}{package_flag}")],
        junit: None,
        lint: Some(lint),
        sast: None,
        dockerfile: d,
        dockerignore: dockerignore(&["target", ".cargo"]),
        sonar_properties: Vec::new(),
        context: member,
        notes,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_and_bins_are_read() {
        let (name, bins) = package("[package]\nname = \"svc\"\n\n[[bin]]\nname = \"server\"\npath = \"src/bin/server.rs\"\n");
        assert_eq!(name.as_deref(), Some("svc"));
        assert_eq!(bins, vec!["server"]);
        assert_eq!(package("not toml ["), (None, vec![]));
    }
}
