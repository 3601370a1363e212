//! YAML with positions, for untrusted `.gitlab-ci.yml` files: the document as JSON (what
//! GitLab's schema and the rules read) plus a map from JSON pointer to line/column, so every
//! finding points at the text that causes it.
//!
//! Built on saphyr's `MarkedYaml`, fed event by event so that three things happen on the way:
//! duplicate keys are recorded with both positions (saphyr would refuse them outright), nesting
//! is cut off before it can exhaust the stack, and anchors expand within saphyr's node budget.
//! Merge keys (`<<`) are applied like GitLab does and `!reference [job, key]` tags are resolved
//! against the document, within a node budget of their own.

use super::catalog::{DUPLICATE_KEY, YAML_ALIAS_BUDGET, YAML_NOT_MAPPING, YAML_SYNTAX};
use super::catalog::{YAML_TOO_DEEP, YAML_TOO_LARGE};
use super::text::{push_segment, Pos};
use super::Finding;
use crate::yaml::{MAX_DEPTH, MAX_YAML_BYTES};
use saphyr::YamlLoader;
use saphyr::{AnnotatedMapping, MarkedYaml, Marker, Scalar, ScalarStyle, Yaml, YamlData};
use saphyr_parser::{Event, Parser, Span, SpannedEventReceiver};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Nodes that alias expansion may produce in one file (saphyr's own default, made explicit).
pub const MAX_ALIAS_NODES: usize = 100_000;
/// Nodes that `!reference` resolution may copy in one file.
pub const MAX_REFERENCE_NODES: usize = 1_000_000;
/// GitLab resolves `!reference` tags nested up to this depth.
const MAX_REFERENCE_NESTING: usize = 10;

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

/// A parsed pipeline: merges applied, references resolved, positions kept.
#[derive(Debug, Clone)]
pub struct YamlDoc {
    /// The configuration as JSON, key order kept.
    pub root: Value,
    spans: HashMap<String, NodeSpan>,
    /// Problems found while reading that do not stop validation (duplicate keys).
    pub findings: Vec<Finding>,
    /// `!reference` tags that name nothing in this file.
    pub unresolved: Vec<UnresolvedReference>,
}

impl YamlDoc {
    /// The span recorded for exactly `pointer`.
    pub fn span(&self, pointer: &str) -> Option<&NodeSpan> {
        self.spans.get(pointer)
    }

    /// The span of `pointer` or of its nearest ancestor that was written in the file (values
    /// copied by `!reference` have no text of their own).
    pub fn nearest_span(&self, pointer: &str) -> Option<&NodeSpan> {
        let mut p = pointer;
        loop {
            if let Some(s) = self.spans.get(p) {
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
    let mut recorder = Recorder::new();
    let mut parser = Parser::new_from_str(text);
    // Pulling events one by one (rather than `Parser::load`, which recurses per nesting level)
    // keeps a deeply nested file from overflowing the stack before we can refuse it.
    while let Some(next) = parser.next_event() {
        match next {
            Ok((event, span)) => {
                recorder.on_event(event, span);
                if let Some(at) = recorder.too_deep {
                    return Err(vec![YAML_TOO_DEEP.at(
                        marker_pos(at),
                        format!("the YAML nests deeper than {MAX_DEPTH} levels"),
                    )]);
                }
            }
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
    if let Some(e) = recorder.loader.error() {
        let rule = if e.info().contains("alias expansion") {
            YAML_ALIAS_BUDGET
        } else {
            YAML_SYNTAX
        };
        return Err(vec![rule.at(
            marker_pos(*e.marker()),
            format!(
                "{} (anchors may expand to at most {MAX_ALIAS_NODES} nodes)",
                e.info()
            ),
        )]);
    }
    let mut findings: Vec<Finding> = recorder
        .duplicates
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
    let docs = recorder.loader.into_documents();
    let (header, config) = pick_documents(&docs);
    let Some(config) = config else {
        return Err(vec![YAML_NOT_MAPPING.at(
            Pos::START,
            "the file holds no YAML document; a pipeline is a mapping of keywords and jobs",
        )]);
    };
    let mut conv = Converter::default();
    let mut out = Map::new();
    let mut pointer = String::new();
    for doc in header.into_iter().chain(Some(config)) {
        match &doc.data {
            YamlData::Mapping(map) => {
                conv.record(&pointer, None, doc);
                conv.fill(map, &mut pointer, 0, &mut out)?;
            }
            _ => {
                return Err(vec![YAML_NOT_MAPPING.at(
                    marker_pos(doc.span.start),
                    "the document is not a mapping; a pipeline is a mapping of keywords and jobs",
                )])
            }
        }
    }
    let mut root = Value::Object(out);
    let unresolved = resolve_references(&mut root, &conv.spans, &mut findings);
    Ok(YamlDoc {
        root,
        spans: conv.spans,
        findings,
        unresolved,
    })
}

fn marker_pos(m: Marker) -> Pos {
    Pos::new(m.line(), m.col() + 1)
}

/// GitLab files may open with a `spec:` header document; the configuration is then the next.
fn pick_documents<'d, 'i>(
    docs: &'d [MarkedYaml<'i>],
) -> (Option<&'d MarkedYaml<'i>>, Option<&'d MarkedYaml<'i>>) {
    let is_header = |d: &MarkedYaml<'_>| match &d.data {
        YamlData::Mapping(m) => m.len() == 1 && m.keys().any(|k| key_string(k) == "spec"),
        _ => false,
    };
    let real: Vec<&MarkedYaml<'i>> = docs
        .iter()
        .filter(|d| !matches!(d.data, YamlData::BadValue))
        .collect();
    match real.as_slice() {
        [] => (None, None),
        [first, second, ..] if is_header(first) => (Some(*first), Some(*second)),
        [first, ..] => (None, Some(*first)),
    }
}

struct Duplicate {
    key: String,
    first: Pos,
    again: Pos,
}

enum Frame {
    Sequence,
    Mapping {
        expecting_key: bool,
        seen: HashMap<String, Pos>,
    },
}

/// Watches the event stream on its way to saphyr's loader: records duplicate keys and stops
/// forwarding once nesting gets too deep.
struct Recorder<'input> {
    loader: YamlLoader<'input, MarkedYaml<'input>>,
    frames: Vec<Frame>,
    duplicates: Vec<Duplicate>,
    too_deep: Option<Marker>,
}

impl<'input> Recorder<'input> {
    fn new() -> Self {
        let mut loader = YamlLoader::default();
        loader.allow_duplicate_keys(true);
        loader.alias_limit(MAX_ALIAS_NODES);
        Recorder {
            loader,
            frames: Vec::new(),
            duplicates: Vec::new(),
            too_deep: None,
        }
    }

    fn on_event(&mut self, event: Event<'input>, span: Span) {
        if self.too_deep.is_some() {
            return;
        }
        match &event {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                self.node_starts(None);
                if self.frames.len() >= MAX_DEPTH {
                    self.too_deep = Some(span.start);
                    return;
                }
                self.frames
                    .push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Mapping {
                            expecting_key: true,
                            seen: HashMap::new(),
                        }
                    } else {
                        Frame::Sequence
                    });
            }
            Event::Scalar(value, ..) => {
                self.node_starts(Some((value.to_string(), marker_pos(span.start))));
                self.node_ends();
            }
            Event::Alias(_) => {
                self.node_starts(None);
                self.node_ends();
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.frames.pop();
                self.node_ends();
            }
            _ => {}
        }
        self.loader.on_event(event, span);
    }

    fn node_starts(&mut self, key: Option<(String, Pos)>) {
        if let Some(Frame::Mapping {
            expecting_key: true,
            seen,
        }) = self.frames.last_mut()
        {
            if let Some((key, at)) = key {
                if let Some(first) = seen.get(&key) {
                    self.duplicates.push(Duplicate {
                        key,
                        first: *first,
                        again: at,
                    });
                } else {
                    seen.insert(key, at);
                }
            }
        }
    }

    fn node_ends(&mut self) {
        if let Some(Frame::Mapping { expecting_key, .. }) = self.frames.last_mut() {
            *expecting_key = !*expecting_key;
        }
    }
}

#[derive(Default)]
struct Converter {
    spans: HashMap<String, NodeSpan>,
}

impl Converter {
    fn record(&mut self, pointer: &str, key: Option<Pos>, node: &MarkedYaml<'_>) {
        if !self.spans.contains_key(pointer) {
            self.spans.insert(
                pointer.to_string(),
                NodeSpan {
                    key,
                    start: marker_pos(node.span.start),
                    end: marker_pos(node.span.end),
                },
            );
        }
    }

    fn node(
        &mut self,
        node: &MarkedYaml<'_>,
        pointer: &mut String,
        key: Option<Pos>,
        depth: usize,
    ) -> Result<Value, Vec<Finding>> {
        if depth > MAX_DEPTH {
            return Err(vec![YAML_TOO_DEEP.at(
                marker_pos(node.span.start),
                format!(
                    "the YAML (with its aliases expanded) nests deeper than {MAX_DEPTH} levels"
                ),
            )]);
        }
        self.record(pointer, key, node);
        Ok(match &node.data {
            YamlData::Value(s) => scalar(s),
            YamlData::Representation(text, style, _) => representation(text, *style),
            YamlData::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    push_segment(pointer, itoa(i).as_str());
                    out.push(self.node(item, pointer, None, depth + 1)?);
                    pointer.truncate(len);
                }
                Value::Array(out)
            }
            YamlData::Mapping(map) => {
                let mut out = Map::new();
                self.fill(map, pointer, depth, &mut out)?;
                Value::Object(out)
            }
            YamlData::Tagged(tag, inner) => {
                let value = self.node(inner, pointer, key, depth + 1)?;
                if tag.handle == "!" && tag.suffix == "reference" {
                    let mut m = Map::new();
                    m.insert(REFERENCE_KEY.to_string(), value);
                    Value::Object(m)
                } else {
                    value
                }
            }
            YamlData::Alias(_) | YamlData::BadValue => Value::Null,
        })
    }

    /// Adds `map`'s entries to `out`: its own keys first, then those of its `<<` merge sources
    /// that are still missing (explicit keys win; earlier sources win over later ones).
    fn fill(
        &mut self,
        map: &AnnotatedMapping<'_, MarkedYaml<'_>>,
        pointer: &mut String,
        depth: usize,
        out: &mut Map<String, Value>,
    ) -> Result<(), Vec<Finding>> {
        if depth > MAX_DEPTH {
            return Err(vec![YAML_TOO_DEEP.at(
                Pos::START,
                format!("merge keys nest deeper than {MAX_DEPTH} levels"),
            )]);
        }
        let mut merges = Vec::new();
        for (k, v) in map.iter() {
            let key = key_string(k);
            if key == "<<" {
                merges.push(v);
                continue;
            }
            if out.contains_key(&key) {
                continue;
            }
            let len = pointer.len();
            push_segment(pointer, &key);
            let value = self.node(v, pointer, Some(marker_pos(k.span.start)), depth + 1)?;
            pointer.truncate(len);
            out.insert(key, value);
        }
        for source in merges {
            self.merge(source, pointer, depth + 1, out)?;
        }
        Ok(())
    }

    fn merge(
        &mut self,
        source: &MarkedYaml<'_>,
        pointer: &mut String,
        depth: usize,
        out: &mut Map<String, Value>,
    ) -> Result<(), Vec<Finding>> {
        match &source.data {
            YamlData::Mapping(m) => self.fill(m, pointer, depth, out),
            YamlData::Sequence(items) => {
                for item in items {
                    if let YamlData::Mapping(m) = &item.data {
                        self.fill(m, pointer, depth, out)?;
                    }
                }
                Ok(())
            }
            YamlData::Tagged(_, inner) => self.merge(inner, pointer, depth + 1, out),
            _ => Ok(()),
        }
    }
}

/// The key `!reference` tags are kept under until they are resolved.
pub const REFERENCE_KEY: &str = "!reference";

fn itoa(i: usize) -> String {
    i.to_string()
}

fn scalar(s: &Scalar<'_>) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::from(*i),
        Scalar::FloatingPoint(f) => serde_json::Number::from_f64(f.into_inner())
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Scalar::String(s) => Value::String(s.to_string()),
    }
}

fn representation(text: &str, style: ScalarStyle) -> Value {
    if style == ScalarStyle::Plain {
        if let Yaml::Value(s) = Yaml::value_from_str(text) {
            return scalar(&s);
        }
    }
    Value::String(text.to_string())
}

fn key_string(k: &MarkedYaml<'_>) -> String {
    match &k.data {
        YamlData::Value(s) => match scalar(s) {
            Value::String(s) => s,
            Value::Null => "null".to_string(),
            other => other.to_string(),
        },
        YamlData::Representation(text, _, _) => text.to_string(),
        YamlData::Tagged(_, inner) => key_string(inner),
        _ => "[complex key]".to_string(),
    }
}

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
fn resolve_references(
    root: &mut Value,
    spans: &HashMap<String, NodeSpan>,
    findings: &mut Vec<Finding>,
) -> Vec<UnresolvedReference> {
    let mut sites = Vec::new();
    collect_references(root, &mut String::new(), &mut sites);
    if sites.is_empty() {
        return Vec::new();
    }
    let mut budget = MAX_REFERENCE_NODES;
    let mut exhausted = false;
    let mut resolved = Vec::with_capacity(sites.len());
    for (pointer, target) in &sites {
        let value = if exhausted {
            None
        } else {
            match lookup_resolved(root, target, 0, &mut budget) {
                Lookup::Found(v) => Some(v),
                Lookup::Missing => None,
                Lookup::OverBudget => {
                    exhausted = true;
                    let at = spans.get(pointer).map(|s| s.start).unwrap_or(Pos::START);
                    findings.push(YAML_ALIAS_BUDGET.at(
                        at,
                        format!("!reference tags expand to more than {MAX_REFERENCE_NODES} nodes (or nest deeper than {MAX_REFERENCE_NESTING}); the rest are left unresolved"),
                    ));
                    None
                }
            }
        };
        resolved.push(value);
    }
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
                if !exhausted {
                    unresolved.push(UnresolvedReference { pointer, target });
                }
            }
        }
    }
    unresolved
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

fn collect_references(value: &Value, pointer: &mut String, out: &mut Vec<(String, Vec<String>)>) {
    if let Some(target) = reference_target(value) {
        out.push((pointer.clone(), target));
        return;
    }
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                let len = pointer.len();
                push_segment(pointer, k);
                collect_references(v, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = pointer.len();
                push_segment(pointer, &itoa(i));
                collect_references(v, pointer, out);
                pointer.truncate(len);
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
    let mut copy = cur.clone();
    let mut inner = Vec::new();
    collect_references(&copy, &mut String::new(), &mut inner);
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
