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

/// Stages in which every service gets a job, library or application, with or without an image:
/// a pipeline must keep at least one of them or it would have no job at all.
pub const STAGES_EVERY_SERVICE_HAS: [Stage; 6] = [
    Stage::Compile,
    Stage::Test,
    Stage::Sast,
    Stage::Quality,
    Stage::Notify,
    Stage::Learn,
];

/// The longest registry, image path or image name accepted (registries limit a whole
/// reference to 255 characters).
pub const MAX_SETTING_CHARS: usize = 255;

/// Values the image path template is filled with to check that it makes an image reference.
const PROBE_REGISTRY: &str = "registry.example.com:5000";
const PROBE_IMAGE: &str = "app";
const PROBE_TAG: &str = "1.0.0";

/// A generator setting that cannot make a valid pipeline, named by its setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {reason}")]
pub struct SettingError {
    /// The setting's name as the request's `settings` object spells it (`image_path`).
    pub setting: &'static str,
    pub reason: String,
}

fn refuse(setting: &'static str, reason: impl Into<String>) -> SettingError {
    SettingError {
        setting,
        reason: reason.into(),
    }
}

/// A value as shown in a message: escaped, and cut to 80 characters.
fn shown(value: &str) -> String {
    let escaped: String = value.escape_debug().collect();
    match escaped.char_indices().nth(80) {
        Some((i, _)) => format!("`{}…`", &escaped[..i]),
        None => format!("`{escaped}`"),
    }
}

impl GeneratorSettings {
    /// Checks every setting before anything is generated, so that a bad one is refused naming
    /// it instead of making a pipeline the validator rejects: registries are a host (with a
    /// port and a path) or one CI variable, the image path template makes an image reference
    /// with `{registry}` as its registry, and the skipped stages leave every service a job.
    pub fn check(&self) -> Result<(), SettingError> {
        check_registry("pull_registry", &self.pull_registry)?;
        check_registry("internal_registry", &self.internal_registry)?;
        check_registry("base_registry_default", &self.base_registry_default)?;
        check_image_path(&self.image_path)?;
        if let Some(name) = &self.image_name {
            check_plain("image_name", name)?;
        }
        if STAGES_EVERY_SERVICE_HAS
            .iter()
            .all(|st| self.skip_stages.contains(st))
        {
            let kept: Vec<&str> = STAGES_EVERY_SERVICE_HAS
                .iter()
                .map(|s| s.as_str())
                .collect();
            return Err(refuse(
                "skip_stages",
                format!(
                    "these stages leave a service no job at all (a library has no build, security or push job); keep at least one of {}",
                    kept.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// Not empty, not too long, no whitespace or control character.
fn check_plain(setting: &'static str, value: &str) -> Result<(), SettingError> {
    if value.trim().is_empty() {
        return Err(refuse(setting, "it is empty"));
    }
    if value.chars().count() > MAX_SETTING_CHARS {
        return Err(refuse(
            setting,
            format!("it is longer than {MAX_SETTING_CHARS} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refuse(
            setting,
            format!(
                "{} holds a space, a line break or a control character",
                shown(value)
            ),
        ));
    }
    Ok(())
}

/// A CI variable (`$NAME`, `${NAME}`) or `host[:port][/path]`, without a scheme.
fn check_registry(setting: &'static str, value: &str) -> Result<(), SettingError> {
    check_plain(setting, value)?;
    let variable = value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .or_else(|| value.strip_prefix('$'));
    if let Some(name) = variable {
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        return if valid {
            Ok(())
        } else {
            Err(refuse(
                setting,
                format!(
                    "{} is not one CI variable; write `$NAME` or `${{NAME}}` (letters, digits, `_`)",
                    shown(value)
                ),
            ))
        };
    }
    if value.contains("://") {
        return Err(refuse(
            setting,
            format!(
                "{} has a scheme; give the registry as `host[:port]`, e.g. `nexus.example.com:5001`",
                shown(value)
            ),
        ));
    }
    let (authority, path) = value.split_once('/').unwrap_or((value, ""));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    let path_ok = path.is_empty()
        || path.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        });
    if host_ok && port_ok && path_ok {
        Ok(())
    } else {
        Err(refuse(
            setting,
            format!(
                "{} is not a registry; write `host[:port]` (e.g. `nexus.example.com:5001`), optionally with a lowercase path, or a CI variable such as `$NEXUS_PULL_REGISTRY`",
                shown(value)
            ),
        ))
    }
}

/// Filled with a probe registry, image and tag, the template must parse as an image reference
/// whose registry is the probe registry and whose tag is the probe tag.
fn check_image_path(template: &str) -> Result<(), SettingError> {
    check_plain("image_path", template)?;
    let missing: Vec<&str> = ["{registry}", "{image}", "{tag}"]
        .into_iter()
        .filter(|p| !template.contains(p))
        .collect();
    if !missing.is_empty() {
        return Err(refuse(
            "image_path",
            format!(
                "the template {} lacks {}; it must hold {{registry}}, {{image}} and {{tag}}, as in `{{registry}}/apm-repo/demo/{{image}}:{{tag}}`",
                shown(template),
                missing.join(", ")
            ),
        ));
    }
    if template.contains("://") {
        return Err(refuse(
            "image_path",
            format!(
                "the template {} has a scheme; image references have none: `{{registry}}/group/{{image}}:{{tag}}`",
                shown(template)
            ),
        ));
    }
    let probe = template
        .replace("{registry}", PROBE_REGISTRY)
        .replace("{image}", PROBE_IMAGE)
        .replace("{tag}", PROBE_TAG);
    let parsed = crate::images::ImageRef::parse(&probe);
    let makes_reference = parsed.as_ref().is_ok_and(|r| {
        r.registry == PROBE_REGISTRY
            && r.tag.as_deref() == Some(PROBE_TAG)
            && r.repository.contains(PROBE_IMAGE)
    });
    if makes_reference {
        Ok(())
    } else {
        let why = match parsed {
            Err(e) => e.to_string(),
            Ok(_) => format!(
                "it does not start with `{{registry}}/` or does not end with `:{{tag}}` (filled in: `{probe}`)"
            ),
        };
        Err(refuse(
            "image_path",
            format!(
                "the template {} does not make an image reference ({why}); separate the parts as in `{{registry}}/apm-repo/demo/{{image}}:{{tag}}`",
                shown(template)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(change: impl FnOnce(&mut GeneratorSettings)) -> Result<(), SettingError> {
        let mut s = GeneratorSettings::default();
        change(&mut s);
        s.check()
    }

    #[test]
    fn the_defaults_and_ordinary_settings_pass() {
        assert_eq!(GeneratorSettings::default().check(), Ok(()));
        assert_eq!(
            with(|s| {
                s.pull_registry = "nexus.example.com:5002".into();
                s.internal_registry = "${NEXUS_INTERNAL_REGISTRY}".into();
                s.base_registry_default = "10.0.0.5:5001/mirror".into();
                s.image_path = "{registry}/{image}:{tag}".into();
                s.image_name = Some("shop".into());
                s.skip_stages = vec![
                    Stage::Sast,
                    Stage::Compile,
                    Stage::Test,
                    Stage::Quality,
                    Stage::Notify,
                ];
            }),
            Ok(())
        );
    }

    #[test]
    fn bad_settings_are_refused_naming_the_setting() {
        type Change = Box<dyn FnOnce(&mut GeneratorSettings)>;
        let cases: Vec<(&str, Change)> = vec![
            (
                "image_path",
                Box::new(|s| s.image_path = "noseps{registry}{image}{tag}".into()),
            ),
            (
                "image_path",
                Box::new(|s| s.image_path = "https://{registry}/{image}:{tag}".into()),
            ),
            (
                "image_path",
                Box::new(|s| s.image_path = "{registry}/{image}".into()),
            ),
            (
                "image_path",
                Box::new(|s| s.image_path = "{registry}/{image}-{tag}".into()),
            ),
            (
                "image_path",
                Box::new(|s| s.image_path = "{registry}/A B/{image}:{tag}".into()),
            ),
            (
                "pull_registry",
                Box::new(|s| s.pull_registry = "a\nb".into()),
            ),
            (
                "pull_registry",
                Box::new(|s| s.pull_registry = "https://nexus:5001".into()),
            ),
            (
                "pull_registry",
                Box::new(|s| s.pull_registry = String::new()),
            ),
            (
                "internal_registry",
                Box::new(|s| s.internal_registry = "$NEXUS REG".into()),
            ),
            (
                "internal_registry",
                Box::new(|s| s.internal_registry = "${A-B}".into()),
            ),
            (
                "internal_registry",
                Box::new(|s| s.internal_registry = "nexus:99999".into()),
            ),
            (
                "base_registry_default",
                Box::new(|s| s.base_registry_default = "x".repeat(300)),
            ),
            (
                "image_name",
                Box::new(|s| s.image_name = Some("a\u{1b}]0;x".into())),
            ),
            (
                "skip_stages",
                Box::new(|s| s.skip_stages = Stage::ALL.to_vec()),
            ),
            (
                "skip_stages",
                Box::new(|s| s.skip_stages = STAGES_EVERY_SERVICE_HAS.to_vec()),
            ),
        ];
        for (setting, change) in cases {
            let e = with(change).expect_err(setting);
            assert_eq!(e.setting, setting, "{e}");
            assert!(!e.reason.contains('\n'), "a refusal is one line: {e}");
        }
    }

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
