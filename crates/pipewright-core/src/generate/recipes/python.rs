//! Python: pip (requirements or pyproject/setup.py), poetry, uv, pipenv and pdm, each
//! installing into `/app/.venv` so the runtime stage copies one folder and needs no tool.
//! Tests and ruff (or the project's flake8) run in the test stage's environment.

use super::{
    add_app_user, dockerfile_base, dockerignore, finish_runtime, lock_cache, tool_version, Lint,
    Recipe,
};
use crate::dockerfile::{Instruction, Stage};
use crate::generate::ServiceContext;
use crate::stack::{BuildTool, Framework, TestFramework};

/// Pinned tool versions when the repository pins none.
const POETRY: &str = "1.8.4";
const UV: &str = "0.4.29";
const PDM: &str = "2.19.3";
const PIPENV: &str = "2024.2.0";
const PYTEST: &str = "8.3.3";
const RUFF: &str = "0.7.1";

/// Dev requirement files, in the order they are looked for.
const DEV_REQUIREMENTS: &[&str] = &[
    "requirements-dev.txt",
    "requirements_dev.txt",
    "requirements-test.txt",
    "requirements/dev.txt",
    "requirements/test.txt",
    "dev-requirements.txt",
    "test-requirements.txt",
];

/// Runner prefixes the analyzer puts before commands; in the image the venv is on PATH.
const RUNNERS: &[&str] = &["poetry run ", "uv run ", "pipenv run ", "pdm run "];

fn strip_runner(cmd: &str) -> String {
    RUNNERS
        .iter()
        .find_map(|r| cmd.strip_prefix(r))
        .unwrap_or(cmd)
        .to_string()
}

/// How one build tool installs: manifests to copy first, runtime install, dev install.
struct Install {
    manifests: Vec<String>,
    tool: Option<String>,
    env: Vec<(String, String)>,
    runtime: Vec<String>,
    dev: Vec<String>,
    /// Install that needs the source (pip with pyproject/setup.py and no requirements file).
    after_copy: Vec<String>,
    lock: Vec<&'static str>,
    cache_paths: Vec<&'static str>,
}

fn install(ctx: &ServiceContext<'_>) -> Install {
    let has = |f: &str| ctx.has(f);
    let dev_req = DEV_REQUIREMENTS
        .iter()
        .find(|f| has(f))
        .map(|f| f.to_string());
    match ctx.service.build_tool {
        Some(BuildTool::Poetry) => {
            let v = tool_version(ctx, "poetry", POETRY);
            Install {
                manifests: ["pyproject.toml", "poetry.lock"]
                    .iter()
                    .filter(|f| has(f))
                    .map(|f| f.to_string())
                    .collect(),
                tool: Some(format!("poetry=={v}")),
                env: vec![
                    ("POETRY_VIRTUALENVS_IN_PROJECT".into(), "true".into()),
                    ("POETRY_NO_INTERACTION".into(), "1".into()),
                ],
                runtime: vec!["poetry install --no-root --only main".into()],
                dev: vec!["poetry install --no-root".into()],
                after_copy: vec![],
                lock: vec!["poetry.lock", "pyproject.toml"],
                cache_paths: vec![".cache/pip", ".cache/pypoetry"],
            }
        }
        Some(BuildTool::Uv) => {
            let v = tool_version(ctx, "uv", UV);
            let frozen = if has("uv.lock") { " --frozen" } else { "" };
            Install {
                manifests: ["pyproject.toml", "uv.lock"]
                    .iter()
                    .filter(|f| has(f))
                    .map(|f| f.to_string())
                    .collect(),
                tool: Some(format!("uv=={v}")),
                env: vec![("UV_LINK_MODE".into(), "copy".into())],
                runtime: vec![format!("uv sync{frozen} --no-install-project --no-dev")],
                dev: vec![format!("uv sync{frozen} --no-install-project")],
                after_copy: vec![],
                lock: vec!["uv.lock", "pyproject.toml"],
                cache_paths: vec![".cache/pip", ".cache/uv"],
            }
        }
        Some(BuildTool::Pipenv) => {
            let v = tool_version(ctx, "pipenv", PIPENV);
            let deploy = if has("Pipfile.lock") { " --deploy" } else { "" };
            Install {
                manifests: ["Pipfile", "Pipfile.lock"]
                    .iter()
                    .filter(|f| has(f))
                    .map(|f| f.to_string())
                    .collect(),
                tool: Some(format!("pipenv=={v}")),
                env: vec![("PIPENV_VENV_IN_PROJECT".into(), "1".into())],
                runtime: vec![format!("pipenv install{deploy}")],
                dev: vec![format!("pipenv install --dev{deploy}")],
                after_copy: vec![],
                lock: vec!["Pipfile.lock", "Pipfile"],
                cache_paths: vec![".cache/pip", ".cache/pipenv"],
            }
        }
        Some(BuildTool::Pdm) => {
            let v = tool_version(ctx, "pdm", PDM);
            let frozen = if has("pdm.lock") {
                " --frozen-lockfile"
            } else {
                ""
            };
            Install {
                manifests: ["pyproject.toml", "pdm.lock"]
                    .iter()
                    .filter(|f| has(f))
                    .map(|f| f.to_string())
                    .collect(),
                tool: Some(format!("pdm=={v}")),
                env: vec![("PDM_CHECK_UPDATE".into(), "false".into())],
                runtime: vec![format!("pdm install --prod --no-self{frozen}")],
                dev: vec![format!("pdm install --no-self{frozen}")],
                after_copy: vec![],
                lock: vec!["pdm.lock", "pyproject.toml"],
                cache_paths: vec![".cache/pip", ".cache/pdm"],
            }
        }
        _ => {
            let req = ["requirements.txt"]
                .iter()
                .find(|f| has(f))
                .map(|f| f.to_string());
            let mut manifests: Vec<String> = req.iter().cloned().collect();
            if let Some(d) = &dev_req {
                manifests.push(d.clone());
            }
            let mut dev = Vec::new();
            if let Some(d) = &dev_req {
                dev.push(format!("pip install --no-cache-dir -r {d}"));
            }
            match req {
                Some(r) => Install {
                    manifests,
                    tool: None,
                    env: vec![],
                    runtime: vec![format!("pip install --no-cache-dir -r {r}")],
                    dev,
                    after_copy: vec![],
                    lock: vec!["requirements.txt"],
                    cache_paths: vec![".cache/pip"],
                },
                None => Install {
                    manifests: vec![],
                    tool: None,
                    env: vec![],
                    runtime: vec![],
                    dev,
                    after_copy: vec!["pip install --no-cache-dir .".into()],
                    lock: vec!["pyproject.toml", "setup.py"],
                    cache_paths: vec![".cache/pip"],
                },
            }
        }
    }
}

/// The ruff or flake8 run, and whether the project enforces it.
fn lint(ctx: &ServiceContext<'_>) -> Lint {
    let pyproject = ctx.text("pyproject.toml").unwrap_or("");
    let uses_flake8 = ctx
        .service
        .commands
        .lint
        .as_deref()
        .is_some_and(|l| l.contains("flake8"));
    if uses_flake8 {
        let configured = ctx.has(".flake8")
            || ctx
                .text("setup.cfg")
                .is_some_and(|t| t.contains("[flake8]"))
            || ctx.text("tox.ini").is_some_and(|t| t.contains("[flake8]"));
        return Lint {
            tool: "flake8".into(),
            command: "flake8 --format=pylint --output-file=\"$CI_PROJECT_DIR/lint-report.txt\" ."
                .into(),
            report: "lint-report.txt".into(),
            sonar_property: Some("sonar.python.flake8.reportPaths".into()),
            enforced: configured,
            why: if configured {
                "flake8 is configured by the project, so it is enforced".into()
            } else {
                "flake8 has no configuration here, so it is advisory".into()
            },
        };
    }
    let configured =
        ctx.has("ruff.toml") || ctx.has(".ruff.toml") || pyproject.contains("[tool.ruff");
    Lint {
        tool: "ruff".into(),
        command:
            "ruff check --output-format json --output-file \"$CI_PROJECT_DIR/lint-report.json\" ."
                .into(),
        report: "lint-report.json".into(),
        sonar_property: Some("sonar.python.ruff.reportPaths".into()),
        enforced: configured,
        why: if configured {
            "ruff is configured by the project, so it is enforced".into()
        } else {
            "the project does not configure ruff, so its findings are advisory".into()
        },
    }
}

pub fn recipe(ctx: &ServiceContext<'_>) -> Recipe {
    let version = ctx.runtime.version.clone();
    let tag = format!("{version}-slim");
    let inst = install(ctx);
    let svc = ctx.service;
    let mut notes = vec![format!(
        "python image python:{tag}; dependencies with {} into /app/.venv",
        svc.build_tool.map(|b| b.as_str()).unwrap_or("pip")
    )];
    let mut warnings = Vec::new();
    let lint = lint(ctx);
    let needs_pytest = svc.test_framework == Some(TestFramework::Pytest);
    let dev_text: String = DEV_REQUIREMENTS
        .iter()
        .filter_map(|f| ctx.text(f))
        .chain(ctx.text("pyproject.toml"))
        .chain(ctx.text("Pipfile"))
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_lowercase();
    let mut extra_test_tools = Vec::new();
    if needs_pytest
        && !dev_text.contains("pytest")
        && !ctx
            .text("requirements.txt")
            .unwrap_or("")
            .to_ascii_lowercase()
            .contains("pytest")
    {
        extra_test_tools.push(format!("pytest=={PYTEST}"));
    }
    if lint.tool == "ruff" && !dev_text.contains("ruff") {
        extra_test_tools.push(format!("ruff=={RUFF}"));
        notes.push(format!(
            "ruff {RUFF} is installed in the test stage: the project does not list it"
        ));
    }

    // Dockerfile
    let mut d = dockerfile_base(ctx);
    let base = ctx.base_image("python", &tag);
    let mut env = vec![
        ("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string()),
        ("PYTHONUNBUFFERED".to_string(), "1".to_string()),
        ("PIP_NO_CACHE_DIR".to_string(), "1".to_string()),
        ("PIP_DISABLE_PIP_VERSION_CHECK".to_string(), "1".to_string()),
        ("PATH".to_string(), "/app/.venv/bin:$PATH".to_string()),
    ];
    env.extend(inst.env.iter().cloned());
    let mut deps = Stage::new(&base, "deps");
    deps.comment = vec![
        "Dependencies only, from the manifests: this layer is rebuilt only when they change."
            .into(),
    ];
    deps.push(Instruction::Env(env.clone()));
    deps.push(Instruction::Workdir("/app".into()));
    let mut setup = Vec::new();
    if let Some(tool) = &inst.tool {
        setup.push(format!("pip install --no-cache-dir {tool}"));
    }
    if inst.tool.is_none() {
        setup.push("python -m venv /app/.venv".to_string());
    }
    if !inst.manifests.is_empty() {
        deps.copy(inst.manifests.clone(), "./");
    }
    setup.extend(inst.runtime.iter().cloned());
    deps.run(setup);
    let mut build = Stage::new("deps", "build");
    build.copy(["."], ".");
    let mut build_cmds = inst.after_copy.clone();
    build_cmds.push("python -m compileall -q -x '/\\.venv/' .".to_string());
    build.run(build_cmds);
    let mut test = Stage::new("build", "test");
    test.comment = vec![
        "Test dependencies on top of the build; CI runs the tests and the linter here.".into(),
    ];
    let mut test_cmds = inst.dev.clone();
    if !extra_test_tools.is_empty() {
        test_cmds.push(format!(
            "pip install --no-cache-dir {}",
            extra_test_tools.join(" ")
        ));
    }
    if test_cmds.is_empty() {
        test.comment("The project declares no test dependencies beyond the runtime ones.");
    } else {
        test.run(test_cmds);
    }
    let mut runtime = Stage::new(&base, "runtime");
    runtime.comment =
        vec!["Only the interpreter, the virtualenv and the code: no build tools.".into()];
    runtime.push(Instruction::Env(
        env.iter()
            .filter(|(k, _)| {
                !k.starts_with("PIP_")
                    && !k.starts_with("POETRY")
                    && !k.starts_with("UV_")
                    && !k.starts_with("PDM")
                    && !k.starts_with("PIPENV")
            })
            .cloned()
            .collect(),
    ));
    runtime.push(Instruction::Workdir("/app".into()));
    add_app_user(&mut runtime);
    runtime.push(Instruction::Copy {
        from: Some("build".into()),
        chown: Some("app:app".into()),
        src: vec!["/app".into()],
        dest: "/app".into(),
    });
    let start = svc.commands.start.as_deref().map(strip_runner);
    warnings.extend(finish_runtime(
        ctx,
        &mut runtime,
        "app",
        start.as_deref(),
        &["python", "-c", "print('no start command')"],
    ));
    d.stages = vec![deps, build, test, runtime];

    // CI
    let mut compile = vec![
        "python -m venv .venv".to_string(),
        ". .venv/bin/activate".to_string(),
    ];
    if let Some(tool) = &inst.tool {
        compile.push(format!("pip install {tool}"));
    }
    compile.extend(inst.runtime.iter().cloned());
    compile.extend(inst.after_copy.iter().cloned());
    compile.extend(inst.dev.iter().cloned());
    if !extra_test_tools.is_empty() {
        compile.push(format!("pip install {}", extra_test_tools.join(" ")));
    }
    compile.push("python -m compileall -q -x '/\\.venv/' .".to_string());
    // CI keeps pip's downloads in the job cache; the image build does not.
    let compile: Vec<String> = compile
        .into_iter()
        .map(|c| c.replace(" --no-cache-dir", ""))
        .collect();
    let mut compile_variables = vec![(
        "PIP_CACHE_DIR".to_string(),
        "$CI_PROJECT_DIR/.cache/pip".to_string(),
    )];
    compile_variables.extend(inst.env.iter().cloned());
    let mut tests = vec!["export PATH=\"$APP_DIR/.venv/bin:$PATH\"".to_string()];
    let junit = match svc.test_framework {
        Some(TestFramework::Pytest) => {
            let base_cmd = svc
                .commands
                .test
                .as_deref()
                .map(strip_runner)
                .unwrap_or_else(|| "pytest".into());
            tests.push(format!(
                "{base_cmd} --junitxml=\"$CI_PROJECT_DIR/junit.xml\""
            ));
            Some("junit.xml".to_string())
        }
        _ => {
            match svc.commands.test.as_deref() {
                Some(t) => tests.push(strip_runner(t)),
                None => {
                    warnings.push("no tests were found; the test job only checks that the application imports".into());
                    tests.push("python -m compileall -q -x '/\\.venv/' .".into());
                }
            }
            None
        }
    };
    if svc.framework == Some(Framework::Django) {
        notes.push(
            "Django: tests run with manage.py; the image serves with the detected start command"
                .into(),
        );
    }
    notes.push(format!("linter: {} ({})", lint.tool, lint.why));
    let mut test_setup = vec![
        "python -m venv .venv".to_string(),
        ". .venv/bin/activate".to_string(),
    ];
    if let Some(tool) = &inst.tool {
        test_setup.push(format!("pip install {tool}"));
    }
    test_setup.extend(inst.runtime.iter().cloned());
    test_setup.extend(inst.after_copy.iter().cloned());
    test_setup.extend(inst.dev.iter().cloned());
    test_setup.push("export APP_DIR=\"$PWD\"".into());
    let test_setup: Vec<String> = test_setup
        .into_iter()
        .map(|c| c.replace(" --no-cache-dir", ""))
        .collect();
    Recipe {
        build_image: ("python".into(), tag),
        compile,
        compile_variables,
        test_variables: Vec::new(),
        cache: Some(lock_cache(ctx, &inst.lock, &inst.cache_paths, "python")),
        compile_artifacts: Vec::new(),
        test_setup,
        test: tests,
        junit,
        lint: Some(lint),
        sast: None,
        dockerfile: d,
        dockerignore: dockerignore(&[
            "**/__pycache__",
            "**/*.pyc",
            ".venv",
            "venv",
            ".pytest_cache",
            ".ruff_cache",
            ".mypy_cache",
            ".tox",
            "dist",
            "build",
            "*.egg-info",
        ]),
        sonar_properties: Vec::new(),
        context: None,
        notes,
        warnings,
    }
}
