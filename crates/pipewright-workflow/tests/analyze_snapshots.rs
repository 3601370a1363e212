//! One `insta` snapshot of `analyze --json` per fixture repository under `fixtures/repos/`.

mod common;

#[test]
fn every_fixture_profile_matches_its_snapshot() {
    insta::glob!("../../../fixtures/repos", "*", |path| {
        // walkdir also yields the glob's base folder, which `*` matches: skip it.
        let is_base = path.canonicalize().ok() == common::fixtures_dir().canonicalize().ok();
        if !path.is_dir() || is_base {
            return;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("fixture folder names are UTF-8");
        let profile = common::analyze_fixture(name);
        insta::assert_json_snapshot!(name, profile);
    });
}
