//! Ruby: Bundler; Rails, Hanami, Sinatra; RSpec, Minitest; RuboCop.
//!
//! Gems are read from the `Gemfile`, the `DEPENDENCIES` of `Gemfile.lock` and `*.gemspec`
//! files; the framework comes from the Gemfile and its lock only (a gemspec that depends on
//! Rails is an engine or plugin, a library). Versions come from `.ruby-version`, the Gemfile
//! `ruby` directive, the lock's `RUBY VERSION`, `.tool-versions`/`mise.toml`, then the
//! gemspec's `required_ruby_version`; ports from `config/puma.rb`, `config.ru` and `app.rb`.

use super::shared::ascii_regex;
use super::versions::{add_tool_versions, first_line};
use super::{lockgraph, Candidate, DirContext, Ecosystem};
use crate::index::{file_name, join};
use crate::stack::{BuildTool, Database, Framework, Language, Role, TestFramework};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

/// The Ruby detector.
pub struct Ruby;

/// File names read wherever they are.
const READ_FILES: &[&str] = &[
    "Gemfile",
    "Gemfile.lock",
    ".ruby-version",
    ".rspec",
    ".rubocop.yml",
    "config.ru",
    "app.rb",
];

/// Paths read when they sit in a folder's `config/`.
const CONFIG_FILES: &[&str] = &[
    "config/puma.rb",
    "config/application.rb",
    "config/database.yml",
];

/// Gem → the framework it is, in the order that decides when several are present (a Rails
/// app may mount Sinatra for an admin UI; the reverse does not happen).
const FRAMEWORK_GEMS: &[(&str, Framework)] = &[
    ("rails", Framework::Rails),
    ("railties", Framework::Rails),
    ("hanami", Framework::Hanami),
    ("sinatra", Framework::Sinatra),
];

/// Gem → the database, cache or broker it talks to.
const DATABASE_GEMS: &[(&str, Database)] = &[
    ("pg", Database::Postgresql),
    ("activerecord-postgis-adapter", Database::Postgresql),
    ("mysql2", Database::Mysql),
    ("trilogy", Database::Mysql),
    ("sqlite3", Database::Sqlite),
    ("redis", Database::Redis),
    ("redis-client", Database::Redis),
    ("hiredis", Database::Redis),
    ("sidekiq", Database::Redis),
    ("resque", Database::Redis),
    ("kredis", Database::Redis),
    ("mongoid", Database::Mongodb),
    ("mongo", Database::Mongodb),
    ("dalli", Database::Memcached),
    ("bunny", Database::Rabbitmq),
    ("sneakers", Database::Rabbitmq),
    ("elasticsearch", Database::Elasticsearch),
    ("searchkick", Database::Elasticsearch),
    ("elasticsearch-model", Database::Elasticsearch),
    ("ruby-kafka", Database::Kafka),
    ("rdkafka", Database::Kafka),
    ("karafka", Database::Kafka),
    ("cassandra-driver", Database::Cassandra),
    ("tiny_tds", Database::Mssql),
    ("activerecord-sqlserver-adapter", Database::Mssql),
];

/// `adapter:` of `config/database.yml` → database.
const DATABASE_ADAPTERS: &[(&str, Database)] = &[
    ("postgresql", Database::Postgresql),
    ("postgis", Database::Postgresql),
    ("mysql2", Database::Mysql),
    ("trilogy", Database::Mysql),
    ("sqlite3", Database::Sqlite),
    ("sqlserver", Database::Mssql),
];

/// Gems that run RSpec.
const RSPEC_GEMS: &[&str] = &["rspec", "rspec-rails", "rspec-core"];

/// Gems whose presence means `rails assets:precompile` has work to do.
const ASSET_GEMS: &[&str] = &[
    "sprockets-rails",
    "propshaft",
    "jsbundling-rails",
    "cssbundling-rails",
    "tailwindcss-rails",
    "dartsass-rails",
];

static GEM_LINE: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"^\s*gem\s*\(?\s*["']([^"']+)["']"#));
static RUBY_DIRECTIVE: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(r#"^\s*ruby\s*\(?\s*(?:(["'])([^"']+)["']|file:\s*["']([^"']+)["'])"#)
});
static GEMSPEC_DEP: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(r#"\.add_(runtime_|development_)?dependency\s*\(?\s*["']([^"']+)["']"#)
});
static REQUIRED_RUBY: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(
        r#"required_ruby_version\s*=\s*(?:Gem::Requirement\.new\(\s*)?\[?\s*["']([^"']+)["']"#,
    )
});
static PUMA_PORT: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(r#"(?m)^\s*(?:port\b\s*\(?([^\n]*)|bind\s*\(?\s*["']tcp://[^"':]*:(\d{2,5}))"#)
});
static SET_PORT: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"(?m)^\s*set\s*\(?\s*:port\s*,([^\n]*)"#));
static NUMBER: LazyLock<Regex> = LazyLock::new(|| ascii_regex(r"\b(\d{2,5})\b"));
static ADAPTER: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"(?m)^\s*adapter:\s*["']?([\w-]+)"#));
static REQUIRE_SINATRA: LazyLock<Regex> =
    LazyLock::new(|| ascii_regex(r#"(?m)^\s*require\s*\(?\s*["']sinatra["']"#));

/// True when `path` is `suffix` or ends with `/suffix`; no allocation.
fn path_ends_with(path: &str, suffix: &str) -> bool {
    path.ends_with(suffix)
        && (path.len() == suffix.len() || path.as_bytes()[path.len() - suffix.len() - 1] == b'/')
}

/// What a `Gemfile.lock` says.
#[derive(Debug, Default, PartialEq)]
pub struct Lockfile {
    /// Every resolved gem (direct and transitive) → its version.
    pub specs: BTreeMap<String, String>,
    /// The gems the Gemfile asked for (the `DEPENDENCIES` section).
    pub dependencies: Vec<String>,
    /// `RUBY VERSION`, as written (`ruby 3.2.2p53` → `3.2.2p53`).
    pub ruby: Option<String>,
    /// `BUNDLED WITH`.
    pub bundler: Option<String>,
}

/// Parses the sections of a `Gemfile.lock` that matter here; unknown sections are skipped.
pub fn parse_lockfile(text: &str) -> Lockfile {
    let mut lock = Lockfile::default();
    let mut section = "";
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            section = line.trim();
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let body = line.trim();
        match section {
            "GEM" | "PATH" | "GIT" if indent == 4 => {
                if let Some((name, rest)) = body.split_once(' ') {
                    let version = rest.trim_start_matches('(').trim_end_matches(')');
                    lock.specs.insert(name.to_string(), version.to_string());
                }
            }
            "DEPENDENCIES" if indent == 2 => {
                let name = body.split([' ', '!']).next().unwrap_or(body);
                if !name.is_empty() {
                    lock.dependencies.push(name.to_string());
                }
            }
            "RUBY VERSION" => {
                let v = body.strip_prefix("ruby ").unwrap_or(body).trim();
                lock.ruby.get_or_insert_with(|| v.to_string());
            }
            "BUNDLED WITH" => {
                lock.bundler.get_or_insert_with(|| body.to_string());
            }
            _ => {}
        }
    }
    lock
}

/// The Gemfile's `ruby` directive: either a version as written or `file: "…"`.
#[derive(Debug, PartialEq)]
pub enum RubyDirective {
    /// `ruby "3.2.2"`, `ruby "~> 3.3"`: the constraint as written.
    Version(String),
    /// `ruby file: ".ruby-version"`: the file (relative to the Gemfile) that holds it.
    File(String),
}

/// Reads the Gemfile's gem names (in order) and its `ruby` directive, comments skipped.
pub fn parse_gemfile(text: &str) -> (Vec<String>, Option<RubyDirective>) {
    let mut gems = Vec::new();
    let mut ruby = None;
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("");
        if let Some(c) = GEM_LINE.captures(line) {
            gems.push(c[1].to_string());
        } else if ruby.is_none() {
            if let Some(c) = RUBY_DIRECTIVE.captures(line) {
                ruby = c
                    .get(2)
                    .map(|m| RubyDirective::Version(m.as_str().to_string()))
                    .or_else(|| {
                        c.get(3)
                            .map(|m| RubyDirective::File(m.as_str().to_string()))
                    });
            }
        }
    }
    (gems, ruby)
}

/// The first port number on a `port …` / `bind "tcp://…:N"` line of a Puma config.
pub fn puma_port(text: &str) -> Option<u16> {
    PUMA_PORT.captures_iter(text).find_map(|c| {
        c.get(2)
            .or_else(|| c.get(1).and_then(|m| NUMBER.captures(m.as_str())?.get(1)))
            .and_then(|m| m.as_str().parse().ok())
    })
}

/// The port of a Sinatra-style `set :port, 4567` (also `ENV.fetch("PORT", 4567)`).
pub fn set_port(text: &str) -> Option<u16> {
    SET_PORT.captures_iter(text).find_map(|c| {
        NUMBER
            .captures(&c[1])
            .and_then(|n| n[1].parse::<u16>().ok())
    })
}

/// Gem name → the file that declares it.
type Gems = BTreeMap<String, String>;

impl Ecosystem for Ruby {
    fn name(&self) -> &'static str {
        "ruby"
    }

    fn is_manifest(&self, name: &str) -> bool {
        name == "Gemfile" || name.ends_with(".gemspec")
    }

    fn wants(&self, path: &str, name: &str) -> bool {
        READ_FILES.contains(&name)
            || name.ends_with(".gemspec")
            || CONFIG_FILES.iter().any(|c| path_ends_with(path, c))
    }

    fn detect(&self, ctx: &DirContext<'_>) -> Option<Candidate> {
        let gemspec = ctx.first_with_suffix(".gemspec");
        if !ctx.has("Gemfile") && gemspec.is_none() {
            return None;
        }
        let mut c = Candidate::new(Language::Ruby, "ruby");

        // Gems the bundle asks for (they may decide the framework) and gems a gemspec
        // declares (a library's: they count for tests, lint and databases only).
        let mut bundle = Gems::new();
        let mut ruby_directive = None;
        if let Some(text) = ctx.text("Gemfile") {
            let (gems, ruby) = parse_gemfile(text);
            for g in gems {
                bundle.entry(g).or_insert_with(|| ctx.path("Gemfile"));
            }
            ruby_directive = ruby;
        }
        let lock = ctx.text("Gemfile.lock").map(parse_lockfile);
        if let Some(lock) = &lock {
            for g in &lock.dependencies {
                bundle
                    .entry(g.clone())
                    .or_insert_with(|| ctx.path("Gemfile.lock"));
            }
        }
        let mut spec_gems = Gems::new();
        let mut required_ruby = None;
        if let Some(spec) = gemspec {
            if let Some(text) = ctx.index.text(&spec.path) {
                for cap in GEMSPEC_DEP.captures_iter(text) {
                    spec_gems
                        .entry(cap[2].to_string())
                        .or_insert_with(|| spec.path.clone());
                }
                required_ruby = REQUIRED_RUBY
                    .captures(text)
                    .map(|m| (m[1].to_string(), spec.path.clone()));
            }
        }
        let mut all = spec_gems.clone();
        for (g, f) in &bundle {
            all.insert(g.clone(), f.clone());
        }

        build_tool(ctx, &mut c, gemspec.map(|f| f.path.as_str()));
        versions(
            ctx,
            &mut c,
            ruby_directive,
            lock.as_ref(),
            required_ruby.as_ref(),
        );
        framework(ctx, &mut c, &bundle, &spec_gems, lock.as_ref());
        if c.framework.is_none() {
            transitive_framework(ctx, &mut c, &bundle);
        }
        for (gem, db) in DATABASE_GEMS {
            if let Some(file) = all.get(*gem) {
                c.add_database(*db, file, format!("gem `{gem}`"));
            }
        }
        if let Some(text) = ctx.text("config/database.yml") {
            for cap in ADAPTER.captures_iter(text) {
                if let Some((name, db)) = DATABASE_ADAPTERS.iter().find(|(a, _)| *a == &cap[1]) {
                    c.add_database(
                        *db,
                        &ctx.path("config/database.yml"),
                        format!("adapter: {name}"),
                    );
                }
            }
        }
        test_framework(ctx, &mut c, &all);
        port(ctx, &mut c);
        super::env_example_port(ctx, &mut c);
        commands(ctx, &mut c, &all, gemspec.map(|f| f.name()));

        match c.framework {
            Some(fw) => {
                let file = c
                    .evidence
                    .iter()
                    .find(|e| e.conclusion == "framework")
                    .map(|e| e.file.clone())
                    .unwrap_or_default();
                c.set_role(Role::Application, &file, format!("{fw} in {file}"));
            }
            None if c.commands.start.is_some() => {
                c.set_role(
                    Role::Application,
                    &ctx.path("config.ru"),
                    "config.ru is a Rack application",
                );
            }
            None if gemspec.is_some() => {
                let file = gemspec.map(|f| f.path.clone()).unwrap_or_default();
                c.set_role(
                    Role::Library,
                    &file,
                    "a gem (gemspec) without a web framework",
                );
            }
            None => c.set_role(
                Role::Library,
                &ctx.path("Gemfile"),
                "no web framework among the gems and no config.ru",
            ),
        }
        Some(c)
    }
}

fn build_tool(ctx: &DirContext<'_>, c: &mut Candidate, gemspec: Option<&str>) {
    if ctx.has("Gemfile.lock") {
        c.set_build_tool(
            BuildTool::Bundler,
            &ctx.path("Gemfile.lock"),
            "Gemfile.lock is present",
        );
    } else if ctx.has("Gemfile") {
        c.set_build_tool(
            BuildTool::Bundler,
            &ctx.path("Gemfile"),
            "Gemfile is present (no Gemfile.lock)",
        );
    } else if let Some(spec) = gemspec {
        c.set_build_tool(
            BuildTool::Bundler,
            spec,
            "a gemspec without a Gemfile; gems are still installed with Bundler",
        );
    }
}

fn versions(
    ctx: &DirContext<'_>,
    c: &mut Candidate,
    directive: Option<RubyDirective>,
    lock: Option<&Lockfile>,
    required: Option<&(String, String)>,
) {
    if let Some((path, text)) = ctx.find_up(".ruby-version") {
        match first_line(text) {
            // rbenv and chruby accept `ruby-3.2.2`; the version is what follows.
            Some(v) => c.add_version("ruby", v.strip_prefix("ruby-").unwrap_or(v), path),
            None => c.warn(path, ".ruby-version is empty, ignored"),
        }
    }
    let gemfile = ctx.path("Gemfile");
    match directive {
        Some(RubyDirective::Version(v)) => {
            c.add_version("ruby", &v, format!("{gemfile} (ruby)"));
        }
        Some(RubyDirective::File(f)) => {
            let path = normalize_path(&join(ctx.dir, &f));
            let version = ctx.index.text(&path).and_then(|text| {
                if file_name(&path) == ".tool-versions" {
                    text.lines().find_map(|l| {
                        let mut p = l.split_whitespace();
                        (p.next() == Some("ruby")).then(|| p.next()).flatten()
                    })
                } else {
                    first_line(text).map(|v| v.strip_prefix("ruby-").unwrap_or(v))
                }
            });
            match version {
                Some(v) => {
                    c.note(
                        "runtime_version",
                        &gemfile,
                        format!("the Gemfile's ruby directive reads {path}"),
                    );
                    c.add_version("ruby", v, path);
                }
                None => c.warn(
                    &gemfile,
                    format!("ruby file: \"{f}\" names a file that is missing or holds no version"),
                ),
            }
        }
        None => {}
    }
    if let Some(v) = lock.and_then(|l| l.ruby.as_deref()) {
        c.add_version(
            "ruby",
            v,
            format!("{} (RUBY VERSION)", ctx.path("Gemfile.lock")),
        );
    }
    add_tool_versions(ctx, c, "ruby", &["ruby"]);
    if let Some((v, file)) = required {
        c.add_version("ruby", v, format!("{file} (required_ruby_version)"));
    }
    if let Some(v) = lock.and_then(|l| l.bundler.as_deref()) {
        c.add_version(
            "bundler",
            v,
            format!("{} (BUNDLED WITH)", ctx.path("Gemfile.lock")),
        );
    }
}

/// Resolves `.` and `..` in a `/`-separated relative path (for `ruby file: "../.ruby-version"`).
fn normalize_path(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    out.join("/")
}

fn framework(
    ctx: &DirContext<'_>,
    c: &mut Candidate,
    bundle: &Gems,
    spec_gems: &Gems,
    lock: Option<&Lockfile>,
) {
    for (gem, fw) in FRAMEWORK_GEMS {
        if let Some(file) = bundle.get(*gem) {
            let resolved = lock
                .and_then(|l| l.specs.get(*gem))
                .map(|v| format!(", {v} in Gemfile.lock"))
                .unwrap_or_default();
            c.set_framework(*fw, file, format!("gem `{gem}`{resolved}"));
        }
    }
    if c.framework.is_none() {
        if let Some((gem, file)) = FRAMEWORK_GEMS
            .iter()
            .find_map(|(g, _)| spec_gems.get(*g).map(|f| (*g, f)))
        {
            c.note(
                "framework",
                file,
                format!("the gemspec depends on `{gem}`: a plugin or engine, built as a library"),
            );
        }
    }
    let app_rb = ctx
        .text("config/application.rb")
        .is_some_and(|t| t.contains("Rails::Application"));
    match (c.framework, app_rb) {
        (Some(Framework::Rails), true) => c.note(
            "framework",
            ctx.path("config/application.rb"),
            "defines a Rails::Application",
        ),
        (None, true) => c.warn(
            ctx.path("config/application.rb"),
            "defines a Rails::Application but no rails gem is in the Gemfile or Gemfile.lock; framework not set",
        ),
        _ => {}
    }
}

/// Gems the Gemfile puts only in the development or test groups (`group :test do … end`,
/// `gem "x", group: :test`): their own dependencies never make the bundle an application.
pub fn dev_test_gems(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack: Vec<bool> = Vec::new();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if let Some(groups) = line.strip_prefix("group ") {
            let dev = !groups.contains(":production") && !groups.contains(":default");
            stack.push(dev);
            continue;
        }
        if line == "end" {
            stack.pop();
            continue;
        }
        if line.ends_with(" do") || line == "do" {
            // Another block (platforms, source, git): keeps the enclosing group.
            stack.push(stack.last().copied().unwrap_or(false));
            continue;
        }
        if let Some(c) = GEM_LINE.captures(line) {
            let inline = line.contains("group:") || line.contains(":group =>");
            let inline_dev = inline && !line.contains(":production") && !line.contains(":default");
            if stack.last().copied().unwrap_or(false) || inline_dev {
                out.insert(c[1].to_string());
            }
        }
    }
    out
}

/// A framework no gem of the bundle names, reached through the lock's dependency graph from
/// the runtime gems (an engine that depends on Rails, `sinatra-activerecord` on Sinatra).
fn transitive_framework(ctx: &DirContext<'_>, c: &mut Candidate, bundle: &Gems) {
    let Some(text) = ctx.text("Gemfile.lock") else {
        return;
    };
    let graph = lockgraph::gemfile_lock(text);
    let dev = ctx.text("Gemfile").map(dev_test_gems).unwrap_or_default();
    let roots = bundle
        .keys()
        .filter(|g| !dev.contains(*g))
        .map(String::as_str);
    let wanted: Vec<&str> = FRAMEWORK_GEMS.iter().map(|(g, _)| *g).collect();
    if let Some(found) = graph.reach(roots, &wanted) {
        if let Some((_, fw)) = FRAMEWORK_GEMS.iter().find(|(g, _)| *g == found.name) {
            c.set_framework(
                *fw,
                &ctx.path("Gemfile.lock"),
                found.describe("Gemfile.lock"),
            );
        }
    }
}

fn has_files_under(ctx: &DirContext<'_>, dir: &str, suffix: &str) -> bool {
    ctx.index
        .files_under(&ctx.path(dir))
        .any(|f| f.name().ends_with(suffix))
}

fn test_framework(ctx: &DirContext<'_>, c: &mut Candidate, gems: &Gems) {
    if let Some((gem, file)) = RSPEC_GEMS
        .iter()
        .find_map(|g| gems.get(*g).map(|f| (*g, f)))
    {
        c.set_test_framework(TestFramework::Rspec, file, format!("gem `{gem}`"));
    }
    if let Some(file) = gems.get("minitest") {
        c.set_test_framework(TestFramework::Minitest, file, "gem `minitest`");
    }
    if ctx.has(".rspec") {
        c.set_test_framework(
            TestFramework::Rspec,
            &ctx.path(".rspec"),
            ".rspec is present",
        );
    }
    if has_files_under(ctx, "spec", "_spec.rb") {
        c.set_test_framework(
            TestFramework::Rspec,
            &ctx.path("spec"),
            "spec/ holds *_spec.rb files",
        );
    }
    if c.test_framework.is_none() && has_files_under(ctx, "test", ".rb") {
        let why = if c.framework == Some(Framework::Rails) {
            "test/ holds Rails' default tests (Minitest)"
        } else {
            "test/ holds Ruby tests and no RSpec gem (Minitest ships with Ruby)"
        };
        c.set_test_framework(TestFramework::Minitest, &ctx.path("test"), why);
    }
}

fn port(ctx: &DirContext<'_>, c: &mut Candidate) {
    if let Some(p) = ctx.text("config/puma.rb").and_then(puma_port) {
        c.set_port_from(
            super::PortOrigin::FrameworkConfig,
            p,
            &ctx.path("config/puma.rb"),
            format!("config/puma.rb binds port {p}"),
        );
        return;
    }
    for f in ["config.ru", "app.rb"] {
        if let Some(p) = ctx.text(f).and_then(set_port) {
            c.set_port(p, &ctx.path(f), format!("{f}: set :port, {p}"));
            return;
        }
    }
}

fn commands(ctx: &DirContext<'_>, c: &mut Candidate, gems: &Gems, gemspec: Option<&str>) {
    let has = |g: &str| gems.contains_key(g);
    let gemfile = ctx.has("Gemfile");
    c.commands.install = gemfile.then(|| "bundle install --jobs 4 --retry 3".to_string());

    c.commands.build = match (c.framework, gemspec) {
        (Some(Framework::Rails), _) if ASSET_GEMS.iter().any(|g| has(g)) => {
            // Rails 7.1+ refuses to boot in production without a secret; the dummy is its own
            // documented way out for asset builds.
            Some(
                "SECRET_KEY_BASE_DUMMY=1 RAILS_ENV=production bundle exec rails assets:precompile"
                    .into(),
            )
        }
        (None, Some(spec)) => Some(format!("gem build {spec}")),
        _ => None,
    };

    c.commands.test = match c.test_framework {
        Some(TestFramework::Rspec) => Some("bundle exec rspec".into()),
        Some(TestFramework::Minitest) if c.framework == Some(Framework::Rails) => {
            Some("bundle exec rails test".into())
        }
        Some(TestFramework::Minitest) if ctx.has("Rakefile") => {
            Some("bundle exec rake test".into())
        }
        Some(TestFramework::Minitest) => Some(
            "bundle exec ruby -Itest -e 'Dir.glob(\"./test/**/*_test.rb\").each { |f| require f }'"
                .into(),
        ),
        _ => None,
    };

    let config = if ctx.has(".rubocop.yml") {
        ", configured by .rubocop.yml"
    } else {
        ", no .rubocop.yml: RuboCop's defaults"
    };
    let lint = if let Some((g, f)) = gems
        .iter()
        .find(|(g, _)| g.as_str() == "rubocop" || g.starts_with("rubocop-"))
    {
        c.note(
            "command",
            ctx.display(),
            format!("lint: rubocop (gem `{g}` in {f}{config})"),
        );
        "bundle exec rubocop"
    } else if has("standard") {
        c.note(
            "command",
            ctx.display(),
            "lint: standard (gem `standard`, built on RuboCop)",
        );
        "bundle exec standardrb"
    } else if ctx.has(".rubocop.yml") {
        c.note(
            "command",
            ctx.path(".rubocop.yml"),
            "lint: rubocop configured by .rubocop.yml, but the gem is not in the bundle: the pipeline installs it",
        );
        "rubocop"
    } else {
        c.note(
            "command",
            ctx.display(),
            "lint: rubocop with its defaults (no .rubocop.yml, no rubocop gem): the pipeline installs it",
        );
        "rubocop"
    };
    c.commands.lint = Some(lint.to_string());

    let port = c.port.as_ref().map(|(p, _)| *p);
    let puma = ctx.has("config/puma.rb") && has("puma");
    let start = match c.framework {
        Some(Framework::Rails) if puma => Some("bundle exec puma -C config/puma.rb".to_string()),
        Some(Framework::Rails) => Some(format!(
            "bundle exec rails server -b 0.0.0.0 -p {}",
            port.unwrap_or(3000)
        )),
        // `hanami server` is documented as a development server; production runs Puma
        // with the app's own config.
        Some(Framework::Hanami) if puma => Some("bundle exec puma -C config/puma.rb".to_string()),
        Some(Framework::Hanami) => Some("bundle exec hanami server".to_string()),
        Some(Framework::Sinatra) => sinatra_start(ctx, port.unwrap_or(4567)),
        _ if ctx.has("config.ru") => Some(format!(
            "bundle exec rackup -o 0.0.0.0 -p {}",
            port.unwrap_or(9292)
        )),
        _ => None,
    };
    if let Some(s) = &start {
        c.note("command", ctx.display(), format!("start: {s}"));
    } else if c.framework.is_some() {
        c.warn(
            ctx.display(),
            "neither config.ru nor app.rb was found; no start command",
        );
    }
    c.commands.start = start;
}

fn sinatra_start(ctx: &DirContext<'_>, port: u16) -> Option<String> {
    if ctx.has("config.ru") {
        return Some(format!("bundle exec rackup -o 0.0.0.0 -p {port}"));
    }
    let text = ctx.text("app.rb")?;
    // A classic-style app (`require "sinatra"`) parses -o/-p itself; a modular one does not,
    // and binds where its own settings say.
    Some(if REQUIRE_SINATRA.is_match(text) {
        format!("bundle exec ruby app.rb -o 0.0.0.0 -p {port}")
    } else {
        "bundle exec ruby app.rb".to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "GIT\n  remote: https://github.com/x/y.git\n  revision: abc\n  specs:\n    y (0.1.0)\n\nGEM\n  remote: https://rubygems.org/\n  specs:\n    pg (1.5.4)\n    rails (7.1.3)\n      actionpack (= 7.1.3)\n\nPLATFORMS\n  x86_64-linux\n\nDEPENDENCIES\n  pg (~> 1.1)\n  rails (~> 7.1.3)\n  y!\n\nRUBY VERSION\n   ruby 3.2.2p53\n\nBUNDLED WITH\n   2.4.19\n";

    #[test]
    fn lockfile_sections_are_read() {
        let l = parse_lockfile(LOCK);
        assert_eq!(l.dependencies, vec!["pg", "rails", "y"]);
        assert_eq!(l.specs.get("rails").map(String::as_str), Some("7.1.3"));
        assert!(
            !l.specs.contains_key("actionpack"),
            "nested lines are requirements"
        );
        assert_eq!(l.ruby.as_deref(), Some("3.2.2p53"));
        assert_eq!(l.bundler.as_deref(), Some("2.4.19"));
    }

    #[test]
    fn gemfile_gems_and_ruby_directive() {
        let (gems, ruby) = parse_gemfile(
            "source \"https://rubygems.org\"\n# gem \"unused\"\nruby \"~> 3.2.2\"\ngem \"rails\", \"~> 7.1\"\n  gem 'pg'\ngemspec\n",
        );
        assert_eq!(gems, vec!["rails", "pg"]);
        assert_eq!(ruby, Some(RubyDirective::Version("~> 3.2.2".into())));
        let (_, ruby) = parse_gemfile("ruby file: \".ruby-version\"\n");
        assert_eq!(ruby, Some(RubyDirective::File(".ruby-version".into())));
    }

    #[test]
    fn ports_from_puma_and_sinatra() {
        assert_eq!(
            puma_port("threads 5, 5\nport ENV.fetch(\"PORT\") { 3000 }\n"),
            Some(3000)
        );
        assert_eq!(
            puma_port("port ENV.fetch(\"HANAMI_PORT\", 2300)\n"),
            Some(2300)
        );
        assert_eq!(puma_port("bind \"tcp://0.0.0.0:9000\"\n"), Some(9000));
        assert_eq!(puma_port("workers 2\n"), None);
        assert_eq!(set_port("set :port, 4567\n"), Some(4567));
        assert_eq!(set_port("set :port, ENV.fetch('PORT', 8080)\n"), Some(8080));
    }

    #[test]
    fn relative_paths_are_normalized() {
        assert_eq!(
            normalize_path("apps/web/../.ruby-version"),
            "apps/.ruby-version"
        );
        assert_eq!(normalize_path("./.ruby-version"), ".ruby-version");
    }
}
