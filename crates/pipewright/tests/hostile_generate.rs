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
    "svc/my api",
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
