//! The native registry client: copies images between registries over the OCI distribution
//! API, with no skopeo, crane or Docker. [`NativeRegistry`] implements the core's
//! [`Registry`] trait; `client.rs` holds HTTP, authentication and retries, `copy.rs` the copy
//! itself, `manifest.rs` what is read of manifests.
//!
//! Written on `reqwest` (already the project's HTTP client) rather than `oci-client`: see
//! ARCHITECTURE.md, "Decisions worth knowing", for the measured and read reasons.

pub mod auth;
pub mod client;
pub mod copy;
pub mod manifest;

pub use auth::{Credentials, Secret};
pub use client::{ClientSettings, HttpClient};
pub use copy::{Copier, CopySettings};

use pipewright_core::images::{CopyReport, Digest, ImageRef, Platform, Registry, RegistryError};

/// The native [`Registry`].
pub struct NativeRegistry {
    copier: Copier,
}

impl NativeRegistry {
    /// A client with these connection and copy settings. Fails only on an unreadable CA file.
    pub fn new(client: ClientSettings, copy: CopySettings) -> Result<Self, String> {
        Ok(NativeRegistry {
            copier: Copier::new(HttpClient::new(client)?, copy),
        })
    }
}

#[async_trait::async_trait]
impl Registry for NativeRegistry {
    async fn digest(&self, image: &ImageRef) -> Result<Option<Digest>, RegistryError> {
        let scope = format!("repository:{}:pull", image.repository);
        self.copier
            .head_manifest(image, image.reference(), &scope)
            .await
    }

    async fn copy(
        &self,
        source: &ImageRef,
        target: &ImageRef,
        platforms: &[Platform],
    ) -> Result<CopyReport, RegistryError> {
        self.copier.copy(source, target, platforms).await
    }
}
