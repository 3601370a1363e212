//! The OpenAPI 3 document's frame: title, tags, the bearer security scheme (required on every
//! operation unless it says `security(())`, as `/health` does) and shared schemas. The paths
//! come from the route modules' `#[utoipa::path]` attributes through their routers (see
//! `routes/mod.rs`), so the document cannot list a route that does not exist, or miss one.

use super::error::{ErrorBody, ErrorDetail};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pipewright",
        description = "Turns a source repository into a working GitLab CI/CD pipeline: analyze a repository, generate and validate its `.gitlab-ci.yml` and Dockerfile, manage the knowledge store. Every error is `{\"error\": {\"code\", \"message\", \"field\", \"request_id\"}}`."
    ),
    tags(
        (name = "health", description = "Is pipewright up, and its dependencies"),
        (name = "pipeline", description = "Analyze, generate, validate, feedback, and the workflow that commits to GitLab"),
        (name = "templates", description = "The knowledge store's records"),
        (name = "runs", description = "Every workflow request, with its steps, timings and outcome"),
        (name = "images", description = "The images pipelines use, checked and copied into the team's registry"),
        (name = "chat", description = "Questions about a repository or a run, answered from its analysis, files, logs and the stored templates"),
        (name = "page", description = "The web page and its assets (no data; the page calls the API with the token)"),
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerToken),
    security(("api_token" = []))
)]
pub struct ApiDoc;

/// Declares `api_token`: `Authorization: Bearer <token>`, needed when the server has
/// `PIPEWRIGHT_API_TOKENS`.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "One of the server's PIPEWRIGHT_API_TOKENS; not needed when it has none",
                    ))
                    .build(),
            ),
        );
    }
}

/// The refusals every `/api/v1` operation may answer with.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum CommonErrors {
    /// The body is not JSON.
    #[response(status = 400)]
    InvalidJson(ErrorBody),
    /// An API token is required (PIPEWRIGHT_API_TOKENS) and was missing or wrong.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The body is over the server's --max-body-bytes.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// A body without `content-type: application/json`.
    #[response(status = 415)]
    NotJson(ErrorBody),
    /// A field or parameter is wrong, missing or unknown (`field` names it), or the request
    /// cannot be carried out as given.
    #[response(status = 422)]
    Unprocessable(ErrorBody),
    /// The request took longer than the server's --request-timeout.
    #[response(status = 504)]
    Timeout(ErrorBody),
}

/// The answers of operations that read a repository (`repository_url`, `files`, `path`).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum RepositoryErrors {
    /// `path` on a server started without --allow-local-paths.
    #[response(status = 403)]
    LocalPathsOff(ErrorBody),
    /// The GitLab project does not exist, or the token cannot see it.
    #[response(status = 404)]
    UnknownProject(ErrorBody),
    /// GitLab refused pipewright's token, failed, or could not be reached.
    #[response(status = 502)]
    GitLabFailed(ErrorBody),
    /// GitLab is not configured (the message names GITLAB_URL or GITLAB_TOKEN), or rate limits.
    #[response(status = 503)]
    GitLabNotConfigured(ErrorBody),
}

/// The answers of operations on the knowledge store.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum StoreErrors {
    /// The knowledge store could not be opened or reached.
    #[response(status = 503)]
    StoreUnavailable(ErrorBody),
}

/// The answers of operations on one record.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum RecordErrors {
    /// No record has this id.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The id is in several collections; name one with `collection`.
    #[response(status = 409)]
    Ambiguous(ErrorBody),
}
