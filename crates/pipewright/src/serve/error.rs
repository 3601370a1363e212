//! [`ApiError`]: every error the service answers with, in one JSON shape, and the one table
//! ([`ErrorKind::status_and_code`]) that maps each kind to its HTTP status and code.
//!
//! ```json
//! {"error": {"code": "invalid_field", "message": "…", "field": "files", "request_id": "…"}}
//! ```
//!
//! Messages say what failed and what to do. They never hold a credential: the GitLab client
//! scrubs its token from GitLab's answers, API tokens are only ever compared, and no header
//! is copied into a message. A user's mistake is never a 5xx.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pipewright_adapters::source::InlineError;
use pipewright_core::generate::GenerateError;
use pipewright_core::gitlab::GitLabError;
use pipewright_core::knowledge::StoreError;
use pipewright_core::runs::RunStoreError;
use pipewright_core::source::SourceError;
use pipewright_workflow::generate::GenerateFlowError;
use pipewright_workflow::templates::TemplatesError;
use serde::Serialize;
use serde_json::Value;

tokio::task_local! {
    /// The id of the request being answered (set by the request-context middleware), so that
    /// an error body made anywhere below it can name the request.
    pub static REQUEST_ID: String;
}

/// What kind of failure an [`ApiError`] is; decides its status and code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The body is not JSON (a syntax error, trailing characters).
    InvalidJson,
    /// A field has the wrong type, is missing, unknown, or has a value that is not accepted.
    InvalidField,
    /// The request as a whole is not acceptable (e.g. two repositories named).
    InvalidRequest,
    UnsupportedMediaType,
    Unauthorized,
    /// Refused by the server's configuration (e.g. local paths without `--allow-local-paths`).
    Forbidden,
    NotFound,
    MethodNotAllowed,
    /// The id names records in several collections.
    Ambiguous,
    PayloadTooLarge,
    /// The repository was read, but no supported stack was recognised.
    NothingRecognised,
    /// Posted files fail pipewright's validator.
    InvalidFiles,
    /// A repository URL refused by the URL policy (before any connection).
    UrlRefused,
    /// GitLab is needed but `GITLAB_URL` / `GITLAB_TOKEN` are not set (or not usable).
    GitLabNotConfigured,
    /// GitLab refused pipewright's token.
    GitLabAuth,
    /// GitLab answered with an error, or could not be reached.
    GitLabFailed,
    /// GitLab did not answer in time.
    GitLabTimeout,
    GitLabRateLimited,
    /// GitLab's CI Lint rejects the pipeline (even the built-in one); nothing was committed.
    LintRejected,
    /// No registry to seed is configured (`NEXUS_REGISTRY`), or its settings are unusable.
    RegistryNotConfigured,
    /// The knowledge store could not be opened or reached.
    StoreUnavailable,
    /// The knowledge store failed (a corrupt file, a mismatch).
    StoreFailed,
    /// The request took longer than the server's time limit.
    Timeout,
    /// The server already serves `--max-connections` connections.
    Overloaded,
    /// A defect in pipewright.
    Internal,
    /// A clone failed or timed out, or git is missing (the CLI: the service never clones).
    SourceUnreachable,
    /// Files to write exist already and `--force` was not given (the CLI).
    FilesExist,
    /// A file could not be written (the CLI: generated files, `--fix`, exports).
    WriteFailed,
}

impl ErrorKind {
    /// The HTTP status and the stable `code` of each kind: the one place they are decided.
    pub fn status_and_code(self) -> (StatusCode, &'static str) {
        use ErrorKind::*;
        match self {
            InvalidJson => (StatusCode::BAD_REQUEST, "invalid_json"),
            InvalidField => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            InvalidRequest => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            NotFound => (StatusCode::NOT_FOUND, "not_found"),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Ambiguous => (StatusCode::CONFLICT, "ambiguous"),
            PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            NothingRecognised => (StatusCode::UNPROCESSABLE_ENTITY, "nothing_recognised"),
            InvalidFiles => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_files"),
            UrlRefused => (StatusCode::BAD_REQUEST, "url_refused"),
            GitLabNotConfigured => (StatusCode::SERVICE_UNAVAILABLE, "gitlab_not_configured"),
            GitLabAuth => (StatusCode::BAD_GATEWAY, "gitlab_auth_failed"),
            GitLabFailed => (StatusCode::BAD_GATEWAY, "gitlab_failed"),
            GitLabTimeout => (StatusCode::GATEWAY_TIMEOUT, "gitlab_timeout"),
            GitLabRateLimited => (StatusCode::SERVICE_UNAVAILABLE, "gitlab_rate_limited"),
            LintRejected => (StatusCode::UNPROCESSABLE_ENTITY, "lint_rejected"),
            RegistryNotConfigured => (StatusCode::SERVICE_UNAVAILABLE, "registry_not_configured"),
            StoreUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            StoreFailed => (StatusCode::INTERNAL_SERVER_ERROR, "store_failed"),
            Timeout => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            SourceUnreachable => (StatusCode::BAD_GATEWAY, "source_unreachable"),
            FilesExist => (StatusCode::CONFLICT, "files_exist"),
            WriteFailed => (StatusCode::INTERNAL_SERVER_ERROR, "write_failed"),
        }
    }
}

/// An error answer: kind, message, the request field at fault, details (findings, refusals).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub field: Option<String>,
    /// Boxed: most errors have none, and a small error keeps every `Result` small.
    pub details: Option<Box<Value>>,
    /// Seconds for `Retry-After` (rate limits).
    pub retry_after: Option<u64>,
}

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for people (`message`) and programs (`code`, `field`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_field`, `gitlab_not_configured`.
    pub code: &'static str,
    /// What failed, with which input, and what to do.
    pub message: String,
    /// The request field at fault (`files`, `settings.skip_stages[0]`), when there is one.
    pub field: Option<String>,
    /// The request's id (also in the `x-request-id` header and every log line).
    pub request_id: Option<String>,
    /// Extra data: validator findings, refused templates, an unrecognised repository's profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            field: None,
            details: None,
            retry_after: None,
        }
    }

    /// The same error, naming the request field at fault.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The same error, with details for programs.
    pub fn details(mut self, details: impl Serialize) -> Self {
        self.details = serde_json::to_value(details).ok().map(Box::new);
        self
    }

    /// The same error with one more entry in its details object.
    pub fn with_detail(mut self, key: &str, value: impl Serialize) -> Self {
        let mut map = match self.details.take().map(|b| *b) {
            Some(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        if let Ok(v) = serde_json::to_value(value) {
            map.insert(key.to_string(), v);
        }
        self.details = Some(Box::new(Value::Object(map)));
        self
    }

    /// A field with a value that is not accepted.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::InvalidField, message).field(field)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::Internal, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.kind.status_and_code();
        if status.is_server_error() {
            tracing::warn!(code, status = status.as_u16(), message = %self.message, "request failed");
        } else {
            tracing::info!(code, status = status.as_u16(), message = %self.message, "request refused");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.message,
                field: self.field,
                request_id: REQUEST_ID.try_with(Clone::clone).ok(),
                details: self.details.map(|d| *d),
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if self.kind == ErrorKind::Unauthorized {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<GitLabError> for ApiError {
    fn from(e: GitLabError) -> Self {
        let message = e.to_string();
        let kind = match &e {
            GitLabError::NotFound { .. } => ErrorKind::NotFound,
            GitLabError::Unauthorized { .. } | GitLabError::Forbidden { .. } => {
                ErrorKind::GitLabAuth
            }
            GitLabError::Refused { .. } => {
                return ApiError::new(ErrorKind::UrlRefused, message).field("repository_url")
            }
            GitLabError::RateLimited { retry_after, .. } => {
                let mut error = ApiError::new(ErrorKind::GitLabRateLimited, message);
                error.retry_after = retry_after.map(|d| d.as_secs().max(1));
                return error;
            }
            GitLabError::Timeout { .. } => ErrorKind::GitLabTimeout,
            GitLabError::Config(_) => ErrorKind::GitLabNotConfigured,
            GitLabError::BadRequest { .. }
            | GitLabError::Conflict { .. }
            | GitLabError::Server { .. }
            | GitLabError::Unreachable { .. }
            | GitLabError::Http { .. }
            | GitLabError::InvalidResponse { .. } => ErrorKind::GitLabFailed,
            // A kind added later: GitLab failed in a way this table does not know yet.
            _ => ErrorKind::GitLabFailed,
        };
        ApiError::new(kind, message)
    }
}

impl From<SourceError> for ApiError {
    fn from(e: SourceError) -> Self {
        let message = e.to_string();
        match e {
            SourceError::NotFound(_)
            | SourceError::NotADirectory(_)
            | SourceError::Unreadable { .. }
            | SourceError::UnsupportedScheme { .. } => ApiError::invalid_field("path", message),
            SourceError::Other(_) => ApiError::new(ErrorKind::InvalidRequest, message),
            SourceError::BadOverrides(_) => ApiError::invalid_field("overrides", message),
            // No request reaches a clone (GitLab projects are read through its API), so these
            // would be a defect.
            SourceError::GitMissing { .. }
            | SourceError::CloneFailed { .. }
            | SourceError::CloneTimedOut { .. } => ApiError::internal(message),
        }
    }
}

impl From<InlineError> for ApiError {
    fn from(e: InlineError) -> Self {
        ApiError::invalid_field("files", e.to_string())
    }
}

impl From<GenerateFlowError> for ApiError {
    fn from(e: GenerateFlowError) -> Self {
        match e {
            GenerateFlowError::Source(s) => s.into(),
            GenerateFlowError::Generate(g @ GenerateError::NoService(_)) => {
                ApiError::new(ErrorKind::NothingRecognised, g.to_string())
            }
            // The repository as it is cannot be written into a pipeline (a name no shell or
            // Dockerfile can hold, too many services for one file): the user's to change.
            GenerateFlowError::Generate(g) => {
                ApiError::new(ErrorKind::InvalidRequest, g.to_string())
            }
            GenerateFlowError::Invalid(ref findings) => ApiError::internal(e.to_string())
                .details(serde_json::json!({ "findings": findings })),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        // A record that cannot be stored as given (id, sizes) is the caller's to fix.
        if let StoreError::InvalidRecord(_) = e {
            return ApiError::new(ErrorKind::InvalidRequest, e.to_string());
        }
        let kind = if e.is_unreachable() {
            ErrorKind::StoreUnavailable
        } else {
            ErrorKind::StoreFailed
        };
        ApiError::new(kind, e.to_string())
    }
}

impl From<RunStoreError> for ApiError {
    fn from(e: RunStoreError) -> Self {
        ApiError::new(ErrorKind::StoreFailed, e.to_string())
    }
}

impl From<TemplatesError> for ApiError {
    fn from(e: TemplatesError) -> Self {
        let message = e.to_string();
        match e {
            TemplatesError::NotFound { .. } => ApiError::new(ErrorKind::NotFound, message),
            TemplatesError::Ambiguous { .. } => {
                ApiError::new(ErrorKind::Ambiguous, message).field("collection")
            }
            TemplatesError::Invalid(findings) => ApiError::new(ErrorKind::InvalidFiles, message)
                .details(serde_json::json!({ "findings": findings })),
            TemplatesError::Store(s) => s.into(),
            TemplatesError::Folder(pipewright_adapters::store::folder::FolderError::Refused(
                refused,
            )) => ApiError::new(
                ErrorKind::InvalidFiles,
                "import refused, nothing was stored; `details.refused` lists every problem",
            )
            .field("templates")
            .details(serde_json::json!({ "refused": refused })),
            TemplatesError::Folder(pipewright_adapters::store::folder::FolderError::Store(s)) => {
                s.into()
            }
            TemplatesError::Folder(_) => ApiError::internal(message),
        }
    }
}
