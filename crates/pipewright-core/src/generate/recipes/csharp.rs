//! C# (.NET): `deps` restores NuGet packages from the solution, the project files and the
//! MSBuild/NuGet settings alone (folders kept), `build` publishes the application project, the
//! test stage builds the test projects, and the runtime is `dotnet/aspnet` (web) or
//! `dotnet/runtime` running the published dll as an unprivileged user. Images come from
//! mcr.microsoft.com through the team's registry; the SDK follows `global.json` when it pins one.

use super::jvm::{common_ancestor, copy_grouped, depth, member_note, relative_to, resolve, under};
use super::{
    add_app_user, dockerfile_base, dockerignore, finish_runtime, lock_cache, Lint, Recipe,
};
use crate::detect::jvm::xml::{self, Element};
use crate::dockerfile::{Instruction, Stage};
use crate::generate::ServiceContext;
use crate::index::{file_name, join, parent_dir, RepoIndex};
use crate::stack::{Framework, Role};

/// Files MSBuild, NuGet and the SDK read from a project's folder and every folder above it.
const SETTINGS_FILES: &[&str] = &[
    "Directory.Build.props",
    "Directory.Build.targets",
    "Directory.Packages.props",
    "global.json",
    "nuget.config",
    "NuGet.Config",
    "NuGet.config",
];

/// How far each `global.json` roll-forward policy lets the SDK move from the pinned version:
/// `Band` needs the pinned feature band (an exact SDK image), `Line` any band of the pinned
/// major.minor, `Major` any minor of the pinned major, `Any` any newer SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Roll {
    Band,
    Line,
    Major,
    Any,
}

const ROLL_FORWARD: &[(&str, Roll)] = &[
    ("disable", Roll::Band),
    ("patch", Roll::Band),
    ("latestPatch", Roll::Band),
    ("feature", Roll::Line),
    ("latestFeature", Roll::Line),
    ("minor", Roll::Major),
    ("latestMinor", Roll::Major),
    ("major", Roll::Any),
    ("latestMajor", Roll::Any),
];

/// The unprivileged user .NET 8+ images define (`app`, `$APP_UID`).
const DOTNET_APP_UID: &str = "1654";

/// The JUnit logger a test project may reference; without it `dotnet test` writes no JUnit.
const JUNIT_LOGGER: &str = "JunitXml.TestLogger";

/// What the recipe needs from one `.csproj`.
#[derive(Debug, Clone, Default, PartialEq)]
struct Project {
    /// Root-relative path.
    path: String,
    sdk: String,
    /// Every target framework (`net8.0`), in order.
    frameworks: Vec<String>,
    packages: Vec<String>,
    references: Vec<String>,
    is_test: bool,
}

impl Project {
    fn parse(index: &RepoIndex, path: &str) -> Project {
        let mut p = Project {
            path: path.to_string(),
            ..Project::default()
        };
        let Some(root) = index.text(path).and_then(|t| xml::parse(t).ok()) else {
            return p;
        };
        p.sdk = root.attr("Sdk").unwrap_or("").to_string();
        p.frameworks = frameworks(&root);
        let mut test_flag = false;
        for group in root.children_named("PropertyGroup") {
            if group
                .child_text("IsTestProject")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            {
                test_flag = true;
            }
        }
        for group in root.children_named("ItemGroup") {
            for item in &group.children {
                let Some(include) = item.attr("Include") else {
                    continue;
                };
                match item.name.as_str() {
                    "PackageReference" => p.packages.push(include.to_string()),
                    "ProjectReference" => {
                        if let Some(r) = resolve(parent_dir(path), include) {
                            p.references.push(r);
                        }
                    }
                    _ => {}
                }
            }
        }
        let has = |name: &str| p.packages.iter().any(|x| x.eq_ignore_ascii_case(name));
        p.is_test = test_flag
            || p.sdk.starts_with("MSTest.Sdk")
            || has("Microsoft.NET.Test.Sdk")
            || has("xunit")
            || has("NUnit")
            || has("MSTest.TestFramework");
        p
    }

    fn dir(&self) -> &str {
        parent_dir(&self.path)
    }

    fn multi_targeted(&self) -> bool {
        self.frameworks.len() > 1
    }
}

/// The target frameworks an MSBuild file sets (`TargetFramework` or `TargetFrameworks`).
fn frameworks(root: &Element) -> Vec<String> {
    root.children_named("PropertyGroup")
        .flat_map(|g| {
            ["TargetFramework", "TargetFrameworks"]
                .into_iter()
                .filter_map(|k| g.child_text(k))
                .collect::<Vec<_>>()
        })
        .flat_map(|v| {
            v.split(';')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// `net8.0` → (8, 0); other frameworks (`netstandard2.0`, `net48`) → `None`.
fn framework_version(tfm: &str) -> Option<(u32, u32)> {
    let rest = tfm.strip_prefix("net")?;
    let (major, minor) = rest.split('-').next()?.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The projects a solution lists, root-relative.
fn solution_projects(index: &RepoIndex, sln: &str) -> Vec<String> {
    let dir = parent_dir(sln);
    let Some(text) = index.text(sln) else {
        return Vec::new();
    };
    let listed: Vec<String> = if sln.ends_with(".slnx") {
        match xml::parse(text) {
            Ok(root) => {
                let mut found = Vec::new();
                root.descendants("Project", &mut found);
                found
                    .iter()
                    .filter_map(|p| p.attr("Path"))
                    .map(String::from)
                    .collect()
            }
            Err(_) => Vec::new(),
        }
    } else {
        text.lines()
            .filter(|l| l.trim_start().starts_with("Project("))
            .filter_map(|l| l.split('"').nth(5).map(String::from))
            .collect()
    };
    listed
        .iter()
        .filter(|p| p.ends_with(".csproj"))
        .filter_map(|p| resolve(dir, p))
        .filter(|p| index.exists(p))
        .collect()
}

/// The projects the service builds, the solution (if any) and the project that runs.
#[derive(Debug, Clone, PartialEq)]
struct Scope {
    solution: Option<String>,
    projects: Vec<Project>,
    main: Option<Project>,
}

impl Scope {
    fn of(ctx: &ServiceContext<'_>) -> Scope {
        let index = ctx.index;
        let mut local: Vec<&str> = index.files_in(ctx.dir).map(|f| f.path.as_str()).collect();
        local.sort_unstable();
        let solution = local
            .iter()
            .find(|f| (f.ends_with(".sln") || f.ends_with(".slnx")) && crate::quote::portable(f))
            .map(|s| s.to_string());
        let mut paths: Vec<String> = match &solution {
            Some(sln) => solution_projects(index, sln),
            None => Vec::new(),
        };
        if paths.is_empty() {
            paths = local
                .iter()
                .filter(|f| f.ends_with(".csproj"))
                .map(|s| s.to_string())
                .collect();
            // Test projects elsewhere that reference these projects test this service.
            let own = paths.clone();
            for f in index
                .files()
                .iter()
                .filter(|f| f.name().ends_with(".csproj"))
            {
                if own.contains(&f.path) {
                    continue;
                }
                let names_ours = index
                    .text(&f.path)
                    .is_some_and(|t| own.iter().any(|o| t.contains(file_name(o))));
                if names_ours {
                    let p = Project::parse(index, &f.path);
                    if p.is_test && p.references.iter().any(|r| own.contains(r)) {
                        paths.push(f.path.clone());
                    }
                }
            }
        }
        // Referenced projects are restored and built too, wherever they live.
        let mut projects: Vec<Project> = Vec::new();
        let mut queue = paths;
        while let Some(path) = queue.pop() {
            // Project paths go into `dotnet` commands and COPY lines unquoted: a name a shell
            // or Dockerfile reads as syntax (`a\nb.csproj`, `x;y.csproj`) is never one of them.
            if projects.iter().any(|p| p.path == path)
                || !index.exists(&path)
                || !crate::quote::portable(&path)
            {
                continue;
            }
            let p = Project::parse(index, &path);
            queue.extend(p.references.iter().cloned());
            projects.push(p);
        }
        projects.sort_by(|a, b| a.path.cmp(&b.path));
        let started = ctx
            .service
            .evidence
            .iter()
            .find(|e| {
                e.conclusion == "command"
                    && e.detail.starts_with("start: ")
                    && e.file.ends_with(".csproj")
            })
            .map(|e| e.file.clone());
        let main = started
            .and_then(|m| projects.iter().find(|p| p.path == m))
            .or_else(|| {
                projects
                    .iter()
                    .find(|p| !p.is_test && under(ctx.dir, &p.path).is_some())
            })
            .or_else(|| projects.iter().find(|p| !p.is_test))
            .cloned();
        Scope {
            solution,
            projects,
            main,
        }
    }

    fn tests(&self) -> impl Iterator<Item = &Project> {
        self.projects.iter().filter(|p| p.is_test)
    }

    /// What `dotnet restore` and `dotnet build` are given: the solution, else the projects
    /// that reference the others (the main project and each test project).
    fn restore_targets(&self) -> Vec<String> {
        if let Some(s) = &self.solution {
            return vec![s.clone()];
        }
        let mut out: Vec<String> = self.main.iter().map(|m| m.path.clone()).collect();
        out.extend(self.tests().map(|t| t.path.clone()));
        out
    }

    /// What `dotnet test` is given.
    fn test_targets(&self) -> Vec<String> {
        match &self.solution {
            Some(s) if self.tests().next().is_some() => vec![s.clone()],
            _ => self.tests().map(|t| t.path.clone()).collect(),
        }
    }
}

/// Every settings file MSBuild, NuGet or the SDK would read for these projects: found in each
/// project's folder and every folder above it, root-relative.
fn settings_files(index: &RepoIndex, dirs: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for start in dirs {
        let mut dir = *start;
        loop {
            for name in SETTINGS_FILES {
                let path = join(dir, name);
                if index.exists(&path) && !out.contains(&path) {
                    out.push(path);
                }
            }
            if dir.is_empty() {
                break;
            }
            dir = parent_dir(dir);
        }
    }
    out.sort();
    out
}

/// The SDK image tag: the exact version `global.json` pins when its roll-forward policy
/// needs that feature band, else the newest `X.Y` among the runtime and the projects' targets.
fn sdk_tag(ctx: &ServiceContext<'_>, scope: &Scope) -> (String, Option<String>) {
    let mut newest = framework_version(&format!("net{}", ctx.runtime.version)).unwrap_or((8, 0));
    for p in &scope.projects {
        for tfm in &p.frameworks {
            if let Some(v) = framework_version(tfm) {
                newest = newest.max(v);
            }
        }
    }
    let line = format!("{}.{}", newest.0, newest.1);
    let mut dir = ctx.dir;
    let global = loop {
        let path = join(dir, "global.json");
        if let Some(text) = ctx.index.text(&path) {
            break Some((path, text));
        }
        if dir.is_empty() {
            break None;
        }
        dir = parent_dir(dir);
    };
    let Some((path, text)) = global else {
        return (line, None);
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
        return (line, None);
    };
    let sdk = &json["sdk"];
    let Some(version) = sdk["version"].as_str() else {
        return (line, None);
    };
    // `latestPatch` is the SDK's default policy.
    let roll_name = sdk["rollForward"].as_str().unwrap_or("latestPatch");
    let roll = ROLL_FORWARD
        .iter()
        .find(|(n, _)| *n == roll_name)
        .map(|(_, r)| *r)
        .unwrap_or(Roll::Band);
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let pinned = parts.next().flatten().zip(parts.next().flatten());
    let tag = match (roll, pinned) {
        (Roll::Band, _) | (_, None) => version.to_string(),
        (Roll::Line, Some((ma, mi))) => format!("{ma}.{mi}"),
        (Roll::Major, Some((ma, mi))) if newest.0 != ma || newest.1 < mi => format!("{ma}.{mi}"),
        (Roll::Any, Some(p)) if p > newest => format!("{}.{}", p.0, p.1),
        _ => line,
    };
    (
        tag.clone(),
        Some(format!(
            "{path} pins SDK {version} with rollForward {roll_name}: the SDK image is {tag}"
        )),
    )
}

/// The `.editorconfig` at or above the service folder, if any.
fn editorconfig(ctx: &ServiceContext<'_>) -> Option<String> {
    let mut dir = ctx.dir;
    loop {
        let path = join(dir, ".editorconfig");
        if ctx.index.exists(&path) {
            return Some(path);
        }
        if dir.is_empty() {
            return None;
        }
        dir = parent_dir(dir);
    }
}

pub fn recipe(ctx: &ServiceContext<'_>) -> Recipe {
    let svc = ctx.service;
    let version = ctx.runtime.version.clone();
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(8);
    let scope = Scope::of(ctx);
    let web = svc.framework == Some(Framework::AspNetCore);
    let mut notes = Vec::new();
    let mut warnings = Vec::new();

    // The Docker build context: every project and settings file the build reads.
    let project_dirs: Vec<&str> = scope.projects.iter().map(|p| p.dir()).collect();
    let mut settings = settings_files(ctx.index, &project_dirs);
    if let Some(s) = &scope.solution {
        settings.push(s.clone());
    }
    let mut context_dir = None;
    let mut root = ctx.dir.to_string();
    for path in project_dirs
        .iter()
        .map(|d| d.to_string())
        .chain(settings.iter().map(|s| parent_dir(s).to_string()))
    {
        root = common_ancestor(&root, &path);
    }
    let rel = |path: &str| under(&root, path).unwrap_or(path).to_string();
    if root != ctx.dir {
        let outside: Vec<String> = scope
            .projects
            .iter()
            .map(|p| p.path.clone())
            .chain(settings.iter().cloned())
            .filter(|p| under(ctx.dir, p).is_none())
            .collect();
        let context = if root.is_empty() {
            ".".to_string()
        } else {
            root.clone()
        };
        context_dir = Some(root.clone());
        notes.push(member_note(
            ctx.dir,
            &context,
            &format!(
                "built with files outside its folder ({})",
                outside.join(", ")
            ),
        ));
    }

    let (sdk, sdk_why) = sdk_tag(ctx, &scope);
    let runtime_image = if web {
        "dotnet/aspnet"
    } else {
        "dotnet/runtime"
    };
    notes.push(format!(
        "SDK image mcr.microsoft.com/dotnet/sdk:{sdk}{}; runtime {runtime_image}:{version} ({})",
        sdk_why.map(|w| format!(" ({w})")).unwrap_or_default(),
        if web {
            "ASP.NET Core"
        } else {
            "no web framework"
        }
    ));
    if major < 8 {
        warnings.push(format!(
            ".NET {version} is out of support: its images get no security fixes, so Trivy may fail the pipeline. Move to .NET 8 or later"
        ));
    }

    // Dockerfile
    let mut d = dockerfile_base(ctx);
    let mut deps = Stage::new(ctx.base_image("dotnet/sdk", &sdk), "deps");
    deps.comment = vec![
        "Packages only, from the solution, the project files and the MSBuild/NuGet settings".into(),
        "(folders kept): this layer is rebuilt only when they change.".into(),
    ];
    deps.push(Instruction::Workdir("/app".into()));
    let mut manifests: Vec<String> = settings.iter().map(|s| rel(s)).collect();
    for p in &scope.projects {
        manifests.push(rel(&p.path));
        let lock = join(p.dir(), "packages.lock.json");
        if ctx.index.exists(&lock) {
            manifests.push(rel(&lock));
        }
    }
    manifests.sort();
    manifests.dedup();
    copy_grouped(&mut deps, &manifests);
    let restore_targets: Vec<String> = scope.restore_targets().iter().map(|t| rel(t)).collect();
    if restore_targets.is_empty() {
        warnings.push(
            "no project file was found for this service; the Dockerfile restores nothing".into(),
        );
    }
    deps.run(
        restore_targets
            .iter()
            .map(|t| format!("dotnet restore {t}"))
            .collect::<Vec<_>>(),
    );

    let mut build = Stage::new("deps", "build");
    build.copy(["."], ".");
    let main_rel = scope.main.as_ref().map(|m| rel(&m.path));
    let framework_arg = scope
        .main
        .as_ref()
        .filter(|m| m.multi_targeted())
        .and_then(|m| m.frameworks.first())
        .map(|f| format!(" -f {f}"))
        .unwrap_or_default();
    match &main_rel {
        Some(m) => {
            build.run([format!(
                "dotnet publish {m} -c Release{framework_arg} -o /out/publish --no-restore"
            )]);
        }
        None => {
            build.comment("No project to publish was found.");
        }
    }
    if !framework_arg.is_empty() {
        notes.push(format!(
            "the project targets several frameworks; it is published for the first ({})",
            framework_arg.trim_start_matches(" -f ")
        ));
    }
    let test_targets: Vec<String> = scope.test_targets().iter().map(|t| rel(t)).collect();
    let mut test = Stage::new("build", "test");
    if test_targets.is_empty() {
        test.comment = vec![
            "No test project: CI builds the solution in this image instead of testing it.".into(),
        ];
    } else {
        test.comment = vec![
            "Builds the test projects (their packages were restored in deps); CI runs `dotnet test`".into(),
            "and `dotnet format` here.".into(),
        ];
        test.run(
            test_targets
                .iter()
                .map(|t| format!("dotnet build {t} -c Release --no-restore"))
                .collect::<Vec<_>>(),
        );
    }

    let mut runtime = Stage::new(ctx.base_image(runtime_image, &version), "runtime");
    runtime.comment =
        vec!["The .NET runtime and the published application only: no SDK, no sources.".into()];
    if major >= 8 {
        runtime.comment.extend([
            "It runs as the image's own unprivileged `app` user (uid 1654), by number so that"
                .into(),
            "Kubernetes' runAsNonRoot can verify it.".into(),
        ]);
    }
    if web {
        let port = svc.port.unwrap_or(8080);
        let env = if major >= 8 {
            ("ASPNETCORE_HTTP_PORTS".to_string(), port.to_string())
        } else {
            ("ASPNETCORE_URLS".to_string(), format!("http://+:{port}"))
        };
        runtime.comment(format!(
            "Kestrel listens on {port}{}.",
            if svc.port.is_some() {
                ", the port the project uses"
            } else {
                " (no port was found; an unprivileged user cannot bind 80)"
            }
        ));
        runtime.push(Instruction::Env(vec![env]));
        if svc.port.is_none() {
            runtime.push(Instruction::Expose(port));
        }
    }
    runtime.push(Instruction::Workdir("/app".into()));
    let user = if major >= 8 {
        DOTNET_APP_UID.to_string()
    } else {
        add_app_user(&mut runtime);
        "app".to_string()
    };
    runtime.push(Instruction::Copy {
        from: Some("build".into()),
        chown: None,
        src: vec!["/out/publish".into()],
        dest: "/app".into(),
    });
    warnings.extend(finish_runtime(
        ctx,
        &mut runtime,
        &user,
        svc.commands.start.as_deref(),
        &["dotnet", "--info"],
    ));
    d.stages = vec![deps, build, test, runtime];
    if let Some(m) = &main_rel {
        notes.push(match svc.commands.start.as_deref() {
            Some(s) => format!("publishes {m}; the image starts it with `{s}` in /app"),
            None => format!(
                "{m} is a library: the image only carries its published assemblies. Publish libraries to a NuGet feed (dotnet pack) separately"
            ),
        });
    }
    if svc.role == Role::Library && svc.commands.start.is_some() {
        notes.push("the analyzer sees a library, but the project is executable".into());
    }

    // CI: commands run in the service folder, so paths are given from there.
    let from_service = |path: &str| relative_to(ctx.dir, path);
    let ci_targets: Vec<String> = scope
        .restore_targets()
        .iter()
        .map(|t| from_service(t))
        .collect();
    let mut compile: Vec<String> = ci_targets
        .iter()
        .map(|t| format!("dotnet restore {t}"))
        .collect();
    compile.extend(
        ci_targets
            .iter()
            .map(|t| format!("dotnet build {t} -c Release --no-restore")),
    );
    if compile.is_empty() {
        compile = [svc.commands.install.clone(), svc.commands.build.clone()]
            .into_iter()
            .flatten()
            .collect();
    }
    let nuget = join(ctx.dir, ".nuget/packages");
    let mut keys: Vec<String> = vec![
        "packages.lock.json".into(),
        "Directory.Packages.props".into(),
    ];
    keys.extend(
        scope
            .projects
            .iter()
            .filter_map(|p| under(ctx.dir, &p.path).map(String::from)),
    );
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();

    let junit_logger = scope.tests().any(|t| {
        t.packages
            .iter()
            .any(|p| p.eq_ignore_ascii_case(JUNIT_LOGGER))
    });
    let logger = if junit_logger {
        " --logger \"junit;LogFilePath=$CI_PROJECT_DIR/junit/{assembly}.xml\""
    } else {
        ""
    };
    let mut tests: Vec<String> = test_targets
        .iter()
        .map(|t| format!("dotnet test {t} -c Release --no-restore{logger}"))
        .collect();
    if tests.is_empty() {
        warnings.push("no test project was found; the test job only builds the code".into());
        tests = restore_targets
            .iter()
            .map(|t| format!("dotnet build {t} -c Release --no-restore"))
            .collect();
    }
    let junit = (junit_logger && !test_targets.is_empty()).then(|| "junit/*.xml".to_string());
    notes.push(if junit.is_some() {
        format!("tests: `dotnet test` with the {JUNIT_LOGGER} the test projects reference, writing junit/*.xml for GitLab")
    } else {
        format!("tests: `dotnet test`; no JUnit report, because no test project references {JUNIT_LOGGER} (add it to get one)")
    });
    let lint_target = scope
        .solution
        .as_deref()
        .map(&rel)
        .or(main_rel.clone())
        .unwrap_or_else(|| ".".to_string());
    let editorconfig = editorconfig(ctx);
    let lint = Lint {
        tool: "dotnet format".into(),
        command: format!(
            "dotnet format {lint_target} --verify-no-changes --no-restore --report \"$CI_PROJECT_DIR\""
        ),
        report: "format-report.json".into(),
        sonar_property: None,
        enforced: editorconfig.is_some(),
        why: match &editorconfig {
            Some(e) => format!("{e} sets the code style, so dotnet format is enforced"),
            None => "no .editorconfig sets the code style, so dotnet format's findings are advisory".into(),
        },
    };
    notes.push(format!(
        "linter: dotnet format --verify-no-changes ({}); its JSON report is kept (SonarQube has no import for it)",
        lint.why
    ));
    let mut test_setup = Vec::new();
    let up = depth(ctx.dir).saturating_sub(depth(&root));
    if up > 0 {
        test_setup.push(format!("cd {}", "../".repeat(up)));
    }
    test_setup.extend(
        restore_targets
            .iter()
            .map(|t| format!("dotnet restore {t}")),
    );
    test_setup.push("export APP_DIR=\"$PWD\"".into());

    Recipe {
        build_image: ("dotnet/sdk".into(), sdk),
        compile,
        compile_variables: vec![(
            "NUGET_PACKAGES".to_string(),
            format!("$CI_PROJECT_DIR/{nuget}"),
        )],
        test_variables: Vec::new(),
        cache: Some(lock_cache(ctx, &key_refs, &[".nuget/packages"], "nuget")),
        compile_artifacts: Vec::new(),
        test_setup,
        test: tests,
        junit,
        lint: Some(lint),
        sast: None,
        dockerfile: d,
        dockerignore: dockerignore(&[
            "**/bin",
            "**/obj",
            ".nuget",
            "**/TestResults",
            "publish",
            ".vs",
            "*.user",
        ]),
        sonar_properties: Vec::new(),
        context: context_dir,
        notes,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::super::jvm::tests::{index, service, with_ctx};
    use super::*;
    use crate::stack::{BuildTool, Evidence, Language};

    const WEB: &str = "<Project Sdk=\"Microsoft.NET.Sdk.Web\"><PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup></Project>";

    #[test]
    fn global_json_decides_the_sdk_tag() {
        let files = |roll: &str| {
            vec![
                ("Api.csproj", WEB.to_string()),
                (
                    "global.json",
                    format!("{{\"sdk\":{{\"version\":\"8.0.204\"{roll}}}}}"),
                ),
            ]
        };
        let svc = service(".", Language::CSharp, BuildTool::Dotnet);
        for (roll, want) in [
            ("", "8.0.204"),
            (",\"rollForward\":\"latestFeature\"", "8.0"),
            (",\"rollForward\":\"disable\"", "8.0.204"),
            (",\"rollForward\":\"latestMajor\"", "8.0"),
            (",\"rollForward\":\"latestMinor\"", "8.0"),
        ] {
            let f = files(roll);
            let refs: Vec<(&str, &str)> = f.iter().map(|(a, b)| (*a, b.as_str())).collect();
            let i = index(&refs);
            let tag = with_ctx(&svc, &i, "dotnet", "8.0", |c| sdk_tag(c, &Scope::of(c)).0);
            assert_eq!(tag, want, "{roll}");
        }
    }

    #[test]
    fn the_sdk_is_new_enough_for_every_project() {
        let i = index(&[
            ("App.sln", "Project(\"{F}\") = \"Api\", \"Api\\Api.csproj\", \"{1}\"\nProject(\"{F}\") = \"T\", \"T\\T.csproj\", \"{2}\"\n"),
            ("Api/Api.csproj", WEB),
            ("T/T.csproj", "<Project Sdk=\"Microsoft.NET.Sdk\"><PropertyGroup><TargetFrameworks>net9.0;net8.0</TargetFrameworks></PropertyGroup><ItemGroup><PackageReference Include=\"xunit\"/><ProjectReference Include=\"..\\Api\\Api.csproj\"/></ItemGroup></Project>"),
        ]);
        let svc = service(".", Language::CSharp, BuildTool::Dotnet);
        let (scope, tag) = with_ctx(&svc, &i, "dotnet", "8.0", |c| {
            let s = Scope::of(c);
            let t = sdk_tag(c, &s).0;
            (s, t)
        });
        assert_eq!(tag, "9.0");
        assert_eq!(scope.restore_targets(), vec!["App.sln"]);
        assert_eq!(
            scope.main.map(|m| m.path).as_deref(),
            Some("Api/Api.csproj")
        );
    }

    #[test]
    fn a_project_with_settings_above_it_builds_from_there() {
        let i = index(&[
            ("Directory.Build.props", "<Project><PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup></Project>"),
            ("src/W/W.csproj", "<Project Sdk=\"Microsoft.NET.Sdk.Worker\"></Project>"),
            ("tests/W.Tests/W.Tests.csproj", "<Project Sdk=\"Microsoft.NET.Sdk\"><ItemGroup><PackageReference Include=\"NUnit\"/><PackageReference Include=\"JunitXml.TestLogger\"/><ProjectReference Include=\"../../src/W/W.csproj\"/></ItemGroup></Project>"),
        ]);
        let mut svc = service("src/W", Language::CSharp, BuildTool::Dotnet);
        svc.commands.start = Some("dotnet W.dll".into());
        svc.evidence.push(Evidence::new(
            "command",
            "src/W/W.csproj",
            "start: dotnet W.dll, run in …",
        ));
        let r = with_ctx(&svc, &i, "dotnet", "8.0", recipe);
        let text = r.dockerfile.render();
        assert!(text.contains("COPY Directory.Build.props ./\nCOPY src/W/W.csproj src/W/\nCOPY tests/W.Tests/W.Tests.csproj tests/W.Tests/\n"), "{text}");
        assert!(
            text.contains("dotnet publish src/W/W.csproj -c Release -o /out/publish --no-restore")
        );
        assert!(text.contains("FROM ${BASE_REGISTRY}/apm-repo/demo/dotnet/runtime:8.0 AS runtime"));
        assert!(text.contains("USER 1654\nCMD [\"dotnet\", \"W.dll\"]"));
        assert_eq!(r.junit.as_deref(), Some("junit/*.xml"));
        assert!(r.test[0].starts_with(
            "dotnet test tests/W.Tests/W.Tests.csproj -c Release --no-restore --logger \"junit;"
        ));
        assert!(r
            .compile
            .contains(&"dotnet restore ../../tests/W.Tests/W.Tests.csproj".to_string()));
        assert_eq!(r.test_setup[0], "cd ../../");
        assert!(
            r.notes.iter().any(|n| n.contains("as the Docker context")),
            "{:?}",
            r.notes
        );
        assert_eq!(r.context.as_deref(), Some(""));
    }
}
