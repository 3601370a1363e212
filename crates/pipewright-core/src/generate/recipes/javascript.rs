//! JavaScript and TypeScript: npm, yarn (classic and Berry), pnpm and bun. Servers (Express,
//! Nest, Next, SvelteKit with the node adapter, anything with a start script) run on a slim
//! node image with production dependencies only; static front-ends (React, Vue, Angular,
//! Svelte) are built once and served by an unprivileged nginx. Workspace members are built
//! from the workspace root, where the lock file lives.

use super::{
    add_app_user, dockerfile_base, dockerignore, finish_runtime, lock_cache, tool_version, Lint,
    Recipe,
};
use crate::detect::javascript::{lock_state, LockState};
use crate::dockerfile::{Instruction, Stage};
use crate::generate::ServiceContext;
use crate::index::{join, parent_dir};
use crate::stack::{BuildTool, Framework, Role, TestFramework};
use serde_json::Value;

/// Files where a Node application reads its settings (`process.env.NAME`): the entry files
/// the analysis reads (`app.js`, `server.ts`, `index.js`, `main.ts` at a folder's top or in
/// `src/`), and configuration modules.
pub(super) fn is_settings_file(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    ["js", "mjs", "cjs", "ts", "mts", "cts"].contains(&ext)
        && [
            "app", "server", "index", "main", "config", "db", "database", "knexfile",
        ]
        .contains(&stem)
}

/// `process.env.NAME` and `process.env["NAME"]`.
pub(super) static ENV_READ: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r#"process\.env(?:\.([A-Z][A-Z0-9_]*)|\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\])"#)
        .unwrap_or_else(|e| panic!("{e}"))
});

const BUN: &str = "1.1";
/// What `npm init` writes as the test script: there are no tests.
const NPM_PLACEHOLDER_TEST: &str = "no test specified";
const NGINX: (&str, &str) = ("nginx-unprivileged", "1.27-alpine");
/// The port the unprivileged nginx image listens on.
const STATIC_PORT: u16 = 8080;

/// Files the package managers need before `install`, besides package.json.
const INSTALL_FILES: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    ".yarnrc.yml",
    ".yarnrc",
    "pnpm-lock.yaml",
    "pnpm-workspace.yaml",
    "bun.lock",
    "bun.lockb",
    ".npmrc",
];

/// Lock files, for the cache key.
const LOCKS: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
    "bun.lockb",
];

/// Binaries that live in `node_modules/.bin` and are started directly in the image.
const LOCAL_BINS: &[&str] = &[
    "next",
    "nest",
    "nuxt",
    "vite",
    "tsx",
    "ts-node",
    "remix-serve",
    "astro",
    "react-router-serve",
];

/// How a start command names a package script (`npm run start:prod`, `yarn start`): the
/// image runs what the script runs, so the process is not a package manager.
const SCRIPT_RUNNERS: &[&str] = &[
    "npm run ",
    "yarn run ",
    "pnpm run ",
    "bun run ",
    "npm ",
    "yarn ",
    "pnpm ",
];

fn package_json(ctx: &ServiceContext<'_>) -> Value {
    ctx.text("package.json")
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

fn has_dep(pkg: &Value, name: &str) -> bool {
    [
        "dependencies",
        "devDependencies",
        "peerDependencies",
        "optionalDependencies",
    ]
    .iter()
    .any(|k| pkg[k].get(name).is_some())
}

fn script<'a>(pkg: &'a Value, name: &str) -> Option<&'a str> {
    pkg["scripts"][name]
        .as_str()
        .filter(|s| !s.trim().is_empty())
}

/// The workspace root above a member, if the service is one: the nearest folder above with
/// `pnpm-workspace.yaml` or a package.json declaring `workspaces`.
fn workspace_root(ctx: &ServiceContext<'_>) -> Option<String> {
    if ctx.dir.is_empty() {
        return None;
    }
    let mut dir = parent_dir(ctx.dir);
    loop {
        if ctx.index.exists(&join(dir, "pnpm-workspace.yaml")) {
            return Some(dir.to_string());
        }
        let declares = ctx
            .index
            .text(&join(dir, "package.json"))
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .is_some_and(|v| v.get("workspaces").is_some());
        if declares {
            return Some(dir.to_string());
        }
        if dir.is_empty() {
            return None;
        }
        dir = parent_dir(dir);
    }
}

/// Root lifecycle scripts a package manager runs on install, in the order it runs them.
const INSTALL_LIFECYCLE: &[&str] = &["preinstall", "install", "postinstall", "prepare"];

/// Commands that install git hooks: without a git checkout (an image build) they have
/// nothing to do, and some fail.
const GIT_HOOK_INSTALLERS: &[&str] = &["husky", "simple-git-hooks", "lefthook"];

/// pnpm's major when nothing in the repository names one.
const PNPM_DEFAULT: &str = "9";

/// How each manager installs without running lifecycle scripts, and then runs them once the
/// sources are there: (tool, flag added to the install, command that runs the dependencies'
/// and the root's install scripts, whether it also runs the root's `prepare`).
const DEFERRED_SCRIPTS: &[(BuildTool, &str, &str, bool)] = &[
    (BuildTool::Npm, "--ignore-scripts", "npm rebuild", false),
    (BuildTool::Pnpm, "--ignore-scripts", "pnpm rebuild", false),
    (
        BuildTool::Yarn,
        "--ignore-scripts",
        "yarn install --frozen-lockfile --offline",
        true,
    ),
    (BuildTool::Bun, "--ignore-scripts", "", false),
];

/// The install flag that keeps dev dependencies even when `NODE_ENV=production` or the
/// repository's `.npmrc` (`omit=dev`, `production=true`) would drop them: the test image needs
/// the test runner, and the runtime is pruned later. Yarn Berry always installs them.
const INCLUDE_DEV: &[(BuildTool, &str)] = &[
    (BuildTool::Npm, "--include=dev"),
    (BuildTool::Pnpm, "--prod=false"),
    (BuildTool::Yarn, "--production=false"),
];

/// How the package manager is set up and how it installs, prunes and runs scripts.
struct Manager {
    tool: BuildTool,
    /// Commands that make the package manager available in the node image.
    setup: Vec<String>,
    install: String,
    /// The install freezes the lock file (`npm ci`, `--frozen-lockfile`, `--immutable`).
    frozen: bool,
    berry: bool,
    prune: Option<String>,
    run: &'static str,
    cache_vars: Vec<(String, String)>,
    cache_paths: Vec<&'static str>,
}

/// The version a package manager is pinned to in the repository (`packageManager`, `engines`,
/// asdf/mise, else the major its lock file's format names), without a corepack hash.
fn manager_version(ctx: &ServiceContext<'_>, tool: &str, default: &str) -> String {
    tool_version(ctx, tool, default)
        .split('+')
        .next()
        .unwrap_or(default)
        .to_string()
}

fn manager(ctx: &ServiceContext<'_>) -> Manager {
    let tool = ctx.service.build_tool.unwrap_or(BuildTool::Npm);
    let install = ctx.service.commands.install.clone();
    let berry = install.as_deref().is_some_and(|i| i.contains("immutable"));
    let frozen = install.as_deref().is_none_or(|i| {
        i == "npm ci" || i.contains("--frozen-lockfile") || i.contains("--immutable")
    });
    let frozen_flag = if frozen { " --frozen-lockfile" } else { "" };
    match tool {
        BuildTool::Yarn => Manager {
            tool,
            // Yarn classic ships in the node image; Berry comes through corepack, which reads
            // `packageManager` (or `yarnPath` in .yarnrc.yml).
            setup: if berry {
                vec!["corepack enable".to_string()]
            } else {
                Vec::new()
            },
            install: install.unwrap_or_else(|| "yarn install --frozen-lockfile".into()),
            frozen,
            berry,
            prune: (!berry).then(|| {
                format!("yarn install --production{frozen_flag} --ignore-scripts --prefer-offline")
            }),
            run: "yarn",
            cache_vars: vec![(
                "YARN_CACHE_FOLDER".into(),
                "$CI_PROJECT_DIR/.yarn-cache".into(),
            )],
            cache_paths: vec![".yarn-cache"],
        },
        BuildTool::Pnpm => Manager {
            tool,
            // From the npm registry at the version the repository names: corepack's own
            // default can name a release that does not exist.
            setup: vec![format!(
                "npm install -g pnpm@{}",
                manager_version(ctx, "pnpm", PNPM_DEFAULT)
            )],
            install: install.unwrap_or_else(|| "pnpm install --frozen-lockfile".into()),
            frozen,
            berry,
            prune: Some("pnpm prune --prod".into()),
            run: "pnpm",
            cache_vars: vec![(
                "npm_config_store_dir".into(),
                "$CI_PROJECT_DIR/.pnpm-store".into(),
            )],
            cache_paths: vec![".pnpm-store"],
        },
        BuildTool::Bun => Manager {
            tool,
            setup: Vec::new(),
            install: install.unwrap_or_else(|| "bun install --frozen-lockfile".into()),
            frozen,
            berry,
            prune: Some("rm -rf node_modules && bun install --production --frozen-lockfile".into()),
            run: "bun run",
            cache_vars: vec![(
                "BUN_INSTALL_CACHE_DIR".into(),
                "$CI_PROJECT_DIR/.bun-cache".into(),
            )],
            cache_paths: vec![".bun-cache"],
        },
        _ => Manager {
            tool: BuildTool::Npm,
            setup: Vec::new(),
            install: install.unwrap_or_else(|| "npm install".into()),
            frozen,
            berry,
            prune: Some("npm prune --omit=dev".into()),
            run: "npm run",
            cache_vars: vec![("npm_config_cache".into(), "$CI_PROJECT_DIR/.npm".into())],
            cache_paths: vec![".npm"],
        },
    }
}

/// Where a static front-end's build lands.
fn static_output(ctx: &ServiceContext<'_>, pkg: &Value) -> String {
    if ctx.service.framework == Some(Framework::Angular) {
        let angular: Value = ctx
            .text("angular.json")
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or(Value::Null);
        if let Some((name, project)) = angular["projects"]
            .as_object()
            .and_then(|p| p.iter().next())
        {
            let opts = &project["architect"]["build"]["options"];
            let builder = project["architect"]["build"]["builder"]
                .as_str()
                .unwrap_or("");
            let base = opts["outputPath"]
                .as_str()
                .map(String::from)
                .or_else(|| opts["outputPath"]["base"].as_str().map(String::from))
                .unwrap_or_else(|| format!("dist/{name}"));
            // The application builder (Angular 17+) writes the browser bundle one level down.
            return if builder.ends_with(":application") || builder.starts_with("@angular/build") {
                format!("{base}/browser")
            } else {
                base
            };
        }
        return "dist".into();
    }
    if has_dep(pkg, "react-scripts") || has_dep(pkg, "@sveltejs/adapter-static") {
        "build".into()
    } else {
        "dist".into()
    }
}

/// True when the service is a static site: a front-end framework without a server.
fn is_static(ctx: &ServiceContext<'_>, pkg: &Value) -> bool {
    let fw = ctx.service.framework;
    if has_dep(pkg, "@sveltejs/kit") {
        return has_dep(pkg, "@sveltejs/adapter-static");
    }
    fw.is_some_and(|f| f.is_static_frontend())
        && ctx.service.role == Role::Application
        && !has_dep(pkg, "express")
        && script(pkg, "build").is_some()
}

/// The start command for the image: a package script resolved to what it runs, so the
/// process is not a package manager (which would swallow signals).
fn image_start(ctx: &ServiceContext<'_>, pkg: &Value, m: &Manager) -> Option<String> {
    if has_dep(pkg, "@sveltejs/kit") {
        return Some("node build".into());
    }
    let start = ctx.service.commands.start.clone()?;
    let runner = format!("{} ", m.run);
    let named = SCRIPT_RUNNERS
        .iter()
        .copied()
        .chain(std::iter::once(runner.as_str()))
        .find_map(|prefix| start.strip_prefix(prefix))
        .and_then(|name| script(pkg, name.trim()));
    let cmd = named.map(String::from).unwrap_or(start);
    let first = cmd.split_whitespace().next().unwrap_or("");
    Some(if LOCAL_BINS.contains(&first) {
        format!("node_modules/.bin/{cmd}")
    } else {
        cmd
    })
}

/// An ESLint configuration file (flat or legacy) in the service folder.
fn has_eslint_config(ctx: &ServiceContext<'_>) -> bool {
    ctx.index
        .files_in(ctx.dir)
        .any(|f| f.name().starts_with("eslint.config.") || f.name().starts_with(".eslintrc"))
}

fn eslint(ctx: &ServiceContext<'_>, pkg: &Value) -> Option<Lint> {
    let configured = has_dep(pkg, "eslint") || has_eslint_config(ctx);
    if !has_dep(pkg, "eslint") {
        return None;
    }
    Some(Lint {
        tool: "eslint".into(),
        command: "npx --no-install eslint . --format json --output-file \"$CI_PROJECT_DIR/lint-report.json\"".into(),
        report: "lint-report.json".into(),
        sonar_property: Some("sonar.eslint.reportPaths".into()),
        enforced: configured,
        why: "ESLint is a dependency of the project, so its findings are enforced".into(),
    })
}

pub fn recipe(ctx: &ServiceContext<'_>) -> Recipe {
    let pkg = package_json(ctx);
    let m = manager(ctx);
    let svc = ctx.service;
    let mut notes = Vec::new();
    let mut warnings = Vec::new();
    let node_tag = format!("{}-slim", ctx.runtime.version);
    let (image, tag) = if m.tool == BuildTool::Bun {
        (
            "oven/bun".to_string(),
            format!("{}-slim", tool_version(ctx, "bun", BUN)),
        )
    } else {
        ("node".to_string(), node_tag)
    };
    notes.push(format!(
        "{} image {image}:{tag}; {} installs with `{}`",
        if m.tool == BuildTool::Bun {
            "bun"
        } else {
            "node"
        },
        m.tool,
        m.install
    ));
    // Several tools' lock files: say which one was chosen, and why (issue 19, stale locks).
    if let Some(e) = svc
        .evidence
        .iter()
        .rev()
        .find(|e| e.conclusion == "build_tool" && e.detail.contains("agrees with package.json"))
    {
        notes.push(format!("lock file: {} ({})", e.detail, e.file));
    }
    let member_root = workspace_root(ctx);
    let static_site = is_static(ctx, &pkg);
    let has_build = script(&pkg, "build").is_some();
    let setup = m.setup.clone();
    if m.tool == BuildTool::Pnpm {
        notes.push(format!(
            "pnpm is installed from the npm registry (`{}`)",
            setup.join(" && ")
        ));
    }
    if let Some((note, warning)) = stale_lock(ctx, &m) {
        notes.push(note);
        warnings.push(warning);
    }
    let deferred = if member_root.is_none() {
        deferred_scripts(&pkg, &m)
    } else {
        None
    };
    if let Some(d) = &deferred {
        notes.push(d.note.clone());
    }

    // Dockerfile
    let mut d = dockerfile_base(ctx);
    let base = ctx.base_image(&image, &tag);
    let mut deps = Stage::new(&base, "deps");
    deps.push(Instruction::Workdir("/app".into()));
    let member_dir = member_root.as_ref().map(|root| {
        ctx.dir
            .strip_prefix(root.as_str())
            .unwrap_or(ctx.dir)
            .trim_start_matches('/')
            .to_string()
    });
    match &member_dir {
        Some(member) => {
            deps.comment = vec![
                "A workspace member: the lock file and sibling packages live at the workspace root,".into(),
                "which is the build context, so the whole workspace is copied before installing.".into(),
            ];
            deps.copy(["."], ".");
            warnings.push(format!(
                "{} is a workspace member: its image is built from the workspace root, without a manifests-only layer",
                ctx.service.path
            ));
            notes.push(format!(
                "workspace member: built from the workspace root, then `{member}`"
            ));
        }
        None => {
            deps.comment = vec!["Dependencies only, from the manifests: this layer is rebuilt only when they change.".into()];
            let mut files = vec!["package.json".to_string()];
            files.extend(
                INSTALL_FILES
                    .iter()
                    .filter(|f| ctx.has(f))
                    .map(|f| f.to_string()),
            );
            deps.copy(files, "./");
            if ctx.has(".yarn/releases")
                || ctx
                    .index
                    .files_under(&join(ctx.dir, ".yarn/releases"))
                    .next()
                    .is_some()
            {
                deps.copy([".yarn/releases"], "./.yarn/releases/");
            }
        }
    }
    let mut install_cmds = setup.clone();
    let mut image_install = m.install.clone();
    if let Some((_, flag)) = INCLUDE_DEV
        .iter()
        .find(|(t, _)| *t == m.tool)
        .filter(|_| !m.berry)
    {
        image_install = format!("{image_install} {flag}");
    }
    if let Some(d) = &deferred {
        deps.comment.push(format!(
            "The root's install scripts need the sources: installed with {} here, run after the copy.",
            d.flag
        ));
        image_install = format!("{image_install} {}", d.flag);
    }
    install_cmds.push(image_install);
    deps.run(install_cmds);
    let workdir = member_dir
        .as_ref()
        .map(|m| format!("/app/{m}"))
        .unwrap_or_else(|| "/app".into());
    let mut build = Stage::new("deps", "build");
    if member_dir.is_none() {
        build.copy(["."], ".");
    }
    if let Some(d) = &deferred {
        build.run(d.after_copy.clone());
    }
    if workdir != "/app" {
        build.push(Instruction::Workdir(workdir.clone()));
    }
    if has_build {
        build.run([format!("{} build", m.run)]);
    } else {
        build.comment("package.json has no build script: the sources run as they are.");
    }
    let mut test = Stage::new("build", "test");
    test.comment = vec![
        "The build stage already holds the dev dependencies the tests and ESLint need (installed"
            .into(),
        "explicitly, whatever NODE_ENV or .npmrc say); the release stage prunes them.".into(),
    ];
    if svc.test_framework == Some(TestFramework::Playwright) {
        test.comment("Playwright needs its browser and the system libraries it links to.");
        test.run([
            "npx --no-install playwright install --with-deps chromium",
            "rm -rf /var/lib/apt/lists/*",
        ]);
    } else {
        test.push(Instruction::Workdir(workdir.clone()));
    }
    let mut stages = vec![deps, build, test];
    if static_site {
        let out = static_output(ctx, &pkg);
        let mut conf = Stage::new("build", "nginx-config");
        conf.comment =
            vec!["Serves the single-page app: unknown paths fall back to index.html.".into()];
        conf.run([
            "printf 'server {\\n  listen 8080;\\n  root /usr/share/nginx/html;\\n  location / {\\n    try_files $uri $uri/ /index.html;\\n  }\\n}\\n' > /tmp/default.conf".to_string(),
        ]);
        let mut runtime = Stage::new(ctx.base_image(NGINX.0, NGINX.1), "runtime");
        runtime.comment = vec![
            "A static site: the built files behind an unprivileged nginx, no node at run time."
                .into(),
        ];
        runtime.push(Instruction::Copy {
            from: Some("nginx-config".into()),
            chown: None,
            src: vec!["/tmp/default.conf".into()],
            dest: "/etc/nginx/conf.d/default.conf".into(),
        });
        runtime.push(Instruction::Copy {
            from: Some("build".into()),
            chown: None,
            src: vec![format!("{workdir}/{out}")],
            dest: "/usr/share/nginx/html".into(),
        });
        runtime.push(Instruction::Expose(STATIC_PORT));
        runtime.push(Instruction::User("101".into()));
        runtime.push(Instruction::Cmd(vec![
            "nginx".into(),
            "-g".into(),
            "daemon off;".into(),
        ]));
        notes.push(format!(
            "static front-end ({}): `{} build` writes {out}, served by nginx on port {STATIC_PORT}",
            svc.framework.map(|f| f.as_str()).unwrap_or("site"),
            m.run
        ));
        stages.push(conf);
        stages.push(runtime);
    } else {
        let mut release = Stage::new("build", "release");
        release.comment = vec!["Production dependencies only, for the runtime image.".into()];
        release.push(Instruction::Workdir("/app".into()));
        match &m.prune {
            Some(p) => {
                release.run([p.clone()]);
            }
            None => {
                release.comment("Yarn Berry prunes only with the workspace-tools plugin; dev dependencies stay.");
                warnings.push("Yarn Berry: dev dependencies are kept in the runtime image (no prune without workspace-tools)".into());
            }
        }
        let mut runtime = Stage::new(&base, "runtime");
        runtime.comment = vec![
            "The built application with production dependencies, as the image's unprivileged user."
                .into(),
        ];
        runtime.push(Instruction::Env(vec![(
            "NODE_ENV".into(),
            "production".into(),
        )]));
        runtime.push(Instruction::Workdir("/app".into()));
        // The bun image's own user; on node images pipewright's `app` user (uid 10001), made
        // here rather than assumed: a team's node base need not carry the official image's
        // `node` user.
        let user = if m.tool == BuildTool::Bun {
            "bun"
        } else {
            add_app_user(&mut runtime);
            "app"
        };
        runtime.push(Instruction::Copy {
            from: Some("release".into()),
            chown: Some(format!("{user}:{user}")),
            src: vec!["/app".into()],
            dest: "/app".into(),
        });
        if workdir != "/app" {
            runtime.push(Instruction::Workdir(workdir.clone()));
        }
        let start = image_start(ctx, &pkg, &m);
        let fallback: &[&str] = if m.tool == BuildTool::Bun {
            &["bun", "run", "start"]
        } else {
            &["node", "index.js"]
        };
        warnings.extend(finish_runtime(
            ctx,
            &mut runtime,
            user,
            start.as_deref(),
            fallback,
        ));
        stages.push(release);
        stages.push(runtime);
    }
    d.stages = stages;

    // CI
    let mut compile = setup.clone();
    compile.push(m.install.clone());
    if has_build {
        compile.push(format!("{} build", m.run));
    }
    let (test_lines, junit) = test_commands(ctx, &pkg, &m, &mut notes, &mut warnings);
    let lint = eslint(ctx, &pkg);
    match &lint {
        Some(l) => notes.push(format!("linter: eslint ({})", l.why)),
        None => notes.push(
            "no ESLint in the project: SonarQube's own JavaScript analysis stands in for a linter"
                .into(),
        ),
    }
    if junit.is_some() {
        notes.push("vitest writes a JUnit report for GitLab".into());
    }
    let mut test_setup = setup;
    test_setup.push(m.install.clone());
    test_setup.push("export APP_DIR=\"$PWD\"".into());
    Recipe {
        build_image: (image, tag),
        compile,
        compile_variables: m.cache_vars.clone(),
        test_variables: Vec::new(),
        cache: Some(lock_cache(ctx, LOCKS, &m.cache_paths, "node")),
        compile_artifacts: Vec::new(),
        test_setup,
        test: test_lines,
        junit,
        lint,
        sast: None,
        dockerfile: d,
        dockerignore: dockerignore(&[
            "**/node_modules",
            ".npm",
            ".pnpm-store",
            ".yarn-cache",
            ".yarn/cache",
            ".next",
            ".nuxt",
            ".svelte-kit",
            "dist",
            "build",
            "playwright-report",
            "test-results",
        ]),
        sonar_properties: Vec::new(),
        context: member_root,
        notes,
        warnings,
    }
}

/// Root install scripts that need the sources, and how the image runs them once copied.
struct Deferred {
    /// Added to the deps stage's install.
    flag: String,
    /// Run in the build stage right after the sources are copied.
    after_copy: Vec<String>,
    note: String,
}

/// True when a script only installs git hooks (`husky`, `husky install`).
fn installs_git_hooks(command: &str) -> bool {
    command
        .split_whitespace()
        .next()
        .is_some_and(|first| GIT_HOOK_INSTALLERS.contains(&first))
}

/// When the root package has install lifecycle scripts (`postinstall: prisma generate`, a
/// codegen step), they need the sources, which the deps stage does not have: it installs
/// with scripts disabled, and the build stage runs them after copying the sources.
fn deferred_scripts(pkg: &Value, m: &Manager) -> Option<Deferred> {
    let present: Vec<&str> = INSTALL_LIFECYCLE
        .iter()
        .copied()
        .filter(|s| script(pkg, s).is_some())
        .collect();
    if present.is_empty() {
        return None;
    }
    let prepare = script(pkg, "prepare");
    let hooks = prepare.is_some_and(installs_git_hooks);
    let runs_prepare = prepare.is_some() && !hooks;
    let (flag, mut after_copy) = if m.berry {
        let mut after = vec!["yarn rebuild".to_string()];
        if script(pkg, "postinstall").is_some() {
            after.push("yarn run postinstall".into());
        }
        ("--mode=skip-build".to_string(), after)
    } else {
        let (_, flag, rebuild, rebuild_runs_prepare) = DEFERRED_SCRIPTS
            .iter()
            .find(|(t, ..)| *t == m.tool)
            .copied()
            .unwrap_or(DEFERRED_SCRIPTS[0]);
        let mut after = Vec::new();
        if !rebuild.is_empty() {
            let rebuild = if m.frozen {
                rebuild.to_string()
            } else {
                rebuild.replace(" --frozen-lockfile", "")
            };
            // Git hooks have no checkout to go into; husky skips itself with HUSKY=0.
            after.push(if hooks && rebuild_runs_prepare {
                format!("HUSKY=0 {rebuild}")
            } else {
                rebuild
            });
        }
        if m.tool == BuildTool::Bun {
            for s in present.iter().filter(|s| **s != "prepare" || runs_prepare) {
                after.push(format!("bun run {s}"));
            }
        } else if runs_prepare && !rebuild_runs_prepare {
            after.push(format!("{} prepare", m.run));
        }
        (flag.to_string(), after)
    };
    after_copy.dedup();
    let mut note = format!(
        "the root package's install scripts ({}) need the sources: the deps stage installs with `{flag}`, and `{}` runs them once the sources are copied",
        present.join(", "),
        after_copy.join(" && ")
    );
    if hooks {
        note.push_str(
            "; `prepare` only installs git hooks, which an image has no use for, so it is skipped",
        );
    }
    Some(Deferred {
        flag,
        after_copy,
        note,
    })
}

/// Lock files per manager, in the order the detector looks for them.
const MANAGER_LOCKS: &[(BuildTool, &str)] = &[
    (BuildTool::Npm, "package-lock.json"),
    (BuildTool::Npm, "npm-shrinkwrap.json"),
    (BuildTool::Yarn, "yarn.lock"),
    (BuildTool::Pnpm, "pnpm-lock.yaml"),
];

/// The note and warning for a lock file that is out of date with `package.json`.
fn stale_lock(ctx: &ServiceContext<'_>, m: &Manager) -> Option<(String, String)> {
    let lock = MANAGER_LOCKS
        .iter()
        .filter(|(t, _)| *t == m.tool)
        .map(|(_, l)| *l)
        .find(|l| ctx.has(l))?;
    let state = lock_state(ctx.index, &join(ctx.dir, lock));
    if !matches!(state, LockState::Stale(_)) {
        return None;
    }
    Some((
        format!(
            "{lock} is out of date with package.json ({}): a frozen install would refuse it, so dependencies install with `{}`",
            state.describe(),
            m.install
        ),
        format!(
            "{lock} is out of date with package.json ({}); the pipeline installs without freezing the lock and may resolve newer versions: run `{} install` and commit {lock}",
            state.describe(),
            m.tool
        ),
    ))
}

/// Jest's and Vitest's default test file names: `*.test.*`, `*.spec.*`, files under `__tests__/`.
const TEST_FILE_MARKERS: &[&str] = &[".test.", ".spec."];
const TEST_FILE_EXTENSIONS: &[&str] = &["js", "jsx", "ts", "tsx", "mjs", "cjs", "mts", "cts"];

/// True when the service holds a file the test runner would pick up; a `testRegex` in
/// package.json's `jest` section is honoured.
fn has_test_files(ctx: &ServiceContext<'_>, pkg: &Value) -> bool {
    let regex = pkg["jest"]["testRegex"]
        .as_str()
        .map(|r| regex::Regex::new(r).ok());
    ctx.index.files_under(ctx.dir).any(|f| {
        if f.path.contains("node_modules/") {
            return false;
        }
        match &regex {
            Some(Some(re)) => re.is_match(&f.path),
            // A testRegex this engine cannot read: trust the project.
            Some(None) => true,
            None => {
                let name = f.name();
                name.rsplit('.')
                    .next()
                    .is_some_and(|e| TEST_FILE_EXTENSIONS.contains(&e))
                    && (TEST_FILE_MARKERS.iter().any(|m| name.contains(m))
                        || f.path.contains("__tests__/"))
            }
        }
    })
}

/// Mocha's configuration files; with one of them (or a `mocha` section in package.json) the
/// spec may be anywhere, so the project is trusted.
const MOCHARC: &[&str] = &[
    ".mocharc.js",
    ".mocharc.cjs",
    ".mocharc.mjs",
    ".mocharc.json",
    ".mocharc.jsonc",
    ".mocharc.yml",
    ".mocharc.yaml",
];

/// True when a test script that is a plain `mocha` call with its default spec would find no
/// file: mocha then fails with "No test files found" (exit 1) and has no flag to pass. The
/// default spec is `./test/*.{js,cjs,mjs}`, any depth with `--recursive`. A spec or
/// extension given on the command line, or a configuration file, is trusted.
fn mocha_finds_no_tests(ctx: &ServiceContext<'_>, pkg: &Value, script: &str) -> bool {
    if !is_plain_call(script, "mocha") || !pkg["mocha"].is_null() {
        return false;
    }
    if MOCHARC.iter().any(|f| ctx.has(f)) {
        return false;
    }
    let args: Vec<&str> = script.split_whitespace().skip(1).collect();
    // Positional arguments are specs; options that take a value may hide one: trust them.
    if args.iter().any(|a| !a.starts_with('-')) {
        return false;
    }
    let recursive = args.contains(&"--recursive");
    let test_dir = crate::index::join(ctx.dir, "test");
    !ctx.index.files_under(&test_dir).any(|f| {
        let rest = f.path.strip_prefix(&format!("{test_dir}/")).unwrap_or("");
        (recursive || !rest.contains('/'))
            && f.name()
                .rsplit('.')
                .next()
                .is_some_and(|e| ["js", "cjs", "mjs"].contains(&e))
    })
}

/// How the manager runs one of the package's own binaries.
fn exec(m: &Manager) -> &'static str {
    match m.tool {
        BuildTool::Pnpm => "pnpm exec",
        BuildTool::Yarn => "yarn",
        BuildTool::Bun => "bunx",
        _ => "npx --no-install",
    }
}

/// True when a script is one plain runner call that extra arguments can be appended to.
fn is_plain_call(script: &str, runner: &str) -> bool {
    script.trim_start().starts_with(runner)
        && !script.contains("&&")
        && !script.contains("||")
        && !script.contains(';')
        && !script.contains('|')
}

/// Test lines (run in `$APP_DIR` of the test image) and the JUnit report when the runner writes one.
fn test_commands(
    ctx: &ServiceContext<'_>,
    pkg: &Value,
    m: &Manager,
    notes: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> (Vec<String>, Option<String>) {
    let svc = ctx.service;
    let test_script = script(pkg, "test").filter(|t| !t.contains(NPM_PLACEHOLDER_TEST));
    let runner = match svc.test_framework {
        Some(TestFramework::Jest) => Some("jest"),
        Some(TestFramework::Vitest) => Some("vitest"),
        _ => None,
    };
    let mocha_empty = svc.test_framework == Some(TestFramework::Mocha)
        && test_script.is_some_and(|t| mocha_finds_no_tests(ctx, pkg, t));
    if mocha_empty {
        notes.push(
            "the test script runs mocha, which finds no test file under test/ and exits 1 (it has no flag to pass without tests): the test job runs the checks below instead".into(),
        );
        warnings.push(
            "no test files were found (mocha looks in test/): `npm test` would fail with \"No test files found\", so the test job does not run it until tests are added".into(),
        );
    }
    // Jest and Vitest exit 1 when no test file matches.
    let empty = runner.filter(|_| !has_test_files(ctx, pkg));
    let mut pass_with_no_tests = |line: String, appendable: bool| -> String {
        let Some(runner) = empty else {
            return line;
        };
        if appendable {
            notes.push(format!(
                "no test files were found, and {runner} exits 1 without any: the test job passes `--passWithNoTests`"
            ));
            warnings.push(format!(
                "no test files were found ({runner} looks for *.test.*, *.spec.* and __tests__/): the test job passes `--passWithNoTests`, so it checks nothing until tests are added"
            ));
            let sep = if line.starts_with("npm ") {
                " -- "
            } else {
                " "
            };
            format!("{line}{sep}--passWithNoTests")
        } else {
            warnings.push(format!(
                "no test files were found and the test script is not a plain {runner} call: {runner} exits 1 without tests, so the test job fails until tests are added"
            ));
            line
        }
    };
    if svc.test_framework == Some(TestFramework::Vitest)
        && test_script.is_some_and(|t| t.trim_start().starts_with("vitest"))
    {
        let line = pass_with_no_tests(
            "npx --no-install vitest run --reporter=default --reporter=junit --outputFile.junit=\"$CI_PROJECT_DIR/junit.xml\"".into(),
            true,
        );
        return (vec![line], Some("junit.xml".into()));
    }
    if let Some(t) = svc.commands.test.as_ref().filter(|_| !mocha_empty) {
        let appendable = match test_script {
            // `npm test` runs the script: arguments reach the runner only when it is the whole script.
            Some(s) => runner.is_some_and(|r| is_plain_call(s, r)),
            None => true,
        };
        return (vec![pass_with_no_tests(t.clone(), appendable)], None);
    }
    if test_script.is_some() && !mocha_empty {
        let appendable = runner.is_some_and(|r| test_script.is_some_and(|s| is_plain_call(s, r)));
        return (
            vec![pass_with_no_tests(format!("{} test", m.run), appendable)],
            None,
        );
    }
    // No tests: checks that pass on a healthy repository stand in for them.
    let exec = exec(m);
    let mut lines = Vec::new();
    if ctx.has("tsconfig.json") && has_dep(pkg, "typescript") {
        lines.push(format!("{exec} tsc --noEmit"));
        notes.push(
            "no test script: the test job type-checks with `tsc --noEmit` (tsconfig.json and the typescript dependency)".into(),
        );
    }
    if svc.framework == Some(Framework::NextJs) && has_dep(pkg, "eslint") && has_eslint_config(ctx)
    {
        lines.push(format!("{exec} next lint"));
        notes.push(
            "no test script: the test job runs `next lint` (Next.js with an ESLint configuration)"
                .into(),
        );
    }
    if mocha_empty {
        // Said above.
    } else if lines.is_empty() {
        warnings.push(
            "no test script, no test framework and no TypeScript or Next.js lint configuration: the test job runs no tests; add a `test` script to package.json".into(),
        );
    } else {
        warnings.push(format!(
            "no test script in package.json: the test job runs `{}` instead of tests; add a `test` script",
            lines.join("` and `")
        ));
    }
    (lines, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dependencies_are_found_in_any_section() {
        let pkg = json!({"devDependencies": {"eslint": "^9"}});
        assert!(has_dep(&pkg, "eslint"));
        assert!(!has_dep(&pkg, "jest"));
    }
}
