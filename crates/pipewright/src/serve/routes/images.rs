//! `POST /api/v1/images/seed`: the images posted pipeline files use, looked up in the team's
//! registry and, with `seed`, copied there from their upstream sources (the step
//! `pipewright images --seed` and the workflow run).

use crate::cli::images::seeding;
use crate::serve::error::{ApiError, ErrorKind};
use crate::serve::extract::ApiJson;
use crate::serve::openapi::CommonErrors;
use crate::serve::state::AppState;
use axum::extract::State;
use axum::Json;
use pipewright_core::images::Platform;
use pipewright_workflow::images::{plan_files, seed_images, ImageStatus, SeedOptions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(seed))
}

fn default_true() -> bool {
    true
}

/// The files whose images to seed, and how.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"files": {"Dockerfile": "FROM python:3.12-slim\n"}, "dry_run": true}))]
pub struct SeedRequest {
    /// Path → content: a `.gitlab-ci.yml` and Dockerfiles (`Dockerfile`, `api/Dockerfile`).
    pub files: BTreeMap<String, String>,
    /// Copy what is missing (default true); false only looks.
    #[serde(default = "default_true")]
    pub seed: bool,
    /// Say what would be copied, copy nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Platforms to copy (`linux/amd64`); empty copies all, keeping the index digest.
    #[serde(default)]
    pub platforms: Vec<String>,
}

/// Every image's state; `all_present` is false when any is missing or failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedResponse {
    pub all_present: bool,
    pub images: Vec<ImageStatus>,
    /// Images the pipeline builds itself (not seeded).
    pub built: Vec<String>,
    /// Images pulled from outside the team's registry (left alone).
    pub external: Vec<String>,
}

/// Looks up every image the files use in the team's registry (`NEXUS_REGISTRY`, checked at
/// `NEXUS_PULL_REGISTRY`) and copies the missing ones from upstream. One image failing never
/// stops the others; each carries its own `error`.
#[utoipa::path(
    post,
    path = "/api/v1/images/seed",
    tag = "images",
    request_body = SeedRequest,
    responses(
        (status = 200, description = "Each image's source, target, presence, copy and error", body = SeedResponse),
        (status = 503, description = "No registry is configured (`registry_not_configured`)", body = crate::serve::error::ErrorBody),
        CommonErrors,
    )
)]
async fn seed(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SeedRequest>,
) -> Result<Json<SeedResponse>, ApiError> {
    if request.files.is_empty() {
        return Err(ApiError::new(
            ErrorKind::InvalidField,
            "`files` is empty: post the .gitlab-ci.yml and Dockerfiles by path",
        )
        .field("files"));
    }
    let mut platforms = Vec::new();
    for (i, p) in request.platforms.iter().enumerate() {
        platforms.push(Platform::parse(p).map_err(|e| {
            ApiError::new(ErrorKind::InvalidField, e).field(format!("platforms[{i}]"))
        })?);
    }
    let seeding = seeding(&state.settings.images, &state.settings.generator, None)
        .map_err(|e| ApiError::new(ErrorKind::RegistryNotConfigured, e))?;
    let plan = plan_files(&request.files, &seeding.settings);
    let options = SeedOptions {
        seed: request.seed,
        dry_run: request.dry_run,
        platforms,
        ..Default::default()
    };
    let report = seed_images(&seeding.registry, &plan, &options).await;
    Ok(Json(SeedResponse {
        all_present: report.all_present(),
        images: report.images,
        built: report.built,
        external: report.external,
    }))
}
