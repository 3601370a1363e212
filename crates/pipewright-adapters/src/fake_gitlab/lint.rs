//! The part of CI Lint the fake reproduces (see [`lint_errors`]), with GitLab's messages.

use serde_json::Value;
use std::collections::BTreeSet;

/// Top-level keys that are not jobs.
const GLOBAL_KEYWORDS: &[&str] = &[
    "image",
    "services",
    "before_script",
    "after_script",
    "variables",
    "cache",
    "default",
    "stages",
    "include",
    "workflow",
    "spec",
];

/// The checks CI Lint makes that the fake reproduces: the YAML parses into a mapping,
/// `stages` is a list of strings, there is a visible job, each job has `script`, `run` or
/// `trigger`, its stage exists, and its `needs` name jobs that exist. `include:` is not
/// resolved, and `merged_yaml` is the content as sent.
pub(super) fn lint_errors(content: &str) -> Vec<String> {
    let doc = match pipewright_core::yaml::to_json(content) {
        Ok(doc) => doc,
        Err(pipewright_core::yaml::YamlError::Syntax {
            line,
            column,
            message,
        }) => {
            return vec![format!(
                "(<unknown>): {message} at line {line} column {column}"
            )]
        }
        Err(_) => return vec!["Invalid configuration format".to_string()],
    };
    let Some(top) = doc.as_object() else {
        return vec!["Invalid configuration format".to_string()];
    };
    let mut errors = Vec::new();
    let mut stages = vec![".pre".to_string()];
    match top.get("stages") {
        None => stages.extend(["build", "test", "deploy"].map(str::to_string)),
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
            stages.extend(list.iter().filter_map(Value::as_str).map(str::to_string))
        }
        Some(_) => errors.push("stages config should be an array of strings".to_string()),
    }
    stages.push(".post".to_string());
    let jobs: Vec<(&String, &Value)> = top
        .iter()
        .filter(|(k, _)| !k.starts_with('.') && !GLOBAL_KEYWORDS.contains(&k.as_str()))
        .collect();
    if jobs.is_empty() {
        errors.push("jobs config should contain at least one visible job".to_string());
    }
    let names: BTreeSet<&str> = jobs.iter().map(|(k, _)| k.as_str()).collect();
    for (name, job) in &jobs {
        let Some(job) = job.as_object() else {
            errors.push(format!("jobs:{name} config should be a hash"));
            continue;
        };
        if !["script", "run", "trigger"]
            .iter()
            .any(|k| job.contains_key(*k))
        {
            errors.push(format!(
                "jobs:{name} config should implement the script:, run:, or trigger: keyword"
            ));
        }
        let stage = job.get("stage").and_then(Value::as_str).unwrap_or("test");
        if !stages.iter().any(|s| s == stage) {
            errors.push(format!(
                "{name} job: chosen stage {stage} does not exist; available stages are {}",
                stages.join(", ")
            ));
        }
        for need in job
            .get("needs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let needed = need
                .as_str()
                .or_else(|| need.get("job").and_then(Value::as_str));
            if let Some(needed) = needed.filter(|n| !names.contains(n)) {
                errors.push(format!(
                    "'{name}' job needs '{needed}' job, but '{needed}' does not exist in the pipeline. This might be because of the only, except, or rules keywords. To need a job that sometimes does not exist in the pipeline, use needs:optional."
                ));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lint_reports_the_errors_gitlab_reports() {
        assert!(lint_errors("stages: [build]\nb:\n  stage: build\n  script: [make]\n").is_empty());
        let errors =
            lint_errors("stages: [build]\nt:\n  stage: test\n  script: [x]\n  needs: [nope]\n");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("chosen stage test does not exist"));
        assert!(errors[1].contains("'t' job needs 'nope' job"));
        assert_eq!(
            lint_errors("variables: {A: 1}\n"),
            ["jobs config should contain at least one visible job"]
        );
        assert!(lint_errors("a: [\n")[0].starts_with("(<unknown>): "));
    }
}
