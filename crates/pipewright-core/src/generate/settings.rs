//! What a team configures about its pipelines: registries, the image path convention, the
//! tool images and their pinned tags, stages to leave out. Defaults follow the seed system
//! (`{registry}/apm-repo/demo/{image}:{tag}`, pulls from `$NEXUS_PULL_REGISTRY`, pushes to
//! `$NEXUS_INTERNAL_REGISTRY`); the interface layer fills it from flags, environment and
//! `pipewright.toml`.

use crate::pipeline::Stage;

/// The images the shared jobs run in, as `(image, tag)` under the image path convention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolImages {
    pub kaniko: (String, String),
    pub semgrep: (String, String),
    pub sonar_scanner: (String, String),
    pub trivy: (String, String),
    pub trivy_db: (String, String),
    pub crane: (String, String),
    pub curl: (String, String),
}

impl Default for ToolImages {
    fn default() -> Self {
        let t = |i: &str, tag: &str| (i.to_string(), tag.to_string());
        ToolImages {
            kaniko: t("kaniko-executor", "v1.23.2-debug"),
            semgrep: t("semgrep", "1.93.0"),
            sonar_scanner: t("sonar-scanner-cli", "11.1"),
            trivy: t("trivy", "0.56.2"),
            trivy_db: t("trivy-db", "2"),
            crane: t("crane", "v0.20.2-debug"),
            curl: t("curl", "8.10.1"),
        }
    }
}

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
    /// The registry speaks plain HTTP or has a self-signed certificate (the seed's Nexus).
    pub registry_insecure: bool,
    pub tools: ToolImages,
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
            registry_insecure: true,
            tools: ToolImages::default(),
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
