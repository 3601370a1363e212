//! Ollama: `POST {OLLAMA_HOST}/api/chat`, non-streaming, with the answer's JSON schema as
//! `format` so the server constrains the output, and `temperature`/`num_ctx` in `options`
//! (Ollama's own default context is far too small for a prompt that quotes a pipeline).
//! Ollama reports errors as `{"error": "…"}`; a 404 that says "not found" is a missing model.

use super::http::{self, ErrorClass, Target};
use super::{base_url, shown_url, CallLimits, Env, LlmConfigError};
use async_trait::async_trait;
use pipewright_core::llm::{LlmAnswer, LlmError, LlmProvider, LlmRequest, ProviderKind, Usage};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Instant;

/// The seed's model.
pub const DEFAULT_OLLAMA_MODEL: &str = "pipeline-generator-v5";
/// Where Ollama listens by default.
pub const DEFAULT_OLLAMA_HOST: &str = "http://localhost:11434";
/// The context window asked for: room for the system prompt, a quoted reference pipeline and
/// the two files written back.
pub const DEFAULT_NUM_CTX: u32 = 16384;

/// Ollama's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OllamaConfig {
    /// Base URL (`OLLAMA_HOST`), without a trailing slash.
    pub host: String,
    /// `OLLAMA_MODEL`.
    pub model: String,
    /// `OLLAMA_NUM_CTX`.
    pub num_ctx: u32,
}

impl Default for OllamaConfig {
    fn default() -> Self {
        OllamaConfig {
            host: DEFAULT_OLLAMA_HOST.into(),
            model: DEFAULT_OLLAMA_MODEL.into(),
            num_ctx: DEFAULT_NUM_CTX,
        }
    }
}

impl OllamaConfig {
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Self, LlmConfigError> {
        let host = match env.get("OLLAMA_HOST") {
            Some(text) => base_url("OLLAMA_HOST", &ollama_host_url(&text))?,
            None => DEFAULT_OLLAMA_HOST.to_string(),
        };
        let num_ctx = env
            .parsed::<u32>("OLLAMA_NUM_CTX", "a whole number of tokens (e.g. 16384)")?
            .unwrap_or(DEFAULT_NUM_CTX);
        Ok(OllamaConfig {
            host,
            model: env
                .get("OLLAMA_MODEL")
                .unwrap_or_else(|| DEFAULT_OLLAMA_MODEL.to_string()),
            num_ctx,
        })
    }
}

/// Reads `OLLAMA_HOST` the way the `ollama` command does: `host[:port]` without a scheme means
/// `http://host:11434`.
fn ollama_host_url(text: &str) -> String {
    if text.contains("://") {
        return text.to_string();
    }
    let has_port = text
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.trim_end_matches('/').parse::<u16>().is_ok());
    if has_port {
        format!("http://{text}")
    } else {
        format!("http://{}:11434", text.trim_end_matches('/'))
    }
}

/// Talks to an Ollama server.
#[derive(Debug)]
pub struct OllamaProvider {
    config: OllamaConfig,
    endpoint: String,
    limits: CallLimits,
    client: reqwest::Client,
}

impl OllamaProvider {
    pub fn new(config: OllamaConfig, limits: CallLimits) -> Result<Self, LlmConfigError> {
        Ok(OllamaProvider {
            endpoint: shown_url(&config.host),
            client: http::client(ProviderKind::Ollama, &limits)?,
            config,
            limits,
        })
    }

    fn body(&self, request: &LlmRequest) -> Value {
        let mut options = json!({
            "temperature": request.temperature,
            "num_ctx": self.config.num_ctx,
        });
        if let Some(max) = request.max_tokens {
            options["num_predict"] = json!(max);
        }
        let mut body = json!({
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user},
            ],
            "stream": false,
            "options": options,
        });
        if let Some(schema) = &request.json_schema {
            body["format"] = schema.schema.clone();
        }
        body
    }

    async fn attempt(&self, target: &Target<'_>, body: &Value) -> Result<ChatReply, LlmError> {
        let url = format!("{}/api/chat", self.config.host);
        let reply = http::send(target, self.client.post(&url).json(body)).await?;
        let error_text = serde_json::from_str::<ErrorBody>(&reply.body)
            .ok()
            .map(|e| e.error);
        if reply.status != 200 {
            let detail = error_text.unwrap_or_else(|| reply.body.clone());
            let class = if reply.status == 404 && detail.contains("not found") {
                ErrorClass::ModelNotFound
            } else {
                http::class_of_status(reply.status)
            };
            return Err(http::status_error(target, class, &reply, &detail));
        }
        if let Some(error) = error_text {
            return Err(http::bad_answer(
                target,
                &format!("error in a 200 reply: {error}"),
            ));
        }
        let chat = serde_json::from_str::<ChatReply>(&reply.body).map_err(|e| {
            http::bad_answer(target, &format!("no `message.content` in the reply ({e})"))
        })?;
        if chat.message.content.trim().is_empty() {
            // Not retried: the same request tends to get the same empty reply, and the caller
            // has a fallback.
            return Err(http::bad_answer(target, "the model returned no text"));
        }
        Ok(chat)
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

#[derive(Deserialize)]
struct ChatReply {
    model: Option<String>,
    message: ChatMessage,
    prompt_eval_count: Option<u64>,
    eval_count: Option<u64>,
}

#[derive(Deserialize)]
struct ChatMessage {
    content: String,
}

#[async_trait]
impl LlmProvider for OllamaProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Ollama
    }

    fn model(&self) -> &str {
        &self.config.model
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmAnswer, LlmError> {
        let started = Instant::now();
        let target = Target {
            provider: ProviderKind::Ollama,
            endpoint: &self.endpoint,
            model: &self.config.model,
            secret: None,
            timeout: self.limits.timeout,
        };
        let body = self.body(request);
        let reply = self
            .limits
            .retry
            .run(|| self.attempt(&target, &body))
            .await?;
        let usage = match (reply.prompt_eval_count, reply.eval_count) {
            (None, None) => None,
            (input, output) => Some(Usage {
                input_tokens: input.unwrap_or(0),
                output_tokens: output.unwrap_or(0),
            }),
        };
        Ok(LlmAnswer {
            text: reply.message.content,
            model: reply.model.unwrap_or_else(|| self.config.model.clone()),
            usage,
            elapsed: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_without_scheme_gets_http_and_the_default_port() {
        assert_eq!(ollama_host_url("gpu-box"), "http://gpu-box:11434");
        assert_eq!(ollama_host_url("gpu-box:8080"), "http://gpu-box:8080");
        assert_eq!(ollama_host_url("https://o.example"), "https://o.example");
    }
}
