//! Which project URLs a user may give: one table of URLs and the verdict on each, decided
//! without any connection (the configured GitLab here does not exist).

use pipewright_adapters::gitlab::UrlPolicy;
use pipewright_core::gitlab::GitLabError;

/// The project path and ref accepted, or a word the refusal must contain.
type Verdict = Result<(&'static str, Option<&'static str>), &'static str>;

/// (configured GITLAB_URL, user URL, verdict).
const CASES: &[(&str, &str, Verdict)] = &[
    // The configured GitLab, in the forms people paste.
    (
        "https://gitlab.example.com",
        "https://gitlab.example.com/team/api",
        Ok(("team/api", None)),
    ),
    (
        "https://gitlab.example.com",
        "https://gitlab.example.com/team/api.git",
        Ok(("team/api", None)),
    ),
    (
        "https://gitlab.example.com",
        "https://GitLab.Example.com/team/api/",
        Ok(("team/api", None)),
    ),
    (
        "https://gitlab.example.com",
        "https://gitlab.example.com/g/sub/deeper/app",
        Ok(("g/sub/deeper/app", None)),
    ),
    (
        "https://gitlab.example.com",
        "https://gitlab.example.com/team/api/-/tree/develop",
        Ok(("team/api", Some("develop"))),
    ),
    (
        "https://gitlab.example.com",
        "https://gitlab.example.com/team/api/-/tree/feature/x?ref_type=heads",
        Ok(("team/api", Some("feature/x"))),
    ),
    (
        "https://gitlab.example.com",
        "https://gitlab.example.com/team/api/-/blob/v1.2/src/main.rs",
        Ok(("team/api", Some("v1.2"))),
    ),
    (
        "https://gitlab.example.com",
        "https://gitlab.example.com/team/api/-/merge_requests",
        Ok(("team/api", None)),
    ),
    (
        "https://gitlab.example.com",
        "https://gitlab.example.com:443/team/api",
        Ok(("team/api", None)),
    ),
    // http vs https with default ports: the same GitLab behind a TLS proxy.
    (
        "http://gitlab.corp",
        "https://gitlab.corp/team/api",
        Ok(("team/api", None)),
    ),
    // A GitLab under a sub-path.
    (
        "https://example.com/gitlab/",
        "https://example.com/gitlab/team/api",
        Ok(("team/api", None)),
    ),
    // The configured GitLab may be loopback or private: the operator chose it.
    (
        "http://127.0.0.1:8929",
        "http://127.0.0.1:8929/team/api",
        Ok(("team/api", None)),
    ),
    (
        "http://10.1.2.3",
        "http://10.1.2.3/team/api",
        Ok(("team/api", None)),
    ),
    // An allow-listed alias of the configured GitLab.
    (
        "https://gitlab.example.com",
        "https://code.example.com/team/api",
        Ok(("team/api", None)),
    ),
    // Other hosts.
    (
        "https://gitlab.example.com",
        "https://gitlab.com/team/api",
        Err("not the configured GitLab"),
    ),
    (
        "https://gitlab.example.com",
        "https://gitlab.example.com.evil.io/team/api",
        Err("not the configured GitLab"),
    ),
    (
        "https://gitlab.example.com",
        "https://gitlab.example.com:8443/team/api",
        Err("not the configured GitLab"),
    ),
    (
        "http://127.0.0.1:8929",
        "http://127.0.0.1:9000/team/api",
        Err("loopback"),
    ),
    (
        "http://127.0.0.1:8929",
        "http://127.0.0.1/team/api",
        Err("loopback"),
    ),
    (
        "https://gitlab.example.com",
        "http://localhost/team/api",
        Err("loopback"),
    ),
    (
        "https://gitlab.example.com",
        "http://app.localhost/team/api",
        Err("loopback"),
    ),
    (
        "https://gitlab.example.com",
        "http://127.1.2.3/team/api",
        Err("loopback"),
    ),
    (
        "https://gitlab.example.com",
        "http://2130706433/team/api",
        Err("loopback"),
    ),
    (
        "https://gitlab.example.com",
        "http://0x7f.0.0.1/team/api",
        Err("loopback"),
    ),
    (
        "https://gitlab.example.com",
        "http://[::1]/team/api",
        Err("loopback"),
    ),
    (
        "https://gitlab.example.com",
        "http://[::ffff:127.0.0.1]/team/api",
        Err("loopback"),
    ),
    (
        "https://gitlab.example.com",
        "http://0.0.0.0/team/api",
        Err("unspecified"),
    ),
    (
        "https://gitlab.example.com",
        "http://169.254.169.254/latest/meta-data",
        Err("metadata"),
    ),
    (
        "https://gitlab.example.com",
        "http://metadata.google.internal/computeMetadata/v1",
        Err("metadata"),
    ),
    (
        "https://gitlab.example.com",
        "http://100.100.100.200/latest",
        Err("metadata"),
    ),
    (
        "https://gitlab.example.com",
        "http://[fd00:ec2::254]/latest",
        Err("metadata"),
    ),
    (
        "https://gitlab.example.com",
        "http://169.254.10.20/team/api",
        Err("link-local"),
    ),
    (
        "https://gitlab.example.com",
        "http://[fe80::1]/team/api",
        Err("link-local"),
    ),
    (
        "https://gitlab.example.com",
        "http://10.0.0.8/team/api",
        Err("private"),
    ),
    (
        "https://gitlab.example.com",
        "http://172.20.1.1/team/api",
        Err("private"),
    ),
    (
        "https://gitlab.example.com",
        "http://192.168.1.10/team/api",
        Err("private"),
    ),
    (
        "https://gitlab.example.com",
        "http://[fd12::1]/team/api",
        Err("private"),
    ),
    (
        "http://10.1.2.3",
        "http://10.1.2.4/team/api",
        Err("private"),
    ),
    // Schemes, credentials, shapes.
    (
        "https://gitlab.example.com",
        "ssh://git@gitlab.example.com/team/api.git",
        Err("scheme"),
    ),
    (
        "https://gitlab.example.com",
        "file:///etc/passwd",
        Err("scheme"),
    ),
    (
        "https://gitlab.example.com",
        "gopher://gitlab.example.com/team/api",
        Err("scheme"),
    ),
    (
        "https://gitlab.example.com",
        "https://user:glpat-abc@gitlab.example.com/team/api",
        Err("credentials"),
    ),
    (
        "https://gitlab.example.com",
        "https://oauth2@gitlab.example.com/team/api",
        Err("credentials"),
    ),
    (
        "https://gitlab.example.com",
        "https://gitlab.example.com/",
        Err("does not name a project"),
    ),
    (
        "https://gitlab.example.com",
        "https://gitlab.example.com/api",
        Err("does not name a project"),
    ),
    (
        "https://gitlab.example.com",
        "https://gitlab.example.com/team/a%20b",
        Err("not a valid GitLab"),
    ),
    (
        "https://gitlab.example.com",
        "gitlab.example.com/team/api",
        Err("not a URL"),
    ),
];

#[test]
fn user_urls_are_accepted_only_for_the_configured_gitlab() {
    let mut failures = Vec::new();
    for (configured, url, expected) in CASES {
        let policy = UrlPolicy::new(configured, &["code.example.com".to_string()]).unwrap();
        let got = policy.project_from_url(url);
        let ok = match (&got, expected) {
            (Ok(loc), Ok((path, reference))) => {
                loc.project_path == *path && loc.reference.as_deref() == *reference
            }
            (Err(GitLabError::Refused { reason, .. }), Err(word)) => reason.contains(word),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{configured} + {url}: expected {expected:?}, got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_refusal_never_repeats_the_credentials_it_refused() {
    let policy = UrlPolicy::new("https://gitlab.example.com", &[]).unwrap();
    let err = policy
        .project_from_url("https://user:glpat-abc@gitlab.example.com/team/api")
        .unwrap_err();
    assert!(!err.to_string().contains("glpat-abc"), "{err}");
    assert!(!format!("{err:?}").contains("glpat-abc"));
}

#[test]
fn bad_configurations_are_refused_with_what_to_set() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("gitlab.example.com", &[], "not a URL"),
        ("ftp://gitlab.example.com", &[], "https://"),
        ("https://root:pw@gitlab.example.com", &[], "credentials"),
        ("https://gitlab.example.com?x=1", &[], "query"),
        ("https://gitlab.example.com", &["127.0.0.1"], "loopback"),
        (
            "https://gitlab.example.com",
            &["169.254.169.254"],
            "metadata",
        ),
        (
            "https://gitlab.example.com",
            &["host/with/path"],
            "not a host name",
        ),
    ];
    for (url, allowed, word) in cases {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        match UrlPolicy::new(url, &allowed) {
            Err(GitLabError::Config(text)) => {
                assert!(text.contains(word), "{url}: {text}");
                assert!(!text.contains(":pw@"), "{text}");
            }
            other => panic!("{url}: expected a configuration error, got {other:?}"),
        }
    }
}

#[test]
fn pagination_links_are_kept_on_the_configured_api() {
    let policy = UrlPolicy::new("https://gitlab.example.com/gitlab", &[]).unwrap();
    let follow = |u: &str| {
        policy
            .api_link(&reqwest::Url::parse(u).unwrap())
            .map(|url| url.to_string())
            .map_err(|e| e.to_string())
    };
    let expected =
        "https://gitlab.example.com/gitlab/api/v4/projects/1/repository/tree?page_token=a";
    assert_eq!(follow(expected).as_deref(), Ok(expected));
    // A public address in links (GitLab behind a proxy), or a hostile one: the request goes
    // to the configured GitLab either way.
    assert_eq!(
        follow("http://gitlab.public.example/api/v4/projects/1/repository/tree?page_token=a")
            .as_deref(),
        Ok(expected)
    );
    assert_eq!(
        follow("http://169.254.169.254/api/v4/projects/1/repository/tree?page_token=a").as_deref(),
        Ok(expected)
    );
    assert!(follow("https://gitlab.example.com/gitlab/projects/1")
        .unwrap_err()
        .contains("not an API address"));
}
