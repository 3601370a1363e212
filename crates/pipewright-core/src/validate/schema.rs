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
use boon::{Compiler, Draft, ErrorKind, Schemas, ValidationError};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::LazyLock;

/// The schema text, exactly as GitLab publishes it.
pub const GITLAB_CI_SCHEMA: &str = include_str!("../../data/gitlab-ci.schema.json");
/// Its license and provenance.
pub const GITLAB_CI_SCHEMA_NOTICE: &str = include_str!("../../data/NOTICE.md");

/// Where the embedded schema is registered: never fetched (the compiler is given the text).
const SCHEMA_LOCATION: &str = "https://pipewright.invalid/gitlab-ci.schema.json";

/// The compiled schema, rooted twice: at the document, and at its job definition (hidden
/// templates are anything-goes to the schema, as they may be plain anchors, but those that
/// jobs `extends` are merged into jobs, so GitLab holds them to the job keywords).
struct Compiled {
    schemas: Schemas,
    document: boon::SchemaIndex,
    job: boon::SchemaIndex,
}

static COMPILED: LazyLock<Result<Compiled, String>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(GITLAB_CI_SCHEMA)
        .map_err(|e| format!("the embedded GitLab CI schema is not JSON: {e}"))?;
    let mut compiler = Compiler::new();
    compiler.set_default_draft(Draft::V7);
    compiler
        .add_resource(SCHEMA_LOCATION, schema)
        .map_err(|e| format!("the embedded GitLab CI schema cannot be added: {e}"))?;
    let mut schemas = Schemas::new();
    let document = compiler
        .compile(SCHEMA_LOCATION, &mut schemas)
        .map_err(|e| format!("the embedded GitLab CI schema does not compile: {e}"))?;
    let job = compiler
        .compile(
            &format!("{SCHEMA_LOCATION}#/definitions/job_template"),
            &mut schemas,
        )
        .map_err(|e| format!("the embedded GitLab CI job schema does not compile: {e}"))?;
    Ok(Compiled {
        schemas,
        document,
        job,
    })
});

/// Schema findings for `doc`.
pub fn check(doc: &YamlDoc) -> Vec<Finding> {
    let compiled = match &*COMPILED {
        Ok(c) => c,
        Err(e) => return vec![GITLAB_SCHEMA.at(Pos::START, e.clone())],
    };
    let mut out = Vec::new();
    if let Err(err) = compiled.schemas.validate(&doc.root, compiled.document) {
        report(doc, "", &doc.root, &err, &mut out);
    }
    for name in extended_templates(doc) {
        if let Some(template) = doc.map().get(name) {
            if let Err(err) = compiled.schemas.validate(template, compiled.job) {
                report(doc, &join("", name), template, &err, &mut out);
            }
        }
    }
    out
}

/// One finding per failed keyword: groups and references are walked through, and an
/// `anyOf`/`oneOf` that no branch satisfies is reported once, by its most telling branch.
fn report(doc: &YamlDoc, base: &str, root: &Value, err: &ValidationError, out: &mut Vec<Finding>) {
    if only_groups(&err.kind) {
        for cause in &err.causes {
            report(doc, base, root, cause, out);
        }
    } else {
        out.push(finding(doc, base, root, most_specific(err)));
    }
}

/// Errors that only hold others (the schema, a group, a `$ref`, an `allOf`): walked through,
/// never reported themselves.
fn only_groups(kind: &ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Schema { .. }
            | ErrorKind::Group
            | ErrorKind::Reference { .. }
            | ErrorKind::AllOf
            | ErrorKind::ContentSchema
    )
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
fn most_specific<'a, 's, 'v>(err: &'a ValidationError<'s, 'v>) -> &'a ValidationError<'s, 'v> {
    if !matches!(err.kind, ErrorKind::AnyOf | ErrorKind::OneOf(None)) {
        return err;
    }
    let mut best: Option<&'a ValidationError<'s, 'v>> = None;
    for leaf in leaves(err) {
        let leaf = most_specific(leaf);
        if best.is_none_or(|b| score(leaf) > score(b)) {
            best = Some(leaf);
        }
    }
    match best {
        Some(b) if depth(b) > depth(err) => b,
        _ => err,
    }
}

/// The failed keywords under a branch point, through groups and references.
fn leaves<'a, 's, 'v>(err: &'a ValidationError<'s, 'v>) -> Vec<&'a ValidationError<'s, 'v>> {
    let mut out = Vec::new();
    let mut stack: Vec<&ValidationError> = err.causes.iter().rev().collect();
    while let Some(e) = stack.pop() {
        if only_groups(&e.kind) {
            stack.extend(e.causes.iter().rev());
        } else {
            out.push(e);
        }
    }
    out
}

fn depth(err: &ValidationError) -> usize {
    err.instance_location.tokens.len()
}

fn score(err: &ValidationError) -> (usize, u8) {
    let telling = match err.kind {
        ErrorKind::Type { .. }
        | ErrorKind::AnyOf
        | ErrorKind::OneOf(None)
        | ErrorKind::FalseSchema => 0,
        _ => 1,
    };
    (depth(err), telling)
}

fn finding(doc: &YamlDoc, base: &str, root: &Value, err: &ValidationError) -> Finding {
    let local = err.instance_location.to_string();
    let pointer = format!("{base}{local}");
    let instance = root.pointer(&local).unwrap_or(&Value::Null);
    let message = message(&err.kind, &placeholder(instance));
    // Point at the offending key itself when the schema names one.
    let pos = match &err.kind {
        ErrorKind::AdditionalProperties { got } if !got.is_empty() => {
            doc.key_pos(&join(&pointer, &got[0]))
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
    let message = if in_script && instance.is_object() {
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

/// What a failed keyword says, about `value` (the offending value as [`placeholder`] shows
/// it). Values from the schema are quoted as JSON; values from the document never appear
/// beyond the placeholder, so a secret is never echoed.
fn message(kind: &ErrorKind, value: &str) -> String {
    let quoted = |items: &mut dyn Iterator<Item = String>| -> String {
        let all: Vec<String> = items.collect();
        if all.len() > 12 {
            format!("{}, ... ({} in all)", all[..12].join(", "), all.len())
        } else {
            all.join(", ")
        }
    };
    match kind {
        ErrorKind::Type { want, .. } => {
            let names: Vec<String> = want.iter().map(|t| format!("\"{t}\"")).collect();
            let noun = if names.len() == 1 { "type" } else { "types" };
            format!("{value} is not of {noun} {}", names.join(", "))
        }
        ErrorKind::Enum { want } => format!(
            "{value} is not one of {}",
            quoted(&mut want.iter().map(Value::to_string))
        ),
        ErrorKind::Const { want } => format!("{value} is not {want}, the only value allowed"),
        ErrorKind::AdditionalProperties { got } => {
            let names = quoted(&mut got.iter().map(|k| format!("'{k}'")));
            let verb = if got.len() == 1 { "was" } else { "were" };
            format!("Additional properties are not allowed ({names} {verb} unexpected)")
        }
        ErrorKind::Required { want } => {
            let names: Vec<String> = want.iter().map(|k| format!("\"{k}\"")).collect();
            let noun = if names.len() == 1 {
                "is a required property"
            } else {
                "are required properties"
            };
            format!("{} {noun}", names.join(", "))
        }
        ErrorKind::Dependency { prop, missing }
        | ErrorKind::DependentRequired { prop, missing } => {
            format!(
                "{} required when \"{prop}\" is present",
                quoted(&mut missing.iter().map(|k| format!("\"{k}\"")))
            )
        }
        ErrorKind::MinProperties { want, .. } => {
            format!("{value} has fewer than {want} properties")
        }
        ErrorKind::MaxProperties { want, .. } => format!("{value} has more than {want} properties"),
        ErrorKind::MinItems { want, .. } => format!("{value} has fewer than {want} items"),
        ErrorKind::MaxItems { want, .. } => format!("{value} has more than {want} items"),
        ErrorKind::UniqueItems { got } => {
            format!(
                "{value} has non-unique elements (items {} and {})",
                got[0], got[1]
            )
        }
        ErrorKind::AdditionalItems { got } => format!("{value} has {got} items too many"),
        ErrorKind::Contains | ErrorKind::MinContains { .. } | ErrorKind::MaxContains { .. } => {
            format!("{value} does not contain the items required")
        }
        ErrorKind::MinLength { want, .. } => format!("{value} is shorter than {want} characters"),
        ErrorKind::MaxLength { want, .. } => format!("{value} is longer than {want} characters"),
        ErrorKind::Pattern { want, .. } => format!("{value} does not match \"{want}\""),
        ErrorKind::Format { want, .. } => format!("{value} is not a \"{want}\""),
        ErrorKind::Minimum { want, .. } => format!("{value} is less than the minimum of {want}"),
        ErrorKind::Maximum { want, .. } => format!("{value} is greater than the maximum of {want}"),
        ErrorKind::ExclusiveMinimum { want, .. } => {
            format!("{value} is less than or equal to the minimum of {want}")
        }
        ErrorKind::ExclusiveMaximum { want, .. } => {
            format!("{value} is greater than or equal to the maximum of {want}")
        }
        ErrorKind::MultipleOf { want, .. } => format!("{value} is not a multiple of {want}"),
        ErrorKind::FalseSchema => format!("False schema does not allow {value}"),
        ErrorKind::Not => format!("{value} is not allowed here"),
        ErrorKind::PropertyName { prop } => format!("the key \"{prop}\" is not a valid name here"),
        ErrorKind::AnyOf => {
            format!("{value} is not valid under any of the schemas listed in the 'anyOf' keyword")
        }
        ErrorKind::OneOf(None) => {
            format!("{value} is not valid under any of the schemas listed in the 'oneOf' keyword")
        }
        ErrorKind::OneOf(Some(_)) => format!(
            "{value} is valid under more than one of the schemas listed in the 'oneOf' keyword"
        ),
        ErrorKind::ContentEncoding { want, .. } => format!("{value} is not \"{want}\" encoded"),
        ErrorKind::ContentMediaType { want, .. } => format!("{value} is not \"{want}\""),
        ErrorKind::RefCycle { url, .. } => {
            format!("the schema refers to itself in a loop at {url}")
        }
        ErrorKind::Schema { .. }
        | ErrorKind::Group
        | ErrorKind::Reference { .. }
        | ErrorKind::AllOf
        | ErrorKind::ContentSchema => format!("{value} is not valid here"),
    }
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
        assert!(COMPILED.is_ok(), "{:?}", COMPILED.as_ref().err());
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
