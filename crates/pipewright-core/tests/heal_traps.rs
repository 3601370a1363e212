//! The classifier's traps, one test each: the cases where the obvious reading of a log is the
//! wrong one, and the guarantees of the streaming reader.

use pipewright_core::heal::{
    classify, evidence_in_log, Basis, Classifier, ClassifierOptions, FailureClass,
};
use std::path::Path;

fn fixture(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/logs")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn exit_137_from_a_full_disk_is_not_out_of_memory() {
    for rel in [
        "disk_full/trap-exit-137-ephemeral-storage.log",
        "disk_full/trap-exit-137-no-space-gradle.log",
    ] {
        let c = classify(&fixture(rel), Some("script_failure"), None);
        assert_eq!(c.exit_code, Some(137), "{rel}");
        assert_eq!(c.class, FailureClass::DiskFull, "{rel}");
        assert!(
            c.candidates
                .iter()
                .any(|x| x.class == FailureClass::OutOfMemory),
            "{rel}: the Killed line stays a candidate"
        );
    }
    // Without the disk evidence, a bare exit 137 only hints at memory.
    let c = classify(b"$ ./run\nERROR: Job failed: exit code 137\n", None, None);
    assert_eq!(c.class, FailureClass::OutOfMemory);
    assert_eq!(c.basis, Basis::ExitCode);
    assert!(c.confidence < 0.5);
}

#[test]
fn tls_inside_a_runner_error_is_a_runner_failure() {
    for rel in [
        "runner_system_failure/trap-tls-inside-system-failure.log",
        "runner_system_failure/trap-tls-preparation-failed.log",
    ] {
        let c = classify(&fixture(rel), None, None);
        assert_eq!(c.class, FailureClass::RunnerSystemFailure, "{rel}");
        assert!(
            c.evidence
                .as_deref()
                .unwrap()
                .to_lowercase()
                .contains("tls"),
            "{rel}"
        );
    }
    // The same TLS error in the job's own script is the job's network problem.
    let c = classify(
        b"$ curl https://nexus\ncurl: (35) OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to nexus:443\nremote error: tls: handshake failure\nERROR: Job failed: exit code 35\n",
        None,
        None,
    );
    assert_eq!(c.class, FailureClass::TlsNetworkError);
}

#[test]
fn a_network_error_worded_like_an_auth_error_is_a_network_error() {
    let log = b"$ /kaniko/executor --destination ai-nexus:5001/apm-repo/demo/orders:1\n\
error checking push permissions -- make sure you entered the correct tag name, and that you are authenticated correctly, and try again: checking push permission for \"ai-nexus:5001/apm-repo/demo/orders:1\": creating push check transport for ai-nexus:5001 failed: Get \"https://ai-nexus:5001/v2/\": dial tcp: lookup ai-nexus on 10.96.0.10:53: no such host\n\
ERROR: Job failed: exit code 1\n";
    let c = classify(log, Some("script_failure"), None);
    assert_eq!(c.class, FailureClass::TlsNetworkError);
    assert_eq!(c.signature, Some("dns_no_such_host"));
    // The same words with a refused credential are an auth failure.
    let c = classify(
        &fixture("auth_failure/kaniko-push-unauthorized.log"),
        None,
        None,
    );
    assert_eq!(c.class, FailureClass::AuthFailure);
}

#[test]
fn an_ssl_error_explains_the_missing_distribution_that_follows_it() {
    let c = classify(
        &fixture("tls_network_error/pip-ssl-then-no-matching-distribution.log"),
        None,
        None,
    );
    assert_eq!(c.class, FailureClass::TlsNetworkError);
    assert!(c
        .candidates
        .iter()
        .any(|x| x.class == FailureClass::DependencyResolution));
}

#[test]
fn failure_reason_is_read_before_the_log() {
    let log = fixture("test_failure/pytest-assertion.log");
    let c = classify(&log, Some("job_execution_timeout"), None);
    assert_eq!(c.class, FailureClass::TimeoutError);
    assert_eq!(c.basis, Basis::FailureReason);
    assert_eq!(c.evidence, None, "no line of this log shows a timeout");
    assert_eq!(c.candidates[0].class, FailureClass::TestFailure);
    let c = classify(&log, Some("runner_system_failure"), None);
    assert_eq!(c.class, FailureClass::RunnerSystemFailure);
    // script_failure (and reasons GitLab added later) read the log.
    let c = classify(&log, Some("script_failure"), None);
    assert_eq!(c.class, FailureClass::TestFailure);
    let c = classify(&log, Some("some_reason_from_gitlab_19"), None);
    assert_eq!(c.class, FailureClass::TestFailure);
}

#[test]
fn the_last_error_before_job_failed_wins_and_after_script_only_adds_candidates() {
    let log = "$ make\n\
x.go:3:1: undefined: foo\n\
bash: line 9: golangci-lint: command not found\n\
section_start:1:after_script\r\x1b[0K\x1b[36;1mRunning after_script\x1b[0;m\n\
curl: (6) Could not resolve host: splunk\n\
section_end:2:after_script\r\x1b[0K\n\
\x1b[31;1mERROR: Job failed: exit code 127\n\x1b[0;m\n";
    let c = classify(log.as_bytes(), None, None);
    assert_eq!(c.class, FailureClass::MissingCommand);
    assert_eq!(c.line, Some(3));
    assert!(c
        .candidates
        .iter()
        .any(|x| x.class == FailureClass::TlsNetworkError && x.line == 5));
}

#[test]
fn an_unclassified_failure_is_unknown_with_the_tail_kept() {
    let c = classify(&fixture("unknown/release-notes-script.log"), None, None);
    assert_eq!(c.class, FailureClass::Unknown);
    assert_eq!(c.confidence, 0.0);
    assert!(c.tail().contains("release notes missing for 1.4.0"));
    assert!(c.tail().contains("ERROR: Job failed: exit code 1"));
}

#[test]
fn evidence_is_verbatim_and_context_surrounds_it() {
    let log = fixture("service_connection/pytest-psycopg-connection-refused.log");
    let c = classify(&log, None, None);
    let evidence = c.evidence.clone().unwrap();
    assert!(evidence_in_log(&evidence, &String::from_utf8_lossy(&log)));
    assert!(!evidence.contains('\x1b'));
    let at = (c.line.unwrap() - c.context_start.unwrap()) as usize;
    assert_eq!(c.context[at], evidence);
    assert!(
        c.context.len() > at + 1,
        "lines after the evidence are kept"
    );
}

#[test]
fn only_the_configured_tail_is_kept() {
    let mut c = Classifier::new(ClassifierOptions {
        tail_bytes: 4096,
        ..ClassifierOptions::default()
    });
    for i in 0..100_000 {
        c.feed(format!("line {i} of a long and uneventful build\n").as_bytes());
    }
    c.feed(b"No space left on device\nERROR: Job failed: exit code 1\n");
    let r = c.finish();
    assert_eq!(r.class, FailureClass::DiskFull);
    assert_eq!(r.line, Some(100_001));
    assert_eq!(r.lines, 100_002);
    assert!(r.tail().len() <= 4096);
    assert!(
        r.tail().starts_with("line "),
        "the tail starts at a whole line"
    );
    assert!(r.tail().ends_with("ERROR: Job failed: exit code 1"));
}

#[test]
fn a_line_without_end_is_judged_by_its_end_and_never_held_whole() {
    let mut c = Classifier::new(ClassifierOptions::default());
    let progress = "Downloading 42%\r".repeat(1000);
    for _ in 0..200 {
        c.feed(progress.as_bytes());
    }
    c.feed(b"Downloading 100%\rerror: No space left on device");
    let r = c.finish();
    assert_eq!(r.class, FailureClass::DiskFull);
    assert_eq!(
        r.evidence.as_deref(),
        Some("error: No space left on device")
    );
    assert_eq!(r.line, Some(1));
}

#[test]
fn runner_timestamps_do_not_hide_the_evidence() {
    let c = classify(&fixture("tls_network_error/npm-enotfound.log"), None, None);
    assert_eq!(c.class, FailureClass::TlsNetworkError);
    assert!(c.evidence.unwrap().starts_with("npm error"));
}
