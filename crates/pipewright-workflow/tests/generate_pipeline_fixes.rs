//! Pipeline-level defects found by real builds (issue 10), one fixture and one test each:
//! kept Dockerfiles built by their own stage names and validated, `changes` rules for a
//! root service, database variables per framework without duplicate keys, golangci-lint by
//! the configuration's major, example and test folders that are not services, libraries
//! without image jobs, tool images from one table with TLS verified, mirrors, linter reports
//! with relative paths.

mod common;

use pipewright_adapters::source::LocalSource;
use pipewright_core::generate::{generate, GeneratorSettings, PipelineBundle};
use pipewright_core::pipeline::Job;
use pipewright_core::stack::Role;
use pipewright_workflow::generate::{generate_from_source, GenerateOutcome};

fn outcome(name: &str, settings: &GeneratorSettings) -> GenerateOutcome {
    let path = common::fixtures_dir().join(name);
    let src = LocalSource::open_labelled(&path, name).expect("open fixture");
    generate_from_source(&src, settings, &[]).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn bundle(name: &str) -> PipelineBundle {
    outcome(name, &GeneratorSettings::default()).bundle
}

fn job<'a>(b: &'a PipelineBundle, name: &str) -> &'a Job {
    b.pipeline.job(name).unwrap_or_else(|| {
        let names: Vec<&str> = b.pipeline.jobs.iter().map(|j| j.name.as_str()).collect();
        panic!("no job {name}; jobs: {names:?}")
    })
}

fn targets(script: &[String]) -> Vec<Option<String>> {
    script
        .iter()
        .filter(|l| l.starts_with("/kaniko/executor"))
        .map(|l| {
            l.split(" --target ")
                .nth(1)
                .map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
        })
        .collect()
}

#[test]
fn a_kept_dockerfile_without_test_or_runtime_stages_is_built_by_its_last_stage() {
    let b = bundle("java-kept-dockerfile");
    assert!(
        !b.files.contains_key("Dockerfile"),
        "the repository's Dockerfile is kept"
    );
    let build = job(&b, "build");
    assert_eq!(targets(&build.script), vec![None], "{:#?}", build.script);
    let test = job(&b, "test");
    assert!(
        !test.image.as_ref().expect("image").name.ends_with("-test"),
        "no test stage: the tests run in the language image"
    );
    assert!(
        b.explanation
            .iter()
            .any(|e| e.text.contains("no test stage") && e.text.contains("language image")),
        "{:#?}",
        b.explanation
    );
}

#[test]
fn a_kept_dockerfile_with_other_stage_names_builds_their_equivalents() {
    let b = bundle("go-kept-dockerfile-stages");
    let build = job(&b, "build");
    assert_eq!(
        targets(&build.script),
        vec![Some("tests".to_string()), Some("release".to_string())]
    );
    let text = std::fs::read_to_string(
        common::fixtures_dir().join("go-kept-dockerfile-stages/Dockerfile"),
    )
    .expect("read");
    let stages = pipewright_core::validate::stage_names(&text);
    for t in targets(&build.script).into_iter().flatten() {
        assert!(
            stages.contains(&t),
            "target {t} is not a stage of {stages:?}"
        );
    }
    let test = job(&b, "test");
    assert_eq!(
        test.variables.get("APP_DIR"),
        Some("/src"),
        "the tests stage's WORKDIR"
    );
}

#[test]
fn a_kept_dockerfile_gets_no_warning_about_the_dockerfile_pipewright_did_not_write() {
    // Real-built in crates/pipewright/tests/real_builds.rs (run_python_kept_dockerfile).
    let b = bundle("run-python-kept-dockerfile");
    assert!(!b.files.contains_key("Dockerfile"));
    assert_eq!(targets(&job(&b, "build").script), vec![None]);
    // Before the fix: "no start command was detected; the image's CMD is `python -c ...`",
    // about the runtime stage of a Dockerfile that is not written (the kept one has its CMD).
    assert!(
        !b.warnings.iter().any(|w| w.contains("start command")),
        "{:#?}",
        b.warnings
    );
    // The tests run in the language image at the version the kept Dockerfile's FROM proves.
    let test = job(&b, "test");
    assert!(
        test.image
            .as_ref()
            .expect("image")
            .name
            .ends_with("/python:3.11-slim"),
        "{:?}",
        test.image
    );
}

#[test]
fn a_kept_dockerfile_is_validated_and_its_findings_reported() {
    let o = outcome("java-kept-dockerfile", &GeneratorSettings::default());
    let kept: Vec<_> = o
        .findings
        .iter()
        .filter(|f| f.file == "Dockerfile")
        .collect();
    assert!(
        kept.iter()
            .any(|f| f.severity == pipewright_core::validate::Severity::Error),
        "an EOL JDK from Docker Hub running as root: {kept:#?}"
    );
    assert!(
        o.bundle
            .warnings
            .iter()
            .any(|w| w.contains("repository's own Dockerfile") && w.contains("error")),
        "{:#?}",
        o.bundle.warnings
    );
}

#[test]
fn a_root_service_in_a_monorepo_runs_on_any_change() {
    let b = bundle("monorepo-root-service");
    let root = job(&b, "compile:app");
    let changes = &root.rules[0].changes;
    assert!(
        changes.iter().all(|c| !c.starts_with('/')),
        "GitLab matches repository-relative paths: {changes:?}"
    );
    assert!(changes.contains(&"**/*".to_string()), "{changes:?}");
    let worker = job(&b, "compile:worker");
    assert!(worker.rules[0].changes.contains(&"worker/**/*".to_string()));
    // The root image's context is the whole repository: the worker's sources stay out.
    assert!(
        b.files[".dockerignore"].lines().any(|l| l == "worker"),
        "{}",
        b.files[".dockerignore"]
    );
}

#[test]
fn a_workspace_member_runs_when_the_shared_manifests_change() {
    // crates/api is built from the workspace root: a dependency bump in the root Cargo.lock
    // or Cargo.toml must run its jobs (found by the benchmark: `build:api` never ran on a
    // change to Cargo.lock). `*` stays in one folder, as GitLab matches it.
    let b = bundle("rust-workspace");
    for name in ["build:api", "test:api"] {
        let changes = &job(&b, name).rules[0].changes;
        assert!(
            changes.contains(&"crates/api/**/*".to_string()),
            "{changes:?}"
        );
        assert!(changes.contains(&"*".to_string()), "{name}: {changes:?}");
    }
}

#[test]
fn two_sql_databases_give_valid_output_with_each_variable_once() {
    // Fails before the fix: DATABASE_URL twice in one mapping, refused by the validator.
    let b = bundle("java-spring-two-databases");
    let test = job(&b, "test");
    assert_eq!(test.services.len(), 2, "{:#?}", test.services);
    assert_eq!(
        test.variables.get("DATABASE_URL"),
        Some("postgres://postgres@postgres:5432/test")
    );
    assert_eq!(
        test.variables.get("SPRING_DATASOURCE_URL"),
        Some("jdbc:postgresql://postgres:5432/test")
    );
    assert_eq!(test.variables.get("PGHOST"), Some("postgres"));
    assert_eq!(test.variables.get("MYSQL_HOST"), Some("mysql"));
    let ci = &b.files[".gitlab-ci.yml"];
    let in_test: Vec<&str> = ci
        .split("\ntest:\n")
        .nth(1)
        .expect("test job")
        .split("\n\n")
        .next()
        .unwrap_or("")
        .lines()
        .filter(|l| l.trim_start().starts_with("DATABASE_URL:"))
        .collect();
    assert_eq!(in_test.len(), 1, "{in_test:?}");
}

#[test]
fn golangci_lint_follows_the_configuration_major() {
    let b = bundle("go-golangci-v2");
    let docker = &b.files["Dockerfile"];
    assert!(
        docker.contains("golangci-lint:v2."),
        "a version: \"2\" configuration needs golangci-lint v2:\n{docker}"
    );
    let test = job(&b, "test");
    let lint = test
        .script
        .iter()
        .find(|l| l.contains("golangci-lint run"))
        .expect("lint line");
    assert!(lint.contains("--output.checkstyle.path"), "{lint}");
    assert!(!lint.contains("--out-format"), "v1 only: {lint}");
}

#[test]
fn example_test_and_source_folders_are_not_services() {
    let p = common::analyze_fixture("ts-app-with-examples");
    let paths: Vec<&str> = p.services.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, vec!["."], "only the application itself is a service");
}

#[test]
fn libraries_get_no_image_build_scan_or_push() {
    for name in ["php-library", "ruby-gem-library", "js-library-mocha"] {
        let o = outcome(name, &GeneratorSettings::default());
        assert_eq!(o.profile.services[0].role, Role::Library, "{name}");
        let names: Vec<&str> = o
            .bundle
            .pipeline
            .jobs
            .iter()
            .map(|j| j.name.as_str())
            .collect();
        assert_eq!(
            names,
            vec![
                "compile",
                "test",
                "sast",
                "quality",
                "notify-success",
                "notify-failure",
                "learn"
            ],
            "{name}"
        );
        assert!(!o.bundle.files.contains_key("Dockerfile"), "{name}");
        for stage in ["build", "security", "push"] {
            assert!(
                o.bundle.pipeline.stages.iter().all(|s| s.as_str() != stage),
                "{name}: {stage} declared without a job"
            );
        }
    }
}

#[test]
fn tls_is_verified_unless_the_registry_is_set_insecure() {
    let b = bundle("go-chi");
    let ci = &b.files[".gitlab-ci.yml"];
    for flag in ["--skip-tls-verify", "--insecure", "TRIVY_INSECURE"] {
        assert!(!ci.contains(flag), "{flag} by default");
    }
    let settings = GeneratorSettings {
        registry_insecure: true,
        ..GeneratorSettings::default()
    };
    let insecure = outcome("go-chi", &settings).bundle;
    let ci = &insecure.files[".gitlab-ci.yml"];
    for flag in ["--skip-tls-verify", "--insecure", "TRIVY_INSECURE"] {
        assert!(ci.contains(flag), "{flag} when asked for");
    }
}

#[test]
fn tool_images_come_from_the_table_and_trivy_waits_for_its_server() {
    let mut settings = GeneratorSettings::default();
    settings.tools.set(
        pipewright_core::generate::Tool::Trivy,
        None,
        Some("0.99.1".into()),
        None,
    );
    let b = outcome("go-chi", &settings).bundle;
    let security = job(&b, "security");
    assert!(security
        .image
        .as_ref()
        .expect("image")
        .name
        .ends_with("/trivy:0.99.1"));
    let wait = security.script.iter().position(|l| l.contains("/healthz"));
    let scan = security
        .script
        .iter()
        .position(|l| l.starts_with("trivy image"));
    assert!(wait.is_some() && wait < scan, "{:#?}", security.script);
    let push = job(&b, "push");
    assert!(
        push.image
            .as_ref()
            .expect("image")
            .name
            .ends_with("/crane/debug:v0.22.1"),
        "a crane debug image under a tag upstream has"
    );
    let ci = &b.files[".gitlab-ci.yml"];
    assert!(
        ci.contains("DOCKER_AUTH_CONFIG"),
        "the header lists the runner's registry login"
    );
    for file in b.files.iter().filter(|(p, _)| p.ends_with("Dockerfile")) {
        assert!(!file.1.contains("# syntax="), "{}", file.0);
    }
}

#[test]
fn mirrors_reach_jobs_and_image_builds_without_credentials() {
    let mut settings = GeneratorSettings::default();
    settings
        .mirrors
        .set("go", "https://nexus.example.com/repository/go/")
        .expect("valid");
    let b = outcome("go-chi", &settings).bundle;
    assert_eq!(
        b.pipeline.variables.get("GOPROXY"),
        Some("https://nexus.example.com/repository/go/")
    );
    let build = job(&b, "build");
    assert!(build
        .script
        .iter()
        .any(|l| l.contains("--build-arg \"GOPROXY=$GOPROXY\"")));
    assert!(b.files["Dockerfile"].contains("ARG GOPROXY\n"));
    assert!(settings
        .mirrors
        .set("npm", "https://ci:hunter22@nexus.example.com/npm/")
        .is_err());
}

#[test]
fn linter_reports_are_rewritten_to_relative_paths() {
    let b = bundle("go-chi");
    let test = job(&b, "test");
    let line = test
        .script
        .iter()
        .find(|l| l.contains("sed -i"))
        .expect("the report rewrite");
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).expect("mkdir");
    let report = dir.path().join("lint-report.xml");
    let app_s = app.display().to_string();
    std::fs::write(
        &report,
        format!("<checkstyle><file name=\"{app_s}/cmd/notes/main.go\"></file></checkstyle>"),
    )
    .expect("write");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(&app)
        .env("PWD", &app_s)
        .env("CI_PROJECT_DIR", dir.path())
        .status()
        .expect("sh");
    assert!(status.success());
    let text = std::fs::read_to_string(&report).expect("read");
    assert!(text.contains("name=\"cmd/notes/main.go\""), "{text}");
}

#[test]
fn generation_keeps_every_key_unique_in_every_fixture() {
    // By construction (`Variables`), but checked on the rendered files too.
    for entry in std::fs::read_dir(common::fixtures_dir()).expect("fixtures") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let src = LocalSource::open_labelled(&path, &name).expect("open");
        let Ok((index, profile)) = pipewright_workflow::analyze::analyze_with_index(&src) else {
            continue;
        };
        let Ok(b) = generate(&profile, &index, &GeneratorSettings::default()) else {
            continue;
        };
        let findings = pipewright_core::validate::validate_pipeline(
            &b.files[".gitlab-ci.yml"],
            &pipewright_core::validate::ValidatorSettings::default(),
        );
        assert!(
            !findings.iter().any(|f| f.rule.contains("duplicate")),
            "{name}: {findings:#?}"
        );
    }
}

#[test]
fn laravel_runs_a_production_server_not_artisan_serve() {
    for name in ["php-laravel-pest", "php-laravel-vite"] {
        let b = bundle(name);
        let docker = &b.files["Dockerfile"];
        assert!(!docker.contains("artisan serve"), "{name}:\n{docker}");
        assert!(
            docker.contains("CMD [\"apache2-foreground\"]"),
            "{name}:\n{docker}"
        );
        assert!(
            docker.contains("-apache-bookworm AS runtime"),
            "{name}:\n{docker}"
        );
    }
}

#[test]
fn maven_composer_and_bundler_mirrors_get_their_setup_before_installs() {
    for (name, key, var, word) in [
        ("java-spring-maven", "maven", "MAVEN_MIRROR_URL", "mvnw"),
        (
            "php-symfony",
            "composer",
            "COMPOSER_MIRROR_URL",
            "composer install",
        ),
        (
            "ruby-rails-minitest",
            "rubygems",
            "RUBYGEMS_MIRROR_URL",
            "bundle install",
        ),
    ] {
        let mut settings = GeneratorSettings::default();
        settings.mirrors.set(key, "$NEXUS_MIRROR").expect("valid");
        let b = outcome(name, &settings).bundle;
        assert_eq!(
            b.pipeline.variables.get(var),
            Some("$NEXUS_MIRROR"),
            "{name}"
        );
        let compile = job(&b, "compile");
        let setup = compile
            .script
            .iter()
            .position(|l| l.contains(&format!("\"${var}\"")))
            .unwrap_or_else(|| panic!("{name}: {:#?}", compile.script));
        let install = compile
            .script
            .iter()
            .position(|l| l.contains(word) && !l.contains(var))
            .unwrap_or_else(|| panic!("{name}: no install: {:#?}", compile.script));
        assert!(setup < install, "{name}: {:#?}", compile.script);
        let docker = &b.files["Dockerfile"];
        assert!(
            docker.contains(&format!("ARG {var}\n")),
            "{name}:\n{docker}"
        );
        assert!(
            docker.contains(&format!("if [ -n \"${var}\" ]")),
            "{name}:\n{docker}"
        );
    }
}
