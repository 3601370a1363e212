//! One `insta` snapshot of `analyze --json` per fixture repository under `fixtures/repos/`.

mod common;

#[test]
fn every_fixture_profile_matches_its_snapshot() {
    insta::glob!("../../../fixtures/repos", "*", |path| {
        // `*` also matches the base folder itself (an empty relative path): skip it.
        let is_base =
            std::fs::canonicalize(path).ok() == std::fs::canonicalize(common::fixtures_dir()).ok();
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
