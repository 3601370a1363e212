//! A raw job-log line as GitLab's log viewer shows it: the runner's timestamp prefix removed,
//! ANSI escape codes removed, `\r`-rewritten progress reduced to what is left on screen, and
//! `section_start:`/`section_end:` markers taken out (and reported). Evidence quoted by the
//! classifier is a line of this text, so "found verbatim in the log" is checked against it.

/// A GitLab section marker found on a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionEvent {
    Start(String),
    End(String),
}

/// One line, cleaned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanLine {
    /// What the viewer shows, trailing white space removed.
    pub text: String,
    /// Section markers on the line, in order.
    pub sections: Vec<SectionEvent>,
}

/// Cleans one raw line (without its `\n`).
pub fn clean_line(raw: &[u8]) -> CleanLine {
    let raw = strip_timestamp(raw);
    let mut out = CleanLine::default();
    let mut shown: Option<String> = None;
    for segment in raw.split(|b| *b == b'\r') {
        let text = strip_ansi(segment);
        if let Some(event) = section_event(&text) {
            out.sections.push(event);
            continue;
        }
        let trimmed = text.trim_end();
        if !trimmed.is_empty() {
            shown = Some(trimmed.to_string());
        }
    }
    out.text = shown.unwrap_or_default();
    out
}

/// Cleans a whole log, one output line per input line (so line numbers agree).
pub fn clean_log(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for (i, line) in raw.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&clean_line(line.as_bytes()).text);
    }
    out
}

/// True when `evidence` (a quoted line, e.g. from a language model) appears on a line of the
/// cleaned log. Empty evidence is never found.
pub fn evidence_in_log(evidence: &str, raw_log: &str) -> bool {
    let evidence = evidence.trim();
    !evidence.is_empty()
        && raw_log
            .split('\n')
            .any(|line| clean_line(line.as_bytes()).text.contains(evidence))
}

/// GitLab Runner 17's optional per-line prefix: `2024-05-22T09:09:17.839164Z 00O ` (stream id,
/// `O`ut or `E`rr, `+` for a continued line).
fn strip_timestamp(raw: &[u8]) -> &[u8] {
    let looks_like_date = raw.len() > 24
        && raw[..4].iter().all(u8::is_ascii_digit)
        && raw[4] == b'-'
        && raw[7] == b'-'
        && raw[10] == b'T';
    if !looks_like_date {
        return raw;
    }
    let Some(z) = raw[..raw.len().min(40)].iter().position(|b| *b == b'Z') else {
        return raw;
    };
    let rest = &raw[z + 1..];
    // " 00O " or " 00O+ "
    if rest.len() >= 5
        && rest[0] == b' '
        && rest[1].is_ascii_hexdigit()
        && rest[2].is_ascii_hexdigit()
        && (rest[3] == b'O' || rest[3] == b'E')
    {
        let skip = if rest.get(4) == Some(&b'+') { 5 } else { 4 };
        if rest.get(skip) == Some(&b' ') {
            return &rest[skip + 1..];
        }
        if skip == 4 && rest.len() == 4 {
            return &[];
        }
    }
    raw
}

/// Removes CSI (`ESC [ … final`), OSC (`ESC ] … BEL|ESC \`) and two-byte escapes; invalid
/// UTF-8 becomes U+FFFD.
fn strip_ansi(segment: &[u8]) -> String {
    if !segment.contains(&0x1b) {
        return String::from_utf8_lossy(segment).into_owned();
    }
    let mut bytes = Vec::with_capacity(segment.len());
    let mut i = 0;
    while i < segment.len() {
        let b = segment[i];
        if b != 0x1b {
            bytes.push(b);
            i += 1;
            continue;
        }
        match segment.get(i + 1) {
            Some(b'[') => {
                i += 2;
                while i < segment.len() && !(0x40..=0x7e).contains(&segment[i]) {
                    i += 1;
                }
                i += 1;
            }
            Some(b']') => {
                i += 2;
                while i < segment.len() {
                    if segment[i] == 0x07 {
                        i += 1;
                        break;
                    }
                    if segment[i] == 0x1b && segment.get(i + 1) == Some(&b'\\') {
                        i += 2;
                        break;
                    }
                    i += 1;
                }
            }
            Some(_) => i += 2,
            None => i += 1,
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `section_start:1700000000:step_script[collapsed=true]` → `Start("step_script")`.
fn section_event(text: &str) -> Option<SectionEvent> {
    let (rest, start) = if let Some(r) = text.strip_prefix("section_start:") {
        (r, true)
    } else if let Some(r) = text.strip_prefix("section_end:") {
        (r, false)
    } else {
        return None;
    };
    let (_, name) = rest.split_once(':')?;
    let name = name.split('[').next().unwrap_or(name).trim().to_string();
    Some(if start {
        SectionEvent::Start(name)
    } else {
        SectionEvent::End(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_codes_and_section_markers_are_removed() {
        let raw = b"section_start:1700000000:step_script\r\x1b[0K\x1b[0;m\x1b[32;1mExecuting \"step_script\" stage\x1b[0;m";
        let line = clean_line(raw);
        assert_eq!(line.text, "Executing \"step_script\" stage");
        assert_eq!(
            line.sections,
            vec![SectionEvent::Start("step_script".into())]
        );
    }

    #[test]
    fn end_and_start_on_one_line() {
        let raw = b"\x1b[0Ksection_end:1700000100:step_script\r\x1b[0K\x1b[0Ksection_start:1700000100:after_script[collapsed=true]\r\x1b[0K\x1b[0K\x1b[36;1mRunning after_script\x1b[0;m";
        let line = clean_line(raw);
        assert_eq!(line.text, "Running after_script");
        assert_eq!(
            line.sections,
            vec![
                SectionEvent::End("step_script".into()),
                SectionEvent::Start("after_script".into())
            ]
        );
    }

    #[test]
    fn progress_rewrites_keep_what_is_left_on_screen() {
        let line = clean_line(b"Downloading 10%\rDownloading 55%\rDownloading 100%\r");
        assert_eq!(line.text, "Downloading 100%");
        assert_eq!(clean_line(b"done\r").text, "done");
    }

    #[test]
    fn runner_timestamps_are_removed() {
        assert_eq!(
            clean_line(b"2024-05-22T09:09:17.839164Z 00O $ make test").text,
            "$ make test"
        );
        assert_eq!(
            clean_line(b"2024-05-22T09:09:17.839164Z 01E+ partial").text,
            "partial"
        );
        assert_eq!(
            clean_line(b"2024-05-22 is a date").text,
            "2024-05-22 is a date"
        );
    }

    #[test]
    fn osc_sequences_and_invalid_utf8_are_handled() {
        assert_eq!(
            clean_line(b"\x1b]8;;http://x\x07link\x1b]8;;\x07 \xff ok").text,
            "link \u{fffd} ok"
        );
    }

    #[test]
    fn evidence_must_be_on_a_cleaned_line() {
        let log = "a\n\x1b[31merror: disk\x1b[0m full\nb";
        assert!(evidence_in_log("error: disk full", log));
        assert!(!evidence_in_log("error: disk is full", log));
        assert!(!evidence_in_log("  ", log));
        assert_eq!(clean_log(log), "a\nerror: disk full\nb");
    }
}
