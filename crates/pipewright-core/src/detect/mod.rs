//! Stack detection over a [`RepoIndex`]: one file per ecosystem, one shared resolution.
//!
//! Every folder holding a manifest is asked of every [`Ecosystem`]; each answers with a
//! [`Candidate`] (facts plus the evidence for each) or nothing. [`analyze`] then picks the
//! deployable stack per folder (the others become `secondary`, with the reason), drops
//! workspace roots that only aggregate members, adds what is shared across ecosystems
//! (compose files, Dockerfile `EXPOSE`, `Procfile`, framework default ports) and assembles the
//! [`StackProfile`]. Detectors never walk the tree: they query the index through
//! [`DirContext`].
//!
//! ```
//! use pipewright_core::index::{Content, RawEntry, RepoIndex};
//! let files = [("requirements.txt", "flask==3.0\n"), ("app.py", "app = Flask(__name__)\n")];
//! let index = RepoIndex::build(
//!     files.iter().map(|(p, t)| RawEntry::new(*p, t.len() as u64)).collect(),
//!     files.iter().map(|(p, t)| (p.to_string(), Content::Text(t.to_string()))).collect(),
//! );
//! let profile = pipewright_core::detect::analyze(&index, "demo");
//! assert_eq!(profile.services[0].framework.map(|f| f.as_str()), Some("flask"));
//! ```

mod ci_files;
mod compose;
mod container;
mod context;
pub mod csharp;
pub mod elixir;
pub mod go;
pub mod javascript;
pub mod jvm;
pub mod lockgraph;
pub mod php;
pub mod python;
pub mod ruby;
pub mod rust;
mod scan;
mod shared;
pub mod versions;

pub use context::DirContext;
pub use shared::env_example_port;

use crate::index::{Exclusion, RepoIndex};
use crate::stack::{
    BuildTool, Commands, Database, Evidence, Framework, Language, LanguageShare, Role,
    RuntimeVersion, Secondary, ServiceProfile, StackProfile, TestFramework,
};
use std::collections::BTreeSet;

/// One ecosystem's detector. Implementations live one per file in this module.
pub trait Ecosystem: Sync {
    /// Short name used in messages (`python`, `javascript`, `jvm` …).
    fn name(&self) -> &'static str;
    /// True when a file of this name makes its folder a candidate service folder.
    fn is_manifest(&self, file_name: &str) -> bool;
    /// True when the detector needs to read this path (manifests, version files, entry
    /// points, framework config). Called once per indexed path with its file name already
    /// split off: keep it cheap.
    fn wants(&self, path: &str, name: &str) -> bool;
    /// Looks at one folder and describes the stack found there, if any.
    fn detect(&self, ctx: &DirContext<'_>) -> Option<Candidate>;
}

/// Every ecosystem, in a fixed order (the last tie-break, after role, framework and source size).
pub static ECOSYSTEMS: &[&dyn Ecosystem] = &[
    &python::Python,
    &ruby::Ruby,
    &php::Php,
    &elixir::Elixir,
    &jvm::Jvm,
    &csharp::CSharp,
    &go::Go,
    &rust::Rust,
    &javascript::JavaScript,
];

/// Where a port came from, best first: the rank decides between several places that name one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PortOrigin {
    /// Set in `pipewright.toml` by the repository.
    Override,
    /// The start command binds it (`Procfile` `web:` with `--bind`/`--port`).
    StartCommand,
    /// The framework's own configuration file (`application.yml`, `appsettings.json`,
    /// `configuration/base.yaml`, `Rocket.toml`, `config/puma.rb`, a Dockerfile `ASPNETCORE_*`).
    FrameworkConfig,
    /// `.env.example` / `env-example` (`PORT`, `APP_PORT` …).
    EnvExample,
    /// Code that binds (`app.listen(3000)`, `TcpListener::bind`, `http.ListenAndServe`).
    Code,
    /// The runtime's container default (.NET 8+ images listen on 8080).
    ContainerDefault,
    /// A development launch profile (`launchSettings.json`), used by `dotnet run` only.
    DevProfile,
    /// A Dockerfile `EXPOSE`.
    Dockerfile,
    /// A compose file publishing the service's own container port.
    Compose,
    /// The framework's default port.
    FrameworkDefault,
}

/// What one ecosystem found in one folder. Built by a detector, resolved by [`analyze`].
#[derive(Debug, Clone)]
pub struct Candidate {
    pub language: Language,
    pub framework: Option<Framework>,
    pub build_tool: Option<BuildTool>,
    pub test_framework: Option<TestFramework>,
    /// Name of the runtime in `versions` (`python`, `node`, `java` …).
    pub runtime: &'static str,
    /// Every version pin seen, highest priority first; the first whose name is `runtime`
    /// becomes the service's runtime version.
    pub versions: Vec<RuntimeVersion>,
    /// The best-ranked port so far ([`PortOrigin`]); between equal ranks the first set wins.
    pub port: Option<(u16, String)>,
    pub port_origin: Option<PortOrigin>,
    pub databases: BTreeSet<Database>,
    pub commands: Commands,
    pub role: Role,
    /// One phrase saying why the role was concluded (`django in requirements.txt`).
    pub role_reason: String,
    pub evidence: Vec<Evidence>,
    pub warnings: Vec<String>,
    /// Variables the repository's CI sets for its tests to reach a database.
    pub test_variables: Vec<crate::stack::TestVariable>,
}

impl Candidate {
    pub fn new(language: Language, runtime: &'static str) -> Self {
        Candidate {
            language,
            framework: None,
            build_tool: None,
            test_framework: None,
            runtime,
            versions: Vec::new(),
            port: None,
            port_origin: None,
            databases: BTreeSet::new(),
            commands: Commands::default(),
            role: Role::Library,
            role_reason: String::new(),
            evidence: Vec::new(),
            warnings: Vec::new(),
            test_variables: Vec::new(),
        }
    }

    /// Records one piece of evidence.
    pub fn note(&mut self, conclusion: &str, file: impl Into<String>, detail: impl Into<String>) {
        self.evidence.push(Evidence::new(conclusion, file, detail));
    }

    /// Records a problem with a file (malformed manifest …) as evidence and as a warning.
    /// `file` may be a folder (`.` for the root) when the problem is not one file's.
    pub fn warn(&mut self, file: impl Into<String>, detail: impl Into<String>) {
        let file = file.into();
        let detail = detail.into();
        let place = if file == "." {
            "repository root".to_string()
        } else {
            file.clone()
        };
        self.warnings.push(format!("{place}: {detail}"));
        self.evidence.push(Evidence::new("warning", file, detail));
    }

    /// Sets the framework once (the first call wins), with its evidence.
    pub fn set_framework(&mut self, fw: Framework, file: &str, detail: impl Into<String>) {
        if self.framework.is_none() {
            self.framework = Some(fw);
            self.note("framework", file, detail);
        }
    }

    pub fn set_build_tool(&mut self, tool: BuildTool, file: &str, detail: impl Into<String>) {
        if self.build_tool.is_none() {
            self.build_tool = Some(tool);
            self.note("build_tool", file, detail);
        }
    }

    pub fn set_test_framework(&mut self, tf: TestFramework, file: &str, detail: impl Into<String>) {
        if self.test_framework.is_none() {
            self.test_framework = Some(tf);
            self.note("test_framework", file, detail);
        }
    }

    /// Adds a version pin (kept in call order, which is priority order).
    pub fn add_version(&mut self, name: &str, value: &str, source: impl Into<String>) {
        let value = value.trim().trim_matches('"').trim_matches('\'').trim();
        if value.is_empty() {
            return;
        }
        let source = source.into();
        if self
            .versions
            .iter()
            .any(|v| v.name == name && v.value == value && v.source == source)
        {
            return;
        }
        self.note(
            "runtime_version",
            source.split(' ').next().unwrap_or(&source),
            format!("{name} {value} ({source})"),
        );
        self.versions.push(RuntimeVersion {
            name: name.to_string(),
            value: value.to_string(),
            source,
        });
    }

    /// Sets a port found in code that binds (see [`Candidate::set_port_from`]).
    pub fn set_port(&mut self, port: u16, source: &str, detail: impl Into<String>) {
        self.set_port_from(PortOrigin::Code, port, source, detail);
    }

    /// Offers a port from `origin`: it is taken when it ranks above the current one (the first
    /// of equal rank stays); a lower-ranked port that differs is kept as evidence only.
    pub fn set_port_from(
        &mut self,
        origin: PortOrigin,
        port: u16,
        source: &str,
        detail: impl Into<String>,
    ) {
        if port == 0 {
            return;
        }
        let detail = detail.into();
        match (self.port_origin, &self.port) {
            (Some(current), Some((p, from))) if current <= origin => {
                if *p != port {
                    let note = format!(
                        "{detail}; not used: {from} ({}) ranks higher",
                        port_origin_name(current)
                    );
                    self.note("port", source, note);
                }
            }
            _ => {
                self.port = Some((port, source.to_string()));
                self.port_origin = Some(origin);
                self.note("port", source, detail);
            }
        }
    }

    pub fn add_database(&mut self, db: Database, file: &str, detail: impl Into<String>) {
        if self.databases.insert(db) {
            self.note("database", file, detail);
        }
    }

    /// Sets the role with the phrase that explains it.
    pub fn set_role(&mut self, role: Role, file: &str, reason: impl Into<String>) {
        let reason = reason.into();
        self.role = role;
        self.note("role", file, format!("{role:?}: {reason}").to_lowercase());
        self.role_reason = reason;
    }
}

/// The phrase for a port origin in evidence.
pub fn port_origin_name(o: PortOrigin) -> &'static str {
    match o {
        PortOrigin::Override => "pipewright.toml",
        PortOrigin::StartCommand => "start command",
        PortOrigin::FrameworkConfig => "framework configuration",
        PortOrigin::EnvExample => "example environment file",
        PortOrigin::Code => "code that binds",
        PortOrigin::ContainerDefault => "container default",
        PortOrigin::DevProfile => "development launch profile",
        PortOrigin::Dockerfile => "Dockerfile EXPOSE",
        PortOrigin::Compose => "compose",
        PortOrigin::FrameworkDefault => "framework default",
    }
}

/// True when `name` is a manifest of some ecosystem (its folder is a candidate service).
pub fn is_manifest(name: &str) -> bool {
    ECOSYSTEMS.iter().any(|e| e.is_manifest(name))
}

/// True when some ecosystem (or the shared detectors) needs the content of `path`.
pub fn wants_content(path: &str) -> bool {
    let name = crate::index::file_name(path);
    shared::wants(name)
        || ci_files::wants(path, name)
        || ECOSYSTEMS.iter().any(|e| e.wants(path, name))
}

/// Folder names whose contents are never a service of their own, even with a manifest:
/// tests and their fixtures, examples and samples shipped beside a project, mocks.
pub const NOT_SERVICE_FOLDERS: &[&str] = &[
    "fixtures",
    "__fixtures__",
    "testdata",
    "test-fixtures",
    "test_fixtures",
    "__tests__",
    "__mocks__",
    "test",
    "tests",
    "spec",
    "e2e",
    "example",
    "examples",
    "sample",
    "samples",
    "demo",
    "demos",
    "playground",
    "playgrounds",
    "sandbox",
    "benchmark",
    "benchmarks",
    "integration-tests",
    "e2e-tests",
    "test-apps",
    "test-app",
    "cypress",
];

/// Name prefixes and suffixes of folders that show, test or sample a project rather than
/// deploy it (`example-nextjs`, `with-docker-example`, `api-fixtures`).
const NOT_SERVICE_PREFIXES: &[&str] = &["example-", "examples-", "sample-", "samples-", "demo-"];
const NOT_SERVICE_SUFFIXES: &[&str] = &[
    "-example",
    "-examples",
    "-sample",
    "-samples",
    "-demo",
    "-fixture",
    "-fixtures",
    "-e2e",
];

/// True when one folder name marks a non-service folder (see [`NOT_SERVICE_FOLDERS`]).
pub fn is_not_service_folder(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    NOT_SERVICE_FOLDERS.contains(&lower.as_str())
        || NOT_SERVICE_PREFIXES.iter().any(|p| lower.starts_with(p))
        || NOT_SERVICE_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

/// Source folders: a manifest below an application's `src/` belongs to that application's
/// code (a package of it), not to a service of its own. Only below an application: a .NET
/// solution or a workspace root keeps its member projects in `src/`.
const SOURCE_FOLDERS: &[&str] = &["src"];

/// Paths that never hold a service of their own, even with a manifest: hidden tool folders,
/// and anything under a folder of [`NOT_SERVICE_FOLDERS`] (which covers the dummy apps of
/// engine test suites, `spec/dummy` and `test/dummy`).
fn is_fixture_path(dir: &str) -> bool {
    dir.split('/')
        .any(|c| c.starts_with('.') || is_not_service_folder(c))
}

/// True when `dir` lies in the source folder of one of `apps` (`src/app/core` below an
/// application at the root).
fn is_inside_source_of<'a>(dir: &str, mut apps: impl Iterator<Item = &'a String>) -> bool {
    apps.any(|other| {
        other != dir && is_below(dir, other) && {
            let rest = if other.is_empty() {
                dir
            } else {
                &dir[other.len() + 1..]
            };
            rest.split('/')
                .next()
                .is_some_and(|first| SOURCE_FOLDERS.contains(&first))
        }
    })
}

/// Analyzes the whole index. `root` is how the user named the repository.
pub fn analyze(index: &RepoIndex, root: &str) -> StackProfile {
    let mut warnings = Vec::new();
    let dirs = candidate_dirs(index);
    let compose = compose::read(index, &mut warnings);

    // Every folder's candidates, resolved to one primary each.
    let mut resolved: Vec<(String, Candidate, Vec<Secondary>)> = Vec::new();
    for dir in &dirs {
        let ctx = DirContext::new(index, dir);
        let mut found: Vec<(usize, Candidate)> = ECOSYSTEMS
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.detect(&ctx).map(|c| (i, c)))
            .collect();
        if found.is_empty() {
            continue;
        }
        found.sort_by(|(ia, a), (ib, b)| rank(b, &ctx).cmp(&rank(a, &ctx)).then(ia.cmp(ib)));
        let mut iter = found.into_iter().map(|(_, c)| c);
        let Some(primary) = iter.next() else { continue };
        let secondary = iter
            .map(|other| Secondary {
                language: other.language,
                framework: other.framework,
                reason: secondary_reason(&primary, &other, &ctx),
            })
            .collect();
        resolved.push((dir.clone(), primary, secondary));
    }

    // Folders a compose file builds from a Dockerfile alone (no manifest): services too.
    for (dir, facts) in &compose {
        if resolved.iter().any(|(d, _, _)| d == dir) || is_fixture_path(dir) {
            continue;
        }
        let ctx = DirContext::new(index, dir);
        if let Some(cand) = container::from_dockerfile(&ctx, facts, &mut warnings) {
            resolved.push((dir.clone(), cand, Vec::new()));
        }
    }
    resolved.sort_by(|a, b| a.0.cmp(&b.0));

    // A package inside an application's source folder is part of that application.
    let apps: Vec<String> = resolved
        .iter()
        .filter(|(_, c, _)| c.role == Role::Application)
        .map(|(d, _, _)| d.clone())
        .collect();
    resolved.retain(|(dir, _, _)| !is_inside_source_of(dir, apps.iter()));

    // Workspace roots that only list members are not services when members were found.
    let all_dirs: Vec<String> = resolved.iter().map(|(d, _, _)| d.clone()).collect();
    resolved.retain(|(dir, cand, _)| {
        cand.role != Role::Aggregator
            || !all_dirs
                .iter()
                .any(|other| other != dir && is_below(other, dir))
    });

    let mut services: Vec<ServiceProfile> = resolved
        .into_iter()
        .map(|(dir, mut cand, secondary)| {
            let ctx = DirContext::new(index, &dir);
            shared::enrich(&ctx, &mut cand, compose.get(&dir));
            if cand.role == Role::Aggregator {
                cand.set_role(
                    Role::Library,
                    &context::display_dir(&dir),
                    "workspace root without member services",
                );
            }
            warnings.extend(cand.warnings.iter().cloned());
            into_service(&dir, cand, secondary)
        })
        .collect();
    services.sort_by(|a, b| (a.path != ".", &a.path).cmp(&(b.path != ".", &b.path)));

    let languages = language_shares(index);
    let primary_language = main_service(index, &services).map(|s| s.language);
    if services.is_empty() {
        let seen: Vec<String> = languages
            .iter()
            .take(3)
            .map(|l| format!("{} ({:.0}%)", l.name, l.share * 100.0))
            .collect();
        warnings.push(if index.is_empty() {
            "the repository holds no files (after .gitignore and vendored paths)".to_string()
        } else if seen.is_empty() {
            "no supported stack found: no manifest of a supported ecosystem and no source code"
                .to_string()
        } else {
            format!(
                "no supported stack found: no manifest of a supported ecosystem \
                 (Gemfile, pyproject.toml, requirements.txt, package.json, pom.xml, build.gradle, \
                 go.mod, Cargo.toml, composer.json, *.csproj, mix.exs); languages seen: {}",
                seen.join(", ")
            )
        });
    }
    let excluded = index
        .files()
        .iter()
        .filter(|f| f.excluded.is_some())
        .count();
    StackProfile {
        schema_version: crate::stack::SchemaVersion,
        root: root.to_string(),
        primary_language,
        monorepo: services.len() > 1,
        languages,
        services,
        warnings,
        index: crate::stack::IndexSummary {
            files: index.len(),
            excluded_from_share: excluded,
            files_read: index.files_read(),
            sizes_measured: index.language_stats().measured_files,
            bytes_estimated: index.language_stats().estimated(),
        },
    }
}

/// Folders holding a manifest of any ecosystem, outside vendored, generated, documentation,
/// test, example and fixture paths; sorted.
fn candidate_dirs(index: &RepoIndex) -> Vec<String> {
    let mut dirs = BTreeSet::new();
    for (dir, mut files) in index.folders() {
        if is_fixture_path(dir) {
            continue;
        }
        let has_manifest = files.any(|f| {
            if matches!(
                f.excluded,
                Some(Exclusion::Vendored | Exclusion::Generated | Exclusion::Documentation)
            ) {
                return false;
            }
            f.is_manifest()
        });
        if has_manifest {
            dirs.insert(dir.to_string());
        }
    }
    dirs.into_iter().collect()
}

fn is_below(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || (path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/')
}

/// Ordering key: the deployable application first, then one with a framework, then the one
/// with more source of its own language in the folder.
fn rank(c: &Candidate, ctx: &DirContext<'_>) -> (Role, bool, u64) {
    (
        c.role,
        c.framework.is_some(),
        ctx.language_bytes(c.language),
    )
}

fn secondary_reason(primary: &Candidate, other: &Candidate, ctx: &DirContext<'_>) -> String {
    let describe = |c: &Candidate| match c.framework {
        Some(f) => format!("{} ({f})", c.language),
        None => c.language.to_string(),
    };
    let why_primary = if primary.role != other.role {
        format!(
            "{} is the deployable stack ({})",
            describe(primary),
            primary.role_reason
        )
    } else if primary.framework.is_some() != other.framework.is_some() {
        format!(
            "{} has a framework and {} has none",
            describe(primary),
            other.language
        )
    } else {
        format!(
            "both are {:?}s; {} has more source here ({} bytes against {})",
            primary.role,
            describe(primary),
            ctx.language_bytes(primary.language),
            ctx.language_bytes(other.language)
        )
        .to_lowercase()
    };
    format!(
        "{}: {}; {}",
        describe(other),
        other.role_reason,
        why_primary
    )
}

fn into_service(dir: &str, cand: Candidate, secondary: Vec<Secondary>) -> ServiceProfile {
    let runtime_version = cand
        .versions
        .iter()
        .find(|v| v.name == cand.runtime)
        .cloned();
    let (port, port_source) = match cand.port {
        Some((p, s)) => (Some(p), Some(s)),
        None => (None, None),
    };
    let mut evidence = cand.evidence;
    evidence.dedup();
    ServiceProfile {
        path: context::display_dir(dir),
        language: cand.language,
        framework: cand.framework,
        build_tool: cand.build_tool,
        test_framework: cand.test_framework,
        runtime_version,
        port,
        port_source,
        databases: cand.databases.into_iter().collect(),
        commands: cand.commands,
        secondary,
        evidence,
        versions: cand.versions,
        role: cand.role,
        test_variables: cand.test_variables,
    }
}

fn language_shares(index: &RepoIndex) -> Vec<LanguageShare> {
    let langs = index.language_bytes("");
    let total: u64 = langs.iter().map(|(_, _, b)| b).sum();
    langs
        .into_iter()
        .map(|(name, files, bytes)| LanguageShare {
            name: name.to_string(),
            files,
            bytes,
            share: if total == 0 {
                0.0
            } else {
                ((bytes as f64 / total as f64) * 10_000.0).round() / 10_000.0
            },
        })
        .collect()
}

/// The root service if there is one, else the application (then any service) with the most
/// source of its own language.
fn main_service<'a>(
    index: &RepoIndex,
    services: &'a [ServiceProfile],
) -> Option<&'a ServiceProfile> {
    if let Some(root) = services.iter().find(|s| s.path == ".") {
        return Some(root);
    }
    services.iter().max_by_key(|s| {
        let dir = if s.path == "." { "" } else { s.path.as_str() };
        let ctx = DirContext::new(index, dir);
        (s.role, ctx.language_bytes(s.language))
    })
}
