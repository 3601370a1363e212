//! Every fixture log under `tests/fixtures/logs/<class>/` is classified as its folder says,
//! with its evidence found verbatim on the cleaned log line it names, and the same answer
//! whether the log arrives whole or in small chunks. Prints the accuracy per class, next to
//! the seed's ten regexes (first match wins) on the same logs.

use pipewright_core::heal::{clean_log, Classifier, ClassifierOptions, FailureClass};
use regex::Regex;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn fixture_logs() -> Vec<(FailureClass, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/logs");
    let mut out = Vec::new();
    for dir in fs::read_dir(&root).expect("fixtures/logs exists") {
        let dir = dir.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let class = FailureClass::parse(&name)
            .unwrap_or_else(|| panic!("fixture folder {name} is not a class name"));
        for file in fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "log") {
                out.push((class, file));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

fn classify_in_chunks(bytes: &[u8], chunk: usize) -> pipewright_core::heal::Classification {
    let mut c = Classifier::new(ClassifierOptions::default());
    for part in bytes.chunks(chunk) {
        c.feed(part);
    }
    c.finish()
}

/// The seed's `ERROR_PATTERNS`, in its order, matched case-insensitively on the raw log.
fn seed_classify(text: &str) -> FailureClass {
    use FailureClass::*;
    let table: [(&str, FailureClass); 10] = [
        (r"manifest unknown|MANIFEST_UNKNOWN", ImageNotFound),
        (
            r"tls.*error|ssl.*error|unable to select packages",
            TlsNetworkError,
        ),
        (r"connection refused|cannot connect", ServiceConnection),
        (r"command not found|no such file", MissingCommand),
        (r"compilation failed|build failed", BuildFailure),
        (r"permission denied|access denied", PermissionError),
        (
            r"timed out|execution expired|deadline exceeded",
            TimeoutError,
        ),
        (r"artifact.*not found|no artifacts", ArtifactMissing),
        (r"yaml.*error|syntax error", YamlSyntax),
        (r"invalid.*stage|unknown stage", InvalidStage),
    ];
    for (re, class) in table {
        if Regex::new(&format!("(?i){re}")).unwrap().is_match(text) {
            return class;
        }
    }
    Unknown
}

#[test]
fn fixture_logs_are_classified_as_their_folder_says() {
    let logs = fixture_logs();
    assert!(logs.len() >= 21 * 5, "only {} fixture logs", logs.len());
    let mut per_class: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let (mut right, mut seed_right) = (0, 0);
    for (expected, path) in &logs {
        let bytes = fs::read(path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let whole = classify_in_chunks(&bytes, bytes.len());
        let name = path
            .strip_prefix(path.parent().unwrap().parent().unwrap())
            .unwrap();
        let entry = per_class.entry(expected.as_str()).or_default();
        entry.0 += 1;
        if whole.class == *expected {
            right += 1;
            entry.1 += 1;
        } else {
            failures.push(format!(
                "{}: got {} ({:?} at line {:?}, signature {:?}), candidates {:?}",
                name.display(),
                whole.class,
                whole.evidence,
                whole.line,
                whole.signature,
                whole
                    .candidates
                    .iter()
                    .map(|c| (c.class.as_str(), c.line))
                    .collect::<Vec<_>>()
            ));
        }
        if seed_classify(&text) == *expected {
            seed_right += 1;
            entry.2 += 1;
        }
        // Evidence is a whole cleaned line of the log, at the line number given.
        if let (Some(evidence), Some(line)) = (&whole.evidence, whole.line) {
            let cleaned = clean_log(&text);
            let shown = cleaned.split('\n').nth(line as usize - 1);
            assert_eq!(
                shown,
                Some(evidence.as_str()),
                "{}: evidence is not line {line}",
                name.display()
            );
        } else {
            assert!(
                *expected == FailureClass::Unknown || whole.class != *expected,
                "{}: classified without evidence",
                name.display()
            );
        }
        for chunk in [1, 7, 4096] {
            let streamed = classify_in_chunks(&bytes, chunk);
            assert_eq!(
                (
                    streamed.class,
                    &streamed.evidence,
                    streamed.line,
                    &streamed.context
                ),
                (whole.class, &whole.evidence, whole.line, &whole.context),
                "{}: {chunk}-byte chunks disagree",
                name.display()
            );
        }
    }
    println!("class                    logs  pipewright  seed");
    for (class, (n, ok, seed)) in &per_class {
        println!("{class:<24} {n:>4}  {ok:>10}  {seed:>4}");
    }
    let n = logs.len();
    println!(
        "overall: pipewright {right}/{n} ({:.1}%), seed regexes {seed_right}/{n} ({:.1}%)",
        100.0 * right as f64 / n as f64,
        100.0 * seed_right as f64 / n as f64
    );
    assert!(
        failures.is_empty(),
        "{} of {n} misclassified:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
