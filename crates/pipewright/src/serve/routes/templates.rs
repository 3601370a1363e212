//! The knowledge store's records over HTTP, mirroring `pipewright templates`: list (filters by
//! collection, language, framework, build tool, source; limit and offset), get one by id,
//! import (validated, all or nothing), delete, stats. The logic is
//! `pipewright_workflow::templates`, shared with the CLI.

use crate::serve::error::ApiError;
use crate::serve::extract::{parse_name, ApiJson, ApiPath, ApiQuery};
use crate::serve::openapi::{CommonErrors, RecordErrors, StoreErrors};
use crate::serve::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use pipewright_adapters::store::folder::TemplateMetadata;
use pipewright_adapters::store::now;
use pipewright_core::knowledge::{parse_or_none, stats, Collection, Record, Stats};
use pipewright_workflow::generate::validator_settings;
use pipewright_workflow::templates::{self, ListQuery, PostedTemplate, RecordSummary};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, import))
        .routes(routes!(template_stats))
        .routes(routes!(get_one, delete_one))
}

/// Filters of a listing; every value is a name as the CLI takes it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `pipeline_templates`, `successful_pipelines` or `pipeline_feedback` (default: all three).
    pub collection: Option<String>,
    pub language: Option<String>,
    /// A framework, or `none` for records without one.
    pub framework: Option<String>,
    /// A build tool, or `none` for records without one.
    pub build_tool: Option<String>,
    /// `built-in`, `imported`, `learned` or `feedback`.
    pub source: Option<String>,
    /// At most this many records per collection (default 100, at most 1000).
    pub limit: Option<String>,
    /// Skip this many records per collection first.
    pub offset: Option<String>,
}

/// The collection a record is looked up in.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CollectionParam {
    /// Only this collection (default: whichever holds the id).
    pub collection: Option<String>,
}

/// The most records one listing returns per collection.
const MAX_LIMIT: usize = 1000;

fn or_none<T: FromStr<Err = String>>(
    field: &str,
    text: Option<&str>,
) -> Result<Option<Option<T>>, ApiError> {
    text.map(|t| parse_or_none(t).map_err(|e| ApiError::invalid_field(field, e)))
        .transpose()
}

fn number(field: &str, text: Option<&str>, default: usize) -> Result<usize, ApiError> {
    match text {
        None => Ok(default),
        Some(t) => t
            .trim()
            .parse()
            .map_err(|_| ApiError::invalid_field(field, format!("`{t}` is not a whole number"))),
    }
}

impl ListParams {
    fn query(&self) -> Result<ListQuery, ApiError> {
        let limit = number("limit", self.limit.as_deref(), templates::DEFAULT_LIMIT)?;
        if limit > MAX_LIMIT {
            return Err(ApiError::invalid_field(
                "limit",
                format!("at most {MAX_LIMIT} records per collection; page with `offset`"),
            ));
        }
        Ok(ListQuery {
            collection: parse_name("collection", self.collection.as_deref())?,
            language: parse_name("language", self.language.as_deref())?,
            framework: or_none("framework", self.framework.as_deref())?,
            build_tool: or_none("build_tool", self.build_tool.as_deref())?,
            source: parse_name("source", self.source.as_deref())?,
            limit,
            offset: number("offset", self.offset.as_deref(), 0)?,
        })
    }
}

/// A listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    pub templates: Vec<RecordSummary>,
}

/// Lists stored records (files left out; get one by id for its files).
#[utoipa::path(
    get,
    path = "/api/v1/templates",
    tag = "templates",
    params(ListParams),
    responses(
        (status = 200, description = "The records, collection by collection", body = TemplateList),
        CommonErrors,
        StoreErrors,
    )
)]
async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<TemplateList>, ApiError> {
    let query = params.query()?;
    let records = templates::list(state.store()?, &query).await?;
    Ok(Json(TemplateList {
        templates: records.iter().map(RecordSummary::from).collect(),
    }))
}

/// One template to import: the fields of `pipewright-template.toml` and the files.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub language: String,
    #[serde(default)]
    pub framework: Option<String>,
    #[serde(default)]
    pub build_tool: Option<String>,
    #[serde(default)]
    pub test_framework: Option<String>,
    #[serde(default)]
    pub runtime_major: Option<u32>,
    #[serde(default)]
    pub databases: Vec<String>,
    /// What the template is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Default: `imported_<language>_<framework>_<sha256[:12]>`.
    #[serde(default)]
    pub id: Option<String>,
    /// Default: `pipeline_templates`.
    #[serde(default)]
    pub collection: Option<String>,
    #[serde(default)]
    pub gitlab_ci: Option<String>,
    #[serde(default)]
    pub dockerfile: Option<String>,
}

impl From<TemplateInput> for PostedTemplate {
    fn from(t: TemplateInput) -> Self {
        PostedTemplate {
            metadata: TemplateMetadata {
                language: t.language,
                framework: t.framework,
                build_tool: t.build_tool,
                description: t.description,
                id: t.id,
                collection: t.collection,
                test_framework: t.test_framework,
                runtime_major: t.runtime_major,
                databases: t.databases,
                ..TemplateMetadata::default()
            },
            gitlab_ci: t.gitlab_ci,
            dockerfile: t.dockerfile,
        }
    }
}

/// Templates to import, all or nothing.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "templates": [{
        "language": "python",
        "framework": "flask",
        "build_tool": "pip",
        "id": "house-flask",
        "description": "The house Flask image",
        "dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nUSER 1000\nEXPOSE 5000\nCMD [\"python\", \"-m\", \"flask\", \"run\", \"--host=0.0.0.0\"]\n"
    }]
}))]
pub struct ImportRequest {
    pub templates: Vec<TemplateInput>,
}

/// What was imported.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResponse {
    pub imported: Vec<RecordSummary>,
}

/// Imports (creates or replaces) templates. Each must pass pipewright's validator; any
/// problem refuses the whole request and nothing is stored.
#[utoipa::path(
    post,
    path = "/api/v1/templates",
    tag = "templates",
    request_body = ImportRequest,
    responses(
        (status = 201, description = "Every template was stored; a refusal is 422 `invalid_files` with every problem, per template, in `details.refused`", body = ImportResponse),
        CommonErrors,
        StoreErrors,
    )
)]
async fn import(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ImportRequest>,
) -> Result<(StatusCode, Json<ImportResponse>), ApiError> {
    if request.templates.is_empty() {
        return Err(ApiError::invalid_field(
            "templates",
            "give at least one template",
        ));
    }
    let vsettings = validator_settings(&state.settings.generator, &state.settings.allowed_hosts);
    let posted = request
        .templates
        .into_iter()
        .map(PostedTemplate::from)
        .collect();
    let stored = templates::import_posted(state.store()?, posted, &vsettings, now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(ImportResponse {
            imported: stored.iter().map(RecordSummary::from).collect(),
        }),
    ))
}

/// Counts of records by collection, language and source.
#[utoipa::path(
    get,
    path = "/api/v1/templates/stats",
    tag = "templates",
    responses(
        (status = 200, description = "The counts", body = Stats),
        CommonErrors,
        StoreErrors,
    )
)]
async fn template_stats(State(state): State<AppState>) -> Result<Json<Stats>, ApiError> {
    Ok(Json(stats(state.store()?).await?))
}

/// One record with its files.
#[utoipa::path(
    get,
    path = "/api/v1/templates/{id}",
    tag = "templates",
    params(("id" = String, Path, description = "The record's id"), CollectionParam),
    responses(
        (status = 200, description = "The record, files included", body = Record),
        CommonErrors,
        StoreErrors,
        RecordErrors,
    )
)]
async fn get_one(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(param): ApiQuery<CollectionParam>,
) -> Result<Json<Record>, ApiError> {
    let collection: Option<Collection> = parse_name("collection", param.collection.as_deref())?;
    let (_, record) = templates::find(state.store()?, &id, collection).await?;
    Ok(Json(record))
}

/// What was deleted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub deleted: String,
    pub collection: String,
}

/// Deletes one record.
#[utoipa::path(
    delete,
    path = "/api/v1/templates/{id}",
    tag = "templates",
    params(("id" = String, Path, description = "The record's id"), CollectionParam),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        CommonErrors,
        StoreErrors,
        RecordErrors,
    )
)]
async fn delete_one(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(param): ApiQuery<CollectionParam>,
) -> Result<Json<Deleted>, ApiError> {
    let collection: Option<Collection> = parse_name("collection", param.collection.as_deref())?;
    let collection = templates::delete(state.store()?, &id, collection).await?;
    Ok(Json(Deleted {
        deleted: id,
        collection: collection.as_str().to_string(),
    }))
}
