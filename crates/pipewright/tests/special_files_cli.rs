//! Special files named to the CLI (issue 16, class 10): a FIFO or a link to `/dev/zero` must
//! be refused at once with a message naming what it is, never read until memory runs out or
//! waited on forever. Every run has a 20 s limit, so a regression fails instead of hanging.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `pipewright args…` with a 20 s limit; exit code and stderr.
fn run(args: &[&str], data: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(args)
        .env("PIPEWRIGHT_DATA_DIR", data)
        .env("LLM_PROVIDER", "none")
        .env_remove("CHROMADB_HOST")
        .env_remove("PIPEWRIGHT_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pipewright");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pipewright {args:?} was still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

/// A template folder with valid metadata and the given files.
fn template_folder(root: &Path) -> std::path::PathBuf {
    let dir = root.join("in").join("flask");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("pipewright-template.toml"),
        "language = \"python\"\nframework = \"flask\"\n",
    )
    .unwrap();
    dir
}

#[test]
fn validate_refuses_a_fifo_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join(".gitlab-ci.yml");
    mkfifo(&fifo);
    let (code, stderr) = run(
        &["validate", fifo.to_str().unwrap()],
        &tmp.path().join("data"),
    );
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("FIFO"), "{stderr}");
}

#[test]
fn a_config_file_that_is_dev_zero_or_a_fifo_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/repos/python-flask-pip");
    let fifo = tmp.path().join("pipewright.toml");
    mkfifo(&fifo);
    for config in ["/dev/zero", fifo.to_str().unwrap()] {
        let (code, stderr) = run(
            &[
                "generate",
                "--dry-run",
                "--config",
                config,
                repo.to_str().unwrap(),
            ],
            &tmp.path().join("data"),
        );
        assert_eq!(code, Some(2), "{config}: {stderr}");
        assert!(stderr.contains("not a regular file"), "{config}: {stderr}");
    }
}

#[test]
fn templates_import_refuses_a_fifo_and_a_link_to_dev_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = template_folder(tmp.path());
    mkfifo(&dir.join(".gitlab-ci.yml"));
    std::os::unix::fs::symlink("/dev/zero", dir.join("Dockerfile")).unwrap();
    let input = tmp.path().join("in");
    let (code, stderr) = run(
        &["templates", "import", input.to_str().unwrap()],
        &tmp.path().join("data"),
    );
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains(".gitlab-ci.yml: is a FIFO"), "{stderr}");
    assert!(
        stderr.contains("Dockerfile: is a link leading out"),
        "{stderr}"
    );
}

#[test]
fn templates_import_does_not_follow_a_link_out_of_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = template_folder(tmp.path());
    let outside = tmp.path().join("outside.yml");
    std::fs::write(&outside, "stages: [compile]\n").unwrap();
    std::os::unix::fs::symlink(&outside, dir.join(".gitlab-ci.yml")).unwrap();
    let input = tmp.path().join("in");
    let (code, stderr) = run(
        &["templates", "import", input.to_str().unwrap()],
        &tmp.path().join("data"),
    );
    assert_ne!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(".gitlab-ci.yml: is a link leading out"),
        "{stderr}"
    );
}
