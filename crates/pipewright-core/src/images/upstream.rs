//! Where each image the generator writes comes from, and how an air-gapped site reaches those
//! upstream registries through mirrors.
//!
//! [`UPSTREAM`] is keyed by the image name under the image path template
//! (`{registry}/apm-repo/demo/{image}:{tag}`): the names `generate/settings.rs` (tool images),
//! `generate/jobs.rs` (job services) and the recipes (`FROM` lines, build images) write. The tag
//! is kept as written. `pipewright.toml` adds or replaces entries (`[images.upstream]`).

use super::reference::{ImageRef, RefError};
use crate::generate::tools::ToolImages;

/// Image name → upstream repository (tag kept).
pub const UPSTREAM: &[(&str, &str)] = &[
    // Language images: recipes' FROM lines and build images.
    ("python", "docker.io/library/python"),
    ("node", "docker.io/library/node"),
    ("oven/bun", "docker.io/oven/bun"),
    (
        "nginx-unprivileged",
        "docker.io/nginxinc/nginx-unprivileged",
    ),
    ("golang", "docker.io/library/golang"),
    ("golangci-lint", "docker.io/golangci/golangci-lint"),
    (
        "distroless/static-debian12",
        "gcr.io/distroless/static-debian12",
    ),
    (
        "distroless/base-debian12",
        "gcr.io/distroless/base-debian12",
    ),
    ("ruby", "docker.io/library/ruby"),
    ("rust", "docker.io/library/rust"),
    ("debian", "docker.io/library/debian"),
    ("php", "docker.io/library/php"),
    ("composer", "docker.io/library/composer"),
    ("elixir", "docker.io/library/elixir"),
    ("eclipse-temurin", "docker.io/library/eclipse-temurin"),
    ("maven", "docker.io/library/maven"),
    ("gradle", "docker.io/library/gradle"),
    ("dotnet/sdk", "mcr.microsoft.com/dotnet/sdk"),
    ("dotnet/aspnet", "mcr.microsoft.com/dotnet/aspnet"),
    ("dotnet/runtime", "mcr.microsoft.com/dotnet/runtime"),
    // Test services (jobs.rs).
    ("postgres", "docker.io/library/postgres"),
    ("mysql", "docker.io/library/mysql"),
    ("mariadb", "docker.io/library/mariadb"),
    ("redis", "docker.io/library/redis"),
    ("mongo", "docker.io/library/mongo"),
    ("memcached", "docker.io/library/memcached"),
    ("rabbitmq", "docker.io/library/rabbitmq"),
    (
        "elasticsearch",
        "docker.elastic.co/elasticsearch/elasticsearch",
    ),
    // Tool images (Kaniko, Trivy, Semgrep, crane …) come from the generator's tool table
    // (`generate/tools.rs`), which carries each tool's upstream: see `UpstreamMap::with_tools`.
];

/// One configured entry: `name` (tag kept) or `name:tag` (exact) → a source reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamEntry {
    pub image: String,
    pub source: String,
}

/// The built-in table, the generator's tool table and configured entries, which win.
#[derive(Debug, Clone)]
pub struct UpstreamMap {
    extra: Vec<UpstreamEntry>,
    /// Tool image name → upstream repository, from the tool table in use.
    tools: Vec<(String, String)>,
}

impl Default for UpstreamMap {
    fn default() -> Self {
        UpstreamMap {
            extra: Vec::new(),
            tools: tool_rows(&ToolImages::default()),
        }
    }
}

fn tool_rows(tools: &ToolImages) -> Vec<(String, String)> {
    tools
        .iter()
        .map(|(_, row)| (row.image.clone(), row.upstream.clone()))
        .collect()
}

impl UpstreamMap {
    /// Checks every configured source parses, naming the entry that does not.
    pub fn new(extra: Vec<UpstreamEntry>) -> Result<UpstreamMap, RefError> {
        for e in &extra {
            ImageRef::parse(&e.source)?;
        }
        Ok(UpstreamMap {
            extra,
            ..UpstreamMap::default()
        })
    }

    /// Takes the tool images' upstreams from `tools` (the table with a team's `[tools]`
    /// overrides) instead of the built-in table.
    pub fn with_tools(mut self, tools: &ToolImages) -> Self {
        self.tools = tool_rows(tools);
        self
    }

    /// The upstream source of the image `name` with `tag`/`digest` (as in the target).
    pub fn source_for(&self, name: &str, target: &ImageRef) -> Option<ImageRef> {
        let exact = format!("{name}:{}", target.tag.as_deref().unwrap_or("latest"));
        if let Some(e) = self.extra.iter().find(|e| e.image == exact) {
            return ImageRef::parse(&e.source).ok();
        }
        let repo = self
            .extra
            .iter()
            .find(|e| e.image == name)
            .map(|e| e.source.as_str())
            .or_else(|| {
                self.tools
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, s)| s.as_str())
            })
            .or_else(|| UPSTREAM.iter().find(|(n, _)| *n == name).map(|(_, s)| *s))?;
        let base = ImageRef::parse(repo).ok()?;
        Some(target.relocated(&base.registry, &base.repository))
    }
}

/// An upstream registry served by a mirror under a repository prefix
/// (`docker.io=mirror:5000/hub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub upstream: String,
    pub registry: String,
    pub prefix: String,
}

/// Why a mirror list could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a mirror: write upstream=host:port/prefix (for example docker.io=mirror:5000/hub), separated by commas")]
pub struct MirrorError(pub String);

impl Mirror {
    /// Parses `docker.io=host:port/prefix,gcr.io=host:port/prefix,…`.
    pub fn parse_list(text: &str) -> Result<Vec<Mirror>, MirrorError> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|item| {
                let (up, to) = item
                    .split_once('=')
                    .ok_or_else(|| MirrorError(item.to_string()))?;
                let to = to.trim().trim_end_matches('/');
                let (registry, prefix) = to.split_once('/').unwrap_or((to, ""));
                if up.trim().is_empty() || registry.is_empty() || registry.contains(' ') {
                    return Err(MirrorError(item.to_string()));
                }
                Ok(Mirror {
                    upstream: up.trim().to_ascii_lowercase(),
                    registry: registry.to_ascii_lowercase(),
                    prefix: prefix.to_string(),
                })
            })
            .collect()
    }
}

/// Where to fetch `source` from: its mirror when one serves its registry, else itself.
pub fn through_mirror(source: &ImageRef, mirrors: &[Mirror]) -> ImageRef {
    match mirrors.iter().find(|m| m.upstream == source.registry) {
        Some(m) if m.prefix.is_empty() => source.relocated(&m.registry, &source.repository),
        Some(m) => source.relocated(&m.registry, &format!("{}/{}", m.prefix, source.repository)),
        None => source.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_valid_references() {
        for (name, source) in UPSTREAM {
            ImageRef::parse(source).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn tag_is_kept_and_configured_entries_win() {
        let target = ImageRef::parse("nexus:5001/apm-repo/demo/python:3.12-slim").unwrap();
        let map = UpstreamMap::default();
        assert_eq!(
            map.source_for("python", &target).unwrap().to_string(),
            "docker.io/library/python:3.12-slim"
        );
        let map = UpstreamMap::new(vec![
            UpstreamEntry {
                image: "python".into(),
                source: "quay.io/team/python".into(),
            },
            UpstreamEntry {
                image: "python:3.12-slim".into(),
                source: "ghcr.io/team/py:pinned".into(),
            },
        ])
        .unwrap();
        assert_eq!(
            map.source_for("python", &target).unwrap().to_string(),
            "ghcr.io/team/py:pinned"
        );
        let other = target.relocated("nexus:5001", "apm-repo/demo/python");
        let other = ImageRef {
            tag: Some("3.11".into()),
            ..other
        };
        assert_eq!(
            map.source_for("python", &other).unwrap().to_string(),
            "quay.io/team/python:3.11"
        );
        assert!(map.source_for("unknown-tool", &target).is_none());
    }

    #[test]
    fn mirrors_put_the_prefix_in_front() {
        let m = Mirror::parse_list("docker.io=mirror:5000/hub, gcr.io=mirror:5000").unwrap();
        let src = ImageRef::parse("python:3.12").unwrap();
        assert_eq!(
            through_mirror(&src, &m).to_string(),
            "mirror:5000/hub/library/python:3.12"
        );
        let src = ImageRef::parse("gcr.io/kaniko-project/executor:v1").unwrap();
        assert_eq!(
            through_mirror(&src, &m).to_string(),
            "mirror:5000/kaniko-project/executor:v1"
        );
        assert!(Mirror::parse_list("docker.io").is_err());
    }
}
