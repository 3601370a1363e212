//! Secrets: literal secrets written in clear (a table of token shapes plus credential-looking
//! assignments with literal values), and credentials sent where they should not go.
//!
//! Exfiltration is a taint analysis over every script in the file. Credentials are the CI/CD
//! variables in [`CREDENTIAL_VARIABLES`], those named like one, and the settings' extras; a
//! variable assigned from a credential (in `variables:` or a script, through `$(...)`, `read`,
//! base64 pipes…), a file written from one, and an environment dump are tainted too. A
//! statement that carries taint and talks to the network must name only allowed destinations;
//! when it names none pipewright can verify, it is refused as well.

use super::catalog::{CREDENTIAL_EXFILTRATION, SECRET_IN_CLEAR, SERVICE_PASSWORD_IN_CLEAR};
use super::pipeline_rules::{host_of, leading_variable, AllowList, Facts, ScriptStatement, VarDef};
use super::shell;
use super::text::LineIndex;
use super::yaml_doc::YamlDoc;
use super::{Finding, ValidatorSettings};
use regex::{Regex, RegexSet};
use std::collections::HashMap;
use std::sync::LazyLock;

/// Credential variables pipewright and GitLab use, by name.
pub const CREDENTIAL_VARIABLES: &[&str] = &[
    "NEXUS_USERNAME",
    "NEXUS_PASSWORD",
    "SONAR_TOKEN",
    "SPLUNK_HEC_TOKEN",
    "PIPEWRIGHT_TOKEN",
    "GITLAB_TOKEN",
    "CI_JOB_TOKEN",
    "CI_JOB_JWT",
    "CI_JOB_JWT_V1",
    "CI_JOB_JWT_V2",
    "CI_REGISTRY_PASSWORD",
    "CI_DEPLOY_PASSWORD",
    "CI_DEPENDENCY_PROXY_PASSWORD",
    "DOCKER_AUTH_CONFIG",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AZURE_CLIENT_SECRET",
    "KUBECONFIG",
];

/// A name that says it holds a credential…
static CREDENTIAL_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(TOKEN|PASSWORD|PASSWD|PASSPHRASE|SECRET|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH_?CONFIG|_JWT|COOKIE|^PAT$|_PAT$)")
        .expect("static regex")
});
/// …unless it names something about the credential rather than the credential itself.
static NOT_A_CREDENTIAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)_(URL|URI|HOST|FILE|PATH|DIR|NAME|ID|TYPE|HEADER|ENDPOINT|EXPIRES_AT|EXPIRY|LENGTH|SCOPES?|ENABLED|REQUIRED)$")
        .expect("static regex")
});

/// True when `name` is a credential variable.
pub fn is_credential_name(name: &str, settings: &ValidatorSettings) -> bool {
    CREDENTIAL_VARIABLES.contains(&name)
        || settings.credential_variables.iter().any(|c| c == name)
        || (CREDENTIAL_NAME.is_match(name) && !NOT_A_CREDENTIAL.is_match(name))
}

/// Passwords of throwaway service containers: written in clear, they are a warning, not an
/// error.
const SERVICE_PASSWORDS: &[&str] = &[
    "POSTGRES_PASSWORD",
    "MYSQL_PASSWORD",
    "MYSQL_ROOT_PASSWORD",
    "MARIADB_PASSWORD",
    "MARIADB_ROOT_PASSWORD",
    "MONGO_INITDB_ROOT_PASSWORD",
    "RABBITMQ_DEFAULT_PASS",
    "REDIS_PASSWORD",
    "MSSQL_SA_PASSWORD",
    "SA_PASSWORD",
    "ELASTIC_PASSWORD",
];

/// Secrets recognisable by their shape alone: (what it is, pattern).
const TOKEN_PATTERNS: &[(&str, &str)] = &[
    ("a GitLab access token", r"\bglpat-[0-9A-Za-z_\-]{20,}"),
    (
        "a GitLab token",
        r"\bgl(?:dt|rt|cbt|ptt|oas|imt|agent|soat|ffct|sft|ft)-[0-9A-Za-z_\-]{20,}",
    ),
    (
        "a GitLab runner registration token",
        r"\bGR1348941[0-9A-Za-z_\-]{20,}",
    ),
    (
        "an AWS access key id",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b",
    ),
    (
        "a private key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
    ),
    (
        "a GitHub token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
    ),
    ("a Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    (
        "a Slack webhook URL",
        r"https://hooks\.slack\.com/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+",
    ),
    ("a Google API key", r"\bAIza[0-9A-Za-z_\-]{35}"),
    ("a Stripe live key", r"\b[rs]k_live_[0-9A-Za-z]{20,}"),
    ("an npm token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("a PyPI token", r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}"),
    ("a Docker Hub token", r"\bdckr_pat_[A-Za-z0-9_\-]{20,}"),
    (
        "a JSON Web Token",
        r"\beyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",
    ),
    ("an Azure storage key", r"AccountKey=[A-Za-z0-9+/=]{40,}"),
    (
        "a SendGrid key",
        r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}",
    ),
];

/// Secrets recognisable by context; the capture named `v` must be a literal (not `$VAR`).
const CONTEXT_PATTERNS: &[(&str, &str)] = &[
    (
        "a password in a URL",
        r#"[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@'"]+:(?P<v>[^/\s@'"]+)@"#,
    ),
    (
        "a credential assignment",
        r#"(?i)\b(?P<n>[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY)[A-Z0-9_]*)=(?:"(?P<v>[^"]*)"|'(?P<v2>[^']*)'|(?P<v3>[^\s'";&|]+))"#,
    ),
    (
        "a password on a login command",
        r#"(?i)\blogin\b.*?\s(?:-p|--password)(?:=|\s+)(?:"(?P<v>[^"]*)"|'(?P<v2>[^']*)'|(?P<v3>[^\s'"]+))"#,
    ),
    (
        "a password on the command line",
        r#"(?:\s-u|\s--user|\s--http-password|\s--proxy-user)(?:=|\s+)['"]?[^\s:'"]*:(?P<v>[^\s'"@]+)"#,
    ),
    (
        "a credential in an HTTP header",
        r#"(?i)(?:PRIVATE-TOKEN|JOB-TOKEN|DEPLOY-TOKEN|Authorization|X-API-Key|X-Auth-Token)\s*:\s*(?:Bearer\s+|Basic\s+|token\s+|Splunk\s+)?(?P<v>[^\s'"]+)"#,
    ),
];

static TOKENS: LazyLock<(RegexSet, Vec<Regex>)> = LazyLock::new(|| compile(TOKEN_PATTERNS));
static CONTEXTS: LazyLock<(RegexSet, Vec<Regex>)> = LazyLock::new(|| compile(CONTEXT_PATTERNS));

fn compile(table: &[(&str, &str)]) -> (RegexSet, Vec<Regex>) {
    let set = RegexSet::new(table.iter().map(|(_, p)| *p)).expect("static regex table");
    let each = table
        .iter()
        .map(|(_, p)| Regex::new(p).expect("static regex"))
        .collect();
    (set, each)
}

/// One secret found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHit {
    /// What it looks like ("a GitLab access token").
    pub kind: &'static str,
    /// Byte offset in the scanned text.
    pub offset: usize,
}

/// True when a value is written out rather than taken from a variable, and is not a
/// placeholder.
pub fn is_literal_secret(value: &str) -> bool {
    let v = value.trim().trim_matches(|c| c == '"' || c == '\'');
    // Flags (`MYSQL_ALLOW_EMPTY_PASSWORD: "yes"`) and auth methods name no secret.
    const PLACEHOLDERS: &[&str] = &[
        "",
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "trust",
        "null",
        "none",
        "xxx",
        "***",
        "...",
        "redacted",
        "masked",
        "changeit-in-settings",
    ];
    !(v.len() < 3
        || v.contains('$')
        || v.contains("{{")
        || v.starts_with('<') && v.ends_with('>')
        || v.chars()
            .all(|c| c == '*' || c == 'x' || c == 'X' || c == '.')
        || PLACEHOLDERS.contains(&v.to_ascii_lowercase().as_str()))
}

/// Every secret written in clear in `text`.
pub fn scan(text: &str, settings: &ValidatorSettings) -> Vec<SecretHit> {
    let mut out = Vec::new();
    let (set, each) = &*TOKENS;
    for i in set.matches(text).iter() {
        for m in each[i].find_iter(text) {
            out.push(SecretHit {
                kind: TOKEN_PATTERNS[i].0,
                offset: m.start(),
            });
        }
    }
    let (set, each) = &*CONTEXTS;
    for i in set.matches(text).iter() {
        for c in each[i].captures_iter(text) {
            let value = c.name("v").or(c.name("v2")).or(c.name("v3"));
            let name_ok = c
                .name("n")
                .is_none_or(|n| is_credential_name(n.as_str(), settings));
            if let Some(v) = value {
                if name_ok && is_literal_secret(v.as_str()) {
                    out.push(SecretHit {
                        kind: CONTEXT_PATTERNS[i].0,
                        offset: c.get(0).map(|m| m.start()).unwrap_or(v.start()),
                    });
                }
            }
        }
    }
    out.sort_by_key(|h| h.offset);
    out
}

/// True when `text` matches a secret's shape (for masking values in messages).
pub fn looks_secret(text: &str) -> bool {
    TOKENS.0.is_match(text)
}

/// `secret-in-clear`, `service-password-in-clear` and `credential-exfiltration` for a
/// pipeline.
pub fn check_pipeline(
    doc: &YamlDoc,
    lines: &LineIndex<'_>,
    settings: &ValidatorSettings,
    facts: &Facts,
) -> Vec<Finding> {
    let mut out = Vec::new();
    // The raw text, once: fast, exact positions, and a secret in a comment is still a secret
    // written in the file.
    let mut reported_lines = std::collections::HashSet::new();
    for hit in scan(lines.text(), settings) {
        let pos = lines.pos(hit.offset);
        reported_lines.insert(pos.line);
        out.push(SECRET_IN_CLEAR.at(
            pos,
            format!("{} is written in clear; store it as a masked CI/CD variable and refer to it by name", hit.kind),
        ));
    }
    for def in &facts.defs {
        if !is_literal_secret(&def.value) {
            continue;
        }
        let pos = doc.pos(&def.pointer);
        if reported_lines.contains(&pos.line) {
            continue;
        }
        if SERVICE_PASSWORDS.contains(&def.name.as_str()) {
            out.push(SERVICE_PASSWORD_IN_CLEAR.at(
                pos,
                format!("`{}` is written in clear; acceptable only for a throwaway test service, never reuse it", def.name),
            ));
        } else if is_credential_name(&def.name, settings) {
            out.push(SECRET_IN_CLEAR.at(
                pos,
                format!("variable `{}` holds a literal credential; define it as a masked CI/CD variable instead", def.name),
            ));
        }
    }
    out.extend(exfiltration(&facts.statements, &facts.defs, settings));
    out
}

/// Variables whose names say where data goes.
static DESTINATION_VAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"_(URL|URI|HOST|HOSTNAME|SERVER|ENDPOINT|ADDR|ADDRESS|REGISTRY|DOMAIN|FQDN|WEBHOOK|API)$",
    )
    .expect("static regex")
});
static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:https?|ftps?|wss?|sftp|scp|ssh|git|tcp|udp|telnet|ldaps?|smtps?|mongodb(?:\+srv)?|redis|amqps?)://([^/\s'"?#)]+)"#)
        .expect("static regex")
});
static DEV_TCP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"/dev/(?:tcp|udp)/([^/\s]+)/").expect("static regex"));
static ENV_DUMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s|;&(`$])(?:(?:env|printenv)\s*(?:$|[|>;&)`])|set\s*(?:$|[|>])|export\s+-p|declare\s+-[a-zA-Z]*[px]\b|compgen\s+-[ve]\b)|/proc/(?:self|\d+|\$\$|\*)/environ")
        .expect("static regex")
});
static ENV_IDENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b").expect("static regex"));
/// Tools whose job is talking to the network.
const NETWORK_TOOLS: &[&str] = &[
    "curl", "wget", "nc", "ncat", "netcat", "socat", "telnet", "ssh", "scp", "sftp", "rsync",
    "ftp", "tftp", "lftp", "http", "https", "xh", "aria2c", "openssl", "dig", "nslookup", "host",
    "ping", "drill", "whois",
];
/// Options whose next word is a value, not a destination, per tool family.
const CURL_VALUE_FLAGS: &[&str] = &[
    "-d",
    "--data",
    "--data-raw",
    "--data-binary",
    "--data-urlencode",
    "--json",
    "-H",
    "--header",
    "-u",
    "--user",
    "-o",
    "--output",
    "-F",
    "--form",
    "-X",
    "--request",
    "-A",
    "--user-agent",
    "-e",
    "--referer",
    "-b",
    "--cookie",
    "-c",
    "--cookie-jar",
    "-T",
    "--upload-file",
    "-w",
    "--write-out",
    "--cacert",
    "--cert",
    "--key",
    "-E",
    "-K",
    "--config",
    "-m",
    "--max-time",
    "--connect-timeout",
    "--retry",
    "-x",
    "--proxy",
    "-r",
    "--range",
    "--resolve",
    "--interface",
    "--oauth2-bearer",
    "-U",
    "--proxy-user",
    "-O",
    "--output-document",
    "--output-file",
    "--post-data",
    "--post-file",
    "--body-data",
    "--body-file",
    "--password",
    "--http-user",
    "--http-password",
    "--user-agent",
    "-P",
    "--directory-prefix",
    "-t",
    "--tries",
    "--timeout",
    "--method",
    "--ca-certificate",
    "-i",
    "--input-file",
    "--execute",
];
const NC_VALUE_FLAGS: &[&str] = &[
    "-e", "-c", "-p", "-s", "-w", "-i", "-x", "-X", "-q", "-O", "-I", "-T", "-V", "-W",
];
const SSH_VALUE_FLAGS: &[&str] = &[
    "-i", "-p", "-P", "-o", "-l", "-F", "-J", "-L", "-R", "-D", "-W", "-b", "-c", "-e", "-m", "-O",
    "-S", "-E", "-B", "-e",
];
const DNS_VALUE_FLAGS: &[&str] = &["-p", "-b", "-q", "-t", "-c", "-k", "-y", "-f", "-x"];
const LOGIN_VALUE_FLAGS: &[&str] = &[
    "-u",
    "--username",
    "-p",
    "--password",
    "--authfile",
    "--cert-dir",
];
/// Commands that log in to a registry (their destination is the registry argument).
const LOGIN_TOOLS: &[&str] = &[
    "docker", "podman", "buildah", "helm", "skopeo", "crane", "oras", "nerdctl",
];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Dest {
    Host(String),
    Var(String),
    Unknown(String),
}

impl Dest {
    fn shown(&self) -> String {
        match self {
            Dest::Host(h) => h.clone(),
            Dest::Var(v) => format!("${v}"),
            Dest::Unknown(u) => format!("`{u}`"),
        }
    }
}

struct Taint<'s> {
    settings: &'s ValidatorSettings,
    /// Tainted variable names, with the credential each came from.
    names: HashMap<String, String>,
    /// Tainted files, with the credential written to them.
    files: HashMap<String, String>,
}

impl Taint<'_> {
    fn name_tainted(&self, name: &str) -> bool {
        self.names.contains_key(name) || is_credential_name(name, self.settings)
    }

    /// What in `text` carries a credential, for the message; empty when nothing does.
    fn carried(&self, text: &str) -> Vec<String> {
        let mut what: Vec<String> = Vec::new();
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut push = |s: String| {
            if seen.insert(s.clone()) {
                what.push(s);
            }
        };
        for name in shell::var_refs(text) {
            match self.names.get(name) {
                Some(origin) if !is_credential_name(name, self.settings) => {
                    push(format!("${name} (from {origin})"))
                }
                _ if self.name_tainted(name) => push(format!("${name}")),
                _ => {}
            }
        }
        // Names read without `$` (printenv X, os.environ["X"], getenv("X")).
        for m in ENV_IDENT.find_iter(text) {
            if self.name_tainted(m.as_str())
                && !text[..m.start()].ends_with('$')
                && !text[..m.start()].ends_with("${")
            {
                push(m.as_str().to_string());
            }
        }
        if ENV_DUMP.is_match(text) {
            push("the whole environment".to_string());
        }
        if shell::has_indirection(text) {
            push("a variable chosen at run time (eval or ${!…})".to_string());
        }
        for (f, origin) in &self.files {
            if text.contains(f.as_str()) {
                push(format!("file {f} (from {origin})"));
            }
        }
        what
    }
}

/// The credential at the root of a carried item (`$T (from $GITLAB_TOKEN)` → `$GITLAB_TOKEN`).
fn root_of(carried: &str) -> String {
    match carried.rsplit_once(" (from ") {
        Some((_, rest)) => rest.trim_end_matches(')').to_string(),
        None => carried.to_string(),
    }
}

fn exfiltration(
    statements: &[ScriptStatement],
    yaml_defs: &[VarDef],
    settings: &ValidatorSettings,
) -> Vec<Finding> {
    let allow = AllowList::new(settings);
    // Every definition of each variable, from `variables:` and from script assignments.
    let mut defs: HashMap<String, Vec<String>> = HashMap::new();
    for d in yaml_defs {
        defs.entry(d.name.clone())
            .or_default()
            .push(d.value.clone());
    }
    let assigned: Vec<Vec<String>> = statements
        .iter()
        .map(|s| shell::assigned_names(&s.text))
        .collect();
    for (st, names) in statements.iter().zip(&assigned) {
        for n in names {
            for v in shell::assigned_values(&st.text, n) {
                defs.entry(n.clone()).or_default().push(v);
            }
        }
    }
    let mut taint = Taint {
        settings,
        names: HashMap::new(),
        files: HashMap::new(),
    };
    propagate(&mut taint, statements, &assigned, yaml_defs);
    let mut out = Vec::new();
    for st in statements {
        if crate::cancel::requested() {
            break;
        }
        let what = taint.carried(&st.text);
        if what.is_empty() {
            continue;
        }
        let (network, tool) = network_tool(&st.text);
        let mut dests = destinations(&st.text, &taint, &allow);
        if !network && dests.is_empty() {
            continue;
        }
        dests = resolve(dests, &defs, 0);
        let bad: Vec<String> = dests
            .iter()
            .filter(|d| !allowed(d, &allow))
            .map(Dest::shown)
            .collect();
        let message = if dests.is_empty() {
            format!(
                "sends {} with `{}` to a destination pipewright cannot verify; name an allowed host (e.g. $CI_API_V4_URL)",
                what.join(", "),
                tool.unwrap_or("this command")
            )
        } else if !bad.is_empty() {
            format!(
                "sends {} to {}, outside the allowed hosts",
                what.join(", "),
                bad.join(", ")
            )
        } else {
            continue;
        };
        out.push(CREDENTIAL_EXFILTRATION.at(st.pos, message));
    }
    out
}

/// Taints every variable and file a credential reaches, to a fixpoint, in the order the old
/// round-by-round loop did (`variables:` entries, then statements, again until nothing
/// changes) but semi-naively: a site (a definition or a statement) is read again only when a
/// name it references or a file it mentions became tainted since it was last read. Each site
/// is read once plus once per newly tainted name it references, so a chain of 6,000
/// `export Vn="$V(n-1)"` lines in any order costs about 12,000 reads instead of 36 million.
fn propagate(
    taint: &mut Taint<'_>,
    statements: &[ScriptStatement],
    assigned: &[Vec<String>],
    yaml_defs: &[VarDef],
) {
    // Sites: the `variables:` entries first, then the statements, as the rounds read them.
    let texts: Vec<&str> = yaml_defs
        .iter()
        .map(|d| d.value.as_str())
        .chain(statements.iter().map(|s| s.text.as_str()))
        .collect();
    let yaml_count = yaml_defs.len();
    let writes: Vec<Vec<String>> = statements
        .iter()
        .map(|s| shell::written_files(&s.text))
        .collect();
    // Which sites read each name (with `$` or without, as `carried` does).
    let mut readers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, text) in texts.iter().enumerate() {
        let mut names: Vec<&str> = shell::var_refs(text)
            .chain(ENV_IDENT.find_iter(text).map(|m| m.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            readers.entry(name).or_default().push(i);
        }
    }
    let mut current: std::collections::BTreeSet<usize> = (0..texts.len()).collect();
    let mut next = std::collections::BTreeSet::new();
    // Marks the readers of what was just tainted: later in this pass they are read in this
    // pass (as the old loop did), earlier ones in the next.
    let mark = |site: usize,
                at: usize,
                current: &mut std::collections::BTreeSet<usize>,
                next: &mut std::collections::BTreeSet<usize>| {
        if site > at {
            current.insert(site);
        } else {
            next.insert(site);
        }
    };
    while !current.is_empty() {
        let mut at = 0;
        while let Some(&i) = current.range(at..).next() {
            current.remove(&i);
            at = i + 1;
            if crate::cancel::requested() {
                return;
            }
            let mut new_names: Vec<String> = Vec::new();
            let mut new_files: Vec<String> = Vec::new();
            if i < yaml_count {
                let d = &yaml_defs[i];
                if taint.name_tainted(&d.name) {
                    continue;
                }
                if let Some(origin) = taint.carried(&d.value).first() {
                    taint.names.insert(d.name.clone(), root_of(origin));
                    new_names.push(d.name.clone());
                }
            } else {
                let k = i - yaml_count;
                let (names, files) = (&assigned[k], &writes[k]);
                if names.is_empty() && files.is_empty() {
                    continue;
                }
                let Some(origin) = taint.carried(texts[i]).first().map(|o| root_of(o)) else {
                    continue;
                };
                for n in names {
                    if !taint.names.contains_key(n) {
                        taint.names.insert(n.clone(), origin.clone());
                        new_names.push(n.clone());
                    }
                }
                for f in files {
                    if !taint.files.contains_key(f) {
                        taint.files.insert(f.clone(), origin.clone());
                        new_files.push(f.clone());
                    }
                }
            }
            for n in &new_names {
                for &site in readers.get(n.as_str()).map(Vec::as_slice).unwrap_or(&[]) {
                    mark(site, i, &mut current, &mut next);
                }
            }
            for f in &new_files {
                for (site, text) in texts.iter().enumerate() {
                    if text.contains(f.as_str()) {
                        mark(site, i, &mut current, &mut next);
                    }
                }
            }
        }
        std::mem::swap(&mut current, &mut next);
    }
}

/// Whether a statement runs a network tool (or logs in to a registry), and which.
fn network_tool(text: &str) -> (bool, Option<&'static str>) {
    let cmds = shell::commands(text);
    for (cmd, args) in &cmds {
        if let Some(t) = NETWORK_TOOLS.iter().find(|t| *t == cmd) {
            return (true, Some(t));
        }
        if LOGIN_TOOLS.contains(&cmd.as_str()) && args.iter().any(|a| a == "login") {
            return (true, Some("login"));
        }
    }
    // Tools hidden in a nested shell or a substitution (`sh -c "curl …"`, `$(wget …)`).
    for w in shell::words(text) {
        for t in NETWORK_TOOLS {
            if contains_word(&w, t) {
                return (true, Some(t));
            }
        }
    }
    if DEV_TCP.is_match(text) {
        return (true, Some("/dev/tcp"));
    }
    (false, None)
}

fn contains_word(haystack: &str, word: &str) -> bool {
    haystack.match_indices(word).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        before.is_none_or(|c| c.is_whitespace() || "(`/;|&\"'$".contains(c))
            && after.is_none_or(|c| c.is_whitespace() || ")`;|&\"'".contains(c))
    })
}

static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*\.?$|^\d{1,3}(?:\.\d{1,3}){3}$")
        .expect("static regex")
});
static VAR_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\$\([^)]*\)").expect("static regex")
});

/// A destination from one word naming a host (`evil.com`, `user@evil.com:path`,
/// `$SONAR_HOST_URL/api`, `$T.evil.com` for DNS lookups).
fn word_dest(word: &str, taint: &Taint<'_>) -> Option<Dest> {
    let word = word.trim_matches(|c| c == '"' || c == '\'');
    if word.is_empty() || word.contains("://") {
        return None;
    }
    if let Some(name) = leading_variable(word) {
        if taint.name_tainted(name) {
            // Data spliced into a host name (DNS exfiltration): judge the rest of the name.
            let rest = VAR_TOKEN.replace_all(word, "x");
            let host = host_of(&rest);
            return (host.contains('.') && host != "x")
                .then(|| Dest::Host(host.trim_start_matches("x.").to_string()));
        }
        return Some(Dest::Var(name.to_string()));
    }
    let host = host_of(word.trim_start_matches('@'));
    let plain = VAR_TOKEN.replace_all(host, "x");
    if HOSTNAME.is_match(&plain) || plain == "localhost" {
        let shown = if plain.starts_with("x.") {
            plain.trim_start_matches("x.").to_string()
        } else {
            host.to_string()
        };
        return Some(Dest::Host(shown));
    }
    None
}

/// Everything a statement could send data to.
fn destinations(text: &str, taint: &Taint<'_>, allow: &AllowList) -> Vec<Dest> {
    let mut out: Vec<Dest> = Vec::new();
    let push = |d: Dest, out: &mut Vec<Dest>| {
        if !out.contains(&d) {
            out.push(d);
        }
    };
    for c in URL.captures_iter(text) {
        if let Some(authority) = c.get(1) {
            let host = host_of(authority.as_str());
            let d = match leading_variable(host) {
                Some(name) => Dest::Var(name.to_string()),
                None => Dest::Host(
                    VAR_TOKEN
                        .replace_all(host, "x")
                        .trim_start_matches("x.")
                        .to_string(),
                ),
            };
            push(d, &mut out);
        }
    }
    for c in DEV_TCP.captures_iter(text) {
        if let Some(h) = c.get(1) {
            push(
                word_dest(h.as_str(), taint).unwrap_or(Dest::Unknown(h.as_str().to_string())),
                &mut out,
            );
        }
    }
    for name in shell::var_refs(text) {
        if (DESTINATION_VAR.is_match(name) || allow.var_allowed(name)) && !taint.name_tainted(name)
        {
            push(Dest::Var(name.to_string()), &mut out);
        }
    }
    for (cmd, args) in shell::commands(text) {
        for d in tool_destinations(&cmd, &args, taint) {
            push(d, &mut out);
        }
        // A nested shell: `sh -c "curl …"`, `bash -c '…'`.
        if matches!(cmd.as_str(), "sh" | "bash" | "dash" | "zsh" | "ash" | "ksh") {
            for a in args.iter().filter(|a| a.contains(' ')) {
                for d in destinations(a, taint, allow) {
                    push(d, &mut out);
                }
            }
        }
    }
    out
}

/// Destinations named by a network tool's own arguments.
fn tool_destinations(cmd: &str, args: &[String], taint: &Taint<'_>) -> Vec<Dest> {
    let mut out = Vec::new();
    let positional = |args: &[String], flags: &[&str]| -> Vec<String> {
        let mut pos = Vec::new();
        let mut skip = false;
        for a in args {
            if skip {
                skip = false;
                continue;
            }
            if a.starts_with('-') {
                skip = !a.contains('=') && flags.contains(&a.as_str());
                continue;
            }
            pos.push(a.clone());
        }
        pos
    };
    match cmd {
        "curl" | "wget" | "http" | "https" | "xh" | "aria2c" | "lftp" | "ftp" | "tftp" => {
            let mut it = args.iter();
            while let Some(a) = it.next() {
                if a == "--url" {
                    if let Some(u) = it.next() {
                        out.extend(word_dest(u, taint));
                    }
                }
            }
            for p in positional(args, CURL_VALUE_FLAGS) {
                out.extend(word_dest(&p, taint));
            }
        }
        "nc" | "ncat" | "netcat" | "telnet" | "ping" | "whois" => {
            if let Some(p) = positional(args, NC_VALUE_FLAGS).first() {
                out.extend(word_dest(p, taint).or(Some(Dest::Unknown(p.clone()))));
            }
        }
        "dig" | "nslookup" | "host" | "drill" => {
            for p in positional(args, DNS_VALUE_FLAGS) {
                out.extend(word_dest(&p, taint));
            }
            for a in args.iter().filter(|a| a.starts_with('@')) {
                out.extend(word_dest(a, taint));
            }
        }
        "ssh" | "scp" | "sftp" | "rsync" => {
            for p in positional(args, SSH_VALUE_FLAGS) {
                if p.contains('@') || (cmd != "ssh" && p.contains(':')) {
                    out.extend(word_dest(&p, taint));
                }
            }
            if cmd == "ssh" {
                if let Some(p) = positional(args, SSH_VALUE_FLAGS).first() {
                    out.extend(word_dest(p, taint).or(Some(Dest::Unknown(p.clone()))));
                }
            }
        }
        "socat" => {
            static SOCAT: LazyLock<Regex> = LazyLock::new(|| {
                Regex::new(r"(?i)^(?:tcp|udp|openssl|ssl)[46]?(?:-connect)?:([^:,]+)")
                    .expect("static regex")
            });
            for a in args {
                if let Some(h) = SOCAT.captures(a).and_then(|c| c.get(1)) {
                    out.push(
                        word_dest(h.as_str(), taint)
                            .unwrap_or(Dest::Unknown(h.as_str().to_string())),
                    );
                }
            }
        }
        "openssl" => {
            let mut it = args.iter();
            while let Some(a) = it.next() {
                if a == "-connect" {
                    if let Some(h) = it.next() {
                        out.push(word_dest(h, taint).unwrap_or(Dest::Unknown(h.clone())));
                    }
                }
            }
        }
        _ if LOGIN_TOOLS.contains(&cmd) => {
            let p = positional(args, LOGIN_VALUE_FLAGS);
            if let Some(i) = p.iter().position(|a| a == "login") {
                if let Some(r) = p.get(i + 1) {
                    out.push(word_dest(r, taint).unwrap_or(Dest::Host(r.clone())));
                }
            }
        }
        _ => {}
    }
    out
}

/// Replaces variables defined in the file by what they are defined as (every definition
/// counts: a variable set to an outside host anywhere is not trusted anywhere).
fn resolve(dests: Vec<Dest>, defs: &HashMap<String, Vec<String>>, depth: usize) -> Vec<Dest> {
    let mut out = Vec::new();
    for d in dests {
        let Dest::Var(name) = &d else {
            out.push(d);
            continue;
        };
        let Some(values) = defs.get(name).filter(|_| depth < 4) else {
            out.push(d);
            continue;
        };
        for v in values {
            let v = v.trim();
            let inner = if let Some(c) = URL.captures(v) {
                let host = c.get(1).map(|m| host_of(m.as_str())).unwrap_or(v);
                match leading_variable(host) {
                    Some(n) => Dest::Var(n.to_string()),
                    None => Dest::Host(host.to_string()),
                }
            } else if let Some(n) = leading_variable(v) {
                Dest::Var(n.to_string())
            } else if HOSTNAME.is_match(host_of(v)) {
                Dest::Host(host_of(v).to_string())
            } else {
                Dest::Unknown(v.to_string())
            };
            out.extend(resolve(vec![inner], defs, depth + 1));
        }
    }
    out
}

fn allowed(d: &Dest, allow: &AllowList) -> bool {
    match d {
        Dest::Host(h) => allow.host_allowed(h),
        Dest::Var(v) => allow.var_allowed(v),
        Dest::Unknown(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shapes_are_recognised() {
        let s = ValidatorSettings::default();
        for text in [
            "glpat-abcdefghij0123456789",
            "AKIAIOSFODNN7EXAMPLE",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "xoxb-1234567890-abcdef",
        ] {
            assert_eq!(scan(text, &s).len(), 1, "{text}");
        }
    }

    #[test]
    fn assignments_need_a_literal_value() {
        let s = ValidatorSettings::default();
        assert_eq!(scan("export NEXUS_PASSWORD=hunter22", &s).len(), 1);
        assert!(scan("export NEXUS_PASSWORD=$NEXUS_PASSWORD", &s).is_empty());
        assert!(scan("TOKEN_FILE=/run/secrets/t", &s).is_empty());
        assert_eq!(scan("curl -u admin:s3cret https://x", &s).len(), 1);
        assert!(scan("curl -u \"$U:$P\" https://x", &s).is_empty());
    }

    #[test]
    fn credential_names() {
        let s = ValidatorSettings::default();
        assert!(is_credential_name("GITLAB_TOKEN", &s));
        assert!(is_credential_name("MY_API_KEY", &s));
        assert!(!is_credential_name("SONAR_HOST_URL", &s));
        assert!(!is_credential_name("TOKEN_FILE", &s));
    }
}
