//! Talking to a language model, without doing it: the provider contract, the prompts, and the
//! reading of answers.
//!
//! The adapters crate implements [`LlmProvider`] for each backend (Ollama, OpenAI-compatible
//! servers, Anthropic, a `claude-code` command); the workflow builds an [`LlmRequest`] from
//! [`prompt::system_prompt`] and [`prompt::user_prompt`], sends it, and reads the reply with
//! [`answer::parse_answer`]. Everything here is pure, so prompts and parsing are tested on
//! strings.
//!
//! ```
//! use pipewright_core::llm::{answer::parse_answer, prompt, LlmRequest};
//! let system = prompt::system_prompt(&prompt::PromptSettings::default());
//! let request = LlmRequest::for_pipeline(system, "…".into(), 0.2);
//! assert!(request.json_schema.is_some());
//! let files = parse_answer(r#"{"gitlab_ci":"stages: [compile]","dockerfile":"FROM x","notes":[]}"#)
//!     .unwrap();
//! assert_eq!(files.dockerfile, "FROM x\n");
//! ```

pub mod answer;
pub mod error;
pub mod prompt;

pub use answer::{parse_answer, AnswerError, GeneratedFiles};
pub use error::{LlmError, ProviderKind};

use async_trait::async_trait;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// One request to a model: a system prompt, a user prompt, and how to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmRequest {
    pub system: String,
    pub user: String,
    /// 0.0 (deterministic) to 1.0; pipeline writing wants it low.
    pub temperature: f32,
    /// The most output tokens wanted; `None` leaves the provider's default (Anthropic, which
    /// requires a value, gets its configured default).
    pub max_tokens: Option<u32>,
    /// The shape the answer must have, for servers that can enforce it.
    pub json_schema: Option<JsonSchema>,
}

/// A named JSON schema for structured output.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonSchema {
    /// A short identifier (`[a-zA-Z0-9_-]`, as OpenAI requires).
    pub name: String,
    pub schema: serde_json::Value,
}

impl LlmRequest {
    /// A request for the pipeline pair, constrained to [`answer::answer_schema`].
    pub fn for_pipeline(system: String, user: String, temperature: f32) -> Self {
        LlmRequest {
            system,
            user,
            temperature,
            max_tokens: None,
            json_schema: Some(JsonSchema {
                name: answer::ANSWER_SCHEMA_NAME.to_string(),
                schema: answer::answer_schema().clone(),
            }),
        }
    }
}

/// A model's reply.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmAnswer {
    /// The reply text, as the model wrote it (read it with [`parse_answer`]).
    pub text: String,
    /// The model that answered, as the server names it.
    pub model: String,
    pub usage: Option<Usage>,
    /// From the first attempt to the answer, retries and waits included.
    pub elapsed: Duration,
}

/// Token counts, when the server reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// A language-model backend. Implementations keep their own time limit and retry policy, and
/// never put keys in errors or in their `Debug` output.
#[async_trait]
pub trait LlmProvider: Send + Sync + fmt::Debug {
    /// Which backend this is.
    fn kind(&self) -> ProviderKind;
    /// The model requests go to.
    fn model(&self) -> &str;
    /// Where requests go: a base URL, or the program of a command.
    fn endpoint(&self) -> &str;
    /// Sends one request and returns the reply text.
    async fn complete(&self, request: &LlmRequest) -> Result<LlmAnswer, LlmError>;
}
