//! Go: modules are downloaded from `go.mod`/`go.sum` alone in `deps`, the main package is
//! compiled to one static binary (`CGO_ENABLED=0`, `-trimpath`, stripped), and the runtime is
//! distroless (`static-debian12:nonroot`): no shell, no package manager, a fixed non-root user.
//! Modules that need cgo (go-sqlite3, confluent-kafka-go) keep cgo and get glibc from
//! `base-debian12`. golangci-lint, pinned, is copied into the test stage from its official image.

use super::jvm::{resolve, under};
use super::{dockerfile_base, dockerignore, finish_runtime, lock_cache, Lint, Recipe};
use crate::dockerfile::{Instruction, Stage};
use crate::generate::{ServiceContext, Tool};
use crate::index::{file_name, join, parent_dir};
use crate::stack::Role;

/// golangci-lint's two configuration formats: v2 refuses a v1 file and v1 a v2 file, so the
/// configuration's major version chooses the tool (and its flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LintMajor {
    V1,
    V2,
}

/// Per major: the tool image, the report flags and the module `go install` takes.
struct GolangciMajor {
    major: LintMajor,
    tool: Tool,
    report_flags: &'static str,
    module: &'static str,
    /// The newest Go the last release of this major analyses (v1 stopped at Go 1.24).
    max_go: Option<&'static str>,
}

const GOLANGCI_MAJORS: &[GolangciMajor] = &[
    GolangciMajor {
        major: LintMajor::V2,
        tool: Tool::GolangciLint,
        report_flags:
            "--output.checkstyle.path \"$CI_PROJECT_DIR/lint-report.xml\" --output.text.path stdout",
        module: "github.com/golangci/golangci-lint/v2/cmd/golangci-lint",
        max_go: None,
    },
    GolangciMajor {
        major: LintMajor::V1,
        tool: Tool::GolangciLintV1,
        report_flags:
            "--out-format \"checkstyle:$CI_PROJECT_DIR/lint-report.xml,colored-line-number\"",
        module: "github.com/golangci/golangci-lint/cmd/golangci-lint",
        max_go: Some("1.24"),
    },
];

/// The format of a golangci-lint configuration: `version: "2"` (YAML), `version = "2"`
/// (TOML) or `"version": "2"` (JSON) is v2; a file without it is v1.
fn config_major(text: &str) -> LintMajor {
    let v2 = text.lines().any(|line| {
        let line = line.trim().trim_start_matches('"');
        let Some(rest) = line.strip_prefix("version") else {
            return false;
        };
        let value = rest
            .trim_start_matches('"')
            .trim_start()
            .trim_start_matches([':', '='])
            .trim()
            .trim_matches([',', '"', '\''])
            .trim();
        value == "2" || value.starts_with("2.")
    });
    if v2 {
        LintMajor::V2
    } else {
        LintMajor::V1
    }
}

/// golangci-lint configuration files, in the order it looks for them.
const GOLANGCI_CONFIGS: &[&str] = &[
    ".golangci.yml",
    ".golangci.yaml",
    ".golangci.toml",
    ".golangci.json",
];

/// Modules that only work with cgo: the binary then links glibc dynamically.
const CGO_MODULES: &[&str] = &[
    "github.com/mattn/go-sqlite3",
    "github.com/confluentinc/confluent-kafka-go",
];

/// Distroless' `nonroot` user and group.
const NONROOT: &str = "65532:65532";

/// Flags for a small, reproducible release binary.
const BUILD_FLAGS: &str = "-trimpath -ldflags=\"-s -w\"";

/// What `go build` produces for the runtime image.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// One main package (`.` or `./cmd/<name>`): the binary `/app`.
    Main(String),
    /// Several commands under `cmd/`: each binary in `/app/`.
    Commands(Vec<String>),
    /// No main package.
    Library,
}

fn target(ctx: &ServiceContext<'_>) -> Target {
    let build = ctx.service.commands.build.as_deref().unwrap_or("");
    if ctx.service.commands.start.is_some() && build.starts_with("go build -o ") {
        if let Some(pkg) = build.split_whitespace().last() {
            return Target::Main(pkg.to_string());
        }
    }
    let cmd_dir = join(ctx.dir, "cmd");
    let mut names: Vec<String> = ctx
        .index
        .files_under(&cmd_dir)
        .filter(|f| f.name() == "main.go" && parent_dir(f.dir()) == cmd_dir)
        .map(|f| file_name(f.dir()).to_string())
        .collect();
    names.sort();
    names.dedup();
    match names.len() {
        0 => Target::Library,
        1 => Target::Main(format!("./cmd/{}", names[0])),
        _ => Target::Commands(names),
    }
}

/// `a > b` for dotted versions (`1.25.1` against `1.24`).
fn newer_than(a: &str, b: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (a, b) = (parse(a), parse(b));
    a.iter()
        .zip(b.iter())
        .find(|(x, y)| x != y)
        .is_some_and(|(x, y)| x > y)
}

/// The golangci-lint configuration at or above the service folder, if any.
fn golangci_config(ctx: &ServiceContext<'_>) -> Option<String> {
    let mut dir = ctx.dir;
    loop {
        if let Some(f) = GOLANGCI_CONFIGS
            .iter()
            .find(|f| ctx.index.exists(&join(dir, f)))
        {
            return Some(join(dir, f));
        }
        if dir.is_empty() {
            return None;
        }
        dir = parent_dir(dir);
    }
}

/// `go.mod` directives: (required module paths, local `replace` targets).
fn go_mod(text: &str) -> (Vec<String>, Vec<String>) {
    let mut requires = Vec::new();
    let mut replaces = Vec::new();
    let mut block: Option<&str> = None;
    for raw in text.lines() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line == ")" {
            block = None;
            continue;
        }
        let (directive, rest) = match block {
            Some(b) => (b, line),
            None => match line.split_once(char::is_whitespace) {
                Some((d, r)) if r.trim() == "(" => {
                    block = Some(if d == "require" {
                        "require"
                    } else if d == "replace" {
                        "replace"
                    } else {
                        "other"
                    });
                    continue;
                }
                Some((d, r)) => (d, r.trim()),
                None => continue,
            },
        };
        match directive {
            "require" => {
                if let Some(m) = rest.split_whitespace().next() {
                    requires.push(m.to_string());
                }
            }
            "replace" => {
                if let Some((_, to)) = rest.split_once("=>") {
                    let to = to.split_whitespace().next().unwrap_or("");
                    if to.starts_with("./") || to.starts_with("../") {
                        replaces.push(to.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    (requires, replaces)
}

/// The `go.work` above the service that uses it (if any), and why the service's folder alone
/// cannot build in Docker: local replacements outside it, or requirements on other modules
/// of that workspace.
fn outside_needs(ctx: &ServiceContext<'_>) -> (Option<String>, Vec<String>) {
    let Some(text) = ctx.text("go.mod") else {
        return (None, Vec::new());
    };
    let (requires, replaces) = go_mod(text);
    let mut needs: Vec<String> = replaces
        .iter()
        .filter(|to| resolve(ctx.dir, to).is_none_or(|p| under(ctx.dir, &p).is_none()))
        .map(|to| format!("go.mod replaces a module with {to}, outside the service folder"))
        .collect();
    if ctx.dir.is_empty() {
        return (None, needs);
    }
    let mut dir = parent_dir(ctx.dir);
    loop {
        let work_path = join(dir, "go.work");
        if let Some(work) = ctx.index.text(&work_path) {
            // `use ./api`, or one folder per line inside `use ( … )`.
            let used: Vec<String> = work
                .lines()
                .map(|l| l.split("//").next().unwrap_or("").trim())
                .map(|l| l.strip_prefix("use").map(str::trim).unwrap_or(l))
                .filter(|l| l.starts_with('.'))
                .filter_map(|l| resolve(dir, l))
                .collect();
            if !used.iter().any(|u| u == ctx.dir) {
                return (None, needs);
            }
            for module_dir in used.iter().filter(|u| *u != ctx.dir) {
                let module_path = ctx.index.text(&join(module_dir, "go.mod")).and_then(|t| {
                    t.lines()
                        .find_map(|l| l.trim().strip_prefix("module "))
                        .map(|m| m.trim().trim_matches('"').to_string())
                });
                if let Some(m) = module_path.filter(|m| requires.contains(m)) {
                    needs.push(format!(
                        "it requires {m}, a module of the workspace {work_path}, which the service folder does not contain"
                    ));
                }
            }
            return (Some(work_path), needs);
        }
        if dir.is_empty() {
            return (None, needs);
        }
        dir = parent_dir(dir);
    }
}

pub fn recipe(ctx: &ServiceContext<'_>) -> Recipe {
    let svc = ctx.service;
    let version = ctx.runtime.version.clone();
    let tag = format!("{version}-bookworm");
    let go_mod_text = ctx.text("go.mod").unwrap_or("");
    let cgo = CGO_MODULES.iter().find(|m| go_mod_text.contains(*m));
    let target = target(ctx);
    let vendored = ctx.has("vendor/modules.txt");
    let has_sum = ctx.has("go.sum");
    let config = golangci_config(ctx);
    // Without a configuration the current major runs with its default linters.
    let major = config
        .as_deref()
        .and_then(|c| ctx.index.text(c))
        .map(config_major)
        .unwrap_or(LintMajor::V2);
    let golangci = GOLANGCI_MAJORS
        .iter()
        .find(|m| m.major == major)
        .unwrap_or(&GOLANGCI_MAJORS[0]);
    let lint_image = ctx.settings.tools.get(golangci.tool).clone();
    let lint_version = lint_image.tag.clone();
    let mut notes = vec![format!(
        "Go image golang:{tag}; modules downloaded from go.mod{} before the code is copied",
        if has_sum { "/go.sum" } else { "" }
    )];
    let mut warnings = Vec::new();
    if !has_sum
        && go_mod_text
            .lines()
            .any(|l| l.trim_start().starts_with("require"))
    {
        warnings.push("go.sum is not committed: `go build` refuses modules without a checksum, and the build is not reproducible. Run `go mod tidy` and commit go.sum".into());
    }
    let (workspace, needs) = outside_needs(ctx);
    if let (Some(work), true) = (&workspace, needs.is_empty()) {
        notes.push(format!(
            "a module of the workspace {work}; it needs no other workspace module, so its folder builds on its own (the image build does not see go.work; CI's compile job does)"
        ));
    }
    for why in needs {
        warnings.push(format!(
            "the Docker build context is the service folder, but {why}; the image build fails until that module is published or the context includes it"
        ));
    }

    // Dockerfile
    let mut d = dockerfile_base(ctx);
    let mut lint_tool = Stage::new(
        ctx.base_image(&lint_image.image, &lint_version),
        "golangci-lint",
    );
    lint_tool.comment = vec![
        "golangci-lint's official image, only for its binary: copying it into the test stage is"
            .into(),
        "faster than `go install` and does not depend on the project's Go version.".into(),
    ];
    let base = ctx.base_image("golang", &tag);
    let mut deps = Stage::new(&base, "deps");
    deps.comment = vec![
        "Dependencies only, from go.mod and go.sum: this layer is rebuilt only when they change."
            .into(),
    ];
    deps.push(Instruction::Workdir("/app".into()));
    let manifests: Vec<&str> = ["go.mod", "go.sum"]
        .into_iter()
        .filter(|f| ctx.has(f))
        .collect();
    deps.copy(manifests.iter().copied(), "./");
    if vendored {
        deps.comment(
            "The repository vendors its modules: the build uses vendor/, nothing is downloaded.",
        );
        deps.copy(["vendor/"], "vendor/");
    } else {
        deps.run(["go mod download"]);
    }
    let cgo_flag = if cgo.is_some() {
        "CGO_ENABLED=1"
    } else {
        "CGO_ENABLED=0"
    };
    let mut build = Stage::new("deps", "build");
    build.copy(["."], ".");
    let (build_cmd, start, runtime_copy) = match &target {
        Target::Main(pkg) => (
            format!("{cgo_flag} go build {BUILD_FLAGS} -o /out/app {pkg}"),
            Some("/app".to_string()),
            ("/out/app", "/app"),
        ),
        Target::Commands(_) => (
            format!("{cgo_flag} go build {BUILD_FLAGS} -o /out/bin/ ./cmd/..."),
            None,
            ("/out/bin/", "/app/"),
        ),
        Target::Library => ("go build ./...".to_string(), None, ("/app", "/app")),
    };
    if cgo.is_some() {
        build.comment("cgo stays on: a dependency needs it, so the binary links glibc (base-debian12 has it).");
    }
    build.run([build_cmd.clone()]);
    let mut test = Stage::new("build", "test");
    test.comment = vec![
        "The Go toolchain, the downloaded modules and the build cache are already here; CI runs"
            .into(),
        "`go test` and golangci-lint in this image.".into(),
    ];
    test.push(Instruction::Copy {
        from: Some("golangci-lint".into()),
        chown: None,
        src: vec!["/usr/bin/golangci-lint".into()],
        dest: "/usr/local/bin/golangci-lint".into(),
    });
    let (runtime_image, runtime_tag) = match (&target, cgo) {
        (Target::Library, _) => ("distroless/static-debian12", "debug-nonroot"),
        (_, Some(_)) => ("distroless/base-debian12", "nonroot"),
        (_, None) => ("distroless/static-debian12", "nonroot"),
    };
    let mut runtime = Stage::new(ctx.base_image(runtime_image, runtime_tag), "runtime");
    runtime.comment = vec![match &target {
        Target::Library => "A library has no binary: the image holds the module's source and a shell from the debug variant, for a harmless CMD.".into(),
        _ => "Distroless: the binary, CA certificates and time zones; no shell, no package manager.".into(),
    }];
    runtime.comment.extend([
        "It runs as the image's own unprivileged `nonroot` user (65532), by number so that".into(),
        "Kubernetes' runAsNonRoot can verify it.".into(),
    ]);
    runtime.push(Instruction::Copy {
        from: Some("build".into()),
        chown: None,
        src: vec![runtime_copy.0.to_string()],
        dest: runtime_copy.1.to_string(),
    });
    let fallback: Vec<String> = match &target {
        Target::Commands(names) => vec![format!("/app/{}", names[0])],
        _ => vec!["true".to_string()],
    };
    let fallback_refs: Vec<&str> = fallback.iter().map(String::as_str).collect();
    warnings.extend(finish_runtime(
        ctx,
        &mut runtime,
        NONROOT,
        start.as_deref(),
        &fallback_refs,
    ));
    d.stages = vec![lint_tool, deps, build, test, runtime];
    notes.push(match (&target, cgo) {
        (Target::Main(pkg), None) => format!(
            "builds {pkg} into one static binary (CGO_ENABLED=0, -trimpath, stripped); runtime distroless/static-debian12:nonroot runs it as /app"
        ),
        (Target::Main(pkg), Some(m)) => format!(
            "builds {pkg} with cgo ({m} needs it); runtime distroless/base-debian12:nonroot, which has glibc, runs it as /app"
        ),
        (Target::Commands(names), _) => format!(
            "several commands under cmd/ ({}): each is built into /app/; the CMD starts {} until you choose",
            names.join(", "),
            names[0]
        ),
        (Target::Library, _) => "no main package: a library; the image only carries its source. Go modules are published by tagging a release, not as images".into(),
    });
    if svc.role == Role::Library && !matches!(target, Target::Library) {
        notes.push("the analyzer sees a library, but a main package is built and run".into());
    }

    // CI
    let gomod_cache = join(ctx.dir, ".go/pkg/mod");
    let gocache = join(ctx.dir, ".cache/go-build");
    let compile_variables = vec![
        (
            "GOMODCACHE".to_string(),
            format!("$CI_PROJECT_DIR/{gomod_cache}"),
        ),
        ("GOCACHE".to_string(), format!("$CI_PROJECT_DIR/{gocache}")),
    ];
    let mut compile = vec!["go mod download".to_string()];
    compile.push(
        svc.commands
            .build
            .clone()
            .unwrap_or_else(|| "go build ./...".to_string()),
    );
    if svc.test_framework.is_some() {
        // Compiles the test packages too, without running them: fast feedback before the image.
        compile.push("go test -run '^$' ./...".to_string());
    }
    let compile_artifacts = match &target {
        Target::Main(_)
            if svc
                .commands
                .build
                .as_deref()
                .is_some_and(|b| b.contains(" -o bin/")) =>
        {
            vec!["bin/".to_string()]
        }
        _ => Vec::new(),
    };
    let test_cmd = svc
        .commands
        .test
        .clone()
        .unwrap_or_else(|| "go test ./...".to_string());
    if svc.commands.test.is_none() {
        warnings.push("no *_test.go files were found; the test job runs `go test ./...`, which only checks that every package compiles".into());
    }
    notes.push(format!(
        "tests: `{test_cmd}` in the test image; no JUnit report (go test writes none without go-junit-report or gotestsum, which the project does not use)"
    ));
    let timeout = if config.is_none() {
        " --timeout 5m"
    } else {
        ""
    };
    let lint = Lint {
        tool: "golangci-lint".into(),
        command: format!("golangci-lint run {}{timeout}", golangci.report_flags),
        report: "lint-report.xml".into(),
        sonar_property: Some("sonar.go.golangci-lint.reportPaths".into()),
        enforced: config.is_some(),
        why: match &config {
            Some(c) => format!("golangci-lint is configured by {c}, so it is enforced"),
            None => {
                "the project does not configure golangci-lint, so its default linters are advisory"
                    .into()
            }
        },
    };
    notes.push(format!(
        "linter: golangci-lint {lint_version} ({}{}); checkstyle report for SonarQube",
        match (&config, major) {
            (Some(c), LintMajor::V1) => format!("{c} is a v1 configuration (no `version: \"2\"`), which golangci-lint v2 refuses, so v1 runs; "),
            (Some(c), LintMajor::V2) => format!("{c} is a v2 configuration, so v2 runs; "),
            (None, _) => String::new(),
        },
        lint.why
    ));
    if let Some(max) = golangci.max_go.filter(|max| newer_than(&version, max)) {
        warnings.push(format!(
            "golangci-lint v1 analyses Go up to {max}, and the project uses Go {version}: migrate the configuration with `golangci-lint migrate` so that v2 runs"
        ));
    }
    let test_setup = vec![
        "go mod download".to_string(),
        format!(
            "GOTOOLCHAIN=auto go install {}@{lint_version}",
            golangci.module
        ),
        "export APP_DIR=\"$PWD\"".to_string(),
    ];

    Recipe {
        build_image: ("golang".into(), tag),
        compile,
        compile_variables,
        test_variables: Vec::new(),
        cache: Some(lock_cache(
            ctx,
            &["go.sum", "go.mod"],
            &[".go/pkg/mod", ".cache/go-build"],
            "go",
        )),
        compile_artifacts,
        test_setup,
        test: vec![test_cmd],
        junit: None,
        lint: Some(lint),
        sast: None,
        dockerfile: d,
        dockerignore: dockerignore(&["bin", ".go", ".cache", "*.test", "*.out"]),
        sonar_properties: Vec::new(),
        context: None,
        notes,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::super::jvm::tests::{index, service, with_ctx};
    use super::*;
    use crate::stack::{BuildTool, Language};

    #[test]
    fn the_configuration_format_chooses_the_golangci_major() {
        assert_eq!(
            config_major("version: \"2\"\nlinters:\n  default: standard\n"),
            LintMajor::V2
        );
        assert_eq!(config_major("version: 2\n"), LintMajor::V2);
        assert_eq!(config_major("version = \"2\"\n"), LintMajor::V2);
        assert_eq!(
            config_major("{\n  \"version\": \"2\",\n  \"linters\": {}\n}"),
            LintMajor::V2
        );
        assert_eq!(
            config_major("linters:\n  enable:\n    - gofmt\n"),
            LintMajor::V1
        );
        assert_eq!(config_major("run:\n  go: \"1.22\"\n"), LintMajor::V1);
    }

    #[test]
    fn go_versions_compare_by_number() {
        assert!(newer_than("1.25.1", "1.24"));
        assert!(!newer_than("1.24.2", "1.24"));
        assert!(!newer_than("1.9", "1.24"));
    }

    #[test]
    fn the_main_package_comes_from_the_build_command_or_cmd() {
        let i = index(&[
            ("go.mod", "module x\n"),
            ("cmd/a/main.go", "package main"),
            ("cmd/b/main.go", "package main"),
        ]);
        let mut svc = service(".", Language::Go, BuildTool::Go);
        let t = with_ctx(&svc, &i, "go", "1.23", target);
        assert_eq!(t, Target::Commands(vec!["a".into(), "b".into()]));
        svc.commands.build = Some("go build -o bin/a ./cmd/a".into());
        svc.commands.start = Some("./bin/a".into());
        let t = with_ctx(&svc, &i, "go", "1.23", target);
        assert_eq!(t, Target::Main("./cmd/a".into()));
    }

    #[test]
    fn workspace_siblings_and_outside_replacements_are_reported() {
        let i = index(&[
            ("go.work", "go 1.22\n\nuse (\n\t./api\n\t./shared\n)\n"),
            (
                "api/go.mod",
                "module ex/api\n\nrequire (\n\tex/shared v0.0.0\n)\nreplace ex/tools => ../tools\n",
            ),
            ("shared/go.mod", "module ex/shared\n"),
        ]);
        let svc = service("api", Language::Go, BuildTool::Go);
        let (work, why) = with_ctx(&svc, &i, "go", "1.22", outside_needs);
        assert_eq!(work.as_deref(), Some("go.work"));
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(why[0].contains("../tools"));
        assert!(why[1].contains("ex/shared"));
    }

    #[test]
    fn cgo_modules_keep_cgo_and_glibc() {
        let i = index(&[
            (
                "go.mod",
                "module x\n\nrequire github.com/mattn/go-sqlite3 v1.14.22\n",
            ),
            ("go.sum", ""),
            ("main.go", "package main"),
        ]);
        let mut svc = service(".", Language::Go, BuildTool::Go);
        svc.commands.build = Some("go build -o bin/x .".into());
        svc.commands.start = Some("./bin/x".into());
        let r = with_ctx(&svc, &i, "go", "1.23.1", recipe);
        let text = r.dockerfile.render();
        assert!(text.contains("CGO_ENABLED=1 go build"));
        assert!(text.contains("distroless/base-debian12:nonroot AS runtime"));
        assert!(text.contains("USER 65532:65532\nCMD [\"/app\"]"));
    }
}
