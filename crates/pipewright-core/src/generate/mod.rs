//! The built-in generator: from a [`StackProfile`] to a nine-stage `.gitlab-ci.yml`, a
//! multi-stage Dockerfile and a `.dockerignore` per service, with the reason for every choice.
//!
//! It is not a fallback for when an LLM is down: it must produce a pipeline that goes green for
//! every stack the analyzer knows, deterministically. Each ecosystem contributes a [`Recipe`]
//! (one file per ecosystem under `recipes/`: how to install, compile, test and lint, and the
//! Dockerfile stages); this module wraps every recipe in the same ten jobs: `compile`, `build`
//! (Kaniko), `test` (inside the image `build` produced), `sast`, `quality`, `security`,
//! `push`, `notify-success`, `notify-failure`, `learn`.

pub mod explain;
mod jobs;
pub mod mirrors;
pub mod names;
pub mod recipes;
pub mod settings;
pub mod test_services;
pub mod tools;
pub mod versions;

pub use explain::{Explanation, Topic};
pub use recipes::{Lint, Recipe};
pub use settings::{GeneratorSettings, SettingError};
pub use tools::{Tool, ToolImage, ToolImages};

use crate::dockerfile::Dockerfile;
use crate::index::RepoIndex;
use crate::pipeline::{Pipeline, Retry, Stage};
use crate::stack::{Role, ServiceProfile, StackProfile};
use std::collections::BTreeMap;

/// What the generator produced: the files (path → content) and why they look as they do.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineBundle {
    pub files: BTreeMap<String, String>,
    /// The repository's own files the pipeline uses but pipewright does not write (a kept
    /// Dockerfile), path → content: validated like generated files, their findings reported.
    pub kept: BTreeMap<String, String>,
    /// Stages the pipeline leaves out: the team's `skip_stages`, and stages no service has a
    /// job in (build, security and push when every service is a library).
    pub left_out: Vec<Stage>,
    pub pipeline: Pipeline,
    /// One entry per decision, in the order they were made.
    pub explanation: Vec<Explanation>,
    pub warnings: Vec<String>,
}

/// Why nothing could be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error("no service was recognised in {0}, so there is nothing to build; run `pipewright analyze` to see why")]
    NoService(String),
    /// A name from the repository that cannot be written into a shell command, a Dockerfile
    /// instruction and a YAML scalar safely (shown escaped).
    #[error("the service folder `{path}` cannot be named in a pipeline: {why}; pipewright writes it into shell commands and Dockerfile instructions, so rename the folder to letters, digits and `._-` (or leave it out with a .gitignore entry)")]
    UnsafeName { path: String, why: String },
    /// A value from the repository reached a generated instruction, command or variable with
    /// a control character in it (a newline starts a second command or instruction, a
    /// bidirectional override hides what runs).
    #[error("{file}: a value taken from the repository holds a control character, which would start a new instruction or hide what runs: `{value}`; fix the file, name or manifest field it comes from")]
    UnsafeValue { file: String, value: String },
    /// The pipeline for this many services is over the size GitLab and the validator accept.
    #[error("the pipeline for {services} services would be {bytes} bytes, over the {limit}-byte limit of a .gitlab-ci.yml; generate per group of services (run pipewright on each sub-folder) or skip stages with skip_stages")]
    TooLarge {
        services: usize,
        bytes: usize,
        limit: usize,
    },
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

    /// True when the service's own Dockerfile is kept (pipewright writes none for it).
    pub fn keeps_dockerfile(&self) -> bool {
        self.has("Dockerfile") && !self.settings.replace_dockerfile
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

/// What the build job builds for one service, and where its tests run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildPlan {
    /// Nothing deploys (a library): no image is built, scanned or pushed; the tests run in
    /// the language image.
    NoImage,
    /// Kaniko builds the Dockerfile: `test` (when set) is the stage the tests run in, then
    /// `runtime` is the release candidate (`None`: the last stage, which has no name).
    Image {
        test: Option<String>,
        runtime: Option<String>,
        /// Where the application lives in the test stage (its `WORKDIR`).
        app_dir: String,
    },
}

/// Stage names that mean "the tests run here" in repositories' own Dockerfiles, most telling
/// first.
pub const TEST_STAGE_NAMES: &[&str] =
    &["test", "tests", "testing", "test-runner", "unit-test", "ci"];

/// Stage names that mean "the image that ships", most telling first; without one, the last
/// stage that is not a test stage ships (what `docker build` builds by default).
pub const RUNTIME_STAGE_NAMES: &[&str] = &[
    "runtime",
    "production",
    "prod",
    "release",
    "final",
    "runner",
    "app",
    "server",
];

impl BuildPlan {
    /// pipewright's own Dockerfiles: `test` and `runtime`.
    pub fn own() -> BuildPlan {
        BuildPlan::Image {
            test: Some("test".into()),
            runtime: Some("runtime".into()),
            app_dir: "/app".into(),
        }
    }

    /// The plan for a repository's own Dockerfile, from its stage names: never a target
    /// the file does not have.
    pub fn for_kept(text: &str) -> BuildPlan {
        let stages = crate::validate::stage_list(text);
        let named = |names: &[&str]| {
            names
                .iter()
                .find(|n| stages.iter().any(|s| s.as_deref() == Some(**n)))
                .map(|n| n.to_string())
        };
        let test = named(TEST_STAGE_NAMES);
        let runtime = named(RUNTIME_STAGE_NAMES).or_else(|| {
            let last_shipping = stages
                .iter()
                .rposition(|s| !s.as_deref().is_some_and(|n| TEST_STAGE_NAMES.contains(&n)))?;
            // The last stage needs no target (and may have no name); an earlier one must be
            // named to be built, and is, since a later stage could only use it by name.
            if last_shipping + 1 == stages.len() {
                None
            } else {
                stages[last_shipping].clone()
            }
        });
        let app_dir = test
            .as_deref()
            .map(|t| crate::validate::stage_workdir(text, t))
            .unwrap_or_else(|| "/".into());
        BuildPlan::Image {
            test,
            runtime,
            app_dir,
        }
    }

    /// The stage the tests run in, when there is one.
    pub fn test_target(&self) -> Option<&str> {
        match self {
            BuildPlan::NoImage => None,
            BuildPlan::Image { test, .. } => test.as_deref(),
        }
    }

    /// One phrase for the explanation: what is built and where the tests run.
    pub fn describe(&self) -> String {
        match self {
            BuildPlan::NoImage => "no image is built".into(),
            BuildPlan::Image { test, runtime, .. } => {
                let runtime = match runtime {
                    Some(r) => {
                        format!("the build job builds its `{r}` stage as the release candidate")
                    }
                    None => "the build job builds its last stage as the release candidate".into(),
                };
                match test {
                    Some(t) => format!("{runtime}; the tests run in its `{t}` stage"),
                    None => format!(
                        "{runtime}; it has no test stage (none named {}), so the test job installs the dependencies in the language image and runs the tests there",
                        TEST_STAGE_NAMES.join(", ")
                    ),
                }
            }
        }
    }
}

fn service_role_reason(service: &ServiceProfile) -> String {
    service
        .evidence
        .iter()
        .rev()
        .find(|e| e.conclusion == "role")
        .map(|e| e.detail.clone())
        .unwrap_or_else(|| "no server framework and no start command".into())
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
    let mut kept = BTreeMap::new();
    let mut mirror_vars = crate::pipeline::Variables::new();
    let paths: Vec<&str> = profile.services.iter().map(|s| s.path.as_str()).collect();
    for path in paths.iter().filter(|p| **p != ".") {
        if let Some(why) = crate::quote::why_not_portable(path) {
            return Err(GenerateError::UnsafeName {
                path: crate::quote::escaped(path).into_owned(),
                why,
            });
        }
    }
    let slugs = names::service_slugs(&paths);
    // (build context, service folder) of every Dockerfile pipewright writes.
    let mut contexts: Vec<(String, String)> = Vec::new();

    for (service, slug) in profile.services.iter().zip(&slugs) {
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
        let about = |topic: Topic, text: String| Explanation::service(&service.path, topic, text);
        explanation.push(about(Topic::Runtime, resolved.reason.clone()));
        if let Some(w) = &resolved.warning {
            warnings.push(format!("{label}{w}"));
        }
        let mut recipe = recipes::recipe_for(&ctx);
        let dockerfile_path = crate::index::join(dir, "Dockerfile");
        let existing = ctx.keeps_dockerfile();
        let plan = if service.role == Role::Library {
            explanation.push(about(Topic::Image, format!(
                "a library ({}): compile, test, sast and quality run; no image is built, scanned or pushed, and no Dockerfile is written",
                service_role_reason(service)
            )));
            BuildPlan::NoImage
        } else if existing {
            let text = index.text(&dockerfile_path).unwrap_or("");
            let plan = BuildPlan::for_kept(text);
            explanation.push(about(Topic::Image, format!(
                "kept the repository's own {dockerfile_path} (use --replace-dockerfile to write pipewright's); {}",
                plan.describe()
            )));
            kept.insert(dockerfile_path.clone(), text.to_string());
            plan
        } else {
            let mut dockerfile = recipe.dockerfile.clone();
            declare_build_args(
                &mut dockerfile,
                &settings.mirrors.variables_for(service),
                &settings.mirrors.setups_for(service),
            );
            if let Some(value) = dockerfile.first_multiline_value() {
                return Err(GenerateError::UnsafeValue {
                    file: dockerfile_path,
                    value: crate::quote::escaped(value).into_owned(),
                });
            }
            files.insert(
                dockerfile_path.clone(),
                render_dockerfile(&dockerfile, profile, service),
            );
            // Kaniko reads .dockerignore from the root of the build context.
            let context = recipe.context.as_deref().unwrap_or(dir);
            contexts.push((context.to_string(), dir.to_string()));
            files.insert(
                crate::index::join(context, ".dockerignore"),
                recipe.dockerignore.join("\n") + "\n",
            );
            BuildPlan::own()
        };
        explanation.extend(recipe.notes.iter().map(|n| about(Topic::Recipe, n.clone())));
        warnings.extend(recipe.warnings.drain(..).map(|w| format!("{label}{w}")));
        let (service_jobs, notes) = jobs::service_jobs(&ctx, &recipe, monorepo, &plan, slug);
        explanation.extend(notes.into_iter().map(|n| about(Topic::Jobs, n)));
        all_jobs.extend(service_jobs);
        mirror_vars.extend(settings.mirrors.variables_for(service));
        stack_lines.push(describe(service, &resolved));
    }

    exclude_nested_services(&mut files, profile, &contexts);
    let ships_image = all_jobs.iter().any(|j| j.stage == Stage::Build);
    let mut pipeline = Pipeline::new(header(profile, &stack_lines, settings, ships_image));
    // Stages no service has a job in (build, security and push when every service is a
    // library) are left out, like the stages a team skips.
    let left_out: Vec<Stage> = Stage::ALL
        .iter()
        .copied()
        .filter(|st| {
            settings.skip_stages.contains(st)
                || !all_jobs
                    .iter()
                    .any(|j: &crate::pipeline::Job| j.stage == *st)
        })
        .collect();
    pipeline.stages = Stage::ALL
        .iter()
        .copied()
        .filter(|s| !left_out.contains(s))
        .collect();
    pipeline.variables.set("GIT_DEPTH", "20");
    if !mirror_vars.is_empty() {
        explanation.push(Explanation::pipeline(
            Topic::Mirrors,
            format!(
                "package mirrors: {} for every job and image build",
                mirror_vars
                    .iter()
                    .map(|(k, _)| k)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    pipeline.variables.extend(mirror_vars.iter());
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
        explanation.push(Explanation::pipeline(
            Topic::Stages,
            format!("left out the stages {} as configured", names.join(", ")),
        ));
        // A job must not need a job that was left out.
        let present: Vec<String> = pipeline.jobs.iter().map(|j| j.name.clone()).collect();
        for job in &mut pipeline.jobs {
            if let Some(needs) = &mut job.needs {
                needs.retain(|n| present.contains(&n.job));
            }
        }
    }
    if let Some(value) = pipeline.first_multiline_command() {
        return Err(GenerateError::UnsafeValue {
            file: ".gitlab-ci.yml".into(),
            value: crate::quote::escaped(value).into_owned(),
        });
    }
    let mut text = pipeline.render();
    if text.len() > crate::yaml::MAX_YAML_BYTES {
        // What the jobs of one step share goes into hidden templates they extend.
        let plain = text.len();
        text = pipeline.render_compact();
        explanation.push(Explanation::pipeline(Topic::Jobs, format!(
            "the pipeline would be {plain} bytes, over GitLab's {} bytes: what the jobs of each step share across services is in hidden jobs (`.compile`, `.build` …) they extend ({} bytes)",
            crate::yaml::MAX_YAML_BYTES,
            text.len()
        )));
    }
    if text.len() > crate::yaml::MAX_YAML_BYTES {
        return Err(GenerateError::TooLarge {
            services: profile.services.len(),
            bytes: text.len(),
            limit: crate::yaml::MAX_YAML_BYTES,
        });
    }
    files.insert(".gitlab-ci.yml".to_string(), text);
    Ok(PipelineBundle {
        files,
        kept,
        left_out,
        pipeline,
        explanation,
        warnings,
    })
}

/// A service whose build context is its own folder and no other service's (a root service
/// in a monorepo: the whole repository) must not carry the sources of the application
/// services inside it, which ship their own images: their folders join its `.dockerignore`.
/// Libraries stay (an application may be built from them), and so does every folder of a
/// context that several services share (a workspace root).
fn exclude_nested_services(
    files: &mut BTreeMap<String, String>,
    profile: &StackProfile,
    contexts: &[(String, String)],
) {
    for (context, dir) in contexts {
        if context != dir || contexts.iter().filter(|(c, _)| c == context).count() > 1 {
            continue;
        }
        let mut nested: Vec<String> = profile
            .services
            .iter()
            .filter(|o| o.role != Role::Library && o.path != "." && o.path != *dir)
            .filter_map(|o| {
                let p = o.path.trim_end_matches('/');
                if context.is_empty() {
                    Some(p.to_string())
                } else {
                    p.strip_prefix(&format!("{}/", context.trim_end_matches('/')))
                        .map(String::from)
                }
            })
            .collect();
        if nested.is_empty() {
            continue;
        }
        nested.sort();
        if let Some(text) = files.get_mut(&crate::index::join(context, ".dockerignore")) {
            text.push_str("# Other services in this build context: each builds its own image\n");
            for p in nested {
                text.push_str(&p);
                text.push('\n');
            }
        }
    }
}

/// The last part of a path or URL, without `.git`: how generated files name the repository
/// (never by the local path it was read from, which means nothing to anyone else).
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

/// Every CI/CD variable a generated pipeline needs the project (or group) to set, with what
/// it is for. The README lists the same table.
pub fn required_variables(settings: &GeneratorSettings) -> Vec<(String, &'static str)> {
    let mut vars: Vec<(String, &'static str)> = Vec::new();
    for registry in [&settings.pull_registry, &settings.internal_registry] {
        if let Some(name) = registry.strip_prefix('$') {
            let name = name.trim_matches(['{', '}']).to_string();
            if !vars.iter().any(|(n, _)| *n == name) {
                vars.push((
                    name,
                    if registry == &settings.pull_registry {
                        "the registry host job images are pulled from (as the runner reaches it)"
                    } else {
                        "the registry host images are pushed to (as containers reach it)"
                    },
                ));
            }
        }
    }
    vars.extend([
        ("DOCKER_AUTH_CONFIG".to_string(), "the runner's login to the pull registry, to pull the private job images and the `-test` image the build pushes ({\"auths\":{\"HOST\":{\"auth\":\"base64(user:password)\"}}}), masked"),
        ("NEXUS_USERNAME".to_string(), "the registry user Kaniko, Trivy and crane log in with"),
        ("NEXUS_PASSWORD".to_string(), "that user's password, masked"),
        ("SONAR_HOST_URL".to_string(), "the SonarQube server"),
        ("SONAR_TOKEN".to_string(), "a SonarQube analysis token, masked"),
        ("SPLUNK_HEC_URL".to_string(), "the Splunk HTTP Event Collector"),
        ("SPLUNK_HEC_TOKEN".to_string(), "its token, masked"),
        ("PIPEWRIGHT_URL".to_string(), "the pipewright service the learn job reports to"),
        ("PIPEWRIGHT_TOKEN".to_string(), "a pipewright API token, masked"),
    ]);
    vars
}

fn header(
    profile: &StackProfile,
    stacks: &[String],
    settings: &GeneratorSettings,
    ships_image: bool,
) -> Vec<String> {
    let mut h = vec![format!(
        "Generated by pipewright {} for {}.",
        env!("CARGO_PKG_VERSION"),
        repo_name(&profile.root)
    )];
    for s in stacks {
        h.push(format!("Stack: {s}."));
    }
    h.push(String::new());
    if ships_image {
        h.push(
            "compile -> build (Kaniko) -> test (inside the built test image) -> sast -> quality"
                .into(),
        );
        h.push("-> security (Trivy) -> push (promote in Nexus) -> notify (Splunk) -> learn (report to pipewright).".into());
    } else {
        h.push("compile -> test (in the language image) -> sast -> quality -> notify (Splunk) -> learn".into());
        h.push("(report to pipewright). Every service is a library: no image is built, scanned or pushed.".into());
    }
    h.push(format!(
        "Job images come from {}; images are pushed to {}.",
        settings.pull_registry, settings.internal_registry
    ));
    h.push("CI/CD variables to set (masked where secret; never values in this file):".into());
    for (name, why) in required_variables(settings) {
        h.push(format!("  {name}: {why}"));
    }
    h.push(
        "Only notify-* and learn may fail without failing the pipeline: they report on it and"
            .into(),
    );
    h.push("must not block a release when Splunk or pipewright is down.".into());
    h
}

/// Declares build arguments (the package mirrors) in every stage that runs commands, where
/// the package managers read them, and puts each setup command in front of the `RUN`s that
/// call its tool; unset outside CI, they change nothing.
fn declare_build_args(d: &mut Dockerfile, vars: &[(String, String)], setups: &[(&[&str], &str)]) {
    if vars.is_empty() {
        return;
    }
    for stage in &mut d.stages {
        for instruction in &mut stage.instructions {
            if let crate::dockerfile::Instruction::Run(lines) = instruction {
                for (words, setup) in setups {
                    if lines.iter().any(|l| words.iter().any(|w| l.contains(w))) {
                        lines.insert(0, setup.to_string());
                    }
                }
            }
        }
        if !stage
            .instructions
            .iter()
            .any(|i| matches!(i, crate::dockerfile::Instruction::Run(_)))
        {
            continue;
        }
        let args = vars
            .iter()
            .map(|(k, _)| crate::dockerfile::Instruction::Arg(k.clone(), None));
        stage.instructions.splice(0..0, args);
    }
}

fn render_dockerfile(d: &Dockerfile, profile: &StackProfile, service: &ServiceProfile) -> String {
    let mut d = d.clone();
    let mut header = vec![format!(
        "Generated by pipewright {} for {} (service {}).",
        env!("CARGO_PKG_VERSION"),
        repo_name(&profile.root),
        service.path
    )];
    header.append(&mut d.header);
    d.header = header;
    d.render()
}
