//! Seeding: every image the built-in generator writes, on every fixture, resolves to an
//! upstream source with no unresolved variable; and `seed_images` against two real registries
//! (an upstream reached through mirrors, a "Nexus" with Basic auth) copies what is missing,
//! names what cannot be copied while copying the rest, and finds everything present next time.

mod common;

use pipewright_adapters::registry::{
    ClientSettings, CopySettings, Credentials, NativeRegistry, Secret,
};
use pipewright_adapters::source::LocalSource;
use pipewright_adapters::test_registry::{RegistryServer, TestBlob, TestImage, TestPlatform};
use pipewright_core::generate::{generate, GeneratorSettings};
use pipewright_core::images::{ImageSettings, Mirror};
use pipewright_workflow::analyze::analyze_with_index;
use pipewright_workflow::images::{plan_files, seed_images, SeedOptions};
use std::collections::BTreeMap;

#[test]
fn every_generated_image_has_an_upstream_source() {
    let settings = ImageSettings::for_registry("nexus:5001", None, &GeneratorSettings::default());
    let mut failures = Vec::new();
    let mut fixtures: Vec<_> = std::fs::read_dir(common::fixtures_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    fixtures.sort_by_key(|e| e.file_name());
    let mut seen = 0;
    for entry in fixtures {
        let name = entry.file_name().to_string_lossy().to_string();
        let src = LocalSource::open_labelled(&entry.path(), &name).expect("open fixture");
        let (index, profile) = analyze_with_index(&src).expect("analyze");
        if profile.services.is_empty() {
            continue;
        }
        let Ok(bundle) = generate(&profile, &index, &GeneratorSettings::default()) else {
            continue;
        };
        let plan = plan_files(&bundle.files, &settings);
        for p in &plan.problems {
            failures.push(format!(
                "{name}: {} ({}): {}",
                p.written, p.used_by, p.reason
            ));
        }
        for i in &plan.images {
            seen += 1;
            if i.source.is_none() {
                failures.push(format!(
                    "{name}: no upstream for {} ({:?})",
                    i.target, i.used_by
                ));
            }
        }
        if !plan.external.is_empty() {
            failures.push(format!(
                "{name}: images outside the registry: {:?}",
                plan.external
            ));
        }
    }
    assert!(seen > 100, "only {seen} images seen");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const USER: &str = "seeder";
const PASS: &str = "Wf-pa55-word";

fn files() -> BTreeMap<String, String> {
    let ci = "stages: [build, test]\n\
build:\n  stage: build\n  image:\n    name: $NEXUS_PULL_REGISTRY/apm-repo/demo/kaniko:v1.27.6-debug\n    entrypoint: ['']\n  script:\n    - /kaniko/executor --destination \"$NEXUS_INTERNAL_REGISTRY/apm-repo/demo/shop:$CI_COMMIT_SHORT_SHA\" --build-arg \"BASE_REGISTRY=$NEXUS_INTERNAL_REGISTRY\"\n\
test:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/shop:$CI_COMMIT_SHORT_SHA\n  services:\n    - name: $NEXUS_PULL_REGISTRY/apm-repo/demo/postgres:16-alpine\n  script: [pytest]\n";
    let dockerfile = "ARG BASE_REGISTRY=ai-nexus:5001\nFROM ${BASE_REGISTRY}/apm-repo/demo/python:3.12-slim AS runtime\nCMD [\"python\"]\n";
    [(".gitlab-ci.yml", ci), ("Dockerfile", dockerfile)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn missing_images_are_copied_and_one_that_cannot_be_is_named() {
    let (Some(upstream), Some(nexus)) = (
        RegistryServer::start(None),
        RegistryServer::start(Some((USER, PASS))),
    ) else {
        return;
    };
    let b = |seed, size| TestBlob { seed, size };
    let python = TestImage {
        repository: "library/python".into(),
        tag: "3.12-slim".into(),
        platforms: vec![
            TestPlatform::new("linux", "amd64", vec![b(1, 100_000)]),
            TestPlatform::new("linux", "arm64", vec![b(2, 100_000)]),
        ],
        index: true,
    }
    .push(&upstream.url(), None)
    .await;
    let kaniko = TestImage {
        repository: "osscontainertools/kaniko".into(),
        tag: "v1.27.6-debug".into(),
        platforms: vec![TestPlatform::new("linux", "amd64", vec![b(3, 50_000)])],
        index: false,
    }
    .push(&upstream.url(), None)
    .await;
    // Postgres is not upstream: it must fail by name while the others are copied.

    let mut settings =
        ImageSettings::for_registry(&nexus.host, None, &GeneratorSettings::default());
    settings.mirrors =
        Mirror::parse_list(&format!("docker.io={0},ghcr.io={0}", upstream.host)).unwrap();
    let registry = NativeRegistry::new(
        ClientSettings {
            credentials: vec![(
                nexus.host.clone(),
                Credentials {
                    username: USER.into(),
                    password: Secret::new(PASS),
                },
            )],
            insecure: vec![nexus.host.clone(), upstream.host.clone()],
            ..Default::default()
        },
        CopySettings::default(),
    )
    .unwrap();
    let plan = plan_files(&files(), &settings);
    assert_eq!(
        plan.built,
        vec!["$NEXUS_PULL_REGISTRY/apm-repo/demo/shop:$CI_COMMIT_SHORT_SHA"]
    );

    let report = seed_images(&registry, &plan, &SeedOptions::default()).await;
    let by_target: BTreeMap<String, _> = report
        .images
        .iter()
        .map(|i| (i.target.clone(), i))
        .collect();
    let py = by_target[&format!("{}/apm-repo/demo/python:3.12-slim", nexus.host)];
    assert!(py.present && py.copied, "{py:?}");
    assert_eq!(
        py.source.as_deref(),
        Some("docker.io/library/python:3.12-slim")
    );
    assert_eq!(py.digest.as_deref(), Some(python.digest.as_str()));
    let k = by_target[&format!("{}/apm-repo/demo/kaniko:v1.27.6-debug", nexus.host)];
    assert!(k.present && k.copied, "{k:?}");
    assert_eq!(k.digest.as_deref(), Some(kaniko.digest.as_str()));
    let pg = by_target[&format!("{}/apm-repo/demo/postgres:16-alpine", nexus.host)];
    assert!(!pg.present && !pg.copied);
    let error = pg.error.as_deref().unwrap();
    assert!(
        error.contains("library/postgres:16-alpine") && error.contains("does not exist"),
        "{error}"
    );
    assert!(!report.all_present());
    assert_eq!(report.failures().len(), 1);
    assert!(report.failures()[0].contains("apm-repo/demo/postgres:16-alpine"));
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains(PASS));

    // Next time the copied images are found, nothing is copied.
    let again = seed_images(&registry, &plan, &SeedOptions::default()).await;
    let present: Vec<bool> = again.images.iter().map(|i| i.present).collect();
    assert_eq!(present.iter().filter(|p| **p).count(), 2);
    assert!(again.images.iter().all(|i| !i.copied));

    // Looking only (no seed) and a dry run copy nothing.
    let look = seed_images(
        &registry,
        &plan,
        &SeedOptions {
            seed: false,
            ..Default::default()
        },
    )
    .await;
    assert!(look.images.iter().all(|i| !i.copied));
    let dry = seed_images(
        &registry,
        &plan,
        &SeedOptions {
            dry_run: true,
            ..Default::default()
        },
    )
    .await;
    let pg = dry
        .images
        .iter()
        .find(|i| i.target.contains("postgres"))
        .unwrap();
    assert!(pg.error.as_deref().unwrap().contains("dry run"));
}
