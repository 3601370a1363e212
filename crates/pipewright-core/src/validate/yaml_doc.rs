//! YAML with positions, for untrusted `.gitlab-ci.yml` files: the document as JSON (what
//! GitLab's schema and the rules read) plus a map from JSON pointer to line/column, so every
//! finding points at the text that causes it.
//!
//! Built straight from saphyr's event stream (each event carries its span), in one pass and
//! without an intermediate tree: duplicate keys are recorded with both positions (saphyr's own
//! loader would refuse the file outright), nesting is cut off before it can exhaust the stack,
//! aliases expand within a node budget (no billion laughs), merge keys (`<<`) are applied like
//! GitLab does, and `!reference [job, key]` tags are resolved against the document within a
//! budget of their own. Values copied by an alias or a merge keep pointing at the text they
//! were copied from.

use super::catalog::{DUPLICATE_KEY, YAML_ALIAS_BUDGET, YAML_NOT_MAPPING, YAML_SYNTAX};
use super::catalog::{YAML_TOO_DEEP, YAML_TOO_LARGE};
use super::text::{push_segment, Pos};
use super::Finding;
use crate::yaml::{MAX_DEPTH, MAX_YAML_BYTES};
use saphyr::{Scalar, ScalarStyle, Tag};
use saphyr_parser::{Event, Marker, Parser, Span};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// Nodes that alias expansion may produce in one file (saphyr's default budget).
pub const MAX_ALIAS_NODES: usize = 100_000;
/// Nodes that `!reference` resolution may copy in one file.
pub const MAX_REFERENCE_NODES: usize = 200_000;
/// GitLab resolves `!reference` tags nested up to this depth.
const MAX_REFERENCE_NESTING: usize = 10;
/// Redirects (alias → anchor, merged key → source) followed when looking a position up.
const MAX_REDIRECTS: usize = 32;

/// Where one node sits in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSpan {
    /// The key naming this node in its mapping, if it has one.
    pub key: Option<Pos>,
    /// The node's first character.
    pub start: Pos,
    /// Just past the node's last character (for scalars).
    pub end: Pos,
}

/// A `!reference` whose target is not in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnresolvedReference {
    /// Where the tag is written.
    pub pointer: String,
    /// The path it names (`[".setup", "script"]`).
    pub target: Vec<String>,
}

/// Spans by JSON pointer, for the hundreds of thousands of nodes of a big file: pointers live
/// in one text arena and are found by a keyed hash, so recording a node allocates nothing of
/// its own (a `HashMap<String, _>` spent most of the load time in malloc and free).
#[derive(Debug, Clone, Default)]
struct SpanIndex {
    hasher: RandomState,
    arena: String,
    entries: Vec<(u32, u32, NodeSpan)>,
    by_hash: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    /// Pointers whose 64-bit keyed hash collides with another's (practically never).
    collisions: HashMap<String, NodeSpan>,
}

impl SpanIndex {
    fn with_capacity(nodes: usize) -> Self {
        SpanIndex {
            arena: String::with_capacity(nodes * 24),
            entries: Vec::with_capacity(nodes),
            by_hash: HashMap::with_capacity_and_hasher(nodes, Default::default()),
            ..SpanIndex::default()
        }
    }

    fn slot(&self, pointer: &str) -> (u64, Option<usize>) {
        let h = self.hasher.hash_one(pointer);
        let found = self.by_hash.get(&h).map(|&i| i as usize).filter(|&i| {
            let (start, len, _) = self.entries[i];
            self.arena.get(start as usize..(start + len) as usize) == Some(pointer)
        });
        (h, found)
    }

    fn insert(&mut self, pointer: &str, span: NodeSpan) {
        match self.slot(pointer) {
            (_, Some(i)) => self.entries[i].2 = span,
            (h, None) if self.by_hash.contains_key(&h) => {
                self.collisions.insert(pointer.to_string(), span);
            }
            (h, None) => {
                let (Ok(start), Ok(len), Ok(index)) = (
                    u32::try_from(self.arena.len()),
                    u32::try_from(pointer.len()),
                    u32::try_from(self.entries.len()),
                ) else {
                    self.collisions.insert(pointer.to_string(), span);
                    return;
                };
                self.arena.push_str(pointer);
                self.entries.push((start, len, span));
                self.by_hash.insert(h, index);
            }
        }
    }

    fn get(&self, pointer: &str) -> Option<&NodeSpan> {
        match self.slot(pointer) {
            (_, Some(i)) => Some(&self.entries[i].2),
            _ => self.collisions.get(pointer),
        }
    }
}

/// A hasher for keys that are already keyed hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A parsed pipeline: merges applied, references resolved, positions kept.
#[derive(Debug, Clone)]
pub struct YamlDoc {
    /// The configuration as JSON, key order kept.
    pub root: Value,
    spans: SpanIndex,
    /// Pointers whose content was copied from another pointer (alias site → anchor, merged
    /// key → its source).
    redirects: HashMap<String, String>,
    /// Problems found while reading that do not stop validation (duplicate keys).
    pub findings: Vec<Finding>,
    /// `!reference` tags that name nothing in this file.
    pub unresolved: Vec<UnresolvedReference>,
}

impl YamlDoc {
    /// The span of the node at `pointer`, following aliases and merges to the text the node
    /// was copied from.
    pub fn span(&self, pointer: &str) -> Option<&NodeSpan> {
        let mut p = pointer.to_string();
        for _ in 0..MAX_REDIRECTS {
            if let Some(s) = self.spans.get(&p) {
                return Some(s);
            }
            // The deepest ancestor (or the pointer itself) that is a copy.
            let mut cut = p.len();
            let redirected = loop {
                if let Some(target) = self.redirects.get(&p[..cut]) {
                    break Some(format!("{target}{}", &p[cut..]));
                }
                match p[..cut].rfind('/') {
                    Some(i) => cut = i,
                    None => break None,
                }
            };
            p = redirected?;
        }
        None
    }

    /// The span of `pointer` or of its nearest ancestor that was written in the file (values
    /// built by `!reference` have no text of their own).
    pub fn nearest_span(&self, pointer: &str) -> Option<&NodeSpan> {
        let mut p = pointer;
        loop {
            if let Some(s) = self.span(p) {
                return Some(s);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }

    /// Where the value at `pointer` starts.
    pub fn pos(&self, pointer: &str) -> Pos {
        self.nearest_span(pointer)
            .map(|s| s.start)
            .unwrap_or(Pos::START)
    }

    /// Where the key naming `pointer` is written (its value's start when it has no key).
    pub fn key_pos(&self, pointer: &str) -> Pos {
        self.nearest_span(pointer)
            .map(|s| s.key.unwrap_or(s.start))
            .unwrap_or(Pos::START)
    }

    /// The top-level mapping.
    pub fn map(&self) -> &Map<String, Value> {
        static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
        self.root.as_object().unwrap_or(&EMPTY)
    }
}

/// Reads `text` as a GitLab CI configuration. `Err` holds the one finding that stopped it
/// (syntax, size, depth, alias budget, not a mapping).
pub fn load(text: &str) -> Result<YamlDoc, Vec<Finding>> {
    if text.len() > MAX_YAML_BYTES {
        return Err(vec![YAML_TOO_LARGE.at(
            Pos::START,
            format!(
                "the file is {} bytes, more than the {MAX_YAML_BYTES}-byte limit",
                text.len()
            ),
        )]);
    }
    let mut builder = Builder {
        // About one node per dozen bytes in CI files; sizing up front saves rehashing.
        spans: SpanIndex::with_capacity(text.len() / 12),
        ..Builder::default()
    };
    let mut parser = Parser::new_from_str(text);
    // Pulling events one by one (rather than `Parser::load`, which recurses per nesting level)
    // keeps a deeply nested file from overflowing the stack before we can refuse it.
    while let Some(next) = parser.next_event() {
        match next {
            Ok((event, span)) => builder.on_event(event, span).map_err(|f| vec![*f])?,
            Err(e) => {
                // saphyr caps flow nesting itself; report that as the depth limit it is.
                let rule = if e.info().contains("recursion limit") {
                    YAML_TOO_DEEP
                } else {
                    YAML_SYNTAX
                };
                return Err(vec![rule.at(
                    marker_pos(*e.marker()),
                    format!("YAML syntax error: {}", e.info()),
                )]);
            }
        }
    }
    let Builder {
        docs,
        spans,
        redirects,
        duplicates,
        ..
    } = builder;
    let findings: Vec<Finding> = duplicates
        .iter()
        .map(|d| {
            DUPLICATE_KEY.at(
                d.again,
                format!(
                    "key `{}` appears again in this mapping (first at line {}); YAML keeps only the last one{}",
                    d.key,
                    d.first.line,
                    if d.key == "<<" { ": merge several anchors with `<<: [*a, *b]`" } else { "" }
                ),
            )
        })
        .collect();
    let root = match pick_documents(docs)? {
        (Some(Value::Object(header)), Value::Object(mut config)) => {
            // The `spec:` header goes with the configuration, as GitLab reads them together.
            for (k, v) in header {
                config.entry(k).or_insert(v);
            }
            Value::Object(config)
        }
        (_, config) => config,
    };
    if !root.is_object() {
        let at = spans.get("").map(|s| s.start).unwrap_or(Pos::START);
        return Err(vec![YAML_NOT_MAPPING.at(
            at,
            "the document is not a mapping; a pipeline is a mapping of keywords and jobs",
        )]);
    }
    let mut doc = YamlDoc {
        root,
        spans,
        redirects,
        findings: Vec::new(),
        unresolved: Vec::new(),
    };
    doc.unresolved = resolve_references(&mut doc).map_err(|f| vec![*f])?;
    doc.findings = findings;
    Ok(doc)
}

fn marker_pos(m: Marker) -> Pos {
    Pos::new(m.line(), m.col() + 1)
}

/// GitLab files may open with a `spec:` header document; the configuration is then the next.
fn pick_documents(docs: Vec<Value>) -> Result<(Option<Value>, Value), Vec<Finding>> {
    let is_header = |d: &Value| {
        d.as_object()
            .is_some_and(|m| m.len() == 1 && m.contains_key("spec"))
    };
    let mut real = docs.into_iter().filter(|d| !d.is_null());
    let first = real.next().ok_or_else(|| {
        vec![YAML_NOT_MAPPING.at(
            Pos::START,
            "the file holds no YAML document; a pipeline is a mapping of keywords and jobs",
        )]
    })?;
    if is_header(&first) {
        if let Some(second) = real.next() {
            return Ok((Some(first), second));
        }
    }
    Ok((None, first))
}

struct Duplicate {
    key: String,
    first: Pos,
    again: Pos,
}

/// A container being built.
struct Frame {
    kind: FrameKind,
    /// Length of the builder's pointer before this container's segment was pushed.
    pointer_len: usize,
    anchor: usize,
    is_reference: bool,
    /// The container is a complex mapping key, not a value.
    is_key: bool,
}

enum FrameKind {
    Sequence(Vec<Value>),
    Mapping {
        map: Map<String, Value>,
        /// The key waiting for its value, and where it is written.
        key: Option<(String, Pos)>,
        /// `<<` merge sources, with the pointer their content was read at.
        merges: Vec<(String, Value)>,
        merge_key: Option<Pos>,
    },
}

/// Builds JSON values and spans from parser events.
#[derive(Default)]
struct Builder {
    frames: Vec<Frame>,
    /// Pointer of the innermost container.
    pointer: String,
    spans: SpanIndex,
    redirects: HashMap<String, String>,
    /// Anchor id → pointer of the anchored node (its value is looked up when an alias uses
    /// it, so defining anchors costs nothing).
    anchors: HashMap<usize, String>,
    /// Anchored values that are not in the tree: `<<` merge sources (consumed by the merge)
    /// and keys.
    detached_anchors: HashMap<usize, Value>,
    alias_nodes: usize,
    duplicates: Vec<Duplicate>,
    docs: Vec<Value>,
}

impl Builder {
    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<(), Box<Finding>> {
        let start = marker_pos(span.start);
        match event {
            Event::DocumentStart(_) => {
                self.anchors.clear();
                self.detached_anchors.clear();
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar_value(text.clone(), style, tag.as_ref());
                if self.expecting_key() {
                    let key = match &value {
                        Value::String(s) => s.clone(),
                        Value::Null => "null".to_string(),
                        other => other.to_string(),
                    };
                    if anchor > 0 {
                        self.detached_anchors
                            .insert(anchor, Value::String(key.clone()));
                    }
                    self.take_key(key, start);
                    return Ok(());
                }
                let pointer_len = self.enter_span(start, marker_pos(span.end));
                if anchor > 0 {
                    self.anchors.insert(anchor, self.pointer.clone());
                }
                self.pointer.truncate(pointer_len);
                self.add_value(value, anchor);
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag)
                if self.frames.len() >= MAX_DEPTH =>
            {
                let _ = (anchor, tag);
                return Err(Box::new(YAML_TOO_DEEP.at(
                    start,
                    format!("the YAML nests deeper than {MAX_DEPTH} levels"),
                )));
            }
            Event::SequenceStart(anchor, tag) => {
                let is_reference = tag.as_ref().is_some_and(|t| is_reference_tag(t));
                self.open(FrameKind::Sequence(Vec::new()), anchor, is_reference, start);
            }
            Event::MappingStart(anchor, _) => {
                let kind = FrameKind::Mapping {
                    map: Map::new(),
                    key: None,
                    merges: Vec::new(),
                    merge_key: None,
                };
                self.open(kind, anchor, false, start);
            }
            Event::SequenceEnd | Event::MappingEnd => self.close()?,
            Event::Alias(id) => {
                let value = self.resolve_alias(id, start)?;
                if self.expecting_key() {
                    let key = value
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| value.to_string());
                    self.take_key(key, start);
                    return Ok(());
                }
                let pointer_len = self.enter_span(start, marker_pos(span.end));
                if let Some(target) = self.anchors.get(&id) {
                    self.redirects.insert(self.pointer.clone(), target.clone());
                }
                self.pointer.truncate(pointer_len);
                self.add_value(value, 0);
            }
            _ => {}
        }
        Ok(())
    }

    fn expecting_key(&self) -> bool {
        matches!(
            self.frames.last(),
            Some(Frame {
                kind: FrameKind::Mapping { key: None, .. },
                ..
            })
        )
    }

    /// Records a mapping key (and a duplicate, if it is one).
    fn take_key(&mut self, key: String, at: Pos) {
        let Some(Frame {
            kind:
                FrameKind::Mapping {
                    map,
                    key: slot,
                    merge_key,
                    ..
                },
            ..
        }) = self.frames.last_mut()
        else {
            return;
        };
        let first = if key == "<<" {
            merge_key.replace(at)
        } else if map.contains_key(&key) {
            let mut p = self.pointer.clone();
            push_segment(&mut p, &key);
            self.spans.get(&p).and_then(|s| s.key)
        } else {
            None
        };
        if let Some(first) = first {
            self.duplicates.push(Duplicate {
                key: key.clone(),
                first,
                again: at,
            });
        }
        *slot = Some((key, at));
    }

    /// Pushes the segment of the child about to be added and records its span; returns the
    /// pointer length to restore.
    fn enter_span(&mut self, start: Pos, end: Pos) -> usize {
        let (pointer_len, key) = self.enter_child();
        self.spans
            .insert(&self.pointer, NodeSpan { key, start, end });
        pointer_len
    }

    /// Pushes the segment of the child about to be added; returns the pointer length to
    /// restore and the child's key position.
    fn enter_child(&mut self) -> (usize, Option<Pos>) {
        let Builder {
            frames, pointer, ..
        } = self;
        let len = pointer.len();
        match frames.last() {
            Some(Frame {
                kind: FrameKind::Sequence(items),
                ..
            }) => {
                use std::fmt::Write as _;
                let _ = write!(pointer, "/{}", items.len());
                (len, None)
            }
            Some(Frame {
                kind:
                    FrameKind::Mapping {
                        key: Some((k, at)), ..
                    },
                ..
            }) => {
                push_segment(pointer, k);
                (len, Some(*at))
            }
            // A complex key (or the document root).
            Some(_) => {
                push_segment(pointer, "?");
                (len, None)
            }
            None => (len, None),
        }
    }

    fn open(&mut self, kind: FrameKind, anchor: usize, is_reference: bool, start: Pos) {
        let is_key = self.expecting_key();
        let pointer_len = self.enter_span(start, start);
        if anchor > 0 {
            self.anchors.insert(anchor, self.pointer.clone());
        }
        self.frames.push(Frame {
            kind,
            pointer_len,
            anchor,
            is_reference,
            is_key,
        });
    }

    fn close(&mut self) -> Result<(), Box<Finding>> {
        let Some(frame) = self.frames.pop() else {
            return Ok(());
        };
        let value = match frame.kind {
            FrameKind::Sequence(items) => {
                let list = Value::Array(items);
                if frame.is_reference {
                    let mut m = Map::new();
                    m.insert(REFERENCE_KEY.to_string(), list);
                    Value::Object(m)
                } else {
                    list
                }
            }
            FrameKind::Mapping {
                mut map, merges, ..
            } => {
                self.apply_merges(&mut map, merges);
                Value::Object(map)
            }
        };
        self.pointer.truncate(frame.pointer_len);
        if frame.is_key {
            let key = value.to_string();
            let at = self
                .spans
                .get(&self.pointer)
                .map(|s| s.start)
                .unwrap_or(Pos::START);
            self.take_key(key, at);
        } else {
            self.add_value(value, frame.anchor);
        }
        Ok(())
    }

    /// Adds `value` to the innermost container (or ends the document).
    fn add_value(&mut self, value: Value, anchor: usize) {
        match self.frames.last_mut() {
            None => self.docs.push(value),
            Some(Frame {
                kind: FrameKind::Sequence(items),
                ..
            }) => items.push(value),
            Some(Frame {
                kind:
                    FrameKind::Mapping {
                        map, key, merges, ..
                    },
                ..
            }) => {
                let Some((k, _)) = key.take() else { return };
                if k == "<<" {
                    let mut source = self.pointer.clone();
                    push_segment(&mut source, "<<");
                    if anchor > 0 {
                        self.detached_anchors.insert(anchor, value.clone());
                    }
                    // A repeated `<<` replaces the earlier one, as for any duplicate key.
                    merges.clear();
                    merges.push((source, value));
                } else {
                    map.insert(k, value);
                }
            }
        }
    }

    /// Applies `<<` sources: keys the mapping lacks are added, earlier sources first, and
    /// each added key points back at the text it came from.
    fn apply_merges(&mut self, map: &mut Map<String, Value>, merges: Vec<(String, Value)>) {
        let mut sources = Vec::new();
        for (pointer, value) in merges {
            match value {
                Value::Object(m) => sources.push((pointer, m)),
                Value::Array(items) => {
                    for (i, item) in items.into_iter().enumerate() {
                        if let Value::Object(m) = item {
                            let mut p = pointer.clone();
                            push_segment(&mut p, &i.to_string());
                            sources.push((p, m));
                        }
                    }
                }
                _ => {}
            }
        }
        for (source, entries) in sources {
            for (k, v) in entries {
                if map.contains_key(&k) {
                    continue;
                }
                let mut to = self.pointer.clone();
                push_segment(&mut to, &k);
                let mut from = source.clone();
                push_segment(&mut from, &k);
                self.redirects.insert(to, from);
                map.insert(k, v);
            }
        }
    }

    /// A copy of the anchored value, charged to the alias budget.
    fn resolve_alias(&mut self, id: usize, at: Pos) -> Result<Value, Box<Finding>> {
        let value = match self.anchors.get(&id) {
            Some(pointer) => self
                .lookup(pointer)
                .or_else(|| self.detached_anchors.get(&id)),
            None => None,
        };
        let Some(value) = value else {
            return Ok(Value::Null);
        };
        let mut remaining = MAX_ALIAS_NODES.saturating_sub(self.alias_nodes);
        if !charge(value, &mut remaining) {
            return Err(Box::new(YAML_ALIAS_BUDGET.at(
                at,
                format!("alias expansion exceeded the maximum node budget (possible billion-laughs attack): anchors may expand to at most {MAX_ALIAS_NODES} nodes"),
            )));
        }
        let copy = value.clone();
        self.alias_nodes = MAX_ALIAS_NODES - remaining;
        Ok(copy)
    }

    /// The finished node at `pointer`, found in the containers still being built.
    fn lookup(&self, pointer: &str) -> Option<&Value> {
        // The deepest open container whose pointer starts `pointer` holds the node (or an
        // ancestor of it) as a finished child.
        for (depth, frame) in self.frames.iter().enumerate().rev() {
            let own = match self.frames.get(depth + 1) {
                Some(child) => &self.pointer[..child.pointer_len],
                None => self.pointer.as_str(),
            };
            let Some(rest) = pointer.strip_prefix(own) else {
                continue;
            };
            if !rest.starts_with('/') {
                continue;
            }
            let rest = &rest[1..];
            let (first, tail) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            };
            let first = unescape(first);
            let child = match &frame.kind {
                FrameKind::Sequence(items) => {
                    first.parse::<usize>().ok().and_then(|i| items.get(i))
                }
                FrameKind::Mapping { map, .. } => map.get(&first),
            }?;
            return if tail.is_empty() {
                Some(child)
            } else {
                child.pointer(tail)
            };
        }
        None
    }
}

fn is_reference_tag(tag: &Tag) -> bool {
    tag.handle == "!" && tag.suffix == "reference"
}

/// A scalar as YAML 1.2's core schema reads it (quoted scalars are strings; unknown tags are
/// ignored).
fn scalar_value(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Cow<'_, Tag>>) -> Value {
    let tag = tag.filter(|t| t.is_yaml_core_schema());
    match Scalar::parse_from_cow_and_metadata(text, style, tag) {
        Some(s) => crate::yaml::scalar(&s),
        None => Value::Null,
    }
}

/// The key `!reference` tags are kept under until they are resolved.
pub const REFERENCE_KEY: &str = "!reference";

/// The `{"!reference": [...]}` target path, when `value` is one.
pub fn reference_target(value: &Value) -> Option<Vec<String>> {
    let obj = value.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let items = obj.get(REFERENCE_KEY)?.as_array()?;
    items
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Replaces every `!reference` with the value it names. Unresolvable ones are dropped from
/// mappings, or kept as their plain path list inside sequences (where GitLab's schema accepts
/// a list), and returned so the rules can report them.
/// `Err` when the tags expand beyond their budget: like an alias bomb, such a file is refused
/// whole rather than checked half-expanded.
fn resolve_references(doc: &mut YamlDoc) -> Result<Vec<UnresolvedReference>, Box<Finding>> {
    let mut sites = Vec::new();
    collect_references(&doc.root, &mut Vec::new(), &mut sites);
    if sites.is_empty() {
        return Ok(Vec::new());
    }
    let mut budget = MAX_REFERENCE_NODES;
    let mut resolved = Vec::with_capacity(sites.len());
    for (pointer, target) in &sites {
        let value = match lookup_resolved(&doc.root, target, 0, &mut budget) {
            Lookup::Found(v) => Some(v),
            Lookup::Missing => None,
            Lookup::OverBudget => {
                return Err(Box::new(YAML_ALIAS_BUDGET.at(
                    doc.pos(pointer),
                    format!("!reference tags expand to more than {MAX_REFERENCE_NODES} nodes (or nest deeper than {MAX_REFERENCE_NESTING})"),
                )))
            }
        };
        resolved.push(value);
    }
    let root = &mut doc.root;
    let mut unresolved = Vec::new();
    for ((pointer, target), value) in sites.into_iter().zip(resolved) {
        match value {
            Some(v) => {
                if let Some(slot) = root.pointer_mut(&pointer) {
                    *slot = v;
                }
            }
            None => {
                let (parent, last) = match pointer.rfind('/') {
                    Some(i) => (pointer[..i].to_string(), pointer[i + 1..].to_string()),
                    None => continue,
                };
                let plain = Value::Array(target.iter().cloned().map(Value::String).collect());
                match root.pointer_mut(&parent) {
                    Some(Value::Object(m)) => {
                        m.remove(&unescape(&last));
                    }
                    Some(Value::Array(_)) => {
                        if let Some(slot) = root.pointer_mut(&pointer) {
                            *slot = plain;
                        }
                    }
                    _ => {}
                }
                unresolved.push(UnresolvedReference { pointer, target });
            }
        }
    }
    Ok(unresolved)
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// One step of a path being walked; pointers are only written out for the nodes found.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn collect_references<'a>(
    value: &'a Value,
    path: &mut Vec<Step<'a>>,
    out: &mut Vec<(String, Vec<String>)>,
) {
    if let Some(target) = reference_target(value) {
        let mut pointer = String::new();
        for step in path.iter() {
            match step {
                Step::Key(k) => push_segment(&mut pointer, k),
                Step::Index(i) => push_segment(&mut pointer, &i.to_string()),
            }
        }
        out.push((pointer, target));
        return;
    }
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                path.push(Step::Key(k));
                collect_references(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Step::Index(i));
                collect_references(v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

enum Lookup {
    Found(Value),
    Missing,
    OverBudget,
}

/// The value at `target` in the original document, with any references inside it resolved
/// in turn, charged to `budget`.
fn lookup_resolved(root: &Value, target: &[String], nesting: usize, budget: &mut usize) -> Lookup {
    if nesting > MAX_REFERENCE_NESTING {
        return Lookup::OverBudget;
    }
    let mut cur = root;
    for segment in target {
        match cur.get(segment.as_str()) {
            Some(next) => cur = next,
            None => return Lookup::Missing,
        }
    }
    if !charge(cur, budget) {
        return Lookup::OverBudget;
    }
    let mut inner = Vec::new();
    collect_references(cur, &mut Vec::new(), &mut inner);
    let mut copy = cur.clone();
    for (pointer, t) in inner {
        match lookup_resolved(root, &t, nesting + 1, budget) {
            Lookup::Found(v) => {
                if let Some(slot) = copy.pointer_mut(&pointer) {
                    *slot = v;
                }
            }
            Lookup::Missing => {
                if let Some(slot) = copy.pointer_mut(&pointer) {
                    *slot = Value::Array(t.into_iter().map(Value::String).collect());
                }
            }
            Lookup::OverBudget => return Lookup::OverBudget,
        }
    }
    Lookup::Found(copy)
}

/// Counts `value`'s nodes against `budget`; false once the budget runs out.
fn charge(value: &Value, budget: &mut usize) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    match value {
        Value::Object(m) => m.values().all(|v| charge(v, budget)),
        Value::Array(items) => items.iter().all(|v| charge(v, budget)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> YamlDoc {
        load(text).unwrap()
    }

    #[test]
    fn positions_follow_json_pointers() {
        let d = doc("stages: [build]\njob:\n  stage: build\n  script:\n    - make\n");
        assert_eq!(d.pos("/job/stage"), Pos::new(3, 10));
        assert_eq!(d.key_pos("/job"), Pos::new(2, 1));
        assert_eq!(d.pos("/job/script/0"), Pos::new(5, 7));
    }

    #[test]
    fn merge_keys_apply_with_explicit_keys_winning() {
        let d = doc(".b: &b {image: a, stage: x}\njob:\n  <<: *b\n  stage: y\n  script: [s]\n");
        assert_eq!(d.root["job"]["image"], "a");
        assert_eq!(d.root["job"]["stage"], "y");
        assert_eq!(
            d.pos("/job/image"),
            Pos::new(1, 16),
            "merged keys point at the anchor"
        );
    }

    #[test]
    fn duplicate_keys_are_reported_with_both_lines() {
        let d = doc("job:\n  script: [a]\n  script: [b]\n");
        assert_eq!(d.findings.len(), 1);
        assert_eq!(d.findings[0].rule, "duplicate-key");
        assert_eq!(d.findings[0].line, 3);
        assert!(d.findings[0].message.contains("line 2"));
        assert_eq!(d.root["job"]["script"][0], "b");
    }

    #[test]
    fn references_resolve_and_nested_references_too() {
        let d = doc(".a:\n  script: [x]\n.b:\n  script: [!reference [.a, script], y]\njob:\n  script: !reference [.b, script]\n");
        assert_eq!(d.root["job"]["script"], serde_json::json!([["x"], "y"]));
        assert!(d.unresolved.is_empty());
    }

    #[test]
    fn unknown_references_are_returned() {
        let d =
            doc("job:\n  image: !reference [.nope, image]\n  script: [!reference [.x, script]]\n");
        assert_eq!(d.unresolved.len(), 2);
        assert!(d.root["job"].get("image").is_none());
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = load(&text).unwrap_err();
        assert_eq!(err[0].rule, "yaml-too-deep", "{err:?}");
        let block: String = (0..300)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let err = load(&block).unwrap_err();
        assert_eq!(err[0].rule, "yaml-too-deep", "{err:?}");
    }

    #[test]
    fn spec_header_document_is_kept_with_the_config() {
        let d = doc("spec:\n  inputs:\n    x: {}\n---\njob:\n  script: [a]\n");
        assert!(d.root.get("spec").is_some());
        assert_eq!(d.pos("/job/script/0"), Pos::new(6, 12));
    }
}
