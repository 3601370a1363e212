//! Shared helpers for the analyzer tests: analyze a fixture folder or an in-memory tree.
#![allow(dead_code)]

use pipewright_adapters::source::LocalSource;
use pipewright_core::stack::{ServiceProfile, StackProfile};
use pipewright_workflow::analyze::analyze_source;
use std::path::{Path, PathBuf};

/// `fixtures/repos` at the workspace root.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/repos")
}

/// Analyzes `fixtures/repos/<name>`, labelled with its name so snapshots are stable.
pub fn analyze_fixture(name: &str) -> StackProfile {
    let path = fixtures_dir().join(name);
    let src = LocalSource::open_labelled(&path, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    analyze_source(&src).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Writes `files` (path, content) into a fresh temporary folder and analyzes it.
pub fn analyze_tree(files: &[(&str, &str)]) -> StackProfile {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let p = dir.path().join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write");
    }
    let src = LocalSource::open_labelled(dir.path(), "tree").expect("open");
    analyze_source(&src).expect("analyze")
}

/// The service at `path` (`"."` for the root), or a panic listing the services found.
pub fn service<'a>(p: &'a StackProfile, path: &str) -> &'a ServiceProfile {
    p.services
        .iter()
        .find(|s| s.path == path)
        .unwrap_or_else(|| {
            let found: Vec<&str> = p.services.iter().map(|s| s.path.as_str()).collect();
            panic!(
                "no service at `{path}`; found {found:?}; warnings: {:?}",
                p.warnings
            )
        })
}

/// Asserts the main facts of one service in one line per fixture:
/// `(language, framework, build_tool, test_framework, runtime version value, version source)`.
#[track_caller]
pub fn assert_stack(
    s: &ServiceProfile,
    language: &str,
    framework: Option<&str>,
    build_tool: Option<&str>,
    test_framework: Option<&str>,
    version: Option<(&str, &str)>,
) {
    assert_eq!(s.language.as_str(), language, "language of {}", s.path);
    assert_eq!(
        s.framework.map(|f| f.as_str()),
        framework,
        "framework of {}",
        s.path
    );
    assert_eq!(
        s.build_tool.map(|f| f.as_str()),
        build_tool,
        "build tool of {}",
        s.path
    );
    assert_eq!(
        s.test_framework.map(|f| f.as_str()),
        test_framework,
        "test framework of {}",
        s.path
    );
    let got = s
        .runtime_version
        .as_ref()
        .map(|v| (v.value.as_str(), v.source.as_str()));
    assert_eq!(got, version, "runtime version of {}", s.path);
}
