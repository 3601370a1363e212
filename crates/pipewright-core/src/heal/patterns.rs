//! The signature table: every log pattern the classifier knows, as data. A signature is one or
//! more literals (matched case-insensitively by one Aho-Corasick automaton over the raw bytes:
//! the prefilter) and an optional regex confirmed on the cleaned line (case-sensitive unless
//! it says `(?i)`). When one line matches several signatures the strongest wins, so a cause
//! named on the line (a DNS failure) beats the words around it (Kaniko's "make sure you are
//! authenticated correctly"), and a runner marker beats the TLS error it reports.
//!
//! Literals must be single tokens that colourising tools do not split with ANSI codes (the
//! prefilter runs on the raw bytes): `ERESOLVE`, not `npm ERR! code ERESOLVE`.

use super::class::FailureClass;
use FailureClass::*;

/// What a matching line means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// Evidence for a class.
    Class(FailureClass),
    /// GitLab's last word: `ERROR: Job failed…` (the exit code, when shown, is captured).
    JobFailed,
    /// A GitLab `section_start:`/`section_end:` marker.
    Section,
}

/// One known log pattern.
#[derive(Debug, Clone, Copy)]
pub struct Signature {
    /// Stable id, reported with the classification (`manifest_unknown`, `npm_eresolve`).
    pub id: &'static str,
    pub meaning: Meaning,
    /// Any of these (case-insensitive) puts the line up for confirmation.
    pub literals: &'static [&'static str],
    /// Must match the cleaned line too, when given.
    pub confirm: Option<&'static str>,
    /// How much the line says about the class, 1..=100. Across lines, hits compare by tier
    /// (`strength / 10`) first and position second: the last strongest error wins.
    pub strength: u8,
}

const fn sig(
    id: &'static str,
    class: FailureClass,
    literals: &'static [&'static str],
    confirm: Option<&'static str>,
    strength: u8,
) -> Signature {
    Signature {
        id,
        meaning: Meaning::Class(class),
        literals,
        confirm,
        strength,
    }
}

/// The strength of an exit-code hint (`exit code 137` alone): below any log evidence.
pub const EXIT_CODE_HINT: u8 = 20;

/// Exit codes that hint at a class when nothing in the log says more.
pub const EXIT_CODE_HINTS: &[(i32, FailureClass)] = &[
    (137, OutOfMemory),
    (124, TimeoutError),
    (126, PermissionError),
    (127, MissingCommand),
];

/// GitLab sections whose errors are consequences of an earlier failure (after_script runs,
/// artifacts of a failed job are uploaded): their hits count only when nothing else does.
pub const POST_FAILURE_SECTIONS: &[&str] = &[
    "after_script",
    "upload_artifacts_on_failure",
    "archive_cache_on_failure",
    "cleanup_file_variables",
];

/// Classes that are often the visible consequence of others: when the winner is the first
/// and the log also shows one of the second at most two tiers weaker, the cause wins (a
/// refused database connection explains the failed tests; an SSL error explains pip's
/// "No matching distribution").
pub const ROOT_CAUSES: &[(FailureClass, &[FailureClass])] = &[
    (
        TestFailure,
        &[
            ServiceConnection,
            TimeoutError,
            OutOfMemory,
            DiskFull,
            MissingCommand,
        ],
    ),
    (
        BuildFailure,
        &[
            OutOfMemory,
            DiskFull,
            DependencyResolution,
            TlsNetworkError,
            MissingCommand,
            ImageNotFound,
            AuthFailure,
            RateLimited,
        ],
    ),
    (
        DependencyResolution,
        &[TlsNetworkError, AuthFailure, RateLimited],
    ),
    (MissingCommand, &[TlsNetworkError]),
];

/// Every signature. Order matters only for equal strengths on one line (earlier wins).
#[rustfmt::skip]
pub const SIGNATURES: &[Signature] = &[
    // --- markers ---------------------------------------------------------------------------
    Signature {
        id: "job_failed",
        meaning: Meaning::JobFailed,
        literals: &["job failed"],
        confirm: Some(r"^ERROR: Job failed"),
        strength: 0,
    },
    Signature {
        id: "section",
        meaning: Meaning::Section,
        literals: &["section_start:", "section_end:"],
        confirm: None,
        strength: 0,
    },
    // --- runner_system_failure: the runner's own markers outrank what they quote -------------
    sig("runner_system_failure", RunnerSystemFailure, &["(system failure)"], None, 89),
    sig("runner_preparation_failed", RunnerSystemFailure, &["preparation failed"], Some(r"(?i)ERROR: Preparation failed"), 89),
    sig("runner_pod_timeout", RunnerSystemFailure, &["waiting for pod"], Some(r"(?i)timed out waiting for pod"), 89),
    sig("runner_pod_failed", RunnerSystemFailure, &["pod status is failed", "pod failed"], None, 85),
    sig("runner_prepare_environment", RunnerSystemFailure, &["prepare environment"], Some(r"(?i)job failed.*prepare environment"), 88),
    sig("runner_coordinator_5xx", RunnerSystemFailure, &["coordinator"], Some(r"(?i)coordinator.*\b(50[0234])\b|\b(50[0234])\b.*coordinator"), 85),
    sig("runner_retry", RunnerSystemFailure, &["will be retried in"], None, 60),
    // --- image_not_found: a missing image is never transient, so it outranks runner markers --
    sig("manifest_unknown", ImageNotFound, &["manifest unknown", "manifest_unknown"], None, 96),
    sig("manifest_not_found", ImageNotFound, &["manifest for"], Some(r"(?i)manifest for \S+ not found"), 96),
    sig("name_unknown", ImageNotFound, &["name unknown", "name_unknown"], None, 90),
    sig("no_such_image", ImageNotFound, &["no such image"], None, 88),
    sig("repository_does_not_exist", ImageNotFound, &["repository does not exist"], None, 94),
    sig("pull_access_denied", ImageNotFound, &["pull access denied"], None, 82),
    sig("containerd_reference_not_found", ImageNotFound, &["failed to resolve reference"], Some(r": not found\b"), 96),
    sig("buildkit_source_not_found", ImageNotFound, &["failed to resolve source metadata"], Some(r"(?i)not found"), 90),
    sig("image_pull_backoff", ImageNotFound, &["imagepullbackoff", "errimagepull"], None, 60),
    // --- rate_limited -------------------------------------------------------------------------
    sig("toomanyrequests", RateLimited, &["toomanyrequests"], None, 96),
    sig("too_many_requests", RateLimited, &["too many requests"], None, 92),
    sig("pull_rate_limit", RateLimited, &["pull rate limit", "rate limit exceeded", "secondary rate limit"], None, 92),
    sig("http_429", RateLimited, &["429"], Some(r"(?i)\b(http(/[\d.]+)?|status|code|error|response)\b[^0-9]{0,12}429\b"), 80),
    // --- auth_failure -------------------------------------------------------------------------
    sig("registry_authentication_required", AuthFailure, &["authentication required", "no basic auth credentials"], None, 96),
    sig("registry_denied_forbidden", AuthFailure, &["denied: access forbidden", "requested access to the resource is denied"], None, 92),
    sig("registry_unauthorized", AuthFailure, &["unauthorized:"], Some(r"UNAUTHORIZED:|unauthorized: "), 88),
    sig("git_http_basic_denied", AuthFailure, &["http basic: access denied"], None, 92),
    sig("authentication_failed", AuthFailure, &["authentication failed"], None, 85),
    sig("bad_credentials", AuthFailure, &["invalid username/password", "incorrect username or password", "invalid credentials", "bad credentials"], None, 90),
    sig("http_401", AuthFailure, &["unauthori", "status code", "return code is", "e401", "client error"], Some(r"(?i)\b401\b.*unauthori[sz]ed|unauthori[sz]ed.*\b401\b|status code:? 401|return code is: 401|E401|401 Client Error"),
        88,
    ),
    sig("http_403", AuthFailure, &["forbidden", "status code", "returned error", "e403"], Some(r"(?i)\b403\b.*forbidden|forbidden.*\b403\b|status code:? 403|returned error: 403|E403"), 80),
    sig("sonar_not_authorized", AuthFailure, &["not authorized"], Some(r"(?i)not authorized\. (please )?check"), 88),
    sig("db_access_denied", AuthFailure, &["access denied for user", "password authentication failed"], None, 86),
    sig("git_could_not_read_username", AuthFailure, &["could not read username", "could not read password"], None, 86),
    sig("credentials_helper", AuthFailure, &["error getting credentials"], None, 80),
    sig("kaniko_push_permissions", AuthFailure, &["authenticated correctly"], None, 70),
    sig("unauthorized_generic", AuthFailure, &["unauthorized"], None, 50),
    // --- tls_network_error ----------------------------------------------------------------------
    sig("x509", TlsNetworkError, &["x509:"], None, 88),
    sig("certificate_verify_failed", TlsNetworkError, &["certificate verify failed", "ssl certificate problem", "unable to get local issuer certificate", "self signed certificate", "self-signed certificate"], None, 88),
    sig("tls_handshake", TlsNetworkError, &["handshake"], Some(r"(?i)tls.{0,20}handshake|handshake (timeout|failure|failed)"), 86),
    sig("dns_no_such_host", TlsNetworkError, &["no such host", "could not resolve host", "temporary failure in name resolution", "name or service not known", "temporary failure resolving", "enotfound", "eai_again", "could not resolve hostname", "name does not resolve", "unknownhostexception", "server misbehaving"], None, 86),
    sig("network_unreachable", TlsNetworkError, &["network is unreachable", "no route to host"], None, 86),
    sig("io_timeout", TlsNetworkError, &["i/o timeout", "client.timeout exceeded", "read timed out", "connect timed out", "connection timed out", "etimedout", "operation timed out after"], None, 84),
    sig("connection_reset", TlsNetworkError, &["connection reset", "econnreset", "socket hang up", "broken pipe"], None, 80),
    sig("nuget_service_index", TlsNetworkError, &["nu1301"], None, 86),
    sig("apk_unable_to_select", TlsNetworkError, &["unable to select packages"], None, 70),
    sig("apt_could_not_connect", TlsNetworkError, &["could not connect to"], Some(r"(?i)could not connect to [\w.-]+:\d+"), 76),
    sig("maven_transfer_failed", TlsNetworkError, &["could not transfer artifact"], None, 70),
    sig("trivy_db_download", TlsNetworkError, &["failed to download vulnerability db"], None, 72),
    sig("bad_gateway", TlsNetworkError, &["bad gateway", "service unavailable", "gateway time"], None, 66),
    sig("ssl_tls_error", TlsNetworkError, &["ssl", "tls"], Some(r"(?i)\b(ssl|tls)\b.{0,40}error|error.{0,40}\b(ssl|tls)\b"), 62),
    sig("connection_refused_plain", TlsNetworkError, &["connection refused", "econnrefused"], None, 50),
    sig("dial_tcp", TlsNetworkError, &["dial tcp"], None, 45),
    // --- service_connection ----------------------------------------------------------------------
    sig("docker_daemon", ServiceConnection, &["cannot connect to the docker daemon"], None, 92),
    sig("service_refused", ServiceConnection, &["connection refused", "econnrefused", "could not connect", "can't connect", "cannot connect", "refused", "error connecting to"], Some(r"(?i)(connection refused|econnrefused|could not connect|can't connect|cannot connect|connection to \S+ refused|error connecting to).*(:(5432|3306|6379|27017|5672|9200|11211|1433|1521)\b|postgres|mysql|mariadb|redis|mongo|rabbit|amqp|elasticsearch|memcache|database server)|(postgres|mysql|mariadb|redis|mongo|rabbit|amqp|elasticsearch|memcache|dbconnection)\S*.*(connection refused|econnrefused|could not connect|can't connect|cannot connect)|(:|port )(5432|3306|6379|27017|5672|9200|11211|1433|1521)\b.*(connection refused|econnrefused)"), 88),
    sig("postgres_server_running", ServiceConnection, &["is the server running"], None, 88),
    sig("redis_cannot_connect", ServiceConnection, &["cannotconnecterror", "redis.exceptions.connectionerror", "connection to redis"], None, 88),
    sig("mongo_server_selection", ServiceConnection, &["serverselectiontimeouterror", "mongoserverselectionerror"], None, 88),
    sig("jdbc_link_failure", ServiceConnection, &["communications link failure"], None, 88),
    sig("service_did_not_start", ServiceConnection, &["probably didn't start properly"], None, 40),
    // --- missing_command -------------------------------------------------------------------------
    sig("command_not_found", MissingCommand, &["command not found"], None, 90),
    sig("sh_not_found", MissingCommand, &[": not found"], Some(r"(?i)\bsh: (line \d+: |\d+: )?[^\s:]+: not found\s*$"), 88),
    sig("executable_not_found", MissingCommand, &["executable file not found"], None, 88),
    sig("rustup_component_missing", MissingCommand, &["is not installed for the toolchain"], None, 92),
    sig("env_no_such_file", MissingCommand, &["/usr/bin/env:"], Some(r"/usr/bin/env: '?[^\s:']+'?: No such file or directory"), 86),
    sig("shared_library", MissingCommand, &["error while loading shared libraries"], None, 80),
    sig("not_recognized_command", MissingCommand, &["is not recognized as an internal or external command", "specified command or file was not found"], None, 86),
    sig("npm_missing_script", MissingCommand, &["missing script"], None, 82),
    sig("cargo_no_such_command", MissingCommand, &["no such command"], None, 86),
    sig("mix_task_not_found", MissingCommand, &["could not be found"], Some(r#"\(Mix\) The task "[^"]+" could not be found"#), 86),
    sig("php_could_not_open_input", MissingCommand, &["could not open input file"], None, 78),
    sig("no_such_file_hint", MissingCommand, &["no such file or directory"], None, 20),
    // --- disk_full --------------------------------------------------------------------------------
    sig("no_space_left", DiskFull, &["no space left on device", "enospc", "low on resource: ephemeral-storage"], None, 95),
    sig("disk_quota", DiskFull, &["disk quota exceeded", "not enough space on the disk", "insufficient disk space", "disk full"], None, 90),
    // --- out_of_memory ----------------------------------------------------------------------------
    sig("oom_killed", OutOfMemory, &["oomkilled", "oom-kill", "out of memory: killed process", "container killed due to memory"], None, 95),
    sig("node_heap", OutOfMemory, &["javascript heap out of memory"], None, 95),
    sig("jvm_out_of_memory", OutOfMemory, &["outofmemoryerror"], None, 95),
    sig("go_out_of_memory", OutOfMemory, &["runtime: out of memory"], None, 92),
    sig("rust_alloc_failed", OutOfMemory, &["memory allocation of"], Some(r"memory allocation of \d+ bytes failed"), 92),
    sig("cannot_allocate_memory", OutOfMemory, &["cannot allocate memory", "enomem"], None, 86),
    sig("gradle_daemon_disappeared", OutOfMemory, &["daemon has disappeared unexpectedly"], None, 76),
    sig("python_memory_error", OutOfMemory, &["memoryerror"], Some(r"(^|\s)MemoryError\b"), 80),
    sig("out_of_memory_generic", OutOfMemory, &["out of memory"], None, 70),
    sig("child_exit_137", OutOfMemory, &["code 137", "status 137"], Some(r"(exited|terminated|failed) with (exit )?code 137\b|exit status 137\b"), 62),
    sig("killed_signal", OutOfMemory, &["killed", "sigkill"], Some(r"(^|\s|\d)Killed(\s|$)|signal: killed|SIGKILL"), 60),
    // --- timeout_error ----------------------------------------------------------------------------
    sig("job_execution_timeout", TimeoutError, &["execution took longer than"], None, 96),
    sig("go_test_timeout", TimeoutError, &["test timed out after"], None, 86),
    sig("pytest_timeout", TimeoutError, &["failed: timeout >"], None, 80),
    sig("mocha_timeout", TimeoutError, &["timeout of"], Some(r"Timeout of \d+ms exceeded"), 70),
    sig("timeout_command", TimeoutError, &["sending signal term to command", "sending signal kill to command"], None, 80),
    sig("timeout_exceeded", TimeoutError, &["timeout exceeded"], None, 72),
    sig("execution_expired", TimeoutError, &["execution expired"], None, 60),
    sig("deadline_exceeded", TimeoutError, &["deadline exceeded"], None, 55),
    sig("timed_out", TimeoutError, &["timed out"], None, 50),
    // --- git_checkout_failure ---------------------------------------------------------------------
    sig("git_no_tags_describe", GitCheckoutFailure, &["no tags can describe", "no names found, cannot describe"], None, 92),
    sig("git_remote_ref", GitCheckoutFailure, &["couldn't find remote ref", "not found in upstream origin", "reference is not a tree"], None, 92),
    sig("git_lfs", GitCheckoutFailure, &["smudge error", "git-lfs filter-process", "lfs: "], Some(r"(?i)smudge error|external filter 'git-lfs filter-process' failed|LFS: .*(error|failed)"),
        90,
    ),
    sig("git_shallow", GitCheckoutFailure, &["shallow update not allowed", "shallow file has changed"], None, 86),
    sig("git_repository_not_found", GitCheckoutFailure, &["fatal: repository"], Some(r"fatal: repository '[^']+' not found"), 86),
    sig("git_checkout_tree", GitCheckoutFailure, &["unable to checkout working tree", "did not match any file(s) known to git"], None, 84),
    sig("git_rpc_failed", GitCheckoutFailure, &["rpc failed", "early eof", "the remote end hung up unexpectedly"], None, 78),
    sig("git_unable_to_access", GitCheckoutFailure, &["fatal: unable to access"], None, 60),
    // --- permission_error -------------------------------------------------------------------------
    sig("git_dubious_ownership", PermissionError, &["dubious ownership", "unsafe repository"], None, 88),
    sig("eacces", PermissionError, &["eacces", "bundler::permissionerror", "grant write permissions"], None, 76),
    sig("read_only_fs", PermissionError, &["read-only file system"], None, 76),
    sig("permission_denied", PermissionError, &["permission denied"], None, 72),
    sig("operation_not_permitted", PermissionError, &["operation not permitted"], None, 66),
    sig("access_denied", PermissionError, &["access denied", "access is denied"], None, 50),
    // --- artifact_missing -------------------------------------------------------------------------
    sig("artifact_download_not_found", ArtifactMissing, &["downloading artifacts from coordinator"], Some(r"(?i)not found|404"), 92),
    sig("artifact_no_matching_files", ArtifactMissing, &["no matching files"], None, 88),
    sig("artifact_no_files_to_upload", ArtifactMissing, &["no files to upload"], None, 88),
    sig("kaniko_context_file_missing", ArtifactMissing, &["failed to get files used from context", "failed to get fileinfo"], None, 80),
    sig("artifact_not_found", ArtifactMissing, &["artifact"], Some(r"(?i)artifacts?\b.{0,60}\bnot found|no artifacts"), 66),
    sig("unable_to_access_jarfile", ArtifactMissing, &["unable to access jarfile"], None, 66),
    sig("cannot_stat", ArtifactMissing, &["cannot stat", "cannot access '"], None, 45),
    // --- yaml_syntax / invalid_stage --------------------------------------------------------------
    sig("chosen_stage_missing", InvalidStage, &["chosen stage"], Some(r"(?i)chosen stage \S+ does not exist"), 92),
    sig("unknown_stage", InvalidStage, &["unknown stage", "invalid stage", "which `stages` does not declare", "stage-undeclared"], None, 80),
    sig("stage_not_defined", InvalidStage, &["stage"], Some(r"(?i)stage [`'\x22]?[\w-]+[`'\x22]? (is not defined|not defined in|does not exist)"), 78),
    sig("gitlab_ci_invalid", YamlSyntax, &["configuration is invalid", "yaml invalid", "jobs config should contain", "config contains unknown keys"], None, 86),
    sig("go_yaml_error", YamlSyntax, &["yaml: line", "yaml: unmarshal errors"], None, 86),
    sig("yaml_parser_error", YamlSyntax, &["mapping values are not allowed", "could not find expected ':'", "did not find expected key", "found character that cannot start any token", "yaml.scanner", "yaml.parser", "yamlexception", "psych::syntaxerror", "while parsing a block mapping"], None, 86),
    sig("yaml_syntax_error", YamlSyntax, &["syntax error"], Some(r"(?i)(ya?ml|\.gitlab-ci).{0,80}syntax error|syntax error.{0,80}\bya?ml\b"), 72),
    // --- dependency_resolution --------------------------------------------------------------------
    sig("lockfile_out_of_sync", DependencyResolution, &["can only install packages when", "err_pnpm_outdated_lockfile", "your lockfile needs to be updated", "lockfile would have been modified", "missing go.sum entry", "updates to go.mod needed", "needs to be updated but --locked", "but `--locked` was provided", "deployment mode after changing", "lock file does not contain a compatible set", "poetry.lock was last generated", "is not consistent with pyproject.toml", "lock file is not up to date", "go: inconsistent vendoring", "dependencies have diverged"], None, 94),
    sig("npm_ci_without_lockfile", DependencyResolution, &["can only install with an existing package-lock.json"], None, 92),
    sig("npm_eresolve", DependencyResolution, &["eresolve", "etarget", "no matching version found", "err_pnpm_no_matching_version", "err_pnpm_fetch_404"], None, 90),
    sig("npm_e404", DependencyResolution, &["e404"], Some(r"(?i)\bE404\b|404 Not Found - GET"), 84),
    sig("pip_no_distribution", DependencyResolution, &["no matching distribution found", "could not find a version that satisfies", "resolutionimpossible", "conflicting dependencies"], None, 90),
    sig("solver_failed", DependencyResolution, &["solverproblemerror", "version solving failed", "no solution found when resolving", "could not find compatible versions", "failed to select a version", "requirements could not be resolved", "the dependency does not match the requirement", "unchecked dependencies for environment"], None, 90),
    sig("maven_artifact_missing", DependencyResolution, &["could not find artifact"], None, 88),
    sig("maven_resolve_dependencies", DependencyResolution, &["could not resolve dependencies", "failed to collect dependencies", "could not resolve all files", "could not resolve all dependencies"], None, 75),
    sig("gradle_could_not_find", DependencyResolution, &["could not find "], Some(r"Could not find [\w.\-]+:[\w.\-]+:"), 88),
    sig("go_module_missing", DependencyResolution, &["unknown revision", "no matching versions for query", "cannot find module providing package", "checksum mismatch"], None, 86),
    sig("cargo_no_matching_package", DependencyResolution, &["no matching package named"], None, 88),
    sig("bundler_gem_missing", DependencyResolution, &["could not find gem", "your bundle is locked to"], None, 86),
    sig("nuget_package_missing", DependencyResolution, &["nu1101", "nu1102", "nu1605"], None, 90),
    sig("hex_package_missing", DependencyResolution, &["no package with name", "could not find hex package"], None, 86),
    sig("module_not_found", DependencyResolution, &["modulenotfounderror", "cannot find module"], Some(r"ModuleNotFoundError: No module named|Error: Cannot find module '[^./]"), 55),
    // --- security_scan_failure --------------------------------------------------------------------
    sig("trivy_findings", SecurityScanFailure, &["total:"], Some(r"^Total: [1-9]\d* \((UNKNOWN|LOW|MEDIUM|HIGH|CRITICAL)"), 86),
    sig("semgrep_findings", SecurityScanFailure, &["finding"], Some(r"(?i)Ran \d+ rules? on \d+ files?: [1-9]\d* findings?|[1-9]\d* blocking (code |supply chain |secrets )?findings?|Blocking Findings|Has findings for blocking rules"),
        86,
    ),
    sig("brakeman_warnings", SecurityScanFailure, &["security warnings:"], Some(r"Security Warnings: [1-9]"), 86),
    sig("vulnerabilities_found", SecurityScanFailure, &["vulnerabilit"], Some(r"(?i)found [1-9]\d* (known )?vulnerabilit|^[1-9]\d* vulnerabilit(y|ies) \(|[1-9]\d* vulnerabilit(y|ies) found|vulnerabilities found!|affected by [1-9]\d* vulnerabilit"),
        86,
    ),
    sig("gitleaks_leaks", SecurityScanFailure, &["leaks found"], Some(r"(?i)leaks found: [1-9]"), 86),
    // --- lint_failure -----------------------------------------------------------------------------
    sig("pipewright_linter_enforced", LintFailure, &["found problems (see"], None, 92),
    sig("sonar_quality_gate", LintFailure, &["quality gate status: failed", "quality gate has failed", "quality_gate_failed"], None, 88),
    sig("eslint_problems", LintFailure, &["problem"], Some(r"✖ \d+ problems? \([1-9]\d* errors?"), 86),
    sig("rubocop_offenses", LintFailure, &["offense"], Some(r"files? inspected, [1-9]\d* offenses? detected"), 86),
    sig("formatter_diff", LintFailure, &["would reformat", "code style issues found", "check-formatted", "whitespace formatting", "diff in "], Some(r"(?i)would reformat|code style issues found|mix format failed due to --check-formatted|Fix whitespace formatting|^Diff in \S+ at line \d+"),
        86,
    ),
    sig("clippy_deny_warnings", LintFailure, &["implied by `-d warnings`"], None, 86),
    sig("ruff_found_errors", LintFailure, &["found "], Some(r"^Found [1-9]\d* errors?\.|\[ERROR\] Found [1-9]\d* errors?"), 80),
    sig("checkstyle_violations", LintFailure, &["checkstyle violation"], None, 86),
    sig("golangci_issue", LintFailure, &["(errcheck)", "(govet)", "(staticcheck)", "(unused)", "(gosimple)", "(ineffassign)", "(revive)", "(gofmt)", "(goimports)"], Some(r"\.go:\d+:\d+: .*\((errcheck|govet|staticcheck|unused|gosimple|ineffassign|revive|gofmt|goimports)\)\s*$"),
        78,
    ),
    sig("flake8_issue", LintFailure, &[".py:"], Some(r"^\S+\.py:\d+:\d+: [EWFC]\d{3} "), 70),
    sig("credo_issues", LintFailure, &["code readability issue", "consistency issue", "refactoring opportunit", "warnings that should be fixed"], Some(r"found .*[1-9]\d* (code readability issues?|consistency issues?|refactoring opportunit|warnings? that should be fixed)"),
        76,
    ),
    // --- test_failure -----------------------------------------------------------------------------
    sig("pytest_failed", TestFailure, &["failed"], Some(r"^FAILED \S+::|^=+ .*\b[1-9]\d* failed\b.* in [\d.]+s"), 84),
    sig("junit_failures", TestFailure, &["tests run:"], Some(r"Tests run: \d+, Failures: ([1-9]\d*|\d+, Errors: [1-9])"), 84),
    sig("maven_test_failures", TestFailure, &["there are test failures", "there were failing tests", "failed tests:"], None, 86),
    sig("gradle_test_task", TestFailure, &["test failed"], Some(r"Task :(\S+:)?test FAILED"), 84),
    sig("cargo_test_failed", TestFailure, &["test result: failed", "test failed, to rerun pass"], None, 86),
    sig("go_test_fail", TestFailure, &["--- fail:", "fail\t"], Some(r"^\s*--- FAIL: |^FAIL\s+\S+\s+[\d.]+s\s*$"), 86),
    sig("jest_tests_failed", TestFailure, &["tests: "], Some(r"^Tests:\s+[1-9]\d* failed"), 86),
    sig("mocha_failing", TestFailure, &["failing"], Some(r"^\s*[1-9]\d* failing\s*$"), 86),
    sig("rspec_failures", TestFailure, &["failure"], Some(r"\d+ examples?, [1-9]\d* failures?|\d+ runs, \d+ assertions, [1-9]\d* failures|\d+ (doctests?)?\d* ?tests?, [1-9]\d* failures?"),
        86,
    ),
    sig("phpunit_failures", TestFailure, &["failures!", "failures:"], Some(r"^FAILURES!|^Tests: \d+, Assertions: \d+, (Errors: \d+)?Failures: [1-9]"), 86),
    sig("dotnet_test_failed", TestFailure, &["failed!", "test run failed"], Some(r"Failed!\s+- Failed:\s+[1-9]|^Test Run Failed\."), 86),
    sig("assertion_error", TestFailure, &["assertionerror", "assertion failed"], None, 55),
    // --- build_failure ----------------------------------------------------------------------------
    sig("toolchain_mismatch", BuildFailure, &["class file has wrong version", "compiled by a more recent version", "unsupportedclassversionerror", "requires go >=", "or newer, while the currently active rustc", "is incompatible with this module", "ebadengine", "unsupported engine"], None, 88),
    sig("rust_compile_error", BuildFailure, &["error[e", "could not compile"], Some(r"error\[E\d{4}\]|could not compile `"), 76),
    sig("java_compile_error", BuildFailure, &["compilation error", "compilation failure", "cannot find symbol", "unresolved reference"], None, 76),
    sig("go_compile_error", BuildFailure, &[".go:"], Some(r"\.go:\d+:\d+: (undefined|syntax error|cannot use|missing return|too many|not enough|declared and not used|imported and not used|\S+ redeclared)"),
        74,
    ),
    sig("mypy_found_errors", LintFailure, &["source file"], Some(r"^Found [1-9]\d* errors? in \d+ files? \(checked \d+ source files?\)"), 80),
    sig("typescript_found_errors", BuildFailure, &["found "], Some(r"^Found [1-9]\d* errors? in "), 72),
    sig("typescript_error", BuildFailure, &["error ts"], Some(r"error TS\d+:"), 76),
    sig("csharp_error", BuildFailure, &["error cs"], Some(r"error CS\d{4}"), 76),
    sig("elixir_compile_error", BuildFailure, &["compileerror", "compilation error in file"], None, 76),
    sig("php_parse_error", BuildFailure, &["php parse error", "parse error: syntax error"], None, 76),
    sig("webpack_module_not_found", BuildFailure, &["module not found: error"], None, 70),
    sig("compilation_failed", BuildFailure, &["compilation failed"], None, 70),
    sig("docker_copy_missing", BuildFailure, &["copy failed"], None, 66),
    sig("syntax_error", BuildFailure, &["syntaxerror"], Some(r"SyntaxError:"), 62),
    sig("build_failed", BuildFailure, &["build failed"], None, 60),
    sig("kaniko_build_error", BuildFailure, &["error building image", "failed to execute command"], None, 50),
    sig("maven_build_failure", BuildFailure, &["build failure"], Some(r"BUILD FAILURE"), 40),
    sig("npm_elifecycle", BuildFailure, &["elifecycle"], None, 30),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_literals_lowercase_and_regexes_compile() {
        let mut ids = HashSet::new();
        for s in SIGNATURES {
            assert!(ids.insert(s.id), "duplicate id {}", s.id);
            assert!(!s.literals.is_empty(), "{} has no literal", s.id);
            for l in s.literals {
                assert_eq!(
                    *l,
                    l.to_ascii_lowercase(),
                    "{}: literals are lowercase",
                    s.id
                );
            }
            if let Some(re) = s.confirm {
                regex::Regex::new(re).unwrap_or_else(|e| panic!("{}: {e}", s.id));
            }
            assert!(s.strength <= 100);
        }
    }

    #[test]
    fn every_class_but_unknown_has_a_signature() {
        for class in FailureClass::ALL {
            let has = SIGNATURES
                .iter()
                .any(|s| s.meaning == Meaning::Class(class));
            assert_eq!(has, class != Unknown, "{class}");
        }
    }
}
