//! Byte scanners for the few detector patterns that run on almost every repository of an
//! ecosystem. Building a `regex` costs a few hundred thousand instructions (its NFA, its
//! literal prefilters), more than the rest of a small repository's analysis, while these
//! shapes read in one pass with no set-up. Each scanner keeps the regex it replaces in its
//! documentation and in a test that checks the two agree (`javascript.rs` tests); the
//! helpers here read ASCII the way `ascii_regex` patterns do: `\w` is `[0-9A-Za-z_]`, `\s`
//! is `[\t\n\x0B\x0C\r ]`, `\b` sits between a word byte and any other byte (or an end).

/// `\w` on one byte.
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `\s` on one byte.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

/// True when a `\b` lies before `text[at]` and `text[at]` is a word byte (a word starts).
pub(crate) fn word_starts(text: &[u8], at: usize) -> bool {
    text.get(at).is_some_and(|b| is_word(*b)) && (at == 0 || !is_word(text[at - 1]))
}

/// True when a `\b` lies at `at` after a word byte: `text[at]` is not a word byte or the end.
pub(crate) fn word_ends(text: &[u8], at: usize) -> bool {
    text.get(at).is_none_or(|b| !is_word(*b))
}

/// `\s*` from `at`: where the next non-space byte is.
pub(crate) fn skip_space(text: &[u8], mut at: usize) -> usize {
    while text.get(at).is_some_and(|b| is_space(*b)) {
        at += 1;
    }
    at
}

/// True when `text[at..]` starts with `lit`.
pub(crate) fn starts(text: &[u8], at: usize, lit: &[u8]) -> bool {
    text.get(at..).is_some_and(|rest| rest.starts_with(lit))
}

/// `(?m)^\s*` before `at`: only blanks lie between the line's start and `at`. Reads back over
/// the blanks only, so checking every occurrence of a key in a text stays linear.
pub(crate) fn line_starts_blank(text: &[u8], at: usize) -> bool {
    let blanks = text[..at]
        .iter()
        .rev()
        .take_while(|c| is_space(**c) && **c != b'\n')
        .count();
    at == blanks || text[at - blanks - 1] == b'\n'
}

/// The whole word that starts at `at` (a run of word bytes), when one does.
pub(crate) fn word_at(text: &[u8], at: usize) -> Option<&[u8]> {
    if !word_starts(text, at) {
        return None;
    }
    let len = text[at..].iter().take_while(|b| is_word(**b)).count();
    Some(&text[at..at + len])
}

/// `["']?` at `at`: where the text goes on after an optional quote.
pub(crate) fn skip_quote(text: &[u8], at: usize) -> usize {
    if matches!(text.get(at), Some(b'"' | b'\'')) {
        at + 1
    } else {
        at
    }
}

/// How many ASCII digits run from `at` (none past the end).
pub(crate) fn digit_run(text: &[u8], at: usize) -> usize {
    text.get(at..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    })
}

/// `(\d{min,max})\b` at `at`: the end of the digits, when a run of `min` to `max` ASCII
/// digits starts there and no word byte follows it.
pub(crate) fn digits(text: &[u8], at: usize, min: usize, max: usize) -> Option<usize> {
    let run = digit_run(text, at);
    let end = at + run;
    ((min..=max).contains(&run) && word_ends(text, end)).then_some(end)
}

/// Where any of `needles` occurs in `text`, in order (each found with `memchr`'s vectorised
/// search; a position where two needles start comes once per needle). Lazy, so a caller that
/// stops at its first hit reads no further.
pub(crate) fn occurrences<'a>(
    text: &'a [u8],
    needles: &'a [&'a str],
) -> impl Iterator<Item = usize> + 'a {
    let mut each: Vec<_> = needles
        .iter()
        .map(|n| memchr::memmem::find_iter(text, n.as_bytes()).peekable())
        .collect();
    std::iter::from_fn(move || {
        let (which, at) = each
            .iter_mut()
            .enumerate()
            .filter_map(|(i, it)| it.peek().map(|at| (i, *at)))
            .min_by_key(|(_, at)| *at)?;
        each[which].next();
        Some(at)
    })
}

/// What the scanners' tests share: texts to hold each scanner to the regex it replaces.
#[cfg(test)]
pub(crate) mod oracle {
    use proptest::prelude::*;

    /// Texts of one to four segments, each segment one option of every part in turn, so each
    /// branch of a scanner (hits and near misses alike) is taken often.
    pub(crate) fn segments(
        parts: &'static [&'static [&'static str]],
    ) -> impl Strategy<Value = String> {
        let segment = parts
            .iter()
            .map(|options| prop::sample::select(options.to_vec()))
            .collect::<Vec<_>>()
            .prop_map(|chosen| chosen.concat());
        prop::collection::vec(segment, 1..5).prop_map(|v| v.concat())
    }

    /// Every fixture file that reads as text, with its path.
    pub(crate) fn fixture_texts() -> Vec<(std::path::PathBuf, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let mut stack = vec![root];
        let mut out = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("fixture folder") {
                let path = entry.expect("fixture entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    out.push((path, text));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helpers_read_ascii_like_the_patterns() {
        let t = b"ab_1 c\xc3\xa9d";
        assert!(word_starts(t, 0) && !word_starts(t, 1) && word_starts(t, 5));
        assert!(word_ends(t, 4) && !word_ends(t, 3) && word_ends(t, 6));
        assert_eq!(word_at(t, 0), Some(&b"ab_1"[..]));
        assert_eq!(word_at(t, 8), Some(&b"d"[..]), "after a non-ASCII byte");
        assert_eq!(skip_space(b"  \t\nx", 0), 4);
        assert!(line_starts_blank(b"  x", 2) && line_starts_blank(b"a\n \tx", 4));
        assert!(line_starts_blank(b"x", 0) && !line_starts_blank(b"a x", 2));
        assert_eq!(digits(b"x 3000)", 2, 2, 5), Some(6));
        assert_eq!(digits(b"300000", 0, 2, 5), None, "too long");
        assert_eq!(digits(b"3000ms", 0, 2, 5), None, "a word byte follows");
        assert_eq!(digits(b"8", 0, 2, 5), None, "too short");
        assert_eq!(digit_run(b"x123y", 1), 3);
        assert_eq!(digit_run(b"12", 5), 0, "past the end");
        assert_eq!(skip_quote(b"'3", 0), 1);
        assert_eq!(skip_quote(b"3", 0), 0);
        assert!(starts(b"listen(", 0, b"listen(") && !starts(b"list", 0, b"listen("));
        let found: Vec<usize> = occurrences(b"let PORT let", &["let", "PORT", "T"]).collect();
        assert_eq!(found, vec![0, 4, 7, 9]);
    }
}
