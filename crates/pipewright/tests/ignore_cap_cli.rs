//! A `.gitignore` with 200,000 patterns (issue 16, class 15): `analyze` took 15 s compiling
//! them. Now the patterns read per file are capped, the rest dropped with a warning the user
//! sees, and the analysis is quick.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_gitignore_of_200k_patterns_is_capped_with_a_warning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).expect("repo");
    std::fs::write(repo.join("requirements.txt"), "flask==3.0.3\n").expect("write");
    std::fs::write(
        repo.join("app.py"),
        "from flask import Flask\napp = Flask(__name__)\n",
    )
    .expect("write");
    let patterns: String = (0..200_000).map(|i| format!("n{i}/\n")).collect();
    std::fs::write(repo.join(".gitignore"), patterns).expect("write");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .arg("analyze")
        .arg(&repo)
        .env("PIPEWRIGHT_DATA_DIR", dir.path().join("data"))
        .env("LLM_PROVIDER", "none")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pipewright");
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("analyze was still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = started.elapsed();
    let output = child.wait_with_output().expect("output");
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains(".gitignore: more than 10000 patterns"),
        "{shown}"
    );
    assert!(shown.contains("python / flask"), "{shown}");
    // 15 s before; a debug build on a loaded machine needs well under a second now.
    assert!(took < Duration::from_secs(5), "analyze took {took:?}");
}
