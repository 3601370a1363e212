//! JavaScript and TypeScript: npm, yarn (classic and Berry), pnpm and bun. Servers (Express,
//! Nest, Next, SvelteKit with the node adapter, anything with a start script) run on a slim
//! node image with production dependencies only; static front-ends (React, Vue, Angular,
//! Svelte) are built once and served by an unprivileged nginx. Workspace members are built
//! from the workspace root, where the lock file lives.

use super::{
    dockerfile_base, dockerignore, finish_runtime, lock_cache, tool_version, Lint, Recipe,
};
use crate::dockerfile::{Instruction, Stage};
use crate::generate::ServiceContext;
use crate::index::{join, parent_dir};
use crate::stack::{BuildTool, Framework, Role, TestFramework};
use serde_json::Value;

const BUN: &str = "1.1";
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

/// How the package manager is set up and how it installs, prunes and runs scripts.
struct Manager {
    tool: BuildTool,
    /// `corepack enable` for yarn and pnpm.
    corepack: bool,
    install: String,
    prune: Option<String>,
    run: &'static str,
    cache_vars: Vec<(String, String)>,
    cache_paths: Vec<&'static str>,
}

fn manager(ctx: &ServiceContext<'_>) -> Manager {
    let tool = ctx.service.build_tool.unwrap_or(BuildTool::Npm);
    let install = ctx.service.commands.install.clone();
    let berry = install
        .as_deref()
        .is_some_and(|i| i.contains("--immutable"));
    match tool {
        BuildTool::Yarn => Manager {
            tool,
            corepack: true,
            install: install.unwrap_or_else(|| "yarn install --frozen-lockfile".into()),
            prune: (!berry).then(|| {
                "yarn install --production --frozen-lockfile --ignore-scripts --prefer-offline"
                    .to_string()
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
            corepack: true,
            install: install.unwrap_or_else(|| "pnpm install --frozen-lockfile".into()),
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
            corepack: false,
            install: install.unwrap_or_else(|| "bun install --frozen-lockfile".into()),
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
            corepack: false,
            install: install.unwrap_or_else(|| "npm install".into()),
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
    let via_script = [
        format!("{} start", m.run),
        format!("{} start", m.run.split(' ').next().unwrap_or("npm")),
        "npm start".into(),
        "yarn start".into(),
        "pnpm start".into(),
    ];
    let cmd = if via_script.contains(&start) {
        script(pkg, "start").map(String::from).unwrap_or(start)
    } else {
        start
    };
    let first = cmd.split_whitespace().next().unwrap_or("");
    Some(if LOCAL_BINS.contains(&first) {
        format!("node_modules/.bin/{cmd}")
    } else {
        cmd
    })
}

fn eslint(ctx: &ServiceContext<'_>, pkg: &Value) -> Option<Lint> {
    let configured = has_dep(pkg, "eslint")
        || ctx
            .index
            .files_in(ctx.dir)
            .any(|f| f.name().starts_with("eslint.config.") || f.name().starts_with(".eslintrc"));
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
    let member_root = workspace_root(ctx);
    let static_site = is_static(ctx, &pkg);
    let has_build = script(&pkg, "build").is_some();
    let corepack = if m.corepack {
        vec!["corepack enable".to_string()]
    } else {
        Vec::new()
    };

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
    let mut install_cmds = corepack.clone();
    install_cmds.push(m.install.clone());
    deps.run(install_cmds);
    let workdir = member_dir
        .as_ref()
        .map(|m| format!("/app/{m}"))
        .unwrap_or_else(|| "/app".into());
    let mut build = Stage::new("deps", "build");
    if member_dir.is_none() {
        build.copy(["."], ".");
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
        "The build stage already holds the dev dependencies the tests and ESLint need.".into(),
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
        let user = if m.tool == BuildTool::Bun {
            "bun"
        } else {
            "node"
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
    let mut compile = corepack.clone();
    compile.push(m.install.clone());
    if has_build {
        compile.push(format!("{} build", m.run));
    }
    let (test_lines, junit) = test_commands(ctx, &pkg, &m);
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
    let mut test_setup = corepack;
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

/// Test lines (run in `$APP_DIR` of the test image) and the JUnit report when the runner writes one.
fn test_commands(
    ctx: &ServiceContext<'_>,
    pkg: &Value,
    m: &Manager,
) -> (Vec<String>, Option<String>) {
    let svc = ctx.service;
    let test_script = script(pkg, "test");
    if svc.test_framework == Some(TestFramework::Vitest)
        && test_script.is_some_and(|t| t.trim_start().starts_with("vitest"))
    {
        return (
            vec!["npx --no-install vitest run --reporter=default --reporter=junit --outputFile.junit=\"$CI_PROJECT_DIR/junit.xml\"".into()],
            Some("junit.xml".into()),
        );
    }
    match &svc.commands.test {
        Some(t) => (vec![t.clone()], None),
        None => match test_script {
            Some(_) => (vec![format!("{} test", m.run)], None),
            None => (
                vec![
                    "node --check $(node -p \"require('./package.json').main || 'index.js'\")"
                        .into(),
                ],
                None,
            ),
        },
    }
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
