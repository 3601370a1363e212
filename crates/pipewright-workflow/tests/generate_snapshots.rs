//! The built-in generator on every fixture repository: the pipeline has the nine stages in
//! order (fewer only when no service ships an image), the ten jobs per application and the
//! seven per library (no build, security scan or push), every job's stage and needs are
//! consistent, and an `insta` snapshot pins each generated file.

mod common;

use pipewright_adapters::source::LocalSource;
use pipewright_core::generate::{generate, GeneratorSettings};
use pipewright_workflow::analyze::analyze_with_index;
use serde_json::Value;

const STAGES: [&str; 9] = [
    "compile", "build", "test", "sast", "quality", "security", "push", "notify", "learn",
];
/// The jobs of an application.
const JOBS: [&str; 10] = [
    "compile",
    "build",
    "test",
    "sast",
    "quality",
    "security",
    "push",
    "notify-success",
    "notify-failure",
    "learn",
];
/// The jobs of a library: it ships no image, so nothing is built, scanned or pushed.
const LIBRARY_JOBS: [&str; 7] = [
    "compile",
    "test",
    "sast",
    "quality",
    "notify-success",
    "notify-failure",
    "learn",
];
const TOP_LEVEL: &[&str] = &[
    "stages",
    "variables",
    "default",
    "include",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
];

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(common::fixtures_dir())
        .expect("fixtures/repos exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Checks the structure every generated pipeline must have; returns a description of what is wrong.
pub fn check_structure(
    yaml: &str,
    services: &[(String, bool)],
    monorepo: bool,
) -> Result<(), String> {
    let doc = pipewright_core::yaml::to_json(yaml).map_err(|e| format!("does not parse: {e}"))?;
    let stages: Vec<&str> = doc["stages"]
        .as_array()
        .ok_or("no stages")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let any_image = services.iter().any(|(_, library)| !library);
    let expected: Vec<&str> = STAGES
        .iter()
        .copied()
        .filter(|s| any_image || !["build", "security", "push"].contains(s))
        .collect();
    if stages != expected {
        return Err(format!("stages are {stages:?}, expected {expected:?}"));
    }
    let obj = doc.as_object().ok_or("not a mapping")?;
    let jobs: Vec<&String> = obj
        .keys()
        .filter(|k| !TOP_LEVEL.contains(&k.as_str()) && !k.starts_with('.'))
        .collect();
    let want: usize = services
        .iter()
        .map(|(_, library)| {
            if *library {
                LIBRARY_JOBS.len()
            } else {
                JOBS.len()
            }
        })
        .sum();
    if jobs.len() != want {
        return Err(format!(
            "{} jobs for {} service(s), expected {want}: {jobs:?}",
            jobs.len(),
            services.len()
        ));
    }
    for (svc, library) in services {
        let bases: &[&str] = if *library { &LIBRARY_JOBS } else { &JOBS };
        for base in bases {
            let name = if monorepo {
                format!("{base}:{svc}")
            } else {
                base.to_string()
            };
            let job = obj.get(&name).ok_or(format!("job {name} missing"))?;
            let stage = job["stage"]
                .as_str()
                .ok_or(format!("{name} has no stage"))?;
            if !STAGES.contains(&stage) {
                return Err(format!("{name} is in undeclared stage {stage}"));
            }
            if job["script"].as_array().is_none_or(|s| s.is_empty()) {
                return Err(format!("{name} has no script"));
            }
            let stage_index = STAGES.iter().position(|s| *s == stage).unwrap_or(0);
            for need in job["needs"].as_array().into_iter().flatten() {
                let target = need
                    .as_str()
                    .or_else(|| need["job"].as_str())
                    .ok_or("bad need")?;
                let dep = obj
                    .get(target)
                    .ok_or(format!("{name} needs missing job {target}"))?;
                let dep_stage = dep["stage"].as_str().unwrap_or("");
                let dep_index = STAGES.iter().position(|s| *s == dep_stage).unwrap_or(99);
                if dep_index > stage_index {
                    return Err(format!(
                        "{name} needs {target}, which runs in a later stage"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn every_fixture_gets_the_stages_and_the_jobs_of_each_service_role() {
    let mut failures = Vec::new();
    for name in fixture_names() {
        let path = common::fixtures_dir().join(&name);
        let src = LocalSource::open_labelled(&path, &name).expect("open fixture");
        let (index, profile) = analyze_with_index(&src).expect("analyze");
        if profile.services.is_empty() {
            continue;
        }
        let bundle = match generate(&profile, &index, &GeneratorSettings::default()) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let monorepo = profile.services.len() > 1;
        let slugs: Vec<(String, bool)> = profile
            .services
            .iter()
            .map(|s| {
                let p = if s.path == "." {
                    "app"
                } else {
                    s.path.as_str()
                };
                (
                    p.rsplit('/').next().unwrap_or(p).to_ascii_lowercase(),
                    s.role == pipewright_core::stack::Role::Library,
                )
            })
            .collect();
        if let Err(e) = check_structure(&bundle.files[".gitlab-ci.yml"], &slugs, monorepo) {
            failures.push(format!("{name}: {e}"));
        }
        let settings = GeneratorSettings::default();
        let findings = pipewright_workflow::generate::validate_bundle(
            &bundle,
            &pipewright_workflow::generate::validator_settings(&settings, &[]),
        );
        for f in findings
            .iter()
            .filter(|f| f.severity == pipewright_core::validate::Severity::Error)
        {
            failures.push(format!(
                "{name}: {}:{}: [{}] {}",
                f.file, f.line, f.rule, f.message
            ));
        }
        for (file, content) in &bundle.files {
            insta::assert_snapshot!(format!("{name}__{}", file.replace('/', "__")), content);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn generation_is_deterministic() {
    let path = common::fixtures_dir().join("python-flask-pip");
    let src = LocalSource::open_labelled(&path, "python-flask-pip").expect("open");
    let (index, profile) = analyze_with_index(&src).expect("analyze");
    let a = generate(&profile, &index, &GeneratorSettings::default()).expect("generate");
    let b = generate(&profile, &index, &GeneratorSettings::default()).expect("generate");
    assert_eq!(a.files, b.files);
}
