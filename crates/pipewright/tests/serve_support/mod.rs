//! Starts the real `pipewright serve` binary for black-box tests: a free port on 127.0.0.1,
//! its own data folder, no configuration from the test machine's environment, stderr (the
//! logs) kept in a file. The process is killed when the [`Server`] is dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Settings of the machine that must not leak into a test's server.
const CLEARED: &[&str] = &[
    "GITLAB_URL",
    "GITLAB_TOKEN",
    "GITLAB_ALLOWED_HOSTS",
    "LLM_PROVIDER",
    "OLLAMA_HOST",
    "OLLAMA_MODEL",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "CHROMADB_HOST",
    "PIPEWRIGHT_STORE",
    "PIPEWRIGHT_DATABASE_URL",
    "PIPEWRIGHT_INSTANCE_ID",
    "PIPEWRIGHT_LEASE_SECONDS",
    "PIPEWRIGHT_API_TOKENS",
    "PIPEWRIGHT_DATA_DIR",
    "PIPEWRIGHT_IMAGE_PATH",
    "NEXUS_PULL_REGISTRY",
    "NEXUS_INTERNAL_REGISTRY",
    "NEXUS_REGISTRY",
    "NEXUS_USERNAME",
    "NEXUS_PASSWORD",
    "PIPEWRIGHT_REGISTRY_MIRRORS",
    "PIPEWRIGHT_REGISTRY_INSECURE",
    "PIPEWRIGHT_REGISTRY_CA_FILE",
    "PORT",
    "RUST_LOG",
];

/// A running `pipewright serve`.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub data_dir: tempfile::TempDir,
    log: PathBuf,
    pub client: reqwest::Client,
}

/// How to start one.
#[derive(Default)]
pub struct Options {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Leave `LLM_PROVIDER` unset (the default: ollama, unreachable here) instead of `none`.
    pub default_llm: bool,
    /// Start under this descriptor limit (`ulimit -n`).
    pub descriptor_limit: Option<u64>,
}

impl Options {
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_string());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn descriptor_limit(mut self, limit: u64) -> Self {
        self.descriptor_limit = Some(limit);
        self
    }
}

/// Starts a server with no configuration but `LLM_PROVIDER=none`.
pub fn spawn() -> Server {
    spawn_with(Options::default())
}

/// Starts a server and waits for its "listening" line.
pub fn spawn_with(options: Options) -> Server {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let log = data_dir.path().join("serve.log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let binary = env!("CARGO_BIN_EXE_pipewright");
    let mut command = match options.descriptor_limit {
        // `exec` keeps the process id: the server is still the child.
        Some(limit) => {
            let mut c = Command::new("sh");
            c.args([
                "-c",
                &format!("ulimit -n {limit} && exec \"$0\" \"$@\""),
                binary,
            ]);
            c
        }
        None => Command::new(binary),
    };
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(&options.args)
        .current_dir(data_dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file));
    for key in CLEARED {
        command.env_remove(key);
    }
    command.env("PIPEWRIGHT_DATA_DIR", data_dir.path().join("data"));
    if !options.default_llm {
        command.env("LLM_PROVIDER", "none");
    }
    for (k, v) in &options.env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("start pipewright serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix("pipewright listening on ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let base = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(base) => base,
        Err(_) => {
            let _ = child.kill();
            panic!(
                "pipewright serve printed no address; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
    };
    Server {
        child,
        base,
        data_dir,
        log,
        client: pipewright_adapters::http::client_builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client"),
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    /// POSTs `body` as JSON; the status and the JSON answer.
    pub async fn call(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        json(self.post(path, body).await).await
    }

    /// GETs `path`; the status and the JSON answer.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        json(self.get(path).await).await
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to end, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status and JSON body of an answer.
pub async fn json(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not JSON ({e}), status {status}: {text}"));
    (status, value)
}

/// The fixture repository `fixtures/repos/<name>` as `{"path": "content"}`.
pub fn fixture_files(name: &str) -> serde_json::Map<String, serde_json::Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/repos")
        .join(name);
    let mut files = serde_json::Map::new();
    collect(&root, &root, &mut files);
    files
}

fn collect(root: &Path, dir: &Path, out: &mut serde_json::Map<String, serde_json::Value>) {
    for entry in std::fs::read_dir(dir).expect("fixture folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            let rel = path.strip_prefix(root).expect("inside the root");
            out.insert(rel.to_string_lossy().replace('\\', "/"), text.into());
        }
    }
}
