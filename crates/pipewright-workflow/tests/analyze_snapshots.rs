//! One `insta` snapshot of `analyze --json` per fixture repository under `fixtures/repos/`.

mod common;

#[test]
fn every_fixture_profile_matches_its_snapshot() {
    let mut names: Vec<String> = std::fs::read_dir(common::fixtures_dir())
        .expect("fixtures/repos exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no fixtures found");
    for name in names {
        let profile = common::analyze_fixture(&name);
        insta::assert_json_snapshot!(name.clone(), profile);
    }
}
