//! `pipewright.toml` overrides (issue 14): every field set in the repository's file wins over
//! detection and shows as evidence; layers; ignored folders; added services; wrong values.

mod common;

use common::{analyze_fixture, analyze_tree, fixtures_dir, service};
use pipewright_adapters::source::LocalSource;
use pipewright_core::overrides::Overrides;
use pipewright_core::source::SourceError;
use pipewright_core::stack::Role;
use pipewright_workflow::analyze::{analyze_with_overrides, OverrideLayers};

fn set_in(s: &pipewright_core::stack::ServiceProfile, conclusion: &str) -> bool {
    s.evidence.iter().any(|e| {
        e.conclusion == conclusion
            && e.file == "pipewright.toml"
            && e.detail.contains("set in pipewright.toml")
    })
}

#[test]
fn every_field_of_the_repository_file_wins_over_detection_with_evidence() {
    let p = analyze_fixture("python-flask-overrides");
    // tools/codegen (an express app) is ignored by `ignore = ["tools/*"]`.
    let paths: Vec<&str> = p.services.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, vec!["."]);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("tools/codegen: not a service: ignored by `tools/*`")),
        "{:?}",
        p.warnings
    );
    let s = service(&p, ".");
    assert_eq!(s.language.as_str(), "python");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("flask"));
    assert_eq!(s.build_tool.map(|b| b.as_str()), Some("pip"));
    assert_eq!(s.test_framework.map(|t| t.as_str()), Some("pytest"));
    let rv = s.runtime_version.as_ref().expect("runtime version");
    assert_eq!((rv.name.as_str(), rv.value.as_str()), ("python", "3.12"));
    assert_eq!(rv.source, "pipewright.toml (set in pipewright.toml)");
    assert!(
        !p.warnings
            .iter()
            .any(|w| w.contains("no python version is pinned")),
        "{:?}",
        p.warnings
    );
    assert_eq!(s.port, Some(8080));
    assert_eq!(s.port_source.as_deref(), Some("pipewright.toml"));
    let dbs: Vec<&str> = s.databases.iter().map(|d| d.as_str()).collect();
    assert_eq!(dbs, vec!["postgresql", "redis"]);
    assert_eq!(
        s.commands.install.as_deref(),
        Some("pip install -r requirements.txt")
    );
    assert_eq!(
        s.commands.build.as_deref(),
        Some("python -m compileall -q src")
    );
    assert_eq!(s.commands.test.as_deref(), Some("PYTHONPATH=src pytest -q"));
    assert_eq!(s.commands.lint.as_deref(), Some("ruff check src tests"));
    assert_eq!(
        s.commands.start.as_deref(),
        Some("gunicorn --chdir src 'web.factory:build()' --bind 0.0.0.0:8080")
    );
    assert_eq!(s.role, Role::Application);
    for field in [
        "language",
        "framework",
        "build_tool",
        "test_framework",
        "runtime_version",
        "port",
        "database",
    ] {
        assert!(set_in(s, field), "{field}: {:?}", s.evidence);
    }
    assert_eq!(
        s.evidence
            .iter()
            .filter(|e| e.conclusion == "command" && e.detail.ends_with("set in pipewright.toml"))
            .count(),
        5
    );
}

#[test]
fn an_explicit_layer_wins_over_the_repository_file_and_the_user_layer_loses_to_it() {
    let src =
        LocalSource::open_labelled(&fixtures_dir().join("python-flask-overrides"), "x").unwrap();
    let layers = OverrideLayers {
        user: Some(
            Overrides::from_toml(
                "[services.\".\"]\nport = 9999\nframework = \"django\"\n",
                "user.toml",
            )
            .unwrap(),
        ),
        explicit: Some(Overrides::from_toml("[services.\".\"]\nport = 7000\n", "ci.toml").unwrap()),
    };
    let (_, p) = analyze_with_overrides(&src, &layers).unwrap();
    let s = service(&p, ".");
    assert_eq!(s.port, Some(7000));
    assert_eq!(s.port_source.as_deref(), Some("ci.toml"));
    // The repository's own file sets flask, above the user's django.
    assert_eq!(s.framework.map(|f| f.as_str()), Some("flask"));
}

#[test]
fn a_service_detection_missed_is_added_when_its_language_is_given() {
    let p = analyze_tree(&[
        ("requirements.txt", "flask==3.0.3\n"),
        ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
        ("worker/run.py", "print('work')\n"),
        ("pipewright.toml", "[services.worker]\nlanguage = \"python\"\n[services.worker.commands]\nstart = \"python run.py\"\n"),
    ]);
    let w = service(&p, "worker");
    assert_eq!(w.language.as_str(), "python");
    assert_eq!(w.role, Role::Application);
    assert_eq!(w.commands.start.as_deref(), Some("python run.py"));
    assert!(p.monorepo);
}

#[test]
fn a_wrong_value_is_an_error_naming_the_key_and_the_valid_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("requirements.txt"), "flask==3.0\n").unwrap();
    std::fs::write(
        dir.path().join("pipewright.toml"),
        "[services.\".\"]\nframework = \"flaks\"\n",
    )
    .unwrap();
    let src = LocalSource::open_labelled(dir.path(), "tree").unwrap();
    let err = analyze_with_overrides(&src, &OverrideLayers::default()).unwrap_err();
    assert!(matches!(err, SourceError::BadOverrides(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("pipewright.toml: services.\".\".framework: unknown framework `flaks`"),
        "{msg}"
    );
    assert!(msg.contains("valid: sinatra, rails"), "{msg}");
    assert!(err.is_usage_error());

    // A service entry for a folder with no service and no language.
    std::fs::write(
        dir.path().join("pipewright.toml"),
        "[services.ghost]\nport = 80\n",
    )
    .unwrap();
    let src = LocalSource::open_labelled(dir.path(), "tree").unwrap();
    let msg = analyze_with_overrides(&src, &OverrideLayers::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("no service was detected in `ghost`; to add one, set its `language`"),
        "{msg}"
    );
}

#[test]
fn the_repository_files_tools_and_mirrors_fill_what_the_operator_left_at_the_defaults() {
    use pipewright_core::generate::{GeneratorSettings, Topic};
    use pipewright_workflow::generate::generate_from_source;
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in [
        ("requirements.txt", "flask==3.0.3\n"),
        ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
        (
            "pipewright.toml",
            "[tools]\ntrivy = \"0.55.1\"\n\n[mirrors]\npypi = \"https://nexus.example.com/repository/pypi/simple\"\nnpm = \"$NPM_MIRROR\"\n",
        ),
    ] {
        std::fs::write(dir.path().join(path), text).unwrap();
    }
    let src = LocalSource::open_labelled(dir.path(), "tree").unwrap();
    let outcome = generate_from_source(&src, &GeneratorSettings::default(), &[]).unwrap();
    let ci = &outcome.bundle.files[".gitlab-ci.yml"];
    assert!(ci.contains("trivy:0.55.1"), "{ci}");
    assert!(
        ci.contains("PIP_INDEX_URL: https://nexus.example.com/repository/pypi/simple"),
        "{ci}"
    );
    let settings_lines: Vec<&str> = outcome
        .bundle
        .explanation
        .iter()
        .filter(|e| e.topic == Topic::Settings)
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(
        settings_lines,
        vec![
            "the repository's pipewright.toml sets the trivy image to trivy:0.55.1",
            "the repository's pipewright.toml sets the npm mirror",
            "the repository's pipewright.toml sets the pypi mirror",
        ]
    );

    // What the operator set wins over the repository's file.
    let mut operator = GeneratorSettings::default();
    operator.tools.set(
        pipewright_core::generate::Tool::Trivy,
        None,
        Some("0.60.0".into()),
        None,
    );
    operator
        .mirrors
        .set("pypi", "https://mirror.internal/pypi/simple")
        .unwrap();
    let outcome = generate_from_source(&src, &operator, &[]).unwrap();
    let ci = &outcome.bundle.files[".gitlab-ci.yml"];
    assert!(
        ci.contains("trivy:0.60.0") && !ci.contains("0.55.1"),
        "{ci}"
    );
    assert!(ci.contains("https://mirror.internal/pypi/simple"), "{ci}");
    assert!(!ci.contains("nexus.example.com"), "{ci}");

    // A wrong entry is refused with the valid names.
    std::fs::write(
        dir.path().join("pipewright.toml"),
        "[tools]\ntrivvy = \"1\"\n",
    )
    .unwrap();
    let src = LocalSource::open_labelled(dir.path(), "tree").unwrap();
    let Err(err) = generate_from_source(&src, &GeneratorSettings::default(), &[]) else {
        panic!("refused");
    };
    let err = err.to_string();
    assert!(
        err.contains("pipewright.toml: tools.trivvy: unknown tool `trivvy` in [tools]; the tools are kaniko, trivy"),
        "{err}"
    );
    std::fs::write(
        dir.path().join("pipewright.toml"),
        "[mirrors]\npypi = \"https://user:secret@nexus.example.com/pypi\"\n",
    )
    .unwrap();
    let src = LocalSource::open_labelled(dir.path(), "tree").unwrap();
    let Err(err) = generate_from_source(&src, &GeneratorSettings::default(), &[]) else {
        panic!("refused");
    };
    let err = err.to_string();
    assert!(
        err.contains("mirrors.pypi: the pypi mirror holds credentials"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}
