//! Rust: Cargo packages and workspaces; axum, actix-web, Rocket; `cargo test`.
//!
//! Everything comes from `Cargo.toml` (`[dependencies]` with their features, resolved through
//! `[workspace.dependencies]` for `workspace = true` entries) and, for a workspace member, the
//! workspace root's `Cargo.toml` found up the tree. The toolchain comes from
//! `rust-toolchain.toml`, the legacy `rust-toolchain` file, `.tool-versions`/`mise.toml`, then
//! `rust-version` (a minimum, so last). `src/main.rs` and `Rocket.toml` are read for the port.

use super::context::up_to;
use super::shared::ascii_regex;
use super::versions::{add_tool_versions, first_line};
use super::{Candidate, DirContext, Ecosystem};
use crate::index::{join, parent_dir};
use crate::stack::{BuildTool, Database, Framework, Language, Role, TestFramework};
use regex::Regex;
use std::sync::LazyLock;

/// The Rust detector.
pub struct Rust;

const READ_FILES: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    "rust-toolchain.toml",
    "rust-toolchain",
    "Rocket.toml",
];

/// Crate → framework, in the order that decides when several are present.
const FRAMEWORK_CRATES: &[(&str, Framework)] = &[
    ("axum", Framework::Axum),
    ("actix-web", Framework::ActixWeb),
    ("rocket", Framework::Rocket),
];

/// Crate → the service it talks to.
const DATABASE_CRATES: &[(&str, Database)] = &[
    ("tokio-postgres", Database::Postgresql),
    ("postgres", Database::Postgresql),
    ("deadpool-postgres", Database::Postgresql),
    ("bb8-postgres", Database::Postgresql),
    ("mysql", Database::Mysql),
    ("mysql-async", Database::Mysql),
    ("rusqlite", Database::Sqlite),
    ("redis", Database::Redis),
    ("deadpool-redis", Database::Redis),
    ("bb8-redis", Database::Redis),
    ("fred", Database::Redis),
    ("mongodb", Database::Mongodb),
    ("lapin", Database::Rabbitmq),
    ("rdkafka", Database::Kafka),
    ("elasticsearch", Database::Elasticsearch),
    ("tiberius", Database::Mssql),
    ("scylla", Database::Cassandra),
    ("memcache", Database::Memcached),
];

/// Crate features → the service they talk to (`sqlx = { features = ["postgres"] }`).
const DATABASE_FEATURES: &[(&str, &str, Database)] = &[
    ("sqlx", "postgres", Database::Postgresql),
    ("sqlx", "mysql", Database::Mysql),
    ("sqlx", "sqlite", Database::Sqlite),
    ("diesel", "postgres", Database::Postgresql),
    ("diesel", "mysql", Database::Mysql),
    ("diesel", "sqlite", Database::Sqlite),
    ("sea-orm", "sqlx-postgres", Database::Postgresql),
    ("sea-orm", "sqlx-mysql", Database::Mysql),
    ("sea-orm", "sqlx-sqlite", Database::Sqlite),
];

static RE_ENV_PORT: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"var\("PORT"\)[^;]{0,160}?"(\d{2,5})""#));
static RE_BIND_TUPLE: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"\.bind\(\(\s*"[^"]*"\s*,\s*(\d{2,5})\s*\)\)"#));
static RE_SOCKET_ADDR: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(r"SocketAddr::(?:from\(\(\s*\[[\d,\s]+\]\s*,|new\([^,]+,)\s*(\d{2,5})\s*\)")
});
static RE_ADDR_LITERAL: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(r#""(?:0\.0\.0\.0|127\.0\.0\.1|localhost|\[::\]|::)?:(\d{2,5})""#)
});

/// A dependency after `workspace = true` and `package = "…"` are resolved.
#[derive(Debug, Clone, PartialEq)]
struct Dep {
    name: String,
    features: Vec<String>,
}

/// Crate names compare with `-` and `_` as the same character, as crates.io does.
fn crate_name(name: &str) -> String {
    name.replace('_', "-")
}

/// The workspace root above a member: (folder, its parsed Cargo.toml).
fn workspace_root(ctx: &DirContext<'_>) -> Option<(String, toml::Table)> {
    let mut dir = ctx.dir;
    while !dir.is_empty() {
        dir = parent_dir(dir);
        let Some(text) = ctx.index.text(&join(dir, "Cargo.toml")) else {
            continue;
        };
        let Ok(table) = text.parse::<toml::Table>() else {
            continue;
        };
        let Some(ws) = table.get("workspace").and_then(|w| w.as_table()) else {
            continue;
        };
        let rel = &ctx.dir[if dir.is_empty() { 0 } else { dir.len() + 1 }..];
        let listed = |key: &str| {
            ws.get(key)
                .and_then(|m| m.as_array())
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str())
                .any(|pattern| {
                    globset::Glob::new(pattern.trim_end_matches('/'))
                        .map(|g| g.compile_matcher().is_match(rel))
                        .unwrap_or(false)
                })
        };
        if listed("members") && !listed("exclude") {
            return Some((dir.to_string(), table));
        }
    }
    None
}

/// The `[dependencies]` of a manifest, resolved against the workspace's shared dependencies.
fn dependencies(manifest: &toml::Table, workspace: Option<&toml::Table>) -> Vec<Dep> {
    let shared = workspace
        .and_then(|w| w.get("workspace"))
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.as_table());
    let features = |v: &toml::Value| -> Vec<String> {
        v.get("features")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(String::from))
            .collect()
    };
    let mut out = Vec::new();
    let Some(deps) = manifest.get("dependencies").and_then(|d| d.as_table()) else {
        return out;
    };
    for (key, value) in deps {
        let mut dep = Dep {
            name: crate_name(key),
            features: features(value),
        };
        if let Some(p) = value.get("package").and_then(|p| p.as_str()) {
            dep.name = crate_name(p);
        }
        if value.get("workspace").and_then(|w| w.as_bool()) == Some(true) {
            if let Some(shared_dep) = shared.and_then(|s| s.get(key)) {
                dep.features.extend(features(shared_dep));
                if let Some(p) = shared_dep.get("package").and_then(|p| p.as_str()) {
                    dep.name = crate_name(p);
                }
            }
        }
        out.push(dep);
    }
    out
}

impl Ecosystem for Rust {
    fn name(&self) -> &'static str {
        "rust"
    }

    fn is_manifest(&self, name: &str) -> bool {
        name == "Cargo.toml"
    }

    fn wants(&self, path: &str, name: &str) -> bool {
        READ_FILES.contains(&name) || path.ends_with("src/main.rs") || is_config_file(path, name)
    }

    fn detect(&self, ctx: &DirContext<'_>) -> Option<Candidate> {
        if !ctx.has("Cargo.toml") {
            return None;
        }
        let mut c = Candidate::new(Language::Rust, "rust");
        let path = ctx.path("Cargo.toml");
        c.set_build_tool(BuildTool::Cargo, &path, "Cargo.toml is present");
        let manifest = ctx.toml("Cargo.toml", &mut c).unwrap_or_default();
        let package = manifest.get("package").and_then(|p| p.as_table());
        let own_workspace = manifest.get("workspace").and_then(|w| w.as_table());
        let ws = match own_workspace {
            Some(_) => Some((ctx.dir.to_string(), manifest.clone())),
            None => workspace_root(ctx),
        };
        if let (Some((dir, _)), None) = (&ws, own_workspace) {
            c.note(
                "build_tool",
                join(dir, "Cargo.toml"),
                format!(
                    "member of the Cargo workspace in {}",
                    super::context::display_dir(dir)
                ),
            );
        }

        versions(ctx, &mut c, package, ws.as_ref());

        let deps = dependencies(&manifest, ws.as_ref().map(|(_, t)| t));
        for (krate, fw) in FRAMEWORK_CRATES {
            if deps.iter().any(|d| d.name == *krate) {
                c.set_framework(*fw, &path, format!("`{krate}` is in [dependencies]"));
            }
        }
        if c.framework.is_none() {
            // A framework behind a wrapper crate (`shuttle-axum`, `loco-rs`): Cargo.lock knows.
            let root = ws.as_ref().map(|(d, _)| d.as_str()).unwrap_or(ctx.dir);
            let lock_path = join(root, "Cargo.lock");
            if let Some(text) = ctx.index.text(&lock_path) {
                let graph = super::lockgraph::cargo_lock(text);
                let wanted: Vec<&str> = FRAMEWORK_CRATES.iter().map(|(k, _)| *k).collect();
                let roots: Vec<&str> = deps.iter().map(|d| d.name.as_str()).collect();
                if let Some(found) = graph.reach(roots, &wanted) {
                    if let Some((_, fw)) = FRAMEWORK_CRATES.iter().find(|(k, _)| *k == found.name) {
                        c.set_framework(*fw, &lock_path, found.describe("Cargo.lock"));
                    }
                }
            }
        }
        for d in &deps {
            if let Some((_, db)) = DATABASE_CRATES.iter().find(|(k, _)| *k == d.name) {
                c.add_database(*db, &path, format!("`{}` is in [dependencies]", d.name));
            }
            for (krate, feature, db) in DATABASE_FEATURES {
                if d.name == *krate && d.features.iter().any(|f| f == feature) {
                    c.add_database(
                        *db,
                        &path,
                        format!("`{krate}` is in [dependencies] with the `{feature}` feature"),
                    );
                }
            }
        }

        let has_src = ctx.index.files_under(&ctx.path("src")).next().is_some();
        if package.is_some() && has_src {
            let integration = ctx
                .index
                .files_under(&ctx.path("tests"))
                .filter(|f| f.name().ends_with(".rs"))
                .count();
            c.set_test_framework(
                TestFramework::CargoTest,
                &path,
                format!(
                    "cargo test runs the unit tests in src/ and {integration} integration test file(s) in tests/"
                ),
            );
        }
        port(ctx, &mut c);
        commands(ctx, &mut c, &manifest, ws.as_ref().map(|(d, _)| d.as_str()));

        if let (Some(w), None) = (own_workspace, package) {
            let members: Vec<&str> = w
                .get("members")
                .and_then(|m| m.as_array())
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str())
                .collect();
            c.set_role(
                Role::Aggregator,
                &path,
                format!(
                    "virtual Cargo workspace with members {}",
                    members.join(", ")
                ),
            );
        } else if let Some(fw) = c.framework {
            c.set_role(Role::Application, &path, format!("{fw} is a dependency"));
        } else if let Some(start) = &c.commands.start {
            let bin = start.rsplit('/').next().unwrap_or(start).to_string();
            c.set_role(
                Role::Application,
                &path,
                format!("has a binary target `{bin}`"),
            );
        } else {
            c.set_role(
                Role::Library,
                &path,
                "no web framework and no binary target",
            );
        }
        Some(c)
    }
}

fn versions(
    ctx: &DirContext<'_>,
    c: &mut Candidate,
    package: Option<&toml::Table>,
    ws: Option<&(String, toml::Table)>,
) {
    let channel = |t: &toml::Table| {
        t.get("toolchain")
            .and_then(|t| t.get("channel"))
            .and_then(|v| v.as_str())
            .map(String::from)
    };
    if let Some((path, text)) = ctx.find_up("rust-toolchain.toml") {
        match text.parse::<toml::Table>() {
            Ok(t) => match channel(&t) {
                Some(v) => c.add_version("rust", &v, format!("{path} (toolchain.channel)")),
                None => c.note("runtime_version", path, "no [toolchain] channel; ignored"),
            },
            Err(_) => c.warn(path, "malformed TOML, ignored"),
        }
    }
    if let Some((path, text)) = ctx.find_up("rust-toolchain") {
        // The legacy file is either one line (`1.76.0`) or the TOML form without the extension.
        match text.parse::<toml::Table>().ok().as_ref().and_then(channel) {
            Some(v) => c.add_version("rust", &v, format!("{path} (toolchain.channel)")),
            None => match first_line(text) {
                Some(v) => c.add_version("rust", v, path),
                None => c.warn(path, "rust-toolchain is empty, ignored"),
            },
        }
    }
    add_tool_versions(ctx, c, "rust", &["rust"]);
    let cargo = ctx.path("Cargo.toml");
    match package.and_then(|p| p.get("rust-version")) {
        Some(toml::Value::String(v)) => {
            c.add_version("rust", v, format!("{cargo} (package.rust-version)"))
        }
        Some(toml::Value::Table(t))
            if t.get("workspace").and_then(|w| w.as_bool()) == Some(true) =>
        {
            if let Some((dir, root)) = ws {
                if let Some(v) = root
                    .get("workspace")
                    .and_then(|w| w.get("package"))
                    .and_then(|p| p.get("rust-version"))
                    .and_then(|v| v.as_str())
                {
                    c.add_version(
                        "rust",
                        v,
                        format!(
                            "{} (workspace.package.rust-version)",
                            join(dir, "Cargo.toml")
                        ),
                    );
                }
            }
        }
        _ => {}
    }
    if package.is_none() {
        if let Some((dir, root)) = ws {
            if let Some(v) = root
                .get("workspace")
                .and_then(|w| w.get("package"))
                .and_then(|p| p.get("rust-version"))
                .and_then(|v| v.as_str())
            {
                c.add_version(
                    "rust",
                    v,
                    format!(
                        "{} (workspace.package.rust-version)",
                        join(dir, "Cargo.toml")
                    ),
                );
            }
        }
    }
}

/// Layered configuration files the `config`/`figment` crates read (`configuration/base.yaml`,
/// `config/default.toml` …), by the names such projects use.
const CONFIG_NAMES: &[&str] = &[
    "production",
    "base",
    "default",
    "settings",
    "config",
    "local",
];
const CONFIG_DIRS: &[&str] = &["configuration", "config"];

fn is_config_file(path: &str, name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    matches!(ext, "yaml" | "yml" | "toml" | "json")
        && CONFIG_NAMES.contains(&stem)
        && CONFIG_DIRS
            .iter()
            .any(|d| parent_dir(path) == *d || parent_dir(path).ends_with(&format!("/{d}")))
}

/// `application.port` / `server.port` / `port` in the layered configuration, production first.
fn config_crate_port(ctx: &DirContext<'_>, c: &mut Candidate) {
    for dir in CONFIG_DIRS {
        for stem in CONFIG_NAMES {
            for ext in ["yaml", "yml", "toml", "json"] {
                let rel = format!("{dir}/{stem}.{ext}");
                let Some(text) = ctx.text(&rel) else { continue };
                let doc: Option<serde_json::Value> = match ext {
                    "toml" => text
                        .parse::<toml::Table>()
                        .ok()
                        .and_then(|t| serde_json::to_value(t).ok()),
                    "json" => serde_json::from_str(text).ok(),
                    _ => crate::yaml::to_json(text).ok(),
                };
                let Some(doc) = doc else { continue };
                for key in [
                    "/application/port",
                    "/server/port",
                    "/http/port",
                    "/app/port",
                    "/port",
                ] {
                    let port = doc.pointer(key).and_then(|v| {
                        v.as_u64()
                            .and_then(|n| u16::try_from(n).ok())
                            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    });
                    if let Some(p) = port {
                        c.set_port_from(
                            super::PortOrigin::FrameworkConfig,
                            p,
                            &ctx.path(&rel),
                            format!(
                                "{} = {p} in {rel}",
                                key.trim_start_matches('/').replace('/', ".")
                            ),
                        );
                        return;
                    }
                }
            }
        }
    }
}

fn port(ctx: &DirContext<'_>, c: &mut Candidate) {
    if let Some(text) = ctx.text("Rocket.toml") {
        if let Ok(t) = text.parse::<toml::Table>() {
            for profile in ["release", "default", "global"] {
                if let Some(p) = t
                    .get(profile)
                    .and_then(|s| s.get("port"))
                    .and_then(|p| p.as_integer())
                    .and_then(|p| u16::try_from(p).ok())
                {
                    c.set_port_from(
                        super::PortOrigin::FrameworkConfig,
                        p,
                        &ctx.path("Rocket.toml"),
                        format!("[{profile}] port = {p}"),
                    );
                    return;
                }
            }
        }
    }
    config_crate_port(ctx, c);
    let main = ctx.path("src/main.rs");
    let Some(text) = ctx.index.text(&main) else {
        return;
    };
    for (re, what) in [
        (&*RE_ENV_PORT, "PORT defaults to {p}"),
        (&*RE_BIND_TUPLE, "binds port {p}"),
        (&*RE_SOCKET_ADDR, "SocketAddr on port {p}"),
        (&*RE_ADDR_LITERAL, "listens on :{p}"),
    ] {
        if let Some(p) = re.captures(text).and_then(|m| m[1].parse::<u16>().ok()) {
            c.set_port(p, &main, what.replace("{p}", &p.to_string()));
            return;
        }
    }
}

/// The binary to run: the `[[bin]]` target (the one named after the package when there are
/// several), else the package itself when it has `src/main.rs`, else a lone `src/bin/*.rs`.
fn binary(ctx: &DirContext<'_>, c: &mut Candidate, manifest: &toml::Table) -> Option<String> {
    let package_name = manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str());
    let bins: Vec<&str> = manifest
        .get("bin")
        .and_then(|b| b.as_array())
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("name").and_then(|n| n.as_str()))
        .collect();
    if !bins.is_empty() {
        let chosen = bins
            .iter()
            .find(|b| Some(**b) == package_name)
            .unwrap_or(&bins[0]);
        if bins.len() > 1 {
            c.note(
                "command",
                ctx.path("Cargo.toml"),
                format!(
                    "several [[bin]] targets ({}); `{chosen}` runs",
                    bins.join(", ")
                ),
            );
        }
        return Some(chosen.to_string());
    }
    if ctx.has("src/main.rs") {
        return package_name.map(String::from);
    }
    let src_bin = ctx.path("src/bin");
    let mut found: Vec<String> = ctx
        .index
        .files_in(&src_bin)
        .filter_map(|f| f.name().strip_suffix(".rs").map(String::from))
        .collect();
    found.sort();
    (found.len() == 1).then(|| found.remove(0))
}

fn commands(ctx: &DirContext<'_>, c: &mut Candidate, manifest: &toml::Table, ws_dir: Option<&str>) {
    // A workspace shares one Cargo.lock and one target/ folder at its root.
    let root = ws_dir.unwrap_or(ctx.dir);
    let locked = ctx.index.exists(&join(root, "Cargo.lock"));
    let flag = if locked { " --locked" } else { "" };
    if !locked {
        c.note(
            "command",
            ctx.display(),
            "no Cargo.lock: dependencies resolve at build time (no --locked)",
        );
    }
    c.commands.install = Some(format!("cargo fetch{flag}"));
    c.commands.build = Some(format!("cargo build --release{flag}"));
    if c.test_framework.is_some() {
        c.commands.test = Some(format!("cargo test{flag}"));
    }
    c.commands.lint = Some("cargo clippy --all-targets -- -D warnings".to_string());
    if let Some(dir) = ["clippy.toml", ".clippy.toml"]
        .iter()
        .find_map(|f| ctx.find_up_dir(f).map(|d| join(d, f)))
    {
        c.note(
            "command",
            dir.clone(),
            format!("lint: clippy configured by {dir}"),
        );
    }
    if let Some(bin) = binary(ctx, c, manifest) {
        let up = up_to(ctx.dir, root);
        let prefix = if up.is_empty() { "./".to_string() } else { up };
        let start = format!("{prefix}target/release/{bin}");
        c.note("command", ctx.display(), format!("start: {start}"));
        c.commands.start = Some(start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_dependencies_bring_their_features() {
        let member: toml::Table = "[package]\nname = \"api\"\n[dependencies]\n\
            sqlx = { workspace = true, features = [\"migrate\"] }\ndb = { package = \"tokio_postgres\", version = \"0.7\" }\n"
            .parse()
            .unwrap();
        let root: toml::Table =
            "[workspace]\nmembers = [\"crates/*\"]\n[workspace.dependencies]\nsqlx = { version = \"0.7\", features = [\"postgres\"] }\n"
                .parse()
                .unwrap();
        let deps = dependencies(&member, Some(&root));
        assert_eq!(
            deps,
            vec![
                Dep {
                    name: "tokio-postgres".into(),
                    features: vec![]
                },
                Dep {
                    name: "sqlx".into(),
                    features: vec!["migrate".into(), "postgres".into()]
                },
            ]
        );
    }

    #[test]
    fn ports_come_from_binds_and_socket_addrs() {
        let m = |re: &Regex, s: &str| re.captures(s).map(|c| c[1].to_string());
        assert_eq!(
            m(&RE_SOCKET_ADDR, "SocketAddr::from(([0, 0, 0, 0], 8080))").as_deref(),
            Some("8080")
        );
        assert_eq!(
            m(&RE_BIND_TUPLE, ".bind((\"0.0.0.0\", 8080))?").as_deref(),
            Some("8080")
        );
        assert_eq!(
            m(&RE_ADDR_LITERAL, "TcpListener::bind(\"0.0.0.0:3000\")").as_deref(),
            Some("3000")
        );
        assert_eq!(m(&RE_ADDR_LITERAL, "\"redis://127.0.0.1:6379\""), None);
        assert_eq!(
            m(
                &RE_ENV_PORT,
                "env::var(\"PORT\").unwrap_or_else(|_| \"4000\".into())"
            )
            .as_deref(),
            Some("4000")
        );
    }
}
