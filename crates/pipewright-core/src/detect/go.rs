//! Go: Go modules and `go.work` workspaces; Gin, Echo, Fiber, chi, and plain `net/http`;
//! `go test`.
//!
//! Frameworks and databases come from the direct `require`s of `go.mod`. `net/http` is in the
//! standard library and so has no manifest entry: it is the one conclusion drawn from the main
//! package (`main.go`, `cmd/*/main.go`), which is also read for the port. The Go version comes
//! from the `toolchain` line of `go.mod` (what the go command builds with), `.go-version`,
//! `.tool-versions`/`mise.toml`, then the `go` line (a minimum).

use super::context::resolve;
use super::shared::ascii_regex;
use super::versions::{add_tool_versions, add_version_file};
use super::{Candidate, DirContext, Ecosystem};
use crate::index::{file_name, join, parent_dir};
use crate::stack::{BuildTool, Database, Framework, Language, Role, TestFramework};
use regex::Regex;
use std::sync::LazyLock;

/// The Go detector.
pub struct Go;

const MANIFESTS: &[&str] = &["go.mod", "go.work"];

/// Files read besides the manifests: the version file and main packages.
const READ_FILES: &[&str] = &[".go-version", "main.go"];

/// golangci-lint configuration files, in the order golangci-lint looks for them.
const GOLANGCI_CONFIGS: &[&str] = &[
    ".golangci.yml",
    ".golangci.yaml",
    ".golangci.toml",
    ".golangci.json",
];

/// Module path (any major version below it) → framework, in the order that decides.
const FRAMEWORK_MODULES: &[(&str, Framework)] = &[
    ("github.com/gin-gonic/gin", Framework::Gin),
    ("github.com/labstack/echo", Framework::Echo),
    ("github.com/gofiber/fiber", Framework::Fiber),
    ("github.com/go-chi/chi", Framework::Chi),
];

/// Module path (any major version or package below it) → the service it talks to.
const DATABASE_MODULES: &[(&str, Database)] = &[
    ("github.com/lib/pq", Database::Postgresql),
    ("github.com/jackc/pgx", Database::Postgresql),
    ("gorm.io/driver/postgres", Database::Postgresql),
    ("github.com/go-sql-driver/mysql", Database::Mysql),
    ("gorm.io/driver/mysql", Database::Mysql),
    ("github.com/mattn/go-sqlite3", Database::Sqlite),
    ("gorm.io/driver/sqlite", Database::Sqlite),
    ("modernc.org/sqlite", Database::Sqlite),
    ("github.com/glebarez/sqlite", Database::Sqlite),
    ("github.com/go-redis/redis", Database::Redis),
    ("github.com/redis/go-redis", Database::Redis),
    ("github.com/gomodule/redigo", Database::Redis),
    ("github.com/redis/rueidis", Database::Redis),
    ("go.mongodb.org/mongo-driver", Database::Mongodb),
    ("github.com/rabbitmq/amqp091-go", Database::Rabbitmq),
    ("github.com/streadway/amqp", Database::Rabbitmq),
    ("github.com/segmentio/kafka-go", Database::Kafka),
    ("github.com/IBM/sarama", Database::Kafka),
    ("github.com/Shopify/sarama", Database::Kafka),
    (
        "github.com/confluentinc/confluent-kafka-go",
        Database::Kafka,
    ),
    ("github.com/twmb/franz-go", Database::Kafka),
    (
        "github.com/elastic/go-elasticsearch",
        Database::Elasticsearch,
    ),
    ("github.com/olivere/elastic", Database::Elasticsearch),
    ("github.com/bradfitz/gomemcache", Database::Memcached),
    ("github.com/gocql/gocql", Database::Cassandra),
    ("github.com/microsoft/go-mssqldb", Database::Mssql),
    ("github.com/denisenkom/go-mssqldb", Database::Mssql),
    ("gorm.io/driver/sqlserver", Database::Mssql),
];

static RE_LISTEN: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(
        r#"(ListenAndServe(?:TLS)?|\.Run|\.Start|\.Listen|Addr\s*:)\s*\(?\s*"[\w.\-\[\]]*:(\d{2,5})""#,
    )
});
static RE_ENV_PORT: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(r#"(?s)Getenv\("PORT"\).{0,120}?==\s*""\s*\{\s*\w+\s*=\s*":?(\d{2,5})""#)
});
static RE_ENV_HELPER_PORT: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"\w*(?:[Ee]nv|Getenv)\w*\(\s*"PORT"\s*,\s*":?(\d{2,5})""#));

/// What `go.mod` (or `go.work`) declares.
#[derive(Debug, Default, PartialEq)]
struct GoMod {
    module: Option<String>,
    go: Option<String>,
    toolchain: Option<String>,
    /// (module path, marked `// indirect`).
    requires: Vec<(String, bool)>,
    /// `use` folders of a `go.work`.
    uses: Vec<String>,
}

/// Parses `go.mod` or `go.work` (same line grammar; unknown directives are skipped).
fn parse_go_mod(text: &str) -> GoMod {
    let mut m = GoMod::default();
    let mut block: Option<String> = None;
    for raw in text.lines() {
        let indirect = raw.contains("// indirect");
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if block.is_some() && line == ")" {
            block = None;
            continue;
        }
        let (directive, rest) = match &block {
            Some(b) => (b.clone(), line.to_string()),
            None => {
                let (d, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
                let rest = rest.trim();
                if rest == "(" {
                    block = Some(d.to_string());
                    continue;
                }
                (d.to_string(), rest.to_string())
            }
        };
        let first = rest
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches('"');
        match directive.as_str() {
            "module" => m.module = Some(first.to_string()),
            "go" => m.go = Some(first.to_string()),
            "toolchain" => m.toolchain = Some(first.to_string()),
            "require" if !first.is_empty() => m.requires.push((first.to_string(), indirect)),
            "use" if !first.is_empty() => m.uses.push(first.to_string()),
            _ => {}
        }
    }
    m
}

/// True when `path` is `module` or a package / major version below it.
fn under_module(path: &str, module: &str) -> bool {
    path == module || (path.starts_with(module) && path.as_bytes().get(module.len()) == Some(&b'/'))
}

impl Ecosystem for Go {
    fn name(&self) -> &'static str {
        "go"
    }

    fn is_manifest(&self, name: &str) -> bool {
        MANIFESTS.contains(&name)
    }

    fn wants(&self, _path: &str, name: &str) -> bool {
        // The linter's configuration is read for its format version (v1 or v2).
        MANIFESTS.contains(&name) || READ_FILES.contains(&name) || GOLANGCI_CONFIGS.contains(&name)
    }

    fn detect(&self, ctx: &DirContext<'_>) -> Option<Candidate> {
        let has_mod = ctx.has("go.mod");
        let has_work = ctx.has("go.work");
        if !has_mod && !has_work {
            return None;
        }
        let mut c = Candidate::new(Language::Go, "go");
        let work = ctx.text("go.work").map(parse_go_mod);
        if !has_mod {
            let path = ctx.path("go.work");
            c.set_build_tool(BuildTool::Go, &path, "go.work is present");
            let work = work.unwrap_or_default();
            add_go_versions(ctx, &mut c, &work, &path);
            for u in &work.uses {
                let has_mod =
                    resolve(ctx.dir, u).is_some_and(|m| ctx.index.exists(&join(&m, "go.mod")));
                if !has_mod {
                    c.warn(&path, format!("`use {u}`: no go.mod in that folder"));
                }
            }
            c.set_role(
                Role::Aggregator,
                &path,
                format!("go.work workspace using {}", work.uses.join(", ")),
            );
            return Some(c);
        }

        let path = ctx.path("go.mod");
        c.set_build_tool(BuildTool::Go, &path, "go.mod is present");
        let gomod = parse_go_mod(ctx.text("go.mod").unwrap_or(""));
        if let Some(w) = &work {
            c.note(
                "build_tool",
                ctx.path("go.work"),
                format!("go.work also uses {}", w.uses.join(", ")),
            );
        } else if !ctx.dir.is_empty() {
            let above = DirContext::new(ctx.index, parent_dir(ctx.dir));
            if let Some((work_path, text)) = above.find_up("go.work") {
                let work_dir = parent_dir(&work_path);
                if parse_go_mod(text)
                    .uses
                    .iter()
                    .any(|u| resolve(work_dir, u).as_deref() == Some(ctx.dir))
                {
                    c.note(
                        "build_tool",
                        work_path.clone(),
                        format!("module used by the workspace {work_path}"),
                    );
                }
            }
        }
        add_go_versions(ctx, &mut c, &gomod, &path);

        let direct = || gomod.requires.iter().filter(|(_, indirect)| !indirect);
        for (module, fw) in FRAMEWORK_MODULES {
            if let Some((p, _)) = direct().find(|(p, _)| under_module(p, module)) {
                c.set_framework(*fw, &path, format!("`{p}` is required in go.mod"));
            }
        }
        for (module, db) in DATABASE_MODULES {
            if let Some((p, _)) = direct().find(|(p, _)| under_module(p, module)) {
                c.add_database(*db, &path, format!("`{p}` is required in go.mod"));
            }
        }

        let mains = main_packages(ctx);
        if c.framework.is_none() {
            for (file, _) in &mains {
                let Some(text) = ctx.index.text(file) else {
                    continue;
                };
                if text.contains("\"net/http\"")
                    && (text.contains("ListenAndServe") || text.contains(".Serve("))
                {
                    c.set_framework(
                        Framework::NetHttp,
                        file,
                        "the main package imports net/http and serves HTTP (net/http is the \
                         standard library, so no manifest lists it: the entry file is the evidence)",
                    );
                    break;
                }
            }
        }
        test_framework(ctx, &mut c);
        port(ctx, &mut c, &mains);
        commands(ctx, &mut c, &gomod, &mains);

        if let Some(fw) = c.framework {
            let file = c
                .evidence
                .iter()
                .find(|e| e.conclusion == "framework")
                .map(|e| e.file.clone())
                .unwrap_or_default();
            let why = match fw {
                Framework::NetHttp => "the main package serves http with net/http".to_string(),
                _ => format!("{fw} is required in go.mod"),
            };
            c.set_role(Role::Application, &file, why);
        } else if c.commands.start.is_some() {
            let file = mains.first().map(|(f, _)| f.clone()).unwrap_or_default();
            c.set_role(Role::Application, &file, "builds a main package");
        } else {
            c.set_role(
                Role::Library,
                &path,
                "no web framework among the requirements and no main package to run",
            );
        }
        Some(c)
    }
}

/// The `toolchain` line first (the go command switches to it: it is what builds), then the
/// version files, then the `go` line last: since Go 1.21 it is a minimum, like `requires-python`.
/// `toolchain go1.23.1` is recorded as `1.23.1`, as `runtime.txt`'s `python-` prefix is dropped.
fn add_go_versions(ctx: &DirContext<'_>, c: &mut Candidate, m: &GoMod, path: &str) {
    if let Some(t) = &m.toolchain {
        let v = t.strip_prefix("go").unwrap_or(t);
        c.add_version("go", v, format!("{path} (toolchain)"));
    }
    add_version_file(ctx, c, "go", ".go-version");
    add_tool_versions(ctx, c, "go", &["golang", "go"]);
    if let Some(g) = &m.go {
        c.add_version("go", g, format!("{path} (go)"));
    }
}

/// Main packages: `main.go` at the module root and `cmd/<name>/main.go`; (file, command name).
/// The root one is named after the module's last path element.
fn main_packages(ctx: &DirContext<'_>) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let is_main = |path: &str| {
        ctx.index
            .text(path)
            .is_some_and(|t| t.lines().any(|l| l.trim() == "package main"))
    };
    let root_main = ctx.path("main.go");
    if is_main(&root_main) {
        out.push((root_main, None));
    }
    let cmd = ctx.path("cmd");
    let mut cmds: Vec<(String, Option<String>)> = ctx
        .index
        .files_under(&cmd)
        .filter(|f| f.name() == "main.go" && parent_dir(parent_dir(&f.path)) == cmd)
        .filter(|f| is_main(&f.path))
        .map(|f| (f.path.clone(), Some(file_name(f.dir()).to_string())))
        .collect();
    cmds.sort();
    out.extend(cmds);
    out
}

fn test_framework(ctx: &DirContext<'_>, c: &mut Candidate) {
    // Tests of a nested module belong to that module, not to this one.
    let nested: Vec<String> = ctx
        .files_under()
        .filter(|f| f.name() == "go.mod" && f.dir() != ctx.dir)
        .map(|f| format!("{}/", f.dir()))
        .collect();
    let tests: Vec<&str> = ctx
        .files_under()
        .filter(|f| f.excluded.is_none() && f.name().ends_with("_test.go"))
        .filter(|f| !nested.iter().any(|n| f.path.starts_with(n.as_str())))
        .map(|f| f.path.as_str())
        .collect();
    if let Some(first) = tests.first() {
        c.set_test_framework(
            TestFramework::GoTest,
            first,
            format!("{} *_test.go file(s), run by go test", tests.len()),
        );
    }
}

fn port(ctx: &DirContext<'_>, c: &mut Candidate, mains: &[(String, Option<String>)]) {
    for (file, _) in mains {
        let Some(text) = ctx.index.text(file) else {
            continue;
        };
        for re in [&*RE_ENV_PORT, &*RE_ENV_HELPER_PORT] {
            if let Some(p) = re
                .captures(text)
                .and_then(|m| m.get(1))
                .and_then(|m| m.as_str().parse::<u16>().ok())
            {
                c.set_port(p, file, format!("PORT defaults to {p}"));
                return;
            }
        }
        if let Some(m) = RE_LISTEN.captures(text) {
            if let Ok(p) = m[2].parse::<u16>() {
                let call = m[1].trim_start_matches('.').trim_end_matches(':').trim();
                c.set_port(p, file, format!("{call} on :{p}"));
                return;
            }
        }
    }
}

fn commands(
    ctx: &DirContext<'_>,
    c: &mut Candidate,
    gomod: &GoMod,
    mains: &[(String, Option<String>)],
) {
    c.commands.install = Some("go mod download".to_string());
    let module_name = gomod
        .module
        .as_deref()
        .map(|m| {
            let mut parts = m.rsplit('/');
            let last = parts.next().unwrap_or(m);
            // `example.com/orders/v2` names the binary `orders`.
            let is_major = last.len() > 1
                && last.starts_with('v')
                && last[1..].bytes().all(|b| b.is_ascii_digit());
            if is_major {
                parts.next().unwrap_or(last).to_string()
            } else {
                last.to_string()
            }
        })
        .unwrap_or_else(|| "app".to_string());
    let cmds: Vec<&String> = mains.iter().filter_map(|(_, n)| n.as_ref()).collect();
    let target = match (mains.first(), cmds.len()) {
        (Some((_, None)), _) => Some((module_name, ".".to_string())),
        (_, 1) => cmds.first().map(|n| (n.to_string(), format!("./cmd/{n}"))),
        _ => None,
    };
    match &target {
        Some((name, pkg)) => {
            c.commands.build = Some(format!("go build -o bin/{name} {pkg}"));
            c.commands.start = Some(format!("./bin/{name}"));
            c.note(
                "command",
                ctx.display(),
                format!("start: ./bin/{name} (main package {pkg})"),
            );
        }
        None => {
            c.commands.build = Some("go build ./...".to_string());
            if cmds.len() > 1 {
                let names: Vec<&str> = cmds.iter().map(|s| s.as_str()).collect();
                c.warn(
                    ctx.display(),
                    format!(
                        "several commands under cmd/ ({}); none chosen as the start command",
                        names.join(", ")
                    ),
                );
            }
        }
    }
    if c.test_framework.is_some() {
        c.commands.test = Some("go test ./...".to_string());
    }
    c.commands.lint = Some("golangci-lint run".to_string());
    match GOLANGCI_CONFIGS
        .iter()
        .find_map(|f| ctx.find_up_dir(f).map(|d| join(d, f)))
    {
        Some(config) => c.note(
            "command",
            config.clone(),
            format!("lint: golangci-lint configured by {config}"),
        ),
        None => c.note(
            "command",
            ctx.display(),
            "lint: golangci-lint with its default linters (no .golangci.yml)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_mod_blocks_and_indirect_requires_are_read() {
        let m = parse_go_mod(
            "module github.com/acme/orders\n\ngo 1.22.3\n\ntoolchain go1.23.1\n\nrequire (\n\
             \tgithub.com/gin-gonic/gin v1.9.1\n\tgithub.com/bytedance/sonic v1.9.1 // indirect\n)\n\
             require github.com/lib/pq v1.10.9\nreplace example.com/x => ../x\n",
        );
        assert_eq!(m.module.as_deref(), Some("github.com/acme/orders"));
        assert_eq!(m.go.as_deref(), Some("1.22.3"));
        assert_eq!(m.toolchain.as_deref(), Some("go1.23.1"));
        assert_eq!(
            m.requires,
            vec![
                ("github.com/gin-gonic/gin".to_string(), false),
                ("github.com/bytedance/sonic".to_string(), true),
                ("github.com/lib/pq".to_string(), false),
            ]
        );
    }

    #[test]
    fn go_work_use_lines_are_read() {
        let w = parse_go_mod("go 1.22\n\nuse (\n\t./api\n\t./worker // jobs\n)\nuse ./tools\n");
        assert_eq!(w.uses, vec!["./api", "./worker", "./tools"]);
    }

    #[test]
    fn module_prefixes_stop_at_a_path_boundary() {
        assert!(under_module(
            "github.com/jackc/pgx/v5",
            "github.com/jackc/pgx"
        ));
        assert!(!under_module(
            "github.com/jackc/pgxpool",
            "github.com/jackc/pgx"
        ));
    }

    #[test]
    fn ports_come_from_literals_and_env_defaults() {
        let src = "port := os.Getenv(\"PORT\")\n\tif port == \"\" {\n\t\tport = \"9000\"\n\t}\n";
        assert_eq!(
            RE_ENV_PORT
                .captures(src)
                .map(|m| m[1].to_string())
                .as_deref(),
            Some("9000")
        );
        let src = "log.Fatal(http.ListenAndServe(\":8090\", mux))";
        assert_eq!(
            RE_LISTEN.captures(src).map(|m| m[2].to_string()).as_deref(),
            Some("8090")
        );
        let src = "e.Start(\":1323\")";
        assert_eq!(
            RE_LISTEN.captures(src).map(|m| m[2].to_string()).as_deref(),
            Some("1323")
        );
    }
}
