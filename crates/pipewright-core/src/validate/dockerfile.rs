//! Dockerfile rules in the spirit of hadolint, on a small parser of our own: instructions with
//! their line continuations joined (comment lines inside them skipped, `# escape=` honoured),
//! BuildKit heredocs read far enough to skip their bodies, and stages tracked so that
//! `FROM builder` is a stage reference, not an unpinned image, and build arguments fill in
//! base images, users and ports.

use super::catalog::*;
use super::fix::exec_form;
use super::secrets::{is_credential_name, scan};
use super::text::{LineIndex, Pos};
use super::{Edit, Finding, Fix, ValidatorSettings};
use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;

/// Instructions Docker knows.
const INSTRUCTIONS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// One instruction, continuations joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Upper-cased keyword (`RUN`).
    pub keyword: String,
    /// Everything after the keyword, continuation lines joined with a space.
    pub args: String,
    /// 1-based line of the keyword.
    pub line: usize,
    /// Byte offset of the keyword.
    pub start: usize,
    /// Byte offset just past the instruction's last line, before any heredoc body.
    pub args_end: usize,
    /// Byte offset just past the whole instruction (heredoc bodies included).
    pub end: usize,
    /// Heredoc bodies, in order.
    pub heredocs: Vec<String>,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, Default)]
pub struct Dockerfile {
    pub instructions: Vec<Instruction>,
    /// Problems the parser met (position, message).
    pub problems: Vec<(Pos, String)>,
}

static HEREDOC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)(["']?)"#).expect("static regex")
});

/// Parses `text` into instructions. Never fails: what it cannot read becomes a problem.
pub fn parse(text: &str) -> Dockerfile {
    let lines = LineIndex::new(text);
    let count = text.lines().count();
    let mut escape = '\\';
    let mut out = Dockerfile::default();
    let mut i = 1;
    let mut directives_allowed = true;
    while i <= count {
        let raw = lines.line_text(i);
        let trimmed = raw.trim_start();
        if trimmed.is_empty() {
            directives_allowed = false;
            i += 1;
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            if directives_allowed {
                if let Some((k, v)) = comment.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("escape") {
                        escape = v.trim().chars().next().unwrap_or('\\');
                    }
                } else {
                    directives_allowed = false;
                }
            }
            i += 1;
            continue;
        }
        directives_allowed = false;
        let start = lines.line_start(i) + (raw.len() - trimmed.len());
        let first_line = i;
        let (keyword, rest) = match trimmed.split_once(char::is_whitespace) {
            Some((k, r)) => (k, r),
            None => (trimmed, ""),
        };
        let mut args = rest.trim().to_string();
        while args.ends_with(escape) {
            args.pop();
            // Comment and empty lines inside a continuation are skipped, as Docker does.
            loop {
                i += 1;
                if i > count {
                    break;
                }
                let next = lines.line_text(i).trim_start();
                if !(next.starts_with('#') || next.is_empty()) {
                    break;
                }
            }
            if i > count {
                break;
            }
            args = format!("{} {}", args.trim_end(), lines.line_text(i).trim());
        }
        let args_end = lines.line_end(i.min(count));
        let mut heredocs = Vec::new();
        let keyword_upper = keyword.to_ascii_uppercase();
        if matches!(keyword_upper.as_str(), "RUN" | "COPY" | "ADD") {
            for c in HEREDOC.captures_iter(&args.clone()) {
                let strip_tabs = c.get(1).is_some_and(|m| !m.as_str().is_empty());
                let Some(word) = c.get(3).map(|m| m.as_str().to_string()) else {
                    continue;
                };
                let mut body = String::new();
                let mut closed = false;
                while i < count {
                    i += 1;
                    let l = lines.line_text(i);
                    let cmp = if strip_tabs {
                        l.trim_start_matches('\t')
                    } else {
                        l
                    };
                    if cmp == word {
                        closed = true;
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                if !closed {
                    out.problems.push((
                        Pos::new(first_line, 1),
                        format!("the heredoc `{word}` opened here is never closed"),
                    ));
                }
                heredocs.push(body);
            }
        }
        let end = lines.line_end(i.min(count));
        out.instructions.push(Instruction {
            keyword: keyword_upper,
            args,
            line: first_line,
            start,
            args_end,
            end,
            heredocs,
        });
        i += 1;
    }
    out
}

/// One build stage.
#[derive(Debug, Clone)]
struct Stage {
    /// Index of its FROM in the instruction list.
    from: usize,
    /// Index of its last instruction (inclusive).
    last: usize,
    /// The stage it builds on, when its FROM names an earlier stage.
    parent: Option<usize>,
}

static VAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
        .expect("static regex")
});

/// Substitutes known variables; unknown ones stay as written. Returns whether all resolved.
fn substitute(text: &str, vars: &HashMap<String, String>) -> (String, bool) {
    let mut complete = true;
    let out = VAR
        .replace_all(text, |c: &regex::Captures<'_>| {
            let name = c.get(1).or(c.get(4)).map(|m| m.as_str()).unwrap_or("");
            let op = c.get(2).map(|m| m.as_str());
            let word = c.get(3).map(|m| m.as_str()).unwrap_or("");
            match (vars.get(name).filter(|v| !v.is_empty()), op) {
                (Some(_), Some("+")) => word.to_string(),
                (Some(v), _) => v.clone(),
                (None, Some("-")) => word.to_string(),
                (None, Some("+")) => String::new(),
                (None, _) => {
                    complete = false;
                    c.get(0).map(|m| m.as_str().to_string()).unwrap_or_default()
                }
            }
        })
        .into_owned();
    (out, complete)
}

/// The names of a Dockerfile's build stages (`FROM … AS name`), lowercased, in order.
pub fn stage_names(text: &str) -> Vec<String> {
    parse(text)
        .instructions
        .iter()
        .filter(|i| i.keyword == "FROM")
        .filter_map(|i| from_parts(&i.args).1)
        .collect()
}

/// Every stage in order, by its `AS` name (lowercased) or `None` when it has none.
pub fn stage_list(text: &str) -> Vec<Option<String>> {
    parse(text)
        .instructions
        .iter()
        .filter(|i| i.keyword == "FROM")
        .map(|i| from_parts(&i.args).1)
        .collect()
}

/// The working directory a stage's commands run in: its last absolute `WORKDIR`, else the
/// one of the stage it is built `FROM`, else `/`. Relative `WORKDIR`s are joined.
pub fn stage_workdir(text: &str, stage: &str) -> String {
    let mut dirs: Vec<(Option<String>, String)> = Vec::new();
    for i in parse(text).instructions {
        match i.keyword.as_str() {
            "FROM" => {
                let (base, name) = from_parts(&i.args);
                let inherited = base
                    .map(str::to_ascii_lowercase)
                    .and_then(|b| {
                        dirs.iter()
                            .rev()
                            .find(|(n, _)| n.as_deref() == Some(b.as_str()))
                    })
                    .map(|(_, d)| d.clone())
                    .unwrap_or_else(|| "/".to_string());
                dirs.push((name, inherited));
            }
            "WORKDIR" => {
                if let Some((_, dir)) = dirs.last_mut() {
                    let arg = i.args.trim().trim_matches('"');
                    *dir = if arg.starts_with('/') {
                        arg.to_string()
                    } else {
                        format!("{}/{arg}", dir.trim_end_matches('/'))
                    };
                }
            }
            _ => {}
        }
    }
    dirs.into_iter()
        .find(|(n, _)| n.as_deref() == Some(stage))
        .map(|(_, d)| d)
        .unwrap_or_else(|| "/".to_string())
}

/// Splits `FROM [--flags] image [AS name]`.
fn from_parts(args: &str) -> (Option<&str>, Option<String>) {
    let words: Vec<&str> = args
        .split_whitespace()
        .filter(|w| !w.starts_with("--"))
        .collect();
    let image = words.first().copied();
    let name = match words.as_slice() {
        [_, as_kw, name, ..] if as_kw.eq_ignore_ascii_case("as") => Some(name.to_ascii_lowercase()),
        _ => None,
    };
    (image, name)
}

/// The pairs of an `ARG` instruction (`A=1 B="x y"`; a name alone has no default).
pub fn arg_pairs(args: &str) -> Vec<(String, Option<String>)> {
    pairs(args, false)
}

/// `ARG`/`ENV` pairs (`A=1 B="x y"`, or the legacy `ENV A value`).
fn pairs(args: &str, legacy_allowed: bool) -> Vec<(String, Option<String>)> {
    let words = super::shell::words(args);
    if legacy_allowed && !words.first().is_some_and(|w| w.contains('=')) {
        let mut it = args.splitn(2, char::is_whitespace);
        let name = it.next().unwrap_or("").to_string();
        let value = it.next().map(|v| v.trim().to_string());
        return vec![(name, value)];
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (w, None),
        })
        .collect()
}

/// Dockerfiles larger than this are refused unread (real ones are a few KiB).
pub const MAX_DOCKERFILE_BYTES: usize = 1024 * 1024;

/// All findings for a Dockerfile.
pub fn check(text: &str, settings: &ValidatorSettings) -> Vec<Finding> {
    if text.len() > MAX_DOCKERFILE_BYTES {
        return finish(vec![DOCKERFILE_SYNTAX.at(
            Pos::START,
            format!(
                "the file is {} bytes, more than the {MAX_DOCKERFILE_BYTES}-byte limit for a Dockerfile",
                text.len()
            ),
        )]);
    }
    let lines = LineIndex::new(text);
    let df = parse(text);
    let mut out: Vec<Finding> = df
        .problems
        .iter()
        .map(|(pos, msg)| DOCKERFILE_SYNTAX.at(*pos, msg.clone()))
        .collect();
    let ins = &df.instructions;
    for i in ins {
        if !INSTRUCTIONS.contains(&i.keyword.as_str()) {
            out.push(DOCKERFILE_SYNTAX.at(
                Pos::new(i.line, 1),
                format!("unknown instruction `{}`", i.keyword),
            ));
        }
    }
    // Global build arguments (before the first FROM) fill in FROM lines.
    let mut global_args: HashMap<String, String> = HashMap::new();
    let first_from = ins.iter().position(|i| i.keyword == "FROM");
    let Some(first_from) = first_from else {
        out.push(DOCKERFILE_NO_FROM.at(Pos::START, "the Dockerfile has no FROM instruction"));
        return finish(out);
    };
    for i in &ins[..first_from] {
        if i.keyword == "ARG" {
            for (name, value) in pairs(&i.args, false) {
                global_args.insert(name, value.unwrap_or_default());
            }
        } else if INSTRUCTIONS.contains(&i.keyword.as_str()) {
            out.push(DOCKERFILE_NO_FROM.at(
                Pos::new(i.line, 1),
                format!("`{}` comes before the first FROM; only ARG may", i.keyword),
            ));
        }
    }
    // Stages.
    let mut stages: Vec<Stage> = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let from_indices: Vec<usize> = ins
        .iter()
        .enumerate()
        .filter(|(_, i)| i.keyword == "FROM")
        .map(|(n, _)| n)
        .collect();
    for (s, &from) in from_indices.iter().enumerate() {
        let last = from_indices
            .get(s + 1)
            .map(|n| n - 1)
            .unwrap_or(ins.len() - 1);
        let instr = &ins[from];
        let (image, name) = from_parts(&instr.args);
        let parent = image.and_then(|img| names.get(&img.to_ascii_lowercase()).copied());
        check_from(
            instr,
            image,
            parent.is_some(),
            &global_args,
            &lines,
            &mut out,
        );
        if let Some(n) = name {
            names.insert(n, s);
        }
        stages.push(Stage { from, last, parent });
    }
    let final_stage = stages.len() - 1;
    // The stages whose layers end up in the final image.
    let mut in_final = vec![false; stages.len()];
    let mut cur = Some(final_stage);
    while let Some(s) = cur {
        if in_final[s] {
            break;
        }
        in_final[s] = true;
        cur = stages[s].parent;
    }
    let mut users: Vec<Option<(String, usize)>> = vec![None; stages.len()];
    for (s, stage) in stages.iter().enumerate() {
        let mut vars = global_args.clone();
        let mut user = stage.parent.and_then(|p| users[p].clone());
        for (idx, i) in ins
            .iter()
            .enumerate()
            .take(stage.last + 1)
            .skip(stage.from + 1)
        {
            let mut reported_secret = false;
            match i.keyword.as_str() {
                "ARG" | "ENV" => {
                    reported_secret = check_arg_env(i, settings, &mut vars, &mut out);
                }
                "USER" => {
                    let (u, _) = substitute(i.args.trim(), &vars);
                    user = Some((u, idx));
                }
                "ADD" => check_add(i, &mut out),
                "RUN" => check_run(i, &lines, in_final[s], &vars, &mut out),
                "CMD" | "ENTRYPOINT" => check_exec_form(i, &mut out),
                _ => {}
            }
            if !reported_secret {
                for hit in scan(ins_text(text, i), settings) {
                    out.push(SECRET_IN_CLEAR.at(
                        lines.pos(i.start + hit.offset),
                        format!("{} is written in clear in the Dockerfile; pass it as a build secret (`RUN --mount=type=secret`)", hit.kind),
                    ));
                }
            }
        }
        users[s] = user;
    }
    check_final_user(
        &stages[final_stage],
        ins,
        users[final_stage].as_ref(),
        &mut out,
    );
    if let Some(port) = settings.expected_port {
        check_expose(
            text,
            &stages[final_stage],
            ins,
            &global_args,
            port,
            &mut out,
        );
    }
    finish(out)
}

fn finish(out: Vec<Finding>) -> Vec<Finding> {
    out.into_iter().map(|f| f.in_file("Dockerfile")).collect()
}

fn ins_text<'t>(text: &'t str, i: &Instruction) -> &'t str {
    text.get(i.start..i.end).unwrap_or("")
}

fn check_from(
    i: &Instruction,
    image: Option<&str>,
    is_stage: bool,
    args: &HashMap<String, String>,
    lines: &LineIndex<'_>,
    out: &mut Vec<Finding>,
) {
    let Some(image) = image else {
        out.push(DOCKERFILE_SYNTAX.at(Pos::new(i.line, 1), "FROM names no image"));
        return;
    };
    if is_stage || image.eq_ignore_ascii_case("scratch") {
        return;
    }
    let col = lines
        .line_text(i.line)
        .find(image)
        .map(|c| c + 1)
        .unwrap_or(1);
    let pos = Pos::new(
        i.line,
        lines
            .line_text(i.line)
            .get(..col - 1)
            .map(|s| s.chars().count() + 1)
            .unwrap_or(col),
    );
    let (resolved, _) = substitute(image, args);
    if resolved.contains('@') {
        return;
    }
    let last = resolved.rsplit('/').next().unwrap_or(&resolved);
    match last.split_once(':') {
        Some((_, tag)) if tag.contains('$') => out.push(FROM_TAG_UNVERIFIED.at(
            pos,
            format!("the tag of `{image}` comes from a build argument without a default; pin it with a default (ARG …=version)"),
        )),
        Some((_, "latest")) => out.push(FROM_UNPINNED.at(
            pos,
            format!("`{image}` uses the `latest` tag; pin the version (e.g. python:3.12-slim)"),
        )),
        Some(_) => {}
        None if last.contains('$') => out.push(FROM_TAG_UNVERIFIED.at(
            pos,
            format!("`{image}` comes from a build argument without a default, so its tag cannot be checked"),
        )),
        None => out.push(FROM_UNPINNED.at(
            pos,
            format!("`{image}` has no tag, which means `latest`; pin the version"),
        )),
    }
}

/// `secret-in-arg-env` and `credential-build-arg`; records the values for substitution.
/// Returns true when it reported a secret for this instruction.
fn check_arg_env(
    i: &Instruction,
    settings: &ValidatorSettings,
    vars: &mut HashMap<String, String>,
    out: &mut Vec<Finding>,
) -> bool {
    let is_env = i.keyword == "ENV";
    let mut reported = false;
    for (name, value) in pairs(&i.args, is_env) {
        let value_text = value.clone().unwrap_or_default();
        if is_credential_name(&name, settings) {
            let pos = Pos::new(i.line, 1);
            if !value_text.trim().is_empty() {
                reported = true;
                out.push(SECRET_IN_ARG_ENV.at(
                    pos,
                    format!(
                        "{} `{name}` bakes a credential into the image (its value stays in the layers and history); use `RUN --mount=type=secret,id={}` instead",
                        i.keyword,
                        name.to_ascii_lowercase()
                    ),
                ));
            } else if !is_env {
                out.push(CREDENTIAL_BUILD_ARG.at(
                    pos,
                    format!("build argument `{name}` carries a credential, which `docker history` shows; use `RUN --mount=type=secret` instead"),
                ));
            }
        }
        match value {
            Some(v) => {
                let (v, _) = substitute(&v, vars);
                vars.insert(name, v);
            }
            None => {
                vars.entry(name).or_default();
            }
        }
    }
    reported
}

const ARCHIVE_SUFFIXES: &[&str] = &[
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tar.zst",
    ".tzst",
    ".tar.lz",
    ".tar.lzma",
];

fn check_add(i: &Instruction, out: &mut Vec<Finding>) {
    if !i.heredocs.is_empty() {
        return;
    }
    let words: Vec<String> = if i.args.trim_start().starts_with('[') {
        match serde_json::from_str::<Vec<String>>(i.args.trim()) {
            Ok(w) => w,
            Err(_) => return,
        }
    } else {
        super::shell::words(&i.args)
            .into_iter()
            .filter(|w| !w.starts_with("--"))
            .collect()
    };
    if words.len() < 2 {
        return;
    }
    let sources = &words[..words.len() - 1];
    let remote_or_archive = sources.iter().any(|s| {
        let l = s.to_ascii_lowercase();
        l.contains("://")
            || l.starts_with("git@")
            || ARCHIVE_SUFFIXES.iter().any(|x| l.ends_with(x))
            || l.contains('$')
    });
    if remote_or_archive {
        return;
    }
    out.push(COPY_OVER_ADD.fixable(
        Pos::new(i.line, 1),
        "ADD copies local files here; use COPY, which does only that (ADD also fetches URLs and unpacks archives)",
        Some(Fix {
            description: "replace ADD with COPY".to_string(),
            edits: vec![Edit {
                start: i.start,
                end: i.start + 3,
                replacement: "COPY".to_string(),
            }],
        }),
    ));
}

static APT_INSTALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bapt(?:-get)?((?:\s+-{1,2}[A-Za-z][\w=:.-]*)*)\s+install\b")
        .expect("static regex")
});
static APK_ADD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bapk((?:\s+-{1,2}[A-Za-z][\w=-]*)*)\s+add\b").expect("static regex")
});
static YUM_INSTALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(yum|dnf|microdnf|tdnf)((?:\s+-{1,2}[A-Za-z][\w=-]*)*)\s+install\b")
        .expect("static regex")
});
static PIP_INSTALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:pip[0-9.]*|python[0-9.]*\s+-m\s+pip)((?:\s+-{1,2}[A-Za-z][\w=-]*)*)\s+install\b",
    )
    .expect("static regex")
});

/// Package-manager checks on one RUN: recommends (every stage) and cache cleanup (stages
/// that end up in the final image).
fn check_run(
    i: &Instruction,
    lines: &LineIndex<'_>,
    in_final: bool,
    vars: &HashMap<String, String>,
    out: &mut Vec<Finding>,
) {
    let text = lines.text();
    let body = if i.heredocs.is_empty() {
        i.args.clone()
    } else {
        format!("{}\n{}", i.args, i.heredocs.join("\n"))
    };
    if let Some(hit) = super::remote_code::fetch_and_run(&body) {
        out.push(Finding {
            file: "Dockerfile".into(),
            ..REMOTE_CODE_RUN.at(
                Pos::new(i.line, 1),
                format!("`{hit}` runs whatever the server answers at build time; download the file, check its checksum (`sha256sum -c`), then run it"),
            )
        });
    }
    if body.trim_start().starts_with('[') {
        return;
    }
    // The instruction's own text, where fixes are made (heredoc bodies are left alone).
    let raw_start = i.start;
    let raw = text.get(i.start..i.args_end).unwrap_or("");
    let fixable = i.heredocs.is_empty() && !raw.lines().last().unwrap_or("").contains('#');
    let cache_mount = |dir: &str| body.contains("--mount=type=cache") && body.contains(dir);
    let pos = Pos::new(i.line, 1);

    if APT_INSTALL.is_match(&body) {
        let flagged = body.contains("--no-install-recommends")
            || body.contains("Install-Recommends=false")
            || body.contains("Install-Recommends=\"false\"");
        if !flagged {
            let edits = if fixable {
                APT_INSTALL
                    .find_iter(raw)
                    .map(|m| Edit {
                        start: raw_start + m.end(),
                        end: raw_start + m.end(),
                        replacement: " --no-install-recommends".to_string(),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            out.push(APT_NO_INSTALL_RECOMMENDS.fixable(
                pos,
                "`apt-get install` without `--no-install-recommends` pulls in packages nobody asked for",
                (!edits.is_empty()).then(|| Fix {
                    description: "add --no-install-recommends".to_string(),
                    edits,
                }),
            ));
        }
        if in_final && !body.contains("/var/lib/apt/lists") && !cache_mount("/var/lib/apt") {
            out.push(PACKAGE_CACHE_NOT_CLEANED.fixable(
                pos,
                "apt lists stay in the image; end the RUN with `&& rm -rf /var/lib/apt/lists/*`",
                fixable.then(|| append(i, " && rm -rf /var/lib/apt/lists/*", "remove the apt lists")),
            ));
        }
    }
    if in_final
        && APK_ADD.is_match(&body)
        && !body.contains("--no-cache")
        && !body.contains("/var/cache/apk")
        && !cache_mount("/var/cache/apk")
    {
        let edits: Vec<Edit> = if fixable {
            APK_ADD
                .find_iter(raw)
                .map(|m| Edit {
                    start: raw_start + m.end(),
                    end: raw_start + m.end(),
                    replacement: " --no-cache".to_string(),
                })
                .collect()
        } else {
            Vec::new()
        };
        out.push(PACKAGE_CACHE_NOT_CLEANED.fixable(
            pos,
            "`apk add` without `--no-cache` leaves the package index in the image",
            (!edits.is_empty()).then(|| Fix {
                description: "add --no-cache".to_string(),
                edits,
            }),
        ));
    }
    if let Some(c) = YUM_INSTALL.captures(&body) {
        let tool = c.get(1).map(|m| m.as_str()).unwrap_or("yum");
        let cleaned = body.contains("clean all")
            || body.contains("/var/cache/yum")
            || body.contains("/var/cache/dnf");
        if in_final && !cleaned && !cache_mount("/var/cache/") {
            let cleaner = tool;
            out.push(PACKAGE_CACHE_NOT_CLEANED.fixable(
                pos,
                format!("`{tool} install` leaves its cache in the image; end the RUN with `&& {cleaner} clean all`"),
                fixable.then(|| append(i, &format!(" && {cleaner} clean all"), &format!("run {cleaner} clean all"))),
            ));
        }
    }
    let pip_env = vars
        .get("PIP_NO_CACHE_DIR")
        .is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    if in_final
        && PIP_INSTALL.is_match(&body)
        && !body.contains("--no-cache-dir")
        && !pip_env
        && !cache_mount("/root/.cache/pip")
    {
        let edits: Vec<Edit> = if fixable {
            PIP_INSTALL
                .find_iter(raw)
                .map(|m| Edit {
                    start: raw_start + m.end(),
                    end: raw_start + m.end(),
                    replacement: " --no-cache-dir".to_string(),
                })
                .collect()
        } else {
            Vec::new()
        };
        out.push(PACKAGE_CACHE_NOT_CLEANED.fixable(
            pos,
            "`pip install` without `--no-cache-dir` keeps the wheel cache in the image",
            (!edits.is_empty()).then(|| Fix {
                description: "add --no-cache-dir".to_string(),
                edits,
            }),
        ));
    }
}

fn append(i: &Instruction, text: &str, description: &str) -> Fix {
    Fix {
        description: description.to_string(),
        edits: vec![Edit {
            start: i.args_end,
            end: i.args_end,
            replacement: text.to_string(),
        }],
    }
}

fn check_exec_form(i: &Instruction, out: &mut Vec<Finding>) {
    let args = i.args.trim();
    if args.starts_with('[') && serde_json::from_str::<Vec<String>>(args).is_ok() {
        return;
    }
    let fix = exec_form(args).map(|json| Fix {
        description: format!("write {} in exec form", i.keyword),
        edits: vec![Edit {
            start: i.start,
            end: i.args_end,
            replacement: format!("{} {json}", &i.keyword),
        }],
    });
    let fix = fix.filter(|_| i.heredocs.is_empty());
    out.push(EXEC_FORM.fixable(
        Pos::new(i.line, 1),
        format!(
            "{} uses the shell form, so the process runs under `/bin/sh -c` and misses stop signals; use the JSON exec form",
            i.keyword
        ),
        fix,
    ));
}

fn check_final_user(
    stage: &Stage,
    ins: &[Instruction],
    user: Option<&(String, usize)>,
    out: &mut Vec<Finding>,
) {
    match user {
        None => out.push(USER_ROOT.at(
            Pos::new(ins[stage.from].line, 1),
            "the final stage sets no USER, so the container runs as root; add a non-root user and `USER` it",
        )),
        Some((u, idx)) => {
            let name = u.split(':').next().unwrap_or("").trim();
            if name == "root" || name == "0" {
                out.push(USER_ROOT.at(
                    Pos::new(ins[*idx].line, 1),
                    "the final stage runs as root; switch to a non-root USER last",
                ));
            }
        }
    }
}

fn check_expose(
    text: &str,
    stage: &Stage,
    ins: &[Instruction],
    global_args: &HashMap<String, String>,
    port: u16,
    out: &mut Vec<Finding>,
) {
    let mut vars = global_args.clone();
    let mut exposed: Vec<(u16, u16)> = Vec::new();
    let mut any_expose = None;
    for i in &ins[stage.from + 1..=stage.last] {
        match i.keyword.as_str() {
            "ARG" | "ENV" => {
                for (n, v) in pairs(&i.args, i.keyword == "ENV") {
                    if let Some(v) = v {
                        let (v, _) = substitute(&v, &vars);
                        vars.insert(n, v);
                    }
                }
            }
            "EXPOSE" => {
                any_expose.get_or_insert(i.line);
                for w in i.args.split_whitespace() {
                    let (w, _) = substitute(w, &vars);
                    let number = w.split('/').next().unwrap_or("");
                    let range = match number.split_once('-') {
                        Some((a, b)) => a.parse().ok().zip(b.parse().ok()),
                        None => number.parse().ok().map(|p| (p, p)),
                    };
                    exposed.extend(range);
                }
            }
            _ => {}
        }
    }
    if exposed.iter().any(|(a, b)| *a <= port && port <= *b) {
        return;
    }
    match any_expose {
        Some(line) => out.push(EXPOSE_PORT.at(
            Pos::new(line, 1),
            format!(
                    "the service listens on port {port}, but the final stage exposes {}",
                    exposed
                        .iter()
                        .map(|(a, b)| if a == b {
                            a.to_string()
                        } else {
                            format!("{a}-{b}")
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
        )),
        None => {
            // Declare it just before the command that starts the service, else at the end.
            let at = ins[stage.from + 1..=stage.last]
                .iter()
                .find(|i| i.keyword == "CMD" || i.keyword == "ENTRYPOINT")
                .map(|i| (i.start, format!("EXPOSE {port}\n")))
                .unwrap_or_else(|| {
                    let sep = if text.ends_with('\n') || text.is_empty() {
                        ""
                    } else {
                        "\n"
                    };
                    (text.len(), format!("{sep}EXPOSE {port}\n"))
                });
            out.push(EXPOSE_PORT.fixable(
                Pos::new(ins[stage.from].line, 1),
                format!("the service listens on port {port}, but the final stage EXPOSEs nothing"),
                Some(Fix {
                    description: format!("add EXPOSE {port}"),
                    edits: vec![Edit {
                        start: at.0,
                        end: at.0,
                        replacement: at.1,
                    }],
                }),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_names_follow_flags_case_and_continuations() {
        let text = "FROM --platform=$BUILDPLATFORM node:20 AS Deps\nFROM deps \\\n    AS test\nFROM nginx:1.27\n";
        assert_eq!(stage_names(text), vec!["deps", "test"]);
    }

    #[test]
    fn continuations_comments_and_heredocs_are_read() {
        let df = parse("FROM a:1\nRUN echo a \\\n# note\n  && echo b\nRUN <<EOF\nset -e\napt-get install x\nEOF\nCMD [\"x\"]\n");
        let k: Vec<&str> = df.instructions.iter().map(|i| i.keyword.as_str()).collect();
        assert_eq!(k, ["FROM", "RUN", "RUN", "CMD"]);
        assert_eq!(df.instructions[1].args, "echo a && echo b");
        assert_eq!(
            df.instructions[2].heredocs[0],
            "set -e\napt-get install x\n"
        );
        assert_eq!(df.instructions[3].line, 9);
        assert!(df.problems.is_empty());
    }

    #[test]
    fn unclosed_heredoc_is_a_problem_not_a_crash() {
        let df = parse("FROM a:1\nRUN <<EOF\necho\n");
        assert_eq!(df.problems.len(), 1);
    }

    #[test]
    fn escape_directive_is_honoured() {
        let df = parse("# escape=`\nFROM a:1\nRUN echo a `\n  b\n");
        assert_eq!(df.instructions[1].args, "echo a b");
    }

    #[test]
    fn substitution_with_defaults() {
        let vars: HashMap<String, String> = [("A".to_string(), "1".to_string())].into();
        assert_eq!(
            substitute("x:${A}-${B:-2}", &vars),
            ("x:1-2".to_string(), true)
        );
        assert!(!substitute("$C", &vars).1);
    }
}
