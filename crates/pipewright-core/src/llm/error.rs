//! Why a call to a language model failed, in terms a user can act on.
//!
//! Every provider (Ollama, OpenAI-compatible, Anthropic, a `claude-code` command) reports its
//! failures as one [`LlmError`], so callers decide on one closed set: fall back to the built-in
//! generator, retry, or tell the user what to fix. The hints name the environment variable to
//! change, taken from one table per provider ([`ProviderKind`]). Server-provided text passes
//! through [`scrub_detail`] first, so no key, even a masked one, ends up in a message.

use regex::Regex;
use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

/// The kinds of language-model backends pipewright can talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Ollama,
    OpenAi,
    Anthropic,
    ClaudeCode,
}

/// The names a user sees for one provider kind: its `LLM_PROVIDER` value and the variables
/// that configure it.
struct ProviderNames {
    kind: ProviderKind,
    name: &'static str,
    endpoint_var: &'static str,
    model_var: &'static str,
    key_var: Option<&'static str>,
    model_hint: &'static str,
}

const PROVIDERS: &[ProviderNames] = &[
    ProviderNames {
        kind: ProviderKind::Ollama,
        name: "ollama",
        endpoint_var: "OLLAMA_HOST",
        model_var: "OLLAMA_MODEL",
        key_var: None,
        model_hint: "pull it on the server (`ollama pull <model>`) or set OLLAMA_MODEL to a model `ollama list` shows",
    },
    ProviderNames {
        kind: ProviderKind::OpenAi,
        name: "openai",
        endpoint_var: "OPENAI_BASE_URL",
        model_var: "OPENAI_MODEL",
        key_var: Some("OPENAI_API_KEY"),
        model_hint: "set OPENAI_MODEL to a model the server lists at /v1/models",
    },
    ProviderNames {
        kind: ProviderKind::Anthropic,
        name: "anthropic",
        endpoint_var: "ANTHROPIC_BASE_URL",
        model_var: "ANTHROPIC_MODEL",
        key_var: Some("ANTHROPIC_API_KEY"),
        model_hint: "set ANTHROPIC_MODEL to a current model id from Anthropic's model list",
    },
    ProviderNames {
        kind: ProviderKind::ClaudeCode,
        name: "claude-code",
        endpoint_var: "CLAUDE_CODE_COMMAND",
        model_var: "CLAUDE_CODE_COMMAND",
        key_var: None,
        model_hint: "choose the model in CLAUDE_CODE_COMMAND (for example `--model`)",
    },
];

impl ProviderKind {
    /// Every kind, in the order of the provider table.
    pub const ALL: &'static [ProviderKind] = &[
        ProviderKind::Ollama,
        ProviderKind::OpenAi,
        ProviderKind::Anthropic,
        ProviderKind::ClaudeCode,
    ];

    fn names(self) -> &'static ProviderNames {
        // The table holds every kind; the fallback only keeps this total.
        PROVIDERS
            .iter()
            .find(|p| p.kind == self)
            .unwrap_or(&PROVIDERS[0])
    }

    /// The `LLM_PROVIDER` value that selects this kind.
    pub fn as_str(self) -> &'static str {
        self.names().name
    }

    /// Parses an `LLM_PROVIDER` value (case-insensitive). `none` is not a provider kind.
    pub fn parse(text: &str) -> Option<ProviderKind> {
        let wanted = text.trim().to_ascii_lowercase();
        PROVIDERS.iter().find(|p| p.name == wanted).map(|p| p.kind)
    }

    /// The variable that says where the provider is (a URL, or the command line).
    pub fn endpoint_var(self) -> &'static str {
        self.names().endpoint_var
    }

    /// The variable that names the model.
    pub fn model_var(self) -> &'static str {
        self.names().model_var
    }

    /// The variable that holds the provider's API key, when it needs one.
    pub fn key_var(self) -> Option<&'static str> {
        self.names().key_var
    }

    fn unreachable_hint(self) -> String {
        format!(
            "start the server or correct {}; LLM_PROVIDER=none uses the built-in generator instead",
            self.endpoint_var()
        )
    }

    fn auth_hint(self) -> String {
        match self.key_var() {
            Some(var) => format!("check {var}"),
            None => format!(
                "this {} server expects credentials pipewright does not send; put a proxy in front of it or use a server without authentication",
                self.as_str()
            ),
        }
    }

    fn rejected_hint(self) -> String {
        format!("check {} and {}", self.endpoint_var(), self.model_var())
    }

    fn bad_answer_hint(self) -> String {
        format!(
            "check that {} points at a {} server",
            self.endpoint_var(),
            self.as_str()
        )
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a language-model call failed. Each message says what failed, where, and what to do.
///
/// `endpoint` is the base URL for HTTP providers and the program name for a command; it never
/// holds a key (keys travel in headers, and command lines are shown by program name only).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// The server could not be connected to at all (connection refused, unknown host, connect
    /// timeout). Not retried: a server that is not there will not appear within a backoff.
    #[error("{provider} could not be reached at {endpoint}: {reason}; {hint}", hint = .provider.unreachable_hint())]
    Unreachable {
        provider: ProviderKind,
        endpoint: String,
        reason: String,
    },
    /// The server has no such model.
    #[error("{provider} at {endpoint} has no model `{model}`: {detail}; {hint}", hint = .provider.names().model_hint)]
    ModelNotFound {
        provider: ProviderKind,
        endpoint: String,
        model: String,
        detail: String,
    },
    /// The credentials were missing, wrong or not allowed (HTTP 401/403).
    #[error("{provider} at {endpoint} refused the credentials (HTTP {status}): {detail}; {hint}", hint = .provider.auth_hint())]
    Auth {
        provider: ProviderKind,
        endpoint: String,
        status: u16,
        detail: String,
    },
    /// The account has no quota left; waiting does not help.
    #[error("{provider} at {endpoint} reports the account's quota is used up (HTTP {status}): {detail}; add credit, use another key, or set LLM_PROVIDER=none")]
    QuotaExhausted {
        provider: ProviderKind,
        endpoint: String,
        status: u16,
        detail: String,
    },
    /// Too many requests (HTTP 429); `retry_after` is what the server asked for, if anything.
    #[error("{provider} at {endpoint} is rate limiting requests{after}: {detail}; wait and try again, or lower the request rate", after = retry_after_text(.retry_after))]
    RateLimited {
        provider: ProviderKind,
        endpoint: String,
        retry_after: Option<Duration>,
        detail: String,
    },
    /// The server failed or is overloaded (HTTP 5xx, Anthropic's 529).
    #[error("{provider} at {endpoint} failed with HTTP {status}: {detail}; this is usually temporary, try again later")]
    Server {
        provider: ProviderKind,
        endpoint: String,
        status: u16,
        detail: String,
    },
    /// The server refused the request for another reason (HTTP 4xx).
    #[error("{provider} at {endpoint} rejected the request (HTTP {status}): {detail}; {hint}", hint = .provider.rejected_hint())]
    Rejected {
        provider: ProviderKind,
        endpoint: String,
        status: u16,
        detail: String,
    },
    /// No complete answer arrived within the time limit.
    #[error("{provider} at {endpoint} did not answer within {limit}; raise LLM_TIMEOUT_SECS or use a smaller model", limit = duration_text(.limit))]
    Timeout {
        provider: ProviderKind,
        endpoint: String,
        limit: Duration,
    },
    /// The connection broke after it was made (reset, closed early).
    #[error("the connection to {provider} at {endpoint} broke during the request: {reason}; check the network between pipewright and the server")]
    Transport {
        provider: ProviderKind,
        endpoint: String,
        reason: String,
    },
    /// The server answered, but not in the shape its API documents (not JSON, no content).
    #[error("{provider} at {endpoint} sent an answer pipewright cannot read: {detail}; {hint}", hint = .provider.bad_answer_hint())]
    BadAnswer {
        provider: ProviderKind,
        endpoint: String,
        detail: String,
    },
    /// The answer was bigger than pipewright accepts, and was discarded.
    #[error("{provider} at {endpoint} sent more than {limit} bytes; the answer was discarded, check the model's output settings")]
    TooLarge {
        provider: ProviderKind,
        endpoint: String,
        limit: usize,
    },
    /// A configured command could not be started.
    #[error("the {provider} command `{program}` could not be started: {reason}; install it or set CLAUDE_CODE_COMMAND")]
    CommandStart {
        provider: ProviderKind,
        program: String,
        reason: String,
    },
    /// A configured command ran but did not succeed.
    #[error("the {provider} command `{program}` {status}; its last error output: {stderr_tail}; run it by hand to see why")]
    CommandFailed {
        provider: ProviderKind,
        program: String,
        /// How it ended: `exited with status 2`, `was killed by signal 9`.
        status: String,
        stderr_tail: String,
    },
}

impl LlmError {
    /// The provider the failure came from.
    pub fn provider(&self) -> ProviderKind {
        match self {
            LlmError::Unreachable { provider, .. }
            | LlmError::ModelNotFound { provider, .. }
            | LlmError::Auth { provider, .. }
            | LlmError::QuotaExhausted { provider, .. }
            | LlmError::RateLimited { provider, .. }
            | LlmError::Server { provider, .. }
            | LlmError::Rejected { provider, .. }
            | LlmError::Timeout { provider, .. }
            | LlmError::Transport { provider, .. }
            | LlmError::BadAnswer { provider, .. }
            | LlmError::TooLarge { provider, .. }
            | LlmError::CommandStart { provider, .. }
            | LlmError::CommandFailed { provider, .. } => *provider,
        }
    }

    /// True when the same request may succeed if sent again after a pause: rate limits,
    /// server errors, timeouts and broken connections. A refused connection is not transient:
    /// retrying it only delays the fallback.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LlmError::RateLimited { .. }
                | LlmError::Server { .. }
                | LlmError::Timeout { .. }
                | LlmError::Transport { .. }
        )
    }

    /// How long the server asked the client to wait, when it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LlmError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

fn retry_after_text(after: &Option<Duration>) -> String {
    match after {
        Some(d) => format!(" (it asks to wait {})", duration_text(d)),
        None => String::new(),
    }
}

fn duration_text(d: &Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The longest server-provided detail kept in an error message, in characters.
pub const MAX_DETAIL_CHARS: usize = 300;

/// Things that look like credentials in server text: OpenAI-style keys (also masked ones such
/// as `sk-abc***wxyz`, which still give away part of the key) and echoed auth headers.
static CREDENTIAL_PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"\bsk-[A-Za-z0-9_*.\-]{3,}",
        r"(?i)\b(bearer|splunk)\s+[A-Za-z0-9_*.\-+/=]{6,}",
        r"(?i)\b(x-api-key|api[_-]?key)\s*[:=]\s*\S+",
    ]
    .iter()
    .filter_map(|p| Regex::new(p).ok())
    .collect()
});

/// Prepares server-provided text for an error message: removes `secret` wherever it appears,
/// blanks anything that looks like a key, folds whitespace, and cuts the result to
/// [`MAX_DETAIL_CHARS`].
pub fn scrub_detail(text: &str, secret: Option<&str>) -> String {
    let mut out = text.to_string();
    if let Some(secret) = secret.filter(|s| !s.is_empty()) {
        out = out.replace(secret, "[redacted]");
    }
    for pattern in CREDENTIAL_PATTERNS.iter() {
        out = pattern.replace_all(&out, "[redacted]").into_owned();
    }
    let folded: String = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.is_empty() {
        return "(no message)".to_string();
    }
    clip_chars(&folded, MAX_DETAIL_CHARS)
}

/// Cuts `text` to at most `max` characters, marking the cut with `…`.
pub(crate) fn clip_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip() {
        for kind in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(
            ProviderKind::parse(" Claude-Code "),
            Some(ProviderKind::ClaudeCode)
        );
        assert_eq!(ProviderKind::parse("none"), None);
    }

    #[test]
    fn unreachable_message_says_where_and_what_to_do() {
        let e = LlmError::Unreachable {
            provider: ProviderKind::Ollama,
            endpoint: "http://localhost:11434".into(),
            reason: "connection refused".into(),
        };
        let text = e.to_string();
        assert!(text.contains("http://localhost:11434"), "{text}");
        assert!(text.contains("connection refused"), "{text}");
        assert!(text.contains("OLLAMA_HOST"), "{text}");
        assert!(text.contains("LLM_PROVIDER=none"), "{text}");
        assert!(!e.is_transient());
    }

    #[test]
    fn transient_errors_are_rate_limits_server_errors_timeouts_and_broken_connections() {
        let p = ProviderKind::OpenAi;
        let ep = || "http://x".to_string();
        let transient = [
            LlmError::RateLimited {
                provider: p,
                endpoint: ep(),
                retry_after: Some(Duration::from_secs(2)),
                detail: String::new(),
            },
            LlmError::Server {
                provider: p,
                endpoint: ep(),
                status: 503,
                detail: String::new(),
            },
            LlmError::Timeout {
                provider: p,
                endpoint: ep(),
                limit: Duration::from_millis(1500),
            },
            LlmError::Transport {
                provider: p,
                endpoint: ep(),
                reason: String::new(),
            },
        ];
        assert!(transient.iter().all(LlmError::is_transient));
        let lasting = [
            LlmError::Auth {
                provider: p,
                endpoint: ep(),
                status: 401,
                detail: String::new(),
            },
            LlmError::QuotaExhausted {
                provider: p,
                endpoint: ep(),
                status: 429,
                detail: String::new(),
            },
            LlmError::Rejected {
                provider: p,
                endpoint: ep(),
                status: 400,
                detail: String::new(),
            },
        ];
        assert!(!lasting.iter().any(LlmError::is_transient));
        assert!(transient[0].to_string().contains("wait 2 s"));
        assert!(transient[2].to_string().contains("1.5 s"));
    }

    #[test]
    fn scrub_removes_the_secret_masked_keys_and_auth_headers() {
        let text = "Incorrect API key provided: sk-test***************cdef. Also got \
                    secret-value-123 and Authorization: Bearer abcdefghijkl";
        let out = scrub_detail(text, Some("secret-value-123"));
        assert!(!out.contains("secret-value-123"), "{out}");
        assert!(!out.contains("cdef"), "{out}");
        assert!(!out.contains("abcdefghijkl"), "{out}");
        assert!(out.contains("Incorrect API key provided"), "{out}");
        assert_eq!(scrub_detail(" \n", None), "(no message)");
    }

    #[test]
    fn scrub_clips_long_text_on_a_character_boundary() {
        let text = "é".repeat(MAX_DETAIL_CHARS + 50);
        let out = scrub_detail(&text, None);
        assert_eq!(out.chars().count(), MAX_DETAIL_CHARS + 1);
        assert!(out.ends_with('…'));
    }
}
