//! Safe fixes: edits computed against the validated text, and the loop that applies them.
//! A fix is offered only where the correction is mechanical and cannot change what the file
//! means beyond the rule it satisfies (a missing known stage declared, an outside image renamed
//! into the registry, ADD of local files made COPY, package-manager flags added, a plain
//! shell-form CMD written as exec form). Everything else is left to people or the LLM.

use super::text::LineIndex;
use super::yaml_doc::YamlDoc;
use super::{Edit, Finding, Fix, ValidatorSettings};
use serde::Serialize;

/// What fixing produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FixOutcome {
    /// The fixed text (the input when nothing applied).
    pub text: String,
    /// The findings whose fixes were applied.
    pub fixed: Vec<Finding>,
    /// The findings of the fixed text.
    pub remaining: Vec<Finding>,
}

impl FixOutcome {
    /// True when at least one fix changed the text.
    pub fn changed(&self) -> bool {
        !self.fixed.is_empty()
    }
}

/// Rounds of fixing before giving up; one fix can expose another (a stage declared lets the
/// next rule run), but never more than a few times over.
const MAX_ROUNDS: usize = 4;

/// Applies fixes and re-validates until no fix applies or nothing improves.
pub fn fix_until_stable(text: &str, validate: impl Fn(&str) -> Vec<Finding>) -> FixOutcome {
    let mut current = text.to_string();
    let mut findings = validate(&current);
    let mut fixed = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let fixable: Vec<&Finding> = findings.iter().filter(|f| f.fix.is_some()).collect();
        if fixable.is_empty() {
            break;
        }
        let (next, applied) = apply(&current, &fixable);
        if applied.is_empty() || next == current {
            break;
        }
        let next_findings = validate(&next);
        // A round must leave fewer findings; otherwise a fix is not doing what it claims.
        if next_findings.len() >= findings.len() {
            break;
        }
        fixed.extend(applied);
        current = next;
        findings = next_findings;
    }
    FixOutcome {
        text: current,
        fixed,
        remaining: findings,
    }
}

/// Applies the fixes of `findings` whose edits do not overlap an earlier accepted one (an
/// identical edit counts as already applied). Returns the new text and the findings fixed.
pub fn apply(text: &str, findings: &[&Finding]) -> (String, Vec<Finding>) {
    let mut accepted: Vec<Edit> = Vec::new();
    let mut fixed = Vec::new();
    for f in findings {
        let Some(fix) = &f.fix else { continue };
        let valid = fix.edits.iter().all(|e| {
            e.start <= e.end
                && e.end <= text.len()
                && text.is_char_boundary(e.start)
                && text.is_char_boundary(e.end)
        });
        if !valid || fix.edits.is_empty() {
            continue;
        }
        let new: Vec<&Edit> = fix.edits.iter().filter(|e| !accepted.contains(e)).collect();
        let overlaps = new.iter().any(|e| {
            accepted.iter().any(|a| {
                e.start < a.end && a.start < e.end
                    || (e.start == a.start && e.start == e.end && a.start == a.end)
            })
        });
        if overlaps {
            continue;
        }
        accepted.extend(new.into_iter().cloned());
        fixed.push((*f).clone());
    }
    accepted.sort_by(|a, b| b.start.cmp(&a.start).then(b.end.cmp(&a.end)));
    let mut out = text.to_string();
    for e in &accepted {
        out.replace_range(e.start..e.end, &e.replacement);
    }
    (out, fixed)
}

/// Stage order used to place a newly declared stage among existing ones.
const STAGE_ORDER: &[&str] = &[
    "compile", "build", "test", "sast", "quality", "security", "push", "deploy", "notify", "learn",
];

/// Declares `stage` in the file's `stages` list, at its place in pipewright's order. Works on
/// block (`- build`) and flow (`[build, test]`) lists of plain names.
pub fn add_stage(doc: &YamlDoc, lines: &LineIndex<'_>, stage: &str) -> Option<Fix> {
    let items = doc.root.get("stages")?.as_array()?;
    let names: Vec<&str> = items.iter().map(|v| v.as_str()).collect::<Option<_>>()?;
    if names.is_empty() {
        return None;
    }
    let rank = |s: &str| STAGE_ORDER.iter().position(|x| *x == s);
    let r = rank(stage)?;
    let before = names.iter().position(|s| rank(s).is_some_and(|x| x > r));
    let text = lines.text();
    let first = lines.offset(doc.span("/stages/0")?.start);
    let opener = text[..first]
        .chars()
        .rev()
        .find(|c| *c != ' ' && *c != '\t')?;
    let edit = match (opener, before) {
        ('-', Some(i)) => {
            let line = doc.span(&format!("/stages/{i}"))?.start.line;
            let indent: String = lines
                .line_text(line)
                .chars()
                .take_while(|c| c.is_whitespace())
                .collect();
            let at = lines.line_start(line);
            Edit {
                start: at,
                end: at,
                replacement: format!("{indent}- {stage}\n"),
            }
        }
        ('-', None) => {
            let line = doc
                .span(&format!("/stages/{}", names.len() - 1))?
                .start
                .line;
            let indent: String = lines
                .line_text(line)
                .chars()
                .take_while(|c| c.is_whitespace())
                .collect();
            let at = lines.line_end(line);
            Edit {
                start: at,
                end: at,
                replacement: format!("\n{indent}- {stage}"),
            }
        }
        ('[' | ',', Some(i)) => {
            let at = lines.offset(doc.span(&format!("/stages/{i}"))?.start);
            Edit {
                start: at,
                end: at,
                replacement: format!("{stage}, "),
            }
        }
        ('[' | ',', None) => {
            let start = lines.offset(doc.span(&format!("/stages/{}", names.len() - 1))?.start);
            let at = scalar_end(text, start);
            Edit {
                start: at,
                end: at,
                replacement: format!(", {stage}"),
            }
        }
        _ => return None,
    };
    Some(Fix {
        description: format!("declare stage `{stage}` in `stages`"),
        edits: vec![edit],
    })
}

/// The end of the flow scalar starting at byte `start`.
fn scalar_end(text: &str, start: usize) -> usize {
    let rest = &text[start..];
    if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
        return rest[1..]
            .find(q)
            .map(|i| start + i + 2)
            .unwrap_or(start + rest.len());
    }
    let len = rest.find([',', ']', '\n', '#']).unwrap_or(rest.len());
    start + rest[..len].trim_end().len()
}

/// Renames an outside image (`node:20`, `docker.io/library/node:20`) into the registry with
/// the configured path template. Only for literal images with an explicit tag other than
/// `latest`: the tag is kept, never guessed.
pub fn rename_image(
    doc: &YamlDoc,
    text: &str,
    lines: &LineIndex<'_>,
    pointer: &str,
    image: &str,
    settings: &ValidatorSettings,
) -> Option<Fix> {
    let template = settings.image_path_template.as_deref()?;
    let registry = settings.registries.first()?;
    if image.contains(['$', '@', ' ']) {
        return None;
    }
    let last = image.rsplit('/').next()?;
    let (name, tag) = last.split_once(':')?;
    if name.is_empty() || tag.is_empty() || tag == "latest" {
        return None;
    }
    let renamed = template
        .replace("{registry}", registry)
        .replace("{image}", name)
        .replace("{tag}", tag);
    let start = lines.offset(doc.span(pointer)?.start);
    let rest = text.get(start..)?;
    let start = if rest.starts_with(image) {
        start
    } else {
        let q = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let inner = &rest[1..];
        if !(inner.starts_with(image) && inner[image.len()..].starts_with(q)) {
            return None;
        }
        start + 1
    };
    Some(Fix {
        description: format!("pull `{image}` from the registry as `{renamed}`"),
        edits: vec![Edit {
            start,
            end: start + image.len(),
            replacement: renamed,
        }],
    })
}

/// A shell-form command as an exec-form JSON array, when it is plain words with no shell
/// syntax (variables, quotes, redirections, globs, operators) that exec form would change.
pub fn exec_form(command: &str) -> Option<String> {
    const SHELL_SYNTAX: &[char] = &[
        '$', '|', '&', ';', '<', '>', '*', '?', '(', ')', '{', '}', '[', ']', '~', '\'', '"', '`',
        '\\', '#', '\n', '=',
    ];
    let command = command.trim();
    if command.is_empty() || command.contains(SHELL_SYNTAX) {
        return None;
    }
    let parts: Vec<String> = command
        .split_whitespace()
        .map(|w| serde_json::to_string(w).unwrap_or_default())
        .collect();
    Some(format!("[{}]", parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::yaml_doc;

    fn fix_stage(text: &str, stage: &str) -> String {
        let doc = yaml_doc::load(text).unwrap();
        let lines = LineIndex::new(text);
        let fix = add_stage(&doc, &lines, stage).unwrap();
        let f = Finding {
            rule: "x",
            severity: super::super::Severity::Error,
            message: String::new(),
            file: String::new(),
            line: 1,
            column: 1,
            fix: Some(fix),
        };
        apply(text, &[&f]).0
    }

    #[test]
    fn stage_is_inserted_in_order_in_block_lists() {
        assert_eq!(
            fix_stage("stages:\n  - build\n  - test\n  - push\n", "sast"),
            "stages:\n  - build\n  - test\n  - sast\n  - push\n"
        );
        assert_eq!(
            fix_stage("stages:\n- build\n- test\n", "learn"),
            "stages:\n- build\n- test\n- learn\n"
        );
    }

    #[test]
    fn stage_is_inserted_in_flow_lists() {
        assert_eq!(
            fix_stage("stages: [build, push]\n", "test"),
            "stages: [build, test, push]\n"
        );
        assert_eq!(
            fix_stage("stages: [\"build\"]\n", "learn"),
            "stages: [\"build\", learn]\n"
        );
    }

    #[test]
    fn exec_form_only_for_plain_words() {
        assert_eq!(
            exec_form("node server.js").as_deref(),
            Some(r#"["node", "server.js"]"#)
        );
        assert_eq!(exec_form("node $APP"), None);
        assert_eq!(exec_form("a && b"), None);
    }
}
