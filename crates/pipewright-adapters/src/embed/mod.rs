//! Embedders that need the outside world: Ollama's `/api/embed` ([`OllamaEmbedder`]). The
//! built-in embedding lives in the core; [`embedder_from_vars`] picks one of the two from the
//! environment.

pub mod ollama;

pub use ollama::OllamaEmbedder;

use pipewright_core::knowledge::{BuiltinEmbedder, EmbedError, Embedder};
use std::sync::Arc;

/// Where Ollama listens when `OLLAMA_HOST` is not set.
pub const DEFAULT_OLLAMA_URL: &str = "http://localhost:11434";

/// Ollama's embedding when `OLLAMA_EMBED_MODEL` is set (at `OLLAMA_HOST`, a URL or
/// `host:port`, default `http://localhost:11434`), else the built-in embedding.
pub fn embedder_from_vars(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Embedder>, EmbedError> {
    match var("OLLAMA_EMBED_MODEL").filter(|m| !m.trim().is_empty()) {
        Some(model) => {
            let host = var("OLLAMA_HOST")
                .filter(|h| !h.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_OLLAMA_URL.to_string());
            let url = if host.contains("://") {
                host
            } else {
                format!("http://{host}")
            };
            Ok(Arc::new(OllamaEmbedder::new(&url, model.trim())?))
        }
        None => Ok(Arc::new(BuiltinEmbedder::default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_variable_selects_ollama() {
        let e = embedder_from_vars(|_| None).unwrap();
        assert!(e.name().starts_with("builtin-"));
        let e = embedder_from_vars(|k| match k {
            "OLLAMA_EMBED_MODEL" => Some("nomic-embed-text".into()),
            "OLLAMA_HOST" => Some("gpu-box:11434".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(e.name(), "ollama:nomic-embed-text");
    }
}
