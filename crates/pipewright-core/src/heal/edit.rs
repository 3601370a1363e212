//! Small text edits on the files pipewright generated: its `.gitlab-ci.yml` (block style, two
//! spaces per level, one top-level key per job) and its Dockerfiles. Every edit returns the
//! new text or `None` when the file does not have the expected shape; callers validate the
//! result before using it, so an edit can fail but never slip through broken.

/// Lines `[start, end)` of a job's block: its `name:` line and everything indented under it.
pub fn job_block(text: &str, job: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let headers = [
        format!("{job}:"),
        format!("\"{job}\":"),
        format!("'{job}':"),
    ];
    let start = lines
        .iter()
        .position(|l| headers.iter().any(|h| l.trim_end() == h))?;
    let mut end = start + 1;
    while end < lines.len() {
        let l = lines[end];
        if !l.trim().is_empty() && !l.starts_with(' ') && !l.starts_with('\t') {
            break;
        }
        end += 1;
    }
    // Comments and blank lines just above the next job belong to it.
    while end > start + 1 && {
        let l = lines[end - 1].trim();
        l.is_empty() || (l.starts_with('#') && !lines[end - 1].starts_with("  "))
    } {
        end -= 1;
    }
    Some((start, end))
}

/// The line of `key:` directly under the job (two spaces in), if any.
pub fn job_key_line(text: &str, job: &str, key: &str) -> Option<usize> {
    let (start, end) = job_block(text, job)?;
    let want = format!("  {key}:");
    text.lines()
        .enumerate()
        .take(end)
        .skip(start + 1)
        .find(|(_, l)| l.starts_with(&want) && !l.starts_with("   "))
        .map(|(i, _)| i)
}

/// The value written on the job's `key:` line (`image: x` → `x`), or the `name:` under it.
pub fn job_scalar(text: &str, job: &str, key: &str) -> Option<String> {
    let line = job_key_line(text, job, key)?;
    let lines: Vec<&str> = text.lines().collect();
    let value = lines[line].split_once(':')?.1.trim();
    if !value.is_empty() {
        return Some(unquote(value));
    }
    let name = lines.get(line + 1)?.trim().strip_prefix("name:")?.trim();
    Some(unquote(name))
}

/// The lines of the job's `key:` block (the key line and everything indented deeper).
pub fn key_block(text: &str, job: &str, key: &str) -> Option<(usize, usize)> {
    let (_, job_end) = job_block(text, job)?;
    let start = job_key_line(text, job, key)?;
    let lines: Vec<&str> = text.lines().collect();
    let mut end = start + 1;
    while end < job_end && (lines[end].starts_with("   ") || lines[end].trim().is_empty()) {
        end += 1;
    }
    Some((start, end))
}

/// Inserts `block` (whole lines, already indented) after line `after`.
pub fn insert_after(text: &str, after: usize, block: &str) -> String {
    let mut out = String::with_capacity(text.len() + block.len() + 1);
    for (i, line) in text.split_inclusive('\n').enumerate() {
        out.push_str(line);
        if i == after {
            if !line.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(block);
            if !block.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

/// Replaces line `at` with `replacement` (no newline).
pub fn replace_line(text: &str, at: usize, replacement: &str) -> String {
    let mut out = String::with_capacity(text.len() + replacement.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i == at {
            out.push_str(replacement);
            if line.ends_with('\n') {
                out.push('\n');
            }
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Where a new job key goes: after `stage:` (or the job's header).
fn new_key_anchor(text: &str, job: &str) -> Option<usize> {
    job_key_line(text, job, "stage").or_else(|| job_block(text, job).map(|(s, _)| s))
}

/// Adds `name: value` to the job's `variables:`, creating the map when needed. `None` when
/// the variable is already set (to anything).
pub fn set_job_variable(text: &str, job: &str, name: &str, value: &str) -> Option<String> {
    let entry = format!("    {name}: {}", yaml_scalar(value));
    if let Some((start, end)) = key_block(text, job, "variables") {
        let taken = text
            .lines()
            .take(end)
            .skip(start + 1)
            .any(|l| l.trim_start().starts_with(&format!("{name}:")));
        if taken {
            return None;
        }
        return Some(insert_after(text, start, &entry));
    }
    let at = new_key_anchor(text, job)?;
    Some(insert_after(text, at, &format!("  variables:\n{entry}")))
}

/// Adds a top-level job key with its body (`timeout: 2h`, a `services:` block …); `None` when
/// the job has it already.
pub fn add_job_key(text: &str, job: &str, key: &str, lines: &str) -> Option<String> {
    if job_key_line(text, job, key).is_some() {
        return None;
    }
    let at = new_key_anchor(text, job)?;
    Some(insert_after(text, at, lines))
}

/// Runs `command` before the job's script (appended to its `before_script:`).
pub fn add_before_script(text: &str, job: &str, command: &str) -> Option<String> {
    let item = format!("    - {}", yaml_scalar(command));
    if let Some((start, end)) = key_block(text, job, "before_script") {
        if text
            .lines()
            .take(end)
            .skip(start)
            .any(|l| l.contains(command))
        {
            return None;
        }
        return Some(insert_after(text, end - 1, &item));
    }
    let at = new_key_anchor(text, job)?;
    Some(insert_after(text, at, &format!("  before_script:\n{item}")))
}

/// Inserts `instruction` in the Dockerfile right after `FROM … AS <stage>`.
pub fn dockerfile_after_from(text: &str, stage: &str, instruction: &str) -> Option<String> {
    let at = text.lines().position(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        words.len() >= 4
            && words[0].eq_ignore_ascii_case("from")
            && words[words.len() - 2].eq_ignore_ascii_case("as")
            && words[words.len() - 1] == stage
    })?;
    Some(insert_after(text, at, instruction))
}

/// The base image a Dockerfile stage finally rests on (`FROM build AS test` → `build`'s base …).
pub fn dockerfile_stage_base(text: &str, stage: &str) -> Option<String> {
    let mut stages: Vec<(String, String)> = Vec::new();
    for l in text.lines() {
        let words: Vec<&str> = l.split_whitespace().collect();
        if words
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case("from"))
        {
            let image = words
                .iter()
                .skip(1)
                .find(|w| !w.starts_with("--"))?
                .to_string();
            let name = if words.len() >= 4 && words[words.len() - 2].eq_ignore_ascii_case("as") {
                words[words.len() - 1].to_string()
            } else {
                String::new()
            };
            stages.push((name, image));
        }
    }
    let mut current = stage.to_string();
    for _ in 0..stages.len() {
        let (_, image) = stages.iter().find(|(n, _)| *n == current)?;
        if stages.iter().any(|(n, _)| n == image) {
            current = image.clone();
        } else {
            return Some(image.clone());
        }
    }
    None
}

/// A YAML scalar for `value`: plain when safe, else double-quoted (JSON strings are valid
/// YAML double-quoted scalars).
pub fn yaml_scalar(value: &str) -> String {
    let plain = !value.is_empty()
        && value.trim() == value
        && !value.starts_with([
            '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%',
            '@', '`', '$',
        ])
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.ends_with(':')
        && value.chars().all(|c| !c.is_control())
        && value.parse::<f64>().is_err()
        && !matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        );
    if plain {
        value.to_string()
    } else {
        serde_json::to_string(value).unwrap_or_else(|_| format!("\"{value}\""))
    }
}

fn unquote(value: &str) -> String {
    let v = value.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CI: &str = "stages:\n  - test\n\n# Runs tests.\ntest:api:\n  stage: test\n  image:\n    name: $R/orders:$CI_COMMIT_SHORT_SHA-test\n    entrypoint: [\"\"]\n  variables:\n    APP_DIR: /app\n  script:\n    - go test ./...\n\n# Next.\nlint:\n  stage: test\n  image: $R/golang:1.23\n  script:\n    - make lint\n";

    #[test]
    fn job_blocks_end_before_the_next_jobs_comment() {
        assert_eq!(job_block(CI, "test:api"), Some((4, 13)));
        assert_eq!(job_block(CI, "lint"), Some((15, 20)));
        assert_eq!(job_block(CI, "missing"), None);
        assert_eq!(
            job_scalar(CI, "test:api", "image").as_deref(),
            Some("$R/orders:$CI_COMMIT_SHORT_SHA-test")
        );
        assert_eq!(
            job_scalar(CI, "lint", "image").as_deref(),
            Some("$R/golang:1.23")
        );
    }

    #[test]
    fn variables_are_added_to_an_existing_map_or_a_new_one() {
        let a =
            set_job_variable(CI, "test:api", "NODE_OPTIONS", "--max-old-space-size=4096").unwrap();
        assert!(a.contains(
            "  variables:\n    NODE_OPTIONS: \"--max-old-space-size=4096\"\n    APP_DIR: /app\n"
        ));
        assert_eq!(set_job_variable(&a, "test:api", "APP_DIR", "/x"), None);
        let b = set_job_variable(CI, "lint", "GIT_DEPTH", "0").unwrap();
        assert!(b.contains("lint:\n  stage: test\n  variables:\n    GIT_DEPTH: \"0\"\n  image:"));
    }

    #[test]
    fn before_script_and_keys_are_added_once() {
        let a = add_before_script(CI, "lint", "chmod +x ./gradlew").unwrap();
        assert!(a.contains("  before_script:\n    - chmod +x ./gradlew\n"));
        assert_eq!(add_before_script(&a, "lint", "chmod +x ./gradlew"), None);
        let b = add_job_key(CI, "lint", "timeout", "  timeout: 2h").unwrap();
        assert!(b.contains("  stage: test\n  timeout: 2h\n  image: $R/golang"));
        assert_eq!(add_job_key(&b, "lint", "timeout", "  timeout: 3h"), None);
    }

    #[test]
    fn dockerfile_stages_resolve_to_their_base() {
        let df = "ARG B=x\nFROM ${B}/golang:1.23-bookworm AS deps\nRUN go mod download\nFROM deps AS build\nFROM build AS test\nFROM ${B}/distroless AS runtime\n";
        assert_eq!(
            dockerfile_stage_base(df, "test").as_deref(),
            Some("${B}/golang:1.23-bookworm")
        );
        let edited = dockerfile_after_from(df, "test", "RUN apt-get update").unwrap();
        assert!(edited.contains("FROM build AS test\nRUN apt-get update\nFROM ${B}/distroless"));
    }

    #[test]
    fn scalars_are_quoted_when_yaml_would_misread_them() {
        assert_eq!(yaml_scalar("/app"), "/app");
        assert_eq!(yaml_scalar("0"), "\"0\"");
        assert_eq!(yaml_scalar("yes"), "\"yes\"");
        assert_eq!(yaml_scalar("a: b"), "\"a: b\"");
        assert_eq!(yaml_scalar("$CI_PROJECT_DIR"), "\"$CI_PROJECT_DIR\"");
    }
}
