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
//! insecure = true
//! [generate]
//! image_name = "shop"
//! skip_stages = ["sast"]
//! semgrep_rules = "p/default"
//! replace_dockerfile = false
//! [validate]
//! allowed_hosts = ["hooks.example.com"]
//! ```

use clap::Args;
use pipewright_core::generate::GeneratorSettings;
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
    /// Registry written into job images (default `$NEXUS_PULL_REGISTRY`).
    #[arg(long, value_name = "REGISTRY")]
    pub pull_registry: Option<String>,
    /// Registry Kaniko pushes to (default `$NEXUS_INTERNAL_REGISTRY`).
    #[arg(long, value_name = "REGISTRY")]
    pub internal_registry: Option<String>,
    /// Image path template with {registry}, {image} and {tag}.
    #[arg(long, value_name = "TEMPLATE")]
    pub image_path: Option<String>,
    /// Name of the application image (default: the repository's name).
    #[arg(long, value_name = "NAME")]
    pub image_name: Option<String>,
    /// Leave a stage out (repeatable): compile, build, test, sast, quality, security, push, notify, learn.
    #[arg(long = "skip-stage", value_name = "STAGE")]
    pub skip_stages: Vec<String>,
    /// Hosts credentials may be sent to, besides the configured services (repeatable).
    #[arg(long = "allow-host", value_name = "HOST")]
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
    #[error("the image path template `{0}` must contain {{registry}}, {{image}} and {{tag}}")]
    ImagePath(String),
}

/// Settings for the generator plus the validator's extra allowed hosts.
#[derive(Debug, Clone)]
pub struct Settings {
    pub generator: GeneratorSettings,
    pub allowed_hosts: Vec<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Builds the settings from defaults, file, environment and flags.
pub fn load(args: &SettingsArgs) -> Result<Settings, ConfigError> {
    let mut g = GeneratorSettings::default();
    let mut allowed_hosts = Vec::new();
    let path = match &args.config {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from("pipewright.toml")).filter(|p| p.exists()),
    };
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
    }
    // The concrete internal registry (pipewright's own environment) is the best default for
    // builds outside CI; inside CI the job passes $NEXUS_INTERNAL_REGISTRY.
    if let Some(v) = env("NEXUS_INTERNAL_REGISTRY").or_else(|| env("NEXUS_REGISTRY")) {
        g.base_registry_default = v;
    }
    if let Some(v) = env("PIPEWRIGHT_IMAGE_PATH") {
        g.image_path = v;
    }
    if let Some(v) = &args.pull_registry {
        g.pull_registry = v.clone();
    }
    if let Some(v) = &args.internal_registry {
        g.internal_registry = v.clone();
    }
    if let Some(v) = &args.image_path {
        g.image_path = v.clone();
    }
    if let Some(v) = &args.image_name {
        g.image_name = Some(v.clone());
    }
    for s in &args.skip_stages {
        let stage = Stage::parse(s).ok_or_else(|| ConfigError::Stage(s.clone()))?;
        if !g.skip_stages.contains(&stage) {
            g.skip_stages.push(stage);
        }
    }
    allowed_hosts.extend(args.allow_hosts.iter().cloned());
    if !["{registry}", "{image}", "{tag}"]
        .iter()
        .all(|p| g.image_path.contains(p))
    {
        return Err(ConfigError::ImagePath(g.image_path));
    }
    Ok(Settings {
        generator: g,
        allowed_hosts,
    })
}

fn read_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: shown,
        reason: e.message().to_string(),
    })
}
