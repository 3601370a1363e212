//! The HTTP side of the registry client: one `reqwest` client (rustls), plain HTTP and custom
//! CAs only where configured, authentication answered per challenge, and retries with
//! backoff on 5xx, 429 and dropped connections for every request whose body can be sent
//! again. Streamed uploads are sent once; the copier retries them whole.

use super::auth::{parse_challenges, Challenge, Credentials, TokenAnswer};
use pipewright_core::images::RegistryError;
use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How the client reaches registries.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Credentials by registry host (`nexus:5001`).
    pub credentials: Vec<(String, Credentials)>,
    /// Registries reached over plain HTTP (and, for HTTPS hosts, nothing else changes).
    pub insecure: Vec<String>,
    /// Extra CA certificates (PEM) trusted besides the system's.
    pub ca_pem: Vec<Vec<u8>>,
    /// Tries after the first for a request that failed with 5xx, 429 or a dropped connection.
    pub retries: u32,
    /// First backoff; doubled each try, with jitter.
    pub backoff: Duration,
    pub connect_timeout: Duration,
    /// Longest silence while reading an answer (a slow blob that keeps sending is fine).
    pub read_timeout: Duration,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            credentials: Vec::new(),
            insecure: Vec::new(),
            ca_pem: Vec::new(),
            retries: 4,
            backoff: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// How requests to one registry are authorised, learnt from its challenges.
#[derive(Debug, Clone)]
enum AuthMode {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

struct Token {
    value: String,
    expires: Instant,
}

/// The HTTP client shared by every copy.
pub struct HttpClient {
    pub(crate) http: reqwest::Client,
    /// For streamed uploads: no read timeout, because the registry answers only after the
    /// whole body arrived; a stalled upload ends through the source's read timeout instead.
    pub(crate) upload: reqwest::Client,
    settings: ClientSettings,
    modes: Mutex<HashMap<String, AuthMode>>,
    tokens: Mutex<HashMap<(String, String), Token>>,
}

/// Why a send failed before an answer worth reading came back.
pub(crate) fn unreachable(registry: &str, e: &reqwest::Error) -> RegistryError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    RegistryError::Unreachable {
        registry: registry.to_string(),
        message,
    }
}

fn retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

impl HttpClient {
    pub fn new(settings: ClientSettings) -> Result<Self, String> {
        let mut certs = Vec::new();
        for pem in &settings.ca_pem {
            certs.extend(
                reqwest::Certificate::from_pem_bundle(pem)
                    .map_err(|e| format!("the CA certificate file is not PEM: {e}"))?,
            );
        }
        let build = |read_timeout: Option<Duration>| {
            let mut b = crate::http::client_builder()
                .connect_timeout(settings.connect_timeout)
                .user_agent(concat!("pipewright/", env!("CARGO_PKG_VERSION")));
            if let Some(t) = read_timeout {
                b = b.read_timeout(t);
            }
            for c in &certs {
                b = b.add_root_certificate(c.clone());
            }
            b.build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))
        };
        let http = build(Some(settings.read_timeout))?;
        let upload = build(None)?;
        Ok(HttpClient {
            http,
            upload,
            settings,
            modes: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// `http://` for registries configured as insecure, else `https://`.
    pub fn base(&self, registry: &str) -> String {
        let plain = self
            .settings
            .insecure
            .iter()
            .any(|h| h.eq_ignore_ascii_case(registry));
        format!("{}://{registry}", if plain { "http" } else { "https" })
    }

    /// An absolute URL for a `Location` a registry answered (often a path).
    pub fn absolute(&self, registry: &str, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            format!("{}{}", self.base(registry), location)
        }
    }

    fn credentials(&self, registry: &str) -> Option<&Credentials> {
        self.settings
            .credentials
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(registry))
            .map(|(_, c)| c)
    }

    fn user_note(&self, registry: &str) -> String {
        self.credentials(registry)
            .map(|c| format!(" for user {}", c.username))
            .unwrap_or_default()
    }

    pub fn backoff(&self, attempt: u32, headers: Option<&HeaderMap>) -> Duration {
        let asked = headers
            .and_then(|h| h.get(RETRY_AFTER))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(10)));
        let base = self.settings.backoff.saturating_mul(1 << attempt.min(6));
        let jitter = base.mul_f64(fastrand::f64() * 0.5);
        asked.unwrap_or(base + jitter)
    }

    pub fn retries(&self) -> u32 {
        self.settings.retries
    }

    /// The `Authorization` header for `registry` and `scope`, when one is known.
    fn authorization(&self, registry: &str, scope: &str) -> Option<String> {
        let mode = self.modes.lock().ok()?.get(registry).cloned()?;
        match mode {
            AuthMode::Basic => self.credentials(registry).map(basic),
            AuthMode::Bearer { .. } => {
                let tokens = self.tokens.lock().ok()?;
                tokens
                    .get(&(registry.to_string(), scope.to_string()))
                    .filter(|t| t.expires > Instant::now())
                    .map(|t| format!("Bearer {}", t.value))
            }
        }
    }

    /// Adds the known authorisation to a request.
    pub fn authorize(&self, req: RequestBuilder, registry: &str, scope: &str) -> RequestBuilder {
        match self.authorization(registry, scope) {
            Some(h) => req.header(AUTHORIZATION, h),
            None => req,
        }
    }

    /// Answers a 401: learns the registry's scheme from its challenges and gets a token when
    /// it asks for one. `Err` when the credentials were refused or are missing.
    async fn answer_challenge(
        &self,
        registry: &str,
        scope: &str,
        resp: &Response,
        carried: bool,
        tried: bool,
    ) -> Result<(), RegistryError> {
        let values: Vec<&str> = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let challenges = parse_challenges(values);
        let refused = |message: String| RegistryError::Auth {
            registry: registry.to_string(),
            user: self.user_note(registry),
            message,
        };
        let bearer = challenges.iter().find_map(|c| match c {
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => Some((realm.clone(), service.clone(), scope.clone())),
            Challenge::Basic => None,
        });
        if let Some((realm, service, asked_scope)) = bearer {
            if tried {
                return Err(refused(format!("the token for `{scope}` was not accepted")));
            }
            self.set_mode(
                registry,
                AuthMode::Bearer {
                    realm: realm.clone(),
                    service: service.clone(),
                },
            );
            let scope_for_token = asked_scope.unwrap_or_else(|| scope.to_string());
            return self
                .fetch_token(
                    registry,
                    &realm,
                    service.as_deref(),
                    scope,
                    &scope_for_token,
                )
                .await;
        }
        if challenges.contains(&Challenge::Basic) {
            if self.credentials(registry).is_none() {
                return Err(refused(
                    "the registry needs a user name and password (Basic)".into(),
                ));
            }
            if carried || tried {
                return Err(refused("401 Unauthorized (Basic)".into()));
            }
            self.set_mode(registry, AuthMode::Basic);
            return Ok(());
        }
        Err(refused(
            "401 Unauthorized without a challenge pipewright can answer (Basic or Bearer)".into(),
        ))
    }

    /// With a Bearer registry, gets the token for a new scope before the request rather than
    /// after its 401 (one round trip less per repository).
    async fn prepare_token(&self, registry: &str, scope: &str) -> Result<(), RegistryError> {
        let mode = self
            .modes
            .lock()
            .ok()
            .and_then(|m| m.get(registry).cloned());
        if let Some(AuthMode::Bearer { realm, service }) = mode {
            if self.authorization(registry, scope).is_none() {
                return self
                    .fetch_token(registry, &realm, service.as_deref(), scope, scope)
                    .await;
            }
        }
        Ok(())
    }

    fn set_mode(&self, registry: &str, mode: AuthMode) {
        if let Ok(mut m) = self.modes.lock() {
            m.insert(registry.to_string(), mode);
        }
    }

    async fn fetch_token(
        &self,
        registry: &str,
        realm: &str,
        service: Option<&str>,
        key_scope: &str,
        scope: &str,
    ) -> Result<(), RegistryError> {
        let realm_url = url::Url::parse(realm).map_err(|_| RegistryError::Invalid {
            registry: registry.to_string(),
            image: key_scope.to_string(),
            message: format!("the token realm `{realm}` is not a URL"),
        })?;
        if !matches!(realm_url.scheme(), "https" | "http") {
            return Err(RegistryError::Invalid {
                registry: registry.to_string(),
                image: key_scope.to_string(),
                message: format!("the token realm `{realm}` is not http(s)"),
            });
        }
        let mut realm_url = realm_url;
        {
            let mut q = realm_url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in scope.split(' ').filter(|s| !s.is_empty()) {
                q.append_pair("scope", s);
            }
        }
        let mut req = self.http.get(realm_url);
        if let Some(c) = self.credentials(registry) {
            req = req.header(AUTHORIZATION, basic(c));
        }
        let resp = req.send().await.map_err(|e| unreachable(registry, &e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(RegistryError::Auth {
                registry: registry.to_string(),
                user: self.user_note(registry),
                message: format!("the token service answered {status}"),
            });
        }
        let answer: TokenAnswer = resp.json().await.map_err(|e| RegistryError::Invalid {
            registry: registry.to_string(),
            image: key_scope.to_string(),
            message: format!("the token answer is not JSON: {e}"),
        })?;
        let value = answer
            .token
            .or(answer.access_token)
            .ok_or_else(|| RegistryError::Invalid {
                registry: registry.to_string(),
                image: key_scope.to_string(),
                message: "the token answer holds no token".into(),
            })?;
        // Renew a little early; registries default to 60 s.
        let life = Duration::from_secs(answer.expires_in.unwrap_or(60).max(20) - 10);
        if let Ok(mut t) = self.tokens.lock() {
            t.insert(
                (registry.to_string(), key_scope.to_string()),
                Token {
                    value,
                    expires: Instant::now() + life,
                },
            );
        }
        Ok(())
    }

    /// Sends a request without a streamed body: authorised, answering challenges, retried on
    /// 5xx, 429 and connection errors. Any other answer is returned to the caller.
    pub async fn send(
        &self,
        registry: &str,
        scope: &str,
        method: Method,
        url: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        self.prepare_token(registry, scope).await?;
        let mut attempt = 0;
        let mut auth_tried = false;
        loop {
            let mut req = build(self.http.request(method.clone(), url));
            // Whether this very request carried credentials: another request may have
            // learnt the registry's scheme meanwhile, which is no refusal of ours.
            let header = self.authorization(registry, scope);
            if let Some(h) = &header {
                req = req.header(AUTHORIZATION, h);
            }
            match req.send().await {
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => {
                    self.answer_challenge(registry, scope, &resp, header.is_some(), auth_tried)
                        .await?;
                    auth_tried = true;
                }
                Ok(resp) if retryable(resp.status()) && attempt < self.settings.retries => {
                    let wait = self.backoff(attempt, Some(resp.headers()));
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                }
                Ok(resp) => return Ok(resp),
                Err(e) if attempt < self.settings.retries && !e.is_builder() => {
                    attempt += 1;
                    tokio::time::sleep(self.backoff(attempt - 1, None)).await;
                }
                Err(e) => return Err(unreachable(registry, &e)),
            }
        }
    }

    /// The registry's error message from an answer's body (`{"errors":[{code, message}]}`),
    /// short, for error messages.
    pub async fn error_text(resp: Response) -> String {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        #[derive(serde::Deserialize)]
        struct Errors {
            errors: Vec<ErrorItem>,
        }
        #[derive(serde::Deserialize)]
        struct ErrorItem {
            code: Option<String>,
            message: Option<String>,
        }
        let text = match serde_json::from_str::<Errors>(&body) {
            Ok(e) if !e.errors.is_empty() => e
                .errors
                .iter()
                .map(|i| {
                    format!(
                        "{} {}",
                        i.code.as_deref().unwrap_or(""),
                        i.message.as_deref().unwrap_or("")
                    )
                    .trim()
                    .to_string()
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ if body.trim().is_empty() => status.to_string(),
            _ => body.trim().chars().take(200).collect(),
        };
        text
    }
}

fn basic(c: &Credentials) -> String {
    use base64::Engine as _;
    let raw = format!("{}:{}", c.username, c.password.expose());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}
