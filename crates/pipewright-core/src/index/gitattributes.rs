//! The repository owner's own word on classification: `linguist-*` attributes in
//! `.gitattributes` files (at the root or in any folder), with their negations.
//!
//! Supported: `linguist-vendored`, `linguist-generated`, `linguist-documentation`,
//! `linguist-detectable` (set, `-attr`, `attr=false`, `!attr`) and `linguist-language=<name>`.
//! As in git, the last matching line wins per attribute, and a file in a deeper folder
//! overrides its parents.

use super::{Content, Exclusion};
use globset::{GlobBuilder, GlobMatcher};
use std::collections::HashMap;

/// A tri-state attribute value: unmentioned, set, or explicitly unset.
type Flag = Option<bool>;

#[derive(Debug, Clone, Default)]
struct Attrs {
    vendored: Flag,
    generated: Flag,
    documentation: Flag,
    detectable: Flag,
    language: Option<&'static str>,
}

#[derive(Debug)]
struct Rule {
    matcher: GlobMatcher,
    attrs: Attrs,
}

/// Every `linguist-*` rule of the repository, ready to match paths.
#[derive(Debug, Default)]
pub struct GitAttributes {
    rules: Vec<Rule>,
}

/// The combined effect of the rules on one path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub vendored: Flag,
    pub generated: Flag,
    pub documentation: Flag,
    pub detectable: Flag,
    pub language: Option<&'static str>,
}

impl Overrides {
    /// Applies the overrides to the built-in exclusion.
    pub fn apply(&self, builtin: Option<Exclusion>) -> Option<Exclusion> {
        let mut current = builtin;
        let pairs = [
            (self.vendored, Exclusion::Vendored),
            (self.generated, Exclusion::Generated),
            (self.documentation, Exclusion::Documentation),
        ];
        for (flag, kind) in pairs {
            match flag {
                Some(true) => current = Some(kind),
                Some(false) if current == Some(kind) => current = None,
                _ => {}
            }
        }
        match self.detectable {
            Some(false) => Some(Exclusion::NotDetectable),
            // `linguist-detectable` forces a file in, whatever the built-in rules said.
            Some(true) if self.vendored != Some(true) && self.generated != Some(true) => None,
            _ => current,
        }
    }
}

impl GitAttributes {
    /// Reads every `.gitattributes` file among the contents that were read.
    pub fn from_contents(contents: &HashMap<String, Content>) -> Self {
        let mut files: Vec<(&String, &str)> = contents
            .iter()
            .filter(|(p, _)| super::file_name(p) == ".gitattributes")
            .filter_map(|(p, c)| match c {
                Content::Text(t) => Some((p, t.as_str())),
                _ => None,
            })
            .collect();
        // Parents before children, so deeper files override.
        files.sort_by_key(|(p, _)| (p.matches('/').count(), (*p).clone()));
        let mut rules = Vec::new();
        for (path, text) in files {
            let dir = super::parent_dir(path);
            rules.extend(parse(dir, text));
        }
        GitAttributes { rules }
    }

    /// Parses one `.gitattributes` text located in `dir` (`""` for the root).
    pub fn parse(dir: &str, text: &str) -> Self {
        GitAttributes {
            rules: parse(dir, text),
        }
    }

    /// True when there is no `linguist-*` rule at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The overrides that apply to `path`.
    pub fn overrides(&self, path: &str) -> Overrides {
        let mut out = Overrides::default();
        if self.rules.is_empty() {
            return out;
        }
        // Rules are stored by depth then line order, so a later match always wins.
        for rule in &self.rules {
            if rule.matcher.is_match(path) {
                let a = &rule.attrs;
                out.vendored = a.vendored.or(out.vendored);
                out.generated = a.generated.or(out.generated);
                out.documentation = a.documentation.or(out.documentation);
                out.detectable = a.detectable.or(out.detectable);
                out.language = a.language.or(out.language);
            }
        }
        out
    }
}

fn parse(dir: &str, text: &str) -> Vec<Rule> {
    let mut rules = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let Some(pattern) = parts.next() else {
            continue;
        };
        let mut attrs = Attrs::default();
        let mut any = false;
        for attr in parts {
            any |= apply_attr(&mut attrs, attr);
        }
        if !any {
            continue;
        }
        if let Some(matcher) = glob_for(dir, pattern) {
            rules.push(Rule { matcher, attrs });
        }
    }
    rules
}

/// Returns true when the attribute was a `linguist-*` one.
fn apply_attr(attrs: &mut Attrs, attr: &str) -> bool {
    let (name, value): (&str, Flag) = if let Some(n) = attr.strip_prefix('-') {
        (n, Some(false))
    } else if let Some(n) = attr.strip_prefix('!') {
        // Unspecified: back to the built-in rules.
        (n, None)
    } else if let Some((n, v)) = attr.split_once('=') {
        if n == "linguist-language" {
            attrs.language = language_name(v);
            return true;
        }
        (n, Some(!matches!(v, "false" | "0" | "no")))
    } else {
        (attr, Some(true))
    };
    let slot = match name {
        "linguist-vendored" => &mut attrs.vendored,
        "linguist-generated" => &mut attrs.generated,
        "linguist-documentation" => &mut attrs.documentation,
        "linguist-detectable" => &mut attrs.detectable,
        _ => return false,
    };
    *slot = value;
    true
}

/// Maps a Linguist language name or alias to our lowercase name.
fn language_name(value: &str) -> Option<&'static str> {
    let v = value.to_ascii_lowercase();
    const ALIASES: &[(&str, &str)] = &[
        ("ruby", "ruby"),
        ("python", "python"),
        ("javascript", "javascript"),
        ("js", "javascript"),
        ("typescript", "typescript"),
        ("ts", "typescript"),
        ("java", "java"),
        ("kotlin", "kotlin"),
        ("go", "go"),
        ("golang", "go"),
        ("rust", "rust"),
        ("php", "php"),
        ("c#", "csharp"),
        ("csharp", "csharp"),
        ("elixir", "elixir"),
        ("c", "c"),
        ("c++", "c++"),
        ("cpp", "c++"),
        ("shell", "shell"),
        ("html", "html"),
        ("css", "css"),
    ];
    ALIASES.iter().find(|(a, _)| *a == v).map(|(_, n)| *n)
}

/// Turns a gitattributes pattern found in `dir` into a matcher on root-relative paths.
fn glob_for(dir: &str, pattern: &str) -> Option<GlobMatcher> {
    let mut p = pattern.to_string();
    // A folder pattern (`docs/`) is taken as everything below it, which is what users mean.
    if p.ends_with('/') {
        p.push_str("**");
    }
    let anchored = p.trim_end_matches("/**").contains('/');
    let p = p.trim_start_matches('/');
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let full = if anchored {
        format!("{prefix}{p}")
    } else {
        format!("{prefix}**/{p}")
    };
    GlobBuilder::new(&full)
        .literal_separator(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_and_negated_vendored() {
        let ga = GitAttributes::parse(
            "",
            "lib/ext/** linguist-vendored\nvendor/ours/** -linguist-vendored\n",
        );
        assert_eq!(ga.overrides("lib/ext/a/b.c").vendored, Some(true));
        assert_eq!(ga.overrides("vendor/ours/x.rb").vendored, Some(false));
        let o = ga.overrides("vendor/ours/x.rb");
        assert_eq!(o.apply(Some(Exclusion::Vendored)), None);
    }

    #[test]
    fn language_override_and_basename_patterns() {
        let ga = GitAttributes::parse("", "*.inc linguist-language=PHP\n");
        assert_eq!(ga.overrides("a/b/c.inc").language, Some("php"));
    }

    #[test]
    fn nested_file_is_relative_to_its_folder() {
        let ga = GitAttributes::parse("web", "generated/ linguist-generated\n");
        assert_eq!(ga.overrides("web/generated/a.js").generated, Some(true));
        assert_eq!(ga.overrides("generated/a.js").generated, None);
    }

    #[test]
    fn documentation_false_brings_docs_back() {
        let ga = GitAttributes::parse("", "docs/** linguist-documentation=false\n");
        let o = ga.overrides("docs/app.py");
        assert_eq!(o.apply(Some(Exclusion::Documentation)), None);
    }

    #[test]
    fn unrelated_attributes_are_ignored() {
        let ga = GitAttributes::parse("", "*.png binary\n* text=auto\n");
        assert!(ga.is_empty());
    }
}
