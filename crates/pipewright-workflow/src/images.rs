//! Seeding the team's registry: every image a pipeline and its Dockerfiles need is looked up
//! where runners pull from and, when missing, copied from its upstream source. The CLI
//! (`pipewright images`), the service (`POST /api/v1/images/seed`) and the workflow (before
//! its commit) all call [`seed_images`]; a failure names its image and never stops the others.

use futures_util::StreamExt;
use pipewright_core::images::{plan, ImagePlan, ImageSettings, Platform, Registry};
use serde::Serialize;
use std::collections::BTreeMap;

/// What to do about missing images.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// Copy what is missing (else only look).
    pub seed: bool,
    /// Say what would be copied, copy nothing.
    pub dry_run: bool,
    /// Platforms to copy; empty is all of them (the index and its digest kept).
    pub platforms: Vec<Platform>,
    /// Images looked up or copied at once.
    pub parallel: usize,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions {
            seed: true,
            dry_run: false,
            platforms: Vec::new(),
            parallel: 3,
        }
    }
}

/// One image's state (the `images --json` contract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImageStatus {
    /// The upstream image it is copied from; `null` when unknown.
    pub source: Option<String>,
    /// Where the pipeline pulls it from (as written when it could not be resolved).
    pub target: String,
    /// Present in the registry (after the copy, when one was made).
    pub present: bool,
    /// Copied by this run.
    pub copied: bool,
    /// The digest at the target.
    pub digest: Option<String>,
    /// Why it is missing or could not be looked at.
    pub error: Option<String>,
    /// Where the files use it.
    pub used_by: Vec<String>,
    /// Copy figures, when copied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blobs_uploaded: Option<usize>,
}

/// The answer of a seeding run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeedReport {
    pub images: Vec<ImageStatus>,
    /// Images the pipeline builds itself (not seeded), as written.
    pub built: Vec<String>,
    /// Images the files pull from outside the team's registry (left alone).
    pub external: Vec<String>,
}

impl SeedReport {
    /// Every image is present.
    pub fn all_present(&self) -> bool {
        self.images.iter().all(|i| i.present)
    }

    /// One line per missing or failed image, naming it.
    pub fn failures(&self) -> Vec<String> {
        self.images
            .iter()
            .filter(|i| !i.present)
            .map(|i| match &i.error {
                Some(e) => format!("image {} is missing: {e}", i.target),
                None => format!("image {} is missing from the registry", i.target),
            })
            .collect()
    }
}

/// The plan for a set of generated files (`path → content`).
pub fn plan_files(files: &BTreeMap<String, String>, settings: &ImageSettings) -> ImagePlan {
    let list: Vec<(String, String)> = files.iter().map(|(p, c)| (p.clone(), c.clone())).collect();
    plan(&list, settings)
}

/// Looks up every planned image and, with `options.seed`, copies the missing ones (several at
/// once, up to `options.parallel`). Never fails as a whole: each image carries its own error.
pub async fn seed_images(
    registry: &dyn Registry,
    plan: &ImagePlan,
    options: &SeedOptions,
) -> SeedReport {
    let mut report = SeedReport {
        built: plan.built.clone(),
        external: plan.external.iter().map(|e| e.image.to_string()).collect(),
        ..Default::default()
    };
    let work: Vec<_> = plan
        .images
        .iter()
        .map(|image| async move {
            let mut status = ImageStatus {
                source: image.source.as_ref().map(|s| s.to_string()),
                target: image.target.to_string(),
                present: false,
                copied: false,
                digest: None,
                error: None,
                used_by: image.used_by.clone(),
                blobs_uploaded: None,
            };
            match registry.digest(&image.check).await {
                Ok(Some(d)) => {
                    status.present = true;
                    status.digest = Some(d.to_string());
                    return status;
                }
                Ok(None) => {}
                Err(e) => {
                    status.error = Some(e.to_string());
                    return status;
                }
            }
            if !options.seed {
                return status;
            }
            let Some(fetch) = &image.fetch else {
                status.error = Some(format!(
                    "no upstream source is known for `{}`; add it to pipewright.toml under [images.upstream] (\"{}\" = \"registry/repository\")",
                    image.name, image.name
                ));
                return status;
            };
            if options.dry_run {
                status.error = Some(format!("would be copied from {fetch} (dry run)"));
                return status;
            }
            match registry.copy(fetch, &image.target, &options.platforms).await {
                Ok(r) => {
                    status.present = true;
                    status.copied = !r.already_present;
                    status.digest = r.digest.map(|d| d.to_string());
                    status.blobs_uploaded = Some(r.blobs_uploaded);
                }
                Err(e) => status.error = Some(format!("copy from {fetch} failed: {e}")),
            }
            status
        })
        .collect();
    report.images = futures_util::stream::iter(work)
        .buffered(options.parallel.max(1))
        .collect()
        .await;
    for p in &plan.problems {
        report.images.push(ImageStatus {
            source: None,
            target: p.written.clone(),
            present: false,
            copied: false,
            digest: None,
            error: Some(p.reason.clone()),
            used_by: vec![p.used_by.clone()],
            blobs_uploaded: None,
        });
    }
    report
}
