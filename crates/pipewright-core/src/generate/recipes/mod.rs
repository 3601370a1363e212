//! One recipe per ecosystem: how a service of that stack installs, compiles, tests and lints
//! in CI, and the stages of its Dockerfile (`deps` from the manifests only, `build`, `test`,
//! `runtime`). The shared jobs in `jobs.rs` wrap every recipe the same way.
//!
//! Every recipe writes Dockerfiles whose base images come through the `BASE_REGISTRY` build
//! argument with the resolved runtime version pinned, whose final stage runs as a non-root
//! user, exposes the detected port and starts with an exec-form `CMD`.

pub mod csharp;
pub mod elixir;
pub mod go;
pub mod javascript;
pub mod jvm;
pub mod php;
pub mod python;
pub mod ruby;
pub mod rust;

use super::ServiceContext;
use crate::dockerfile::{Dockerfile, Instruction, Stage};
use crate::pipeline::Cache;
use crate::stack::Language;

/// The linter a service's test job runs, and how `quality` uses its report.
#[derive(Debug, Clone, PartialEq)]
pub struct Lint {
    /// The tool's name for messages (`ruff`, `rubocop`, `eslint` …).
    pub tool: String,
    /// The shell command, run in `$APP_DIR`; it writes `report` under `$CI_PROJECT_DIR`.
    pub command: String,
    /// The report file, relative to `$CI_PROJECT_DIR`.
    pub report: String,
    /// The SonarQube property that imports the report, where SonarQube has one.
    pub sonar_property: Option<String>,
    /// True when the project configures the linter: then its findings fail `quality`.
    pub enforced: bool,
    /// Why it is (or is not) enforced, for the job comment.
    pub why: String,
}

/// An ecosystem's own SAST tool, run instead of Semgrep (Brakeman for Rails).
#[derive(Debug, Clone, PartialEq)]
pub struct SastTool {
    pub comment: Vec<String>,
    /// Commands run in `$APP_DIR` of the test image.
    pub script: Vec<String>,
    /// The report, relative to `$CI_PROJECT_DIR`.
    pub report: String,
    /// The GitLab report kind (`sast`, `sarif` …), if GitLab can show it.
    pub report_kind: Option<String>,
}

/// What an ecosystem contributes for one service.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipe {
    /// The language image (`python`, `3.12-slim`) `compile` runs in.
    pub build_image: (String, String),
    /// `compile` commands, run in the service folder.
    pub compile: Vec<String>,
    pub compile_variables: Vec<(String, String)>,
    /// Variables the test job sets beyond the database conventions of `test_services.rs`:
    /// names the application itself reads (found in its settings or test configuration).
    /// They replace a convention's value of the same name.
    pub test_variables: Vec<(String, String)>,
    /// The dependency cache, keyed on lock files (paths relative to the repository root).
    pub cache: Option<Cache>,
    /// Build outputs kept from `compile` (relative to the service folder).
    pub compile_artifacts: Vec<String>,
    /// Commands that install dependencies when the tests cannot run in the built image
    /// (the repository's own Dockerfile has no `test` stage).
    pub test_setup: Vec<String>,
    /// Test commands, run in `$APP_DIR` (the image's application folder).
    pub test: Vec<String>,
    /// The JUnit report the tests write, relative to `$CI_PROJECT_DIR`, when they can.
    pub junit: Option<String>,
    pub lint: Option<Lint>,
    pub sast: Option<SastTool>,
    /// Extra SonarQube scanner properties (paths relative to the service folder); when set
    /// with `compile_artifacts`, `quality` also takes `compile`'s artifacts.
    pub sonar_properties: Vec<(String, String)>,
    pub dockerfile: Dockerfile,
    pub dockerignore: Vec<String>,
    /// The Docker build context relative to the repository root when it is not the service
    /// folder (a workspace member whose lock file and siblings live above it). The Dockerfile
    /// stays in the service folder; its COPY paths are relative to this context.
    pub context: Option<String>,
    /// One line per decision, for the explanation.
    pub notes: Vec<String>,
    pub warnings: Vec<String>,
}

/// The recipe for the service's language.
pub fn recipe_for(ctx: &ServiceContext<'_>) -> Recipe {
    let mut recipe = language_recipe(ctx);
    // A folder a compose file builds from its Dockerfile alone (no manifest, so no build
    // tool): nothing to install, compile, test or lint; the image is built from that Dockerfile.
    if ctx.service.build_tool.is_none() {
        recipe.compile.clear();
        recipe.compile_artifacts.clear();
        recipe.cache = None;
        recipe.test_setup.clear();
        recipe.test.clear();
        recipe.junit = None;
        recipe.lint = None;
        recipe.notes.push(
            "no manifest in the folder (built from its own Dockerfile by compose): nothing to install, compile, test or lint"
                .to_string(),
        );
    }
    recipe
}

fn language_recipe(ctx: &ServiceContext<'_>) -> Recipe {
    match ctx.service.language {
        Language::Python => python::recipe(ctx),
        Language::JavaScript | Language::TypeScript => javascript::recipe(ctx),
        Language::Rust => rust::recipe(ctx),
        Language::Ruby => ruby::recipe(ctx),
        Language::Php => php::recipe(ctx),
        Language::Elixir => elixir::recipe(ctx),
        Language::Java | Language::Kotlin => jvm::recipe(ctx),
        Language::Go => go::recipe(ctx),
        Language::CSharp => csharp::recipe(ctx),
    }
}

/// The settings under which the service's own configuration reads the connection URL of
/// `db` besides the ones the test job always sets (`SQLALCHEMY_DATABASE_URI`,
/// `MONGOCLIENT_HOST` …), so the test job sets those too.
pub fn url_settings(ctx: &ServiceContext<'_>, db: crate::stack::Database) -> Vec<String> {
    // Per ecosystem: which of the files the analysis read hold settings, and how code reads
    // an environment variable.
    let (is_settings_file, read): (fn(&str) -> bool, &regex::Regex) = match ctx.service.language {
        Language::Python => (
            |name| python::SETTINGS_FILES.contains(&name),
            &python::ENV_READ,
        ),
        Language::JavaScript | Language::TypeScript => {
            (javascript::is_settings_file, &javascript::ENV_READ)
        }
        _ => return Vec::new(),
    };
    const ALWAYS_SET: &[&str] = &["DATABASE_URL", "REDIS_URL", "MONGODB_URL", "MONGO_URL"];
    let mut out: Vec<String> = Vec::new();
    for f in ctx.index.files_under(ctx.dir) {
        if !is_settings_file(f.name()) {
            continue;
        }
        let Some(text) = ctx.index.text(&f.path) else {
            continue;
        };
        for caps in read.captures_iter(text) {
            let Some(name) = caps.iter().skip(1).flatten().next().map(|m| m.as_str()) else {
                continue;
            };
            let matches = url_setting_databases(name).is_some_and(|dbs| dbs.contains(&db));
            if matches && !ALWAYS_SET.contains(&name) && !out.iter().any(|o| o == name) {
                out.push(name.to_string());
            }
        }
    }
    out.sort();
    out
}

/// The SQL databases a generic name (`SQLALCHEMY_DATABASE_URI`, `DB_URL`) may hold the URL
/// of. With two of them the first gets the name, as it gets `DATABASE_URL`.
const ANY_SQL: &[crate::stack::Database] = &[
    crate::stack::Database::Postgresql,
    crate::stack::Database::Mysql,
    crate::stack::Database::Mariadb,
    crate::stack::Database::Mssql,
];

/// Words of a setting name that tie it to databases, first match wins: a database's own name
/// before the generic SQL words, so `MYSQL_DATABASE_URL` is MySQL's and `MONGODB_URI` is
/// MongoDB's. A word matches when the name has a word (between `_`) starting with it.
const URL_SETTING_WORDS: &[(&str, &[crate::stack::Database])] = {
    use crate::stack::Database::{Mariadb, Mongodb, Mysql, Postgresql, Redis};
    &[
        ("MONGO", &[Mongodb]),
        ("REDIS", &[Redis]),
        ("MYSQL", &[Mysql, Mariadb]),
        ("MARIADB", &[Mariadb, Mysql]),
        ("POSTGRES", &[Postgresql]),
        ("PG", &[Postgresql]),
        ("PSQL", &[Postgresql]),
        ("DATABASE", ANY_SQL),
        ("DB", ANY_SQL),
        ("SQLALCHEMY", ANY_SQL),
    ]
};

/// Which databases a setting name holds the URL of, when it looks like one
/// (`SQLALCHEMY_DATABASE_URI`, `DB_URL`, `POSTGRES_URL`, `MYSQL_URL`, `MONGOCLIENT_HOST`,
/// `CACHE_REDIS_URL`). A `_HOST` name holds a host name, except MongoDB's, whose clients take
/// a URL there.
fn url_setting_databases(name: &str) -> Option<&'static [crate::stack::Database]> {
    let url_like = ["_URL", "_URI", "_DSN"].iter().any(|s| name.ends_with(s));
    let host = name.ends_with("_HOST");
    if !url_like && !host {
        return None;
    }
    let dbs = URL_SETTING_WORDS
        .iter()
        .find(|(word, _)| name.split('_').any(|w| w.starts_with(word)))
        .map(|(_, dbs)| *dbs)?;
    (url_like || dbs == [crate::stack::Database::Mongodb]).then_some(dbs)
}

/// Entries every `.dockerignore` starts with: VCS data, CI files, local environments and
/// secrets that must never reach an image.
pub const DOCKERIGNORE_COMMON: &[&str] = &[
    "# Generated by pipewright: keep the build context small and secrets out of images.",
    ".git",
    ".gitlab-ci.yml",
    ".dockerignore",
    "Dockerfile",
    "**/.env",
    "**/.env.*",
    "!**/.env.example",
    "**/*.log",
    ".idea",
    ".vscode",
    "**/.DS_Store",
    "coverage",
];

/// The common entries plus the ecosystem's own.
pub fn dockerignore(extra: &[&str]) -> Vec<String> {
    DOCKERIGNORE_COMMON
        .iter()
        .chain(extra.iter())
        .map(|s| s.to_string())
        .collect()
}

/// The Dockerfile skeleton every recipe starts from: the `BASE_REGISTRY` argument.
pub fn dockerfile_base(ctx: &ServiceContext<'_>) -> Dockerfile {
    Dockerfile {
        header: vec![
            "Stages: deps (manifests only, cached) -> build -> test (test dependencies; CI runs"
                .into(),
            "the tests in it) -> runtime (slim, non-root). Base images come from the team's".into(),
            "registry through BASE_REGISTRY, which CI sets to $NEXUS_INTERNAL_REGISTRY.".into(),
        ],
        args: vec![(
            "BASE_REGISTRY".to_string(),
            ctx.settings.base_registry_default.clone(),
        )],
        stages: Vec::new(),
    }
}

/// Adds a non-root `app` user (uid 10001) on a Debian-based image, and gives it the stage's
/// working folder (the last `WORKDIR`, else its home `/app`): `WORKDIR` creates the folder as
/// root and `COPY --chown` leaves an existing folder alone, so without this an application
/// that writes beside itself (SQLite, uploads, caches) fails as the non-root user.
pub fn add_app_user(stage: &mut Stage) {
    let workdir = stage
        .instructions
        .iter()
        .rev()
        .find_map(|i| match i {
            Instruction::Workdir(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "/app".to_string());
    stage.comment("A fixed, unprivileged user that owns the application folder: the application never runs as root.");
    stage.run([
        "groupadd --system --gid 10001 app".to_string(),
        "useradd --system --no-log-init --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app".to_string(),
        format!("install -d -o app -g app {workdir}"),
    ]);
}

/// Ends a runtime stage: the port (when known), the user, and the exec-form start command.
pub fn finish_runtime(
    ctx: &ServiceContext<'_>,
    stage: &mut Stage,
    user: &str,
    start: Option<&str>,
    fallback: &[&str],
) -> Vec<String> {
    let mut warnings = Vec::new();
    let reads_port = start.is_some_and(|s| s.contains("$PORT") || s.contains("${PORT"));
    if let Some(port) = ctx.service.port {
        // A start command that reads $PORT gets the detected port as its default.
        if reads_port {
            stage.push(Instruction::Env(vec![("PORT".into(), port.to_string())]));
        }
        stage.push(Instruction::Expose(port));
    } else if reads_port {
        warnings.push("the start command reads $PORT but no port was detected: set ENV PORT and EXPOSE in the Dockerfile".into());
    }
    stage.push(Instruction::User(user.to_string()));
    match start {
        Some(cmd) => {
            stage.push(Instruction::Cmd(crate::dockerfile::exec_form(cmd)));
        }
        None => {
            // A library has nothing to start; the placeholder CMD is expected, not a problem.
            if ctx.service.role != crate::stack::Role::Library {
                warnings.push(format!(
                    "no start command was detected; the image's CMD is `{}`: set the right one in the Dockerfile",
                    fallback.join(" ")
                ));
            }
            stage.push(Instruction::Comment(
                "No start command was detected: replace this CMD with the one that starts the service.".into(),
            ));
            stage.push(Instruction::Cmd(
                fallback.iter().map(|s| s.to_string()).collect(),
            ));
        }
    }
    // A kept Dockerfile has its own start command and port: what would be wrong with the
    // runtime stage pipewright does not write is no warning.
    if ctx.keeps_dockerfile() {
        warnings.clear();
    }
    warnings
}

/// A `Cache` keyed on the given lock files (relative to the service folder), when they exist.
pub fn lock_cache(ctx: &ServiceContext<'_>, locks: &[&str], paths: &[&str], prefix: &str) -> Cache {
    let key_files: Vec<String> = locks
        .iter()
        .filter(|l| ctx.has(l))
        .take(2)
        .map(|l| crate::index::join(ctx.dir, l))
        .collect();
    Cache {
        key_files,
        key_prefix: Some(prefix.to_string()),
        paths: paths
            .iter()
            .map(|p| crate::index::join(ctx.dir, p))
            .collect(),
        policy: None,
    }
}

/// A pinned tool version: the repository's own pin when it has one and it is a plain version,
/// else pipewright's. The value goes into shell commands and image tags as it is, so a pin
/// with anything but `[A-Za-z0-9._+-]` after its leading operator (`2.5.<<EOF`, `3.2;id`,
/// `>=3.10,<4`) is not used.
pub fn tool_version(ctx: &ServiceContext<'_>, tool: &str, default: &str) -> String {
    ctx.service
        .versions
        .iter()
        .find(|v| v.name == tool)
        .map(|v| {
            v.value
                .trim_start_matches(['^', '~', '=', 'v', '>'])
                .to_string()
        })
        .filter(|v| plain_version(v))
        .unwrap_or_else(|| default.to_string())
}

/// `3.2.2`, `3.2.2p53`, `1.22.x`, `2.5.6-rc1`: a digit first, then letters, digits and `._+-`.
fn plain_version(v: &str) -> bool {
    v.chars().next().is_some_and(|c| c.is_ascii_digit())
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
}

#[cfg(test)]
mod tests {
    use super::url_setting_databases;
    use crate::stack::Database;

    #[test]
    fn a_setting_name_says_whose_url_it_holds() {
        let of = |n: &str| url_setting_databases(n).map(|d| d.to_vec());
        assert_eq!(of("POSTGRES_URL"), Some(vec![Database::Postgresql]));
        assert_eq!(of("PG_DSN"), Some(vec![Database::Postgresql]));
        // A database's own name wins over the generic words in the same name.
        assert_eq!(
            of("MYSQL_DATABASE_URL"),
            Some(vec![Database::Mysql, Database::Mariadb])
        );
        assert_eq!(
            of("MYSQL_URL"),
            Some(vec![Database::Mysql, Database::Mariadb])
        );
        assert_eq!(of("MONGODB_URI"), Some(vec![Database::Mongodb]));
        assert_eq!(of("MONGOCLIENT_HOST"), Some(vec![Database::Mongodb]));
        assert_eq!(of("CACHE_REDIS_URL"), Some(vec![Database::Redis]));
        let generic = of("SQLALCHEMY_DATABASE_URI").expect("generic SQL");
        assert!(generic.contains(&Database::Postgresql) && generic.contains(&Database::Mysql));
        // Host names are not URLs; words only match at their start (JPG is no PostgreSQL).
        assert_eq!(of("REDIS_HOST"), None);
        assert_eq!(of("DB_HOST"), None);
        assert_eq!(of("THUMB_JPG_URL"), None);
        assert_eq!(of("SECRET_KEY"), None);
    }
}
