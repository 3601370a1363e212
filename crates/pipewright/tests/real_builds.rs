//! Real builds of generated files: for each runnable fixture, `pipewright generate` writes the
//! pipeline and Dockerfile into a copy of the repository; then, as the generated jobs would in CI,
//! the `build` job's test image is built (its Kaniko `--context`, `--dockerfile`, `--target`),
//! the `test` job's script runs inside it with the job's `variables` and its `services` started
//! on loopback (the alias resolves to 127.0.0.1 through `--add-host`), the `build` job's release
//! image is built and its command must start and listen on the port the image `EXPOSE`s.
//!
//! The harness is `scripts/dockerbuild/` (buildah without a daemon, a loopback registry with base
//! images made from Debian packages), set up by `scripts/test.sh`, which exports
//! `PIPEWRIGHT_DOCKERBUILD`. Without it these tests say so and pass locally; under `CI=true` a
//! missing harness is a failure. Builds run one at a time (a process-wide lock plus a file lock
//! shared with `scripts/bench-realbuild.sh`).
//!
//! `cargo test -p pipewright --test real_builds -- --ignored --nocapture every_fixture_table`
//! builds every fixture and prints the benchmark table (`scripts/bench-realbuild.sh`).

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a runtime command has to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a job's script may run (a test suite that never exits, e.g. a server a test
/// file starts, must not hold the whole run: GitLab's job timeout does the same).
const JOB_TIMEOUT: Duration = Duration::from_secs(300);
/// Lines of a failing step's log shown in the failure message.
const TAIL: usize = 60;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/repos")
}

struct Harness {
    scripts: PathBuf,
    registry: String,
}

impl Harness {
    fn image(&self) -> Command {
        Command::new(self.scripts.join("image.sh"))
    }
}

fn harness() -> Option<Harness> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    match std::env::var_os("PIPEWRIGHT_DOCKERBUILD") {
        Some(p) if Path::new(&p).join("image.sh").exists() => Some(Harness {
            scripts: PathBuf::from(p),
            registry: std::env::var("PIPEWRIGHT_DOCKERBUILD_REGISTRY")
                .unwrap_or_else(|_| "127.0.0.1:15000".into()),
        }),
        _ if ci => panic!(
            "PIPEWRIGHT_DOCKERBUILD is not set or holds no image.sh: run the tests through scripts/test.sh, which sets up scripts/dockerbuild"
        ),
        _ => {
            eprintln!("skipped: PIPEWRIGHT_DOCKERBUILD is not set (scripts/test.sh sets up the real-build harness)");
            None
        }
    }
}

/// Which step of a real build failed, and why (the tail of its log).
#[derive(Debug)]
enum Step {
    Generate,
    Image,
    Tests,
    Runtime,
}

struct Failure {
    step: Step,
    reason: String,
}

fn fail(step: Step, reason: impl Into<String>) -> Failure {
    Failure {
        step,
        reason: reason.into(),
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The last line that says what went wrong, for the benchmark table.
fn reason_line(text: &str) -> String {
    let keys = [
        "error",
        "Error",
        "ERROR",
        "failed",
        "FAILED",
        "not found",
        "No such",
    ];
    text.lines()
        .rev()
        .find(|l| keys.iter().any(|k| l.contains(k)))
        .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("")
        .trim()
        .chars()
        .take(160)
        .collect()
}

/// Runs `cmd` in its own process group for at most `limit`; past it the whole group (the
/// harness, buildah and what runs in the image) is stopped and the run fails.
fn run_limited(cmd: &mut Command, limit: Duration) -> (bool, String) {
    let mut out = tempfile::tempfile().expect("a temporary file for the job's log");
    let stdout = out.try_clone().expect("the log file");
    let stderr = out.try_clone().expect("the log file");
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    let mut child = match cmd
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return (false, format!("could not start {cmd:?}: {e}")),
    };
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > limit => {
                kill_group(child.id());
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(_) => break None,
        }
    };
    let mut text = String::new();
    let _ = std::io::Seek::rewind(&mut out);
    let _ = out.read_to_string(&mut text);
    match status {
        Some(s) => (s.success(), text),
        None => (
            false,
            format!(
                "{text}\nstopped after {}s: the job did not finish (a test that never exits?)",
                limit.as_secs()
            ),
        ),
    }
}

fn run(cmd: &mut Command) -> (bool, String) {
    match cmd.stdin(Stdio::null()).output() {
        Ok(out) => (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ),
        Err(e) => (false, format!("could not start {cmd:?}: {e}")),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// One Kaniko invocation of the build job.
#[derive(Debug, Clone)]
struct KanikoBuild {
    context: String,
    dockerfile: String,
    target: Option<String>,
    destination: String,
    build_args: Vec<(String, String)>,
}

/// Splits a shell line into words (double and single quotes; no expansion).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

fn kaniko_builds(script: &[String]) -> Vec<KanikoBuild> {
    script
        .iter()
        .filter(|l| l.contains("/kaniko/executor"))
        .map(|l| {
            let w = words(l);
            let arg = |name: &str| {
                w.iter()
                    .position(|x| x == name)
                    .and_then(|i| w.get(i + 1))
                    .cloned()
            };
            let build_args = w
                .iter()
                .enumerate()
                .filter(|(_, x)| *x == "--build-arg")
                .filter_map(|(i, _)| w.get(i + 1))
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            KanikoBuild {
                context: arg("--context").unwrap_or_default(),
                dockerfile: arg("--dockerfile").unwrap_or_default(),
                target: arg("--target"),
                destination: arg("--destination").unwrap_or_default(),
                build_args,
            }
        })
        .collect()
}

/// `$VAR` and `${VAR}` replaced from `vars` (unknown names become empty, as in a shell).
fn expand(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let (name, next) = if b.get(i + 1) == Some(&b'{') {
                match text[i + 2..].find('}') {
                    Some(end) => (&text[i + 2..i + 2 + end], i + 3 + end),
                    None => ("", i + 1),
                }
            } else {
                let len = text[i + 1..]
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count();
                (&text[i + 1..i + 1 + len], i + 1 + len)
            };
            if !name.is_empty() && !name.contains(':') {
                out.push_str(vars.get(name).map(String::as_str).unwrap_or(""));
                i = next;
                continue;
            }
        }
        let ch = text[i..].chars().next().unwrap_or('$');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// A path inside the repository from a `$CI_PROJECT_DIR/...` argument.
fn repo_path(arg: &str) -> String {
    arg.trim_start_matches("$CI_PROJECT_DIR")
        .trim_start_matches("${CI_PROJECT_DIR}")
        .trim_start_matches('/')
        .to_string()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn var_map(v: Option<&Value>) -> Vec<(String, String)> {
    let Some(Value::Object(m)) = v else {
        return Vec::new();
    };
    m.iter()
        .map(|(k, v)| {
            let val = match v {
                Value::String(s) => s.clone(),
                Value::Object(o) => o
                    .get("value")
                    .and_then(|x| x.as_str())
                    .unwrap_or("")
                    .to_string(),
                other => other.to_string(),
            };
            (k.clone(), val)
        })
        .collect()
}

/// A job service we can start from Debian packages.
struct JobService {
    kind: &'static str,
    alias: String,
    port: u16,
    vars: BTreeMap<String, String>,
}

fn job_services(job: &Value) -> Result<Vec<JobService>, String> {
    let mut out = Vec::new();
    let Some(Value::Array(services)) = job.get("services") else {
        return Ok(out);
    };
    for s in services {
        let (name, alias, vars) = match s {
            Value::String(n) => (n.clone(), None, Vec::new()),
            Value::Object(o) => (
                o.get("name")
                    .and_then(|x| x.as_str())
                    .unwrap_or("")
                    .to_string(),
                o.get("alias").and_then(|x| x.as_str()).map(String::from),
                var_map(o.get("variables")),
            ),
            _ => continue,
        };
        let image = name.rsplit('/').next().unwrap_or(&name);
        let base = image.split(':').next().unwrap_or(image);
        let (kind, port) = match base {
            "postgres" | "postgis" => ("postgres", 5432),
            "redis" => ("redis", 6379),
            "mysql" | "mariadb" => ("mysql", 3306),
            other => return Err(format!("no loopback recipe for the job service `{other}`")),
        };
        out.push(JobService {
            kind,
            alias: alias.unwrap_or_else(|| base.to_string()),
            port,
            vars: vars.into_iter().collect(),
        });
    }
    Ok(out)
}

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(300),
    )
    .is_ok()
}

fn port_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
}

/// Started services, stopped on drop.
struct Services<'h> {
    harness: &'h Harness,
    dirs: Vec<tempfile::TempDir>,
}

impl Drop for Services<'_> {
    fn drop(&mut self) {
        for d in &self.dirs {
            let _ = run(Command::new(self.harness.scripts.join("service.sh"))
                .arg("stop")
                .arg(d.path()));
        }
    }
}

/// Images built for one fixture, removed on drop.
struct Images<'h> {
    harness: &'h Harness,
    tags: Vec<String>,
}

impl Drop for Images<'_> {
    fn drop(&mut self) {
        if !self.tags.is_empty() {
            let _ = run(self.harness.image().arg("rmi").args(&self.tags));
        }
    }
}

/// What a real build of one fixture reached.
#[derive(Default)]
struct Outcome {
    image: Option<bool>,
    tests: Option<bool>,
    runtime: Option<bool>,
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn build(h: &Harness, repo: &Path, k: &KanikoBuild, tag: &str) -> Result<(), String> {
    let mut cmd = h.image();
    let context = repo.join(repo_path(&k.context));
    cmd.arg("build")
        .arg(&context)
        .arg(
            repo_path(&k.dockerfile)
                .trim_start_matches(&format!("{}/", repo_path(&k.context).trim_end_matches('/'))),
        )
        .arg(k.target.clone().unwrap_or_default())
        .arg(tag);
    let vars: BTreeMap<String, String> = [
        ("NEXUS_INTERNAL_REGISTRY".to_string(), h.registry.clone()),
        ("CI_PROJECT_DIR".to_string(), String::new()),
    ]
    .into_iter()
    .collect();
    for (key, value) in &k.build_args {
        let value = if key == "BASE_REGISTRY" {
            h.registry.clone()
        } else {
            expand(value, &vars)
        };
        if !value.is_empty() {
            cmd.arg("--build-arg").arg(format!("{key}={value}"));
        }
    }
    let (ok, log) = run(&mut cmd);
    if ok {
        Ok(())
    } else {
        Err(log)
    }
}

/// Generates, builds, tests and starts one fixture; the outcome says how far it got.
fn real_build(h: &Harness, fixture: &str) -> (Outcome, Result<(), Failure>) {
    let mut outcome = Outcome::default();
    let result = real_build_steps(h, fixture, &mut outcome);
    (outcome, result)
}

fn real_build_steps(h: &Harness, fixture: &str, o: &mut Outcome) -> Result<(), Failure> {
    let tmp = tempfile::tempdir().map_err(|e| fail(Step::Generate, e.to_string()))?;
    let repo = tmp.path().join(fixture);
    copy_dir(&fixtures().join(fixture), &repo);
    // As a user would: a Dockerfile the repository has is kept and built as it is.
    let (ok, out) = run(Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["generate", "--force"])
        .arg(&repo));
    if !ok {
        return Err(fail(Step::Generate, tail(&out, TAIL)));
    }
    let text = std::fs::read_to_string(repo.join(".gitlab-ci.yml"))
        .map_err(|e| fail(Step::Generate, format!("no .gitlab-ci.yml: {e}")))?;
    let ci = pipewright_core::yaml::to_json(&text)
        .map_err(|e| fail(Step::Generate, format!(".gitlab-ci.yml: {e}")))?;
    let jobs = ci
        .as_object()
        .ok_or_else(|| fail(Step::Generate, "the pipeline is not a mapping"))?;
    // Every service: its `build`/`test` jobs (`build:<service>`, `test:<service>` in a
    // monorepo). A library has a test job and no build job.
    let mut suffixes: Vec<&str> = jobs
        .keys()
        .filter_map(|name| {
            ["build", "test"]
                .iter()
                .find_map(|base| name.strip_prefix(base))
                .filter(|rest| rest.is_empty() || rest.starts_with(':'))
        })
        .collect();
    suffixes.sort_unstable();
    suffixes.dedup();
    if suffixes.is_empty() {
        return Err(fail(Step::Generate, "no build or test job in the pipeline"));
    }
    let globals = var_map(ci.get("variables"));
    for suffix in suffixes {
        let build_job = jobs.get(&format!("build{suffix}"));
        let test_job = jobs.get(&format!("test{suffix}"));
        let builds = build_job
            .map(|j| kaniko_builds(&strings(j.get("script"))))
            .unwrap_or_default();
        let test_build = builds
            .iter()
            .find(|b| b.destination.ends_with("-test"))
            .cloned();
        let release = builds
            .iter()
            .find(|b| !b.destination.ends_with("-test"))
            .cloned();
        if build_job.is_some() && release.is_none() {
            return Err(fail(
                Step::Image,
                format!("build{suffix} builds no release image"),
            ));
        }
        if let Some(release) = &release {
            rules_run_on_own_change(jobs, suffix, &repo, &repo_path(&release.context))?;
        }
        let tag_base = format!("localhost/realbuild-{}{}", slug(fixture), slug(suffix));
        let verdict = lint_verdict(jobs.get(&format!("quality{suffix}")));
        let mut images = Images {
            harness: h,
            tags: Vec::new(),
        };

        // 1. the tests: inside the test image `build` made, or (no test stage, a library) in
        //    the job's own image on a checkout of the repository, after the jobs whose
        //    artifacts it needs.
        match (&test_build, test_job) {
            (Some(tb), Some(test_job)) => {
                let tag = format!("{tag_base}:test");
                images.tags.push(tag.clone());
                build(h, &repo, tb, &tag).map_err(|log| {
                    o.image = Some(false);
                    fail(Step::Image, log)
                })?;
                o.image = Some(true);
                run_test_job(h, &tag, test_job, &globals, &verdict)
                    .inspect_err(|_| o.tests = Some(false))?;
                o.tests = Some(true);
            }
            (None, Some(test_job)) => {
                run_in_checkout(h, jobs, test_job, &repo, &globals, &verdict)
                    .inspect_err(|_| o.tests = Some(false))?;
                o.tests = Some(true);
            }
            _ => {}
        }

        // 2. the release image, and its command listening on the exposed port
        let Some(release) = release else {
            continue;
        };
        let tag = format!("{tag_base}:runtime");
        images.tags.push(tag.clone());
        build(h, &repo, &release, &tag).map_err(|log| {
            o.image = Some(false);
            fail(Step::Image, log)
        })?;
        o.image = Some(true);
        let env = test_job
            .map(|j| job_env(j, &globals, IMAGE_PROJECT_DIR))
            .unwrap_or_default();
        start_runtime(h, &tag, test_job, &env).inspect_err(|_| o.runtime = Some(false))?;
        o.runtime = Some(true);
    }
    Ok(())
}

/// GitLab's `rules: changes` match (Ruby `File.fnmatch?` with `FNM_PATHNAME | FNM_EXTGLOB`):
/// patterns are repository-relative, `*` stays within one folder, `**/` is any number of them.
fn changes_match(glob: &str, path: &str) -> bool {
    globset::GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .is_ok_and(|g| g.compile_matcher().is_match(path))
}

/// A monorepo service's `build` and `test` jobs must run when one of its own files changes
/// (a root service's too): a change to the first file directly in its folder (not one
/// pipewright wrote) must match a `rules: changes` pattern of each job that has rules.
fn rules_run_on_own_change(
    jobs: &serde_json::Map<String, Value>,
    suffix: &str,
    repo: &Path,
    dir: &str,
) -> Result<(), Failure> {
    let written = [".gitlab-ci.yml", "Dockerfile", ".dockerignore"];
    let mut files: Vec<String> = std::fs::read_dir(repo.join(dir))
        .map_err(|e| fail(Step::Generate, format!("{dir}: {e}")))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !written.contains(&n.as_str()))
        .collect();
    files.sort();
    let Some(file) = files.first() else {
        return Ok(());
    };
    let changed = if dir.is_empty() {
        file.clone()
    } else {
        format!("{}/{file}", dir.trim_end_matches('/'))
    };
    for base in ["build", "test"] {
        let name = format!("{base}{suffix}");
        let Some(Value::Array(rules)) = jobs.get(&name).and_then(|j| j.get("rules")) else {
            continue;
        };
        let runs = rules.iter().any(|r| {
            let changes = match r.get("changes") {
                Some(Value::Object(o)) => strings(o.get("paths")),
                other => strings(other),
            };
            // A rule without `changes` does not depend on the files changed.
            r.get("changes").is_none() || changes.iter().any(|g| changes_match(g, &changed))
        });
        if !runs {
            return Err(fail(
                Step::Generate,
                format!("`{name}` never runs on a change to {changed}: its rules are {rules:?}"),
            ));
        }
    }
    Ok(())
}

/// `$CI_PROJECT_DIR` for a job running in the test image (the application is in `$APP_DIR`).
const IMAGE_PROJECT_DIR: &str = "/tmp/ci-project";
/// Where a job running in its own image finds the checkout (`$CI_PROJECT_DIR`).
const CHECKOUT_DIR: &str = "/builds/pipewright/project";

/// The name of a job's `image:` (a string or `{name: ...}`).
fn job_image_name(job: &Value) -> Option<String> {
    match job.get("image")? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("name").and_then(|n| n.as_str()).map(String::from),
        _ => None,
    }
}

/// Runs `job` as a runner would with a checkout: first the jobs it `needs` with artifacts
/// that declare artifacts (they leave them in the same checkout), then the job itself.
fn run_in_checkout(
    h: &Harness,
    jobs: &serde_json::Map<String, Value>,
    job: &Value,
    repo: &Path,
    globals: &[(String, String)],
    after: &[String],
) -> Result<(), Failure> {
    let needs = job
        .get("needs")
        .and_then(|n| n.as_array())
        .cloned()
        .unwrap_or_default();
    for need in &needs {
        let (name, artifacts) = match need {
            Value::String(s) => (s.as_str(), true),
            Value::Object(o) => (
                o.get("job").and_then(|j| j.as_str()).unwrap_or(""),
                o.get("artifacts").and_then(|a| a.as_bool()).unwrap_or(true),
            ),
            _ => continue,
        };
        if let Some(dep) = jobs
            .get(name)
            .filter(|d| artifacts && d.get("artifacts").is_some())
        {
            run_job_in_checkout(h, dep, repo, globals, false, &[])?;
        }
    }
    run_job_in_checkout(h, job, repo, globals, true, after)
}

fn run_job_in_checkout(
    h: &Harness,
    job: &Value,
    repo: &Path,
    globals: &[(String, String)],
    with_services: bool,
    after: &[String],
) -> Result<(), Failure> {
    let registries: BTreeMap<String, String> = ["NEXUS_PULL_REGISTRY", "NEXUS_INTERNAL_REGISTRY"]
        .iter()
        .map(|k| (k.to_string(), h.registry.clone()))
        .collect();
    let image = job_image_name(job)
        .map(|i| expand(&i, &registries))
        .ok_or_else(|| fail(Step::Tests, "the job names no image"))?;
    let env = job_env(job, globals, CHECKOUT_DIR);
    let (_services, hosts) = if with_services {
        start_services(h, job)?
    } else {
        (
            Services {
                harness: h,
                dirs: Vec::new(),
            },
            Vec::new(),
        )
    };
    let mut script = vec!["set -e".to_string(), format!("cd {CHECKOUT_DIR}")];
    script.extend(strings(job.get("before_script")));
    script.extend(strings(job.get("script")));
    script.extend(after.iter().cloned());
    let mut cmd = h.image();
    cmd.arg("run").arg(&image);
    for (k, v) in &env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    for host in &hosts {
        cmd.arg("--add-host").arg(host);
    }
    cmd.arg("--volume")
        .arg(format!("{}:{CHECKOUT_DIR}", repo.display()))
        .args(["--workingdir", CHECKOUT_DIR]);
    cmd.args(["--", "/bin/sh", "-c"]).arg(script.join("\n"));
    let (ok, log) = run_limited(&mut cmd, JOB_TIMEOUT);
    if ok {
        Ok(())
    } else {
        Err(fail(
            Step::Tests,
            format!("in {image} on the checkout:\n{}", tail(&log, TAIL)),
        ))
    }
}

/// The job's variables over the pipeline's, with what GitLab's runner sets.
fn job_env(
    job: &Value,
    globals: &[(String, String)],
    project_dir: &str,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("CI", "true"),
        ("GITLAB_CI", "true"),
        ("CI_PROJECT_DIR", project_dir),
        ("CI_COMMIT_SHORT_SHA", "0123abcd"),
        ("CI_COMMIT_SHA", "0123abcd0123abcd0123abcd0123abcd0123abcd"),
        ("CI_COMMIT_REF_NAME", "main"),
        ("CI_JOB_NAME", "test"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in globals.iter().cloned().chain(var_map(job.get("variables"))) {
        let v = expand(&v, &env);
        env.insert(k, v);
    }
    env
}

fn start_services<'h>(h: &'h Harness, job: &Value) -> Result<(Services<'h>, Vec<String>), Failure> {
    let services = job_services(job).map_err(|e| fail(Step::Tests, e))?;
    let mut started = Services {
        harness: h,
        dirs: Vec::new(),
    };
    let mut hosts = Vec::new();
    for s in services {
        if !port_free(s.port) {
            return Err(fail(
                Step::Tests,
                format!(
                    "port {} for the `{}` service is taken on this machine; stop what listens there",
                    s.port, s.alias
                ),
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("pipewright-svc-")
            .tempdir()
            .map_err(|e| fail(Step::Tests, e.to_string()))?;
        let mut cmd = Command::new(h.scripts.join("service.sh"));
        cmd.arg("start")
            .arg(s.kind)
            .arg(dir.path())
            .arg(s.port.to_string());
        if s.kind == "postgres" {
            let get = |k: &str, d: &str| s.vars.get(k).cloned().unwrap_or_else(|| d.to_string());
            let user = get("POSTGRES_USER", "postgres");
            cmd.arg(get("POSTGRES_DB", &user))
                .arg(&user)
                .arg(get("POSTGRES_PASSWORD", ""));
        }
        if s.kind == "mysql" {
            // The mysql and mariadb images' names for the database and root's password.
            let get = |keys: [&str; 2]| {
                keys.iter()
                    .find_map(|k| s.vars.get(*k).cloned())
                    .unwrap_or_default()
            };
            cmd.arg(get(["MYSQL_DATABASE", "MARIADB_DATABASE"]))
                .arg(get(["MYSQL_ROOT_PASSWORD", "MARIADB_ROOT_PASSWORD"]));
        }
        started.dirs.push(dir);
        let (ok, log) = run(&mut cmd);
        if !ok {
            return Err(fail(
                Step::Tests,
                format!("service {} did not start:\n{log}", s.alias),
            ));
        }
        hosts.push(format!("{}:127.0.0.1", s.alias));
    }
    Ok((started, hosts))
}

fn run_test_job(
    h: &Harness,
    tag: &str,
    job: &Value,
    globals: &[(String, String)],
    after: &[String],
) -> Result<(), Failure> {
    let env = job_env(job, globals, IMAGE_PROJECT_DIR);
    let (_services, hosts) = start_services(h, job)?;
    let mut script = vec![
        "set -e".to_string(),
        "mkdir -p \"$CI_PROJECT_DIR\"".to_string(),
    ];
    script.extend(strings(job.get("before_script")));
    script.extend(strings(job.get("script")));
    script.extend(after.iter().cloned());
    let mut cmd = h.image();
    cmd.arg("run").arg(tag);
    for (k, v) in &env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    for host in &hosts {
        cmd.arg("--add-host").arg(host);
    }
    cmd.args(["--", "/bin/sh", "-c"]).arg(script.join("\n"));
    let (ok, log) = run_limited(&mut cmd, JOB_TIMEOUT);
    if ok {
        Ok(())
    } else {
        Err(fail(Step::Tests, tail(&log, TAIL)))
    }
}

/// What the `quality` job decides from the test job's linter run, run after the test job's
/// script in `$CI_PROJECT_DIR` (where `quality` finds the artifacts): a linter that did not
/// run at all (exit 126/127: not installed) fails whether or not it is enforced, as
/// SonarQube would get no report; then `quality`'s own lines that read `lint-exit-code`
/// (an enforced linter's findings fail the job). SonarQube itself is not run.
fn lint_verdict(quality: Option<&Value>) -> Vec<String> {
    let Some(quality) = quality else {
        return Vec::new();
    };
    let mut lines = vec![
        "cd \"$CI_PROJECT_DIR\"".to_string(),
        "if [ -f lint-exit-code ] && [ \"$(cat lint-exit-code)\" -ge 126 ]; then echo \"the linter did not run (exit $(cat lint-exit-code): not installed in the test job)\"; exit 1; fi".to_string(),
    ];
    lines.extend(
        strings(quality.get("script"))
            .into_iter()
            .filter(|l| l.contains("lint-exit-code")),
    );
    lines
}

/// The image's exposed TCP port.
fn exposed_port(h: &Harness, tag: &str) -> Result<Option<u16>, Failure> {
    let (ok, out) = run(h.image().args([
        "inspect",
        tag,
        "{{range $k, $v := .Docker.Config.ExposedPorts}}{{$k}} {{end}}",
    ]));
    if !ok {
        return Err(fail(Step::Runtime, out));
    }
    Ok(out
        .split_whitespace()
        .filter_map(|k| k.strip_suffix("/tcp"))
        .filter_map(|p| p.parse().ok())
        .next())
}

/// Kills a process group (the harness run and everything it started).
fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{pid}")])
        .status();
}

fn start_runtime(
    h: &Harness,
    tag: &str,
    test_job: Option<&Value>,
    env: &BTreeMap<String, String>,
) -> Result<(), Failure> {
    let Some(port) = exposed_port(h, tag)? else {
        // A command-line program: its command must run and succeed.
        let (ok, log) = run(h.image().arg("run").arg(tag).arg("--"));
        return if ok {
            Ok(())
        } else {
            Err(fail(
                Step::Runtime,
                format!(
                    "the image exposes no port and its command failed:\n{}",
                    tail(&log, TAIL)
                ),
            ))
        };
    };
    if !port_free(port) {
        return Err(fail(
            Step::Runtime,
            format!("port {port} is taken on this machine; stop what listens there"),
        ));
    }
    // The services the tests had also back the runtime (migrations at start-up).
    let (_services, hosts) = match test_job {
        Some(job) => start_services(h, job)?,
        None => (
            Services {
                harness: h,
                dirs: Vec::new(),
            },
            Vec::new(),
        ),
    };
    let log_path = std::env::temp_dir().join(format!("pipewright-runtime-{port}.log"));
    let log = std::fs::File::create(&log_path).map_err(|e| fail(Step::Runtime, e.to_string()))?;
    let log2 = log
        .try_clone()
        .map_err(|e| fail(Step::Runtime, e.to_string()))?;
    let mut cmd = h.image();
    cmd.arg("run").arg(tag);
    for key in ["DATABASE_URL", "REDIS_URL"] {
        if let Some(v) = env.get(key) {
            cmd.arg("--env").arg(format!("{key}={v}"));
        }
    }
    for (k, v) in env.iter().filter(|(k, _)| k.starts_with("PG")) {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    for host in &hosts {
        cmd.arg("--add-host").arg(host);
    }
    cmd.arg("--");
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| fail(Step::Runtime, e.to_string()))?;
    let started = Instant::now();
    let result = loop {
        if port_open(port) {
            break Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!(
                "the command exited ({status}) without listening on {port}"
            ));
        }
        if started.elapsed() > START_TIMEOUT {
            break Err(format!(
                "nothing listened on {port} within {}s",
                START_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    kill_group(child.id());
    let _ = child.wait();
    // The server must be gone before the next fixture uses the port.
    let stop = Instant::now();
    while port_open(port) && stop.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut out = String::new();
    let _ = std::fs::File::open(&log_path).and_then(|mut f| f.read_to_string(&mut out));
    let _ = std::fs::remove_file(&log_path);
    result.map_err(|why| fail(Step::Runtime, format!("{why}\n{}", tail(&out, TAIL))))
}

/// Takes the machine-wide real-build lock (shared with other test processes and the bench).
fn machine_lock() -> std::fs::File {
    let root = std::env::var("DOCKERBUILD_ROOT").unwrap_or_else(|_| "/var/lib/dockerbuild".into());
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(Path::new(&root).join("realbuild.lock"))
        .expect("open the real-build lock");
    f.lock().expect("take the real-build lock");
    f
}

fn check(fixture: &str) {
    let Some(h) = harness() else {
        return;
    };
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _lock = machine_lock();
    let started = Instant::now();
    let (_, result) = real_build(&h, fixture);
    eprintln!("{fixture}: {:.0}s", started.elapsed().as_secs_f64());
    if let Err(f) = result {
        panic!("{fixture}: the {:?} step failed:\n{}", f.step, f.reason);
    }
}

macro_rules! real_build_tests {
    ($($name:ident => $fixture:literal,)*) => {
        $(
            #[test]
            fn $name() {
                check($fixture);
            }
        )*
        const FIXTURES: &[&str] = &[$($fixture),*];
    };
}

real_build_tests! {
    run_python_pytest => "run-python-pytest",
    run_python_django_postgres => "run-python-django-postgres",
    run_python_uv_fastapi => "run-python-uv-fastapi",
    run_python_poetry_fastapi => "run-python-poetry-fastapi",
    run_python_pipenv_flask => "run-python-pipenv-flask",
    run_python_flask_sqlalchemy => "run-python-flask-sqlalchemy",
    run_rust_cli => "run-rust-cli",
    // Node/TypeScript: npm + Express, pnpm with a codegen postinstall, yarn + NestJS, Next.js
    // without a test script, npm with `.npmrc` `omit=dev`.
    run_node_express => "run-node-express",
    run_js_pnpm_codegen => "run-js-pnpm-codegen",
    run_ts_nest_yarn => "run-ts-nest-yarn",
    run_ts_next_notest => "run-ts-next-notest",
    run_js_npmrc_omit_dev => "run-js-npmrc-omit-dev",
    // The repository's own Dockerfile (stages base/deps/web, `FROM python:3.11-slim` from
    // Docker Hub): built as it is, last stage; the tests run in the language image.
    run_python_kept_dockerfile => "run-python-kept-dockerfile",
    // A monorepo with a Python service at the root and a Node service in notifier/: both
    // services' jobs run on a change to their own files (`rules: changes`), both images build,
    // test and start.
    run_monorepo_root_service => "run-monorepo-root-service",
    // Issue 19, class 4: `requires-python >=3.9` (newest member 3.13) but CI runs 3.11, and
    // orjson 3.9.10 has wheels up to CPython 3.12 only: the image must be 3.11.
    run_python_version_from_ci => "run-python-version-from-ci",
    // Issue 19, class 6: a yarn.lock from before package.json moved on, and a current
    // package-lock.json: npm ci (yarn --frozen-lockfile would refuse the stale lock).
    run_js_stale_yarn_lock_npm => "run-js-stale-yarn-lock-npm",
    // Issue 19, class 7 for Node: src/db.js reads only POSTGRES_URL; the tests reach the
    // PostgreSQL service through it.
    run_js_pg_own_url => "run-js-pg-own-url",
    // Issue 10, class 3: orders in PostgreSQL (DATABASE_URL), the catalog in MySQL (MYSQL_URL,
    // its own name): both services start, each name holds its own database's URL.
    run_python_mysql_postgres => "run-python-mysql-postgres",
    // Issue 10, class 7: a library (setuptools, unittest) gets no image; its test job runs in
    // the language image on a checkout and its linter runs there too.
    python_setuptools_unittest => "python-setuptools-unittest",
}

/// Every fixture with a Python, Node or Rust service, built: the benchmark's table.
#[test]
#[ignore = "the benchmark: scripts/bench-realbuild.sh"]
fn every_fixture_table() {
    let Some(h) = harness() else {
        return;
    };
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _lock = machine_lock();
    let only = std::env::var("REALBUILD_ONLY").ok();
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures/repos")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            [
                "python-",
                "run-",
                "js-",
                "ts-",
                "rust-",
                "node-",
                "monorepo-",
            ]
            .iter()
            .any(|p| n.starts_with(p))
        })
        .filter(|n| only.as_deref().is_none_or(|o| o.split(',').any(|x| x == n)))
        .collect();
    names.sort();
    let mark = |v: Option<bool>| match v {
        Some(true) => "ok",
        Some(false) => "FAIL",
        None => "-",
    };
    let mut rows = Vec::new();
    let (mut img, mut tst, mut rt) = (0, 0, 0);
    for name in &names {
        let t = Instant::now();
        let (o, r) = real_build(&h, name);
        let secs = t.elapsed().as_secs();
        img += usize::from(o.image == Some(true));
        tst += usize::from(o.tests == Some(true));
        rt += usize::from(o.runtime == Some(true));
        let why = match &r {
            Ok(()) => String::new(),
            Err(f) => format!("{:?}: {}", f.step, reason_line(&f.reason)),
        };
        let row = format!(
            "| {name} | {} | {} | {} | {secs}s | {why} |",
            mark(o.image),
            mark(o.tests),
            mark(o.runtime)
        );
        // stdout, so the benchmark script shows each row as it finishes.
        println!("{row}");
        rows.push(row);
    }
    println!("\n| fixture | image build | tests in image | runtime starts | time | failure |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!("{r}");
    }
    println!(
        "\n{} fixtures: image build {img}, tests in image {tst}, runtime starts {rt}",
        names.len()
    );
    let _ = FIXTURES;
}

#[test]
fn changes_patterns_match_as_gitlab_does() {
    // The root service's old pattern never matched: GitLab's paths are repository-relative.
    assert!(!changes_match("/**/*", "requirements.txt"));
    assert!(changes_match("**/*", "requirements.txt"));
    assert!(changes_match("**/*", "gateway/app.py"));
    assert!(changes_match("notifier/**/*", "notifier/package.json"));
    assert!(!changes_match("notifier/*", "notifier/src/app.js"));
    assert!(!changes_match("notifier/**/*", "requirements.txt"));
}
