//! The databases, caches and brokers a test job starts beside it, and the variables that tell
//! the application where they are, under the names each framework reads.
//!
//! Two tables: [`TEST_SERVICES`] (image, alias, the container's own settings, the connection
//! facts) and [`CONVENTIONS`] (which variable names a framework or client library reads, as
//! templates over those facts). A URL alone is not enough: libpq reads `PGHOST`…, Spring
//! `SPRING_DATASOURCE_*`, Laravel `DB_*`. Variables are collected into
//! [`Variables`](crate::pipeline::Variables), so a service needing two SQL databases still
//! writes each name once: the first database (in [`Database`] order) owns the shared names
//! (`DATABASE_URL`, the framework's), each one keeps its own client's names.
//!
//! GitLab passes a job's variables to its service containers too, so no convention may set a
//! name a database image acts on (`MYSQL_USER=root` stops the MySQL image from starting).

use super::ServiceContext;
use crate::pipeline::{Service, Variables};
use crate::stack::{ConnectionPart, Database, Framework};

/// How an application reaches one test database: the facts the convention templates use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    pub db: Database,
    /// The service alias, which is the host name inside the job.
    pub host: &'static str,
    pub port: u16,
    /// The user the application connects as (no password: the services trust the job).
    pub user: &'static str,
    /// The database (or virtual host) name, empty when the service has none.
    pub name: &'static str,
    /// The generic URL, e.g. `postgres://postgres@postgres:5432/test`.
    pub url: &'static str,
}

/// A service container started beside the test job.
pub struct TestService {
    pub image: &'static str,
    pub tag: &'static str,
    /// The container's own settings (service-level variables).
    pub settings: &'static [(&'static str, &'static str)],
    pub connection: Connection,
}

const fn conn(
    db: Database,
    host: &'static str,
    port: u16,
    user: &'static str,
    name: &'static str,
    url: &'static str,
) -> Connection {
    Connection {
        db,
        host,
        port,
        user,
        name,
        url,
    }
}

/// Settings that need no password: a throwaway database in a job must not teach anyone to
/// write credentials into the file. SQLite lives in a file; Kafka, Cassandra and SQL Server
/// are too heavy to start for unit tests by default, and tests that need them usually mock them.
pub const TEST_SERVICES: &[TestService] = &[
    TestService {
        image: "postgres",
        tag: "16-alpine",
        settings: &[
            ("POSTGRES_HOST_AUTH_METHOD", "trust"),
            ("POSTGRES_DB", "test"),
        ],
        connection: conn(
            Database::Postgresql,
            "postgres",
            5432,
            "postgres",
            "test",
            "postgres://postgres@postgres:5432/test",
        ),
    },
    TestService {
        image: "mysql",
        tag: "8.4",
        settings: &[
            ("MYSQL_ALLOW_EMPTY_PASSWORD", "yes"),
            ("MYSQL_DATABASE", "test"),
        ],
        connection: conn(
            Database::Mysql,
            "mysql",
            3306,
            "root",
            "test",
            "mysql://root@mysql:3306/test",
        ),
    },
    TestService {
        image: "mariadb",
        tag: "11.4",
        settings: &[
            ("MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "yes"),
            ("MARIADB_DATABASE", "test"),
        ],
        connection: conn(
            Database::Mariadb,
            "mariadb",
            3306,
            "root",
            "test",
            "mysql://root@mariadb:3306/test",
        ),
    },
    TestService {
        image: "redis",
        tag: "7-alpine",
        settings: &[],
        connection: conn(
            Database::Redis,
            "redis",
            6379,
            "",
            "0",
            "redis://redis:6379/0",
        ),
    },
    TestService {
        image: "mongo",
        tag: "7",
        settings: &[],
        connection: conn(
            Database::Mongodb,
            "mongo",
            27017,
            "",
            "test",
            "mongodb://mongo:27017/test",
        ),
    },
    TestService {
        image: "memcached",
        tag: "1.6-alpine",
        settings: &[],
        connection: conn(
            Database::Memcached,
            "memcached",
            11211,
            "",
            "",
            "memcached:11211",
        ),
    },
    TestService {
        image: "rabbitmq",
        tag: "3.13-alpine",
        settings: &[],
        connection: conn(
            Database::Rabbitmq,
            "rabbitmq",
            5672,
            "guest",
            "",
            "amqp://guest@rabbitmq:5672/",
        ),
    },
    TestService {
        image: "elasticsearch",
        tag: "8.15.3",
        settings: &[
            ("discovery.type", "single-node"),
            ("xpack.security.enabled", "false"),
        ],
        connection: conn(
            Database::Elasticsearch,
            "elasticsearch",
            9200,
            "",
            "",
            "http://elasticsearch:9200",
        ),
    },
];

/// Which databases a convention applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kinds {
    /// PostgreSQL, MySQL and MariaDB.
    Sql,
    One(Database),
}

/// Who reads the names: every application, or one framework's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    Any,
    Framework(Framework),
}

/// One naming convention: the names a reader looks up for a kind of database, as templates
/// over a [`Connection`] (`{host}`, `{port}`, `{user}`, `{name}`, `{url}`, and `{scheme:…}`
/// looked up per database in [`SCHEMES`]).
struct Convention {
    reader: Reader,
    kinds: Kinds,
    /// Names shared by all databases of the kind: only the first database sets them.
    shared: bool,
    /// Set by the recipe's test script under a condition, not as job variables (Laravel's
    /// `DB_*`, which must not override a connection phpunit.xml chooses).
    script_only: bool,
    vars: &'static [(&'static str, &'static str)],
}

/// The naming conventions, general first. A framework's entry adds to the general ones.
const CONVENTIONS: &[Convention] = &[
    // The de-facto standard (Heroku, dj-database-url, Rails, Prisma, Doctrine, Ecto releases).
    Convention {
        reader: Reader::Any,
        kinds: Kinds::Sql,
        shared: true,
        script_only: false,
        vars: &[("DATABASE_URL", "{url}")],
    },
    // libpq and everything built on it (psycopg, pg, node-postgres, pgx) read these when the
    // application's own settings leave a field empty.
    Convention {
        reader: Reader::Any,
        kinds: Kinds::One(Database::Postgresql),
        shared: false,
        script_only: false,
        vars: &[
            ("PGHOST", "{host}"),
            ("PGPORT", "{port}"),
            ("PGUSER", "{user}"),
            ("PGPASSWORD", ""),
            ("PGDATABASE", "{name}"),
        ],
    },
    // The MySQL client's own environment (MYSQL_USER/MYSQL_PASSWORD are left out on purpose:
    // the MySQL image refuses to start with MYSQL_USER=root).
    Convention {
        reader: Reader::Any,
        kinds: Kinds::One(Database::Mysql),
        shared: false,
        script_only: false,
        vars: &[("MYSQL_HOST", "{host}"), ("MYSQL_TCP_PORT", "{port}")],
    },
    Convention {
        reader: Reader::Any,
        kinds: Kinds::One(Database::Mariadb),
        shared: false,
        script_only: false,
        vars: &[("MYSQL_HOST", "{host}"), ("MYSQL_TCP_PORT", "{port}")],
    },
    Convention {
        reader: Reader::Any,
        kinds: Kinds::One(Database::Redis),
        shared: true,
        script_only: false,
        vars: &[("REDIS_URL", "{url}")],
    },
    Convention {
        reader: Reader::Any,
        kinds: Kinds::One(Database::Mongodb),
        shared: true,
        script_only: false,
        vars: &[("MONGODB_URL", "{url}"), ("MONGO_URL", "{url}")],
    },
    Convention {
        reader: Reader::Any,
        kinds: Kinds::One(Database::Memcached),
        shared: true,
        script_only: false,
        vars: &[("MEMCACHED_URL", "{url}")],
    },
    Convention {
        reader: Reader::Any,
        kinds: Kinds::One(Database::Rabbitmq),
        shared: true,
        script_only: false,
        vars: &[("AMQP_URL", "{url}"), ("RABBITMQ_URL", "{url}")],
    },
    Convention {
        reader: Reader::Any,
        kinds: Kinds::One(Database::Elasticsearch),
        shared: true,
        script_only: false,
        vars: &[("ELASTICSEARCH_URL", "{url}")],
    },
    Convention {
        reader: Reader::Framework(Framework::SpringBoot),
        kinds: Kinds::Sql,
        shared: true,
        script_only: false,
        vars: &[
            (
                "SPRING_DATASOURCE_URL",
                "jdbc:{scheme:jdbc}://{host}:{port}/{name}",
            ),
            ("SPRING_DATASOURCE_USERNAME", "{user}"),
            ("SPRING_DATASOURCE_PASSWORD", ""),
        ],
    },
    Convention {
        reader: Reader::Framework(Framework::SpringBoot),
        kinds: Kinds::One(Database::Redis),
        shared: true,
        script_only: false,
        vars: &[
            ("SPRING_DATA_REDIS_HOST", "{host}"),
            ("SPRING_DATA_REDIS_PORT", "{port}"),
        ],
    },
    Convention {
        reader: Reader::Framework(Framework::SpringBoot),
        kinds: Kinds::One(Database::Mongodb),
        shared: true,
        script_only: false,
        vars: &[("SPRING_DATA_MONGODB_URI", "{url}")],
    },
    Convention {
        reader: Reader::Framework(Framework::Quarkus),
        kinds: Kinds::Sql,
        shared: true,
        script_only: false,
        vars: &[
            (
                "QUARKUS_DATASOURCE_JDBC_URL",
                "jdbc:{scheme:jdbc}://{host}:{port}/{name}",
            ),
            ("QUARKUS_DATASOURCE_USERNAME", "{user}"),
            ("QUARKUS_DATASOURCE_PASSWORD", ""),
        ],
    },
    Convention {
        reader: Reader::Framework(Framework::Micronaut),
        kinds: Kinds::Sql,
        shared: true,
        script_only: false,
        vars: &[
            (
                "DATASOURCES_DEFAULT_URL",
                "jdbc:{scheme:jdbc}://{host}:{port}/{name}",
            ),
            ("DATASOURCES_DEFAULT_USERNAME", "{user}"),
            ("DATASOURCES_DEFAULT_PASSWORD", ""),
        ],
    },
    // Rails merges DATABASE_URL into database.yml; the mysql2 adapter wants its own scheme.
    Convention {
        reader: Reader::Framework(Framework::Rails),
        kinds: Kinds::Sql,
        shared: true,
        script_only: false,
        vars: &[
            (
                "DATABASE_URL",
                "{scheme:rails}://{user}@{host}:{port}/{name}",
            ),
            ("RAILS_ENV", "test"),
        ],
    },
    Convention {
        reader: Reader::Framework(Framework::Laravel),
        kinds: Kinds::Sql,
        shared: true,
        script_only: true,
        vars: &[
            ("DB_CONNECTION", "{scheme:laravel}"),
            ("DB_HOST", "{host}"),
            ("DB_PORT", "{port}"),
            ("DB_DATABASE", "{name}"),
            ("DB_USERNAME", "{user}"),
            ("DB_PASSWORD", ""),
        ],
    },
    Convention {
        reader: Reader::Framework(Framework::Laravel),
        kinds: Kinds::One(Database::Redis),
        shared: true,
        script_only: false,
        vars: &[("REDIS_HOST", "{host}"), ("REDIS_PORT", "{port}")],
    },
    Convention {
        reader: Reader::Framework(Framework::AspNetCore),
        kinds: Kinds::Sql,
        shared: true,
        script_only: false,
        vars: &[(
            "ConnectionStrings__DefaultConnection",
            "{scheme:dotnet}={host};Port={port};Database={name};Username={user}",
        )],
    },
];

/// Per database, the scheme or keyword each convention's `{scheme:…}` stands for.
const SCHEMES: &[(Database, &[(&str, &str)])] = &[
    (
        Database::Postgresql,
        &[
            ("jdbc", "postgresql"),
            ("rails", "postgresql"),
            ("laravel", "pgsql"),
            ("dotnet", "Host"),
        ],
    ),
    (
        Database::Mysql,
        &[
            ("jdbc", "mysql"),
            ("rails", "mysql2"),
            ("laravel", "mysql"),
            ("dotnet", "Server"),
        ],
    ),
    (
        Database::Mariadb,
        &[
            ("jdbc", "mariadb"),
            ("rails", "mysql2"),
            ("laravel", "mariadb"),
            ("dotnet", "Server"),
        ],
    ),
];

fn is_sql(db: Database) -> bool {
    matches!(
        db,
        Database::Postgresql | Database::Mysql | Database::Mariadb
    )
}

fn fill(template: &str, c: &Connection) -> String {
    let mut out = template
        .replace("{host}", c.host)
        .replace("{port}", &c.port.to_string())
        .replace("{user}", c.user)
        .replace("{name}", c.name)
        .replace("{url}", c.url);
    if let Some((_, schemes)) = SCHEMES.iter().find(|(db, _)| *db == c.db) {
        for (key, value) in schemes.iter() {
            out = out.replace(&format!("{{scheme:{key}}}"), value);
        }
    }
    out
}

/// The connections of the databases `databases` names that a test job can start, in
/// [`Database`] order.
pub fn connections(databases: &[Database]) -> Vec<Connection> {
    let mut found: Vec<Connection> = TEST_SERVICES
        .iter()
        .map(|t| t.connection)
        .filter(|c| databases.contains(&c.db))
        .collect();
    found.sort_by_key(|c| c.db);
    found
}

/// The variables an application of `framework` reads to reach `connections`, each name
/// once: general conventions first, then the framework's (which replace a general value of
/// the same name, e.g. Rails' `mysql2://` URL).
pub fn connection_variables(framework: Option<Framework>, connections: &[Connection]) -> Variables {
    collect(framework, connections, false)
}

/// The variables of `framework`'s conventions that its recipe sets in the test script under
/// a condition (Laravel's `DB_*` when phpunit.xml chooses no connection of its own).
pub fn script_variables(framework: Option<Framework>, connections: &[Connection]) -> Variables {
    collect(framework, connections, true)
}

fn collect(
    framework: Option<Framework>,
    connections: &[Connection],
    script_only: bool,
) -> Variables {
    let mut vars = Variables::new();
    let readers = [Some(Reader::Any), framework.map(Reader::Framework)];
    for reader in readers.into_iter().flatten() {
        for convention in CONVENTIONS
            .iter()
            .filter(|c| c.reader == reader && c.script_only == script_only)
        {
            let matching = connections.iter().filter(|c| match convention.kinds {
                Kinds::Sql => is_sql(c.db),
                Kinds::One(db) => c.db == db,
            });
            // Shared names belong to the first matching database only.
            let take = if convention.shared { 1 } else { usize::MAX };
            for c in matching.take(take) {
                for (key, template) in convention.vars {
                    vars.set(*key, fill(template, c));
                }
            }
        }
    }
    vars
}

/// The job services and connection variables for the databases the service needs, and the
/// explanation lines: when a shared name had to choose between two databases, and the names
/// the repository's own CI used for its tests (set too, pointing to the job's services).
pub fn test_services(ctx: &ServiceContext<'_>) -> (Vec<Service>, Variables, Vec<String>) {
    let connections = connections(&ctx.service.databases);
    let services = connections
        .iter()
        .filter_map(|c| TEST_SERVICES.iter().find(|t| t.connection.db == c.db))
        .map(|t| Service {
            name: ctx.job_image(t.image, t.tag),
            alias: Some(t.connection.host.to_string()),
            command: Vec::new(),
            variables: t.settings.iter().copied().collect(),
        })
        .collect();
    let mut vars = connection_variables(ctx.service.framework, &connections);
    // The same URL under the names the application's own configuration reads
    // (`SQLALCHEMY_DATABASE_URI` in a Flask config, …), found by the recipe.
    for c in &connections {
        let own = connection_variables(ctx.service.framework, std::slice::from_ref(c));
        let Some(url) = own
            .iter()
            .map(|(_, v)| v.to_string())
            .find(|v| v.contains("://"))
        else {
            continue;
        };
        for name in super::recipes::url_settings(ctx, c.db) {
            vars.set_if_absent(name, url.clone());
        }
    }
    let mut notes = Vec::new();
    let mut from_ci = Vec::new();
    for tv in &ctx.service.test_variables {
        let Some(c) = connections.iter().find(|c| c.db == tv.database) else {
            continue;
        };
        let value = match tv.part {
            ConnectionPart::Host => c.host.to_string(),
            ConnectionPart::Port => c.port.to_string(),
            ConnectionPart::User => c.user.to_string(),
            ConnectionPart::Password => String::new(),
            ConnectionPart::Name => c.name.to_string(),
            // The URL under the framework's scheme (Rails' `mysql2://`) when it has one.
            ConnectionPart::Url => {
                connection_variables(ctx.service.framework, std::slice::from_ref(c))
                    .iter()
                    .map(|(_, v)| v.to_string())
                    .find(|v| v.contains("://"))
                    .unwrap_or_else(|| c.url.to_string())
            }
        };
        if vars.set_if_absent(tv.name.clone(), value) {
            from_ci.push(format!("{} ({})", tv.name, tv.source));
        }
    }
    if !from_ci.is_empty() {
        notes.push(format!(
            "the repository's CI names its test databases {}: the test job sets the same names to its own services",
            from_ci.join(", ")
        ));
    }
    let sql: Vec<&Connection> = connections.iter().filter(|c| is_sql(c.db)).collect();
    let note = (sql.len() > 1).then(|| {
        format!(
            "the tests get {} SQL databases; DATABASE_URL and the framework's names point to {} (the first), the others are reachable through their own client variables ({})",
            sql.len(),
            sql[0].db,
            sql[1..]
                .iter()
                .map(|c| format!("{} at {}:{}", c.db, c.host, c.port))
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    notes.extend(note);
    (services, vars, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_gets_libpq_names_beside_the_url() {
        let v = connection_variables(None, &connections(&[Database::Postgresql]));
        assert_eq!(
            v.get("DATABASE_URL"),
            Some("postgres://postgres@postgres:5432/test")
        );
        assert_eq!(v.get("PGHOST"), Some("postgres"));
        assert_eq!(v.get("PGUSER"), Some("postgres"));
        assert_eq!(v.get("PGDATABASE"), Some("test"));
        assert_eq!(v.get("PGPASSWORD"), Some(""));
    }

    #[test]
    fn spring_reads_its_datasource_names() {
        let v = connection_variables(
            Some(Framework::SpringBoot),
            &connections(&[Database::Postgresql]),
        );
        assert_eq!(
            v.get("SPRING_DATASOURCE_URL"),
            Some("jdbc:postgresql://postgres:5432/test")
        );
        assert_eq!(v.get("SPRING_DATASOURCE_USERNAME"), Some("postgres"));
    }

    #[test]
    fn laravel_reads_db_names_set_by_its_script() {
        let conns = connections(&[Database::Mysql]);
        assert!(connection_variables(Some(Framework::Laravel), &conns)
            .get("DB_HOST")
            .is_none());
        let v = script_variables(Some(Framework::Laravel), &conns);
        assert_eq!(v.get("DB_CONNECTION"), Some("mysql"));
        assert_eq!(v.get("DB_HOST"), Some("mysql"));
        assert_eq!(v.get("DB_DATABASE"), Some("test"));
        assert_eq!(v.get("DB_USERNAME"), Some("root"));
    }

    #[test]
    fn rails_with_mysql_gets_the_mysql2_scheme() {
        let v = connection_variables(Some(Framework::Rails), &connections(&[Database::Mysql]));
        assert_eq!(v.get("DATABASE_URL"), Some("mysql2://root@mysql:3306/test"));
    }

    #[test]
    fn two_sql_databases_write_each_name_once_and_the_first_owns_the_url() {
        let v = connection_variables(
            Some(Framework::SpringBoot),
            &connections(&[Database::Mysql, Database::Postgresql]),
        );
        assert_eq!(
            v.get("DATABASE_URL"),
            Some("postgres://postgres@postgres:5432/test")
        );
        assert_eq!(v.get("MYSQL_HOST"), Some("mysql"));
        assert_eq!(v.get("PGHOST"), Some("postgres"));
        let names: Vec<&str> = v.iter().map(|(k, _)| k).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(names.len(), unique.len(), "{names:?}");
    }

    #[test]
    fn no_variable_is_one_a_database_image_acts_on() {
        let all = [
            Database::Postgresql,
            Database::Mysql,
            Database::Mariadb,
            Database::Redis,
        ];
        for fw in Framework::ALL.iter().copied().map(Some).chain([None]) {
            let v = connection_variables(fw, &connections(&all));
            for forbidden in [
                "MYSQL_USER",
                "MYSQL_PASSWORD",
                "MYSQL_ROOT_PASSWORD",
                "POSTGRES_USER",
                "POSTGRES_PASSWORD",
            ] {
                assert!(v.get(forbidden).is_none(), "{fw:?} sets {forbidden}");
            }
        }
    }
}
