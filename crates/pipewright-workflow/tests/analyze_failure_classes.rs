//! The analyzer's failure classes measured on real repositories (issue 14): one fixture per
//! class, shaped like the projects where each was seen, and the mechanism's answer on it.

mod common;

use common::{analyze_fixture, service};
use pipewright_core::stack::{Role, ServiceProfile};

fn evidence<'a>(s: &'a ServiceProfile, conclusion: &str) -> Vec<(&'a str, &'a str)> {
    s.evidence
        .iter()
        .filter(|e| e.conclusion == conclusion)
        .map(|e| (e.file.as_str(), e.detail.as_str()))
        .collect()
}

#[track_caller]
fn assert_evidence(s: &ServiceProfile, conclusion: &str, file: &str, needle: &str) {
    let found = evidence(s, conclusion);
    assert!(
        found.iter().any(|(f, d)| *f == file && d.contains(needle)),
        "no {conclusion} evidence in {file} containing {needle:?}; found {found:?}"
    );
}

// ------------------------------------------------ frameworks that arrive through a dependency

#[test]
fn sinatra_through_sinatra_activerecord_is_found_in_the_gemfile_lock() {
    let p = analyze_fixture("ruby-sinatra-via-activerecord");
    let s = service(&p, ".");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("sinatra"));
    assert_eq!(s.role, Role::Application);
    assert_evidence(
        s,
        "framework",
        "Gemfile.lock",
        "`sinatra` 4.0.0 resolved in Gemfile.lock through sinatra-activerecord → sinatra",
    );
    assert_eq!(s.test_framework.map(|t| t.as_str()), Some("rspec"));
}

#[test]
fn flask_through_connexion_is_found_in_the_poetry_lock() {
    let p = analyze_fixture("python-connexion-poetry");
    let s = service(&p, ".");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("flask"));
    assert_eq!(s.role, Role::Application);
    assert_evidence(
        s,
        "framework",
        "poetry.lock",
        "`flask` 2.2.5 resolved in poetry.lock through connexion → flask",
    );
    assert_eq!(s.port, Some(8080));
}

// ------------------------------------------------ dev/docs/test-only dependencies; tests

#[test]
fn a_library_listing_fastapi_as_a_docs_extra_is_not_a_fastapi_app() {
    let p = analyze_fixture("python-lib-docs-extra");
    let s = service(&p, ".");
    assert_eq!(s.framework, None);
    assert_eq!(s.role, Role::Library);
    assert_evidence(
        s,
        "framework",
        "pyproject.toml",
        "`fastapi` is only a development, test, docs or optional dependency",
    );
    assert_eq!(s.test_framework.map(|t| t.as_str()), Some("pytest"));
}

// ------------------------------------------------ uv workspaces

#[test]
fn a_uv_workspace_root_is_not_a_service_and_its_members_build_with_uv() {
    let p = analyze_fixture("python-uv-workspace");
    let paths: Vec<&str> = p.services.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, vec!["packages/core", "services/api"]);
    let api = service(&p, "services/api");
    assert_eq!(api.framework.map(|f| f.as_str()), Some("fastapi"));
    assert_eq!(api.build_tool.map(|b| b.as_str()), Some("uv"));
    assert_evidence(
        api,
        "build_tool",
        "pyproject.toml",
        "member of the uv workspace at .",
    );
    assert_eq!(api.commands.install.as_deref(), Some("uv sync --frozen"));
    assert_eq!(api.test_framework.map(|t| t.as_str()), Some("pytest"));
    let core = service(&p, "packages/core");
    assert_eq!(core.build_tool.map(|b| b.as_str()), Some("uv"));
    assert_eq!(core.role, Role::Library);
    // No tests in core: no test framework claimed for it.
    assert_eq!(core.test_framework, None);
}

// ------------------------------------------------ Spring Boot in multi-module builds

#[test]
fn spring_cloud_servers_and_a_module_booted_through_its_parent_are_applications() {
    let p = analyze_fixture("java-spring-cloud-multimodule");
    let paths: Vec<&str> = p.services.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "common",
            "config-server",
            "discovery-server",
            "gateway",
            "orders-service"
        ]
    );
    for (dir, port) in [
        ("config-server", 8888),
        ("discovery-server", 8761),
        ("gateway", 8080),
        ("orders-service", 8081),
    ] {
        let s = service(&p, dir);
        assert_eq!(
            s.framework.map(|f| f.as_str()),
            Some("spring-boot"),
            "{dir}"
        );
        assert_eq!(s.role, Role::Application, "{dir}");
        assert_eq!(s.port, Some(port), "{dir}");
        assert_eq!(
            s.port_source.as_deref(),
            Some(format!("{dir}/src/main/resources/application.yml").as_str())
        );
    }
    assert_evidence(
        service(&p, "config-server"),
        "framework",
        "config-server/pom.xml",
        "org.springframework.cloud:spring-cloud-config-server",
    );
    let orders = service(&p, "orders-service");
    assert_evidence(
        orders,
        "framework",
        "orders-service/src/main/java/com/acme/shop/orders/OrdersApplication.java",
        "@SpringBootApplication",
    );
    assert_evidence(
        orders,
        "framework",
        "pom.xml",
        "through the parent POM pom.xml",
    );
    // JUnit through Boot 4's test starter variant and Testcontainers' JUnit integration.
    assert_eq!(orders.test_framework.map(|t| t.as_str()), Some("junit"));
    assert_evidence(
        orders,
        "test_framework",
        "orders-service/pom.xml",
        "spring-boot-starter-webmvc-test",
    );
    // common has a starter but no application class and no Boot plugin: a shared module.
    let common = service(&p, "common");
    assert_eq!(common.framework.map(|f| f.as_str()), Some("spring-boot"));
    assert_eq!(common.role, Role::Library);
}

// ------------------------------------------------ Maven and Gradle both present

#[test]
fn a_repository_with_both_builds_uses_the_one_whose_wrapper_is_committed() {
    let p = analyze_fixture("java-maven-and-gradle");
    let s = service(&p, ".");
    assert_eq!(s.build_tool.map(|b| b.as_str()), Some("gradle"));
    assert_evidence(
        s,
        "build_tool",
        "build.gradle.kts",
        "Gradle chosen: its wrapper (gradlew) is committed",
    );
    assert_eq!(s.test_framework.map(|t| t.as_str()), Some("junit"));
    assert_eq!(s.role, Role::Library);
}

#[test]
fn with_both_builds_the_test_framework_of_the_other_build_is_still_found() {
    // Maven decides (mvnw committed), but only the Gradle script names JUnit.
    let p = common::analyze_tree(&[
        ("pom.xml", "<project><modelVersion>4.0.0</modelVersion><groupId>a</groupId><artifactId>b</artifactId><version>1</version></project>"),
        ("mvnw", "#!/bin/sh\n"),
        ("build.gradle", "plugins { id 'java' }\ndependencies { testImplementation 'org.junit.jupiter:junit-jupiter:5.10.2' }\n"),
        ("src/main/java/a/B.java", "package a; class B {}\n"),
        ("src/test/java/a/BTest.java", "package a; class BTest {}\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.build_tool.map(|b| b.as_str()), Some("maven"));
    assert_eq!(s.test_framework.map(|t| t.as_str()), Some("junit"));
    assert_evidence(
        s,
        "test_framework",
        "build.gradle",
        "the other build of the same tests",
    );
}

// ------------------------------------------------ ports from where real apps keep them

#[test]
fn a_rust_service_port_comes_from_its_layered_configuration_not_a_mail_catcher() {
    let p = analyze_fixture("rust-actix-layered-config");
    let s = service(&p, ".");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("actix-web"));
    assert_eq!(s.port, Some(8000));
    assert_eq!(s.port_source.as_deref(), Some("configuration/base.yaml"));
    assert_evidence(
        s,
        "port",
        "configuration/base.yaml",
        "application.port = 8000",
    );
    assert!(
        !evidence(s, "port").iter().any(|(_, d)| d.contains("1080")),
        "the mail catcher's port is no candidate: {:?}",
        evidence(s, "port")
    );
}

#[test]
fn an_env_example_port_ranks_above_code_and_a_helper_compose_port_is_never_taken() {
    let p = analyze_fixture("js-express-env-example");
    let s = service(&p, ".");
    assert_eq!(s.port, Some(4000));
    assert_eq!(s.port_source.as_deref(), Some(".env.example"));
    assert_evidence(s, "port", ".env.example", "APP_PORT=4000 in .env.example");

    // Without the example file, nothing but the framework default is left: the maildev
    // service's 1080 (built from the same folder) is not the application's.
    let p = common::analyze_tree(&[
        ("package.json", r#"{"name":"a","dependencies":{"express":"^4.21.1"}}"#),
        ("index.js", "const app = require('express')();\napp.listen(process.env.PORT);\n"),
        (
            "docker-compose.yml",
            "services:\n  web:\n    build: .\n  mail:\n    build:\n      context: .\n      dockerfile: Dockerfile.maildev\n    ports: [\"1080:1080\"]\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.port, Some(3000));
    assert_eq!(
        s.port_source.as_deref(),
        Some("framework default (express)")
    );
}

#[test]
fn a_net8_web_api_listens_on_the_container_default_not_its_launch_profile() {
    let p = analyze_fixture("csharp-webapi-net8");
    let s = service(&p, ".");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("aspnetcore"));
    assert_eq!(s.port, Some(8080));
    assert_eq!(s.port_source.as_deref(), Some("Inventory.Api.csproj"));
    assert_evidence(
        s,
        "port",
        "Inventory.Api.csproj",
        "ASPNETCORE_HTTP_PORTS=8080",
    );
    assert_evidence(s, "port", "Properties/launchSettings.json", "not used");
}

// ------------------------------------------------ compose services built from a Dockerfile alone

#[test]
fn a_compose_service_with_only_a_dockerfile_and_scripts_is_a_service() {
    let p = analyze_fixture("monorepo-compose-dockerfile-only");
    let paths: Vec<&str> = p.services.iter().map(|s| s.path.as_str()).collect();
    // The nginx proxy is a helper; the renderer (node base image, no package.json) is a service.
    assert_eq!(paths, vec!["api", "pdf-renderer"]);
    let r = service(&p, "pdf-renderer");
    assert_eq!(r.language.as_str(), "javascript");
    assert_eq!(r.role, Role::Application);
    assert_eq!(r.build_tool, None);
    assert_eq!(r.port, Some(3000));
    assert_eq!(
        r.runtime_version.as_ref().map(|v| v.value.as_str()),
        Some("20")
    );
    assert_evidence(
        r,
        "language",
        "pdf-renderer/Dockerfile",
        "compose service `pdf-renderer`",
    );
    let api = service(&p, "api");
    assert_eq!(api.port, Some(8000));
    assert!(api.databases.iter().any(|d| d.as_str() == "postgresql"));
}

// ------------------------------------------------ examples, demos, fixtures are not services

#[test]
fn demo_playground_and_example_folders_beside_a_library_are_not_services() {
    let p = analyze_fixture("ts-library-with-demo-apps");
    let paths: Vec<&str> = p.services.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, vec!["."]);
    let s = service(&p, ".");
    // A React component library (react is a peer): a library, never an app to deploy.
    assert_eq!(s.role, Role::Library);
    assert_eq!(s.commands.start, None);
    assert_eq!(s.test_framework.map(|t| t.as_str()), Some("vitest"));
}

// ------------------------------------------------ lock files of the other ecosystems

#[test]
fn frameworks_behind_wrapper_packages_are_found_in_npm_composer_and_cargo_locks() {
    // npm: a server kit whose only runtime dependency brings express.
    let p = common::analyze_tree(&[
        (
            "package.json",
            r#"{"name":"api","dependencies":{"@acme/server-kit":"^2.0.0"},"devDependencies":{"jest":"^29.7.0"}}"#,
        ),
        (
            "package-lock.json",
            r#"{"name":"api","lockfileVersion":3,"packages":{"":{"dependencies":{"@acme/server-kit":"^2.0.0"},"devDependencies":{"jest":"^29.7.0"}},"node_modules/@acme/server-kit":{"version":"2.1.0","dependencies":{"express":"^4.19.2"}},"node_modules/express":{"version":"4.21.1"},"node_modules/jest":{"version":"29.7.0"}}}"#,
        ),
        ("index.js", "require('@acme/server-kit').start();\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("express"));
    assert_evidence(
        s,
        "framework",
        "package-lock.json",
        "through @acme/server-kit → express",
    );

    // Cargo: axum behind shuttle-axum.
    let p = common::analyze_tree(&[
        ("Cargo.toml", "[package]\nname = \"svc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nshuttle-axum = \"0.47\"\n"),
        ("Cargo.lock", "version = 3\n\n[[package]]\nname = \"svc\"\nversion = \"0.1.0\"\ndependencies = [\"shuttle-axum\"]\n\n[[package]]\nname = \"shuttle-axum\"\nversion = \"0.47.0\"\ndependencies = [\"axum 0.7.5\"]\n\n[[package]]\nname = \"axum\"\nversion = \"0.7.5\"\n"),
        ("src/main.rs", "fn main() {}\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("axum"));
    assert_evidence(
        s,
        "framework",
        "Cargo.lock",
        "`axum` 0.7.5 resolved in Cargo.lock through shuttle-axum → axum",
    );

    // Composer: a distribution package that requires laravel/framework.
    let p = common::analyze_tree(&[
        (
            "composer.json",
            r#"{"name":"acme/shop","type":"project","require":{"php":"^8.2","acme/platform":"^3.0"}}"#,
        ),
        (
            "composer.lock",
            r#"{"packages":[{"name":"acme/platform","version":"3.0.1","require":{"laravel/framework":"^11.0"}},{"name":"laravel/framework","version":"v11.9.2"}],"packages-dev":[]}"#,
        ),
        ("public/index.php", "<?php\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("laravel"));
    assert_evidence(
        s,
        "framework",
        "composer.lock",
        "through acme/platform → laravel/framework",
    );
}

#[test]
fn a_dev_only_chain_never_makes_an_application() {
    // rspec-rails pulls railties, but only from the test group.
    let p = common::analyze_tree(&[
        ("Gemfile", "source \"https://rubygems.org\"\ngem \"dry-struct\"\ngroup :test do\n  gem \"rspec-rails\"\nend\n"),
        ("Gemfile.lock", "GEM\n  remote: https://rubygems.org/\n  specs:\n    dry-struct (1.6.0)\n    railties (7.1.3)\n    rspec-rails (6.1.2)\n      railties (>= 6.1)\n\nDEPENDENCIES\n  dry-struct\n  rspec-rails\n"),
        ("lib/thing.rb", "module Thing; end\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.framework, None);
    assert_eq!(s.role, Role::Library);
}

#[test]
fn a_gradle_subproject_booted_by_the_root_script_with_an_application_class_is_spring_boot() {
    let p = common::analyze_tree(&[
        ("settings.gradle.kts", "rootProject.name = \"shop\"\ninclude(\"orders\", \"model\")\n"),
        (
            "build.gradle.kts",
            "plugins {\n    id(\"org.springframework.boot\") version \"3.3.2\" apply false\n    java\n}\nsubprojects {\n    apply(plugin = \"java\")\n}\n",
        ),
        ("orders/build.gradle.kts", "dependencies {\n    implementation(project(\":model\"))\n    testImplementation(\"org.junit.jupiter:junit-jupiter:5.10.2\")\n}\n"),
        (
            "orders/src/main/java/shop/orders/OrdersApplication.java",
            "package shop.orders;\n@org.springframework.boot.autoconfigure.SpringBootApplication\npublic class OrdersApplication {}\n",
        ),
        ("model/build.gradle.kts", "dependencies { }\n"),
        ("model/src/main/java/shop/model/Order.java", "package shop.model; public record Order(long id) {}\n"),
    ]);
    let orders = service(&p, "orders");
    assert_eq!(orders.framework.map(|f| f.as_str()), Some("spring-boot"));
    assert_eq!(orders.role, Role::Application);
    assert_evidence(
        orders,
        "framework",
        "build.gradle.kts",
        "brings the Spring Boot plugin",
    );
    assert_eq!(service(&p, "model").framework, None);
}

// ------------------------------------------------ what the repository's CI already knows

#[test]
fn the_existing_ci_names_the_databases_and_the_runtime_of_its_matrix() {
    let p = analyze_fixture("python-flask-ci-services");
    let s = service(&p, ".");
    let dbs: Vec<&str> = s.databases.iter().map(|d| d.as_str()).collect();
    assert_eq!(dbs, vec!["postgresql", "redis"]);
    assert_evidence(
        s,
        "database",
        ".github/workflows/ci.yml",
        "the CI starts `postgres:16` as a service",
    );
    let rv = s
        .runtime_version
        .as_ref()
        .expect("a version from the matrix");
    assert_eq!(rv.value, "3.12");
    assert_eq!(
        rv.source,
        ".github/workflows/ci.yml (newest of the test matrix 3.10, 3.11, 3.12)"
    );
    // The manifests still decide what they know: pytest from requirements-dev.txt.
    assert_eq!(s.test_framework.map(|t| t.as_str()), Some("pytest"));

    // The environment its test job sets: names only, never the postgres image's own settings.
    let vars: Vec<(&str, &str, &str)> = s
        .test_variables
        .iter()
        .map(|v| (v.name.as_str(), v.database.as_str(), v.part.as_str()))
        .collect();
    assert_eq!(
        vars,
        vec![
            ("DATABASE_URL", "postgresql", "url"),
            ("REDIS_URL", "redis", "url"),
            ("POSTGRES_HOST", "postgresql", "host"),
            ("POSTGRES_PORT", "postgresql", "port"),
            ("DB_NAME", "postgresql", "name"),
            ("CACHE_REDIS_HOST", "redis", "host"),
        ]
    );
    assert_evidence(
        s,
        "database",
        ".github/workflows/ci.yml",
        "the CI sets `POSTGRES_HOST` for its tests (host of postgresql)",
    );

    // The generated test job sets the same names to its own services.
    let src = pipewright_adapters::source::LocalSource::open_labelled(
        &common::fixtures_dir().join("python-flask-ci-services"),
        "python-flask-ci-services",
    )
    .unwrap();
    let outcome =
        pipewright_workflow::generate::generate_from_source(&src, &Default::default(), &[])
            .unwrap();
    let test = outcome
        .bundle
        .pipeline
        .jobs
        .iter()
        .find(|j| j.name == "test")
        .expect("test job");
    for (name, value) in [
        ("POSTGRES_HOST", "postgres"),
        ("POSTGRES_PORT", "5432"),
        ("DB_NAME", "test"),
        ("CACHE_REDIS_HOST", "redis"),
    ] {
        assert_eq!(test.variables.get(name), Some(value), "{name}");
    }
    // Never the service container's settings from the CI (POSTGRES_PASSWORD=postgres).
    assert_eq!(test.variables.get("POSTGRES_PASSWORD"), None);
    assert!(outcome.bundle.explanation.iter().any(|e| e
        .text
        .contains("the repository's CI names its test databases")));
}

#[test]
fn gitlab_ci_job_services_name_the_databases() {
    let p = common::analyze_tree(&[
        ("go.mod", "module example.com/tool\n\ngo 1.22\n"),
        ("main.go", "package main\nfunc main() {}\n"),
        (".gitlab-ci.yml", "test:\n  image: golang:1.22\n  services: [\"mysql:8.0\"]\n  script:\n    - go test -race ./...\n"),
    ]);
    let s = service(&p, ".");
    assert!(s.databases.iter().any(|d| d.as_str() == "mysql"));
    assert_evidence(s, "database", ".gitlab-ci.yml", "mysql:8.0");
}

// ------------------------------------------------ more lock files: pnpm, yarn, uv; Rails engines

#[test]
fn frameworks_behind_wrapper_packages_are_found_in_pnpm_yarn_and_uv_locks() {
    // pnpm 9: `importers` name the direct dependencies, `snapshots` the edges.
    let p = common::analyze_tree(&[
        (
            "package.json",
            r#"{"name":"api","dependencies":{"@acme/nest-kit":"^1.0.0"},"devDependencies":{"vitest":"^1.6.0"}}"#,
        ),
        (
            "pnpm-lock.yaml",
            "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      '@acme/nest-kit':\n        specifier: ^1.0.0\n        version: 1.2.0\n\npackages:\n\n  '@acme/nest-kit@1.2.0':\n    resolution: {integrity: sha512-x}\n\n  '@nestjs/core@10.3.8':\n    resolution: {integrity: sha512-y}\n\nsnapshots:\n\n  '@acme/nest-kit@1.2.0':\n    dependencies:\n      '@nestjs/core': 10.3.8\n\n  '@nestjs/core@10.3.8': {}\n",
        ),
        ("src/main.ts", "import { boot } from '@acme/nest-kit';\nboot();\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("nestjs"));
    assert_evidence(
        s,
        "framework",
        "pnpm-lock.yaml",
        "@acme/nest-kit → @nestjs/core",
    );

    // yarn classic.
    let p = common::analyze_tree(&[
        (
            "package.json",
            r#"{"name":"web","dependencies":{"@acme/server":"^1.0.0"}}"#,
        ),
        (
            "yarn.lock",
            "# yarn lockfile v1\n\n\"@acme/server@^1.0.0\":\n  version \"1.0.0\"\n  dependencies:\n    express \"^4.0.0\"\n\nexpress@^4.0.0:\n  version \"4.21.1\"\n",
        ),
        ("index.js", "require('@acme/server')();\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("express"));
    assert_evidence(s, "framework", "yarn.lock", "@acme/server → express");

    // uv: connexion brings flask.
    let p = common::analyze_tree(&[
        (
            "pyproject.toml",
            "[project]\nname = \"petstore\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = [\"connexion>=2.14\"]\n",
        ),
        (
            "uv.lock",
            "version = 1\nrequires-python = \">=3.11\"\n\n[[package]]\nname = \"connexion\"\nversion = \"2.14.2\"\nsource = { registry = \"https://pypi.org/simple\" }\ndependencies = [\n    { name = \"flask\" },\n]\n\n[[package]]\nname = \"flask\"\nversion = \"2.2.5\"\nsource = { registry = \"https://pypi.org/simple\" }\n\n[[package]]\nname = \"petstore\"\nversion = \"0.1.0\"\nsource = { editable = \".\" }\ndependencies = [\n    { name = \"connexion\" },\n]\n",
        ),
        ("petstore/app.py", "import connexion\napp = connexion.App(__name__)\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("flask"));
    assert_eq!(s.build_tool.map(|b| b.as_str()), Some("uv"));
    assert_evidence(s, "framework", "uv.lock", "connexion → flask");
}

#[test]
fn a_rails_engine_brings_rails_through_the_gemfile_lock() {
    // A Spree store: the Gemfile names the engine, the lock resolves it to railties.
    let p = common::analyze_tree(&[
        ("Gemfile", "source \"https://rubygems.org\"\ngem \"spree\", \"~> 4.8\"\ngem \"puma\"\n"),
        (
            "Gemfile.lock",
            "GEM\n  remote: https://rubygems.org/\n  specs:\n    puma (6.4.2)\n    railties (7.1.3)\n    spree (4.8.0)\n      spree_core (= 4.8.0)\n    spree_core (4.8.0)\n      rails (~> 7.0)\n    rails (7.1.3)\n      railties (= 7.1.3)\n\nDEPENDENCIES\n  puma\n  spree (~> 4.8)\n",
        ),
        ("config.ru", "require_relative \"config/environment\"\nrun Rails.application\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("rails"));
    assert_eq!(s.role, Role::Application);
    assert_evidence(s, "framework", "Gemfile.lock", "spree → spree_core → rails");
}

// ------------------------------------------------ JUnit through Testcontainers alone

#[test]
fn junit_is_found_through_testcontainers_junit_jupiter_alone() {
    let p = common::analyze_tree(&[
        (
            "pom.xml",
            "<project><modelVersion>4.0.0</modelVersion><groupId>a</groupId><artifactId>repo</artifactId><version>1</version><dependencies><dependency><groupId>org.testcontainers</groupId><artifactId>junit-jupiter</artifactId><version>1.20.1</version><scope>test</scope></dependency></dependencies></project>",
        ),
        ("src/main/java/a/Repo.java", "package a; public class Repo {}\n"),
        ("src/test/java/a/RepoIT.java", "package a; class RepoIT {}\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.test_framework.map(|t| t.as_str()), Some("junit"));
    assert_evidence(s, "test_framework", "pom.xml", "junit-jupiter");
}

// ------------------------------------------------ more places real apps keep their port

#[test]
fn ports_from_properties_appsettings_docker_env_env_example_and_binding_code() {
    // Spring: application.properties.
    let p = common::analyze_tree(&[
        (
            "pom.xml",
            "<project><modelVersion>4.0.0</modelVersion><parent><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-parent</artifactId><version>3.3.2</version></parent><groupId>a</groupId><artifactId>b</artifactId><version>1</version><dependencies><dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-web</artifactId></dependency></dependencies></project>",
        ),
        ("src/main/resources/application.properties", "spring.application.name=b\nserver.port=9090\n"),
        ("src/main/java/a/App.java", "package a;\n@org.springframework.boot.autoconfigure.SpringBootApplication\npublic class App {}\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.port, Some(9090));
    assert_eq!(
        s.port_source.as_deref(),
        Some("src/main/resources/application.properties")
    );

    // ASP.NET Core: Kestrel endpoints in appsettings.json win over the container default.
    let csproj = "<Project Sdk=\"Microsoft.NET.Sdk.Web\"><PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup></Project>";
    let p = common::analyze_tree(&[
        ("Api.csproj", csproj),
        ("Program.cs", "var app = WebApplication.CreateBuilder(args).Build();\napp.Run();\n"),
        (
            "appsettings.json",
            "{\n  // comments are allowed here\n  \"Kestrel\": { \"Endpoints\": { \"Http\": { \"Url\": \"http://0.0.0.0:5100\" } } }\n}\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.port, Some(5100));
    assert_eq!(s.port_source.as_deref(), Some("appsettings.json"));

    // ASPNETCORE_URLS in the repository's Dockerfile.
    let p = common::analyze_tree(&[
        ("Api.csproj", csproj),
        ("Program.cs", "var app = WebApplication.CreateBuilder(args).Build();\napp.Run();\n"),
        (
            "Dockerfile",
            "FROM mcr.microsoft.com/dotnet/aspnet:8.0\nENV ASPNETCORE_URLS=http://+:5005\nCOPY out/ /app\nENTRYPOINT [\"dotnet\", \"/app/Api.dll\"]\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.port, Some(5005));
    assert_eq!(s.port_source.as_deref(), Some("Dockerfile"));

    // `env-example` (no dot) names PORT; it ranks above the framework default.
    let p = common::analyze_tree(&[
        ("requirements.txt", "fastapi==0.111.0\nuvicorn==0.30.1\n"),
        ("main.py", "from fastapi import FastAPI\napp = FastAPI()\n"),
        (
            "env-example",
            "DATABASE_URL=postgres://localhost/app\nPORT=8500\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.port, Some(8500));
    assert_eq!(s.port_source.as_deref(), Some("env-example"));

    // Go: http.ListenAndServe in code.
    let p = common::analyze_tree(&[
        ("go.mod", "module example.com/svc\n\ngo 1.22\n"),
        (
            "main.go",
            "package main\n\nimport \"net/http\"\n\nfunc main() {\n\thttp.HandleFunc(\"/\", nil)\n\thttp.ListenAndServe(\":8090\", nil)\n}\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.port, Some(8090));
    assert_eq!(s.port_source.as_deref(), Some("main.go"));

    // Rust: TcpListener::bind with a literal address.
    let p = common::analyze_tree(&[
        (
            "Cargo.toml",
            "[package]\nname = \"svc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\naxum = \"0.7\"\ntokio = { version = \"1\", features = [\"full\"] }\n",
        ),
        (
            "src/main.rs",
            "#[tokio::main]\nasync fn main() {\n    let app = axum::Router::new();\n    let listener = tokio::net::TcpListener::bind(\"0.0.0.0:3400\").await.unwrap();\n    axum::serve(listener, app).await.unwrap();\n}\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.port, Some(3400));
    assert_eq!(s.port_source.as_deref(), Some("src/main.rs"));

    // Node: app.listen with a literal.
    let p = common::analyze_tree(&[
        (
            "package.json",
            r#"{"name":"a","dependencies":{"express":"^4.21.1"}}"#,
        ),
        (
            "server.js",
            "const app = require('express')();\napp.listen(3700);\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.port, Some(3700));
    assert_eq!(s.port_source.as_deref(), Some("server.js"));
}

// ------------------------------------------------ samples, fixtures and __tests__ folders

#[test]
fn samples_test_fixtures_and_dunder_tests_folders_are_not_services() {
    let p = common::analyze_tree(&[
        (
            "package.json",
            r#"{"name":"api","dependencies":{"express":"^4.21.1"},"devDependencies":{"jest":"^29.7.0"}}"#,
        ),
        ("index.js", "require('express')().listen(3000);\n"),
        ("__tests__/api.test.js", "test('x', () => {});\n"),
        (
            "__tests__/fixture-app/package.json",
            r#"{"name":"fixture-app","dependencies":{"koa":"^2.15.0"}}"#,
        ),
        (
            "samples/basic/package.json",
            r#"{"name":"basic","dependencies":{"express":"^4.21.1"}}"#,
        ),
        (
            "samples/basic/index.js",
            "require('express')().listen(4000);\n",
        ),
        ("test-fixtures/py-app/requirements.txt", "flask==3.0.3\n"),
        (
            "test/fixtures/app/package.json",
            r#"{"name":"f","dependencies":{"express":"^4"}}"#,
        ),
        ("sample-worker/requirements.txt", "celery==5.4.0\n"),
    ]);
    let paths: Vec<&str> = p.services.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, vec!["."]);
    assert_eq!(
        service(&p, ".").test_framework.map(|t| t.as_str()),
        Some("jest")
    );
}

#[test]
fn a_test_framework_is_not_claimed_where_the_repository_has_no_tests() {
    let p = common::analyze_tree(&[
        (
            "package.json",
            r#"{"name":"api","scripts":{"start":"node index.js"},"dependencies":{"express":"^4.21.1"},"devDependencies":{"jest":"^29.7.0"}}"#,
        ),
        ("index.js", "require('express')().listen(3000);\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(
        s.test_framework,
        None,
        "{:?}",
        evidence(s, "test_framework")
    );
}
