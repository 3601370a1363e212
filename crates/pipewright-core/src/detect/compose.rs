//! Compose files (`docker-compose.yml`, `compose.yaml` …): which folder each built service
//! comes from, which databases it depends on, and the container port it publishes.

use crate::index::{file_name, join, parent_dir, Content, IndexedFile, RepoIndex};
use crate::stack::Database;
use serde_json::Value;
use std::collections::HashMap;

/// What compose files say about one service folder.
#[derive(Debug, Default, Clone)]
pub struct ComposeFacts {
    /// Container port and the compose file it came from.
    pub port: Option<(u16, String)>,
    /// Database, compose file, detail.
    pub databases: Vec<(Database, String, String)>,
    /// The compose services built from this folder that are the application (not helpers):
    /// (service name, compose file, Dockerfile path relative to the folder).
    pub built_by: Vec<(String, String, String)>,
}

/// Image name prefixes of well-known databases, caches and brokers.
const DATABASE_IMAGES: &[(&str, Database)] = &[
    ("postgres", Database::Postgresql),
    ("postgis/postgis", Database::Postgresql),
    ("bitnami/postgresql", Database::Postgresql),
    ("timescale/timescaledb", Database::Postgresql),
    ("mysql", Database::Mysql),
    ("bitnami/mysql", Database::Mysql),
    ("mariadb", Database::Mariadb),
    ("redis", Database::Redis),
    ("bitnami/redis", Database::Redis),
    ("valkey/valkey", Database::Redis),
    ("mongo", Database::Mongodb),
    ("bitnami/mongodb", Database::Mongodb),
    ("memcached", Database::Memcached),
    ("elasticsearch", Database::Elasticsearch),
    (
        "docker.elastic.co/elasticsearch/elasticsearch",
        Database::Elasticsearch,
    ),
    ("rabbitmq", Database::Rabbitmq),
    ("bitnami/kafka", Database::Kafka),
    ("confluentinc/cp-kafka", Database::Kafka),
    ("apache/kafka", Database::Kafka),
    ("cassandra", Database::Cassandra),
    ("mcr.microsoft.com/mssql/server", Database::Mssql),
];

/// Words naming a development helper beside the application (mail catchers, proxies, admin
/// UIs, local cloud emulators): a compose service named so, or built from such a Dockerfile,
/// never gives the application's port.
const HELPER_WORDS: &[&str] = &[
    "mail",
    "smtp",
    "maildev",
    "mailhog",
    "mailpit",
    "mailcatcher",
    "nginx",
    "traefik",
    "caddy",
    "proxy",
    "adminer",
    "pgadmin",
    "phpmyadmin",
    "localstack",
    "minio",
    "prometheus",
    "grafana",
    "jaeger",
    "otel",
    "collector",
    "selenium",
    "chrome",
    "docs",
    "swagger",
    "mock",
];

/// True when a compose service is a helper rather than the application it sits beside.
fn is_helper(name: &str, svc: &Value) -> bool {
    let dockerfile = match svc.get("build") {
        Some(Value::Object(m)) => m.get("dockerfile").and_then(Value::as_str).unwrap_or(""),
        _ => "",
    };
    let words = |s: &str| {
        s.to_ascii_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| HELPER_WORDS.contains(&w))
    };
    words(name) || words(dockerfile)
}

/// The database an image reference names, if any.
pub fn database_for_image(image: &str) -> Option<Database> {
    let name = image.split('@').next().unwrap_or(image);
    let name = match name.rsplit_once(':') {
        Some((n, tag)) if !tag.contains('/') => n,
        _ => name,
    };
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    let name = name.strip_prefix("library/").unwrap_or(name);
    DATABASE_IMAGES
        .iter()
        .find(|(prefix, _)| name == *prefix)
        .map(|(_, db)| *db)
}

fn is_compose_file(name: &str) -> bool {
    matches!(
        name,
        "docker-compose.yml" | "docker-compose.yaml" | "compose.yml" | "compose.yaml"
    )
}

/// Reads every compose file of the index. Keys are service folders (`""` for the root).
pub fn read(index: &RepoIndex, warnings: &mut Vec<String>) -> HashMap<String, ComposeFacts> {
    let mut out: HashMap<String, ComposeFacts> = HashMap::new();
    // Only a file that was read can be used: look among those (a few), in path order,
    // rather than at every file of the tree.
    let mut files: Vec<&IndexedFile> = index
        .read_paths()
        .filter(|path| is_compose_file(file_name(path)))
        .filter_map(|path| index.file(path))
        .collect();
    files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    for f in files {
        if f.excluded
            .is_some_and(|e| e != crate::index::Exclusion::NotCode)
        {
            continue;
        }
        let Some(Content::Text(text)) = index.content(&f.path) else {
            continue;
        };
        let doc = match crate::yaml::to_json(text) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(format!("{}: not read: {e}", f.path));
                continue;
            }
        };
        read_one(&f.path, &doc, &mut out);
    }
    out
}

fn read_one(path: &str, doc: &Value, out: &mut HashMap<String, ComposeFacts>) {
    let base = parent_dir(path);
    let Some(services) = doc.get("services").and_then(Value::as_object) else {
        return;
    };
    let db_of = |name: &str| -> Option<Database> {
        services
            .get(name)
            .and_then(|s| s.get("image"))
            .and_then(Value::as_str)
            .and_then(database_for_image)
    };
    let mut built = Vec::new();
    for (name, svc) in services {
        let context = match svc.get("build") {
            Some(Value::String(s)) => Some(s.as_str()),
            Some(Value::Object(m)) => m.get("context").and_then(Value::as_str).or(Some(".")),
            _ => None,
        };
        let Some(context) = context else { continue };
        let dir = normalize(base, context);
        built.push(dir.clone());
        let facts = out.entry(dir).or_default();
        if !is_helper(name, svc) {
            let dockerfile = match svc.get("build") {
                Some(Value::Object(m)) => m.get("dockerfile").and_then(Value::as_str),
                _ => None,
            }
            .unwrap_or("Dockerfile");
            facts
                .built_by
                .push((name.clone(), path.to_string(), dockerfile.to_string()));
        }
        let deps: Vec<String> = match svc.get("depends_on") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
            Some(Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        };
        for dep in deps {
            if let Some(db) = db_of(&dep) {
                facts.databases.push((
                    db,
                    path.to_string(),
                    format!("compose service `{name}` depends on `{dep}`"),
                ));
            }
        }
        if facts.port.is_none() && !is_helper(name, svc) {
            if let Some(port) = first_container_port(svc.get("ports")) {
                facts.port = Some((port, path.to_string()));
            }
        }
    }
    // Databases declared with nothing depending on them belong to the compose file's folder.
    if built.is_empty() {
        let facts = out.entry(base.to_string()).or_default();
        for (name, svc) in services {
            if let Some(db) = svc
                .get("image")
                .and_then(Value::as_str)
                .and_then(database_for_image)
            {
                facts.databases.push((
                    db,
                    path.to_string(),
                    format!("compose service `{name}` runs {db}"),
                ));
            }
        }
    }
}

/// The container side of the first `ports` entry (`"8000:8000"`, `"127.0.0.1:80:8080/tcp"`, `{target: 80}`).
fn first_container_port(ports: Option<&Value>) -> Option<u16> {
    let first = ports?.as_array()?.first()?;
    match first {
        Value::String(s) => s.split('/').next()?.rsplit(':').next()?.parse().ok(),
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::Object(m) => m
            .get("target")?
            .as_u64()
            .and_then(|n| u16::try_from(n).ok()),
        _ => None,
    }
}

/// Resolves a build context relative to the compose file's folder into a root-relative folder.
fn normalize(base: &str, context: &str) -> String {
    let joined = join(base, context.trim_end_matches('/'));
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_map_to_databases() {
        assert_eq!(
            database_for_image("postgres:16-alpine"),
            Some(Database::Postgresql)
        );
        assert_eq!(
            database_for_image("docker.io/library/redis:7"),
            Some(Database::Redis)
        );
        assert_eq!(database_for_image("nginx:1.27"), None);
    }

    #[test]
    fn build_contexts_resolve_relative_to_the_compose_file() {
        assert_eq!(normalize("", "./api"), "api");
        assert_eq!(normalize("deploy", "../api/"), "api");
        assert_eq!(normalize("", "."), "");
    }

    #[test]
    fn ports_take_the_container_side() {
        let v: Value = serde_json::json!(["127.0.0.1:8080:80/tcp"]);
        assert_eq!(first_container_port(Some(&v)), Some(80));
    }
}
