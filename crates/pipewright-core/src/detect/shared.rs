//! What every ecosystem shares: `Procfile` start commands, Dockerfile `EXPOSE`, compose
//! ports and databases, framework default ports, and the warning when no runtime version is
//! pinned. Applied after the ecosystem's own detector, which always wins.

use super::compose::ComposeFacts;
use super::scan;
use super::{Candidate, DirContext, PortOrigin};
use crate::stack::{Framework, Role};
use regex::Regex;
use std::sync::LazyLock;

/// Files read for every service folder, whatever its ecosystem (by file name).
/// A detector's built-in regex, with the Perl classes `\d`, `\w`, `\s` (and `\D`, `\W`, `\S`)
/// and the word boundary `\b` meaning their ASCII sets. Manifests and configuration spell ports, versions and names in
/// ASCII, and the Unicode classes made compiling one regex cost up to a millisecond of a run
/// (`\d{2,5}` is five copies of every script's digits). Inside a class the replacement is a
/// nested class (`[\w.-]` is `[[0-9A-Za-z_].-]`), which the regex crate reads as a union.
/// The patterns are constants of this crate, checked by the tests; one that does not compile
/// is a bug here, hence the panic.
pub(crate) fn ascii_regex(pattern: &str) -> Regex {
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str("[0-9]"),
            Some('D') => out.push_str("[^0-9]"),
            Some('w') => out.push_str("[0-9A-Za-z_]"),
            Some('W') => out.push_str("[^0-9A-Za-z_]"),
            Some('s') => out.push_str(r"[\t\n\x0B\x0C\r ]"),
            Some('S') => out.push_str(r"[^\t\n\x0B\x0C\r ]"),
            Some('b') => out.push_str(r"(?-u:\b)"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Regex::new(&out).unwrap_or_else(|e| panic!("built-in pattern {pattern:?}: {e}"))
}

pub fn wants(name: &str) -> bool {
    matches!(
        name,
        "Dockerfile"
            | "Containerfile"
            | "Procfile"
            | ".tool-versions"
            | "mise.toml"
            | ".mise.toml"
            | ".gitattributes"
            | "docker-compose.yml"
            | "docker-compose.yaml"
            | "compose.yml"
            | "compose.yaml"
    ) || ENV_EXAMPLES.contains(&name)
        || name == crate::overrides::FILE_NAME
}

/// Example environment files a repository documents its settings in.
pub const ENV_EXAMPLES: &[&str] = &[
    ".env.example",
    ".env.sample",
    ".env.dist",
    ".env.template",
    "env-example",
    "env.example",
    "example.env",
];

/// Keys of an example environment file that hold the application's HTTP port, in order.
const ENV_PORT_KEYS: &[&str] = &[
    "PORT",
    "APP_PORT",
    "HTTP_PORT",
    "SERVER_PORT",
    "WEB_PORT",
    "API_PORT",
];

/// The port an example environment file documents (`PORT=8080`), offered at its rank.
pub fn env_example_port(ctx: &DirContext<'_>, cand: &mut Candidate) {
    for name in ENV_EXAMPLES {
        let Some(text) = ctx.text(name) else { continue };
        let vars: Vec<(&str, &str)> = text
            .lines()
            .map(|l| l.trim())
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
            .map(|(k, v)| (k.trim(), v.trim().trim_matches(['"', '\''])))
            .collect();
        for key in ENV_PORT_KEYS {
            if let Some(p) = vars
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.parse::<u16>().ok())
            {
                cand.set_port_from(
                    PortOrigin::EnvExample,
                    p,
                    &ctx.path(name),
                    format!("{key}={p} in {name}"),
                );
                return;
            }
        }
    }
}

/// The port a framework listens on when nothing says otherwise, where it has one.
pub const DEFAULT_PORTS: &[(Framework, u16)] = &[
    (Framework::Rails, 3000),
    (Framework::Sinatra, 4567),
    (Framework::Hanami, 2300),
    (Framework::Django, 8000),
    (Framework::Flask, 5000),
    (Framework::FastApi, 8000),
    (Framework::Express, 3000),
    (Framework::NextJs, 3000),
    (Framework::NestJs, 3000),
    (Framework::SpringBoot, 8080),
    (Framework::Quarkus, 8080),
    (Framework::Micronaut, 8080),
    (Framework::Ktor, 8080),
    (Framework::Gin, 8080),
    (Framework::Rocket, 8000),
    (Framework::Laravel, 8000),
    (Framework::Symfony, 8000),
    (Framework::AspNetCore, 8080),
    (Framework::Phoenix, 4000),
];

/// The number of a Dockerfile's first `EXPOSE` (`EXPOSE 8000`, `expose 8000/tcp`): up to five
/// digits after the instruction and its blanks, the instruction first on its line. A scanner
/// for the regex `(?im)^\s*EXPOSE\s+(\d{1,5})`, except that the case is ASCII's (Unicode's
/// would also take `EXPOſE`, with a long s).
fn first_expose(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    scan::occurrences(b, &["E", "e"]).find_map(|at| {
        if !b.get(at..at + 6)?.eq_ignore_ascii_case(b"EXPOSE") {
            return None;
        }
        if !scan::line_starts_blank(b, at) {
            return None;
        }
        let digits = scan::skip_space(b, at + 6);
        if digits == at + 6 {
            return None;
        }
        let run = scan::digit_run(b, digits).min(5);
        (run > 0).then(|| &text[digits..digits + run])
    })
}
static PROCFILE_WEB: LazyLock<Regex> = LazyLock::new(|| ascii_regex(r"(?m)^web:\s*(.+?)\s*$"));

/// A port in a start command: `--bind 0.0.0.0:8000`, `-b :8000`, `--port 8000`, `-p 8000`.
static START_PORT: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(r"(?:--bind[= ]|-b\s+|--port[= ]|-p\s+|--listen[= ])(?:[\w.\[\]]*:)?(\d{2,5})\b")
});

/// Adds the shared facts to a resolved candidate.
pub fn enrich(ctx: &DirContext<'_>, cand: &mut Candidate, compose: Option<&ComposeFacts>) {
    if let Some(text) = ctx.text("Procfile") {
        if let Some(m) = PROCFILE_WEB.captures(text).and_then(|c| c.get(1)) {
            let cmd = m.as_str().to_string();
            cand.note(
                "command",
                ctx.path("Procfile"),
                format!("start: {cmd} (Procfile web)"),
            );
            // The port the start command binds is the one the image serves on, whatever
            // default the code names.
            if let Some(port) = START_PORT
                .captures(&cmd)
                .and_then(|c| c.get(1))
                .and_then(|m| m.as_str().parse::<u16>().ok())
                .filter(|p| *p > 0)
            {
                cand.set_port_from(
                    PortOrigin::StartCommand,
                    port,
                    &ctx.path("Procfile"),
                    format!("the Procfile web command binds port {port}"),
                );
            }
            cand.commands.start = Some(cmd);
            if cand.role < Role::Application {
                cand.set_role(
                    Role::Application,
                    &ctx.path("Procfile"),
                    "Procfile declares a web process",
                );
            }
        }
    }
    env_example_port(ctx, cand);
    if let Some(text) = ctx.text("Dockerfile") {
        if let Some(port) = first_expose(text).and_then(|m| m.parse::<u16>().ok()) {
            let path = ctx.path("Dockerfile");
            cand.set_port_from(
                PortOrigin::Dockerfile,
                port,
                &path,
                format!("EXPOSE {port}"),
            );
        }
    }
    if let Some(facts) = compose {
        if let Some((port, file)) = &facts.port {
            cand.set_port_from(
                PortOrigin::Compose,
                *port,
                file,
                format!("compose publishes container port {port}"),
            );
        }
        for (db, file, detail) in &facts.databases {
            cand.add_database(*db, file, detail.clone());
        }
    }
    // The repository's own CI: below the manifests (already read), above the defaults.
    super::ci_files::enrich(ctx, cand);
    if cand.port.is_none() {
        if let Some(fw) = cand.framework {
            if let Some((_, port)) = DEFAULT_PORTS.iter().find(|(f, _)| *f == fw) {
                let source = format!("framework default ({fw})");
                cand.set_port_from(
                    PortOrigin::FrameworkDefault,
                    *port,
                    &source,
                    format!("{fw} listens on {port} unless told otherwise"),
                );
            }
        }
    }
    if !cand.versions.iter().any(|v| v.name == cand.runtime) {
        let msg = format!(
            "no {} version is pinned (checked the ecosystem's version files and .tool-versions/mise.toml); \
             the generator will choose its default and say so; pin one to be sure",
            cand.runtime
        );
        cand.warn(ctx.display(), msg);
    }
}

#[cfg(test)]
mod tests {
    use super::ascii_regex;
    use super::first_expose;
    use crate::detect::scan::oracle::{fixture_texts, segments};
    use proptest::prelude::*;
    use regex::Regex;
    use std::sync::LazyLock;

    /// The regex `first_expose` replaces, as its oracle.
    static EXPOSE: LazyLock<Regex> = LazyLock::new(|| ascii_regex(r"(?im)^\s*EXPOSE\s+(\d{1,5})"));

    fn expose_by_regex(text: &str) -> Option<&str> {
        EXPOSE
            .captures(text)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str())
    }

    const EXPOSE_PARTS: &[&[&str]] = &[
        &["", "\n", "\n\n", "FROM x\n", "# ", "RUN ", "\r\n"],
        &["", " ", "\t", "\n  "],
        &[
            "EXPOSE", "expose", "Expose", "EXPOS", "XEXPOSE", "EXPOSED", "e",
        ],
        &["", " ", "  ", "\n", "\t"],
        &[
            "8000",
            "80/tcp",
            "123456",
            "0",
            "",
            "$PORT",
            "8000 9000",
            "x",
        ],
        &["", "\n", " ", "/udp"],
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn the_expose_scanner_agrees_with_its_regex(
            text in segments(EXPOSE_PARTS)) {
            prop_assert_eq!(first_expose(&text), expose_by_regex(&text));
        }
    }

    #[test]
    fn the_expose_scanner_stays_linear_on_a_long_line_of_near_misses() {
        let line = format!("{}\nEXPOSE 8080", " EXPOSE EXPOSE".repeat(100_000));
        assert_eq!(first_expose(&line), Some("8080"));
    }

    #[test]
    fn the_expose_scanner_agrees_with_its_regex_on_the_fixtures() {
        let mut found = 0;
        for (path, text) in fixture_texts() {
            let mine = first_expose(&text);
            assert_eq!(mine, expose_by_regex(&text), "{path:?}");
            found += usize::from(mine.is_some());
        }
        assert!(found > 0, "no fixture file has an EXPOSE");
    }

    #[test]
    fn ascii_regexes_read_perl_classes_as_ascii() {
        let port = ascii_regex(r"\bport\s*=\s*(\d{2,5})\b");
        assert_eq!(&port.captures("port = 8080").expect("port")[1], "8080");
        assert!(
            !port.is_match("port = \u{0663}\u{0663}\u{0663}"),
            "Arabic-Indic digits"
        );
        let name = ascii_regex(r"^([\w.-]+)\S*$");
        assert_eq!(
            &name.captures("my_pkg.v2-x==1").expect("name")[1],
            "my_pkg.v2-x"
        );
        assert!(
            ascii_regex(r"a\\d").is_match(r"a\d"),
            "an escaped backslash stays one"
        );
        assert!(ascii_regex(r"^[^\s]+$").is_match("\u{e9}t\u{e9}"));
        assert!(!ascii_regex(r"^\s$").is_match("\u{a0}"));
    }
}
