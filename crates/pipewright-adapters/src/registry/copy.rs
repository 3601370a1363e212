//! Copying one image between registries over the distribution API, the way crane and
//! regclient do: resolve the source (all four manifest types accepted), stop when the target
//! already has that digest, copy each platform manifest's blobs (HEAD first, a mount from a
//! repository of the target registry known to hold the blob, else a streamed monolithic
//! upload with a chunked fallback), push the platform manifests by digest, then the top
//! manifest by tag, always as the source's bytes.

use super::client::{unreachable, HttpClient};
use super::manifest::{kind_of, Descriptor, Kind, ManifestDoc, ACCEPT_ALL};
use futures_util::{StreamExt, TryStreamExt};
use pipewright_core::images::{CopyReport, Digest, ImageRef, Platform, Progress, RegistryError};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Tunables of one copier.
#[derive(Clone)]
pub struct CopySettings {
    /// Blobs of one image copied at once.
    pub parallel_blobs: usize,
    /// Chunk size of the chunked fallback (raised to the registry's `OCI-Chunk-Min-Length`).
    pub chunk_size: usize,
    /// Try cross-repository mounts within the target registry.
    pub mount: bool,
    pub progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>,
}

impl Default for CopySettings {
    fn default() -> Self {
        CopySettings {
            parallel_blobs: 4,
            chunk_size: 8 * 1024 * 1024,
            mount: true,
            progress: None,
        }
    }
}

/// A fetched manifest: its bytes untouched, type, digest.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub kind: Kind,
    pub digest: Digest,
    pub doc: ManifestDoc,
}

/// What happened to one blob.
enum BlobOutcome {
    Present,
    Mounted,
    Uploaded(u64),
}

/// The copier: the HTTP client plus which repositories of each registry are known to hold
/// which blob (filled as blobs are seen and sent, used for mounts).
pub struct Copier {
    pub(crate) client: HttpClient,
    pub(crate) settings: CopySettings,
    holders: Mutex<HashMap<(String, String), String>>,
}

fn pull_scope(image: &ImageRef) -> String {
    format!("repository:{}:pull", image.repository)
}

fn push_scope(image: &ImageRef) -> String {
    format!("repository:{}:pull,push", image.repository)
}

fn invalid(image: &ImageRef, message: impl Into<String>) -> RegistryError {
    RegistryError::Invalid {
        registry: image.registry.clone(),
        image: image.to_string(),
        message: message.into(),
    }
}

async fn status_error(image: &ImageRef, what: &str, resp: reqwest::Response) -> RegistryError {
    let status = resp.status();
    let message = HttpClient::error_text(resp).await;
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RegistryError::Auth {
            registry: image.registry.clone(),
            user: String::new(),
            message: format!("{status} on {what} of {image}: {message}"),
        },
        _ => RegistryError::Status {
            registry: image.registry.clone(),
            status: status.as_u16(),
            what: format!("{what} of {image}"),
            message,
        },
    }
}

fn with_query(url: &str, pairs: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{pairs}")
}

impl Copier {
    pub fn new(client: HttpClient, settings: CopySettings) -> Self {
        Copier {
            client,
            settings,
            holders: Mutex::new(HashMap::new()),
        }
    }

    fn manifest_url(&self, image: &ImageRef, reference: &str) -> String {
        format!(
            "{}/v2/{}/manifests/{reference}",
            self.client.base(&image.registry),
            image.repository
        )
    }

    fn blob_url(&self, image: &ImageRef, digest: &str) -> String {
        format!(
            "{}/v2/{}/blobs/{digest}",
            self.client.base(&image.registry),
            image.repository
        )
    }

    /// HEAD of a manifest: its digest, or `None` when absent.
    pub async fn head_manifest(
        &self,
        image: &ImageRef,
        reference: &str,
        scope: &str,
    ) -> Result<Option<Digest>, RegistryError> {
        let url = self.manifest_url(image, reference);
        let resp = self
            .client
            .send(&image.registry, scope, Method::HEAD, &url, |r| {
                r.header("Accept", ACCEPT_ALL)
            })
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let header = resp
                    .headers()
                    .get("Docker-Content-Digest")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                match header {
                    Some(h) => Digest::parse(&h)
                        .map(Some)
                        .map_err(|e| invalid(image, e.to_string())),
                    // Registries may leave the header out of HEAD answers: read the bytes.
                    None => match self.get_manifest(image, reference, scope).await {
                        Ok(f) => Ok(Some(f.digest)),
                        Err(RegistryError::NotFound { .. }) => Ok(None),
                        Err(e) => Err(e),
                    },
                }
            }
            _ => Err(status_error(image, "manifest HEAD", resp).await),
        }
    }

    /// GET of a manifest with every type accepted; the bytes are kept as sent.
    pub async fn get_manifest(
        &self,
        image: &ImageRef,
        reference: &str,
        scope: &str,
    ) -> Result<Fetched, RegistryError> {
        let url = self.manifest_url(image, reference);
        let resp = self
            .client
            .send(&image.registry, scope, Method::GET, &url, |r| {
                r.header("Accept", ACCEPT_ALL)
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            let message = HttpClient::error_text(resp).await;
            return Err(RegistryError::NotFound {
                image: format!("{}/{}:{reference}", image.registry, image.repository)
                    .replace(":sha256:", "@sha256:"),
                message,
            });
        }
        if !resp.status().is_success() {
            return Err(status_error(image, "manifest GET", resp).await);
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| unreachable(&image.registry, &e))?
            .to_vec();
        if bytes.len() > 4 * 1024 * 1024 {
            return Err(invalid(image, "the manifest is larger than 4 MiB"));
        }
        let digest = Digest::sha256_of(&bytes);
        if reference.starts_with("sha256:") && digest.as_str() != reference {
            return Err(invalid(
                image,
                format!("the manifest's bytes hash to {digest}, not {reference}"),
            ));
        }
        let doc: ManifestDoc = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(image, format!("the manifest is not JSON: {e}")))?;
        let (media_type, kind) =
            kind_of(content_type.as_deref(), &doc).map_err(|m| invalid(image, m))?;
        Ok(Fetched {
            bytes,
            media_type,
            kind,
            digest,
            doc,
        })
    }

    /// Copies `source` (fetched from `fetch`) to `target`.
    pub async fn copy(
        &self,
        fetch: &ImageRef,
        target: &ImageRef,
        platforms: &[Platform],
    ) -> Result<CopyReport, RegistryError> {
        let mut report = CopyReport::default();
        let src_scope = pull_scope(fetch);
        let top = self
            .get_manifest(fetch, fetch.reference(), &src_scope)
            .await?;
        // With a platform choice an index is narrowed: one platform is pushed as its own
        // manifest; several as an index of only those (a new digest, necessarily).
        let (top_bytes, top_type, top_digest, children) = match top.kind {
            Kind::Image => (top.bytes, top.media_type, top.digest, Vec::new()),
            Kind::Index => {
                let chosen: Vec<Descriptor> = top
                    .doc
                    .manifests
                    .iter()
                    .filter(|d| {
                        platforms.is_empty()
                            || d.platform.as_ref().is_some_and(|p| {
                                platforms.iter().any(|w| {
                                    w.matches(&p.os, &p.architecture, p.variant.as_deref())
                                })
                            })
                    })
                    .cloned()
                    .collect();
                if chosen.is_empty() {
                    let wanted: Vec<String> = platforms.iter().map(|p| p.to_string()).collect();
                    return Err(invalid(
                        fetch,
                        format!("no manifest for platform {}", wanted.join(", ")),
                    ));
                }
                if platforms.is_empty() {
                    (top.bytes, top.media_type, top.digest, chosen)
                } else if chosen.len() == 1 {
                    let child = self
                        .get_manifest(fetch, &chosen[0].digest, &src_scope)
                        .await?;
                    (child.bytes, child.media_type, child.digest, Vec::new())
                } else {
                    let mut value: serde_json::Value = serde_json::from_slice(&top.bytes)
                        .map_err(|e| invalid(fetch, e.to_string()))?;
                    let keep: Vec<&str> = chosen.iter().map(|d| d.digest.as_str()).collect();
                    if let Some(serde_json::Value::Array(list)) = value.get_mut("manifests") {
                        list.retain(|m| {
                            m.get("digest")
                                .and_then(|d| d.as_str())
                                .is_some_and(|d| keep.contains(&d))
                        });
                    }
                    let bytes =
                        serde_json::to_vec(&value).map_err(|e| invalid(fetch, e.to_string()))?;
                    let digest = Digest::sha256_of(&bytes);
                    (bytes, top.media_type, digest, chosen)
                }
            }
        };
        report.digest = Some(top_digest.clone());
        let dst_scope = push_scope(target);
        if self
            .head_manifest(target, target.reference(), &dst_scope)
            .await?
            .as_ref()
            == Some(&top_digest)
        {
            report.already_present = true;
            return Ok(report);
        }
        for child in &children {
            if self
                .head_manifest(target, &child.digest, &dst_scope)
                .await?
                .is_some()
            {
                continue;
            }
            let m = self.get_manifest(fetch, &child.digest, &src_scope).await?;
            if m.kind != Kind::Image {
                return Err(invalid(
                    fetch,
                    format!(
                        "{} is an index inside an index; nested indexes are not copied",
                        child.digest
                    ),
                ));
            }
            self.copy_blobs(fetch, target, &m.doc.blobs(), &mut report)
                .await?;
            self.put_manifest(target, &child.digest, &m.bytes, &m.media_type)
                .await?;
            report.manifests_pushed += 1;
        }
        if top.kind == Kind::Image || children.is_empty() {
            let doc: ManifestDoc =
                serde_json::from_slice(&top_bytes).map_err(|e| invalid(fetch, e.to_string()))?;
            self.copy_blobs(fetch, target, &doc.blobs(), &mut report)
                .await?;
        }
        let tag_or_digest = target.reference().to_string();
        self.put_manifest(target, &tag_or_digest, &top_bytes, &top_type)
            .await?;
        report.manifests_pushed += 1;
        Ok(report)
    }

    async fn put_manifest(
        &self,
        target: &ImageRef,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<(), RegistryError> {
        let url = self.manifest_url(target, reference);
        let resp = self
            .client
            .send(
                &target.registry,
                &push_scope(target),
                Method::PUT,
                &url,
                |r| r.header(CONTENT_TYPE, media_type).body(bytes.to_vec()),
            )
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(status_error(target, &format!("manifest PUT {reference}"), resp).await)
        }
    }

    async fn copy_blobs(
        &self,
        fetch: &ImageRef,
        target: &ImageRef,
        blobs: &[Descriptor],
        report: &mut CopyReport,
    ) -> Result<(), RegistryError> {
        let copies: Vec<_> = blobs
            .iter()
            .map(|b| self.copy_blob_retrying(fetch, target, b))
            .collect();
        let results: Vec<Result<BlobOutcome, RegistryError>> = futures_util::stream::iter(copies)
            .buffer_unordered(self.settings.parallel_blobs.max(1))
            .collect()
            .await;
        for r in results {
            match r? {
                BlobOutcome::Present => report.blobs_present += 1,
                BlobOutcome::Mounted => report.blobs_mounted += 1,
                BlobOutcome::Uploaded(n) => {
                    report.blobs_uploaded += 1;
                    report.bytes_uploaded += n;
                }
            }
        }
        Ok(())
    }

    /// One blob, retried whole (the source stream is opened again) on errors worth retrying.
    async fn copy_blob_retrying(
        &self,
        fetch: &ImageRef,
        target: &ImageRef,
        blob: &Descriptor,
    ) -> Result<BlobOutcome, RegistryError> {
        let mut attempt = 0;
        loop {
            match self.copy_blob(fetch, target, blob).await {
                Ok(o) => {
                    if let Ok(mut h) = self.holders.lock() {
                        h.insert(
                            (target.registry.clone(), blob.digest.clone()),
                            target.repository.clone(),
                        );
                    }
                    return Ok(o);
                }
                Err(e) if attempt < self.client.retries() && worth_retrying(&e) => {
                    tokio::time::sleep(self.client.backoff(attempt, None)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn copy_blob(
        &self,
        fetch: &ImageRef,
        target: &ImageRef,
        blob: &Descriptor,
    ) -> Result<BlobOutcome, RegistryError> {
        let scope = push_scope(target);
        let head = self
            .client
            .send(
                &target.registry,
                &scope,
                Method::HEAD,
                &self.blob_url(target, &blob.digest),
                |r| r,
            )
            .await?;
        if head.status().is_success() {
            return Ok(BlobOutcome::Present);
        }
        if head.status() != StatusCode::NOT_FOUND {
            return Err(status_error(target, "blob HEAD", head).await);
        }
        let uploads = format!(
            "{}/v2/{}/blobs/uploads/",
            self.client.base(&target.registry),
            target.repository
        );
        let holder = self
            .holders
            .lock()
            .ok()
            .and_then(|h| {
                h.get(&(target.registry.clone(), blob.digest.clone()))
                    .cloned()
            })
            .filter(|r| *r != target.repository && self.settings.mount);
        let session = match holder {
            Some(from) => {
                let url = with_query(&uploads, &format!("mount={}&from={from}", blob.digest));
                let mount_scope = format!("{scope} repository:{from}:pull");
                let resp = self
                    .client
                    .send(&target.registry, &mount_scope, Method::POST, &url, |r| {
                        r.header(CONTENT_LENGTH, "0")
                    })
                    .await?;
                match resp.status() {
                    StatusCode::CREATED => return Ok(BlobOutcome::Mounted),
                    // 202: not mounted, and the registry opened an upload session: use it.
                    StatusCode::ACCEPTED => location_of(&self.client, target, &resp)?,
                    _ => self.start_upload(target, &uploads).await?,
                }
            }
            None => self.start_upload(target, &uploads).await?,
        };
        match self.put_monolithic(fetch, target, blob, &session).await {
            Ok(n) => Ok(BlobOutcome::Uploaded(n)),
            Err(e) if fallback_worthy(&e) => {
                let session = self.start_upload(target, &uploads).await?;
                self.put_chunked(fetch, target, blob, &session)
                    .await
                    .map(BlobOutcome::Uploaded)
            }
            Err(e) => Err(e),
        }
    }

    async fn start_upload(
        &self,
        target: &ImageRef,
        uploads: &str,
    ) -> Result<String, RegistryError> {
        let resp = self
            .client
            .send(
                &target.registry,
                &push_scope(target),
                Method::POST,
                uploads,
                |r| r.header(CONTENT_LENGTH, "0"),
            )
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(status_error(target, "blob upload start", resp).await);
        }
        location_of(&self.client, target, &resp)
    }

    /// The source blob as a stream of bytes (never held whole).
    async fn open_source(
        &self,
        fetch: &ImageRef,
        blob: &Descriptor,
    ) -> Result<reqwest::Response, RegistryError> {
        let resp = self
            .client
            .send(
                &fetch.registry,
                &pull_scope(fetch),
                Method::GET,
                &self.blob_url(fetch, &blob.digest),
                |r| r,
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::NotFound {
                image: format!("{fetch} blob {}", blob.digest),
                message: HttpClient::error_text(resp).await,
            });
        }
        if !resp.status().is_success() {
            return Err(status_error(fetch, "blob GET", resp).await);
        }
        Ok(resp)
    }

    fn counted(
        &self,
        target: &ImageRef,
        resp: reqwest::Response,
    ) -> impl futures_util::Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Send + 'static
    {
        let progress = self.settings.progress.clone();
        let name = target.to_string();
        resp.bytes_stream().inspect_ok(move |b| {
            if let Some(p) = &progress {
                p(Progress::Bytes {
                    target: name.clone(),
                    bytes: b.len() as u64,
                });
            }
        })
    }

    /// `PUT <session>?digest=` with the whole blob streamed from the source.
    async fn put_monolithic(
        &self,
        fetch: &ImageRef,
        target: &ImageRef,
        blob: &Descriptor,
        session: &str,
    ) -> Result<u64, RegistryError> {
        let source = self.open_source(fetch, blob).await?;
        if let Some(p) = &self.settings.progress {
            p(Progress::BlobStarted {
                target: target.to_string(),
                size: blob.size,
            });
        }
        let url = with_query(session, &format!("digest={}", blob.digest));
        let body = reqwest::Body::wrap_stream(self.counted(target, source));
        let req = self
            .client
            .upload
            .put(&url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, blob.size)
            .body(body);
        let req = self
            .client
            .authorize(req, &target.registry, &push_scope(target));
        let resp = req
            .send()
            .await
            .map_err(|e| unreachable(&target.registry, &e))?;
        if resp.status() == StatusCode::CREATED || resp.status().is_success() {
            Ok(blob.size)
        } else {
            Err(status_error(target, "blob PUT", resp).await)
        }
    }

    /// Chunked upload: `PATCH` with `Content-Range` per chunk, then `PUT ?digest=`. Only one
    /// chunk is held at a time.
    async fn put_chunked(
        &self,
        fetch: &ImageRef,
        target: &ImageRef,
        blob: &Descriptor,
        session: &str,
    ) -> Result<u64, RegistryError> {
        let scope = push_scope(target);
        let source = self.open_source(fetch, blob).await?;
        let mut stream = std::pin::pin!(self.counted(target, source));
        let mut location = session.to_string();
        let mut offset: u64 = 0;
        let mut chunk: Vec<u8> =
            Vec::with_capacity(self.settings.chunk_size.min(blob.size as usize + 1));
        loop {
            let next = stream
                .next()
                .await
                .transpose()
                .map_err(|e| unreachable(&fetch.registry, &e))?;
            let done = next.is_none();
            if let Some(b) = next {
                chunk.extend_from_slice(&b);
            }
            while chunk.len() >= self.settings.chunk_size || (done && !chunk.is_empty()) {
                let rest = chunk.split_off(self.settings.chunk_size.min(chunk.len()));
                let body = std::mem::replace(&mut chunk, rest);
                let len = body.len();
                let end = offset + len as u64 - 1;
                let req = self
                    .client
                    .upload
                    .patch(&location)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_RANGE, format!("{offset}-{end}"))
                    .header(CONTENT_LENGTH, len)
                    .body(body);
                let req = self.client.authorize(req, &target.registry, &scope);
                let resp = req
                    .send()
                    .await
                    .map_err(|e| unreachable(&target.registry, &e))?;
                // 202 is the spec's answer; some registries (ECR) answer 201.
                if !matches!(
                    resp.status(),
                    StatusCode::ACCEPTED | StatusCode::CREATED | StatusCode::NO_CONTENT
                ) {
                    return Err(status_error(target, "blob chunk PATCH", resp).await);
                }
                if resp.headers().get(LOCATION).is_some() {
                    location = location_of(&self.client, target, &resp)?;
                }
                offset += len as u64;
            }
            if done {
                break;
            }
        }
        let url = with_query(&location, &format!("digest={}", blob.digest));
        let req = self.client.http.put(&url).header(CONTENT_LENGTH, "0");
        let req = self.client.authorize(req, &target.registry, &scope);
        let resp = req
            .send()
            .await
            .map_err(|e| unreachable(&target.registry, &e))?;
        if resp.status().is_success() {
            Ok(offset)
        } else {
            Err(status_error(target, "blob upload commit", resp).await)
        }
    }
}

fn location_of(
    client: &HttpClient,
    target: &ImageRef,
    resp: &reqwest::Response,
) -> Result<String, RegistryError> {
    let l = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| invalid(target, "the upload answer has no Location"))?;
    Ok(client.absolute(&target.registry, l))
}

/// Errors that another try may fix: 5xx, 429, and connections that dropped.
fn worth_retrying(e: &RegistryError) -> bool {
    match e {
        RegistryError::Status { status, .. } => *status >= 500 || *status == 429,
        RegistryError::Unreachable { .. } => true,
        _ => false,
    }
}

/// A monolithic PUT refused in a way a chunked upload may not be (size limits, a proxy
/// refusing large bodies, a registry that only takes chunks).
fn fallback_worthy(e: &RegistryError) -> bool {
    matches!(e, RegistryError::Status { status, .. } if matches!(status, 400 | 405 | 411 | 413 | 416 | 501))
}
