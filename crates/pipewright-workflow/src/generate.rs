//! The generation flow without GitLab: analyze a repository, generate the pipeline and
//! Dockerfiles with the built-in generator, and report what was produced and why.

use crate::analyze::{analyze_with_overrides, open_source, AnalyzeOptions, OverrideLayers};
use pipewright_core::generate::{
    generate, Explanation, GenerateError, GeneratorSettings, PipelineBundle, Topic,
};
use pipewright_core::overrides::RepositorySettings;
use pipewright_core::source::{RepoSource, SourceError};
use pipewright_core::stack::StackProfile;
use pipewright_core::validate::{
    has_errors, validate_dockerfile, validate_pipeline, Finding, ValidatorSettings,
};

/// Which path produced the files (the seed's commit tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Provenance {
    /// A stored pair used as it is: `[RAG Template]`.
    RagTemplate,
    /// A stored reference adapted by the LLM: `[RAG + LLM]`.
    RagLlm,
    /// Written by the LLM from the stack profile: `[AI Generated]`.
    AiGenerated,
    /// The built-in generator: `[Template]`.
    Template,
}

impl Provenance {
    /// The tag used in commit messages.
    pub fn tag(self) -> &'static str {
        match self {
            Provenance::RagTemplate => "[RAG Template]",
            Provenance::RagLlm => "[RAG + LLM]",
            Provenance::AiGenerated => "[AI Generated]",
            Provenance::Template => "[Template]",
        }
    }
}

/// Everything `generate` produced.
#[derive(Debug, Clone)]
pub struct GenerateOutcome {
    pub profile: StackProfile,
    pub bundle: PipelineBundle,
    pub provenance: Provenance,
    /// The validator's findings on the files (none is an error: those are never returned).
    pub findings: Vec<Finding>,
    /// The repository's counted file names, most telling first (for the LLM's prompt).
    pub index_files: Vec<String>,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateFlowError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// The generated files failed pipewright's own validator: a defect in pipewright. Nothing
    /// is written.
    #[error("pipewright generated files its own validator rejects ({} finding(s)); nothing was written. This is a bug in pipewright: please report it with the repository's `pipewright analyze --json` output", .0.len())]
    Invalid(Vec<Finding>),
}

/// The validator settings for pipelines pipewright owns, made with `settings`.
pub fn validator_settings(
    settings: &GeneratorSettings,
    allowed_hosts: &[String],
) -> ValidatorSettings {
    let mut v = ValidatorSettings {
        registries: settings.allowed_registries(),
        // The nine stages are required unless the user left some out on purpose.
        owned: settings.skip_stages.is_empty(),
        ..ValidatorSettings::default()
    };
    let internal = &settings.internal_registry;
    v.push_registries = vec![internal.clone()];
    if let Some(name) = internal.strip_prefix('$') {
        v.push_registries.push(format!("${{{name}}}"));
    }
    v.allowed_hosts.extend(allowed_hosts.iter().cloned());
    v
}

/// Validates every generated file; each finding names its file.
pub fn validate_bundle(bundle: &PipelineBundle, settings: &ValidatorSettings) -> Vec<Finding> {
    let mut settings = settings.clone();
    settings
        .left_out
        .extend(bundle.left_out.iter().map(|s| s.as_str().to_string()));
    validate_files(&bundle.files, &settings)
}

/// Validates the repository's own files the pipeline builds with (a kept Dockerfile) with the
/// same rules as generated ones, as `pipewright validate --dockerfile` would. Their findings
/// are reported, never a reason to refuse: pipewright did not write them.
pub fn validate_kept(bundle: &PipelineBundle, settings: &ValidatorSettings) -> Vec<Finding> {
    validate_files(&bundle.kept, settings)
}

fn validate_files(
    files: &std::collections::BTreeMap<String, String>,
    settings: &ValidatorSettings,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (path, text) in files {
        let name = path.rsplit('/').next().unwrap_or(path);
        let found = if name == ".gitlab-ci.yml" {
            validate_pipeline(text, settings)
        } else if name == "Dockerfile" {
            validate_dockerfile(text, settings)
        } else {
            continue;
        };
        findings.extend(found.into_iter().map(|f| f.in_file(path.clone())));
    }
    findings
}

/// Analyzes `target` (a folder or a git URL), generates its pipeline and validates every
/// file; files that fail validation are never returned.
pub fn generate_for(
    target: &str,
    opts: &AnalyzeOptions,
    settings: &GeneratorSettings,
    allowed_hosts: &[String],
) -> Result<GenerateOutcome, GenerateFlowError> {
    generate_for_with(
        target,
        opts,
        settings,
        allowed_hosts,
        &OverrideLayers::default(),
    )
}

/// [`generate_for`] with override layers beside the repository's `pipewright.toml`.
pub fn generate_for_with(
    target: &str,
    opts: &AnalyzeOptions,
    settings: &GeneratorSettings,
    allowed_hosts: &[String],
    layers: &OverrideLayers,
) -> Result<GenerateOutcome, GenerateFlowError> {
    let source = open_source(target, opts)?;
    generate_with_overrides(source.as_ref(), settings, allowed_hosts, layers)
}

/// Analyzes an open source (a folder, a clone, posted files, a GitLab project), generates its
/// pipeline and validates every file; files that fail validation are never returned.
pub fn generate_from_source(
    source: &dyn RepoSource,
    settings: &GeneratorSettings,
    allowed_hosts: &[String],
) -> Result<GenerateOutcome, GenerateFlowError> {
    generate_with_overrides(source, settings, allowed_hosts, &OverrideLayers::default())
}

/// [`generate_from_source`] with override layers beside the repository's `pipewright.toml`.
pub fn generate_with_overrides(
    source: &dyn RepoSource,
    settings: &GeneratorSettings,
    allowed_hosts: &[String],
    layers: &OverrideLayers,
) -> Result<GenerateOutcome, GenerateFlowError> {
    let (index, profile) = analyze_with_overrides(source, layers)?;
    // The repository's own [tools] and [mirrors] fill what the operator left at the defaults.
    let mut settings = settings.clone();
    let taken = match index.text(pipewright_core::overrides::FILE_NAME) {
        Some(text) => RepositorySettings::from_toml(text, pipewright_core::overrides::FILE_NAME)
            .map_err(SourceError::from)?
            .fill(&mut settings),
        None => Vec::new(),
    };
    let settings = &settings;
    let mut bundle = generate(&profile, &index, settings)?;
    bundle.explanation.splice(
        0..0,
        taken
            .into_iter()
            .map(|t| Explanation::pipeline(Topic::Settings, t)),
    );
    let vsettings = validator_settings(settings, allowed_hosts);
    let mut findings = validate_bundle(&bundle, &vsettings);
    if has_errors(&findings) {
        return Err(GenerateFlowError::Invalid(findings));
    }
    let kept = validate_kept(&bundle, &vsettings);
    for path in bundle.kept.keys() {
        let errors = kept
            .iter()
            .filter(|f| &f.file == path && f.severity == pipewright_core::validate::Severity::Error)
            .count();
        if errors > 0 {
            bundle.warnings.push(format!(
                "the repository's own {path} has {errors} error(s) by pipewright's rules (see the findings); it was kept as it is: fix it, or use --replace-dockerfile to have pipewright write one"
            ));
        }
    }
    findings.extend(kept);
    // Manifests and top-level files tell a model the most; deep source files the least.
    let mut index_files: Vec<String> = index
        .files()
        .iter()
        .filter(|f| f.excluded.is_none() || f.language.is_none())
        .map(|f| f.path.clone())
        .collect();
    index_files.sort_by_key(|p| (p.matches('/').count(), p.clone()));
    index_files.truncate(300);
    Ok(GenerateOutcome {
        profile,
        bundle,
        provenance: Provenance::Template,
        findings,
        index_files,
    })
}
