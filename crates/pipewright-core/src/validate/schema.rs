//! GitLab's official CI schema (`data/gitlab-ci.schema.json`, MIT, see `data/NOTICE.md`),
//! embedded in the binary and compiled once, checked against the document after merges and
//! `!reference` tags are resolved (the schema rejects the raw tag). Each schema error becomes a
//! finding at the key or value it concerns; for `anyOf`/`oneOf` failures the most specific
//! branch error is reported, as the generic "not valid under any schema" helps nobody.

use super::catalog::GITLAB_SCHEMA;
use super::pipeline_rules::extends_of;
use super::secrets;
use super::text::{join, Pos};
use super::yaml_doc::YamlDoc;
use super::Finding;
use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, ValidationError, Validator};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::LazyLock;

/// The schema text, exactly as GitLab publishes it.
pub const GITLAB_CI_SCHEMA: &str = include_str!("../../data/gitlab-ci.schema.json");
/// Its license and provenance.
pub const GITLAB_CI_SCHEMA_NOTICE: &str = include_str!("../../data/NOTICE.md");

static VALIDATOR: LazyLock<Result<Validator, String>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(GITLAB_CI_SCHEMA)
        .map_err(|e| format!("the embedded GitLab CI schema is not JSON: {e}"))?;
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .build(&schema)
        .map_err(|e| format!("the embedded GitLab CI schema does not compile: {e}"))
});

/// The same schema rooted at its job definition: hidden templates are anything-goes to the
/// schema (they may be plain anchors), but those that jobs `extends` are merged into jobs, so
/// GitLab holds them to the job keywords.
static TEMPLATE_VALIDATOR: LazyLock<Result<Validator, String>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(GITLAB_CI_SCHEMA)
        .map_err(|e| format!("the embedded GitLab CI schema is not JSON: {e}"))?;
    let rooted = serde_json::json!({
        "$ref": "#/definitions/job_template",
        "definitions": schema.get("definitions").cloned().unwrap_or(Value::Null),
    });
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .build(&rooted)
        .map_err(|e| format!("the embedded GitLab CI job schema does not compile: {e}"))
});

/// Schema findings for `doc`.
pub fn check(doc: &YamlDoc) -> Vec<Finding> {
    let (validator, templates) = match (&*VALIDATOR, &*TEMPLATE_VALIDATOR) {
        (Ok(v), Ok(t)) => (v, t),
        (Err(e), _) | (_, Err(e)) => return vec![GITLAB_SCHEMA.at(Pos::START, e.clone())],
    };
    let mut out: Vec<Finding> = validator
        .iter_errors(&doc.root)
        .map(|err| finding(doc, "", most_specific(&err)))
        .collect();
    for name in extended_templates(doc) {
        if let Some(template) = doc.map().get(name) {
            let base = join("", name);
            out.extend(
                templates
                    .iter_errors(template)
                    .map(|err| finding(doc, &base, most_specific(&err))),
            );
        }
    }
    out
}

/// Hidden entries that real jobs extend, directly or through other templates.
fn extended_templates(doc: &YamlDoc) -> Vec<&str> {
    let root = doc.map();
    let mut queue: Vec<&str> = root
        .iter()
        .filter(|(k, v)| !k.starts_with('.') && v.is_object())
        .map(|(k, _)| k.as_str())
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    while let Some(name) = queue.pop() {
        let Some(Value::Object(entry)) = root.get(name) else {
            continue;
        };
        for parent in extends_of(entry) {
            if let Some((key, _)) = root.get_key_value(parent.as_str()) {
                if seen.insert(key.as_str()) {
                    if key.starts_with('.') {
                        out.push(key.as_str());
                    }
                    queue.push(key.as_str());
                }
            }
        }
    }
    out.sort();
    out
}

/// The deepest error among an `anyOf`/`oneOf`'s branches, preferring errors that say what is
/// wrong over bare type mismatches, when it is deeper than the error itself.
fn most_specific<'a, 'e>(err: &'a ValidationError<'e>) -> &'a ValidationError<'e> {
    let context = match err.kind() {
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            context
        }
        _ => return err,
    };
    let mut best: Option<&'a ValidationError<'e>> = None;
    for branch in context {
        for e in branch {
            let leaf = most_specific(e);
            if best.is_none_or(|b| score(leaf) > score(b)) {
                best = Some(leaf);
            }
        }
    }
    match best {
        Some(b) if depth(b) > depth(err) => b,
        _ => err,
    }
}

fn depth(err: &ValidationError<'_>) -> usize {
    err.instance_path().as_str().matches('/').count()
}

fn score(err: &ValidationError<'_>) -> (usize, u8) {
    let telling = match err.kind() {
        ValidationErrorKind::Type { .. }
        | ValidationErrorKind::AnyOf { .. }
        | ValidationErrorKind::OneOfNotValid { .. }
        | ValidationErrorKind::FalseSchema => 0,
        _ => 1,
    };
    (depth(err), telling)
}

fn finding(doc: &YamlDoc, base: &str, err: &ValidationError<'_>) -> Finding {
    let pointer = format!("{base}{}", err.instance_path().as_str());
    let placeholder = placeholder(err.instance());
    let message = err.masked_with(placeholder).to_string();
    // Point at the offending key itself when the schema names one.
    let pos = match err.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } if !unexpected.is_empty() => {
            doc.key_pos(&join(&pointer, &unexpected[0]))
        }
        _ => doc
            .span(&pointer)
            .map(|s| s.key.unwrap_or(s.start))
            .unwrap_or_else(|| doc.pos(&pointer)),
    };
    let place = readable_path(&pointer);
    // The classic YAML trap: `- echo "ERROR: x"` unquoted is a mapping, not a command.
    let in_script = pointer
        .split('/')
        .any(|seg| matches!(seg, "script" | "before_script" | "after_script"));
    let message = if in_script && err.instance().is_object() {
        "this script line was read as a mapping because it contains `: `; quote the whole line"
            .to_string()
    } else {
        message
    };
    let message = if place.is_empty() {
        message
    } else {
        format!("{place}: {message}")
    };
    GITLAB_SCHEMA.at(pos, message)
}

/// How the offending value is shown: short scalars as they are (unless they look like a
/// secret), containers by kind, so messages stay one line and never echo a secret.
fn placeholder(value: &Value) -> String {
    match value {
        Value::Object(_) => "this mapping".to_string(),
        Value::Array(_) => "this list".to_string(),
        Value::String(s) if secrets::looks_secret(s) => "this value".to_string(),
        other => {
            let text = other.to_string();
            if text.chars().count() > 60 {
                let short: String = text.chars().take(57).collect();
                format!("{short}...")
            } else {
                text
            }
        }
    }
}

/// `/job/script/0` as `job.script[0]`.
pub fn readable_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::yaml_doc;

    fn schema_findings(text: &str) -> Vec<Finding> {
        check(&yaml_doc::load(text).unwrap())
    }

    #[test]
    fn embedded_schema_compiles() {
        assert!(VALIDATOR.is_ok(), "{:?}", VALIDATOR.as_ref().err());
        assert!(GITLAB_CI_SCHEMA_NOTICE.contains("MIT"));
    }

    #[test]
    fn a_typo_is_reported_at_the_key() {
        let f = schema_findings("job:\n  script: [a]\n  stagee: test\n");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].line, f[0].column), (3, 3));
        assert!(f[0].message.contains("stagee"), "{}", f[0].message);
    }

    #[test]
    fn a_bad_enum_value_names_the_value() {
        let f = schema_findings("job:\n  script: [a]\n  when: sometimes\n");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].line, 3);
        assert!(f[0].message.contains("sometimes"), "{}", f[0].message);
    }

    #[test]
    fn extended_templates_are_held_to_job_keywords() {
        let f = schema_findings(
            ".base:\n  imagee: x\njob:\n  extends: .base\n  script: [a]\n.unused:\n  anything: 1\n",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].line, f[0].column), (2, 3));
    }

    #[test]
    fn an_unquoted_colon_in_a_script_line_gets_a_hint() {
        let f = schema_findings("job:\n  script:\n    - echo \"ERROR: x\" >&2\n");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].line, 3);
        assert!(
            f[0].message.contains("quote the whole line"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn resolved_references_pass_the_schema() {
        let f = schema_findings(".s:\n  script: [a]\njob:\n  script: !reference [.s, script]\n");
        assert!(f.is_empty(), "{f:?}");
    }
}
