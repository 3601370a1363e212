//! API tokens: when `PIPEWRIGHT_API_TOKENS` is set, every `/api/v1` route needs
//! `Authorization: Bearer <token>`; anything else is answered 401 with
//! `WWW-Authenticate: Bearer`. `/health`, the OpenAPI document and the docs page stay open
//! (they hold no data, and a browser cannot send a bearer token for a page load).
//! The presented token is compared in constant time ([`ApiTokens::accepts`]) and never logged.

use super::error::{ApiError, ErrorKind};
use super::state::{ApiTokens, AppState};
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Lets the request through when no tokens are configured or its bearer token is one of them.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match check(&state.tokens, request.headers().get(AUTHORIZATION)) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

fn check(tokens: &ApiTokens, header: Option<&axum::http::HeaderValue>) -> Result<(), ApiError> {
    if tokens.is_empty() {
        return Ok(());
    }
    let Some(value) = header else {
        return Err(ApiError::new(
            ErrorKind::Unauthorized,
            "this endpoint needs an API token: send `Authorization: Bearer <token>` with one of the tokens in PIPEWRIGHT_API_TOKENS",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token {
        Some(token) if tokens.accepts(token) => Ok(()),
        Some(_) => Err(ApiError::new(
            ErrorKind::Unauthorized,
            "the API token is not accepted; use one of the tokens in PIPEWRIGHT_API_TOKENS",
        )),
        None => Err(ApiError::new(
            ErrorKind::Unauthorized,
            "the Authorization header must be `Bearer <token>`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_tokens_are_checked_only_when_configured() {
        let none = ApiTokens::default();
        assert!(check(&none, None).is_ok());
        let tokens = ApiTokens::parse("s3cret").expect("one token");
        assert!(check(&tokens, None).is_err());
        let ok = HeaderValue::from_static("Bearer s3cret");
        assert!(check(&tokens, Some(&ok)).is_ok());
        let lower = HeaderValue::from_static("bearer s3cret");
        assert!(check(&tokens, Some(&lower)).is_ok());
        let wrong = HeaderValue::from_static("Bearer s3cre");
        assert!(check(&tokens, Some(&wrong)).is_err());
        let basic = HeaderValue::from_static("Basic s3cret");
        assert!(check(&tokens, Some(&basic)).is_err());
    }
}
