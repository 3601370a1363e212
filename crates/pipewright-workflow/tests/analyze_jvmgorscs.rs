//! Explicit assertions for the JVM, Go, Rust and C# fixtures (`fixtures/repos/{java,kotlin,go,
//! rust,csharp}-*`), and in-memory trees for the cases a fixture folder would not show well.

mod common;

use common::{analyze_fixture, analyze_tree, assert_stack, service};
use pipewright_core::stack::{Role, ServiceProfile, StackProfile};

fn dbs(s: &ServiceProfile) -> Vec<&str> {
    s.databases.iter().map(|d| d.as_str()).collect()
}

fn version_of<'a>(s: &'a ServiceProfile, name: &str) -> Vec<(&'a str, &'a str)> {
    s.versions
        .iter()
        .filter(|v| v.name == name)
        .map(|v| (v.value.as_str(), v.source.as_str()))
        .collect()
}

fn paths(p: &StackProfile) -> Vec<&str> {
    p.services.iter().map(|s| s.path.as_str()).collect()
}

fn has_warning(p: &StackProfile, needle: &str) -> bool {
    p.warnings.iter().any(|w| w.contains(needle))
}

// ---------------------------------------------------------------------------------------------
// JVM

#[test]
fn spring_boot_maven_app_beside_a_vendored_c_library() {
    let p = analyze_fixture("java-spring-maven");
    // The C library outweighs the app by bytes, but it is vendored: not a service, not a share.
    assert_eq!(paths(&p), vec!["."]);
    assert_eq!(p.primary_language.map(|l| l.as_str()), Some("java"));
    assert!(
        p.languages.iter().all(|l| l.name != "c"),
        "{:?}",
        p.languages
    );
    let s = service(&p, ".");
    assert_stack(
        s,
        "java",
        Some("spring-boot"),
        Some("maven"),
        Some("junit"),
        Some(("17.0.9-tem", ".sdkmanrc (java)")),
    );
    assert_eq!(version_of(s, "java")[1], ("17", "pom.xml (java.version)"));
    assert_eq!(
        version_of(s, "maven").last(),
        Some(&(
            "3.9.6",
            ".mvn/wrapper/maven-wrapper.properties (distributionUrl)"
        ))
    );
    assert_eq!(s.port, Some(8081));
    assert_eq!(
        s.port_source.as_deref(),
        Some("src/main/resources/application.yml")
    );
    // h2 runs inside the JVM: no service for it.
    assert_eq!(dbs(s), vec!["postgresql", "redis", "kafka"]);
    assert_eq!(
        s.commands.install.as_deref(),
        Some("./mvnw -B -ntp dependency:go-offline")
    );
    assert_eq!(
        s.commands.build.as_deref(),
        Some("./mvnw -B -ntp package -DskipTests")
    );
    assert_eq!(s.commands.test.as_deref(), Some("./mvnw -B -ntp test"));
    assert_eq!(
        s.commands.lint.as_deref(),
        Some("./mvnw -B -ntp checkstyle:check")
    );
    assert_eq!(
        s.commands.start.as_deref(),
        Some("java -jar target/orders-0.0.1-SNAPSHOT.jar")
    );
    assert_eq!(s.role, Role::Application);
}

#[test]
fn maven_multi_module_gives_one_service_per_module() {
    let p = analyze_fixture("java-maven-multimodule");
    assert_eq!(paths(&p), vec!["api", "common"]);
    assert!(p.monorepo);
    let api = service(&p, "api");
    assert_stack(
        api,
        "java",
        Some("spring-boot"),
        Some("maven"),
        Some("junit"),
        Some(("21", "pom.xml (java.version)")),
    );
    assert_eq!(api.role, Role::Application);
    assert_eq!(api.port, Some(9090));
    assert_eq!(dbs(api), vec!["mysql"]);
    assert_eq!(
        api.commands.build.as_deref(),
        Some("mvn -B -ntp -f ../pom.xml -pl api -am package -DskipTests")
    );
    // Spotless is configured once in the parent POM and inherited.
    assert_eq!(
        api.commands.lint.as_deref(),
        Some("mvn -B -ntp -f ../pom.xml -pl api -am spotless:check")
    );
    assert_eq!(
        api.commands.start.as_deref(),
        Some("java -jar target/shop-api-1.4.0-SNAPSHOT.jar")
    );
    let common = service(&p, "common");
    assert_stack(
        common,
        "java",
        None,
        Some("maven"),
        Some("junit"),
        Some(("21", "pom.xml (java.version)")),
    );
    assert_eq!(common.role, Role::Library);
    assert_eq!(common.commands.start, None);
}

#[test]
fn quarkus_maven_app() {
    let p = analyze_fixture("java-quarkus-maven");
    let s = service(&p, ".");
    assert_stack(
        s,
        "java",
        Some("quarkus"),
        Some("maven"),
        Some("junit"),
        Some(("21", ".java-version")),
    );
    // The compiler plugin's `${maven.compiler.release}` is resolved from the POM's properties.
    assert_eq!(
        version_of(s, "java")[1],
        ("21", "pom.xml (maven-compiler-plugin release)")
    );
    assert_eq!(
        version_of(s, "java")[2],
        ("21", "pom.xml (maven.compiler.release)")
    );
    // `%dev.quarkus.http.port` is a dev-profile override and is not taken.
    assert_eq!(s.port, Some(8085));
    assert_eq!(dbs(s), vec!["postgresql", "redis"]);
    assert_eq!(
        s.commands.install.as_deref(),
        Some("mvn -B -ntp dependency:go-offline")
    );
    assert_eq!(
        s.commands.start.as_deref(),
        Some("java -jar target/quarkus-app/quarkus-run.jar")
    );
    assert_eq!(s.commands.lint, None);
}

#[test]
fn micronaut_gradle_groovy_app() {
    let p = analyze_fixture("java-micronaut-gradle");
    let s = service(&p, ".");
    assert_stack(
        s,
        "java",
        Some("micronaut"),
        Some("gradle"),
        Some("junit"),
        Some(("temurin-17.0.9+9", ".tool-versions")),
    );
    assert_eq!(
        version_of(s, "java")[1],
        ("17", "build.gradle (sourceCompatibility)")
    );
    assert_eq!(
        version_of(s, "gradle"),
        vec![(
            "8.5",
            "gradle/wrapper/gradle-wrapper.properties (distributionUrl)"
        )]
    );
    assert_eq!(s.port, Some(8082));
    // The commented-out lettuce line does not count.
    assert_eq!(dbs(s), vec!["mongodb"]);
    assert_eq!(
        s.commands.build.as_deref(),
        Some("./gradlew --no-daemon shadowJar")
    );
    assert_eq!(
        s.commands.start.as_deref(),
        Some("java -jar build/libs/*-all.jar")
    );
}

#[test]
fn gradle_kotlin_dsl_with_java_sources_is_java_and_reads_the_catalog() {
    let p = analyze_fixture("java-gradle-spring-catalog");
    assert_eq!(p.primary_language.map(|l| l.as_str()), Some("java"));
    let s = service(&p, ".");
    assert_stack(
        s,
        "java",
        Some("spring-boot"),
        Some("gradle"),
        Some("junit"),
        Some(("21.0.2", "mise.toml (tools.java)")),
    );
    assert_eq!(
        version_of(s, "java")[1],
        ("21", "build.gradle.kts (java.toolchain.languageVersion)")
    );
    assert_eq!(s.port, Some(8083));
    // mariadb through a catalog library, rabbitmq through a catalog bundle.
    assert_eq!(dbs(s), vec!["mariadb", "rabbitmq"]);
    assert_eq!(
        s.commands.build.as_deref(),
        Some("./gradlew --no-daemon bootJar")
    );
    assert_eq!(
        s.commands.lint.as_deref(),
        Some("./gradlew --no-daemon checkstyleMain")
    );
    assert_eq!(
        s.commands.start.as_deref(),
        Some("java -jar build/libs/*.jar")
    );
    assert!(s
        .evidence
        .iter()
        .any(|e| e.conclusion == "framework" && e.detail.contains("gradle/libs.versions.toml")));
}

#[test]
fn gradle_multi_project_root_is_an_aggregator() {
    let p = analyze_fixture("java-gradle-multiproject");
    assert_eq!(paths(&p), vec!["api", "core"]);
    let api = service(&p, "api");
    // The toolchain is set once for every subproject in the root build script.
    assert_stack(
        api,
        "java",
        Some("quarkus"),
        Some("gradle"),
        Some("junit"),
        Some(("17", "build.gradle (sourceCompatibility)")),
    );
    assert_eq!(api.port, Some(8086));
    assert_eq!(dbs(api), vec!["kafka"]);
    assert_eq!(
        api.commands.build.as_deref(),
        Some("../gradlew --no-daemon quarkusBuild")
    );
    assert_eq!(
        api.commands.start.as_deref(),
        Some("java -jar build/quarkus-app/quarkus-run.jar")
    );
    let core = service(&p, "core");
    assert_stack(
        core,
        "java",
        None,
        Some("gradle"),
        Some("junit"),
        Some(("17", "build.gradle (sourceCompatibility)")),
    );
    assert_eq!(core.role, Role::Library);
}

#[test]
fn ktor_gradle_app_is_kotlin() {
    let p = analyze_fixture("kotlin-ktor-gradle");
    assert_eq!(p.primary_language.map(|l| l.as_str()), Some("kotlin"));
    let s = service(&p, ".");
    assert_stack(
        s,
        "kotlin",
        Some("ktor"),
        Some("gradle"),
        Some("junit"),
        Some(("17", "build.gradle.kts (kotlin.jvmToolchain)")),
    );
    assert_eq!(
        version_of(s, "kotlin"),
        vec![("1.9.22", "build.gradle.kts (kotlin jvm plugin)")]
    );
    assert_eq!(s.port, Some(8088));
    assert_eq!(
        s.port_source.as_deref(),
        Some("src/main/kotlin/com/acme/orders/Application.kt")
    );
    assert_eq!(dbs(s), vec!["postgresql"]);
    assert_eq!(
        s.commands.build.as_deref(),
        Some("./gradlew --no-daemon buildFatJar")
    );
    assert_eq!(
        s.commands.start.as_deref(),
        Some("java -jar build/libs/*-all.jar")
    );
    assert_eq!(s.commands.lint, None);
}

#[test]
fn kotlin_spring_gradle_without_wrapper() {
    let p = analyze_fixture("kotlin-spring-gradle");
    let s = service(&p, ".");
    assert_stack(
        s,
        "kotlin",
        Some("spring-boot"),
        Some("gradle"),
        Some("junit"),
        Some(("17", "build.gradle.kts (kotlin jvmTarget)")),
    );
    assert_eq!(s.port, Some(8080));
    assert_eq!(
        s.port_source.as_deref(),
        Some("framework default (spring-boot)")
    );
    assert_eq!(dbs(s), vec!["redis"]);
    assert_eq!(
        s.commands.build.as_deref(),
        Some("gradle --no-daemon bootJar")
    );
    assert_eq!(
        s.commands.lint.as_deref(),
        Some("gradle --no-daemon ktlintCheck")
    );
}

#[test]
fn malformed_pom_is_a_warning_not_a_panic() {
    let p = analyze_fixture("java-maven-malformed");
    let s = service(&p, ".");
    assert_stack(s, "java", None, Some("maven"), None, None);
    assert!(has_warning(&p, "malformed pom.xml"), "{:?}", p.warnings);
    assert_eq!(
        s.commands.build.as_deref(),
        Some("mvn -B -ntp package -DskipTests")
    );
}

#[test]
fn maven_wrapper_at_the_reactor_root_serves_its_modules() {
    let p = analyze_tree(&[
        ("mvnw", "#!/bin/sh\n"),
        (
            "pom.xml",
            "<project><groupId>g</groupId><artifactId>root</artifactId><version>1</version>\
             <packaging>pom</packaging><modules><module>svc/app</module></modules>\
             <properties><maven.compiler.release>17</maven.compiler.release></properties></project>",
        ),
        (
            "svc/app/pom.xml",
            "<project><parent><groupId>g</groupId><artifactId>root</artifactId><version>1</version>\
             <relativePath>../../pom.xml</relativePath></parent><artifactId>app</artifactId>\
             <build><plugins><plugin><artifactId>maven-shade-plugin</artifactId></plugin></plugins></build></project>",
        ),
        ("svc/app/src/main/java/App.java", "class App {}\n"),
    ]);
    assert_eq!(paths(&p), vec!["svc/app"]);
    let s = service(&p, "svc/app");
    assert_eq!(
        s.commands.build.as_deref(),
        Some("../../mvnw -B -ntp -f ../../pom.xml -pl svc/app -am package -DskipTests")
    );
    assert_eq!(
        s.runtime_version.as_ref().map(|v| v.source.as_str()),
        Some("pom.xml (maven.compiler.release)")
    );
    // No framework, but the shade plugin builds a runnable jar.
    assert_eq!(s.role, Role::Application);
    assert_eq!(
        s.commands.start.as_deref(),
        Some("java -jar target/app-1.jar")
    );
}

#[test]
fn gradle_framework_from_the_plugin_and_ktor_port_from_application_conf() {
    let p = analyze_tree(&[
        (
            "build.gradle",
            "plugins {\n  id 'org.springframework.boot' version '3.2.0'\n  id 'java'\n}\n",
        ),
        ("src/main/java/App.java", "class App {}\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("spring-boot"));

    let p = analyze_tree(&[
        (
            "build.gradle.kts",
            "plugins { kotlin(\"jvm\") version \"1.9.22\"\n application }\n\
             dependencies { implementation(\"io.ktor:ktor-server-netty:2.3.7\")\n\
             implementation(\"io.ktor:ktor-client-core:2.3.7\") }\n",
        ),
        ("settings.gradle.kts", "rootProject.name = \"shipping\"\n"),
        (
            "src/main/resources/application.conf",
            "ktor {\n  deployment {\n    port = 8181\n    port = ${?PORT}\n  }\n}\n",
        ),
        (
            "src/main/kotlin/Main.kt",
            "fun main() = io.ktor.server.netty.EngineMain.main(arrayOf())\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.language.as_str(), "kotlin");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("ktor"));
    assert_eq!(s.port, Some(8181));
    assert_eq!(
        s.commands.build.as_deref(),
        Some("gradle --no-daemon installDist")
    );
    assert_eq!(
        s.commands.start.as_deref(),
        Some("build/install/shipping/bin/shipping")
    );
}

#[test]
fn spring_boot_parent_alone_with_junit4_and_compiler_source() {
    let p = analyze_tree(&[
        (
            "pom.xml",
            "<project><parent><groupId>org.springframework.boot</groupId>\
             <artifactId>spring-boot-starter-parent</artifactId><version>2.7.18</version><relativePath/></parent>\
             <artifactId>legacy</artifactId><properties><maven.compiler.source>1.8</maven.compiler.source>\
             <maven.compiler.target>1.8</maven.compiler.target></properties><dependencies>\
             <dependency><groupId>junit</groupId><artifactId>junit</artifactId><scope>test</scope></dependency>\
             </dependencies></project>",
        ),
        ("src/main/java/Legacy.java", "class Legacy {}\n"),
    ]);
    let s = service(&p, ".");
    assert_stack(
        s,
        "java",
        Some("spring-boot"),
        Some("maven"),
        Some("junit"),
        Some(("1.8", "pom.xml (maven.compiler.source)")),
    );
    assert_eq!(
        version_of(s, "java")[1],
        ("1.8", "pom.xml (maven.compiler.target)")
    );
}

#[test]
fn gradle_build_logic_is_not_a_service() {
    let p = analyze_tree(&[
        (
            "settings.gradle.kts",
            "pluginManagement { includeBuild(\"build-logic\") }\nrootProject.name = \"app\"\n",
        ),
        (
            "build.gradle.kts",
            "plugins { id(\"org.springframework.boot\") version \"3.2.0\" }\n",
        ),
        ("src/main/java/App.java", "class App {}\n"),
        (
            "build-logic/settings.gradle.kts",
            "rootProject.name = \"build-logic\"\n",
        ),
        ("build-logic/build.gradle.kts", "plugins { `kotlin-dsl` }\n"),
        (
            "build-logic/src/main/kotlin/conventions.gradle.kts",
            "plugins { java }\n",
        ),
        ("buildSrc/build.gradle.kts", "plugins { `kotlin-dsl` }\n"),
    ]);
    assert_eq!(paths(&p), vec!["."]);
}

#[test]
fn ktor_client_alone_is_not_a_server() {
    let p = analyze_tree(&[
        (
            "build.gradle.kts",
            "dependencies { implementation(\"io.ktor:ktor-client-cio:2.3.7\") }\n",
        ),
        ("src/main/kotlin/Client.kt", "fun fetch() = Unit\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.framework, None);
    assert_eq!(s.role, Role::Library);
}

// ---------------------------------------------------------------------------------------------
// Go

#[test]
fn gin_app_prefers_the_toolchain_line() {
    let p = analyze_fixture("go-gin");
    let s = service(&p, ".");
    assert_stack(
        s,
        "go",
        Some("gin"),
        Some("go"),
        Some("go-test"),
        Some(("1.23.1", "go.mod (toolchain)")),
    );
    assert_eq!(version_of(s, "go")[1], ("1.22.3", "go.mod (go)"));
    assert_eq!(s.port, Some(9090));
    // go-sql-driver/mysql is only an indirect requirement.
    assert_eq!(dbs(s), vec!["postgresql", "redis"]);
    assert_eq!(s.commands.install.as_deref(), Some("go mod download"));
    assert_eq!(
        s.commands.build.as_deref(),
        Some("go build -o bin/orders .")
    );
    assert_eq!(s.commands.test.as_deref(), Some("go test ./..."));
    assert_eq!(s.commands.lint.as_deref(), Some("golangci-lint run"));
    assert_eq!(s.commands.start.as_deref(), Some("./bin/orders"));
    assert!(s.evidence.iter().any(|e| e.file == ".golangci.yml"));
}

#[test]
fn echo_app_with_a_single_cmd() {
    let p = analyze_fixture("go-echo-cmd");
    let s = service(&p, ".");
    assert_stack(
        s,
        "go",
        Some("echo"),
        Some("go"),
        Some("go-test"),
        Some(("1.21.6", ".go-version")),
    );
    assert_eq!(s.port, Some(1323));
    assert_eq!(dbs(s), vec!["mysql", "mongodb"]);
    assert_eq!(
        s.commands.build.as_deref(),
        Some("go build -o bin/billing-api ./cmd/billing-api")
    );
    assert_eq!(s.commands.start.as_deref(), Some("./bin/billing-api"));
}

#[test]
fn fiber_app_pinned_by_tool_versions() {
    let p = analyze_fixture("go-fiber");
    let s = service(&p, ".");
    assert_stack(
        s,
        "go",
        Some("fiber"),
        Some("go"),
        Some("go-test"),
        Some(("1.22.1", ".tool-versions")),
    );
    assert_eq!(s.port, Some(3000));
    assert_eq!(dbs(s), vec!["postgresql", "rabbitmq"]);
    assert_eq!(s.commands.start.as_deref(), Some("./bin/shop"));
}

#[test]
fn chi_app_port_from_the_env_default() {
    let p = analyze_fixture("go-chi");
    let s = service(&p, ".");
    assert_stack(
        s,
        "go",
        Some("chi"),
        Some("go"),
        None,
        Some(("1.22.5", "mise.toml (tools.go)")),
    );
    assert_eq!(s.port, Some(9000));
    assert_eq!(dbs(s), vec!["redis", "kafka"]);
    assert_eq!(s.commands.test, None);
}

#[test]
fn plain_net_http_is_recognised_from_the_main_package() {
    let p = analyze_fixture("go-nethttp");
    let s = service(&p, ".");
    assert_stack(
        s,
        "go",
        Some("net/http"),
        Some("go"),
        None,
        Some(("1.21.5", "go.mod (go)")),
    );
    let ev = s
        .evidence
        .iter()
        .find(|e| e.conclusion == "framework")
        .expect("framework evidence");
    assert_eq!(ev.file, "main.go");
    assert!(ev.detail.contains("no manifest"), "{}", ev.detail);
    assert_eq!(s.port, Some(8090));
}

#[test]
fn go_work_lists_two_module_services() {
    let p = analyze_fixture("go-workspace");
    assert_eq!(paths(&p), vec!["api", "worker"]);
    let api = service(&p, "api");
    assert_stack(
        api,
        "go",
        Some("gin"),
        Some("go"),
        Some("go-test"),
        Some(("1.22.0", "api/go.mod (go)")),
    );
    assert_eq!(api.port, Some(8080));
    let worker = service(&p, "worker");
    assert_stack(
        worker,
        "go",
        None,
        Some("go"),
        None,
        Some(("1.22.0", "worker/go.mod (go)")),
    );
    assert_eq!(worker.role, Role::Application);
    assert_eq!(dbs(worker), vec!["kafka"]);
    assert_eq!(worker.commands.start.as_deref(), Some("./bin/worker"));
}

#[test]
fn go_library_and_several_commands() {
    let p = analyze_tree(&[
        ("go.mod", "module example.com/lib/v3\n\ngo 1.22\n"),
        ("lib.go", "package lib\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.role, Role::Library);
    assert_eq!(s.commands.build.as_deref(), Some("go build ./..."));
    assert_eq!(s.commands.start, None);

    let p = analyze_tree(&[
        (
            "go.mod",
            "module example.com/tools\n\ngo 1.22\n\nrequire github.com/gofiber/fiber/v3 v3.0.0\n",
        ),
        ("cmd/api/main.go", "package main\nfunc main() {}\n"),
        ("cmd/migrate/main.go", "package main\nfunc main() {}\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.framework.map(|f| f.as_str()), Some("fiber"));
    assert_eq!(s.commands.build.as_deref(), Some("go build ./..."));
    assert_eq!(s.commands.start, None);
    assert!(
        has_warning(&p, "several commands under cmd/"),
        "{:?}",
        p.warnings
    );
}

// ---------------------------------------------------------------------------------------------
// Rust

#[test]
fn axum_app_with_a_toolchain_file() {
    let p = analyze_fixture("rust-axum");
    let s = service(&p, ".");
    assert_stack(
        s,
        "rust",
        Some("axum"),
        Some("cargo"),
        Some("cargo-test"),
        Some(("1.78.0", "rust-toolchain.toml (toolchain.channel)")),
    );
    assert_eq!(s.port, Some(3000));
    assert_eq!(dbs(s), vec!["postgresql", "redis"]);
    assert_eq!(s.commands.install.as_deref(), Some("cargo fetch --locked"));
    assert_eq!(
        s.commands.build.as_deref(),
        Some("cargo build --release --locked")
    );
    assert_eq!(s.commands.test.as_deref(), Some("cargo test --locked"));
    assert_eq!(
        s.commands.lint.as_deref(),
        Some("cargo clippy --all-targets -- -D warnings")
    );
    assert_eq!(
        s.commands.start.as_deref(),
        Some("./target/release/todo-api")
    );
}

#[test]
fn actix_app_with_a_legacy_toolchain_file_and_a_bin_target() {
    let p = analyze_fixture("rust-actix");
    let s = service(&p, ".");
    assert_stack(
        s,
        "rust",
        Some("actix-web"),
        Some("cargo"),
        Some("cargo-test"),
        Some(("1.76.0", "rust-toolchain")),
    );
    assert_eq!(
        version_of(s, "rust")[1],
        ("1.74", "Cargo.toml (package.rust-version)")
    );
    assert_eq!(s.port, Some(8080));
    assert_eq!(dbs(s), vec!["mysql", "rabbitmq"]);
    assert_eq!(
        s.commands.start.as_deref(),
        Some("./target/release/billing-api")
    );
}

#[test]
fn rocket_app_port_from_rocket_toml_without_a_lock_file() {
    let p = analyze_fixture("rust-rocket");
    let s = service(&p, ".");
    assert_stack(
        s,
        "rust",
        Some("rocket"),
        Some("cargo"),
        Some("cargo-test"),
        Some(("1.77.2", ".tool-versions")),
    );
    assert_eq!(s.port, Some(8001));
    assert_eq!(s.port_source.as_deref(), Some("Rocket.toml"));
    assert_eq!(dbs(s), vec!["mongodb", "kafka"]);
    assert_eq!(s.commands.install.as_deref(), Some("cargo fetch"));
    assert_eq!(s.commands.build.as_deref(), Some("cargo build --release"));
}

#[test]
fn cargo_workspace_members_are_services_and_the_root_is_not() {
    let p = analyze_fixture("rust-workspace");
    assert_eq!(paths(&p), vec!["crates/api", "crates/core"]);
    let api = service(&p, "crates/api");
    assert_stack(
        api,
        "rust",
        Some("axum"),
        Some("cargo"),
        Some("cargo-test"),
        Some(("1.75", "Cargo.toml (workspace.package.rust-version)")),
    );
    assert_eq!(api.port, Some(8080));
    // sqlx's `sqlite` feature is declared in [workspace.dependencies].
    assert_eq!(dbs(api), vec!["sqlite"]);
    // The workspace shares one target/ folder at its root.
    assert_eq!(
        api.commands.start.as_deref(),
        Some("../../target/release/gateway")
    );
    assert_eq!(
        api.commands.build.as_deref(),
        Some("cargo build --release --locked")
    );
    let core = service(&p, "crates/core");
    assert_stack(
        core,
        "rust",
        None,
        Some("cargo"),
        Some("cargo-test"),
        Some(("1.75", "Cargo.toml (workspace.package.rust-version)")),
    );
    assert_eq!(core.role, Role::Library);
    assert_eq!(core.commands.start, None);
}

#[test]
fn malformed_cargo_toml_is_a_warning() {
    let p = analyze_tree(&[
        ("Cargo.toml", "[package\nname = \"x\"\n"),
        ("src/lib.rs", ""),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.build_tool.map(|b| b.as_str()), Some("cargo"));
    assert!(has_warning(&p, "malformed TOML"), "{:?}", p.warnings);
}

// ---------------------------------------------------------------------------------------------
// C#

#[test]
fn solution_with_web_and_test_projects_is_one_service() {
    let p = analyze_fixture("csharp-aspnet-sln");
    assert_eq!(paths(&p), vec!["."]);
    let s = service(&p, ".");
    assert_stack(
        s,
        "csharp",
        Some("aspnetcore"),
        Some("dotnet"),
        Some("xunit"),
        Some((
            "net8.0",
            "src/Orders.Api/Orders.Api.csproj (TargetFramework)",
        )),
    );
    assert_eq!(
        version_of(s, "dotnet-sdk"),
        vec![("8.0.204", "global.json (sdk.version)")]
    );
    // Kestrel's endpoint applies everywhere; launchSettings.json (5080) is for `dotnet run`.
    assert_eq!(s.port, Some(5000));
    assert_eq!(dbs(s), vec!["postgresql", "redis"]);
    assert_eq!(s.commands.install.as_deref(), Some("dotnet restore"));
    assert_eq!(
        s.commands.build.as_deref(),
        Some("dotnet build -c Release --no-restore")
    );
    assert_eq!(s.commands.test.as_deref(), Some("dotnet test"));
    assert_eq!(
        s.commands.lint.as_deref(),
        Some("dotnet format --verify-no-changes")
    );
    assert_eq!(s.commands.start.as_deref(), Some("dotnet Orders.Api.dll"));
}

#[test]
fn worker_project_takes_its_test_project_and_props_version() {
    let p = analyze_fixture("csharp-worker-nunit");
    // The tests folder is folded into the project it references.
    assert_eq!(paths(&p), vec!["src/Notifier"]);
    let s = service(&p, "src/Notifier");
    assert_stack(
        s,
        "csharp",
        None,
        Some("dotnet"),
        Some("nunit"),
        Some(("net7.0", "Directory.Build.props (TargetFramework)")),
    );
    assert_eq!(
        version_of(s, "dotnet-sdk"),
        vec![("7.0.405", ".tool-versions")]
    );
    assert_eq!(s.role, Role::Application);
    assert_eq!(s.port, None);
    assert_eq!(dbs(s), vec!["mongodb", "rabbitmq"]);
    assert_eq!(
        s.commands.test.as_deref(),
        Some("dotnet test ../../tests/Notifier.Tests/Notifier.Tests.csproj")
    );
    assert_eq!(
        s.commands.start.as_deref(),
        Some("dotnet Acme.Notifier.dll")
    );
}

#[test]
fn slnx_solution_with_aspnetcore_package_and_mstest() {
    let p = analyze_fixture("csharp-minimal-mstest");
    assert_eq!(paths(&p), vec!["."]);
    let s = service(&p, ".");
    assert_stack(
        s,
        "csharp",
        Some("aspnetcore"),
        Some("dotnet"),
        Some("mstest"),
        Some(("net9.0", "Inventory/Inventory.csproj (TargetFrameworks)")),
    );
    assert_eq!(s.port, Some(8085));
    assert_eq!(s.port_source.as_deref(), Some("Dockerfile"));
    assert_eq!(dbs(s), vec!["mysql", "mssql"]);
    assert_eq!(s.commands.start.as_deref(), Some("dotnet Inventory.dll"));
}

#[test]
fn lone_test_project_and_sdk_only_version() {
    // A test project that references nothing in the repository stays visible as a library.
    let p = analyze_tree(&[
        (
            "Smoke.Tests/Smoke.Tests.csproj",
            "<Project Sdk=\"Microsoft.NET.Sdk\"><PropertyGroup><TargetFramework>net8.0</TargetFramework>\
             </PropertyGroup><ItemGroup><PackageReference Include=\"xunit\" Version=\"2.6.2\" />\
             </ItemGroup></Project>",
        ),
        ("Smoke.Tests/SmokeTests.cs", "public class SmokeTests {}\n"),
    ]);
    let s = service(&p, "Smoke.Tests");
    assert_eq!(s.role, Role::Library);
    assert_eq!(s.test_framework.map(|t| t.as_str()), Some("xunit"));
    assert_eq!(s.commands.start, None);

    // No TargetFramework anywhere: global.json's SDK stands in, and says so.
    let p = analyze_tree(&[
        ("global.json", "{ \"sdk\": { \"version\": \"8.0.100\" } }"),
        (
            "App.csproj",
            "<Project Sdk=\"Microsoft.NET.Sdk.Web\"></Project>",
        ),
        (
            "Program.cs",
            "var app = WebApplication.Create(); app.Run();\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_stack(
        s,
        "csharp",
        Some("aspnetcore"),
        Some("dotnet"),
        None,
        Some(("8.0.100", "global.json (sdk.version)")),
    );
}

#[test]
fn aspnetcore_ports_from_launch_settings_and_aspnetcore_urls() {
    let csproj = "<Project Sdk=\"Microsoft.NET.Sdk.Web\"><PropertyGroup><TargetFramework>net8.0</TargetFramework>\
                  </PropertyGroup></Project>";
    let p = analyze_tree(&[
        ("Api.csproj", csproj),
        (
            "Properties/launchSettings.json",
            "{ \"profiles\": { \"Api\": { \"commandName\": \"Project\",\n\
             \"applicationUrl\": \"https://localhost:7123;http://localhost:5123\" } } }",
        ),
    ]);
    let s = service(&p, ".");
    // The launch profile is `dotnet run`'s; the .NET 8 runtime image listens on 8080
    // (issue 14), and the profile's port stays as evidence only.
    assert_eq!(s.port, Some(8080));
    assert_eq!(s.port_source.as_deref(), Some("Api.csproj"));
    assert!(s.evidence.iter().any(|e| e.conclusion == "port"
        && e.file == "Properties/launchSettings.json"
        && e.detail.contains("not used")));

    let p = analyze_tree(&[
        ("Api.csproj", csproj),
        (
            "Dockerfile",
            "FROM mcr.microsoft.com/dotnet/aspnet:8.0\nENV ASPNETCORE_URLS=http://+:5005\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.port, Some(5005));
}

#[test]
fn malformed_csproj_is_a_warning() {
    let p = analyze_tree(&[
        (
            "Api.csproj",
            "<Project Sdk=\"Microsoft.NET.Sdk.Web\"><PropertyGroup></Project>",
        ),
        ("Program.cs", "class P {}\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.build_tool.map(|b| b.as_str()), Some("dotnet"));
    assert!(
        has_warning(&p, "malformed project file"),
        "{:?}",
        p.warnings
    );
}
