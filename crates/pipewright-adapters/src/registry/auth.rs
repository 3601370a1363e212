//! Registry authentication: every `WWW-Authenticate` challenge is parsed (several per header
//! and several headers), and the client answers the one it can: the Bearer token flow
//! (Docker Hub, GitLab, Nexus with its token realm), Basic (Nexus's default), or nothing
//! (anonymous pulls). Credentials are only ever sent to the registry they were configured for
//! and to the token realm that registry names.

use std::fmt;

/// A password or token that never shows in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A user name and password for one registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

/// One challenge a registry answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Every challenge the `WWW-Authenticate` header values hold, in order; schemes pipewright
/// cannot answer (Digest, Negotiate…) are left out.
pub fn parse_challenges<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in values {
        let Ok(challenges) = http_auth::parse_challenges(value) else {
            continue;
        };
        for c in challenges {
            let param = |name: &str| {
                c.params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_unescaped())
            };
            if c.scheme.eq_ignore_ascii_case("basic") {
                out.push(Challenge::Basic);
            } else if c.scheme.eq_ignore_ascii_case("bearer") {
                if let Some(realm) = param("realm") {
                    out.push(Challenge::Bearer {
                        realm,
                        service: param("service"),
                        scope: param("scope"),
                    });
                }
            }
        }
    }
    out
}

/// A token endpoint's answer (`token` or `access_token`).
#[derive(Debug, serde::Deserialize)]
pub struct TokenAnswer {
    pub token: Option<String>,
    pub access_token: Option<String>,
    pub expires_in: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_challenges_in_one_header_and_across_headers() {
        let c = parse_challenges([
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull""#,
            r#"Basic realm="Sonatype Nexus Repository Manager", Negotiate"#,
        ]);
        assert_eq!(
            c,
            vec![
                Challenge::Bearer {
                    realm: "https://auth.docker.io/token".into(),
                    service: Some("registry.docker.io".into()),
                    scope: Some("repository:library/python:pull".into()),
                },
                Challenge::Basic
            ]
        );
    }

    #[test]
    fn bearer_without_realm_is_ignored() {
        assert!(parse_challenges(["Bearer service=\"x\""]).is_empty());
    }

    #[test]
    fn secrets_do_not_print() {
        let c = Credentials {
            username: "u".into(),
            password: Secret::new("hunter2"),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
