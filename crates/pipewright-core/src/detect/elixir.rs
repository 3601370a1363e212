//! Elixir: Mix; Phoenix; ExUnit; Credo or `mix format`; umbrella projects.
//!
//! Dependencies are the `{:name, …}` tuples of the `deps` function in `mix.exs`; an umbrella
//! root (`apps_path:`) is an aggregator whose apps are the services. The runtime version comes
//! from `.elixir-version`, `.tool-versions`/`mise.toml` (with `erlang` kept as a tool version),
//! then `mix.exs` `elixir:`; the port from the endpoint's `http:` settings in `config/*.exs`.

use super::shared::ascii_regex;
use super::versions::{add_tool_versions, add_version_file};
use super::{Candidate, DirContext, Ecosystem};
use crate::index::{file_name, join, parent_dir};
use crate::stack::{BuildTool, Database, Framework, Language, Role, TestFramework};
use regex::Regex;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The Elixir detector.
pub struct Elixir;

/// Files read wherever they are.
const READ_FILES: &[&str] = &["mix.exs", "mix.lock", ".elixir-version"];

/// Config files read for the port, most relevant to a deployed release first.
const PORT_CONFIGS: &[&str] = &["runtime.exs", "prod.exs", "dev.exs", "config.exs"];

/// Dependency → the database, cache or broker it talks to.
const DATABASE_DEPS: &[(&str, Database)] = &[
    ("postgrex", Database::Postgresql),
    ("myxql", Database::Mysql),
    ("mariaex", Database::Mysql),
    ("ecto_sqlite3", Database::Sqlite),
    ("exqlite", Database::Sqlite),
    ("tds", Database::Mssql),
    ("redix", Database::Redis),
    ("mongodb_driver", Database::Mongodb),
    ("mongodb", Database::Mongodb),
    ("amqp", Database::Rabbitmq),
    ("broadway_rabbitmq", Database::Rabbitmq),
    ("brod", Database::Kafka),
    ("kafka_ex", Database::Kafka),
    ("broadway_kafka", Database::Kafka),
    ("memcachex", Database::Memcached),
    ("elasticsearch", Database::Elasticsearch),
    ("xandra", Database::Cassandra),
];

/// HTTP servers that make a plain OTP application a web service.
const SERVER_DEPS: &[&str] = &["plug_cowboy", "bandit"];

static DEPS_FN: LazyLock<Regex> = LazyLock::new(|| ascii_regex(r"(?m)^\s*defp?\s+deps\b"));
static DEP_TUPLE: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"\{\s*:([a-z_][a-zA-Z0-9_]*)\s*,"));
static ELIXIR_REQ: LazyLock<Regex> = LazyLock::new(|| ascii_regex(r#"\belixir:\s*"([^"]+)""#));
static APPS_PATH: LazyLock<Regex> = LazyLock::new(|| ascii_regex(r#"\bapps_path:\s*"([^"]+)""#));
static CONFIG_PATH: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"\bconfig_path:\s*"([^"]+)""#));
static IN_UMBRELLA: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"\{\s*:([a-z_][a-zA-Z0-9_]*)\s*,\s*in_umbrella:\s*true"));
static APP_MOD: LazyLock<Regex> = LazyLock::new(|| ascii_regex(r"\bmod:\s*\{"));
static ENV_PORT: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(
        r#"System\.get_env\(\s*"PORT"\s*(?:,\s*"(\d{2,5})"\s*)?\)(?:\s*\|\|\s*"(\d{2,5})")?"#,
    )
});
static HTTP_PORT: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"(?s)\bhttp:\s*\[[^\]]*?\bport:\s*(\d{2,5})"));
static HTTP_PORT_VAR: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"(?s)\bhttp:\s*\[[^\]]*?\bport:\s*[a-z_]"));

/// The dependency names of a `mix.exs` (the tuples of its `deps` function when there is one).
pub fn parse_deps(mix: &str) -> Vec<String> {
    let body = DEPS_FN.find(mix).map(|m| &mix[m.start()..]).unwrap_or(mix);
    let body = strip_comments(body);
    let mut out: Vec<String> = Vec::new();
    for c in DEP_TUPLE.captures_iter(&body) {
        let name = c[1].to_string();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The port an endpoint's config listens on: `http: [port: 4000]`, or the default of
/// `System.get_env("PORT") || "4000"` when the port is read from the environment.
pub fn config_port(text: &str) -> Option<u16> {
    let text = strip_comments(text);
    if let Some(p) = HTTP_PORT.captures(&text).and_then(|c| c[1].parse().ok()) {
        return Some(p);
    }
    if HTTP_PORT_VAR.is_match(&text) || text.contains("PORT") {
        return ENV_PORT.captures(&text).and_then(|c| {
            c.get(1)
                .or_else(|| c.get(2))
                .and_then(|m| m.as_str().parse().ok())
        });
    }
    None
}

/// The umbrella root holding this app (`<root>/<apps_path>/<app>`), with its `mix.exs` text.
fn umbrella_root<'a>(ctx: &DirContext<'a>) -> Option<(&'a str, &'a str)> {
    if ctx.dir.is_empty() {
        return None;
    }
    let apps_dir = parent_dir(ctx.dir);
    let root = parent_dir(apps_dir);
    let text = ctx.index.text(&join(root, "mix.exs"))?;
    let apps = APPS_PATH.captures(text)?;
    (normalize_path(&join(root, &apps[1])) == apps_dir).then_some((root, text))
}

/// Adds the databases of the sibling apps this app depends on with `in_umbrella: true`
/// (and theirs, transitively): they start inside this app's release.
fn umbrella_databases(ctx: &DirContext<'_>, c: &mut Candidate, mix: &str) {
    let apps_dir = parent_dir(ctx.dir);
    let mut queue: Vec<String> = IN_UMBRELLA
        .captures_iter(&strip_comments(mix))
        .map(|m| m[1].to_string())
        .collect();
    let mut seen: Vec<String> = Vec::new();
    while let Some(app) = queue.pop() {
        if seen.contains(&app) {
            continue;
        }
        let path = join(&join(apps_dir, &app), "mix.exs");
        let Some(text) = ctx.index.text(&path) else {
            continue;
        };
        let deps = parse_deps(text);
        for (dep, db) in DATABASE_DEPS {
            if deps.iter().any(|d| d == dep) {
                c.add_database(
                    *db,
                    &path,
                    format!("`{{:{dep}, …}}` is a dependency of the umbrella app :{app}, which this app depends on"),
                );
            }
        }
        queue.extend(
            IN_UMBRELLA
                .captures_iter(&strip_comments(text))
                .map(|m| m[1].to_string()),
        );
        seen.push(app);
    }
}

/// Resolves `.` and `..` in a `/`-separated relative path.
fn normalize_path(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    out.join("/")
}

/// True for `config/*.exs` at any depth; no allocation.
fn is_config_exs(path: &str) -> bool {
    file_name(path).ends_with(".exs") && file_name(parent_dir(path)) == "config"
}

impl Ecosystem for Elixir {
    fn name(&self) -> &'static str {
        "elixir"
    }

    fn is_manifest(&self, name: &str) -> bool {
        name == "mix.exs"
    }

    fn wants(&self, path: &str, name: &str) -> bool {
        READ_FILES.contains(&name) || (name.ends_with(".exs") && is_config_exs(path))
    }

    fn detect(&self, ctx: &DirContext<'_>) -> Option<Candidate> {
        if !ctx.has("mix.exs") {
            return None;
        }
        let mut c = Candidate::new(Language::Elixir, "elixir");
        let mix_path = ctx.path("mix.exs");
        let mix = ctx.text("mix.exs").unwrap_or("");
        c.set_build_tool(BuildTool::Mix, &mix_path, "mix.exs is present");
        if ctx.has("mix.lock") {
            c.note(
                "build_tool",
                ctx.path("mix.lock"),
                "mix.lock pins the dependencies",
            );
        }

        add_version_file(ctx, &mut c, "elixir", ".elixir-version");
        add_tool_versions(ctx, &mut c, "elixir", &["elixir"]);
        if let Some(m) = ELIXIR_REQ.captures(mix) {
            c.add_version("elixir", &m[1], format!("{mix_path} (elixir)"));
        }
        add_tool_versions(ctx, &mut c, "erlang", &["erlang"]);

        if let Some(apps) = APPS_PATH.captures(mix) {
            let apps = apps[1].to_string();
            c.commands.install = Some("mix deps.get".into());
            c.commands.build = Some("mix compile".into());
            c.commands.test = Some("mix test".into());
            c.set_role(
                Role::Aggregator,
                &mix_path,
                format!("umbrella project: its applications live in {apps}/"),
            );
            return Some(c);
        }

        let deps: BTreeMap<String, String> = parse_deps(mix)
            .into_iter()
            .map(|d| (d, mix_path.clone()))
            .collect();
        if deps.contains_key("phoenix") {
            c.set_framework(
                Framework::Phoenix,
                &mix_path,
                "`{:phoenix, …}` is a dependency",
            );
        }
        for (dep, db) in DATABASE_DEPS {
            if let Some(file) = deps.get(*dep) {
                c.add_database(*db, file, format!("`{{:{dep}, …}}` is a dependency"));
            }
        }

        let umbrella = umbrella_root(ctx);
        if umbrella.is_some() {
            umbrella_databases(ctx, &mut c, mix);
        }

        let helper = ctx.path("test/test_helper.exs");
        if ctx.index.exists(&helper) {
            c.set_test_framework(
                TestFramework::Exunit,
                &helper,
                "test/test_helper.exs starts ExUnit",
            );
        } else {
            c.set_test_framework(
                TestFramework::Exunit,
                &mix_path,
                "ExUnit ships with Elixir and `mix test` runs it (no test/test_helper.exs yet)",
            );
        }

        let server = SERVER_DEPS.iter().find(|d| deps.contains_key(**d));
        if c.framework.is_some() || server.is_some() {
            port(ctx, &mut c, mix);
        }

        c.commands.install = Some("mix deps.get".into());
        c.commands.build = Some("mix compile".into());
        c.commands.test = Some("mix test".into());
        c.commands.lint = Some(if deps.contains_key("credo") {
            c.note(
                "command",
                &mix_path,
                "lint: credo (`{:credo, …}` is a dependency)",
            );
            "mix credo --strict".into()
        } else {
            if let Some((root, _)) =
                umbrella.filter(|(_, t)| parse_deps(t).iter().any(|d| d == "credo"))
            {
                c.note(
                    "command",
                    join(root, "mix.exs"),
                    "credo is a dependency of the umbrella root only: run `mix credo --strict` there; this app is checked with mix format",
                );
            } else {
                c.note(
                    "command",
                    &mix_path,
                    "lint: mix format (no credo dependency)",
                );
            }
            if ctx.has(".formatter.exs") {
                "mix format --check-formatted".into()
            } else {
                // Without a .formatter.exs, mix format needs to be told what to check.
                "mix format --check-formatted mix.exs \"{config,lib,test}/**/*.{ex,exs}\"".into()
            }
        });
        let start = match (c.framework, server) {
            (Some(Framework::Phoenix), _) => Some("mix phx.server".to_string()),
            (None, Some(_)) if APP_MOD.is_match(mix) => Some("mix run --no-halt".to_string()),
            _ => None,
        };
        if let Some(s) = &start {
            c.note("command", ctx.display(), format!("start: {s}"));
        }
        c.commands.start = start;

        match (c.framework, server) {
            (Some(fw), _) => {
                c.set_role(Role::Application, &mix_path, format!("{fw} in {mix_path}"))
            }
            (None, Some(s)) if c.commands.start.is_some() => c.set_role(
                Role::Application,
                &mix_path,
                format!("an OTP application (mod:) serving HTTP with {s}"),
            ),
            _ => c.set_role(
                Role::Library,
                &mix_path,
                "no Phoenix and no HTTP server among the dependencies",
            ),
        }
        Some(c)
    }
}

fn port(ctx: &DirContext<'_>, c: &mut Candidate, mix: &str) {
    // An umbrella app reads the umbrella's config (`config_path: "../../config/config.exs"`).
    let config_dir = match CONFIG_PATH.captures(mix) {
        Some(m) => parent_dir(&normalize_path(&join(ctx.dir, &m[1]))).to_string(),
        None => ctx.path("config"),
    };
    for f in PORT_CONFIGS {
        let path = join(&config_dir, f);
        if let Some(p) = ctx.index.text(&path).and_then(config_port) {
            c.set_port_from(
                super::PortOrigin::FrameworkConfig,
                p,
                &path,
                format!("{f} sets port {p}"),
            );
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deps_come_from_the_deps_function() {
        let mix = r#"defmodule App.MixProject do
  def project, do: [app: :app, elixir: "~> 1.15", deps: deps()]
  def application, do: [mod: {App.Application, []}, extra_applications: [:logger]]
  defp deps do
    [
      {:phoenix, "~> 1.7.10"},
      # {:unused, "~> 1.0"},
      {:postgrex, ">= 0.0.0"},
      {:credo, "~> 1.7", only: [:dev, :test], runtime: false}
    ]
  end
end
"#;
        assert_eq!(parse_deps(mix), vec!["phoenix", "postgrex", "credo"]);
        assert_eq!(
            ELIXIR_REQ.captures(mix).map(|c| c[1].to_string()),
            Some("~> 1.15".into())
        );
    }

    #[test]
    fn ports_from_endpoint_config() {
        assert_eq!(
            config_port(
                "config :app, AppWeb.Endpoint,\n  http: [ip: {127, 0, 0, 1}, port: 4000],\n"
            ),
            Some(4000)
        );
        assert_eq!(
            config_port("port = String.to_integer(System.get_env(\"PORT\") || \"4001\")\nconfig :app, AppWeb.Endpoint, http: [ip: {0, 0, 0, 0, 0, 0, 0, 0}, port: port]\n"),
            Some(4001)
        );
        assert_eq!(
            config_port("http: [port: String.to_integer(System.get_env(\"PORT\", \"8080\"))]"),
            Some(8080)
        );
        assert_eq!(config_port("config :logger, level: :info\n"), None);
    }

    #[test]
    fn config_files_are_recognised() {
        assert!(is_config_exs("config/dev.exs"));
        assert!(is_config_exs("apps/web/config/runtime.exs"));
        assert!(!is_config_exs("test/test_helper.exs"));
        assert_eq!(
            normalize_path("apps/web/../../config/config.exs"),
            "config/config.exs"
        );
    }
}
