//! Hostile YAML: an alias bomb (billion laughs), a merge-key bomb and a `!reference` bomb are
//! each refused quickly, by their budget, without the process growing. Kept in its own test
//! binary so the peak-memory reading is not shared with other tests.

use pipewright_core::validate::{validate_pipeline, ValidatorSettings};
use std::time::{Duration, Instant};

/// Peak resident memory of this process so far, in KiB (Linux only).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Validates `text` and checks: refused by `rule`, in well under a second, and peak memory
/// grew by less than 64 MiB.
fn assert_refused(text: &str, rule: &str) {
    let before = peak_rss_kib();
    let started = Instant::now();
    let findings = validate_pipeline(text, &ValidatorSettings::default());
    let elapsed = started.elapsed();
    assert!(
        findings.iter().any(|f| f.rule == rule),
        "expected {rule}, got {findings:#?}"
    );
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
    if let (Some(b), Some(a)) = (before, peak_rss_kib()) {
        assert!(
            a.saturating_sub(b) < 64 * 1024,
            "peak RSS grew by {} KiB",
            a - b
        );
    }
}

#[test]
fn billion_laughs_is_refused_by_the_alias_budget() {
    // Ten levels of nine aliases: 9^10 (3.5 billion) nodes if expanded.
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = "a".to_string();
    for level in 0..10 {
        let name = format!("l{level}");
        let refs = vec![format!("*{prev}"); 9].join(",");
        text.push_str(&format!("{name}: &{name} [{refs}]\n"));
        prev = name;
    }
    assert_refused(&text, "yaml-alias-budget");
}

#[test]
fn merge_key_bomb_is_refused_by_the_alias_budget() {
    let mut text =
        String::from(".a0: &a0 {k0: v, k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v}\n");
    for level in 1..12 {
        let p = level - 1;
        text.push_str(&format!(
            ".a{level}: &a{level}\n  x: {{<<: *a{p}}}\n  y: {{<<: *a{p}}}\n  z: {{<<: *a{p}}}\n  w: {{<<: *a{p}}}\n"
        ));
    }
    assert_refused(&text, "yaml-alias-budget");
}

#[test]
fn reference_bomb_is_refused_by_its_budget() {
    let items: String = (0..2000).map(|i| format!("    - echo {i}\n")).collect();
    let mut text = format!(".big:\n  script:\n{items}job:\n  script:\n");
    for _ in 0..500 {
        text.push_str("    - !reference [.big, script]\n");
    }
    assert_refused(&text, "yaml-alias-budget");
}
