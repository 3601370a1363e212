//! OpenAI and OpenAI-compatible servers (vLLM, llama.cpp, LM Studio, LiteLLM …):
//! `POST {base}/v1/chat/completions` with `Authorization: Bearer`, asking for structured output
//! through `response_format: json_schema`. Servers that do not know `response_format` answer
//! 400 about it; the provider then sends the request again without it and keeps doing so (the
//! prompt still states the format and the parser accepts prose). Errors are read from
//! `{"error": {"message", "type", "code"}}`, whose codes say more than the status: a 429 may be a
//! rate limit (retried) or an exhausted quota (not).

use super::http::{self, ErrorClass, Reply, Target};
use super::{api_key, base_url, shown_url, CallLimits, Env, LlmConfigError, Secret};
use async_trait::async_trait;
use pipewright_core::llm::{LlmAnswer, LlmError, LlmProvider, LlmRequest, ProviderKind, Usage};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// OpenAI's own API.
pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com";
/// A small, current model that follows JSON schemas.
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";

/// Settings for an OpenAI-compatible server.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiConfig {
    /// `OPENAI_BASE_URL`, with or without a trailing `/v1`.
    pub base_url: String,
    /// `OPENAI_API_KEY`; required for OpenAI itself, optional for local servers.
    pub api_key: Option<Secret>,
    /// `OPENAI_MODEL`.
    pub model: String,
}

impl OpenAiConfig {
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Self, LlmConfigError> {
        let base_url = match env.get("OPENAI_BASE_URL") {
            Some(text) => base_url("OPENAI_BASE_URL", &text)?,
            None => DEFAULT_OPENAI_BASE_URL.to_string(),
        };
        let api_key = api_key(env, "OPENAI_API_KEY")?;
        if api_key.is_none() && base_url == DEFAULT_OPENAI_BASE_URL {
            return Err(LlmConfigError::Missing {
                var: "OPENAI_API_KEY",
                why: "OpenAI's API needs a key; set it, or set OPENAI_BASE_URL to a server that needs none",
            });
        }
        Ok(OpenAiConfig {
            base_url,
            api_key,
            model: env
                .get("OPENAI_MODEL")
                .unwrap_or_else(|| DEFAULT_OPENAI_MODEL.to_string()),
        })
    }

    /// The chat-completions URL; a base that already ends in `/v1` (the OpenAI SDKs' convention)
    /// is not given a second one.
    fn completions_url(&self) -> String {
        let base = self.base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        format!("{base}/v1/chat/completions")
    }
}

/// OpenAI error codes (or types) that say more than the HTTP status.
const ERROR_CODES: &[(&str, ErrorClass)] = &[
    ("invalid_api_key", ErrorClass::Auth),
    ("invalid_authentication", ErrorClass::Auth),
    ("model_not_found", ErrorClass::ModelNotFound),
    ("insufficient_quota", ErrorClass::Quota),
    ("rate_limit_exceeded", ErrorClass::RateLimited),
];

/// Talks to an OpenAI-compatible server.
#[derive(Debug)]
pub struct OpenAiProvider {
    config: OpenAiConfig,
    endpoint: String,
    limits: CallLimits,
    client: reqwest::Client,
    /// Set once the server has refused `response_format`; later requests leave it out.
    no_response_format: AtomicBool,
}

impl OpenAiProvider {
    pub fn new(config: OpenAiConfig, limits: CallLimits) -> Result<Self, LlmConfigError> {
        Ok(OpenAiProvider {
            endpoint: shown_url(&config.base_url),
            client: http::client(ProviderKind::OpenAi, &limits)?,
            config,
            limits,
            no_response_format: AtomicBool::new(false),
        })
    }

    fn body(&self, request: &LlmRequest, structured: bool) -> Value {
        let mut body = json!({
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user},
            ],
            "temperature": request.temperature,
        });
        if let Some(max) = request.max_tokens {
            body["max_tokens"] = json!(max);
        }
        if let (true, Some(schema)) = (structured, &request.json_schema) {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": schema.name, "schema": schema.schema, "strict": true},
            });
        }
        body
    }

    async fn attempt(&self, target: &Target<'_>, request: &LlmRequest) -> Result<Value, LlmError> {
        let structured =
            request.json_schema.is_some() && !self.no_response_format.load(Ordering::Relaxed);
        let reply = self.post(target, &self.body(request, structured)).await?;
        if structured && refuses_response_format(&reply) {
            self.no_response_format.store(true, Ordering::Relaxed);
            let reply = self.post(target, &self.body(request, false)).await?;
            return self.read(target, reply);
        }
        self.read(target, reply)
    }

    async fn post(&self, target: &Target<'_>, body: &Value) -> Result<Reply, LlmError> {
        let mut builder = self.client.post(self.config.completions_url()).json(body);
        if let Some(key) = &self.config.api_key {
            builder = builder.bearer_auth(key.expose());
        }
        http::send(target, builder).await
    }

    fn read(&self, target: &Target<'_>, reply: Reply) -> Result<Value, LlmError> {
        if reply.status == 200 {
            return serde_json::from_str::<Value>(&reply.body)
                .map_err(|e| http::bad_answer(target, &format!("the reply is not JSON ({e})")));
        }
        let error = error_detail(&reply.body);
        let class = error
            .as_ref()
            .and_then(|e| {
                [e.code.as_deref(), e.kind.as_deref()]
                    .into_iter()
                    .flatten()
                    .find_map(|c| ERROR_CODES.iter().find(|(code, _)| *code == c))
            })
            .map_or_else(|| http::class_of_status(reply.status), |(_, class)| *class);
        let detail = error.map_or_else(|| reply.body.clone(), |e| e.message);
        Err(http::status_error(target, class, &reply, &detail))
    }
}

/// A 400/422 whose error is about `response_format` (or its `json_schema`), the way servers
/// without structured output reject it.
fn refuses_response_format(reply: &Reply) -> bool {
    if !matches!(reply.status, 400 | 422) {
        return false;
    }
    let about_format =
        |text: &str| text.contains("response_format") || text.contains("json_schema");
    match error_detail(&reply.body) {
        Some(error) => {
            error.param.as_deref().is_some_and(about_format) || about_format(&error.message)
        }
        None => about_format(&reply.body),
    }
}

/// OpenAI nests the error under `error`; some compatible servers (vLLM) send the same fields
/// at the top level.
fn error_detail(body: &str) -> Option<ErrorDetail> {
    serde_json::from_str::<ErrorEnvelope>(body)
        .map(|e| e.error)
        .or_else(|_| serde_json::from_str::<ErrorDetail>(body))
        .ok()
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "code_as_text")]
    code: Option<String>,
    param: Option<String>,
}

/// `code` is a string at OpenAI and a number at some compatible servers.
fn code_as_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

#[derive(Deserialize)]
struct Completion {
    model: Option<String>,
    choices: Vec<Choice>,
    usage: Option<CompletionUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
    refusal: Option<String>,
}

#[derive(Deserialize)]
struct CompletionUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

#[async_trait]
impl LlmProvider for OpenAiProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::OpenAi
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
            provider: ProviderKind::OpenAi,
            endpoint: &self.endpoint,
            model: &self.config.model,
            secret: self.config.api_key.as_ref().map(Secret::expose),
            timeout: self.limits.timeout,
        };
        let value = self
            .limits
            .retry
            .run(|| self.attempt(&target, request))
            .await?;
        let completion: Completion = serde_json::from_value(value).map_err(|e| {
            http::bad_answer(
                &target,
                &format!("no `choices[0].message` in the reply ({e})"),
            )
        })?;
        let message = completion
            .choices
            .into_iter()
            .next()
            .map(|c| c.message)
            .ok_or_else(|| http::bad_answer(&target, "the reply has no choices"))?;
        let text = match (message.content, message.refusal) {
            (Some(text), _) if !text.trim().is_empty() => text,
            (_, Some(refusal)) => {
                return Err(http::bad_answer(
                    &target,
                    &format!("the model refused: {refusal}"),
                ))
            }
            (_, None) => return Err(http::bad_answer(&target, "the reply has no content")),
        };
        Ok(LlmAnswer {
            text,
            model: completion
                .model
                .unwrap_or_else(|| self.config.model.clone()),
            usage: completion.usage.map(|u| Usage {
                input_tokens: u.prompt_tokens.unwrap_or(0),
                output_tokens: u.completion_tokens.unwrap_or(0),
            }),
            elapsed: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str) -> OpenAiConfig {
        OpenAiConfig {
            base_url: base.into(),
            api_key: None,
            model: "m".into(),
        }
    }

    #[test]
    fn a_base_ending_in_v1_gets_no_second_v1() {
        assert_eq!(
            config("http://h:8000/v1").completions_url(),
            "http://h:8000/v1/chat/completions"
        );
        assert_eq!(
            config("https://api.openai.com").completions_url(),
            "https://api.openai.com/v1/chat/completions"
        );
    }

    #[test]
    fn a_400_about_response_format_is_recognised() {
        let reply = |status, body: &str| Reply {
            status,
            retry_after: None,
            body: body.into(),
        };
        assert!(refuses_response_format(&reply(
            400,
            r#"{"error":{"message":"Unrecognized request argument supplied: response_format","type":"invalid_request_error","param":null,"code":null}}"#
        )));
        assert!(refuses_response_format(&reply(
            400,
            r#"{"error":{"message":"bad","type":"invalid_request_error","param":"response_format","code":null}}"#
        )));
        assert!(!refuses_response_format(&reply(
            400,
            r#"{"error":{"message":"max_tokens too large","type":"invalid_request_error","param":"max_tokens","code":null}}"#
        )));
        assert!(!refuses_response_format(&reply(500, "response_format")));
    }
}
