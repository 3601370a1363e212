//! [`AppState`]: what every handler shares, opened once at start: the knowledge store, the
//! LLM, the GitLab client, the base settings, the API tokens and the limits. Nothing here is
//! required: a store or model that cannot be opened, or a GitLab that is not configured, is
//! kept as the reason, reported by `/health` and answered by the endpoints that need it.

use super::error::{ApiError, ErrorKind};
use crate::cli::config::{self, Settings, SettingsOverrides};
use pipewright_adapters::gitlab::{GitLabClient, GitLabConfig};
use pipewright_core::knowledge::KnowledgeStore;
use pipewright_core::llm::LlmProvider;
use pipewright_core::runs::RunStore;
use pipewright_workflow::paths::PathOptions;
use sha2::{Digest, Sha256};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Repair rounds for an LLM answer that fails validation (as the CLI's default).
const REPAIR_ROUNDS: u32 = 2;

/// Shared state, cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

/// Everything the handlers share.
pub struct Shared {
    /// The knowledge store, or why it could not be opened.
    pub store: Result<Arc<dyn KnowledgeStore>, String>,
    /// The LLM, or why there is none.
    pub llm: Result<Arc<dyn LlmProvider>, String>,
    pub temperature: f32,
    /// Where workflow runs are recorded, or why it could not be opened.
    pub runs: Result<Arc<dyn RunStore>, String>,
    /// The GitLab client, or which setting is missing.
    pub gitlab: Result<Arc<GitLabClient>, GitLabUnset>,
    /// Settings from defaults, `pipewright.toml` and the environment; requests override them.
    pub settings: Settings,
    /// The folders (canonical) inside which requests may name a folder on this server's
    /// disk (`--allow-local-paths DIR…`); empty: none.
    pub local_roots: Vec<std::path::PathBuf>,
    pub tokens: ApiTokens,
    pub max_body_bytes: usize,
    /// The time each `/health` check may take.
    pub health_timeout: Duration,
    pub started: Instant,
    /// The pipeline monitor (needs GitLab and the run store), or why there is none.
    pub monitor: Result<pipewright_workflow::monitor::Monitor, String>,
}

impl Shared {
    /// The knowledge store, or 503 with the reason it could not be opened.
    pub fn store(&self) -> Result<&dyn KnowledgeStore, ApiError> {
        match &self.store {
            Ok(store) => Ok(store.as_ref()),
            Err(reason) => Err(ApiError::new(
                ErrorKind::StoreUnavailable,
                format!("the knowledge store is not available: {reason}"),
            )),
        }
    }

    /// The run store, or 503 with the reason it could not be opened.
    pub fn run_store(&self) -> Result<&dyn RunStore, ApiError> {
        match &self.runs {
            Ok(store) => Ok(store.as_ref()),
            Err(reason) => Err(ApiError::new(
                ErrorKind::StoreUnavailable,
                format!("the run store is not available: {reason}"),
            )),
        }
    }

    /// The GitLab client, or 503 naming the missing setting.
    pub fn gitlab(&self) -> Result<&GitLabClient, ApiError> {
        match &self.gitlab {
            Ok(client) => Ok(client.as_ref()),
            Err(unset) => Err(ApiError::new(
                ErrorKind::GitLabNotConfigured,
                format!(
                    "GitLab is not configured: {}. Only requests that read or write GitLab need it",
                    unset.message
                ),
            )
            .details(serde_json::json!({ "setting": unset.setting }))),
        }
    }

    /// The monitor, or 503 saying what it needs.
    pub fn monitor(&self) -> Result<&pipewright_workflow::monitor::Monitor, ApiError> {
        self.monitor.as_ref().map_err(|reason| {
            ApiError::new(
                ErrorKind::StoreUnavailable,
                format!("pipeline monitoring is not available: {reason}"),
            )
        })
    }

    /// The server's settings with a request's overrides applied (422 naming `settings` when
    /// one is not accepted).
    pub fn settings_for(
        &self,
        overrides: &SettingsOverrides,
        replace_dockerfile: bool,
    ) -> Result<Settings, ApiError> {
        let mut settings = self.settings.clone();
        config::apply(&mut settings, overrides).map_err(|e| {
            let field = match e.setting() {
                Some(setting) => format!("settings.{setting}"),
                None => "settings".to_string(),
            };
            ApiError::invalid_field(&field, e.to_string())
        })?;
        if replace_dockerfile {
            settings.generator.replace_dockerfile = true;
        }
        Ok(settings)
    }

    /// What the generation paths may use: this server's store and LLM.
    pub fn path_options(&self, template_only: bool) -> PathOptions {
        PathOptions {
            template_only,
            store: self.store.clone(),
            llm: self.llm.clone(),
            temperature: self.temperature,
            repair_rounds: REPAIR_ROUNDS,
        }
    }
}

/// Why there is no GitLab client: the setting to fix and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitLabUnset {
    /// `GITLAB_URL` or `GITLAB_TOKEN`.
    pub setting: &'static str,
    pub message: String,
}

/// The GitLab client from `GITLAB_URL` / `GITLAB_TOKEN` (and `GITLAB_ALLOWED_HOSTS`), or the
/// setting that is missing or unusable.
pub fn gitlab_from_env() -> Result<Arc<GitLabClient>, GitLabUnset> {
    let is_set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    for (setting, what) in [
        (
            "GITLAB_URL",
            "set it to your GitLab's address, e.g. https://gitlab.example.com",
        ),
        (
            "GITLAB_TOKEN",
            "set it to an access token with the `api` scope",
        ),
    ] {
        if !is_set(setting) {
            return Err(GitLabUnset {
                setting,
                message: format!("{setting} is not set; {what}"),
            });
        }
    }
    GitLabConfig::from_env()
        .and_then(GitLabClient::new)
        .map(Arc::new)
        .map_err(|e| {
            let message = e.to_string();
            GitLabUnset {
                setting: if message.contains("GITLAB_TOKEN") {
                    "GITLAB_TOKEN"
                } else {
                    "GITLAB_URL"
                },
                message,
            }
        })
}

/// The accepted API tokens (`PIPEWRIGHT_API_TOKENS`), kept only as SHA-256 digests and
/// compared in constant time. Empty means no authentication. `Debug` shows only the count.
#[derive(Clone, Default)]
pub struct ApiTokens(Vec<[u8; 32]>);

impl ApiTokens {
    /// Reads a comma-separated list; blank entries are ignored. A list that is not blank but
    /// holds no token (only separators, `" , "`) is refused: read as "no tokens" it would leave
    /// the API open to anyone while the operator meant to close it.
    pub fn parse(list: &str) -> Result<Self, String> {
        let tokens: Vec<[u8; 32]> = list
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(digest)
            .collect();
        if tokens.is_empty() && !list.trim().is_empty() {
            return Err(
                "PIPEWRIGHT_API_TOKENS holds only separators and no token, which would leave the API open; give at least one token (`token1,token2`) or unset the variable to run without authentication"
                    .to_string(),
            );
        }
        Ok(ApiTokens(tokens))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `presented` is one of the tokens. Every token is compared, each in constant
    /// time over digests, so neither the match nor a token's length shows in the timing.
    pub fn accepts(&self, presented: &str) -> bool {
        let presented = digest(presented);
        let mut matched = subtle::Choice::from(0);
        for token in &self.0 {
            matched |= token.ct_eq(&presented);
        }
        matched.into()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiTokens({} configured)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_matched_whole_and_never_shown() {
        let tokens = ApiTokens::parse(" alpha-token , ,beta-token").expect("two tokens");
        assert!(tokens.accepts("alpha-token"));
        assert!(tokens.accepts("beta-token"));
        assert!(!tokens.accepts("alpha"));
        assert!(!tokens.accepts(""));
        assert_eq!(format!("{tokens:?}"), "ApiTokens(2 configured)");
        assert!(ApiTokens::parse("").expect("unset").is_empty());
        assert!(ApiTokens::parse("  ").expect("blank").is_empty());
        for separators_only in [" , ", ",", ",,,", " ,\t, "] {
            let refused = ApiTokens::parse(separators_only).unwrap_err();
            assert!(refused.contains("only separators"), "{refused}");
        }
    }
}
