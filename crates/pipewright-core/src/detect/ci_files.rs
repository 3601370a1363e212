//! What the repository's existing CI already knows (`.gitlab-ci.yml`, `.github/workflows/*.yml`,
//! `.circleci/config.yml`): the databases its jobs start as services, the runtime versions of
//! its test matrices, and its test command. Read as evidence ranked below the manifests and
//! above framework defaults: a fact is only added where the detector found none.

use super::compose::database_for_image;
use super::{Candidate, DirContext};
use crate::stack::TestFramework;
use serde_json::Value;

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
