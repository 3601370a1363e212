//! The registry contract the seeding step is written against: whether an image is present
//! (its digest) and copying one image, all its platforms or the chosen ones. The native client
//! in `pipewright-adapters` (`registry/`) implements it over the OCI distribution API.

use super::reference::{Digest, ImageRef};
use serde::Serialize;
use std::fmt;

/// A platform, `os/architecture[/variant]` (`linux/amd64`, `linux/arm64/v8`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.trim().split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] if !os.is_empty() && !arch.is_empty() && !v.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(format!(
                "`{text}` is not a platform: write os/architecture[/variant], for example linux/amd64"
            )),
        }
    }

    /// Whether an index entry's platform is this one (a missing variant matches any).
    pub fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        self.os == os
            && self.architecture == architecture
            && (self.variant.is_none() || self.variant.as_deref() == variant)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// What one copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// The digest of the top manifest (index or manifest) at the target: the source's.
    pub digest: Option<Digest>,
    /// The target already had that digest: nothing was sent.
    pub already_present: bool,
    pub manifests_pushed: usize,
    pub blobs_uploaded: usize,
    pub blobs_mounted: usize,
    pub blobs_present: usize,
    pub bytes_uploaded: u64,
}

/// Progress of copies, for a terminal display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A blob of `size` bytes starts uploading for `target`.
    BlobStarted { target: String, size: u64 },
    /// `bytes` more were sent for `target`.
    Bytes { target: String, bytes: u64 },
}

/// Why a registry call failed. Messages name the registry and image; never a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("{registry} refused the credentials{user}: {message}; check NEXUS_USERNAME and NEXUS_PASSWORD")]
    Auth {
        registry: String,
        user: String,
        message: String,
    },
    #[error("{image} does not exist: {message}")]
    NotFound { image: String, message: String },
    #[error("{registry} answered {status} to {what}: {message}")]
    Status {
        registry: String,
        status: u16,
        what: String,
        message: String,
    },
    #[error("cannot reach {registry}: {message}")]
    Unreachable { registry: String, message: String },
    #[error("{registry} sent something pipewright cannot use for {image}: {message}")]
    Invalid {
        registry: String,
        image: String,
        message: String,
    },
}

impl RegistryError {
    /// A stable short name for machine output.
    pub fn kind(&self) -> &'static str {
        match self {
            RegistryError::Auth { .. } => "auth",
            RegistryError::NotFound { .. } => "not_found",
            RegistryError::Status { .. } => "status",
            RegistryError::Unreachable { .. } => "unreachable",
            RegistryError::Invalid { .. } => "invalid",
        }
    }
}

/// A registry client able to look at and copy images between registries.
#[async_trait::async_trait]
pub trait Registry: Send + Sync {
    /// The digest `image` resolves to (HEAD of its manifest with every manifest type
    /// accepted), `None` when the registry has no such manifest.
    async fn digest(&self, image: &ImageRef) -> Result<Option<Digest>, RegistryError>;

    /// Copies `source` to `target`: nothing when the target already has the source's digest;
    /// else the blobs each manifest needs, the platform manifests, then the index, as the
    /// source's bytes (digests preserved). `platforms` empty means all of them.
    async fn copy(
        &self,
        source: &ImageRef,
        target: &ImageRef,
        platforms: &[Platform],
    ) -> Result<CopyReport, RegistryError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_and_match() {
        let p = Platform::parse("linux/arm64").unwrap();
        assert!(p.matches("linux", "arm64", Some("v8")));
        assert!(!p.matches("linux", "amd64", None));
        let p = Platform::parse("linux/arm/v7").unwrap();
        assert_eq!(p.to_string(), "linux/arm/v7");
        assert!(!p.matches("linux", "arm", Some("v6")));
        assert!(Platform::parse("linux").is_err());
    }
}
