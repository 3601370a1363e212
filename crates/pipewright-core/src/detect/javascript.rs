//! JavaScript and TypeScript: npm, yarn (classic and Berry), pnpm, bun; Express, Next.js,
//! NestJS, React, Vue, Angular, Svelte; Jest, Vitest, Mocha, Playwright.
//!
//! Facts come from `package.json` (dependencies, scripts, `packageManager`, `engines`, `volta`,
//! `workspaces`), lock files in the folder or at its workspace root, `pnpm-workspace.yaml`,
//! `.nvmrc`/`.node-version`/`.tool-versions`/mise, `prisma/schema.prisma`, and entry files
//! (read for ports only). TypeScript or JavaScript is decided by counting source files.

use super::scan;
use super::shared::ascii_regex;
use super::versions::{add_tool_versions, add_version_file};
use super::{Candidate, DirContext, Ecosystem};
use crate::index::{file_name, join, parent_dir};
use crate::stack::{BuildTool, Database, Framework, Language, Role, TestFramework};
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

/// The JavaScript / TypeScript detector.
pub struct JavaScript;

const MANIFESTS: &[&str] = &["package.json", "pnpm-workspace.yaml"];

/// Other files read wherever they are (outside `node_modules`).
/// Also read for the generator: `angular.json` names the build output folder; lock files are
/// checked against `package.json` and say which major of their tool wrote them; CI files
/// prove which Node version the project runs on.
const READ_FILES: &[&str] = &[
    ".nvmrc",
    ".node-version",
    "schema.prisma",
    "angular.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    ".gitlab-ci.yml",
];

/// Configuration modules read where entry files are: the generator looks in them for the
/// environment variables the application reads (`process.env.POSTGRES_URL`).
const SETTINGS_FILES: &[&str] = &[
    "config.js",
    "config.ts",
    "db.js",
    "db.ts",
    "database.js",
    "database.ts",
    "knexfile.js",
    "knexfile.ts",
];

/// Entry files read for the port, when they sit at a folder's top or directly in `src/`.
const ENTRY_FILES: &[&str] = &[
    "server.js",
    "server.mjs",
    "server.cjs",
    "server.ts",
    "server.mts",
    "app.js",
    "app.mjs",
    "app.cjs",
    "app.ts",
    "app.mts",
    "index.js",
    "index.mjs",
    "index.cjs",
    "index.ts",
    "index.mts",
    "main.js",
    "main.mjs",
    "main.cjs",
    "main.ts",
    "main.mts",
];

/// Where entry files are looked for, in order, relative to the service folder.
const ENTRY_DIRS: &[&str] = &["", "src/"];

/// Framework dependency names, in the order that decides when several are present: a Next
/// app also depends on react, a Nest app may depend on express.
const FRAMEWORK_DEPS: &[(&str, Framework)] = &[
    ("next", Framework::NextJs),
    ("@nestjs/core", Framework::NestJs),
    ("express", Framework::Express),
    ("@angular/core", Framework::Angular),
    ("vue", Framework::Vue),
    ("@sveltejs/kit", Framework::Svelte),
    ("svelte", Framework::Svelte),
    ("react", Framework::React),
];

/// Test framework dependencies, in the order used when the `test` script names none.
const TEST_DEPS: &[(&str, TestFramework)] = &[
    ("jest", TestFramework::Jest),
    ("vitest", TestFramework::Vitest),
    ("mocha", TestFramework::Mocha),
    ("@playwright/test", TestFramework::Playwright),
];

/// Dependency name → database it talks to. ORMs (typeorm, sequelize, knex) need one of
/// these drivers installed beside them, so the drivers say which database is meant.
const DATABASE_DEPS: &[(&str, Database)] = &[
    ("pg", Database::Postgresql),
    ("pg-promise", Database::Postgresql),
    ("postgres", Database::Postgresql),
    ("@neondatabase/serverless", Database::Postgresql),
    ("mysql", Database::Mysql),
    ("mysql2", Database::Mysql),
    ("mariadb", Database::Mariadb),
    ("sqlite3", Database::Sqlite),
    ("better-sqlite3", Database::Sqlite),
    ("mongodb", Database::Mongodb),
    ("mongoose", Database::Mongodb),
    ("redis", Database::Redis),
    ("ioredis", Database::Redis),
    ("@redis/client", Database::Redis),
    ("memjs", Database::Memcached),
    ("memcached", Database::Memcached),
    ("@elastic/elasticsearch", Database::Elasticsearch),
    ("amqplib", Database::Rabbitmq),
    ("amqp-connection-manager", Database::Rabbitmq),
    ("kafkajs", Database::Kafka),
    ("node-rdkafka", Database::Kafka),
    ("cassandra-driver", Database::Cassandra),
    ("tedious", Database::Mssql),
    ("mssql", Database::Mssql),
];

/// Prisma `datasource` provider → database.
const PRISMA_PROVIDERS: &[(&str, Database)] = &[
    ("postgresql", Database::Postgresql),
    ("postgres", Database::Postgresql),
    ("mysql", Database::Mysql),
    ("sqlite", Database::Sqlite),
    ("mongodb", Database::Mongodb),
    ("sqlserver", Database::Mssql),
];

/// Packages that only build another stack's front-end assets (CSS, bundles, Hotwire).
const ASSET_TOOLING: &[&str] = &[
    "tailwindcss",
    "postcss",
    "postcss-cli",
    "autoprefixer",
    "cssnano",
    "esbuild",
    "webpack",
    "webpack-cli",
    "vite",
    "rollup",
    "parcel",
    "sass",
    "node-sass",
    "sass-loader",
    "css-loader",
    "style-loader",
    "mini-css-extract-plugin",
    "laravel-vite-plugin",
    "laravel-mix",
    "vite-plugin-ruby",
    "stimulus",
    "jsbundling",
    "cssbundling",
    "daisyui",
];

/// Name prefixes of asset tooling packages.
const ASSET_TOOLING_PREFIXES: &[&str] = &[
    "@hotwired/",
    "@tailwindcss/",
    "@rails/",
    "postcss-",
    "esbuild-",
    "@esbuild/",
];

/// Development helpers that say nothing about what a package is for (prefixes).
const NEUTRAL_DEV_PREFIXES: &[&str] = &[
    "prettier",
    "eslint",
    "@eslint/",
    "stylelint",
    "@types/",
    "typescript",
    "npm-run-all",
    "concurrently",
    "chokidar-cli",
    "husky",
    "lint-staged",
];

/// Manifests of other stacks: a `package.json` beside one of them serves that stack's assets.
const OTHER_STACK_MANIFESTS: &[&str] = &[
    "Gemfile",
    "requirements.txt",
    "pyproject.toml",
    "Pipfile",
    "manage.py",
    "composer.json",
    "mix.exs",
    "go.mod",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "Cargo.toml",
];

/// Lock files, in the order used when a folder holds several.
const LOCKFILES: &[(&str, BuildTool)] = &[
    ("pnpm-lock.yaml", BuildTool::Pnpm),
    ("yarn.lock", BuildTool::Yarn),
    ("bun.lock", BuildTool::Bun),
    ("bun.lockb", BuildTool::Bun),
    ("package-lock.json", BuildTool::Npm),
    ("npm-shrinkwrap.json", BuildTool::Npm),
];

/// `packageManager` names.
const MANAGERS: &[(&str, BuildTool)] = &[
    ("npm", BuildTool::Npm),
    ("yarn", BuildTool::Yarn),
    ("pnpm", BuildTool::Pnpm),
    ("bun", BuildTool::Bun),
];

/// Words in a `test` script that name the test framework it runs.
const SCRIPT_TESTS: &[(&str, TestFramework)] = &[
    ("vitest", TestFramework::Vitest),
    ("jest", TestFramework::Jest),
    ("mocha", TestFramework::Mocha),
    ("playwright", TestFramework::Playwright),
];

/// ESLint configuration files (flat and legacy).
const ESLINT_CONFIGS: &[&str] = &[
    "eslint.config.js",
    "eslint.config.mjs",
    "eslint.config.cjs",
    "eslint.config.ts",
    ".eslintrc",
    ".eslintrc.js",
    ".eslintrc.cjs",
    ".eslintrc.json",
    ".eslintrc.yml",
    ".eslintrc.yaml",
];

/// What `npm init` writes as the test script: there are no tests.
const NPM_PLACEHOLDER_TEST: &str = "no test specified";

static PORT_IN_SCRIPT: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"(?:(?:^|\s)(?:-p|--port)(?:=|\s+)|\bPORT=)(\d{2,5})\b"));
static DOCKERFILE_NODE: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"(?mi)^\s*FROM\s+(?:--platform=\S+\s+)?(?:\S+/)?node:v?(\d+)"));
static CI_NODE_IMAGE: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"(?m)\bimage:\s*(?:name:\s*)?['"]?(?:\S+/)?node:v?(\d+)"#));
static PRISMA_PROVIDER: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"(?s)datasource\s+\w+\s*\{[^}]*?\bprovider\s*=\s*"(\w+)""#));

/// What one `package.json` declares, with the sections kept apart.
#[derive(Debug, Default)]
struct Package {
    /// Root-relative path of the `package.json`.
    path: String,
    /// `dependencies` and `devDependencies`: name → (version as written, section).
    deps: BTreeMap<String, (String, &'static str)>,
    /// The same names in declaration order, for messages.
    names: Vec<String>,
    peers: BTreeSet<String>,
    scripts: BTreeMap<String, String>,
    json: Value,
}

impl Package {
    fn parse(path: String, json: Value) -> Self {
        let mut deps = BTreeMap::new();
        let mut names = Vec::new();
        for section in ["dependencies", "devDependencies"] {
            if let Some(map) = json.get(section).and_then(Value::as_object) {
                for (name, v) in map {
                    let version = v.as_str().unwrap_or("").to_string();
                    if !deps.contains_key(name) {
                        names.push(name.clone());
                        deps.insert(name.clone(), (version, section));
                    }
                }
            }
        }
        let peers = json
            .get("peerDependencies")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let scripts = json
            .get("scripts")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Package {
            path,
            deps,
            names,
            peers,
            scripts,
            json,
        }
    }

    fn script(&self, name: &str) -> Option<&str> {
        self.scripts
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.trim().is_empty())
    }

    /// The `test` script, unless it is npm's placeholder.
    fn test_script(&self) -> Option<&str> {
        self.script("test")
            .filter(|s| !s.contains(NPM_PLACEHOLDER_TEST))
    }

    fn str_at(&self, a: &str, b: &str) -> Option<&str> {
        self.json
            .get(a)
            .and_then(|v| v.get(b))
            .and_then(Value::as_str)
    }

    /// The `main` file, without a leading `./`.
    fn main(&self) -> Option<&str> {
        self.json
            .get("main")
            .and_then(Value::as_str)
            .map(|m| m.trim_start_matches("./"))
            .filter(|m| !m.is_empty())
    }
}

/// The package manager chosen for a folder, and the lock file it will install from.
struct Manager {
    tool: BuildTool,
    /// Yarn 2+ (`.yarnrc.yml`, or `packageManager` says so).
    berry: bool,
    lockfile: Option<String>,
    /// The lock file is out of date with `package.json`: a frozen install would refuse it.
    stale: bool,
}

impl Manager {
    /// Runs a `package.json` script.
    fn run(&self, script: &str) -> String {
        format!("{} run {script}", self.tool)
    }

    /// Runs one of the package's own binaries.
    fn exec(&self) -> &'static str {
        match self.tool {
            BuildTool::Yarn => "yarn",
            BuildTool::Pnpm => "pnpm exec",
            BuildTool::Bun => "bunx",
            _ => "npx",
        }
    }

    /// Runs the `test` or `start` script; `bun test` and `bun start` would not run the script.
    fn lifecycle(&self, script: &str) -> String {
        match self.tool {
            BuildTool::Bun => format!("bun run {script}"),
            tool => format!("{tool} {script}"),
        }
    }

    fn install(&self) -> String {
        let locked = self.lockfile.is_some();
        if locked && self.stale {
            // The lock cannot be installed frozen; CI defaults (yarn Berry, pnpm) are frozen.
            return match self.tool {
                BuildTool::Yarn if self.berry => "yarn install --no-immutable".into(),
                BuildTool::Pnpm => "pnpm install --no-frozen-lockfile".into(),
                tool => format!("{tool} install"),
            };
        }
        match (self.tool, locked) {
            (BuildTool::Yarn, true) if self.berry => "yarn install --immutable".into(),
            (BuildTool::Yarn, true) => "yarn install --frozen-lockfile".into(),
            (BuildTool::Pnpm, true) => "pnpm install --frozen-lockfile".into(),
            (BuildTool::Bun, true) => "bun install --frozen-lockfile".into(),
            (BuildTool::Npm, true) => "npm ci".into(),
            (tool, _) => format!("{tool} install"),
        }
    }
}

impl Ecosystem for JavaScript {
    fn name(&self) -> &'static str {
        "javascript"
    }

    fn is_manifest(&self, name: &str) -> bool {
        MANIFESTS.contains(&name)
    }

    fn wants(&self, path: &str, name: &str) -> bool {
        // The name first: it rules out nearly every path without searching it.
        (MANIFESTS.contains(&name)
            || READ_FILES.contains(&name)
            || is_entry_path(path, name)
            || is_workflow_file(path, name))
            && !(path.starts_with("node_modules/") || path.contains("/node_modules/"))
    }

    fn detect(&self, ctx: &DirContext<'_>) -> Option<Candidate> {
        if !MANIFESTS.iter().any(|m| ctx.has(m)) {
            return None;
        }
        let mut c = Candidate::new(Language::JavaScript, "node");
        let pkg_path = ctx.path("package.json");
        let json = if ctx.has("package.json") {
            if ctx.text("package.json").is_none() {
                c.warn(
                    pkg_path.clone(),
                    "package.json was not read (too large or not text); dependencies unknown",
                );
            }
            ctx.json("package.json", &mut c)
        } else {
            None
        };
        let parsed = json.is_some();
        let pkg = Package::parse(pkg_path, json.unwrap_or(Value::Null));
        let root = workspace_root(ctx);

        language(ctx, &mut c, &pkg.path);
        let pm = package_manager(ctx, &mut c, &pkg, root.as_ref());
        versions(ctx, &mut c, &pkg, root.as_ref());
        tool_major_from_lock(ctx, &mut c, &pm);
        prefer_proven_node(ctx, &mut c);

        for (dep, fw) in FRAMEWORK_DEPS {
            if let Some((version, section)) = pkg.deps.get(*dep) {
                c.set_framework(*fw, &pkg.path, format!("`{dep}` {version} in {section}"));
            }
        }
        if c.framework.is_none() {
            transitive_framework(ctx, &mut c, &pkg, pm.lockfile.as_deref());
        }
        test_framework(ctx, &mut c, &pkg);
        databases(ctx, &mut c, &pkg);
        port(ctx, &mut c, &pkg);
        let members = workspaces(ctx, &mut c, &pkg);
        role(ctx, &mut c, &pkg, parsed, members.as_deref());
        commands(ctx, &mut c, &pkg, &pm);
        Some(c)
    }
}

/// A framework no `dependencies` entry names, reached through the lock file from the runtime
/// dependencies (a server kit that depends on express, a meta-framework on next).
fn transitive_framework(
    ctx: &DirContext<'_>,
    c: &mut Candidate,
    pkg: &Package,
    lock: Option<&str>,
) {
    let Some(lock) = lock else { return };
    let Some(text) = ctx.index.text(lock) else {
        return;
    };
    let graph = match crate::index::file_name(lock) {
        "pnpm-lock.yaml" => super::lockgraph::pnpm_lock(text),
        "yarn.lock" => super::lockgraph::yarn_lock(text),
        "package-lock.json" | "npm-shrinkwrap.json" => match serde_json::from_str(text) {
            Ok(json) => super::lockgraph::npm_lock(&json),
            Err(_) => return,
        },
        _ => return,
    };
    let roots = pkg
        .deps
        .iter()
        .filter(|(_, (_, section))| *section == "dependencies")
        .map(|(name, _)| name.as_str());
    let wanted: Vec<&str> = FRAMEWORK_DEPS.iter().map(|(d, _)| *d).collect();
    if let Some(found) = graph.reach(roots, &wanted) {
        if let Some((_, fw)) = FRAMEWORK_DEPS.iter().find(|(d, _)| *d == found.name) {
            c.set_framework(*fw, lock, found.describe(crate::index::file_name(lock)));
        }
    }
}

/// GitHub Actions workflows: they name the Node versions the project is tested on.
fn is_workflow_file(path: &str, name: &str) -> bool {
    (name.ends_with(".yml") || name.ends_with(".yaml"))
        && (path.starts_with(".github/workflows/") || path.contains("/.github/workflows/"))
}

/// Entry files at a folder's top or directly in `src/` (or express-generator's `bin/www`);
/// not the `index.js` of every component folder below `src/`.
fn is_entry_path(path: &str, name: &str) -> bool {
    if name == "www" {
        let dir = parent_dir(path);
        return dir == "bin" || dir.ends_with("/bin");
    }
    if !ENTRY_FILES.contains(&name) && !SETTINGS_FILES.contains(&name) {
        return false;
    }
    let dir = parent_dir(path);
    if dir == "src" || dir.ends_with("/src") {
        return true;
    }
    !(dir.starts_with("src/")
        || dir.contains("/src/")
        || dir.starts_with("dist/")
        || dir.contains("/dist/")
        || dir == "dist"
        || dir.ends_with("/dist"))
}

/// Files that are configuration or type declarations, not the program's source.
fn is_config_or_declaration(name: &str) -> bool {
    // Asked of every source file: a plain scan, cheaper than a substring searcher per name.
    name.starts_with('.')
        || name.as_bytes().windows(8).any(|w| w == b".config.")
        || name.ends_with(".d.ts")
        || name.ends_with(".d.mts")
        || name.ends_with(".d.cts")
        || name.starts_with("Gruntfile.")
        || name.starts_with("gulpfile.")
}

/// TypeScript when `tsconfig.json` sits beside TypeScript sources, or when they outnumber
/// the JavaScript ones; `.d.ts` files and tool configs do not count.
fn language(ctx: &DirContext<'_>, c: &mut Candidate, pkg_path: &str) {
    let (ts_all, _) = ctx.source_stats(&["typescript"]);
    let (js_all, _) = ctx.source_stats(&["javascript"]);
    let (mut ts_skip, mut js_skip) = (0usize, 0usize);
    for f in ctx.files_under() {
        if f.excluded.is_some() || !is_config_or_declaration(f.name()) {
            continue;
        }
        match f.language {
            Some("typescript") => ts_skip += 1,
            Some("javascript") => js_skip += 1,
            _ => {}
        }
    }
    let ts = ts_all.saturating_sub(ts_skip);
    let js = js_all.saturating_sub(js_skip);
    let tsconfig = ctx.has("tsconfig.json");
    let typescript = (tsconfig && ts > 0) || ts > js || (tsconfig && js == 0);
    if typescript {
        c.language = Language::TypeScript;
    }
    let counts = format!(
        "{ts} TypeScript source files (.ts/.tsx/.mts/.cts) and {js} JavaScript (.js/.jsx/.mjs/.cjs), \
         config and .d.ts files left out; tsconfig.json {}",
        if tsconfig { "present" } else { "absent" }
    );
    c.note("language", pkg_path, format!("{}: {counts}", c.language));
}

/// The nearest folder above this one that declares workspaces, with its `package.json`.
struct WorkspaceRoot {
    dir: String,
    pkg: Option<Package>,
}

fn workspace_root(ctx: &DirContext<'_>) -> Option<WorkspaceRoot> {
    let mut dir = ctx.dir;
    while !dir.is_empty() {
        dir = parent_dir(dir);
        let pkg = ctx
            .index
            .text(&join(dir, "package.json"))
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .map(|v| Package::parse(join(dir, "package.json"), v));
        let declares = pkg
            .as_ref()
            .is_some_and(|p| p.json.get("workspaces").is_some());
        if declares || ctx.index.exists(&join(dir, "pnpm-workspace.yaml")) {
            return Some(WorkspaceRoot {
                dir: dir.to_string(),
                pkg,
            });
        }
    }
    None
}

/// Splits `pnpm@9.1.0` into the manager and the version as written.
fn split_package_manager(field: &str) -> Option<(&'static str, BuildTool, &str)> {
    let (name, version) = field.trim().split_once('@')?;
    MANAGERS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, tool)| (*n, *tool, version.trim()))
}

/// `packageManager` first (the folder's, then its workspace root's), then the lock file in
/// the folder or at its workspace root, then `pnpm-workspace.yaml`, else npm.
fn package_manager(
    ctx: &DirContext<'_>,
    c: &mut Candidate,
    pkg: &Package,
    root: Option<&WorkspaceRoot>,
) -> Manager {
    let lock_dirs: Vec<&str> = std::iter::once(ctx.dir)
        .chain(root.map(|r| r.dir.as_str()))
        .collect();
    let declared = std::iter::once(pkg)
        .chain(root.and_then(|r| r.pkg.as_ref()))
        .find_map(|p| {
            let field = p.json.get("packageManager").and_then(Value::as_str)?;
            Some((p.path.clone(), field.to_string()))
        });
    let mut chosen: Option<(BuildTool, bool)> = None;
    if let Some((path, field)) = &declared {
        match split_package_manager(field) {
            Some((name, tool, version)) => {
                c.set_build_tool(tool, path, format!("packageManager is \"{field}\""));
                c.add_version(name, version, format!("{path} (packageManager)"));
                let major = version
                    .split(['.', '+', '-'])
                    .next()
                    .and_then(|m| m.parse::<u32>().ok());
                chosen = Some((
                    tool,
                    tool == BuildTool::Yarn && major.is_some_and(|m| m >= 2),
                ));
            }
            None => c.warn(
                path.clone(),
                format!("packageManager \"{field}\" is not npm, yarn, pnpm or bun; ignored"),
            ),
        }
    }
    // Lock files in the folder, else at the workspace root.
    let mut locks: Vec<(String, BuildTool)> = Vec::new();
    for dir in &lock_dirs {
        locks = LOCKFILES
            .iter()
            .map(|(name, tool)| (join(dir, name), *tool))
            .filter(|(p, _)| ctx.index.exists(p))
            .collect();
        if !locks.is_empty() {
            break;
        }
    }
    let states: Vec<LockState> = locks
        .iter()
        .map(|(p, _)| lock_state(ctx.index, p))
        .collect();
    let tool = match chosen {
        Some((tool, _)) => tool,
        None => {
            // Several tools' lock files: the one that agrees with package.json is the one in
            // use; the others were left behind when the project changed tools.
            let agreeing = states
                .iter()
                .position(|s| *s == LockState::Agrees)
                .filter(|_| states.iter().any(|s| matches!(s, LockState::Stale(_))));
            let pick = agreeing.unwrap_or(0);
            if let Some((path, tool)) = locks.get(pick) {
                let others: Vec<(&str, &LockState)> = locks
                    .iter()
                    .zip(&states)
                    .filter(|((_, t), _)| t != tool)
                    .map(|((p, _), st)| (file_name(p), st))
                    .collect();
                let stale_others: Vec<String> = others
                    .iter()
                    .filter(|(_, st)| matches!(st, LockState::Stale(_)))
                    .map(|(name, st)| format!("{name} does not ({})", st.describe()))
                    .collect();
                let by_consistency = agreeing.is_some() && !stale_others.is_empty();
                let reason = if by_consistency {
                    format!(
                        "{} agrees with package.json; {}",
                        file_name(path),
                        stale_others.join("; ")
                    )
                } else {
                    format!("{} is present", file_name(path))
                };
                c.set_build_tool(*tool, path, reason);
                if !others.is_empty() {
                    let names: BTreeSet<&str> = others.iter().map(|(n, _)| *n).collect();
                    c.warn(
                        path.clone(),
                        format!(
                            "several package managers' lock files ({}, {}); using {tool}{}; remove the stale one",
                            file_name(path),
                            names.into_iter().collect::<Vec<_>>().join(", "),
                            if by_consistency {
                                format!(", whose {} agrees with package.json", file_name(path))
                            } else {
                                String::new()
                            }
                        ),
                    );
                }
                *tool
            } else if let Some(ws) = lock_dirs
                .iter()
                .map(|d| join(d, "pnpm-workspace.yaml"))
                .find(|p| ctx.index.exists(p))
            {
                c.set_build_tool(BuildTool::Pnpm, &ws, "pnpm-workspace.yaml is present");
                BuildTool::Pnpm
            } else {
                c.set_build_tool(
                    BuildTool::Npm,
                    &pkg.path,
                    "no lock file and no packageManager field: npm",
                );
                BuildTool::Npm
            }
        }
    };
    let chosen_lock = locks.iter().zip(&states).find(|((_, t), _)| *t == tool);
    let lockfile = chosen_lock.map(|((p, _), _)| p.clone());
    let stale = match chosen_lock {
        Some(((path, _), state @ LockState::Stale(_))) => {
            c.warn(
                path.clone(),
                format!(
                    "{} is out of date with package.json ({}): a frozen install refuses it, so the pipeline installs without freezing the lock; run `{tool} install` and commit {} to get reproducible installs back",
                    file_name(path),
                    state.describe(),
                    file_name(path)
                ),
            );
            true
        }
        _ => false,
    };
    let mut berry = chosen.is_some_and(|(_, b)| b);
    if tool == BuildTool::Yarn && !berry {
        if let Some(rc) = lock_dirs
            .iter()
            .map(|d| join(d, ".yarnrc.yml"))
            .find(|p| ctx.index.exists(p))
        {
            berry = true;
            c.note("build_tool", rc, "yarn Berry (2+): .yarnrc.yml is present");
        } else {
            c.note(
                "build_tool",
                pkg.path.clone(),
                "yarn classic (1.x): no .yarnrc.yml and no packageManager yarn@2+",
            );
        }
    }
    // The manager's own pin in asdf/mise files, when they name it.
    let name = tool.as_str();
    let pinned = [".tool-versions", "mise.toml", ".mise.toml"]
        .iter()
        .filter_map(|f| ctx.find_up(f))
        .any(|(_, text)| text.contains(name));
    if pinned {
        add_tool_versions(ctx, c, name, &[name]);
    }
    Manager {
        tool,
        berry,
        lockfile,
        stale,
    }
}

/// `pnpm-lock.yaml` `lockfileVersion` prefix → the pnpm major that writes it (pnpm 10 writes
/// 9.0 too, but changes which install scripts run; 9 reads every 9.0 lock the same way).
const PNPM_LOCK_MAJORS: &[(&str, &str)] = &[
    ("9.", "9"),
    ("6.", "8"),
    ("5.4", "7"),
    ("5.3", "6"),
    ("5.", "5"),
];

/// Yarn Berry `yarn.lock` `__metadata.version` → the yarn major that writes it.
const YARN_LOCK_MAJORS: &[(&str, &str)] =
    &[("4", "2"), ("5", "3"), ("6", "3"), ("7", "4"), ("8", "4")];

/// The `package.json` sections a lock file records.
const LOCKED_SECTIONS: &[&str] = &["dependencies", "devDependencies", "optionalDependencies"];

/// How a lock file agrees with `package.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// Every dependency `package.json` declares is locked as written.
    Agrees,
    /// What differs (`express@^4.19.2 is not in the lock` …): a frozen install refuses it.
    Stale(Vec<String>),
    /// Not read (too large, not text) or in a shape this check does not know.
    Unknown,
}

impl LockState {
    /// The differences as one phrase, the first few named.
    pub fn describe(&self) -> String {
        match self {
            LockState::Stale(diffs) => {
                let mut text = diffs.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
                if diffs.len() > 3 {
                    text.push_str(&format!("; {} more", diffs.len() - 3));
                }
                text
            }
            LockState::Agrees => "agrees with package.json".into(),
            LockState::Unknown => "not checked".into(),
        }
    }
}

/// The dependencies `package.json` declares in the sections lock files record: name → spec.
fn declared_specs(pkg: &Value) -> BTreeMap<String, String> {
    let mut specs = BTreeMap::new();
    for section in LOCKED_SECTIONS {
        if let Some(map) = pkg.get(section).and_then(Value::as_object) {
            for (name, spec) in map {
                if let Some(spec) = spec.as_str() {
                    specs
                        .entry(name.clone())
                        .or_insert_with(|| spec.to_string());
                }
            }
        }
    }
    specs
}

/// Compares declared specs with locked ones (name → spec as the lock records it).
fn compare_specs(
    declared: &BTreeMap<String, String>,
    locked: &BTreeMap<String, String>,
) -> LockState {
    let mut diffs = Vec::new();
    for (name, spec) in declared {
        match locked.get(name) {
            None => diffs.push(format!("{name}@{spec} is not in the lock")),
            Some(l) if l != spec => diffs.push(format!(
                "{name}: package.json asks for {spec}, the lock has {l}"
            )),
            Some(_) => {}
        }
    }
    for name in locked.keys().filter(|n| !declared.contains_key(*n)) {
        diffs.push(format!("{name} is locked but no longer in package.json"));
    }
    if diffs.is_empty() {
        LockState::Agrees
    } else {
        LockState::Stale(diffs)
    }
}

/// `package-lock.json` / `npm-shrinkwrap.json`: v2/v3 record the root's specs under
/// `packages[""]`; v1 records only names.
fn npm_lock_state(text: &str, declared: &BTreeMap<String, String>) -> LockState {
    let Ok(lock) = serde_json::from_str::<Value>(text) else {
        return LockState::Unknown;
    };
    if let Some(root) = lock.get("packages").and_then(|p| p.get("")) {
        let mut locked = BTreeMap::new();
        for section in LOCKED_SECTIONS {
            if let Some(map) = root.get(section).and_then(Value::as_object) {
                for (name, spec) in map {
                    if let Some(spec) = spec.as_str() {
                        locked.insert(name.clone(), spec.to_string());
                    }
                }
            }
        }
        return compare_specs(declared, &locked);
    }
    match lock.get("dependencies").and_then(Value::as_object) {
        Some(deps) => {
            let missing: Vec<String> = declared
                .iter()
                .filter(|(name, _)| !deps.contains_key(*name))
                .map(|(name, spec)| format!("{name}@{spec} is not in the lock"))
                .collect();
            if missing.is_empty() {
                LockState::Agrees
            } else {
                LockState::Stale(missing)
            }
        }
        None => LockState::Unknown,
    }
}

/// The entry keys of a `yarn.lock` (classic `name@spec`, Berry `name@npm:spec`), and whether
/// it is a Berry lock (`__metadata`).
fn yarn_lock_keys(text: &str) -> (bool, BTreeSet<String>) {
    let mut keys = BTreeSet::new();
    let mut berry = false;
    for line in text.lines() {
        if line.is_empty() || line.starts_with([' ', '\t', '#']) {
            continue;
        }
        let Some(key) = line.trim_end().strip_suffix(':') else {
            continue;
        };
        if key == "__metadata" {
            berry = true;
            continue;
        }
        for descriptor in key.split(',') {
            keys.insert(descriptor.trim().trim_matches('"').to_string());
        }
    }
    (berry, keys)
}

/// `yarn.lock` holds one entry per descriptor (`name@spec`) anywhere in the tree, so only
/// missing ones can be told: exactly what `--frozen-lockfile` refuses.
fn yarn_lock_state(text: &str, declared: &BTreeMap<String, String>) -> LockState {
    let (berry, keys) = yarn_lock_keys(text);
    if keys.is_empty() && !declared.is_empty() && !text.contains("yarn lockfile") && !berry {
        return LockState::Unknown;
    }
    let missing: Vec<String> = declared
        .iter()
        .filter(|(name, spec)| {
            let descriptor = if berry && !spec.contains(':') {
                format!("{name}@npm:{spec}")
            } else {
                format!("{name}@{spec}")
            };
            !keys.contains(&descriptor)
        })
        .map(|(name, spec)| format!("{name}@{spec} is not in the lock"))
        .collect();
    if missing.is_empty() {
        LockState::Agrees
    } else {
        LockState::Stale(missing)
    }
}

/// `pnpm-lock.yaml`: the root importer's specifiers (v6+: `importers['.']` or top-level
/// `dependencies` with `specifier`; v5: `specifiers`).
fn pnpm_lock_state(text: &str, declared: &BTreeMap<String, String>) -> LockState {
    let Ok(lock) = crate::yaml::to_json(text) else {
        return LockState::Unknown;
    };
    if lock.get("lockfileVersion").is_none() {
        return LockState::Unknown;
    }
    let importer = lock
        .get("importers")
        .and_then(|i| i.get("."))
        .unwrap_or(&lock);
    let mut locked = BTreeMap::new();
    if let Some(map) = importer.get("specifiers").and_then(Value::as_object) {
        for (name, spec) in map {
            if let Some(spec) = spec.as_str() {
                locked.insert(name.clone(), spec.to_string());
            }
        }
    } else {
        for section in LOCKED_SECTIONS {
            if let Some(map) = importer.get(section).and_then(Value::as_object) {
                for (name, entry) in map {
                    if let Some(spec) = entry.get("specifier").and_then(Value::as_str) {
                        locked.insert(name.clone(), spec.to_string());
                    }
                }
            }
        }
    }
    compare_specs(declared, &locked)
}

/// Checks the lock file `lock` (a root-relative path) against the `package.json` beside it.
/// Lock files at a workspace root cover every member and are not checked per member.
pub fn lock_state(index: &crate::index::RepoIndex, lock: &str) -> LockState {
    let dir = parent_dir(lock);
    let Some(manifest) = index
        .text(&join(dir, "package.json"))
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
    else {
        return LockState::Unknown;
    };
    if manifest.get("workspaces").is_some() || index.exists(&join(dir, "pnpm-workspace.yaml")) {
        return LockState::Unknown;
    }
    let Some(text) = index.text(lock) else {
        return LockState::Unknown;
    };
    let declared = declared_specs(&manifest);
    match file_name(lock) {
        "package-lock.json" | "npm-shrinkwrap.json" => npm_lock_state(text, &declared),
        "yarn.lock" => yarn_lock_state(text, &declared),
        "pnpm-lock.yaml" => pnpm_lock_state(text, &declared),
        _ => LockState::Unknown,
    }
}

/// The major of the tool that wrote a pnpm or yarn lock file, with the marker it was read from.
fn lock_tool_major(lock_name: &str, text: &str) -> Option<(String, String)> {
    match lock_name {
        "pnpm-lock.yaml" => {
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix("lockfileVersion:"))?;
            let version = line.trim().trim_matches(['\'', '"']).to_string();
            PNPM_LOCK_MAJORS
                .iter()
                .find(|(prefix, _)| version.starts_with(prefix))
                .map(|(_, major)| (major.to_string(), format!("lockfileVersion '{version}'")))
        }
        "yarn.lock" => {
            if text.contains("# yarn lockfile v1") {
                return Some(("1".into(), "yarn lockfile v1".into()));
            }
            let mut in_metadata = false;
            for line in text.lines() {
                if line.starts_with("__metadata:") {
                    in_metadata = true;
                } else if in_metadata {
                    if let Some(v) = line.trim().strip_prefix("version:") {
                        let v = v.trim().to_string();
                        return YARN_LOCK_MAJORS.iter().find(|(lock, _)| *lock == v).map(
                            |(_, major)| (major.to_string(), format!("__metadata version {v}")),
                        );
                    }
                    if !line.starts_with(' ') {
                        in_metadata = false;
                    }
                }
            }
            None
        }
        _ => None,
    }
}

/// `.nvmrc`, `.node-version`, `.tool-versions`/mise, then `engines.node` and `volta.node`
/// (the folder's, then its workspace root's); package manager pins after the runtime.
fn versions(ctx: &DirContext<'_>, c: &mut Candidate, pkg: &Package, root: Option<&WorkspaceRoot>) {
    add_version_file(ctx, c, "node", ".nvmrc");
    add_version_file(ctx, c, "node", ".node-version");
    add_tool_versions(ctx, c, "node", &["nodejs", "node"]);
    let packages: Vec<&Package> = std::iter::once(pkg)
        .chain(root.and_then(|r| r.pkg.as_ref()))
        .collect();
    for p in &packages {
        for (section, key) in [("engines", "node"), ("volta", "node")] {
            if let Some(v) = p.str_at(section, key) {
                c.add_version("node", v, format!("{} ({section}.{key})", p.path));
            }
        }
    }
    for p in &packages {
        for section in ["engines", "volta"] {
            for tool in ["npm", "yarn", "pnpm", "bun"] {
                if let Some(v) = p.str_at(section, tool) {
                    c.add_version(tool, v, format!("{} ({section}.{tool})", p.path));
                }
            }
        }
    }
}

/// The lock file's format names the major of the tool that wrote it: the fallback when
/// nothing else pins the tool (corepack's own default may name a release that does not exist).
fn tool_major_from_lock(ctx: &DirContext<'_>, c: &mut Candidate, pm: &Manager) {
    let Some(lock) = &pm.lockfile else {
        return;
    };
    if let Some((major, marker)) = ctx
        .index
        .text(lock)
        .and_then(|t| lock_tool_major(file_name(lock), t))
    {
        c.add_version(pm.tool.as_str(), &major, format!("{lock} ({marker})"));
    }
}

/// Node versions the repository's own files run on, most telling first: its Dockerfile (what
/// it ships), then its CI (what it tests; a matrix newest first). Each with its source.
fn node_proofs(ctx: &DirContext<'_>) -> Vec<(String, String)> {
    let mut proofs = Vec::new();
    if let Some(text) = ctx.text("Dockerfile") {
        for caps in DOCKERFILE_NODE.captures_iter(text) {
            proofs.push((
                caps[1].to_string(),
                format!("{} (FROM node:{})", ctx.path("Dockerfile"), &caps[1]),
            ));
        }
    }
    if let Some((path, text)) = ctx.find_up(".gitlab-ci.yml") {
        for caps in CI_NODE_IMAGE.captures_iter(text) {
            proofs.push((
                caps[1].to_string(),
                format!("{path} (image node:{})", &caps[1]),
            ));
        }
    }
    let mut workflows: Vec<&crate::index::IndexedFile> = ctx
        .index
        .files_in(".github/workflows")
        .filter(|f| is_workflow_file(&f.path, f.name()))
        .collect();
    workflows.sort_by(|a, b| a.path.cmp(&b.path));
    for f in workflows {
        let Some(text) = ctx.index.text(&f.path) else {
            continue;
        };
        for node in workflow_nodes(text) {
            if let WorkflowNode::One(one) = node {
                proofs.push((
                    one.to_string(),
                    format!("{} (node-version {})", f.path, one),
                ));
            } else if let WorkflowNode::List(list) = node {
                let mut majors: Vec<u32> = list
                    .split(',')
                    .filter_map(|v| {
                        let v = v.trim().trim_matches(['\'', '"']).trim_start_matches('v');
                        let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
                        digits.parse().ok()
                    })
                    .collect();
                // Newest first, the releases pipewright supports before the others.
                let supported = |m: &u32| {
                    crate::generate::versions::SUPPORTED
                        .iter()
                        .any(|(r, lines)| *r == "node" && lines.contains(&m.to_string().as_str()))
                };
                majors.sort_unstable_by(|a, b| supported(b).cmp(&supported(a)).then(b.cmp(a)));
                for m in majors {
                    proofs.push((
                        m.to_string(),
                        format!("{} (node-version matrix {})", f.path, list.trim()),
                    ));
                }
            }
        }
    }
    proofs
}

/// A Node range (`engines.node: ">=18"`) resolves to its newest supported member unless the
/// repository proves another one it allows; nothing pinned takes the proven version. An exact
/// pin (`.nvmrc` 20.11.1) stays as it is.
fn prefer_proven_node(ctx: &DirContext<'_>, c: &mut Candidate) {
    let proofs = node_proofs(ctx);
    if proofs.is_empty() {
        return;
    }
    let first = c.versions.iter().position(|v| v.name == "node");
    let (major, source, at) = match first {
        None => (proofs[0].0.clone(), proofs[0].1.clone(), None),
        Some(i) => {
            let range = c.versions[i].clone();
            let Some((major, source)) = proofs.iter().find(|(m, _)| {
                crate::generate::versions::range_allows("node", &range.value, m) == Some(true)
            }) else {
                return;
            };
            (
                major.clone(),
                format!("{source}, which {} ({}) allows", range.value, range.source),
                Some(i),
            )
        }
    };
    c.add_version("node", &major, source);
    if let Some(i) = at {
        if let Some(proven) = c.versions.pop() {
            c.versions.insert(i, proven);
        }
    }
}

/// The test framework the `test` script runs, if it names one.
fn runner_in_script(script: &str) -> Option<TestFramework> {
    // The first whole word that names a runner (`\b(vitest|jest|mocha|playwright)\b`).
    let text = script.as_bytes();
    (0..text.len()).find_map(|at| {
        let word = scan::word_at(text, at)?;
        SCRIPT_TESTS
            .iter()
            .find(|(w, _)| w.as_bytes() == word)
            .map(|(_, tf)| *tf)
    })
}

/// Folders whose JavaScript/TypeScript files are tests by convention (Mocha's `test/`, Jest's
/// `__tests__/`, Playwright's and Cypress's end-to-end folders).
const JS_TEST_DIRS: &[&str] = &["test", "tests", "__tests__", "spec", "e2e", "cypress"];

/// Name parts that mark a test file: `x.test.ts`, `x.spec.js`, `x.cy.ts`, `x_test.js`.
const JS_TEST_MARKS: &[&str] = &[".test.", ".spec.", ".cy.", "_test.", "-test."];

const JS_EXTENSIONS: &[&str] = &[
    ".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".mts", ".cts", ".vue", ".svelte",
];

/// True when the folder holds JavaScript or TypeScript tests (outside `node_modules`).
fn has_js_tests(ctx: &DirContext<'_>) -> bool {
    ctx.files_under().any(|f| {
        let name = f.name();
        if f.excluded == Some(crate::index::Exclusion::Vendored)
            || !JS_EXTENSIONS.iter().any(|e| name.ends_with(e))
        {
            return false;
        }
        JS_TEST_MARKS.iter().any(|m| name.contains(m))
            || f.path
                .split('/')
                .rev()
                .skip(1)
                .any(|dir| JS_TEST_DIRS.contains(&dir))
    })
}

/// The test framework, when the folder has tests for it to run or its `test` script runs it:
/// a runner only listed in devDependencies, with no test files and no script calling it, is a
/// leftover of a template, not the repository's tests. (A script that calls the runner is
/// kept: the generator then passes `--passWithNoTests` and says why.)
fn test_framework(ctx: &DirContext<'_>, c: &mut Candidate, pkg: &Package) {
    let scripted = pkg.test_script().and_then(runner_in_script).is_some();
    if !scripted && !has_js_tests(ctx) {
        let named: Vec<&str> = TEST_DEPS
            .iter()
            .filter(|(dep, _)| pkg.deps.contains_key(*dep))
            .map(|(dep, _)| *dep)
            .collect();
        if !named.is_empty() {
            c.note(
                "test_framework",
                pkg.path.clone(),
                format!(
                    "`{}` is a dependency but the folder holds no test files: no test framework",
                    named.join("`, `")
                ),
            );
        }
        return;
    }
    if let Some(script) = pkg.test_script() {
        if let Some(tf) = runner_in_script(script) {
            c.set_test_framework(
                tf,
                &pkg.path,
                format!("the test script runs {tf}: `{script}`"),
            );
        }
    }
    for (dep, tf) in TEST_DEPS {
        if let Some((version, section)) = pkg.deps.get(*dep) {
            c.set_test_framework(*tf, &pkg.path, format!("`{dep}` {version} in {section}"));
        }
    }
}

/// The database a Prisma schema's `datasource` block names.
fn prisma_provider(schema: &str) -> Option<(&str, Database)> {
    let provider = PRISMA_PROVIDER.captures(schema)?.get(1)?.as_str();
    PRISMA_PROVIDERS
        .iter()
        .find(|(p, _)| *p == provider)
        .map(|(p, db)| (*p, *db))
}

fn databases(ctx: &DirContext<'_>, c: &mut Candidate, pkg: &Package) {
    for (dep, db) in DATABASE_DEPS {
        if let Some((_, section)) = pkg.deps.get(*dep) {
            c.add_database(*db, &pkg.path, format!("`{dep}` in {section}"));
        }
    }
    if pkg.deps.contains_key("@prisma/client") || pkg.deps.contains_key("prisma") {
        let schema = pkg
            .str_at("prisma", "schema")
            .map(|s| s.trim_start_matches("./").to_string())
            .unwrap_or_else(|| "prisma/schema.prisma".to_string());
        match ctx.text(&schema) {
            Some(text) => match prisma_provider(text) {
                Some((provider, db)) => c.add_database(
                    db,
                    &ctx.path(&schema),
                    format!("Prisma datasource provider = \"{provider}\""),
                ),
                None => c.note(
                    "database",
                    ctx.path(&schema),
                    "Prisma schema names no known datasource provider (or takes it from env)",
                ),
            },
            None => c.note(
                "database",
                pkg.path.clone(),
                format!("Prisma is a dependency but {schema} was not found"),
            ),
        }
    }
}

/// The port an entry file listens on: the first of these, in the text's order, whose number
/// is a port (a scanner for the regex
/// `\blisten\(\s*(\d{2,5})\b|\bPORT\b[^\n;]*?(?:\|\||\?\?)\s*["']?(\d{2,5})\b|\b(?:const|let|var)\s+(?i:port)\s*(?::\s*\w+\s*)?=\s*(\d{2,5})\b`):
/// - `listen(3000)`;
/// - `process.env.PORT || 8080` (or `??`, the number perhaps quoted), on the same statement;
/// - `const port = 3000` (`let`, `var`, any case of `port`, a TypeScript type allowed).
fn port_in_code(text: &str) -> Option<u16> {
    let b = text.as_bytes();
    let mut from = 0;
    // Where the last failed `PORT ... ||` search stopped: one from a later `PORT` before that
    // point would look at the same operators and fail too (this keeps the scan linear).
    let mut no_fallback_before = 0;
    for at in scan::occurrences(b, &["listen(", "PORT", "const", "let", "var"]) {
        if at < from || !scan::word_starts(b, at) {
            continue;
        }
        let found = listen_port(b, at)
            .or_else(|| {
                if at < no_fallback_before {
                    return None;
                }
                fallback_port(b, at)
                    .map_err(|stop| no_fallback_before = stop)
                    .ok()
            })
            .or_else(|| declared_port(b, at));
        if let Some((digits, end)) = found {
            match text[digits..end].parse::<u16>() {
                Ok(port) => return Some(port),
                // Five digits past 65535: look on after it, as the regex's next match would.
                Err(_) => from = end,
            }
        }
    }
    None
}

/// `listen\(\s*(\d{2,5})\b` at `at`: where the digits start and end.
fn listen_port(b: &[u8], at: usize) -> Option<(usize, usize)> {
    if !scan::starts(b, at, b"listen(") {
        return None;
    }
    let digits = scan::skip_space(b, at + "listen(".len());
    Some((digits, scan::digits(b, digits, 2, 5)?))
}

/// `PORT\b[^\n;]*?(?:\|\||\?\?)\s*["']?(\d{2,5})\b` at `at`; on a miss, where the search
/// stopped (`Err(at)` when `at` holds no `PORT` word).
fn fallback_port(b: &[u8], at: usize) -> Result<(usize, usize), usize> {
    let after = at + "PORT".len();
    if !scan::starts(b, at, b"PORT") || !scan::word_ends(b, after) {
        return Err(at);
    }
    // The shortest run to an `||` or `??` that a number follows; not past a line or `;`.
    for op in after..b.len() {
        if scan::starts(b, op, b"||") || scan::starts(b, op, b"??") {
            let digits = scan::skip_quote(b, scan::skip_space(b, op + 2));
            if let Some(end) = scan::digits(b, digits, 2, 5) {
                return Ok((digits, end));
            }
        }
        if matches!(b[op], b'\n' | b';') {
            return Err(op);
        }
    }
    Err(b.len())
}

/// `(?:const|let|var)\s+(?i:port)\s*(?::\s*\w+\s*)?=\s*(\d{2,5})\b` at `at`.
fn declared_port(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let keyword = ["const", "let", "var"]
        .into_iter()
        .find(|k| scan::starts(b, at, k.as_bytes()))?;
    let name = scan::skip_space(b, at + keyword.len());
    if name == at + keyword.len() || !b.get(name..name + 4)?.eq_ignore_ascii_case(b"port") {
        return None;
    }
    let mut eq = scan::skip_space(b, name + 4);
    if b.get(eq) == Some(&b':') {
        let ty = scan::skip_space(b, eq + 1);
        let ty_len = b[ty..].iter().take_while(|c| scan::is_word(**c)).count();
        if ty_len == 0 {
            return None;
        }
        eq = scan::skip_space(b, ty + ty_len);
    }
    if b.get(eq) != Some(&b'=') {
        return None;
    }
    let digits = scan::skip_space(b, eq + 1);
    Some((digits, scan::digits(b, digits, 2, 5)?))
}

/// A Node version a workflow sets: `node-version: 20` (one) or `node-version: [18, 20]` (a
/// matrix, the text between the brackets).
#[derive(Debug, PartialEq, Eq)]
enum WorkflowNode<'t> {
    One(&'t str),
    List(&'t str),
}

/// Every `node:`, `nodejs:`, `node-version:` or `node_version:` key of a workflow with its
/// value, in order (a scanner for the regex
/// `\bnode(?:-version|_version|js)?:\s*(?:['"]?v?(\d+)|\[([^\]\n]*)\])`).
fn workflow_nodes(text: &str) -> Vec<WorkflowNode<'_>> {
    let mut found = Vec::new();
    let mut from = 0;
    // Where the last `[` without its `]` on the line stopped looking (see `workflow_node_at`).
    let mut no_list_before = 0;
    for at in scan::occurrences(text.as_bytes(), &["node"]) {
        if at < from {
            continue;
        }
        if let Some((node, end)) = workflow_node_at(text, at, &mut no_list_before) {
            found.push(node);
            from = end;
        }
    }
    found
}

/// One key and value at `at`. A `[` whose line ends before its `]` sets `no_list_before` to
/// that line's end: a later `[` before it would meet the same end, so is not read again.
fn workflow_node_at<'t>(
    text: &'t str,
    at: usize,
    no_list_before: &mut usize,
) -> Option<(WorkflowNode<'t>, usize)> {
    let b = text.as_bytes();
    if !scan::word_starts(b, at) || !scan::starts(b, at, b"node") {
        return None;
    }
    let key_end = at + "node".len();
    let colon = ["-version", "_version", "js", ""]
        .into_iter()
        .find_map(|suffix| {
            let colon = key_end + suffix.len();
            (scan::starts(b, key_end, suffix.as_bytes()) && b.get(colon) == Some(&b':'))
                .then_some(colon)
        })?;
    let value = scan::skip_space(b, colon + 1);
    let mut digits = scan::skip_quote(b, value);
    if b.get(digits) == Some(&b'v') {
        digits += 1;
    }
    let run = scan::digit_run(b, digits);
    if run > 0 {
        return Some((WorkflowNode::One(&text[digits..digits + run]), digits + run));
    }
    if b.get(value) == Some(&b'[') && value >= *no_list_before {
        let inner = value + 1;
        let len = b[inner..]
            .iter()
            .take_while(|c| !matches!(c, b']' | b'\n'))
            .count();
        if b.get(inner + len) == Some(&b']') {
            return Some((
                WorkflowNode::List(&text[inner..inner + len]),
                inner + len + 1,
            ));
        }
        *no_list_before = inner + len;
    }
    None
}

fn port(ctx: &DirContext<'_>, c: &mut Candidate, pkg: &Package) {
    let mut files: Vec<String> = pkg.main().map(String::from).into_iter().collect();
    for dir in ENTRY_DIRS {
        for name in ENTRY_FILES {
            files.push(format!("{dir}{name}"));
        }
    }
    files.push("bin/www".to_string());
    for f in &files {
        if let Some(port) = ctx.text(f).and_then(port_in_code) {
            c.set_port(port, &ctx.path(f), format!("{f} listens on {port}"));
            return;
        }
    }
    let scripts = pkg.script("start").map(|s| ("start", s)).into_iter().chain(
        pkg.scripts
            .iter()
            .filter(|(k, v)| k.as_str() != "start" && v.contains("next start"))
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    for (name, script) in scripts {
        if let Some(port) = PORT_IN_SCRIPT
            .captures(script)
            .and_then(|m| m.get(1))
            .and_then(|m| m.as_str().parse::<u16>().ok())
        {
            c.set_port(
                port,
                &pkg.path,
                format!("the {name} script sets port {port}: `{script}`"),
            );
            return;
        }
    }
}

/// Workspace member patterns from `package.json` `workspaces` (array or `{packages}`) and
/// `pnpm-workspace.yaml`, each recorded as evidence; `None` when the folder is no workspace
/// root. Globs are not resolved: every member folder with a `package.json` is a candidate
/// service folder already.
fn workspaces(ctx: &DirContext<'_>, c: &mut Candidate, pkg: &Package) -> Option<Vec<String>> {
    let is_root = pkg.json.get("workspaces").is_some() || ctx.has("pnpm-workspace.yaml");
    if !is_root {
        return None;
    }
    let mut members = Vec::new();
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    };
    if let Some(ws) = pkg.json.get("workspaces") {
        let list = if ws.is_array() {
            strings(Some(ws))
        } else {
            strings(ws.get("packages"))
        };
        if !list.is_empty() {
            c.note(
                "role",
                pkg.path.clone(),
                format!(
                    "workspace members (package.json workspaces): {}",
                    list.join(", ")
                ),
            );
        }
        members.extend(list);
    }
    if let Some(text) = ctx.text("pnpm-workspace.yaml") {
        let path = ctx.path("pnpm-workspace.yaml");
        match crate::yaml::to_json(text) {
            Ok(v) => {
                let list = strings(v.get("packages"));
                if !list.is_empty() {
                    c.note(
                        "role",
                        path,
                        format!(
                            "workspace members (pnpm-workspace.yaml packages): {}",
                            list.join(", ")
                        ),
                    );
                }
                members.extend(list);
            }
            Err(e) => c.warn(path, format!("malformed YAML, ignored: {e}")),
        }
    }
    Some(members)
}

fn is_asset_tooling(name: &str) -> bool {
    ASSET_TOOLING.contains(&name) || ASSET_TOOLING_PREFIXES.iter().any(|p| name.starts_with(p))
}

fn role(
    ctx: &DirContext<'_>,
    c: &mut Candidate,
    pkg: &Package,
    parsed: bool,
    members: Option<&[String]>,
) {
    let file = pkg.path.clone();
    let start = pkg.script("start");
    let framework_dep = |fw: Framework| {
        FRAMEWORK_DEPS
            .iter()
            .filter(|(_, f)| *f == fw)
            .map(|(d, _)| *d)
            .find(|d| pkg.deps.contains_key(*d))
            .unwrap_or("")
    };
    if let Some(fw) = c.framework {
        let dep = framework_dep(fw);
        if !fw.is_static_frontend() {
            c.set_role(
                Role::Application,
                &file,
                format!("{fw} (`{dep}`) in {file}"),
            );
            return;
        }
        if pkg.peers.contains(dep) && start.is_none() {
            c.set_role(
                Role::Library,
                &file,
                format!("`{dep}` is a peer dependency: a {fw} component library, not a site"),
            );
            return;
        }
        c.set_role(
            Role::Application,
            &file,
            format!("{fw} front-end (`{dep}` in {file}), built as a static site"),
        );
        return;
    }
    if let Some(members) = members {
        let listed = if members.is_empty() {
            "no readable member patterns".to_string()
        } else {
            members.join(", ")
        };
        c.set_role(
            Role::Aggregator,
            &file,
            format!("workspace root listing {listed} with no app dependencies of its own"),
        );
        return;
    }
    if let Some(s) = start {
        c.set_role(
            Role::Application,
            &file,
            format!("{file} has a start script: `{s}`"),
        );
        return;
    }
    if !parsed {
        c.set_role(
            Role::Library,
            &ctx.display(),
            "package.json could not be read; nothing says it runs",
        );
        return;
    }
    let tooling: Vec<&str> = pkg
        .names
        .iter()
        .map(String::as_str)
        .filter(|d| is_asset_tooling(d))
        .collect();
    let beside = OTHER_STACK_MANIFESTS
        .iter()
        .find(|m| ctx.has(m))
        .copied()
        .or_else(|| ctx.first_with_suffix(".csproj").map(|f| f.name()));
    let only_tooling = pkg
        .deps
        .keys()
        .all(|d| is_asset_tooling(d) || NEUTRAL_DEV_PREFIXES.iter().any(|p| d.starts_with(p)));
    if !tooling.is_empty() && (only_tooling || beside.is_some()) {
        let mut reason = format!(
            "package.json only holds front-end asset tooling: {}",
            tooling.join(", ")
        );
        if let Some(other) = beside {
            reason.push_str(&format!(" (beside {other})"));
        }
        c.set_role(Role::AssetTooling, &file, reason);
        return;
    }
    c.set_role(
        Role::Library,
        &file,
        "no server or front-end framework and no start script in package.json",
    );
}

fn commands(ctx: &DirContext<'_>, c: &mut Candidate, pkg: &Package, pm: &Manager) {
    let install = pm.install();
    c.note(
        "command",
        pm.lockfile.clone().unwrap_or_else(|| pkg.path.clone()),
        match &pm.lockfile {
            Some(lock) => format!("install: {install} (lock file {lock})"),
            None => format!("install: {install} (no lock file)"),
        },
    );
    c.commands.install = Some(install);
    if pkg.script("build").is_some() {
        c.commands.build = Some(pm.run("build"));
    }
    let exec = pm.exec();
    c.commands.test = if pkg.test_script().is_some() {
        Some(pm.lifecycle("test"))
    } else {
        if pkg.script("test").is_some() {
            c.note(
                "command",
                pkg.path.clone(),
                "the test script is npm's \"no test specified\" placeholder",
            );
        }
        match c.test_framework {
            Some(TestFramework::Jest) => Some(format!("{exec} jest")),
            Some(TestFramework::Vitest) => Some(format!("{exec} vitest run")),
            Some(TestFramework::Mocha) => Some(format!("{exec} mocha")),
            Some(TestFramework::Playwright) => Some(format!("{exec} playwright test")),
            _ => None,
        }
    };
    let eslint_config = ESLINT_CONFIGS.iter().find(|f| ctx.has(f));
    c.commands.lint = if pkg.script("lint").is_some() {
        Some(pm.run("lint"))
    } else if pkg.deps.contains_key("eslint") || eslint_config.is_some() {
        Some(format!("{exec} eslint ."))
    } else {
        None
    };
    let start = match c.framework {
        Some(Framework::NestJs) => Some(match (pkg.script("start:prod"), pkg.script("start")) {
            (Some(_), _) => pm.run("start:prod"),
            (None, Some(s)) if !s.contains("nest start") => pm.lifecycle("start"),
            _ => "node dist/main.js".to_string(),
        }),
        _ if pkg.script("start").is_some() => Some(pm.lifecycle("start")),
        Some(Framework::NextJs) => Some(format!("{exec} next start")),
        Some(Framework::Express) => pkg
            .main()
            .filter(|m| ctx.has(m))
            .map(String::from)
            .or_else(|| {
                [
                    "server.js",
                    "app.js",
                    "index.js",
                    "bin/www",
                    "src/server.js",
                    "src/index.js",
                ]
                .into_iter()
                .find(|f| ctx.has(f))
                .map(String::from)
            })
            .map(|f| format!("node {f}")),
        _ => None,
    };
    if let Some(s) = &start {
        c.note("command", ctx.display(), format!("start: {s}"));
    } else if c.framework.is_some_and(|f| !f.is_static_frontend()) {
        c.warn(
            ctx.display(),
            "no start script, and no main or server.js/app.js/index.js to run; no start command",
        );
    }
    c.commands.start = start;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::scan::oracle::{fixture_texts, segments};
    use crate::index::{Content, RawEntry, RepoIndex};
    use proptest::prelude::*;

    /// The regexes the scanners replace, as oracles.
    static PORT_IN_CODE: LazyLock<Regex> = LazyLock::new(|| {
        ascii_regex(concat!(
            r"\blisten\(\s*(\d{2,5})\b",
            r#"|\bPORT\b[^\n;]*?(?:\|\||\?\?)\s*["']?(\d{2,5})\b"#,
            r"|\b(?:const|let|var)\s+(?i:port)\s*(?::\s*\w+\s*)?=\s*(\d{2,5})\b",
        ))
    });
    static TEST_RUNNER: LazyLock<Regex> =
        LazyLock::new(|| ascii_regex(r"\b(vitest|jest|mocha|playwright)\b"));
    static WORKFLOW_NODE: LazyLock<Regex> = LazyLock::new(|| {
        ascii_regex(r#"\bnode(?:-version|_version|js)?:\s*(?:['"]?v?(\d+)|\[([^\]\n]*)\])"#)
    });

    fn port_by_regex(text: &str) -> Option<u16> {
        PORT_IN_CODE.captures_iter(text).find_map(|caps| {
            (1..=3)
                .filter_map(|i| caps.get(i))
                .find_map(|m| m.as_str().parse::<u16>().ok())
        })
    }

    fn runner_by_regex(script: &str) -> Option<TestFramework> {
        let word = TEST_RUNNER.captures(script)?.get(1)?.as_str();
        SCRIPT_TESTS
            .iter()
            .find(|(w, _)| *w == word)
            .map(|(_, tf)| *tf)
    }

    fn workflow_by_regex(text: &str) -> Vec<WorkflowNode<'_>> {
        WORKFLOW_NODE
            .captures_iter(text)
            .filter_map(|caps| match (caps.get(1), caps.get(2)) {
                (Some(one), _) => Some(WorkflowNode::One(one.as_str())),
                (None, Some(list)) => Some(WorkflowNode::List(list.as_str())),
                (None, None) => None,
            })
            .collect()
    }

    const FILLER: &[&str] = &["", " ", "x", "\n", ";", "_", "é", "-", "("];
    const PORT_PARTS: &[&[&str]] = &[
        FILLER,
        &[
            "listen(",
            "listen",
            "PORT",
            "APP_PORT",
            "PORTS",
            "const ",
            "let  ",
            "var\t",
            "constant ",
            "const",
            "x.",
        ],
        &[
            "",
            " ",
            "port",
            "Port",
            "PORT",
            "portNumber",
            "port: number",
            "port :x",
            "port:",
            " || ",
            " ?? ",
            "\n|| ",
            "; ||",
            "|",
            "?",
            "x ||",
        ],
        &["", " ", "=", " = ", "==", "\n"],
        &["", "'", "\""],
        &[
            "3000", "80", "8", "65535", "65536", "99999", "123456", "3000ms", "", "x",
        ],
        FILLER,
    ];
    const RUNNER_PARTS: &[&[&str]] = &[
        FILLER,
        &[
            "vitest",
            "jest",
            "mocha",
            "playwright",
            "jestx",
            "xjest",
            "Jest",
            "",
        ],
        &["", "-cli", "_", "1", " run", ".config"],
    ];
    const WORKFLOW_PARTS: &[&[&str]] = &[
        FILLER,
        &[
            "node",
            "nodejs",
            "node-version",
            "node_version",
            "node-versions",
            "xnode",
            "node js",
            "Node",
        ],
        &[":", "", " :", "::"],
        &["", " ", "\n  ", "\t"],
        &["", "'", "\""],
        &["", "v", "w"],
        &[
            "18",
            "",
            "20.x",
            "[18, 20]",
            "['18', \"v20\"]",
            "[18\n]",
            "[",
            "[]",
            "x",
        ],
        FILLER,
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn the_port_scanner_agrees_with_its_regex(text in segments(PORT_PARTS)) {
            prop_assert_eq!(port_in_code(&text), port_by_regex(&text));
        }

        #[test]
        fn the_runner_scanner_agrees_with_its_regex(text in segments(RUNNER_PARTS)) {
            prop_assert_eq!(runner_in_script(&text), runner_by_regex(&text));
        }

        #[test]
        fn the_workflow_scanner_agrees_with_its_regex(text in segments(WORKFLOW_PARTS)) {
            prop_assert_eq!(workflow_nodes(&text), workflow_by_regex(&text));
        }
    }

    #[test]
    fn the_scanners_agree_with_the_regexes_on_the_fixtures() {
        let fixtures = fixture_texts();
        for (path, text) in &fixtures {
            assert_eq!(port_in_code(text), port_by_regex(text), "{path:?}");
            assert_eq!(runner_in_script(text), runner_by_regex(text), "{path:?}");
            assert_eq!(workflow_nodes(text), workflow_by_regex(text), "{path:?}");
        }
        assert!(
            fixtures.len() > 500,
            "only {} fixture files",
            fixtures.len()
        );
    }

    #[test]
    fn the_scanners_stay_linear_on_long_lines_of_near_misses() {
        // Each would cost on the order of 10^11 steps if a miss re-read the rest of its line.
        let ports = "PORT PORT || x ".repeat(80_000);
        assert_eq!(port_in_code(&ports), None);
        let lists = "node: [18, node: [".repeat(80_000);
        assert!(workflow_nodes(&lists).is_empty());
        let words = "jestx ".repeat(200_000);
        assert_eq!(runner_in_script(&words), None);
    }

    #[test]
    fn ports_in_code_are_found_in_their_usual_spellings() {
        for (code, port) in [
            ("app.listen(3000)", Some(3000)),
            ("server.listen( 8080, () => {})", Some(8080)),
            ("const port = process.env.PORT || 4000;", Some(4000)),
            ("const PORT = process.env.PORT ?? '5000'", Some(5000)),
            ("let port: number = 3001", Some(3001)),
            ("const port = 99999;\napp.listen(8000)", Some(8000)),
            ("const portNumber = 3000", None),
            ("const APP_PORT = 3000", None),
            ("process.env.PORT;\n|| 3000", None),
        ] {
            assert_eq!(port_in_code(code), port, "{code}");
        }
    }

    #[test]
    fn package_manager_field_splits_into_name_and_raw_version() {
        assert_eq!(
            split_package_manager("pnpm@9.1.0"),
            Some(("pnpm", BuildTool::Pnpm, "9.1.0"))
        );
        assert_eq!(
            split_package_manager("yarn@4.1.1+sha224.abc"),
            Some(("yarn", BuildTool::Yarn, "4.1.1+sha224.abc"))
        );
        assert_eq!(split_package_manager("deno@1.0.0"), None);
        assert_eq!(split_package_manager("pnpm"), None);
    }

    #[test]
    fn ports_are_read_from_listen_calls_and_env_fallbacks() {
        assert_eq!(port_in_code("app.listen(3000, () => {})"), Some(3000));
        assert_eq!(
            port_in_code("server.listen(process.env.PORT || 8080);"),
            Some(8080)
        );
        assert_eq!(
            port_in_code("const port = Number(process.env.PORT ?? 3001);"),
            Some(3001)
        );
        assert_eq!(
            port_in_code("await app.listen(parseInt(process.env.PORT ?? '4000', 10));"),
            Some(4000)
        );
        assert_eq!(
            port_in_code("const PORT = 5050;\napp.listen(PORT);"),
            Some(5050)
        );
        assert_eq!(port_in_code("app.listen(port)"), None);
    }

    #[test]
    fn script_ports_need_a_flag_or_env() {
        let p = |s: &str| {
            PORT_IN_SCRIPT
                .captures(s)
                .and_then(|m| m.get(1))
                .map(|m| m.as_str().to_string())
        };
        assert_eq!(p("next start -p 4000").as_deref(), Some("4000"));
        assert_eq!(p("next start --port=4001").as_deref(), Some("4001"));
        assert_eq!(p("PORT=8081 node server.js").as_deref(), Some("8081"));
        assert_eq!(p("node server.js v2"), None);
    }

    #[test]
    fn test_script_names_its_runner() {
        assert_eq!(runner_in_script("vitest run"), Some(TestFramework::Vitest));
        assert_eq!(
            runner_in_script("NODE_ENV=test jest --coverage && playwright test"),
            Some(TestFramework::Jest)
        );
        assert_eq!(runner_in_script("node --test"), None);
    }

    #[test]
    fn config_and_declaration_files_are_not_sources() {
        for n in [
            "vite.config.ts",
            ".eslintrc.js",
            "next-env.d.ts",
            "gulpfile.js",
        ] {
            assert!(is_config_or_declaration(n), "{n}");
        }
        for n in ["server.ts", "config.js", "index.tsx"] {
            assert!(!is_config_or_declaration(n), "{n}");
        }
    }

    #[test]
    fn entry_files_are_wanted_at_the_top_and_in_src_only() {
        let js = JavaScript;
        assert!(js.wants("server.js", file_name("server.js")));
        assert!(js.wants("apps/api/src/main.ts", file_name("apps/api/src/main.ts")));
        assert!(js.wants("bin/www", file_name("bin/www")));
        assert!(js.wants("prisma/schema.prisma", file_name("prisma/schema.prisma")));
        assert!(!js.wants(
            "src/components/Button/index.js",
            file_name("src/components/Button/index.js")
        ));
        assert!(!js.wants(
            "node_modules/express/index.js",
            file_name("node_modules/express/index.js")
        ));
        assert!(!js.wants(
            "web/node_modules/x/package.json",
            file_name("web/node_modules/x/package.json")
        ));
        assert!(!js.wants("dist/index.js", file_name("dist/index.js")));
    }

    #[test]
    fn prisma_provider_is_read_from_the_datasource_block() {
        let schema = "generator client {\n  provider = \"prisma-client-js\"\n}\n\ndatasource db {\n  provider = \"postgresql\"\n  url = env(\"DATABASE_URL\")\n}\n";
        assert_eq!(
            prisma_provider(schema),
            Some(("postgresql", Database::Postgresql))
        );
    }

    fn index(files: &[(&str, &str)]) -> RepoIndex {
        RepoIndex::build(
            files
                .iter()
                .map(|(p, t)| RawEntry::new(*p, t.len() as u64))
                .collect(),
            files
                .iter()
                .map(|(p, t)| (p.to_string(), Content::Text(t.to_string())))
                .collect(),
        )
    }

    #[test]
    fn vendored_node_modules_never_become_services() {
        // A git source keeps node_modules when it is committed; the index marks it vendored.
        let idx = index(&[
            (
                "package.json",
                r#"{"name":"app","dependencies":{"express":"^4.19.2"}}"#,
            ),
            ("server.js", "app.listen(3000)\n"),
            (
                "node_modules/express/package.json",
                r#"{"name":"express","main":"index.js"}"#,
            ),
            ("node_modules/express/index.js", "module.exports = {}\n"),
        ]);
        let profile = crate::detect::analyze(&idx, "t");
        let paths: Vec<&str> = profile.services.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, vec!["."]);
    }

    fn specs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn npm_locks_are_compared_by_the_roots_specs() {
        let lock = r#"{"lockfileVersion":3,"packages":{"":{"dependencies":{"express":"^4.21.1"},"devDependencies":{"jest":"^29.7.0"}}}}"#;
        let ok = specs(&[("express", "^4.21.1"), ("jest", "^29.7.0")]);
        assert_eq!(npm_lock_state(lock, &ok), LockState::Agrees);
        let changed = specs(&[("express", "^5.0.0"), ("jest", "^29.7.0"), ("pino", "^9")]);
        let LockState::Stale(diffs) = npm_lock_state(lock, &changed) else {
            panic!("stale expected");
        };
        assert_eq!(
            diffs,
            [
                "express: package.json asks for ^5.0.0, the lock has ^4.21.1",
                "pino@^9 is not in the lock"
            ]
        );
        // v1 records names only.
        let v1 = r#"{"lockfileVersion":1,"dependencies":{"express":{"version":"4.17.1"}}}"#;
        assert_eq!(
            npm_lock_state(v1, &specs(&[("express", "^4")])),
            LockState::Agrees
        );
        assert_eq!(npm_lock_state("{}", &ok), LockState::Unknown);
    }

    #[test]
    fn yarn_locks_must_hold_every_declared_descriptor() {
        let classic = "# yarn lockfile v1\n\n\n\"@nestjs/core@^10.3.8\", \"@nestjs/core@^10.0.0\":\n  version \"10.3.8\"\n\nexpress@^4.18.2:\n  version \"4.18.2\"\n";
        assert_eq!(
            yarn_lock_state(
                classic,
                &specs(&[("@nestjs/core", "^10.3.8"), ("express", "^4.18.2")])
            ),
            LockState::Agrees
        );
        assert!(matches!(
            yarn_lock_state(classic, &specs(&[("express", "^4.19.0")])),
            LockState::Stale(_)
        ));
        let berry = "__metadata:\n  version: 8\n  cacheKey: 10c0\n\n\"next@npm:14.2.3\":\n  version: 14.2.3\n";
        assert_eq!(
            yarn_lock_state(berry, &specs(&[("next", "14.2.3")])),
            LockState::Agrees
        );
    }

    #[test]
    fn pnpm_locks_of_every_format_give_their_specifiers() {
        let v9 = "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      express:\n        specifier: 4.21.1\n        version: 4.21.1\n";
        let v6 = "lockfileVersion: '6.0'\n\ndependencies:\n  express:\n    specifier: 4.21.1\n    version: 4.21.1\n";
        let v5 = "lockfileVersion: 5.4\n\nspecifiers:\n  express: 4.21.1\n\ndependencies:\n  express: 4.21.1\n";
        let declared = specs(&[("express", "4.21.1")]);
        for lock in [v9, v6, v5] {
            assert_eq!(
                pnpm_lock_state(lock, &declared),
                LockState::Agrees,
                "{lock}"
            );
        }
        assert!(matches!(
            pnpm_lock_state(v9, &specs(&[("express", "4.21.1"), ("pino", "^9")])),
            LockState::Stale(_)
        ));
    }

    #[test]
    fn lock_formats_name_their_tools_major() {
        let major = |name: &str, text: &str| lock_tool_major(name, text).map(|(m, _)| m);
        assert_eq!(
            major("pnpm-lock.yaml", "lockfileVersion: '9.0'\n").as_deref(),
            Some("9")
        );
        assert_eq!(
            major("pnpm-lock.yaml", "lockfileVersion: '6.0'\n").as_deref(),
            Some("8")
        );
        assert_eq!(
            major("pnpm-lock.yaml", "lockfileVersion: 5.4\n").as_deref(),
            Some("7")
        );
        assert_eq!(
            major("yarn.lock", "# yarn lockfile v1\n").as_deref(),
            Some("1")
        );
        assert_eq!(
            major("yarn.lock", "__metadata:\n  version: 6\n  cacheKey: 8\n").as_deref(),
            Some("3")
        );
        assert_eq!(major("pnpm-lock.yaml", "nothing: here\n"), None);
    }

    #[test]
    fn ci_and_dockerfiles_prove_node_versions() {
        let idx = index(&[
            (
                "package.json",
                r#"{"name":"a","engines":{"node":">=18"},"dependencies":{"express":"^4"}}"#,
            ),
            (
                ".github/workflows/ci.yml",
                "jobs:\n  t:\n    strategy:\n      matrix:\n        node-version: [18.x, 20.x, 24.x]\n",
            ),
        ]);
        let ctx = DirContext::new(&idx, "");
        let c = JavaScript.detect(&ctx).expect("candidate");
        let node = c.versions.iter().find(|v| v.name == "node").expect("node");
        // 24 is newer but not supported; 20 is the newest supported one the matrix proves.
        assert_eq!(node.value, "20");
        assert!(node.source.contains("which >=18"), "{node:?}");
        let idx = index(&[
            (
                "package.json",
                r#"{"name":"a","engines":{"node":">=18"},"dependencies":{"express":"^4"}}"#,
            ),
            ("Dockerfile", "FROM node:20-alpine AS build\n"),
        ]);
        let ctx = DirContext::new(&idx, "");
        let c = JavaScript.detect(&ctx).expect("candidate");
        let node = c.versions.iter().find(|v| v.name == "node").expect("node");
        assert_eq!(
            (node.value.as_str(), node.source.contains("Dockerfile")),
            ("20", true)
        );
        // An exact pin stays.
        let idx = index(&[
            (
                "package.json",
                r#"{"name":"a","dependencies":{"express":"^4"}}"#,
            ),
            (".nvmrc", "22.11.0\n"),
            ("Dockerfile", "FROM node:20-alpine\n"),
        ]);
        let ctx = DirContext::new(&idx, "");
        let c = JavaScript.detect(&ctx).expect("candidate");
        let node = c.versions.iter().find(|v| v.name == "node").expect("node");
        assert_eq!(node.value, "22.11.0");
    }

    #[test]
    fn workspaces_object_form_makes_an_aggregator() {
        let idx = index(&[(
            "package.json",
            r#"{"private":true,"workspaces":{"packages":["packages/*"]}}"#,
        )]);
        let ctx = DirContext::new(&idx, "");
        let c = JavaScript.detect(&ctx).expect("candidate");
        assert_eq!(c.role, Role::Aggregator);
        assert!(c.role_reason.contains("packages/*"), "{}", c.role_reason);
    }
}
