//! Router assembly: every route module contributes an `OpenApiRouter` (its handlers and their
//! OpenAPI paths, declared once with `#[utoipa::path]`), the `/api/v1` ones behind the API
//! token check; the OpenAPI document and Swagger UI are made from the same routers, so the
//! document lists exactly the routes that exist.
//!
//! To add a route module (say `workflow.rs`): write its handlers with `#[utoipa::path(...)]`
//! and a `pub fn router() -> OpenApiRouter<AppState>` that lists them with `routes!(...)`,
//! add `mod workflow;` below and `.merge(workflow::router())` in [`v1`], and its tag in
//! `openapi.rs`. Errors are [`ApiError`](super::error::ApiError)s; blocking work goes
//! through [`blocking`](super::blocking).

mod analyze;
mod chat;
mod feedback;
mod generate;
mod health;
mod images;
mod learn;
mod page;
mod repository;
mod runs;
mod templates;
mod validate;
mod webhooks;
mod workflow;

use super::auth::require_token;
use super::error::{ApiError, ErrorKind};
use super::middleware::{request_context, time_limit};
use super::openapi::ApiDoc;
use super::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::any::Any;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";
/// Where Swagger UI is served.
pub const DOCS_PATH: &str = "/api/docs";

/// The whole service: routes, docs, JSON 404/405, and the layers every request passes
/// (outermost first): request context (id, span, log line), panic catcher, time limit, body
/// limit.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        // The web page: its assets hold no data (the page asks for a token before any call).
        .merge(page::router())
        // GitLab cannot send a bearer token: the webhook checks its own secret.
        .merge(webhooks::router())
        .merge(v1(state.clone()))
        .split_for_parts();
    let mut openapi = openapi;
    super::openapi::finish(&mut openapi);
    let docs = Router::from(SwaggerUi::new(DOCS_PATH).url(OPENAPI_PATH, openapi))
        .layer(axum::middleware::map_response(docs_title));
    api.merge(docs)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(from_fn_with_state(request_timeout, time_limit))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(from_fn(request_context))
        .with_state(state)
}

/// Every `/api/v1` route, behind the API token check.
fn v1(state: AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(analyze::router())
        .merge(generate::router())
        .merge(validate::router())
        .merge(feedback::router())
        .merge(templates::router())
        .merge(workflow::router())
        .merge(runs::router())
        .merge(images::router())
        .merge(learn::router())
        .merge(chat::router())
        .route_layer(from_fn_with_state(state, require_token))
}

/// The title Swagger UI's page carries in a browser tab.
pub const DOCS_TITLE: &str = "pipewright API";

/// Swagger UI's page titled for pipewright (its own HTML says `Swagger UI`); its other files
/// pass as they are.
async fn docs_title(response: Response) -> Response {
    let is_html = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // The page is a few hundred bytes; anything far larger is not it.
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return ApiError::internal("cannot read Swagger UI's page").into_response();
    };
    let page = String::from_utf8_lossy(&bytes).replace(
        "<title>Swagger UI</title>",
        &format!("<title>{DOCS_TITLE}</title>"),
    );
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(page))
}

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        format!("no such route; the API is described at {OPENAPI_PATH} and {DOCS_PATH}"),
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!("this route does not take that method; see {OPENAPI_PATH}"),
    )
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    ApiError::internal(
        "pipewright failed on this request (a bug); the server goes on. Please report it with the request id",
    )
    .into_response()
}
