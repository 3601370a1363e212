//! Where image references are written: a `.gitlab-ci.yml` (top-level and `default:` images,
//! each job's `image:` and `services:` as strings or `name:`, variables that name images our
//! jobs pull inside their scripts) and Dockerfiles (`FROM` with `ARG` defaults, `COPY --from=`),
//! plus the images the pipeline builds itself (Kaniko's `--destination`), which are not seeded.

use super::expand::{expand, Variables};
use crate::validate::{arg_pairs, parse_dockerfile, shell_words};
use serde_json::Value;

/// Variables whose value is an image our jobs pull inside their scripts.
pub const IMAGE_VARIABLES: &[&str] = &[
    "TRIVY_DB_REPOSITORY",
    "TRIVY_JAVA_DB_REPOSITORY",
    "TRIVY_CHECKS_BUNDLE_REPOSITORY",
];

/// Script commands that pull an image named as their first argument that is not a flag.
pub const PULLING_COMMANDS: &[&[&str]] = &[&["docker", "pull"], &["crane", "pull"]];

/// Top-level keys of a `.gitlab-ci.yml` that are not jobs.
const NOT_JOBS: &[&str] = &[
    "stages",
    "variables",
    "include",
    "workflow",
    "default",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "types",
    "spec",
];

/// One reference as written, with the variables in scope where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub text: String,
    /// Variables defined where the reference is (pipeline and job `variables:`, Dockerfile
    /// `ARG` defaults); the configuration's variables are laid over them by the caller.
    pub scope: Variables,
    /// Where it was found, for messages: `.gitlab-ci.yml job build: image`.
    pub used_by: String,
    /// Dockerfile references: `ARG` defaults give way to build arguments from the configuration.
    pub dockerfile: bool,
}

/// What a set of files refers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub images: Vec<Written>,
    /// Images the pipeline builds itself (Kaniko destinations), as written.
    pub built: Vec<Written>,
}

/// The references in a `.gitlab-ci.yml` (already parsed to JSON).
pub fn from_pipeline(file: &str, doc: &Value, found: &mut Found) {
    let Some(top) = doc.as_object() else {
        return;
    };
    let globals = variables_of(top.get("variables"));
    let push = |text: &str, scope: &Variables, used_by: String, out: &mut Vec<Written>| {
        out.push(Written {
            text: text.to_string(),
            scope: scope.clone(),
            used_by,
            dockerfile: false,
        })
    };
    let images_in = |node: &serde_json::Map<String, Value>,
                     scope: &Variables,
                     place: &str,
                     found: &mut Found| {
        if let Some(name) = node.get("image").and_then(image_name) {
            push(
                name,
                scope,
                format!("{file} {place}: image"),
                &mut found.images,
            );
        }
        if let Some(Value::Array(services)) = node.get("services") {
            for s in services {
                if let Some(name) = image_name(s) {
                    let mut scope = scope.clone();
                    scope.extend(variables_of(s.get("variables")));
                    push(
                        name,
                        &scope,
                        format!("{file} {place}: services"),
                        &mut found.images,
                    );
                    for var in IMAGE_VARIABLES {
                        if let Some(Value::String(v)) = s.get("variables").and_then(|m| m.get(*var))
                        {
                            push(
                                v,
                                &scope,
                                format!("{file} {place}: service variable {var}"),
                                &mut found.images,
                            );
                        }
                    }
                }
            }
        }
        let own = variables_of(node.get("variables"));
        for var in IMAGE_VARIABLES {
            if let Some(v) = own.get(*var) {
                push(
                    v,
                    scope,
                    format!("{file} {place}: variable {var}"),
                    &mut found.images,
                );
            }
        }
        for key in ["before_script", "script", "after_script"] {
            for line in script_lines(node.get(key)) {
                scan_script(&line, scope, &format!("{file} {place}: {key}"), found);
            }
        }
    };
    images_in(top, &globals, "(top level)", found);
    if let Some(Value::Object(default)) = top.get("default") {
        images_in(default, &globals, "default", found);
    }
    for (name, job) in top {
        if NOT_JOBS.contains(&name.as_str()) {
            continue;
        }
        let Value::Object(job) = job else { continue };
        let mut scope = globals.clone();
        scope.extend(variables_of(job.get("variables")));
        images_in(job, &scope, &format!("job {name}"), found);
    }
}

/// `image: x` or `image: {name: x}`.
fn image_name(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(m) => m.get("name").and_then(Value::as_str),
        _ => None,
    }
}

/// `variables:` entries, plain or `{value: …}`.
fn variables_of(v: Option<&Value>) -> Variables {
    let mut out = Variables::new();
    if let Some(Value::Object(m)) = v {
        for (k, v) in m {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Object(o) => match o.get("value") {
                    Some(Value::String(s)) => s.clone(),
                    _ => continue,
                },
                _ => continue,
            };
            out.insert(k.clone(), value);
        }
    }
    out
}

fn script_lines(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .flat_map(|l| match l {
                Value::String(s) => vec![s.clone()],
                Value::Array(inner) => inner
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Kaniko destinations (built) and pulls inside one script line.
fn scan_script(line: &str, scope: &Variables, used_by: &str, found: &mut Found) {
    for statement in line.split(['\n', ';']).flat_map(|s| s.split("&&")) {
        let words = shell_words(statement);
        let mut it = words.iter().peekable();
        while let Some(w) = it.next() {
            let value = if w == "--destination" {
                it.peek().map(|v| v.to_string())
            } else {
                w.strip_prefix("--destination=").map(str::to_string)
            };
            if let Some(v) = value {
                found.built.push(Written {
                    text: v,
                    scope: scope.clone(),
                    used_by: format!("{used_by} (kaniko --destination)"),
                    dockerfile: false,
                });
            }
        }
        for cmd in PULLING_COMMANDS {
            let start = words
                .iter()
                .position(|w| w.rsplit('/').next() == Some(cmd[0]));
            let Some(start) = start else { continue };
            if words[start + 1..]
                .iter()
                .take(cmd.len() - 1)
                .map(String::as_str)
                .ne(cmd[1..].iter().copied())
            {
                continue;
            }
            if let Some(image) = words[start + cmd.len()..]
                .iter()
                .find(|w| !w.starts_with('-'))
            {
                found.images.push(Written {
                    text: image.clone(),
                    scope: scope.clone(),
                    used_by: format!("{used_by} ({})", cmd.join(" ")),
                    dockerfile: false,
                });
            }
        }
    }
}

/// The references in a Dockerfile: `FROM` images (stage names and `scratch` skipped) and
/// `COPY --from=<image>`, with the `ARG` defaults in scope at that line.
pub fn from_dockerfile(file: &str, text: &str, found: &mut Found) {
    let parsed = parse_dockerfile(text);
    let mut global_args = Variables::new();
    let mut stage_args = Variables::new();
    let mut stages: Vec<String> = Vec::new();
    let mut in_stage = false;
    for ins in &parsed.instructions {
        match ins.keyword.as_str() {
            "ARG" => {
                for (name, default) in arg_pairs(&ins.args) {
                    // `ARG NAME` inside a stage brings the global default into scope.
                    let value = default
                        .or_else(|| in_stage.then(|| global_args.get(&name).cloned()).flatten());
                    if let Some(v) = value {
                        if in_stage {
                            stage_args.insert(name, v);
                        } else {
                            global_args.insert(name, v);
                        }
                    }
                }
            }
            "FROM" => {
                let words: Vec<&str> = ins
                    .args
                    .split_whitespace()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                if let Some(image) = words.first() {
                    // FROM sees only the global ARGs.
                    let resolved =
                        expand(image, &global_args).unwrap_or_else(|_| image.to_string());
                    let is_stage = stages.iter().any(|s| s.eq_ignore_ascii_case(&resolved));
                    if !is_stage && !resolved.eq_ignore_ascii_case("scratch") {
                        found.images.push(Written {
                            text: image.to_string(),
                            scope: global_args.clone(),
                            used_by: format!("{file} line {}: FROM", ins.line),
                            dockerfile: true,
                        });
                    }
                }
                if let [_, kw, name, ..] = words.as_slice() {
                    if kw.eq_ignore_ascii_case("as") {
                        stages.push(name.to_ascii_lowercase());
                    }
                }
                in_stage = true;
                stage_args = Variables::new();
            }
            "COPY" => {
                for w in ins.args.split_whitespace() {
                    let Some(from) = w.strip_prefix("--from=") else {
                        continue;
                    };
                    let from = from.trim_matches('"');
                    let is_stage = stages.iter().any(|s| s.eq_ignore_ascii_case(from))
                        || from.bytes().all(|b| b.is_ascii_digit());
                    if !is_stage {
                        let mut scope = global_args.clone();
                        scope.extend(stage_args.clone());
                        found.images.push(Written {
                            text: from.to_string(),
                            scope,
                            used_by: format!("{file} line {}: COPY --from", ins.line),
                            dockerfile: true,
                        });
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_images_services_defaults_and_variables() {
        let doc = crate::yaml::to_json(
            "image: alpine:3\nvariables:\n  REG: nexus:5001\ndefault:\n  image: {name: $REG/d:1}\n  services: [redis:7]\n\
             build:\n  image:\n    name: $REG/kaniko-executor:v1\n    entrypoint: ['']\n  script:\n    - /kaniko/executor --destination \"$REG/app:$CI_COMMIT_SHORT_SHA\" --context .\n\
             scan:\n  variables:\n    TRIVY_DB_REPOSITORY: $REG/trivy-db:2\n  services:\n    - name: $REG/pg:16\n      alias: db\n  script:\n    - docker pull $REG/tool:1 && echo ok\n\
             stages: [build]\n",
        )
        .unwrap();
        let mut found = Found::default();
        from_pipeline(".gitlab-ci.yml", &doc, &mut found);
        let texts: Vec<&str> = found.images.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "alpine:3",
                "$REG/d:1",
                "redis:7",
                "$REG/kaniko-executor:v1",
                "$REG/pg:16",
                "$REG/trivy-db:2",
                "$REG/tool:1"
            ]
        );
        assert_eq!(found.images[3].scope["REG"], "nexus:5001");
        assert_eq!(found.images[3].used_by, ".gitlab-ci.yml job build: image");
        assert_eq!(found.built.len(), 1);
        assert_eq!(found.built[0].text, "$REG/app:$CI_COMMIT_SHORT_SHA");
    }

    #[test]
    fn dockerfile_from_args_stages_and_copy_from() {
        let text = "ARG BASE_REGISTRY=ai-nexus:5001\nARG PY=3.12\nFROM ${BASE_REGISTRY}/demo/python:${PY}-slim AS deps\n\
                    FROM deps AS build\nCOPY --from=ghcr.io/astral-sh/uv:0.4 /uv /bin/uv\nCOPY --from=deps /a /a\n\
                    FROM scratch AS empty\nFROM --platform=$BUILDPLATFORM ${BASE_REGISTRY}/demo/python:${PY}-slim\nCOPY --from=0 /x /x\n";
        let mut found = Found::default();
        from_dockerfile("Dockerfile", text, &mut found);
        let texts: Vec<&str> = found.images.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "${BASE_REGISTRY}/demo/python:${PY}-slim",
                "ghcr.io/astral-sh/uv:0.4",
                "${BASE_REGISTRY}/demo/python:${PY}-slim"
            ]
        );
        assert_eq!(found.images[0].scope["PY"], "3.12");
        assert!(found.images[0].dockerfile);
        assert_eq!(found.images[0].used_by, "Dockerfile line 3: FROM");
    }
}
