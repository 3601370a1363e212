//! Just enough POSIX-shell reading for the rules that look inside job scripts: statements
//! (split on newlines, `;`, `&&`, `||`, with `\` continuations joined), words with quotes
//! removed, variable references, assignments and redirections. It is a careful tokenizer, not
//! a shell: where it cannot be sure, callers treat the statement as suspect.

use regex::Regex;
use std::sync::LazyLock;

/// One shell statement of a script, with the line (0-based, within the script) it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub text: String,
    pub line: usize,
}

/// Splits a script into statements. Pipes stay inside a statement (data flows through them);
/// `$(...)` and quotes are never split.
pub fn statements(script: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start_line = 0;
    let mut line = 0;
    let mut quote: Option<char> = None;
    let mut parens = 0usize;
    let mut chars = script.chars().peekable();
    let mut at_word_start = true;
    let flush = |cur: &mut String, out: &mut Vec<Statement>, start: usize| {
        let t = cur.trim();
        if !t.is_empty() {
            out.push(Statement {
                text: t.to_string(),
                line: start,
            });
        }
        cur.clear();
    };
    while let Some(c) = chars.next() {
        if cur.trim().is_empty() {
            start_line = line;
        }
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => {
                match chars.next() {
                    // A continuation joins lines into one statement.
                    Some('\n') => {
                        line += 1;
                        cur.push(' ');
                    }
                    Some(n) => {
                        cur.push('\\');
                        cur.push(n);
                    }
                    None => cur.push('\\'),
                }
                at_word_start = false;
                continue;
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\n') => line += 1,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '#') if at_word_start => {
                // A comment runs to the end of the line.
                for n in chars.by_ref() {
                    if n == '\n' {
                        line += 1;
                        break;
                    }
                }
                if parens == 0 {
                    flush(&mut cur, &mut out, start_line);
                }
                at_word_start = true;
                continue;
            }
            (None, '(') => parens += 1,
            (None, ')') => parens = parens.saturating_sub(1),
            (None, '\n') => {
                line += 1;
                if parens == 0 {
                    flush(&mut cur, &mut out, start_line);
                    at_word_start = true;
                    continue;
                }
            }
            (None, ';') if parens == 0 => {
                flush(&mut cur, &mut out, start_line);
                at_word_start = true;
                continue;
            }
            (None, '&' | '|') if parens == 0 && chars.peek() == Some(&c) => {
                chars.next();
                flush(&mut cur, &mut out, start_line);
                at_word_start = true;
                continue;
            }
            _ => {}
        }
        at_word_start = quote.is_none() && (c.is_whitespace() || matches!(c, '|' | '&' | '('));
        cur.push(c);
    }
    flush(&mut cur, &mut out, start_line);
    out
}

/// Words of a statement, quotes removed but their content kept together; `|` ends a pipeline
/// segment and is returned as its own word.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    in_word = true;
                }
            }
            (None, '|') => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
                out.push("|".to_string());
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

static VAR_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$(?:\{[#!]?([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")
        .expect("static regex")
});

/// Names of the variables `text` expands (`$X`, `${X}`, `${X:-…}`, `${#X}`).
pub fn var_refs(text: &str) -> impl Iterator<Item = &str> {
    VAR_REF
        .captures_iter(text)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)).map(|m| m.as_str()))
}

/// True when `text` expands a variable whose name is computed (`${!name}`, `eval`), which no
/// reading of the text can follow.
pub fn has_indirection(text: &str) -> bool {
    static INDIRECT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\$\{!|(?:^|[\s;&|(`])eval\s").expect("static regex"));
    INDIRECT.is_match(text)
}

static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s;&|(`])(?:(?:export|local|readonly|typeset|declare)(?:\s+-[A-Za-z]+)*\s+)?([A-Za-z_][A-Za-z0-9_]*)\+?=")
        .expect("static regex")
});
static READ_TARGETS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s;&|(`])(?:read|mapfile|readarray)((?:\s+-[A-Za-z]+)*)((?:\s+[A-Za-z_][A-Za-z0-9_]*)+)")
        .expect("static regex")
});
static FOR_TARGET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s;&|(`])for\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\s").expect("static regex")
});

/// Variables a statement sets: assignments (`X=…`, `export X=…`), `read X`, `for X in`.
pub fn assigned_names(text: &str) -> Vec<String> {
    let mut out: Vec<String> = ASSIGNMENT
        .captures_iter(text)
        .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
        .collect();
    for c in READ_TARGETS.captures_iter(text) {
        if let Some(names) = c.get(2) {
            out.extend(names.as_str().split_whitespace().map(str::to_string));
        }
    }
    out.extend(
        FOR_TARGET
            .captures_iter(text)
            .filter_map(|c| c.get(1).map(|m| m.as_str().to_string())),
    );
    out
}

/// The values assigned to `name` in `text` (`NAME=value`, quotes removed).
pub fn assigned_values(text: &str, name: &str) -> Vec<String> {
    words(text)
        .iter()
        .filter_map(|w| {
            let rest = w.strip_prefix(name)?;
            rest.strip_prefix('=')
                .or_else(|| rest.strip_prefix("+="))
                .map(str::to_string)
        })
        .collect()
}

/// Files a statement writes to: `> path`, `>> path`, `tee [-a] path`.
pub fn written_files(text: &str) -> Vec<String> {
    static REDIRECT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?:[^0-9&<>]|^)>{1,2}\|?\s*(['"]?)([^\s'";&|<>()]+)"#).expect("static regex")
    });
    static TEE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?:^|[\s|])tee((?:\s+-[A-Za-z]+)*)\s+(['"]?)([^\s'";&|<>()]+)"#)
            .expect("static regex")
    });
    let mut out: Vec<String> = REDIRECT
        .captures_iter(text)
        .filter_map(|c| c.get(2).map(|m| m.as_str().to_string()))
        // Device paths are not files anyone reads back (`/dev/tcp/…` is a socket: a sink).
        .filter(|p| !p.starts_with("/dev/") && !p.starts_with('&'))
        .collect();
    out.extend(
        TEE.captures_iter(text)
            .filter_map(|c| c.get(3).map(|m| m.as_str().to_string())),
    );
    out
}

/// The command word of each pipeline segment, with its arguments: `sudo`, `env A=b`, `exec`,
/// `command`, `time`, `nohup`, `timeout N` and leading assignments are looked through, and a
/// path is reduced to its file name.
pub fn commands(text: &str) -> Vec<(String, Vec<String>)> {
    const PREFIXES: &[&str] = &["sudo", "exec", "command", "time", "nohup", "builtin", "env"];
    let mut out = Vec::new();
    for segment in words(text).split(|w| w == "|") {
        let mut i = 0;
        while i < segment.len() {
            let w = &segment[i];
            let is_assignment = w.split_once('=').is_some_and(|(n, _)| {
                !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if PREFIXES.contains(&w.as_str()) || is_assignment || (w.starts_with('-') && i > 0) {
                i += 1;
            } else if w == "timeout" {
                i += 2;
            } else {
                break;
            }
        }
        if let Some(cmd) = segment.get(i) {
            let name = cmd.rsplit('/').next().unwrap_or(cmd).to_string();
            out.push((name, segment[i + 1..].to_vec()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_on_separators_but_not_pipes_or_quotes() {
        let s =
            statements("T=$A; curl -d \"$T; x\" https://e | sh && echo ok\nnext \\\n  line # c\n");
        let texts: Vec<&str> = s.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "T=$A",
                "curl -d \"$T; x\" https://e | sh",
                "echo ok",
                "next    line"
            ]
        );
        assert_eq!(s[3].line, 1);
    }

    #[test]
    fn variable_references_in_all_forms() {
        let refs: Vec<&str> = var_refs("a $X ${Y} ${Z:-d} ${#W} $1").collect();
        assert_eq!(refs, ["X", "Y", "Z", "W"]);
    }

    #[test]
    fn assignments_reads_and_loops_are_found() {
        assert_eq!(assigned_names("export T=$G"), ["T"]);
        assert_eq!(assigned_names("read -r A B <<< \"$G\""), ["A", "B"]);
        assert_eq!(assigned_names("for X in $G; do"), ["X"]);
    }

    #[test]
    fn commands_look_through_sudo_and_paths() {
        let c = commands("sudo /usr/bin/curl -d x https://e | A=1 nc host 1");
        assert_eq!(c[0].0, "curl");
        assert_eq!(c[1].0, "nc");
        assert_eq!(c[1].1, ["host", "1"]);
    }

    #[test]
    fn written_files_from_redirections_and_tee() {
        assert_eq!(written_files("echo $T > /tmp/t"), ["/tmp/t"]);
        assert_eq!(written_files("echo $T | tee -a out.txt"), ["out.txt"]);
        assert!(written_files("x 2>&1 >/dev/null").is_empty());
    }
}
