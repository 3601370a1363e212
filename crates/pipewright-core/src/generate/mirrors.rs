//! Package mirrors: a platform team behind a private Nexus sets where each package manager
//! downloads from, and every generated job and Dockerfile uses it. One table says which
//! environment variables each package manager reads; a mirror is written as those variables
//! in the pipeline and passed to the image build as build arguments (`ARG` in the stages
//! that install), so the same Dockerfile still builds without them.
//!
//! Package managers that read no such variable (Maven, Composer, Bundler) get a one-line
//! setup command, run when the variable is set: before the installs in the CI jobs, and in
//! front of every Dockerfile `RUN` that calls the tool.
//!
//! A mirror is a URL without credentials, or a reference to a CI/CD variable (`$NEXUS_PYPI`)
//! that holds one: a URL with a user or password is refused, since it would be written in
//! clear into the repository.

use crate::stack::{BuildTool, Language, ServiceProfile};

/// The package ecosystems a mirror can be set for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MirrorKind {
    Pypi,
    Npm,
    Go,
    Maven,
    Composer,
    Rubygems,
}

/// Per kind: the `pipewright.toml` key, the environment variable pipewright reads it from,
/// and the variables the package managers read (pip, uv and pipenv; npm, pnpm, yarn and bun;
/// the Go toolchain).
pub const MIRRORS: &[(MirrorKind, &str, &str, &[&str])] = &[
    (
        MirrorKind::Pypi,
        "pypi",
        "PIPEWRIGHT_MIRROR_PYPI",
        &["PIP_INDEX_URL", "UV_DEFAULT_INDEX", "PIPENV_PYPI_MIRROR"],
    ),
    (
        MirrorKind::Npm,
        "npm",
        "PIPEWRIGHT_MIRROR_NPM",
        &["NPM_CONFIG_REGISTRY", "YARN_NPM_REGISTRY_SERVER"],
    ),
    (MirrorKind::Go, "go", "PIPEWRIGHT_MIRROR_GO", &["GOPROXY"]),
    (
        MirrorKind::Maven,
        "maven",
        "PIPEWRIGHT_MIRROR_MAVEN",
        &["MAVEN_MIRROR_URL"],
    ),
    (
        MirrorKind::Composer,
        "composer",
        "PIPEWRIGHT_MIRROR_COMPOSER",
        &["COMPOSER_MIRROR_URL"],
    ),
    (
        MirrorKind::Rubygems,
        "rubygems",
        "PIPEWRIGHT_MIRROR_RUBYGEMS",
        &["RUBYGEMS_MIRROR_URL"],
    ),
];

/// For package managers that read no variable: the words that mark a command calling the
/// tool, and the setup that points it at the mirror (run only when the variable is set).
pub const SETUPS: &[(MirrorKind, &[&str], &str)] = &[
    (
        MirrorKind::Maven,
        &["mvn ", "mvnw "],
        "if [ -n \"$MAVEN_MIRROR_URL\" ]; then mkdir -p \"$HOME/.m2\" && printf '<settings><mirrors><mirror><id>mirror</id><mirrorOf>*</mirrorOf><url>%s</url></mirror></mirrors></settings>\\n' \"$MAVEN_MIRROR_URL\" > \"$HOME/.m2/settings.xml\"; fi",
    ),
    (
        MirrorKind::Composer,
        &["composer "],
        "if [ -n \"$COMPOSER_MIRROR_URL\" ]; then composer config --global repos.packagist composer \"$COMPOSER_MIRROR_URL\"; fi",
    ),
    (
        MirrorKind::Rubygems,
        &["bundle "],
        "if [ -n \"$RUBYGEMS_MIRROR_URL\" ]; then bundle config set --global mirror.https://rubygems.org \"$RUBYGEMS_MIRROR_URL\"; fi",
    ),
];

/// A mirror that cannot be written into a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MirrorError {
    #[error("the {key} mirror holds credentials (user or password in the URL); they would be written in clear into the repository. Put the URL in a masked CI/CD variable and set `{key} = \"$VARIABLE\"` instead")]
    Credentials { key: String },
    #[error("the {key} mirror `{value}` is neither an http(s) URL nor a CI/CD variable reference like `$NEXUS_MIRROR`")]
    Invalid { key: String, value: String },
    #[error("unknown mirror `{0}` in [mirrors]; the mirrors are pypi, npm, go, maven, composer, rubygems")]
    Unknown(String),
}

/// The mirrors a team set, each already checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mirrors(Vec<(MirrorKind, String)>);

impl Mirrors {
    /// Sets the mirror for a `pipewright.toml` key after checking the value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), MirrorError> {
        let kind = MIRRORS
            .iter()
            .find(|(_, k, ..)| *k == key)
            .map(|(kind, ..)| *kind)
            .ok_or_else(|| MirrorError::Unknown(key.to_string()))?;
        let value = check(key, value.trim())?;
        self.0.retain(|(k, _)| *k != kind);
        self.0.push((kind, value));
        self.0.sort();
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when the mirror of a `pipewright.toml` key (`pypi`, `npm` …) is set.
    pub fn is_set(&self, key: &str) -> bool {
        MIRRORS
            .iter()
            .find(|(_, k, ..)| *k == key)
            .is_some_and(|(kind, ..)| self.0.iter().any(|(k, _)| k == kind))
    }

    /// The setup commands a service's package managers need (Maven, Composer, Bundler), each
    /// with the words that mark a command calling the tool.
    pub fn setups_for(
        &self,
        service: &ServiceProfile,
    ) -> Vec<(&'static [&'static str], &'static str)> {
        let kinds = kinds_of(service);
        SETUPS
            .iter()
            .filter(|(kind, ..)| kinds.contains(kind) && self.0.iter().any(|(k, _)| k == kind))
            .map(|(_, words, cmd)| (*words, *cmd))
            .collect()
    }

    /// The variables a service's package managers read, with the mirror as value.
    pub fn variables_for(&self, service: &ServiceProfile) -> Vec<(String, String)> {
        let kinds = kinds_of(service);
        self.0
            .iter()
            .filter(|(kind, _)| kinds.contains(kind))
            .flat_map(|(kind, value)| {
                MIRRORS
                    .iter()
                    .filter(move |(k, ..)| k == kind)
                    .flat_map(|(_, _, _, vars)| vars.iter())
                    .map(move |name| (name.to_string(), value.clone()))
            })
            .collect()
    }
}

/// The package ecosystems a service downloads from.
fn kinds_of(service: &ServiceProfile) -> Vec<MirrorKind> {
    let mut kinds = Vec::new();
    match service.language {
        Language::Python => kinds.push(MirrorKind::Pypi),
        Language::JavaScript | Language::TypeScript => kinds.push(MirrorKind::Npm),
        Language::Go => kinds.push(MirrorKind::Go),
        Language::Php => kinds.push(MirrorKind::Composer),
        Language::Ruby => kinds.push(MirrorKind::Rubygems),
        Language::Java | Language::Kotlin if service.build_tool == Some(BuildTool::Maven) => {
            kinds.push(MirrorKind::Maven)
        }
        _ => {}
    }
    // Front-end tooling beside another stack (a Tailwind build) downloads from npm too.
    if service
        .secondary
        .iter()
        .any(|s| matches!(s.language, Language::JavaScript | Language::TypeScript))
        || matches!(
            service.build_tool,
            Some(BuildTool::Npm | BuildTool::Yarn | BuildTool::Pnpm | BuildTool::Bun)
        )
    {
        kinds.push(MirrorKind::Npm);
    }
    kinds.sort();
    kinds.dedup();
    kinds
}

/// A variable reference, or an http(s) URL without user information.
fn check(key: &str, value: &str) -> Result<String, MirrorError> {
    let is_reference = value
        .strip_prefix('$')
        .map(|n| n.trim_start_matches('{').trim_end_matches('}'))
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if is_reference {
        return Ok(value.to_string());
    }
    let invalid = || MirrorError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
    };
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(invalid)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || value.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    if authority.contains('@') {
        return Err(MirrorError::Credentials {
            key: key.to_string(),
        });
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_credentials_are_refused_and_references_kept() {
        let mut m = Mirrors::default();
        assert_eq!(
            m.set(
                "pypi",
                "https://ci:s3cret@nexus.example.com/repository/pypi/simple"
            ),
            Err(MirrorError::Credentials { key: "pypi".into() })
        );
        assert!(m.set("pypi", "$NEXUS_PYPI_URL").is_ok());
        assert!(m
            .set("npm", "https://nexus.example.com/repository/npm/")
            .is_ok());
        assert!(matches!(
            m.set("npm", "nexus"),
            Err(MirrorError::Invalid { .. })
        ));
        assert!(matches!(m.set("cargo", "$X"), Err(MirrorError::Unknown(_))));
    }
}
