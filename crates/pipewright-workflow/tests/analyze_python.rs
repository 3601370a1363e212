//! Python detection on the fixture repositories, plus the cross-ecosystem traps that only
//! need Python (docs-heavy trees, `.gitattributes` overrides).

mod common;

use common::{analyze_fixture, analyze_tree, assert_stack, service};

#[test]
fn django_with_a_tailwind_package_json_is_a_django_service() {
    let p = analyze_fixture("python-django-tailwind");
    assert_eq!(p.primary_language.map(|l| l.as_str()), Some("python"));
    // By bytes the front-end script outweighs the Python code; the deployable app decides.
    assert_eq!(p.languages[0].name, "javascript");
    assert_eq!(p.services.len(), 1, "{:?}", p.services);
    let s = service(&p, ".");
    assert_stack(
        s,
        "python",
        Some("django"),
        Some("pip"),
        Some("unittest"),
        Some(("3.12", ".python-version")),
    );
    assert_eq!(
        s.commands.start.as_deref(),
        Some("gunicorn shop.wsgi:application --bind 0.0.0.0:8000")
    );
    assert_eq!(s.commands.test.as_deref(), Some("python manage.py test"));
    let dbs: Vec<&str> = s.databases.iter().map(|d| d.as_str()).collect();
    assert_eq!(dbs, vec!["postgresql", "redis"]);
    assert_eq!(s.port, Some(8000));
    assert_eq!(s.port_source.as_deref(), Some("framework default (django)"));
}

#[test]
fn flask_with_pip_runtime_txt_and_a_port_in_code() {
    let p = analyze_fixture("python-flask-pip");
    let s = service(&p, ".");
    assert_stack(
        s,
        "python",
        Some("flask"),
        Some("pip"),
        Some("pytest"),
        Some(("3.11.9", "runtime.txt")),
    );
    assert_eq!(s.port, Some(5050));
    assert_eq!(s.port_source.as_deref(), Some("app.py"));
    assert_eq!(
        s.commands.start.as_deref(),
        Some("gunicorn app:app --bind 0.0.0.0:5050")
    );
    assert_eq!(
        s.commands.install.as_deref(),
        Some("pip install -r requirements.txt")
    );
    assert_eq!(
        s.databases.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        vec!["redis"]
    );
}

#[test]
fn fastapi_with_uv_and_requires_python_kept_raw() {
    let p = analyze_fixture("python-fastapi-uv");
    let s = service(&p, ".");
    assert_stack(
        s,
        "python",
        Some("fastapi"),
        Some("uv"),
        Some("pytest"),
        Some((">=3.12", "pyproject.toml (project.requires-python)")),
    );
    assert_eq!(s.commands.install.as_deref(), Some("uv sync --frozen"));
    assert_eq!(s.commands.test.as_deref(), Some("uv run pytest"));
    assert_eq!(
        s.commands.start.as_deref(),
        Some("uv run uvicorn app.main:app --host 0.0.0.0 --port 8000")
    );
    assert_eq!(
        s.databases.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        vec!["postgresql"]
    );
}

#[test]
fn poetry_library_has_no_framework_and_keeps_the_caret() {
    let p = analyze_fixture("python-poetry-lib");
    let s = service(&p, ".");
    assert_stack(
        s,
        "python",
        None,
        Some("poetry"),
        Some("pytest"),
        Some(("^3.10", "pyproject.toml (tool.poetry.dependencies.python)")),
    );
    assert_eq!(format!("{:?}", s.role), "Library");
    assert_eq!(s.port, None);
}

#[test]
fn pipenv_flask_factory_and_pipfile_python_version() {
    let p = analyze_fixture("python-pipenv-flask");
    let s = service(&p, ".");
    assert_stack(
        s,
        "python",
        Some("flask"),
        Some("pipenv"),
        Some("pytest"),
        Some(("3.11", "Pipfile ([requires] python_version)")),
    );
    assert_eq!(
        s.commands.start.as_deref(),
        Some("pipenv run flask --app 'app:create_app()' run --host 0.0.0.0 --port 5000")
    );
    assert_eq!(
        s.databases.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        vec!["mongodb"]
    );
}

#[test]
fn pdm_fastapi_with_tool_versions_and_port_in_code() {
    let p = analyze_fixture("python-pdm-fastapi");
    let s = service(&p, ".");
    assert_stack(
        s,
        "python",
        Some("fastapi"),
        Some("pdm"),
        Some("pytest"),
        Some(("3.12.2", ".tool-versions")),
    );
    assert_eq!(s.port, Some(9000));
    assert_eq!(
        s.commands.start.as_deref(),
        Some("pdm run uvicorn main:api --host 0.0.0.0 --port 9000")
    );
    assert!(s
        .versions
        .iter()
        .any(|v| v.name == "pdm" && v.value == "2.15.1"));
    // requires-python is kept as a lower-priority pin, not lost.
    assert!(s.versions.iter().any(|v| v.value == ">=3.11,<3.13"));
}

#[test]
fn setuptools_unittest_with_mise() {
    let p = analyze_fixture("python-setuptools-unittest");
    let s = service(&p, ".");
    assert_stack(
        s,
        "python",
        None,
        Some("pip"),
        Some("unittest"),
        Some(("3.11", "mise.toml (tools.python)")),
    );
    assert_eq!(s.commands.install.as_deref(), Some("pip install ."));
    assert_eq!(
        s.commands.test.as_deref(),
        Some("python -m unittest discover -s tests")
    );
}

#[test]
fn docs_and_examples_neither_count_nor_become_services() {
    let p = analyze_fixture("trap-docs-heavy");
    assert_eq!(
        p.services.len(),
        1,
        "examples/ must not be a service: {:?}",
        p.services
    );
    assert_eq!(
        p.languages.len(),
        1,
        "docs/ must not count: {:?}",
        p.languages
    );
    assert_eq!(p.languages[0].name, "python");
    assert_stack(
        service(&p, "."),
        "python",
        Some("flask"),
        Some("pip"),
        None,
        Some(("3.12.3", ".python-version")),
    );
}

#[test]
fn gitattributes_overrides_change_the_language_share() {
    let p = analyze_fixture("trap-gitattributes");
    let names: Vec<&str> = p.languages.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["python"],
        "assets/ is vendored by .gitattributes"
    );
    let py = &p.languages[0];
    // app.py, vendor/internal/helpers.py (un-vendored), render.pyt (language override),
    // docs/example.py (documentation=false); client/*.py is generated and left out.
    assert_eq!(py.files, 4, "{:?}", p.languages);
}

#[test]
fn a_missing_version_is_a_warning_never_a_default() {
    let p = analyze_tree(&[
        ("requirements.txt", "flask\n"),
        ("app.py", "app = Flask(__name__)\n"),
    ]);
    let s = service(&p, ".");
    assert!(s.runtime_version.is_none());
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("no python version is pinned")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn malformed_pyproject_is_a_warning_not_a_crash() {
    let p = analyze_tree(&[("pyproject.toml", "[project\nname = ")]);
    let s = service(&p, ".");
    assert_eq!(s.language.as_str(), "python");
    assert!(s
        .evidence
        .iter()
        .any(|e| e.conclusion == "warning" && e.file == "pyproject.toml"));
    assert!(
        p.warnings
            .iter()
            .any(|w| w.starts_with("pyproject.toml: malformed TOML")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn empty_repository_gives_a_warning_and_no_service() {
    let p = analyze_tree(&[]);
    assert!(p.services.is_empty());
    assert!(p.primary_language.is_none());
    assert!(
        p.warnings.iter().any(|w| w.contains("no files")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn unsupported_stack_names_what_it_saw() {
    let p = analyze_tree(&[
        ("main.c", "int main(void) { return 0; }\n"),
        ("Makefile", "all:\n\tcc main.c\n"),
    ]);
    assert!(p.services.is_empty());
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("no supported stack") && w.contains("c (")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn a_compose_monorepo_gives_one_service_per_built_folder_with_its_databases() {
    let p = analyze_fixture("monorepo-compose");
    assert!(p.monorepo);
    let paths: Vec<&str> = p.services.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, vec!["api", "web", "worker"]);
    let api = service(&p, "api");
    assert_stack(
        api,
        "python",
        Some("fastapi"),
        Some("pip"),
        None,
        Some(("3.12", "api/.python-version")),
    );
    // The container side of "8081:8000", from the compose file.
    assert_eq!(api.port, Some(8000));
    assert_eq!(api.port_source.as_deref(), Some("docker-compose.yml"));
    let dbs: Vec<&str> = api.databases.iter().map(|d| d.as_str()).collect();
    assert_eq!(dbs, vec!["postgresql", "redis"]);
    // `depends_on` in its map form counts too.
    let worker = service(&p, "worker");
    assert_eq!(worker.language.as_str(), "go");
    assert_eq!(
        worker
            .databases
            .iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>(),
        vec!["postgresql"]
    );
    assert_eq!(
        service(&p, "web").framework.map(|f| f.as_str()),
        Some("express")
    );
}
