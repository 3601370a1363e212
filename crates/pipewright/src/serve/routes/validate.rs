//! `POST /api/v1/pipeline/validate`: the findings of pipewright's validator (the one
//! `pipewright validate` runs) for a posted `.gitlab-ci.yml` and/or Dockerfile, optionally
//! with the safe fixes applied.

use crate::cli::validate::{check, validator_settings, FileKind, ValidatorChoices};
use crate::serve::error::{ApiError, ErrorKind};
use crate::serve::extract::ApiJson;
use crate::serve::openapi::CommonErrors;
use crate::serve::state::AppState;
use axum::Json;
use pipewright_core::validate::{Finding, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(validate))
}

/// The files to check (at least one) and how.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "gitlab_ci": "stages:\n  - test\n\ntest:\n  stage: test\n  image: python:3.12-slim\n  script:\n    - pip install -r requirements.txt\n    - python -m pytest\n",
    "dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nUSER 1000\nEXPOSE 5000\nCMD [\"python\", \"-m\", \"flask\", \"run\", \"--host=0.0.0.0\"]\n",
    "fix": true
}))]
pub struct ValidateRequest {
    /// A `.gitlab-ci.yml`.
    #[serde(default)]
    pub gitlab_ci: Option<String>,
    /// A Dockerfile.
    #[serde(default)]
    pub dockerfile: Option<String>,
    /// Apply the safe fixes and return the fixed files (`fixed_files`).
    #[serde(default)]
    pub fix: bool,
    /// Registries, allowed hosts, ownership, port.
    #[serde(default)]
    pub settings: ValidatorChoices,
}

/// The validator's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidateResponse {
    /// True when no finding is an error.
    pub valid: bool,
    pub errors: usize,
    pub warnings: usize,
    /// What is wrong (after the fixes, with `fix`), each naming its file (`.gitlab-ci.yml`,
    /// `Dockerfile`), line and column.
    pub findings: Vec<Finding>,
    /// What the fixes removed.
    pub fixed: Vec<Finding>,
    /// File name → fixed content, for the files a fix changed.
    pub fixed_files: BTreeMap<String, String>,
}

/// Checks a pipeline and/or a Dockerfile: YAML, GitLab's CI schema, stages/needs/extends,
/// scripts, registries, secrets in clear, Dockerfile rules.
#[utoipa::path(
    post,
    path = "/api/v1/pipeline/validate",
    tag = "pipeline",
    request_body = ValidateRequest,
    responses(
        (status = 200, description = "The findings (`valid` is false when one is an error)", body = ValidateResponse),
        CommonErrors,
    )
)]
async fn validate(
    ApiJson(request): ApiJson<ValidateRequest>,
) -> Result<Json<ValidateResponse>, ApiError> {
    let files: Vec<(&'static str, FileKind, String)> = [
        (".gitlab-ci.yml", FileKind::Pipeline, request.gitlab_ci),
        ("Dockerfile", FileKind::Dockerfile, request.dockerfile),
    ]
    .into_iter()
    .filter_map(|(name, kind, text)| text.map(|t| (name, kind, t)))
    .collect();
    if files.is_empty() {
        return Err(ApiError::new(
            ErrorKind::InvalidRequest,
            "give `gitlab_ci` (a .gitlab-ci.yml) and/or `dockerfile` (a Dockerfile) to check",
        ));
    }
    let settings = validator_settings(&request.settings);
    let fix = request.fix;
    let response = crate::serve::blocking(move || {
        let mut response = ValidateResponse {
            valid: true,
            errors: 0,
            warnings: 0,
            findings: Vec::new(),
            fixed: Vec::new(),
            fixed_files: BTreeMap::new(),
        };
        for (name, kind, text) in files {
            let checked = check(&text, kind, &settings, fix);
            response
                .findings
                .extend(checked.findings.into_iter().map(|f| f.in_file(name)));
            response
                .fixed
                .extend(checked.fixed.into_iter().map(|f| f.in_file(name)));
            if let Some(fixed) = checked.fixed_text {
                response.fixed_files.insert(name.to_string(), fixed);
            }
        }
        let count = |s: Severity| response.findings.iter().filter(|f| f.severity == s).count();
        response.errors = count(Severity::Error);
        response.warnings = count(Severity::Warning);
        response.valid = response.errors == 0;
        response
    })
    .await?;
    Ok(Json(response))
}
