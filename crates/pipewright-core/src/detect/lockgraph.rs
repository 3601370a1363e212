//! Lock files as dependency graphs: which package pulls in which, so a framework that
//! arrives through another dependency (Sinatra through `sinatra-activerecord`, Rails through
//! an engine, Flask through a Flask extension) is found, with the chain that proves it.
//!
//! One parser per lock format, all returning the same [`LockGraph`]; [`LockGraph::reach`]
//! walks it breadth-first from the project's runtime dependencies only (a dev or test tool
//! that happens to depend on a framework never makes an application).

use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};

/// Package name → its resolved version and the packages it depends on.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LockGraph {
    pub packages: BTreeMap<String, LockedPackage>,
}

/// One resolved package of a lock file.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LockedPackage {
    pub version: String,
    pub dependencies: Vec<String>,
}

/// A package reached from a direct dependency, and the way there.
#[derive(Debug, Clone, PartialEq)]
pub struct Reached {
    /// The package found (the first of the wanted names that is reachable).
    pub name: String,
    /// Its resolved version in the lock file.
    pub version: String,
    /// From the direct dependency to `name`, both included.
    pub chain: Vec<String>,
}

impl Reached {
    /// The evidence text: "`sinatra` 3.0.6 resolved in Gemfile.lock through sinatra-activerecord → sinatra".
    pub fn describe(&self, lock_name: &str) -> String {
        format!(
            "`{}` {} resolved in {lock_name} through {}",
            self.name,
            self.version,
            self.chain.join(" → ")
        )
    }
}

impl LockGraph {
    fn add(&mut self, name: &str, version: &str, deps: Vec<String>) {
        let entry = self.packages.entry(name.to_string()).or_default();
        if entry.version.is_empty() {
            entry.version = version.to_string();
        }
        for d in deps {
            if d != name && !entry.dependencies.contains(&d) {
                entry.dependencies.push(d);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// The first of `wanted` (in its order) reachable from `roots` through the lock's
    /// dependency edges, with the shortest chain; roots are tried in their order. A root that
    /// is itself wanted is not reported (the caller already saw it as a direct dependency).
    pub fn reach<'a>(
        &self,
        roots: impl IntoIterator<Item = &'a str>,
        wanted: &[&str],
    ) -> Option<Reached> {
        let mut parent: BTreeMap<&str, Option<&str>> = BTreeMap::new();
        let mut queue: VecDeque<&str> = VecDeque::new();
        for r in roots {
            if let Some((k, _)) = self.packages.get_key_value(r) {
                if !parent.contains_key(k.as_str()) {
                    parent.insert(k.as_str(), None);
                    queue.push_back(k.as_str());
                }
            }
        }
        while let Some(name) = queue.pop_front() {
            let Some(pkg) = self.packages.get(name) else {
                continue;
            };
            for dep in &pkg.dependencies {
                if let Some((k, _)) = self.packages.get_key_value(dep.as_str()) {
                    if !parent.contains_key(k.as_str()) {
                        parent.insert(k.as_str(), Some(name));
                        queue.push_back(k.as_str());
                    }
                }
            }
        }
        wanted.iter().find_map(|w| {
            let Some(Some(_)) = parent.get(w) else {
                return None;
            };
            let mut chain = vec![w.to_string()];
            let mut at: &str = w;
            while let Some(Some(p)) = parent.get(at) {
                chain.push(p.to_string());
                at = p;
            }
            chain.reverse();
            Some(Reached {
                name: w.to_string(),
                version: self
                    .packages
                    .get(*w)
                    .map(|p| p.version.clone())
                    .unwrap_or_default(),
                chain,
            })
        })
    }
}

/// `Gemfile.lock`: specs at four spaces (`name (version)`), their dependencies at six.
pub fn gemfile_lock(text: &str) -> LockGraph {
    let mut g = LockGraph::default();
    let mut section = "";
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            section = line.trim();
            current = None;
            continue;
        }
        if !matches!(section, "GEM" | "PATH" | "GIT") {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let body = line.trim();
        let name = body.split([' ', '!']).next().unwrap_or(body);
        let version = body
            .split_once(' ')
            .map(|(_, v)| v.trim_start_matches('(').trim_end_matches(')'))
            .unwrap_or("");
        match indent {
            4 => {
                // Platform variants (`nokogiri (1.16.0-x86_64-linux)`) keep the first version.
                g.add(name, version, Vec::new());
                current = Some(name.to_string());
            }
            6 => {
                if let Some(cur) = &current {
                    g.add(cur, "", vec![name.to_string()]);
                }
            }
            _ => {}
        }
    }
    g
}

/// The package name in an npm lock key (`node_modules/a/node_modules/@s/b` → `@s/b`).
fn npm_key_name(key: &str) -> Option<&str> {
    let idx = key.rfind("node_modules/")?;
    Some(&key[idx + "node_modules/".len()..])
}

fn object_keys(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// `package-lock.json` / `npm-shrinkwrap.json`, lockfile versions 1 to 3.
pub fn npm_lock(json: &Value) -> LockGraph {
    let mut g = LockGraph::default();
    if let Some(packages) = json.get("packages").and_then(Value::as_object) {
        for (key, p) in packages {
            let Some(name) = npm_key_name(key) else {
                continue;
            };
            let mut deps = object_keys(p.get("dependencies"));
            deps.extend(object_keys(p.get("optionalDependencies")));
            let version = p.get("version").and_then(Value::as_str).unwrap_or("");
            g.add(name, version, deps);
        }
        return g;
    }
    fn walk(g: &mut LockGraph, deps: Option<&Value>) {
        if let Some(map) = deps.and_then(Value::as_object) {
            for (name, p) in map {
                let version = p.get("version").and_then(Value::as_str).unwrap_or("");
                g.add(name, version, object_keys(p.get("requires")));
                walk(g, p.get("dependencies"));
            }
        }
    }
    walk(&mut g, json.get("dependencies"));
    g
}

/// `name@version` (or `@scope/name@version(peer…)`, `/name@version` in pnpm 6–8) → (name, version).
fn split_at_version(spec: &str) -> Option<(&str, &str)> {
    let spec = spec.trim().trim_matches('"').trim_start_matches('/');
    let at = spec[1.min(spec.len())..].find('@').map(|i| i + 1)?;
    let (name, rest) = spec.split_at(at);
    let version = rest[1..].split('(').next().unwrap_or("");
    Some((name, version))
}

/// `pnpm-lock.yaml`: `packages` (pnpm 6–8) or `snapshots` (pnpm 9) entries with `dependencies`.
pub fn pnpm_lock(text: &str) -> LockGraph {
    let mut g = LockGraph::default();
    let Ok(json) = crate::yaml::to_json(text) else {
        return g;
    };
    for section in ["packages", "snapshots"] {
        if let Some(map) = json.get(section).and_then(Value::as_object) {
            for (key, p) in map {
                if let Some((name, version)) = split_at_version(key) {
                    let mut deps = object_keys(p.get("dependencies"));
                    deps.extend(object_keys(p.get("optionalDependencies")));
                    g.add(name, version, deps);
                }
            }
        }
    }
    g
}

/// `yarn.lock`, classic (v1) and Berry: unindented entry headers, `version`, `dependencies:`.
pub fn yarn_lock(text: &str) -> LockGraph {
    let mut g = LockGraph::default();
    let mut current: Option<String> = None;
    let mut in_deps = false;
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let body = line.trim();
        if indent == 0 {
            in_deps = false;
            current = body
                .trim_end_matches(':')
                .split(',')
                .next()
                .and_then(split_at_version)
                .map(|(n, _)| n.to_string());
            if let Some(name) = &current {
                g.add(name, "", Vec::new());
            }
            continue;
        }
        let Some(cur) = current.clone() else {
            continue;
        };
        if indent == 2 {
            in_deps = matches!(body, "dependencies:" | "optionalDependencies:");
            if let Some(v) = body
                .strip_prefix("version ")
                .or_else(|| body.strip_prefix("version: "))
            {
                if let Some(p) = g.packages.get_mut(&cur) {
                    if p.version.is_empty() {
                        p.version = v.trim().trim_matches('"').to_string();
                    }
                }
            }
        } else if indent >= 4 && in_deps {
            let name = body
                .split([' ', ':'])
                .find(|s| !s.is_empty())
                .unwrap_or("")
                .trim_matches('"');
            // Berry writes `"@scope/name": "npm:^1"`; the colon after the quote ends the name.
            let name = match body.strip_prefix('"') {
                Some(rest) => rest.split('"').next().unwrap_or(name),
                None => name,
            };
            if !name.is_empty() {
                g.add(&cur, "", vec![name.to_string()]);
            }
        }
    }
    g
}

/// `poetry.lock` and `uv.lock`: `[[package]]` with `dependencies` as a table (Poetry) or a list
/// of `{ name = … }` (uv). Names go through `normalize` (PEP 503 for Python).
pub fn python_lock(text: &str, normalize: fn(&str) -> String) -> LockGraph {
    let mut g = LockGraph::default();
    let Ok(table) = text.parse::<toml::Table>() else {
        return g;
    };
    for p in table
        .get("package")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        let Some(name) = p.get("name").and_then(|v| v.as_str()) else {
            continue;
        };
        let version = p.get("version").and_then(|v| v.as_str()).unwrap_or("");
        let deps: Vec<String> = match p.get("dependencies") {
            Some(toml::Value::Table(t)) => t.keys().map(|k| normalize(k)).collect(),
            // uv: `[{ name = "x" }]`; PDM: `["x>=1", "y[extra]"]`.
            Some(toml::Value::Array(a)) => a
                .iter()
                .filter_map(|d| {
                    d.get("name").and_then(|n| n.as_str()).or_else(|| {
                        d.as_str().and_then(|s| {
                            s.split(|c: char| !(c.is_alphanumeric() || "-_.".contains(c)))
                                .next()
                        })
                    })
                })
                .filter(|n| !n.is_empty())
                .map(normalize)
                .collect(),
            _ => Vec::new(),
        };
        g.add(&normalize(name), version, deps);
    }
    g
}

/// `composer.lock`: `packages` (and `packages-dev`) with their `require` maps.
pub fn composer_lock(json: &Value) -> LockGraph {
    let mut g = LockGraph::default();
    for section in ["packages", "packages-dev"] {
        for p in json
            .get(section)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = p.get("name").and_then(Value::as_str) {
                let version = p.get("version").and_then(Value::as_str).unwrap_or("");
                g.add(name, version, object_keys(p.get("require")));
            }
        }
    }
    g
}

/// `Cargo.lock`: `[[package]]` with `dependencies = ["name", "name version", "name version (source)"]`.
pub fn cargo_lock(text: &str) -> LockGraph {
    let mut g = LockGraph::default();
    let Ok(table) = text.parse::<toml::Table>() else {
        return g;
    };
    for p in table
        .get("package")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        let Some(name) = p.get("name").and_then(|v| v.as_str()) else {
            continue;
        };
        let version = p.get("version").and_then(|v| v.as_str()).unwrap_or("");
        let deps = p
            .get("dependencies")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str())
            .filter_map(|d| d.split(' ').next())
            .map(str::to_string)
            .collect();
        g.add(name, version, deps);
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gemfile_lock_chain_is_found_from_the_direct_dependency() {
        let lock = "GEM\n  remote: https://rubygems.org/\n  specs:\n    activerecord (7.1.3)\n    sinatra (3.2.0)\n      rack (~> 2.2)\n    sinatra-activerecord (2.0.27)\n      activerecord (>= 4.1)\n      sinatra (>= 1.0)\n    rack (2.2.8)\n\nDEPENDENCIES\n  sinatra-activerecord\n";
        let g = gemfile_lock(lock);
        let r = g
            .reach(["sinatra-activerecord"], &["rails", "sinatra"])
            .unwrap();
        assert_eq!(r.chain, vec!["sinatra-activerecord", "sinatra"]);
        assert_eq!(r.version, "3.2.0");
        assert!(g.reach(["rack"], &["sinatra"]).is_none());
    }

    #[test]
    fn npm_pnpm_yarn_cargo_and_composer_locks_give_edges() {
        let npm: Value = serde_json::from_str(
            r#"{"lockfileVersion":3,"packages":{"":{"dependencies":{"@x/server":"1"}},"node_modules/@x/server":{"version":"1.0.0","dependencies":{"express":"^4"}},"node_modules/express":{"version":"4.21.1"}}}"#,
        )
        .unwrap();
        let r = npm_lock(&npm).reach(["@x/server"], &["express"]).unwrap();
        assert_eq!(r.chain, vec!["@x/server", "express"]);

        let pnpm = "lockfileVersion: '9.0'\npackages:\n  express@4.21.1:\n    resolution: {integrity: x}\nsnapshots:\n  '@x/server@1.0.0':\n    dependencies:\n      express: 4.21.1\n  express@4.21.1: {}\n";
        let r = pnpm_lock(pnpm).reach(["@x/server"], &["express"]).unwrap();
        assert_eq!(r.version, "4.21.1");

        let yarn = "# yarn lockfile v1\n\n\"@x/server@^1.0.0\":\n  version \"1.0.0\"\n  dependencies:\n    express \"^4.0.0\"\n\nexpress@^4.0.0:\n  version \"4.21.1\"\n";
        let r = yarn_lock(yarn).reach(["@x/server"], &["express"]).unwrap();
        assert_eq!(r.version, "4.21.1");

        let berry = "__metadata:\n  version: 8\n\n\"@x/server@npm:^1.0.0\":\n  version: 1.0.0\n  dependencies:\n    express: \"npm:^4.0.0\"\n\n\"express@npm:^4.0.0\":\n  version: 4.21.1\n";
        assert!(yarn_lock(berry)
            .reach(["@x/server"], &["express"])
            .is_some());

        let cargo = "version = 3\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"shuttle-axum\"]\n[[package]]\nname = \"shuttle-axum\"\nversion = \"0.1.0\"\ndependencies = [\"axum 0.7.5\"]\n[[package]]\nname = \"axum\"\nversion = \"0.7.5\"\n";
        let r = cargo_lock(cargo)
            .reach(["shuttle-axum"], &["axum"])
            .unwrap();
        assert_eq!(r.chain, vec!["shuttle-axum", "axum"]);

        let composer: Value = serde_json::from_str(
            r#"{"packages":[{"name":"acme/kit","version":"1.0","require":{"laravel/framework":"^11"}},{"name":"laravel/framework","version":"v11.1.0"}]}"#,
        )
        .unwrap();
        assert!(composer_lock(&composer)
            .reach(["acme/kit"], &["laravel/framework"])
            .is_some());
    }

    #[test]
    fn poetry_and_uv_locks_are_read_with_normalized_names() {
        let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
        let poetry = "[[package]]\nname = \"Flask-RESTX\"\nversion = \"1.3.0\"\n\n[package.dependencies]\nFlask = \">=0.8\"\n\n[[package]]\nname = \"flask\"\nversion = \"3.0.3\"\n";
        let r = python_lock(poetry, norm)
            .reach(["flask-restx"], &["flask"])
            .unwrap();
        assert_eq!(r.version, "3.0.3");
        let uv = "version = 1\n[[package]]\nname = \"fastapi-users\"\nversion = \"13.0.0\"\ndependencies = [{ name = \"fastapi\" }]\n[[package]]\nname = \"fastapi\"\nversion = \"0.115.0\"\n";
        assert!(python_lock(uv, norm)
            .reach(["fastapi-users"], &["fastapi"])
            .is_some());
    }
}
