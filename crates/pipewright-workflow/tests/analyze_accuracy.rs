//! The analyzer's accuracy per field over every fixture (issue 14): each answer is compared
//! with `fixtures/expected.toml` and the figures are printed (`scripts/accuracy.sh` runs this
//! with `--nocapture`). The test fails when a fixture has no expected row, or when any field
//! falls under 97 %.

mod common;

use common::{analyze_fixture, fixtures_dir};
use std::collections::{BTreeMap, BTreeSet};

/// The fields measured, in the order printed.
const FIELDS: &[&str] = &[
    "language",
    "framework",
    "build_tool",
    "test_framework",
    "runtime_version",
    "port",
    "role",
];

const FLOOR: f64 = 0.97;

fn expected() -> Vec<toml::Table> {
    let path = fixtures_dir().join("../expected.toml");
    let text = std::fs::read_to_string(&path).expect("fixtures/expected.toml");
    let table: toml::Table = text.parse().expect("expected.toml is TOML");
    table["service"]
        .as_array()
        .expect("[[service]] rows")
        .iter()
        .map(|v| v.as_table().expect("a row is a table").clone())
        .collect()
}

/// A field of an analyzed service as the expected table writes it.
fn actual(s: &serde_json::Value, field: &str) -> String {
    let v = match field {
        "runtime_version" => &s["runtime_version"]["value"],
        f => &s[f],
    };
    match v {
        serde_json::Value::Null => "none".into(),
        serde_json::Value::String(t) => t.clone(),
        other => other.to_string(),
    }
}

fn wanted(row: &toml::Table, field: &str) -> String {
    match &row[field] {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn every_field_is_right_on_at_least_97_percent_of_the_fixtures() {
    let rows = expected();
    let mut by_fixture: BTreeMap<String, Vec<&toml::Table>> = BTreeMap::new();
    for r in &rows {
        by_fixture.entry(wanted(r, "fixture")).or_default().push(r);
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures/repos")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let missing: Vec<&String> = on_disk
        .iter()
        .filter(|f| !by_fixture.contains_key(*f))
        .collect();
    assert!(
        missing.is_empty(),
        "fixtures without a row in fixtures/expected.toml: {missing:?}"
    );

    let mut right: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut wrong: Vec<String> = Vec::new();
    let (mut sets_right, mut sets) = (0usize, 0usize);
    for (fixture, expected_rows) in &by_fixture {
        let profile = serde_json::to_value(analyze_fixture(fixture)).expect("profile as JSON");
        let services = profile["services"].as_array().cloned().unwrap_or_default();
        let got: BTreeSet<String> = services
            .iter()
            .map(|s| s["path"].as_str().unwrap_or("").to_string())
            .collect();
        let want: BTreeSet<String> = expected_rows.iter().map(|r| wanted(r, "path")).collect();
        sets += 1;
        if got == want {
            sets_right += 1;
        } else {
            wrong.push(format!("{fixture}: services {got:?}, expected {want:?}"));
        }
        for row in expected_rows {
            let path = wanted(row, "path");
            let found = services.iter().find(|s| s["path"] == path.as_str());
            for field in FIELDS {
                let entry = right.entry(field).or_default();
                entry.1 += 1;
                let w = wanted(row, field);
                match found.map(|s| actual(s, field)) {
                    Some(a) if a == w => entry.0 += 1,
                    a => wrong.push(format!(
                        "{fixture} {path} {field}: {}, expected {w}",
                        a.unwrap_or_else(|| "no such service".into())
                    )),
                }
            }
        }
    }

    println!(
        "analyzer accuracy over {} fixtures, {} services:",
        by_fixture.len(),
        rows.len()
    );
    println!("{:<16} {:>7} {:>7}", "field", "right", "share");
    let share = |(r, t): (usize, usize)| if t == 0 { 1.0 } else { r as f64 / t as f64 };
    let mut below = Vec::new();
    for field in FIELDS {
        let counts = right[field];
        println!(
            "{:<16} {:>3}/{:<3} {:>6.1}%",
            field,
            counts.0,
            counts.1,
            share(counts) * 100.0
        );
        if share(counts) < FLOOR {
            below.push(*field);
        }
    }
    println!(
        "{:<16} {:>3}/{:<3} {:>6.1}%",
        "service set",
        sets_right,
        sets,
        share((sets_right, sets)) * 100.0
    );
    if share((sets_right, sets)) < FLOOR {
        below.push("service set");
    }
    for w in &wrong {
        println!("  wrong: {w}");
    }
    assert!(
        below.is_empty(),
        "under {:.0} %: {below:?}; wrong answers: {wrong:#?}",
        FLOOR * 100.0
    );
}
