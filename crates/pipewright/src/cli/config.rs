//! Settings for `generate` and `validate`: built-in defaults, then `pipewright.toml`, then
//! environment variables (the seed's names), then flags, each overriding the one before.
//!
//! ```toml
//! # pipewright.toml
//! [registry]
//! pull = "$NEXUS_PULL_REGISTRY"          # written into job images
//! internal = "$NEXUS_INTERNAL_REGISTRY"  # Kaniko pushes, in-container pulls
//! base_default = "ai-nexus:5001"         # default of the Dockerfiles' BASE_REGISTRY
//! image_path = "{registry}/apm-repo/demo/{image}:{tag}"
//! insecure = false                     # true turns TLS verification off (plain-HTTP/self-signed Nexus)
//! [generate]
//! image_name = "shop"
//! skip_stages = ["sast"]
//! semgrep_rules = "p/default"
//! replace_dockerfile = false
//! [validate]
//! allowed_hosts = ["hooks.example.com"]
//! [tools]                                # override the tool image table (generate/tools.rs)
//! trivy = "0.75.0"                       # a tag
//! kaniko = { image = "kaniko", tag = "v1.27.6-debug", upstream = "ghcr.io/osscontainertools/kaniko" }
//! [mirrors]                              # or PIPEWRIGHT_MIRROR_PYPI/_NPM/_GO/_MAVEN/_COMPOSER/_RUBYGEMS
//! pypi = "$NEXUS_PYPI_URL"               # a CI/CD variable, or a URL without credentials
//! npm = "https://nexus.example.com/repository/npm/"
//! go = "https://nexus.example.com/repository/go/"
//! [images]                               # seeding the registry (`pipewright images`)
//! registry = "nexus:5001"                # NEXUS_REGISTRY: where missing images are pushed
//! pull_registry = "nexus:5002"           # NEXUS_PULL_REGISTRY: where presence is checked
//! username = "seeder"                    # NEXUS_USERNAME (the password: NEXUS_PASSWORD only)
//! mirrors = "docker.io=mirror:5000/hub"  # PIPEWRIGHT_REGISTRY_MIRRORS
//! insecure = true                        # PIPEWRIGHT_REGISTRY_INSECURE=1: plain HTTP
//! ca_file = "/etc/ssl/nexus-ca.pem"      # PIPEWRIGHT_REGISTRY_CA_FILE
//! [images.upstream]                      # image name (or name:tag) -> upstream source
//! "in-house-tool" = "quay.io/team/tool"
//! ```

use clap::Args;
use pipewright_core::generate::mirrors::MIRRORS;
use pipewright_core::generate::{GeneratorSettings, ToolImages};
use pipewright_core::pipeline::Stage;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    registry: RegistrySection,
    #[serde(default)]
    generate: GenerateSection,
    #[serde(default)]
    validate: ValidateSection,
    #[serde(default)]
    tools: std::collections::BTreeMap<String, ToolOverride>,
    #[serde(default)]
    mirrors: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    images: ImagesSection,
    /// The repository's overrides (`[services."path"]`, `ignore`): read by the analysis
    /// (`override_layers`), not by the settings.
    #[serde(default, rename = "services")]
    _services: Option<toml::Value>,
    #[serde(default, rename = "ignore")]
    _ignore: Option<toml::Value>,
}

/// One `[tools]` entry: a tag, or the parts of the row to replace.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ToolOverride {
    Tag(String),
    Row(ToolRow),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolRow {
    image: Option<String>,
    tag: Option<String>,
    upstream: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImagesSection {
    registry: Option<String>,
    pull_registry: Option<String>,
    username: Option<String>,
    mirrors: Option<String>,
    insecure: Option<bool>,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    upstream: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrySection {
    pull: Option<String>,
    internal: Option<String>,
    base_default: Option<String>,
    image_path: Option<String>,
    insecure: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateSection {
    image_name: Option<String>,
    skip_stages: Option<Vec<String>>,
    semgrep_rules: Option<String>,
    replace_dockerfile: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateSection {
    allowed_hosts: Option<Vec<String>>,
}

/// Flags shared by the commands that generate or validate pipelines.
#[derive(Debug, Clone, Args, Default)]
pub struct SettingsArgs {
    /// A pipewright.toml to read (default: ./pipewright.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: SettingsOverrides,
}

/// Settings that override the file and the environment: the CLI's flags, and the `settings`
/// object of the service's generate request.
#[derive(Debug, Clone, Args, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsOverrides {
    /// Registry written into job images (default `$NEXUS_PULL_REGISTRY`).
    #[arg(long, value_name = "REGISTRY")]
    #[serde(default)]
    pub pull_registry: Option<String>,
    /// Registry Kaniko pushes to (default `$NEXUS_INTERNAL_REGISTRY`).
    #[arg(long, value_name = "REGISTRY")]
    #[serde(default)]
    pub internal_registry: Option<String>,
    /// Image path template with {registry}, {image} and {tag}.
    #[arg(long, value_name = "TEMPLATE")]
    #[serde(default)]
    pub image_path: Option<String>,
    /// Name of the application image (default: the repository's name).
    #[arg(long, value_name = "NAME")]
    #[serde(default)]
    pub image_name: Option<String>,
    /// Leave a stage out (repeatable): compile, build, test, sast, quality, security, push, notify, learn.
    #[arg(long = "skip-stage", value_name = "STAGE")]
    #[serde(default)]
    pub skip_stages: Vec<String>,
    /// Hosts credentials may be sent to, besides the configured services (repeatable).
    #[arg(long = "allow-host", value_name = "HOST")]
    #[serde(default)]
    pub allow_hosts: Vec<String>,
}

/// What was wrong with the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a valid pipewright.toml: {reason}")]
    Parse { path: String, reason: String },
    #[error("unknown stage `{0}` in skip_stages; the stages are compile, build, test, sast, quality, security, push, notify, learn")]
    Stage(String),
    #[error("setting {0}")]
    Setting(#[from] pipewright_core::generate::SettingError),
    #[error("allow_hosts: {0}")]
    AllowHost(String),
    #[error(transparent)]
    Tool(#[from] pipewright_core::generate::tools::UnknownTool),
    #[error(transparent)]
    Mirror(#[from] pipewright_core::generate::mirrors::MirrorError),
    #[error("{0}")]
    Images(String),
}

/// Settings for the generator plus the validator's extra allowed hosts.
#[derive(Debug, Clone)]
pub struct Settings {
    pub generator: GeneratorSettings,
    pub allowed_hosts: Vec<String>,
    pub images: ImagesConfig,
}

/// The registry seeding's configuration (`[images]`, then the seed's environment names).
#[derive(Debug, Clone, Default)]
pub struct ImagesConfig {
    pub registry: Option<String>,
    pub pull_registry: Option<String>,
    pub username: Option<String>,
    /// Only from `NEXUS_PASSWORD`; never printed (its `Debug` is masked).
    pub password: Option<pipewright_adapters::registry::Secret>,
    pub mirrors: Vec<pipewright_core::images::Mirror>,
    pub insecure: bool,
    pub ca_file: Option<PathBuf>,
    pub upstream: Vec<pipewright_core::images::UpstreamEntry>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The user's config folder's `pipewright.toml` (`$XDG_CONFIG_HOME/pipewright/`, else
/// `~/.config/pipewright/`), when it exists.
pub fn user_config_file() -> Option<PathBuf> {
    let base = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("pipewright").join("pipewright.toml")).filter(|p| p.is_file())
}

/// The override layers around the repository's own `pipewright.toml`: the user's config
/// folder below it, `--config FILE` above it. A wrong value is an error naming the key.
pub fn override_layers(
    config: Option<&Path>,
) -> Result<pipewright_workflow::analyze::OverrideLayers, ConfigError> {
    let read = |path: &Path| -> Result<pipewright_core::overrides::Overrides, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        pipewright_core::overrides::Overrides::from_toml(&text, &path.display().to_string())
            .map_err(|e| ConfigError::Parse {
                path: path.display().to_string(),
                reason: format!("{}: {}", e.key, e.reason),
            })
    };
    Ok(pipewright_workflow::analyze::OverrideLayers {
        user: user_config_file().as_deref().map(read).transpose()?,
        explicit: config.map(read).transpose()?,
    })
}

/// Builds the settings from defaults, file, environment and flags.
pub fn load(args: &SettingsArgs) -> Result<Settings, ConfigError> {
    let mut settings = load_base(args.config.as_deref())?;
    apply(&mut settings, &args.overrides)?;
    Ok(settings)
}

/// The settings from defaults, the file (`config`, else `./pipewright.toml` when it exists)
/// and the environment, before any override.
pub fn load_base(config: Option<&Path>) -> Result<Settings, ConfigError> {
    let mut g = GeneratorSettings::default();
    let mut allowed_hosts = Vec::new();
    let mut images = ImagesConfig::default();
    let mut images_file = ImagesSection::default();
    let path = match config {
        Some(p) => Some(p.to_path_buf()),
        None => Some(PathBuf::from("pipewright.toml")).filter(|p| p.exists()),
    };
    // Mirrors from the environment apply to every repository; the file's values win.
    for (_, key, var, _) in MIRRORS {
        if let Some(v) = env(var) {
            g.mirrors.set(key, &v)?;
        }
    }
    if let Some(path) = path {
        let file = read_file(&path)?;
        let r = file.registry;
        if let Some(v) = r.pull {
            g.pull_registry = v;
        }
        if let Some(v) = r.internal {
            g.internal_registry = v;
        }
        if let Some(v) = r.base_default {
            g.base_registry_default = v;
        }
        if let Some(v) = r.image_path {
            g.image_path = v;
        }
        if let Some(v) = r.insecure {
            g.registry_insecure = v;
        }
        let gen = file.generate;
        if let Some(v) = gen.image_name {
            g.image_name = Some(v);
        }
        if let Some(v) = gen.semgrep_rules {
            g.semgrep_rules = v;
        }
        if let Some(v) = gen.replace_dockerfile {
            g.replace_dockerfile = v;
        }
        for s in gen.skip_stages.unwrap_or_default() {
            g.skip_stages
                .push(Stage::parse(&s).ok_or(ConfigError::Stage(s))?);
        }
        allowed_hosts.extend(file.validate.allowed_hosts.unwrap_or_default());
        for (key, value) in file.tools {
            let tool = ToolImages::tool_for_key(&key)?;
            match value {
                ToolOverride::Tag(tag) => g.tools.set(tool, None, Some(tag), None),
                ToolOverride::Row(r) => g.tools.set(tool, r.image, r.tag, r.upstream),
            }
        }
        for (key, value) in &file.mirrors {
            g.mirrors.set(key, value)?;
        }
        images_file = file.images;
    }
    images.registry = env("NEXUS_REGISTRY").or(images_file.registry);
    images.pull_registry = env("NEXUS_PULL_REGISTRY").or(images_file.pull_registry);
    images.username = env("NEXUS_USERNAME").or(images_file.username);
    images.password = env("NEXUS_PASSWORD").map(pipewright_adapters::registry::Secret::new);
    if let Some(m) = env("PIPEWRIGHT_REGISTRY_MIRRORS").or(images_file.mirrors) {
        images.mirrors = pipewright_core::images::Mirror::parse_list(&m)
            .map_err(|e| ConfigError::Images(format!("PIPEWRIGHT_REGISTRY_MIRRORS: {e}")))?;
    }
    images.insecure = match env("PIPEWRIGHT_REGISTRY_INSECURE") {
        Some(v) => matches!(v.trim(), "1" | "true" | "yes"),
        None => images_file.insecure.unwrap_or(false),
    };
    images.ca_file = env("PIPEWRIGHT_REGISTRY_CA_FILE")
        .map(PathBuf::from)
        .or(images_file.ca_file);
    images.upstream = images_file
        .upstream
        .into_iter()
        .map(|(image, source)| pipewright_core::images::UpstreamEntry { image, source })
        .collect();
    // The concrete internal registry (pipewright's own environment) is the best default for
    // builds outside CI; inside CI the job passes $NEXUS_INTERNAL_REGISTRY.
    if let Some(v) = env("NEXUS_INTERNAL_REGISTRY").or_else(|| env("NEXUS_REGISTRY")) {
        g.base_registry_default = v;
    }
    if let Some(v) = env("PIPEWRIGHT_IMAGE_PATH") {
        g.image_path = v;
    }
    Ok(Settings {
        generator: g,
        allowed_hosts,
        images,
    })
}

/// Applies the overrides, then checks every generator setting (`GeneratorSettings::check`).
pub fn apply(settings: &mut Settings, o: &SettingsOverrides) -> Result<(), ConfigError> {
    let g = &mut settings.generator;
    if let Some(v) = &o.pull_registry {
        g.pull_registry = v.clone();
    }
    if let Some(v) = &o.internal_registry {
        g.internal_registry = v.clone();
    }
    if let Some(v) = &o.image_path {
        g.image_path = v.clone();
    }
    if let Some(v) = &o.image_name {
        g.image_name = Some(v.clone());
    }
    for s in &o.skip_stages {
        let stage = Stage::parse(s).ok_or_else(|| ConfigError::Stage(s.clone()))?;
        if !g.skip_stages.contains(&stage) {
            g.skip_stages.push(stage);
        }
    }
    for host in &o.allow_hosts {
        if host.trim().is_empty()
            || host.len() > MAX_HOST_CHARS
            || host.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(ConfigError::AllowHost(format!(
                "`{}` is not a host name: give `host` or `host:port`, at most {MAX_HOST_CHARS} characters, without spaces or control characters",
                host.chars().take(80).collect::<String>().escape_debug()
            )));
        }
    }
    settings.allowed_hosts.extend(o.allow_hosts.iter().cloned());
    settings.generator.check()?;
    Ok(())
}

/// The largest `pipewright.toml` read (a real one is a few KiB).
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The longest host name DNS allows.
const MAX_HOST_CHARS: usize = 253;

impl ConfigError {
    /// The setting at fault, as the service's request spells it inside `settings`, when the
    /// error is about one.
    pub fn setting(&self) -> Option<&'static str> {
        match self {
            ConfigError::Setting(e) => Some(e.setting),
            ConfigError::Stage(_) => Some("skip_stages"),
            ConfigError::AllowHost(_) => Some("allow_hosts"),
            _ => None,
        }
    }
}

fn read_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    let shown = path.display().to_string();
    let text =
        pipewright_adapters::regular_file::read_text(path, MAX_CONFIG_BYTES).map_err(|e| {
            ConfigError::Read {
                path: shown.clone(),
                reason: format!("the file {e}"),
            }
        })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: shown,
        reason: e.message().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipewright_core::generate::Tool;

    fn load_text(text: &str) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pipewright.toml");
        std::fs::write(&path, text).expect("write");
        load_base(Some(&path))
    }

    #[test]
    fn tools_are_overridden_by_tag_or_by_row() {
        let s = load_text(
            "[tools]\ntrivy = \"0.75.0\"\ncrane = { tag = \"v0.23.0\", upstream = \"registry.example.com/crane/debug\" }\n",
        )
        .expect("valid");
        let tools = &s.generator.tools;
        assert_eq!(
            tools.get(Tool::Trivy).upstream_ref(),
            "docker.io/aquasec/trivy:0.75.0"
        );
        assert_eq!(
            tools.get(Tool::Crane).upstream_ref(),
            "registry.example.com/crane/debug:v0.23.0"
        );
        assert!(matches!(
            load_text("[tools]\ndocker = \"27\"\n"),
            Err(ConfigError::Tool(_))
        ));
    }

    #[test]
    fn tls_is_verified_unless_insecure_is_set() {
        assert!(!load_text("").expect("valid").generator.registry_insecure);
        assert!(
            load_text("[registry]\ninsecure = true\n")
                .expect("valid")
                .generator
                .registry_insecure
        );
    }

    #[test]
    fn a_mirror_with_credentials_is_refused() {
        let err =
            load_text("[mirrors]\npypi = \"https://ci:hunter22@nexus.example.com/pypi/simple\"\n")
                .expect_err("refused");
        assert!(!err.to_string().contains("hunter22"), "{err}");
        assert!(load_text("[mirrors]\npypi = \"$NEXUS_PYPI_URL\"\n").is_ok());
    }
}
