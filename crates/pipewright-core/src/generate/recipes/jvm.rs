//! JVM (Java and Kotlin, Maven and Gradle): `deps` resolves dependencies from the build files
//! alone, `build` packages the runnable artifact (Spring Boot or shaded fat jar, Quarkus'
//! `quarkus-app/`, an `installDist` distribution) to a fixed path, and `runtime` is a JRE image
//! that runs it as an unprivileged user. The repository's wrapper (`mvnw`, `gradlew`) is used
//! when it has a working one, because it pins the build tool's version; otherwise the official
//! Maven or Gradle image. Surefire and Gradle write JUnit XML, so the test job always reports.
//!
//! Maven modules and Gradle subprojects need their whole build (parent POM, settings, wrapper)
//! in the Docker build context: their Dockerfile is written for the build root as context.

use super::{
    add_app_user, dockerfile_base, dockerignore, finish_runtime, lock_cache, tool_version, Lint,
    Recipe,
};
use crate::dockerfile::{Instruction, Stage};
use crate::generate::ServiceContext;
use crate::index::{file_name, join, parent_dir, RepoIndex};
use crate::stack::{BuildTool, Framework, Language, Role};

/// The Maven image line when the repository has no wrapper and pins no Maven version.
const MAVEN_LINE: &str = "3.9";
/// The Gradle image major when the repository has no usable wrapper and pins no version.
const GRADLE_MAJOR: &str = "8";
/// Lets the JVM size its heap from the container's memory limit, not the host's.
const JAVA_TOOL_OPTIONS: &str = "-XX:MaxRAMPercentage=75";
/// Gradle's cache in the images: the `gradle` image declares `/home/gradle/.gradle` (and
/// `/root/.gradle`, a link to it) a VOLUME, whose content a later build step would lose.
const GRADLE_HOME_IN_IMAGE: &str = "/gradle-home";

/// A linter the build configures: the Maven goal or Gradle task the analyzer found, the
/// report it writes (relative to the module), and the SonarQube property importing it.
struct LinterSpec {
    task: &'static str,
    tool: &'static str,
    report: Option<&'static str>,
    sonar: Option<&'static str>,
}

const LINTERS: &[LinterSpec] = &[
    LinterSpec {
        task: "checkstyle:check",
        tool: "checkstyle",
        report: Some("target/checkstyle-result.xml"),
        sonar: Some("sonar.java.checkstyle.reportPaths"),
    },
    LinterSpec {
        task: "spotless:check",
        tool: "spotless",
        report: None,
        sonar: None,
    },
    LinterSpec {
        task: "checkstyleMain",
        tool: "checkstyle",
        report: Some("build/reports/checkstyle/main.xml"),
        sonar: Some("sonar.java.checkstyle.reportPaths"),
    },
    LinterSpec {
        task: "spotlessCheck",
        tool: "spotless",
        report: None,
        sonar: None,
    },
    // ktlint-gradle writes a SonarQube-readable report only when the build adds its
    // checkstyle reporter; its console output is kept instead.
    LinterSpec {
        task: "ktlintCheck",
        tool: "ktlint",
        report: None,
        sonar: None,
    },
    LinterSpec {
        task: "detekt",
        tool: "detekt",
        report: Some("build/reports/detekt/detekt.xml"),
        sonar: Some("sonar.kotlin.detekt.reportPaths"),
    },
];

/// Folders whose build files belong to the build logic or to outputs, not to modules.
const NOT_MODULE_DIRS: &[&str] = &["src", "target", "build", ".gradle", ".mvn", "node_modules"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Maven,
    Gradle,
}

/// What differs between Maven and Gradle, in one place.
struct ToolSpec {
    name: &'static str,
    /// The wrapper script at the build root, and the file without which it cannot run.
    wrapper: &'static str,
    wrapper_needs: &'static str,
    /// The command that writes the wrapper's files.
    wrapper_setup: &'static str,
    /// The tool as its official image calls it.
    plain: &'static str,
    /// Options every call gets.
    options: &'static str,
    /// Warms the dependency cache from the build files alone.
    install: &'static str,
    /// Packages when the analyzer gave no build command.
    default_build: &'static str,
    /// Added to CI's compile command so the tests compile too (Maven's -DskipTests already does).
    compile_tests: &'static str,
    /// Where JUnit XML lands (for the notes), and the `find` filter collecting it.
    reports: &'static str,
    reports_find: &'static str,
    /// Where a library's jars land.
    libs: &'static str,
    /// The CI cache: the tool's folder (relative to the service), the variable pointing the
    /// tool at it (`{dir}` is its path from the project dir), the folders kept, and the files
    /// keying them.
    cache_home: &'static str,
    cache_paths: &'static [&'static str],
    cache_var: (&'static str, &'static str),
    cache_keys: &'static [&'static str],
}

const MAVEN: ToolSpec = ToolSpec {
    name: "Maven",
    wrapper: "mvnw",
    wrapper_needs: ".mvn/wrapper/maven-wrapper.properties",
    wrapper_setup: "mvn wrapper:wrapper",
    plain: "mvn",
    options: "-B -ntp",
    install: "dependency:go-offline",
    default_build: "package -DskipTests",
    compile_tests: "",
    reports: "target/surefire-reports",
    reports_find: "-path '*/surefire-reports/*' -name 'TEST-*.xml'",
    libs: "target",
    cache_home: ".m2/repository",
    cache_paths: &[".m2/repository"],
    cache_var: ("MAVEN_OPTS", "-Dmaven.repo.local=$CI_PROJECT_DIR/{dir}"),
    cache_keys: &["pom.xml"],
};

const GRADLE: ToolSpec = ToolSpec {
    name: "Gradle",
    wrapper: "gradlew",
    wrapper_needs: "gradle/wrapper/gradle-wrapper.jar",
    wrapper_setup: "gradle wrapper",
    plain: "gradle",
    options: "--no-daemon",
    install: "dependencies",
    default_build: "assemble",
    compile_tests: " testClasses",
    reports: "build/test-results/test",
    reports_find: "-path '*/build/test-results/*' -name 'TEST-*.xml'",
    libs: "build/libs",
    cache_home: ".gradle",
    cache_paths: &[".gradle/wrapper", ".gradle/caches"],
    cache_var: ("GRADLE_USER_HOME", "$CI_PROJECT_DIR/{dir}"),
    cache_keys: &[
        "gradle.lockfile",
        "gradle/libs.versions.toml",
        "build.gradle.kts",
        "build.gradle",
        "gradle/wrapper/gradle-wrapper.properties",
    ],
};

impl Tool {
    fn spec(self) -> &'static ToolSpec {
        match self {
            Tool::Maven => &MAVEN,
            Tool::Gradle => &GRADLE,
        }
    }
}

/// Where the build lives and how it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    tool: Tool,
    /// The build root (reactor, Gradle settings folder), relative to the repository root: the
    /// Docker build context the Dockerfile is written for.
    root: String,
    /// The service folder relative to `root`, `""` when the service is the build root.
    module: String,
    /// The in-repository parent POM (relative to `root`) when the module is found through it
    /// rather than through a reactor's `<modules>`.
    maven_parent: Option<String>,
    /// A working wrapper sits at the build root.
    wrapper: bool,
    /// The wrapper script is there without what it needs (`gradle-wrapper.jar`,
    /// `maven-wrapper.properties`).
    broken_wrapper: bool,
}

impl Layout {
    fn of(ctx: &ServiceContext<'_>) -> Layout {
        let tool = match ctx.service.build_tool {
            Some(BuildTool::Gradle) => Tool::Gradle,
            Some(BuildTool::Maven) => Tool::Maven,
            _ if ctx.has("pom.xml") => Tool::Maven,
            _ => Tool::Gradle,
        };
        let index = ctx.index;
        let (root, parent) = match tool {
            Tool::Maven => maven_root(ctx),
            Tool::Gradle => (gradle_root(index, ctx.dir), None),
        };
        let maven_parent = parent.map(|p| under(&root, &p).unwrap_or(&p).to_string());
        let module = under(&root, ctx.dir).unwrap_or("").to_string();
        let at = |rel: &str| index.exists(&join(&root, rel));
        let spec = tool.spec();
        let wrapper = at(spec.wrapper) && at(spec.wrapper_needs);
        let broken_wrapper = at(spec.wrapper) && !wrapper;
        Layout {
            tool,
            root,
            module,
            maven_parent,
            wrapper,
            broken_wrapper,
        }
    }

    fn is_member(&self) -> bool {
        !self.module.is_empty()
    }

    /// `api/` for a module, `""` at the build root: prefixes paths inside the module.
    fn prefix(&self) -> String {
        if self.module.is_empty() {
            String::new()
        } else {
            format!("{}/", self.module)
        }
    }

    /// The tool as called in the images (from the build root).
    fn runner(&self) -> String {
        let spec = self.tool.spec();
        if self.wrapper {
            format!("./{}", spec.wrapper)
        } else {
            spec.plain.to_string()
        }
    }

    /// A command run from the build root in the images: Maven goals with the module selected,
    /// or Gradle tasks qualified with the subproject's path.
    fn docker(&self, goals: &str) -> String {
        match self.tool {
            Tool::Maven => {
                let select = if self.module.is_empty() {
                    String::new()
                } else if self.maven_parent.is_some() {
                    format!(" -f {}/pom.xml", self.module)
                } else {
                    format!(" -pl {} -am", self.module)
                };
                format!("{} {}{select} {goals}", self.runner(), MAVEN.options)
            }
            Tool::Gradle => {
                let tasks: Vec<String> = goals
                    .split_whitespace()
                    .map(|t| {
                        if self.module.is_empty() || t.starts_with('-') {
                            t.to_string()
                        } else {
                            format!(":{}:{t}", self.module.replace('/', ":"))
                        }
                    })
                    .collect();
                format!("{} {} {}", self.runner(), GRADLE.options, tasks.join(" "))
            }
        }
    }
}

/// The reactor root from the analyzer's `-f ../pom.xml` (a module listed by a parent's
/// `<modules>`), else the folder holding the service and its in-repository parent POM (with
/// that POM's path), else the service folder.
fn maven_root(ctx: &ServiceContext<'_>) -> (String, Option<String>) {
    let install = ctx.service.commands.install.as_deref().unwrap_or("");
    let mut words = install.split_whitespace();
    while let Some(w) = words.next() {
        if w == "-f" {
            if let Some(root) = words.next().and_then(|p| resolve(ctx.dir, parent_dir(p))) {
                return (root, None);
            }
        }
    }
    let parent = ctx
        .text("pom.xml")
        .and_then(|t| crate::detect::jvm::xml::parse(t).ok())
        .and_then(|pom| {
            let parent = pom.child("parent")?;
            match parent.child("relativePath") {
                None => Some("../pom.xml".to_string()),
                Some(r) if r.text.trim().is_empty() => None,
                Some(r) => Some(r.text.trim().to_string()),
            }
        })
        .map(|rel| {
            if rel.ends_with(".xml") {
                rel
            } else {
                format!("{}/pom.xml", rel.trim_end_matches('/'))
            }
        })
        .and_then(|rel| resolve(ctx.dir, &rel))
        .filter(|p| ctx.index.exists(p));
    match parent {
        Some(p) => (common_ancestor(ctx.dir, parent_dir(&p)), Some(p)),
        None => (ctx.dir.to_string(), None),
    }
}

/// The nearest folder at or above `dir` holding `settings.gradle(.kts)`, else `dir`.
fn gradle_root(index: &RepoIndex, dir: &str) -> String {
    let mut d = dir;
    loop {
        if ["settings.gradle.kts", "settings.gradle"]
            .iter()
            .any(|f| index.exists(&join(d, f)))
        {
            return d.to_string();
        }
        if d.is_empty() {
            return dir.to_string();
        }
        d = parent_dir(d);
    }
}

/// The goals or tasks of an analyzer command: the runner, `-B`, `-ntp`, `--no-daemon` and
/// the reactor selection (`-f x -pl y -am`) removed.
fn goals(cmd: &str) -> String {
    let mut out = Vec::new();
    let mut words = cmd.split_whitespace().skip(1);
    while let Some(w) = words.next() {
        match w {
            "-B" | "-ntp" | "--batch-mode" | "--no-transfer-progress" | "--no-daemon" | "-am" => {}
            "-f" | "-pl" => {
                words.next();
            }
            _ => out.push(w),
        }
    }
    out.join(" ")
}

/// What the build produces for the runtime image.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Artifact {
    /// A runnable jar at this path (relative to the module; may be a glob).
    Jar(String),
    /// Quarkus' fast-jar folder (`target/quarkus-app`), run with `quarkus-run.jar`.
    Quarkus(String),
    /// `installDist`'s `build/install/<name>`, started by `bin/<name>`.
    Dist(String),
    /// No start command: the jars are packaged as they are.
    Library,
}

fn artifact(ctx: &ServiceContext<'_>, layout: &Layout) -> Artifact {
    let Some(start) = ctx.service.commands.start.as_deref() else {
        return Artifact::Library;
    };
    if let Some(jar) = start.strip_prefix("java -jar ") {
        let jar = jar.trim();
        return match jar.strip_suffix("/quarkus-run.jar") {
            Some(dir) => Artifact::Quarkus(dir.to_string()),
            None => Artifact::Jar(jar.to_string()),
        };
    }
    if let Some(rest) = start.strip_prefix("build/install/") {
        let name = rest.split('/').next().unwrap_or("app");
        return Artifact::Dist(name.to_string());
    }
    if start.ends_with(" run") {
        // `gradle run`: the project has no name the analyzer could read, so Gradle names it
        // after its folder: `/app` for the build root in the image, else the subproject's.
        let name = if layout.module.is_empty() {
            "app"
        } else {
            file_name(&layout.module)
        };
        return Artifact::Dist(name.to_string());
    }
    Artifact::Library
}

/// Copies the artifact to `/out` in the build stage; the runtime copies from there by a
/// fixed name, with no glob.
fn package_cmds(layout: &Layout, artifact: &Artifact) -> Vec<String> {
    let p = layout.prefix();
    let mut cmds = vec!["mkdir -p /out".to_string()];
    match artifact {
        Artifact::Jar(jar) if layout.tool == Tool::Maven && jar.contains('*') => {
            // The jar's name is not known: skip what the shade, source and javadoc plugins add.
            cmds.push(format!(
                "find {p}target -maxdepth 1 -name '*.jar' ! -name 'original-*' ! -name '*-sources.jar' ! -name '*-javadoc.jar' ! -name '*-tests.jar' -exec cp {{}} /out/app.jar \\;"
            ));
        }
        Artifact::Jar(jar) => cmds.push(format!("cp {p}{jar} /out/app.jar")),
        Artifact::Quarkus(dir) => cmds.push(format!("cp -r {p}{dir} /out/quarkus-app")),
        Artifact::Dist(name) => cmds.push(format!("cp -r {p}build/install/{name} /out/dist")),
        Artifact::Library => {
            cmds[0] = "mkdir -p /out/lib".to_string();
            cmds.push(format!("cp {p}{}/*.jar /out/lib/", layout.tool.spec().libs));
        }
    }
    cmds
}

/// The build files `deps` copies, relative to the build root: enough to resolve the
/// dependencies and plugins, nothing that changes with the code.
fn manifests(ctx: &ServiceContext<'_>, layout: &Layout) -> (Vec<String>, Vec<String>) {
    let index = ctx.index;
    let root = &layout.root;
    let at = |rel: &str| index.exists(&join(root, rel));
    let dir_exists = |rel: &str| index.files_under(&join(root, rel)).next().is_some();
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let nested = |names: &[&str]| -> Vec<String> {
        let mut found: Vec<String> = index
            .files_under(root)
            .filter(|f| names.contains(&f.name()))
            .filter_map(|f| under(root, &f.path).map(String::from))
            .filter(|rel| rel.contains('/'))
            .filter(|rel| {
                !rel.split('/')
                    .any(|part| NOT_MODULE_DIRS.contains(&part) || part == "buildSrc")
            })
            .collect();
        found.sort();
        found
    };
    match layout.tool {
        Tool::Maven => {
            if layout.wrapper {
                files.push("mvnw".to_string());
            }
            if at("pom.xml") {
                files.push("pom.xml".to_string());
            }
            if let Some(parent) = &layout.maven_parent {
                files.push(parent.clone());
                files.push(format!("{}pom.xml", layout.prefix()));
            }
            if dir_exists(".mvn") {
                dirs.push(".mvn".to_string());
            }
            let reactor = index
                .text(&join(root, "pom.xml"))
                .is_some_and(|t| t.contains("<module>"));
            if reactor {
                files.extend(nested(&["pom.xml"]));
            }
        }
        Tool::Gradle => {
            if layout.wrapper {
                files.push("gradlew".to_string());
            }
            for f in [
                "settings.gradle.kts",
                "settings.gradle",
                "build.gradle.kts",
                "build.gradle",
                "gradle.properties",
                "gradle.lockfile",
            ] {
                if at(f) {
                    files.push(f.to_string());
                }
            }
            for d in ["gradle", "buildSrc", "build-logic"] {
                if dir_exists(d) {
                    dirs.push(d.to_string());
                }
            }
            files.extend(
                nested(&[
                    "build.gradle.kts",
                    "build.gradle",
                    "gradle.properties",
                    "gradle.lockfile",
                ])
                .into_iter()
                .filter(|f| !f.starts_with("gradle/") && !f.starts_with("build-logic/")),
            );
        }
    }
    let mut seen = Vec::new();
    files.retain(|f| {
        let new = !seen.contains(f);
        seen.push(f.clone());
        new
    });
    (files, dirs)
}

/// The configured linter, from the analyzer's lint command.
fn lint(ctx: &ServiceContext<'_>, layout: &Layout) -> Option<Lint> {
    let cmd = ctx.service.commands.lint.as_deref()?;
    let task = goals(cmd);
    let spec = LINTERS.iter().find(|s| s.task == task)?;
    let run = layout.docker(spec.task);
    let p = layout.prefix();
    let (command, report) = match spec.report {
        Some(src) => (
            format!("({run}; s=$?; cp {p}{src} \"$CI_PROJECT_DIR/lint-report.xml\"; exit $s)"),
            "lint-report.xml",
        ),
        None => (
            format!(
                "({run} > \"$CI_PROJECT_DIR/lint-report.txt\" 2>&1; s=$?; cat \"$CI_PROJECT_DIR/lint-report.txt\"; exit $s)"
            ),
            "lint-report.txt",
        ),
    };
    Some(Lint {
        tool: spec.tool.to_string(),
        command,
        report: report.to_string(),
        sonar_property: spec.sonar.map(String::from),
        enforced: true,
        why: format!(
            "{} is configured in the build, so it is enforced",
            spec.tool
        ),
    })
}

pub fn recipe(ctx: &ServiceContext<'_>) -> Recipe {
    let svc = ctx.service;
    let java = ctx.runtime.version.clone();
    let layout = Layout::of(ctx);
    let artifact = artifact(ctx, &layout);
    let mut notes = Vec::new();
    let mut warnings = Vec::new();

    // The build image: the wrapper on a JDK, else the tool's own image.
    let build_image = match (layout.tool, layout.wrapper) {
        (_, true) => ("eclipse-temurin".to_string(), format!("{java}-jdk")),
        (Tool::Maven, false) => {
            let line = major_minor(&tool_version(ctx, "maven", MAVEN_LINE));
            (
                "maven".to_string(),
                format!("{line}-eclipse-temurin-{java}"),
            )
        }
        (Tool::Gradle, false) => {
            let pinned = tool_version(ctx, "gradle", GRADLE_MAJOR);
            let major = pinned.split('.').next().unwrap_or(GRADLE_MAJOR).to_string();
            ("gradle".to_string(), format!("{major}-jdk{java}"))
        }
    };
    let spec = layout.tool.spec();
    let name = spec.name;
    notes.push(if layout.wrapper {
        format!(
            "JDK image eclipse-temurin:{java}-jdk with the repository's {name} wrapper ({}), which pins {name}'s version",
            spec.wrapper
        )
    } else {
        format!(
            "{name} image {}:{} (the repository has no working {name} wrapper)",
            build_image.0, build_image.1
        )
    });
    if layout.broken_wrapper {
        warnings.push(format!(
            "{} is committed without {}, so the wrapper cannot run; the build uses the {}:{} image instead. Commit the wrapper's files (`{}`) to pin {name}'s version",
            spec.wrapper, spec.wrapper_needs, build_image.0, build_image.1, spec.wrapper_setup
        ));
    }
    let mut context_dir = None;
    if layout.is_member() {
        context_dir = Some(layout.root.clone());
        let context = if layout.root.is_empty() {
            ".".to_string()
        } else {
            layout.root.clone()
        };
        let kind = match (layout.tool, &layout.maven_parent) {
            (Tool::Maven, None) => "a module of the Maven reactor",
            (Tool::Maven, Some(_)) => "a Maven module whose parent POM is",
            (Tool::Gradle, _) => "a subproject of the Gradle build",
        };
        notes.push(member_note(
            ctx.dir,
            &context,
            &format!("{kind} in {context}"),
        ));
    }

    let build_goals = svc
        .commands
        .build
        .as_deref()
        .map(goals)
        .unwrap_or_else(|| spec.default_build.to_string());
    let chmod = layout.wrapper.then(|| format!("chmod +x {}", spec.wrapper));

    // Dockerfile
    let mut d = dockerfile_base(ctx);
    let base = ctx.base_image(&build_image.0, &build_image.1);
    let mut deps = Stage::new(&base, "deps");
    deps.comment = vec![
        "Dependencies only, from the build files: this layer is rebuilt only when they change."
            .into(),
    ];
    if layout.tool == Tool::Gradle {
        deps.comment(
            "Gradle's cache outside the gradle image's VOLUME (/home/gradle/.gradle), which would drop it.",
        );
        deps.push(Instruction::Env(vec![(
            "GRADLE_USER_HOME".to_string(),
            GRADLE_HOME_IN_IMAGE.to_string(),
        )]));
    }
    deps.push(Instruction::Workdir("/app".into()));
    let (files, dirs) = manifests(ctx, &layout);
    copy_grouped(&mut deps, &files);
    for dir in &dirs {
        deps.copy([format!("{dir}/")], &format!("{dir}/"));
    }
    let mut warm = Vec::new();
    if let Some(c) = &chmod {
        deps.comment("The wrapper script may have lost its executable bit (Windows checkouts).");
        warm.push(c.clone());
    }
    let warm_cmd = layout.docker(spec.install);
    if layout.tool == Tool::Maven && layout.is_member() && layout.maven_parent.is_none() {
        // Sibling modules are not built yet, so go-offline cannot resolve them (MDEP-516):
        // it warms the cache as far as it gets and the build stage downloads the rest.
        deps.comment("Sibling modules are not built yet, so go-offline may stop at them (MDEP-516): the build resolves the rest.");
        warm.push(format!("{warm_cmd} || true"));
    } else {
        warm.push(warm_cmd);
    }
    if layout.tool == Tool::Gradle {
        deps.comment("Resolves the plugins and the dependency graph; the build downloads the remaining jars.");
    }
    deps.run(warm);

    let mut build = Stage::new("deps", "build");
    build.copy(["."], ".");
    let mut build_cmds: Vec<String> = chmod.iter().cloned().collect();
    build_cmds.push(layout.docker(&build_goals));
    build_cmds.extend(package_cmds(&layout, &artifact));
    build.comment(
        "The artifact is copied to /out under a fixed name, so the runtime stage needs no glob.",
    );
    build.run(build_cmds);

    let mut test = Stage::new("build", "test");
    match layout.tool {
        Tool::Maven => {
            test.comment = vec![
                "The build stage compiled the tests (-DskipTests only skips running them) and the local".into(),
                "repository holds their dependencies: CI runs the tests and the linter in this image.".into(),
            ];
        }
        Tool::Gradle => {
            test.comment = vec![
                "Compiles the tests, which downloads their dependencies: CI runs the tests and the linter here.".into(),
            ];
            test.run([layout.docker("testClasses")]);
        }
    }

    let mut runtime = Stage::new(
        ctx.base_image("eclipse-temurin", &format!("{java}-jre")),
        "runtime",
    );
    runtime.comment =
        vec!["A JRE and the packaged application only: no JDK, no build tool, no sources.".into()];
    runtime.push(Instruction::Env(vec![(
        "JAVA_TOOL_OPTIONS".to_string(),
        JAVA_TOOL_OPTIONS.to_string(),
    )]));
    runtime.push(Instruction::Workdir("/app".into()));
    add_app_user(&mut runtime);
    runtime.comment(
        "Owned by root and only readable by the app user: the application cannot rewrite itself.",
    );
    let (src, dest, start) = match &artifact {
        Artifact::Jar(_) => (
            "/out/app.jar",
            "/app/app.jar",
            Some("java -jar /app/app.jar".to_string()),
        ),
        Artifact::Quarkus(_) => (
            "/out/quarkus-app/",
            "/app/",
            Some("java -jar /app/quarkus-run.jar".to_string()),
        ),
        Artifact::Dist(name) => ("/out/dist/", "/app/", Some(format!("/app/bin/{name}"))),
        Artifact::Library => ("/out/lib/", "/app/lib/", None),
    };
    runtime.push(Instruction::Copy {
        from: Some("build".into()),
        chown: None,
        src: vec![src.to_string()],
        dest: dest.to_string(),
    });
    warnings.extend(finish_runtime(
        ctx,
        &mut runtime,
        "app",
        start.as_deref(),
        &["java", "-version"],
    ));
    d.stages = vec![deps, build, test, runtime];
    notes.push(match &artifact {
        Artifact::Jar(j) => format!(
            "runtime eclipse-temurin:{java}-jre runs the packaged jar ({}{j}) as /app/app.jar, with {JAVA_TOOL_OPTIONS} so the heap follows the container's memory limit",
            layout.prefix()
        ),
        Artifact::Quarkus(dir) => format!(
            "runtime eclipse-temurin:{java}-jre runs Quarkus' fast-jar ({}{dir}) with /app/quarkus-run.jar",
            layout.prefix()
        ),
        Artifact::Dist(name) => format!(
            "runtime eclipse-temurin:{java}-jre runs the installDist distribution with /app/bin/{name}"
        ),
        Artifact::Library => format!(
            "no start command: a library; the runtime image (eclipse-temurin:{java}-jre) only packages its jars in /app/lib. Publish libraries to a package registry (mvn deploy, gradle publish) separately"
        ),
    });
    if svc.role == Role::Library && !matches!(artifact, Artifact::Library) {
        notes.push("the analyzer sees a library, but the build makes a runnable artifact, which the image runs".into());
    }

    // CI
    let ci_runner_fix = |cmd: &str| -> String {
        let mut words = cmd.splitn(2, ' ');
        let first = words.next().unwrap_or("");
        let rest = words.next().unwrap_or("");
        if first.ends_with(spec.wrapper) && !layout.wrapper {
            format!("{} {rest}", spec.plain)
        } else {
            cmd.to_string()
        }
    };
    let ci_build = svc
        .commands
        .build
        .as_deref()
        .map(ci_runner_fix)
        .unwrap_or_else(|| layout.docker(&build_goals));
    let ci_wrapper = svc
        .commands
        .build
        .as_deref()
        .and_then(|b| b.split_whitespace().next())
        .filter(|w| layout.wrapper && w.ends_with(spec.wrapper))
        .map(String::from);
    let mut compile = Vec::new();
    if let Some(w) = &ci_wrapper {
        compile.push(format!("chmod +x {w}"));
    }
    // The tests compile too (Maven's -DskipTests compiles them without running them).
    compile.push(format!("{ci_build}{}", spec.compile_tests));
    let compile_variables = vec![(
        spec.cache_var.0.to_string(),
        spec.cache_var
            .1
            .replace("{dir}", &join(ctx.dir, spec.cache_home)),
    )];
    let cache = lock_cache(
        ctx,
        spec.cache_keys,
        spec.cache_paths,
        &name.to_ascii_lowercase(),
    );
    let mut compile_artifacts = match (&artifact, layout.tool) {
        (Artifact::Quarkus(dir), _) => vec![format!("{dir}/")],
        (Artifact::Dist(_), _) => vec!["build/install/".to_string()],
        (_, Tool::Maven) => vec!["target/*.jar".to_string()],
        (_, Tool::Gradle) => vec!["build/libs/".to_string()],
    };
    // SonarQube's Java analysis refuses to run without the compiled classes: `quality` takes
    // them from `compile`.
    let classes = match layout.tool {
        Tool::Maven => "target/classes",
        Tool::Gradle => "build/classes",
    };
    compile_artifacts.push(format!("{classes}/"));
    let sonar_properties = vec![("sonar.java.binaries".to_string(), classes.to_string())];

    let test_cmd = layout.docker(
        &svc.commands
            .test
            .as_deref()
            .map(goals)
            .unwrap_or_else(|| "test".to_string()),
    );
    let (tests, junit) = if svc.test_framework.is_some() {
        let reports = spec.reports_find;
        notes.push(format!(
            "tests: `{test_cmd}` in the test image; the JUnit XML ({}) is copied to junit/ for GitLab, even when tests fail",
            spec.reports
        ));
        (
            vec![
                format!("tests_status=0; {test_cmd} || tests_status=$?"),
                format!(
                    "mkdir -p \"$CI_PROJECT_DIR/junit\" && find . {reports} -exec cp {{}} \"$CI_PROJECT_DIR/junit/\" \\;"
                ),
                "test \"$tests_status\" -eq 0".to_string(),
            ],
            Some("junit/*.xml".to_string()),
        )
    } else {
        warnings.push(format!(
            "no test framework was detected; the test job still runs `{test_cmd}`, which passes when there are no tests"
        ));
        (vec![test_cmd], None)
    };
    let lint = lint(ctx, &layout);
    match &lint {
        Some(l) => notes.push(format!(
            "linter: {} ({}){}",
            l.tool,
            l.why,
            if l.sonar_property.is_some() {
                "; its XML report goes to SonarQube"
            } else {
                "; its output is kept as lint-report.txt (no SonarQube import for it)"
            }
        )),
        None => notes.push(format!(
            "no linter: the build configures none (Checkstyle, Spotless, ktlint, detekt); SonarQube still analyses the {} code",
            if svc.language == Language::Kotlin { "Kotlin" } else { "Java" }
        )),
    }
    if matches!(svc.framework, Some(Framework::Quarkus)) {
        notes.push("Quarkus: the fast-jar layout is kept whole (quarkus-run.jar needs lib/, app/ and quarkus/)".into());
    }

    let mut test_setup = Vec::new();
    if layout.is_member() {
        test_setup.push(format!("cd {}", "../".repeat(depth(&layout.module))));
    }
    if let Some(c) = &chmod {
        test_setup.push(c.clone());
    }
    test_setup.push("export APP_DIR=\"$PWD\"".to_string());

    Recipe {
        build_image,
        compile,
        compile_variables,
        test_variables: Vec::new(),
        cache: Some(cache),
        compile_artifacts,
        test_setup,
        test: tests,
        junit,
        lint,
        sast: None,
        dockerfile: d,
        dockerignore: dockerignore(&[
            "target",
            "*/target",
            "build",
            "*/build",
            ".gradle",
            "*/.gradle",
            ".m2",
            ".kotlin",
            "out",
            "*.iml",
        ]),
        sonar_properties,
        context: context_dir,
        notes,
        warnings,
    }
}

/// `3.9.6` → `3.9`.
fn major_minor(v: &str) -> String {
    v.split('.').take(2).collect::<Vec<_>>().join(".")
}

// ---------------------------------------------------------------------------------------------
// Path helpers shared with the Go and C# recipes (candidates for `recipes/mod.rs`).

/// `path` relative to `dir` when it is inside it (`dir` itself gives `""`).
pub(super) fn under<'a>(dir: &str, path: &'a str) -> Option<&'a str> {
    if dir.is_empty() {
        return Some(path);
    }
    if path == dir {
        return Some("");
    }
    path.strip_prefix(dir).and_then(|r| r.strip_prefix('/'))
}

/// Resolves `rel` (with `..`, `.`, `\`) against the folder `dir`; `None` above the root.
pub(super) fn resolve(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in rel.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// The deepest folder holding both folders.
pub(super) fn common_ancestor(a: &str, b: &str) -> String {
    let pa: Vec<&str> = a.split('/').filter(|p| !p.is_empty()).collect();
    let pb: Vec<&str> = b.split('/').filter(|p| !p.is_empty()).collect();
    pa.iter()
        .zip(&pb)
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| *x)
        .collect::<Vec<_>>()
        .join("/")
}

/// How many folders deep a relative folder is (`""` is 0).
pub(super) fn depth(dir: &str) -> usize {
    dir.split('/').filter(|p| !p.is_empty()).count()
}

/// `path` (relative to the repository root) as seen from the folder `from`.
pub(super) fn relative_to(from: &str, path: &str) -> String {
    match under(from, path) {
        Some(inside) if !inside.is_empty() => inside.to_string(),
        Some(_) => ".".to_string(),
        None => {
            let shared = common_ancestor(from, path);
            let ups = depth(from).saturating_sub(depth(&shared));
            let rest = under(&shared, path).unwrap_or(path);
            format!("{}{rest}", "../".repeat(ups))
        }
    }
}

/// One `COPY` per folder, keeping the folders: `COPY a b ./`, `COPY api/pom.xml api/`.
pub(super) fn copy_grouped(stage: &mut Stage, files: &[String]) {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for f in files {
        let dir = parent_dir(f).to_string();
        match groups.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, list)) => list.push(f.clone()),
            None => groups.push((dir, vec![f.clone()])),
        }
    }
    groups.sort_by(|a, b| depth(&a.0).cmp(&depth(&b.0)).then(a.0.cmp(&b.0)));
    for (dir, list) in groups {
        let dest = if dir.is_empty() {
            "./".to_string()
        } else {
            format!("{dir}/")
        };
        stage.copy(list, &dest);
    }
}

/// The warning for a service whose Docker build needs files above its folder.
pub(super) fn member_note(dir: &str, context: &str, what: &str) -> String {
    let dir = if dir.is_empty() { "." } else { dir };
    format!(
        "{dir} is {what}: its image is built with {context} (the whole build) as the Docker context, the Dockerfile staying in {dir} (`docker build -f {dir}/Dockerfile {context}`)"
    )
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::generate::{versions, GeneratorSettings};
    use crate::index::{Content, RawEntry};
    use crate::stack::{Commands, ServiceProfile};

    pub fn index(files: &[(&str, &str)]) -> RepoIndex {
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

    pub fn service(path: &str, language: Language, tool: BuildTool) -> ServiceProfile {
        ServiceProfile {
            path: path.to_string(),
            language,
            framework: None,
            build_tool: Some(tool),
            test_framework: None,
            runtime_version: None,
            port: None,
            port_source: None,
            databases: Vec::new(),
            commands: Commands::default(),
            secondary: Vec::new(),
            evidence: Vec::new(),
            versions: Vec::new(),
            role: Role::Application,
            test_variables: Vec::new(),
        }
    }

    pub fn with_ctx<T>(
        svc: &ServiceProfile,
        index: &RepoIndex,
        runtime: &str,
        version: &str,
        f: impl FnOnce(&ServiceContext<'_>) -> T,
    ) -> T {
        let settings = GeneratorSettings::default();
        let dir = if svc.path == "." {
            ""
        } else {
            svc.path.as_str()
        };
        let ctx = ServiceContext {
            service: svc,
            index,
            settings: &settings,
            dir,
            runtime: versions::Resolved {
                runtime: runtime.to_string(),
                version: version.to_string(),
                reason: String::new(),
                warning: None,
            },
            repo_name: "repo".to_string(),
        };
        f(&ctx)
    }

    #[test]
    fn goals_drop_the_runner_and_the_reactor_selection() {
        assert_eq!(
            goals("mvn -B -ntp -f ../pom.xml -pl api -am package -DskipTests"),
            "package -DskipTests"
        );
        assert_eq!(goals("../gradlew --no-daemon bootJar"), "bootJar");
        assert_eq!(goals("./mvnw -B -ntp checkstyle:check"), "checkstyle:check");
    }

    #[test]
    fn a_gradle_wrapper_without_its_jar_is_not_used() {
        let files = [
            ("settings.gradle", "rootProject.name = 'x'"),
            ("build.gradle", ""),
            ("gradlew", ""),
            ("gradle/wrapper/gradle-wrapper.properties", ""),
        ];
        let svc = service(".", Language::Java, BuildTool::Gradle);
        let i = index(&files);
        let l = with_ctx(&svc, &i, "java", "17", Layout::of);
        assert!(!l.wrapper && l.broken_wrapper);
        assert_eq!(l.docker("bootJar"), "gradle --no-daemon bootJar");
        let mut with_jar = files.to_vec();
        with_jar.push(("gradle/wrapper/gradle-wrapper.jar", "PK"));
        let i = index(&with_jar);
        let l = with_ctx(&svc, &i, "java", "17", Layout::of);
        assert!(l.wrapper && !l.broken_wrapper);
        assert_eq!(l.docker("bootJar"), "./gradlew --no-daemon bootJar");
    }

    #[test]
    fn members_build_from_their_build_root() {
        let i = index(&[
            (
                "pom.xml",
                "<project><modules><module>api</module></modules></project>",
            ),
            (
                "api/pom.xml",
                "<project><parent><artifactId>p</artifactId></parent></project>",
            ),
            ("settings.gradle", "include 'svc:pay'"),
            ("svc/pay/build.gradle", ""),
        ]);
        let mut svc = service("api", Language::Java, BuildTool::Maven);
        svc.commands.install =
            Some("mvn -B -ntp -f ../pom.xml -pl api -am dependency:go-offline".into());
        let l = with_ctx(&svc, &i, "java", "21", Layout::of);
        assert_eq!((l.root.as_str(), l.module.as_str()), ("", "api"));
        assert_eq!(l.docker("test"), "mvn -B -ntp -pl api -am test");
        let svc = service("svc/pay", Language::Java, BuildTool::Gradle);
        let l = with_ctx(&svc, &i, "java", "21", Layout::of);
        assert_eq!(l.module, "svc/pay");
        assert_eq!(l.docker("bootJar"), "gradle --no-daemon :svc:pay:bootJar");
    }

    #[test]
    fn a_parent_pom_in_the_repository_makes_a_member() {
        let i = index(&[
            ("parent/pom.xml", "<project/>"),
            (
                "app/pom.xml",
                "<project><parent><relativePath>../parent</relativePath></parent></project>",
            ),
            (
                "lib/pom.xml",
                "<project><parent><relativePath/></parent></project>",
            ),
        ]);
        let svc = service("app", Language::Java, BuildTool::Maven);
        let l = with_ctx(&svc, &i, "java", "21", Layout::of);
        assert_eq!(l.maven_parent.as_deref(), Some("parent/pom.xml"));
        assert_eq!(l.docker("package"), "mvn -B -ntp -f app/pom.xml package");
        let (files, _) = with_ctx(&svc, &i, "java", "21", |c| manifests(c, &l));
        assert_eq!(files, vec!["parent/pom.xml", "app/pom.xml"]);
        let svc = service("lib", Language::Java, BuildTool::Maven);
        let l = with_ctx(&svc, &i, "java", "21", Layout::of);
        assert!(!l.is_member());
    }

    #[test]
    fn artifacts_follow_the_start_command() {
        let i = index(&[("pom.xml", "<project/>")]);
        let mut svc = service(".", Language::Java, BuildTool::Maven);
        let l = with_ctx(&svc, &i, "java", "21", Layout::of);
        svc.commands.start = Some("java -jar target/quarkus-app/quarkus-run.jar".into());
        let a = with_ctx(&svc, &i, "java", "21", |c| artifact(c, &l));
        assert_eq!(a, Artifact::Quarkus("target/quarkus-app".into()));
        assert_eq!(
            package_cmds(&l, &a)[1],
            "cp -r target/quarkus-app /out/quarkus-app"
        );
        svc.commands.start = Some("java -jar target/*.jar".into());
        let a = with_ctx(&svc, &i, "java", "21", |c| artifact(c, &l));
        assert!(package_cmds(&l, &a)[1].starts_with("find target -maxdepth 1"));
        svc.commands.start = Some("gradle --no-daemon run".into());
        let a = with_ctx(&svc, &i, "java", "21", |c| artifact(c, &l));
        assert_eq!(a, Artifact::Dist("app".into()));
    }

    #[test]
    fn linters_write_their_report_under_the_project_dir() {
        let i = index(&[
            ("pom.xml", "<project/>"),
            ("mvnw", ""),
            (".mvn/wrapper/maven-wrapper.properties", ""),
        ]);
        let mut svc = service(".", Language::Java, BuildTool::Maven);
        svc.commands.lint = Some("./mvnw -B -ntp checkstyle:check".into());
        let lint = with_ctx(&svc, &i, "java", "17", |c| {
            let l = Layout::of(c);
            lint(c, &l)
        });
        let lint = lint.unwrap();
        assert_eq!(
            lint.command,
            "(./mvnw -B -ntp checkstyle:check; s=$?; cp target/checkstyle-result.xml \"$CI_PROJECT_DIR/lint-report.xml\"; exit $s)"
        );
        assert_eq!(
            lint.sonar_property.as_deref(),
            Some("sonar.java.checkstyle.reportPaths")
        );
    }

    #[test]
    fn relative_paths_and_grouped_copies() {
        assert_eq!(
            relative_to("src/Notifier", "tests/T/T.csproj"),
            "../../tests/T/T.csproj"
        );
        assert_eq!(
            relative_to("src/Notifier", "src/Notifier/N.csproj"),
            "N.csproj"
        );
        assert_eq!(relative_to("", "a/b"), "a/b");
        assert_eq!(common_ancestor("src/a", "src/b/c"), "src");
        let mut s = Stage::new("x", "deps");
        copy_grouped(
            &mut s,
            &["pom.xml".into(), "api/pom.xml".into(), "mvnw".into()],
        );
        let text = crate::dockerfile::Dockerfile {
            stages: vec![s],
            ..Default::default()
        }
        .render();
        assert!(text.contains("COPY pom.xml mvnw ./\nCOPY api/pom.xml api/\n"));
    }
}
