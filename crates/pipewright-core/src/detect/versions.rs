//! Version files shared by every ecosystem: asdf's `.tool-versions` and mise's
//! `mise.toml` / `.mise.toml`, looked up from the service folder toward the root.

use super::{Candidate, DirContext};

/// Adds the pins for `tool` (asdf/mise names: `python`, `nodejs`/`node`, `ruby`, `java`,
/// `golang`/`go`, `rust`, `php`, `dotnet`, `elixir`) found in `.tool-versions` and mise files,
/// recorded under `name`.
pub fn add_tool_versions(ctx: &DirContext<'_>, cand: &mut Candidate, name: &str, tools: &[&str]) {
    if let Some((path, text)) = ctx.find_up(".tool-versions") {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let mut parts = line.split_whitespace();
            if let (Some(tool), Some(version)) = (parts.next(), parts.next()) {
                if tools.contains(&tool) {
                    cand.add_version(name, version, path.clone());
                }
            }
        }
    }
    for file in ["mise.toml", ".mise.toml"] {
        let Some((path, text)) = ctx.find_up(file) else {
            continue;
        };
        let table = match text.parse::<toml::Table>() {
            Ok(t) => t,
            Err(_) => {
                cand.warn(path, "malformed TOML, ignored");
                continue;
            }
        };
        let Some(tools_table) = table.get("tools").and_then(|t| t.as_table()) else {
            continue;
        };
        for tool in tools {
            let value = match tools_table.get(*tool) {
                Some(toml::Value::String(s)) => Some(s.clone()),
                Some(toml::Value::Array(a)) => a.first().and_then(|v| v.as_str()).map(String::from),
                Some(toml::Value::Table(t)) => {
                    t.get("version").and_then(|v| v.as_str()).map(String::from)
                }
                _ => None,
            };
            if let Some(v) = value {
                cand.add_version(name, &v, format!("{path} (tools.{tool})"));
            }
        }
    }
}

/// The first line of a one-line version file (`.python-version`, `.nvmrc` …), comments and
/// blank lines skipped.
pub fn first_line(text: &str) -> Option<&str> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| !l.is_empty())
}

/// Reads a one-line version file found in the folder or toward the root and adds it.
pub fn add_version_file(ctx: &DirContext<'_>, cand: &mut Candidate, name: &str, file: &str) {
    if let Some((path, text)) = ctx.find_up(file) {
        match first_line(text) {
            Some(v) => cand.add_version(name, v, path),
            None => cand.warn(path, format!("{file} is empty, ignored")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_skips_comments_and_blanks() {
        assert_eq!(first_line("\n# pinned\n3.12.1\n"), Some("3.12.1"));
        assert_eq!(first_line("  \n"), None);
    }
}
