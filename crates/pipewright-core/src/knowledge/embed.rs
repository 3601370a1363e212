//! Embeddings: the [`Embedder`] trait and the built-in [`BuiltinEmbedder`].
//!
//! The built-in embedding needs no model and no network: it hashes the stack fingerprint's
//! tokens into one region of the vector and the words of the pipeline text into another, so
//! it gives the same numbers on every run and every machine. A query made from a stack alone
//! is then closest to records of the most similar stack. A model's embedding (Ollama's
//! `/api/embed`, in the adapters crate) can replace it; each collection records which
//! embedder and dimension it was built with, and the stores refuse to mix them.

use super::record::Record;
use super::stack_key::{StackField, StackKey};
use async_trait::async_trait;

/// What one embedding is made from.
#[derive(Debug, Clone, Copy)]
pub struct EmbedInput<'a> {
    pub stack: &'a StackKey,
    /// Pipeline and Dockerfile text (empty for a query made from a stack alone).
    pub text: &'a str,
}

impl EmbedInput<'_> {
    /// The single text a text model embeds: the fingerprint line, then the text.
    pub fn as_document(&self) -> String {
        if self.text.is_empty() {
            self.stack.fingerprint()
        } else {
            format!("{}\n{}", self.stack.fingerprint(), self.text)
        }
    }
}

/// Turns stacks and texts into vectors.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// A stable name recorded with every collection built with this embedder, e.g.
    /// `builtin-fnv-v1-d256` or `ollama:nomic-embed-text`.
    fn name(&self) -> &str;

    /// One vector per input, all of the same dimension.
    async fn embed(&self, inputs: &[EmbedInput<'_>]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Embeds each record's stack and text ([`Record::embedding_text`]), one vector per record.
pub async fn embed_records(
    embedder: &dyn Embedder,
    records: &[Record],
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let texts: Vec<String> = records.iter().map(Record::embedding_text).collect();
    let inputs: Vec<EmbedInput<'_>> = records
        .iter()
        .zip(&texts)
        .map(|(r, t)| EmbedInput {
            stack: &r.stack,
            text: t,
        })
        .collect();
    let vectors = embedder.embed(&inputs).await?;
    if vectors.len() != records.len() {
        return Err(EmbedError::Malformed {
            url: embedder.name().to_string(),
            reason: format!("{} vectors for {} records", vectors.len(), records.len()),
        });
    }
    Ok(vectors)
}

/// The query vector for a stack alone (empty text).
pub async fn embed_query(
    embedder: &dyn Embedder,
    stack: &StackKey,
) -> Result<Vec<f32>, EmbedError> {
    embedder
        .embed(&[EmbedInput { stack, text: "" }])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| EmbedError::Malformed {
            url: embedder.name().to_string(),
            reason: "no vector for the query".into(),
        })
}

/// Why an embedding could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbedError {
    #[error("the embedding server at {url} cannot be reached: {reason}; start it, or unset OLLAMA_EMBED_MODEL to use the built-in embedding")]
    Unreachable { url: String, reason: String },
    #[error("the embedding server at {url} answered HTTP {status}: {message}; check the model name (is it pulled?) and the server's log")]
    Server {
        url: String,
        status: u16,
        message: String,
    },
    #[error("the embedding server at {url} gave an unusable answer: {reason}; check that it is an Ollama server with /api/embed")]
    Malformed { url: String, reason: String },
}

/// The built-in deterministic embedding (feature hashing with FNV-1a).
#[derive(Debug, Clone)]
pub struct BuiltinEmbedder {
    dimension: usize,
    name: String,
}

/// The built-in embedding's default dimension.
pub const BUILTIN_DIMENSION: usize = 256;

/// How much each stack field counts inside the stack region.
const STACK_TOKEN_WEIGHTS: &[(StackField, f32)] = &[
    (StackField::Language, 4.0),
    (StackField::Framework, 3.0),
    (StackField::BuildTool, 2.0),
    (StackField::RuntimeMajor, 1.0),
    (StackField::TestFramework, 1.0),
    (StackField::Databases, 1.0),
];

/// Share of the vector's length given to the stack region and to the text region
/// (0.8² + 0.6² = 1, so a record with text has unit length before normalisation).
const STACK_PART: f32 = 0.8;
const TEXT_PART: f32 = 0.6;

/// Words beyond this many are not hashed (a size guard; records are capped anyway).
const MAX_TEXT_TOKENS: usize = 50_000;

impl Default for BuiltinEmbedder {
    fn default() -> Self {
        BuiltinEmbedder::with_dimension(BUILTIN_DIMENSION)
    }
}

impl BuiltinEmbedder {
    /// A built-in embedder of `dimension` (at least 8; smaller values are raised to 8).
    pub fn with_dimension(dimension: usize) -> Self {
        let dimension = dimension.max(8);
        BuiltinEmbedder {
            dimension,
            name: format!("builtin-fnv-v1-d{dimension}"),
        }
    }

    /// The vector's length.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// The embedding of one input, without the async wrapper.
    pub fn embed_one(&self, input: &EmbedInput<'_>) -> Vec<f32> {
        let stack_dims = self.dimension / 4;
        let mut stack = vec![0f32; stack_dims];
        for (token, field) in input.stack.weighted_tokens() {
            let weight = STACK_TOKEN_WEIGHTS
                .iter()
                .find(|(f, _)| *f == field)
                .map(|(_, w)| *w)
                .unwrap_or(1.0);
            add_hashed(&mut stack, token.as_bytes(), weight);
        }
        let mut text = vec![0f32; self.dimension - stack_dims];
        for word in words(input.text).take(MAX_TEXT_TOKENS) {
            add_hashed(&mut text, word.as_bytes(), 1.0);
        }
        normalize(&mut stack);
        normalize(&mut text);
        let mut out: Vec<f32> = stack.iter().map(|x| x * STACK_PART).collect();
        out.extend(text.iter().map(|x| x * TEXT_PART));
        normalize(&mut out);
        out
    }
}

#[async_trait]
impl Embedder for BuiltinEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    async fn embed(&self, inputs: &[EmbedInput<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(inputs.iter().map(|i| self.embed_one(i)).collect())
    }
}

/// Lowercase words of letters, digits and `_ - . : /` (so `python:3.12-slim` stays one word).
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/')))
        .filter(|w| w.len() >= 2)
        .map(str::to_lowercase)
}

/// Adds `weight` (with a hash-chosen sign, so collisions cancel rather than pile up) at the
/// hash-chosen position.
fn add_hashed(region: &mut [f32], bytes: &[u8], weight: f32) {
    if region.is_empty() {
        return;
    }
    let h = fnv1a(bytes);
    let slot = (h % region.len() as u64) as usize;
    let sign = if (h >> 63) == 0 { 1.0 } else { -1.0 };
    region[slot] += sign * weight;
}

/// FNV-1a, 64 bit: fixed constants, so the same bytes give the same hash everywhere.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Scales `v` to unit length (leaves a zero vector as it is).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{BuildTool, Framework, Language};

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn the_same_input_gives_the_same_vector() {
        let e = BuiltinEmbedder::default();
        let stack = StackKey::new(Language::Python).with_framework(Some(Framework::Flask));
        let a = e.embed_one(&EmbedInput {
            stack: &stack,
            text: "stages: [build]",
        });
        let b = e.embed_one(&EmbedInput {
            stack: &stack,
            text: "stages: [build]",
        });
        assert_eq!(a, b);
        assert_eq!(a.len(), BUILTIN_DIMENSION);
        assert!((dot(&a, &a) - 1.0).abs() < 1e-5);
        // Pinned so a change to the hashing (which would silently break stored collections)
        // fails here; bump the name's version when it is deliberate.
        assert_eq!(e.name(), "builtin-fnv-v1-d256");
        assert_eq!(fnv1a(b"language=python"), 0xdbb3_cb02_20d4_3754);
    }

    #[test]
    fn vectors_are_pinned_bit_for_bit() {
        // Stored collections depend on these exact numbers; a deliberate change to the
        // hashing must bump the version in the embedder's name.
        let e = BuiltinEmbedder::default();
        let stack = StackKey::new(Language::Python).with_framework(Some(Framework::Flask));
        let v = e.embed_one(&EmbedInput {
            stack: &stack,
            text: "stages: [build]\nFROM python:3.12",
        });
        let nonzero: Vec<(usize, u32)> = v
            .iter()
            .enumerate()
            .filter(|(_, x)| **x != 0.0)
            .map(|(i, x)| (i, x.to_bits()))
            .collect();
        assert_eq!(
            nonzero,
            vec![
                (20, 3205550274),
                (22, 3188773058),
                (24, 1041289410),
                (42, 1041289410),
                (47, 3197161666),
                (49, 1054423331),
                (101, 3197737369),
                (160, 3197737369),
                (181, 1050253721),
                (195, 3197737369),
            ]
        );
    }

    #[test]
    fn a_query_is_closest_to_the_most_similar_stack() {
        let e = BuiltinEmbedder::default();
        let base = StackKey::new(Language::Python)
            .with_framework(Some(Framework::Django))
            .with_build_tool(Some(BuildTool::Poetry));
        let q = e.embed_one(&EmbedInput {
            stack: &base,
            text: "",
        });
        let same = e.embed_one(&EmbedInput {
            stack: &base,
            text: "stages: [compile]",
        });
        let other_tool = e.embed_one(&EmbedInput {
            stack: &base.clone().with_build_tool(Some(BuildTool::Pip)),
            text: "stages: [compile]",
        });
        let other_lang = e.embed_one(&EmbedInput {
            stack: &StackKey::new(Language::Ruby),
            text: "stages: [compile]",
        });
        assert!(dot(&q, &same) > dot(&q, &other_tool));
        assert!(dot(&q, &other_tool) > dot(&q, &other_lang));
    }
}
