//! The analyzer on a repository read through the GitLab API (the fake GitLab): the fixture
//! repositories give the same services as when read from disk, and reading them costs one
//! project lookup, the tree pages and one raw read per file the detectors want.

mod common;

use common::{analyze_fixture, fixtures_dir};
use pipewright_adapters::fake_gitlab::{FakeGitLab, FAKE_TOKEN};
use pipewright_adapters::gitlab::{GitLabClient, GitLabConfig, GitLabSource, GitLabToken};
use pipewright_core::index::wants_content;
use pipewright_core::stack::ServiceProfile;
use pipewright_workflow::analyze::analyze_source;
use std::path::Path;

/// Fixtures where two applications hold the same number of source files, so that without
/// sizes (the tree API gives none) the main service, and with it the primary language, is a
/// tie that bytes on disk decide: apps/api has 3 `.js` files, apps/web 3 TypeScript files.
const FILE_COUNT_TIES: &[&str] = &["ts-pnpm-monorepo"];

/// Every text file under `dir`, as (relative path, content).
fn files_of(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("fixture folder is readable") {
            let path = entry.expect("fixture entry is readable").path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                let rel = path.strip_prefix(dir).expect("inside the fixture");
                out.push((rel.to_string_lossy().replace('\\', "/"), text));
            }
        }
    }
    out.sort();
    out
}

/// What a service is, leaving out what depends on measured sizes.
fn summary(s: &ServiceProfile) -> String {
    format!(
        "{} {} fw={:?} build={:?} test={:?} runtime={:?} port={:?} dbs={:?} role={:?} commands={:?}",
        s.path,
        s.language.as_str(),
        s.framework,
        s.build_tool,
        s.test_framework,
        s.runtime_version,
        s.port,
        s.databases,
        s.role,
        s.commands
    )
}

#[tokio::test]
async fn fixtures_read_through_gitlab_give_the_same_services_as_from_disk() {
    let gitlab = FakeGitLab::start().await.expect("fake GitLab starts");
    let mut config = GitLabConfig::new(gitlab.url(), GitLabToken::new(FAKE_TOKEN));
    config.page_size = 20;
    let client = GitLabClient::new(config).expect("valid configuration");
    let mut mismatches = Vec::new();
    let fixtures = [
        "python-flask-pip",
        "js-express-npm",
        "ruby-rails-minitest",
        "ts-pnpm-monorepo",
        "php-symfony",
    ];
    for name in fixtures {
        let files = files_of(&fixtures_dir().join(name));
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        gitlab.add_project(&format!("fixtures/{name}"), &refs);
        let before = client.requests_sent();

        let source =
            GitLabSource::fetch(&client, &format!("fixtures/{name}").as_str().into(), None)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        let remote = analyze_source(&source).unwrap_or_else(|e| panic!("{name}: {e}"));

        let local = analyze_fixture(name);
        let a: Vec<String> = local.services.iter().map(summary).collect();
        let b: Vec<String> = remote.services.iter().map(summary).collect();
        if a != b {
            mismatches.push(format!("{name}:\n  disk:   {a:?}\n  gitlab: {b:?}"));
        }
        assert!(remote.index.bytes_estimated, "{name}: sizes are estimates");
        // Without any size, shares follow file counts instead of all being zero.
        assert!(
            remote
                .languages
                .iter()
                .all(|l| l.bytes > 0 && l.share > 0.0),
            "{name}: {:?}",
            remote.languages
        );
        assert_eq!(remote.index.files_read, local.index.files_read, "{name}");
        let language_set = |p: &pipewright_core::stack::StackProfile| {
            let mut names: Vec<String> = p.languages.iter().map(|l| l.name.clone()).collect();
            names.sort();
            names
        };
        assert_eq!(language_set(&local), language_set(&remote), "{name}");
        if local.primary_language != remote.primary_language && !FILE_COUNT_TIES.contains(&name) {
            mismatches.push(format!(
                "{name}: primary language {:?} from disk, {:?} through GitLab",
                local.primary_language, remote.primary_language
            ));
        }
        // Folders count as tree entries too.
        let mut folders = std::collections::BTreeSet::new();
        for (path, _) in &files {
            let mut end = 0;
            while let Some(i) = path[end..].find('/') {
                end += i;
                folders.insert(&path[..end]);
                end += 1;
            }
        }
        let pages = (files.len() + folders.len()).div_ceil(20) as u64;
        let wanted = files
            .iter()
            .filter(|(p, _)| !p.split('/').any(|c| c == "node_modules") && wants_content(p))
            .count() as u64;
        assert_eq!(
            client.requests_sent() - before,
            1 + pages + wanted,
            "{name}: one lookup, {pages} tree pages, {wanted} raw reads"
        );
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
