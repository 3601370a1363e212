//! Python: pip, poetry, pipenv, uv, pdm; Django, Flask, FastAPI; pytest, unittest.
//!
//! Dependencies are read from `requirements*.txt` (following `-r` includes in the folder),
//! `pyproject.toml` (PEP 621, Poetry, PDM, dependency groups), `Pipfile`, `setup.cfg` and
//! `setup.py`; the framework comes from them only, never from a file that merely mentions a
//! name. The runtime version comes from `.python-version`, `.tool-versions`/`mise.toml`,
//! `runtime.txt`, `Pipfile` `python_version`, then `requires-python`, in that order.

use super::scan;
use super::shared::ascii_regex;
use super::versions::{add_tool_versions, add_version_file};
use super::{lockgraph, Candidate, DirContext, Ecosystem};
use crate::stack::{BuildTool, Database, Framework, Language, Role, TestFramework};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

/// The Python detector.
pub struct Python;

const MANIFESTS: &[&str] = &[
    "requirements.txt",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "Pipfile",
    "manage.py",
];

/// Entry points and config files read for ports, start commands and test setup.
const ENTRY_FILES: &[&str] = &[
    "main.py",
    "app.py",
    "application.py",
    "run.py",
    "server.py",
    "wsgi.py",
    "asgi.py",
    "manage.py",
    "settings.py",
    "gunicorn.conf.py",
    "pytest.ini",
    "tox.ini",
    "conftest.py",
    "config.py",
    "runtime.txt",
    ".python-version",
    "ruff.toml",
    ".ruff.toml",
    ".flake8",
];

/// Where the ASGI/WSGI application object is looked for, in order.
const APP_FILES: &[&str] = &[
    "main.py",
    "app.py",
    "application.py",
    "server.py",
    "run.py",
    "app/main.py",
    "app/__init__.py",
    "src/main.py",
    "src/app.py",
    "wsgi.py",
    "asgi.py",
];

/// Dependency name → database it talks to.
const DATABASE_DEPS: &[(&str, Database)] = &[
    ("psycopg2", Database::Postgresql),
    ("psycopg2-binary", Database::Postgresql),
    ("psycopg", Database::Postgresql),
    ("asyncpg", Database::Postgresql),
    ("pg8000", Database::Postgresql),
    ("mysqlclient", Database::Mysql),
    ("pymysql", Database::Mysql),
    ("mysql-connector-python", Database::Mysql),
    ("aiomysql", Database::Mysql),
    ("redis", Database::Redis),
    ("django-redis", Database::Redis),
    ("aioredis", Database::Redis),
    ("pymongo", Database::Mongodb),
    ("motor", Database::Mongodb),
    ("mongoengine", Database::Mongodb),
    ("beanie", Database::Mongodb),
    ("pymemcache", Database::Memcached),
    ("pylibmc", Database::Memcached),
    ("python-memcached", Database::Memcached),
    ("elasticsearch", Database::Elasticsearch),
    ("pika", Database::Rabbitmq),
    ("aio-pika", Database::Rabbitmq),
    ("kafka-python", Database::Kafka),
    ("confluent-kafka", Database::Kafka),
    ("aiokafka", Database::Kafka),
    ("cassandra-driver", Database::Cassandra),
    ("pymssql", Database::Mssql),
    ("mssql-django", Database::Mssql),
];

/// Framework dependency names, in the order that decides when several are present.
const FRAMEWORK_DEPS: &[(&str, Framework)] = &[
    ("django", Framework::Django),
    ("fastapi", Framework::FastApi),
    ("flask", Framework::Flask),
];

/// The distribution name a requirement starts with, after leading whitespace (PEP 508: ASCII
/// letters, digits, `.`, `_`, `-`, beginning with a letter or digit). A scan, not a regex:
/// it is asked of every requirements file, and a regex would be compiled first.
fn requirement_name(line: &str) -> Option<&str> {
    let text = line.trim_start();
    let end = text
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')))
        .unwrap_or(text.len());
    let name = &text[..end];
    name.as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphanumeric)
        .then_some(name)
}

/// The text between the brackets of the first `install_requires = [...]` of a `setup.py`
/// (a scanner for the regex `(?s)install_requires\s*=\s*\[(.*?)\]`).
fn setup_py_requires(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    for at in scan::occurrences(b, &["install_requires"]) {
        let eq = scan::skip_space(b, at + "install_requires".len());
        if b.get(eq) != Some(&b'=') {
            continue;
        }
        let open = scan::skip_space(b, eq + 1);
        if b.get(open) != Some(&b'[') {
            continue;
        }
        // No `]` after this one means none after a later one either.
        let close = memchr::memchr(b']', &b[open + 1..])?;
        return Some(&text[open + 1..open + 1 + close]);
    }
    None
}

/// The contents of the quoted strings in `text`, in order: from a `"` or `'` to the next
/// quote of either kind, never empty (a scanner for the regex `["']([^"']+)["']`).
fn quoted(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let is_quote = |c: &u8| matches!(c, b'"' | b'\'');
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(open) = b[at..].iter().position(is_quote).map(|n| at + n) {
        let inner = open + 1;
        match b[inner..].iter().position(is_quote) {
            Some(0) => at = inner,
            Some(len) => {
                found.push(&text[inner..inner + len]);
                at = inner + len + 1;
            }
            None => break,
        }
    }
    found
}
static PORT_KWARG: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(r#"(?:\bport\s*=\s*|--port[= ]|\bbind\s*=\s*["'][^"':]*:)(\d{2,5})"#)
});
static APP_VAR: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"(?m)^(\w+)\s*(?::\s*\w+\s*)?=\s*(FastAPI|Flask)\("));
static FACTORY: LazyLock<Regex> = LazyLock::new(|| ascii_regex(r"(?m)^def\s+create_app\s*\("));
static DJANGO_SETTINGS: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)\.settings"#));

/// Normalizes a distribution name (PEP 503): lowercase, runs of `-_.` become `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Dependencies by normalized name → the file that declares them.
type Deps = BTreeMap<String, String>;

/// The dependencies the application needs at run time (normalized names): not the dev,
/// test, docs or optional extras, which may name a framework a library only documents.
type Runtime = BTreeSet<String>;

/// `requirements-<what>.txt` / `requirements/<what>.txt` names that are not the runtime set.
const NON_RUNTIME_REQUIREMENTS: &[&str] = &[
    "dev", "test", "tests", "testing", "doc", "docs", "lint", "ci", "local", "typing", "mypy",
];

fn is_runtime_requirements(path: &str) -> bool {
    let name = crate::index::file_name(path).trim_end_matches(".txt");
    let what = name
        .strip_prefix("requirements")
        .unwrap_or(name)
        .trim_start_matches(['-', '_', '.']);
    !what
        .split(['-', '_', '.'])
        .any(|w| NON_RUNTIME_REQUIREMENTS.contains(&w))
}

impl Ecosystem for Python {
    fn name(&self) -> &'static str {
        "python"
    }

    fn is_manifest(&self, name: &str) -> bool {
        MANIFESTS.contains(&name) || (name.starts_with("requirements") && name.ends_with(".txt"))
    }

    fn wants(&self, path: &str, name: &str) -> bool {
        self.is_manifest(name)
            || ENTRY_FILES.contains(&name)
            || name == "poetry.lock"
            || name == "uv.lock"
            || name == "pdm.lock"
            || name == ".gitlab-ci.yml"
            || (path.starts_with(".github/workflows/")
                && (name.ends_with(".yml") || name.ends_with(".yaml")))
            || path.ends_with("app/__init__.py")
            || name.ends_with(".txt") && path.contains("requirements/")
    }

    fn detect(&self, ctx: &DirContext<'_>) -> Option<Candidate> {
        let mut c = Candidate::new(Language::Python, "python");
        if !MANIFESTS.iter().any(|m| ctx.has(m)) && !ctx.files().any(|f| self.is_manifest(f.name()))
        {
            return None;
        }
        let mut deps = Deps::new();
        let mut runtime = Runtime::new();
        let pyproject = ctx.toml("pyproject.toml", &mut c);
        read_requirements(ctx, &mut deps, &mut runtime);
        if let Some(py) = &pyproject {
            read_pyproject(ctx, py, &mut deps, &mut runtime);
        }
        // A uv workspace member shares the root's dev groups (pytest, ruff are usually there).
        if let Some(root) = workspace_root(ctx) {
            let root_ctx = DirContext::new(ctx.index, &root);
            if let Some(py) = root_ctx.toml("pyproject.toml", &mut c) {
                read_pyproject(&root_ctx, &py, &mut deps, &mut Runtime::new());
            }
        }
        let pipfile = ctx.toml("Pipfile", &mut c);
        if let Some(pf) = &pipfile {
            for section in ["packages", "dev-packages"] {
                if let Some(t) = pf.get(section).and_then(|v| v.as_table()) {
                    for k in t.keys() {
                        deps.entry(normalize(k))
                            .or_insert_with(|| ctx.path("Pipfile"));
                        if section == "packages" {
                            runtime.insert(normalize(k));
                        }
                    }
                }
            }
        }
        read_setup(ctx, &mut deps, &mut runtime);

        build_tool(ctx, &mut c, pyproject.as_ref(), pipfile.is_some());
        versions(ctx, &mut c, pyproject.as_ref(), pipfile.as_ref());

        framework(ctx, &mut c, &deps, &runtime, pyproject.as_ref());
        if c.framework.is_none() && ctx.has("manage.py") {
            if let Some(text) = ctx.text("manage.py") {
                if text.contains("django") {
                    c.set_framework(
                        Framework::Django,
                        &ctx.path("manage.py"),
                        "manage.py runs Django's command line (no manifest lists django)",
                    );
                }
            }
        }
        for (dep, db) in DATABASE_DEPS {
            if let Some(file) = deps.get(*dep) {
                c.add_database(*db, file, format!("`{dep}` is a dependency"));
            }
        }
        if let Some((path, text)) = ctx
            .index
            .files_under(ctx.dir)
            .find(|f| f.name() == "settings.py")
            .and_then(|f| ctx.index.text(&f.path).map(|t| (f.path.clone(), t)))
        {
            for (needle, db) in [
                ("django.db.backends.postgresql", Database::Postgresql),
                ("django.db.backends.mysql", Database::Mysql),
            ] {
                if text.contains(needle) {
                    c.add_database(db, &path, format!("DATABASES uses {needle}"));
                }
            }
        }

        test_framework(ctx, &mut c, &deps, pyproject.as_ref());
        port(ctx, &mut c);
        super::env_example_port(ctx, &mut c);
        commands(ctx, &mut c, &deps);

        let workspace = pyproject.as_ref().and_then(uv_workspace_members);
        match c.framework {
            None if workspace.is_some() => {
                let members = workspace.unwrap_or_default().join(", ");
                c.set_role(
                    Role::Aggregator,
                    &ctx.path("pyproject.toml"),
                    format!("uv workspace root listing members {members}"),
                );
            }
            Some(fw) => {
                let file = c
                    .evidence
                    .iter()
                    .find(|e| e.conclusion == "framework")
                    .map(|e| e.file.clone())
                    .unwrap_or_default();
                c.set_role(Role::Application, &file, format!("{fw} in {file}"));
            }
            None if c.commands.start.is_some() => {
                c.set_role(
                    Role::Application,
                    &ctx.display(),
                    "has an entry point that runs",
                );
            }
            None => c.set_role(
                Role::Library,
                &ctx.display(),
                "no web framework among the dependencies",
            ),
        }
        Some(c)
    }
}

/// The framework from the runtime dependencies, else reached through the lock file from them;
/// a framework only among dev/docs/test/optional dependencies is noted, never concluded.
fn framework(
    ctx: &DirContext<'_>,
    c: &mut Candidate,
    deps: &Deps,
    runtime: &Runtime,
    py: Option<&toml::Table>,
) {
    for (dep, fw) in FRAMEWORK_DEPS {
        if runtime.contains(*dep) {
            if let Some(file) = deps.get(*dep) {
                c.set_framework(*fw, file, format!("`{dep}` is a dependency"));
            }
        }
    }
    if c.framework.is_some() {
        return;
    }
    let wanted: Vec<&str> = FRAMEWORK_DEPS.iter().map(|(d, _)| *d).collect();
    let own = py
        .and_then(|p| p.get("project"))
        .and_then(|p| p.get("name"))
        .and_then(|v| v.as_str())
        .map(normalize);
    for lock in ["uv.lock", "poetry.lock", "pdm.lock"] {
        let Some((path, text)) = lock_up(ctx, lock) else {
            continue;
        };
        let graph = lockgraph::python_lock(text, normalize);
        // uv records the project itself with its dependencies: start there when it is in.
        let roots = own
            .iter()
            .filter(|n| graph.packages.contains_key(n.as_str()))
            .chain(runtime.iter())
            .map(String::as_str);
        if let Some(found) = graph.reach(roots, &wanted) {
            if let Some((_, fw)) = FRAMEWORK_DEPS.iter().find(|(d, _)| *d == found.name) {
                c.set_framework(*fw, &path, found.describe(lock));
                return;
            }
        }
    }
    if let Some((dep, file)) = FRAMEWORK_DEPS
        .iter()
        .find_map(|(d, _)| deps.get(*d).map(|f| (*d, f)))
    {
        c.note(
            "framework",
            file,
            format!(
                "`{dep}` is only a development, test, docs or optional dependency: not the application's framework"
            ),
        );
    }
}

/// A lock file in this folder, or at the root of the workspace this folder is a member of.
fn lock_up<'a>(ctx: &DirContext<'a>, lock: &str) -> Option<(String, &'a str)> {
    if let Some(text) = ctx.text(lock) {
        return Some((ctx.path(lock), text));
    }
    let root = workspace_root(ctx)?;
    let path = crate::index::join(&root, lock);
    ctx.index.text(&path).map(|t| (path, t))
}

/// The folder of the uv workspace (`[tool.uv.workspace]`) this folder is a member of, if any.
fn workspace_root(ctx: &DirContext<'_>) -> Option<String> {
    let mut dir = ctx.dir;
    while !dir.is_empty() {
        dir = crate::index::parent_dir(dir);
        let path = crate::index::join(dir, "pyproject.toml");
        let Some(text) = ctx.index.text(&path) else {
            continue;
        };
        let Ok(py) = text.parse::<toml::Table>() else {
            continue;
        };
        if let Some(members) = uv_workspace_members(&py) {
            let rel = if dir.is_empty() {
                ctx.dir.to_string()
            } else {
                ctx.dir[dir.len() + 1..].to_string()
            };
            if members.iter().any(|m| glob_match(m, &rel)) {
                return Some(dir.to_string());
            }
        }
    }
    None
}

/// `[tool.uv.workspace] members` (globs relative to the root), when the file declares one.
fn uv_workspace_members(py: &toml::Table) -> Option<Vec<String>> {
    let ws = py.get("tool")?.get("uv")?.get("workspace")?;
    Some(
        ws.get("members")
            .and_then(|m| m.as_array())
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str())
            .map(|m| m.trim_start_matches("./").trim_end_matches('/').to_string())
            .collect(),
    )
}

/// A member glob (`packages/*`, `apps/api`) against a relative folder, `*` within one segment.
fn glob_match(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let parts: Vec<&str> = path.split('/').collect();
    if pat.last() == Some(&"**") {
        return parts.len() >= pat.len() - 1
            && pat[..pat.len() - 1]
                .iter()
                .zip(&parts)
                .all(|(p, s)| segment_match(p, s));
    }
    pat.len() == parts.len() && pat.iter().zip(&parts).all(|(p, s)| segment_match(p, s))
}

fn segment_match(pat: &str, s: &str) -> bool {
    match pat.split_once('*') {
        None => pat == s,
        Some((pre, post)) => {
            s.len() >= pre.len() + post.len() && s.starts_with(pre) && s.ends_with(post)
        }
    }
}

fn read_requirements(ctx: &DirContext<'_>, deps: &mut Deps, runtime: &mut Runtime) {
    let mut files: Vec<String> = ctx
        .files()
        .filter(|f| f.name().starts_with("requirements") && f.name().ends_with(".txt"))
        .map(|f| f.path.clone())
        .collect();
    files.extend(
        ctx.index
            .files_in(&ctx.path("requirements"))
            .filter(|f| f.name().ends_with(".txt"))
            .map(|f| f.path.clone()),
    );
    files.sort();
    for path in files {
        let Some(text) = ctx.index.text(&path) else {
            continue;
        };
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() || line.starts_with('-') {
                continue;
            }
            if let Some(name) = requirement_name(line) {
                deps.entry(normalize(name)).or_insert_with(|| path.clone());
                if is_runtime_requirements(&path) {
                    runtime.insert(normalize(name));
                }
            }
        }
    }
}

fn dep_names_from_pep508(list: Option<&toml::Value>) -> Vec<String> {
    list.and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .filter_map(|s| requirement_name(s).map(normalize))
        .collect()
}

fn read_pyproject(ctx: &DirContext<'_>, py: &toml::Table, deps: &mut Deps, runtime: &mut Runtime) {
    let file = ctx.path("pyproject.toml");
    let project = py.get("project").and_then(|v| v.as_table());
    runtime.extend(dep_names_from_pep508(
        project.and_then(|p| p.get("dependencies")),
    ));
    if let Some(t) = py
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("dependencies"))
        .and_then(|v| v.as_table())
    {
        runtime.extend(
            t.keys()
                .filter(|k| k.as_str() != "python")
                .map(|k| normalize(k)),
        );
    }
    let mut add = |name: String| {
        deps.entry(name).or_insert_with(|| file.clone());
    };
    if let Some(project) = project {
        dep_names_from_pep508(project.get("dependencies"))
            .into_iter()
            .for_each(&mut add);
        if let Some(opt) = project
            .get("optional-dependencies")
            .and_then(|v| v.as_table())
        {
            for group in opt.values() {
                dep_names_from_pep508(Some(group))
                    .into_iter()
                    .for_each(&mut add);
            }
        }
    }
    if let Some(groups) = py.get("dependency-groups").and_then(|v| v.as_table()) {
        for group in groups.values() {
            dep_names_from_pep508(Some(group))
                .into_iter()
                .for_each(&mut add);
        }
    }
    let tool = py.get("tool").and_then(|v| v.as_table());
    if let Some(poetry) = tool
        .and_then(|t| t.get("poetry"))
        .and_then(|v| v.as_table())
    {
        let mut tables: Vec<&toml::Table> = Vec::new();
        for key in ["dependencies", "dev-dependencies"] {
            if let Some(t) = poetry.get(key).and_then(|v| v.as_table()) {
                tables.push(t);
            }
        }
        if let Some(groups) = poetry.get("group").and_then(|v| v.as_table()) {
            for g in groups.values() {
                if let Some(t) = g.get("dependencies").and_then(|v| v.as_table()) {
                    tables.push(t);
                }
            }
        }
        for t in tables {
            for k in t.keys().filter(|k| k.as_str() != "python") {
                add(normalize(k));
            }
        }
    }
    if let Some(pdm) = tool.and_then(|t| t.get("pdm")).and_then(|v| v.as_table()) {
        if let Some(dev) = pdm.get("dev-dependencies").and_then(|v| v.as_table()) {
            for group in dev.values() {
                dep_names_from_pep508(Some(group))
                    .into_iter()
                    .for_each(&mut add);
            }
        }
    }
}

fn read_setup(ctx: &DirContext<'_>, deps: &mut Deps, runtime: &mut Runtime) {
    if let Some(text) = ctx.text("setup.py") {
        if let Some(block) = setup_py_requires(text) {
            for q in quoted(block) {
                if let Some(name) = requirement_name(q) {
                    runtime.insert(normalize(name));
                    deps.entry(normalize(name))
                        .or_insert_with(|| ctx.path("setup.py"));
                }
            }
        }
    }
    if let Some(text) = ctx.text("setup.cfg") {
        let mut inside = false;
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with("install_requires") {
                inside = true;
                continue;
            }
            if inside {
                if !line.starts_with([' ', '\t']) || trimmed.is_empty() {
                    if !trimmed.is_empty() {
                        inside = false;
                    }
                    continue;
                }
                if let Some(name) = requirement_name(trimmed) {
                    runtime.insert(normalize(name));
                    deps.entry(normalize(name))
                        .or_insert_with(|| ctx.path("setup.cfg"));
                }
            }
        }
    }
}

fn build_tool(ctx: &DirContext<'_>, c: &mut Candidate, py: Option<&toml::Table>, pipfile: bool) {
    let tool = py.and_then(|p| p.get("tool")).and_then(|v| v.as_table());
    let has_tool = |name: &str| tool.is_some_and(|t| t.contains_key(name));
    let build_backend = py
        .and_then(|p| p.get("build-system"))
        .and_then(|b| b.get("build-backend"))
        .and_then(|v| v.as_str())
        .unwrap_or("");
    if ctx.has("uv.lock") {
        c.set_build_tool(BuildTool::Uv, &ctx.path("uv.lock"), "uv.lock is present");
    } else if let Some(root) = workspace_root(ctx) {
        c.set_build_tool(
            BuildTool::Uv,
            &crate::index::join(&root, "pyproject.toml"),
            format!(
                "a member of the uv workspace at {} (one uv.lock for all members)",
                super::context::display_dir(&root)
            ),
        );
    } else if ctx.has("poetry.lock") {
        c.set_build_tool(
            BuildTool::Poetry,
            &ctx.path("poetry.lock"),
            "poetry.lock is present",
        );
    } else if ctx.has("pdm.lock") {
        c.set_build_tool(BuildTool::Pdm, &ctx.path("pdm.lock"), "pdm.lock is present");
    } else if pipfile {
        c.set_build_tool(
            BuildTool::Pipenv,
            &ctx.path("Pipfile"),
            "Pipfile is present",
        );
    } else if has_tool("poetry") || build_backend.starts_with("poetry") {
        c.set_build_tool(
            BuildTool::Poetry,
            &ctx.path("pyproject.toml"),
            "[tool.poetry] in pyproject.toml",
        );
    } else if has_tool("uv") {
        c.set_build_tool(
            BuildTool::Uv,
            &ctx.path("pyproject.toml"),
            "[tool.uv] in pyproject.toml",
        );
    } else if has_tool("pdm") || build_backend.starts_with("pdm") {
        c.set_build_tool(
            BuildTool::Pdm,
            &ctx.path("pyproject.toml"),
            "[tool.pdm] in pyproject.toml",
        );
    } else if let Some(f) = ctx
        .files()
        .find(|f| f.name().starts_with("requirements") && f.name().ends_with(".txt"))
    {
        c.set_build_tool(
            BuildTool::Pip,
            &f.path,
            format!("{} lists the dependencies", f.name()),
        );
    } else if py.is_some() {
        c.set_build_tool(
            BuildTool::Pip,
            &ctx.path("pyproject.toml"),
            "PEP 621 pyproject.toml, installed with pip",
        );
    } else if ctx.has("setup.py") || ctx.has("setup.cfg") {
        c.set_build_tool(
            BuildTool::Pip,
            &ctx.path("setup.py"),
            "setuptools project, installed with pip",
        );
    }
    if let Some((path, text)) = ctx.find_up(".tool-versions") {
        for line in text.lines() {
            let mut p = line.split_whitespace();
            if let (Some(t @ ("poetry" | "uv" | "pdm" | "pipenv")), Some(v)) = (p.next(), p.next())
            {
                c.add_version(t, v, path.clone());
            }
        }
    }
}

fn versions(
    ctx: &DirContext<'_>,
    c: &mut Candidate,
    py: Option<&toml::Table>,
    pipfile: Option<&toml::Table>,
) {
    add_version_file(ctx, c, "python", ".python-version");
    add_tool_versions(ctx, c, "python", &["python"]);
    if let Some((path, text)) = ctx.find_up("runtime.txt") {
        if let Some(line) = super::versions::first_line(text) {
            let v = line.strip_prefix("python-").unwrap_or(line);
            c.add_version("python", v, path);
        }
    }
    proven_versions(ctx, c);
    if let Some(req) = pipfile
        .and_then(|p| p.get("requires"))
        .and_then(|v| v.as_table())
    {
        for key in ["python_full_version", "python_version"] {
            if let Some(v) = req.get(key).and_then(|v| v.as_str()) {
                c.add_version(
                    "python",
                    v,
                    format!("{} ([requires] {key})", ctx.path("Pipfile")),
                );
            }
        }
    }
    if let Some(py) = py {
        if let Some(v) = py
            .get("project")
            .and_then(|p| p.get("requires-python"))
            .and_then(|v| v.as_str())
        {
            c.add_version(
                "python",
                v,
                format!("{} (project.requires-python)", ctx.path("pyproject.toml")),
            );
        }
        if let Some(v) = py
            .get("tool")
            .and_then(|t| t.get("poetry"))
            .and_then(|p| p.get("dependencies"))
            .and_then(|d| d.get("python"))
            .and_then(|v| v.as_str())
        {
            c.add_version(
                "python",
                v,
                format!(
                    "{} (tool.poetry.dependencies.python)",
                    ctx.path("pyproject.toml")
                ),
            );
        }
    }
}

static FROM_PYTHON: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"(?mi)^\s*(?:FROM|image:)\s+\S*\bpython:(\d+\.\d+(?:\.\d+)?)"));

/// The single versions a workflow's `python-version:` keys name, in order: a line holding only
/// the key and one `X.Y` or `X.Y.Z` (perhaps quoted); a matrix or an expression is not one.
/// A scanner for the regex
/// `(?m)^\s*python-version:\s*["']?(\d+\.\d+(?:\.\d+)?)["']?\s*$`.
fn setup_python_versions(text: &str) -> Vec<&str> {
    const KEY: &str = "python-version:";
    let b = text.as_bytes();
    scan::occurrences(b, &[KEY])
        .filter_map(|at| {
            if !scan::line_starts_blank(b, at) {
                return None;
            }
            let version = scan::skip_quote(b, scan::skip_space(b, at + KEY.len()));
            let end = dotted_number(b, version)?;
            let rest = scan::skip_quote(b, end);
            // Nothing but blanks to the end of the line.
            let line_end = b[rest..]
                .iter()
                .position(|c| *c == b'\n')
                .map_or(b.len(), |n| rest + n);
            b[rest..line_end]
                .iter()
                .all(|c| scan::is_space(*c))
                .then(|| &text[version..end])
        })
        .collect()
}

/// `\d+\.\d+(?:\.\d+)?` at `at`, as long as it goes: where it ends.
fn dotted_number(b: &[u8], at: usize) -> Option<usize> {
    let run = |from: usize| scan::digit_run(b, from);
    let major = run(at);
    if major == 0 || b.get(at + major) != Some(&b'.') {
        return None;
    }
    let minor = run(at + major + 1);
    if minor == 0 {
        return None;
    }
    let end = at + major + 1 + minor;
    if b.get(end) == Some(&b'.') {
        let patch = run(end + 1);
        if patch > 0 {
            return Some(end + 1 + patch);
        }
    }
    Some(end)
}

/// Versions the repository's other files prove it runs on: its own Dockerfile's `FROM
/// python:X.Y`, its GitLab CI `image: python:X.Y`, a GitHub workflow's single
/// `python-version`. They come before `requires-python`/Poetry ranges, which only bound the
/// version: a range resolved to its newest member can lack wheels the project's lock has.
fn proven_versions(ctx: &DirContext<'_>, c: &mut Candidate) {
    for f in ["Dockerfile", ".gitlab-ci.yml"] {
        if let Some(v) = ctx
            .text(f)
            .and_then(|t| FROM_PYTHON.captures(t))
            .map(|m| m[1].to_string())
        {
            c.add_version("python", &v, format!("{} (python:{v} image)", ctx.path(f)));
        }
    }
    let mut workflows: Vec<&str> = ctx
        .index
        .files_in(".github/workflows")
        .map(|f| f.path.as_str())
        .collect();
    workflows.sort();
    for path in workflows {
        let Some(text) = ctx.index.text(path) else {
            continue;
        };
        let found = setup_python_versions(text);
        // One version proves it; several (a matrix) only say what is supported.
        if let [v] = found.as_slice() {
            c.add_version("python", v, format!("{path} (setup-python python-version)"));
        }
    }
}

/// True when the folder holds Python tests: `test_*.py`, `*_test.py`, `tests.py`, `conftest.py`.
fn has_python_tests(ctx: &DirContext<'_>) -> bool {
    ctx.files_under().any(|f| {
        let n = f.name();
        f.excluded.is_none()
            && n.ends_with(".py")
            && (n.starts_with("test") || n.ends_with("_test.py") || n == "conftest.py")
    })
}

fn test_framework(ctx: &DirContext<'_>, c: &mut Candidate, deps: &Deps, py: Option<&toml::Table>) {
    if !has_python_tests(ctx) {
        if let Some(file) = deps.get("pytest") {
            c.note(
                "test_framework",
                file,
                "`pytest` is a dependency but the folder holds no test files: no test framework",
            );
        }
        return;
    }
    if let Some(file) = deps.get("pytest") {
        c.set_test_framework(TestFramework::Pytest, file, "`pytest` is a dependency");
    }
    for f in ["pytest.ini", "conftest.py"] {
        if ctx.has(f) {
            c.set_test_framework(
                TestFramework::Pytest,
                &ctx.path(f),
                format!("{f} is present"),
            );
        }
    }
    if py
        .and_then(|p| p.get("tool"))
        .and_then(|t| t.get("pytest"))
        .is_some()
    {
        c.set_test_framework(
            TestFramework::Pytest,
            &ctx.path("pyproject.toml"),
            "[tool.pytest] in pyproject.toml",
        );
    }
    if c.test_framework.is_none() {
        let has_tests = ctx.files_under().any(|f| {
            f.excluded.is_none() && f.name().starts_with("test") && f.name().ends_with(".py")
        });
        if has_tests || c.framework == Some(Framework::Django) {
            let why = if c.framework == Some(Framework::Django) {
                "Django's test runner is built on unittest"
            } else {
                "test_*.py files and no pytest dependency"
            };
            c.set_test_framework(TestFramework::Unittest, &ctx.display(), why);
        }
    }
}

fn port(ctx: &DirContext<'_>, c: &mut Candidate) {
    for f in [
        "gunicorn.conf.py",
        "main.py",
        "app.py",
        "server.py",
        "asgi.py",
        "wsgi.py",
        "app/main.py",
        "src/main.py",
    ] {
        if let Some(text) = ctx.text(f) {
            if let Some(p) = PORT_KWARG
                .captures(text)
                .and_then(|m| m.get(1))
                .and_then(|m| m.as_str().parse::<u16>().ok())
            {
                c.set_port(p, &ctx.path(f), format!("{f} binds port {p}"));
                return;
            }
        }
    }
}

/// The module path (`app.main`) and variable (`app`) of the ASGI/WSGI application object.
fn app_object(ctx: &DirContext<'_>, kind: &str) -> Option<(String, String, String)> {
    for f in APP_FILES {
        let Some(text) = ctx.text(f) else { continue };
        if let Some(caps) = APP_VAR.captures_iter(text).find(|c| &c[2] == kind) {
            let module = f
                .trim_end_matches(".py")
                .trim_end_matches("/__init__")
                .replace('/', ".");
            return Some((module, caps[1].to_string(), ctx.path(f)));
        }
        if kind == "Flask" && FACTORY.is_match(text) {
            let module = f
                .trim_end_matches(".py")
                .trim_end_matches("/__init__")
                .replace('/', ".");
            return Some((module, "create_app()".to_string(), ctx.path(f)));
        }
    }
    None
}

fn commands(ctx: &DirContext<'_>, c: &mut Candidate, deps: &Deps) {
    let run = match c.build_tool {
        Some(BuildTool::Poetry) => "poetry run ",
        Some(BuildTool::Uv) => "uv run ",
        Some(BuildTool::Pipenv) => "pipenv run ",
        Some(BuildTool::Pdm) => "pdm run ",
        _ => "",
    };
    let requirements = ctx
        .files()
        .map(|f| f.name())
        .find(|n| *n == "requirements.txt")
        .or_else(|| {
            ctx.files()
                .map(|f| f.name())
                .find(|n| n.starts_with("requirements") && n.ends_with(".txt"))
        });
    c.commands.install = match c.build_tool {
        Some(BuildTool::Poetry) => Some("poetry install --no-interaction --no-root".into()),
        Some(BuildTool::Uv) => Some(
            if ctx.has("uv.lock") || workspace_root(ctx).is_some() {
                "uv sync --frozen"
            } else {
                "uv sync"
            }
            .into(),
        ),
        Some(BuildTool::Pipenv) => Some("pipenv install --deploy --dev".into()),
        Some(BuildTool::Pdm) => Some("pdm install --frozen-lockfile".into()),
        Some(BuildTool::Pip) => Some(match requirements {
            Some(r) => format!("pip install -r {r}"),
            None => "pip install .".to_string(),
        }),
        _ => None,
    };
    c.commands.build = Some(format!("{run}python -m compileall -q ."));
    c.commands.test = match c.test_framework {
        Some(TestFramework::Pytest) => Some(format!("{run}pytest")),
        Some(TestFramework::Unittest) if ctx.has("manage.py") => {
            Some(format!("{run}python manage.py test"))
        }
        // Discovery only enters packages; a plain `tests/` folder must be the start directory.
        Some(TestFramework::Unittest)
            if ctx.index.files_in(&ctx.path("tests")).next().is_some()
                && !ctx.has("tests/__init__.py") =>
        {
            Some(format!("{run}python -m unittest discover -s tests"))
        }
        Some(TestFramework::Unittest) => Some(format!("{run}python -m unittest discover")),
        _ => None,
    };
    c.commands.lint = Some(
        if deps.contains_key("flake8") && !deps.contains_key("ruff") {
            format!("{run}flake8")
        } else {
            "ruff check .".to_string()
        },
    );
    let port = c.port.as_ref().map(|(p, _)| *p);
    let gunicorn = deps.contains_key("gunicorn");
    let uvicorn = deps.contains_key("uvicorn");
    let start = match c.framework {
        Some(Framework::Django) => {
            let project = ctx
                .text("manage.py")
                .and_then(|t| DJANGO_SETTINGS.captures(t))
                .map(|m| m[1].to_string());
            let port = port.unwrap_or(8000);
            match (project, gunicorn) {
                (Some(p), true) => Some(format!("{run}gunicorn {p}.wsgi:application --bind 0.0.0.0:{port}")),
                _ if ctx.has("manage.py") => Some(format!("{run}python manage.py runserver 0.0.0.0:{port}")),
                _ => None,
            }
        }
        Some(Framework::FastApi) => app_object(ctx, "FastAPI").map(|(m, var, _)| {
            let port = port.unwrap_or(8000);
            if uvicorn || !gunicorn {
                format!("{run}uvicorn {m}:{var} --host 0.0.0.0 --port {port}")
            } else {
                format!("{run}gunicorn {m}:{var} -k uvicorn.workers.UvicornWorker --bind 0.0.0.0:{port}")
            }
        }),
        Some(Framework::Flask) => app_object(ctx, "Flask").map(|(m, var, _)| {
            let port = port.unwrap_or(5000);
            // A factory call needs shell quoting; a plain `module:variable` does not.
            let target = if var.contains('(') { format!("'{m}:{var}'") } else { format!("{m}:{var}") };
            if gunicorn {
                format!("{run}gunicorn {target} --bind 0.0.0.0:{port}")
            } else {
                format!("{run}flask --app {target} run --host 0.0.0.0 --port {port}")
            }
        }),
        _ => ["main.py", "app.py", "server.py"]
            .into_iter()
            .find(|f| ctx.text(f).is_some_and(|t| t.contains("__main__")))
            .map(|f| format!("{run}python {f}")),
    };
    if let Some(s) = &start {
        c.note("command", ctx.display(), format!("start: {s}"));
    } else if c.framework.is_some() {
        c.warn(
            ctx.display(),
            format!(
                "the application object was not found in {}; no start command",
                APP_FILES.join(", ")
            ),
        );
    }
    c.commands.start = start;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::scan::oracle::{fixture_texts, segments};
    use proptest::prelude::*;

    /// The regex `setup_python_versions` replaces, as its oracle.
    static SETUP_PYTHON: LazyLock<Regex> = LazyLock::new(|| {
        ascii_regex(r#"(?m)^\s*python-version:\s*["']?(\d+\.\d+(?:\.\d+)?)["']?\s*$"#)
    });

    fn setup_python_by_regex(text: &str) -> Vec<&str> {
        SETUP_PYTHON
            .captures_iter(text)
            .filter_map(|m| m.get(1).map(|v| v.as_str()))
            .collect()
    }

    static SETUP_PY_DEPS: LazyLock<Regex> =
        LazyLock::new(|| ascii_regex(r#"(?s)install_requires\s*=\s*\[(.*?)\]"#));
    static QUOTED: LazyLock<Regex> = LazyLock::new(|| ascii_regex(r#"["']([^"']+)["']"#));

    fn setup_py_by_regex(text: &str) -> (Option<&str>, Vec<&str>) {
        let block = SETUP_PY_DEPS
            .captures(text)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str());
        let names = QUOTED
            .captures_iter(text)
            .filter_map(|c| c.get(1).map(|m| m.as_str()))
            .collect();
        (block, names)
    }

    const SETUP_PY_PARTS: &[&[&str]] = &[
        &["", "\n", " ", "x", "(", "é"],
        &[
            "install_requires",
            "install_require",
            "xinstall_requires",
            "",
        ],
        &["", " ", "\n  "],
        &["=", "==", "", ":"],
        &["", " ", "\n\t"],
        &["[", "", "("],
        &[
            "",
            "'flask>=2'",
            "\"a\", 'b'",
            "''",
            "'x\"",
            "'é'",
            "'",
            "\n  \"req\",\n",
        ],
        &["]", "", ")", "]]"],
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn the_setup_py_scanners_agree_with_their_regexes(
            text in segments(SETUP_PY_PARTS)) {
            prop_assert_eq!((setup_py_requires(&text), quoted(&text)), setup_py_by_regex(&text));
        }
    }

    const SETUP_PYTHON_PARTS: &[&[&str]] = &[
        &["", "\n", "\n\n", " ", "x", "- ", "\r\n"],
        &["", "  ", "\t", "\n  "],
        &[
            "python-version:",
            "python-version",
            "python-versions:",
            "xpython-version:",
        ],
        &["", " ", "\n      ", "\t"],
        &["", "'", "\""],
        &[
            "3.11",
            "3.11.4",
            "3",
            "3.",
            "3.x",
            "3.11.",
            "3.11.x",
            "311",
            "[3.10, 3.11]",
            "${{ matrix.v }}",
        ],
        &["", "'", "\""],
        &["", " ", "\r", " # pinned", "x", "\n", "\n  "],
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn the_setup_python_scanner_agrees_with_its_regex(
            text in segments(SETUP_PYTHON_PARTS)) {
            prop_assert_eq!(setup_python_versions(&text), setup_python_by_regex(&text));
        }
    }

    #[test]
    fn the_scanners_agree_with_their_regexes_on_the_fixtures() {
        let mut found = 0;
        for (path, text) in fixture_texts() {
            let mine = setup_python_versions(&text);
            assert_eq!(mine, setup_python_by_regex(&text), "{path:?}");
            assert_eq!(
                (setup_py_requires(&text), quoted(&text)),
                setup_py_by_regex(&text),
                "{path:?}"
            );
            found += mine.len();
        }
        assert!(found > 0, "no fixture names a python-version");
    }

    #[test]
    fn the_scanners_stay_linear_on_long_lines_of_near_misses() {
        let keys = " python-version: 3.11 x".repeat(80_000);
        assert!(setup_python_versions(&keys).is_empty());
        let requires = "install_requires = [".repeat(80_000);
        assert_eq!(setup_py_requires(&requires), None);
        let quotes = "''".repeat(400_000);
        assert!(quoted(&quotes).is_empty());
    }

    #[test]
    fn requirement_names_are_read_like_pep_508() {
        use super::requirement_name as name;
        assert_eq!(name("flask==3.0.3"), Some("flask"));
        assert_eq!(name("  Django>=4 ; python_version>'3'"), Some("Django"));
        assert_eq!(name("zope.interface[test]"), Some("zope.interface"));
        assert_eq!(name("my_pkg-2"), Some("my_pkg-2"));
        assert_eq!(name("\u{a0}requests"), Some("requests"));
        assert_eq!(name("-r base.txt"), None);
        assert_eq!(name("# comment"), None);
        assert_eq!(name(""), None);
        assert_eq!(name("é-pkg"), None);
    }

    #[test]
    fn distribution_names_are_normalized() {
        assert_eq!(normalize("Django_REST.framework"), "django-rest-framework");
        assert_eq!(normalize("psycopg2-binary"), "psycopg2-binary");
    }
}
