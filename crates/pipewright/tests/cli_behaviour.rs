//! How the binary behaves as a command-line tool, whatever the subcommand: a closed pipe ends
//! it quietly with 0, a dry run leaves no file anywhere, generated files never name a local
//! path, `-q` and `--color`/`NO_COLOR` are obeyed, completions, the man page and `--version`
//! come out, and `serve --listen` takes a host name.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/repos/python-django-tailwind"
);
const LOG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../pipewright-core/tests/fixtures/logs/disk_full/npm-enospc.log"
);

/// The binary with none of the test machine's settings, its data folder (and `HOME`, and the
/// XDG folders) inside `sandbox`.
fn pipewright(sandbox: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pipewright"));
    for key in [
        "LLM_PROVIDER",
        "CHROMADB_HOST",
        "PIPEWRIGHT_STORE",
        "PIPEWRIGHT_DATA_DIR",
        "PIPEWRIGHT_COLOR",
        "NO_COLOR",
        "NEXUS_PULL_REGISTRY",
        "NEXUS_INTERNAL_REGISTRY",
        "RUST_LOG",
        "PORT",
    ] {
        cmd.env_remove(key);
    }
    cmd.env("LLM_PROVIDER", "none")
        .env("HOME", sandbox.join("home"))
        .env("XDG_DATA_HOME", sandbox.join("xdg-data"))
        .env("XDG_CONFIG_HOME", sandbox.join("xdg-config"))
        .env("XDG_CACHE_HOME", sandbox.join("xdg-cache"))
        .current_dir(sandbox);
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run pipewright")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file under `root`, relative, sorted.
fn files_under(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for rel in files_under(from) {
        let target = to.join(&rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(from.join(&rel), target).unwrap();
    }
}

/// Runs `cmd` with its standard output closed by the reader before it writes anything, and
/// returns its exit status and what it said on stderr.
fn with_reader_gone(cmd: &mut Command, stdin: Option<&[u8]>) -> (Option<i32>, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pipewright");
    drop(child.stdout.take());
    let mut input = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin {
        let _ = input.write_all(bytes);
    }
    drop(input);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().expect("wait");
    (status.code(), stderr)
}

#[test]
fn a_closed_pipe_ends_every_printing_subcommand_with_0_and_no_panic() {
    let sandbox = tempfile::tempdir().unwrap();
    // classify prints only after reading all of its input, which comes after the pipe is
    // closed: the write is certain to meet the closed pipe.
    let log = std::fs::read(LOG).unwrap();
    let (code, stderr) = with_reader_gone(
        pipewright(sandbox.path()).args(["classify", "-"]),
        Some(&log),
    );
    assert_eq!(code, Some(0), "classify: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");

    for args in [
        vec!["analyze", FIXTURE],
        vec!["analyze", "--json", FIXTURE],
        vec!["generate", "--dry-run", FIXTURE],
        vec!["man"],
        vec!["completions", "bash"],
    ] {
        let (code, stderr) = with_reader_gone(pipewright(sandbox.path()).args(&args), None);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_dry_run_leaves_no_file_anywhere() {
    let sandbox = tempfile::tempdir().unwrap();
    let repo = sandbox.path().join("repo");
    copy_tree(Path::new(FIXTURE), &repo);
    let before = files_under(sandbox.path());
    let data = sandbox.path().join("data");
    let out = run(pipewright(sandbox.path())
        .env("PIPEWRIGHT_DATA_DIR", &data)
        .args(["generate", "--dry-run"])
        .arg(&repo));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("===== .gitlab-ci.yml ====="));
    assert!(!data.exists(), "the dry run created the data folder");
    assert_eq!(
        files_under(sandbox.path()),
        before,
        "the dry run wrote files"
    );

    // Without PIPEWRIGHT_DATA_DIR the platform's data folder (under XDG_DATA_HOME) stays
    // untouched too.
    let out = run(pipewright(sandbox.path())
        .args(["generate", "--dry-run", "--json"])
        .arg(&repo));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        files_under(sandbox.path()),
        before,
        "the dry run wrote files"
    );
}

#[test]
fn generated_files_name_the_repository_never_its_local_path() {
    let sandbox = tempfile::tempdir().unwrap();
    let repo = sandbox.path().join("shop-backend");
    copy_tree(Path::new(FIXTURE), &repo);
    let out_dir = sandbox.path().join("out");
    let out = run(pipewright(sandbox.path())
        .env("PIPEWRIGHT_DATA_DIR", sandbox.path().join("data"))
        .args(["generate", "--out"])
        .arg(&out_dir)
        .arg(&repo));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let local = sandbox.path().to_string_lossy().into_owned();
    let written = files_under(&out_dir);
    assert!(
        written.contains(&PathBuf::from(".gitlab-ci.yml")),
        "{written:?}"
    );
    for rel in written {
        let content = std::fs::read_to_string(out_dir.join(&rel)).unwrap();
        assert!(
            !content.contains(&local),
            "{} names the local path {local}",
            rel.display()
        );
        if rel == Path::new(".gitlab-ci.yml") || rel == Path::new("Dockerfile") {
            assert!(
                content.contains("Generated by pipewright") && content.contains("shop-backend"),
                "{} does not name the repository:\n{content}",
                rel.display()
            );
        }
    }
}

#[test]
fn quiet_silences_notes_but_not_the_answer_or_errors() {
    let sandbox = tempfile::tempdir().unwrap();
    let empty = sandbox.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "nothing to build\n").unwrap();
    let out = run(pipewright(sandbox.path()).arg("analyze").arg(&empty));
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("nothing recognised"));
    let out = run(pipewright(sandbox.path())
        .args(["-q", "analyze"])
        .arg(&empty));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stderr), "");
    assert!(text(&out.stdout).contains("Repository:"));

    let out = run(pipewright(sandbox.path()).args(["analyze", "--quiet", "/no/such/folder"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("error:"));
}

#[test]
fn color_follows_the_flag_and_no_color() {
    let sandbox = tempfile::tempdir().unwrap();
    std::fs::write(
        sandbox.path().join(".gitlab-ci.yml"),
        "stages: [build]\njob:\n  stage: nowhere\n  script: [make]\n",
    )
    .unwrap();
    let validate = |extra: &[&str], no_color: Option<&str>| {
        let mut cmd = pipewright(sandbox.path());
        cmd.arg("validate").arg(".gitlab-ci.yml").args(extra);
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let out = run(&mut cmd);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let escape = "\x1b[";
    assert!(validate(&["--color", "always"], None).contains(escape));
    assert!(validate(&["--color", "always"], Some("1")).contains(escape));
    assert!(!validate(&["--color", "never"], None).contains(escape));
    // Into a pipe, auto never colors; NO_COLOR keeps it so.
    assert!(!validate(&[], None).contains(escape));
    assert!(!validate(&["--color", "auto"], Some("1")).contains(escape));
    let out = run(pipewright(sandbox.path()).args(["--color", "sometimes", "man"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn completions_come_out_for_every_shell() {
    let sandbox = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef pipewright"),
        ("fish", "complete -c pipewright"),
        ("elvish", "pipewright"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = run(pipewright(sandbox.path()).args(["completions", shell]));
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: no `{marker}`");
        for sub in ["analyze", "generate", "templates", "completions"] {
            assert!(script.contains(sub), "{shell}: no `{sub}`");
        }
    }
    let out = run(pipewright(sandbox.path()).args(["completions", "tcsh"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_man_page_is_roff_and_covers_every_subcommand() {
    let sandbox = tempfile::tempdir().unwrap();
    let out = run(pipewright(sandbox.path()).arg("man"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.starts_with(".TH"),
        "{page:.200}"
    );
    assert!(page.contains(".TH pipewright 1"), "{page:.400}");
    for sub in ["ANALYZE", "GENERATE", "VALIDATE", "SERVE", "COMPLETIONS"] {
        assert!(
            page.contains(&format!(".SH \"PIPEWRIGHT {sub}\"")),
            "no {sub}"
        );
    }
    assert!(
        page.contains("\\-\\-dry\\-run"),
        "generate's options are missing"
    );
}

#[test]
fn version_names_the_commit_and_its_date() {
    let sandbox = tempfile::tempdir().unwrap();
    let out = run(pipewright(sandbox.path()).arg("--version"));
    assert_eq!(out.status.code(), Some(0));
    let line = text(&out.stdout);
    let rest = line
        .trim()
        .strip_prefix(concat!("pipewright ", env!("CARGO_PKG_VERSION"), " ("))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected version line {line:?}"));
    let in_git = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .is_ok_and(|o| o.status.success());
    if in_git {
        let (commit, date) = rest.split_once(' ').expect("commit and date");
        assert_eq!(commit.len(), 12, "{rest}");
        assert!(commit.chars().all(|c| c.is_ascii_hexdigit()), "{rest}");
        assert!(
            date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-',
            "{rest}"
        );
    } else {
        assert!(rest.contains("commit unknown"), "{rest}");
    }
}

#[test]
fn serve_listens_on_a_host_name() {
    let sandbox = tempfile::tempdir().unwrap();
    let mut child = pipewright(sandbox.path())
        .env("PIPEWRIGHT_DATA_DIR", sandbox.path().join("data"))
        .args(["serve", "--listen", "localhost:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut address = None;
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if let Some(a) = line.strip_prefix("pipewright listening on http://") {
            address = Some(a.to_string());
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let address = address.expect("serve printed no address");
    let addr: std::net::SocketAddr = address.parse().expect("a socket address");
    assert!(addr.ip().is_loopback(), "{addr}");
    assert_ne!(addr.port(), 0);

    for bad in [
        "localhost",
        "localhost:http",
        ":8003",
        "no-such-host.invalid:8003",
    ] {
        let out = run(pipewright(sandbox.path()).args(["serve", "--listen", bad]));
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("--listen"), "{bad}");
    }
}
