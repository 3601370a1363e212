//! Real registries for tests (feature `test-support`): Debian's `docker-registry`
//! (distribution 2.8) started on a free loopback port with its own data folder, optionally
//! behind htpasswd Basic auth (`htpasswd -B`); multi-platform test images pushed to it over
//! the API ([`TestImage`]); and [`FaultProxy`], a proxy in front of a real registry that
//! declines mounts (202), answers bursts of 503, sends blobs slowly, refuses monolithic
//! uploads, demands the Bearer token flow, and counts what it forwarded.
//!
//! `scripts/services/registry.sh` installs the package; under `CI=true` a missing binary is a
//! failure, elsewhere [`RegistryServer::start`] answers `None` and the test says it skipped.

mod images;
mod proxy;

pub use images::{TestBlob, TestImage, TestPlatform};
pub use proxy::{Counters, FaultProxy, Faults};

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `docker-registry`, stopped (by its pid) and its data removed on drop.
pub struct RegistryServer {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// With TLS: the PEM of the CA that signed the registry's certificate.
    pub ca_pem: Option<Vec<u8>>,
    _dir: tempfile::TempDir,
}

/// The registry binary: `PIPEWRIGHT_TEST_REGISTRY_BIN`, else `docker-registry` on PATH.
pub fn registry_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PIPEWRIGHT_TEST_REGISTRY_BIN") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("docker-registry"))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl RegistryServer {
    /// Starts a registry; `basic` adds htpasswd auth for that user and password. `None` when
    /// `docker-registry` is not installed (a panic under `CI=true`: tests must not skip there).
    pub fn start(basic: Option<(&str, &str)>) -> Option<RegistryServer> {
        Self::start_with(basic, false)
    }

    /// As [`start`](Self::start), serving HTTPS with a certificate for 127.0.0.1 signed by a
    /// throwaway CA (`openssl`), whose PEM is in `ca_pem`.
    pub fn start_with(basic: Option<(&str, &str)>, tls: bool) -> Option<RegistryServer> {
        let Some(bin) = registry_binary() else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "docker-registry is not installed; scripts/services/registry.sh installs it"
                );
            }
            eprintln!("skipped: docker-registry is not installed (scripts/services/registry.sh installs it)");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let mut auth = String::new();
        if let Some((user, pass)) = basic {
            let out = Command::new("htpasswd")
                .args(["-nbB", user, pass])
                .output()
                .expect("htpasswd (apache2-utils; scripts/services/registry.sh installs it)");
            assert!(out.status.success(), "htpasswd failed");
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, out.stdout).expect("write htpasswd");
            auth = format!(
                "auth:\n  htpasswd:\n    realm: test-nexus\n    path: {}\n",
                file.display()
            );
        }
        let mut tls_config = String::new();
        let mut ca_pem = None;
        if tls {
            let d = dir.path();
            std::fs::write(
                d.join("leaf.ext"),
                "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
            )
            .expect("write ext");
            let steps: [&[&str]; 3] = [
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=pipewright test CA",
                ],
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    "key.pem",
                    "-out",
                    "leaf.csr",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
                &[
                    "x509",
                    "-req",
                    "-in",
                    "leaf.csr",
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    "cert.pem",
                    "-days",
                    "1",
                    "-extfile",
                    "leaf.ext",
                ],
            ];
            for args in steps {
                let ok = Command::new("openssl")
                    .args(args)
                    .current_dir(d)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("openssl");
                assert!(ok.success(), "openssl {args:?} failed");
            }
            ca_pem = Some(std::fs::read(d.join("ca.pem")).expect("ca.pem"));
            tls_config = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                d.join("cert.pem").display(),
                d.join("key.pem").display()
            );
        }
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n  secret: pipewright-test\n{tls_config}{auth}",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let server = RegistryServer {
            child,
            host,
            ca_pem,
            _dir: dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(&server.host).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "docker-registry did not listen on {} within 20 s",
                server.host
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
