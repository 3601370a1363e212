//! `pipewright serve` from the outside: the real binary on a free port, called over HTTP.
//! Health, the OpenAPI document and docs page, analyze / generate / validate / feedback /
//! templates with inline files, every error path, API tokens, request ids, and SIGTERM.

mod serve_support;

use serde_json::{json, Value};
use serve_support::{fixture_files, json, spawn, spawn_with, Options};
use std::time::Duration;

fn flask() -> Value {
    Value::Object(fixture_files("python-flask-pip"))
}

/// The error object of an error answer, checked for the common shape.
fn error_of(body: &Value) -> &Value {
    let error = &body["error"];
    assert!(error["code"].is_string(), "{body}");
    assert!(error["message"].is_string(), "{body}");
    assert!(error.get("field").is_some(), "{body}");
    assert!(error["request_id"].is_string(), "{body}");
    error
}

#[tokio::test]
async fn health_with_nothing_configured_is_200_and_names_each_dependency() {
    let server = spawn_with(Options {
        default_llm: true,
        ..Options::default()
    });
    let (status, body) = server.get_json("/health").await;
    assert_eq!(status, 200, "{body}");
    let deps = &body["dependencies"];
    assert_eq!(deps["store"]["state"], "ok", "{body}");
    assert!(deps["store"]["latency_ms"].is_u64());
    let llm = deps["llm"]["state"].as_str().unwrap_or_default();
    assert!(["unavailable", "not_configured"].contains(&llm), "{body}");
    assert!(deps["llm"]["reason"].is_string(), "{body}");
    assert_eq!(deps["gitlab"]["state"], "not_configured", "{body}");
    assert_eq!(deps["database"]["state"], "ok", "{body}");
    assert!(
        deps["database"]["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("SQLite, schema "),
        "{body}"
    );
    assert!(
        deps["gitlab"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("GITLAB_URL"),
        "{body}"
    );
    assert!(["ok", "degraded"].contains(&body["status"].as_str().unwrap_or_default()));
}

#[tokio::test]
async fn openapi_lists_every_route_and_docs_are_served() {
    let server = spawn();
    let (status, doc) = server.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"]
        .as_str()
        .unwrap_or_default()
        .starts_with("3."));
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/health", "get"),
        ("/api/v1/pipeline/analyze", "post"),
        ("/api/v1/pipeline/generate", "post"),
        ("/api/v1/pipeline/validate", "post"),
        ("/api/v1/pipeline/feedback", "post"),
        ("/api/v1/templates", "get"),
        ("/api/v1/templates", "post"),
        ("/api/v1/templates/stats", "get"),
        ("/api/v1/templates/{id}", "get"),
        ("/api/v1/templates/{id}", "delete"),
        ("/api/v1/pipeline/workflow", "post"),
        ("/api/v1/pipeline/runs", "get"),
        ("/api/v1/pipeline/runs/{id}", "get"),
        ("/api/v1/pipeline/runs/{id}/events", "get"),
        ("/api/v1/pipeline/learn", "post"),
        ("/api/v1/webhooks/gitlab", "post"),
        ("/api/v1/images/seed", "post"),
        ("/api/v1/chat", "post"),
        ("/api/v1/chat/stream", "post"),
        ("/", "get"),
        ("/assets/app.js", "get"),
        ("/assets/app.css", "get"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    assert_eq!(paths.len(), 20, "{:?}", paths.keys().collect::<Vec<_>>());
    assert!(doc["components"]["securitySchemes"]["api_token"].is_object());

    let docs = server.get("/api/docs").await;
    assert_eq!(docs.status().as_u16(), 200);
    let html = docs.text().await.expect("body");
    assert!(html.contains("swagger"), "{html}");
}

#[tokio::test]
async fn analyze_inline_files_returns_the_profile() {
    let server = spawn();
    let (status, body) = server
        .call("/api/v1/pipeline/analyze", &json!({ "files": flask() }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["primary_language"], "python", "{body}");
    assert_eq!(body["services"][0]["framework"], "flask", "{body}");
}

#[tokio::test]
async fn generate_inline_files_returns_a_valid_pipeline() {
    let server = spawn();
    let (status, body) = server
        .call(
            "/api/v1/pipeline/generate",
            &json!({ "files": flask(), "use_template_only": true }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["provenance"], "template");
    assert_eq!(body["commit_tag"], "[Template]");
    assert!(body["explanation"]
        .as_array()
        .is_some_and(|e| !e.is_empty()));
    assert!(body["path"].is_object());
    let ci = body["files"][".gitlab-ci.yml"].as_str().expect("pipeline");
    let dockerfile = body["files"]["Dockerfile"].as_str().expect("Dockerfile");
    let (status, checked) = server
        .call(
            "/api/v1/pipeline/validate",
            &json!({ "gitlab_ci": ci, "dockerfile": dockerfile, "settings": { "owned": true } }),
        )
        .await;
    assert_eq!(status, 200, "{checked}");
    assert_eq!(checked["valid"], true, "{checked}");
}

#[tokio::test]
async fn generate_takes_settings_overrides_and_names_a_bad_one() {
    let server = spawn();
    let (status, body) = server.call("/api/v1/pipeline/generate",
                &json!({ "files": flask(), "settings": { "skip_stages": ["sast"], "image_name": "shop" } })).await;
    assert_eq!(status, 200, "{body}");
    let ci = body["files"][".gitlab-ci.yml"].as_str().expect("pipeline");
    assert!(!ci.contains("- sast"), "{ci}");
    assert!(ci.contains("shop"), "{ci}");

    let (status, body) = server
        .call(
            "/api/v1/pipeline/generate",
            &json!({ "files": flask(), "settings": { "skip_stages": ["nope"] } }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["field"], "settings.skip_stages");
}

#[tokio::test]
async fn validate_reports_a_good_and_a_bad_pipeline() {
    let server = spawn();
    let good = "stages: [build]\nbuild:\n  stage: build\n  script:\n    - echo hi\n";
    let (status, body) = server
        .call("/api/v1/pipeline/validate", &json!({ "gitlab_ci": good }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["valid"], true, "{body}");

    let bad = "stages: [build]\nbuild:\n  stage: deploy\n  scrip: [echo]\n";
    let (status, body) = server
        .call(
            "/api/v1/pipeline/validate",
            &json!({ "gitlab_ci": bad, "dockerfile": "RUN x\n" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["valid"], false, "{body}");
    assert!(body["errors"].as_u64().unwrap_or(0) >= 1, "{body}");
    let files: Vec<&str> = body["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["file"].as_str())
        .collect();
    assert!(
        files.contains(&".gitlab-ci.yml") && files.contains(&"Dockerfile"),
        "{body}"
    );

    let (status, body) = server.call("/api/v1/pipeline/validate", &json!({})).await;
    assert_eq!(status, 422, "{body}");
}

/// Generates the flask fixture's files with the built-in generator.
async fn generated(server: &serve_support::Server) -> (String, String) {
    let (_, body) = server
        .call(
            "/api/v1/pipeline/generate",
            &json!({ "files": flask(), "use_template_only": true }),
        )
        .await;
    (
        body["files"][".gitlab-ci.yml"]
            .as_str()
            .expect("ci")
            .to_string(),
        body["files"]["Dockerfile"]
            .as_str()
            .expect("dockerfile")
            .to_string(),
    )
}

#[tokio::test]
async fn feedback_is_stored_when_valid_and_refused_with_findings_when_not() {
    let server = spawn();
    let (ci, dockerfile) = generated(&server).await;
    let correction = json!({
        "stack": { "language": "python", "framework": "flask", "build_tool": "pip" },
        "gitlab_ci": ci, "dockerfile": dockerfile, "comment": "pinned the test image",
    });
    let (status, body) = server.call("/api/v1/pipeline/feedback", &correction).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["collection"], "pipeline_feedback");
    assert_eq!(body["created"], true);
    let (_, again) = server.call("/api/v1/pipeline/feedback", &correction).await;
    assert_eq!(again["created"], false, "{again}");
    assert_eq!(again["success_count"], 2, "{again}");

    let (_, listed) = server
        .get_json("/api/v1/templates?collection=pipeline_feedback")
        .await;
    assert_eq!(listed["templates"][0]["id"], body["id"], "{listed}");

    let bad = json!({
        "stack": { "language": "python" }, "gitlab_ci": "stages: [x]\njob:\n  stage: y\n", "comment": "mine",
    });
    let (status, body) = server.call("/api/v1/pipeline/feedback", &bad).await;
    assert_eq!(status, 422, "{body}");
    let error = error_of(&body);
    assert_eq!(error["code"], "invalid_files");
    assert!(error["details"]["findings"]
        .as_array()
        .is_some_and(|f| !f.is_empty()));

    let (status, body) = server
        .call(
            "/api/v1/pipeline/feedback",
            &json!({ "stack": { "language": "cobol" }, "gitlab_ci": ci, "comment": "x" }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["field"], "stack.language");
}

#[tokio::test]
async fn templates_can_be_imported_listed_read_counted_and_deleted() {
    let server = spawn();
    let (ci, dockerfile) = generated(&server).await;
    let template = json!({
        "language": "python", "framework": "flask", "build_tool": "pip", "id": "house-flask",
        "description": "the house Flask pipeline", "gitlab_ci": ci, "dockerfile": dockerfile,
    });
    let (status, body) = server
        .call("/api/v1/templates", &json!({ "templates": [template] }))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["imported"][0]["id"], "house-flask");

    let (status, body) = server
        .get_json("/api/v1/templates?language=python&framework=flask")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["templates"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    let (_, none) = server.get_json("/api/v1/templates?language=go").await;
    assert_eq!(none["templates"], json!([]));
    let (status, body) = server.get_json("/api/v1/templates?language=klingon").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["field"], "language");
    let (status, body) = server.get_json("/api/v1/templates?limit=many").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["field"], "limit");

    let (status, record) = server.get_json("/api/v1/templates/house-flask").await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["gitlab_ci"], ci.as_str());
    let (status, stats) = server.get_json("/api/v1/templates/stats").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["collections"][0]["records"], 1, "{stats}");

    // One bad template refuses the whole batch.
    let bad = json!({ "language": "python", "id": "broken", "gitlab_ci": "stages: [x]\njob:\n  stage: y\n" });
    let good = json!({ "language": "python", "id": "fine", "gitlab_ci": ci });
    let (status, body) = server
        .call("/api/v1/templates", &json!({ "templates": [good, bad] }))
        .await;
    assert_eq!(status, 422, "{body}");
    let refused = &error_of(&body)["details"]["refused"];
    assert_eq!(refused[0]["folder"], "templates[1]", "{body}");
    let (status, _) = server.get_json("/api/v1/templates/fine").await;
    assert_eq!(status, 404);

    let deleted = server
        .client
        .delete(server.url("/api/v1/templates/house-flask"))
        .send()
        .await
        .expect("DELETE");
    let (status, body) = json(deleted).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["collection"], "pipeline_templates");
    let (status, body) = server.get_json("/api/v1/templates/house-flask").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_of(&body)["code"], "not_found");
}

#[tokio::test]
async fn malformed_and_mistyped_requests_are_json_errors_naming_the_field() {
    let server = spawn();
    let raw = |body: &'static str| {
        server
            .client
            .post(server.url("/api/v1/pipeline/analyze"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let (status, body) = json(raw("{\"files\": ").await.expect("send")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_of(&body)["code"], "invalid_json");

    let (status, body) = json(raw("{\"files\": [\"app.py\"]}").await.expect("send")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["field"], "files");

    let (status, body) = json(raw("{\"file\": {}}").await.expect("send")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["field"], "file");

    let no_type = server
        .client
        .post(server.url("/api/v1/pipeline/analyze"))
        .body("{}")
        .send()
        .await
        .expect("send");
    let (status, body) = json(no_type).await;
    assert_eq!(status, 415, "{body}");

    let (status, body) = server
        .call(
            "/api/v1/pipeline/generate",
            &json!({ "files": flask(), "path": "/tmp", "use_template_only": "yes" }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["field"], "use_template_only");
}

#[tokio::test]
async fn the_repository_must_be_named_exactly_once_and_sanely() {
    let server = spawn();
    let (status, body) = server
        .call(
            "/api/v1/pipeline/analyze",
            &json!({ "files": flask(), "path": "/tmp" }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let error = error_of(&body);
    assert_eq!(error["code"], "invalid_request");
    assert!(error["message"]
        .as_str()
        .unwrap_or_default()
        .contains("exactly one"));

    let (status, body) = server.call("/api/v1/pipeline/analyze", &json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["code"], "invalid_request");

    let (status, body) = server
        .call(
            "/api/v1/pipeline/analyze",
            &json!({ "files": { "../etc/passwd": "x" } }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["field"], "files");

    let (status, body) = server
        .call(
            "/api/v1/pipeline/analyze",
            &json!({ "files": { "notes.txt": "hello" } }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["code"], "nothing_recognised");
    assert!(error_of(&body)["details"]["profile"].is_object());

    let (status, body) = server
        .call("/api/v1/pipeline/analyze", &json!({ "path": "/tmp" }))
        .await;
    assert_eq!(status, 403, "{body}");
    let error = error_of(&body);
    assert_eq!(error["field"], "path");
    assert!(error["message"]
        .as_str()
        .unwrap_or_default()
        .contains("--allow-local-paths"));

    let (status, body) = server
        .call(
            "/api/v1/pipeline/analyze",
            &json!({ "repository_url": "https://gitlab.example.com/team/app" }),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    let error = error_of(&body);
    assert_eq!(error["code"], "gitlab_not_configured");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("GITLAB_URL"),
        "{body}"
    );
}

#[tokio::test]
async fn local_paths_are_read_with_the_flag() {
    let repos = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/repos"))
        .expect("fixtures");
    let server = spawn_with(
        Options::default()
            .arg("--allow-local-paths")
            .arg(repos.to_str().expect("UTF-8 path")),
    );
    let path = repos.join("python-flask-pip");
    let path = path.to_str().expect("UTF-8 path");
    let (status, body) = server
        .call("/api/v1/pipeline/analyze", &json!({ "path": path }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["primary_language"], "python");
    let (status, body) = server
        .call(
            "/api/v1/pipeline/analyze",
            &json!({ "path": repos.join("no-such-folder") }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["field"], "path");
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_unknown_routes_404_json() {
    let server = spawn_with(Options::default().arg("--max-body-bytes").arg("2000"));
    let big = json!({ "files": { "app.py": "x".repeat(5000) } });
    let (status, body) = server.call("/api/v1/pipeline/analyze", &big).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(error_of(&body)["code"], "payload_too_large");

    let (status, body) = server.get_json("/api/v1/nothing-here").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_of(&body)["code"], "not_found");

    let (status, body) = server.get_json("/api/v1/pipeline/generate").await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(error_of(&body)["code"], "method_not_allowed");
}

#[tokio::test]
async fn api_tokens_guard_the_api_but_not_health_or_docs() {
    let token = "pw-test-token-9f8e7d";
    let server = spawn_with(
        Options::default()
            .env("PIPEWRIGHT_API_TOKENS", &format!("other-token, {token}"))
            .arg("--log-format")
            .arg("json"),
    );
    let validate = |auth: Option<&str>| {
        let mut request = server
            .client
            .post(server.url("/api/v1/pipeline/validate"))
            .json(&json!({ "gitlab_ci": "stages: [a]\na:\n  stage: a\n  script: [x]\n" }));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    let missing = validate(None).await.expect("send");
    assert_eq!(
        missing
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    let (status, body) = json(missing).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(error_of(&body)["code"], "unauthorized");

    let (status, _) = json(validate(Some("Bearer wrong-token")).await.expect("send")).await;
    assert_eq!(status, 401);
    let (status, body) = json(
        validate(Some(&format!("Bearer {token}")))
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    assert_eq!(server.get("/health").await.status().as_u16(), 200);
    assert_eq!(server.get("/api/openapi.json").await.status().as_u16(), 200);
    assert_eq!(server.get("/api/docs").await.status().as_u16(), 200);
    let (status, _) = server.get_json("/api/v1/templates").await;
    assert_eq!(status, 401);

    let log = server.log();
    assert!(!log.is_empty());
    assert!(!log.contains(token), "a token was logged:\n{log}");
    assert!(!log.contains("wrong-token"), "a token was logged:\n{log}");
}

#[tokio::test]
async fn request_ids_are_echoed_or_made_and_in_every_log_line() {
    let server = spawn_with(Options::default().arg("--log-format").arg("json"));
    let sent = server
        .client
        .post(server.url("/api/v1/pipeline/analyze"))
        .header("x-request-id", "client-id-42")
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        sent.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("client-id-42")
    );
    let (_, body) = json(sent).await;
    assert_eq!(body["error"]["request_id"], "client-id-42");

    let forged = server
        .client
        .get(server.url("/health"))
        .header("x-request-id", "bad id\" injected")
        .send()
        .await
        .expect("send");
    let made = forged
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(made.len(), 32, "{made}");
    let plain = server.get("/health").await;
    assert!(plain.headers().get("x-request-id").is_some());

    let lines: Vec<Value> = server
        .log()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &Value| l["span"]["request_id"] == "client-id-42")
        .collect();
    assert!(lines.len() >= 2, "{}", server.log());
    assert!(lines
        .iter()
        .any(|l| l["fields"]["message"] == "request finished" && l["fields"]["status"] == 422));
}

#[tokio::test]
async fn sigterm_stops_the_server_with_exit_code_0() {
    let mut server = spawn();
    assert_eq!(server.get("/health").await.status().as_u16(), 200);
    server.terminate();
    let status = server.wait_exit(Duration::from_secs(10)).expect("exited");
    assert_eq!(status.code(), Some(0), "{}", server.log());
    assert!(server.log().contains("SIGTERM"), "{}", server.log());
}
