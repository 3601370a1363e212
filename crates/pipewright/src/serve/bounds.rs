//! Bounds on every string a client sends, checked on the parsed JSON before any field is
//! used, stored, logged or echoed: a name, URL, branch or id is one line of bounded length; a
//! comment is bounded text; only documents (posted files, a pipeline, a Dockerfile) are as
//! long as the body limit allows. [`FIELD_LIMITS`] is the one table; a field it does not name
//! gets [`DEFAULT_LIMIT`]. A string over its bound is refused 422 naming the field, without
//! echoing the value.

use super::error::ApiError;
use serde_json::Value;

/// What a string field may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// One line of at most this many characters, no control characters.
    Line(usize),
    /// Text of at most this many characters; line breaks and tabs allowed, other control
    /// characters not.
    Text(usize),
    /// A document (a file's content): bounded only by `--max-body-bytes`.
    Document,
    /// An object of relative path → document (`files`): each path a [`MAX_PATH`] line.
    Files,
}

/// The longest path inside a posted repository.
pub const MAX_PATH: usize = 4096;

/// The longest object key that is not a path (field names, map keys).
pub const MAX_KEY: usize = 256;

/// The bound of a field the table does not name.
pub const DEFAULT_LIMIT: Limit = Limit::Line(1024);

/// Bounds by field name (the nearest object key; list items take their list's bound).
pub const FIELD_LIMITS: &[(&str, Limit)] = &[
    ("files", Limit::Files),
    ("gitlab_ci", Limit::Document),
    ("dockerfile", Limit::Document),
    ("comment", Limit::Text(16 * 1024)),
    ("description", Limit::Text(4 * 1024)),
    // The chat: a question may span lines, and earlier answers in `history` do.
    ("question", Limit::Text(4 * 1024)),
    ("content", Limit::Text(16 * 1024)),
    ("repository_url", Limit::Line(2048)),
    ("repo_url", Limit::Line(2048)),
    ("gitlab_url", Limit::Line(2048)),
    ("path", Limit::Line(MAX_PATH)),
    ("project_id", Limit::Line(1024)),
    ("project", Limit::Line(1024)),
    // git allows longer refs, GitLab's UI and most filesystems stop at 255 bytes.
    ("ref", Limit::Line(255)),
    ("branch", Limit::Line(255)),
    ("branch_name", Limit::Line(255)),
    ("sha", Limit::Line(64)),
    ("id", Limit::Line(256)),
];

fn limit_of(field: &str) -> Limit {
    FIELD_LIMITS
        .iter()
        .find(|(name, _)| *name == field)
        .map_or(DEFAULT_LIMIT, |(_, limit)| *limit)
}

/// Checks every string in `value` against its field's bound; the first one over is refused.
pub fn check(value: &Value) -> Result<(), ApiError> {
    walk(value, "", DEFAULT_LIMIT)
}

fn walk(value: &Value, path: &str, limit: Limit) -> Result<(), ApiError> {
    match value {
        Value::String(text) => check_string(path, text, limit),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), limit)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                if limit == Limit::Files {
                    let at = format!("{path}[{}]", short(key));
                    check_string(&at, key, Limit::Line(MAX_PATH))?;
                    walk(item, &at, Limit::Document)?;
                } else {
                    let at = if path.is_empty() {
                        short(key)
                    } else {
                        format!("{path}.{}", short(key))
                    };
                    check_string(&at, key, Limit::Line(MAX_KEY))?;
                    walk(item, &at, limit_of(key))?;
                }
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// A key as it may appear in a field path: plain and short, else a placeholder.
fn short(key: &str) -> String {
    if key.len() <= 64 && !key.chars().any(char::is_control) {
        key.to_string()
    } else {
        "…".to_string()
    }
}

fn check_string(field: &str, text: &str, limit: Limit) -> Result<(), ApiError> {
    let field = if field.is_empty() { "body" } else { field };
    let (max, breaks_allowed) = match limit {
        Limit::Line(max) => (max, false),
        Limit::Text(max) => (max, true),
        Limit::Document | Limit::Files => return Ok(()),
    };
    // Characters are counted only up to the bound: a 4 MiB string costs no more than a short one.
    if text.len() > max && text.chars().nth(max).is_some() {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` is longer than {max} characters; shorten it"),
        ));
    }
    let allowed = |c: char| breaks_allowed && matches!(c, '\n' | '\r' | '\t');
    if let Some(c) = text.chars().find(|&c| c.is_control() && !allowed(c)) {
        let what = if breaks_allowed {
            "a control character"
        } else {
            "a line break or control character"
        };
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` holds {what} ({}); remove it", c.escape_unicode()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(value: Value) -> Option<String> {
        check(&value).err().and_then(|e| e.field)
    }

    #[test]
    fn long_or_multi_line_fields_are_refused_naming_them() {
        let huge = "x".repeat(4 * 1024 * 1024);
        assert_eq!(
            refused(json!({ "project_id": huge })).as_deref(),
            Some("project_id")
        );
        assert_eq!(
            refused(json!({ "branch": "x".repeat(256) })).as_deref(),
            Some("branch")
        );
        assert_eq!(
            refused(json!({ "repository_url": huge })).as_deref(),
            Some("repository_url")
        );
        assert_eq!(refused(json!({ "ref": "a\nb" })).as_deref(), Some("ref"));
        assert_eq!(
            refused(json!({ "settings": { "skip_stages": ["sast", "a\u{1b}[2J"] } })).as_deref(),
            Some("settings.skip_stages[1]")
        );
        assert_eq!(refused(json!({ "x".repeat(300): 1 })).as_deref(), Some("…"));
        assert_eq!(
            refused(json!({ "files": { "a\nb.py": "" } })).as_deref(),
            Some("files[…]")
        );
        assert_eq!(
            refused(json!({ "comment": "x".repeat(16 * 1024 + 1) })).as_deref(),
            Some("comment")
        );
        assert_eq!(
            refused(json!({ "comment": "nul\u{0}" })).as_deref(),
            Some("comment")
        );
    }

    #[test]
    fn documents_and_ordinary_values_pass() {
        let big = "line\n".repeat(200_000);
        assert_eq!(
            refused(json!({
                "files": { "app.py": big, "dir/requirements.txt": "flask\n" },
                "gitlab_ci": big,
                "dockerfile": "FROM x\n\tRUN y\r\n",
                "comment": "two\nlines\tand a tab",
                "branch": "feature/ai-pipeline-20261207-101010",
                "project_id": 42,
                "settings": { "skip_stages": ["sast"] },
                "templates": [{ "language": "python", "description": "multi\nline" }],
                "ref": "é".repeat(255),
            })),
            None
        );
    }
}
