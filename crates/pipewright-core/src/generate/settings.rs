//! What a team configures about its pipelines: registries, the image path convention, the
//! tool images and their pinned tags, stages to leave out. Defaults follow the seed system
//! (`{registry}/apm-repo/demo/{image}:{tag}`, pulls from `$NEXUS_PULL_REGISTRY`, pushes to
//! `$NEXUS_INTERNAL_REGISTRY`); the interface layer fills it from flags, environment and
//! `pipewright.toml`.

use super::mirrors::Mirrors;
use super::tools::ToolImages;
use crate::pipeline::Stage;

/// Generator settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorSettings {
    /// Where job images are pulled from, as written in the pipeline.
    pub pull_registry: String,
    /// Where Kaniko pushes and where in-container tools reach the registry.
    pub internal_registry: String,
    /// Default of the Dockerfiles' `BASE_REGISTRY` build argument (builds outside CI).
    pub base_registry_default: String,
    /// Image path template with `{registry}`, `{image}` and `{tag}`.
    pub image_path: String,
    /// Name of the application image; the repository or service folder name when unset.
    pub image_name: Option<String>,
    pub skip_stages: Vec<Stage>,
    /// The registry speaks plain HTTP or has a self-signed certificate: turns off TLS
    /// verification in Kaniko, Trivy and crane. Off unless a team sets it explicitly.
    pub registry_insecure: bool,
    pub tools: ToolImages,
    /// Package mirrors the jobs and image builds download from.
    pub mirrors: Mirrors,
    /// Write pipewright's Dockerfile even when the repository has one.
    pub replace_dockerfile: bool,
    /// Semgrep rule set (a registry name or a path to local rules).
    pub semgrep_rules: String,
}

impl Default for GeneratorSettings {
    fn default() -> Self {
        GeneratorSettings {
            pull_registry: "$NEXUS_PULL_REGISTRY".into(),
            internal_registry: "$NEXUS_INTERNAL_REGISTRY".into(),
            base_registry_default: "ai-nexus:5001".into(),
            image_path: "{registry}/apm-repo/demo/{image}:{tag}".into(),
            image_name: None,
            skip_stages: Vec::new(),
            registry_insecure: false,
            tools: ToolImages::default(),
            mirrors: Mirrors::default(),
            replace_dockerfile: false,
            semgrep_rules: "p/default".into(),
        }
    }
}

impl GeneratorSettings {
    /// Fills the image path template.
    pub fn image_ref(&self, registry: &str, image: &str, tag: &str) -> String {
        self.image_path
            .replace("{registry}", registry)
            .replace("{image}", image)
            .replace("{tag}", tag)
    }

    /// The repository (without tag) of an image: the template filled, then the tag cut off.
    pub fn image_repo(&self, registry: &str, image: &str) -> String {
        let full = self.image_ref(registry, image, "TAG_PLACEHOLDER");
        full.trim_end_matches(":TAG_PLACEHOLDER")
            .trim_end_matches("TAG_PLACEHOLDER")
            .to_string()
    }

    /// The allowed image prefixes the validator should accept for pipelines made with these settings.
    pub fn allowed_registries(&self) -> Vec<String> {
        let mut v = vec![self.pull_registry.clone(), self.internal_registry.clone()];
        for r in [&self.pull_registry, &self.internal_registry] {
            if let Some(name) = r.strip_prefix('$') {
                v.push(format!("${{{name}}}"));
            }
        }
        v.push("${BASE_REGISTRY}".into());
        v.push(self.base_registry_default.clone());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_path_template_is_filled() {
        let s = GeneratorSettings::default();
        assert_eq!(
            s.image_ref("$NEXUS_PULL_REGISTRY", "python", "3.12-slim"),
            "$NEXUS_PULL_REGISTRY/apm-repo/demo/python:3.12-slim"
        );
        assert_eq!(
            s.image_repo("$NEXUS_INTERNAL_REGISTRY", "shop"),
            "$NEXUS_INTERNAL_REGISTRY/apm-repo/demo/shop"
        );
    }
}
