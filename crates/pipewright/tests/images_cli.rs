//! `pipewright images` and `POST /api/v1/images/seed` from outside, against two real
//! registries: the binary configured only through the seed's environment names lists,
//! seeds, exits 1 naming the image it could not copy, 0 once everything is present, and never
//! prints the registry password.

mod serve_support;

use pipewright_adapters::test_registry::{RegistryServer, TestBlob, TestImage, TestPlatform};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

const USER: &str = "seeder";
const PASS: &str = "Cli-S3cret-pw";

const CI: &str = "stages: [build, test]\n\
build:\n  stage: build\n  image:\n    name: $NEXUS_PULL_REGISTRY/apm-repo/demo/kaniko:v1.27.6-debug\n    entrypoint: ['']\n  script:\n    - /kaniko/executor --destination \"$NEXUS_INTERNAL_REGISTRY/apm-repo/demo/shop:$CI_COMMIT_SHORT_SHA\"\n\
test:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/shop:$CI_COMMIT_SHORT_SHA\n  services:\n    - name: $NEXUS_PULL_REGISTRY/apm-repo/demo/postgres:16-alpine\n  script: [pytest]\n";
const DOCKERFILE: &str = "ARG BASE_REGISTRY=ai-nexus:5001\nFROM ${BASE_REGISTRY}/apm-repo/demo/python:3.12-slim\nCMD [\"python\"]\n";

struct Setup {
    upstream: RegistryServer,
    nexus: RegistryServer,
    python_digest: String,
}

async fn setup() -> Option<Setup> {
    let upstream = RegistryServer::start(None)?;
    let nexus = RegistryServer::start(Some((USER, PASS)))?;
    let b = |seed, size| TestBlob { seed, size };
    let python = TestImage {
        repository: "library/python".into(),
        tag: "3.12-slim".into(),
        platforms: vec![
            TestPlatform::new("linux", "amd64", vec![b(11, 60_000)]),
            TestPlatform::new("linux", "arm64", vec![b(12, 60_000)]),
        ],
        index: true,
    }
    .push(&upstream.url(), None)
    .await;
    TestImage {
        repository: "osscontainertools/kaniko".into(),
        tag: "v1.27.6-debug".into(),
        platforms: vec![TestPlatform::new("linux", "amd64", vec![b(13, 30_000)])],
        index: false,
    }
    .push(&upstream.url(), None)
    .await;
    Some(Setup {
        upstream,
        nexus,
        python_digest: python.digest,
    })
}

fn env(s: &Setup, password: &str) -> Vec<(String, String)> {
    [
        ("NEXUS_REGISTRY", s.nexus.host.clone()),
        ("NEXUS_USERNAME", USER.to_string()),
        ("NEXUS_PASSWORD", password.to_string()),
        ("PIPEWRIGHT_REGISTRY_INSECURE", "1".to_string()),
        (
            "PIPEWRIGHT_REGISTRY_MIRRORS",
            format!("docker.io={0},ghcr.io={0}", s.upstream.host),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn images(dir: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pipewright"));
    let cwd = if dir.is_dir() {
        dir
    } else {
        dir.parent().unwrap()
    };
    cmd.arg("images").arg(dir).args(args).current_dir(cwd);
    for k in [
        "NEXUS_REGISTRY",
        "NEXUS_PULL_REGISTRY",
        "NEXUS_INTERNAL_REGISTRY",
        "NEXUS_USERNAME",
        "NEXUS_PASSWORD",
        "PIPEWRIGHT_REGISTRY_MIRRORS",
        "PIPEWRIGHT_REGISTRY_INSECURE",
        "PIPEWRIGHT_REGISTRY_CA_FILE",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn write_files(dir: &Path) {
    std::fs::write(dir.join(".gitlab-ci.yml"), CI).unwrap();
    std::fs::write(dir.join("Dockerfile"), DOCKERFILE).unwrap();
}

#[tokio::test]
async fn seed_copies_what_is_missing_and_names_what_cannot_be_copied() {
    let Some(s) = setup().await else { return };
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path());
    let env = env(&s, PASS);

    // Listing only: all three missing, exit 1.
    let out = images(dir.path(), &env, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["images"].as_array().unwrap().len(), 3);
    assert!(v["images"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["present"] == false));

    let out = images(dir.path(), &env, &["--seed", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let find = |name: &str| {
        v["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["target"].as_str().unwrap().contains(name))
            .unwrap()
            .clone()
    };
    let py = find("/python:");
    assert_eq!(py["source"], "docker.io/library/python:3.12-slim");
    assert_eq!(
        py["target"],
        format!("{}/apm-repo/demo/python:3.12-slim", s.nexus.host)
    );
    assert_eq!(
        (py["present"].as_bool(), py["copied"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(py["digest"], s.python_digest.as_str());
    assert_eq!(py["error"], Value::Null);
    assert_eq!(find("/kaniko:")["copied"], true);
    let pg = find("postgres");
    assert_eq!(pg["present"], false);
    assert!(
        pg["error"]
            .as_str()
            .unwrap()
            .contains("library/postgres:16-alpine"),
        "{pg}"
    );
    assert!(!stdout.contains(PASS) && !stderr.contains(PASS));

    // People's output names the missing image too.
    let out = images(dir.path(), &env, &["--seed"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.contains("MISSING") && text.contains("apm-repo/demo/postgres:16-alpine"),
        "{text}"
    );
    assert!(
        text.contains("present")
            && text.contains("built    $NEXUS_PULL_REGISTRY/apm-repo/demo/shop"),
        "{text}"
    );

    // Without the image nobody can copy, every image is present: exit 0.
    std::fs::write(
        dir.path().join(".gitlab-ci.yml"),
        CI.replace("postgres:16-alpine", "python:3.12-slim"),
    )
    .unwrap();
    let out = images(dir.path(), &env, &["--seed", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["images"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["present"] == true && i["copied"] == false));
}

#[tokio::test]
async fn a_wrong_password_is_an_authentication_error_that_never_shows_it() {
    let Some(s) = setup().await else { return };
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path());
    let wrong = "Wr0ng-Secret-Value";
    let out = images(dir.path(), &env(&s, wrong), &["--seed"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        all.contains("refused the credentials for user seeder"),
        "{all}"
    );
    assert!(!all.contains(wrong), "{all}");
}

#[tokio::test]
async fn no_registry_configured_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path());
    let out = images(dir.path(), &[], &["--seed"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("set NEXUS_REGISTRY"));
    let out = images(&dir.path().join("nope"), &[], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn the_service_seeds_posted_files() {
    let Some(s) = setup().await else { return };
    let mut options = serve_support::Options::default();
    for (k, v) in env(&s, PASS) {
        options = options.env(&k, &v);
    }
    let server = serve_support::spawn_with(options);
    let body = json!({"files": {".gitlab-ci.yml": CI, "Dockerfile": DOCKERFILE}});
    let (status, v) = server.call("/api/v1/images/seed", &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["all_present"], false);
    let py = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["target"].as_str().unwrap().contains("/python:"))
        .unwrap();
    assert_eq!(py["digest"], s.python_digest.as_str());
    assert_eq!(py["copied"], true);
    let (status, v) = server
        .call(
            "/api/v1/images/seed",
            &json!({"files": {"Dockerfile": DOCKERFILE}, "platforms": ["linux"]}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (422, Some("platforms[0]")),
        "{v}"
    );
    assert!(!server.log().contains(PASS));
    let (_, doc) = server.get_json("/api/openapi.json").await;
    assert!(doc["paths"]["/api/v1/images/seed"]["post"].is_object());

    let bare = serve_support::spawn();
    let (status, v) = bare
        .call(
            "/api/v1/images/seed",
            &json!({"files": {"Dockerfile": DOCKERFILE}}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (503, Some("registry_not_configured")),
        "{v}"
    );
}

#[tokio::test]
async fn pipewright_toml_configures_the_registry_mirrors_and_upstream_entries() {
    let Some(s) = setup().await else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "ARG BASE_REGISTRY=ai-nexus:5001\nFROM ${BASE_REGISTRY}/team/py:3.12-slim\nFROM ${BASE_REGISTRY}/apm-repo/demo/${TOOL}:1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pipewright.toml"),
        format!(
            "[images]\nregistry = \"{}\"\nusername = \"{USER}\"\ninsecure = true\nmirrors = \"docker.io={}\"\n[images.upstream]\n\"team/py\" = \"docker.io/library/python\"\n",
            s.nexus.host, s.upstream.host
        ),
    )
    .unwrap();
    // Only the password comes from the environment.
    let env = vec![("NEXUS_PASSWORD".to_string(), PASS.to_string())];
    let out = images(dir.path(), &env, &["--seed", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = v["images"].as_array().unwrap();
    assert_eq!(
        list[0]["target"],
        format!("{}/team/py:3.12-slim", s.nexus.host)
    );
    assert_eq!(list[0]["source"], "docker.io/library/python:3.12-slim");
    assert_eq!(list[0]["digest"], s.python_digest.as_str(), "{v}");
    // A variable nobody defines is reported, not guessed: exit 1.
    assert_eq!(
        list[1]["target"],
        "${BASE_REGISTRY}/apm-repo/demo/${TOOL}:1"
    );
    assert!(
        list[1]["error"]
            .as_str()
            .unwrap()
            .contains("$TOOL is not set"),
        "{v}"
    );
    assert_eq!(out.status.code(), Some(1));
}
