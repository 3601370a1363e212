//! Test images built in memory and pushed over the distribution API: per platform a config
//! and layers of deterministic bytes, an OCI manifest, and an OCI index over the platforms.

use pipewright_core::images::Digest;
use serde_json::json;

/// One blob's content: `size` bytes from `seed` (the same seed gives the same bytes, so two
/// images can share a layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestBlob {
    pub seed: u64,
    pub size: usize,
}

impl TestBlob {
    pub fn bytes(&self) -> Vec<u8> {
        let mut rng = fastrand::Rng::with_seed(self.seed);
        let mut v = vec![0u8; self.size];
        rng.fill(&mut v);
        v
    }
}

/// One platform of a test image.
#[derive(Debug, Clone)]
pub struct TestPlatform {
    pub os: String,
    pub architecture: String,
    pub layers: Vec<TestBlob>,
}

impl TestPlatform {
    pub fn new(os: &str, architecture: &str, layers: Vec<TestBlob>) -> Self {
        TestPlatform {
            os: os.into(),
            architecture: architecture.into(),
            layers,
        }
    }
}

/// What a push left in the registry.
#[derive(Debug, Clone, Default)]
pub struct Pushed {
    /// The tag's digest (the index, or the single manifest).
    pub digest: String,
    /// Platform manifest digests.
    pub manifests: Vec<String>,
    /// Every blob digest (configs and layers).
    pub blobs: Vec<String>,
}

/// A test image: one platform without an index (`index: false`), or an index over several.
#[derive(Debug, Clone)]
pub struct TestImage {
    pub repository: String,
    pub tag: String,
    pub platforms: Vec<TestPlatform>,
    pub index: bool,
}

fn basic(auth: Option<(&str, &str)>) -> Option<String> {
    use base64::Engine as _;
    auth.map(|(u, p)| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    })
}

impl TestImage {
    /// Pushes blobs, platform manifests and the index to `base` (`http://host:port`).
    pub async fn push(&self, base: &str, auth: Option<(&str, &str)>) -> Pushed {
        let http = crate::http::client_builder()
            .build()
            .expect("an HTTP client");
        let auth = basic(auth);
        let mut pushed = Pushed::default();
        let mut entries = Vec::new();
        for p in &self.platforms {
            let mut layer_descs = Vec::new();
            let mut diff_ids = Vec::new();
            for l in &p.layers {
                let bytes = l.bytes();
                let digest = put_blob(&http, base, &self.repository, bytes, auth.as_deref()).await;
                diff_ids.push(digest.clone());
                layer_descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": l.size}));
                pushed.blobs.push(digest);
            }
            let config = serde_json::to_vec(&json!({
                "architecture": p.architecture, "os": p.os,
                "config": {"Cmd": ["/hello"]},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
            }))
            .expect("json");
            let config_size = config.len();
            let config_digest =
                put_blob(&http, base, &self.repository, config, auth.as_deref()).await;
            pushed.blobs.push(config_digest.clone());
            let manifest = serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
                "layers": layer_descs,
            }))
            .expect("json");
            let size = manifest.len();
            let digest = Digest::sha256_of(&manifest).to_string();
            let reference = if self.index {
                digest.clone()
            } else {
                self.tag.clone()
            };
            put_manifest(
                &http,
                base,
                &self.repository,
                &reference,
                "application/vnd.oci.image.manifest.v1+json",
                manifest,
                auth.as_deref(),
            )
            .await;
            entries.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size,
                                "platform": {"os": p.os, "architecture": p.architecture}}));
            pushed.manifests.push(digest.clone());
            pushed.digest = digest;
        }
        if self.index {
            let index = serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": entries,
            }))
            .expect("json");
            pushed.digest = Digest::sha256_of(&index).to_string();
            put_manifest(
                &http,
                base,
                &self.repository,
                &self.tag,
                "application/vnd.oci.image.index.v1+json",
                index,
                auth.as_deref(),
            )
            .await;
        }
        pushed
    }
}

async fn put_blob(
    http: &reqwest::Client,
    base: &str,
    repo: &str,
    bytes: Vec<u8>,
    auth: Option<&str>,
) -> String {
    let digest = Digest::sha256_of(&bytes).to_string();
    let mut req = http.post(format!("{base}/v2/{repo}/blobs/uploads/"));
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let resp = req.send().await.expect("POST upload");
    assert_eq!(
        resp.status().as_u16(),
        202,
        "upload start: {}",
        resp.status()
    );
    let location = resp.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("{base}{location}")
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let mut req = http
        .put(format!("{location}{sep}digest={digest}"))
        .body(bytes);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let resp = req.send().await.expect("PUT blob");
    assert_eq!(resp.status().as_u16(), 201, "blob PUT: {}", resp.status());
    digest
}

#[allow(clippy::too_many_arguments)]
async fn put_manifest(
    http: &reqwest::Client,
    base: &str,
    repo: &str,
    reference: &str,
    media_type: &str,
    bytes: Vec<u8>,
    auth: Option<&str>,
) {
    let mut req = http
        .put(format!("{base}/v2/{repo}/manifests/{reference}"))
        .header("Content-Type", media_type)
        .body(bytes);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let resp = req.send().await.expect("PUT manifest");
    assert_eq!(
        resp.status().as_u16(),
        201,
        "manifest PUT {repo}:{reference}: {}",
        resp.status()
    );
}
