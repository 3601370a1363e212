//! Typed image references: `registry/repository[:tag][@digest]`, parsed the way Docker does
//! (a first component with a `.` or `:`, or `localhost`, is a registry; Docker Hub names get
//! `docker.io` and official images `library/`).

use serde::Serialize;
use std::fmt;

/// Docker Hub's canonical registry name.
pub const DOCKER_HUB: &str = "docker.io";

/// A parsed image reference. `registry` is always set (Docker Hub is `docker.io`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

/// A content digest, `algorithm:hex` (`sha256:…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<64 hex>` (and `sha512:<128 hex>`), the algorithms registries accept.
    pub fn parse(text: &str) -> Result<Digest, RefError> {
        let (alg, hex) = text
            .split_once(':')
            .ok_or_else(|| RefError::Digest(text.to_string()))?;
        let len = match alg {
            "sha256" => 64,
            "sha512" => 128,
            _ => return Err(RefError::Digest(text.to_string())),
        };
        if hex.len() != len || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(RefError::Digest(text.to_string()));
        }
        Ok(Digest(text.to_string()))
    }

    /// The SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        let sum = sha2::Sha256::digest(bytes);
        let mut s = String::with_capacity(71);
        s.push_str("sha256:");
        for b in sum.iter() {
            s.push_str(&format!("{b:02x}"));
        }
        Digest(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a reference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("`{0}` is not an image reference: it is empty")]
    Empty(String),
    #[error("`{0}` still holds a variable (`$`); expand it first")]
    Unexpanded(String),
    #[error("`{reference}` has an invalid repository name `{repository}`: use lowercase letters, digits and . _ - separated by /")]
    Repository {
        reference: String,
        repository: String,
    },
    #[error("`{reference}` has an invalid tag `{tag}`: up to 128 of letters, digits, _ . -, not starting with . or -")]
    Tag { reference: String, tag: String },
    #[error("`{0}` is not a digest: expected sha256:<64 hex digits>")]
    Digest(String),
}

impl ImageRef {
    /// Parses a reference as written in a pipeline or a Dockerfile.
    pub fn parse(text: &str) -> Result<ImageRef, RefError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(RefError::Empty(text.to_string()));
        }
        if text.contains('$') {
            return Err(RefError::Unexpanded(text.to_string()));
        }
        let (name_tag, digest) = match text.split_once('@') {
            Some((n, d)) => (n, Some(Digest::parse(d)?)),
            None => (text, None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(&name_tag[last_slash + i + 1..]),
            ),
            None => (name_tag, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_ascii_lowercase(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
                DOCKER_HUB.to_string()
            }
            _ => registry,
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if !valid_repository(&repository) {
            return Err(RefError::Repository {
                reference: text.to_string(),
                repository,
            });
        }
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(RefError::Tag {
                    reference: text.to_string(),
                    tag: t.to_string(),
                });
            }
        }
        Ok(ImageRef {
            registry,
            repository,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// What a registry's `/manifests/<reference>` takes: the digest when pinned, else the tag
    /// (`latest` when none is written, as Docker does).
    pub fn reference(&self) -> &str {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.as_str(),
            (None, Some(t)) => t,
            (None, None) => "latest",
        }
    }

    /// The same image in another registry and repository, tag and digest kept.
    pub fn relocated(&self, registry: &str, repository: &str) -> ImageRef {
        ImageRef {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: self.tag.clone(),
            digest: self.digest.clone(),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn valid_repository(repo: &str) -> bool {
    !repo.is_empty()
        && repo.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
                && c.as_bytes()[0].is_ascii_alphanumeric()
                && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
        })
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && (tag.as_bytes()[0].is_ascii_alphanumeric() || tag.as_bytes()[0] == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_official_images_get_library() {
        let r = ImageRef::parse("python:3.12-slim").unwrap();
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/python");
        assert_eq!(r.tag.as_deref(), Some("3.12-slim"));
        assert_eq!(r.to_string(), "docker.io/library/python:3.12-slim");
        let r = ImageRef::parse("index.docker.io/semgrep/semgrep").unwrap();
        assert_eq!(r.to_string(), "docker.io/semgrep/semgrep");
        assert_eq!(r.reference(), "latest");
    }

    #[test]
    fn registry_with_port_and_nested_path() {
        let r = ImageRef::parse("nexus:5001/apm-repo/demo/python:3.12-slim").unwrap();
        assert_eq!(r.registry, "nexus:5001");
        assert_eq!(r.repository, "apm-repo/demo/python");
        let r = ImageRef::parse("localhost/x/y").unwrap();
        assert_eq!(r.registry, "localhost");
        assert_eq!(r.tag, None);
    }

    #[test]
    fn digest_pins_win_over_tags() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("gcr.io/distroless/static:nonroot@{d}")).unwrap();
        assert_eq!(r.reference(), d);
        assert_eq!(r.tag.as_deref(), Some("nonroot"));
        assert!(ImageRef::parse("x@sha256:abc").is_err());
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        assert!(matches!(
            ImageRef::parse("$NEXUS/python:3"),
            Err(RefError::Unexpanded(_))
        ));
        assert!(matches!(
            ImageRef::parse("Nexus/Python:3"),
            Err(RefError::Repository { .. })
        ));
        assert!(matches!(
            ImageRef::parse("python:-x"),
            Err(RefError::Tag { .. })
        ));
        assert!(matches!(ImageRef::parse("  "), Err(RefError::Empty(_))));
    }

    #[test]
    fn sha256_of_bytes() {
        assert_eq!(
            Digest::sha256_of(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
