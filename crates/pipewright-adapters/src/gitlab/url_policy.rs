//! Which URLs pipewright accepts as naming a GitLab project, decided before any connection.
//!
//! A user pastes a project URL (`https://gitlab.example.com/group/sub/app(.git)`, perhaps with
//! `/-/tree/<branch>`); [`UrlPolicy::project_from_url`] turns it into a [`ProjectLocation`]
//! only when its host is the configured GitLab (`GITLAB_URL`) or on the allow list. Everything
//! else is refused with the reason: other schemes, credentials in the URL, loopback,
//! link-local and cloud-metadata addresses, private ranges. The configured GitLab itself may
//! be any of those (a self-hosted GitLab on 10.x, the fake GitLab of the tests on 127.0.0.1):
//! the operator chose it, the user did not.
//!
//! The client never connects to the user's URL; it only takes the project path from it and
//! talks to `GITLAB_URL`. [`UrlPolicy::api_link`] keeps the one URL the client takes from a
//! server (the `Link: rel="next"` of a paginated answer) on the configured GitLab.
//!
//! ```
//! use pipewright_adapters::gitlab::UrlPolicy;
//! let policy = UrlPolicy::new("https://gitlab.example.com", &[]).unwrap();
//! let loc = policy.project_from_url("https://gitlab.example.com/team/api.git").unwrap();
//! assert_eq!(loc.project_path, "team/api");
//! assert!(policy.project_from_url("http://169.254.169.254/latest/meta-data").is_err());
//! ```

use crate::source::redact_url;
use pipewright_core::gitlab::GitLabError;
use reqwest::Url;
use std::net::{Ipv4Addr, Ipv6Addr};
use url::Host;

/// Why an address is never accepted from a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostClass {
    Loopback,
    LinkLocal,
    Metadata,
    Private,
    Unspecified,
    Multicast,
}

impl HostClass {
    fn describe(self) -> &'static str {
        match self {
            HostClass::Loopback => "a loopback address (this machine)",
            HostClass::LinkLocal => "a link-local address",
            HostClass::Metadata => "a cloud metadata address",
            HostClass::Private => "a private-network address",
            HostClass::Unspecified => "an unspecified address",
            HostClass::Multicast => "a multicast or broadcast address",
        }
    }
}

/// IPv4 ranges refused for user URLs, most specific first (the first match names the reason).
const V4_RANGES: &[([u8; 4], u8, HostClass)] = &[
    ([169, 254, 169, 254], 32, HostClass::Metadata), // AWS, GCP, Azure, OpenStack
    ([169, 254, 170, 2], 32, HostClass::Metadata),   // AWS ECS task metadata
    ([100, 100, 100, 200], 32, HostClass::Metadata), // Alibaba Cloud
    ([0, 0, 0, 0], 8, HostClass::Unspecified),
    ([127, 0, 0, 0], 8, HostClass::Loopback),
    ([169, 254, 0, 0], 16, HostClass::LinkLocal),
    ([10, 0, 0, 0], 8, HostClass::Private),
    ([172, 16, 0, 0], 12, HostClass::Private),
    ([192, 168, 0, 0], 16, HostClass::Private),
    ([100, 64, 0, 0], 10, HostClass::Private), // carrier-grade NAT
    ([198, 18, 0, 0], 15, HostClass::Private), // benchmarking
    ([224, 0, 0, 0], 4, HostClass::Multicast),
    ([240, 0, 0, 0], 4, HostClass::Multicast), // reserved, and 255.255.255.255
];

/// IPv6 ranges refused for user URLs, most specific first.
const V6_RANGES: &[([u16; 8], u8, HostClass)] = &[
    (
        [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254],
        128,
        HostClass::Metadata,
    ), // AWS IMDS over IPv6
    ([0, 0, 0, 0, 0, 0, 0, 1], 128, HostClass::Loopback),
    ([0, 0, 0, 0, 0, 0, 0, 0], 128, HostClass::Unspecified),
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, HostClass::LinkLocal),
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, HostClass::Private),
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, HostClass::Multicast),
];

/// Host names refused for user URLs (compared lowercase, without a trailing dot).
const REFUSED_NAMES: &[(&str, HostClass)] = &[
    ("localhost", HostClass::Loopback),
    ("metadata", HostClass::Metadata),
    ("metadata.google.internal", HostClass::Metadata),
    ("metadata.goog", HostClass::Metadata),
    ("instance-data", HostClass::Metadata),
    ("instance-data.ec2.internal", HostClass::Metadata),
];

/// Classifies a host; `None` means an ordinary public name or address.
pub fn classify_host(host: &Host<&str>) -> Option<HostClass> {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name.ends_with(".localhost") {
                return Some(HostClass::Loopback);
            }
            REFUSED_NAMES
                .iter()
                .find(|(refused, _)| *refused == name)
                .map(|(_, class)| *class)
        }
        Host::Ipv4(ip) => classify_v4(*ip),
        Host::Ipv6(ip) => classify_v6(*ip),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<HostClass> {
    let value = u32::from(ip);
    V4_RANGES
        .iter()
        .find(|(net, prefix, _)| {
            let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
            value & mask == u32::from(Ipv4Addr::from(*net)) & mask
        })
        .map(|(_, _, class)| *class)
}

fn classify_v6(ip: Ipv6Addr) -> Option<HostClass> {
    // An IPv4 address written as IPv6 (::ffff:a.b.c.d, or NAT64 64:ff9b::a.b.c.d) reaches the
    // IPv4 host, so it is judged as one.
    let segments = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let o = ip.octets();
        return classify_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    let value = u128::from(ip);
    V6_RANGES
        .iter()
        .find(|(net, prefix, _)| {
            let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
            value & mask == u128::from(Ipv6Addr::from(*net)) & mask
        })
        .map(|(_, _, class)| *class)
}

/// A project named by a URL the policy accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectLocation {
    /// The host as written in the URL (lowercase).
    pub host: String,
    /// `group/sub/project`, decoded, without `.git`.
    pub project_path: String,
    /// The branch or tag of a `/-/tree/<ref>` (or `/-/blob/<ref>/…`, `/-/commits/<ref>`) URL.
    pub reference: Option<String>,
}

/// An allow-list entry: a host name, with a port when one was given.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedHost {
    host: String,
    port: Option<u16>,
}

/// The configured GitLab and the other host names that may stand for it.
#[derive(Debug, Clone)]
pub struct UrlPolicy {
    base: Url,
    allowed: Vec<AllowedHost>,
}

/// Characters GitLab allows in a namespace or project path segment.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+')
}

fn refused(url: &str, reason: impl Into<String>) -> GitLabError {
    GitLabError::Refused {
        url: redact_url(url),
        reason: reason.into(),
    }
}

impl UrlPolicy {
    /// Checks the configured GitLab URL (http or https, a host, no credentials, no query) and
    /// the allow list (`host` or `host:port` entries, which may not be loopback, link-local,
    /// metadata or private addresses).
    pub fn new(gitlab_url: &str, allowed_hosts: &[String]) -> Result<Self, GitLabError> {
        let shown = redact_url(gitlab_url.trim());
        let mut base = Url::parse(gitlab_url.trim()).map_err(|e| {
            GitLabError::Config(format!(
                "GITLAB_URL `{shown}` is not a URL ({e}); set it to your GitLab's address, e.g. https://gitlab.example.com"
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(GitLabError::Config(format!(
                "GITLAB_URL `{shown}` must start with https:// or http://"
            )));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(GitLabError::Config(format!(
                "GITLAB_URL `{shown}` holds credentials; remove them and set GITLAB_TOKEN instead"
            )));
        }
        if base.host().is_none() {
            return Err(GitLabError::Config(format!(
                "GITLAB_URL `{shown}` names no host"
            )));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(GitLabError::Config(format!(
                "GITLAB_URL `{shown}` must not have a query or fragment; give only the address GitLab answers on"
            )));
        }
        // A GitLab served under a sub-path keeps it, with the trailing slash `Url::join` needs.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut allowed = Vec::with_capacity(allowed_hosts.len());
        for entry in allowed_hosts {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let without_scheme = entry.split_once("://").map_or(entry, |(_, rest)| rest);
            let parsed = Url::parse(&format!("http://{without_scheme}"))
                .ok()
                .filter(|u| u.path() == "/" && u.username().is_empty())
                .and_then(|u| {
                    u.host()
                        .map(|h| (h.to_string(), classify_host(&h), u.port()))
                });
            let Some((host, class, port)) = parsed else {
                return Err(GitLabError::Config(format!(
                    "allow-list entry `{entry}` is not a host name; write `gitlab.example.com` or `gitlab.example.com:8443`"
                )));
            };
            if let Some(class) = class {
                return Err(GitLabError::Config(format!(
                    "allow-list entry `{entry}` is {}, which is never accepted from a user; remove it",
                    class.describe()
                )));
            }
            allowed.push(AllowedHost { host, port });
        }
        Ok(UrlPolicy { base, allowed })
    }

    /// The configured GitLab, ending with `/`.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The REST API root, `<base>api/v4/`.
    pub fn api_base(&self) -> Url {
        let mut api = self.base.clone();
        api.set_path(&format!("{}api/v4/", self.base.path()));
        api
    }

    fn is_configured_host(&self, url: &Url) -> bool {
        let same_host = url.host_str().map(str::to_ascii_lowercase)
            == self.base.host_str().map(str::to_ascii_lowercase);
        // A web URL may say https:// where GITLAB_URL says http:// (TLS ended at a proxy):
        // with no explicit port on either side it is the same GitLab. An explicit port must
        // match, so another service on the same host is refused.
        let same_port = url.port_or_known_default() == self.base.port_or_known_default()
            || (url.port().is_none() && self.base.port().is_none());
        same_host && same_port
    }

    fn is_allowed_host(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        self.allowed.iter().any(|a| {
            a.host.eq_ignore_ascii_case(host)
                && a.port
                    .is_none_or(|p| Some(p) == url.port_or_known_default())
        })
    }

    /// Reads a user's project URL, refusing anything that is not the configured GitLab (or an
    /// allow-listed name for it) before any connection is made.
    pub fn project_from_url(&self, text: &str) -> Result<ProjectLocation, GitLabError> {
        let text = text.trim();
        let url = Url::parse(text).map_err(|e| {
            refused(
                text,
                format!("it is not a URL ({e}); paste the project's address from GitLab, e.g. https://gitlab.example.com/group/project"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refused(
                text,
                format!(
                    "the `{}` scheme is not accepted; give the project's https:// address",
                    url.scheme()
                ),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused(
                text,
                "the URL carries credentials; remove `user:password@`, pipewright signs in with GITLAB_TOKEN",
            ));
        }
        let Some(host) = url.host() else {
            return Err(refused(text, "the URL names no host"));
        };
        if !self.is_configured_host(&url) {
            if let Some(class) = classify_host(&host) {
                return Err(refused(
                    text,
                    format!(
                        "its host is {}, and only the configured GitLab may be one",
                        class.describe()
                    ),
                ));
            }
            if !self.is_allowed_host(&url) {
                return Err(refused(
                    text,
                    format!(
                        "its host is not the configured GitLab ({}); use a project of that GitLab, or add the host to the allow list",
                        self.base_host_port()
                    ),
                ));
            }
        }
        let (project_path, reference) = self
            .split_project_path(&url)
            .map_err(|reason| refused(text, reason))?;
        Ok(ProjectLocation {
            host: host.to_string().to_ascii_lowercase(),
            project_path,
            reference,
        })
    }

    fn base_host_port(&self) -> String {
        let host = self.base.host_str().unwrap_or_default();
        match self.base.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }

    /// Splits `/<base path>/group/sub/app(.git)/-/tree/<ref>` into the project path and ref.
    fn split_project_path(&self, url: &Url) -> Result<(String, Option<String>), String> {
        let mut segments: Vec<String> = Vec::new();
        for raw in url.path_segments().into_iter().flatten() {
            let decoded = percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| "its path is not valid UTF-8".to_string())?;
            segments.push(decoded.into_owned());
        }
        // A GitLab under a sub-path (`https://host/gitlab/`) has it before the project path.
        let base_segments: Vec<&str> = self
            .base
            .path_segments()
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect();
        if self.is_configured_host(url) && segments.len() >= base_segments.len() {
            let prefix_matches = segments.iter().zip(&base_segments).all(|(a, b)| a == b);
            if prefix_matches {
                segments.drain(..base_segments.len());
            }
        }
        while segments.last().is_some_and(String::is_empty) {
            segments.pop();
        }
        let (project, suffix) = match segments.iter().position(|s| s == "-") {
            Some(i) => (&segments[..i], &segments[i + 1..]),
            None => (&segments[..], &segments[segments.len()..]),
        };
        let mut project: Vec<String> = project.to_vec();
        if let Some(last) = project.last_mut() {
            if let Some(stripped) = last.strip_suffix(".git") {
                *last = stripped.to_string();
            }
        }
        if project.len() < 2 {
            return Err(
                "its path does not name a project; give the project's address, e.g. https://gitlab.example.com/group/project"
                    .to_string(),
            );
        }
        if let Some(bad) = project.iter().find(|s| {
            s.is_empty() || s.as_str() == "." || s.as_str() == ".." || !s.chars().all(is_path_char)
        }) {
            return Err(format!(
                "`{bad}` is not a valid GitLab group or project name"
            ));
        }
        // `tree/<ref>` and `commits/<ref>` end with the ref (which may hold `/`, as in
        // `feature/x`); `blob/<ref>/<file>` cannot tell the two apart, so only the first
        // segment is taken.
        let reference = match suffix.split_first() {
            Some((kind, rest)) if !rest.is_empty() => match kind.as_str() {
                "tree" | "commits" => Some(rest.join("/")),
                "blob" | "raw" => Some(rest[0].clone()),
                _ => None,
            },
            _ => None,
        };
        Ok((project.join("/"), reference.filter(|r| !r.is_empty())))
    }

    /// The URL to request for a pagination link GitLab sent. The link's API path and query
    /// are kept and put under the configured API: a GitLab behind a proxy may write its
    /// public address in links, and a link must never send the token anywhere else. A link
    /// without `/api/v4/` in its path is refused.
    pub fn api_link(&self, link: &Url) -> Result<Url, GitLabError> {
        const API: &str = "/api/v4/";
        let api = self.api_base();
        let Some(at) = link.path().find(API) else {
            return Err(refused(
                link.as_str(),
                format!("GitLab's pagination link is not an API address under {api}"),
            ));
        };
        let mut url = api.clone();
        url.set_path(&format!("{}{}", api.path(), &link.path()[at + API.len()..]));
        url.set_query(link.query());
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_and_nat64_addresses_are_judged_as_ipv4() {
        let mapped: Ipv6Addr = "::ffff:169.254.169.254".parse().unwrap();
        assert_eq!(classify_v6(mapped), Some(HostClass::Metadata));
        let nat64: Ipv6Addr = "64:ff9b::7f00:1".parse().unwrap();
        assert_eq!(classify_v6(nat64), Some(HostClass::Loopback));
        let public: Ipv6Addr = "2a00:1450:4001::200e".parse().unwrap();
        assert_eq!(classify_v6(public), None);
    }

    #[test]
    fn range_boundaries() {
        assert_eq!(
            classify_v4(Ipv4Addr::new(172, 31, 255, 255)),
            Some(HostClass::Private)
        );
        assert_eq!(classify_v4(Ipv4Addr::new(172, 32, 0, 0)), None);
        assert_eq!(
            classify_v4(Ipv4Addr::new(100, 127, 0, 1)),
            Some(HostClass::Private)
        );
        assert_eq!(classify_v4(Ipv4Addr::new(100, 128, 0, 1)), None);
        assert_eq!(
            classify_v4(Ipv4Addr::new(255, 255, 255, 255)),
            Some(HostClass::Multicast)
        );
        assert_eq!(classify_v4(Ipv4Addr::new(8, 8, 8, 8)), None);
    }
}
