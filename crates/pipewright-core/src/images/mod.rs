//! The images a pipeline needs, and where each one comes from. [`plan`] reads a generated (or
//! any) `.gitlab-ci.yml` and its Dockerfiles, expands the variables in every image reference,
//! keeps the ones that live in the team's registry, and maps each back to its upstream source
//! ([`upstream::UPSTREAM`], plus `pipewright.toml` entries), through a mirror when one is set.
//! The [`registry::Registry`] trait is what the seeding step copies them with.
//!
//! ```
//! use pipewright_core::images::{plan, ImageSettings};
//! let settings = ImageSettings::for_registry("nexus:5001", None, &Default::default());
//! let ci = "build:\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/python:3.12-slim\n  script: [make]\n";
//! let p = plan(&[(".gitlab-ci.yml".into(), ci.into())], &settings);
//! assert_eq!(p.images[0].target.to_string(), "nexus:5001/apm-repo/demo/python:3.12-slim");
//! assert_eq!(p.images[0].source.as_ref().unwrap().to_string(), "docker.io/library/python:3.12-slim");
//! ```

pub mod expand;
pub mod extract;
pub mod reference;
pub mod registry;
pub mod upstream;

pub use expand::{expand, Variables};
pub use reference::{Digest, ImageRef, RefError};
pub use registry::{CopyReport, Platform, Progress, Registry, RegistryError};
pub use upstream::{through_mirror, Mirror, UpstreamEntry, UpstreamMap};

use crate::generate::GeneratorSettings;
use extract::{Found, Written};
use serde::Serialize;

/// What the seeding step needs to know about the team's registry.
#[derive(Debug, Clone, Default)]
pub struct ImageSettings {
    /// Where missing images are pushed (`NEXUS_REGISTRY`, host:port).
    pub push_registry: String,
    /// Where runners pull from (`NEXUS_PULL_REGISTRY`): presence is checked there when set.
    pub pull_registry: Option<String>,
    /// Other names the same registry goes by in the files (the internal name, the
    /// Dockerfiles' `BASE_REGISTRY` default).
    pub aliases: Vec<String>,
    /// Variables the configuration defines (as GitLab CI/CD variables would), laid over the
    /// files' own `variables:`.
    pub variables: Variables,
    /// Build arguments the build job passes to Kaniko, laid over Dockerfile `ARG` defaults.
    pub build_args: Variables,
    /// The image path template (`{registry}/apm-repo/demo/{image}:{tag}`).
    pub image_path: String,
    pub upstream: UpstreamMap,
    pub mirrors: Vec<Mirror>,
}

impl ImageSettings {
    /// Settings for pushing to `push` (checking at `pull` when given) for files written with
    /// `generator`: its `$VARIABLE` registries stand for the team registry, as does the
    /// Dockerfiles' `BASE_REGISTRY` (which the build job sets to the internal registry).
    pub fn for_registry(push: &str, pull: Option<&str>, generator: &GeneratorSettings) -> Self {
        let mut s = ImageSettings {
            push_registry: push.to_string(),
            pull_registry: pull.map(str::to_string),
            image_path: generator.image_path.clone(),
            upstream: UpstreamMap::default().with_tools(&generator.tools),
            ..Default::default()
        };
        let seen_as = [
            (&generator.pull_registry, pull.unwrap_or(push)),
            (&generator.internal_registry, push),
        ];
        for (written, value) in seen_as {
            match variable_name(written) {
                Some(name) => {
                    s.variables.insert(name.to_string(), value.to_string());
                }
                None => s.aliases.push(written.clone()),
            }
        }
        s.build_args
            .insert("BASE_REGISTRY".into(), push.to_string());
        s.aliases.push(generator.base_registry_default.clone());
        s
    }

    fn is_team_registry(&self, registry: &str) -> bool {
        registry.eq_ignore_ascii_case(&self.push_registry)
            || self
                .pull_registry
                .iter()
                .chain(&self.aliases)
                .any(|a| a.eq_ignore_ascii_case(registry))
    }

    /// The `{image}` part of a repository under the image path template, if it follows it.
    fn image_name<'a>(&self, repository: &'a str) -> Option<&'a str> {
        let path = self
            .image_path
            .split_once("{registry}/")
            .map_or(self.image_path.as_str(), |(_, p)| p);
        let path = path.split(":{tag}").next().unwrap_or(path);
        let (prefix, suffix) = path.split_once("{image}")?;
        repository
            .strip_prefix(prefix)?
            .strip_suffix(suffix)
            .filter(|n| !n.is_empty())
    }
}

/// `$NAME` or `${NAME}` → `NAME`.
fn variable_name(written: &str) -> Option<&str> {
    let name = written.strip_prefix('$')?;
    let name = name
        .strip_prefix('{')
        .and_then(|n| n.strip_suffix('}'))
        .unwrap_or(name);
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        .then_some(name)
}

/// One image the pipeline needs from the team's registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedImage {
    /// Where it must be (in the push registry).
    pub target: ImageRef,
    /// Where presence is checked (the pull registry when set, else the target).
    pub check: ImageRef,
    /// The `{image}` name under the path template, or the whole repository.
    pub name: String,
    /// Its upstream source; `None` when nobody knows where it comes from.
    pub source: Option<ImageRef>,
    /// Where the source is fetched from: the source, or its mirror.
    pub fetch: Option<ImageRef>,
    /// Where the files use it.
    pub used_by: Vec<String>,
}

/// A reference that could not be turned into an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageProblem {
    pub written: String,
    pub used_by: String,
    pub reason: String,
}

/// An image the files use from outside the team's registry, left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExternalImage {
    pub image: ImageRef,
    pub used_by: String,
}

/// Everything the files refer to, sorted out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImagePlan {
    pub images: Vec<PlannedImage>,
    pub problems: Vec<ImageProblem>,
    /// Images the pipeline builds itself (not seeded), as written.
    pub built: Vec<String>,
    pub external: Vec<ExternalImage>,
}

/// Whether a file is a GitLab CI file or a Dockerfile, by name.
fn file_kind(path: &str) -> Option<bool> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name == ".gitlab-ci.yml" || name.ends_with(".gitlab-ci.yml") {
        Some(true)
    } else if name == "Dockerfile"
        || name.ends_with(".Dockerfile")
        || name.starts_with("Dockerfile.")
    {
        Some(false)
    } else {
        None
    }
}

/// Sorts the image references in `files` (`(path, text)`; other files are ignored) into
/// images to seed, images built by the pipeline, outside images, and problems.
pub fn plan(files: &[(String, String)], settings: &ImageSettings) -> ImagePlan {
    let mut found = Found::default();
    let mut out = ImagePlan::default();
    for (path, text) in files {
        match file_kind(path) {
            Some(true) => match crate::yaml::to_json(text) {
                Ok(doc) => extract::from_pipeline(path, &doc, &mut found),
                Err(e) => out.problems.push(ImageProblem {
                    written: path.clone(),
                    used_by: path.clone(),
                    reason: format!("cannot read the pipeline: {e}"),
                }),
            },
            Some(false) => extract::from_dockerfile(path, text, &mut found),
            None => {}
        }
    }
    let built_repos: Vec<String> = found
        .built
        .iter()
        .filter_map(|w| built_repository(w, settings))
        .collect();
    for w in &found.images {
        let text = match resolve(w, settings) {
            Ok(t) => t,
            Err(missing) => {
                if missing.iter().all(|m| m.starts_with("CI_")) {
                    push_unique(&mut out.built, &w.text);
                } else {
                    out.problems.push(ImageProblem {
                        written: w.text.clone(),
                        used_by: w.used_by.clone(),
                        reason: format!(
                            "{} not set: set {} in the environment or pipewright.toml (variables are never guessed)",
                            plural_vars(&missing),
                            if missing.len() == 1 { "it" } else { "them" }
                        ),
                    });
                }
                continue;
            }
        };
        let image = match ImageRef::parse(&text) {
            Ok(i) => i,
            Err(e) => {
                out.problems.push(ImageProblem {
                    written: w.text.clone(),
                    used_by: w.used_by.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if built_repos.contains(&image.repository) {
            push_unique(&mut out.built, &w.text);
            continue;
        }
        if !settings.is_team_registry(&image.registry) {
            out.external.push(ExternalImage {
                image,
                used_by: w.used_by.clone(),
            });
            continue;
        }
        let target = image.relocated(&settings.push_registry, &image.repository);
        if let Some(existing) = out.images.iter_mut().find(|p| p.target == target) {
            if !existing.used_by.contains(&w.used_by) {
                existing.used_by.push(w.used_by.clone());
            }
            continue;
        }
        let name = settings
            .image_name(&image.repository)
            .unwrap_or(&image.repository)
            .to_string();
        let source = settings.upstream.source_for(&name, &target);
        let fetch = source
            .as_ref()
            .map(|s| through_mirror(s, &settings.mirrors));
        let check = match &settings.pull_registry {
            Some(pull) => target.relocated(pull, &target.repository),
            None => target.clone(),
        };
        out.images.push(PlannedImage {
            target,
            check,
            name,
            source,
            fetch,
            used_by: vec![w.used_by.clone()],
        });
    }
    out
}

fn push_unique(list: &mut Vec<String>, text: &str) {
    if !list.iter().any(|t| t == text) {
        list.push(text.to_string());
    }
}

fn plural_vars(missing: &[String]) -> String {
    let names: Vec<String> = missing.iter().map(|m| format!("${m}")).collect();
    if names.len() == 1 {
        format!("variable {} is", names[0])
    } else {
        format!("variables {} are", names.join(", "))
    }
}

/// The reference with its scope, then the configuration, expanded. Dockerfile `ARG` defaults
/// give way to the build arguments CI passes.
fn resolve(w: &Written, settings: &ImageSettings) -> Result<String, Vec<String>> {
    let mut vars = w.scope.clone();
    vars.extend(settings.variables.clone());
    if w.dockerfile {
        vars.extend(settings.build_args.clone());
    }
    expand(&w.text, &vars)
}

/// The repository a Kaniko destination pushes to; its tag usually holds `$CI_*` variables, so
/// only the part before the tag must expand.
fn built_repository(w: &Written, settings: &ImageSettings) -> Option<String> {
    let slash = w.text.rfind('/').unwrap_or(0);
    let name = match w.text[slash..].find(':') {
        Some(i) => &w.text[..slash + i],
        None => &w.text,
    };
    let text = resolve(
        &Written {
            text: name.to_string(),
            ..w.clone()
        },
        settings,
    )
    .ok()?;
    ImageRef::parse(&text).ok().map(|r| r.repository)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ImageSettings {
        ImageSettings::for_registry("nexus:5001", None, &GeneratorSettings::default())
    }

    fn files(ci: &str, dockerfile: &str) -> Vec<(String, String)> {
        vec![
            (".gitlab-ci.yml".into(), ci.into()),
            ("Dockerfile".into(), dockerfile.into()),
            (".dockerignore".into(), "FROM nothing:1\n".into()),
        ]
    }

    const CI: &str = "variables:\n  TRIVY_DB_REPOSITORY: $NEXUS_INTERNAL_REGISTRY/apm-repo/demo/trivy-db:2\n\
build:\n  image:\n    name: $NEXUS_PULL_REGISTRY/apm-repo/demo/kaniko:v1.27.6-debug\n  script:\n    - /kaniko/executor --destination \"$NEXUS_INTERNAL_REGISTRY/apm-repo/demo/shop:$CI_COMMIT_SHORT_SHA-test\" --build-arg \"BASE_REGISTRY=$NEXUS_INTERNAL_REGISTRY\"\n\
test:\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/shop:$CI_COMMIT_SHORT_SHA-test\n  services:\n    - name: $NEXUS_PULL_REGISTRY/apm-repo/demo/postgres:16-alpine\n  script: [pytest]\n\
lint:\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/shop:latest\n  script: [x]\n\
odd:\n  image: $SOMEWHERE/tool:1\n  script: [x]\n\
hub:\n  image: alpine:3.20\n  script: [x]\n\
mine:\n  image: $NEXUS_PULL_REGISTRY/apm-repo/demo/in-house-tool:2\n  script: [x]\n";

    const DOCKERFILE: &str = "ARG BASE_REGISTRY=ai-nexus:5001\nFROM ${BASE_REGISTRY}/apm-repo/demo/python:3.12-slim AS deps\nFROM deps AS build\nFROM ${BASE_REGISTRY}/apm-repo/demo/python:3.12-slim AS runtime\nCOPY --from=build /app /app\n";

    #[test]
    fn targets_map_to_upstream_sources() {
        let p = plan(&files(CI, DOCKERFILE), &settings());
        let pairs: Vec<(String, String)> = p
            .images
            .iter()
            .map(|i| {
                (
                    i.target.to_string(),
                    i.source.as_ref().map(|s| s.to_string()).unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            vec![
                (
                    "nexus:5001/apm-repo/demo/trivy-db:2".to_string(),
                    "ghcr.io/aquasecurity/trivy-db:2".to_string()
                ),
                (
                    "nexus:5001/apm-repo/demo/kaniko:v1.27.6-debug".into(),
                    "ghcr.io/osscontainertools/kaniko:v1.27.6-debug".into()
                ),
                (
                    "nexus:5001/apm-repo/demo/postgres:16-alpine".into(),
                    "docker.io/library/postgres:16-alpine".into()
                ),
                (
                    "nexus:5001/apm-repo/demo/in-house-tool:2".into(),
                    String::new()
                ),
                (
                    "nexus:5001/apm-repo/demo/python:3.12-slim".into(),
                    "docker.io/library/python:3.12-slim".into()
                ),
            ]
        );
        // The Dockerfile's two FROM lines are one image.
        assert_eq!(p.images[4].used_by.len(), 2);
    }

    #[test]
    fn the_pipelines_own_images_are_not_seeded() {
        let p = plan(&files(CI, DOCKERFILE), &settings());
        assert_eq!(
            p.built,
            vec![
                "$NEXUS_PULL_REGISTRY/apm-repo/demo/shop:$CI_COMMIT_SHORT_SHA-test",
                "$NEXUS_PULL_REGISTRY/apm-repo/demo/shop:latest"
            ]
        );
    }

    #[test]
    fn unresolvable_variables_are_reported() {
        let p = plan(&files(CI, DOCKERFILE), &settings());
        assert_eq!(p.problems.len(), 1);
        assert_eq!(p.problems[0].written, "$SOMEWHERE/tool:1");
        assert!(p.problems[0]
            .reason
            .contains("variable $SOMEWHERE is not set"));
        assert_eq!(p.problems[0].used_by, ".gitlab-ci.yml job odd: image");
    }

    #[test]
    fn images_from_elsewhere_are_left_alone() {
        let p = plan(&files(CI, DOCKERFILE), &settings());
        assert_eq!(p.external.len(), 1);
        assert_eq!(
            p.external[0].image.to_string(),
            "docker.io/library/alpine:3.20"
        );
    }

    #[test]
    fn dockerfile_arg_default_counts_as_the_team_registry_outside_ci() {
        let mut s = settings();
        s.build_args.clear();
        let p = plan(&files("", DOCKERFILE), &s);
        assert_eq!(
            p.images[0].target.to_string(),
            "nexus:5001/apm-repo/demo/python:3.12-slim"
        );
    }

    #[test]
    fn pull_registry_is_where_presence_is_checked() {
        let s = ImageSettings::for_registry(
            "nexus:8083",
            Some("nexus:8082"),
            &GeneratorSettings::default(),
        );
        let p = plan(&files(CI, DOCKERFILE), &s);
        let k = &p.images[1];
        assert_eq!(
            k.target.to_string(),
            "nexus:8083/apm-repo/demo/kaniko:v1.27.6-debug"
        );
        assert_eq!(
            k.check.to_string(),
            "nexus:8082/apm-repo/demo/kaniko:v1.27.6-debug"
        );
    }

    #[test]
    fn mirrors_and_configured_sources_apply() {
        let mut s = settings();
        s.mirrors = Mirror::parse_list("docker.io=mirror:5000/hub").unwrap();
        s.upstream = UpstreamMap::new(vec![UpstreamEntry {
            image: "in-house-tool".into(),
            source: "quay.io/team/tool".into(),
        }])
        .unwrap();
        let p = plan(&files(CI, DOCKERFILE), &s);
        assert_eq!(
            p.images[2].fetch.as_ref().unwrap().to_string(),
            "mirror:5000/hub/library/postgres:16-alpine"
        );
        assert_eq!(
            p.images[3].source.as_ref().unwrap().to_string(),
            "quay.io/team/tool:2"
        );
    }
}
