//! Reading a model's answer into the two files it was asked for.
//!
//! Models are asked for one JSON object (see [`answer_schema`]), and servers that support
//! structured output enforce it. Many do not, and models still wrap the object in prose or code
//! fences, or answer with a ```` ```yaml ```` and a ```` ```dockerfile ```` block instead. The
//! parser accepts all of these, in that order of preference, and rejects oversized or incomplete
//! answers with an [`AnswerError`] that says what was missing. It never panics on any input.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// The largest answer text read at all, in bytes.
pub const MAX_ANSWER_BYTES: usize = 512 * 1024;
/// The largest `.gitlab-ci.yml` accepted, in bytes.
pub const MAX_GITLAB_CI_BYTES: usize = 256 * 1024;
/// The largest `Dockerfile` accepted, in bytes.
pub const MAX_DOCKERFILE_BYTES: usize = 64 * 1024;
/// How many notes are kept; the rest are dropped.
pub const MAX_NOTES: usize = 20;
/// How long one note may be, in characters; longer ones are cut.
pub const MAX_NOTE_CHARS: usize = 500;

/// The name under which [`answer_schema`] is sent to servers that want one (OpenAI's
/// `json_schema.name`).
pub const ANSWER_SCHEMA_NAME: &str = "pipeline_files";

const ANSWER_SCHEMA_TEXT: &str = include_str!("../../prompts/answer.schema.json");

static ANSWER_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    // The file is part of the crate and checked by a test; an empty object is only a
    // last-resort value that constrains nothing.
    serde_json::from_str(ANSWER_SCHEMA_TEXT).unwrap_or_else(|_| Value::Object(Map::new()))
});

/// The JSON schema of the answer object. Sent as Ollama's `format` and as OpenAI's
/// `response_format.json_schema.schema`, and quoted in the system prompt; the parser reads the
/// same three fields ([`GeneratedFiles`]).
pub fn answer_schema() -> &'static Value {
    &ANSWER_SCHEMA
}

/// The two files a model wrote, and its remarks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedFiles {
    /// The text of `.gitlab-ci.yml`.
    pub gitlab_ci: String,
    /// The text of the `Dockerfile`.
    pub dockerfile: String,
    /// Short remarks for the reviewer.
    pub notes: Vec<String>,
}

/// Why an answer could not be read into [`GeneratedFiles`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the model's answer is empty; try again or use another model")]
    Empty,
    #[error("the model's {what} is {bytes} bytes, more than the {limit} accepted; the answer was discarded")]
    TooLarge {
        what: &'static str,
        bytes: usize,
        limit: usize,
    },
    #[error("the model's answer holds neither a JSON object with `gitlab_ci` and `dockerfile` nor a ```yaml and a ```dockerfile block (it begins: {start:?}); the model did not follow the output format")]
    NotFound { start: String },
    #[error("the model's answer looks like JSON but does not parse: {detail}; the model did not follow the output format")]
    InvalidJson { detail: String },
    #[error("the model's answer has no `{field}`; the model did not follow the output format")]
    MissingField { field: &'static str },
    #[error("the model's `{field}` is {found}, not a string of file text; the model did not follow the output format")]
    WrongType {
        field: &'static str,
        found: &'static str,
    },
    #[error("the model's `{field}` is empty; the model did not write that file")]
    EmptyField { field: &'static str },
}

impl AnswerError {
    /// How much a problem tells about what the model meant to send: a nearly right object beats
    /// unparsable JSON, which beats finding nothing. The most telling problem is reported.
    fn rank(&self) -> u8 {
        match self {
            AnswerError::NotFound { .. } | AnswerError::Empty => 0,
            AnswerError::InvalidJson { .. } => 1,
            AnswerError::MissingField { .. }
            | AnswerError::WrongType { .. }
            | AnswerError::EmptyField { .. }
            | AnswerError::TooLarge { .. } => 2,
        }
    }
}

/// One field of the answer object: its schema name, the other names models use for it, and the
/// size limit of its text.
struct FileField {
    name: &'static str,
    aliases: &'static [&'static str],
    limit: usize,
}

const GITLAB_CI: FileField = FileField {
    name: "gitlab_ci",
    aliases: &[
        "gitlab_ci",
        "gitlab-ci",
        ".gitlab-ci.yml",
        "gitlab-ci.yml",
        "gitlab_ci_yml",
        "gitlabci",
    ],
    limit: MAX_GITLAB_CI_BYTES,
};

const DOCKERFILE: FileField = FileField {
    name: "dockerfile",
    aliases: &["dockerfile", "Dockerfile", "docker_file", "containerfile"],
    limit: MAX_DOCKERFILE_BYTES,
};

const NOTES_FIELD: &str = "notes";

/// The schema's property names, in the order the parser reads them (kept equal to the schema by
/// a test).
pub const ANSWER_FIELDS: [&str; 3] = [GITLAB_CI.name, DOCKERFILE.name, NOTES_FIELD];

/// Code-fence languages that mark a `.gitlab-ci.yml` block, and a Dockerfile block, in the
/// two-block fallback.
const YAML_FENCE_LANGS: &[&str] = &[
    "yaml",
    "yml",
    "gitlab-ci",
    ".gitlab-ci.yml",
    "gitlab-ci.yml",
];
const DOCKERFILE_FENCE_LANGS: &[&str] = &["dockerfile", "docker", "containerfile"];
/// Code-fence languages that may hold the JSON object (an unlabelled fence included).
const JSON_FENCE_LANGS: &[&str] = &["json", "jsonc", "json5", ""];

/// How many `{` positions in prose are tried as the start of the object; bounds the work on a
/// long answer full of braces.
const MAX_BRACE_STARTS: usize = 64;

/// Reads a model's answer: a JSON object, the object inside a fenced block or surrounded by prose,
/// or, failing those, a ```` ```yaml ```` block and a ```` ```dockerfile ```` block. Reasoning
/// sections (`<think>…</think>`) are skipped.
pub fn parse_answer(text: &str) -> Result<GeneratedFiles, AnswerError> {
    parse_answer_for(text, Expected::Both)
}

/// Which files the model was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// `.gitlab-ci.yml` and `Dockerfile`.
    Both,
    /// `.gitlab-ci.yml` only: the repository keeps its own Dockerfile. A missing or empty
    /// `dockerfile` is accepted (and one written anyway is dropped).
    PipelineOnly,
}

/// [`parse_answer`] for an answer that must hold `expected`.
pub fn parse_answer_for(text: &str, expected: Expected) -> Result<GeneratedFiles, AnswerError> {
    let mut files = parse_any(text, expected)?;
    if expected == Expected::PipelineOnly {
        files.dockerfile = String::new();
    }
    Ok(files)
}

fn parse_any(text: &str, expected: Expected) -> Result<GeneratedFiles, AnswerError> {
    if text.len() > MAX_ANSWER_BYTES {
        return Err(AnswerError::TooLarge {
            what: "answer",
            bytes: text.len(),
            limit: MAX_ANSWER_BYTES,
        });
    }
    let cleaned = strip_reasoning(text.trim_start_matches('\u{feff}'));
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        return Err(AnswerError::Empty);
    }

    let mut best = AnswerError::NotFound {
        start: start_of(cleaned),
    };
    let consider = |problem: AnswerError, best: &mut AnswerError| {
        if problem.rank() > best.rank() {
            *best = problem;
        }
    };

    let fences = code_fences(cleaned);
    let fenced_json = fences
        .iter()
        .filter(|f| JSON_FENCE_LANGS.contains(&f.lang.as_str()))
        .map(|f| f.body);
    for candidate in std::iter::once(cleaned).chain(fenced_json) {
        match serde_json::from_str::<Value>(candidate.trim()) {
            Ok(Value::Object(map)) => match files_from_object(&map, expected) {
                Some(Ok(files)) => return Ok(files),
                Some(Err(problem)) => consider(problem, &mut best),
                None => {}
            },
            Ok(_) => {}
            Err(e) if candidate.trim_start().starts_with('{') => consider(
                AnswerError::InvalidJson {
                    detail: e.to_string(),
                },
                &mut best,
            ),
            Err(_) => {}
        }
    }

    for (start, _) in cleaned.match_indices('{').take(MAX_BRACE_STARTS) {
        let mut stream = serde_json::Deserializer::from_str(&cleaned[start..]).into_iter::<Value>();
        if let Some(Ok(Value::Object(map))) = stream.next() {
            match files_from_object(&map, expected) {
                Some(Ok(files)) => return Ok(files),
                Some(Err(problem)) => consider(problem, &mut best),
                None => {}
            }
        }
    }

    match files_from_fences(&fences, expected) {
        Some(result) => result,
        None => Err(best),
    }
}

/// Reads the files from a JSON object; `None` when the object has none of the answer's fields
/// (it is some other object quoted in prose).
fn files_from_object(
    map: &Map<String, Value>,
    expected: Expected,
) -> Option<Result<GeneratedFiles, AnswerError>> {
    let lookup = |field: &FileField| field.aliases.iter().find_map(|a| map.get(*a));
    let ci = lookup(&GITLAB_CI);
    let docker = lookup(&DOCKERFILE);
    if ci.is_none() && docker.is_none() {
        return None;
    }
    Some(file_text(&GITLAB_CI, ci).and_then(|gitlab_ci| {
        Ok(GeneratedFiles {
            gitlab_ci,
            dockerfile: match expected {
                Expected::Both => file_text(&DOCKERFILE, docker)?,
                Expected::PipelineOnly => String::new(),
            },
            notes: notes_from(map.get(NOTES_FIELD)),
        })
    }))
}

fn file_text(field: &FileField, value: Option<&Value>) -> Result<String, AnswerError> {
    let value = value.ok_or(AnswerError::MissingField { field: field.name })?;
    let text = match value {
        Value::String(s) => s,
        other => {
            return Err(AnswerError::WrongType {
                field: field.name,
                found: json_kind(other),
            })
        }
    };
    checked_file(field, unwrap_fence(text))
}

fn checked_file(field: &FileField, text: &str) -> Result<String, AnswerError> {
    if text.len() > field.limit {
        return Err(AnswerError::TooLarge {
            what: field.name,
            bytes: text.len(),
            limit: field.limit,
        });
    }
    let normalized = normalize_file(text);
    if normalized.trim().is_empty() {
        return Err(AnswerError::EmptyField { field: field.name });
    }
    Ok(normalized)
}

/// Notes are advisory: anything that is not a string is dropped, a single string is one note,
/// and both the count and each note's length are capped.
fn notes_from(value: Option<&Value>) -> Vec<String> {
    let items: Vec<&str> = match value {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .take(MAX_NOTES)
        .map(|s| super::error::clip_chars(s, MAX_NOTE_CHARS))
        .collect()
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The two-block fallback: the first YAML block is `.gitlab-ci.yml`, the first Dockerfile block
/// the `Dockerfile`. `None` when neither block is there.
fn files_from_fences(
    fences: &[Fence<'_>],
    expected: Expected,
) -> Option<Result<GeneratedFiles, AnswerError>> {
    let find = |langs: &[&str]| {
        fences
            .iter()
            .find(|f| langs.contains(&f.lang.as_str()))
            .map(|f| f.body)
    };
    let ci = find(YAML_FENCE_LANGS);
    let docker = find(DOCKERFILE_FENCE_LANGS);
    if ci.is_none() && docker.is_none() {
        return None;
    }
    let block = |field: &FileField, body: Option<&str>| {
        body.ok_or(AnswerError::MissingField { field: field.name })
            .and_then(|text| checked_file(field, text))
    };
    Some(block(&GITLAB_CI, ci).and_then(|gitlab_ci| {
        Ok(GeneratedFiles {
            gitlab_ci,
            dockerfile: match expected {
                Expected::Both => block(&DOCKERFILE, docker)?,
                Expected::PipelineOnly => String::new(),
            },
            notes: Vec::new(),
        })
    }))
}

/// One fenced code block: its language (first word of the info string, lowercase) and body.
#[derive(Debug)]
struct Fence<'a> {
    lang: String,
    body: &'a str,
}

/// Finds the fenced code blocks (```` ``` ```` or `~~~`, three or more) in Markdown-ish text. An
/// unclosed fence runs to the end, since a cut-off answer is still worth reading.
fn code_fences(text: &str) -> Vec<Fence<'_>> {
    let mut fences = Vec::new();
    let mut open: Option<(String, &str, usize, usize)> = None; // lang, marker, marker length, body start
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        let marker = if trimmed.starts_with("```") {
            "`"
        } else if trimmed.starts_with("~~~") {
            "~"
        } else {
            continue;
        };
        let run = trimmed.len() - trimmed.trim_start_matches(marker).len();
        match &open {
            None => {
                let info = trimmed[run..].trim();
                let lang = info
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                open = Some((lang, marker, run, offset));
            }
            Some((lang, open_marker, open_run, body_start)) => {
                let rest = trimmed[run..].trim();
                if *open_marker == marker && run >= *open_run && rest.is_empty() {
                    fences.push(Fence {
                        lang: lang.clone(),
                        body: &text[*body_start..line_start],
                    });
                    open = None;
                }
            }
        }
    }
    if let Some((lang, _, _, body_start)) = open {
        fences.push(Fence {
            lang,
            body: &text[body_start.min(text.len())..],
        });
    }
    fences
}

/// A file's text is sometimes itself wrapped in a fence inside the JSON string; keep the body.
fn unwrap_fence(text: &str) -> &str {
    let trimmed = text.trim();
    if !(trimmed.starts_with("```") || trimmed.starts_with("~~~")) {
        return text;
    }
    match code_fences(trimmed).into_iter().next() {
        Some(fence) => fence.body,
        None => text,
    }
}

/// Unix newlines, no leading blank lines, exactly one newline at the end.
fn normalize_file(text: &str) -> String {
    let unix = text.replace("\r\n", "\n");
    let body = unix.trim_start_matches('\n').trim_end();
    format!("{body}\n")
}

/// Removes `<think>…</think>` sections that reasoning models put before their answer.
fn strip_reasoning(text: &str) -> String {
    const OPEN: &str = "<think>";
    const CLOSE: &str = "</think>";
    // ASCII lowercasing keeps byte offsets valid in the original text.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(rel_open) = lower[pos..].find(OPEN) {
        let open = pos + rel_open;
        let Some(rel_close) = lower[open..].find(CLOSE) else {
            break;
        };
        out.push_str(&text[pos..open]);
        pos = open + rel_close + CLOSE.len();
    }
    out.push_str(&text[pos..]);
    out
}

fn start_of(text: &str) -> String {
    super::error::clip_chars(text, 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CI: &str = "stages: [compile]\ncompile:\n  stage: compile\n  script: [\"make\"]\n";
    const DOCKER: &str = "FROM ${BASE_REGISTRY}/apm-repo/demo/ruby:3.2-alpine\nUSER app\n";

    fn json_answer() -> String {
        serde_json::json!({"gitlab_ci": CI, "dockerfile": DOCKER, "notes": ["port assumed 8080"]})
            .to_string()
    }

    fn expected() -> GeneratedFiles {
        GeneratedFiles {
            gitlab_ci: CI.to_string(),
            dockerfile: DOCKER.to_string(),
            notes: vec!["port assumed 8080".to_string()],
        }
    }

    #[test]
    fn reads_a_plain_json_object() {
        assert_eq!(parse_answer(&json_answer()), Ok(expected()));
    }

    #[test]
    fn reads_the_object_inside_a_json_fence() {
        let text = format!(
            "Here you go:\n\n```json\n{}\n```\nGood luck!",
            json_answer()
        );
        assert_eq!(parse_answer(&text), Ok(expected()));
    }

    #[test]
    fn reads_the_object_inside_an_unlabelled_fence() {
        let text = format!("```\n{}\n```", json_answer());
        assert_eq!(parse_answer(&text), Ok(expected()));
    }

    #[test]
    fn reads_the_object_surrounded_by_prose() {
        let text = format!(
            "Sure! The config {{as requested}} follows. {} Let me know if {{anything}} else.",
            json_answer()
        );
        assert_eq!(parse_answer(&text), Ok(expected()));
    }

    #[test]
    fn skips_reasoning_before_the_answer() {
        let text = format!(
            "<think>I could write {{\"gitlab_ci\": 1}} but no.</think>\n{}",
            json_answer()
        );
        assert_eq!(parse_answer(&text), Ok(expected()));
    }

    #[test]
    fn falls_back_to_a_yaml_and_a_dockerfile_block() {
        let text = format!(
            "The pipeline:\n```yaml\n{CI}```\nAnd the image:\n```Dockerfile\n{DOCKER}```\n"
        );
        let files = parse_answer(&text).unwrap();
        assert_eq!(files.gitlab_ci, CI);
        assert_eq!(files.dockerfile, DOCKER);
        assert!(files.notes.is_empty());
    }

    #[test]
    fn a_fenced_file_inside_the_json_string_is_unwrapped() {
        let text = serde_json::json!({
            "gitlab_ci": format!("```yaml\n{CI}```"),
            "dockerfile": DOCKER,
            "notes": []
        })
        .to_string();
        assert_eq!(parse_answer(&text).unwrap().gitlab_ci, CI);
    }

    #[test]
    fn common_alternative_field_names_are_accepted() {
        let text = serde_json::json!({".gitlab-ci.yml": CI, "Dockerfile": DOCKER}).to_string();
        let files = parse_answer(&text).unwrap();
        assert_eq!(files.gitlab_ci, CI);
        assert!(files.notes.is_empty());
    }

    #[test]
    fn crlf_and_missing_final_newline_are_normalized() {
        let text = serde_json::json!({"gitlab_ci": "a: 1\r\nb: 2", "dockerfile": "FROM x\r\n\r\n", "notes": []})
            .to_string();
        let files = parse_answer(&text).unwrap();
        assert_eq!(files.gitlab_ci, "a: 1\nb: 2\n");
        assert_eq!(files.dockerfile, "FROM x\n");
    }

    #[test]
    fn a_missing_dockerfile_is_named() {
        let text = serde_json::json!({"gitlab_ci": CI, "notes": []}).to_string();
        assert_eq!(
            parse_answer(&text),
            Err(AnswerError::MissingField {
                field: "dockerfile"
            })
        );
    }

    #[test]
    fn a_file_given_as_an_object_is_a_wrong_type() {
        let text =
            serde_json::json!({"gitlab_ci": {"stages": []}, "dockerfile": DOCKER}).to_string();
        assert_eq!(
            parse_answer(&text),
            Err(AnswerError::WrongType {
                field: "gitlab_ci",
                found: "an object"
            })
        );
    }

    #[test]
    fn an_empty_file_is_rejected() {
        let text = serde_json::json!({"gitlab_ci": "  \n", "dockerfile": DOCKER}).to_string();
        assert_eq!(
            parse_answer(&text),
            Err(AnswerError::EmptyField { field: "gitlab_ci" })
        );
    }

    #[test]
    fn broken_json_is_reported_as_such() {
        let text = r#"{"gitlab_ci": "stages: [a]", "dockerfile": "FROM x"#;
        assert!(matches!(
            parse_answer(text),
            Err(AnswerError::InvalidJson { .. })
        ));
    }

    #[test]
    fn prose_without_files_is_not_found() {
        let err = parse_answer("I cannot help with that {sorry}.").unwrap_err();
        assert!(matches!(err, AnswerError::NotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("I cannot help"));
    }

    #[test]
    fn empty_and_whitespace_answers_are_empty() {
        assert_eq!(parse_answer(""), Err(AnswerError::Empty));
        assert_eq!(parse_answer(" \n\t"), Err(AnswerError::Empty));
        assert_eq!(parse_answer("<think>hm</think>"), Err(AnswerError::Empty));
    }

    #[test]
    fn oversized_answers_and_files_are_rejected() {
        let huge = "x".repeat(MAX_ANSWER_BYTES + 1);
        assert!(matches!(
            parse_answer(&huge),
            Err(AnswerError::TooLarge { what: "answer", .. })
        ));
        let big_docker = "RUN true\n".repeat(MAX_DOCKERFILE_BYTES / 9 + 1);
        let text = serde_json::json!({"gitlab_ci": CI, "dockerfile": big_docker}).to_string();
        assert!(matches!(
            parse_answer(&text),
            Err(AnswerError::TooLarge {
                what: "dockerfile",
                ..
            })
        ));
    }

    #[test]
    fn notes_are_capped_and_non_strings_dropped() {
        let many: Vec<Value> = (0..50)
            .map(|i| Value::String(format!("note {i}")))
            .chain([Value::Bool(true), Value::Null])
            .collect();
        let text =
            serde_json::json!({"gitlab_ci": CI, "dockerfile": DOCKER, "notes": many}).to_string();
        let files = parse_answer(&text).unwrap();
        assert_eq!(files.notes.len(), MAX_NOTES);
        let long = "n".repeat(MAX_NOTE_CHARS * 2);
        let text =
            serde_json::json!({"gitlab_ci": CI, "dockerfile": DOCKER, "notes": long}).to_string();
        assert_eq!(
            parse_answer(&text).unwrap().notes[0].chars().count(),
            MAX_NOTE_CHARS + 1
        );
    }

    #[test]
    fn never_panics_on_any_prefix_or_suffix_of_an_answer() {
        let full = format!(
            "<think>x</think>Prose {{ ```json\n{}\n```\n```yaml\n{CI}```\n```dockerfile\n{DOCKER}```é",
            json_answer()
        );
        let boundaries: Vec<usize> = full
            .char_indices()
            .map(|(i, _)| i)
            .chain([full.len()])
            .collect();
        for &i in &boundaries {
            let _ = parse_answer(&full[..i]);
            let _ = parse_answer(&full[i..]);
        }
        let _ = parse_answer(&"[".repeat(10_000));
        let _ = parse_answer(&"{\"a\":".repeat(10_000));
    }

    #[test]
    fn the_schema_and_the_parser_name_the_same_fields() {
        let schema = answer_schema();
        let props: Vec<&str> = schema["properties"]
            .as_object()
            .expect("the schema file declares properties")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(props, ANSWER_FIELDS);
        let required: Vec<&str> = schema["required"]
            .as_array()
            .expect("the schema file declares required fields")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(required, ANSWER_FIELDS);
        assert_eq!(schema["additionalProperties"], Value::Bool(false));
        let serialized = serde_json::to_value(expected()).unwrap();
        let keys: Vec<&str> = serialized
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ANSWER_FIELDS);
    }
}
