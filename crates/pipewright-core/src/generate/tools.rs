//! The one table of tool images the generated pipelines and Dockerfiles run: for each tool
//! its name under the team's image path convention, the pinned tag, and the upstream image it
//! mirrors. Pipelines pull `{registry}/…/{image}:{tag}`; whoever seeds the registry copies
//! `upstream` to it, so every tag here exists upstream (checked by hand against the
//! publisher, December 2026). A team overrides any entry in `pipewright.toml` (`[tools]`).
//!
//! ```
//! use pipewright_core::generate::tools::{Tool, ToolImages};
//! let tools = ToolImages::default();
//! assert_eq!(tools.get(Tool::Trivy).upstream_ref(), "docker.io/aquasec/trivy:0.74.0");
//! ```

use std::collections::BTreeMap;

/// A tool the shared jobs or a recipe run from an image of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tool {
    /// The image builder (the maintained fork of Kaniko, Google's was archived in June 2025).
    Kaniko,
    Trivy,
    /// Trivy's vulnerability database, an OCI artifact the Trivy server downloads.
    TrivyDb,
    Semgrep,
    SonarScanner,
    /// Registry-to-registry copies; the `debug` image has the shell a CI job needs.
    Crane,
    Curl,
    /// golangci-lint for `version: "2"` configurations (and projects without one).
    GolangciLint,
    /// golangci-lint for v1 configurations (no `version` key), which v2 refuses.
    GolangciLintV1,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolImage {
    /// The image name under the image path convention (`trivy`, `crane/debug`).
    pub image: String,
    /// The tag, the same as upstream's.
    pub tag: String,
    /// The upstream repository without tag (`docker.io/aquasec/trivy`).
    pub upstream: String,
}

impl ToolImage {
    /// The upstream image with its tag, the source a registry mirror copies.
    pub fn upstream_ref(&self) -> String {
        format!("{}:{}", self.upstream, self.tag)
    }
}

/// The built-in table: (tool, key in `pipewright.toml`, image, tag, upstream repository).
pub const TOOLS: &[(Tool, &str, &str, &str, &str)] = &[
    (
        Tool::Kaniko,
        "kaniko",
        "kaniko",
        "v1.27.6-debug",
        "ghcr.io/osscontainertools/kaniko",
    ),
    (
        Tool::Trivy,
        "trivy",
        "trivy",
        "0.74.0",
        "docker.io/aquasec/trivy",
    ),
    (
        Tool::TrivyDb,
        "trivy_db",
        "trivy-db",
        "2",
        "ghcr.io/aquasecurity/trivy-db",
    ),
    (
        Tool::Semgrep,
        "semgrep",
        "semgrep",
        "1.179.0",
        "docker.io/semgrep/semgrep",
    ),
    (
        Tool::SonarScanner,
        "sonar_scanner",
        "sonar-scanner-cli",
        "12.2.0.4256_8.1.0",
        "docker.io/sonarsource/sonar-scanner-cli",
    ),
    (
        Tool::Crane,
        "crane",
        "crane/debug",
        "v0.22.1",
        "gcr.io/go-containerregistry/crane/debug",
    ),
    (
        Tool::Curl,
        "curl",
        "curl",
        "8.16.0",
        "docker.io/curlimages/curl",
    ),
    (
        Tool::GolangciLint,
        "golangci_lint",
        "golangci-lint",
        "v2.14.0",
        "docker.io/golangci/golangci-lint",
    ),
    (
        Tool::GolangciLintV1,
        "golangci_lint_v1",
        "golangci-lint",
        "v1.64.8",
        "docker.io/golangci/golangci-lint",
    ),
];

/// The tool images in use: the built-in table with a team's overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolImages(BTreeMap<Tool, ToolImage>);

impl Default for ToolImages {
    fn default() -> Self {
        ToolImages(
            TOOLS
                .iter()
                .map(|(tool, _, image, tag, upstream)| {
                    (
                        *tool,
                        ToolImage {
                            image: image.to_string(),
                            tag: tag.to_string(),
                            upstream: upstream.to_string(),
                        },
                    )
                })
                .collect(),
        )
    }
}

/// An override naming a tool the table does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tool `{0}` in [tools]; the tools are {known}", known = known_keys())]
pub struct UnknownTool(pub String);

fn known_keys() -> String {
    TOOLS
        .iter()
        .map(|(_, key, ..)| *key)
        .collect::<Vec<_>>()
        .join(", ")
}

impl ToolImages {
    /// The image of `tool`.
    pub fn get(&self, tool: Tool) -> &ToolImage {
        // Every tool has a row: the map is built from TOOLS, and overrides only replace rows.
        &self.0[&tool]
    }

    /// Every row, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (Tool, &ToolImage)> {
        self.0.iter().map(|(t, i)| (*t, i))
    }

    /// The tool for a `pipewright.toml` key (`trivy`, `sonar_scanner` …).
    pub fn tool_for_key(key: &str) -> Result<Tool, UnknownTool> {
        TOOLS
            .iter()
            .find(|(_, k, ..)| *k == key)
            .map(|(t, ..)| *t)
            .ok_or_else(|| UnknownTool(key.to_string()))
    }

    /// Replaces what is given of one row; unset parts keep the built-in value.
    pub fn set(
        &mut self,
        tool: Tool,
        image: Option<String>,
        tag: Option<String>,
        upstream: Option<String>,
    ) {
        if let Some(row) = self.0.get_mut(&tool) {
            if let Some(v) = image {
                row.image = v;
            }
            if let Some(v) = tag {
                row.tag = v;
            }
            if let Some(v) = upstream {
                row.upstream = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_one_row_with_a_qualified_upstream() {
        let tools = ToolImages::default();
        for (tool, row) in tools.iter() {
            let host = row.upstream.split('/').next().unwrap_or("");
            assert!(
                host.contains('.'),
                "{tool:?}: upstream {} names no registry host",
                row.upstream
            );
            assert!(!row.tag.is_empty() && row.tag != "latest", "{tool:?}");
        }
        assert_eq!(tools.iter().count(), TOOLS.len());
    }

    #[test]
    fn crane_is_the_debug_image_under_its_real_upstream_tag() {
        let crane = ToolImages::default().get(Tool::Crane).clone();
        assert_eq!(
            crane.upstream_ref(),
            "gcr.io/go-containerregistry/crane/debug:v0.22.1"
        );
        assert!(!crane.tag.contains("-debug"), "{crane:?}");
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let mut tools = ToolImages::default();
        let tool = ToolImages::tool_for_key("trivy").expect("known");
        tools.set(tool, None, Some("0.75.0".into()), None);
        assert_eq!(
            tools.get(Tool::Trivy).upstream_ref(),
            "docker.io/aquasec/trivy:0.75.0"
        );
        assert_eq!(tools.get(Tool::Trivy).image, "trivy");
        assert!(ToolImages::tool_for_key("docker").is_err());
    }
}
