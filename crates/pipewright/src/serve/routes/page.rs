//! The web page at `/`: one HTML file, one script and one style sheet, compiled into the
//! binary (`page/`), so the page works offline and needs no CDN. The assets hold no data: the
//! script calls the `/api/v1` routes with the token the user typed (when the server has
//! `PIPEWRIGHT_API_TOKENS`), so these routes are open like `/health`. A strict
//! Content-Security-Policy allows only the server's own script, styles and API.

use crate::serve::state::AppState;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::HeaderName;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const INDEX_HTML: &str = include_str!("../page/index.html");
const APP_JS: &str = include_str!("../page/app.js");
const APP_CSS: &str = include_str!("../page/app.css");

/// Only the server's own files and API; no inline script, no frames.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(index))
        .routes(routes!(script))
        .routes(routes!(style))
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "no-cache"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (HeaderName::from_static("content-security-policy"), CSP),
            (HeaderName::from_static("referrer-policy"), "no-referrer"),
        ],
        body,
    )
}

/// The web page: paste a repository, preview, commit, watch the run, ask questions.
#[utoipa::path(
    get,
    path = "/",
    tag = "page",
    security(()),
    responses((status = 200, description = "The page", content_type = "text/html", body = String))
)]
async fn index() -> impl IntoResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// The page's script.
#[utoipa::path(
    get,
    path = "/assets/app.js",
    tag = "page",
    security(()),
    responses((status = 200, description = "JavaScript", content_type = "text/javascript", body = String))
)]
async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// The page's style sheet.
#[utoipa::path(
    get,
    path = "/assets/app.css",
    tag = "page",
    security(()),
    responses((status = 200, description = "CSS", content_type = "text/css", body = String))
)]
async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}
