//! [`GitLabClient`]: the [`GitLab`] trait over GitLab's REST API v4, with `reqwest`.
//!
//! Every call goes through one loop that sends the token as `PRIVATE-TOKEN`, counts the
//! request, enforces the per-attempt time limit and retries what is safe to retry:
//!
//! | answer | read (GET, HEAD, CI Lint) | write (commit, branch) |
//! |---|---|---|
//! | 429 | retried after `Retry-After`, else `RateLimit-Reset`, else backoff | same: GitLab refused it unprocessed |
//! | 5xx | retried with exponential backoff and jitter | not retried: it may have been applied |
//! | timeout, reset connection | retried | not retried: it may have been applied |
//! | connection refused | retried | retried: nothing was sent |
//! | other 4xx | never retried | never retried |
//!
//! A server that asks for a longer wait than [`RetryPolicy::max_wait`] gets no retry: the
//! call fails at once with [`GitLabError::RateLimited`] carrying the wait, for the caller to
//! schedule. Redirects are not followed (a redirect could lead anywhere); pagination links
//! are followed only under `GITLAB_URL`. The token is never formatted: not in `Debug`, not in
//! errors (server messages are scrubbed of it too).

use super::url_policy::UrlPolicy;
use async_trait::async_trait;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use pipewright_core::gitlab::{
    Branch, CommitRequest, CommitResult, GitLab, GitLabError, Job, JobTrace, LintResult,
    NewProjectHook, Pipeline, Project, ProjectHook, ProjectRef, RawFile, TreeEntry,
};
use reqwest::header::{HeaderMap, HeaderValue, LINK, LOCATION};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Path segments: everything but letters, digits, `-`, `_` and `~` is encoded. `/` must be
/// `%2F` (GitLab answers 404 otherwise), and `.` is `%2E` as in GitLab's own docs
/// (`lib%2Fclass%2Erb`), so a name ending in `.json` is never taken for a response format.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// A walk over more pages than this is stopped (a server that never stops linking).
const MAX_PAGES: usize = 1000;
/// JSON answers larger than this are refused.
const JSON_LIMIT: u64 = 64 * 1024 * 1024;
/// How much of an error body is read for its message.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;

/// Encodes one path parameter (a project path, a file path) the way GitLab expects.
pub fn encode_segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// A GitLab access token. It cannot be printed: `Debug` shows `***`, and there is no
/// `Display`.
#[derive(Clone)]
pub struct GitLabToken(String);

impl GitLabToken {
    pub fn new(token: impl Into<String>) -> Self {
        GitLabToken(token.into().trim().to_string())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for GitLabToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GitLabToken(***)")
    }
}

/// How failed calls are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; each retry doubles it (with jitter), up to `max_wait`.
    pub base_delay: Duration,
    /// The longest pipewright waits before a retry. A server asking for more gets no retry.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base_delay: Duration::from_millis(500),
            max_wait: Duration::from_secs(30),
        }
    }
}

/// Where GitLab is and how to talk to it.
#[derive(Debug, Clone)]
pub struct GitLabConfig {
    /// `GITLAB_URL`: the address GitLab answers on (a sub-path is kept).
    pub url: String,
    /// `GITLAB_TOKEN`, sent as `PRIVATE-TOKEN`.
    pub token: GitLabToken,
    /// Other host names (`host` or `host:port`) that users may write for the same GitLab.
    pub allowed_hosts: Vec<String>,
    /// Time limit of one attempt, connection to last byte.
    pub timeout: Duration,
    /// Time limit for opening the connection.
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// Items per page of a listing (GitLab's maximum, 100, unless a test wants many pages).
    pub page_size: u32,
}

impl GitLabConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A configuration with the default limits and retries.
    pub fn new(url: impl Into<String>, token: GitLabToken) -> Self {
        GitLabConfig {
            url: url.into(),
            token,
            allowed_hosts: Vec::new(),
            timeout: Self::DEFAULT_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
            page_size: 100,
        }
    }

    /// Reads `GITLAB_URL`, `GITLAB_TOKEN` and `GITLAB_ALLOWED_HOSTS` (comma-separated) from
    /// the environment.
    pub fn from_env() -> Result<Self, GitLabError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Like [`GitLabConfig::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, GitLabError> {
        let url = lookup("GITLAB_URL")
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| {
                GitLabError::Config(
                    "GITLAB_URL is not set; set it to your GitLab's address, e.g. https://gitlab.example.com".into(),
                )
            })?;
        let token = GitLabToken::new(lookup("GITLAB_TOKEN").unwrap_or_default());
        if token.is_empty() {
            return Err(GitLabError::Config(
                "GITLAB_TOKEN is not set; create an access token with the `api` scope and set it"
                    .into(),
            ));
        }
        let mut config = GitLabConfig::new(url, token);
        config.allowed_hosts = lookup("GITLAB_ALLOWED_HOSTS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect();
        Ok(config)
    }
}

/// Whether a request changes something in GitLab (which decides what may be retried).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Read,
    Write,
}

/// Which part of a body to keep.
#[derive(Debug, Clone, Copy)]
enum Keep {
    /// The first bytes; reading stops past the limit.
    Head(u64),
    /// The last bytes (a log's end explains its failure).
    Tail(u64),
}

/// An answer, read.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    truncated: bool,
    announced: Option<u64>,
}

enum Failure {
    Status(Reply),
    Transport(reqwest::Error),
}

/// Known 400 messages and what to do about them.
const BAD_REQUEST_HINTS: &[(&str, &str)] = &[
    (
        "A file with this name already exists",
        "; a `create` action named a file that is already on the branch, so it must be sent as `update` (commit_files probes each file and chooses)",
    ),
    (
        "A file with this name doesn't exist",
        "; an `update` or `delete` action named a file that is not on the branch, so it must be sent as `create`",
    ),
    (
        "You can only create or edit files when you are on a branch",
        "; the target branch does not exist: give a start branch so the commit creates it",
    ),
    (
        "Branch already exists",
        "; choose another branch name, or commit onto the existing branch",
    ),
    (
        "already exists. Switch to that branch",
        "; commit onto that branch without a start branch, or choose another branch name",
    ),
];

/// The GitLab REST client.
pub struct GitLabClient {
    http: reqwest::Client,
    policy: UrlPolicy,
    api: Url,
    token: GitLabToken,
    token_header: HeaderValue,
    retry: RetryPolicy,
    timeout: Duration,
    per_page: String,
    sent: Arc<AtomicU64>,
}

impl fmt::Debug for GitLabClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitLabClient")
            .field("api", &self.api.as_str())
            .field("token", &self.token)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("requests_sent", &self.requests_sent())
            .finish()
    }
}

impl GitLabClient {
    /// Checks the configuration and builds the HTTP client; nothing is sent yet.
    pub fn new(config: GitLabConfig) -> Result<Self, GitLabError> {
        let policy = UrlPolicy::new(&config.url, &config.allowed_hosts)?;
        if config.token.is_empty() {
            return Err(GitLabError::Config(
                "the GitLab token is empty; set GITLAB_TOKEN".into(),
            ));
        }
        let mut token_header = HeaderValue::from_str(config.token.expose()).map_err(|_| {
            GitLabError::Config(
                "GITLAB_TOKEN holds characters that cannot be sent in a header; copy the token again".into(),
            )
        })?;
        // Marked sensitive so that HTTP-level debug output never shows it.
        token_header.set_sensitive(true);
        let http = crate::http::client_builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pipewright/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GitLabError::Config(format!("the HTTP client cannot be built: {e}")))?;
        Ok(GitLabClient {
            http,
            api: policy.api_base(),
            policy,
            token: config.token,
            token_header,
            retry: config.retry,
            timeout: config.timeout,
            per_page: config.page_size.clamp(1, 100).to_string(),
            sent: Arc::new(AtomicU64::new(0)),
        })
    }

    /// How many HTTP requests this client has sent, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// The URL policy of the configured GitLab (to check a user's project URL).
    pub fn policy(&self) -> &UrlPolicy {
        &self.policy
    }

    /// GitLab's version (`GET /version`): a cheap call that needs a valid token, so it tells
    /// whether GitLab answers and accepts the token. Used by health checks.
    pub async fn version(&self) -> Result<String, GitLabError> {
        #[derive(serde::Deserialize)]
        struct Version {
            version: String,
        }
        let reply: Version = self
            .get_json("asking GitLab for its version", self.url("version", &[]))
            .await?;
        Ok(reply.version)
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.api.clone();
        url.set_path(&format!("{}{path}", self.api.path()));
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Replaces the token wherever a server echoed it.
    fn scrub(&self, text: &str) -> String {
        let token = self.token.expose();
        if token.len() >= 4 && text.contains(token) {
            text.replace(token, "[REDACTED]")
        } else {
            text.to_string()
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.retry.max_wait);
        // Half fixed, half random ("equal jitter"): clients that failed together spread out.
        exp / 2 + exp.mul_f64(random_fraction()) / 2
    }

    async fn send(
        &self,
        what: &str,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        effect: Effect,
        keep: Keep,
    ) -> Result<Reply, GitLabError> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            self.sent.fetch_add(1, Ordering::Relaxed);
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header("PRIVATE-TOKEN", self.token_header.clone());
            if let Some(body) = body {
                request = request.json(body);
            }
            let failure = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let announced = response.content_length();
                    let keep = if status.is_success() {
                        keep
                    } else {
                        Keep::Head(ERROR_BODY_LIMIT)
                    };
                    match read_body(response, keep, announced).await {
                        Ok((body, truncated)) => {
                            let reply = Reply {
                                status,
                                headers,
                                body,
                                truncated,
                                announced,
                            };
                            if status.is_success() {
                                return Ok(reply);
                            }
                            Failure::Status(reply)
                        }
                        Err(e) => Failure::Transport(e),
                    }
                }
                Err(e) => Failure::Transport(e),
            };
            let may_retry = attempt <= self.retry.max_retries;
            match failure {
                Failure::Status(reply) if reply.status == StatusCode::TOO_MANY_REQUESTS => {
                    let asked = server_wait(&reply.headers, SystemTime::now());
                    if may_retry && asked.is_none_or(|w| w <= self.retry.max_wait) {
                        let wait = asked
                            .filter(|w| !w.is_zero())
                            .unwrap_or_else(|| self.backoff(attempt));
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(GitLabError::RateLimited {
                        what: what.to_string(),
                        retry_after: asked,
                    });
                }
                Failure::Status(reply)
                    if reply.status.is_server_error() && effect == Effect::Read && may_retry =>
                {
                    let wait = server_wait(&reply.headers, SystemTime::now())
                        .filter(|w| !w.is_zero() && *w <= self.retry.max_wait)
                        .unwrap_or_else(|| self.backoff(attempt));
                    tokio::time::sleep(wait).await;
                }
                Failure::Status(reply) => {
                    return Err(self.status_error(what, reply, attempt, effect));
                }
                Failure::Transport(e) => {
                    // A refused connection carried no request, so even a write may go again.
                    if may_retry && (effect == Effect::Read || e.is_connect()) {
                        tokio::time::sleep(self.backoff(attempt)).await;
                        continue;
                    }
                    return Err(self.transport_error(what, e, attempt, effect));
                }
            }
        }
    }

    fn status_error(&self, what: &str, reply: Reply, attempts: u32, effect: Effect) -> GitLabError {
        let message = self.scrub(&error_message(reply.status, &reply.body));
        let what = what.to_string();
        match reply.status.as_u16() {
            400 => {
                let hint = BAD_REQUEST_HINTS
                    .iter()
                    .find(|(known, _)| message.contains(known))
                    .map(|(_, hint)| hint.to_string())
                    .unwrap_or_default();
                GitLabError::BadRequest {
                    what,
                    message,
                    hint,
                }
            }
            401 => GitLabError::Unauthorized { what, message },
            403 => GitLabError::Forbidden { what, message },
            404 => GitLabError::NotFound { what, message },
            409 => GitLabError::Conflict { what, message },
            status @ 300..=399 => {
                let target = reply
                    .headers
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(|l| crate::source::redact_url(&self.scrub(l)))
                    .unwrap_or_else(|| "somewhere unnamed".into());
                GitLabError::Http {
                    what,
                    status,
                    message: format!(
                        "a redirect to {target}; set GITLAB_URL to the address GitLab answers on"
                    ),
                }
            }
            status @ 500..=599 => GitLabError::Server {
                what,
                status,
                message,
                attempts,
                may_have_applied: effect == Effect::Write,
            },
            status => GitLabError::Http {
                what,
                status,
                message,
            },
        }
    }

    fn transport_error(
        &self,
        what: &str,
        e: reqwest::Error,
        attempts: u32,
        effect: Effect,
    ) -> GitLabError {
        if e.is_timeout() {
            return GitLabError::Timeout {
                what: what.to_string(),
                limit: self.timeout,
                attempts,
                may_have_applied: effect == Effect::Write,
            };
        }
        // The URL is left out: `what` names the call, and `url` the GitLab.
        let e = e.without_url();
        let mut reason = String::new();
        let mut cause: Option<&dyn std::error::Error> = Some(&e);
        while let Some(c) = cause {
            let text = c.to_string();
            // Each layer tends to repeat the one below; keep each text once.
            if !text.is_empty() && !reason.contains(&text) {
                if !reason.is_empty() {
                    reason.push_str(": ");
                }
                reason.push_str(&text);
            }
            cause = c.source();
        }
        GitLabError::Unreachable {
            what: what.to_string(),
            url: self.policy.base().to_string(),
            reason: self.scrub(&reason),
        }
    }

    async fn get_json<T: DeserializeOwned>(&self, what: &str, url: Url) -> Result<T, GitLabError> {
        let reply = self
            .send(
                what,
                Method::GET,
                url,
                None,
                Effect::Read,
                Keep::Head(JSON_LIMIT),
            )
            .await?;
        parse_json(what, &reply)
    }

    /// Follows `Link: rel="next"` (and, for offset pagination only, `x-next-page`) until the
    /// last page.
    async fn get_all<T: DeserializeOwned>(
        &self,
        what: &str,
        mut url: Url,
        keyset: bool,
    ) -> Result<Vec<T>, GitLabError> {
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let reply = self
                .send(
                    what,
                    Method::GET,
                    url.clone(),
                    None,
                    Effect::Read,
                    Keep::Head(JSON_LIMIT),
                )
                .await?;
            let page: Vec<T> = parse_json(what, &reply)?;
            let empty = page.is_empty();
            items.extend(page);
            url = match next_page(&reply.headers, &url, keyset) {
                Some(next) if !empty => self.policy.api_link(&next)?,
                _ => return Ok(items),
            };
        }
        Err(GitLabError::InvalidResponse {
            what: what.to_string(),
            reason: format!("GitLab linked more than {MAX_PAGES} pages; the walk was stopped"),
        })
    }
}

/// The project as a path parameter: its id, or its encoded full path.
fn project_segment(project: &ProjectRef) -> String {
    match project {
        ProjectRef::Id(id) => id.to_string(),
        ProjectRef::Path(path) => encode_segment(path),
    }
}

fn describe_ref(reference: Option<&str>) -> String {
    match reference {
        Some(r) => format!("`{r}`"),
        None => "the default branch".to_string(),
    }
}

async fn read_body(
    mut response: reqwest::Response,
    keep: Keep,
    announced: Option<u64>,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    match keep {
        Keep::Head(limit) => {
            if announced.is_some_and(|n| n > limit) {
                return Ok((body, true));
            }
            while let Some(chunk) = response.chunk().await? {
                body.extend_from_slice(&chunk);
                if body.len() as u64 > limit {
                    body.truncate(limit as usize);
                    return Ok((body, true));
                }
            }
            Ok((body, false))
        }
        Keep::Tail(limit) => {
            let limit = limit as usize;
            let mut dropped = false;
            while let Some(chunk) = response.chunk().await? {
                body.extend_from_slice(&chunk);
                // Trimmed in batches so a long log costs linear time.
                if body.len() > limit.saturating_mul(2).max(64 * 1024) {
                    body.drain(..body.len() - limit);
                    dropped = true;
                }
            }
            if body.len() > limit {
                body.drain(..body.len() - limit);
                dropped = true;
            }
            Ok((body, dropped))
        }
    }
}

/// A read whose 404 means "absent", as `None`.
fn found<T>(result: Result<T, GitLabError>) -> Result<Option<T>, GitLabError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(GitLabError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn parse_json<T: DeserializeOwned>(what: &str, reply: &Reply) -> Result<T, GitLabError> {
    if reply.truncated {
        return Err(GitLabError::InvalidResponse {
            what: what.to_string(),
            reason: format!("the answer is larger than {JSON_LIMIT} bytes"),
        });
    }
    serde_json::from_slice(&reply.body).map_err(|e| GitLabError::InvalidResponse {
        what: what.to_string(),
        reason: format!("not the JSON expected: {e}"),
    })
}

/// GitLab's error text: `{"message": …}` (a string, a list, or field → messages) or
/// `{"error": …}`; otherwise the start of a plain-text body; otherwise the status line.
fn error_message(status: StatusCode, body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["message", "error", "error_description"] {
            if let Some(message) = value.get(key) {
                return flatten_message(message);
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    // HTML (a proxy's error page) says nothing the status does not.
    if text.is_empty() || text.starts_with('<') {
        return format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim()
        .to_string();
    }
    text.chars().take(300).collect()
}

fn flatten_message(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(flatten_message)
            .collect::<Vec<_>>()
            .join("; "),
        serde_json::Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| format!("{k}: {}", flatten_message(v)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// How long the server asked to wait: `Retry-After` (seconds or an HTTP date), else
/// `RateLimit-Reset`.
fn server_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(value) = header("retry-after") {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(at) = httpdate::parse_http_date(value) {
            return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    let reset = header("ratelimit-reset")?.parse::<u64>().ok()?;
    // GitLab sends a Unix time; the IETF draft header of the same name sends seconds to wait.
    // No recent Unix time is this small, so a small value is read as the latter.
    if reset < 1_000_000_000 {
        return Some(Duration::from_secs(reset));
    }
    let at = UNIX_EPOCH + Duration::from_secs(reset);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The `rel="next"` target of the `Link` headers.
pub(crate) fn link_next(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(LINK) {
        let Ok(text) = value.to_str() else { continue };
        // GitLab's link targets are encoded URLs, which hold no raw comma.
        for link in text.split(',') {
            let mut parts = link.split(';');
            let Some(target) = parts.next().map(str::trim) else {
                continue;
            };
            let Some(target) = target.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
                continue;
            };
            let is_next = parts.any(|param| {
                param.split_once('=').is_some_and(|(key, value)| {
                    key.trim().eq_ignore_ascii_case("rel")
                        && value
                            .trim()
                            .trim_matches('"')
                            .split_whitespace()
                            .any(|rel| rel.eq_ignore_ascii_case("next"))
                })
            });
            if is_next {
                return Some(target.to_string());
            }
        }
    }
    None
}

fn next_page(headers: &HeaderMap, current: &Url, keyset: bool) -> Option<Url> {
    if let Some(target) = link_next(headers) {
        return current.join(&target).ok();
    }
    if keyset {
        return None;
    }
    let next = headers
        .get("x-next-page")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))?;
    let mut url = current.clone();
    let pairs: Vec<(String, String)> = current
        .query_pairs()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair("page", next);
    Some(url)
}

/// A number in [0, 1) that differs between calls and processes (no RNG crate for this).
fn random_fraction() -> f64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    if let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[async_trait]
impl GitLab for GitLabClient {
    async fn project(&self, project: &ProjectRef) -> Result<Project, GitLabError> {
        let what = format!("looking up {project}");
        let url = self.url(&format!("projects/{}", project_segment(project)), &[]);
        self.get_json(&what, url).await
    }

    async fn tree(
        &self,
        project: &ProjectRef,
        reference: Option<&str>,
    ) -> Result<Vec<TreeEntry>, GitLabError> {
        let what = format!(
            "listing the files of {project} at {}",
            describe_ref(reference)
        );
        let mut query = vec![
            ("recursive", "true"),
            ("per_page", &self.per_page),
            ("pagination", "keyset"),
        ];
        if let Some(r) = reference {
            query.push(("ref", r));
        }
        let url = self.url(
            &format!("projects/{}/repository/tree", project_segment(project)),
            &query,
        );
        self.get_all(&what, url, true).await
    }

    async fn raw_file(
        &self,
        project: &ProjectRef,
        path: &str,
        reference: &str,
        max_bytes: u64,
    ) -> Result<RawFile, GitLabError> {
        let what = format!("reading `{path}` at `{reference}` from {project}");
        let url = self.url(
            &format!(
                "projects/{}/repository/files/{}/raw",
                project_segment(project),
                encode_segment(path)
            ),
            &[("ref", reference)],
        );
        let reply = self
            .send(
                &what,
                Method::GET,
                url,
                None,
                Effect::Read,
                Keep::Head(max_bytes),
            )
            .await?;
        if reply.truncated {
            let size = reply.announced.unwrap_or(max_bytes.saturating_add(1));
            return Ok(RawFile::TooLarge { size });
        }
        Ok(RawFile::Bytes(reply.body))
    }

    async fn file_exists(
        &self,
        project: &ProjectRef,
        path: &str,
        reference: &str,
    ) -> Result<bool, GitLabError> {
        let what = format!("checking whether `{path}` exists at `{reference}` in {project}");
        let url = self.url(
            &format!(
                "projects/{}/repository/files/{}",
                project_segment(project),
                encode_segment(path)
            ),
            &[("ref", reference)],
        );
        let reply = self
            .send(&what, Method::HEAD, url, None, Effect::Read, Keep::Head(0))
            .await;
        Ok(found(reply)?.is_some())
    }

    async fn branch(
        &self,
        project: &ProjectRef,
        name: &str,
    ) -> Result<Option<Branch>, GitLabError> {
        let what = format!("looking up branch `{name}` in {project}");
        let url = self.url(
            &format!(
                "projects/{}/repository/branches/{}",
                project_segment(project),
                encode_segment(name)
            ),
            &[],
        );
        found(self.get_json(&what, url).await)
    }

    async fn create_branch(
        &self,
        project: &ProjectRef,
        branch: &str,
        from_ref: &str,
    ) -> Result<Branch, GitLabError> {
        let what = format!("creating branch `{branch}` from `{from_ref}` in {project}");
        let url = self.url(
            &format!("projects/{}/repository/branches", project_segment(project)),
            &[("branch", branch), ("ref", from_ref)],
        );
        let reply = self
            .send(
                &what,
                Method::POST,
                url,
                None,
                Effect::Write,
                Keep::Head(JSON_LIMIT),
            )
            .await?;
        parse_json(&what, &reply)
    }

    async fn commit(
        &self,
        project: &ProjectRef,
        request: &CommitRequest,
    ) -> Result<CommitResult, GitLabError> {
        let files: Vec<&str> = request
            .actions
            .iter()
            .map(|a| a.file_path.as_str())
            .collect();
        let what = format!(
            "committing {} to branch `{}` of {project}",
            files.join(", "),
            request.branch
        );
        let body = serde_json::to_value(request).map_err(|e| GitLabError::InvalidResponse {
            what: what.clone(),
            reason: format!("the commit could not be written as JSON: {e}"),
        })?;
        let url = self.url(
            &format!("projects/{}/repository/commits", project_segment(project)),
            &[],
        );
        let reply = self
            .send(
                &what,
                Method::POST,
                url,
                Some(&body),
                Effect::Write,
                Keep::Head(JSON_LIMIT),
            )
            .await?;
        parse_json(&what, &reply)
    }

    async fn pipelines_for_sha(
        &self,
        project: &ProjectRef,
        sha: &str,
        git_ref: Option<&str>,
    ) -> Result<Vec<Pipeline>, GitLabError> {
        let what = format!("listing the pipelines of commit {sha} in {project}");
        let mut query = vec![("sha", sha), ("per_page", &self.per_page)];
        if let Some(r) = git_ref {
            query.push(("ref", r));
        }
        let url = self.url(
            &format!("projects/{}/pipelines", project_segment(project)),
            &query,
        );
        self.get_all(&what, url, false).await
    }

    async fn pipeline(
        &self,
        project: &ProjectRef,
        pipeline_id: u64,
    ) -> Result<Pipeline, GitLabError> {
        let what = format!("reading pipeline {pipeline_id} of {project}");
        let url = self.url(
            &format!(
                "projects/{}/pipelines/{pipeline_id}",
                project_segment(project)
            ),
            &[],
        );
        self.get_json(&what, url).await
    }

    async fn pipeline_jobs(
        &self,
        project: &ProjectRef,
        pipeline_id: u64,
        include_retried: bool,
    ) -> Result<Vec<Job>, GitLabError> {
        let what = format!("listing the jobs of pipeline {pipeline_id} of {project}");
        let url = self.url(
            &format!(
                "projects/{}/pipelines/{pipeline_id}/jobs",
                project_segment(project)
            ),
            &[
                (
                    "include_retried",
                    if include_retried { "true" } else { "false" },
                ),
                ("per_page", &self.per_page),
            ],
        );
        self.get_all(&what, url, false).await
    }

    async fn job_trace(
        &self,
        project: &ProjectRef,
        job_id: u64,
        max_bytes: u64,
    ) -> Result<JobTrace, GitLabError> {
        let what = format!("reading the log of job {job_id} of {project}");
        let url = self.url(
            &format!("projects/{}/jobs/{job_id}/trace", project_segment(project)),
            &[],
        );
        let reply = self
            .send(
                &what,
                Method::GET,
                url,
                None,
                Effect::Read,
                Keep::Tail(max_bytes),
            )
            .await?;
        Ok(JobTrace {
            text: String::from_utf8_lossy(&reply.body).into_owned(),
            truncated: reply.truncated,
        })
    }

    async fn retry_job(&self, project: &ProjectRef, job_id: u64) -> Result<Job, GitLabError> {
        let what = format!("retrying job {job_id} of {project}");
        let url = self.url(
            &format!("projects/{}/jobs/{job_id}/retry", project_segment(project)),
            &[],
        );
        // A retry that may have reached GitLab is not sent again: a second one would start a
        // second copy of the job.
        let reply = self
            .send(
                &what,
                Method::POST,
                url,
                None,
                Effect::Write,
                Keep::Head(JSON_LIMIT),
            )
            .await?;
        parse_json(&what, &reply)
    }

    async fn project_hooks(&self, project: &ProjectRef) -> Result<Vec<ProjectHook>, GitLabError> {
        let what = format!("listing the webhooks of {project}");
        let url = self.url(
            &format!("projects/{}/hooks", project_segment(project)),
            &[("per_page", &self.per_page)],
        );
        self.get_all(&what, url, false).await
    }

    async fn create_project_hook(
        &self,
        project: &ProjectRef,
        hook: &NewProjectHook,
    ) -> Result<ProjectHook, GitLabError> {
        let what = format!("adding a pipeline webhook to {project}");
        let body = serde_json::to_value(hook).map_err(|e| GitLabError::InvalidResponse {
            what: what.clone(),
            reason: format!("the hook could not be written as JSON: {e}"),
        })?;
        let url = self.url(&format!("projects/{}/hooks", project_segment(project)), &[]);
        let reply = self
            .send(
                &what,
                Method::POST,
                url,
                Some(&body),
                Effect::Write,
                Keep::Head(JSON_LIMIT),
            )
            .await?;
        parse_json(&what, &reply)
    }

    async fn lint(&self, project: &ProjectRef, content: &str) -> Result<LintResult, GitLabError> {
        let what = format!("checking a CI configuration with CI Lint in {project}");
        let url = self.url(
            &format!("projects/{}/ci/lint", project_segment(project)),
            &[],
        );
        let body = serde_json::json!({ "content": content });
        // CI Lint changes nothing, so it is retried like a read.
        let reply = self
            .send(
                &what,
                Method::POST,
                url,
                Some(&body),
                Effect::Read,
                Keep::Head(JSON_LIMIT),
            )
            .await?;
        parse_json(&what, &reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn file_paths_encode_slashes_and_dots() {
        assert_eq!(encode_segment("lib/class.rb"), "lib%2Fclass%2Erb");
        assert_eq!(encode_segment("group/sub/proj"), "group%2Fsub%2Fproj");
        assert_eq!(encode_segment("a b+c"), "a%20b%2Bc");
    }

    #[test]
    fn link_next_is_found_among_other_relations() {
        let h = headers(&[(
            "link",
            r#"<https://g/api/v4/x?page=1>; rel="first", <https://g/api/v4/x?page_token=ab&pagination=keyset>; rel="next""#,
        )]);
        assert_eq!(
            link_next(&h).as_deref(),
            Some("https://g/api/v4/x?page_token=ab&pagination=keyset")
        );
        assert_eq!(
            link_next(&headers(&[("link", r#"<https://g/x>; rel="prev""#)])),
            None
        );
    }

    #[test]
    fn offset_pages_follow_x_next_page_when_no_link_is_given() {
        let url = Url::parse("https://g/api/v4/p?per_page=2&page=1").unwrap();
        let next = next_page(&headers(&[("x-next-page", "2")]), &url, false).unwrap();
        assert_eq!(next.as_str(), "https://g/api/v4/p?per_page=2&page=2");
        assert!(next_page(&headers(&[("x-next-page", "")]), &url, false).is_none());
        assert!(next_page(&headers(&[("x-next-page", "2")]), &url, true).is_none());
    }

    #[test]
    fn server_wait_prefers_retry_after_then_ratelimit_reset() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            server_wait(
                &headers(&[("retry-after", "7"), ("ratelimit-reset", "1700000060")]),
                now
            ),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            server_wait(&headers(&[("ratelimit-reset", "1700000060")]), now),
            Some(Duration::from_secs(60))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(3));
        assert_eq!(
            server_wait(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(server_wait(&headers(&[]), now), None);
    }

    #[test]
    fn error_messages_are_flattened() {
        let m = error_message(
            StatusCode::BAD_REQUEST,
            br#"{"message":{"name":["has already been taken"],"path":["is reserved"]}}"#,
        );
        assert_eq!(m, "name: has already been taken; path: is reserved");
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>"),
            "502 Bad Gateway"
        );
        assert_eq!(
            error_message(StatusCode::TOO_MANY_REQUESTS, b"Retry later\n"),
            "Retry later"
        );
    }

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let config = GitLabConfig::new("https://gitlab.example.com", GitLabToken::new("t0ken"));
        let client = GitLabClient::new(config).unwrap();
        for attempt in 1..=10 {
            let exp = Duration::from_millis(500)
                .saturating_mul(1 << (attempt - 1))
                .min(Duration::from_secs(30));
            let wait = client.backoff(attempt);
            assert!(wait >= exp / 2 && wait <= exp, "{attempt}: {wait:?}");
        }
    }
}
