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
