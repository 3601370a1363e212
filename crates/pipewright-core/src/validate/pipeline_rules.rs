//! The pipeline rules GitLab's schema cannot express: stages declared, `needs`,
//! `dependencies` and `extends` pointing at existing jobs in order and without cycles, a script
//! in every job, images pulled from the configured registry and pushed only to the push
//! registry, trusted variables not redefined, remote includes from allowed hosts, and for
//! pipelines pipewright owns, the nine stages with a job each and the `learn` job.
//!
//! Rules read the document through [`Model`], which knows the jobs, the stages and how a job
//! inherits keys through `extends`; a value inherited from a template is reported where it is
//! written, not at every job that uses it.

use super::catalog::*;
use super::fix;
use super::shell;
use super::text::{join, push_segment, LineIndex, Pos};
use super::yaml_doc::YamlDoc;
use super::{Finding, ValidatorSettings, OWNED_STAGES as NINE_STAGES};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// Top-level keys that are keywords, not jobs.
const GLOBAL_KEYWORDS: &[&str] = &[
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "spec",
    "types",
    "$schema",
];
/// Stages every pipeline has, declared or not.
const IMPLICIT_STAGES: &[&str] = &[".pre", ".post"];
/// GitLab's stages when a file declares none.
const DEFAULT_STAGES: &[&str] = &["build", "test", "deploy"];
/// GitLab stops following `extends` after this many levels.
const MAX_EXTENDS_DEPTH: usize = 11;
/// Keys whose strings run in a shell (job scripts, hooks, service and image commands).
pub const SCRIPT_KEYS: &[&str] = &[
    "script",
    "before_script",
    "after_script",
    "pre_get_sources_script",
    "command",
    "entrypoint",
];

/// The jobs of a document and how they inherit.
pub struct Model<'d> {
    pub doc: &'d YamlDoc,
    /// Every job-like entry (jobs and hidden `.templates`), by name.
    pub entries: HashMap<&'d str, &'d Map<String, Value>>,
    /// Names of real (not hidden) jobs, in file order.
    pub jobs: Vec<&'d str>,
    /// The declared stages (or GitLab's defaults), then `.pre` and `.post`.
    pub stages: Vec<String>,
    pub stages_declared: bool,
    pub has_include: bool,
    /// Each real job's stage and where it is written, worked out once.
    job_stages: HashMap<&'d str, (String, String)>,
}

/// Where an inherited value was found.
pub struct Inherited<'d> {
    pub value: &'d Value,
    /// Pointer to the value, in the entry that wrote it.
    pub pointer: String,
}

impl<'d> Model<'d> {
    pub fn new(doc: &'d YamlDoc) -> Self {
        let root = doc.map();
        let mut entries = HashMap::new();
        let mut jobs = Vec::new();
        for (name, value) in root {
            if GLOBAL_KEYWORDS.contains(&name.as_str()) {
                continue;
            }
            if let Value::Object(m) = value {
                entries.insert(name.as_str(), m);
                if !name.starts_with('.') {
                    jobs.push(name.as_str());
                }
            }
        }
        let declared: Option<Vec<String>> = root.get("stages").and_then(|s| {
            s.as_array().map(|items| {
                let mut out = Vec::new();
                flatten_strings(items, &mut out);
                out
            })
        });
        let stages_declared = declared.is_some();
        let mut stages =
            declared.unwrap_or_else(|| DEFAULT_STAGES.iter().map(|s| s.to_string()).collect());
        stages.extend(IMPLICIT_STAGES.iter().map(|s| s.to_string()));
        let mut model = Model {
            doc,
            entries,
            jobs,
            stages,
            stages_declared,
            has_include: root.contains_key("include"),
            job_stages: HashMap::new(),
        };
        model.job_stages = model
            .jobs
            .iter()
            .map(|j| (*j, model.find_stage(j)))
            .collect();
        model
    }

    /// `key` of entry `name`, its own or the nearest through `extends` (later `extends`
    /// entries win, as in GitLab). `Err(())` when the chain leaves the file, so the answer is
    /// unknown.
    pub fn inherited(&self, name: &str, key: &str) -> Result<Option<Inherited<'d>>, ()> {
        self.inherited_at(name, key, 0, &mut Vec::new())
    }

    fn inherited_at(
        &self,
        name: &str,
        key: &str,
        depth: usize,
        seen: &mut Vec<String>,
    ) -> Result<Option<Inherited<'d>>, ()> {
        if depth > MAX_EXTENDS_DEPTH || seen.iter().any(|s| s == name) {
            return Ok(None);
        }
        let Some(entry) = self.entries.get(name) else {
            return Err(());
        };
        if let Some(v) = entry.get(key) {
            return Ok(Some(Inherited {
                value: v,
                pointer: join(&join("", name), key),
            }));
        }
        seen.push(name.to_string());
        let mut unknown = false;
        for parent in extends_of(entry).iter().rev() {
            match self.inherited_at(parent, key, depth + 1, seen) {
                Ok(Some(found)) => return Ok(Some(found)),
                Ok(None) => {}
                Err(()) => unknown = true,
            }
        }
        if unknown {
            Err(())
        } else {
            Ok(None)
        }
    }

    /// A job's stage (GitLab's default is `test`) and where it is written.
    pub fn stage_of(&self, job: &str) -> (String, String) {
        match self.job_stages.get(job) {
            Some(found) => found.clone(),
            None => self.find_stage(job),
        }
    }

    fn find_stage(&self, job: &str) -> (String, String) {
        match self.inherited(job, "stage") {
            Ok(Some(Inherited { value, pointer })) => {
                (value.as_str().unwrap_or("test").to_string(), pointer)
            }
            _ => ("test".to_string(), join("", job)),
        }
    }

    fn stage_index(&self, stage: &str) -> Option<usize> {
        self.stages.iter().position(|s| s == stage)
    }

    /// Names that references to other jobs may be missing from because they come from an
    /// `include` (never excused for owned pipelines).
    fn may_be_external(&self, settings: &ValidatorSettings) -> bool {
        self.has_include && !settings.owned
    }
}

fn flatten_strings(items: &[Value], out: &mut Vec<String>) {
    for item in items {
        match item {
            Value::String(s) => out.push(s.clone()),
            Value::Array(inner) => flatten_strings(inner, out),
            _ => {}
        }
    }
}

/// The `extends` entries of a job, as written (`extends: .a` or `extends: [.a, .b]`).
pub fn extends_of(entry: &Map<String, Value>) -> Vec<String> {
    match entry.get("extends") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// What several rules read from the scripts and variables, gathered in one walk.
pub struct Facts {
    /// Every shell statement of every script.
    pub statements: Vec<ScriptStatement>,
    /// Every `variables:` entry.
    pub defs: Vec<VarDef>,
}

impl Facts {
    pub fn new(doc: &YamlDoc, lines: &LineIndex<'_>) -> Self {
        let (statements, defs) = collect(doc, lines);
        Facts { statements, defs }
    }
}

/// Every semantic finding for `doc`.
pub fn check(
    doc: &YamlDoc,
    text: &str,
    lines: &LineIndex<'_>,
    settings: &ValidatorSettings,
    facts: &Facts,
) -> Vec<Finding> {
    let model = Model::new(doc);
    let mut out = Vec::new();
    check_stages(&model, lines, settings, &mut out);
    check_job_references(&model, settings, &mut out);
    check_needs_cycles(&model, &mut out);
    check_extends(&model, settings, &mut out);
    check_references(&model, settings, &mut out);
    check_scripts(&model, &mut out);
    let allow = AllowList::new(settings);
    check_images(&model, text, lines, settings, &mut out);
    check_pushes(&facts.statements, settings, &facts.defs, &mut out);
    check_remote_code(&facts.statements, &mut out);
    check_trusted_variables(doc, &allow, &facts.defs, &mut out);
    check_includes(&model, &allow, &mut out);
    if settings.owned {
        check_owned(&model, settings, &mut out);
    }
    out
}

fn check_stages(
    m: &Model<'_>,
    lines: &LineIndex<'_>,
    settings: &ValidatorSettings,
    out: &mut Vec<Finding>,
) {
    for job in &m.jobs {
        let (stage, pointer) = m.stage_of(job);
        if m.stage_index(&stage).is_some() {
            continue;
        }
        let pos = m.doc.pos(&pointer);
        if !m.stages_declared && m.may_be_external(settings) {
            out.push(EXTERNAL_REFERENCE.at(
                pos,
                format!("job `{job}` uses stage `{stage}`, not declared in this file; it may be declared by an include"),
            ));
            continue;
        }
        let known =
            NINE_STAGES.contains(&stage.as_str()) || DEFAULT_STAGES.contains(&stage.as_str());
        let fix = if known && m.stages_declared {
            fix::add_stage(m.doc, lines, &stage)
        } else {
            None
        };
        out.push(STAGE_UNDECLARED.fixable(
            pos,
            format!(
                "job `{job}` uses stage `{stage}`, which `stages` does not declare (declared: {})",
                m.stages.join(", ")
            ),
            fix,
        ));
    }
}

/// One entry of `needs` or `dependencies`.
struct JobRef {
    name: String,
    optional: bool,
    pointer: String,
}

fn job_refs(list: &Inherited<'_>) -> Vec<JobRef> {
    let Some(items) = list.value.as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let pointer = join(&list.pointer, &i.to_string());
            match item {
                Value::String(s) => Some(JobRef {
                    name: s.clone(),
                    optional: false,
                    pointer,
                }),
                // `project:`/`pipeline:` needs point outside this pipeline.
                Value::Object(o) => o.get("job").and_then(|j| j.as_str()).map(|j| JobRef {
                    name: j.to_string(),
                    optional: o.get("optional").and_then(Value::as_bool).unwrap_or(false)
                        || o.contains_key("project")
                        || o.contains_key("pipeline"),
                    pointer,
                }),
                _ => None,
            }
        })
        .collect()
}

fn check_job_references(m: &Model<'_>, settings: &ValidatorSettings, out: &mut Vec<Finding>) {
    let is_job: HashSet<&str> = m.jobs.iter().copied().collect();
    for job in &m.jobs {
        let (stage, _) = m.stage_of(job);
        let own_stage = m.stage_index(&stage);
        let needs = m.inherited(job, "needs").ok().flatten();
        let deps = m.inherited(job, "dependencies").ok().flatten();
        let need_names: Option<HashSet<String>> = needs
            .as_ref()
            .map(|n| job_refs(n).into_iter().map(|r| r.name).collect());
        for (list, unknown_rule, what) in [
            (&needs, NEEDS_UNKNOWN_JOB, "needs"),
            (&deps, DEPENDENCIES_UNKNOWN_JOB, "dependencies"),
        ] {
            let Some(list) = list else { continue };
            for r in job_refs(list) {
                let pos = || m.doc.pos(&r.pointer);
                if !is_job.contains(r.name.as_str()) {
                    if r.optional {
                        continue;
                    }
                    if m.may_be_external(settings) {
                        out.push(EXTERNAL_REFERENCE.at(
                            pos(),
                            format!("job `{job}` {what} `{}`, which is not in this file; it may come from an include", r.name),
                        ));
                    } else {
                        out.push(unknown_rule.at(
                            pos(),
                            format!(
                                "job `{job}` {what} `{}`, which is not a job of this pipeline{}",
                                r.name,
                                if r.name.starts_with('.') {
                                    " (hidden jobs never run)"
                                } else {
                                    ""
                                }
                            ),
                        ));
                    }
                    continue;
                }
                let (their_stage, _) = m.stage_of(&r.name);
                if let (Some(mine), Some(theirs)) = (own_stage, m.stage_index(&their_stage)) {
                    if theirs > mine {
                        out.push(NEEDS_LATER_STAGE.at(
                            pos(),
                            format!("job `{job}` (stage `{stage}`) {what} `{}`, which runs in the later stage `{their_stage}`", r.name),
                        ));
                    }
                }
                if what == "dependencies" {
                    if let Some(names) = &need_names {
                        if !names.contains(&r.name) {
                            out.push(DEPENDENCIES_NOT_IN_NEEDS.at(
                                pos(),
                                format!("job `{job}` depends on `{}` but does not list it in `needs`; GitLab requires dependencies to be part of needs", r.name),
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// Finds the back edges of a directed graph (each closes a cycle), iteratively so that long
/// chains cannot overflow the stack. Returns (from, to, cycle path).
fn back_edges<'a>(
    order: &[&'a str],
    edges: &HashMap<&'a str, Vec<(&'a str, String)>>,
) -> Vec<(String, Vec<&'a str>)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Color {
        White,
        Gray,
        Black,
    }
    let mut color: HashMap<&str, Color> = order.iter().map(|n| (*n, Color::White)).collect();
    let mut found = Vec::new();
    for &start in order {
        if color.get(start) != Some(&Color::White) {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        color.insert(start, Color::Gray);
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let children = edges.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some((child, pointer)) = children.get(*next) {
                *next += 1;
                match color.get(child).copied() {
                    Some(Color::White) => {
                        color.insert(child, Color::Gray);
                        stack.push((child, 0));
                    }
                    Some(Color::Gray) => {
                        let from = stack.iter().position(|(n, _)| n == child).unwrap_or(0);
                        let mut path: Vec<&str> = stack[from..].iter().map(|(n, _)| *n).collect();
                        path.push(child);
                        found.push((pointer.clone(), path));
                    }
                    _ => {}
                }
            } else {
                color.insert(node, Color::Black);
                stack.pop();
            }
        }
    }
    found
}

fn check_needs_cycles(m: &Model<'_>, out: &mut Vec<Finding>) {
    let is_job: HashSet<&str> = m.jobs.iter().copied().collect();
    let mut edges: HashMap<&str, Vec<(&str, String)>> = HashMap::new();
    for &job in &m.jobs {
        if let Ok(Some(needs)) = m.inherited(job, "needs") {
            for r in job_refs(&needs) {
                if let Some(&target) = is_job.get(r.name.as_str()) {
                    edges.entry(job).or_default().push((target, r.pointer));
                }
            }
        }
    }
    for (pointer, path) in back_edges(&m.jobs, &edges) {
        out.push(NEEDS_CYCLE.at(
            m.doc.pos(&pointer),
            format!("`needs` form a cycle: {}", path.join(" -> ")),
        ));
    }
}

fn check_extends(m: &Model<'_>, settings: &ValidatorSettings, out: &mut Vec<Finding>) {
    let mut names: Vec<&str> = m.entries.keys().copied().collect();
    // Report in file order.
    names.sort_by_cached_key(|n| m.doc.key_pos(&join("", n)));
    let mut edges: HashMap<&str, Vec<(&str, String)>> = HashMap::new();
    for &name in &names {
        let Some(entry) = m.entries.get(name) else {
            continue;
        };
        let base = join(&join("", name), "extends");
        let single = matches!(entry.get("extends"), Some(Value::String(_)));
        for (i, parent) in extends_of(entry).iter().enumerate() {
            let pointer = if single {
                base.clone()
            } else {
                join(&base, &i.to_string())
            };
            match m.entries.get_key_value(parent.as_str()) {
                Some((&target, _)) => edges.entry(name).or_default().push((target, pointer)),
                None if m.may_be_external(settings) => out.push(EXTERNAL_REFERENCE.at(
                    m.doc.pos(&pointer),
                    format!("`{name}` extends `{parent}`, which is not in this file; it may come from an include"),
                )),
                None => out.push(EXTENDS_UNKNOWN.at(
                    m.doc.pos(&pointer),
                    format!("`{name}` extends `{parent}`, which is not defined in this file"),
                )),
            }
        }
    }
    for (pointer, path) in back_edges(&names, &edges) {
        out.push(EXTENDS_CYCLE.at(
            m.doc.pos(&pointer),
            format!("`extends` form a cycle: {}", path.join(" -> ")),
        ));
    }
}

fn check_references(m: &Model<'_>, settings: &ValidatorSettings, out: &mut Vec<Finding>) {
    for r in &m.doc.unresolved {
        let pos = m.doc.pos(&r.pointer);
        let shown = format!("!reference [{}]", r.target.join(", "));
        let entry_missing = r
            .target
            .first()
            .is_none_or(|first| !m.entries.contains_key(first.as_str()));
        if entry_missing && m.may_be_external(settings) {
            out.push(EXTERNAL_REFERENCE.at(
                pos,
                format!("`{shown}` names nothing in this file; it may come from an include"),
            ));
        } else {
            out.push(REFERENCE_UNKNOWN.at(pos, format!("`{shown}` names nothing in this file")));
        }
    }
}

fn check_scripts(m: &Model<'_>, out: &mut Vec<Finding>) {
    for job in &m.jobs {
        let mut unknown = false;
        let mut has = false;
        for key in ["script", "run", "trigger"] {
            match m.inherited(job, key) {
                Ok(Some(_)) => has = true,
                Ok(None) => {}
                Err(()) => unknown = true,
            }
        }
        if !has && !unknown {
            out.push(SCRIPT_MISSING.at(
                m.doc.key_pos(&join("", job)),
                format!("job `{job}` has no `script` (nor `trigger`), its own or through `extends`; GitLab refuses it"),
            ));
        }
    }
}

/// Where credentials and images may go, from the settings.
pub struct AllowList {
    /// Variable names (without `$`/`${}`) that name an allowed destination.
    pub vars: HashSet<String>,
    /// Literal host names; a leading `.` allows every subdomain.
    pub hosts: Vec<String>,
}

impl AllowList {
    pub fn new(settings: &ValidatorSettings) -> Self {
        let mut vars = HashSet::new();
        let mut hosts = Vec::new();
        let all = settings
            .allowed_hosts
            .iter()
            .chain(&settings.registries)
            .chain(&settings.push_registries);
        for entry in all {
            let entry = entry.trim();
            if let Some(name) = leading_variable(entry) {
                vars.insert(name.to_string());
            } else if !entry.is_empty() {
                hosts.push(host_of(entry).to_ascii_lowercase());
            }
        }
        AllowList { vars, hosts }
    }

    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.hosts.iter().any(|h| match h.strip_prefix('.') {
            Some(domain) => host == domain || host.ends_with(h.as_str()),
            None => host == *h,
        })
    }

    pub fn var_allowed(&self, name: &str) -> bool {
        self.vars.contains(name)
    }
}

/// The variable a text starts with (`$X…` or `${X}…`), if any.
pub fn leading_variable(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('$')?;
    let (rest, braced) = match rest.strip_prefix('{') {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if end == 0 || (braced && !rest[end..].starts_with('}')) {
        return None;
    }
    Some(&rest[..end])
}

/// The host of a URL, `host:port/path` or `user@host`: scheme, credentials, port and path
/// removed.
pub fn host_of(text: &str) -> &str {
    let t = text.split_once("://").map(|(_, r)| r).unwrap_or(text);
    let t = t.split(['/', '?', '#']).next().unwrap_or(t);
    let t = t.rsplit_once('@').map(|(_, h)| h).unwrap_or(t);
    if t.starts_with('[') {
        return t
            .split(']')
            .next()
            .map(|h| h.trim_start_matches('['))
            .unwrap_or(t);
    }
    t.split(':').next().unwrap_or(t)
}

/// True when `image` starts with one of `prefixes` followed by `/`. A prefix that is a whole
/// variable (`$CI_REGISTRY_IMAGE`) names a repository, so a tag or digest may follow it too;
/// a host name followed by `:` would be another port, so it may not.
pub fn has_prefix(image: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| {
        let p = p.trim_end_matches('/');
        let whole_variable = leading_variable(p)
            .is_some_and(|name| p == format!("${name}") || p == format!("${{{name}}}"));
        !p.is_empty()
            && image.strip_prefix(p).is_some_and(|rest| {
                rest.starts_with('/')
                    || (whole_variable
                        && (rest.is_empty() || rest.starts_with(':') || rest.starts_with('@')))
            })
    })
}

/// The full name Docker gives an image written without a registry (`node:20` is
/// `docker.io/library/node:20`), so a `docker.io` registry setting matches it.
pub fn docker_hub_name(image: &str) -> Option<String> {
    if image.is_empty() || image.starts_with('$') {
        return None;
    }
    match image.split_once('/') {
        // With no slash, a `:` is the tag's.
        None => Some(format!("docker.io/library/{image}")),
        Some((first, _)) if first.contains(['.', ':', '$']) || first == "localhost" => None,
        Some(_) => Some(format!("docker.io/{image}")),
    }
}

/// A variable defined in the file (`variables:` anywhere: global, job, rules).
pub struct VarDef {
    pub name: String,
    pub value: String,
    /// Pointer to the value.
    pub pointer: String,
}

/// One step of a path being walked; pointers are written out only for what is collected.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn pointer_of(path: &[Step<'_>]) -> String {
    let mut p = String::new();
    for step in path {
        match step {
            Step::Key(k) => push_segment(&mut p, k),
            Step::Index(i) => push_segment(&mut p, &i.to_string()),
        }
    }
    p
}

/// Collects script strings and `variables:` entries in one walk of the document.
struct Collector<'d> {
    scripts: Vec<(&'d str, String)>,
    defs: Vec<VarDef>,
}

impl<'d> Collector<'d> {
    fn walk(&mut self, value: &'d Value, path: &mut Vec<Step<'d>>) {
        match value {
            Value::Object(m) => {
                for (k, v) in m {
                    path.push(Step::Key(k));
                    if k == "variables" {
                        if let Value::Object(vars) = v {
                            self.variables(vars, path);
                        }
                    } else if SCRIPT_KEYS.contains(&k.as_str()) && !v.is_object() {
                        self.strings(v, path);
                    } else {
                        self.walk(v, path);
                    }
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    path.push(Step::Index(i));
                    self.walk(v, path);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    fn strings(&mut self, value: &'d Value, path: &mut Vec<Step<'d>>) {
        match value {
            Value::String(s) => self.scripts.push((s, pointer_of(path))),
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    path.push(Step::Index(i));
                    self.strings(v, path);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    fn variables(&mut self, vars: &'d Map<String, Value>, path: &mut Vec<Step<'d>>) {
        let base = pointer_of(path);
        for (name, def) in vars {
            let (text, at) = match def {
                Value::Object(o) => (
                    o.get("value").map(scalar_text),
                    join(&join(&base, name), "value"),
                ),
                other => (Some(scalar_text(other)), join(&base, name)),
            };
            if let Some(value) = text {
                self.defs.push(VarDef {
                    name: name.clone(),
                    value,
                    pointer: at,
                });
            }
        }
    }
}

/// A scalar as the text GitLab would put in the environment.
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One statement of a script in the document, with its position.
pub struct ScriptStatement {
    pub text: String,
    pub pos: Pos,
}

/// Every shell statement under a [`SCRIPT_KEYS`] key anywhere in the document (jobs, hidden
/// jobs, `default`, hooks, service commands), and every `variables:` entry.
fn collect(doc: &YamlDoc, lines: &LineIndex<'_>) -> (Vec<ScriptStatement>, Vec<VarDef>) {
    let mut c = Collector {
        scripts: Vec::new(),
        defs: Vec::new(),
    };
    c.walk(&doc.root, &mut Vec::new());
    let mut statements = Vec::new();
    for (script, pointer) in c.scripts {
        for st in shell::statements(script) {
            statements.push(ScriptStatement {
                pos: string_line_pos(doc, lines, &pointer, st.line),
                text: st.text,
            });
        }
    }
    (statements, c.defs)
}

/// The position of line `offset` (0-based) inside the string at `pointer`: block scalars
/// (`|`, `>`) start on the line after their indicator.
pub fn string_line_pos(doc: &YamlDoc, lines: &LineIndex<'_>, pointer: &str, offset: usize) -> Pos {
    let start = doc.pos(pointer);
    let at = lines.offset(start);
    let block = matches!(lines.text().as_bytes().get(at), Some(b'|' | b'>'));
    if offset == 0 && !block {
        return start;
    }
    let line = start.line + offset + usize::from(block);
    let text = lines.line_text(line);
    let indent = text.chars().take_while(|c| c.is_whitespace()).count();
    Pos::new(line, indent + 1)
}

/// Expands the variable an image (or push destination) starts with, from the file's own
/// definitions, until it starts with something that is not defined here.
fn expand_leading(text: &str, defs: &HashMap<&str, &str>, stop: &AllowList) -> String {
    let mut cur = text.to_string();
    for _ in 0..8 {
        let Some(name) = leading_variable(&cur) else {
            break;
        };
        if stop.var_allowed(name) {
            break;
        }
        let Some(value) = defs.get(name) else { break };
        let token_len = if cur.starts_with("${") {
            name.len() + 3
        } else {
            name.len() + 1
        };
        cur = format!("{value}{}", &cur[token_len..]);
    }
    cur
}

fn check_images(
    m: &Model<'_>,
    text: &str,
    lines: &LineIndex<'_>,
    settings: &ValidatorSettings,
    out: &mut Vec<Finding>,
) {
    let allow = AllowList::new(settings);
    let globals: HashMap<&str, &str> = m
        .doc
        .map()
        .get("variables")
        .and_then(Value::as_object)
        .map(|vars| {
            vars.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), s)))
                .collect()
        })
        .unwrap_or_default();
    // (pointer of the holder, the holder) for the top level, `default`, and every entry.
    let mut holders: Vec<(String, &Map<String, Value>)> = vec![(String::new(), m.doc.map())];
    if let Some(Value::Object(d)) = m.doc.map().get("default") {
        holders.push(("/default".to_string(), d));
    }
    let mut names: Vec<&&str> = m.entries.keys().collect();
    names.sort();
    for name in names {
        if let Some(entry) = m.entries.get(*name) {
            holders.push((join("", name), entry));
        }
    }
    for (base, holder) in holders {
        let mut defs = globals.clone();
        if let Some(Value::Object(vars)) = holder.get("variables") {
            for (k, v) in vars {
                if let Some(s) = v.as_str() {
                    defs.insert(k, s);
                }
            }
        }
        let mut images: Vec<(String, &str)> = Vec::new();
        match holder.get("image") {
            Some(Value::String(s)) => images.push((join(&base, "image"), s)),
            Some(Value::Object(o)) => {
                if let Some(s) = o.get("name").and_then(Value::as_str) {
                    images.push((join(&join(&base, "image"), "name"), s));
                }
            }
            _ => {}
        }
        if let Some(Value::Array(services)) = holder.get("services") {
            for (i, s) in services.iter().enumerate() {
                let p = join(&join(&base, "services"), &i.to_string());
                match s {
                    Value::String(name) => images.push((p, name)),
                    Value::Object(o) => {
                        if let Some(name) = o.get("name").and_then(Value::as_str) {
                            images.push((join(&p, "name"), name));
                        }
                    }
                    _ => {}
                }
            }
        }
        for (pointer, image) in images {
            let expanded = expand_leading(image.trim(), &defs, &allow);
            // Images pipewright pushed itself (the test stage runs in the built image) are
            // as trusted as those it pulls.
            let trusted = |name: &str| {
                has_prefix(name, &settings.registries)
                    || has_prefix(name, &settings.push_registries)
            };
            if trusted(&expanded) || docker_hub_name(&expanded).is_some_and(|n| trusted(&n)) {
                continue;
            }
            let pos = m.doc.pos(&pointer);
            let shown = if expanded != image {
                format!("`{image}` (= `{expanded}`)")
            } else {
                format!("`{image}`")
            };
            let fix = fix::rename_image(m.doc, text, lines, &pointer, image, settings);
            out.push(IMAGE_REGISTRY.fixable(
                pos,
                format!(
                    "image {shown} does not come from the configured registry ({})",
                    settings
                        .registries
                        .iter()
                        .chain(&settings.push_registries)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                fix,
            ));
        }
    }
}

/// Where a push command sends an image, if the statement is one.
fn push_destinations(statement: &str) -> Vec<String> {
    let mut out = Vec::new();
    let ws = shell::words(statement);
    for (i, w) in ws.iter().enumerate() {
        if let Some(d) = w.strip_prefix("--destination=") {
            out.push(d.to_string());
        } else if w == "--destination" {
            if let Some(d) = ws.get(i + 1) {
                out.push(d.clone());
            }
        }
    }
    for (cmd, args) in shell::commands(statement) {
        let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        let dest = match (cmd.as_str(), positional.first().map(|s| s.as_str())) {
            ("docker" | "podman" | "nerdctl", Some("push")) => positional.get(1),
            ("buildah", Some("push")) => positional.get(2).or(positional.get(1)),
            ("crane" | "gcrane", Some("push")) => positional.get(2),
            ("crane" | "gcrane", Some("copy" | "cp")) => positional.get(2),
            ("skopeo", Some("copy")) => positional.get(2),
            ("oras", Some("push")) => positional.get(1),
            _ => None,
        };
        if let Some(d) = dest {
            out.push(d.trim_start_matches("docker://").to_string());
        }
    }
    out
}

fn check_remote_code(statements: &[ScriptStatement], out: &mut Vec<Finding>) {
    for st in statements {
        if let Some(hit) = super::remote_code::fetch_and_run(&st.text) {
            out.push(REMOTE_CODE_RUN.at(
                st.pos,
                format!("`{hit}` runs whatever the server answers; download the file, check its checksum, then run it (or use a pinned image that has the tool)"),
            ));
        }
    }
}

fn check_pushes(
    statements: &[ScriptStatement],
    settings: &ValidatorSettings,
    defs: &[VarDef],
    out: &mut Vec<Finding>,
) {
    let allow = AllowList::new(settings);
    let defined: HashMap<&str, &str> = defs
        .iter()
        .map(|d| (d.name.as_str(), d.value.as_str()))
        .collect();
    // Cheap word test first: tokenising every statement of a big file costs more than it finds.
    let may_push = |t: &str| {
        ["push", "--destination", "copy", " cp "]
            .iter()
            .any(|w| t.contains(w))
    };
    for st in statements.iter().filter(|st| may_push(&st.text)) {
        for dest in push_destinations(&st.text) {
            let expanded = expand_leading(&dest, &defined, &allow);
            if has_prefix(&expanded, &settings.push_registries) {
                continue;
            }
            out.push(PUSH_REGISTRY.at(
                st.pos,
                format!(
                    "pushes the image to `{dest}`, outside the configured push registry ({})",
                    settings.push_registries.join(" or ")
                ),
            ));
        }
    }
}

fn check_trusted_variables(
    doc: &YamlDoc,
    allow: &AllowList,
    defs: &[VarDef],
    out: &mut Vec<Finding>,
) {
    for d in defs {
        if !allow.var_allowed(&d.name) {
            continue;
        }
        let value = d.value.trim();
        let ok = match leading_variable(value) {
            Some(other) => allow.var_allowed(other),
            None => !value.is_empty() && allow.host_allowed(host_of(value)),
        };
        if !ok {
            out.push(TRUSTED_VARIABLE_OVERRIDDEN.at(
                doc.pos(&d.pointer),
                format!(
                    "`{}` is redefined in the file, to a destination not in the allow list; registries and allowed hosts must come from CI/CD settings",
                    d.name
                ),
            ));
        }
    }
}

fn check_includes(m: &Model<'_>, allow: &AllowList, out: &mut Vec<Finding>) {
    let Some(include) = m.doc.map().get("include") else {
        return;
    };
    let items: Vec<(String, &Value)> = match include {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("/include/{i}"), v))
            .collect(),
        other => vec![("/include".to_string(), other)],
    };
    for (pointer, item) in items {
        let (target, what, at) = match item {
            Value::String(s) if s.contains("://") => {
                (s.as_str(), "remote include", pointer.clone())
            }
            Value::Object(o) => match (o.get("remote"), o.get("component")) {
                (Some(Value::String(url)), _) => {
                    (url.as_str(), "remote include", join(&pointer, "remote"))
                }
                (_, Some(Value::String(c))) => {
                    (c.as_str(), "component", join(&pointer, "component"))
                }
                _ => continue,
            },
            _ => continue,
        };
        let host = host_of(target);
        let ok = match leading_variable(host) {
            Some(name) => allow.var_allowed(name),
            None => allow.host_allowed(host),
        };
        if !ok {
            out.push(INCLUDE_REMOTE.at(
                m.doc.pos(&at),
                format!("{what} from `{host}`, which is not an allowed host; its jobs would run unchecked"),
            ));
        }
    }
}

fn check_owned(m: &Model<'_>, settings: &ValidatorSettings, out: &mut Vec<Finding>) {
    let expected: Vec<&str> = NINE_STAGES
        .iter()
        .copied()
        .filter(|s| !settings.left_out.iter().any(|l| l == s))
        .collect();
    let stages_pos = m.doc.key_pos("/stages");
    let declared: Vec<&str> = if m.stages_declared {
        m.stages
            .iter()
            .map(String::as_str)
            .filter(|s| !IMPLICIT_STAGES.contains(s))
            .collect()
    } else {
        Vec::new()
    };
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|s| !declared.contains(s))
        .collect();
    if !missing.is_empty() {
        out.push(OWNED_STAGES.at(
            stages_pos,
            format!(
                "the pipeline lacks the stage(s) {}; pipewright's pipelines have these: {}",
                missing.join(", "),
                expected.join(", ")
            ),
        ));
    } else {
        let order: Vec<&str> = declared
            .iter()
            .copied()
            .filter(|s| expected.contains(s))
            .collect();
        if order != expected {
            out.push(OWNED_STAGES.at(
                stages_pos,
                format!(
                    "the nine stages are out of order ({}); expected {}",
                    order.join(", "),
                    expected.join(", ")
                ),
            ));
        }
    }
    let mut per_stage: HashMap<String, usize> = HashMap::new();
    for job in &m.jobs {
        *per_stage.entry(m.stage_of(job).0).or_default() += 1;
    }
    for (i, stage) in NINE_STAGES.iter().enumerate() {
        if !declared.contains(stage) || per_stage.contains_key(*stage) {
            continue;
        }
        let pos = declared
            .iter()
            .position(|s| s == stage)
            .map(|idx| m.doc.pos(&format!("/stages/{idx}")))
            .unwrap_or(stages_pos);
        let _ = i;
        out.push(OWNED_STAGE_EMPTY.at(
            pos,
            format!("stage `{stage}` has no job; every stage of a pipewright pipeline runs at least one"),
        ));
    }
    // A monorepo has one learn job per service (`learn:<service>`).
    let learn_ok = m
        .jobs
        .iter()
        .filter(|j| **j == "learn" || j.starts_with("learn:"))
        .any(|j| m.stage_of(j).0 == "learn");
    if !learn_ok {
        let pos = if m.jobs.contains(&"learn") {
            m.doc.key_pos("/learn")
        } else {
            stages_pos
        };
        out.push(OWNED_LEARN_JOB.at(
            pos,
            "the `learn` job (stage `learn`), which reports the result to pipewright, is missing",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_extracted_from_urls_and_addresses() {
        assert_eq!(
            host_of("https://user:p@evil.example:8443/x?y"),
            "evil.example"
        );
        assert_eq!(host_of("nexus.local:8082/apm-repo"), "nexus.local");
        assert_eq!(host_of("git@github.com:org/repo"), "github.com");
    }

    #[test]
    fn prefixes_need_a_slash_after_them() {
        let p = vec!["$NEXUS_PULL_REGISTRY".to_string()];
        assert!(has_prefix("$NEXUS_PULL_REGISTRY/apm-repo/demo/node:20", &p));
        assert!(!has_prefix("$NEXUS_PULL_REGISTRY.evil.com/node:20", &p));
        assert!(!has_prefix("docker.io/node:20", &p));
        let repo = vec!["$CI_REGISTRY_IMAGE".to_string(), "nexus.local".to_string()];
        assert!(has_prefix("$CI_REGISTRY_IMAGE:1.0", &repo));
        assert!(!has_prefix("$CI_REGISTRY_IMAGE_EVIL:1.0", &repo));
        assert!(!has_prefix("nexus.local:9999/x", &repo));
    }

    #[test]
    fn images_without_a_registry_are_on_docker_hub() {
        assert_eq!(
            docker_hub_name("node:20").as_deref(),
            Some("docker.io/library/node:20")
        );
        assert_eq!(
            docker_hub_name("bitnami/redis:7").as_deref(),
            Some("docker.io/bitnami/redis:7")
        );
        assert_eq!(docker_hub_name("ghcr.io/x/y:1"), None);
        assert_eq!(docker_hub_name("$REG/x:1"), None);
    }

    #[test]
    fn leading_variables_in_both_forms() {
        assert_eq!(leading_variable("${A_B}/x"), Some("A_B"));
        assert_eq!(leading_variable("$A/x"), Some("A"));
        assert_eq!(leading_variable("${A/x"), None);
        assert_eq!(leading_variable("x$A"), None);
    }

    #[test]
    fn push_destinations_of_common_tools() {
        assert_eq!(
            push_destinations("/kaniko/executor --context . --destination $R/app:1"),
            ["$R/app:1"]
        );
        assert_eq!(
            push_destinations("docker push evil.io/app:1"),
            ["evil.io/app:1"]
        );
        assert_eq!(
            push_destinations("skopeo copy docker://a docker://b/c:1"),
            ["b/c:1"]
        );
    }
}
