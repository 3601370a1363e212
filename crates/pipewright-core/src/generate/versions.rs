//! From the version a repository asks for (exactly as written: `^3.10`, `>=18`, `lts/*`,
//! `~> 3.2`, `net8.0`, `17.0.9-tem`) to the runtime version pipewright pins in images, with the
//! reason. Exact versions are kept; constraints resolve to the newest supported release that
//! satisfies them; nothing pinned resolves to the default and says so.

use crate::stack::RuntimeVersion;

/// Supported releases per runtime, newest first; the first is the default.
pub const SUPPORTED: &[(&str, &[&str])] = &[
    ("python", &["3.13", "3.12", "3.11", "3.10", "3.9"]),
    ("node", &["22", "20", "18"]),
    ("ruby", &["3.3", "3.2", "3.1"]),
    ("java", &["21", "17", "11"]),
    ("go", &["1.23", "1.22", "1.21"]),
    ("rust", &["1.82", "1.81", "1.80", "1.79", "1.78"]),
    ("php", &["8.3", "8.2", "8.1"]),
    ("dotnet", &["8.0", "9.0", "6.0"]),
    ("elixir", &["1.17", "1.16", "1.15"]),
];

/// The release used when nothing is pinned: the newest one most ecosystems' libraries support.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("python", "3.12"),
    ("node", "22"),
    ("ruby", "3.3"),
    ("java", "21"),
    ("go", "1.23"),
    ("rust", "1.82"),
    ("php", "8.3"),
    ("dotnet", "8.0"),
    ("elixir", "1.17"),
];

/// Node's LTS code names.
const NODE_LTS: &[(&str, &str)] = &[
    ("jod", "22"),
    ("iron", "20"),
    ("hydrogen", "18"),
    ("gallium", "16"),
];

/// The version chosen for a runtime, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub runtime: String,
    /// The version for image tags (`3.12`, `3.12.1`, `20`, `8.0`).
    pub version: String,
    pub reason: String,
    /// Set when the choice is a default or a guess the user should look at.
    pub warning: Option<String>,
}

fn supported(runtime: &str) -> &'static [&'static str] {
    SUPPORTED
        .iter()
        .find(|(r, _)| *r == runtime)
        .map(|(_, v)| *v)
        .unwrap_or(&[])
}

/// Resolves the pinned version (or its absence) for `runtime`.
pub fn resolve(runtime: &str, pinned: Option<&RuntimeVersion>) -> Resolved {
    let table = supported(runtime);
    let default = DEFAULTS
        .iter()
        .find(|(r, _)| *r == runtime)
        .map(|(_, v)| *v)
        .or_else(|| table.first().copied())
        .unwrap_or("latest");
    let Some(pin) = pinned else {
        return Resolved {
            runtime: runtime.to_string(),
            version: default.to_string(),
            reason: format!("no {runtime} version is pinned in the repository; using {default}, pipewright's default"),
            warning: Some(format!(
                "no {runtime} version is pinned; the images use {default}. Pin one (for example in a version file) to be sure"
            )),
        };
    };
    let raw = pin.value.trim();
    let normalized = normalize(runtime, raw);
    if is_exact(&normalized) {
        // An exact pin is honoured as written, at the precision the runtime's images are tagged.
        let version = match runtime {
            "java" => normalized
                .split('.')
                .next()
                .unwrap_or(&normalized)
                .to_string(),
            "dotnet" => normalized.split('.').take(2).collect::<Vec<_>>().join("."),
            _ => normalized.clone(),
        };
        // A bare major (`python 3`, `node 20`) names a line, not a release.
        let version = if !version.contains('.') && !matches!(runtime, "node" | "java") {
            table
                .iter()
                .find(|v| v.split('.').next() == Some(version.as_str()))
                .map(|v| v.to_string())
                .unwrap_or(version)
        } else {
            version
        };
        return Resolved {
            runtime: runtime.to_string(),
            version: version.clone(),
            reason: format!("{runtime} {raw} from {} → {version}", pin.source),
            warning: None,
        };
    }
    let constraint = Constraint::parse(&normalized);
    match constraint.as_ref().and_then(|c| table.iter().find(|v| c.allows(&parse_version(v)))) {
        Some(v) => Resolved {
            runtime: runtime.to_string(),
            version: v.to_string(),
            reason: format!(
                "{runtime} {raw} from {} → {v}, the newest supported release that satisfies it",
                pin.source
            ),
            warning: None,
        },
        None => Resolved {
            runtime: runtime.to_string(),
            version: default.to_string(),
            reason: format!("{runtime} {raw} from {} could not be matched; using {default}", pin.source),
            warning: Some(format!(
                "the {runtime} version `{raw}` ({}) matches no supported release ({}); the images use {default}",
                pin.source,
                table.join(", ")
            )),
        },
    }
}

/// Whether the release line `line` (`20`, `3.11`) satisfies `raw`, a constraint as written
/// (`>=18`, `^3.9`); `None` when `raw` is an exact version or no constraint pipewright reads.
/// Detectors use it to prefer a version the repository proves over a range's newest member.
pub fn range_allows(runtime: &str, raw: &str, line: &str) -> Option<bool> {
    let normalized = normalize(runtime, raw.trim());
    if is_exact(&normalized) {
        return None;
    }
    Constraint::parse(&normalized).map(|c| c.allows(&parse_version(line)))
}

/// Strips spellings that are not part of the version (`python-`, `v`, `go`, `net`, `-tem`, `lts/`).
fn normalize(runtime: &str, raw: &str) -> String {
    let mut v = raw.trim().trim_matches('"').to_string();
    for prefix in [
        "python-", "python", "ruby-", "v", "go", "net", "jdk", "java",
    ] {
        if let Some(rest) = v.strip_prefix(prefix) {
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                v = rest.to_string();
                break;
            }
        }
    }
    if runtime == "node" {
        if let Some(name) = v.strip_prefix("lts/") {
            let name = name.to_ascii_lowercase();
            return NODE_LTS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, major)| major.to_string())
                .unwrap_or_else(|| "22".to_string());
        }
        if matches!(v.as_str(), "lts" | "node" | "stable" | "latest") {
            return "22".to_string();
        }
    }
    if runtime == "elixir" {
        // asdf/mise spell the OTP release into the version: `1.16.2-otp-26`.
        if let Some(i) = v.find("-otp") {
            v.truncate(i);
        }
    }
    if runtime == "java" {
        // asdf/mise vendor prefixes and build suffixes: `temurin-17.0.9+9`, `openjdk-21`.
        if let Some((vendor, rest)) = v.split_once('-') {
            if vendor.chars().all(|c| c.is_ascii_alphabetic())
                && rest.starts_with(|c: char| c.is_ascii_digit())
            {
                v = rest.to_string();
            }
        }
        if let Some(i) = v.find('+') {
            v.truncate(i);
        }
        // sdkman identifiers: `17.0.9-tem`, `21-zulu`.
        if let Some((ver, _vendor)) = v.split_once('-') {
            if ver.chars().all(|c| c.is_ascii_digit() || c == '.') {
                v = ver.to_string();
            }
        }
    }
    if runtime == "ruby" {
        // `3.2.2p53` from Gemfile.lock.
        if let Some(i) = v.find('p') {
            if v[..i].chars().all(|c| c.is_ascii_digit() || c == '.') && !v[..i].is_empty() {
                v.truncate(i);
            }
        }
    }
    v
}

fn is_exact(v: &str) -> bool {
    !v.is_empty()
        && v.chars().all(|c| c.is_ascii_digit() || c == '.')
        && v.split('.').all(|p| !p.is_empty())
}

fn parse_version(v: &str) -> Vec<u64> {
    v.split('.')
        .map(|p| p.trim().parse::<u64>().unwrap_or(0))
        .collect()
}

/// Compares two versions, missing parts counting as zero.
fn cmp(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        match x.cmp(&y) {
            std::cmp::Ordering::Equal => continue,
            other => return other,
        }
    }
    std::cmp::Ordering::Equal
}

/// A version constraint: alternatives (`||`) of conjunctions (`,` or space).
#[derive(Debug, Clone, PartialEq)]
struct Constraint {
    any: Vec<Vec<(Op, Vec<u64>)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
    /// Same leading components (`3.*`, `==3.12.*`).
    Prefix,
}

impl Constraint {
    fn parse(text: &str) -> Option<Constraint> {
        let mut any = Vec::new();
        // `~> 3.2` and `>= 3.8` put a space after the operator; glue it back.
        let mut glued = String::with_capacity(text.len());
        let mut after_op = false;
        for c in text.chars() {
            if c.is_whitespace() && after_op {
                continue;
            }
            after_op = matches!(c, '<' | '>' | '=' | '~' | '^' | '!');
            glued.push(c);
        }
        for alt in glued.split("||") {
            let mut all = Vec::new();
            let alt = alt.replace(", ", ",");
            for part in alt.split([',', ' ']).filter(|p| !p.trim().is_empty()) {
                all.extend(parse_clause(part.trim())?);
            }
            if !all.is_empty() {
                any.push(all);
            }
        }
        (!any.is_empty()).then_some(Constraint { any })
    }

    /// True when a supported release line (`3.12`) satisfies the constraint; the line stands
    /// for its newest patch, so `>=3.11.4` allows `3.11`.
    fn allows(&self, line: &[u64]) -> bool {
        let newest_patch: Vec<u64> = line.iter().copied().chain([u64::MAX / 2]).collect();
        self.any.iter().any(|all| {
            all.iter().all(|(op, v)| {
                let probe = if matches!(op, Op::Ge | Op::Gt | Op::Eq | Op::Prefix) {
                    &newest_patch[..]
                } else {
                    line
                };
                match op {
                    Op::Ge => cmp(probe, v).is_ge(),
                    Op::Gt => cmp(probe, v).is_gt(),
                    Op::Le => cmp(line, v).is_le(),
                    Op::Lt => cmp(line, v).is_lt(),
                    Op::Eq => v.iter().zip(line).all(|(a, b)| a == b),
                    Op::Ne => cmp(line, v).is_ne(),
                    Op::Prefix => v.iter().zip(line).all(|(a, b)| a == b),
                }
            })
        })
    }
}

fn bump(v: &[u64], at: usize) -> Vec<u64> {
    let mut out: Vec<u64> = v.iter().take(at + 1).copied().collect();
    while out.len() <= at {
        out.push(0);
    }
    out[at] += 1;
    out
}

fn parse_clause(clause: &str) -> Option<Vec<(Op, Vec<u64>)>> {
    const OPS: &[(&str, Option<Op>)] = &[
        ("~>", None),
        ("~=", None),
        (">=", Some(Op::Ge)),
        ("<=", Some(Op::Le)),
        ("==", Some(Op::Eq)),
        ("!=", Some(Op::Ne)),
        (">", Some(Op::Gt)),
        ("<", Some(Op::Lt)),
        ("=", Some(Op::Eq)),
        ("^", None),
        ("~", None),
    ];
    let (op_text, op, rest) = OPS
        .iter()
        .find_map(|(t, o)| clause.strip_prefix(t).map(|r| (*t, *o, r.trim())))
        .unwrap_or(("", Some(Op::Eq), clause));
    let rest = rest.trim_start_matches('v');
    if rest.contains(['*', 'x', 'X']) {
        let prefix: Vec<u64> = rest
            .split('.')
            .take_while(|p| !matches!(*p, "*" | "x" | "X"))
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        return Some(vec![(Op::Prefix, prefix)]);
    }
    if !is_exact(rest) {
        return None;
    }
    let v = parse_version(rest);
    Some(match (op_text, op) {
        (_, Some(Op::Eq)) => vec![(Op::Prefix, v)],
        (_, Some(o)) => vec![(o, v)],
        // Ruby/PEP 440: `~> 3.2` allows 3.x from 3.2; `~> 3.2.1` allows 3.2.x from 3.2.1.
        ("~>" | "~=", None) => {
            let at = v.len().saturating_sub(2);
            vec![(Op::Ge, v.clone()), (Op::Lt, bump(&v, at))]
        }
        // npm caret: up to the next major (or minor for 0.x).
        ("^", None) => {
            let at = if v.first() == Some(&0) { 1 } else { 0 };
            vec![(Op::Ge, v.clone()), (Op::Lt, bump(&v, at))]
        }
        // npm tilde: up to the next minor.
        (_, None) => {
            let at = if v.len() > 1 { 1 } else { 0 };
            vec![(Op::Ge, v.clone()), (Op::Lt, bump(&v, at))]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(value: &str) -> RuntimeVersion {
        RuntimeVersion {
            name: "x".into(),
            value: value.into(),
            source: "file".into(),
        }
    }

    fn v(runtime: &str, value: &str) -> String {
        resolve(runtime, Some(&pin(value))).version
    }

    #[test]
    fn exact_versions_are_kept() {
        assert_eq!(v("python", "3.12.1"), "3.12.1");
        assert_eq!(v("python", "python-3.11.9"), "3.11.9");
        assert_eq!(v("go", "1.22.3"), "1.22.3");
        assert_eq!(v("go", "go1.23.1"), "1.23.1");
        assert_eq!(v("java", "17.0.9-tem"), "17");
        assert_eq!(v("dotnet", "net8.0"), "8.0");
        assert_eq!(v("ruby", "3.2.2p53"), "3.2.2");
        assert_eq!(v("node", "20"), "20");
        assert_eq!(v("python", "3"), "3.13");
        assert_eq!(v("elixir", "1.16.2-otp-26"), "1.16.2");
        assert_eq!(v("java", "temurin-17.0.9+9"), "17");
    }

    #[test]
    fn constraints_pick_the_newest_supported_release() {
        assert_eq!(v("python", ">=3.12"), "3.13");
        assert_eq!(v("python", "^3.10"), "3.13");
        assert_eq!(v("python", ">=3.11,<3.13"), "3.12");
        assert_eq!(v("python", "~=3.10"), "3.13");
        assert_eq!(v("python", "~=3.10.2"), "3.10");
        assert_eq!(v("python", "3.11.*"), "3.11");
        assert_eq!(v("node", ">=18"), "22");
        assert_eq!(v("node", "^20.11"), "20");
        assert_eq!(v("node", ">=18 <21"), "20");
        assert_eq!(v("node", "18.x || 20.x"), "20");
        assert_eq!(v("node", "lts/*"), "22");
        assert_eq!(v("node", "lts/iron"), "20");
        assert_eq!(v("ruby", "~> 3.2"), "3.3");
        assert_eq!(v("ruby", "~> 3.2.0"), "3.2");
        assert_eq!(v("php", "^8.2"), "8.3");
        assert_eq!(v("php", ">=8.1 <8.3"), "8.2");
        assert_eq!(v("elixir", "~> 1.15"), "1.17");
    }

    #[test]
    fn ranges_are_checked_against_a_release_line() {
        assert_eq!(range_allows("node", ">=18", "20"), Some(true));
        assert_eq!(range_allows("node", "^20.11", "18"), Some(false));
        assert_eq!(range_allows("node", "20", "20"), None);
        assert_eq!(range_allows("node", "lts/iron", "20"), None);
    }

    #[test]
    fn missing_or_unmatched_versions_warn() {
        let r = resolve("python", None);
        assert_eq!(r.version, "3.12");
        assert!(r.warning.is_some());
        let r = resolve("python", Some(&pin(">=4.0")));
        assert!(r.warning.unwrap().contains("matches no supported release"));
    }
}
