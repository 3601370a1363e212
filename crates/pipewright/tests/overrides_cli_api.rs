//! `pipewright.toml` overrides from outside (issue 14): the repository's own file, `--config`,
//! the user's config folder, `pipewright init`, and the API's `overrides` field, with a wrong
//! value refused and the valid names listed.

mod serve_support;

use serde_json::json;
use serve_support::{fixture_files, spawn};
use std::path::Path;
use std::process::{Command, Output};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/repos")
        .join(name)
        .display()
        .to_string()
}

fn pipewright(args: &[&str], config_home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(args)
        .env("XDG_CONFIG_HOME", config_home)
        .env_remove("NEXUS_PULL_REGISTRY")
        .env_remove("NEXUS_INTERNAL_REGISTRY")
        .output()
        .expect("run pipewright")
}

fn profile(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
fn analyze_applies_the_repository_file_the_user_file_and_config_in_that_order() {
    let home = tempfile::tempdir().unwrap();
    // The repository's own file sets every field (see the fixture).
    let out = pipewright(
        &["analyze", "--json", &fixture("python-flask-overrides")],
        home.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = profile(&out);
    assert_eq!(p["schema_version"], 1);
    // `ignore = ["tools/*"]`: the express app in tools/codegen is no service.
    assert_eq!(p["services"].as_array().map(Vec::len), Some(1), "{p}");
    let s = &p["services"][0];
    assert_eq!(s["path"], ".");
    assert_eq!(s["language"], "python");
    assert_eq!(s["framework"], "flask");
    assert_eq!(s["build_tool"], "pip");
    assert_eq!(s["test_framework"], "pytest");
    assert_eq!(s["runtime_version"]["value"], "3.12");
    assert_eq!(s["port"], 8080);
    assert_eq!(s["port_source"], "pipewright.toml");
    assert_eq!(s["databases"], json!(["postgresql", "redis"]));
    assert_eq!(
        s["commands"],
        json!({
            "install": "pip install -r requirements.txt",
            "build": "python -m compileall -q src",
            "test": "PYTHONPATH=src pytest -q",
            "lint": "ruff check src tests",
            "start": "gunicorn --chdir src 'web.factory:build()' --bind 0.0.0.0:8080"
        })
    );
    for field in [
        "language",
        "framework",
        "build_tool",
        "test_framework",
        "runtime_version",
        "port",
        "database",
        "command",
    ] {
        assert!(
            s["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["conclusion"] == field
                    && e["file"] == "pipewright.toml"
                    && e["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains("set in pipewright.toml"))),
            "{field}: {}",
            s["evidence"]
        );
    }
    assert!(s["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["conclusion"] == "port" && e["detail"] == "8080: set in pipewright.toml"));

    // The user's config folder sits below the repository's file: its port loses, its
    // framework for a field the repository leaves alone... the repository sets them all, so
    // the user layer changes nothing here; --config wins over both.
    std::fs::create_dir_all(home.path().join("pipewright")).unwrap();
    std::fs::write(
        home.path().join("pipewright/pipewright.toml"),
        "[services.\".\"]\nport = 1111\n",
    )
    .unwrap();
    let out = pipewright(
        &["analyze", "--json", &fixture("python-flask-overrides")],
        home.path(),
    );
    assert_eq!(profile(&out)["services"][0]["port"], 8080);
    let cfg = home.path().join("ci.toml");
    std::fs::write(
        &cfg,
        "[services.\".\"]\nport = 7000\nframework = \"fastapi\"\n",
    )
    .unwrap();
    let out = pipewright(
        &[
            "analyze",
            "--json",
            "--config",
            cfg.to_str().unwrap(),
            &fixture("python-flask-overrides"),
        ],
        home.path(),
    );
    let p = profile(&out);
    assert_eq!(p["services"][0]["port"], 7000);
    assert_eq!(p["services"][0]["framework"], "fastapi");
    assert_eq!(p["services"][0]["port_source"], cfg.display().to_string());

    // The user's file alone applies where nothing above it speaks.
    let out = pipewright(
        &["analyze", "--json", &fixture("python-flask-pip")],
        home.path(),
    );
    assert_eq!(profile(&out)["services"][0]["port"], 1111);
}

#[test]
fn generate_json_carries_the_schema_version_and_a_structured_explanation() {
    let home = tempfile::tempdir().unwrap();
    let out = pipewright(
        &[
            "generate",
            "--json",
            "--dry-run",
            "--template-only",
            &fixture("monorepo-compose-dockerfile-only"),
        ],
        home.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = profile(&out);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["profile"]["schema_version"], 1);
    let explanation = v["explanation"].as_array().expect("explanation");
    for e in explanation {
        let mut keys: Vec<&str> = e
            .as_object()
            .expect("an object")
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, vec!["service", "text", "topic"], "{e}");
    }
    for service in ["api", "pdf-renderer"] {
        assert!(
            explanation
                .iter()
                .any(|e| e["service"] == service && e["topic"] == "runtime"),
            "{service}: {explanation:?}"
        );
    }
    // The terminal keeps the label form.
    let out = pipewright(
        &[
            "generate",
            "--dry-run",
            "--template-only",
            &fixture("monorepo-compose-dockerfile-only"),
        ],
        home.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  - [pdf-renderer] "), "{text}");
}

#[test]
fn the_repository_files_tools_and_mirrors_apply_from_anywhere_and_config_wins() {
    let home = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    for (path, text) in [
        ("requirements.txt", "flask==3.0.3\n"),
        ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
        (
            "pipewright.toml",
            "[tools]\ntrivy = \"0.55.1\"\n[mirrors]\npypi = \"https://nexus.example.com/repository/pypi/simple\"\n",
        ),
    ] {
        std::fs::write(repo.path().join(path), text).unwrap();
    }
    let dir = repo.path().to_str().unwrap();
    // Run from elsewhere (the test's own folder), not from inside the repository.
    let out = pipewright(
        &["generate", "--json", "--dry-run", "--template-only", dir],
        home.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = profile(&out);
    let ci = v["files"][".gitlab-ci.yml"].as_str().expect("pipeline");
    assert!(ci.contains("trivy:0.55.1"), "{ci}");
    assert!(
        ci.contains("https://nexus.example.com/repository/pypi/simple"),
        "{ci}"
    );
    assert!(v["explanation"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["topic"] == "settings" && e["service"].is_null()));

    // The operator's --config wins over the repository's file.
    let cfg = home.path().join("ops.toml");
    std::fs::write(&cfg, "[tools]\ntrivy = \"0.60.0\"\n").unwrap();
    let out = pipewright(
        &[
            "generate",
            "--json",
            "--dry-run",
            "--template-only",
            "--config",
            cfg.to_str().unwrap(),
            dir,
        ],
        home.path(),
    );
    let v = profile(&out);
    let ci = v["files"][".gitlab-ci.yml"].as_str().expect("pipeline");
    assert!(
        ci.contains("trivy:0.60.0") && !ci.contains("0.55.1"),
        "{ci}"
    );

    // A wrong entry in the repository's file stops the command, naming it.
    std::fs::write(
        repo.path().join("pipewright.toml"),
        "[tools]\ntrivvy = \"1\"\n",
    )
    .unwrap();
    let out = pipewright(
        &["generate", "--dry-run", "--template-only", dir],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tools.trivvy: unknown tool `trivvy`"), "{err}");
}

#[test]
fn a_wrong_value_in_config_is_refused_with_the_valid_names() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("bad.toml");
    std::fs::write(&cfg, "[services.\".\"]\nframework = \"expres\"\n").unwrap();
    let out = pipewright(
        &[
            "analyze",
            "--config",
            cfg.to_str().unwrap(),
            &fixture("js-express-npm"),
        ],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("services.\".\".framework: unknown framework `expres`"),
        "{err}"
    );
    assert!(err.contains("express, nextjs"), "{err}");

    let out = pipewright(
        &[
            "generate",
            "--dry-run",
            "--template-only",
            "--config",
            cfg.to_str().unwrap(),
            &fixture("js-express-npm"),
        ],
        home.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn init_writes_a_commented_starter_file_that_changes_nothing_until_edited() {
    let home = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    for (path, text) in [
        ("requirements.txt", "flask==3.0.3\n"),
        ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
    ] {
        std::fs::write(repo.path().join(path), text).unwrap();
    }
    let dir = repo.path().to_str().unwrap();
    let before = profile(&pipewright(&["analyze", "--json", dir], home.path()));
    let out = pipewright(&["init", dir], home.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(repo.path().join("pipewright.toml")).unwrap();
    assert!(text.contains("[services.\".\"]"), "{text}");
    assert!(text.contains("# framework = \"flask\""), "{text}");
    let after = profile(&pipewright(&["analyze", "--json", dir], home.path()));
    assert_eq!(
        before["services"][0]["framework"],
        after["services"][0]["framework"]
    );
    assert_eq!(before["services"][0]["port"], after["services"][0]["port"]);
    // Never over an existing file without --force.
    assert_eq!(
        pipewright(&["init", dir], home.path()).status.code(),
        Some(2)
    );

    // Uncommenting a line corrects the detection.
    std::fs::write(
        repo.path().join("pipewright.toml"),
        text.replace("# port = 5000", "port = 8081"),
    )
    .unwrap();
    let edited = profile(&pipewright(&["analyze", "--json", dir], home.path()));
    assert_eq!(edited["services"][0]["port"], 8081);
}

#[tokio::test]
async fn the_api_accepts_the_same_overrides_and_refuses_wrong_ones() {
    let server = spawn();
    let files = fixture_files("python-flask-pip");
    let (status, body) = server
        .call(
            "/api/v1/pipeline/analyze",
            &json!({
                "files": files,
                "overrides": {
                    "services": { ".": {
                        "language": "python", "framework": "fastapi", "build_tool": "uv", "test_framework": "unittest",
                        "runtime_version": "3.13", "port": 9000, "databases": ["mysql"],
                        "commands": { "install": "uv sync", "build": "true", "test": "uv run pytest",
                                      "lint": "uv run ruff check", "start": "uv run app.py" }
                    } }
                }
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["schema_version"], 1);
    let s = &body["services"][0];
    assert_eq!(s["language"], "python");
    assert_eq!(s["framework"], "fastapi");
    assert_eq!(s["build_tool"], "uv");
    assert_eq!(s["test_framework"], "unittest");
    assert_eq!(s["runtime_version"]["value"], "3.13");
    assert_eq!(s["port"], 9000);
    assert_eq!(s["databases"], json!(["mysql"]));
    assert_eq!(
        s["commands"],
        json!({ "install": "uv sync", "build": "true", "test": "uv run pytest",
                "lint": "uv run ruff check", "start": "uv run app.py" })
    );
    assert_eq!(s["port_source"], "request overrides");

    let (status, body) = server
        .call(
            "/api/v1/pipeline/analyze",
            &json!({ "files": files, "overrides": { "services": { ".": { "framework": "flaskk" } } } }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_field", "{body}");
    assert_eq!(body["error"]["field"], "overrides", "{body}");
    let msg = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("unknown framework `flaskk`; valid: sinatra"),
        "{msg}"
    );

    // `ignore` through the API: the renderer folder is no service.
    let (status, body) = server
        .call(
            "/api/v1/pipeline/analyze",
            &json!({ "files": fixture_files("monorepo-compose-dockerfile-only"),
                     "overrides": { "ignore": ["pdf-renderer"] } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let paths: Vec<&str> = body["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["path"].as_str())
        .collect();
    assert_eq!(paths, vec!["api"], "{body}");

    let (status, body) = server
        .call(
            "/api/v1/pipeline/generate",
            &json!({ "files": fixture_files("python-flask-pip"), "use_template_only": true,
                     "overrides": { "services": { ".": { "port": 9100 } } } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("9100"), "{body}");
    // The versioned contract: schema_version, and the explanation as {service, topic, text}.
    assert_eq!(body["schema_version"], 1);
    assert_eq!(body["profile"]["schema_version"], 1);
    let explanation = body["explanation"].as_array().expect("explanation");
    assert!(explanation
        .iter()
        .any(|e| e["service"] == "." && e["topic"] == "runtime" && e["text"].is_string()));
    assert!(explanation
        .iter()
        .any(|e| e["service"].is_null() && e["topic"] == "path"));
}
