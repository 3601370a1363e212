//! What a repository (or its team) says it is: the `[services."path"]` and `ignore` entries of
//! `pipewright.toml`, which win over detection and show as evidence ("set in pipewright.toml").
//!
//! ```toml
//! ignore = ["tools/*", "legacy"]            # folders never taken as services
//!
//! [services."."]
//! framework = "flask"
//! port = 8080
//! databases = ["postgresql", "redis"]
//!
//! [services."services/api".commands]
//! test = "pytest -q"
//! ```
//!
//! Layers (lowest first): the user's config folder, the repository's own file, `--config` (or
//! an API request's `overrides`); a later layer replaces the fields it sets. Pure: the caller
//! reads the files; values are checked here against the closed sets, and a wrong one is an
//! error naming the key and the valid values.

use crate::generate::mirrors::Mirrors;
use crate::generate::tools::{Tool, ToolImages};
use crate::generate::GeneratorSettings;
use crate::stack::{
    BuildTool, Database, Evidence, Framework, Language, Role, RuntimeVersion, ServiceProfile,
    StackProfile, TestFramework,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The file name a repository keeps its overrides in (at its root).
pub const FILE_NAME: &str = "pipewright.toml";

/// Top-level keys `pipewright.toml` may hold: the overrides here, and the settings sections
/// the CLI reads (registry, generate, validate, tools, mirrors, images).
const KNOWN_TOP_LEVEL: &[&str] = &[
    "services", "ignore", "registry", "generate", "validate", "tools", "mirrors", "images",
];

/// Keys of one `[services."path"]` table.
const SERVICE_KEYS: &[&str] = &[
    "language",
    "framework",
    "build_tool",
    "test_framework",
    "runtime_version",
    "port",
    "databases",
    "commands",
];
const COMMAND_KEYS: &[&str] = &["install", "build", "test", "lint", "start"];

/// A value the file got wrong: which key, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {key}: {reason}")]
pub struct OverrideError {
    /// The file (or `request overrides`) the value came from.
    pub source_name: String,
    /// The key path (`services."api".framework`).
    pub key: String,
    pub reason: String,
}

/// The overrides of one layer (one file or one request), checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Overrides {
    /// Folder (relative to the root, `.` for the root) → what is set for it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceOverride>,
    /// Folders (or `dir/*` patterns) never taken as services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// Where each field came from, for the evidence: (folder, field) → source name.
    #[serde(skip)]
    pub origin: BTreeMap<(String, String), String>,
    #[serde(skip)]
    pub ignore_origin: BTreeMap<String, String>,
}

/// What one layer sets for one service; unset fields keep the detected (or lower layer's) value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<Framework>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_tool: Option<BuildTool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_framework: Option<TestFramework>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub databases: Option<Vec<Database>>,
    #[serde(default, skip_serializing_if = "CommandOverrides::is_empty")]
    pub commands: CommandOverrides,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

impl CommandOverrides {
    pub fn is_empty(&self) -> bool {
        self.install.is_none()
            && self.build.is_none()
            && self.test.is_none()
            && self.lint.is_none()
            && self.start.is_none()
    }
}

/// A parsed value (TOML or JSON) seen as JSON, so files and API requests are checked alike.
type Json = serde_json::Value;

/// The generator settings a repository's own `pipewright.toml` may hold: `[tools]` rows and
/// `[mirrors]`. They fill in what the operator's settings (their `--config`, the
/// `pipewright.toml` of the folder the CLI runs in, the environment) leave at pipewright's
/// built-in values: the platform team's choice wins, the repository's word fills the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepositorySettings {
    pub tools: Vec<ToolRowOverride>,
    /// Mirror key (`pypi`, `npm` …) → URL or `$VARIABLE`, already checked.
    pub mirrors: Vec<(String, String)>,
}

/// One `[tools]` entry: the parts of the tool's row it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolRowOverride {
    pub tool: Tool,
    pub image: Option<String>,
    pub tag: Option<String>,
    pub upstream: Option<String>,
}

impl RepositorySettings {
    /// Reads `[tools]` and `[mirrors]` from a `pipewright.toml`; a wrong entry is an error
    /// naming the key and what is valid.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Self, OverrideError> {
        let err = |key: String, reason: String| OverrideError {
            source_name: source_name.to_string(),
            key,
            reason,
        };
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            err(
                "(file)".into(),
                format!(
                    "not valid TOML: {}",
                    e.message().lines().next().unwrap_or("parse error")
                ),
            )
        })?;
        let mut out = RepositorySettings::default();
        if let Some(tools) = table.get("tools") {
            let tools = tools
                .as_table()
                .ok_or_else(|| err("tools".into(), "expected a table: [tools]".into()))?;
            for (key, value) in tools {
                let tool = ToolImages::tool_for_key(key)
                    .map_err(|e| err(format!("tools.{key}"), e.to_string()))?;
                let row = match value {
                    toml::Value::String(tag) => ToolRowOverride {
                        tool,
                        image: None,
                        tag: Some(tag.clone()),
                        upstream: None,
                    },
                    toml::Value::Table(t) => {
                        let part = |name: &str| -> Result<Option<String>, OverrideError> {
                            match t.get(name) {
                                None => Ok(None),
                                Some(toml::Value::String(s)) if !s.trim().is_empty() => {
                                    Ok(Some(s.trim().to_string()))
                                }
                                Some(_) => {
                                    Err(err(format!("tools.{key}.{name}"), "expected text".into()))
                                }
                            }
                        };
                        if let Some(k) = t
                            .keys()
                            .find(|k| !["image", "tag", "upstream"].contains(&k.as_str()))
                        {
                            return Err(err(
                                format!("tools.{key}.{k}"),
                                "unknown key; valid keys: image, tag, upstream".into(),
                            ));
                        }
                        ToolRowOverride {
                            tool,
                            image: part("image")?,
                            tag: part("tag")?,
                            upstream: part("upstream")?,
                        }
                    }
                    _ => {
                        return Err(err(
                            format!("tools.{key}"),
                            "expected a tag (text) or a table with image, tag, upstream".into(),
                        ))
                    }
                };
                out.tools.push(row);
            }
        }
        if let Some(mirrors) = table.get("mirrors") {
            let mirrors = mirrors
                .as_table()
                .ok_or_else(|| err("mirrors".into(), "expected a table: [mirrors]".into()))?;
            for (key, value) in mirrors {
                let text = value.as_str().ok_or_else(|| {
                    err(
                        format!("mirrors.{key}"),
                        "expected a URL or $VARIABLE".into(),
                    )
                })?;
                Mirrors::default()
                    .set(key, text)
                    .map_err(|e| err(format!("mirrors.{key}"), e.to_string()))?;
                out.mirrors.push((key.clone(), text.trim().to_string()));
            }
        }
        Ok(out)
    }

    /// Fills what `settings` leave at the built-in values; returns one line per value taken.
    pub fn fill(&self, settings: &mut GeneratorSettings) -> Vec<String> {
        let builtin = ToolImages::default();
        let mut taken = Vec::new();
        for r in &self.tools {
            if settings.tools.get(r.tool) != builtin.get(r.tool) {
                continue;
            }
            settings
                .tools
                .set(r.tool, r.image.clone(), r.tag.clone(), r.upstream.clone());
            let row = settings.tools.get(r.tool);
            taken.push(format!(
                "the repository's pipewright.toml sets the {} image to {}:{}",
                tool_key(r.tool),
                row.image,
                row.tag
            ));
        }
        for (key, value) in &self.mirrors {
            if settings.mirrors.is_set(key) {
                continue;
            }
            if settings.mirrors.set(key, value).is_ok() {
                taken.push(format!(
                    "the repository's pipewright.toml sets the {key} mirror"
                ));
            }
        }
        taken
    }
}

/// The `[tools]` key of a tool, for messages.
fn tool_key(tool: Tool) -> String {
    crate::generate::tools::TOOLS
        .iter()
        .find(|(t, ..)| *t == tool)
        .map(|(_, key, ..)| key.to_string())
        .unwrap_or_default()
}

impl Overrides {
    /// Parses the text of a `pipewright.toml`; `source_name` names it in errors and evidence.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Overrides, OverrideError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| OverrideError {
            source_name: source_name.to_string(),
            key: "(file)".into(),
            reason: format!(
                "not valid TOML: {}",
                e.message().lines().next().unwrap_or("parse error")
            ),
        })?;
        let json = serde_json::to_value(&table).map_err(|e| OverrideError {
            source_name: source_name.to_string(),
            key: "(file)".into(),
            reason: e.to_string(),
        })?;
        Overrides::from_json(&json, source_name, true)
    }

    /// Checks overrides given as JSON (`{"services": {...}, "ignore": [...]}`), as an API request
    /// sends them. With `settings_allowed`, the CLI's settings sections may sit beside them.
    pub fn from_json(
        json: &Json,
        source_name: &str,
        settings_allowed: bool,
    ) -> Result<Overrides, OverrideError> {
        let err = |key: String, reason: String| OverrideError {
            source_name: source_name.to_string(),
            key,
            reason,
        };
        let Some(top) = json.as_object() else {
            return Err(err("(top level)".into(), "expected a table".into()));
        };
        let allowed: &[&str] = if settings_allowed {
            KNOWN_TOP_LEVEL
        } else {
            &["services", "ignore"]
        };
        for k in top.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(err(
                    k.clone(),
                    format!("unknown key; valid keys: {}", allowed.join(", ")),
                ));
            }
        }
        let mut out = Overrides::default();
        if let Some(ignore) = top.get("ignore") {
            let list = ignore
                .as_array()
                .ok_or_else(|| err("ignore".into(), "expected a list of folders".into()))?;
            for (i, v) in list.iter().enumerate() {
                let s = v.as_str().ok_or_else(|| {
                    err(
                        format!("ignore[{i}]"),
                        "expected a folder path (string)".into(),
                    )
                })?;
                let s =
                    normalize_dir(s).ok_or_else(|| err(format!("ignore[{i}]"), path_rule(s)))?;
                out.ignore_origin.insert(s.clone(), source_name.to_string());
                out.ignore.push(s);
            }
        }
        if let Some(services) = top.get("services") {
            let map = services.as_object().ok_or_else(|| {
                err(
                    "services".into(),
                    "expected tables: [services.\"path\"]".into(),
                )
            })?;
            for (path, body) in map {
                let dir = normalize_dir(path)
                    .ok_or_else(|| err(format!("services.\"{path}\""), path_rule(path)))?;
                let key = |field: &str| format!("services.\"{path}\".{field}");
                let body = body.as_object().ok_or_else(|| {
                    err(format!("services.\"{path}\""), "expected a table".into())
                })?;
                for k in body.keys() {
                    if !SERVICE_KEYS.contains(&k.as_str()) {
                        return Err(err(
                            key(k),
                            format!("unknown key; valid keys: {}", SERVICE_KEYS.join(", ")),
                        ));
                    }
                }
                let mut o = ServiceOverride {
                    language: named(body.get("language"), || key("language"), &err)?,
                    framework: named(body.get("framework"), || key("framework"), &err)?,
                    build_tool: named(body.get("build_tool"), || key("build_tool"), &err)?,
                    test_framework: named(
                        body.get("test_framework"),
                        || key("test_framework"),
                        &err,
                    )?,
                    ..ServiceOverride::default()
                };
                if let Some(v) = body.get("runtime_version") {
                    let s = match v {
                        Json::String(s) if !s.trim().is_empty() => s.trim().to_string(),
                        Json::Number(n) => n.to_string(),
                        _ => {
                            return Err(err(
                                key("runtime_version"),
                                "expected a version as text (\"3.12\", \"20\")".into(),
                            ))
                        }
                    };
                    o.runtime_version = Some(s);
                }
                if let Some(v) = body.get("port") {
                    let p = v
                        .as_u64()
                        .filter(|p| (1..=65535).contains(p))
                        .ok_or_else(|| {
                            err(
                                key("port"),
                                format!("expected a port number from 1 to 65535, got {v}"),
                            )
                        })?;
                    o.port = Some(p as u16);
                }
                if let Some(v) = body.get("databases") {
                    let list = v.as_array().ok_or_else(|| {
                        err(
                            key("databases"),
                            "expected a list such as [\"postgresql\"]".into(),
                        )
                    })?;
                    let mut dbs = Vec::new();
                    for (i, d) in list.iter().enumerate() {
                        let db: Option<Database> =
                            named(Some(d), || format!("{}[{i}]", key("databases")), &err)?;
                        dbs.extend(db);
                    }
                    o.databases = Some(dbs);
                }
                if let Some(v) = body.get("commands") {
                    let c = v.as_object().ok_or_else(|| {
                        err(key("commands"), "expected a table of commands".into())
                    })?;
                    for (name, cmd) in c {
                        if !COMMAND_KEYS.contains(&name.as_str()) {
                            return Err(err(
                                format!("{}.{name}", key("commands")),
                                format!("unknown command; valid: {}", COMMAND_KEYS.join(", ")),
                            ));
                        }
                        let text = cmd
                            .as_str()
                            .filter(|s| !s.trim().is_empty() && !s.contains('\n'))
                            .ok_or_else(|| {
                                err(
                                    format!("{}.{name}", key("commands")),
                                    "expected one shell command line (text)".into(),
                                )
                            })?
                            .to_string();
                        let slot = match name.as_str() {
                            "install" => &mut o.commands.install,
                            "build" => &mut o.commands.build,
                            "test" => &mut o.commands.test,
                            "lint" => &mut o.commands.lint,
                            _ => &mut o.commands.start,
                        };
                        *slot = Some(text);
                    }
                }
                for field in set_fields(&o) {
                    out.origin
                        .insert((dir.clone(), field.to_string()), source_name.to_string());
                }
                out.services.insert(dir, o);
            }
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.ignore.is_empty()
    }

    /// Lays `upper` over `self`: each field `upper` sets replaces this one's.
    pub fn merge(&mut self, upper: Overrides) {
        for pat in upper.ignore {
            if !self.ignore.contains(&pat) {
                self.ignore.push(pat);
            }
        }
        self.ignore_origin.extend(upper.ignore_origin);
        self.origin.extend(upper.origin);
        for (dir, o) in upper.services {
            let base = self.services.entry(dir).or_default();
            macro_rules! take {
                ($($f:ident).+) => {
                    if o.$($f).+.is_some() {
                        base.$($f).+ = o.$($f).+.clone();
                    }
                };
            }
            take!(language);
            take!(framework);
            take!(build_tool);
            take!(test_framework);
            take!(runtime_version);
            take!(port);
            take!(databases);
            take!(commands.install);
            take!(commands.build);
            take!(commands.test);
            take!(commands.lint);
            take!(commands.start);
        }
    }

    /// Applies the overrides to a profile: ignored folders leave, set fields replace the
    /// detected ones with evidence naming the file, and a service named here but not detected
    /// is added when the entry says its language. Returns an error for an entry that names a
    /// folder with no service and no language.
    pub fn apply(&self, profile: &mut StackProfile) -> Result<(), OverrideError> {
        let source_of = |dir: &str, field: &str| {
            self.origin
                .get(&(dir.to_string(), field.to_string()))
                .cloned()
                .unwrap_or_else(|| FILE_NAME.to_string())
        };
        if !self.ignore.is_empty() {
            let before: Vec<String> = profile.services.iter().map(|s| s.path.clone()).collect();
            profile
                .services
                .retain(|s| !self.ignore.iter().any(|p| dir_matches(p, &s.path)));
            for path in before {
                if !profile.services.iter().any(|s| s.path == path) {
                    let place = format!("{}: ", place_of(&path));
                    profile.warnings.retain(|w| !w.starts_with(&place));
                    let pat = self
                        .ignore
                        .iter()
                        .find(|p| dir_matches(p, &path))
                        .cloned()
                        .unwrap_or_default();
                    let file = self
                        .ignore_origin
                        .get(&pat)
                        .cloned()
                        .unwrap_or_else(|| FILE_NAME.to_string());
                    profile.warnings.push(format!(
                        "{path}: not a service: ignored by `{pat}` (set in {file})"
                    ));
                }
            }
        }
        for (dir, o) in &self.services {
            if self.ignore.iter().any(|p| dir_matches(p, dir)) {
                continue;
            }
            let idx = match profile.services.iter().position(|s| &s.path == dir) {
                Some(i) => i,
                None => {
                    let Some(language) = o.language else {
                        return Err(OverrideError {
                            source_name: source_of(dir, "language"),
                            key: format!("services.\"{dir}\""),
                            reason: format!(
                                "no service was detected in `{dir}`; to add one, set its `language` (one of: {})",
                                names(Language::ALL)
                            ),
                        });
                    };
                    profile.services.push(new_service(dir, language));
                    profile.services.len() - 1
                }
            };
            let s = &mut profile.services[idx];
            let mark = |s: &mut ServiceProfile, field: &str, value: String| {
                let file = source_of(dir, field);
                s.evidence.retain(|e| e.conclusion != field);
                s.evidence.push(Evidence::new(
                    field,
                    file.clone(),
                    format!("{value}: set in {file}"),
                ));
            };
            if let Some(v) = o.language {
                s.language = v;
                mark(s, "language", v.to_string());
            }
            if let Some(v) = o.framework {
                s.framework = Some(v);
                mark(s, "framework", v.to_string());
                if s.role < Role::Application && !v.is_static_frontend() {
                    s.role = Role::Application;
                }
            }
            if let Some(v) = o.build_tool {
                s.build_tool = Some(v);
                mark(s, "build_tool", v.to_string());
            }
            if let Some(v) = o.test_framework {
                s.test_framework = Some(v);
                mark(s, "test_framework", v.to_string());
            }
            if let Some(v) = &o.runtime_version {
                let file = source_of(dir, "runtime_version");
                let name = s
                    .runtime_version
                    .as_ref()
                    .map(|r| r.name.clone())
                    .unwrap_or_else(|| runtime_name(s.language).to_string());
                let rv = RuntimeVersion {
                    name,
                    value: v.clone(),
                    source: format!("{file} (set in pipewright.toml)"),
                };
                s.versions.insert(0, rv.clone());
                s.runtime_version = Some(rv);
                mark(s, "runtime_version", v.clone());
                let missing = format!("no {} version is pinned", runtime_name(s.language));
                let place = format!("{}: ", place_of(&s.path));
                profile
                    .warnings
                    .retain(|w| !(w.starts_with(&place) && w.contains(&missing)));
                s.evidence
                    .retain(|e| !(e.conclusion == "warning" && e.detail.contains(&missing)));
            }
            if let Some(p) = o.port {
                s.port = Some(p);
                s.port_source = Some(source_of(dir, "port"));
                mark(s, "port", p.to_string());
            }
            if let Some(dbs) = &o.databases {
                s.databases = dbs.clone();
                s.databases.sort();
                s.databases.dedup();
                let list: Vec<&str> = s.databases.iter().map(|d| d.as_str()).collect();
                mark(s, "database", format!("[{}]", list.join(", ")));
            }
            for (name, value) in [
                ("install", &o.commands.install),
                ("build", &o.commands.build),
                ("test", &o.commands.test),
                ("lint", &o.commands.lint),
                ("start", &o.commands.start),
            ] {
                if let Some(v) = value {
                    let slot = match name {
                        "install" => &mut s.commands.install,
                        "build" => &mut s.commands.build,
                        "test" => &mut s.commands.test,
                        "lint" => &mut s.commands.lint,
                        _ => &mut s.commands.start,
                    };
                    *slot = Some(v.clone());
                    let file = source_of(dir, &format!("commands.{name}"));
                    s.evidence.push(Evidence::new(
                        "command",
                        file.clone(),
                        format!("{name}: {v}: set in {file}"),
                    ));
                    if name == "start" {
                        if s.role < Role::Application {
                            s.role = Role::Application;
                        }
                        let place = format!("{}: ", place_of(&s.path));
                        profile
                            .warnings
                            .retain(|w| !(w.starts_with(&place) && w.contains("no start command")));
                    }
                }
            }
        }
        profile
            .services
            .sort_by(|a, b| (a.path != ".", &a.path).cmp(&(b.path != ".", &b.path)));
        profile.monorepo = profile.services.len() > 1;
        if let Some(root) = profile.services.iter().find(|s| s.path == ".") {
            profile.primary_language = Some(root.language);
        } else if profile.services.len() == 1 {
            profile.primary_language = Some(profile.services[0].language);
        }
        Ok(())
    }
}

/// How warnings name a service folder (`repository root` for `.`).
fn place_of(path: &str) -> &str {
    if path == "." {
        "repository root"
    } else {
        path
    }
}

fn set_fields(o: &ServiceOverride) -> Vec<&'static str> {
    let mut out = Vec::new();
    let pairs: [(&'static str, bool); 12] = [
        ("language", o.language.is_some()),
        ("framework", o.framework.is_some()),
        ("build_tool", o.build_tool.is_some()),
        ("test_framework", o.test_framework.is_some()),
        ("runtime_version", o.runtime_version.is_some()),
        ("port", o.port.is_some()),
        ("database", o.databases.is_some()),
        ("commands.install", o.commands.install.is_some()),
        ("commands.build", o.commands.build.is_some()),
        ("commands.test", o.commands.test.is_some()),
        ("commands.lint", o.commands.lint.is_some()),
        ("commands.start", o.commands.start.is_some()),
    ];
    for (f, set) in pairs {
        if set {
            out.push(f);
        }
    }
    out
}

/// A closed-set name, or an error listing the valid names.
fn named<T: FromStr + Copy + NamedSet + 'static>(
    v: Option<&Json>,
    key: impl Fn() -> String,
    err: &impl Fn(String, String) -> OverrideError,
) -> Result<Option<T>, OverrideError> {
    let Some(v) = v else { return Ok(None) };
    let Some(s) = v.as_str() else {
        return Err(err(
            key(),
            format!("expected a name (one of: {})", T::valid()),
        ));
    };
    match s.parse::<T>() {
        Ok(t) => Ok(Some(t)),
        Err(_) => Err(err(
            key(),
            format!("unknown {} `{s}`; valid: {}", T::WHAT, T::valid()),
        )),
    }
}

/// The closed sets a value is checked against, and how they are listed.
pub trait NamedSet {
    const WHAT: &'static str;
    fn valid() -> String;
}

macro_rules! named_set {
    ($t:ty, $what:literal) => {
        impl NamedSet for $t {
            const WHAT: &'static str = $what;
            fn valid() -> String {
                names(<$t>::ALL)
            }
        }
    };
}
named_set!(Language, "language");
named_set!(Framework, "framework");
named_set!(BuildTool, "build tool");
named_set!(TestFramework, "test framework");
named_set!(Database, "database");

fn names<T: std::fmt::Display>(all: &[T]) -> String {
    all.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `./api/` → `api`, `.` → `.`; `None` for absolute paths or `..`.
fn normalize_dir(path: &str) -> Option<String> {
    let p = path.trim().trim_start_matches("./").trim_end_matches('/');
    if p.is_empty() || p == "." {
        return Some(".".into());
    }
    if p.starts_with('/') || p.split('/').any(|c| c == ".." || c.is_empty()) {
        return None;
    }
    Some(p.to_string())
}

fn path_rule(path: &str) -> String {
    format!("`{path}` is not a folder inside the repository; write it relative to the root (`.`, `services/api`), without `..`")
}

/// `services/*` matches `services/api`; a plain folder matches itself and what is below it.
fn dir_matches(pattern: &str, dir: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix("/*") {
        return dir.starts_with(prefix)
            && dir.len() > prefix.len()
            && dir.as_bytes()[prefix.len()] == b'/';
    }
    pattern == "." && dir == "."
        || dir == pattern
        || (dir.starts_with(pattern) && dir.as_bytes().get(pattern.len()) == Some(&b'/'))
}

/// The runtime name versions use for a language.
pub fn runtime_name(language: Language) -> &'static str {
    match language {
        Language::Ruby => "ruby",
        Language::Python => "python",
        Language::JavaScript | Language::TypeScript => "node",
        Language::Java | Language::Kotlin => "java",
        Language::Go => "go",
        Language::Rust => "rust",
        Language::Php => "php",
        Language::CSharp => "dotnet",
        Language::Elixir => "elixir",
    }
}

fn new_service(dir: &str, language: Language) -> ServiceProfile {
    ServiceProfile {
        path: dir.to_string(),
        language,
        framework: None,
        build_tool: None,
        test_framework: None,
        runtime_version: None,
        port: None,
        port_source: None,
        databases: Vec::new(),
        commands: Default::default(),
        secondary: Vec::new(),
        evidence: vec![Evidence::new(
            "role",
            FILE_NAME,
            "application: the service is declared in pipewright.toml",
        )],
        versions: Vec::new(),
        role: Role::Application,
        test_variables: Vec::new(),
    }
}

/// A commented starter `pipewright.toml` describing what was detected, every value
/// commented out so that writing the file changes nothing until a line is uncommented.
pub fn starter_file(profile: &StackProfile) -> String {
    let mut out = String::new();
    out.push_str(
        "# pipewright.toml: what this repository is, where detection needs correcting.\n\
         # Every value below is what pipewright detected; uncomment a line to fix it in place.\n\
         # Reference: README.md (\"pipewright.toml\"), schema: schemas/pipewright.schema.json.\n\
         # What this file sets wins over detection and shows as evidence (\"set in pipewright.toml\").\n\n\
         # Folders that are never services (a folder, or `dir/*`):\n\
         # ignore = [\"tools/*\"]\n",
    );
    for s in &profile.services {
        out.push_str(&format!("\n[services.\"{}\"]\n", s.path));
        let line = |k: &str, v: Option<String>| match v {
            Some(v) => format!("# {k} = {v}\n"),
            None => format!("# {k} =              # not detected\n"),
        };
        let q = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
        out.push_str(&line("language", Some(q(s.language.as_str()))));
        out.push_str(&line("framework", s.framework.map(|f| q(f.as_str()))));
        out.push_str(&line("build_tool", s.build_tool.map(|f| q(f.as_str()))));
        out.push_str(&line(
            "test_framework",
            s.test_framework.map(|f| q(f.as_str())),
        ));
        out.push_str(&line(
            "runtime_version",
            s.runtime_version.as_ref().map(|v| q(&v.value)),
        ));
        out.push_str(&line("port", s.port.map(|p| p.to_string())));
        let dbs: Vec<String> = s.databases.iter().map(|d| q(d.as_str())).collect();
        out.push_str(&format!("# databases = [{}]\n", dbs.join(", ")));
        let cmds = [
            ("install", &s.commands.install),
            ("build", &s.commands.build),
            ("test", &s.commands.test),
            ("lint", &s.commands.lint),
            ("start", &s.commands.start),
        ];
        out.push_str(&format!("# [services.\"{}\".commands]\n", s.path));
        for (k, v) in cmds {
            out.push_str(&line(k, v.as_deref().map(q)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_framework_is_refused_with_the_valid_names() {
        let e = Overrides::from_toml(
            "[services.\".\"]\nframework = \"djangoo\"\n",
            "pipewright.toml",
        )
        .unwrap_err();
        assert_eq!(e.key, "services.\".\".framework");
        assert!(e.reason.contains("unknown framework `djangoo`"), "{e}");
        assert!(e.reason.contains("django, flask, fastapi"), "{e}");
    }

    #[test]
    fn bad_ports_paths_and_keys_are_refused() {
        for (text, key) in [
            ("[services.\".\"]\nport = 70000\n", "services.\".\".port"),
            ("[services.\"../x\"]\nport = 80\n", "services.\"../x\""),
            (
                "[services.\".\"]\nframwork = \"flask\"\n",
                "services.\".\".framwork",
            ),
            (
                "[services.\".\".commands]\nrun = \"x\"\n",
                "services.\".\".commands.run",
            ),
            ("colour = 1\n", "colour"),
        ] {
            let e = Overrides::from_toml(text, "pipewright.toml").unwrap_err();
            assert_eq!(e.key, key, "{text}: {e}");
        }
    }

    #[test]
    fn later_layers_replace_the_fields_they_set() {
        let mut base =
            Overrides::from_toml("[services.api]\nport = 80\nframework = \"flask\"\n", "user")
                .unwrap();
        base.merge(Overrides::from_toml("[services.api]\nport = 8080\n", "--config").unwrap());
        let api = &base.services["api"];
        assert_eq!(api.port, Some(8080));
        assert_eq!(api.framework, Some(Framework::Flask));
        assert_eq!(base.origin[&("api".into(), "port".into())], "--config");
        assert_eq!(base.origin[&("api".into(), "framework".into())], "user");
    }

    #[test]
    fn the_published_schema_lists_every_valid_name() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../schemas/pipewright.schema.json")).unwrap();
        let svc = &schema["$defs"]["service"]["properties"];
        let listed = |key: &str| -> Vec<String> {
            let v = if key == "databases" {
                &svc[key]["items"]["enum"]
            } else {
                &svc[key]["enum"]
            };
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect()
        };
        let all = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            listed("language"),
            all(Language::ALL.iter().map(|x| x.as_str()).collect())
        );
        assert_eq!(
            listed("framework"),
            all(Framework::ALL.iter().map(|x| x.as_str()).collect())
        );
        assert_eq!(
            listed("build_tool"),
            all(BuildTool::ALL.iter().map(|x| x.as_str()).collect())
        );
        assert_eq!(
            listed("test_framework"),
            all(TestFramework::ALL.iter().map(|x| x.as_str()).collect())
        );
        assert_eq!(
            listed("databases"),
            all(Database::ALL.iter().map(|x| x.as_str()).collect())
        );
        let keys: Vec<&str> = svc
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut expected = SERVICE_KEYS.to_vec();
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
    }

    #[test]
    fn ignore_patterns_match_folders_and_below() {
        assert!(dir_matches("tools/*", "tools/gen"));
        assert!(!dir_matches("tools/*", "tools"));
        assert!(dir_matches("legacy", "legacy/app"));
        assert!(!dir_matches("legacy", "legacy2"));
    }
}
