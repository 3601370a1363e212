//! The generation flow without GitLab: analyze a repository, generate the pipeline and
//! Dockerfiles with the built-in generator, and report what was produced and why.

use crate::analyze::{analyze_with_index, open_source, AnalyzeOptions};
use pipewright_core::generate::{generate, GenerateError, GeneratorSettings, PipelineBundle};
use pipewright_core::source::SourceError;
use pipewright_core::stack::StackProfile;

/// Which path produced the files (the seed's commit tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provenance {
    /// The built-in generator: `[Template]`.
    Template,
}

impl Provenance {
    /// The tag used in commit messages.
    pub fn tag(self) -> &'static str {
        match self {
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
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateFlowError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Generate(#[from] GenerateError),
}

/// Analyzes `target` (a folder or a git URL) and generates its pipeline.
pub fn generate_for(
    target: &str,
    opts: &AnalyzeOptions,
    settings: &GeneratorSettings,
) -> Result<GenerateOutcome, GenerateFlowError> {
    let source = open_source(target, opts)?;
    let (index, profile) = analyze_with_index(source.as_ref())?;
    let bundle = generate(&profile, &index, settings)?;
    Ok(GenerateOutcome {
        profile,
        bundle,
        provenance: Provenance::Template,
    })
}
