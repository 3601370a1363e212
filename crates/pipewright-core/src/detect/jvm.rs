//! JVM: Maven and Gradle builds of Java or Kotlin code; Spring Boot, Quarkus, Micronaut, Ktor;
//! JUnit.
//!
//! Facts come from `pom.xml` (read with quick-xml, with the in-repository parent POM's
//! dependencies, plugins and versions inherited) or from `build.gradle(.kts)`,
//! `settings.gradle(.kts)` and the `gradle/libs.versions.toml` version catalog. The language is
//! decided by the bytes of `.kt` against `.java` sources, never by the build script's DSL. The
//! Java version comes from `.sdkmanrc`, `.java-version`, `.tool-versions`/`mise.toml`, then the
//! build file (compiler release, toolchain, source compatibility, Kotlin `jvmTarget`).

use super::context::{resolve, up_to};
use super::shared::ascii_regex;
use super::versions::{add_tool_versions, add_version_file};
use super::{Candidate, DirContext, Ecosystem, PortOrigin};
use crate::index::{file_name, join, parent_dir};
use crate::stack::{BuildTool, Database, Framework, Language, Role, TestFramework};
use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;

/// The JVM (Java and Kotlin) detector.
pub struct Jvm;

const MANIFESTS: &[&str] = &[
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "settings.gradle",
    "settings.gradle.kts",
];

/// Version files, wrapper properties, the version catalog and framework configuration.
const READ_FILES: &[&str] = &[
    ".sdkmanrc",
    ".java-version",
    "libs.versions.toml",
    "gradle-wrapper.properties",
    "maven-wrapper.properties",
    "application.properties",
    "application.yml",
    "application.yaml",
    "application.conf",
];

/// Kotlin entry files read for Ktor's `embeddedServer(…, port = …)`.
const KOTLIN_ENTRY_FILES: &[&str] = &["Application.kt", "Main.kt", "App.kt", "Server.kt"];

/// Artifact id → the service it talks to. H2, HSQLDB and Derby are left out on purpose: they
/// run inside the JVM and need no service next to the application.
const DATABASE_ARTIFACTS: &[(&str, Database)] = &[
    ("postgresql", Database::Postgresql),
    ("r2dbc-postgresql", Database::Postgresql),
    ("quarkus-jdbc-postgresql", Database::Postgresql),
    ("quarkus-reactive-pg-client", Database::Postgresql),
    ("mysql-connector-java", Database::Mysql),
    ("mysql-connector-j", Database::Mysql),
    ("r2dbc-mysql", Database::Mysql),
    ("quarkus-jdbc-mysql", Database::Mysql),
    ("mariadb-java-client", Database::Mariadb),
    ("r2dbc-mariadb", Database::Mariadb),
    ("quarkus-jdbc-mariadb", Database::Mariadb),
    ("spring-boot-starter-data-redis", Database::Redis),
    ("spring-boot-starter-data-redis-reactive", Database::Redis),
    ("jedis", Database::Redis),
    ("lettuce-core", Database::Redis),
    ("redisson", Database::Redis),
    ("quarkus-redis-client", Database::Redis),
    ("micronaut-redis-lettuce", Database::Redis),
    ("mongodb-driver-sync", Database::Mongodb),
    ("mongodb-driver-reactivestreams", Database::Mongodb),
    ("mongodb-driver-kotlin-coroutine", Database::Mongodb),
    ("spring-boot-starter-data-mongodb", Database::Mongodb),
    (
        "spring-boot-starter-data-mongodb-reactive",
        Database::Mongodb,
    ),
    ("quarkus-mongodb-client", Database::Mongodb),
    ("quarkus-mongodb-panache", Database::Mongodb),
    ("micronaut-mongo-sync", Database::Mongodb),
    ("micronaut-mongo-reactive", Database::Mongodb),
    ("kafka-clients", Database::Kafka),
    ("spring-kafka", Database::Kafka),
    ("quarkus-kafka-client", Database::Kafka),
    ("quarkus-messaging-kafka", Database::Kafka),
    ("micronaut-kafka", Database::Kafka),
    ("amqp-client", Database::Rabbitmq),
    ("spring-boot-starter-amqp", Database::Rabbitmq),
    ("spring-rabbit", Database::Rabbitmq),
    ("quarkus-messaging-rabbitmq", Database::Rabbitmq),
    ("micronaut-rabbitmq", Database::Rabbitmq),
    (
        "spring-boot-starter-data-elasticsearch",
        Database::Elasticsearch,
    ),
    ("elasticsearch-java", Database::Elasticsearch),
    ("spring-boot-starter-data-cassandra", Database::Cassandra),
    ("java-driver-core", Database::Cassandra),
    ("mssql-jdbc", Database::Mssql),
    ("quarkus-jdbc-mssql", Database::Mssql),
    ("spymemcached", Database::Memcached),
    ("xmemcached", Database::Memcached),
];

/// Artifact ids that bring JUnit (directly or through a test starter).
const JUNIT_ARTIFACTS: &[&str] = &[
    "junit",
    "junit-jupiter",
    "junit-jupiter-api",
    "junit-jupiter-engine",
    "junit-jupiter-params",
    "spring-boot-starter-test",
    "kotlin-test-junit5",
    "kotlin-test-junit",
    "quarkus-junit5",
    "micronaut-test-junit5",
];

/// True when an artifact brings JUnit: the list above, every Spring Boot test starter
/// (`spring-boot-starter-test`, Boot 4's `spring-boot-starter-webmvc-test` …), and
/// Testcontainers' JUnit 5 integration (`testcontainers-junit-jupiter`, `org.testcontainers:junit-jupiter`).
fn brings_junit(group: &str, artifact: &str) -> bool {
    JUNIT_ARTIFACTS.contains(&artifact)
        || (artifact.starts_with("spring-boot-starter") && artifact.ends_with("-test"))
        || artifact == "testcontainers-junit-jupiter"
        || (group == "org.testcontainers" && artifact == "junit-jupiter")
}

/// Spring Cloud artifacts that make a Boot application on their own (config server,
/// discovery server, gateway, and every `spring-cloud-starter-*`).
fn is_spring_cloud_app(group: &str, artifact: &str) -> bool {
    group == "org.springframework.cloud"
        && (artifact.starts_with("spring-cloud-starter")
            || artifact == "spring-cloud-config-server"
            || artifact == "spring-cloud-netflix-eureka-server"
            || artifact == "spring-cloud-gateway-server")
}

/// `*Application.java` / `*Application.kt`: where `@SpringBootApplication` lives.
fn is_application_class(name: &str) -> bool {
    name.ends_with("Application.java") || name.ends_with("Application.kt")
}

/// Build plugins (Maven `group:artifact`, Gradle plugin id) that decide the framework.
const FRAMEWORK_PLUGINS: &[(&str, Framework)] = &[
    (
        "org.springframework.boot:spring-boot-maven-plugin",
        Framework::SpringBoot,
    ),
    ("org.springframework.boot", Framework::SpringBoot),
    ("io.quarkus:quarkus-maven-plugin", Framework::Quarkus),
    (
        "io.quarkus.platform:quarkus-maven-plugin",
        Framework::Quarkus,
    ),
    ("io.quarkus", Framework::Quarkus),
    (
        "io.micronaut.maven:micronaut-maven-plugin",
        Framework::Micronaut,
    ),
    ("io.micronaut.application", Framework::Micronaut),
    ("io.micronaut.minimal.application", Framework::Micronaut),
    ("io.ktor.plugin", Framework::Ktor),
];

/// Frameworks in the order that decides when several are present.
const FRAMEWORK_ORDER: &[Framework] = &[
    Framework::SpringBoot,
    Framework::Quarkus,
    Framework::Micronaut,
    Framework::Ktor,
];

/// Linters a build may configure: (Maven plugin `group:artifact` or Gradle plugin id, Maven
/// goal, Gradle task).
const LINT_PLUGINS: &[(&str, &str, &str)] = &[
    (
        "com.diffplug.spotless:spotless-maven-plugin",
        "spotless:check",
        "",
    ),
    (
        "org.apache.maven.plugins:maven-checkstyle-plugin",
        "checkstyle:check",
        "",
    ),
    ("com.diffplug.spotless", "", "spotlessCheck"),
    ("checkstyle", "", "checkstyleMain"),
    ("org.jlleitschuh.gradle.ktlint", "", "ktlintCheck"),
    ("io.gitlab.arturbosch.detekt", "", "detekt"),
];

/// Gradle plugins that build a fat jar: (plugin id, task, jar glob).
const FAT_JAR_PLUGINS: &[(&str, &str, &str)] = &[
    ("io.ktor.plugin", "buildFatJar", "build/libs/*-all.jar"),
    (
        "com.github.johnrengelman.shadow",
        "shadowJar",
        "build/libs/*-all.jar",
    ),
    ("com.gradleup.shadow", "shadowJar", "build/libs/*-all.jar"),
];

/// Keys holding the HTTP port in `application.properties` / `application.yml`.
const PORT_KEYS: &[&str] = &[
    "server.port",
    "quarkus.http.port",
    "micronaut.server.port",
    "ktor.deployment.port",
];

static RE_COORD: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"["']([A-Za-z0-9_.\-]+):([A-Za-z0-9_.\-]+)(?::[^"'\s]*)?["']"#));
static RE_MAP_COORD: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(r#"group\s*[:=]\s*["']([^"']+)["']\s*,\s*name\s*[:=]\s*["']([^"']+)["']"#)
});
static RE_KOTLIN_FN: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(r#"\bkotlin\(\s*"([\w.\-]+)"\s*(?:,\s*"[^"]*"\s*)?\)(\s+version\s+"([^"]+)")?"#)
});
static RE_PLUGIN_ID: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(r#"\bid\s*\(?\s*["']([\w.\-]+)["']\s*\)?(?:\s+version\s*\(?\s*["']([^"']+)["'])?"#)
});
static RE_APPLY_PLUGIN: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"apply\s*\(?\s*plugin\s*[:=]\s*["']([\w.\-]+)["']"#));
static RE_BARE_PLUGIN: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"(?m)^\s*`?([a-z][a-z\-]*)`?\s*$"));
static RE_CATALOG_REF: LazyLock<Regex> = LazyLock::new(|| ascii_regex(r"\blibs\.([A-Za-z0-9_.]+)"));
static RE_TOOLCHAIN: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"JavaLanguageVersion\.of\(\s*["']?(\d+)["']?\s*\)"#));
static RE_JVM_TOOLCHAIN: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"\bjvmToolchain\(\s*(\d+)\s*\)"));
static RE_COMPATIBILITY: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(
        r#"\b(sourceCompatibility|targetCompatibility)\s*=\s*(?:JavaVersion\.VERSION_([\d_]+)|JavaVersion\.toVersion\(\s*["']?([\d.]+)["']?\s*\)|["']?([\d.]+)["']?)"#,
    )
});
static RE_JVM_TARGET: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(r#"\bjvmTarget(?:\.set\(|\s*=\s*)\s*(?:JvmTarget\.JVM_([\d_]+)|["']([\d.]+)["'])"#)
});
static RE_GRADLE_DIST: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"gradle-([0-9][\w.\-]*?)-(?:bin|all)\.zip"));
static RE_MAVEN_DIST: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"apache-maven-([0-9][\w.\-]*?)-bin\.zip"));
static RE_INCLUDE: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"\binclude\s*\(?((?:\s*["'][^"']+["']\s*,?)+)"#));
static RE_INCLUDE_BUILD: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"\bincludeBuild\s*\(?\s*["']([^"']+)["']"#));
static RE_QUOTED: LazyLock<Regex> = LazyLock::new(|| ascii_regex(r#"["']([^"']+)["']"#));
static RE_ROOT_NAME: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"rootProject\.name\s*=\s*["']([^"']+)["']"#));
static RE_EMBEDDED_PORT: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"(?s)embeddedServer\([^)]*?\bport\s*=\s*(\d{2,5})"));
static RE_ENV_PORT: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"getenv\("PORT"\)[^\n]*?\?:\s*"?(\d{2,5})"#));
static RE_HOCON_PORT: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"(?m)^\s*port\s*[=:]\s*(\d{2,5})\s*$"));

/// One declared dependency, with where it was seen.
#[derive(Debug, Clone)]
struct Dep {
    group: String,
    artifact: String,
    file: String,
    detail: String,
}

/// One applied build plugin (Maven `group:artifact`, Gradle plugin id).
#[derive(Debug, Clone)]
struct Plugin {
    id: String,
    file: String,
    detail: String,
}

/// What the build files say, whichever the build tool.
#[derive(Default)]
struct Facts {
    deps: Vec<Dep>,
    plugins: Vec<Plugin>,
    /// Plugins inherited from a parent POM: used for lint, not for the framework.
    inherited_plugins: Vec<Plugin>,
    /// The `org.springframework.boot` parent POM, when it is the direct parent: (file, detail).
    spring_parent: Option<(String, String)>,
    /// Spring Boot reaches this module only through the build above it (a grandparent POM
    /// whose parent is Boot's, a BOM import, a root Gradle script applying the plugin to
    /// subprojects): (file, detail). With an `@SpringBootApplication` class it is an app.
    boot_in_build: Option<(String, String)>,
    /// The source file holding `@SpringBootApplication`, when there is one.
    boot_application: Option<String>,
    /// A module of a multi-module build (Maven reactor module, Gradle subproject).
    module: bool,
    /// Set when the folder is a workspace root listing members: (file, reason).
    aggregator: Option<(String, String)>,
    /// An executable jar is built (shade plugin, `mainClass`, Gradle `application`).
    executable: Option<(String, String)>,
    /// How to call the build tool from this folder, and its arguments' prefix.
    runner: String,
    /// Extra arguments placing a Maven module in its reactor (`-f ../pom.xml -pl app -am`).
    reactor: String,
    /// Gradle: the project name, when known (names `build/install/<name>/bin/<name>`).
    gradle_name: Option<String>,
    /// Maven: `target/<name>.jar` when the artifact name is known exactly.
    maven_jar: Option<String>,
}

impl Ecosystem for Jvm {
    fn name(&self) -> &'static str {
        "jvm"
    }

    fn is_manifest(&self, name: &str) -> bool {
        MANIFESTS.contains(&name)
    }

    fn wants(&self, path: &str, name: &str) -> bool {
        MANIFESTS.contains(&name)
            || READ_FILES.contains(&name)
            || (KOTLIN_ENTRY_FILES.contains(&name) && path.contains("src/main/kotlin/"))
            || (is_application_class(name) && path.contains("src/main/"))
    }

    fn detect(&self, ctx: &DirContext<'_>) -> Option<Candidate> {
        let has_pom = ctx.has("pom.xml");
        let build_file = ["build.gradle.kts", "build.gradle"]
            .into_iter()
            .find(|f| ctx.has(f));
        let settings_file = ["settings.gradle.kts", "settings.gradle"]
            .into_iter()
            .find(|f| ctx.has(f));
        if !has_pom && build_file.is_none() && settings_file.is_none() {
            return None;
        }
        if !has_pom && is_build_logic(ctx) {
            return None;
        }
        let (java, kotlin, counted) = source_bytes(ctx);
        let language = if kotlin > java {
            Language::Kotlin
        } else {
            Language::Java
        };
        let mut c = Candidate::new(language, "java");
        c.note(
            "language",
            counted.clone(),
            format!(
                "{language}: {kotlin} bytes of .kt against {java} bytes of .java under {counted} \
                 (build scripts do not count)"
            ),
        );

        versions_from_files(ctx, &mut c);
        let mut facts = Facts::default();
        // The other build's facts when both Maven and Gradle builds are shipped.
        let mut other = Facts::default();
        match (has_pom, build_file) {
            (true, Some(b)) => {
                let (tool, file, reason) = choose_build(ctx, b);
                c.note("build_tool", file, reason);
                let mut scratch = Candidate::new(language, "java");
                if tool == BuildTool::Maven {
                    maven(ctx, &mut c, &mut facts);
                    gradle(ctx, &mut scratch, &mut other, build_file, settings_file);
                } else {
                    gradle(ctx, &mut c, &mut facts, build_file, settings_file);
                    maven(ctx, &mut scratch, &mut other);
                }
            }
            (true, None) => maven(ctx, &mut c, &mut facts),
            (false, _) => gradle(ctx, &mut c, &mut facts, build_file, settings_file),
        }

        framework(&mut c, &facts);
        for dep in &facts.deps {
            if brings_junit(&dep.group, &dep.artifact) {
                c.set_test_framework(TestFramework::Junit, &dep.file, dep.detail.clone());
            }
            if let Some((_, db)) = DATABASE_ARTIFACTS.iter().find(|(a, _)| *a == dep.artifact) {
                c.add_database(*db, &dep.file, dep.detail.clone());
            }
        }
        if c.test_framework.is_none() {
            if let Some(dep) = other
                .deps
                .iter()
                .find(|d| brings_junit(&d.group, &d.artifact))
            {
                c.set_test_framework(
                    TestFramework::Junit,
                    &dep.file,
                    format!("{} (the other build of the same tests)", dep.detail),
                );
            }
        }
        port(ctx, &mut c);
        commands(ctx, &mut c, &facts);

        let boot_plugin = facts
            .plugins
            .iter()
            .any(|p| FRAMEWORK_PLUGINS.contains(&(p.id.as_str(), Framework::SpringBoot)));
        if let Some((file, reason)) = &facts.aggregator {
            c.set_role(Role::Aggregator, file, reason.clone());
        } else if c.framework == Some(Framework::SpringBoot)
            && facts.module
            && facts.boot_application.is_none()
            && !boot_plugin
            && facts.executable.is_none()
        {
            // A shared module of a Boot build (entities, clients) uses starters but runs nothing.
            c.set_role(
                Role::Library,
                &ctx.display(),
                "a module of a multi-module build with Spring Boot starters but no @SpringBootApplication class and no Boot plugin",
            );
        } else if let Some(fw) = c.framework {
            let file = c
                .evidence
                .iter()
                .find(|e| e.conclusion == "framework")
                .map(|e| e.file.clone())
                .unwrap_or_default();
            c.set_role(
                Role::Application,
                &file,
                format!("{fw} among the build's dependencies"),
            );
        } else if let Some((file, why)) = &facts.executable {
            c.set_role(Role::Application, file, why.clone());
        } else {
            c.set_role(
                Role::Library,
                &ctx.display(),
                "no server framework and no executable jar in the build",
            );
        }
        Some(c)
    }
}

/// Maven or Gradle, when a folder ships both builds: the one whose wrapper is committed, then
/// the one the repository's CI runs, else Maven (pom.xml); with the file and the reason.
fn choose_build(ctx: &DirContext<'_>, gradle_file: &str) -> (BuildTool, String, String) {
    let gradlew = ctx.find_up_dir("gradlew").is_some();
    let mvnw = ctx.find_up_dir("mvnw").is_some();
    if gradlew != mvnw {
        return if gradlew {
            (
                BuildTool::Gradle,
                ctx.path(gradle_file),
                "both pom.xml and a Gradle build; Gradle chosen: its wrapper (gradlew) is committed and mvnw is not".into(),
            )
        } else {
            (
                BuildTool::Maven,
                ctx.path("pom.xml"),
                "both pom.xml and a Gradle build; Maven chosen: its wrapper (mvnw) is committed and gradlew is not".into(),
            )
        };
    }
    let mut ci: Vec<&str> = ctx
        .index
        .files_in(".github/workflows")
        .map(|f| f.path.as_str())
        .chain([".gitlab-ci.yml", ".circleci/config.yml"])
        .collect();
    ci.sort_unstable();
    for path in ci {
        let Some(text) = ctx.index.text(path) else {
            continue;
        };
        let gradle = text.contains("gradlew") || text.contains("gradle ");
        let maven = text.contains("mvnw") || text.contains("mvn ");
        if gradle != maven {
            let tool = if gradle {
                BuildTool::Gradle
            } else {
                BuildTool::Maven
            };
            return (
                tool,
                path.to_string(),
                format!("both pom.xml and a Gradle build; {tool} chosen: {path} runs it"),
            );
        }
    }
    (
        BuildTool::Maven,
        ctx.path("pom.xml"),
        format!(
            "{gradle_file} is also present; pom.xml decides (no wrapper or CI file prefers either)"
        ),
    )
}

/// True for Gradle builds that only hold build logic: `buildSrc/`, and folders an enclosing
/// `settings.gradle` pulls in with `includeBuild(…)` (convention plugins, `build-logic/`).
fn is_build_logic(ctx: &DirContext<'_>) -> bool {
    if file_name(ctx.dir) == "buildSrc" {
        return true;
    }
    let mut dir = ctx.dir;
    while !dir.is_empty() {
        dir = parent_dir(dir);
        for name in ["settings.gradle.kts", "settings.gradle"] {
            let Some(text) = ctx.index.text(&join(dir, name)) else {
                continue;
            };
            let text = strip_comments(text);
            if RE_INCLUDE_BUILD
                .captures_iter(&text)
                .any(|m| resolve(dir, &m[1]).as_deref() == Some(ctx.dir))
            {
                return true;
            }
        }
    }
    false
}

/// Bytes of `.java` and `.kt` sources under `src/` (the whole folder when there is no `src/`),
/// counted files only. Gradle's Kotlin DSL (`.kts`) is left out: it says nothing of the code.
fn source_bytes(ctx: &DirContext<'_>) -> (u64, u64, String) {
    let src = ctx.path("src");
    let base = if ctx.index.files_under(&src).next().is_some() {
        src
    } else {
        ctx.dir.to_string()
    };
    let (mut java, mut kotlin) = (0, 0);
    for f in ctx
        .index
        .files_under(&base)
        .filter(|f| f.excluded.is_none())
    {
        if f.name().ends_with(".java") {
            java += ctx.index.size_or_estimate(f);
        } else if f.name().ends_with(".kt") {
            kotlin += ctx.index.size_or_estimate(f);
        }
    }
    let shown = if base.is_empty() {
        ".".to_string()
    } else {
        base
    };
    (java, kotlin, shown)
}

/// Version files that apply whatever the build tool, most specific first.
fn versions_from_files(ctx: &DirContext<'_>, c: &mut Candidate) {
    if let Some((path, text)) = ctx.find_up(".sdkmanrc") {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if let Some((tool, version)) = line.split_once('=') {
                let tool = tool.trim();
                if matches!(tool, "java" | "gradle" | "maven" | "kotlin") {
                    c.add_version(tool, version, format!("{path} ({tool})"));
                }
            }
        }
    }
    add_version_file(ctx, c, "java", ".java-version");
    add_tool_versions(ctx, c, "java", &["java"]);
}

// ---------------------------------------------------------------------------------------------
// Maven

/// The parts of a POM the detector uses.
#[derive(Debug, Default, Clone)]
struct Pom {
    parent: Option<(String, String, Option<String>)>,
    /// `None` when the parent is looked up in repositories only (`<relativePath/>`).
    parent_path: Option<String>,
    artifact_id: Option<String>,
    version: Option<String>,
    packaging: Option<String>,
    final_name: Option<String>,
    modules: Vec<String>,
    properties: HashMap<String, String>,
    deps: Vec<(String, String)>,
    /// `<dependencyManagement>` entries (BOM imports such as `spring-boot-dependencies`).
    managed: Vec<(String, String)>,
    plugins: Vec<PomPlugin>,
}

#[derive(Debug, Default, Clone)]
struct PomPlugin {
    group: String,
    artifact: String,
    /// `release`, `source`, `target`, `jvmTarget` from the plugin's configuration.
    config: Vec<(&'static str, String)>,
    main_class: bool,
}

impl Pom {
    fn parse(text: &str) -> Result<Pom, String> {
        let root = xml::parse(text)?;
        if root.name != "project" {
            return Err(format!(
                "the root element is <{}>, not <project>",
                root.name
            ));
        }
        let mut pom = Pom {
            artifact_id: root.child_text("artifactId").map(String::from),
            version: root.child_text("version").map(String::from),
            packaging: root.child_text("packaging").map(String::from),
            final_name: root
                .path(&["build", "finalName"])
                .map(|e| e.text.trim().to_string()),
            ..Pom::default()
        };
        if let Some(p) = root.child("parent") {
            pom.parent = Some((
                p.child_text("groupId").unwrap_or("").to_string(),
                p.child_text("artifactId").unwrap_or("").to_string(),
                p.child_text("version").map(String::from),
            ));
            pom.parent_path = match p.child("relativePath") {
                None => Some("../pom.xml".to_string()),
                Some(r) if r.text.trim().is_empty() => None,
                Some(r) => Some(r.text.trim().to_string()),
            };
        }
        if let Some(m) = root.child("modules") {
            pom.modules = m
                .children_named("module")
                .map(|e| e.text.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(props) = root.child("properties") {
            for p in &props.children {
                pom.properties
                    .insert(p.name.clone(), p.text.trim().to_string());
            }
        }
        if let Some(deps) = root.child("dependencies") {
            for d in deps.children_named("dependency") {
                pom.deps.push((
                    d.child_text("groupId").unwrap_or("").to_string(),
                    d.child_text("artifactId").unwrap_or("").to_string(),
                ));
            }
        }
        if let Some(deps) = root.path(&["dependencyManagement", "dependencies"]) {
            for d in deps.children_named("dependency") {
                pom.managed.push((
                    d.child_text("groupId").unwrap_or("").to_string(),
                    d.child_text("artifactId").unwrap_or("").to_string(),
                ));
            }
        }
        if let Some(plugins) = root.path(&["build", "plugins"]) {
            for p in plugins.children_named("plugin") {
                let mut plugin = PomPlugin {
                    group: p
                        .child_text("groupId")
                        .unwrap_or("org.apache.maven.plugins")
                        .to_string(),
                    artifact: p.child_text("artifactId").unwrap_or("").to_string(),
                    ..PomPlugin::default()
                };
                if let Some(conf) = p.child("configuration") {
                    for key in ["release", "source", "target", "jvmTarget"] {
                        if let Some(v) = conf.child_text(key) {
                            plugin.config.push((key, v.to_string()));
                        }
                    }
                }
                plugin.main_class = p.any_descendant(&["mainClass", "Main-Class"]);
                pom.plugins.push(plugin);
            }
        }
        // Coordinates are often written with properties (`${quarkus.platform.group-id}`).
        let resolved = |s: &String| pom.interpolate(s).unwrap_or_else(|| s.clone());
        let deps: Vec<(String, String)> = pom
            .deps
            .iter()
            .map(|(g, a)| (resolved(g), resolved(a)))
            .collect();
        let plugins: Vec<(String, String)> = pom
            .plugins
            .iter()
            .map(|p| (resolved(&p.group), resolved(&p.artifact)))
            .collect();
        pom.deps = deps;
        for (p, (g, a)) in pom.plugins.iter_mut().zip(plugins) {
            p.group = g;
            p.artifact = a;
        }
        Ok(pom)
    }

    /// Replaces `${name}` with the POM's own properties; `None` if one stays unresolved.
    fn interpolate(&self, value: &str) -> Option<String> {
        let mut out = value.to_string();
        for _ in 0..4 {
            let Some(start) = out.find("${") else {
                return Some(out);
            };
            let end = out[start..].find('}')? + start;
            let key = &out[start + 2..end];
            let replacement = match key {
                "project.version" => self.version.clone()?,
                "project.artifactId" => self.artifact_id.clone()?,
                _ => self.properties.get(key)?.clone(),
            };
            out.replace_range(start..=end, &replacement);
        }
        (!out.contains("${")).then_some(out)
    }
}

/// Parses the POM at `path`, if it was read and is well-formed.
fn read_pom(ctx: &DirContext<'_>, path: &str) -> Option<Pom> {
    ctx.index.text(path).and_then(|t| Pom::parse(t).ok())
}

fn maven(ctx: &DirContext<'_>, c: &mut Candidate, facts: &mut Facts) {
    let path = ctx.path("pom.xml");
    c.set_build_tool(BuildTool::Maven, &path, "pom.xml is present");
    if let Some((wrapper_path, text)) = ctx.find_up(".mvn/wrapper/maven-wrapper.properties") {
        if let Some(m) = RE_MAVEN_DIST.captures(text) {
            c.add_version("maven", &m[1], format!("{wrapper_path} (distributionUrl)"));
        }
    }
    let (root, module) = maven_reactor(ctx);
    let up = up_to(ctx.dir, root);
    facts.runner = match ctx.find_up_dir("mvnw") {
        Some(d) if d == ctx.dir => "./mvnw".to_string(),
        Some(d) if d == root => format!("{up}mvnw"),
        _ => {
            c.note(
                "build_tool",
                &path,
                "no Maven wrapper (mvnw) found; the system mvn runs",
            );
            "mvn".to_string()
        }
    };
    if let Some(module) = &module {
        facts.module = true;
        facts.reactor = format!(" -f {up}pom.xml -pl {module} -am");
        c.note(
            "build_tool",
            join(root, "pom.xml"),
            format!(
                "module `{module}` of the reactor in {}; built from there with -pl",
                display(root)
            ),
        );
    }

    let text = ctx.text("pom.xml").unwrap_or("");
    let pom = match Pom::parse(text) {
        Ok(p) => p,
        Err(e) => {
            c.warn(&path, format!("malformed pom.xml, ignored: {e}"));
            return;
        }
    };
    let parent_pom = pom.parent_path.as_ref().and_then(|rel| {
        let rel = if rel.ends_with(".xml") {
            rel.clone()
        } else {
            format!("{rel}/pom.xml")
        };
        let p = resolve(ctx.dir, &rel)?;
        let parent = read_pom(ctx, &p)?;
        let wanted = pom.parent.as_ref().map(|(_, a, _)| a.as_str());
        (parent.artifact_id.as_deref() == wanted).then_some((p, parent))
    });

    if let Some((g, a, _)) = &pom.parent {
        if g == "org.springframework.boot" {
            facts.spring_parent = Some((path.clone(), format!("`{g}:{a}` is the parent POM")));
        }
    }
    if pom.packaging.as_deref() == Some("pom") && !pom.modules.is_empty() {
        facts.aggregator = Some((
            path.clone(),
            format!(
                "parent POM (packaging pom) listing modules {}",
                pom.modules.join(", ")
            ),
        ));
    }
    for (g, a) in &pom.deps {
        facts.deps.push(Dep {
            group: g.clone(),
            artifact: a.clone(),
            file: path.clone(),
            detail: format!("`{g}:{a}` is a dependency"),
        });
    }
    for p in &pom.plugins {
        facts.plugins.push(maven_plugin(p, &path, ""));
    }
    if let Some((ppath, parent)) = &parent_pom {
        for (g, a) in &parent.deps {
            facts.deps.push(Dep {
                group: g.clone(),
                artifact: a.clone(),
                file: ppath.clone(),
                detail: format!("`{g}:{a}` is a dependency inherited from the parent POM"),
            });
        }
        for p in &parent.plugins {
            facts.inherited_plugins.push(maven_plugin(
                p,
                ppath,
                " (inherited from the parent POM)",
            ));
        }
    }

    maven_versions(c, &pom, &path);
    if let Some((ppath, parent)) = &parent_pom {
        maven_versions(c, parent, ppath);
    }
    boot_through_ancestors(ctx, &pom, &path, parent_pom.as_ref(), facts);

    if let Some(p) = pom.plugins.iter().find(|p| {
        p.main_class || p.artifact == "maven-shade-plugin" || p.artifact == "maven-assembly-plugin"
    }) {
        facts.executable = Some((
            path.clone(),
            format!("{} builds an executable jar", p.artifact),
        ));
    }
    let version = pom
        .version
        .clone()
        .or_else(|| pom.parent.as_ref().and_then(|(_, _, v)| v.clone()))
        .and_then(|v| pom.interpolate(&v));
    facts.maven_jar = match (&pom.final_name, &pom.artifact_id, version) {
        (Some(f), _, _) => pom.interpolate(f),
        (None, Some(a), Some(v)) => Some(format!("{a}-{v}")),
        _ => None,
    }
    // Written into a `cp` in the Dockerfile: a name a shell or Dockerfile would read as syntax
    // (a `<version>` holding `&#10;RUN …`) falls back to `target/*.jar`, as an unknown one does.
    .filter(|jar| crate::quote::portable(jar));
}

/// Walks the in-repository parent POMs above this one (at most a few levels): a Spring Boot
/// parent or a `spring-boot-dependencies` import anywhere above means Boot reaches this
/// module through its build; dependencies declared by grandparents are inherited too.
fn boot_through_ancestors(
    ctx: &DirContext<'_>,
    pom: &Pom,
    path: &str,
    parent: Option<&(String, Pom)>,
    facts: &mut Facts,
) {
    let boot_mark = |p: &Pom| {
        p.managed
            .iter()
            .find(|(g, a)| g == "org.springframework.boot" && a == "spring-boot-dependencies")
            .map(|_| "imports the `spring-boot-dependencies` BOM".to_string())
            .or_else(|| {
                p.parent
                    .as_ref()
                    .filter(|(g, _, _)| g == "org.springframework.boot")
                    .map(|(g, a, _)| format!("has `{g}:{a}` as its parent"))
            })
    };
    if let Some(why) = boot_mark(pom).filter(|_| facts.spring_parent.is_none()) {
        facts.boot_in_build = Some((path.to_string(), format!("{path} {why}")));
    }
    let mut current = parent.cloned();
    let mut depth = 0;
    while let Some((ppath, ppom)) = current {
        if facts.boot_in_build.is_none() {
            if let Some(why) = boot_mark(&ppom) {
                facts.boot_in_build = Some((
                    ppath.clone(),
                    format!("Spring Boot reaches this module through the parent POM {ppath}, which {why}"),
                ));
            }
        }
        if depth > 0 {
            for (g, a) in &ppom.deps {
                facts.deps.push(Dep {
                    group: g.clone(),
                    artifact: a.clone(),
                    file: ppath.clone(),
                    detail: format!(
                        "`{g}:{a}` is a dependency inherited from the parent POM {ppath}"
                    ),
                });
            }
        }
        depth += 1;
        if depth > 5 {
            break;
        }
        let dir = parent_dir(&ppath).to_string();
        current = ppom.parent_path.as_ref().and_then(|rel| {
            let rel = if rel.ends_with(".xml") {
                rel.clone()
            } else {
                format!("{rel}/pom.xml")
            };
            let p = resolve(&dir, &rel)?;
            let next = read_pom(ctx, &p)?;
            let wanted = ppom.parent.as_ref().map(|(_, a, _)| a.as_str());
            (next.artifact_id.as_deref() == wanted).then_some((p, next))
        });
    }
    facts.boot_application = boot_application(ctx);
}

/// The `*Application` source file under `src/main/` that carries `@SpringBootApplication`.
fn boot_application(ctx: &DirContext<'_>) -> Option<String> {
    let mut found: Vec<&str> = ctx
        .index
        .files_under(&ctx.path("src/main"))
        .filter(|f| is_application_class(f.name()))
        .filter(|f| {
            ctx.index.text(&f.path).is_some_and(|t| {
                // `@SpringBootApplication`, or written with its package.
                t.lines().any(|l| {
                    let l = l.trim_start();
                    l.starts_with('@') && l.contains("SpringBootApplication")
                })
            })
        })
        .map(|f| f.path.as_str())
        .collect();
    found.sort_unstable();
    found.first().map(|s| s.to_string())
}

fn maven_plugin(p: &PomPlugin, file: &str, suffix: &str) -> Plugin {
    let id = format!("{}:{}", p.group, p.artifact);
    Plugin {
        detail: format!("plugin `{id}` in <build>{suffix}"),
        id,
        file: file.to_string(),
    }
}

/// The folder of the outermost in-repository reactor this folder is a module of, and the
/// module's path inside it (`None` when the folder is not a module).
fn maven_reactor<'a>(ctx: &DirContext<'a>) -> (&'a str, Option<String>) {
    let lists = |pom_dir: &str, module: &str| {
        read_pom(ctx, &join(pom_dir, "pom.xml")).is_some_and(|p| {
            p.modules
                .iter()
                .any(|m| resolve(pom_dir, m).as_deref() == Some(module))
        })
    };
    // A module may be listed from any folder above it (`<module>services/api</module>`).
    let mut current = ctx.dir;
    'up: while !current.is_empty() {
        let mut candidate = current;
        while !candidate.is_empty() {
            candidate = parent_dir(candidate);
            if lists(candidate, current) {
                current = candidate;
                continue 'up;
            }
        }
        break;
    }
    if current == ctx.dir {
        return (ctx.dir, None);
    }
    let module = ctx.dir[current.len()..].trim_start_matches('/').to_string();
    (current, Some(module))
}

/// Java (and Kotlin) versions a POM pins, in the order the compiler honours them.
fn maven_versions(c: &mut Candidate, pom: &Pom, path: &str) {
    let compiler = pom
        .plugins
        .iter()
        .find(|p| p.artifact == "maven-compiler-plugin");
    let plugin_value = |key: &str| {
        compiler
            .and_then(|p| p.config.iter().find(|(k, _)| *k == key))
            .map(|(_, v)| v.clone())
    };
    let add = |c: &mut Candidate, raw: Option<String>, label: String| {
        if let Some(raw) = raw {
            match pom.interpolate(&raw) {
                Some(v) => c.add_version("java", &v, format!("{path} ({label})")),
                None => c.note(
                    "runtime_version",
                    path,
                    format!("{label} is `{raw}`, a property not defined in this POM; skipped"),
                ),
            }
        }
    };
    let prop = |k: &str| pom.properties.get(k).cloned();
    add(
        c,
        plugin_value("release"),
        "maven-compiler-plugin release".into(),
    );
    add(
        c,
        prop("maven.compiler.release"),
        "maven.compiler.release".into(),
    );
    add(c, prop("java.version"), "java.version".into());
    add(
        c,
        plugin_value("source"),
        "maven-compiler-plugin source".into(),
    );
    add(
        c,
        prop("maven.compiler.source"),
        "maven.compiler.source".into(),
    );
    add(
        c,
        plugin_value("target"),
        "maven-compiler-plugin target".into(),
    );
    add(
        c,
        prop("maven.compiler.target"),
        "maven.compiler.target".into(),
    );
    let kotlin_target = pom
        .plugins
        .iter()
        .find(|p| p.artifact == "kotlin-maven-plugin")
        .and_then(|p| p.config.iter().find(|(k, _)| *k == "jvmTarget"))
        .map(|(_, v)| v.clone());
    add(c, kotlin_target, "kotlin-maven-plugin jvmTarget".into());
    add(
        c,
        prop("kotlin.compiler.jvmTarget"),
        "kotlin.compiler.jvmTarget".into(),
    );
    if let Some(v) = prop("kotlin.version") {
        c.add_version("kotlin", &v, format!("{path} (kotlin.version)"));
    }
}

fn display(dir: &str) -> String {
    super::context::display_dir(dir)
}

// ---------------------------------------------------------------------------------------------
// Gradle

/// A Gradle version catalog (`gradle/libs.versions.toml`), keyed by accessor (`ktor.server.core`).
#[derive(Debug, Default)]
struct Catalog {
    path: String,
    libraries: HashMap<String, (String, String)>,
    plugins: HashMap<String, (String, Option<String>)>,
    bundles: HashMap<String, Vec<String>>,
    versions: HashMap<String, String>,
}

/// The accessor form of a catalog alias: `spring-boot_starter` → `spring.boot.starter`.
fn accessor(alias: &str) -> String {
    alias
        .chars()
        .map(|c| {
            if c == '-' || c == '_' {
                '.'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

impl Catalog {
    fn parse(path: &str, table: &toml::Table) -> Catalog {
        let mut cat = Catalog {
            path: path.to_string(),
            ..Catalog::default()
        };
        let section = |name: &str| table.get(name).and_then(|v| v.as_table());
        if let Some(v) = section("versions") {
            for (k, val) in v {
                let value = match val {
                    toml::Value::String(s) => Some(s.clone()),
                    toml::Value::Table(t) => ["strictly", "require", "prefer"]
                        .iter()
                        .find_map(|k| t.get(*k).and_then(|v| v.as_str()).map(String::from)),
                    _ => None,
                };
                if let Some(value) = value {
                    cat.versions.insert(k.clone(), value);
                }
            }
        }
        if let Some(libs) = section("libraries") {
            for (alias, val) in libs {
                let coord = match val {
                    toml::Value::String(s) => {
                        let mut p = s.split(':');
                        p.next()
                            .zip(p.next())
                            .map(|(g, a)| (g.to_string(), a.to_string()))
                    }
                    toml::Value::Table(t) => {
                        if let Some(m) = t.get("module").and_then(|v| v.as_str()) {
                            m.split_once(':')
                                .map(|(g, a)| (g.to_string(), a.to_string()))
                        } else {
                            let g = t.get("group").and_then(|v| v.as_str());
                            let a = t.get("name").and_then(|v| v.as_str());
                            g.zip(a).map(|(g, a)| (g.to_string(), a.to_string()))
                        }
                    }
                    _ => None,
                };
                if let Some(coord) = coord {
                    cat.libraries.insert(accessor(alias), coord);
                }
            }
        }
        if let Some(plugins) = section("plugins") {
            for (alias, val) in plugins {
                let entry = match val {
                    toml::Value::String(s) => {
                        let (id, v) = s.split_once(':').unwrap_or((s.as_str(), ""));
                        Some((id.to_string(), (!v.is_empty()).then(|| v.to_string())))
                    }
                    toml::Value::Table(t) => t.get("id").and_then(|v| v.as_str()).map(|id| {
                        let version = match t.get("version") {
                            Some(toml::Value::String(s)) => Some(s.clone()),
                            Some(toml::Value::Table(v)) => v
                                .get("ref")
                                .and_then(|r| r.as_str())
                                .and_then(|r| cat.versions.get(r).cloned()),
                            _ => None,
                        };
                        (id.to_string(), version)
                    }),
                    _ => None,
                };
                if let Some(entry) = entry {
                    cat.plugins.insert(accessor(alias), entry);
                }
            }
        }
        if let Some(bundles) = section("bundles") {
            for (alias, val) in bundles {
                let members = val
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str())
                    .map(accessor)
                    .collect();
                cat.bundles.insert(accessor(alias), members);
            }
        }
        cat
    }
}

/// Removes `//` and `/* */` comments from a Groovy or Kotlin build script, leaving strings
/// alone, so that a commented-out dependency is not taken for a real one.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(ch) = chars.next() {
        if let Some(q) = quote {
            out.push(ch);
            if ch == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else if ch == q || ch == '\n' {
                quote = None;
            }
            continue;
        }
        match (ch, chars.peek()) {
            ('/', Some('/')) => {
                for skipped in chars.by_ref() {
                    if skipped == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut prev = ' ';
                for skipped in chars.by_ref() {
                    if skipped == '\n' {
                        out.push('\n');
                    }
                    if prev == '*' && skipped == '/' {
                        break;
                    }
                    prev = skipped;
                }
            }
            ('"' | '\'', _) => {
                quote = Some(ch);
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

/// The text inside the first `<name> { … }` block, braces balanced.
fn block<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    let mut from = 0;
    while let Some(pos) = text[from..].find(name) {
        let start = from + pos;
        let before_ok = start == 0
            || !text[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        let rest = text[start + name.len()..].trim_start();
        if before_ok && rest.starts_with('{') {
            let open = text.len() - rest.len();
            let mut depth = 0usize;
            for (i, ch) in text[open..].char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(&text[open + 1..open + i]);
                        }
                    }
                    _ => {}
                }
            }
            return None;
        }
        from = start + name.len();
    }
    None
}

/// Dependencies and plugins one Gradle build script declares.
fn gradle_script(text: &str, file: &str, catalog: Option<&Catalog>, facts: &mut Facts) {
    let mut push_dep = |g: &str, a: &str, detail: String| {
        facts.deps.push(Dep {
            group: g.to_string(),
            artifact: a.to_string(),
            file: file.to_string(),
            detail,
        });
    };
    for m in RE_COORD.captures_iter(text) {
        push_dep(
            &m[1],
            &m[2],
            format!("`{}:{}` is a dependency", &m[1], &m[2]),
        );
    }
    for m in RE_MAP_COORD.captures_iter(text) {
        push_dep(
            &m[1],
            &m[2],
            format!("`{}:{}` is a dependency", &m[1], &m[2]),
        );
    }
    let mut plugins: Vec<(String, String)> = Vec::new();
    for m in RE_KOTLIN_FN.captures_iter(text) {
        let name = &m[1];
        let is_plugin = m.get(2).is_some()
            || name.starts_with("plugin.")
            || matches!(name, "jvm" | "multiplatform" | "android" | "js" | "kapt");
        if is_plugin {
            plugins.push((
                format!("org.jetbrains.kotlin.{name}"),
                format!("kotlin(\"{name}\") plugin"),
            ));
        } else {
            push_dep(
                "org.jetbrains.kotlin",
                &format!("kotlin-{name}"),
                format!(
                    "`org.jetbrains.kotlin:kotlin-{name}` is a dependency (kotlin(\"{name}\"))"
                ),
            );
        }
    }
    for m in RE_PLUGIN_ID.captures_iter(text) {
        plugins.push((m[1].to_string(), format!("plugin `{}` is applied", &m[1])));
    }
    for m in RE_APPLY_PLUGIN.captures_iter(text) {
        plugins.push((m[1].to_string(), format!("plugin `{}` is applied", &m[1])));
    }
    if let Some(body) = block(text, "plugins") {
        for m in RE_BARE_PLUGIN.captures_iter(body) {
            plugins.push((m[1].to_string(), format!("plugin `{}` is applied", &m[1])));
        }
    }
    if let Some(cat) = catalog {
        for m in RE_CATALOG_REF.captures_iter(text) {
            let reference = m[1].trim_end_matches(".get").to_ascii_lowercase();
            if let Some(alias) = reference.strip_prefix("plugins.") {
                if let Some((id, _)) = cat.plugins.get(alias) {
                    plugins.push((
                        id.clone(),
                        format!(
                            "plugin `{id}` is applied (libs.plugins.{alias} in {})",
                            cat.path
                        ),
                    ));
                }
            } else if let Some(alias) = reference.strip_prefix("bundles.") {
                for member in cat.bundles.get(alias).into_iter().flatten() {
                    if let Some((g, a)) = cat.libraries.get(member) {
                        push_dep(
                            g,
                            a,
                            format!(
                                "`{g}:{a}` is a dependency (bundle libs.bundles.{alias} in {})",
                                cat.path
                            ),
                        );
                    }
                }
            } else if !reference.starts_with("versions.") {
                if let Some((g, a)) = cat.libraries.get(&reference) {
                    push_dep(
                        g,
                        a,
                        format!(
                            "`{g}:{a}` is a dependency (libs.{reference} in {})",
                            cat.path
                        ),
                    );
                }
            }
        }
    }
    for (id, detail) in plugins {
        facts.plugins.push(Plugin {
            id,
            file: file.to_string(),
            detail,
        });
    }
}

/// Java versions a Gradle build script pins, in the order Gradle honours them.
fn gradle_versions(c: &mut Candidate, text: &str, file: &str) {
    if let Some(m) = RE_TOOLCHAIN.captures(text) {
        c.add_version(
            "java",
            &m[1],
            format!("{file} (java.toolchain.languageVersion)"),
        );
    }
    if let Some(m) = RE_JVM_TOOLCHAIN.captures(text) {
        c.add_version("java", &m[1], format!("{file} (kotlin.jvmToolchain)"));
    }
    for m in RE_COMPATIBILITY.captures_iter(text) {
        let value = m
            .get(2)
            .map(|v| v.as_str().replace('_', "."))
            .or_else(|| m.get(3).or(m.get(4)).map(|v| v.as_str().to_string()));
        if let Some(v) = value {
            c.add_version("java", &v, format!("{file} ({})", &m[1]));
        }
    }
    if let Some(m) = RE_JVM_TARGET.captures(text) {
        let v = m
            .get(1)
            .map(|v| v.as_str().replace('_', "."))
            .or_else(|| m.get(2).map(|v| v.as_str().to_string()));
        if let Some(v) = v {
            c.add_version("java", &v, format!("{file} (kotlin jvmTarget)"));
        }
    }
}

fn gradle(
    ctx: &DirContext<'_>,
    c: &mut Candidate,
    facts: &mut Facts,
    build_file: Option<&str>,
    settings_file: Option<&str>,
) {
    let manifest = ctx.path(build_file.or(settings_file).unwrap_or("build.gradle"));
    c.set_build_tool(
        BuildTool::Gradle,
        &manifest,
        format!("{} is present", file_name(&manifest)),
    );
    // The build root holds settings.gradle, the wrapper and the version catalog.
    let root = ["settings.gradle.kts", "settings.gradle"]
        .into_iter()
        .filter_map(|f| ctx.find_up_dir(f))
        .max_by_key(|d| d.len())
        .unwrap_or(ctx.dir);
    if let Some(d) = ctx.find_up_dir("gradlew").filter(|d| d.len() >= root.len()) {
        facts.runner = format!(
            "{}gradlew",
            if d == ctx.dir {
                "./".to_string()
            } else {
                up_to(ctx.dir, d)
            }
        );
    } else {
        facts.runner = "gradle".to_string();
    }
    let wrapper = join(root, "gradle/wrapper/gradle-wrapper.properties");
    if let Some(m) = ctx
        .index
        .text(&wrapper)
        .and_then(|t| RE_GRADLE_DIST.captures(t))
    {
        c.add_version("gradle", &m[1], format!("{wrapper} (distributionUrl)"));
    }
    let catalog_path = join(root, "gradle/libs.versions.toml");
    let catalog = ctx
        .index
        .text(&catalog_path)
        .and_then(|t| match t.parse::<toml::Table>() {
            Ok(table) => Some(Catalog::parse(&catalog_path, &table)),
            Err(e) => {
                let msg = e.to_string();
                let first = msg.lines().next().unwrap_or("parse error").to_string();
                c.warn(&catalog_path, format!("malformed TOML, ignored: {first}"));
                None
            }
        });

    let settings_path = ["settings.gradle.kts", "settings.gradle"]
        .into_iter()
        .map(|f| join(root, f))
        .find(|p| ctx.index.exists(p));
    let settings = settings_path
        .as_ref()
        .and_then(|p| ctx.index.text(p))
        .map(strip_comments);
    let root_name = settings
        .as_deref()
        .and_then(|s| RE_ROOT_NAME.captures(s))
        .map(|m| m[1].to_string());
    facts.gradle_name = if ctx.dir == root {
        root_name
    } else {
        Some(file_name(ctx.dir).to_string())
    };

    if root == ctx.dir {
        if let (Some(text), Some(path)) = (&settings, &settings_path) {
            let mut included: Vec<String> = Vec::new();
            for m in RE_INCLUDE.captures_iter(text) {
                for q in RE_QUOTED.captures_iter(&m[1]) {
                    included.push(q[1].trim_start_matches(':').replace(':', "/"));
                }
            }
            let has_src = ctx.index.files_under(&ctx.path("src")).next().is_some();
            if !included.is_empty() && !has_src {
                facts.aggregator = Some((
                    path.clone(),
                    format!(
                        "multi-project build including {} with no src/ of its own",
                        included.join(", ")
                    ),
                ));
            }
        }
    } else if let Some(path) = &settings_path {
        c.note(
            "build_tool",
            path.clone(),
            format!("subproject of the Gradle build in {}", display(root)),
        );
    }

    if let Some(b) = build_file {
        let path = ctx.path(b);
        let text = strip_comments(ctx.text(b).unwrap_or(""));
        gradle_script(&text, &path, catalog.as_ref(), facts);
        gradle_versions(c, &text, &path);
        kotlin_version(c, &text, &path, catalog.as_ref());
        if facts.plugins.iter().any(|p| p.id == "application") {
            facts.executable = Some((path.clone(), "the `application` plugin is applied".into()));
        }
    }
    // Toolchains are often set once for every subproject in the root build script, and so
    // is the Spring Boot plugin (`subprojects { apply plugin: … }`, or declared `apply false`).
    if root != ctx.dir {
        for b in ["build.gradle.kts", "build.gradle"] {
            let path = join(root, b);
            if let Some(text) = ctx.index.text(&path) {
                let text = strip_comments(text);
                gradle_versions(c, &text, &path);
                if text.contains("org.springframework.boot") {
                    facts.boot_in_build = Some((
                        path.clone(),
                        format!("the root build script {path} brings the Spring Boot plugin"),
                    ));
                }
            }
        }
        facts.boot_application = boot_application(ctx);
        facts.module = true;
    }
    if facts.runner == "gradle" {
        c.note(
            "build_tool",
            manifest,
            "no Gradle wrapper (gradlew) found; the system gradle runs",
        );
    }
}

fn kotlin_version(c: &mut Candidate, text: &str, path: &str, catalog: Option<&Catalog>) {
    let from_script = RE_KOTLIN_FN
        .captures_iter(text)
        .find(|m| &m[1] == "jvm" && m.get(3).is_some())
        .and_then(|m| m.get(3).map(|v| v.as_str().to_string()))
        .or_else(|| {
            RE_PLUGIN_ID
                .captures_iter(text)
                .find(|m| &m[1] == "org.jetbrains.kotlin.jvm")
                .and_then(|m| m.get(2).map(|v| v.as_str().to_string()))
        });
    if let Some(v) = from_script {
        c.add_version("kotlin", &v, format!("{path} (kotlin jvm plugin)"));
    } else if let Some(cat) = catalog {
        if let Some(v) = cat
            .plugins
            .values()
            .find(|(id, _)| id == "org.jetbrains.kotlin.jvm")
            .and_then(|(_, v)| v.clone())
        {
            c.add_version("kotlin", &v, format!("{} (kotlin jvm plugin)", cat.path));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared conclusions

fn dep_framework(group: &str, artifact: &str) -> Option<Framework> {
    let test_only = artifact.contains("test") || artifact.contains("junit");
    if test_only {
        return None;
    }
    if (group == "org.springframework.boot" && artifact.starts_with("spring-boot-starter"))
        || is_spring_cloud_app(group, artifact)
    {
        Some(Framework::SpringBoot)
    } else if group == "io.quarkus" && artifact.starts_with("quarkus-") {
        Some(Framework::Quarkus)
    } else if (group == "io.micronaut" || group.starts_with("io.micronaut."))
        && group != "io.micronaut.platform"
    {
        Some(Framework::Micronaut)
    } else if group == "io.ktor" && artifact.starts_with("ktor-server") {
        // ktor-client alone is an HTTP client, not a server.
        Some(Framework::Ktor)
    } else {
        None
    }
}

fn framework(c: &mut Candidate, facts: &Facts) {
    for fw in FRAMEWORK_ORDER {
        if let Some(d) = facts
            .deps
            .iter()
            .find(|d| dep_framework(&d.group, &d.artifact) == Some(*fw))
        {
            c.set_framework(*fw, &d.file, d.detail.clone());
        } else if let Some(p) = facts
            .plugins
            .iter()
            .find(|p| FRAMEWORK_PLUGINS.contains(&(p.id.as_str(), *fw)))
        {
            c.set_framework(*fw, &p.file, p.detail.clone());
        } else if *fw == Framework::SpringBoot {
            if let Some((file, detail)) = &facts.spring_parent {
                c.set_framework(*fw, file, detail.clone());
            } else if let (Some((bfile, bdetail)), Some(class)) =
                (&facts.boot_in_build, &facts.boot_application)
            {
                c.set_framework(*fw, class, format!("@SpringBootApplication in {class}"));
                c.note("framework", bfile, bdetail.clone());
            }
        }
    }
}

/// The port from Spring/Quarkus/Micronaut/Ktor configuration, then from Ktor's entry file.
fn port(ctx: &DirContext<'_>, c: &mut Candidate) {
    let resources = "src/main/resources";
    let props = format!("{resources}/application.properties");
    if let Some(text) = ctx.text(&props) {
        for line in text.lines() {
            let Some((key, value)) = line.split_once(['=', ':']) else {
                continue;
            };
            let key = key.trim();
            if PORT_KEYS.contains(&key) {
                if let Some(p) = port_value(value.trim()) {
                    c.set_port_from(
                        PortOrigin::FrameworkConfig,
                        p,
                        &ctx.path(&props),
                        format!("{key}={}", value.trim()),
                    );
                    return;
                }
            }
        }
    }
    for name in ["application.yml", "application.yaml"] {
        let rel = format!("{resources}/{name}");
        let Some(text) = ctx.text(&rel) else { continue };
        let doc = match crate::yaml::to_json(text) {
            Ok(d) => d,
            Err(e) => {
                c.warn(ctx.path(&rel), format!("unreadable YAML, ignored: {e}"));
                continue;
            }
        };
        let mut flat = Vec::new();
        flatten(&doc, String::new(), &mut flat);
        for key in PORT_KEYS {
            if let Some((_, v)) = flat.iter().find(|(k, _)| k == key) {
                if let Some(p) = port_value(v) {
                    c.set_port_from(
                        PortOrigin::FrameworkConfig,
                        p,
                        &ctx.path(&rel),
                        format!("{key}: {v}"),
                    );
                    return;
                }
            }
        }
    }
    let conf = format!("{resources}/application.conf");
    if let Some(text) = ctx.text(&conf) {
        if let Some(p) = RE_HOCON_PORT
            .captures(text)
            .and_then(|m| m[1].parse::<u16>().ok())
        {
            c.set_port_from(
                PortOrigin::FrameworkConfig,
                p,
                &ctx.path(&conf),
                format!("ktor.deployment.port = {p}"),
            );
            return;
        }
    }
    let kotlin_root = ctx.path("src/main/kotlin");
    let entries = ctx
        .index
        .files_under(&kotlin_root)
        .filter(|f| KOTLIN_ENTRY_FILES.contains(&f.name()));
    for f in entries {
        let Some(text) = ctx.index.text(&f.path) else {
            continue;
        };
        for (re, what) in [
            (&*RE_EMBEDDED_PORT, "embeddedServer(…, port = {p})"),
            (&*RE_ENV_PORT, "PORT defaults to {p}"),
        ] {
            if let Some(p) = re.captures(text).and_then(|m| m[1].parse::<u16>().ok()) {
                c.set_port(p, &f.path, what.replace("{p}", &p.to_string()));
                return;
            }
        }
    }
}

/// `8081`, `${PORT:8081}` → 8081.
fn port_value(value: &str) -> Option<u16> {
    let v = value.trim().trim_matches('"').trim_matches('\'');
    let v = match v.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        Some(inner) => inner.rsplit(':').next().unwrap_or(""),
        None => v,
    };
    v.trim().parse::<u16>().ok().filter(|p| *p > 0)
}

/// Flattens a YAML document into dotted keys (`server.port`), so that nested and dotted
/// spellings read the same.
fn flatten(v: &serde_json::Value, prefix: String, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(val, key, out);
            }
        }
        serde_json::Value::String(s) => out.push((prefix, s.clone())),
        serde_json::Value::Number(n) => out.push((prefix, n.to_string())),
        _ => {}
    }
}

fn commands(ctx: &DirContext<'_>, c: &mut Candidate, facts: &Facts) {
    let all_plugins = || facts.plugins.iter().chain(&facts.inherited_plugins);
    let has_plugin = |id: &str| all_plugins().any(|p| p.id == id);
    let run = &facts.runner;
    match c.build_tool {
        Some(BuildTool::Maven) => {
            let mvn = format!("{run} -B -ntp{}", facts.reactor);
            c.commands.install = Some(format!("{mvn} dependency:go-offline"));
            c.commands.build = Some(format!("{mvn} package -DskipTests"));
            if c.test_framework.is_some() {
                c.commands.test = Some(format!("{mvn} test"));
            }
            for (plugin, goal, _) in LINT_PLUGINS.iter().filter(|(_, g, _)| !g.is_empty()) {
                if let Some(p) = all_plugins().find(|p| p.id == *plugin) {
                    c.commands.lint = Some(format!("{mvn} {goal}"));
                    c.note(
                        "command",
                        p.file.clone(),
                        format!("lint: {goal} ({})", p.detail),
                    );
                    break;
                }
            }
            let jar = match &facts.maven_jar {
                Some(name) => format!("target/{name}.jar"),
                None => "target/*.jar".to_string(),
            };
            c.commands.start = match c.framework {
                Some(Framework::Quarkus) => {
                    Some("java -jar target/quarkus-app/quarkus-run.jar".to_string())
                }
                Some(_) => Some(format!("java -jar {jar}")),
                None if facts.executable.is_some() => Some(format!("java -jar {jar}")),
                None => None,
            };
        }
        Some(BuildTool::Gradle) => {
            let gradle = format!("{run} --no-daemon");
            c.commands.install = Some(format!("{gradle} dependencies"));
            let fat = FAT_JAR_PLUGINS.iter().find(|(id, _, _)| has_plugin(id));
            let (task, start) = match (c.framework, fat) {
                (Some(Framework::Quarkus), _) => (
                    "quarkusBuild".to_string(),
                    Some("java -jar build/quarkus-app/quarkus-run.jar".to_string()),
                ),
                (_, Some((_, task, jar))) => (task.to_string(), Some(format!("java -jar {jar}"))),
                (Some(Framework::SpringBoot), None) => (
                    "bootJar".to_string(),
                    Some("java -jar build/libs/*.jar".to_string()),
                ),
                _ if facts.executable.is_some()
                    || matches!(c.framework, Some(Framework::Micronaut | Framework::Ktor)) =>
                {
                    let start = match &facts.gradle_name {
                        Some(n) => format!("build/install/{n}/bin/{n}"),
                        None => format!("{gradle} run"),
                    };
                    ("installDist".to_string(), Some(start))
                }
                _ => ("assemble".to_string(), None),
            };
            c.commands.build = Some(format!("{gradle} {task}"));
            if c.test_framework.is_some() {
                c.commands.test = Some(format!("{gradle} test"));
            }
            for (plugin, _, task) in LINT_PLUGINS.iter().filter(|(_, _, t)| !t.is_empty()) {
                if let Some(p) = all_plugins().find(|p| p.id == *plugin) {
                    c.commands.lint = Some(format!("{gradle} {task}"));
                    c.note(
                        "command",
                        p.file.clone(),
                        format!("lint: {task} ({})", p.detail),
                    );
                    break;
                }
            }
            c.commands.start = start;
        }
        _ => {}
    }
    if c.commands.lint.is_none() && facts.aggregator.is_none() {
        c.note(
            "command",
            ctx.display(),
            "no linter configured in the build (Spotless, Checkstyle, ktlint or detekt); no lint command",
        );
    }
    if let Some(s) = &c.commands.start {
        c.note("command", ctx.display(), format!("start: {s}"));
    }
}

/// A small element tree over quick-xml, for the XML manifests (`pom.xml`, `.csproj`,
/// `Directory.Build.props`, `.slnx`). Errors are strings fit for a warning.
pub(crate) mod xml {
    use quick_xml::events::Event;
    use quick_xml::Reader;

    /// Elements nested deeper than this are refused (manifests are shallow).
    const MAX_DEPTH: usize = 64;

    /// One element: local name (namespace prefix dropped), attributes, text, children.
    #[derive(Debug, Default, Clone, PartialEq)]
    pub struct Element {
        pub name: String,
        pub attrs: Vec<(String, String)>,
        pub text: String,
        pub children: Vec<Element>,
    }

    impl Element {
        /// The first child element named `name`.
        pub fn child(&self, name: &str) -> Option<&Element> {
            self.children.iter().find(|c| c.name == name)
        }

        /// Every child element named `name`.
        pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
            self.children.iter().filter(move |c| c.name == name)
        }

        /// The trimmed, non-empty text of the first child named `name`.
        pub fn child_text(&self, name: &str) -> Option<&str> {
            self.child(name)
                .map(|c| c.text.trim())
                .filter(|t| !t.is_empty())
        }

        /// The element at a path of child names.
        pub fn path(&self, names: &[&str]) -> Option<&Element> {
            names.iter().try_fold(self, |e, n| e.child(n))
        }

        /// An attribute's value.
        pub fn attr(&self, name: &str) -> Option<&str> {
            self.attrs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        }

        /// True when some element below this one has one of these names.
        pub fn any_descendant(&self, names: &[&str]) -> bool {
            self.children
                .iter()
                .any(|c| names.contains(&c.name.as_str()) || c.any_descendant(names))
        }

        /// Every element below this one (depth first) named `name`.
        pub fn descendants<'a>(&'a self, name: &str, out: &mut Vec<&'a Element>) {
            for c in &self.children {
                if c.name == name {
                    out.push(c);
                }
                c.descendants(name, out);
            }
        }
    }

    fn local(name: &str) -> String {
        name.rsplit(':').next().unwrap_or(name).to_string()
    }

    fn element(e: &quick_xml::events::BytesStart<'_>) -> Result<Element, String> {
        let mut el = Element {
            name: local(e.name().as_ref()),
            ..Element::default()
        };
        for a in e.attributes() {
            let a = a.map_err(|e| e.to_string())?;
            let value = a
                .normalized_value(quick_xml::XmlVersion::default())
                .map_err(|e| e.to_string())?;
            el.attrs.push((local(a.key.as_ref()), value.into_owned()));
        }
        Ok(el)
    }

    /// Parses a whole document and returns its root element.
    pub fn parse(text: &str) -> Result<Element, String> {
        let mut reader = Reader::from_str(text);
        let mut stack: Vec<Element> = Vec::new();
        let mut root: Option<Element> = None;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
            match event {
                Event::Start(e) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(format!("elements nest deeper than {MAX_DEPTH} levels"));
                    }
                    stack.push(element(&e)?);
                }
                Event::Empty(e) => {
                    let el = element(&e)?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = root.or(Some(el)),
                    }
                }
                Event::End(_) => {
                    let Some(el) = stack.pop() else {
                        return Err("a closing tag without its opening tag".to_string());
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = root.or(Some(el)),
                    }
                }
                Event::Text(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t);
                    }
                }
                Event::GeneralRef(r) => {
                    if let Some(top) = stack.last_mut() {
                        let resolved = match r.resolve_char_ref() {
                            Ok(Some(ch)) => Some(ch),
                            _ => match &*r {
                                "amp" => Some('&'),
                                "lt" => Some('<'),
                                "gt" => Some('>'),
                                "quot" => Some('"'),
                                "apos" => Some('\''),
                                _ => None,
                            },
                        };
                        if let Some(ch) = resolved {
                            top.text.push(ch);
                        }
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if let Some(open) = stack.last() {
            return Err(format!("the file ends inside <{}>", open.name));
        }
        root.ok_or_else(|| "no root element".to_string())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn elements_text_and_attributes_are_read() {
            let e = parse(
                "<?xml version=\"1.0\"?><p:a xmlns:p=\"x\" k=\"v &amp; w\"><b>1 &lt; 2</b><c/></p:a>",
            )
            .unwrap();
            assert_eq!(e.name, "a");
            assert_eq!(e.attr("k"), Some("v & w"));
            assert_eq!(e.child_text("b"), Some("1 < 2"));
            assert!(e.child("c").is_some());
        }

        #[test]
        fn unclosed_and_mismatched_documents_are_errors() {
            assert!(parse("<project><dependencies></project>").is_err());
            assert!(parse("<project><a>").is_err());
            assert!(parse("").is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pom_properties_are_interpolated() {
        let pom = Pom::parse(
            "<project><artifactId>a</artifactId><properties><java.version>21</java.version>\
             </properties><build><plugins><plugin><artifactId>maven-compiler-plugin</artifactId>\
             <configuration><release>${java.version}</release></configuration></plugin></plugins>\
             </build></project>",
        )
        .unwrap();
        assert_eq!(pom.interpolate("${java.version}").as_deref(), Some("21"));
        assert_eq!(pom.interpolate("${missing}"), None);
        assert_eq!(pom.plugins[0].group, "org.apache.maven.plugins");
        assert_eq!(
            pom.plugins[0].config,
            vec![("release", "${java.version}".to_string())]
        );
    }

    #[test]
    fn comments_are_stripped_but_strings_kept() {
        let s = strip_comments(
            "implementation(\"a:b:1\") // implementation(\"c:d\")\n/* x:y */ url \"https://h/x\"\n",
        );
        assert!(s.contains("a:b:1"));
        assert!(!s.contains("c:d"));
        assert!(!s.contains("x:y"));
        assert!(s.contains("https://h/x"));
    }

    #[test]
    fn gradle_versions_are_read_in_every_spelling() {
        let mut c = Candidate::new(Language::Java, "java");
        gradle_versions(
            &mut c,
            "java { toolchain { languageVersion = JavaLanguageVersion.of(21) } }\n\
             sourceCompatibility = JavaVersion.VERSION_1_8\ntargetCompatibility = '17'\n\
             kotlin { jvmToolchain(17) }\ntasks { compileKotlin { compilerOptions { jvmTarget.set(JvmTarget.JVM_17) } } }",
            "build.gradle",
        );
        let got: Vec<(&str, &str)> = c
            .versions
            .iter()
            .map(|v| (v.value.as_str(), v.source.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("21", "build.gradle (java.toolchain.languageVersion)"),
                ("17", "build.gradle (kotlin.jvmToolchain)"),
                ("1.8", "build.gradle (sourceCompatibility)"),
                ("17", "build.gradle (targetCompatibility)"),
                ("17", "build.gradle (kotlin jvmTarget)"),
            ]
        );
    }

    #[test]
    fn catalog_aliases_become_accessors() {
        let table: toml::Table = "[versions]\nktor = \"2.3.7\"\n[libraries]\n\
            ktor-server-core = { module = \"io.ktor:ktor-server-core\", version.ref = \"ktor\" }\n\
            pg = \"org.postgresql:postgresql:42.7.1\"\n\
            [plugins]\nktor = { id = \"io.ktor.plugin\", version.ref = \"ktor\" }\n\
            [bundles]\nserver = [\"ktor-server-core\"]\n"
            .parse()
            .unwrap();
        let cat = Catalog::parse("gradle/libs.versions.toml", &table);
        assert_eq!(
            cat.libraries.get("ktor.server.core"),
            Some(&("io.ktor".to_string(), "ktor-server-core".to_string()))
        );
        assert_eq!(
            cat.libraries.get("pg").map(|c| c.1.as_str()),
            Some("postgresql")
        );
        assert_eq!(
            cat.plugins.get("ktor"),
            Some(&("io.ktor.plugin".to_string(), Some("2.3.7".to_string())))
        );
        assert_eq!(
            cat.bundles.get("server"),
            Some(&vec!["ktor.server.core".to_string()])
        );
    }

    #[test]
    fn ports_read_placeholders_and_hocon() {
        assert_eq!(port_value("${PORT:8083}"), Some(8083));
        assert_eq!(port_value("8081"), Some(8081));
        assert_eq!(port_value("${PORT}"), None);
        let conf = "ktor {\n  deployment {\n    port = 8080\n    port = ${?PORT}\n  }\n}\n";
        assert_eq!(
            RE_HOCON_PORT
                .captures(conf)
                .map(|m| m[1].to_string())
                .as_deref(),
            Some("8080")
        );
    }

    #[test]
    fn blocks_are_found_with_balanced_braces() {
        let text = "buildscript { x }\nplugins {\n  java\n  id(\"a\") { }\n}\nrest";
        assert_eq!(block(text, "plugins"), Some("\n  java\n  id(\"a\") { }\n"));
    }
}
