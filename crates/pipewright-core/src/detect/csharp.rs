//! C#: .NET SDK projects and solutions; ASP.NET Core; xUnit, NUnit, MSTest.
//!
//! A solution (`.sln`, `.slnx`) is one service covering the projects it lists: the web project
//! (else the executable one) runs, and its test projects give the test framework; a project
//! listed by a solution above it, or a test-only folder referencing a project of the repository,
//! is folded into that service instead of becoming one. `.csproj` and `Directory.Build.props`
//! are read with quick-xml, and `global.json` pins the SDK.

use super::context::{resolve, up_to};
use super::jvm::xml::{self, Element};
use super::shared::ascii_regex;
use super::versions::add_tool_versions;
use super::{Candidate, DirContext, Ecosystem};
use crate::index::{file_name, join, parent_dir, RepoIndex};
use crate::stack::{BuildTool, Database, Framework, Language, Role, TestFramework};
use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;

/// The C# (.NET) detector.
pub struct CSharp;

/// Files read besides projects and solutions: SDK pins and port configuration.
const READ_FILES: &[&str] = &[
    "global.json",
    "Directory.Build.props",
    "launchSettings.json",
    "appsettings.json",
    "appsettings.Production.json",
];

/// NuGet package (case-insensitive; a trailing `.` means "this prefix") → service it talks to.
const DATABASE_PACKAGES: &[(&str, Database)] = &[
    ("Npgsql", Database::Postgresql),
    ("Npgsql.", Database::Postgresql),
    ("Pomelo.EntityFrameworkCore.MySql", Database::Mysql),
    ("MySql.Data", Database::Mysql),
    ("MySqlConnector", Database::Mysql),
    ("MySql.EntityFrameworkCore", Database::Mysql),
    ("StackExchange.Redis", Database::Redis),
    (
        "Microsoft.Extensions.Caching.StackExchangeRedis",
        Database::Redis,
    ),
    ("MongoDB.Driver", Database::Mongodb),
    ("MongoDB.EntityFrameworkCore", Database::Mongodb),
    ("Microsoft.Data.SqlClient", Database::Mssql),
    ("System.Data.SqlClient", Database::Mssql),
    ("Microsoft.EntityFrameworkCore.SqlServer", Database::Mssql),
    ("Microsoft.Data.Sqlite", Database::Sqlite),
    ("Microsoft.EntityFrameworkCore.Sqlite", Database::Sqlite),
    ("RabbitMQ.Client", Database::Rabbitmq),
    ("MassTransit.RabbitMQ", Database::Rabbitmq),
    ("Confluent.Kafka", Database::Kafka),
    ("Elastic.Clients.Elasticsearch", Database::Elasticsearch),
    ("NEST", Database::Elasticsearch),
    ("CassandraCSharpDriver", Database::Cassandra),
];

/// Test packages → framework, in the order that decides.
const TEST_PACKAGES: &[(&str, TestFramework)] = &[
    ("xunit", TestFramework::Xunit),
    ("xunit.v3", TestFramework::Xunit),
    ("xunit.core", TestFramework::Xunit),
    ("NUnit", TestFramework::Nunit),
    ("MSTest", TestFramework::Mstest),
    ("MSTest.TestFramework", TestFramework::Mstest),
];

static RE_ENV_URLS: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r"(?m)^\s*ENV\s+.*?\bASPNETCORE_URLS[=\s]+\S*?:(\d{2,5})"));
static RE_ENV_HTTP_PORTS: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(r"(?m)^\s*ENV\s+.*?\b(?:ASPNETCORE_HTTP_PORTS|HTTP_PORTS)[=\s]+(\d{2,5})")
});

/// What one `.csproj` says.
#[derive(Debug, Default, Clone)]
struct Project {
    path: String,
    sdk: String,
    /// First target framework and the key it came from (`TargetFramework` …).
    target: Option<(String, String)>,
    output_type: Option<String>,
    assembly: String,
    is_test_project: bool,
    packages: Vec<String>,
    framework_refs: Vec<String>,
    /// Root-relative paths of referenced projects.
    references: Vec<String>,
    error: Option<String>,
}

impl Project {
    fn dir(&self) -> &str {
        parent_dir(&self.path)
    }

    fn has_package(&self, name: &str) -> bool {
        self.packages.iter().any(|p| p.eq_ignore_ascii_case(name))
    }

    fn test_framework(&self) -> Option<(TestFramework, String)> {
        if self.sdk.starts_with("MSTest.Sdk") {
            return Some((
                TestFramework::Mstest,
                "the project uses MSTest.Sdk".to_string(),
            ));
        }
        TEST_PACKAGES
            .iter()
            .find(|(p, _)| self.has_package(p))
            .map(|(p, tf)| (*tf, format!("PackageReference `{p}` in a test project")))
    }

    fn is_test(&self) -> bool {
        self.is_test_project
            || self.test_framework().is_some()
            || self.has_package("Microsoft.NET.Test.Sdk")
    }

    /// Why this project is an ASP.NET Core application, if it is one.
    fn web(&self) -> Option<String> {
        if self.sdk.starts_with("Microsoft.NET.Sdk.Web") {
            return Some(format!("Sdk=\"{}\"", self.sdk));
        }
        if self
            .framework_refs
            .iter()
            .any(|f| f.eq_ignore_ascii_case("Microsoft.AspNetCore.App"))
        {
            return Some("FrameworkReference `Microsoft.AspNetCore.App`".to_string());
        }
        self.packages
            .iter()
            .find(|p| p.starts_with("Microsoft.AspNetCore.") && !p.contains("Testing"))
            .map(|p| format!("PackageReference `{p}`"))
    }

    fn is_exe(&self) -> bool {
        self.output_type
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case("Exe") || o.eq_ignore_ascii_case("WinExe"))
            || self.sdk.starts_with("Microsoft.NET.Sdk.Worker")
            || self.web().is_some()
    }
}

/// The MSBuild properties of a project or props file (first definition wins).
fn properties(root: &Element) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for group in root.children_named("PropertyGroup") {
        for p in &group.children {
            out.entry(p.name.clone())
                .or_insert_with(|| p.text.trim().to_string());
        }
    }
    out
}

/// Replaces `$(Name)` with known properties; `None` if one stays unresolved.
fn interpolate(value: &str, props: &[&HashMap<String, String>]) -> Option<String> {
    let mut out = value.to_string();
    for _ in 0..4 {
        let Some(start) = out.find("$(") else {
            return Some(out);
        };
        let end = out[start..].find(')')? + start;
        let key = &out[start + 2..end];
        let v = props.iter().find_map(|p| p.get(key))?.clone();
        out.replace_range(start..=end, &v);
    }
    (!out.contains("$(")).then_some(out)
}

/// The first target framework among the properties, with the key it came from.
fn target_framework(
    own: &HashMap<String, String>,
    inherited: &[&HashMap<String, String>],
) -> Option<(String, String)> {
    let mut all = vec![own];
    all.extend_from_slice(inherited);
    for key in [
        "TargetFramework",
        "TargetFrameworks",
        "TargetFrameworkVersion",
    ] {
        if let Some(raw) = own.get(key).filter(|v| !v.is_empty()) {
            let value = interpolate(raw, &all)?;
            let first = value.split(';').map(str::trim).find(|v| !v.is_empty())?;
            return Some((first.to_string(), key.to_string()));
        }
    }
    None
}

fn parse_project(index: &RepoIndex, path: &str) -> Project {
    let stem = file_name(path)
        .strip_suffix(".csproj")
        .unwrap_or(file_name(path))
        .to_string();
    let mut p = Project {
        path: path.to_string(),
        assembly: stem,
        ..Project::default()
    };
    let Some(text) = index.text(path) else {
        p.error = Some("not read".to_string());
        return p;
    };
    let root = match xml::parse(text) {
        Ok(r) => r,
        Err(e) => {
            p.error = Some(format!("malformed project file, ignored: {e}"));
            return p;
        }
    };
    p.sdk = root
        .attr("Sdk")
        .map(String::from)
        .or_else(|| {
            root.child("Sdk")
                .and_then(|s| s.attr("Name"))
                .map(String::from)
        })
        .or_else(|| {
            root.children_named("Import")
                .find_map(|i| i.attr("Sdk"))
                .map(String::from)
        })
        .unwrap_or_default();
    let props = properties(&root);
    let dir = parent_dir(path);
    let dbp = DirContext::new(index, dir)
        .find_up("Directory.Build.props")
        .and_then(|(_, t)| xml::parse(t).ok());
    let dbp_props = dbp.as_ref().map(properties).unwrap_or_default();
    p.target = target_framework(&props, &[&dbp_props])
        .map(|(v, k)| (v, format!("{path} ({k})")))
        .or_else(|| {
            let (dbp_path, _) = DirContext::new(index, dir).find_up("Directory.Build.props")?;
            target_framework(&dbp_props, &[]).map(|(v, k)| (v, format!("{dbp_path} ({k})")))
        });
    p.output_type = props.get("OutputType").cloned();
    if let Some(a) = props
        .get("AssemblyName")
        .and_then(|a| interpolate(a, &[&props]))
    {
        p.assembly = a;
    }
    p.is_test_project = props
        .get("IsTestProject")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    for source in std::iter::once(&root).chain(dbp.as_ref()) {
        for group in source.children_named("ItemGroup") {
            for item in &group.children {
                let Some(include) = item.attr("Include") else {
                    continue;
                };
                match item.name.as_str() {
                    "PackageReference" => p.packages.push(include.to_string()),
                    "FrameworkReference" => p.framework_refs.push(include.to_string()),
                    "ProjectReference" => {
                        if let Some(r) = resolve(dir, include) {
                            p.references.push(r);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    p
}

/// The `.csproj` paths a solution lists, resolved from its folder.
fn solution_projects(index: &RepoIndex, path: &str) -> Vec<String> {
    let dir = parent_dir(path);
    let Some(text) = index.text(path) else {
        return Vec::new();
    };
    let listed: Vec<String> = if path.ends_with(".slnx") {
        let mut found = Vec::new();
        if let Ok(root) = xml::parse(text) {
            let mut projects = Vec::new();
            root.descendants("Project", &mut projects);
            found.extend(
                projects
                    .iter()
                    .filter_map(|p| p.attr("Path"))
                    .map(String::from),
            );
        }
        found
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

fn is_solution(name: &str) -> bool {
    name.ends_with(".sln") || name.ends_with(".slnx")
}

/// The solution above `dir` (not in it) that lists `project`, if any.
fn owning_solution(index: &RepoIndex, dir: &str, project: &str) -> Option<String> {
    let mut current = dir;
    while !current.is_empty() {
        current = parent_dir(current);
        let mut slns: Vec<&str> = index
            .files_in(current)
            .filter(|f| is_solution(f.name()))
            .map(|f| f.path.as_str())
            .collect();
        slns.sort_unstable();
        if let Some(s) = slns
            .into_iter()
            .find(|s| solution_projects(index, s).iter().any(|p| p == project))
        {
            return Some(s.to_string());
        }
    }
    None
}

/// Every non-generated `.csproj` of the repository.
fn all_projects(index: &RepoIndex) -> Vec<&str> {
    index
        .files()
        .iter()
        .filter(|f| {
            f.name().ends_with(".csproj")
                && f.excluded
                    .is_none_or(|e| e == crate::index::Exclusion::NotCode)
        })
        .map(|f| f.path.as_str())
        .collect()
}

impl Ecosystem for CSharp {
    fn name(&self) -> &'static str {
        "csharp"
    }

    fn is_manifest(&self, name: &str) -> bool {
        name.ends_with(".csproj")
            || is_solution(name)
            || name == "global.json"
            || name == "Directory.Build.props"
    }

    fn wants(&self, _path: &str, name: &str) -> bool {
        name.ends_with(".csproj") || is_solution(name) || READ_FILES.contains(&name)
    }

    fn detect(&self, ctx: &DirContext<'_>) -> Option<Candidate> {
        let mut files: Vec<&str> = ctx.files().map(|f| f.path.as_str()).collect();
        files.sort_unstable();
        let solution = files.iter().find(|f| is_solution(file_name(f))).copied();
        let local: Vec<&str> = files
            .iter()
            .filter(|f| f.ends_with(".csproj"))
            .copied()
            .collect();
        if solution.is_none() && local.is_empty() {
            return None;
        }
        let mut c = Candidate::new(Language::CSharp, "dotnet");

        // Which projects this service covers, and which file the commands are given.
        let (projects, owner_file): (Vec<Project>, &str) = if let Some(sln) = solution {
            c.set_build_tool(
                BuildTool::Dotnet,
                sln,
                format!("{} is present", file_name(sln)),
            );
            let mut paths = solution_projects(ctx.index, sln);
            if paths.is_empty() {
                c.warn(sln, "the solution lists no project found in the repository; using the projects in its folder");
                paths = local.iter().map(|s| s.to_string()).collect();
            } else {
                c.note(
                    "build_tool",
                    sln,
                    format!(
                        "one service for the solution's {} project(s): {}",
                        paths.len(),
                        paths.join(", ")
                    ),
                );
            }
            (
                paths.iter().map(|p| parse_project(ctx.index, p)).collect(),
                sln,
            )
        } else {
            if local
                .iter()
                .any(|p| owning_solution(ctx.index, ctx.dir, p).is_some())
            {
                // Reported with the solution's service.
                return None;
            }
            let mut projects: Vec<Project> =
                local.iter().map(|p| parse_project(ctx.index, p)).collect();
            if projects.iter().all(|p| p.is_test()) {
                let targets_app = projects.iter().any(|p| {
                    p.references
                        .iter()
                        .any(|r| ctx.index.exists(r) && !parse_project(ctx.index, r).is_test())
                });
                if targets_app {
                    // Reported with the project it tests.
                    return None;
                }
            }
            let first = local[0];
            c.set_build_tool(
                BuildTool::Dotnet,
                first,
                format!("{} is present", file_name(first)),
            );
            // Test projects elsewhere that reference these projects belong to this service.
            let own: Vec<String> = projects.iter().map(|p| p.path.clone()).collect();
            let own_names: Vec<&str> = own.iter().map(|p| file_name(p)).collect();
            for path in all_projects(ctx.index) {
                // Only a project whose text names one of ours can reference it: skip the rest unparsed.
                let names_ours = ctx
                    .index
                    .text(path)
                    .is_some_and(|t| own_names.iter().any(|n| t.contains(n)));
                if own.iter().any(|o| o == path) || !names_ours {
                    continue;
                }
                let p = parse_project(ctx.index, path);
                if p.is_test() && p.references.iter().any(|r| own.contains(r)) {
                    c.note(
                        "build_tool",
                        path,
                        format!("test project for {}", p.references.join(", ")),
                    );
                    projects.push(p);
                }
            }
            (projects, first)
        };
        for p in &projects {
            if let Some(e) = &p.error {
                c.warn(&p.path, e.clone());
            }
        }

        let apps: Vec<&Project> = projects.iter().filter(|p| !p.is_test()).collect();
        let main = apps
            .iter()
            .find(|p| p.web().is_some())
            .or_else(|| apps.iter().find(|p| p.is_exe()))
            .or(apps.first())
            .copied()
            .or(projects.first());
        let Some(main) = main else {
            c.set_role(Role::Library, owner_file, "the solution holds no project");
            return Some(c);
        };
        let others_web: Vec<&str> = apps
            .iter()
            .filter(|p| p.path != main.path && p.web().is_some())
            .map(|p| p.path.as_str())
            .collect();
        if !others_web.is_empty() {
            c.warn(
                owner_file,
                format!(
                    "several web projects; {} runs, not {}",
                    main.path,
                    others_web.join(", ")
                ),
            );
        }

        if let Some(why) = main.web() {
            c.set_framework(Framework::AspNetCore, &main.path, why);
        }
        for p in projects.iter().filter(|p| p.is_test()) {
            if let Some((tf, why)) = p.test_framework() {
                c.set_test_framework(tf, &p.path, why);
            }
        }
        for p in &apps {
            for pkg in &p.packages {
                let hit = DATABASE_PACKAGES.iter().find(|(name, _)| {
                    pkg.eq_ignore_ascii_case(name)
                        || (name.ends_with('.')
                            && pkg
                                .to_ascii_lowercase()
                                .starts_with(&name.to_ascii_lowercase()))
                });
                if let Some((_, db)) = hit {
                    c.add_database(*db, &p.path, format!("PackageReference `{pkg}`"));
                }
            }
        }

        versions(ctx, &mut c, main);
        port(ctx, &mut c, main);
        commands(ctx, &mut c, &projects, main, owner_file, files.as_slice());

        if c.framework.is_some() {
            c.set_role(
                Role::Application,
                &main.path,
                format!("aspnetcore web project {}", main.assembly),
            );
        } else if main.is_exe() && !main.is_test() {
            c.set_role(
                Role::Application,
                &main.path,
                "an executable project (OutputType Exe or Worker SDK)",
            );
        } else {
            c.set_role(
                Role::Library,
                &main.path,
                "no web SDK and no executable project",
            );
        }
        Some(c)
    }
}

/// The target framework of the project that runs (its file, then `Directory.Build.props`),
/// then the SDK pins, recorded as `dotnet-sdk`. When no target framework is found, the
/// `global.json` SDK version stands in as the runtime, with a note saying so.
fn versions(ctx: &DirContext<'_>, c: &mut Candidate, main: &Project) {
    if let Some((v, source)) = &main.target {
        c.add_version("dotnet", v, source.clone());
        if v.starts_with('v') {
            c.warn(
                &main.path,
                format!("{v} is .NET Framework (TargetFrameworkVersion), which needs Windows"),
            );
        }
    }
    add_tool_versions(ctx, c, "dotnet-sdk", &["dotnet", "dotnet-core"]);
    let global = DirContext::new(ctx.index, main.dir()).find_up("global.json");
    if let Some((path, text)) = global {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => {
                if let Some(sdk) = v
                    .get("sdk")
                    .and_then(|s| s.get("version"))
                    .and_then(|v| v.as_str())
                {
                    c.add_version("dotnet-sdk", sdk, format!("{path} (sdk.version)"));
                    if main.target.is_none() {
                        c.add_version("dotnet", sdk, format!("{path} (sdk.version)"));
                        c.note(
                            "runtime_version",
                            path,
                            "no TargetFramework found: the SDK version pinned in global.json stands in for the runtime",
                        );
                    }
                }
            }
            Err(e) => c.warn(path, format!("malformed JSON, ignored: {e}")),
        }
    }
}

/// The port of an `http://host:port` URL list (the first `http:` one, else the first).
fn url_port(urls: &str) -> Option<u16> {
    let list: Vec<&str> = urls.split(';').map(str::trim).collect();
    let url = list
        .iter()
        .find(|u| u.starts_with("http://"))
        .or(list.first())?;
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host_port = rest.split('/').next()?;
    host_port.rsplit(':').next()?.parse().ok()
}

/// JSON that may carry `//` comments, as .NET configuration files allow.
fn lenient_json(text: &str) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::from_str(text).or_else(|e| {
        let stripped: String = text
            .lines()
            .map(|l| match l.trim_start().starts_with("//") {
                true => "",
                false => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        serde_json::from_str(&stripped).map_err(|_| e)
    })
}

/// Kestrel endpoints (they apply everywhere), then `ASPNETCORE_URLS` / `HTTP_PORTS` set in a
/// Dockerfile, then `launchSettings.json` (used by `dotnet run` only).
fn port(ctx: &DirContext<'_>, c: &mut Candidate, main: &Project) {
    let dir = main.dir();
    for name in ["appsettings.Production.json", "appsettings.json"] {
        let appsettings = join(dir, name);
        if let Some(text) = ctx.index.text(&appsettings) {
            match lenient_json(text) {
                Ok(v) => {
                    let endpoints = v
                        .get("Kestrel")
                        .and_then(|k| k.get("Endpoints"))
                        .and_then(|e| e.as_object());
                    let url = endpoints.into_iter().flatten().find_map(|(name, ep)| {
                        ep.get("Url")
                            .and_then(|u| u.as_str())
                            .map(|u| (name.clone(), u.to_string()))
                    });
                    if let Some((name, url)) = url {
                        if let Some(p) = url_port(&url) {
                            c.set_port_from(
                                super::PortOrigin::FrameworkConfig,
                                p,
                                &appsettings,
                                format!("Kestrel:Endpoints:{name}:Url = {url}"),
                            );
                            return;
                        }
                    }
                }
                Err(e) => c.warn(&appsettings, format!("malformed JSON, ignored: {e}")),
            }
        }
    }
    let mut dockerfiles = vec![join(dir, "Dockerfile")];
    if dir != ctx.dir {
        dockerfiles.push(ctx.path("Dockerfile"));
    }
    for path in dockerfiles {
        let Some(text) = ctx.index.text(&path) else {
            continue;
        };
        for (re, key) in [
            (&*RE_ENV_HTTP_PORTS, "ASPNETCORE_HTTP_PORTS"),
            (&*RE_ENV_URLS, "ASPNETCORE_URLS"),
        ] {
            if let Some(p) = re.captures(text).and_then(|m| m[1].parse::<u16>().ok()) {
                c.set_port_from(
                    super::PortOrigin::FrameworkConfig,
                    p,
                    &path,
                    format!("{key} sets port {p}"),
                );
                return;
            }
        }
    }
    // The official ASP.NET images set ASPNETCORE_HTTP_PORTS=8080 from .NET 8 on, and
    // ASPNETCORE_URLS=http://+:80 before.
    if let Some((tfm, source)) = main
        .target
        .as_ref()
        .filter(|_| c.framework == Some(Framework::AspNetCore))
    {
        let major = tfm
            .trim_start_matches("net")
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok());
        if let Some(major) = major.filter(|m| (5..100).contains(m)) {
            let (p, why) = if major >= 8 {
                (
                    8080,
                    "ASPNETCORE_HTTP_PORTS=8080 in the .NET 8+ runtime images",
                )
            } else {
                (
                    80,
                    "ASPNETCORE_URLS=http://+:80 in the runtime images before .NET 8",
                )
            };
            c.set_port_from(
                super::PortOrigin::ContainerDefault,
                p,
                source.split(' ').next().unwrap_or(source),
                format!("{tfm}: {why}"),
            );
        }
    }
    let launch = join(dir, "Properties/launchSettings.json");
    if let Some(text) = ctx.index.text(&launch) {
        match lenient_json(text) {
            Ok(v) => {
                let profiles = v.get("profiles").and_then(|p| p.as_object());
                for (name, profile) in profiles.into_iter().flatten() {
                    let env = profile.get("environmentVariables");
                    let from_env = env
                        .and_then(|e| e.get("ASPNETCORE_HTTP_PORTS"))
                        .and_then(|v| v.as_str())
                        .and_then(|v| v.split(';').next()?.trim().parse::<u16>().ok())
                        .or_else(|| {
                            env.and_then(|e| e.get("ASPNETCORE_URLS"))
                                .and_then(|v| v.as_str())
                                .and_then(url_port)
                        });
                    let from_url = profile
                        .get("applicationUrl")
                        .and_then(|u| u.as_str())
                        .and_then(|u| url_port(u).map(|p| (p, u.to_string())));
                    if let Some(p) = from_env {
                        c.set_port_from(
                            super::PortOrigin::DevProfile,
                            p,
                            &launch,
                            format!("profile {name}: environment sets port {p}"),
                        );
                        return;
                    }
                    if let Some((p, url)) = from_url {
                        c.set_port_from(
                            super::PortOrigin::DevProfile,
                            p,
                            &launch,
                            format!("profile {name}: applicationUrl {url} (first http URL)"),
                        );
                        return;
                    }
                }
            }
            Err(e) => c.warn(&launch, format!("malformed JSON, ignored: {e}")),
        }
    }
}

fn commands(
    ctx: &DirContext<'_>,
    c: &mut Candidate,
    projects: &[Project],
    main: &Project,
    owner_file: &str,
    files: &[&str],
) {
    // `dotnet` needs the file named when the folder holds more than one project or solution.
    let buildable = files
        .iter()
        .filter(|f| f.ends_with(".csproj") || is_solution(file_name(f)))
        .count();
    let arg = if buildable > 1 {
        format!(" {}", file_name(owner_file))
    } else {
        String::new()
    };
    c.commands.install = Some(format!("dotnet restore{arg}"));
    c.commands.build = Some(format!("dotnet build{arg} -c Release --no-restore"));
    if c.test_framework.is_some() {
        // Without a solution, a test project in another folder is named explicitly.
        let elsewhere = projects
            .iter()
            .find(|p| p.is_test() && p.dir() != ctx.dir)
            .filter(|_| !is_solution(file_name(owner_file)));
        c.commands.test = Some(match elsewhere {
            Some(t) => format!("dotnet test {}{}", up_to(ctx.dir, ""), t.path),
            None => format!("dotnet test{arg}"),
        });
    }
    c.commands.lint = Some(format!("dotnet format{arg} --verify-no-changes"));
    if main.is_exe() && !main.is_test() {
        let start = format!("dotnet {}.dll", main.assembly);
        let rel = main
            .path
            .strip_prefix(&format!("{}/", ctx.dir))
            .filter(|_| !ctx.dir.is_empty())
            .unwrap_or(&main.path);
        c.note(
            "command",
            main.path.clone(),
            format!(
                "start: {start}, run in the output of `dotnet publish {rel} -c Release -o <dir>`"
            ),
        );
        c.commands.start = Some(start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{Content, RawEntry};

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
    fn solutions_list_projects_with_backslashes() {
        let sln = "Microsoft Visual Studio Solution File, Format Version 12.00\n\
            Project(\"{FAE04EC0-301F-11D3-BF4B-00C04F79EFBC}\") = \"Api\", \"src\\Api\\Api.csproj\", \"{1}\"\nEndProject\n\
            Project(\"{2150E333-8FDC-42A3-9474-1A3956D46DE8}\") = \"tests\", \"tests\", \"{2}\"\nEndProject\n";
        let i = index(&[("App.sln", sln), ("src/Api/Api.csproj", "<Project/>")]);
        assert_eq!(solution_projects(&i, "App.sln"), vec!["src/Api/Api.csproj"]);
    }

    #[test]
    fn target_frameworks_take_the_first_and_resolve_properties() {
        let i = index(&[
            ("Directory.Build.props", "<Project><PropertyGroup><Tfm>net8.0</Tfm></PropertyGroup></Project>"),
            (
                "src/A/A.csproj",
                "<Project Sdk=\"Microsoft.NET.Sdk\"><PropertyGroup><TargetFrameworks>$(Tfm);net6.0</TargetFrameworks>\
                 <AssemblyName>Acme.A</AssemblyName></PropertyGroup></Project>",
            ),
        ]);
        let p = parse_project(&i, "src/A/A.csproj");
        assert_eq!(
            p.target,
            Some((
                "net8.0".to_string(),
                "src/A/A.csproj (TargetFrameworks)".to_string()
            ))
        );
        assert_eq!(p.assembly, "Acme.A");
    }

    #[test]
    fn url_lists_give_the_http_port() {
        assert_eq!(
            url_port("https://localhost:7001;http://localhost:5080"),
            Some(5080)
        );
        assert_eq!(url_port("http://+:8080"), Some(8080));
        assert_eq!(url_port("http://0.0.0.0:5000/"), Some(5000));
    }
}
