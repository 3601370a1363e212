//! Ruby: Bundler installs into `/usr/local/bundle` (deployment mode when `Gemfile.lock` is
//! committed) without the development and test groups, which only the test stage adds; gems
//! with native extensions get a compiler and the `-dev` packages of the detected databases in
//! the build stages, while the runtime image gets only their shared libraries. Rails
//! precompiles its assets in `build` and is scanned by Brakeman; tests run with RSpec or
//! Minitest and the linter is RuboCop, whose JSON report SonarQube imports.

use super::{
    add_app_user, dockerfile_base, dockerignore, finish_runtime, lock_cache, tool_version, Lint,
    Recipe, SastTool,
};
use crate::detect::ruby::{parse_gemfile, parse_lockfile, Lockfile, RubyDirective};
use crate::dockerfile::{Instruction, Stage};
use crate::generate::versions;
use crate::generate::ServiceContext;
use crate::stack::{Database, Framework, Role, RuntimeVersion, TestFramework};
use std::collections::BTreeSet;

/// Pinned tool versions, used when the bundle does not carry the tool.
const RUBOCOP: &str = "1.66.1";
const BRAKEMAN: &str = "6.2.2";

/// Where the bundle lives in every image (the official image's `GEM_HOME`, on `PATH`).
const BUNDLE_PATH: &str = "/usr/local/bundle";

/// Packages every native extension needs to build (psych needs libyaml's headers).
const BUILD_PACKAGES: &[&str] = &["build-essential", "pkg-config", "libyaml-dev"];

/// Database → the headers its client gem compiles against (build stages) and the shared
/// libraries the compiled extension loads (runtime). `libssl-dev` covers `trilogy`.
const NATIVE_LIBS: &[(Database, &[&str], &[&str])] = &[
    (Database::Postgresql, &["libpq-dev"], &["libpq5"]),
    (
        Database::Mysql,
        &["default-libmysqlclient-dev", "libssl-dev"],
        &["libmariadb3"],
    ),
    (
        Database::Mariadb,
        &["default-libmysqlclient-dev", "libssl-dev"],
        &["libmariadb3"],
    ),
    (Database::Sqlite, &["libsqlite3-dev"], &["libsqlite3-0"]),
    (Database::Mssql, &["freetds-dev"], &["libsybdb5"]),
];

/// Environment variables as written in a Dockerfile `ENV`.
type Env = &'static [(&'static str, &'static str)];

/// Framework → the environment the runtime image runs in, and the one tests run in.
const FRAMEWORK_ENV: &[(Framework, Env, Env)] = &[
    (
        Framework::Rails,
        &[
            ("RAILS_ENV", "production"),
            ("RAILS_LOG_TO_STDOUT", "1"),
            ("RAILS_SERVE_STATIC_FILES", "1"),
        ],
        &[("RAILS_ENV", "test")],
    ),
    (
        Framework::Hanami,
        &[("HANAMI_ENV", "production")],
        &[("HANAMI_ENV", "test")],
    ),
    (
        Framework::Sinatra,
        &[("APP_ENV", "production"), ("RACK_ENV", "production")],
        &[("APP_ENV", "test"), ("RACK_ENV", "test")],
    ),
];

/// Gems that serve HTTP for `rackup`, `rails server` or Sinatra's `run!`.
const SERVER_GEMS: &[&str] = &[
    "puma",
    "thin",
    "falcon",
    "webrick",
    "unicorn",
    "passenger",
    "iodine",
    "pitchfork",
];

/// Gems whose asset build runs a JavaScript tool (`javascript:build`, `css:build`).
const NODE_ASSET_GEMS: &[&str] = &["jsbundling-rails", "cssbundling-rails"];

/// The MySQL client gem → the scheme Rails expects in `DATABASE_URL` (`mysql://` names no adapter).
const MYSQL_ADAPTERS: &[(&str, &str)] = &[("trilogy", "trilogy"), ("mysql2", "mysql2")];

/// Lock platforms a Linux x86_64 build can install from.
const LINUX_PLATFORMS: &[&str] = &["ruby", "x86_64-linux", "x86_64-linux-gnu"];

/// An apt install that leaves no package lists behind, as one `RUN`'s commands.
pub fn apt_install(packages: &[&str]) -> Vec<String> {
    vec![
        "apt-get update".to_string(),
        format!(
            "apt-get install -y --no-install-recommends {}",
            packages.join(" ")
        ),
        "rm -rf /var/lib/apt/lists/*".to_string(),
    ]
}

/// Adds an apt install to a stage: the reason, then the install. Package versions are not
/// pinned (hadolint's DL3008 is silenced on purpose): the base image tag fixes the Debian
/// release, and exact versions vanish from the mirrors when security updates land.
pub fn apt_run(stage: &mut Stage, why: &str, packages: &[&str]) {
    stage.comment(why);
    stage.comment("hadolint ignore=DL3008");
    stage.run(apt_install(packages));
}

/// The Dockerfile header line that explains the unpinned Debian packages.
pub const APT_HEADER: &str =
    "Debian packages are not version-pinned: the image tag fixes the Debian release.";

/// The same install as one CI script line (jobs run as root in the language image).
pub fn apt_install_line(packages: &[&str]) -> String {
    apt_install(packages).join(" && ")
}

/// The `PLATFORMS` section of a `Gemfile.lock`.
pub fn lock_platforms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            inside = line.trim() == "PLATFORMS";
            continue;
        }
        if inside && !line.trim().is_empty() {
            out.push(line.trim().to_string());
        }
    }
    out
}

/// True when a lock with these platforms installs on a Linux x86_64 runner (no platforms
/// listed means an old lock, which Bundler treats as `ruby`).
pub fn lock_fits_linux(platforms: &[String]) -> bool {
    platforms.is_empty()
        || platforms
            .iter()
            .any(|p| LINUX_PLATFORMS.contains(&p.as_str()))
}

/// The files a gemspec loads with `require_relative` (`lib/x/version.rb`), relative to it.
pub fn gemspec_requires(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        let Some(rest) = line.strip_prefix("require_relative") else {
            continue;
        };
        let rest = rest.trim_start_matches([' ', '(']);
        let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        let Some(path) = rest[1..].split(quote).next() else {
            continue;
        };
        let path = path.trim_start_matches("./");
        if path.is_empty() || path.contains("..") {
            continue;
        }
        let path = if path.ends_with(".rb") {
            path.to_string()
        } else {
            format!("{path}.rb")
        };
        if !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

/// The gem names a gemspec declares (`add_dependency`, `add_development_dependency` …).
fn gemspec_gems(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in text.split(".add_").skip(1) {
        let Some(rest) = part
            .strip_prefix("dependency")
            .or_else(|| part.strip_prefix("runtime_dependency"))
            .or_else(|| part.strip_prefix("development_dependency"))
        else {
            continue;
        };
        let rest = rest.trim_start_matches([' ', '(']);
        let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        if let Some(name) = rest[1..].split(quote).next() {
            out.push(name.to_string());
        }
    }
    out
}

/// What the repository says about its bundle.
struct Bundle {
    /// Every gem named by the Gemfile, the lock (resolved, so transitive too) or the gemspec.
    gems: BTreeSet<String>,
    lock: Option<Lockfile>,
    platforms: Vec<String>,
    gemfile: bool,
    /// `ruby file: "…"` in the Gemfile: the file Bundler reads the version from.
    ruby_file: Option<String>,
    /// The gemspec (file name) when the Gemfile loads it with `gemspec`, or there is no Gemfile.
    gemspec: Option<String>,
    gemspec_text: String,
    /// A gem comes from git (Gemfile `git:`/`github:`, a `GIT` lock section, `git ls-files`).
    needs_git: bool,
}

impl Bundle {
    fn has(&self, gem: &str) -> bool {
        self.gems.contains(gem)
    }
}

fn bundle(ctx: &ServiceContext<'_>) -> Bundle {
    let gemfile_raw = ctx.text("Gemfile").unwrap_or("");
    let (gemfile_gems, directive) = parse_gemfile(gemfile_raw);
    // Comments often show alternatives (`# gem "rails", github: …`); only code counts.
    let gemfile_text: String = gemfile_raw
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let lock_text = ctx.text("Gemfile.lock");
    let lock = lock_text.map(parse_lockfile);
    let gemspec = ctx
        .index
        .files_in(ctx.dir)
        .map(|f| f.name().to_string())
        .find(|n| n.ends_with(".gemspec"));
    let gemspec_text = gemspec
        .as_deref()
        .and_then(|g| ctx.text(g))
        .unwrap_or("")
        .to_string();
    let uses_gemspec = !ctx.has("Gemfile")
        || gemfile_text
            .lines()
            .any(|l| l.trim_start().starts_with("gemspec"));
    let mut gems: BTreeSet<String> = gemfile_gems.into_iter().collect();
    if let Some(l) = &lock {
        gems.extend(l.specs.keys().cloned());
        gems.extend(l.dependencies.iter().cloned());
    }
    gems.extend(gemspec_gems(&gemspec_text));
    let needs_git = gemfile_text.contains("git:")
        || gemfile_text.contains("github:")
        || lock_text.is_some_and(|t| t.lines().any(|l| l == "GIT"))
        || gemspec_text.contains("git ls-files");
    Bundle {
        gems,
        platforms: lock_text.map(lock_platforms).unwrap_or_default(),
        lock,
        gemfile: ctx.has("Gemfile"),
        ruby_file: match directive {
            Some(RubyDirective::File(f)) => Some(f.trim_start_matches("./").to_string()),
            _ => None,
        },
        gemspec: gemspec.filter(|_| uses_gemspec),
        gemspec_text,
        needs_git,
    }
}

/// The Node.js line for an asset build, from the service's version files.
fn node_version(ctx: &ServiceContext<'_>) -> versions::Resolved {
    let at = |f: &str| crate::index::join(ctx.dir, f);
    let pin = [".node-version", ".nvmrc"]
        .iter()
        .find_map(|f| {
            let v = ctx.text(f)?.lines().next()?.trim();
            (!v.is_empty()).then(|| (v.to_string(), at(f)))
        })
        .or_else(|| {
            ctx.text(".tool-versions")?.lines().find_map(|l| {
                let mut p = l.split_whitespace();
                matches!(p.next(), Some("nodejs" | "node"))
                    .then(|| p.next())
                    .flatten()
                    .map(|v| (v.to_string(), at(".tool-versions")))
            })
        })
        .map(|(value, source)| RuntimeVersion {
            name: "node".into(),
            value,
            source,
        });
    versions::resolve("node", pin.as_ref())
}

/// Node.js for an asset build inside another language's image: a `node` stage (`COPY --from`
/// cannot name an image through `BASE_REGISTRY`) and the instructions that bring node, npm
/// and corepack into the stage that builds the assets.
pub struct NodeTools {
    pub stage: Stage,
    pub copy: Vec<Instruction>,
    pub note: String,
    pub warning: Option<String>,
}

/// The `node` stage and its copy instructions, for the service's Node version.
pub fn node_tools(ctx: &ServiceContext<'_>) -> NodeTools {
    let n = node_version(ctx);
    // Debian bookworm, like the language images: node's binary needs a matching glibc.
    let tag = format!("{}-bookworm-slim", n.version);
    let mut stage = Stage::new(ctx.base_image("node", &tag), "node");
    stage.comment = vec![
        "Node.js for the asset build only; COPY --from cannot name an image through".into(),
        "BASE_REGISTRY, so the image is a stage of its own.".into(),
    ];
    let from = |p: &str| Instruction::Copy {
        from: Some("node".into()),
        chown: None,
        src: vec![p.to_string()],
        dest: p.to_string(),
    };
    let mut links = vec![
        "ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm".to_string(),
        "ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx".to_string(),
    ];
    if ctx.has("yarn.lock") || ctx.has("pnpm-lock.yaml") {
        links.push(
            "ln -s ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack".into(),
        );
        links.push("corepack enable".into());
    }
    NodeTools {
        stage,
        copy: vec![
            Instruction::Comment("Node.js and its package managers, for the asset build.".into()),
            from("/usr/local/bin/node"),
            from("/usr/local/lib/node_modules"),
            Instruction::Run(links),
        ],
        note: format!(
            "assets: Node {} (node:{tag}) in the build stage only; {}",
            n.version, n.reason
        ),
        warning: n.warning.map(|w| format!("asset build: {w}")),
    }
}

/// The install command for the service's JavaScript lock file.
pub fn js_install(ctx: &ServiceContext<'_>) -> &'static str {
    if ctx.has("package-lock.json") {
        "npm ci"
    } else if ctx.has("yarn.lock") {
        "yarn install --frozen-lockfile"
    } else if ctx.has("pnpm-lock.yaml") {
        "pnpm install --frozen-lockfile"
    } else {
        "npm install"
    }
}

/// True when any file exists below `rel` in the service folder.
pub fn has_dir(ctx: &ServiceContext<'_>, rel: &str) -> bool {
    ctx.index
        .files_under(&crate::index::join(ctx.dir, rel))
        .next()
        .is_some()
}

/// RuboCop (or standard, which is RuboCop with fixed rules), from the bundle when it is there.
fn lint(ctx: &ServiceContext<'_>) -> (Lint, bool) {
    let detected = ctx.service.commands.lint.as_deref().unwrap_or("rubocop");
    let in_bundle = detected.starts_with("bundle exec ");
    let standard = detected.contains("standardrb");
    let (tool, bin) = if standard {
        ("standard", "standardrb")
    } else {
        ("rubocop", "rubocop")
    };
    let runner = if in_bundle { "bundle exec " } else { "" };
    let configured = in_bundle || ctx.has(".rubocop.yml") || ctx.has(".standard.yml");
    let why = match (in_bundle, configured) {
        (true, _) => format!("{tool} is in the bundle, so it is enforced"),
        (false, true) => "the project configures RuboCop (.rubocop.yml), so it is enforced".into(),
        (false, false) => {
            "the project does not configure RuboCop, so its findings are advisory".into()
        }
    };
    (
        Lint {
            tool: tool.into(),
            command: format!(
                "{runner}{bin} --format progress --format json --out \"$CI_PROJECT_DIR/lint-report.json\""
            ),
            report: "lint-report.json".into(),
            sonar_property: Some("sonar.ruby.rubocop.reportPaths".into()),
            enforced: configured,
            why,
        },
        !in_bundle,
    )
}

/// Brakeman for Rails, from the bundle when it is there (else installed in the test stage).
fn brakeman(b: &Bundle) -> SastTool {
    let runner = if b.has("brakeman") {
        "bundle exec "
    } else {
        ""
    };
    SastTool {
        comment: vec![
            "Brakeman, the Rails security scanner, runs in the test image (it reads the app as Rails loads it).".into(),
            "Its findings are a SARIF artifact and do not fail the job, like Semgrep's on other stacks: a".into(),
            "first pipeline must not be blocked by warnings nobody has triaged yet (drop --no-exit-on-warn to enforce).".into(),
        ],
        script: vec![format!(
            "{runner}brakeman --no-pager --quiet --no-exit-on-warn --no-exit-on-error --format sarif --output \"$CI_PROJECT_DIR/gl-sast-brakeman.sarif\""
        )],
        report: "gl-sast-brakeman.sarif".into(),
        // The shipped schema knows `sarif`, but GitLab only accepts it from 18.11 (behind a
        // feature flag): an older instance would refuse the whole file. A plain artifact is
        // valid everywhere.
        report_kind: None,
    }
}

/// The test command, with a JUnit report when a formatter the bundle carries can write one.
fn test_lines(
    ctx: &ServiceContext<'_>,
    b: &Bundle,
    notes: &mut Vec<String>,
) -> (Vec<String>, Option<String>) {
    let svc = ctx.service;
    let mut lines = Vec::new();
    let rails = svc.framework == Some(Framework::Rails);
    let sql = svc.databases.iter().any(|d| {
        matches!(
            d,
            Database::Postgresql
                | Database::Mysql
                | Database::Mariadb
                | Database::Sqlite
                | Database::Mssql
        )
    });
    if rails
        && svc
            .databases
            .iter()
            .any(|d| matches!(d, Database::Mysql | Database::Mariadb))
    {
        if let Some((_, scheme)) = MYSQL_ADAPTERS.iter().find(|(g, _)| b.has(g)) {
            // The test job's DATABASE_URL is mysql://…, which names no Rails adapter.
            lines.push(format!(
                "export DATABASE_URL=\"{scheme}${{DATABASE_URL#mysql}}\""
            ));
            notes.push(format!(
                "Rails reads DATABASE_URL's scheme as the adapter, so the test job rewrites mysql:// to {scheme}://"
            ));
        }
    }
    if rails && sql && ctx.has("config/database.yml") {
        lines.push("bundle exec rails db:prepare".into());
        notes.push(
            "Rails: `rails db:prepare` creates and migrates the test database before the tests"
                .into(),
        );
    }
    let detected = svc.commands.test.clone();
    let junit = match svc.test_framework {
        Some(TestFramework::Rspec) if b.has("rspec_junit_formatter") => {
            let base = detected.unwrap_or_else(|| "bundle exec rspec".into());
            lines.push(format!(
                "{base} --format progress --format RspecJunitFormatter --out \"$CI_PROJECT_DIR/junit.xml\""
            ));
            notes.push("JUnit report from rspec_junit_formatter (in the bundle)".into());
            Some("junit.xml".to_string())
        }
        Some(TestFramework::Minitest) if b.has("minitest-junit") => {
            let opts = "--junit --junit-filename=$CI_PROJECT_DIR/junit.xml";
            let base = detected.unwrap_or_else(|| "bundle exec rake test".into());
            lines.push(if base.contains("rake test") {
                format!("{base} TESTOPTS=\"{opts}\"")
            } else {
                format!("{base} {opts}")
            });
            notes.push("JUnit report from minitest-junit (in the bundle)".into());
            Some("junit.xml".to_string())
        }
        Some(TestFramework::Minitest) if b.has("minitest-reporters") => {
            let base = detected.unwrap_or_else(|| "bundle exec rake test".into());
            // MINITEST_REPORTER makes `Minitest::Reporters.use!` pick JUnitReporter, which writes
            // TEST-*.xml to test/reports; they are copied even when tests fail.
            lines.push(format!(
                "status=0; MINITEST_REPORTER=JUnitReporter {base} || status=$?; mkdir -p \"$CI_PROJECT_DIR/test-reports\"; cp test/reports/*.xml \"$CI_PROJECT_DIR/test-reports/\" 2>/dev/null || true; test \"$status\" -eq 0"
            ));
            notes.push("JUnit report from minitest-reporters' JUnitReporter (MINITEST_REPORTER), when the test helper calls Minitest::Reporters.use!".into());
            Some("test-reports/*.xml".to_string())
        }
        _ => {
            match detected {
                Some(t) => {
                    lines.push(t);
                    notes.push("no JUnit report: neither rspec_junit_formatter nor a Minitest JUnit reporter is in the bundle".into());
                }
                None => {
                    lines.push("bundle exec ruby -e 'Dir.glob(\"{lib,app}/**/*.rb\").each { |f| system(\"ruby\", \"-wc\", f, out: File::NULL) || abort(f) }'".into());
                    notes.push(
                        "no tests were found; the test job checks the Ruby syntax of lib/ and app/"
                            .into(),
                    );
                }
            }
            None
        }
    };
    (lines, junit)
}

pub fn recipe(ctx: &ServiceContext<'_>) -> Recipe {
    let version = ctx.runtime.version.clone();
    let tag = format!("{version}-slim");
    let svc = ctx.service;
    let b = bundle(ctx);
    let mut notes = vec![format!(
        "ruby image ruby:{tag}; gems with Bundler into {BUNDLE_PATH}, without the development and test groups except in the test stage"
    )];
    let mut warnings = Vec::new();
    let rails = svc.framework == Some(Framework::Rails);
    let library = svc.role == Role::Library;

    // How Bundler runs: deployment (frozen) mode needs a lock that fits the build platform.
    let has_lock = b.lock.is_some();
    let fits = lock_fits_linux(&b.platforms);
    let deployment = has_lock && fits;
    let mut pre_install = Vec::new();
    if !has_lock && b.gemfile {
        let msg = "no Gemfile.lock is committed: the gems are resolved at every build, so builds are not reproducible";
        if library {
            // Gems often leave the lock out on purpose, to test against the newest dependencies.
            notes.push(format!("{msg} (usual for a gem)"));
        } else {
            warnings.push(format!("{msg}; commit the lock"));
        }
    }
    if has_lock && !fits {
        pre_install.push("bundle lock --add-platform x86_64-linux".to_string());
        warnings.push(format!(
            "Gemfile.lock lists only the platforms {}; the image adds x86_64-linux before installing (so it cannot use deployment mode). Run `bundle lock --add-platform x86_64-linux` and commit the lock",
            b.platforms.join(", ")
        ));
    }
    if !b.gemfile {
        warnings.push("there is no Gemfile: Bundler cannot install the development dependencies; add a Gemfile with `gemspec`".into());
    }
    let bundler = b
        .lock
        .as_ref()
        .and_then(|l| l.bundler.as_ref())
        .map(|_| tool_version(ctx, "bundler", ""))
        .filter(|v| !v.is_empty());
    if let Some(v) = &bundler {
        notes.push(format!("Bundler {v}, as the lock's BUNDLED WITH says"));
    }

    // Native packages: a compiler and the databases' headers to build, their libraries to run.
    let mut build_packages: Vec<&str> = BUILD_PACKAGES.to_vec();
    let mut runtime_packages: Vec<&str> = Vec::new();
    for db in &svc.databases {
        if let Some((_, build, run)) = NATIVE_LIBS.iter().find(|(d, _, _)| d == db) {
            for p in build.iter() {
                if !build_packages.contains(p) {
                    build_packages.push(p);
                }
            }
            for p in run.iter() {
                if !runtime_packages.contains(p) {
                    runtime_packages.push(p);
                }
            }
        }
    }
    if b.needs_git {
        build_packages.push("git");
    }
    notes.push(format!(
        "native gems build with {} in deps only; the runtime gets {}",
        build_packages.join(", "),
        if runtime_packages.is_empty() {
            "no extra packages".to_string()
        } else {
            runtime_packages.join(", ")
        }
    ));

    let (lint, install_linter) = lint(ctx);
    let sast = rails.then(|| brakeman(&b));
    let mut test_tools = Vec::new();
    if install_linter {
        test_tools.push(format!(
            "gem install {} -v {RUBOCOP} --no-document",
            if lint.tool == "standard" {
                "standard"
            } else {
                "rubocop"
            }
        ));
        notes.push(format!(
            "{} {RUBOCOP} is installed in the test stage: the bundle does not carry it",
            lint.tool
        ));
    }
    if rails {
        if b.has("brakeman") {
            notes.push("SAST: Brakeman from the bundle instead of Semgrep (Rails)".into());
        } else {
            test_tools.push(format!("gem install brakeman -v {BRAKEMAN} --no-document"));
            notes.push(format!(
                "SAST: Brakeman {BRAKEMAN} (installed in the test stage) instead of Semgrep (Rails); SARIF kept as an artifact, findings do not fail the job"
            ));
        }
    }

    // Environment.
    let mut bundle_env = vec![
        ("BUNDLE_PATH".to_string(), BUNDLE_PATH.to_string()),
        ("BUNDLE_WITHOUT".to_string(), "development:test".to_string()),
    ];
    if deployment {
        bundle_env.push(("BUNDLE_DEPLOYMENT".to_string(), "1".to_string()));
        notes.push(
            "Bundler deployment mode: the image installs exactly what Gemfile.lock says".into(),
        );
    }
    let fw_env = svc
        .framework
        .and_then(|f| FRAMEWORK_ENV.iter().find(|(fw, _, _)| *fw == f));
    let env_of = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };

    // Dockerfile.
    let mut d = dockerfile_base(ctx);
    d.header.push(APT_HEADER.into());
    let base = ctx.base_image("ruby", &tag);
    let node = b.gems.iter().any(|g| NODE_ASSET_GEMS.contains(&g.as_str()))
        && rails
        && ctx.has("package.json")
        && svc
            .commands
            .build
            .as_deref()
            .is_some_and(|c| c.contains("assets:precompile"));
    let mut stages = Vec::new();
    let node_tools = node.then(|| node_tools(ctx));
    if let Some(t) = &node_tools {
        notes.push(t.note.clone());
        warnings.extend(t.warning.clone());
        stages.push(t.stage.clone());
    }
    let mut deps = Stage::new(&base, "deps");
    deps.comment = vec![
        "Gems only, from the Gemfile and its lock: this layer is rebuilt only when they change."
            .into(),
    ];
    deps.push(Instruction::Env(bundle_env.clone()));
    deps.push(Instruction::Workdir("/app".into()));
    apt_run(
        &mut deps,
        "A compiler and headers for gems with native extensions; the runtime image has none of them.",
        &build_packages,
    );
    let mut manifests: Vec<String> = ["Gemfile", "Gemfile.lock"]
        .iter()
        .filter(|f| ctx.has(f))
        .map(|f| f.to_string())
        .collect();
    if let Some(f) = &b.ruby_file {
        if ctx.has(f) && !f.contains('/') {
            manifests.push(f.clone());
        } else {
            warnings.push(format!(
                "the Gemfile reads the Ruby version from `{f}`, which is not in the service folder: the Docker build cannot see it; copy the version into the Gemfile"
            ));
        }
    }
    if let Some(spec) = &b.gemspec {
        manifests.push(spec.clone());
    }
    if !manifests.is_empty() {
        deps.copy(manifests, "./");
    }
    if b.gemspec.is_some() {
        // The gemspec loads its version file; copy exactly those files, where they live.
        for req in gemspec_requires(&b.gemspec_text) {
            if ctx.has(&req) {
                let dir = crate::index::parent_dir(&req);
                let dest = if dir.is_empty() {
                    "./".to_string()
                } else {
                    format!("{dir}/")
                };
                deps.copy([req.clone()], &dest);
            }
        }
    }
    let mut install = Vec::new();
    if let Some(v) = &bundler {
        install.push(format!("gem install bundler -v {v} --no-document"));
    }
    install.extend(pre_install.iter().cloned());
    if b.gemfile {
        install.push("bundle install --jobs 4 --retry 3".to_string());
        install.push(format!("rm -rf {BUNDLE_PATH}/ruby/*/cache"));
    }
    if !install.is_empty() {
        deps.run(install);
    }

    let mut build = Stage::new("deps", "build");
    if let Some(t) = &node_tools {
        for i in &t.copy {
            build.push(i.clone());
        }
    }
    build.copy(["."], ".");
    let mut build_cmds = Vec::new();
    if rails {
        // Rails writes pids, cache and logs here; .dockerignore keeps local ones out.
        build_cmds.push("mkdir -p log storage tmp/pids tmp/cache".to_string());
    }
    let precompiles = svc
        .commands
        .build
        .as_deref()
        .is_some_and(|c| c.contains("assets:precompile"));
    match svc.commands.build.as_deref() {
        Some(cmd) if precompiles => {
            build.comment("Assets are compiled once, here; SECRET_KEY_BASE_DUMMY lets Rails boot without the real secret.");
            build_cmds.push(cmd.to_string());
            if node {
                build_cmds.push("rm -rf node_modules".into());
            }
            notes.push(format!("Rails assets: `{cmd}` in the build stage"));
        }
        Some(cmd) if cmd.starts_with("gem build") => {
            build.comment("The gem package is the build output of a library.");
            build_cmds.push(cmd.to_string());
        }
        _ => {
            if build_cmds.is_empty() {
                build.comment("Nothing to compile: Ruby runs from source.");
            }
        }
    }
    if !build_cmds.is_empty() {
        build.run(build_cmds);
    }

    let mut test = Stage::new("build", "test");
    test.comment = vec![
        "Development and test gems on top of the build; CI runs the tests, the linter and SAST here."
            .into(),
    ];
    let mut test_env = vec![("BUNDLE_WITHOUT".to_string(), String::new())];
    if let Some((_, _, t)) = fw_env {
        test_env.extend(env_of(t));
    }
    test.push(Instruction::Env(test_env));
    let mut test_cmds = Vec::new();
    if b.gemfile {
        test_cmds.push("bundle install --jobs 4 --retry 3".to_string());
    }
    test_cmds.extend(test_tools.iter().cloned());
    if !test_cmds.is_empty() {
        test.run(test_cmds);
    }

    let mut runtime = Stage::new(&base, "runtime");
    runtime.comment = vec![
        "Only Ruby, the installed gems and the application: no compiler, no test gems.".into(),
    ];
    let mut run_env = bundle_env.clone();
    if let Some((_, r, _)) = fw_env {
        run_env.extend(env_of(r));
    }
    runtime.push(Instruction::Env(run_env));
    runtime.push(Instruction::Workdir("/app".into()));
    if !runtime_packages.is_empty() {
        apt_run(
            &mut runtime,
            "Shared libraries the database client gems were compiled against.",
            &runtime_packages,
        );
    }
    add_app_user(&mut runtime);
    runtime.push(Instruction::Copy {
        from: Some("build".into()),
        chown: None,
        src: vec![BUNDLE_PATH.into()],
        dest: BUNDLE_PATH.into(),
    });
    runtime.push(Instruction::Copy {
        from: Some("build".into()),
        chown: Some("app:app".into()),
        src: vec!["/app".into()],
        dest: "/app".into(),
    });
    let start = svc.commands.start.as_deref();
    warnings.extend(finish_runtime(
        ctx,
        &mut runtime,
        "app",
        start,
        &["ruby", "--version"],
    ));
    stages.extend([deps, build, test, runtime]);
    d.stages = stages;

    // Start command sanity: rackup, rails server and Sinatra's run! need a server gem.
    if let Some(s) = start {
        if !s.contains("puma") && !SERVER_GEMS.iter().any(|g| b.has(g)) {
            warnings.push(format!(
                "`{s}` needs a web server gem, but the bundle names none (puma, webrick …; Ruby 3 no longer ships WEBrick): add puma to the Gemfile"
            ));
        }
    }
    match svc.framework {
        Some(Framework::Rails) => warnings.push("the runtime image needs SECRET_KEY_BASE (or RAILS_MASTER_KEY) and DATABASE_URL from the deployment's environment; none is baked in".into()),
        Some(Framework::Hanami) if b.has("hanami-assets") => warnings.push("hanami-assets is in the bundle but the build does not run `hanami assets compile` (it needs Node.js): add it to the build stage if the app serves assets".into()),
        _ => {}
    }
    if library {
        notes.push("a library: the runtime image holds the built gem and its code; publish the gem to a gem registry separately".into());
    }

    // CI.
    let bundle_dir = format!(
        "$CI_PROJECT_DIR/{}",
        crate::index::join(ctx.dir, "vendor/bundle")
    );
    let mut compile_variables = vec![("BUNDLE_PATH".to_string(), bundle_dir)];
    if deployment {
        compile_variables.push(("BUNDLE_FROZEN".to_string(), "true".to_string()));
    }
    let mut setup = vec![apt_install_line(&build_packages)];
    if let Some(v) = &bundler {
        setup.push(format!("gem install bundler -v {v} --no-document"));
    }
    setup.extend(pre_install.iter().cloned());
    if b.gemfile {
        setup.push("bundle install --jobs 4 --retry 3".to_string());
    }
    let mut compile = setup.clone();
    if let Some(cmd) = svc
        .commands
        .build
        .as_deref()
        .filter(|c| c.starts_with("gem build"))
    {
        compile.push(cmd.to_string());
    }
    let compile_artifacts = if library && b.gemspec.is_some() {
        vec!["*.gem".to_string()]
    } else {
        Vec::new()
    };
    let mut test_setup = setup;
    test_setup.extend(test_tools.iter().cloned());
    if let Some((_, _, t)) = fw_env {
        test_setup.extend(t.iter().map(|(k, v)| format!("export {k}={v}")));
    }
    test_setup.push("export APP_DIR=\"$PWD\"".into());
    let (tests, junit) = test_lines(ctx, &b, &mut notes);
    notes.push(format!("linter: {} ({})", lint.tool, lint.why));

    let mut ignore = vec![
        ".bundle",
        "vendor/bundle",
        "node_modules",
        ".rspec_status",
        "spec/examples.txt",
        ".byebug_history",
        "*.gem",
        "pkg",
    ];
    if rails {
        ignore.extend(["log", "tmp", "storage"]);
    }
    if precompiles {
        // Rebuilt in the image; a local build must not shadow it.
        ignore.extend([
            "public/assets",
            "public/packs",
            "app/assets/builds/*",
            "!app/assets/builds/.keep",
        ]);
    }
    Recipe {
        build_image: ("ruby".into(), tag),
        compile,
        compile_variables,
        test_variables: Vec::new(),
        cache: Some(lock_cache(
            ctx,
            &["Gemfile.lock", "Gemfile"],
            &["vendor/bundle"],
            "ruby",
        )),
        compile_artifacts,
        test_setup,
        test: tests,
        junit,
        lint: Some(lint),
        sast,
        dockerfile: d,
        dockerignore: dockerignore(&ignore),
        sonar_properties: Vec::new(),
        context: None,
        notes,
        warnings,
    }
}

/// Builds the recipe of the first service found in an in-memory repository, for unit tests.
#[cfg(test)]
pub(crate) fn recipe_of(files: &[(&str, &str)]) -> Recipe {
    use crate::generate::GeneratorSettings;
    use crate::index::{Content, RawEntry, RepoIndex};
    let index = RepoIndex::build(
        files
            .iter()
            .map(|(p, t)| RawEntry::new(*p, t.len() as u64))
            .collect(),
        files
            .iter()
            .map(|(p, t)| (p.to_string(), Content::Text(t.to_string())))
            .collect(),
    );
    let profile = crate::detect::analyze(&index, "fixture");
    let service = &profile.services[0];
    let settings = GeneratorSettings::default();
    let ctx = ServiceContext {
        service,
        index: &index,
        settings: &settings,
        dir: "",
        runtime: versions::resolve(
            crate::generate::runtime_of(service),
            service.runtime_version.as_ref(),
        ),
        repo_name: "fixture".into(),
    };
    super::recipe_for(&ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_platforms_decide_deployment_mode() {
        let lock = "GEM\n  specs:\n    pg (1.5.4)\n\nPLATFORMS\n  arm64-darwin-23\n  x86_64-linux\n\nDEPENDENCIES\n  pg\n";
        let p = lock_platforms(lock);
        assert_eq!(p, vec!["arm64-darwin-23", "x86_64-linux"]);
        assert!(lock_fits_linux(&p));
        assert!(!lock_fits_linux(&["arm64-darwin-23".to_string()]));
        assert!(lock_fits_linux(&["ruby".to_string()]));
        assert!(lock_fits_linux(&[]));
    }

    #[test]
    fn gemspec_requires_are_the_files_to_copy_first() {
        let spec = "require_relative \"lib/tidy_csv/version\"\nrequire_relative('./lib/x.rb')\nrequire \"json\"\nrequire_relative \"../outside\"\n";
        assert_eq!(
            gemspec_requires(spec),
            vec!["lib/tidy_csv/version.rb", "lib/x.rb"]
        );
        assert_eq!(
            gemspec_gems("spec.add_dependency \"csv\", \"~> 3.2\"\nspec.add_development_dependency('rubocop')\n"),
            vec!["csv", "rubocop"]
        );
    }

    #[test]
    fn apt_installs_clean_up() {
        assert_eq!(
            apt_install_line(&["build-essential", "libpq-dev"]),
            "apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev && rm -rf /var/lib/apt/lists/*"
        );
    }

    const RAILS_GEMFILE: &str = "source \"https://rubygems.org\"\ngem \"rails\", \"~> 7.1\"\ngem \"pg\"\ngem \"puma\"\ngroup :test do\n  gem \"rspec-rails\"\n  gem \"rspec_junit_formatter\"\nend\n";

    #[test]
    fn rails_gets_brakeman_junit_and_a_lock_platform_fix() {
        let lock = "GEM\n  remote: https://rubygems.org/\n  specs:\n    pg (1.5.4)\n    puma (6.4.2)\n    rails (7.1.3)\n    rspec-rails (6.1.1)\n    rspec_junit_formatter (0.6.0)\n\nPLATFORMS\n  arm64-darwin-23\n\nDEPENDENCIES\n  pg\n  puma\n  rails (~> 7.1)\n  rspec-rails\n  rspec_junit_formatter\n\nBUNDLED WITH\n   2.5.6\n";
        let r = recipe_of(&[
            ("Gemfile", RAILS_GEMFILE),
            ("Gemfile.lock", lock),
            (
                "config/application.rb",
                "class App < Rails::Application\nend\n",
            ),
            ("config/database.yml", "default:\n  adapter: postgresql\n"),
            ("spec/models/a_spec.rb", "RSpec.describe 1 do end\n"),
        ]);
        let sast = r.sast.expect("Rails gets Brakeman");
        assert_eq!(sast.report_kind, None);
        assert!(sast.script[0].starts_with("brakeman "), "{:?}", sast.script);
        assert_eq!(r.junit.as_deref(), Some("junit.xml"));
        assert!(r.test.iter().any(|l| l.contains("RspecJunitFormatter")));
        assert!(r.test.iter().any(|l| l == "bundle exec rails db:prepare"));
        let text = r.dockerfile.render();
        // The lock lacks a Linux platform: it is added, so deployment (frozen) mode is off.
        assert!(
            text.contains("bundle lock --add-platform x86_64-linux"),
            "{text}"
        );
        assert!(!text.contains("BUNDLE_DEPLOYMENT"), "{text}");
        assert!(
            text.contains("libpq-dev") && text.contains("libpq5"),
            "{text}"
        );
        assert!(r.warnings.iter().any(|w| w.contains("add-platform")));
    }

    #[test]
    fn plain_rspec_has_no_junit_and_rubocop_is_installed_when_missing() {
        let r = recipe_of(&[
            ("Gemfile", "gem \"sinatra\"\ngem \"puma\"\ngem \"rspec\"\n"),
            ("config.ru", "run Sinatra::Application\n"),
            ("spec/app_spec.rb", "RSpec.describe 1 do end\n"),
        ]);
        assert_eq!(r.junit, None);
        assert!(r.sast.is_none());
        let lint = r.lint.expect("lint");
        assert!(!lint.enforced);
        assert!(lint.command.starts_with("rubocop "));
        assert!(r
            .dockerfile
            .render()
            .contains(&format!("gem install rubocop -v {RUBOCOP}")));
        assert!(r.warnings.iter().any(|w| w.contains("Gemfile.lock")));
    }
}
