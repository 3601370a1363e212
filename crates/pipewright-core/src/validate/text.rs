//! Positions in a text: 1-based line/column as people read them, and the byte offsets edits
//! need. The YAML parser counts columns in characters, so the conversion walks one line's
//! characters rather than trusting any character index.

/// A 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    /// The first character of the file.
    pub const START: Pos = Pos { line: 1, column: 1 };

    pub fn new(line: usize, column: usize) -> Pos {
        Pos {
            line: line.max(1),
            column: column.max(1),
        }
    }
}

/// Byte offsets of line starts, for turning positions into offsets and back.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    /// The byte offset of `pos`, clamped to the end of its line (or of the text).
    pub fn offset(&self, pos: Pos) -> usize {
        let Some(&start) = self.starts.get(pos.line.saturating_sub(1)) else {
            return self.text.len();
        };
        let line = self.line_text(pos.line);
        let skip = pos.column.saturating_sub(1);
        start
            + line
                .char_indices()
                .nth(skip)
                .map(|(i, _)| i)
                .unwrap_or(line.len())
    }

    /// The position of byte `offset` (clamped to the text).
    pub fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts[line];
        let column = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(0);
        Pos::new(line + 1, column + 1)
    }

    /// The text of 1-based line `line`, without its line break.
    pub fn line_text(&self, line: usize) -> &'a str {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self
            .starts
            .get(line)
            .map(|e| e - 1)
            .unwrap_or(self.text.len());
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches('\r')
    }

    /// Byte offset where line `line` starts.
    pub fn line_start(&self, line: usize) -> usize {
        self.starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len())
    }

    /// Byte offset just past the last character of line `line` (before its line break).
    pub fn line_end(&self, line: usize) -> usize {
        self.line_start(line) + self.line_text(line).len()
    }

    pub fn text(&self) -> &'a str {
        self.text
    }
}

/// Appends one JSON-pointer segment, escaped as RFC 6901 (and jsonschema) write it.
pub fn push_segment(pointer: &mut String, segment: &str) {
    pointer.push('/');
    if !segment.contains(['~', '/']) {
        pointer.push_str(segment);
        return;
    }
    for c in segment.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            _ => pointer.push(c),
        }
    }
}

/// `pointer` with `segment` appended.
pub fn join(pointer: &str, segment: &str) -> String {
    let mut p = pointer.to_string();
    push_segment(&mut p, segment);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_positions_round_trip_with_multibyte_text() {
        let text = "a: é\nbé: x\n";
        let idx = LineIndex::new(text);
        let off = idx.offset(Pos::new(2, 5));
        assert_eq!(&text[off..off + 1], "x");
        assert_eq!(idx.pos(off), Pos::new(2, 5));
        assert_eq!(idx.line_text(2), "bé: x");
    }
}
