//! The built-in generator: from a [`StackProfile`] to a nine-stage `.gitlab-ci.yml`, a
//! multi-stage Dockerfile and a `.dockerignore` per service, with the reason for every choice.
//!
//! It is not a fallback for when an LLM is down: it must produce a pipeline that goes green for
//! every stack the analyzer knows, deterministically. Each ecosystem contributes a [`Recipe`]
//! (one file per ecosystem under `recipes/`: how to install, compile, test and lint, and the
//! Dockerfile stages); this module wraps every recipe in the same ten jobs: `compile`, `build`
//! (Kaniko), `test` (inside the image `build` produced), `sast`, `quality`, `security`,
//! `push`, `notify-success`, `notify-failure`, `learn`.

mod jobs;
pub mod recipes;
pub mod settings;
pub mod versions;

pub use recipes::{Lint, Recipe};
pub use settings::{GeneratorSettings, ToolImages};

use crate::dockerfile::Dockerfile;
use crate::index::RepoIndex;
use crate::pipeline::{Pipeline, Retry, Stage};
use crate::stack::{ServiceProfile, StackProfile};
use std::collections::BTreeMap;

/// What the generator produced: the files (path → content) and why they look as they do.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineBundle {
    pub files: BTreeMap<String, String>,
    pub pipeline: Pipeline,
    /// One line per decision, in the order they were made.
    pub explanation: Vec<String>,
    pub warnings: Vec<String>,
}

/// Why nothing could be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error("no service was recognised in {0}, so there is nothing to build; run `pipewright analyze` to see why")]
    NoService(String),
}

/// Everything a recipe may look at for one service.
pub struct ServiceContext<'a> {
    pub service: &'a ServiceProfile,
    pub index: &'a RepoIndex,
    pub settings: &'a GeneratorSettings,
    /// The service folder relative to the root, `""` for the root.
    pub dir: &'a str,
    pub runtime: versions::Resolved,
    /// The repository's name (last part of its path or URL), for image names.
    pub repo_name: String,
}

impl ServiceContext<'_> {
    /// The repository's name, sanitized for image names.
    pub fn service_root_name(&self) -> String {
        jobs::sanitize(&self.repo_name)
    }

    /// True when `rel` exists inside the service folder.
    pub fn has(&self, rel: &str) -> bool {
        self.index.exists(&crate::index::join(self.dir, rel))
    }

    /// The text of `rel` inside the service folder, if it was read.
    pub fn text(&self, rel: &str) -> Option<&str> {
        self.index.text(&crate::index::join(self.dir, rel))
    }

    /// A base image for the Dockerfile, pulled through the `BASE_REGISTRY` build argument.
    pub fn base_image(&self, image: &str, tag: &str) -> String {
        self.settings.image_ref("${BASE_REGISTRY}", image, tag)
    }

    /// A job image, pulled from the pull registry.
    pub fn job_image(&self, image: &str, tag: &str) -> String {
        self.settings
            .image_ref(&self.settings.pull_registry, image, tag)
    }
}

/// Generates the pipeline, Dockerfiles and `.dockerignore` files for every service.
pub fn generate(
    profile: &StackProfile,
    index: &RepoIndex,
    settings: &GeneratorSettings,
) -> Result<PipelineBundle, GenerateError> {
    if profile.services.is_empty() {
        return Err(GenerateError::NoService(profile.root.clone()));
    }
    let monorepo = profile.services.len() > 1;
    let mut files = BTreeMap::new();
    let mut explanation = Vec::new();
    let mut warnings = Vec::new();
    let mut all_jobs = Vec::new();
    let mut stack_lines = Vec::new();

    for service in &profile.services {
        let dir = if service.path == "." {
            ""
        } else {
            service.path.as_str()
        };
        let runtime_name = runtime_of(service);
        let resolved = versions::resolve(runtime_name, service.runtime_version.as_ref());
        let ctx = ServiceContext {
            service,
            index,
            settings,
            dir,
            runtime: resolved.clone(),
            repo_name: repo_name(&profile.root),
        };
        let label = if monorepo {
            format!("[{}] ", service.path)
        } else {
            String::new()
        };
        explanation.push(format!("{label}{}", resolved.reason));
        if let Some(w) = &resolved.warning {
            warnings.push(format!("{label}{w}"));
        }
        let mut recipe = recipes::recipe_for(&ctx);
        let dockerfile_path = crate::index::join(dir, "Dockerfile");
        let existing = index.exists(&dockerfile_path) && !settings.replace_dockerfile;
        let test_target = if existing {
            let text = index.text(&dockerfile_path).unwrap_or("");
            let has_test_stage = crate::validate::stage_names(text)
                .iter()
                .any(|n| n == "test");
            explanation.push(format!(
                "{label}kept the repository's own {dockerfile_path} (use --replace-dockerfile to write pipewright's){}",
                if has_test_stage { "; it has a `test` stage, which the test job runs in" } else { "; it has no `test` stage, so tests run in the language image instead" }
            ));
            has_test_stage
        } else {
            files.insert(
                dockerfile_path.clone(),
                render_dockerfile(&recipe.dockerfile, profile, service),
            );
            // Kaniko reads .dockerignore from the root of the build context.
            let context = recipe.context.as_deref().unwrap_or(dir);
            files.insert(
                crate::index::join(context, ".dockerignore"),
                recipe.dockerignore.join("\n") + "\n",
            );
            true
        };
        explanation.extend(recipe.notes.iter().map(|n| format!("{label}{n}")));
        warnings.extend(recipe.warnings.drain(..).map(|w| format!("{label}{w}")));
        let service_jobs = jobs::service_jobs(&ctx, &recipe, monorepo, test_target);
        all_jobs.extend(service_jobs);
        stack_lines.push(describe(service, &resolved));
    }

    let mut pipeline = Pipeline::new(header(profile, &stack_lines, settings));
    pipeline.stages = Stage::ALL
        .iter()
        .copied()
        .filter(|s| !settings.skip_stages.contains(s))
        .collect();
    pipeline.variables = vec![("GIT_DEPTH".into(), "20".into())];
    pipeline.default_interruptible = true;
    pipeline.default_retry = Some(Retry {
        max: 2,
        when: vec![
            "runner_system_failure".into(),
            "stuck_or_timeout_failure".into(),
            "api_failure".into(),
            "scheduler_failure".into(),
        ],
    });
    pipeline.jobs = all_jobs
        .into_iter()
        .filter(|j| !settings.skip_stages.contains(&j.stage))
        .collect();
    if !settings.skip_stages.is_empty() {
        let names: Vec<&str> = settings.skip_stages.iter().map(|s| s.as_str()).collect();
        explanation.push(format!(
            "left out the stages {} as configured",
            names.join(", ")
        ));
        // A job must not need a job that was left out.
        let present: Vec<String> = pipeline.jobs.iter().map(|j| j.name.clone()).collect();
        for job in &mut pipeline.jobs {
            if let Some(needs) = &mut job.needs {
                needs.retain(|n| present.contains(&n.job));
            }
        }
    }
    files.insert(".gitlab-ci.yml".to_string(), pipeline.render());
    Ok(PipelineBundle {
        files,
        pipeline,
        explanation,
        warnings,
    })
}

/// The last part of a path or URL, without `.git`.
fn repo_name(root: &str) -> String {
    let trimmed = root.trim_end_matches('/').trim_end_matches(".git");
    let last = trimmed.rsplit(['/', ':']).next().unwrap_or(trimmed);
    if last.is_empty() || last == "." {
        "app".to_string()
    } else {
        last.to_string()
    }
}

/// The runtime whose version decides the images.
pub fn runtime_of(service: &ServiceProfile) -> &'static str {
    use crate::stack::Language::*;
    match service.language {
        Ruby => "ruby",
        Python => "python",
        JavaScript | TypeScript => "node",
        Java | Kotlin => "java",
        Go => "go",
        Rust => "rust",
        Php => "php",
        CSharp => "dotnet",
        Elixir => "elixir",
    }
}

fn describe(s: &ServiceProfile, r: &versions::Resolved) -> String {
    let mut parts = vec![format!("{} {}", r.runtime, r.version)];
    if let Some(f) = s.framework {
        parts.push(f.to_string());
    }
    let tools: Vec<String> = [
        s.build_tool.map(|b| b.to_string()),
        s.test_framework.map(|t| t.to_string()),
    ]
    .into_iter()
    .flatten()
    .collect();
    format!(
        "{} at {}{}",
        parts.join(" / "),
        s.path,
        if tools.is_empty() {
            String::new()
        } else {
            format!(" ({})", tools.join(", "))
        }
    )
}

fn header(profile: &StackProfile, stacks: &[String], settings: &GeneratorSettings) -> Vec<String> {
    let mut h = vec![format!(
        "Generated by pipewright {} for {}.",
        env!("CARGO_PKG_VERSION"),
        profile.root
    )];
    for s in stacks {
        h.push(format!("Stack: {s}."));
    }
    h.push(String::new());
    h.push(
        "compile -> build (Kaniko) -> test (inside the built test image) -> sast -> quality".into(),
    );
    h.push("-> security (Trivy) -> push (promote in Nexus) -> notify (Splunk) -> learn (report to pipewright).".into());
    h.push(format!(
        "Job images come from {}; images are pushed to {}.",
        settings.pull_registry, settings.internal_registry
    ));
    h.push(
        "Credentials are masked CI/CD variables, never values in this file: NEXUS_USERNAME,".into(),
    );
    h.push("NEXUS_PASSWORD, SONAR_TOKEN, SPLUNK_HEC_TOKEN, PIPEWRIGHT_TOKEN.".into());
    h.push(
        "Only notify-* and learn may fail without failing the pipeline: they report on it and"
            .into(),
    );
    h.push("must not block a release when Splunk or pipewright is down.".into());
    h
}

fn render_dockerfile(d: &Dockerfile, profile: &StackProfile, service: &ServiceProfile) -> String {
    let mut d = d.clone();
    let mut header = vec![format!(
        "Generated by pipewright {} for {} (service {}).",
        env!("CARGO_PKG_VERSION"),
        profile.root,
        service.path
    )];
    header.append(&mut d.header);
    d.header = header;
    d.render()
}
