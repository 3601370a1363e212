//! Services a compose file builds from a folder that holds a Dockerfile and scripts but no
//! manifest of any ecosystem: the Dockerfile's base image says the language, its `EXPOSE` the
//! port; the image is built from the repository's own Dockerfile and nothing is installed,
//! compiled or tested by pipewright's recipes.

use super::compose::ComposeFacts;
use super::{Candidate, DirContext, PortOrigin};
use crate::stack::{Language, Role};

/// Base image name (last path segment, before the tag) → the language of what it runs, and
/// the runtime name versions use.
const BASE_IMAGES: &[(&str, Language, &str)] = &[
    ("python", Language::Python, "python"),
    ("node", Language::JavaScript, "node"),
    ("bun", Language::JavaScript, "node"),
    ("golang", Language::Go, "go"),
    ("ruby", Language::Ruby, "ruby"),
    ("php", Language::Php, "php"),
    ("rust", Language::Rust, "rust"),
    ("elixir", Language::Elixir, "elixir"),
    ("openjdk", Language::Java, "java"),
    ("eclipse-temurin", Language::Java, "java"),
    ("amazoncorretto", Language::Java, "java"),
    ("maven", Language::Java, "java"),
    ("gradle", Language::Java, "java"),
    ("aspnet", Language::CSharp, "dotnet"),
    ("sdk", Language::CSharp, "dotnet"),
    ("runtime", Language::CSharp, "dotnet"),
];

/// The first `FROM` image's name and tag (`python:3.12-slim` → `python`, `3.12-slim`).
fn base_image(text: &str) -> Option<(String, String)> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.len() > 5 && l[..5].eq_ignore_ascii_case("FROM "))?;
    let image = line[5..]
        .split_whitespace()
        .find(|w| !w.starts_with("--"))?
        .split('@')
        .next()?
        .to_string();
    let (name, tag) = match image.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n.to_string(), t.to_string()),
        _ => (image.clone(), String::new()),
    };
    let last = name.rsplit('/').next().unwrap_or(&name).to_string();
    Some((last, tag))
}

/// A service for a compose-built folder without a manifest, or `None` (with a warning) when
/// its Dockerfile is missing or its base image names no supported language.
pub fn from_dockerfile(
    ctx: &DirContext<'_>,
    facts: &ComposeFacts,
    warnings: &mut Vec<String>,
) -> Option<Candidate> {
    let (name, compose_file, dockerfile) = facts.built_by.first()?;
    let path = ctx.path(dockerfile);
    let Some(text) = ctx.index.text(&path) else {
        warnings.push(format!(
            "{compose_file}: service `{name}` builds {} from {dockerfile}, which is not in the repository; not a service",
            ctx.display()
        ));
        return None;
    };
    let Some((image, tag)) = base_image(text) else {
        warnings.push(format!("{path}: no FROM line; `{name}` is not a service"));
        return None;
    };
    let Some((_, language, runtime)) = BASE_IMAGES.iter().find(|(i, _, _)| *i == image) else {
        warnings.push(format!(
            "{path}: base image `{image}` names no supported language; compose service `{name}` is left out (set it in pipewright.toml to include it)"
        ));
        return None;
    };
    let mut c = Candidate::new(*language, runtime);
    c.note(
        "language",
        &path,
        format!("compose service `{name}` ({compose_file}) builds this folder from its Dockerfile alone; base image `{image}` runs {language}"),
    );
    let version: String = tag
        .chars()
        .take_while(|ch| ch.is_ascii_digit() || *ch == '.')
        .collect();
    if !version.is_empty() && *runtime != "dotnet" {
        c.add_version(
            runtime,
            version.trim_end_matches('.'),
            format!("{path} (FROM {image}:{tag})"),
        );
    }
    if let Some(port) = text
        .lines()
        .map(str::trim)
        .find(|l| l.len() > 7 && l[..7].eq_ignore_ascii_case("EXPOSE "))
        .and_then(|l| l[7..].split_whitespace().next())
        .and_then(|p| p.split('/').next()?.parse::<u16>().ok())
    {
        c.set_port_from(
            PortOrigin::Dockerfile,
            port,
            &path,
            format!("EXPOSE {port}"),
        );
    }
    c.set_role(
        Role::Application,
        &path,
        format!("built by compose service `{name}` from its Dockerfile (no manifest)"),
    );
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_from_image_is_named_without_registry_or_tag() {
        assert_eq!(
            base_image(
                "# c\nFROM --platform=linux/amd64 docker.io/library/python:3.12-slim AS base\n"
            ),
            Some(("python".into(), "3.12-slim".into()))
        );
        assert_eq!(
            base_image("FROM nginx\n"),
            Some(("nginx".into(), String::new()))
        );
    }
}
