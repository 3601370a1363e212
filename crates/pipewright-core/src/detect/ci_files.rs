//! What the repository's existing CI already knows (`.gitlab-ci.yml`, `.github/workflows/*.yml`,
//! `.circleci/config.yml`): the databases its jobs start as services, the runtime versions of
//! its test matrices, and its test command. Read as evidence ranked below the manifests and
//! above framework defaults: a fact is only added where the detector found none.

use super::compose::database_for_image;
use super::{Candidate, DirContext};
use crate::stack::{ConnectionPart, Database, TestFramework, TestVariable};
use serde_json::Value;

/// Variables a database image acts on itself (GitLab passes a job's variables to its service
/// containers too, and `MYSQL_USER=root` stops the MySQL image): the container's settings,
/// never the application's, so never copied.
const IMAGE_SETTINGS: &[&str] = &[
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "POSTGRES_HOST_AUTH_METHOD",
    "POSTGRES_INITDB_ARGS",
    "POSTGRES_INITDB_WALDIR",
    "PGDATA",
    "MYSQL_ROOT_PASSWORD",
    "MYSQL_ROOT_HOST",
    "MYSQL_DATABASE",
    "MYSQL_USER",
    "MYSQL_PASSWORD",
    "MYSQL_ALLOW_EMPTY_PASSWORD",
    "MYSQL_RANDOM_ROOT_PASSWORD",
    "MYSQL_ONETIME_PASSWORD",
    "ELASTIC_PASSWORD",
];

/// Prefixes of variables a database image acts on (see [`IMAGE_SETTINGS`]).
const IMAGE_SETTING_PREFIXES: &[&str] = &["MARIADB_", "MONGO_INITDB_", "RABBITMQ_DEFAULT_"];

/// libpq's own names, whole.
const LIBPQ: &[(&str, ConnectionPart)] = &[
    ("PGHOST", ConnectionPart::Host),
    ("PGPORT", ConnectionPart::Port),
    ("PGUSER", ConnectionPart::User),
    ("PGPASSWORD", ConnectionPart::Password),
    ("PGDATABASE", ConnectionPart::Name),
];

/// The last word of a variable's name → the part of the connection it carries.
const PART_WORDS: &[(&str, ConnectionPart)] = &[
    ("HOST", ConnectionPart::Host),
    ("HOSTNAME", ConnectionPart::Host),
    ("PORT", ConnectionPart::Port),
    ("USER", ConnectionPart::User),
    ("USERNAME", ConnectionPart::User),
    ("PASSWORD", ConnectionPart::Password),
    ("PASS", ConnectionPart::Password),
    ("NAME", ConnectionPart::Name),
    ("DATABASE", ConnectionPart::Name),
    ("URL", ConnectionPart::Url),
    ("URI", ConnectionPart::Url),
    ("DSN", ConnectionPart::Url),
];

/// Words in a variable's name that name one database.
const DATABASE_WORDS: &[(&str, Database)] = &[
    ("PG", Database::Postgresql),
    ("POSTGRES", Database::Postgresql),
    ("POSTGRESQL", Database::Postgresql),
    ("MYSQL", Database::Mysql),
    ("MARIADB", Database::Mariadb),
    ("REDIS", Database::Redis),
    ("MONGO", Database::Mongodb),
    ("MONGODB", Database::Mongodb),
    ("RABBITMQ", Database::Rabbitmq),
    ("AMQP", Database::Rabbitmq),
    ("ELASTICSEARCH", Database::Elasticsearch),
    ("MEMCACHED", Database::Memcached),
];

/// Words in a variable's name that mean "the SQL database" without saying which.
const SQL_WORDS: &[&str] = &["DB", "DATABASE", "SQL", "DATASOURCE"];

/// URL schemes (after an optional `jdbc:`) → the database.
const URL_SCHEMES: &[(&str, Database)] = &[
    ("postgres", Database::Postgresql),
    ("postgresql", Database::Postgresql),
    ("mysql", Database::Mysql),
    ("mysql2", Database::Mysql),
    ("mariadb", Database::Mariadb),
    ("redis", Database::Redis),
    ("rediss", Database::Redis),
    ("mongodb", Database::Mongodb),
    ("mongodb+srv", Database::Mongodb),
    ("amqp", Database::Rabbitmq),
];

/// Test commands a CI step may run, by the test framework they mean; the first word(s) of a
/// `run:`/`script:` line are matched.
const TEST_COMMANDS: &[(&str, Option<TestFramework>)] = &[
    ("pytest", Some(TestFramework::Pytest)),
    ("python -m pytest", Some(TestFramework::Pytest)),
    ("poetry run pytest", Some(TestFramework::Pytest)),
    ("uv run pytest", Some(TestFramework::Pytest)),
    ("python manage.py test", Some(TestFramework::Unittest)),
    ("python -m unittest", Some(TestFramework::Unittest)),
    ("bundle exec rspec", Some(TestFramework::Rspec)),
    ("bundle exec rails test", Some(TestFramework::Minitest)),
    ("bundle exec rake test", Some(TestFramework::Minitest)),
    ("go test", Some(TestFramework::GoTest)),
    ("cargo test", Some(TestFramework::CargoTest)),
    ("mix test", Some(TestFramework::Exunit)),
    ("vendor/bin/phpunit", Some(TestFramework::Phpunit)),
    ("vendor/bin/pest", Some(TestFramework::Pest)),
    ("npm test", None),
    ("npm run test", None),
    ("yarn test", None),
    ("pnpm test", None),
    ("dotnet test", None),
    ("./mvnw test", Some(TestFramework::Junit)),
    ("./mvnw verify", Some(TestFramework::Junit)),
    ("mvn test", Some(TestFramework::Junit)),
    ("mvn verify", Some(TestFramework::Junit)),
    ("./gradlew test", Some(TestFramework::Junit)),
    ("./gradlew check", Some(TestFramework::Junit)),
];

/// Matrix keys of GitHub Actions naming a runtime's versions → the runtime's name.
const MATRIX_KEYS: &[(&str, &str)] = &[
    ("python-version", "python"),
    ("python", "python"),
    ("node-version", "node"),
    ("node", "node"),
    ("go-version", "go"),
    ("go", "go"),
    ("ruby-version", "ruby"),
    ("ruby", "ruby"),
    ("java-version", "java"),
    ("java", "java"),
    ("php-version", "php"),
    ("php", "php"),
    ("elixir-version", "elixir"),
    ("elixir", "elixir"),
    ("dotnet-version", "dotnet"),
];

/// Files read for this (by name or path).
pub fn wants(path: &str, name: &str) -> bool {
    path == ".gitlab-ci.yml"
        || path == ".circleci/config.yml"
        || (path.starts_with(".github/workflows/")
            && (name.ends_with(".yml") || name.ends_with(".yaml")))
}

/// The CI files of the repository, in path order, parsed.
fn ci_documents(ctx: &DirContext<'_>) -> Vec<(String, Value)> {
    let mut paths: Vec<String> = vec![".gitlab-ci.yml".into(), ".circleci/config.yml".into()];
    let mut workflows: Vec<String> = ctx
        .index
        .files_in(".github/workflows")
        .map(|f| f.path.clone())
        .filter(|p| wants(p, crate::index::file_name(p)))
        .collect();
    workflows.sort();
    paths.extend(workflows);
    paths
        .into_iter()
        .filter_map(|p| {
            let text = ctx.index.text(&p)?;
            let doc = crate::yaml::to_json(text).ok()?;
            Some((p, doc))
        })
        .collect()
}

/// Images of the services the CI jobs start: GitLab `services:` (global and per job), GitHub
/// `jobs.*.services.*.image`, CircleCI's secondary `docker:` images.
fn service_images(path: &str, doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let push_list = |v: Option<&Value>, out: &mut Vec<String>| {
        for s in v.and_then(Value::as_array).into_iter().flatten() {
            match s {
                Value::String(img) => out.push(img.clone()),
                Value::Object(m) => {
                    if let Some(img) = m.get("name").or(m.get("image")).and_then(Value::as_str) {
                        out.push(img.to_string());
                    }
                }
                _ => {}
            }
        }
    };
    let Some(top) = doc.as_object() else {
        return out;
    };
    if path == ".gitlab-ci.yml" {
        push_list(top.get("services"), &mut out);
        for job in top.values() {
            push_list(job.get("services"), &mut out);
        }
    } else if path == ".circleci/config.yml" {
        for job in top
            .get("jobs")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.values())
        {
            if let Some(docker) = job.get("docker").and_then(Value::as_array) {
                for d in docker.iter().skip(1) {
                    if let Some(img) = d.get("image").and_then(Value::as_str) {
                        out.push(img.to_string());
                    }
                }
            }
        }
    } else {
        for job in top
            .get("jobs")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.values())
        {
            for svc in job
                .get("services")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|m| m.values())
            {
                if let Some(img) = svc.get("image").and_then(Value::as_str) {
                    out.push(img.to_string());
                }
            }
        }
    }
    out
}

/// Every `run:` (GitHub, CircleCI) and `script:` (GitLab) line, in document order.
fn script_lines(doc: &Value, out: &mut Vec<String>) {
    match doc {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("run", Value::String(s)) => out.extend(s.lines().map(str::to_string)),
                    ("run", Value::Object(r)) => {
                        if let Some(s) = r.get("command").and_then(Value::as_str) {
                            out.extend(s.lines().map(str::to_string));
                        }
                    }
                    ("script", Value::Array(a)) => {
                        out.extend(a.iter().filter_map(Value::as_str).map(str::to_string))
                    }
                    _ => script_lines(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| script_lines(v, out)),
        _ => {}
    }
}

/// Matrix versions of one runtime (`strategy.matrix.python-version: ["3.11", "3.12"]`).
fn matrix_versions(doc: &Value, runtime: &str) -> Vec<String> {
    let mut out = Vec::new();
    for job in doc
        .get("jobs")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
    {
        let Some(matrix) = job.pointer("/strategy/matrix").and_then(Value::as_object) else {
            continue;
        };
        for (key, name) in MATRIX_KEYS {
            if *name != runtime {
                continue;
            }
            for v in matrix
                .get(*key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => continue,
                };
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    out
}

/// Every variable the CI's jobs and steps set (GitHub `env:`, GitLab `variables:`, CircleCI
/// `environment:`), name and value, in document order; the settings of service containers
/// (`services:`, CircleCI's secondary `docker:` images) are not the application's and are
/// left out.
fn ci_variables(doc: &Value, out: &mut Vec<(String, String)>) {
    match doc {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("services", _) => {}
                    ("docker", Value::Array(images)) => {
                        if let Some(primary) = images.first() {
                            ci_variables(primary, out);
                        }
                    }
                    ("env" | "variables" | "environment", Value::Object(vars)) => {
                        for (name, value) in vars {
                            let text = match value {
                                Value::String(s) => s.clone(),
                                Value::Number(n) => n.to_string(),
                                Value::Object(o) => o
                                    .get("value")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_string(),
                                _ => String::new(),
                            };
                            out.push((name.clone(), text));
                        }
                    }
                    _ => ci_variables(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| ci_variables(v, out)),
        _ => {}
    }
}

/// The database a URL value names by its scheme (`postgres://…`, `jdbc:mysql://…`).
fn database_of_url(value: &str) -> Option<Database> {
    let value = value.trim().strip_prefix("jdbc:").unwrap_or(value.trim());
    let (scheme, _) = value.split_once("://")?;
    // SQLAlchemy's `dialect+driver` (`postgresql+psycopg`).
    let scheme = match scheme.split_once('+') {
        Some(("mongodb", "srv")) => scheme,
        Some((dialect, _)) => dialect,
        None => scheme,
    };
    URL_SCHEMES
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(scheme))
        .map(|(_, db)| *db)
}

/// What a CI variable tells the tests: which database (of those the service uses) and which
/// part of its connection. `None` for a variable that is about no database the service uses.
fn test_variable(
    name: &str,
    value: &str,
    databases: &[Database],
) -> Option<(Database, ConnectionPart)> {
    let upper = name.to_ascii_uppercase();
    if IMAGE_SETTINGS.contains(&upper.as_str())
        || IMAGE_SETTING_PREFIXES.iter().any(|p| upper.starts_with(p))
    {
        return None;
    }
    let (words, part) = match LIBPQ.iter().find(|(n, _)| *n == upper) {
        Some((_, part)) => (vec!["PG"], *part),
        None => {
            let words: Vec<&str> = upper.split('_').filter(|w| !w.is_empty()).collect();
            let (last, before) = words.split_last()?;
            let part = PART_WORDS
                .iter()
                .find(|(w, _)| w == last)
                .map(|(_, p)| *p)?;
            (before.to_vec(), part)
        }
    };
    let named = words.iter().find_map(|w| {
        DATABASE_WORDS
            .iter()
            .find(|(n, _)| n == w)
            .map(|(_, db)| *db)
    });
    let db = match (database_of_url(value), named) {
        (Some(db), _) | (None, Some(db)) => db,
        (None, None) => {
            // `DB_HOST`, `DATABASE_URL`: the service's one SQL database, when it has one.
            if !words.iter().any(|w| SQL_WORDS.contains(w)) && upper != "DATABASE_URL" {
                return None;
            }
            let mut sql = databases.iter().filter(|d| {
                matches!(
                    d,
                    Database::Postgresql | Database::Mysql | Database::Mariadb | Database::Mssql
                )
            });
            match (sql.next(), sql.next()) {
                (Some(db), None) => *db,
                _ => return None,
            }
        }
    };
    databases.contains(&db).then_some((db, part))
}

/// Numeric ordering of dotted versions (`3.9` < `3.12`).
fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '-'])
        .map(|p| p.parse::<u64>().unwrap_or(0))
        .collect()
}

/// Adds what the CI files say to the service at the repository root.
pub fn enrich(ctx: &DirContext<'_>, cand: &mut Candidate) {
    if !ctx.dir.is_empty() {
        return;
    }
    for (path, doc) in ci_documents(ctx) {
        for image in service_images(&path, &doc) {
            if let Some(db) = database_for_image(&image) {
                cand.add_database(db, &path, format!("the CI starts `{image}` as a service"));
            }
        }
        if !cand.versions.iter().any(|v| v.name == cand.runtime) {
            let mut found = matrix_versions(&doc, cand.runtime);
            found.sort_by_key(|v| version_key(v));
            if let Some(newest) = found.last() {
                cand.add_version(
                    cand.runtime,
                    newest,
                    format!("{path} (newest of the test matrix {})", found.join(", ")),
                );
            }
        }
        let databases: Vec<Database> = cand.databases.iter().copied().collect();
        let mut vars = Vec::new();
        ci_variables(&doc, &mut vars);
        for (name, value) in vars {
            let Some((database, part)) = test_variable(&name, &value, &databases) else {
                continue;
            };
            if cand.test_variables.iter().any(|v| v.name == name) {
                continue;
            }
            cand.note(
                "database",
                &path,
                format!(
                    "the CI sets `{name}` for its tests ({} of {database}); the test job sets it to its own {database} service",
                    part.as_str()
                ),
            );
            cand.test_variables.push(TestVariable {
                name,
                database,
                part,
                source: path.clone(),
            });
        }
        if cand.commands.test.is_none() {
            let mut lines = Vec::new();
            script_lines(&doc, &mut lines);
            let hit = lines.iter().map(|l| l.trim()).find_map(|line| {
                TEST_COMMANDS
                    .iter()
                    .find(|(cmd, _)| {
                        line == *cmd
                            || line
                                .strip_prefix(cmd)
                                .is_some_and(|rest| rest.starts_with(' '))
                    })
                    .map(|(_, tf)| (line.to_string(), *tf))
            });
            if let Some((line, tf)) = hit {
                if let (None, Some(tf)) = (cand.test_framework, tf) {
                    cand.set_test_framework(tf, &path, format!("the CI runs `{line}`"));
                }
                cand.note(
                    "command",
                    &path,
                    format!("test: {line} (the repository's CI runs it)"),
                );
                cand.commands.test = Some(line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_variables_say_which_database_and_part_by_name_or_url() {
        use ConnectionPart::*;
        let pg_redis = [Database::Postgresql, Database::Redis];
        for (name, value, want) in [
            ("PGHOST", "localhost", Some((Database::Postgresql, Host))),
            ("DB_HOST", "127.0.0.1", Some((Database::Postgresql, Host))),
            ("APP_DB_PORT", "5432", Some((Database::Postgresql, Port))),
            ("DB_DATABASE", "app", Some((Database::Postgresql, Name))),
            (
                "POSTGRES_HOST",
                "localhost",
                Some((Database::Postgresql, Host)),
            ),
            (
                "CACHE_REDIS_HOST",
                "localhost",
                Some((Database::Redis, Host)),
            ),
            (
                "CACHE_URL",
                "redis://localhost:6379/1",
                Some((Database::Redis, Url)),
            ),
            (
                "SQLALCHEMY_DATABASE_URI",
                "postgresql+psycopg://u@localhost/db",
                Some((Database::Postgresql, Url)),
            ),
            (
                "SPRING_DATASOURCE_URL",
                "jdbc:postgresql://localhost:5432/app",
                Some((Database::Postgresql, Url)),
            ),
            // The image's own settings, never the application's.
            ("POSTGRES_PASSWORD", "postgres", None),
            ("POSTGRES_DB", "app", None),
            ("MYSQL_USER", "root", None),
            // About no database, or one the service does not use.
            ("APP_HOST", "localhost", None),
            ("HOSTNAME", "ci", None),
            ("MONGO_URL", "mongodb://localhost", None),
        ] {
            assert_eq!(test_variable(name, value, &pg_redis), want, "{name}");
        }
        // Two SQL databases: a generic name says neither.
        let two = [Database::Postgresql, Database::Mysql];
        assert_eq!(test_variable("DB_HOST", "localhost", &two), None);
        assert_eq!(
            test_variable("MYSQL_HOST", "localhost", &two),
            Some((Database::Mysql, Host))
        );
    }

    #[test]
    fn service_container_settings_are_not_read_as_the_jobs_variables() {
        let doc = crate::yaml::to_json(
            "variables:\n  DB_HOST: mysql\ntest:\n  services:\n    - name: mysql:8\n      variables:\n        DB_PORT: '3306'\n  variables:\n    DB_USER: root\n",
        )
        .unwrap();
        let mut vars = Vec::new();
        ci_variables(&doc, &mut vars);
        let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["DB_HOST", "DB_USER"]);
        let circle = crate::yaml::to_json(
            "jobs:\n  test:\n    docker:\n      - image: cimg/python:3.12\n        environment:\n          PGHOST: localhost\n      - image: cimg/postgres:16.0\n        environment:\n          PGUSER: ignored\n",
        )
        .unwrap();
        let mut vars = Vec::new();
        ci_variables(&circle, &mut vars);
        assert_eq!(vars, vec![("PGHOST".to_string(), "localhost".to_string())]);
    }

    #[test]
    fn github_services_matrices_and_run_lines_are_read() {
        let doc = crate::yaml::to_json(
            "jobs:\n  test:\n    strategy:\n      matrix:\n        python-version: ['3.9', '3.12', '3.11']\n    services:\n      db:\n        image: postgres:16\n        env:\n          POSTGRES_PASSWORD: x\n    steps:\n      - run: |\n          pip install -e .\n          pytest -q\n",
        )
        .unwrap();
        assert_eq!(
            service_images(".github/workflows/ci.yml", &doc),
            vec!["postgres:16"]
        );
        let mut v = matrix_versions(&doc, "python");
        v.sort_by_key(|x| version_key(x));
        assert_eq!(v.last().map(String::as_str), Some("3.12"));
        let mut lines = Vec::new();
        script_lines(&doc, &mut lines);
        assert!(lines.iter().any(|l| l == "pytest -q"));
    }

    #[test]
    fn gitlab_services_are_read_globally_and_per_job() {
        let doc = crate::yaml::to_json(
            "services: [redis:7]\ntest:\n  services:\n    - name: postgres:16-alpine\n      alias: db\n  script:\n    - bundle exec rspec\n",
        )
        .unwrap();
        assert_eq!(
            service_images(".gitlab-ci.yml", &doc),
            vec!["redis:7", "postgres:16-alpine"]
        );
    }
}
