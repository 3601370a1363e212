//! A small, deterministic YAML writer for the files pipewright generates: block style, keys in
//! the order given, comments kept, and every scalar quoted exactly when YAML would otherwise
//! read it as something else (a number, a boolean, a mapping, a comment …).
//!
//! Generated text is re-read by the validator's parser in the tests, so a quoting mistake
//! here is caught there.

/// A YAML value with its layout.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Str(String),
    Int(i64),
    Bool(bool),
    /// A sequence written in block style (`- item`), or `[]` when empty.
    Seq(Vec<Node>),
    /// A short sequence written inline (`[a, b]`).
    Flow(Vec<Node>),
    /// A mapping; each entry may carry comment lines written above it.
    Map(Vec<Entry>),
}

/// One key of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub comment: Vec<String>,
    pub key: String,
    pub value: Node,
    /// A blank line before the entry (between jobs, for readability).
    pub blank_before: bool,
}

impl Node {
    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }

    pub fn strs<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Node {
        Node::Seq(items.into_iter().map(|s| Node::Str(s.into())).collect())
    }
}

/// Builds a mapping fluently, skipping absent values.
#[derive(Debug, Default)]
pub struct MapBuilder {
    entries: Vec<Entry>,
}

impl MapBuilder {
    pub fn new() -> Self {
        MapBuilder::default()
    }

    pub fn put(mut self, key: &str, value: Node) -> Self {
        self.entries.push(Entry {
            comment: Vec::new(),
            key: key.to_string(),
            value,
            blank_before: false,
        });
        self
    }

    pub fn opt(self, key: &str, value: Option<Node>) -> Self {
        match value {
            Some(v) => self.put(key, v),
            None => self,
        }
    }

    /// Adds an entry with comment lines above it and an optional blank line before.
    pub fn entry(mut self, entry: Entry) -> Self {
        self.entries.push(entry);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn build(self) -> Node {
        Node::Map(self.entries)
    }
}

/// Renders a document: optional leading comment lines, then the node.
pub fn render(header: &[String], node: &Node) -> String {
    let mut out = String::new();
    for line in header {
        push_comment(&mut out, 0, line);
    }
    if !header.is_empty() {
        out.push('\n');
    }
    match node {
        Node::Map(entries) => write_map(&mut out, entries, 0),
        other => {
            write_inline(&mut out, other);
            out.push('\n');
        }
    }
    out
}

fn push_comment(out: &mut String, indent: usize, line: &str) {
    out.push_str(&" ".repeat(indent));
    if line.is_empty() {
        out.push_str("#\n");
    } else {
        out.push_str("# ");
        // A comment is free text: a newline in it would start a line of YAML.
        out.push_str(&crate::quote::escaped(line));
        out.push('\n');
    }
}

fn write_map(out: &mut String, entries: &[Entry], indent: usize) {
    for e in entries {
        if e.blank_before {
            out.push('\n');
        }
        for c in &e.comment {
            push_comment(out, indent, c);
        }
        out.push_str(&" ".repeat(indent));
        out.push_str(&scalar(&e.key));
        out.push(':');
        write_value(out, &e.value, indent);
    }
}

/// Writes what follows `key:` (or `- `), including the newline.
fn write_value(out: &mut String, value: &Node, indent: usize) {
    match value {
        Node::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            write_map(out, entries, indent + 2);
        }
        Node::Seq(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent + 2);
        }
        other => {
            out.push(' ');
            write_inline(out, other);
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, items: &[Node], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Node::Map(entries) if !entries.is_empty() => {
                // First key on the dash line, the rest aligned under it.
                out.push(' ');
                let mut first = true;
                for e in entries {
                    if !first {
                        out.push_str(&" ".repeat(indent + 2));
                    }
                    first = false;
                    out.push_str(&scalar(&e.key));
                    out.push(':');
                    write_value(out, &e.value, indent + 2);
                }
            }
            Node::Seq(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, indent + 2);
            }
            other => {
                out.push(' ');
                write_inline(out, other);
                out.push('\n');
            }
        }
    }
}

fn write_inline(out: &mut String, node: &Node) {
    match node {
        Node::Str(s) => out.push_str(&scalar(s)),
        Node::Int(i) => out.push_str(&i.to_string()),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Seq(items) | Node::Flow(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_inline(out, item);
            }
            out.push(']');
        }
        Node::Map(entries) => {
            out.push('{');
            for (i, e) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&scalar(&e.key));
                out.push_str(": ");
                write_inline(out, &e.value);
            }
            out.push('}');
        }
    }
}

/// Words YAML 1.1 or 1.2 would read as booleans or null.
const RESERVED: &[&str] = &[
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
];

/// The scalar as written: plain when that reads back as the same string, else double-quoted.
pub fn scalar(s: &str) -> String {
    if needs_quotes(s) {
        quote(s)
    } else {
        s.to_string()
    }
}

fn needs_quotes(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return true;
    }
    if RESERVED.contains(&s.to_ascii_lowercase().as_str()) {
        return true;
    }
    let first = s.as_bytes()[0];
    if b"-?:,[]{}#&*!|>'\"%@`".contains(&first) {
        // `-` alone or `- x` is a sequence; `-x` is fine as plain, except a number.
        if !(first == b'-' && s.len() > 1 && s.as_bytes()[1] != b' ' && !looks_numeric(s)) {
            return true;
        }
    }
    if looks_numeric(s) {
        return true;
    }
    if s.contains(": ") || s.ends_with(':') || s.contains(" #") || s.contains('\t') {
        return true;
    }
    s.chars().any(|c| c.is_control())
}

fn looks_numeric(s: &str) -> bool {
    let t = s.trim_start_matches(['-', '+']);
    if t.is_empty() {
        return false;
    }
    let lower = t.to_ascii_lowercase();
    if matches!(lower.as_str(), ".inf" | ".nan") {
        return true;
    }
    let digits_and = |extra: &[char]| {
        lower
            .chars()
            .all(|c| c.is_ascii_digit() || extra.contains(&c))
    };
    (lower.starts_with("0x") && lower.len() > 2)
        || (lower.starts_with("0o") && lower.len() > 2)
        || (lower
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '.')
            && digits_and(&['.', 'e', '_', '-', '+', ':']))
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_quoted_only_when_needed() {
        assert_eq!(scalar("compile"), "compile");
        assert_eq!(scalar("$CI_COMMIT_SHORT_SHA"), "$CI_COMMIT_SHORT_SHA");
        assert_eq!(scalar("echo \"ERROR: x\""), "\"echo \\\"ERROR: x\\\"\"");
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(scalar("3.12"), "\"3.12\"");
        assert_eq!(scalar("1 hour"), "1 hour");
        assert_eq!(scalar("*.py"), "\"*.py\"");
        assert_eq!(scalar("-x"), "-x");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("a # b"), "\"a # b\"");
    }

    #[test]
    fn maps_and_sequences_render_in_block_style() {
        let job = MapBuilder::new()
            .put("stage", Node::str("build"))
            .put("script", Node::strs(["make", "make test"]))
            .put("needs", Node::Seq(vec![]))
            .build();
        let doc = MapBuilder::new()
            .entry(Entry {
                comment: vec!["why".into()],
                key: "build".into(),
                value: job,
                blank_before: true,
            })
            .build();
        assert_eq!(
            render(&[], &doc),
            "\n# why\nbuild:\n  stage: build\n  script:\n    - make\n    - make test\n  needs: []\n"
        );
    }

    #[test]
    fn maps_inside_sequences_start_on_the_dash_line() {
        let doc = MapBuilder::new()
            .put(
                "services",
                Node::Seq(vec![MapBuilder::new()
                    .put("name", Node::str("trivy"))
                    .put("alias", Node::str("trivy-server"))
                    .build()]),
            )
            .build();
        assert_eq!(
            render(&[], &doc),
            "services:\n  - name: trivy\n    alias: trivy-server\n"
        );
    }
}
