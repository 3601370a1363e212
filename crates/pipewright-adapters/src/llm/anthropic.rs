//! Anthropic's Messages API: `POST {base}/v1/messages` with `x-api-key`,
//! `anthropic-version: 2023-06-01` and a JSON body whose `system` prompt is top-level and whose
//! `max_tokens` is required. The answer is the text blocks of `content`. Errors come as
//! `{"type":"error","error":{"type","message"}}`; the error type decides, so an
//! `overloaded_error` (HTTP 529) is retried like a 5xx and an `authentication_error` is not.

use super::http::{self, ErrorClass, Target};
use super::{api_key, base_url, shown_url, CallLimits, Env, LlmConfigError, Secret};
use async_trait::async_trait;
use pipewright_core::llm::{LlmAnswer, LlmError, LlmProvider, LlmRequest, ProviderKind, Usage};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Instant;

/// Anthropic's API.
pub const DEFAULT_ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
/// A current model that writes pipelines well.
pub const DEFAULT_ANTHROPIC_MODEL: &str = "claude-sonnet-4-5";
/// The API version pipewright speaks; the header is required.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// `max_tokens` when the request does not say: two files and notes fit easily.
pub const DEFAULT_ANTHROPIC_MAX_TOKENS: u32 = 8192;

/// Settings for Anthropic.
#[derive(Debug, Clone, PartialEq)]
pub struct AnthropicConfig {
    /// `ANTHROPIC_BASE_URL` (for tests and gateways).
    pub base_url: String,
    /// `ANTHROPIC_API_KEY`.
    pub api_key: Secret,
    /// `ANTHROPIC_MODEL`.
    pub model: String,
    /// Used when the request has no `max_tokens`.
    pub max_tokens: u32,
}

impl AnthropicConfig {
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Self, LlmConfigError> {
        let api_key = api_key(env, "ANTHROPIC_API_KEY")?.ok_or(LlmConfigError::Missing {
            var: "ANTHROPIC_API_KEY",
            why: "the Anthropic API needs a key; set it, or choose another LLM_PROVIDER",
        })?;
        let base_url = match env.get("ANTHROPIC_BASE_URL") {
            Some(text) => base_url("ANTHROPIC_BASE_URL", &text)?,
            None => DEFAULT_ANTHROPIC_BASE_URL.to_string(),
        };
        Ok(AnthropicConfig {
            base_url,
            api_key,
            model: env
                .get("ANTHROPIC_MODEL")
                .unwrap_or_else(|| DEFAULT_ANTHROPIC_MODEL.to_string()),
            max_tokens: DEFAULT_ANTHROPIC_MAX_TOKENS,
        })
    }
}

/// Anthropic error types and what they mean; `not_found_error` is a model only when the message
/// says so (a wrong base URL gives the same type).
const ERROR_TYPES: &[(&str, ErrorClass)] = &[
    ("authentication_error", ErrorClass::Auth),
    ("permission_error", ErrorClass::Auth),
    ("billing_error", ErrorClass::Quota),
    ("rate_limit_error", ErrorClass::RateLimited),
    ("overloaded_error", ErrorClass::Server),
    ("api_error", ErrorClass::Server),
    ("timeout_error", ErrorClass::Server),
    ("invalid_request_error", ErrorClass::Rejected),
    ("request_too_large", ErrorClass::Rejected),
];

/// Talks to Anthropic.
#[derive(Debug)]
pub struct AnthropicProvider {
    config: AnthropicConfig,
    endpoint: String,
    limits: CallLimits,
    client: reqwest::Client,
}

impl AnthropicProvider {
    pub fn new(config: AnthropicConfig, limits: CallLimits) -> Result<Self, LlmConfigError> {
        Ok(AnthropicProvider {
            endpoint: shown_url(&config.base_url),
            client: http::client(ProviderKind::Anthropic, &limits)?,
            config,
            limits,
        })
    }

    fn body(&self, request: &LlmRequest) -> Value {
        json!({
            "model": self.config.model,
            "max_tokens": request.max_tokens.unwrap_or(self.config.max_tokens),
            "system": request.system,
            "messages": [{"role": "user", "content": request.user}],
            "temperature": request.temperature.min(1.0),
        })
    }

    async fn attempt(&self, target: &Target<'_>, body: &Value) -> Result<Message, LlmError> {
        let url = format!("{}/v1/messages", self.config.base_url);
        let builder = self
            .client
            .post(&url)
            .header("x-api-key", self.config.api_key.expose())
            .header("anthropic-version", ANTHROPIC_VERSION)
            .json(body);
        let reply = http::send(target, builder).await?;
        if reply.status == 200 {
            return serde_json::from_str::<Message>(&reply.body).map_err(|e| {
                http::bad_answer(target, &format!("no `content` in the reply ({e})"))
            });
        }
        let error = serde_json::from_str::<ErrorEnvelope>(&reply.body)
            .ok()
            .map(|e| e.error);
        let class = match &error {
            Some(e) if e.kind == "not_found_error" => {
                if e.message.contains("model") {
                    ErrorClass::ModelNotFound
                } else {
                    ErrorClass::Rejected
                }
            }
            Some(e) => ERROR_TYPES
                .iter()
                .find(|(kind, _)| *kind == e.kind)
                .map_or_else(|| http::class_of_status(reply.status), |(_, c)| *c),
            None => http::class_of_status(reply.status),
        };
        let detail = error.map_or_else(
            || reply.body.clone(),
            |e| format!("{}: {}", e.kind, e.message),
        );
        Err(http::status_error(target, class, &reply, &detail))
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct Message {
    model: Option<String>,
    content: Vec<ContentBlock>,
    usage: Option<MessageUsage>,
}

#[derive(Deserialize)]
struct ContentBlock {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Deserialize)]
struct MessageUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

#[async_trait]
impl LlmProvider for AnthropicProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Anthropic
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
            provider: ProviderKind::Anthropic,
            endpoint: &self.endpoint,
            model: &self.config.model,
            secret: Some(self.config.api_key.expose()),
            timeout: self.limits.timeout,
        };
        let body = self.body(request);
        let message = self
            .limits
            .retry
            .run(|| self.attempt(&target, &body))
            .await?;
        let text: String = message
            .content
            .iter()
            .filter(|block| block.kind == "text")
            .filter_map(|block| block.text.as_deref())
            .collect();
        if text.trim().is_empty() {
            return Err(http::bad_answer(&target, "the reply has no text content"));
        }
        Ok(LlmAnswer {
            text,
            model: message.model.unwrap_or_else(|| self.config.model.clone()),
            usage: message.usage.map(|u| Usage {
                input_tokens: u.input_tokens.unwrap_or(0),
                output_tokens: u.output_tokens.unwrap_or(0),
            }),
            elapsed: started.elapsed(),
        })
    }
}
