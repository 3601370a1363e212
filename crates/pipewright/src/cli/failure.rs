//! The one error contract of every `--json` subcommand, the API's own:
//!
//! ```json
//! {"error": {"code": "invalid_field", "message": "…", "field": "target", "details": {…}}}
//! ```
//!
//! on stdout, with the stable codes of the service's table (`ErrorKind::status_and_code` in
//! `serve/error.rs`, the one place codes are decided); `field` names the argument or flag at
//! fault, `details` holds data for programs (validator findings, refused templates). The
//! message also goes to stderr as `error: …`, with or without `--json`. Exit codes are those
//! of [`super::exit`], chosen by the subcommand, never by the code.

use super::exit;
use crate::serve::error::{ApiError, ErrorKind};
use pipewright_core::gitlab::GitLabError;
use pipewright_core::knowledge::StoreError;
use pipewright_core::source::SourceError;
use serde::Serialize;
use serde_json::{Map, Value};

/// A subcommand's failure: its exit code and the error as the API would answer it.
#[derive(Debug)]
pub struct Failure {
    pub exit: i32,
    pub error: ApiError,
}

impl Failure {
    pub fn new(exit: i32, kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure {
            exit,
            error: ApiError::new(kind, message),
        }
    }

    /// An argument or flag with a value that cannot be used (exit 2).
    pub fn usage(field: &str, message: impl Into<String>) -> Self {
        Failure::new(exit::USAGE, ErrorKind::InvalidField, message).field(field)
    }

    /// A defect or an unexpected failure inside pipewright (exit 1).
    pub fn internal(message: impl Into<String>) -> Self {
        Failure::new(exit::FAILURE, ErrorKind::Internal, message)
    }

    /// An error converted as the service converts it, with the CLI's exit code.
    pub fn api(exit: i32, error: impl Into<ApiError>) -> Self {
        Failure {
            exit,
            error: error.into(),
        }
    }

    /// The same failure, naming the argument or flag at fault.
    pub fn field(mut self, field: &str) -> Self {
        self.error.field = Some(field.to_string());
        self
    }

    /// The same failure, with data for programs.
    pub fn details(mut self, details: impl Serialize) -> Self {
        self.error = self.error.details(details);
        self
    }

    /// `{"error": {"code", "message", "field"?, "details"?}}`.
    pub fn body(&self) -> Value {
        let (_, code) = self.error.kind.status_and_code();
        let mut detail = Map::new();
        detail.insert("code".into(), code.into());
        detail.insert("message".into(), self.error.message.clone().into());
        if let Some(field) = &self.error.field {
            detail.insert("field".into(), field.clone().into());
        }
        if let Some(details) = &self.error.details {
            detail.insert("details".into(), (**details).clone());
        }
        let mut body = Map::new();
        body.insert("error".into(), Value::Object(detail));
        Value::Object(body)
    }

    /// Says the failure on stderr and, with `json`, as the contract's body on stdout; returns
    /// the exit code.
    pub fn report(self, json: bool) -> i32 {
        eprintln!(
            "error: {}",
            pipewright_core::quote::for_terminal(&self.error.message)
        );
        if json {
            outln!("{}", self.body());
        }
        self.exit
    }
}

/// A repository that cannot be opened, as the CLI meets it: the target argument at fault
/// (exit 2), a clone that failed (exit 4).
impl From<SourceError> for Failure {
    fn from(e: SourceError) -> Self {
        let message = e.to_string();
        match e {
            SourceError::CloneFailed { .. }
            | SourceError::CloneTimedOut { .. }
            | SourceError::GitMissing { .. } => {
                Failure::new(exit::UNREACHABLE, ErrorKind::SourceUnreachable, message)
                    .field("target")
            }
            e if e.is_usage_error() => Failure::usage("target", message),
            _ => Failure::new(exit::FAILURE, ErrorKind::InvalidRequest, message),
        }
    }
}

/// A knowledge store that cannot be reached (exit 4) or fails (exit 5).
impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let exit = if e.is_unreachable() {
            exit::UNREACHABLE
        } else {
            exit::STORE
        };
        Failure::api(exit, e)
    }
}

/// GitLab failing or refusing while the CLI talks to it (exit 4).
impl From<GitLabError> for Failure {
    fn from(e: GitLabError) -> Self {
        Failure::api(exit::UNREACHABLE, e)
    }
}

/// Prints `value` as pretty JSON; a value that cannot be rendered is a defect (exit 1).
pub fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::internal(format!("cannot render the answer as JSON: {e}")))?;
    outln!("{text}");
    Ok(())
}
