//! The parts of image manifests and indexes the copier reads. The bytes themselves are kept
//! and pushed as received, so digests never change; these types only say what to copy.

use serde::Deserialize;

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker image manifest v2 schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The `Accept` header: all four types, so no registry answers "unknown" for an OCI image or
/// converts an index.
pub const ACCEPT_ALL: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Docker's non-distributable layers: they live elsewhere (`urls`) and are not copied.
const FOREIGN_LAYERS: &[&str] = &[
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
];

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PlatformSpec {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub platform: Option<PlatformSpec>,
    #[serde(default)]
    pub urls: Vec<String>,
}

impl Descriptor {
    /// Whether the blob lives outside registries (foreign layers) and is not copied.
    pub fn is_foreign(&self) -> bool {
        FOREIGN_LAYERS.contains(&self.media_type.as_str()) || !self.urls.is_empty()
    }
}

/// A manifest or an index, as far as copying cares.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestDoc {
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// OCI artifact manifests may name a subject; it is not copied (referrers are out of scope).
    #[serde(default)]
    pub blobs: Vec<Descriptor>,
}

/// What kind of document a manifest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Index,
    Image,
}

/// The media type to push the bytes with and the kind: the registry's `Content-Type` when it
/// is one of the four, else the document's own `mediaType`, else its shape.
pub fn kind_of(content_type: Option<&str>, doc: &ManifestDoc) -> Result<(String, Kind), String> {
    let declared = content_type
        .map(|c| c.split(';').next().unwrap_or(c).trim().to_string())
        .filter(|c| [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].contains(&c.as_str()));
    let media = declared
        .or_else(|| doc.media_type.clone())
        .unwrap_or_else(|| {
            if doc.manifests.is_empty() {
                OCI_MANIFEST.to_string()
            } else {
                OCI_INDEX.to_string()
            }
        });
    match media.as_str() {
        OCI_INDEX | DOCKER_LIST => Ok((media, Kind::Index)),
        OCI_MANIFEST | DOCKER_MANIFEST => Ok((media, Kind::Image)),
        other => Err(format!(
            "unsupported manifest type `{other}` (schema 1 and other legacy formats are not copied)"
        )),
    }
}

impl ManifestDoc {
    /// The blobs an image manifest needs: config, layers (foreign ones left out).
    pub fn blobs(&self) -> Vec<Descriptor> {
        self.config
            .iter()
            .chain(&self.layers)
            .chain(&self.blobs)
            .filter(|d| !d.is_foreign())
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_wins_then_media_type_then_shape() {
        let doc: ManifestDoc = serde_json::from_str(
            r#"{"schemaVersion":2,"manifests":[{"digest":"sha256:a","size":1,"platform":{"os":"linux","architecture":"amd64"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            kind_of(None, &doc).unwrap(),
            (OCI_INDEX.to_string(), Kind::Index)
        );
        assert_eq!(
            kind_of(
                Some("application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8"),
                &doc
            )
            .unwrap()
            .0,
            DOCKER_LIST
        );
        let legacy: ManifestDoc = serde_json::from_str(
            r#"{"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#,
        )
        .unwrap();
        assert!(kind_of(Some("application/json"), &legacy).is_err());
    }

    #[test]
    fn foreign_layers_are_not_copied() {
        let doc: ManifestDoc = serde_json::from_str(
            r#"{"config":{"mediaType":"c","digest":"sha256:c","size":2},"layers":[
              {"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"sha256:f","size":3,"urls":["https://x"]},
              {"mediaType":"l","digest":"sha256:l","size":4}]}"#,
        )
        .unwrap();
        let d: Vec<String> = doc.blobs().into_iter().map(|b| b.digest).collect();
        assert_eq!(d, vec!["sha256:c", "sha256:l"]);
    }
}
