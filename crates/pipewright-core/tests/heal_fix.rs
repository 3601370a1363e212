//! Fix strategies on files pipewright really generates (the generator's snapshots), driven by
//! classified fixture logs or one-line evidence: each patch changes what it should, passes
//! the validator, and never weakens the pipeline.

use pipewright_core::heal::{
    classify, decide, Classification, FailureClass, FixContext, GeneratedFile, HealDecision,
    Strategy, RETRY_BUDGET,
};
use pipewright_core::validate::{
    has_errors, validate_dockerfile, validate_pipeline, ValidatorSettings,
};
use std::path::Path;

/// A generated file from the workflow crate's `insta` snapshots, header removed.
fn snapshot(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipewright-workflow/tests/snapshots")
        .join(format!("generate_snapshots__{name}.snap"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let body = text.splitn(3, "---\n").nth(2).expect("an insta header");
    body.to_string()
}

fn files(stack: &str) -> Vec<GeneratedFile> {
    vec![
        GeneratedFile::new(
            ".gitlab-ci.yml",
            snapshot(&format!("{stack}__.gitlab-ci.yml")),
        ),
        GeneratedFile::new("Dockerfile", snapshot(&format!("{stack}__Dockerfile"))),
    ]
}

fn settings() -> ValidatorSettings {
    ValidatorSettings {
        owned: true,
        ..ValidatorSettings::default()
    }
}

fn from_log(log: &str) -> Classification {
    classify(log.as_bytes(), Some("script_failure"), None)
}

fn fixture(rel: &str) -> Classification {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/logs")
        .join(rel);
    classify(&std::fs::read(path).unwrap(), Some("script_failure"), None)
}

fn run(c: &Classification, job: &str, files: &[GeneratedFile]) -> HealDecision {
    run_with(c, job, files, None, 0)
}

fn run_with(
    c: &Classification,
    job: &str,
    files: &[GeneratedFile],
    tags: Option<&[String]>,
    retries: u32,
) -> HealDecision {
    let s = settings();
    let decision = decide(&FixContext {
        classification: c,
        job,
        stage: "test",
        files,
        settings: &s,
        registry_tags: tags,
        retries_used: retries,
    });
    if let HealDecision::Patch(p) = &decision {
        for f in &p.files {
            let findings = if f.path.ends_with(".gitlab-ci.yml") {
                validate_pipeline(&f.text, &s)
            } else {
                validate_dockerfile(&f.text, &s)
            };
            assert!(!has_errors(&findings), "{}: {findings:?}", f.path);
            let before = files.iter().find(|o| o.path == f.path).unwrap();
            for weakening in ["allow_failure", "|| true", "exit 0"] {
                assert_eq!(
                    f.text.matches(weakening).count(),
                    before.text.matches(weakening).count(),
                    "a patch added `{weakening}`"
                );
            }
            assert!(
                f.text.matches("\n  stage:").count() >= before.text.matches("\n  stage:").count()
            );
        }
    }
    decision
}

fn patch(d: HealDecision) -> (Strategy, String, Vec<GeneratedFile>) {
    match d {
        HealDecision::Patch(p) => (p.strategy, p.summary, p.files),
        other => panic!("expected a patch, got {other:?}"),
    }
}

#[test]
fn a_missing_command_in_the_test_image_is_installed_in_the_dockerfile_test_stage() {
    let files = files("js-express-npm");
    let c = from_log(
        "$ cd \"$APP_DIR\"\n/bin/sh: 1: jq: not found\nERROR: Job failed: exit code 127\n",
    );
    let (strategy, summary, changed) = patch(run(&c, "test", &files));
    assert_eq!(strategy, Strategy::InstallCommand);
    assert!(summary.contains("jq"), "{summary}");
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].path, "Dockerfile");
    assert!(changed[0].text.contains(
        "FROM build AS test\nRUN apt-get update && apt-get install -y --no-install-recommends jq && rm -rf /var/lib/apt/lists/*\n"
    ));
}

#[test]
fn a_missing_command_in_a_tool_image_is_installed_before_the_script() {
    let files = files("js-express-npm");
    let c = from_log(
        "$ curl ...\nbash: line 3: jq: command not found\nERROR: Job failed: exit code 127\n",
    );
    let (_, _, changed) = patch(run(&c, "learn", &files));
    assert!(changed[0]
        .text
        .contains("  before_script:\n    - apk add --no-cache jq\n"));
    // A tool no package provides goes to the model.
    let c = fixture("missing_command/sh-golangci-lint-not-found.log");
    assert!(matches!(
        run(&c, "test", &files),
        HealDecision::AskLlm { .. }
    ));
}

#[test]
fn a_refused_service_gets_a_readiness_check_or_is_added() {
    let files = files("js-express-npm");
    let c = fixture("service_connection/jest-econnrefused-postgres.log");
    let (strategy, _, changed) = patch(run(&c, "test", &files));
    assert_eq!(strategy, Strategy::ServiceReadiness);
    assert!(changed[0].text.contains(
        "      alias: postgres\n      variables:\n        HEALTHCHECK_TCP_PORT: \"5432\"\n        POSTGRES_HOST_AUTH_METHOD: trust\n"
    ));
    // Asked again on the patched file: the check is there, so the model is asked.
    let again = files_with(&files, &changed);
    assert!(matches!(
        run(&c, "test", &again),
        HealDecision::AskLlm { .. }
    ));
    // redis has no variables block yet.
    let c = from_log("Redis::CannotConnectError: Error connecting to Redis on redis:6379 (Errno::ECONNREFUSED)\n");
    let (_, _, changed) = patch(run(&c, "test", &files));
    assert!(changed[0].text.contains(
        "      alias: redis\n      variables:\n        HEALTHCHECK_TCP_PORT: \"6379\"\n    - name:"
    ));
    // A job without services gets the service, its alias and the URL variable.
    let (strategy, _, changed) = patch(run(&c, "compile", &files));
    assert_eq!(strategy, Strategy::AddService);
    assert!(changed[0].text.contains(
        "    - name: $NEXUS_PULL_REGISTRY/apm-repo/demo/redis:7-alpine\n      alias: redis\n"
    ));
    assert!(changed[0]
        .text
        .contains("    REDIS_URL: redis://redis:6379/0\n"));
}

fn files_with(files: &[GeneratedFile], changed: &[GeneratedFile]) -> Vec<GeneratedFile> {
    files
        .iter()
        .map(|f| {
            changed
                .iter()
                .find(|c| c.path == f.path)
                .unwrap_or(f)
                .clone()
        })
        .collect()
}

#[test]
fn a_job_timeout_is_raised_once() {
    let files = files("go-gin");
    let c = fixture("timeout_error/job-execution-took-longer.log");
    let (strategy, summary, changed) = patch(run(&c, "test", &files));
    assert_eq!(strategy, Strategy::RaiseTimeout);
    assert!(summary.ends_with("to 2h"), "{summary}");
    assert!(changed[0]
        .text
        .contains("test:\n  stage: test\n  timeout: 2h\n"));
    let again = files_with(&files, &changed);
    assert!(matches!(
        run(&c, "test", &again),
        HealDecision::AskLlm { .. }
    ));
    // A test's own timeout is the project's to fix.
    let c = fixture("timeout_error/go-test-timed-out.log");
    assert!(matches!(
        run(&c, "test", &files),
        HealDecision::NeedsCodeFix { .. }
    ));
}

#[test]
fn out_of_memory_sets_the_tools_memory_settings() {
    let files = files("js-express-npm");
    let c = fixture("out_of_memory/node-heap-out-of-memory.log");
    let (_, summary, changed) = patch(run(&c, "compile", &files));
    assert!(summary.contains("NODE_OPTIONS"), "{summary}");
    assert!(changed[0]
        .text
        .contains("    NODE_OPTIONS: \"--max-old-space-size=4096\"\n"));
    let c =
        from_log("error building image: ... signal: killed\nERROR: Job failed: exit code 137\n");
    let (_, _, changed) = patch(run(&c, "build", &files));
    assert_eq!(
        changed[0]
            .text
            .matches("/kaniko/executor --compressed-caching=false ")
            .count(),
        2
    );
}

#[test]
fn a_missing_image_is_pinned_to_an_existing_tag_or_seeded() {
    let mut files = files("js-express-npm");
    files[0].text = files[0]
        .text
        .replace("demo/node:22-slim", "demo/node:22.99-slim");
    let log = "ERROR: Job failed: failed to pull image \"localhost:5001/apm-repo/demo/node:22.99-slim\" with specified policies [always]: Error response from daemon: manifest for localhost:5001/apm-repo/demo/node:22.99-slim not found: manifest unknown: manifest unknown (manager.go:250:0s)\n";
    let c = from_log(log);
    assert_eq!(c.class, FailureClass::ImageNotFound);
    match run(&c, "compile", &files) {
        HealDecision::SeedImage { image } => {
            assert_eq!(image, "localhost:5001/apm-repo/demo/node:22.99-slim")
        }
        other => panic!("{other:?}"),
    }
    let tags: Vec<String> = ["22-slim", "22.11-slim", "22.11", "23-slim"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (strategy, summary, changed) = patch(run_with(&c, "compile", &files, Some(&tags), 0));
    assert_eq!(strategy, Strategy::PinImageTag);
    assert!(summary.contains("22.11-slim"), "{summary}");
    assert!(changed[0].text.contains("demo/node:22.11-slim\n"));
    assert!(!changed[0].text.contains("22.99"));
    // No tag of the same variant and major: seed, never invent.
    let other: Vec<String> = vec!["21-slim".into()];
    assert!(matches!(
        run_with(&c, "compile", &files, Some(&other), 0),
        HealDecision::SeedImage { .. }
    ));
    // The candidate image the pipeline builds is not seeded.
    let c = fixture("image_not_found/crane-copy-candidate-missing.log");
    assert!(matches!(
        run(&c, "push", &files),
        HealDecision::AskLlm { .. }
    ));
}

#[test]
fn project_failures_are_reported_never_patched() {
    let files = files("go-gin");
    for rel in [
        "test_failure/go-test-fail.log",
        "build_failure/go-undefined.log",
        "lint_failure/pipewright-quality-golangci.log",
        "security_scan_failure/trivy-critical.log",
        "dependency_resolution/go-missing-go-sum.log",
    ] {
        let c = fixture(rel);
        match run(&c, "test", &files) {
            HealDecision::NeedsCodeFix {
                class,
                evidence,
                line,
            } => {
                assert_eq!(class, c.class, "{rel}");
                assert_eq!(evidence, c.evidence, "{rel}");
                assert!(line.is_some(), "{rel}");
            }
            other => panic!("{rel}: {other:?}"),
        }
    }
}

#[test]
fn runner_and_network_failures_are_retried_then_escalated() {
    let files = files("go-gin");
    let c = fixture("runner_system_failure/trap-tls-inside-system-failure.log");
    assert!(matches!(
        run_with(&c, "test", &files, None, 0),
        HealDecision::Retry { .. }
    ));
    assert!(matches!(
        run_with(&c, "test", &files, None, RETRY_BUDGET),
        HealDecision::Escalate { .. }
    ));
    let c = fixture("auth_failure/kaniko-push-unauthorized.log");
    match run(&c, "build", &files) {
        HealDecision::Escalate { reason } => assert!(reason.contains("never writes secrets")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_undeclared_stage_is_fixed_by_the_validator() {
    let mut files = files("go-gin");
    files[0].text = files[0].text.replacen("  - sast\n", "", 1);
    let c = fixture("invalid_stage/ci-lint-chosen-stage.log");
    let (strategy, summary, changed) = patch(run(&c, "sast", &files));
    assert_eq!(strategy, Strategy::ValidatorFix);
    assert!(summary.contains("sast"), "{summary}");
    assert!(changed[0]
        .text
        .contains("  - test\n  - sast\n  - quality\n"));
}

#[test]
fn git_describe_without_tags_fetches_the_full_history() {
    let files = files("go-gin");
    let c = fixture("git_checkout_failure/git-describe-no-names.log");
    let (strategy, _, changed) = patch(run(&c, "compile", &files));
    assert_eq!(strategy, Strategy::GitFullDepth);
    assert!(changed[0].text.contains("compile:\n  stage: compile\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/golang:1.23.1-bookworm\n  variables:\n    GIT_DEPTH: \"0\"\n"));
}

#[test]
fn artifacts_are_aligned_with_the_build_output_and_taken_where_needed() {
    let mut files = files("java-spring-maven");
    files[0].text = files[0]
        .text
        .replace("      - target/*.jar\n", "      - build/libs/\n");
    let log = "$ ./mvnw -B -ntp package -DskipTests\n[INFO] BUILD SUCCESS\nsection_start:1:upload_artifacts_on_success\r\x1b[0KUploading artifacts for successful job\nWARNING: build/libs/: no matching files. Ensure that the artifact path is relative to the working directory (/builds/team/orders)\nERROR: No files to upload\nERROR: Job failed: exit code 1\n";
    let c = from_log(log);
    assert_eq!(c.class, FailureClass::ArtifactMissing);
    let (strategy, _, changed) = patch(run(&c, "compile", &files));
    assert_eq!(strategy, Strategy::AlignArtifactPaths);
    assert!(changed[0]
        .text
        .contains("    paths:\n      - target/\n      - target/classes/\n"));
    // Kaniko cannot find the compiled jar: the build job takes compile's artifacts.
    let files = self::files("java-spring-maven");
    let c = fixture("artifact_missing/kaniko-file-not-in-context.log");
    let (strategy, _, changed) = patch(run(&c, "build", &files));
    assert_eq!(strategy, Strategy::NeedArtifacts);
    assert!(changed[0].text.contains("build:\n  stage: build\n  image:\n    name: $NEXUS_PULL_REGISTRY/apm-repo/demo/kaniko:v1.27.6-debug\n    entrypoint: [\"\"]\n  needs:\n    - job: compile\n      artifacts: true\n"));
}
