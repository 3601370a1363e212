//! Language-model providers: Ollama, OpenAI-compatible servers, Anthropic, and a `claude-code`
//! command, each an [`LlmProvider`] chosen by `LLM_PROVIDER`.
//!
//! [`LlmConfig::from_env`] reads the seed's variables (only those of the chosen provider, so a
//! stray value for another one never breaks a run) and [`LlmConfig::build`] makes the provider,
//! or `None` for `LLM_PROVIDER=none`. Every provider has a connect timeout, an overall time
//! limit and the bounded [`RetryPolicy`]; a refused connection fails at once so that a missing
//! server costs one connection attempt before the built-in generator takes over. Keys are held
//! in [`Secret`] and never shown.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use pipewright_adapters::llm::LlmConfig;
//! use pipewright_core::llm::parse_answer;
//! let config = LlmConfig::from_env()?;
//! if let Some(provider) = config.build()? {
//!     let answer = provider.complete(&config.request("system".into(), "user".into())).await?;
//!     let files = parse_answer(&answer.text)?;
//!     println!("{}", files.gitlab_ci);
//! }
//! # Ok(()) }
//! ```

mod anthropic;
mod claude_code;
mod http;
mod ollama;
mod openai;
mod probe;
mod retry;

pub use anthropic::{AnthropicConfig, AnthropicProvider};
pub use claude_code::{split_command_line, ClaudeCodeConfig, ClaudeCodeProvider};
pub use ollama::{OllamaConfig, OllamaProvider};
pub use openai::{OpenAiConfig, OpenAiProvider};
pub use probe::probe;
pub use retry::RetryPolicy;

use pipewright_core::llm::{LlmProvider, LlmRequest, ProviderKind};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A credential. Its `Debug` output is `Secret(***)`, it has no `Display`, and
/// [`Secret::expose`] is the only way to read it (where it goes into a header).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Time limits and retries shared by every provider.
#[derive(Debug, Clone, PartialEq)]
pub struct CallLimits {
    /// The whole request, from connecting to the last byte of the answer (`LLM_TIMEOUT_SECS`).
    pub timeout: Duration,
    /// Establishing the connection only; short, so an absent server is noticed at once.
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
}

/// How long generation may take unless `LLM_TIMEOUT_SECS` says otherwise: a large local model
/// writing two files needs minutes, not seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);
/// How long connecting may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The sampling temperature unless `LLM_TEMPERATURE` says otherwise.
pub const DEFAULT_TEMPERATURE: f32 = 0.2;

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits {
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }
}

/// Which provider to build, with its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderConfig {
    /// `LLM_PROVIDER=none`: no model; the built-in generator writes the pipeline.
    None,
    Ollama(OllamaConfig),
    OpenAi(OpenAiConfig),
    Anthropic(AnthropicConfig),
    ClaudeCode(ClaudeCodeConfig),
}

/// Everything needed to make the configured provider and to build requests for it.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmConfig {
    pub provider: ProviderConfig,
    /// `LLM_TEMPERATURE`, used by [`LlmConfig::request`].
    pub temperature: f32,
    pub limits: CallLimits,
}

/// Why the LLM configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmConfigError {
    #[error("LLM_PROVIDER=`{0}` is not known; use ollama, openai, anthropic, claude-code or none")]
    UnknownProvider(String),
    #[error("{var}=`{value}` is not {expected}; fix or unset it")]
    Invalid {
        var: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{var} is not set; {why}")]
    Missing {
        var: &'static str,
        why: &'static str,
    },
    #[error("the HTTP client for {provider} could not be set up: {reason}")]
    Client {
        provider: ProviderKind,
        reason: String,
    },
}

/// The seed's default: a local Ollama.
const DEFAULT_PROVIDER: &str = "ollama";
/// More retries than this only delay the fallback.
const MAX_RETRIES_CAP: u32 = 10;

impl LlmConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, LlmConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (an empty value counts as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, LlmConfigError> {
        let env = Env(&lookup);
        let name = env.get("LLM_PROVIDER");
        let name = name.as_deref().unwrap_or(DEFAULT_PROVIDER);
        let provider = if name.trim().eq_ignore_ascii_case("none") {
            ProviderConfig::None
        } else {
            match ProviderKind::parse(name) {
                Some(ProviderKind::Ollama) => ProviderConfig::Ollama(OllamaConfig::from_env(&env)?),
                Some(ProviderKind::OpenAi) => ProviderConfig::OpenAi(OpenAiConfig::from_env(&env)?),
                Some(ProviderKind::Anthropic) => {
                    ProviderConfig::Anthropic(AnthropicConfig::from_env(&env)?)
                }
                Some(ProviderKind::ClaudeCode) => {
                    ProviderConfig::ClaudeCode(ClaudeCodeConfig::from_env(&env)?)
                }
                None => return Err(LlmConfigError::UnknownProvider(name.to_string())),
            }
        };
        let temperature = env
            .parsed::<f32>("LLM_TEMPERATURE", "a number from 0 to 2")?
            .unwrap_or(DEFAULT_TEMPERATURE);
        if !(0.0..=2.0).contains(&temperature) {
            return Err(LlmConfigError::Invalid {
                var: "LLM_TEMPERATURE",
                value: temperature.to_string(),
                expected: "a number from 0 to 2",
            });
        }
        let timeout_secs = env
            .parsed::<u64>("LLM_TIMEOUT_SECS", "a whole number of seconds above 0")?
            .unwrap_or(DEFAULT_TIMEOUT.as_secs());
        if timeout_secs == 0 {
            return Err(LlmConfigError::Invalid {
                var: "LLM_TIMEOUT_SECS",
                value: "0".into(),
                expected: "a whole number of seconds above 0",
            });
        }
        let max_retries = env
            .parsed::<u32>("LLM_MAX_RETRIES", "a whole number from 0 to 10")?
            .unwrap_or(RetryPolicy::default().max_retries);
        if max_retries > MAX_RETRIES_CAP {
            return Err(LlmConfigError::Invalid {
                var: "LLM_MAX_RETRIES",
                value: max_retries.to_string(),
                expected: "a whole number from 0 to 10",
            });
        }
        Ok(LlmConfig {
            provider,
            temperature,
            limits: CallLimits {
                timeout: Duration::from_secs(timeout_secs),
                retry: RetryPolicy {
                    max_retries,
                    ..RetryPolicy::default()
                },
                ..CallLimits::default()
            },
        })
    }

    /// Makes the configured provider; `None` for `LLM_PROVIDER=none`.
    pub fn build(&self) -> Result<Option<Arc<dyn LlmProvider>>, LlmConfigError> {
        let limits = self.limits.clone();
        Ok(match &self.provider {
            ProviderConfig::None => None,
            ProviderConfig::Ollama(c) => Some(Arc::new(OllamaProvider::new(c.clone(), limits)?)),
            ProviderConfig::OpenAi(c) => Some(Arc::new(OpenAiProvider::new(c.clone(), limits)?)),
            ProviderConfig::Anthropic(c) => {
                Some(Arc::new(AnthropicProvider::new(c.clone(), limits)?))
            }
            ProviderConfig::ClaudeCode(c) => {
                Some(Arc::new(ClaudeCodeProvider::new(c.clone(), limits)))
            }
        })
    }

    /// A pipeline request with the configured temperature and the answer schema.
    pub fn request(&self, system: String, user: String) -> LlmRequest {
        LlmRequest::for_pipeline(system, user, self.temperature)
    }
}

/// Environment reading with the conventions above: trimmed, empty means unset.
pub(crate) struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn parsed<T: std::str::FromStr>(
        &self,
        name: &'static str,
        expected: &'static str,
    ) -> Result<Option<T>, LlmConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => text
                .parse::<T>()
                .map(Some)
                .map_err(|_| LlmConfigError::Invalid {
                    var: name,
                    value: text,
                    expected,
                }),
        }
    }
}

/// Reads an API key; it goes into an HTTP header, so it must be printable ASCII without spaces
/// (a pasted key with a stray character is caught here, not as a puzzling transport error).
pub(crate) fn api_key(env: &Env<'_>, var: &'static str) -> Result<Option<Secret>, LlmConfigError> {
    match env.get(var) {
        None => Ok(None),
        Some(key) if key.bytes().all(|b| b.is_ascii_graphic()) => Ok(Some(Secret::new(key))),
        Some(_) => Err(LlmConfigError::Invalid {
            var,
            value: "(hidden)".into(),
            expected: "a key of printable ASCII characters without spaces",
        }),
    }
}

/// Checks that `text` is an http(s) URL and returns it without a trailing slash.
pub(crate) fn base_url(var: &'static str, text: &str) -> Result<String, LlmConfigError> {
    let invalid = || LlmConfigError::Invalid {
        var,
        value: shown_url(text),
        expected: "an http:// or https:// URL",
    };
    let url = reqwest::Url::parse(text).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid());
    }
    Ok(text.trim_end_matches('/').to_string())
}

/// A URL as it may be shown: without a user name or password.
pub(crate) fn shown_url(text: &str) -> String {
    match reqwest::Url::parse(text) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            // Both setters only fail for URLs that cannot have credentials at all.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.as_str().trim_end_matches('/').to_string()
        }
        Ok(_) => text.trim_end_matches('/').to_string(),
        Err(_) => "(not a URL)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_hides_the_value() {
        let s = Secret::new("sk-live-123456");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "sk-live-123456");
    }

    #[test]
    fn shown_url_drops_credentials() {
        assert_eq!(
            shown_url("http://user:pw@ollama.internal:11434/"),
            "http://ollama.internal:11434"
        );
        assert_eq!(
            shown_url("https://api.openai.com"),
            "https://api.openai.com"
        );
    }

    #[test]
    fn base_url_refuses_other_schemes() {
        assert!(base_url("OPENAI_BASE_URL", "ftp://x").is_err());
        assert!(base_url("OPENAI_BASE_URL", "not a url").is_err());
        assert_eq!(
            base_url("OPENAI_BASE_URL", "http://x:1/v1/").unwrap(),
            "http://x:1/v1"
        );
    }
}
