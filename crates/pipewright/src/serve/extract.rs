//! Request extractors whose every refusal is an [`ApiError`] in the service's JSON shape
//! (axum's own answer plain text): [`ApiJson`] for bodies, [`ApiQuery`] for query strings.
//! A JSON body that is not JSON is 400; one with a wrong, missing or unknown field is 422
//! naming the field (`settings.skip_stages[0]`); one over `--max-body-bytes` is 413.

use super::error::{ApiError, ErrorKind};
use super::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use std::str::FromStr;

/// A JSON body, deserialized with the path of any bad field kept.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                ErrorKind::UnsupportedMediaType,
                "send the body as JSON with the header `content-type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        ErrorKind::PayloadTooLarge,
                        format!(
                            "the body is larger than this server's limit of {} bytes (--max-body-bytes); send only the files that matter (manifests, lock files, Dockerfiles, CI files)",
                            state.max_body_bytes
                        ),
                    )
                } else {
                    ApiError::new(
                        ErrorKind::InvalidJson,
                        format!("the body could not be read: {}", rejection.body_text()),
                    )
                }
            })?;
        parse(&bytes).map(ApiJson)
    }
}

/// Deserializes `bytes`, naming the field at fault. Every string is checked against its
/// bound ([`bounds`](super::bounds)) before the request type sees it.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let json: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorKind::InvalidJson,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    super::bounds::check(&json)?;
    let value = serde_path_to_error::deserialize(json).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::new(
                ErrorKind::InvalidJson,
                format!("the body is not valid JSON: {inner}"),
            );
        }
        let message = inner.to_string();
        let field = named_field(&message)
            .map(|name| match path.as_str() {
                "." => name.to_string(),
                parent => format!("{parent}.{name}"),
            })
            .or_else(|| (path != ".").then_some(path));
        let error = ApiError::new(
            ErrorKind::InvalidField,
            format!("{}: {message}", field.as_deref().unwrap_or("body")),
        );
        match field {
            Some(f) => error.field(f),
            None => error,
        }
    })?;
    Ok(value)
}

/// Query or path parameters as name → value, each value one bounded line.
fn check_params(params: &[(String, String)]) -> Result<(), ApiError> {
    let as_json = serde_json::Value::Object(
        params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    );
    super::bounds::check(&as_json)
}

/// The field a `missing field` message names (serde reports it at the enclosing object; an
/// unknown field's path already ends with it).
fn named_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// A query string; a refusal is 422 in the service's shape.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        if let Ok(Query(params)) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
            check_params(&params)?;
        }
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(value)| ApiQuery(value))
            .map_err(|e| ApiError::new(ErrorKind::InvalidField, e.body_text()))
    }
}

/// A path parameter; a refusal (say, bytes that are not UTF-8) is 422 in the service's shape.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if let Ok(Path(params)) =
            Path::<Vec<(String, String)>>::from_request_parts(parts, state).await
        {
            check_params(&params)?;
        }
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|e| ApiError::new(ErrorKind::InvalidField, e.body_text()))
    }
}

/// Parses an optional name of a closed set (a language, a collection …), naming the field
/// when it is not one.
pub fn parse_name<T: FromStr<Err = String>>(
    field: &str,
    text: Option<&str>,
) -> Result<Option<T>, ApiError> {
    text.map(|t| {
        t.parse()
            .map_err(|e: String| ApiError::invalid_field(field, e))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        list: Vec<u32>,
    }

    fn field_of(json: &str) -> (ErrorKind, Option<String>) {
        let e = parse::<Body>(json.as_bytes()).unwrap_err();
        (e.kind, e.field)
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of("{"), (ErrorKind::InvalidJson, None));
        assert_eq!(
            field_of("{\"name\": \"a\"} x"),
            (ErrorKind::InvalidJson, None)
        );
        assert_eq!(
            field_of("{\"name\": 3}"),
            (ErrorKind::InvalidField, Some("name".into()))
        );
        assert_eq!(
            field_of("{}"),
            (ErrorKind::InvalidField, Some("name".into()))
        );
        assert_eq!(
            field_of("{\"name\": \"a\", \"nmae\": 1}"),
            (ErrorKind::InvalidField, Some("nmae".into()))
        );
        assert_eq!(
            field_of("{\"name\": \"a\", \"inner\": {\"list\": [1, \"x\"]}}"),
            (ErrorKind::InvalidField, Some("inner.list[1]".into()))
        );
        assert_eq!(
            field_of("{\"name\": \"a\", \"inner\": {}}"),
            (ErrorKind::InvalidField, Some("inner.list".into()))
        );
    }
}
