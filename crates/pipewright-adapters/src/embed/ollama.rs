//! Embeddings from an Ollama server (`POST /api/embed`), for teams that want a model's
//! notion of similarity instead of the built-in hashing. One request per batch of inputs;
//! the answer must hold one vector per input, all of one dimension.

use crate::store::error_chain;
use async_trait::async_trait;
use pipewright_core::knowledge::{EmbedError, EmbedInput, Embedder};
use serde_json::{json, Value};
use std::time::Duration;

/// Inputs per request.
const BATCH: usize = 64;
/// Text per input beyond this is cut (Ollama would truncate to the model's context anyway).
const MAX_INPUT_BYTES: usize = 32 * 1024;

/// A client of one Ollama server and one embedding model.
#[derive(Debug, Clone)]
pub struct OllamaEmbedder {
    http: reqwest::Client,
    url: String,
    model: String,
    name: String,
}

impl OllamaEmbedder {
    /// A client for `model` at `url` (e.g. `http://localhost:11434`).
    pub fn new(url: &str, model: &str) -> Result<Self, EmbedError> {
        let url = url.trim_end_matches('/').to_string();
        let http = crate::http::client_builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| EmbedError::Malformed {
                url: url.clone(),
                reason: format!("cannot set up the HTTP client: {}", error_chain(&e)),
            })?;
        Ok(OllamaEmbedder {
            http,
            name: format!("ollama:{model}"),
            url,
            model: model.to_string(),
        })
    }

    async fn embed_batch(&self, documents: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let endpoint = format!("{}/api/embed", self.url);
        let response = self
            .http
            .post(&endpoint)
            .json(&json!({ "model": self.model, "input": documents, "truncate": true }))
            .send()
            .await
            .map_err(|e| {
                let down = e.is_connect() || e.is_timeout();
                let reason = error_chain(&e.without_url());
                if down {
                    EmbedError::Unreachable {
                        url: self.url.clone(),
                        reason,
                    }
                } else {
                    EmbedError::Malformed {
                        url: self.url.clone(),
                        reason,
                    }
                }
            })?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| EmbedError::Malformed {
            url: self.url.clone(),
            reason: format!(
                "the answer (HTTP {status}) is not JSON: {}",
                error_chain(&e.without_url())
            ),
        })?;
        if !status.is_success() {
            return Err(EmbedError::Server {
                url: self.url.clone(),
                status: status.as_u16(),
                message: body
                    .get("error")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| body.to_string()),
            });
        }
        let malformed = |reason: String| EmbedError::Malformed {
            url: self.url.clone(),
            reason,
        };
        let rows = body
            .get("embeddings")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("no `embeddings` list in the answer".into()))?;
        if rows.len() != documents.len() {
            return Err(malformed(format!(
                "{} embeddings for {} inputs",
                rows.len(),
                documents.len()
            )));
        }
        rows.iter()
            .map(|row| {
                row.as_array()
                    .ok_or_else(|| malformed("an embedding is not a list".into()))?
                    .iter()
                    .map(|x| {
                        x.as_f64()
                            .map(|f| f as f32)
                            .ok_or_else(|| malformed("an embedding holds a non-number".into()))
                    })
                    .collect()
            })
            .collect()
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[async_trait]
impl Embedder for OllamaEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    async fn embed(&self, inputs: &[EmbedInput<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let documents: Vec<String> = inputs
            .iter()
            .map(|i| cut(i.as_document(), MAX_INPUT_BYTES))
            .collect();
        let mut out = Vec::with_capacity(documents.len());
        for chunk in documents.chunks(BATCH) {
            out.extend(self.embed_batch(chunk).await?);
        }
        if let Some(first) = out.first().map(Vec::len) {
            if let Some(other) = out.iter().map(Vec::len).find(|n| *n != first) {
                return Err(EmbedError::Malformed {
                    url: self.url.clone(),
                    reason: format!("embeddings of dimensions {first} and {other} in one answer"),
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipewright_core::knowledge::StackKey;
    use pipewright_core::stack::Language;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A fake Ollama: answers each `POST /api/embed` with `answer(request body)` and keeps
    /// the bodies it received.
    async fn fake_ollama(answer: fn(&Value) -> (u16, Value)) -> (String, Arc<Mutex<Vec<Value>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, length) = loop {
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (i + 4, len);
                    }
                };
                while buf.len() < head_end + length {
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body: Value = serde_json::from_slice(&buf[head_end..]).unwrap();
                let (status, reply) = answer(&body);
                log.lock().unwrap().push(body);
                let text = reply.to_string();
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                sock.write_all(response.as_bytes()).await.unwrap();
            }
        });
        (url, seen)
    }

    fn inputs(stack: &StackKey) -> Vec<EmbedInput<'_>> {
        vec![
            EmbedInput { stack, text: "" },
            EmbedInput {
                stack,
                text: "stages: [compile]",
            },
        ]
    }

    #[tokio::test]
    async fn sends_the_model_and_documents_and_reads_the_vectors() {
        let (url, seen) = fake_ollama(|body| {
            let n = body["input"].as_array().map(Vec::len).unwrap_or(0);
            (
                200,
                json!({ "model": body["model"], "embeddings": vec![vec![0.5, 0.5, 0.0]; n] }),
            )
        })
        .await;
        let e = OllamaEmbedder::new(&url, "nomic-embed-text").unwrap();
        let stack = StackKey::new(Language::Go);
        let v = e.embed(&inputs(&stack)).await.unwrap();
        assert_eq!(v, vec![vec![0.5, 0.5, 0.0]; 2]);
        let sent = seen.lock().unwrap()[0].clone();
        assert_eq!(sent["model"], "nomic-embed-text");
        assert_eq!(sent["input"][0], stack.fingerprint());
        assert!(sent["input"][1]
            .as_str()
            .unwrap()
            .ends_with("stages: [compile]"));
    }

    #[tokio::test]
    async fn a_missing_model_is_reported_with_the_servers_words() {
        let (url, _) = fake_ollama(|_| {
            (
                404,
                json!({ "error": "model \"nope\" not found, try pulling it first" }),
            )
        })
        .await;
        let e = OllamaEmbedder::new(&url, "nope").unwrap();
        let stack = StackKey::new(Language::Go);
        let err = e.embed(&inputs(&stack)).await.unwrap_err();
        assert!(
            matches!(err, EmbedError::Server { status: 404, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("try pulling it"), "{err}");
    }

    #[tokio::test]
    async fn a_short_answer_is_refused() {
        let (url, _) = fake_ollama(|_| (200, json!({ "embeddings": [[1.0, 0.0]] }))).await;
        let e = OllamaEmbedder::new(&url, "m").unwrap();
        let stack = StackKey::new(Language::Go);
        let err = e.embed(&inputs(&stack)).await.unwrap_err();
        assert!(
            err.to_string().contains("1 embeddings for 2 inputs"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_server_that_is_down_is_unreachable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = OllamaEmbedder::new(&format!("http://127.0.0.1:{port}"), "m").unwrap();
        let stack = StackKey::new(Language::Go);
        let err = e.embed(&inputs(&stack)).await.unwrap_err();
        assert!(matches!(err, EmbedError::Unreachable { .. }), "{err}");
    }

    #[test]
    fn long_texts_are_cut_on_a_character_boundary() {
        assert_eq!(cut("héllo".into(), 2), "h");
        assert_eq!(cut("abc".into(), 10), "abc");
    }
}
