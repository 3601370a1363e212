//! The OpenAPI 3 document's frame: title, tags, the bearer security scheme (required on every
//! operation unless it says `security(())`, as `/health` does) and shared schemas. The paths
//! come from the route modules' `#[utoipa::path]` attributes through their routers (see
//! `routes/mod.rs`), so the document cannot list a route that does not exist, or miss one.

use super::error::{ErrorBody, ErrorDetail};
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, OneOfBuilder, Ref, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
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

/// What the derives cannot say, added once the routers have contributed their paths and
/// schemas: a request that names its subject one of several ways takes exactly one (`oneOf`),
/// and every `/api/v1` operation may answer 401, 500 and 504 (the layers in front of them all).
pub fn finish(doc: &mut utoipa::openapi::OpenApi) {
    exactly_one(doc);
    request_examples(doc);
    answered_by_every_operation(doc);
}

/// Requests that take exactly one of several fields (the handlers refuse none or two with
/// 422): a repository (`routes/repository.rs`), a chat's subject, a workflow's project. The
/// first set whose fields a schema has all of applies.
const EXACTLY_ONE: &[&[&str]] = &[
    &["repository_url", "files", "path"],
    &["repository_url", "files", "run_id"],
    &["repository_url", "project_id"],
];

/// Each request schema with all fields of a set in [`EXACTLY_ONE`] becomes `allOf: [its
/// object, oneOf: [required one field | …]]`, its description and example on top.
fn exactly_one(doc: &mut utoipa::openapi::OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for schema in components.schemas.values_mut() {
        let RefOr::T(Schema::Object(object)) = schema else {
            continue;
        };
        let Some(fields) = EXACTLY_ONE
            .iter()
            .find(|set| set.iter().all(|f| object.properties.contains_key(*f)))
        else {
            continue;
        };
        let mut object = object.clone();
        let description = object.description.take();
        let example = object
            .example
            .take()
            .or_else(|| std::mem::take(&mut object.examples).into_iter().next());
        let choice = fields.iter().fold(OneOfBuilder::new(), |one, field| {
            one.item(ObjectBuilder::new().required(*field))
        });
        *schema = AllOfBuilder::new()
            .item(Schema::Object(object))
            .item(choice)
            .description(description)
            .examples(example)
            .into();
    }
}

/// A schema's own example, as the derive or [`exactly_one`] left it.
fn schema_example(schema: &RefOr<Schema>) -> Option<serde_json::Value> {
    match schema {
        RefOr::T(Schema::Object(o)) => o.example.clone().or_else(|| o.examples.first().cloned()),
        RefOr::T(Schema::AllOf(a)) => a.examples.first().cloned(),
        _ => None,
    }
}

/// Each JSON request body shows its schema's example, which is what Swagger UI's "Try it out"
/// starts from (a body it made up from the schema would be refused: it would name none, or
/// all, of the fields a request takes exactly one of).
fn request_examples(doc: &mut utoipa::openapi::OpenApi) {
    let Some(components) = doc.components.as_ref() else {
        return;
    };
    let examples: std::collections::BTreeMap<String, serde_json::Value> = components
        .schemas
        .iter()
        .filter_map(|(name, schema)| schema_example(schema).map(|e| (name.clone(), e)))
        .collect();
    for item in doc.paths.paths.values_mut() {
        let operations: [&mut Option<Operation>; 4] = [
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let Some(RefOr::T(body)) = operation.request_body.as_mut() else {
                continue;
            };
            for content in body.content.values_mut() {
                let RefOr::T(content) = content else {
                    continue;
                };
                if content.example.is_some() {
                    continue;
                }
                if let Some(RefOr::Ref(reference)) = &content.schema {
                    let name = reference
                        .ref_location
                        .trim_start_matches("#/components/schemas/");
                    content.example = examples.get(name).cloned();
                }
            }
        }
    }
}

/// What the layers in front of every `/api/v1` operation may answer (`routes/mod.rs`): the
/// token check, the time limit and the panic catcher.
const EVERY_API_OPERATION: &[(&str, &str)] = &[
    (
        "401",
        "An API token is required (PIPEWRIGHT_API_TOKENS) and was missing or wrong",
    ),
    (
        "500",
        "pipewright failed on this request (a bug); the server goes on; report it with the request id",
    ),
    (
        "504",
        "The request took longer than the server's --request-timeout",
    ),
];

/// Adds [`EVERY_API_OPERATION`]'s answers to every `/api/v1` operation that does not list them
/// (GitLab's webhook answers 401 itself, for its own secret).
fn answered_by_every_operation(doc: &mut utoipa::openapi::OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        let operations: [&mut Option<Operation>; 5] = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, description) in EVERY_API_OPERATION {
                operation
                    .responses
                    .responses
                    .entry((*status).to_string())
                    .or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(*description)
                            .content(
                                "application/json",
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                                    .build(),
                            )
                            .into()
                    });
            }
        }
    }
}

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
