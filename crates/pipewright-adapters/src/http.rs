//! The one way pipewright makes an HTTP client: [`client_builder`]. TLS is rustls with the
//! `ring` crypto provider, installed once as the process default, because reqwest is built
//! without its default provider (aws-lc, whose C build was the slowest single step of a
//! fresh `cargo build`). A client made with `reqwest::Client::builder()` directly, before
//! anything called [`install_crypto_provider`], panics when it is built: use this module.

use std::sync::Once;

/// Installs rustls' `ring` provider as the process default (once; later calls do nothing, and
/// a provider someone else installed first is kept).
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means a provider is already installed: that one is used, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// `reqwest::Client::builder()`, after making sure TLS has its crypto provider.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

/// A client with reqwest's defaults (tests, and callers with nothing to configure). Building
/// one only fails when the system's TLS roots cannot be read.
pub fn client() -> reqwest::Result<reqwest::Client> {
    client_builder().build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_client_with_tls_can_be_built() {
        assert!(super::client().is_ok());
    }
}
