//! What the generator decides for JavaScript and TypeScript services, one behaviour per test,
//! on the fixtures that reproduce each defect real builds found: test fallbacks, install
//! scripts that need the sources, the package manager's version, stale lock files, empty test
//! suites, the lock file chosen among several, and the Node version the repository proves.

mod common;

use pipewright_adapters::source::LocalSource;
use pipewright_core::generate::{generate, GeneratorSettings, PipelineBundle};
use pipewright_core::stack::StackProfile;
use pipewright_workflow::analyze::analyze_with_index;
use serde_json::Value;

fn generate_fixture(name: &str) -> (StackProfile, PipelineBundle) {
    let path = common::fixtures_dir().join(name);
    let src = LocalSource::open_labelled(&path, name).expect("open fixture");
    let (index, profile) = analyze_with_index(&src).expect("analyze");
    let bundle = generate(&profile, &index, &GeneratorSettings::default()).expect("generate");
    (profile, bundle)
}

fn job_script(bundle: &PipelineBundle, job: &str) -> Vec<String> {
    let doc = pipewright_core::yaml::to_json(&bundle.files[".gitlab-ci.yml"]).expect("yaml");
    doc[job]["script"]
        .as_array()
        .unwrap_or_else(|| panic!("job {job} has no script"))
        .iter()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect()
}

#[track_caller]
fn assert_mentions<T: std::fmt::Display + std::fmt::Debug>(lines: &[T], needle: &str) {
    assert!(
        lines.iter().any(|l| l.to_string().contains(needle)),
        "nothing mentions `{needle}` in {lines:#?}"
    );
}

/// The line numbers of the first lines containing each needle, in the Dockerfile.
#[track_caller]
fn line_of(dockerfile: &str, needle: &str) -> usize {
    dockerfile
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no `{needle}` in the Dockerfile:\n{dockerfile}"))
}

#[test]
fn next_app_without_a_test_script_is_type_checked_and_linted_not_node_checked() {
    let (_, bundle) = generate_fixture("run-ts-next-notest");
    let test = job_script(&bundle, "test");
    assert_eq!(
        test.get(1..3),
        Some(
            &[
                "npx --no-install tsc --noEmit".to_string(),
                "npx --no-install next lint".to_string()
            ][..]
        ),
        "{test:?}"
    );
    assert!(!test.iter().any(|l| l.contains("node --check")), "{test:?}");
    assert_mentions(&bundle.warnings, "no test script in package.json");
    assert_mentions(&bundle.explanation, "tsc --noEmit");
}

#[test]
fn a_package_without_tests_or_type_checks_gets_no_test_command_and_a_warning() {
    let (_, bundle) = generate_fixture("js-two-locks");
    let test = job_script(&bundle, "test");
    assert_eq!(test, ["cd \"$APP_DIR\""], "{test:?}");
    assert_mentions(&bundle.warnings, "no test script, no test framework");
}

#[test]
fn install_scripts_run_after_the_sources_are_copied() {
    let (_, bundle) = generate_fixture("run-js-pnpm-codegen");
    let d = &bundle.files["Dockerfile"];
    let install = line_of(
        d,
        "pnpm install --frozen-lockfile --prod=false --ignore-scripts",
    );
    let copy = line_of(d, "COPY . .");
    let rebuild = line_of(d, "RUN pnpm rebuild");
    assert!(install < copy && copy < rebuild, "{d}");
    assert_mentions(&bundle.explanation, "postinstall");
}

#[test]
fn pnpm_comes_from_the_npm_registry_at_the_lock_files_major() {
    let (profile, bundle) = generate_fixture("run-js-pnpm-codegen");
    let pnpm = profile.services[0]
        .versions
        .iter()
        .find(|v| v.name == "pnpm")
        .expect("pnpm version");
    assert_eq!(pnpm.value, "9");
    assert!(pnpm.source.contains("lockfileVersion '9.0'"), "{pnpm:?}");
    let d = &bundle.files["Dockerfile"];
    assert!(d.contains("npm install -g pnpm@9 \\"), "{d}");
    assert!(!d.contains("corepack"), "{d}");
    assert_mentions(&job_script(&bundle, "compile"), "npm install -g pnpm@9");
}

#[test]
fn pnpm_version_comes_from_package_manager_first() {
    let (_, bundle) = generate_fixture("ts-nest-app");
    let d = &bundle.files["Dockerfile"];
    assert!(d.contains("npm install -g pnpm@9.1.0"), "{d}");
    assert!(!d.contains("corepack"), "{d}");
}

#[test]
fn yarn_classic_uses_the_images_yarn_and_starts_the_scripts_command() {
    let (_, bundle) = generate_fixture("run-ts-nest-yarn");
    let d = &bundle.files["Dockerfile"];
    assert!(!d.contains("corepack"), "{d}");
    assert!(d.contains("RUN yarn install --frozen-lockfile"), "{d}");
    assert!(d.contains("CMD [\"node\", \"dist/main\"]"), "{d}");
}

#[test]
fn a_stale_yarn_lock_installs_unfrozen_and_says_so() {
    let (profile, bundle) = generate_fixture("js-stale-yarn-lock");
    let s = &profile.services[0];
    assert_eq!(s.commands.install.as_deref(), Some("yarn install"));
    assert_mentions(&profile.warnings, "dayjs@^1.11.10 is not in the lock");
    assert_mentions(
        &bundle.warnings,
        "yarn.lock is out of date with package.json",
    );
    assert_mentions(&bundle.explanation, "dayjs@^1.11.10 is not in the lock");
    let d = &bundle.files["Dockerfile"];
    assert!(!d.contains("--frozen-lockfile"), "{d}");
}

#[test]
fn jest_without_test_files_passes_with_no_tests_and_warns() {
    let (_, bundle) = generate_fixture("js-jest-without-tests");
    let test = job_script(&bundle, "test");
    assert_mentions(&test, "npm test -- --passWithNoTests");
    assert_mentions(&bundle.warnings, "no test files were found");
    // With test files, nothing is added.
    let (_, bundle) = generate_fixture("run-ts-nest-yarn");
    let test = job_script(&bundle, "test");
    assert!(
        !test.iter().any(|l| l.contains("passWithNoTests")),
        "{test:?}"
    );
}

#[test]
fn mocha_without_test_files_is_not_run_and_the_warning_says_why() {
    // `"test": "mocha"` and no test/ folder: mocha exits 1 ("No test files found") and has no
    // flag to pass without tests (real builds: the test job failed in the image).
    let (_, bundle) = generate_fixture("js-stale-yarn-lock");
    let test = job_script(&bundle, "test");
    assert!(!test.iter().any(|l| l.contains("yarn test")), "{test:?}");
    assert_mentions(&bundle.warnings, "mocha looks in test/");
    // With test files (test/key.test.js, `mocha --recursive`), mocha runs.
    let (_, bundle) = generate_fixture("js-library-mocha");
    assert_mentions(&job_script(&bundle, "test"), "npm test");
}

#[test]
fn the_lock_file_that_agrees_with_package_json_is_chosen() {
    let (profile, bundle) = generate_fixture("js-two-locks");
    let s = &profile.services[0];
    assert_eq!(s.build_tool.map(|b| b.as_str()), Some("npm"));
    assert_eq!(s.commands.install.as_deref(), Some("npm ci"));
    let why = s
        .evidence
        .iter()
        .find(|e| e.conclusion == "build_tool")
        .expect("build tool evidence");
    assert!(
        why.detail
            .contains("package-lock.json agrees with package.json")
            && why.detail.contains("yarn.lock does not"),
        "{why:?}"
    );
    assert!(bundle.files["Dockerfile"].contains("RUN npm ci"));
}

#[test]
fn a_node_range_resolves_to_the_version_ci_proves() {
    let (profile, bundle) = generate_fixture("run-js-pnpm-codegen");
    let v = profile.services[0]
        .runtime_version
        .as_ref()
        .expect("node version");
    assert_eq!(v.value, "18");
    assert!(
        v.source.contains(".github/workflows/ci.yml") && v.source.contains(">=18"),
        "{v:?}"
    );
    assert!(bundle.files["Dockerfile"].contains("node:18-slim"));
    assert_mentions(&bundle.explanation, ".github/workflows/ci.yml");
}

#[test]
fn dev_dependencies_are_installed_in_the_image_whatever_npmrc_says() {
    // The fixture's .npmrc says `omit=dev`: `npm ci` alone leaves mocha out of the test image.
    let (_, bundle) = generate_fixture("run-js-npmrc-omit-dev");
    let d = &bundle.files["Dockerfile"];
    assert!(d.contains("RUN npm ci --include=dev"), "{d}");
    // The runtime is still pruned.
    assert!(d.contains("RUN npm prune --omit=dev"), "{d}");
}
