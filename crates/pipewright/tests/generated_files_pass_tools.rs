//! The generated files, checked by the tools teams use: hadolint on every Dockerfile,
//! `gitlab-ci-local --preview` on every pipeline, and the `compile` and `test` jobs run for
//! real (shell executor) on small Python, Node and Rust projects.
//!
//! The tools are installed by `scripts/tools.sh` (the README's test command), which exports
//! `PIPEWRIGHT_HADOLINT` and `PIPEWRIGHT_GITLAB_CI_LOCAL`. Without them these tests say so and
//! pass locally; under CI (`CI` set) a missing tool is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/repos")
}

fn tool(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if Path::new(&p).exists() => Some(PathBuf::from(p)),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{var} is not set or missing; run the tests through scripts/test.sh")
        }
        _ => {
            eprintln!("skipped: {var} is not set (run scripts/test.sh to install the tool)");
            None
        }
    }
}

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures/repos")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn run(cmd: &mut Command) -> (bool, String) {
    match cmd.output() {
        Ok(out) => (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ),
        Err(e) => (false, format!("could not start: {e}")),
    }
}

/// Copies a fixture into a fresh git repository and writes pipewright's files into it.
/// Returns None when the fixture has no supported stack.
fn prepared_repo(name: &str, root: &Path) -> Option<PathBuf> {
    let dir = root.join(name);
    copy_dir(&fixtures().join(name), &dir);
    let (ok, out) = run(Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["generate", "--force", "--replace-dockerfile"])
        .arg(&dir));
    if !ok {
        assert!(
            out.contains("no service was recognised"),
            "{name}: generate failed:\n{out}"
        );
        return None;
    }
    let git = |args: &[&str]| {
        let (ok, out) = run(Command::new("git").args(args).current_dir(&dir));
        assert!(ok, "{name}: git {args:?}: {out}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-qm",
        "fixture",
    ]);
    git(&[
        "remote",
        "add",
        "origin",
        "https://gitlab.example.com/group/project.git",
    ]);
    git(&["update-ref", "refs/remotes/origin/main", "HEAD"]);
    git(&["remote", "set-head", "origin", "main"]);
    Some(dir)
}

#[test]
fn hadolint_reports_no_error_on_any_generated_dockerfile() {
    let Some(hadolint) = tool("PIPEWRIGHT_HADOLINT") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let mut checked = 0;
    for name in fixture_names() {
        let out = tmp.path().join(&name);
        let (ok, _) = run(Command::new(env!("CARGO_BIN_EXE_pipewright"))
            .args(["generate", "--replace-dockerfile", "--out"])
            .arg(&out)
            .arg(fixtures().join(&name)));
        if !ok {
            continue;
        }
        for dockerfile in walk(&out)
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| n == "Dockerfile"))
        {
            checked += 1;
            let (ok, report) = run(Command::new(&hadolint)
                .args(["--no-color", "--failure-threshold", "error"])
                .arg(&dockerfile));
            if !ok {
                failures.push(format!("{}:\n{report}", dockerfile.display()));
            }
        }
    }
    assert!(checked > 20, "only {checked} Dockerfiles were checked");
    assert!(
        failures.is_empty(),
        "hadolint errors:\n{}",
        failures.join("\n")
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn gitlab_ci_local_accepts_every_generated_pipeline() {
    let Some(gcl) = tool("PIPEWRIGHT_GITLAB_CI_LOCAL") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let names = fixture_names();
    // Two at a time: the machine has two cores and each preview starts Node.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let halves: Vec<Vec<String>> = vec![
            names.iter().step_by(2).cloned().collect(),
            names.iter().skip(1).step_by(2).cloned().collect(),
        ];
        let handles: Vec<_> = halves
            .into_iter()
            .map(|half| {
                let gcl = gcl.clone();
                let root = tmp.path().to_path_buf();
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for name in half {
                        let Some(dir) = prepared_repo(&name, &root) else {
                            continue;
                        };
                        let (ok, out) = run(Command::new(&gcl).arg("--preview").current_dir(&dir));
                        if !ok {
                            failures.push(format!("{name}:\n{out}"));
                        }
                    }
                    failures
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec!["a preview thread panicked".into()])
            })
            .collect()
    });
    assert!(
        failures.is_empty(),
        "gitlab-ci-local --preview rejected:\n{}",
        failures.join("\n")
    );
}

fn compile_and_test_run_green(name: &str, expect_junit: bool) {
    let Some(gcl) = tool("PIPEWRIGHT_GITLAB_CI_LOCAL") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = prepared_repo(name, tmp.path()).expect("the fixture has a stack");
    let shown = dir.display().to_string();
    // One job per run: with `build` not selected, gitlab-ci-local would start `test` (which
    // needs `build`) beside `compile` instead of after it.
    for job in ["compile", "test"] {
        let (ok, out) = run(Command::new(&gcl)
            .args(["--force-shell-executor", "--variable"])
            .arg(format!("APP_DIR={shown}"))
            .arg("--variable")
            .arg(format!("CI_PROJECT_DIR={shown}"))
            .arg(job)
            .current_dir(&dir));
        assert!(
            ok && out.contains(&format!("PASS  {job}")),
            "{name}: {job} failed:\n{out}"
        );
    }
    let pipeline = std::fs::read_to_string(dir.join(".gitlab-ci.yml")).expect("pipeline");
    if pipeline.contains("lint-exit-code") {
        assert!(
            dir.join("lint-exit-code").exists(),
            "{name}: the lint step did not record its status"
        );
    }
    if expect_junit {
        assert!(dir.join("junit.xml").exists(), "{name}: no junit.xml");
    }
}

#[test]
fn python_compile_and_test_jobs_run_green() {
    compile_and_test_run_green("run-python-pytest", true);
}

#[test]
fn node_compile_and_test_jobs_run_green() {
    compile_and_test_run_green("run-node-express", false);
}

#[test]
fn rust_compile_and_test_jobs_run_green() {
    compile_and_test_run_green("run-rust-cli", false);
}
