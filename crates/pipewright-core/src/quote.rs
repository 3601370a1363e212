//! The one escaping layer for values that come from a repository (folder and file names,
//! manifest fields) on their way into a generated file or onto a terminal.
//!
//! Each destination has one rule here, and the renderers and the generator apply it:
//! - a **name** written into a shell command, a Dockerfile argument and a YAML scalar alike
//!   (a service folder, a jar name) must be [`portable`]: no control character, no white
//!   space, no character a shell or Dockerfile gives a meaning to; anything else is refused
//!   (or replaced by a safe fallback) with a message that shows it [`escaped`];
//! - **free text** in a comment (`#` in YAML or a Dockerfile) is written [`escaped`], so a
//!   newline cannot start an instruction;
//! - a **shell word** is [`shell_word`]: unchanged when plain, else single-quoted;
//! - **text for a terminal** is [`escaped`]: control characters (ESC sequences that set the
//!   title or clear the screen, `\r`, bidi overrides) become visible escapes.
//!
//! ```
//! use pipewright_core::quote::{escaped, portable, shell_word};
//! assert!(portable("apps/api-v2"));
//! assert!(!portable("nl\ndir"));
//! assert_eq!(escaped("a\u{1b}]0;pwned\u{7}"), "a\\u{1b}]0;pwned\\u{7}");
//! assert_eq!(shell_word("my dir"), "'my dir'");
//! ```

use std::borrow::Cow;

/// ASCII characters a shell, a Dockerfile or a YAML plain scalar gives no meaning to.
const PORTABLE_ASCII: &str = "._-/+@%,:=";

/// True when the character changes how text is shown or read: control characters
/// (C0, DEL, C1), line and paragraph separators, zero-width and bidirectional controls.
pub fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{2028}' | '\u{2029}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}')
}

/// True when `s` can be written unquoted as a shell word, a Dockerfile argument and a YAML
/// scalar: ASCII letters, digits and `._-/+@%,:=`, or any other non-ASCII character that is
/// neither white space nor [`invisible`] (accents and emoji are fine).
pub fn portable(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || PORTABLE_ASCII.contains(c)
                || (!c.is_ascii() && !c.is_whitespace() && !invisible(c))
        })
}

/// The first character that makes `s` not [`portable`], described for a message.
pub fn why_not_portable(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("it is empty".into());
    }
    s.chars()
        .find(|c| !portable(c.encode_utf8(&mut [0; 4])))
        .map(|c| match c {
            c if invisible(c) => format!("it holds the control character {}", escape_char(c)),
            c if c.is_whitespace() => "it holds white space".to_string(),
            c => format!("it holds `{c}`, which a shell or a Dockerfile reads as syntax"),
        })
}

fn escape_char(c: char) -> String {
    match c {
        '\n' => "\\n".into(),
        '\r' => "\\r".into(),
        '\t' => "\\t".into(),
        c => format!("\\u{{{:x}}}", c as u32),
    }
}

/// `s` with every [`invisible`] character written as a visible escape: safe for a
/// terminal, a log line, or a comment in a generated file.
pub fn escaped(s: &str) -> Cow<'_, str> {
    if !s.chars().any(invisible) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if invisible(c) {
            out.push_str(&escape_char(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` for a terminal: like [`escaped`], but line breaks and tabs between lines stay (text
/// output is made of lines); every other control character, ESC first, is shown escaped, so
/// a folder name cannot set the title, move the cursor or clear the screen.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| invisible(c) && c != '\n' && c != '\t';
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&escape_char(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` as one POSIX shell word: unchanged when [`portable`], else in single quotes (a `'`
/// inside written as `'\''`).
pub fn shell_word(s: &str) -> Cow<'_, str> {
    if portable(s) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(format!("'{}'", s.replace('\'', "'\\''")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_syntax_or_control_characters_are_not_portable() {
        for bad in [
            "nl\ndir",
            "a b",
            "x;curl",
            "$(id)",
            "`id`",
            "a\"b",
            "a'b",
            "a\\b",
            "v1&#10;",
            "x|sh",
            "rtl\u{202e}gpj.exe",
            "",
        ] {
            assert!(!portable(bad), "{bad:?}");
            assert!(why_not_portable(bad).is_some());
        }
        for good in ["apps/api", "my-app_2.0", "émile", "🚀", "a+b@1:2,3=4%"] {
            assert!(portable(good), "{good:?}");
            assert_eq!(why_not_portable(good), None);
        }
    }

    #[test]
    fn escaped_text_holds_no_control_character() {
        let e = escaped("title\u{1b}]0;x\u{7}\r\nclear\u{1b}[2J\u{9b}");
        assert!(!e.chars().any(invisible), "{e}");
        assert!(e.contains("\\u{1b}]0;x\\u{7}\\r\\n"));
        assert!(matches!(escaped("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_text_keeps_its_lines_and_loses_its_escapes() {
        let t = for_terminal("svc/\u{1b}]0;owned\u{7}x\n  - next\tcol\r\u{1b}[2J");
        assert_eq!(t, "svc/\\u{1b}]0;owned\\u{7}x\n  - next\tcol\\r\\u{1b}[2J");
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("apps/api"), "apps/api");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("a\nb"), "'a\nb'");
    }
}
