//! The generated Dockerfiles for the defect classes real builds found (issues 10 and 19),
//! one fixture each: start commands that start the server, an application folder the
//! non-root user owns, `$PORT` set, Django's static files collected at build time, compilers
//! only where a dependency builds from source, tool pins that install on the project's Python,
//! test dependency groups installed, and Rust images whose test stage needs no rustup.
//! `real_builds.rs` (crate `pipewright`) builds and runs the same fixtures for real.

mod common;

use pipewright_adapters::source::LocalSource;
use pipewright_core::generate::{generate, GeneratorSettings};
use pipewright_workflow::analyze::analyze_with_index;

/// The generated Dockerfile of a fixture, split into its stages (`FROM` line first).
fn dockerfile(name: &str) -> (String, Vec<(String, String)>) {
    let path = common::fixtures_dir().join(name);
    let src = LocalSource::open_labelled(&path, name).expect("open fixture");
    let (index, profile) = analyze_with_index(&src).expect("analyze");
    let bundle = generate(&profile, &index, &GeneratorSettings::default()).expect("generate");
    let text = bundle.files["Dockerfile"].clone();
    let mut stages = Vec::new();
    for part in text.split("\nFROM ").skip(1) {
        let name = part
            .lines()
            .next()
            .and_then(|l| l.rsplit(" AS ").next())
            .unwrap_or("")
            .to_string();
        stages.push((name, part.to_string()));
    }
    (text, stages)
}

fn stage<'a>(stages: &'a [(String, String)], name: &str) -> &'a str {
    stages
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s.as_str())
        .unwrap_or_else(|| panic!("no stage {name}"))
}

#[test]
fn a_start_chain_execs_only_its_last_command_and_gets_its_port() {
    // Procfile: `python manage.py migrate --noinput && gunicorn ... --bind 0.0.0.0:$PORT`.
    let (text, stages) = dockerfile("run-python-django-postgres");
    let runtime = stage(&stages, "runtime");
    assert!(
        runtime.contains(
            r#"CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn shop.wsgi --bind 0.0.0.0:$PORT --workers 2"]"#
        ),
        "{text}"
    );
    assert!(!text.contains("exec python manage.py migrate"), "{text}");
    assert!(runtime.contains("ENV PORT=8000\nEXPOSE 8000"), "{text}");
}

#[test]
fn the_application_folder_belongs_to_the_app_user() {
    for name in [
        "run-python-django-postgres",
        "run-python-pytest",
        "run-rust-cli",
    ] {
        let (text, stages) = dockerfile(name);
        let runtime = stage(&stages, "runtime");
        assert!(runtime.contains("WORKDIR /app\n"), "{name}:\n{text}");
        assert!(
            runtime.contains("&& install -d -o app -g app /app\n"),
            "{name}:\n{text}"
        );
    }
}

#[test]
fn django_collects_static_files_in_the_build_stage() {
    // ManifestStaticFilesStorage: every page fails without collected files.
    let (text, stages) = dockerfile("run-python-django-postgres");
    assert!(
        stage(&stages, "build").contains("RUN python manage.py collectstatic --noinput"),
        "{text}"
    );
    // The trap fixture has no STATIC_ROOT: collectstatic would fail there.
    let (text, _) = dockerfile("python-django-tailwind");
    assert!(!text.contains("collectstatic"), "{text}");
}

#[test]
fn a_source_only_dependency_gets_a_compiler_in_deps_only() {
    // psycopg2 is published as source only.
    let (text, stages) = dockerfile("run-python-django-postgres");
    assert!(
        stage(&stages, "deps")
            .contains("apt-get install -y --no-install-recommends gcc libc6-dev libpq-dev"),
        "{text}"
    );
    let runtime = stage(&stages, "runtime");
    assert!(
        runtime.contains("apt-get install -y --no-install-recommends libpq5"),
        "{text}"
    );
    assert!(!runtime.contains("gcc"), "{text}");
    // Wheels only (flask, gunicorn): no apt at all.
    let (text, _) = dockerfile("run-python-pytest");
    assert!(!text.contains("apt-get"), "{text}");
}

#[test]
fn tool_pins_install_on_the_projects_python() {
    // Python 3.7: the newest pipenv for it, not one that needs 3.8+.
    let (text, _) = dockerfile("python-pipenv-py37");
    assert!(
        text.contains("pip install --no-cache-dir pipenv==2023.10.3"),
        "{text}"
    );
    let (text, _) = dockerfile("run-python-pipenv-flask");
    assert!(text.contains("pipenv==2026.10.3"), "{text}");
    // poetry.lock says which Poetry wrote it.
    let (text, _) = dockerfile("run-python-poetry-fastapi");
    assert!(text.contains("poetry==2.2.1"), "{text}");
}

#[test]
fn test_dependency_groups_are_installed_in_the_test_stage() {
    let (text, stages) = dockerfile("run-python-uv-fastapi");
    assert!(
        stage(&stages, "test")
            .contains("uv sync --frozen --no-install-project --group lint --group test"),
        "{text}"
    );
    assert!(stage(&stages, "deps").contains("--no-dev"), "{text}");
    let (text, stages) = dockerfile("run-python-poetry-fastapi");
    assert!(
        stage(&stages, "test").contains("poetry install --no-root --with test"),
        "{text}"
    );
}

#[test]
fn rust_images_need_no_rustup_and_run_on_current_debian() {
    let (text, stages) = dockerfile("run-rust-cli");
    assert!(text.contains("/rust:1.85-slim AS deps"), "{text}");
    assert!(text.contains("/debian:trixie-slim AS runtime"), "{text}");
    assert!(
        stage(&stages, "test")
            .contains("if command -v rustup >/dev/null; then rustup component add clippy; fi"),
        "{text}"
    );
}

/// The generated pipeline of a fixture, parsed.
fn pipeline(name: &str) -> serde_json::Value {
    let path = common::fixtures_dir().join(name);
    let src = LocalSource::open_labelled(&path, name).expect("open fixture");
    let (index, profile) = analyze_with_index(&src).expect("analyze");
    let bundle = generate(&profile, &index, &GeneratorSettings::default()).expect("generate");
    pipewright_core::yaml::to_json(&bundle.files[".gitlab-ci.yml"]).expect("yaml")
}

#[test]
fn the_test_job_sets_the_url_under_the_name_the_app_reads() {
    // config.py and tests/conftest.py read SQLALCHEMY_DATABASE_URI, not DATABASE_URL.
    let ci = pipeline("run-python-flask-sqlalchemy");
    let vars = &ci["test"]["variables"];
    assert_eq!(
        vars["SQLALCHEMY_DATABASE_URI"], vars["DATABASE_URL"],
        "{vars:#}"
    );
    assert!(vars["DATABASE_URL"]
        .as_str()
        .is_some_and(|u| u.starts_with("postgres://")));
    // An app that reads only DATABASE_URL gets nothing more.
    let ci = pipeline("run-python-django-postgres");
    assert!(ci["test"]["variables"]["SQLALCHEMY_DATABASE_URI"].is_null());
}

#[test]
fn the_port_the_start_command_binds_is_exposed() {
    // Flask's default is 5000; the Procfile runs gunicorn on 8000.
    let (text, stages) = dockerfile("run-python-flask-sqlalchemy");
    let runtime = stage(&stages, "runtime");
    assert!(runtime.contains("EXPOSE 8000\n"), "{text}");
    assert!(!runtime.contains("EXPOSE 5000"), "{text}");
}

#[test]
fn a_version_the_repository_proves_beats_the_newest_in_a_range() {
    // `python = "^3.11"`, and the GitHub workflow runs 3.11: not 3.13.
    let (text, _) = dockerfile("run-python-poetry-fastapi");
    assert!(text.contains("/python:3.11-slim AS deps"), "{text}");
    // `requires-python >=3.9` and CI on 3.11; orjson 3.9.10 has no wheel for 3.13, so the
    // newest member would not build (real-built: run_python_version_from_ci).
    let (text, _) = dockerfile("run-python-version-from-ci");
    assert!(text.contains("/python:3.11-slim AS deps"), "{text}");
}

#[test]
fn a_stale_lock_of_another_tool_loses_to_the_one_that_agrees_and_the_reason_is_given() {
    // Real-built: run_js_stale_yarn_lock_npm (yarn --frozen-lockfile would refuse the lock).
    let name = "run-js-stale-yarn-lock-npm";
    let path = common::fixtures_dir().join(name);
    let src = LocalSource::open_labelled(&path, name).expect("open fixture");
    let (index, profile) = analyze_with_index(&src).expect("analyze");
    let bundle = generate(&profile, &index, &GeneratorSettings::default()).expect("generate");
    assert!(bundle.files["Dockerfile"].contains("RUN npm ci"));
    assert!(!bundle.files["Dockerfile"].contains("yarn install"));
    assert!(
        bundle
            .explanation
            .iter()
            .any(|e| e.text.contains("lock file: package-lock.json agrees")
                && e.text.contains("yarn.lock does not")),
        "{:#?}",
        bundle.explanation
    );
}

#[test]
fn django_with_tailwind_builds_its_assets_in_a_node_stage() {
    for (name, out) in [
        ("run-python-django-postgres", "static/dist"),
        ("python-django-tailwind", "static/dist"),
    ] {
        let (text, stages) = dockerfile(name);
        let assets = stage(&stages, "assets");
        assert!(assets.contains("/node:"), "{name}:\n{text}");
        assert!(assets.contains("RUN npm run build:css"), "{name}:\n{text}");
        assert!(
            stage(&stages, "build").contains(&format!("COPY --from=assets /app/{out} ./{out}")),
            "{name}:\n{text}"
        );
        // Node stays out of the runtime image.
        assert!(
            !stage(&stages, "runtime").contains("node"),
            "{name}:\n{text}"
        );
    }
}

#[test]
fn a_node_app_gets_the_database_url_under_the_name_its_config_module_reads() {
    // src/db.js reads only process.env.POSTGRES_URL (real-built: run_js_pg_own_url).
    let ci = pipeline("run-js-pg-own-url");
    let vars = &ci["test"]["variables"];
    assert_eq!(vars["POSTGRES_URL"], vars["DATABASE_URL"], "{vars}");
    assert!(vars["POSTGRES_URL"]
        .as_str()
        .is_some_and(|u| u.starts_with("postgres://")));
}

#[test]
fn with_mysql_and_postgresql_each_own_name_holds_its_own_database() {
    // stock/config.py reads DATABASE_URL (orders, PostgreSQL) and MYSQL_URL (the catalog,
    // MySQL); real-built: run_python_mysql_postgres. Fails before the fix: MYSQL_URL unset.
    let ci = pipeline("run-python-mysql-postgres");
    let test = &ci["test"];
    let vars = &test["variables"];
    assert!(vars["DATABASE_URL"]
        .as_str()
        .is_some_and(|u| u.starts_with("postgres://")));
    assert_eq!(
        vars["MYSQL_URL"], "mysql://root@mysql:3306/test",
        "{vars:#}"
    );
    assert_eq!(vars["MYSQL_HOST"], "mysql", "{vars:#}");
    assert_eq!(vars["PGHOST"], "postgres", "{vars:#}");
    let services: Vec<&str> = test["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["alias"].as_str())
        .collect();
    assert_eq!(services, ["postgres", "mysql"], "{test:#}");
}

#[test]
fn a_test_job_on_a_checkout_installs_the_linter_it_runs() {
    // A library (no image) and a kept Dockerfile without a test stage run their tests on a
    // checkout: ruff, which neither project lists, must be installed there as the test stage
    // installs it, or the linter exits 127 and SonarQube gets no report. Real-built:
    // run_python_kept_dockerfile, python_setuptools_unittest (the harness fails a linter
    // that did not run).
    for name in ["python-setuptools-unittest", "run-python-kept-dockerfile"] {
        let ci = pipeline(name);
        let script: Vec<&str> = ci["test"]["script"]
            .as_array()
            .expect("script")
            .iter()
            .filter_map(|l| l.as_str())
            .collect();
        let install = script
            .iter()
            .position(|l| l.starts_with("pip install ruff=="));
        let run = script.iter().position(|l| l.contains("ruff check"));
        assert!(install.is_some() && install < run, "{name}: {script:#?}");
    }
}
