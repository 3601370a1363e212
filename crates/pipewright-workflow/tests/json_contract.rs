//! The versioned machine contract (issue 14): the profile of every fixture validates against
//! `schemas/analysis.schema.json`, and the generation summary of every fixture against
//! `schemas/generate.schema.json`, both carrying `schema_version`; the explanation is a list
//! of `{service, topic, text}`; the schemas' closed sets are exactly the model's names.

mod common;

use pipewright_adapters::source::LocalSource;
use pipewright_core::generate::{GeneratorSettings, Topic};
use pipewright_core::stack::{
    BuildTool, Database, Framework, Language, StackProfile, TestFramework, SCHEMA_VERSION,
};
use pipewright_workflow::generate::generate_from_source;
use pipewright_workflow::paths::{choose_path, GenerateSummary, PathOptions};
use serde_json::Value;

const ANALYSIS_URI: &str = "https://pipewright.dev/schemas/analysis.schema.json";

fn schema(name: &str) -> Value {
    let path = common::fixtures_dir().join("../../schemas").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

/// A compiled contract schema; the generate schema's `profile` reference is served the
/// analysis schema beside it, offline.
struct Validator {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

fn validator(name: &str) -> Validator {
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource(ANALYSIS_URI, schema("analysis.schema.json"))
        .expect("analysis schema");
    let location = format!("https://pipewright.dev/schemas/{name}");
    if location != ANALYSIS_URI {
        compiler
            .add_resource(&location, schema(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile(&location, &mut schemas)
        .unwrap_or_else(|e| panic!("{name} is not a valid schema: {e:#}"));
    Validator { schemas, index }
}

/// The violations of `instance` (empty when it conforms), the whole error tree in one entry.
fn errors(v: &Validator, instance: &Value) -> Vec<String> {
    match v.schemas.validate(instance, v.index) {
        Ok(()) => Vec::new(),
        Err(e) => vec![format!("{e:#}")],
    }
}

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(common::fixtures_dir())
        .expect("fixtures/repos")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn every_fixture_profile_and_generation_validates_against_the_published_schemas() {
    let analysis = validator("analysis.schema.json");
    let generation = validator("generate.schema.json");
    let mut failures = Vec::new();
    let mut generated = 0;
    for name in fixture_names() {
        let path = common::fixtures_dir().join(&name);
        let src = LocalSource::open_labelled(&path, &name).expect("open fixture");
        let profile = serde_json::to_value(common::analyze_fixture(&name)).expect("profile");
        assert_eq!(profile["schema_version"], SCHEMA_VERSION, "{name}");
        failures.extend(
            errors(&analysis, &profile)
                .into_iter()
                .map(|e| format!("{name} (analysis): {e}")),
        );
        let Ok(outcome) = generate_from_source(&src, &GeneratorSettings::default(), &[]) else {
            continue; // a fixture with no service: nothing to generate
        };
        let opts = PathOptions {
            template_only: true,
            store: Err("not used".into()),
            llm: Err("not used".into()),
            temperature: 0.0,
            repair_rounds: 0,
        };
        let (outcome, report) = choose_path(outcome, &opts, &Default::default()).await;
        let summary = serde_json::to_value(GenerateSummary::new(outcome, report)).expect("json");
        assert_eq!(summary["schema_version"], SCHEMA_VERSION, "{name}");
        failures.extend(
            errors(&generation, &summary)
                .into_iter()
                .map(|e| format!("{name} (generate): {e}")),
        );
        generated += 1;
    }
    assert!(generated > 80, "only {generated} fixtures generated");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_profile_that_drops_a_field_or_names_an_unknown_framework_is_refused_by_the_schema() {
    // The schema can fail: it is not a `true` that accepts anything.
    let analysis = validator("analysis.schema.json");
    let mut p = serde_json::to_value(common::analyze_fixture("python-flask-pip")).unwrap();
    assert!(errors(&analysis, &p).is_empty());
    p["services"][0]["framework"] = "flaskk".into();
    assert!(!errors(&analysis, &p).is_empty());
    p["services"][0]["framework"] = "flask".into();
    p.as_object_mut().unwrap().remove("schema_version");
    assert!(!errors(&analysis, &p).is_empty());
    // Reading a profile of another contract version is refused with both versions named.
    p["schema_version"] = 2.into();
    let err = serde_json::from_value::<StackProfile>(p)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("schema_version 2 is not supported: this pipewright reads version 1"),
        "{err}"
    );
}

#[tokio::test]
async fn the_explanation_says_which_service_each_decision_is_about_and_its_topic() {
    let name = "monorepo-compose-dockerfile-only";
    let src = LocalSource::open_labelled(&common::fixtures_dir().join(name), name).unwrap();
    let outcome = generate_from_source(&src, &GeneratorSettings::default(), &[]).unwrap();
    let e = &outcome.bundle.explanation;
    for path in ["api", "pdf-renderer"] {
        assert!(
            e.iter()
                .any(|x| x.service.as_deref() == Some(path) && x.topic == Topic::Runtime),
            "no runtime decision for {path}: {e:#?}"
        );
    }
    let renderer = e
        .iter()
        .find(|x| x.service.as_deref() == Some("pdf-renderer") && x.topic == Topic::Runtime)
        .unwrap();
    // The terminal shows the service as a label, the JSON as a field.
    assert!(renderer.to_string().starts_with("[pdf-renderer] "));
    assert!(!renderer.text.starts_with('['));
    let json = serde_json::to_value(renderer).unwrap();
    assert_eq!(json["service"], "pdf-renderer");
    assert_eq!(json["topic"], "runtime");

    // Pipeline-wide decisions name no service.
    let opts = PathOptions {
        template_only: false,
        store: Err("not used".into()),
        llm: Err("not used".into()),
        temperature: 0.0,
        repair_rounds: 0,
    };
    let (outcome, _) = choose_path(outcome, &opts, &Default::default()).await;
    let path = outcome
        .bundle
        .explanation
        .iter()
        .find(|x| x.topic == Topic::Path)
        .expect("a path decision");
    assert_eq!(path.service, None);
    assert!(path.text.contains("a monorepo"), "{}", path.text);
}

#[test]
fn the_schemas_closed_sets_are_the_models_names() {
    let analysis = schema("analysis.schema.json");
    let defs = &analysis["$defs"];
    let listed = |key: &str| -> Vec<String> {
        defs[key]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("$defs.{key}.enum"))
            .iter()
            .map(|x| x.as_str().unwrap_or_default().to_string())
            .collect()
    };
    let names = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
    assert_eq!(
        listed("language"),
        names(Language::ALL.iter().map(|x| x.as_str()).collect())
    );
    assert_eq!(
        listed("framework"),
        names(Framework::ALL.iter().map(|x| x.as_str()).collect())
    );
    assert_eq!(
        listed("build_tool"),
        names(BuildTool::ALL.iter().map(|x| x.as_str()).collect())
    );
    assert_eq!(
        listed("test_framework"),
        names(TestFramework::ALL.iter().map(|x| x.as_str()).collect())
    );
    assert_eq!(
        listed("database"),
        names(Database::ALL.iter().map(|x| x.as_str()).collect())
    );
    let generate = schema("generate.schema.json");
    let topics: Vec<String> = generate["$defs"]["explanation"]["properties"]["topic"]["enum"]
        .as_array()
        .expect("topic enum")
        .iter()
        .map(|x| x.as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        topics,
        names(Topic::ALL.iter().map(|t| t.as_str()).collect())
    );
    for s in [&analysis, &generate] {
        assert_eq!(s["properties"]["schema_version"]["const"], SCHEMA_VERSION);
    }
}
