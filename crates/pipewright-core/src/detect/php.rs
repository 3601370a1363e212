//! PHP: Composer; Laravel, Symfony; PHPUnit, Pest; Pint, PHPStan.
//!
//! Packages come from `composer.json` (`require`, `require-dev`), or from `composer.lock` when
//! `composer.json` cannot be read, and from `symfony.lock` for Symfony Flex projects. The
//! runtime version comes from `.php-version`, `.tool-versions`/`mise.toml`, then
//! `composer.json` `config.platform.php` and `require.php`; databases from client packages,
//! `ext-*` requirements and Laravel's `.env.example`.

use super::versions::{add_tool_versions, add_version_file};
use super::{Candidate, DirContext, Ecosystem};
use crate::stack::{BuildTool, Database, Framework, Language, Role, TestFramework};
use serde_json::Value;
use std::collections::BTreeMap;

/// The PHP detector.
pub struct Php;

/// Files read wherever they are.
const READ_FILES: &[&str] = &[
    "composer.json",
    "composer.lock",
    "symfony.lock",
    ".php-version",
    ".env.example",
];

/// Package → the framework it is, in the order that decides.
const FRAMEWORK_PACKAGES: &[(&str, Framework)] = &[
    ("laravel/framework", Framework::Laravel),
    ("symfony/framework-bundle", Framework::Symfony),
    ("symfony/symfony", Framework::Symfony),
];

/// Package or platform requirement → the database, cache or broker it talks to.
const DATABASE_PACKAGES: &[(&str, Database)] = &[
    ("ext-pdo_pgsql", Database::Postgresql),
    ("ext-pgsql", Database::Postgresql),
    ("ext-mysqli", Database::Mysql),
    ("ext-pdo_mysql", Database::Mysql),
    ("ext-pdo_sqlite", Database::Sqlite),
    ("ext-sqlite3", Database::Sqlite),
    ("ext-redis", Database::Redis),
    ("predis/predis", Database::Redis),
    ("snc/redis-bundle", Database::Redis),
    ("ext-mongodb", Database::Mongodb),
    ("mongodb/mongodb", Database::Mongodb),
    ("doctrine/mongodb-odm-bundle", Database::Mongodb),
    ("ext-memcached", Database::Memcached),
    ("ext-amqp", Database::Rabbitmq),
    ("php-amqplib/php-amqplib", Database::Rabbitmq),
    ("elasticsearch/elasticsearch", Database::Elasticsearch),
    ("ext-rdkafka", Database::Kafka),
    ("ext-pdo_sqlsrv", Database::Mssql),
    ("ext-sqlsrv", Database::Mssql),
];

/// Laravel `DB_CONNECTION` value → database.
const LARAVEL_CONNECTIONS: &[(&str, Database)] = &[
    ("mysql", Database::Mysql),
    ("mariadb", Database::Mariadb),
    ("pgsql", Database::Postgresql),
    ("sqlite", Database::Sqlite),
    ("sqlsrv", Database::Mssql),
];

/// Laravel settings whose value `redis` means a Redis server is needed.
const LARAVEL_REDIS_KEYS: &[&str] = &[
    "CACHE_STORE",
    "CACHE_DRIVER",
    "QUEUE_CONNECTION",
    "SESSION_DRIVER",
    "BROADCAST_CONNECTION",
];

/// Packages that install PHPStan.
const PHPSTAN_PACKAGES: &[&str] = &[
    "phpstan/phpstan",
    "larastan/larastan",
    "nunomaduro/larastan",
];

/// Package name → the file that declares it.
type Packages = BTreeMap<String, String>;

/// The package names of a `require`-like object.
fn keys(v: Option<&Value>) -> impl Iterator<Item = &str> {
    v.and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.keys().map(String::as_str))
}

/// The value of `KEY=value` in a dotenv file (quotes and trailing comments removed).
pub fn dotenv_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let line = line.trim();
        let rest = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = rest.split_once('=')?;
        if k.trim() != key {
            return None;
        }
        let v = v.split(" #").next().unwrap_or(v).trim();
        Some(v.trim_matches('"').trim_matches('\''))
    })
}

impl Ecosystem for Php {
    fn name(&self) -> &'static str {
        "php"
    }

    fn is_manifest(&self, name: &str) -> bool {
        name == "composer.json"
    }

    fn wants(&self, _path: &str, name: &str) -> bool {
        READ_FILES.contains(&name)
    }

    fn detect(&self, ctx: &DirContext<'_>) -> Option<Candidate> {
        if !ctx.has("composer.json") {
            return None;
        }
        let mut c = Candidate::new(Language::Php, "php");
        let composer = ctx.json("composer.json", &mut c);
        let composer_path = ctx.path("composer.json");
        c.set_build_tool(
            BuildTool::Composer,
            &composer_path,
            "composer.json is present",
        );

        let mut packages = Packages::new();
        if let Some(json) = &composer {
            for section in ["require", "require-dev"] {
                for k in keys(json.get(section)) {
                    packages
                        .entry(k.to_ascii_lowercase())
                        .or_insert_with(|| composer_path.clone());
                }
            }
        } else if let Some(lock) = ctx.json("composer.lock", &mut c) {
            // The lock lists transitive packages too, but it is the only list left.
            let lock_path = ctx.path("composer.lock");
            c.note(
                "build_tool",
                &lock_path,
                "composer.json could not be read; packages taken from composer.lock",
            );
            for section in ["packages", "packages-dev"] {
                for p in lock
                    .get(section)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(name) = p.get("name").and_then(Value::as_str) {
                        packages
                            .entry(name.to_ascii_lowercase())
                            .or_insert_with(|| lock_path.clone());
                    }
                }
            }
        }

        versions(ctx, &mut c, composer.as_ref());
        framework(ctx, &mut c, composer.as_ref(), &packages);
        databases(ctx, &mut c, &packages);
        test_framework(ctx, &mut c, &packages);
        commands(ctx, &mut c, &packages);

        match c.framework {
            Some(fw) => {
                let file = c
                    .evidence
                    .iter()
                    .find(|e| e.conclusion == "framework")
                    .map(|e| e.file.clone())
                    .unwrap_or_default();
                c.set_role(Role::Application, &file, format!("{fw} in {file}"));
            }
            None if c.commands.start.is_some() => {
                let front = ["public/index.php", "index.php"]
                    .into_iter()
                    .find(|f| ctx.has(f))
                    .unwrap_or("index.php");
                c.set_role(
                    Role::Application,
                    &ctx.path(front),
                    format!("{front} is a front controller to serve"),
                );
            }
            None => c.set_role(
                Role::Library,
                &composer_path,
                "no web framework among the packages and no index.php",
            ),
        }
        Some(c)
    }
}

fn versions(ctx: &DirContext<'_>, c: &mut Candidate, composer: Option<&Value>) {
    add_version_file(ctx, c, "php", ".php-version");
    add_tool_versions(ctx, c, "php", &["php"]);
    let Some(json) = composer else { return };
    let path = ctx.path("composer.json");
    if let Some(v) = json.pointer("/config/platform/php").and_then(Value::as_str) {
        c.add_version("php", v, format!("{path} (config.platform.php)"));
    }
    if let Some(v) = json.pointer("/require/php").and_then(Value::as_str) {
        c.add_version("php", v, format!("{path} (require.php)"));
    }
}

/// A framework reached through `composer.lock` from the runtime requirements (a distribution
/// such as a CMS or a starter kit that requires `laravel/framework` itself).
fn transitive_framework(ctx: &DirContext<'_>, c: &mut Candidate, composer: Option<&Value>) {
    let Some(lock) = ctx
        .text("composer.lock")
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
    else {
        return;
    };
    let graph = super::lockgraph::composer_lock(&lock);
    let roots = keys(composer.and_then(|j| j.get("require")));
    let wanted: Vec<&str> = FRAMEWORK_PACKAGES.iter().map(|(p, _)| *p).collect();
    if let Some(found) = graph.reach(roots, &wanted) {
        if let Some((_, fw)) = FRAMEWORK_PACKAGES.iter().find(|(p, _)| *p == found.name) {
            c.set_framework(
                *fw,
                &ctx.path("composer.lock"),
                found.describe("composer.lock"),
            );
        }
    }
}

fn framework(ctx: &DirContext<'_>, c: &mut Candidate, composer: Option<&Value>, pk: &Packages) {
    // Composer's own default type is `library`, so only an explicit type other than
    // `project` marks a package (bundle, plugin, library) rather than an application.
    let kind = composer
        .and_then(|j| j.get("type"))
        .and_then(Value::as_str)
        .filter(|t| *t != "project");
    for (pkg, fw) in FRAMEWORK_PACKAGES {
        let Some(file) = pk.get(*pkg) else { continue };
        match kind {
            Some(t) => {
                c.note(
                    "framework",
                    file,
                    format!("`{pkg}` is required by a package of type `{t}`: built as a library"),
                );
                return;
            }
            None => c.set_framework(*fw, file, format!("`{pkg}` is required")),
        }
    }
    if c.framework.is_none() && kind.is_none() {
        transitive_framework(ctx, c, composer);
    }
    if c.framework.is_none() && kind.is_none() {
        // Symfony Flex records every installed recipe in symfony.lock.
        if let Some(lock) = ctx.json("symfony.lock", c) {
            if lock.get("symfony/framework-bundle").is_some() {
                c.set_framework(
                    Framework::Symfony,
                    &ctx.path("symfony.lock"),
                    "symfony.lock records the symfony/framework-bundle recipe",
                );
            }
        }
    }
    if c.framework == Some(Framework::Laravel) && ctx.has("artisan") {
        c.note(
            "framework",
            ctx.path("artisan"),
            "Laravel's artisan console is present",
        );
    }
    if c.framework == Some(Framework::Symfony) && ctx.has("symfony.lock") {
        c.note(
            "framework",
            ctx.path("symfony.lock"),
            "Symfony Flex lock is present",
        );
    }
}

fn databases(ctx: &DirContext<'_>, c: &mut Candidate, pk: &Packages) {
    for (pkg, db) in DATABASE_PACKAGES {
        if let Some(file) = pk.get(*pkg) {
            c.add_database(*db, file, format!("`{pkg}` is required"));
        }
    }
    if c.framework != Some(Framework::Laravel) {
        return;
    }
    let Some(text) = ctx.text(".env.example") else {
        return;
    };
    let file = ctx.path(".env.example");
    if let Some(conn) = dotenv_value(text, "DB_CONNECTION") {
        match LARAVEL_CONNECTIONS.iter().find(|(k, _)| *k == conn) {
            Some((_, db)) => c.add_database(*db, &file, format!("DB_CONNECTION={conn}")),
            None => c.warn(
                &file,
                format!("DB_CONNECTION={conn} is not a known Laravel driver"),
            ),
        }
    }
    for key in LARAVEL_REDIS_KEYS {
        if dotenv_value(text, key) == Some("redis") {
            c.add_database(Database::Redis, &file, format!("{key}=redis"));
        }
    }
}

fn test_framework(ctx: &DirContext<'_>, c: &mut Candidate, pk: &Packages) {
    // Pest runs on PHPUnit, so a project with both is a Pest project.
    if let Some(file) = pk.get("pestphp/pest") {
        c.set_test_framework(TestFramework::Pest, file, "`pestphp/pest` is required");
    }
    if let Some(file) = pk.get("phpunit/phpunit") {
        c.set_test_framework(
            TestFramework::Phpunit,
            file,
            "`phpunit/phpunit` is required",
        );
    }
    for f in ["phpunit.xml", "phpunit.xml.dist"] {
        if ctx.has(f) {
            c.set_test_framework(
                TestFramework::Phpunit,
                &ctx.path(f),
                format!("{f} is present"),
            );
        }
    }
}

fn commands(ctx: &DirContext<'_>, c: &mut Candidate, pk: &Packages) {
    let has = |p: &str| pk.contains_key(p);
    c.commands.install =
        Some("composer install --no-interaction --prefer-dist --no-progress".to_string());
    c.commands.build = Some("composer dump-autoload --optimize".to_string());
    c.commands.test = match c.test_framework {
        Some(TestFramework::Pest) => Some("vendor/bin/pest".into()),
        Some(TestFramework::Phpunit) => Some("vendor/bin/phpunit".into()),
        _ => None,
    };

    // PHPStan needs paths when no config file names them.
    let source_dir = if c.framework == Some(Framework::Laravel) {
        "app"
    } else {
        ["src", "app", "lib", "public"]
            .into_iter()
            .find(|d| ctx.index.files_under(&ctx.path(d)).next().is_some())
            .unwrap_or(".")
    };
    let phpstan_config = ["phpstan.neon", "phpstan.neon.dist", "phpstan.dist.neon"]
        .into_iter()
        .find(|f| ctx.has(f));
    let phpstan_pkg = PHPSTAN_PACKAGES.iter().find(|p| has(p));
    let lint = if has("laravel/pint") {
        c.note(
            "command",
            ctx.display(),
            "lint: pint (`laravel/pint` is required)",
        );
        "vendor/bin/pint --test".to_string()
    } else if let Some(cfg) = phpstan_config {
        c.note(
            "command",
            ctx.path(cfg),
            format!("lint: phpstan configured by {cfg}"),
        );
        if phpstan_pkg.is_some() {
            "vendor/bin/phpstan analyse --no-progress".to_string()
        } else {
            "phpstan analyse --no-progress".to_string()
        }
    } else if let Some(p) = phpstan_pkg {
        c.note(
            "command",
            ctx.display(),
            format!("lint: phpstan (`{p}` is required, no phpstan.neon)"),
        );
        format!("vendor/bin/phpstan analyse --no-progress {source_dir}")
    } else {
        c.note(
            "command",
            ctx.display(),
            "lint: phpstan at level 0 (the project configures no linter): the pipeline installs it",
        );
        format!("phpstan analyse --no-progress --level=0 {source_dir}")
    };
    c.commands.lint = Some(lint);

    let front = ["public/index.php", "index.php"]
        .into_iter()
        .find(|f| ctx.has(f));
    let start = match (c.framework, front) {
        (Some(Framework::Laravel), _) => {
            Some("php artisan serve --host=0.0.0.0 --port=8000".to_string())
        }
        (Some(Framework::Symfony), _) | (None, Some("public/index.php")) => {
            Some("php -S 0.0.0.0:8000 -t public".to_string())
        }
        (None, Some(_)) => Some("php -S 0.0.0.0:8000".to_string()),
        _ => None,
    };
    if let Some(s) = &start {
        c.note("command", ctx.display(), format!("start: {s}"));
        if let (None, Some(f)) = (c.framework, front) {
            c.set_port(
                8000,
                &ctx.path(f),
                format!("{f} is served by PHP's built-in server on 8000"),
            );
        }
    }
    c.commands.start = start;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_values_are_unquoted() {
        let text = "APP_NAME=Laravel\nDB_CONNECTION=\"pgsql\"\n# DB_HOST=x\nexport CACHE_STORE=redis # fast\n";
        assert_eq!(dotenv_value(text, "DB_CONNECTION"), Some("pgsql"));
        assert_eq!(dotenv_value(text, "CACHE_STORE"), Some("redis"));
        assert_eq!(dotenv_value(text, "DB_HOST"), None);
    }

    #[test]
    fn require_keys_are_listed() {
        let v: Value =
            serde_json::from_str(r#"{"require":{"php":"^8.2","laravel/framework":"^11"}}"#)
                .unwrap();
        let k: Vec<&str> = keys(v.get("require")).collect();
        assert_eq!(k, vec!["php", "laravel/framework"]);
        assert_eq!(keys(v.get("require-dev")).count(), 0);
    }
}
