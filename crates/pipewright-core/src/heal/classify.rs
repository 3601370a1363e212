//! The streaming classifier. Bytes are fed in chunks of any size; one Aho-Corasick DFA (every
//! literal of [`SIGNATURES`], case-insensitive) runs over them once, four line-aligned parts of
//! each block at a time (see `LineFinder`), and only the lines it stops on are cleaned and
//! confirmed against the table. What is kept is bounded whatever the log's size: the best hit
//! per class (with a few lines of context), the last [`ClassifierOptions::tail_bytes`] of the
//! log, and the partial line between two chunks.

use super::class::FailureClass;
use super::clean::{clean_line, SectionEvent};
use super::patterns::{
    Meaning, Signature, EXIT_CODE_HINT, EXIT_CODE_HINTS, POST_FAILURE_SECTIONS, ROOT_CAUSES,
    SIGNATURES,
};
use super::reason::{reason_verdict, ReasonVerdict};
use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::{dfa, AhoCorasick, AhoCorasickKind, Anchored, MatchKind, StartKind};
use regex::Regex;
use serde::Serialize;
use std::sync::OnceLock;

/// Limits of what the classifier keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassifierOptions {
    /// The last bytes of the log kept for the language model (1 MiB by default).
    pub tail_bytes: usize,
    /// Lines kept before and after each evidence line.
    pub context_lines: usize,
    /// Longer lines are judged by their last this-many bytes.
    pub max_line_bytes: usize,
}

impl Default for ClassifierOptions {
    fn default() -> Self {
        ClassifierOptions {
            tail_bytes: 1024 * 1024,
            context_lines: 5,
            max_line_bytes: 64 * 1024,
        }
    }
}

/// Where the class came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// GitLab's `failure_reason` named it.
    FailureReason,
    /// A line of the log.
    Log,
    /// Only the exit code hinted at it.
    ExitCode,
    /// Nothing was recognised.
    Nothing,
}

/// Another class the log also showed evidence for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub class: FailureClass,
    /// The line, as the log viewer shows it.
    pub evidence: String,
    /// 1-based line number in the raw log.
    pub line: u64,
    /// The signature that matched.
    pub signature: &'static str,
}

/// The classifier's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    pub class: FailureClass,
    pub basis: Basis,
    /// The line that shows the cause, exactly as the log viewer shows it (ANSI codes,
    /// progress rewrites and section markers removed); `None` when no line does.
    pub evidence: Option<String>,
    /// 1-based line number of the evidence in the raw log.
    pub line: Option<u64>,
    /// The signature (pattern id) behind the evidence.
    pub signature: Option<&'static str>,
    /// 0.0 (nothing known) to 1.0.
    pub confidence: f32,
    /// Other classes with evidence, strongest and latest first (at most five).
    pub candidates: Vec<Candidate>,
    /// The exit code: as given, or read from `ERROR: Job failed: exit code N`.
    pub exit_code: Option<i32>,
    /// The GitLab section the evidence is in (`step_script`, `get_sources` …).
    pub section: Option<String>,
    /// Lines around the evidence (cleaned), for people and the language model.
    pub context: Vec<String>,
    /// Line number of the first context line.
    pub context_start: Option<u64>,
    /// The end of the log as read (at most `tail_bytes`, starting at a whole line); see
    /// [`Classification::tail`].
    #[serde(skip)]
    pub raw_tail: Vec<u8>,
    /// Lines and bytes read.
    pub lines: u64,
    pub bytes: u64,
}

/// A line that matched a class signature.
#[derive(Debug, Clone)]
struct Hit {
    signature: &'static Signature,
    class: FailureClass,
    line: u64,
    text: String,
    section: Option<String>,
    /// In an after-failure section or after `ERROR: Job failed`.
    demoted: bool,
    before: Vec<String>,
    after: Vec<String>,
    after_missing: usize,
}

impl Hit {
    fn tier(&self) -> u8 {
        self.signature.strength / 10
    }
}

/// The compiled table, built once per process.
struct Engine {
    automaton: AhoCorasick,
    /// The same literals as a bare DFA, stepped by hand to find the lines holding one.
    lines: LineFinder,
    /// Literal id → signatures using it.
    by_literal: Vec<Vec<u16>>,
    confirms: Vec<Option<Regex>>,
    exit_code: Regex,
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut literals: Vec<&'static str> = Vec::new();
        let mut by_literal: Vec<Vec<u16>> = Vec::new();
        for (i, s) in SIGNATURES.iter().enumerate() {
            for lit in s.literals {
                match literals.iter().position(|l| l == lit) {
                    Some(at) => by_literal[at].push(i as u16),
                    None => {
                        literals.push(lit);
                        by_literal.push(vec![i as u16]);
                    }
                }
            }
        }
        // The table is a constant checked by unit tests; a failure here is a programming error.
        // This automaton only names the literals on the few lines the DFA of `lines` stops on:
        // the compact NFA does that as well, in a fraction of the DFA's memory.
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&literals)
            .expect("the signature literals build an automaton");
        let lines = LineFinder::new(&literals);
        let confirms = SIGNATURES
            .iter()
            .map(|s| {
                s.confirm
                    .map(|re| Regex::new(re).expect("signature regexes compile"))
            })
            .collect();
        Engine {
            automaton,
            lines,
            by_literal,
            confirms,
            exit_code: Regex::new(r"exit (?:code|status) (\d+)").expect("exit code regex"),
        }
    })
}

/// Bytes of whole lines searched for literal-holding lines at a time (a longer line makes a
/// longer block).
const BLOCK_BYTES: usize = 64 * 1024;

/// The end of the block of whole lines of `region` (which ends with `\n`) starting at `from`.
fn block_end(region: &[u8], from: usize) -> usize {
    let want = from + BLOCK_BYTES;
    if want >= region.len() {
        return region.len();
    }
    memchr::memchr(b'\n', &region[want..]).map_or(region.len(), |i| want + i + 1)
}

/// Finds the lines that hold at least one literal of the table (case-insensitively): the
/// lines the Aho-Corasick automaton would stop on. No literal holds a `\n`, so at every line
/// start the automaton is back in its start state, and a block of whole lines can be cut at
/// line starts into four parts searched independently. The four are stepped in one loop: one
/// walk through the DFA waits on each table look-up before the next, four walks overlap theirs
/// (about 3.3 times the throughput of the automaton's own search on ordinary build output).
struct LineFinder {
    dfa: dfa::DFA,
    start: StateID,
}

/// One part of a block being walked: the next byte and the automaton's state before it.
struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
    sid: StateID,
}

impl LineFinder {
    fn new(literals: &[&str]) -> Self {
        // The table is a constant checked by unit tests; a failure here is a programming error.
        let dfa = dfa::DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .start_kind(StartKind::Unanchored)
            .prefilter(false)
            .build(literals)
            .expect("the signature literals build a DFA");
        let start = dfa
            .start_state(Anchored::No)
            .expect("the DFA has an unanchored start state");
        LineFinder { dfa, start }
    }

    /// Appends to `out`, in order, `base` plus the start of every line of `block` (whole lines;
    /// the last may lack its `\n`) that holds a literal. `spare` is scratch space.
    fn find(&self, block: &[u8], base: usize, out: &mut Vec<usize>, spare: &mut [Vec<usize>; 3]) {
        // Cut points: line starts near each quarter.
        let mut cut = [0; 5];
        for q in 1..4 {
            let want = (block.len() * q / 4).max(cut[q - 1]);
            cut[q] = memchr::memchr(b'\n', &block[want..]).map_or(block.len(), |i| want + i + 1);
        }
        cut[4] = block.len();
        let mut w: [Walk<'_>; 4] = std::array::from_fn(|q| Walk {
            bytes: &block[cut[q]..cut[q + 1]],
            at: 0,
            sid: self.start,
        });
        for s in spare.iter_mut() {
            s.clear();
        }
        let [o1, o2, o3] = spare;
        loop {
            let n = w.iter().map(|w| w.bytes.len() - w.at).min().unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut s = [w[0].sid, w[1].sid, w[2].sid, w[3].sid];
            let mut k = 0;
            let bytes = w[0].bytes[w[0].at..w[0].at + n]
                .iter()
                .zip(&w[1].bytes[w[1].at..w[1].at + n])
                .zip(&w[2].bytes[w[2].at..w[2].at + n])
                .zip(&w[3].bytes[w[3].at..w[3].at + n]);
            for (((&c0, &c1), &c2), &c3) in bytes {
                s[0] = self.dfa.next_state(Anchored::No, s[0], c0);
                s[1] = self.dfa.next_state(Anchored::No, s[1], c1);
                s[2] = self.dfa.next_state(Anchored::No, s[2], c2);
                s[3] = self.dfa.next_state(Anchored::No, s[3], c3);
                k += 1;
                if s.iter().any(|&s| self.dfa.is_special(s)) {
                    break;
                }
            }
            for (w, s) in w.iter_mut().zip(s) {
                w.at += k;
                w.sid = s;
            }
            let [w0, w1, w2, w3] = &mut w;
            self.settle(w0, base + cut[0], out);
            self.settle(w1, base + cut[1], o1);
            self.settle(w2, base + cut[2], o2);
            self.settle(w3, base + cut[3], o3);
        }
        let [w0, w1, w2, w3] = &mut w;
        self.walk_alone(w0, base + cut[0], out);
        self.walk_alone(w1, base + cut[1], o1);
        self.walk_alone(w2, base + cut[2], o2);
        self.walk_alone(w3, base + cut[3], o3);
        for s in spare.iter() {
            out.extend_from_slice(s);
        }
    }

    /// Walks the rest of one part.
    fn walk_alone(&self, w: &mut Walk<'_>, base: usize, out: &mut Vec<usize>) {
        while w.at < w.bytes.len() {
            let mut sid = w.sid;
            let mut k = 0;
            for &c in &w.bytes[w.at..] {
                sid = self.dfa.next_state(Anchored::No, sid, c);
                k += 1;
                if self.dfa.is_special(sid) {
                    break;
                }
            }
            w.at += k;
            w.sid = sid;
            self.settle(w, base, out);
        }
    }

    /// When the walk has just matched: records its line and moves on to the next line.
    fn settle(&self, w: &mut Walk<'_>, base: usize, out: &mut Vec<usize>) {
        if !self.dfa.is_match(w.sid) {
            return;
        }
        let line_start = memchr::memrchr(b'\n', &w.bytes[..w.at]).map_or(0, |i| i + 1);
        out.push(base + line_start);
        w.at = memchr::memchr(b'\n', &w.bytes[w.at..]).map_or(w.bytes.len(), |i| w.at + i + 1);
        w.sid = self.start;
    }
}

/// Bytes before a hit kept to find its preceding context lines.
const RECENT_BYTES: usize = 8 * 1024;
/// Evidence and context lines are cut to this many bytes.
const MAX_EVIDENCE_BYTES: usize = 2000;
/// Candidates reported besides the winner.
const MAX_CANDIDATES: usize = 5;

/// Classifies a failed job's log fed in chunks.
///
/// ```
/// use pipewright_core::heal::{Classifier, FailureClass};
/// let mut c = Classifier::new(Default::default());
/// c.feed(b"$ make\n/bin/sh: 1: make: not found\nERROR: Job failed: exit code 127\n");
/// let result = c.finish();
/// assert_eq!(result.class, FailureClass::MissingCommand);
/// assert_eq!(result.evidence.as_deref(), Some("/bin/sh: 1: make: not found"));
/// assert_eq!(result.line, Some(2));
/// ```
pub struct Classifier {
    options: ClassifierOptions,
    failure_reason: Option<String>,
    exit_code: Option<i32>,
    carry: Vec<u8>,
    recent: Vec<u8>,
    tail: Vec<u8>,
    tail_starts_at_line_start: bool,
    lines: u64,
    bytes: u64,
    section: Option<String>,
    job_failed: Option<(u64, String, Option<i32>)>,
    /// Per class: [primary, demoted].
    slots: Vec<Option<Hit>>,
}

impl Classifier {
    pub fn new(options: ClassifierOptions) -> Self {
        Classifier {
            options: ClassifierOptions {
                max_line_bytes: options.max_line_bytes.max(256),
                ..options
            },
            failure_reason: None,
            exit_code: None,
            carry: Vec::new(),
            recent: Vec::new(),
            tail: Vec::new(),
            tail_starts_at_line_start: true,
            lines: 0,
            bytes: 0,
            section: None,
            job_failed: None,
            slots: vec![None; FailureClass::ALL.len() * 2],
        }
    }

    /// GitLab's `failure_reason` for the job, when known.
    pub fn with_failure_reason(mut self, reason: Option<&str>) -> Self {
        self.failure_reason = reason.map(str::to_string).filter(|r| !r.trim().is_empty());
        self
    }

    /// The job's exit code, when known (otherwise read from the log).
    pub fn with_exit_code(mut self, code: Option<i32>) -> Self {
        self.exit_code = code;
        self
    }

    /// Reads the next chunk of the log.
    pub fn feed(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.bytes += data.len() as u64;
        self.keep_tail(data);
        let Some(last_nl) = memchr::memrchr(b'\n', data) else {
            self.extend_carry(data);
            return;
        };
        let mut region = &data[..=last_nl];
        if !self.carry.is_empty() {
            let first_nl = memchr::memchr(b'\n', region).unwrap_or(region.len() - 1);
            let mut line = std::mem::take(&mut self.carry);
            line.extend_from_slice(&region[..=first_nl]);
            self.scan_region(&line);
            line.clear();
            self.carry = line;
            region = &region[first_nl + 1..];
        }
        if !region.is_empty() {
            self.scan_region(region);
        }
        self.extend_carry(&data[last_nl + 1..]);
    }

    /// Ends the log and answers.
    pub fn finish(mut self) -> Classification {
        if !self.carry.is_empty() {
            let mut line = std::mem::take(&mut self.carry);
            line.push(b'\n');
            self.scan_region(&line);
        }
        self.decide()
    }

    fn has_pending(&self) -> bool {
        self.slots.iter().flatten().any(|h| h.after_missing > 0)
    }

    fn keep_tail(&mut self, data: &[u8]) {
        let cap = self.options.tail_bytes;
        if cap == 0 {
            return;
        }
        if data.len() >= cap {
            let cut = data.len() - cap;
            self.tail_starts_at_line_start = cut == 0 || data[cut - 1] == b'\n';
            self.tail.clear();
            self.tail.extend_from_slice(&data[cut..]);
            return;
        }
        self.tail.extend_from_slice(data);
        if self.tail.len() > 2 * cap {
            let cut = self.tail.len() - cap;
            self.tail_starts_at_line_start = self.tail[cut - 1] == b'\n';
            self.tail.drain(..cut);
        }
    }

    fn extend_carry(&mut self, rest: &[u8]) {
        self.carry.extend_from_slice(rest);
        let cap = self.options.max_line_bytes;
        if self.carry.len() > 2 * cap {
            let cut = self.carry.len() - cap;
            self.carry.drain(..cut);
        }
    }

    fn remember_recent(&mut self, region: &[u8]) {
        if region.len() >= RECENT_BYTES {
            self.recent.clear();
            self.recent
                .extend_from_slice(&region[region.len() - RECENT_BYTES..]);
        } else {
            self.recent.extend_from_slice(region);
            if self.recent.len() > 2 * RECENT_BYTES {
                let cut = self.recent.len() - RECENT_BYTES;
                self.recent.drain(..cut);
            }
        }
    }

    /// Scans whole lines (`region` ends with `\n`).
    fn scan_region(&mut self, region: &[u8]) {
        let engine = engine();
        // Starts of the lines of `region[..scanned]` that hold a literal, ascending; those
        // before `found[next]` are behind `pos`.
        let mut found: Vec<usize> = Vec::new();
        let mut spare: [Vec<usize>; 3] = Default::default();
        let mut next = 0;
        let mut scanned = 0;
        let mut pos = 0;
        while pos < region.len() {
            while found.get(next).is_some_and(|&f| f < pos) {
                next += 1;
            }
            if next == found.len() && scanned < region.len() {
                let from = scanned.max(pos);
                let to = block_end(region, from);
                found.clear();
                next = 0;
                engine
                    .lines
                    .find(&region[from..to], from, &mut found, &mut spare);
                scanned = to;
                continue;
            }
            if self.has_pending() {
                let end = pos + memchr::memchr(b'\n', &region[pos..]).unwrap_or(region.len() - pos);
                self.lines += 1;
                let cleaned =
                    clean_line(cap_line(&region[pos..end], self.options.max_line_bytes)).text;
                for hit in self.slots.iter_mut().flatten() {
                    if hit.after_missing > 0 {
                        hit.after.push(cut_text(&cleaned));
                        hit.after_missing -= 1;
                    }
                }
                if found.get(next) == Some(&pos) {
                    self.on_line(region, pos, end);
                }
                pos = end + 1;
                continue;
            }
            match found.get(next) {
                None => {
                    self.lines += memchr::memchr_iter(b'\n', &region[pos..]).count() as u64;
                    pos = region.len();
                }
                Some(&start) => {
                    self.lines += memchr::memchr_iter(b'\n', &region[pos..start]).count() as u64;
                    let end = start
                        + memchr::memchr(b'\n', &region[start..]).unwrap_or(region.len() - start);
                    self.lines += 1;
                    self.on_line(region, start, end);
                    pos = end + 1;
                }
            }
        }
        self.remember_recent(region);
    }

    /// Judges the line `region[start..end]`, which is line number `self.lines`. Its following
    /// context lines are collected as the scan reaches them.
    fn on_line(&mut self, region: &[u8], start: usize, end: usize) {
        let engine = engine();
        let cleaned = clean_line(cap_line(&region[start..end], self.options.max_line_bytes));
        for event in &cleaned.sections {
            match event {
                SectionEvent::Start(name) => self.section = Some(name.clone()),
                SectionEvent::End(name) => {
                    if self.section.as_deref() == Some(name) {
                        self.section = None;
                    }
                }
            }
        }
        let text = cleaned.text;
        if text.is_empty() {
            return;
        }
        let mut best: Option<&'static Signature> = None;
        let mut job_failed = false;
        let mut seen: Vec<u16> = Vec::new();
        for m in engine.automaton.find_overlapping_iter(text.as_bytes()) {
            for &s in &engine.by_literal[m.pattern().as_usize()] {
                if seen.contains(&s) {
                    continue;
                }
                seen.push(s);
                let sig = &SIGNATURES[s as usize];
                if let Some(re) = &engine.confirms[s as usize] {
                    if !re.is_match(&text) {
                        continue;
                    }
                }
                match sig.meaning {
                    Meaning::JobFailed => job_failed = true,
                    Meaning::Section => {}
                    Meaning::Class(_) => {
                        if best.is_none_or(|b| sig.strength > b.strength) {
                            best = Some(sig);
                        }
                    }
                }
            }
        }
        let line = self.lines;
        if let Some(sig) = best {
            let Meaning::Class(class) = sig.meaning else {
                return;
            };
            let demoted = self.job_failed.is_some()
                || self
                    .section
                    .as_deref()
                    .is_some_and(|s| POST_FAILURE_SECTIONS.contains(&s));
            let slot = class.index() * 2 + usize::from(demoted);
            let replace = self.slots[slot]
                .as_ref()
                .is_none_or(|old| sig.strength / 10 >= old.tier());
            if replace {
                self.slots[slot] = Some(Hit {
                    signature: sig,
                    class,
                    line,
                    text: cut_text(&text),
                    section: self.section.clone(),
                    demoted,
                    before: preceding_lines(&self.recent, &region[..start], self.options),
                    after: Vec::new(),
                    after_missing: self.options.context_lines,
                });
            }
        }
        if job_failed && self.job_failed.is_none() {
            let code = engine
                .exit_code
                .captures(&text)
                .and_then(|c| c[1].parse::<i32>().ok());
            self.job_failed = Some((line, cut_text(&text), code));
        }
    }

    fn decide(self) -> Classification {
        let exit_code = self
            .exit_code
            .or_else(|| self.job_failed.as_ref().and_then(|j| j.2));
        let raw_tail = self.tail_bytes();
        // Errors after the failure (after_script, artifacts of a failed job) are consequences:
        // candidates, never the answer.
        let mut hits: Vec<&Hit> = self.slots.iter().flatten().collect();
        hits.sort_by_key(|h| std::cmp::Reverse((!h.demoted, h.tier(), h.line)));
        let primary: Vec<&Hit> = hits.iter().copied().filter(|h| !h.demoted).collect();
        let winner = primary.first().map(|w| root_cause(w, &primary));
        let verdict = self
            .failure_reason
            .as_deref()
            .map(reason_verdict)
            .unwrap_or(ReasonVerdict::ReadLog);
        let base = Classification {
            class: FailureClass::Unknown,
            basis: Basis::Nothing,
            evidence: None,
            line: None,
            signature: None,
            confidence: 0.0,
            candidates: Vec::new(),
            exit_code,
            section: None,
            context: Vec::new(),
            context_start: None,
            raw_tail,
            lines: self.lines,
            bytes: self.bytes,
        };
        let candidates = |winner: FailureClass| -> Vec<Candidate> {
            let mut out: Vec<Candidate> = Vec::new();
            for h in &hits {
                if h.class != winner && !out.iter().any(|c| c.class == h.class) {
                    out.push(Candidate {
                        class: h.class,
                        evidence: h.text.clone(),
                        line: h.line,
                        signature: h.signature.id,
                    });
                }
            }
            out.truncate(MAX_CANDIDATES);
            out
        };
        let with_hit = |mut c: Classification, h: &Hit| {
            c.evidence = Some(h.text.clone());
            c.line = Some(h.line);
            c.signature = Some(h.signature.id);
            c.section = h.section.clone();
            c.context_start = Some(h.line - h.before.len() as u64);
            c.context = h
                .before
                .iter()
                .chain(std::iter::once(&h.text))
                .chain(h.after.iter())
                .cloned()
                .collect();
            c
        };
        if let ReasonVerdict::Decisive(class) = verdict {
            let own = self.slots[class.index() * 2]
                .as_ref()
                .or(self.slots[class.index() * 2 + 1].as_ref());
            let mut c = Classification {
                class,
                basis: Basis::FailureReason,
                confidence: 0.97,
                candidates: candidates(class),
                ..base
            };
            if let Some(h) = own {
                c = with_hit(c, h);
            }
            return c;
        }
        let exit_hint = exit_code.and_then(|code| {
            EXIT_CODE_HINTS
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, class)| *class)
        });
        match winner {
            Some(winner) if winner.tier() > EXIT_CODE_HINT / 10 || exit_hint.is_none() => {
                let rival = primary
                    .iter()
                    .any(|h| h.class != winner.class && h.tier() == winner.tier());
                let mut confidence = f32::from(winner.signature.strength) / 100.0;
                if rival {
                    confidence *= 0.8;
                }
                if winner.demoted {
                    confidence *= 0.7;
                }
                let c = Classification {
                    class: winner.class,
                    basis: Basis::Log,
                    confidence: (confidence * 100.0).round() / 100.0,
                    candidates: candidates(winner.class),
                    ..base
                };
                with_hit(c, winner)
            }
            _ => match exit_hint {
                Some(class) => {
                    let (line, evidence) = match &self.job_failed {
                        Some((line, text, Some(_))) => (Some(*line), Some(text.clone())),
                        _ => (None, None),
                    };
                    Classification {
                        class,
                        basis: Basis::ExitCode,
                        evidence,
                        line,
                        confidence: f32::from(EXIT_CODE_HINT) / 100.0,
                        candidates: candidates(class),
                        ..base
                    }
                }
                None => base,
            },
        }
    }

    fn tail_bytes(&self) -> Vec<u8> {
        let cap = self.options.tail_bytes;
        let mut bytes: &[u8] = &self.tail;
        let mut whole_line = self.tail_starts_at_line_start;
        if bytes.len() > cap {
            whole_line = bytes[bytes.len() - cap - 1] == b'\n';
            bytes = &bytes[bytes.len() - cap..];
        }
        if !whole_line {
            if let Some(nl) = memchr::memchr(b'\n', bytes) {
                bytes = &bytes[nl + 1..];
            }
        }
        bytes.to_vec()
    }
}

/// The hit that explains `winner`, per [`ROOT_CAUSES`]: the strongest, latest hit of a cause
/// class at most two tiers weaker; `winner` itself otherwise. `hits` is sorted best first.
fn root_cause<'a>(winner: &'a Hit, hits: &[&'a Hit]) -> &'a Hit {
    let Some((_, causes)) = ROOT_CAUSES
        .iter()
        .find(|(effect, _)| *effect == winner.class)
    else {
        return winner;
    };
    hits.iter()
        .copied()
        .find(|h| causes.contains(&h.class) && h.tier() + 2 >= winner.tier())
        .unwrap_or(winner)
}

impl Classification {
    /// The end of the log, cleaned as the log viewer shows it (for people and the model).
    pub fn tail(&self) -> String {
        let text = String::from_utf8_lossy(&self.raw_tail);
        super::clean::clean_log(text.trim_end_matches('\n'))
    }
}

impl std::io::Write for Classifier {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.feed(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Classifies a whole log held in memory (tests, small logs); large logs go through
/// [`Classifier::feed`].
pub fn classify(
    log: &[u8],
    failure_reason: Option<&str>,
    exit_code: Option<i32>,
) -> Classification {
    let mut c = Classifier::new(ClassifierOptions::default())
        .with_failure_reason(failure_reason)
        .with_exit_code(exit_code);
    c.feed(log);
    c.finish()
}

fn cap_line(line: &[u8], max: usize) -> &[u8] {
    if line.len() > max {
        &line[line.len() - max..]
    } else {
        line
    }
}

fn cut_text(text: &str) -> String {
    if text.len() <= MAX_EVIDENCE_BYTES {
        return text.to_string();
    }
    let mut end = MAX_EVIDENCE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// The last `context_lines` lines before a hit: from the region, and before it from the bytes
/// remembered of earlier regions.
fn preceding_lines(recent: &[u8], before: &[u8], options: ClassifierOptions) -> Vec<String> {
    let want = options.context_lines;
    if want == 0 {
        return Vec::new();
    }
    let mut joined: Vec<u8>;
    let source: &[u8] =
        if memchr::memchr_iter(b'\n', before).count() > want || before.len() >= RECENT_BYTES {
            before
        } else {
            joined = recent.to_vec();
            joined.extend_from_slice(before);
            joined.as_slice()
        };
    let source = source.strip_suffix(b"\n").unwrap_or(source);
    if source.is_empty() {
        return Vec::new();
    }
    let mut lines: Vec<String> = source
        .rsplit(|b| *b == b'\n')
        .take(want)
        .map(|l| cut_text(&clean_line(cap_line(l, options.max_line_bytes)).text))
        .collect();
    lines.reverse();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines the automaton's own search stops on, one by one.
    fn lines_by_search(block: &[u8]) -> Vec<usize> {
        let engine = engine();
        let mut out = Vec::new();
        let mut start = 0;
        for line in block.split(|b| *b == b'\n') {
            if engine.automaton.is_match(line) {
                out.push(start);
            }
            start += line.len() + 1;
        }
        out
    }

    #[test]
    fn the_line_finder_stops_on_the_lines_the_automaton_does() {
        let words: &[&[u8]] = &[
            b"ok",
            b"Compiling",
            b"\x1b[31m",
            b"ERROR",
            b"Job Failed",
            b"no space left on DEVICE",
            b"SSL",
            b"tl",
            b"s",
            b"429",
            b"x509:",
            b"\r",
            b" ",
            b"\n",
            b"\n\n",
            b"FAIL\t",
            b"timed",
            b" out",
            b"\xff\xfe",
        ];
        let finder = &engine().lines;
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut found, mut spare) = (Vec::new(), Default::default());
        for round in 0..2000 {
            let len = (next() % if round % 10 == 0 { 600 } else { 60 }) as usize;
            let block: Vec<u8> = (0..len)
                .flat_map(|_| {
                    words[(next() % words.len() as u64) as usize]
                        .iter()
                        .copied()
                })
                .collect();
            found.clear();
            finder.find(&block, 7, &mut found, &mut spare);
            let want: Vec<usize> = lines_by_search(&block).iter().map(|s| s + 7).collect();
            assert_eq!(found, want, "{:?}", String::from_utf8_lossy(&block));
        }
    }
}
