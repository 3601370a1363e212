//! PHP: Composer's binary (from the composer image) installs into `php:<v>-cli-bookworm`, so
//! the platform check runs against the PHP and the extensions that will serve the app; the
//! extensions the app needs (from `ext-*` requirements and the detected databases) are built
//! in `deps` with their `-dev` packages and copied into a runtime that gets only their shared
//! libraries. Tests run with PHPUnit or Pest (JUnit via `--log-junit`); the linter is Pint or
//! PHPStan, whose JSON report SonarQube imports.

use super::ruby::{apt_install, js_install, node_tools, APT_HEADER};
use super::{
    add_app_user, dockerfile_base, dockerignore, finish_runtime, lock_cache, Lint, Recipe,
};
use crate::dockerfile::{Instruction, Stage};
use crate::generate::ServiceContext;
use crate::stack::{Database, Framework, Role, TestFramework};
use serde_json::Value;
use std::collections::BTreeSet;

/// The composer image the binary is copied from (Composer 2 keeps its lock format stable).
const COMPOSER_TAG: &str = "2";
/// PHPStan, installed globally in the test stage when the project does not require it.
const PHPSTAN: &str = "1.12.7";
/// Where `composer global` puts tools in the test image.
const COMPOSER_HOME: &str = "/usr/local/composer";

/// Extensions compiled into every `php:<v>-cli` image.
const BUILTIN: &[&str] = &[
    "core",
    "ctype",
    "curl",
    "date",
    "dom",
    "fileinfo",
    "filter",
    "ftp",
    "hash",
    "iconv",
    "json",
    "libxml",
    "mbstring",
    "mysqlnd",
    "openssl",
    "pcre",
    "pdo",
    "pdo_sqlite",
    "phar",
    "posix",
    "random",
    "readline",
    "reflection",
    "session",
    "simplexml",
    "sodium",
    "spl",
    "sqlite3",
    "standard",
    "tokenizer",
    "xml",
    "xmlreader",
    "xmlwriter",
    "zlib",
];

/// How an extension gets into the image.
#[derive(Clone, Copy, PartialEq)]
enum Via {
    /// `docker-php-ext-install`, with optional `docker-php-ext-configure` flags.
    Core(Option<&'static str>),
    /// `pecl install name-version` then `docker-php-ext-enable`.
    Pecl(&'static str),
}

/// An extension: how it is installed, the `-dev` packages it builds against (deps only) and
/// the shared libraries it loads (runtime).
type Ext = (
    &'static str,
    Via,
    &'static [&'static str],
    &'static [&'static str],
);

/// Every extension pipewright can install. Library names are Debian bookworm's.
const EXTENSIONS: &[Ext] = &[
    ("bcmath", Via::Core(None), &[], &[]),
    ("bz2", Via::Core(None), &["libbz2-dev"], &["libbz2-1.0"]),
    ("calendar", Via::Core(None), &[], &[]),
    ("exif", Via::Core(None), &[], &[]),
    ("gettext", Via::Core(None), &[], &[]),
    (
        "gd",
        Via::Core(Some("--with-freetype --with-jpeg")),
        &["libfreetype-dev", "libjpeg62-turbo-dev", "libpng-dev"],
        &["libfreetype6", "libjpeg62-turbo", "libpng16-16"],
    ),
    ("gmp", Via::Core(None), &["libgmp-dev"], &["libgmp10"]),
    ("intl", Via::Core(None), &["libicu-dev"], &["libicu72"]),
    ("mysqli", Via::Core(None), &[], &[]),
    ("opcache", Via::Core(None), &[], &[]),
    ("pcntl", Via::Core(None), &[], &[]),
    ("pdo_mysql", Via::Core(None), &[], &[]),
    ("pdo_pgsql", Via::Core(None), &["libpq-dev"], &["libpq5"]),
    ("pgsql", Via::Core(None), &["libpq-dev"], &["libpq5"]),
    ("soap", Via::Core(None), &["libxml2-dev"], &[]),
    ("sockets", Via::Core(None), &[], &[]),
    ("xsl", Via::Core(None), &["libxslt1-dev"], &["libxslt1.1"]),
    ("zip", Via::Core(None), &["libzip-dev"], &["libzip4"]),
    (
        "amqp",
        Via::Pecl("2.1.2"),
        &["librabbitmq-dev"],
        &["librabbitmq4"],
    ),
    ("apcu", Via::Pecl("5.1.23"), &[], &[]),
    (
        "imagick",
        Via::Pecl("3.7.0"),
        &["libmagickwand-dev"],
        &["libmagickwand-6.q16-6"],
    ),
    (
        "memcached",
        Via::Pecl("3.2.0"),
        &["libmemcached-dev", "zlib1g-dev"],
        &["libmemcached11"],
    ),
    ("mongodb", Via::Pecl("1.20.0"), &["libssl-dev"], &[]),
    (
        "rdkafka",
        Via::Pecl("6.0.3"),
        &["librdkafka-dev"],
        &["librdkafka1"],
    ),
    ("redis", Via::Pecl("6.0.2"), &[], &[]),
];

/// Database → the extension its PHP client needs (Redis, RabbitMQ and Kafka have pure-PHP
/// clients; their extensions come only from `ext-*` requirements).
const DATABASE_EXTENSIONS: &[(Database, &str)] = &[
    (Database::Postgresql, "pdo_pgsql"),
    (Database::Mysql, "pdo_mysql"),
    (Database::Mariadb, "pdo_mysql"),
    (Database::Mongodb, "mongodb"),
];

/// Framework → the environment the runtime image runs in.
const FRAMEWORK_ENV: &[(Framework, &[(&str, &str)])] = &[
    (
        Framework::Laravel,
        &[("APP_ENV", "production"), ("LOG_CHANNEL", "stderr")],
    ),
    (
        Framework::Symfony,
        &[("APP_ENV", "prod"), ("APP_DEBUG", "0")],
    ),
];

/// The package names and `ext-*` requirements of composer.json and composer.lock.
#[derive(Default)]
struct Composer {
    /// composer.json parsed; `None` when it is missing or malformed.
    json_ok: bool,
    json_error: Option<String>,
    packages: BTreeSet<String>,
    /// Extensions required anywhere (the project, its lock's packages, the lock's platform).
    extensions: BTreeSet<String>,
    lock: bool,
}

fn collect_requires(
    v: Option<&Value>,
    packages: &mut BTreeSet<String>,
    exts: &mut BTreeSet<String>,
) {
    for k in v
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.keys())
    {
        let k = k.to_ascii_lowercase();
        match k.strip_prefix("ext-") {
            Some(e) => {
                exts.insert(e.to_string());
            }
            None => {
                packages.insert(k);
            }
        }
    }
}

/// Reads composer.json (and composer.lock, whose packages' requirements composer checks too).
fn composer(json: Option<&str>, lock: Option<&str>) -> Composer {
    let mut c = Composer::default();
    match json.map(serde_json::from_str::<Value>) {
        Some(Ok(j)) => {
            c.json_ok = true;
            collect_requires(j.get("require"), &mut c.packages, &mut c.extensions);
            collect_requires(j.get("require-dev"), &mut c.packages, &mut c.extensions);
        }
        Some(Err(e)) => c.json_error = Some(e.to_string()),
        None => {}
    }
    if let Some(Ok(l)) = lock.map(serde_json::from_str::<Value>) {
        c.lock = true;
        let mut ignored = BTreeSet::new();
        for section in ["packages", "packages-dev"] {
            for p in l
                .get(section)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = p.get("name").and_then(Value::as_str) {
                    c.packages.insert(name.to_ascii_lowercase());
                }
                collect_requires(p.get("require"), &mut ignored, &mut c.extensions);
            }
        }
        collect_requires(l.get("platform"), &mut ignored, &mut c.extensions);
        collect_requires(l.get("platform-dev"), &mut ignored, &mut c.extensions);
    } else if lock.is_some() {
        c.lock = true;
    }
    c
}

/// The extensions to install (sorted, deterministic) and those pipewright cannot install.
fn extensions(needed: &BTreeSet<String>) -> (Vec<&'static Ext>, Vec<String>) {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for e in needed {
        if BUILTIN.contains(&e.as_str()) {
            continue;
        }
        match EXTENSIONS.iter().find(|(n, _, _, _)| n == e) {
            Some(x) => known.push(x),
            None => unknown.push(e.clone()),
        }
    }
    (known, unknown)
}

/// The `RUN` commands that build the extensions (after their `-dev` packages are installed).
fn extension_commands(exts: &[&Ext]) -> Vec<String> {
    let mut cmds = Vec::new();
    let core: Vec<&str> = exts
        .iter()
        .filter(|(_, v, _, _)| matches!(v, Via::Core(_)))
        .map(|(n, _, _, _)| *n)
        .collect();
    for (n, v, _, _) in exts {
        if let Via::Core(Some(flags)) = v {
            cmds.push(format!("docker-php-ext-configure {n} {flags}"));
        }
    }
    if !core.is_empty() {
        cmds.push(format!(
            "docker-php-ext-install -j\"$(nproc)\" {}",
            core.join(" ")
        ));
    }
    let pecl: Vec<(&str, &str)> = exts
        .iter()
        .filter_map(|(n, v, _, _)| match v {
            Via::Pecl(ver) => Some((*n, *ver)),
            Via::Core(_) => None,
        })
        .collect();
    if !pecl.is_empty() {
        let specs: Vec<String> = pecl.iter().map(|(n, v)| format!("{n}-{v}")).collect();
        let names: Vec<&str> = pecl.iter().map(|(n, _)| *n).collect();
        cmds.push(format!("pecl install {}", specs.join(" ")));
        cmds.push(format!("docker-php-ext-enable {}", names.join(" ")));
        cmds.push("rm -rf /tmp/pear".into());
    }
    cmds
}

/// The arguments of a detected `phpstan analyse …` command, without the runner and progress flag.
pub fn phpstan_args(cmd: &str) -> Vec<String> {
    cmd.split_whitespace()
        .skip_while(|w| !matches!(*w, "analyse" | "analyze"))
        .skip(1)
        .filter(|w| *w != "--no-progress")
        .map(str::to_string)
        .collect()
}

/// Pint or PHPStan, and the commands that install PHPStan when the project does not.
fn lint(ctx: &ServiceContext<'_>, c: &Composer) -> (Lint, Vec<String>) {
    let detected = ctx.service.commands.lint.as_deref().unwrap_or("");
    if detected.contains("pint") {
        return (
            Lint {
                tool: "pint".into(),
                command:
                    "vendor/bin/pint --test --format json > \"$CI_PROJECT_DIR/lint-report.json\""
                        .into(),
                report: "lint-report.json".into(),
                // SonarQube imports no Pint (PHP-CS-Fixer) report; the file stays an artifact.
                sonar_property: None,
                enforced: true,
                why: "laravel/pint is required by the project, so it is enforced".into(),
            },
            Vec::new(),
        );
    }
    let args = phpstan_args(detected);
    let tail = if args.is_empty() {
        String::new()
    } else {
        format!(" {}", args.join(" "))
    };
    let in_vendor = detected.starts_with("vendor/bin/");
    let bin = if in_vendor {
        "vendor/bin/phpstan".to_string()
    } else {
        format!("{COMPOSER_HOME}/vendor/bin/phpstan")
    };
    let configured = ["phpstan.neon", "phpstan.neon.dist", "phpstan.dist.neon"]
        .iter()
        .any(|f| ctx.has(f));
    let declared = c
        .packages
        .iter()
        .any(|p| p.contains("phpstan") || p.ends_with("/larastan"));
    let enforced = configured || declared;
    let install = if in_vendor {
        Vec::new()
    } else {
        vec![format!(
            "composer global require --no-interaction --no-progress phpstan/phpstan:{PHPSTAN}"
        )]
    };
    (
        Lint {
            tool: "phpstan".into(),
            // PHP's default 128M is too little for PHPStan on most applications.
            command: format!(
                "{bin} analyse --no-progress --memory-limit=1G --error-format=json{tail} > \"$CI_PROJECT_DIR/lint-report.json\""
            ),
            report: "lint-report.json".into(),
            sonar_property: Some("sonar.php.phpstan.reportPaths".into()),
            enforced,
            why: if enforced {
                "the project configures or requires PHPStan, so it is enforced".into()
            } else {
                "the project configures no linter, so PHPStan (level 0) is advisory".into()
            },
        },
        install,
    )
}

pub fn recipe(ctx: &ServiceContext<'_>) -> Recipe {
    let version = ctx.runtime.version.clone();
    // bookworm is named so the runtime library names below cannot change under a moving tag.
    let tag = format!("{version}-cli-bookworm");
    let svc = ctx.service;
    let c = composer(ctx.text("composer.json"), ctx.text("composer.lock"));
    let laravel = svc.framework == Some(Framework::Laravel);
    let symfony = svc.framework == Some(Framework::Symfony);
    let mut notes = vec![format!(
        "php image php:{tag} with the composer binary from composer:{COMPOSER_TAG}: composer's platform check runs against the PHP and extensions the app runs with"
    )];
    let mut warnings = Vec::new();
    if let Some(e) = &c.json_error {
        warnings.push(format!(
            "composer.json is not valid JSON ({e}): composer cannot install anything until it is fixed, so compile and build will fail"
        ));
    }
    if !c.lock && ctx.has("composer.json") {
        let msg = "no composer.lock is committed: dependencies are resolved at every build, so builds are not reproducible";
        if svc.role == Role::Library {
            // Libraries often leave the lock out on purpose, to test against the newest dependencies.
            notes.push(format!("{msg} (usual for a library)"));
        } else {
            warnings.push(format!("{msg}; commit the lock"));
        }
    }

    // Extensions: required ones plus the database drivers.
    let mut needed = c.extensions.clone();
    for db in &svc.databases {
        if let Some((_, e)) = DATABASE_EXTENSIONS.iter().find(|(d, _)| d == db) {
            needed.insert(e.to_string());
        }
    }
    let (exts, unknown) = extensions(&needed);
    for u in &unknown {
        warnings.push(format!(
            "the extension `{u}` is required but pipewright does not know how to install it: add it to the deps stage (and its libraries to the runtime stage)"
        ));
    }
    if svc.databases.contains(&Database::Mssql) {
        warnings.push("SQL Server needs Microsoft's ODBC driver and the sqlsrv extensions, which the Dockerfile does not install".into());
    }
    let mut build_packages: Vec<&str> = vec!["unzip"];
    let mut runtime_packages: Vec<&str> = Vec::new();
    for (_, _, build, run) in &exts {
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
    let ext_names: Vec<&str> = exts.iter().map(|(n, _, _, _)| *n).collect();
    notes.push(if ext_names.is_empty() {
        "extensions: the image's built-in ones are enough".to_string()
    } else {
        format!(
            "extensions {} built in deps (with {}) and copied into the runtime, which gets {}",
            ext_names.join(", "),
            if build_packages.len() > 1 {
                build_packages[1..].join(", ")
            } else {
                "no -dev packages".to_string()
            },
            if runtime_packages.is_empty() {
                "no extra libraries".to_string()
            } else {
                runtime_packages.join(", ")
            }
        )
    });

    let (lint, lint_install) = lint(ctx, &c);
    if !lint_install.is_empty() {
        notes.push(format!(
            "PHPStan {PHPSTAN} is installed globally in the test stage: the project does not require it"
        ));
    }
    notes.push(format!("linter: {} ({})", lint.tool, lint.why));

    // Asset build for Laravel with Vite (or Mix): the Blade views need the built manifest.
    let package_json = ctx.text("package.json").unwrap_or("");
    let assets = laravel
        && package_json.contains("\"build\"")
        && [
            "vite.config.js",
            "vite.config.ts",
            "vite.config.mjs",
            "webpack.mix.js",
        ]
        .iter()
        .any(|f| ctx.has(f));
    let node = assets.then(|| node_tools(ctx));

    // Dockerfile.
    let mut d = dockerfile_base(ctx);
    d.header.push(APT_HEADER.into());
    let base = ctx.base_image("php", &tag);
    let mut composer_stage = Stage::new(ctx.base_image("composer", COMPOSER_TAG), "composer");
    composer_stage.comment = vec![
        "Only the composer binary is taken from this image; COPY --from cannot name an image"
            .into(),
        "through BASE_REGISTRY, so it is a stage of its own.".into(),
    ];
    let mut stages = vec![composer_stage];
    if let Some(n) = &node {
        notes.push(n.note.clone());
        warnings.extend(n.warning.clone());
        stages.push(n.stage.clone());
    }
    let composer_env = vec![
        ("COMPOSER_ALLOW_SUPERUSER".to_string(), "1".to_string()),
        ("COMPOSER_HOME".to_string(), COMPOSER_HOME.to_string()),
        ("COMPOSER_NO_INTERACTION".to_string(), "1".to_string()),
    ];
    let mut deps = Stage::new(&base, "deps");
    deps.comment = vec![
        "Extensions, then dependencies from composer.json and its lock only: rebuilt when they change."
            .into(),
    ];
    deps.push(Instruction::Env(composer_env));
    deps.push(Instruction::Workdir("/app".into()));
    deps.push(Instruction::Copy {
        from: Some("composer".into()),
        chown: None,
        src: vec!["/usr/bin/composer".into()],
        dest: "/usr/bin/composer".into(),
    });
    let mut ext_run = apt_install(&build_packages);
    let last = ext_run.pop();
    ext_run.extend(extension_commands(&exts));
    ext_run.extend(last);
    deps.comment(if exts.is_empty() {
        "unzip lets composer unpack its downloads."
    } else {
        "unzip for composer, and the extensions the app needs, compiled against their -dev packages."
    });
    deps.comment("hadolint ignore=DL3008");
    deps.run(ext_run);
    // symfony.lock tells Flex which recipes are already applied.
    let manifests: Vec<&str> = ["composer.json", "composer.lock", "symfony.lock"]
        .into_iter()
        .filter(|f| ctx.has(f))
        .collect();
    if !manifests.is_empty() {
        deps.copy(manifests, "./");
    }
    deps.comment(
        "Runtime packages only; scripts and the autoloader need the source, so they run in build.",
    );
    deps.run([
        "composer install --no-dev --prefer-dist --no-progress --no-scripts --no-autoloader",
        &format!("rm -rf {COMPOSER_HOME}/cache"),
    ]);

    let mut build = Stage::new("deps", "build");
    if let Some(n) = &node {
        for i in &n.copy {
            build.push(i.clone());
        }
    }
    build.copy(["."], ".");
    let mut build_cmds = Vec::new();
    if laravel {
        build_cmds.push("mkdir -p storage/framework/cache storage/framework/sessions storage/framework/views storage/logs bootstrap/cache".to_string());
    }
    build_cmds.push("composer dump-autoload --optimize --no-dev".to_string());
    if assets {
        build_cmds.push(js_install(ctx).to_string());
        build_cmds.push("npm run build".into());
        build_cmds.push("rm -rf node_modules".into());
        notes.push("Laravel front end: `npm run build` in the build stage (the views need the built manifest)".into());
    }
    build.comment(
        "The optimized autoloader (and the framework's post-autoload scripts) for production.",
    );
    build.run(build_cmds);

    let mut test = Stage::new("build", "test");
    test.comment = vec![
        "Development packages on top of the build; CI runs the tests and the linter here.".into(),
    ];
    let mut test_cmds = vec!["composer install --prefer-dist --no-progress".to_string()];
    test_cmds.extend(lint_install.iter().cloned());
    test_cmds.push(format!("rm -rf {COMPOSER_HOME}/cache"));
    test.run(test_cmds);

    // Laravel is served by Apache with mod_php (the official `-apache` variant of the same
    // PHP, so the extensions built in deps load): a production server, where
    // `php artisan serve` is PHP's single-process development server.
    let apache = laravel && svc.commands.start.is_some();
    let runtime_base = if apache {
        ctx.base_image("php", &format!("{version}-apache-bookworm"))
    } else {
        base.clone()
    };
    let mut runtime = Stage::new(&runtime_base, "runtime");
    runtime.comment = vec![
        "PHP, the compiled extensions and the application: no compiler headers, no composer, no dev packages.".into(),
    ];
    if let Some((_, env)) = svc
        .framework
        .and_then(|f| FRAMEWORK_ENV.iter().find(|(fw, _)| *fw == f))
    {
        runtime.push(Instruction::Env(
            env.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ));
    }
    runtime.push(Instruction::Workdir("/app".into()));
    let mut runtime_run = Vec::new();
    if !runtime_packages.is_empty() {
        runtime_run.extend(apt_install(&runtime_packages));
        runtime.comment("Shared libraries the extensions were compiled against.");
        runtime.comment("hadolint ignore=DL3008");
    } else {
        runtime.comment("PHP's production settings (no error display, sane limits).");
    }
    runtime_run.push("cp \"$PHP_INI_DIR/php.ini-production\" \"$PHP_INI_DIR/php.ini\"".into());
    runtime.run(runtime_run);
    if !exts.is_empty() {
        runtime.push(Instruction::Comment(
            "The extensions built in deps, and the ini files that enable them.".into(),
        ));
        for p in ["/usr/local/lib/php/extensions", "/usr/local/etc/php/conf.d"] {
            runtime.push(Instruction::Copy {
                from: Some("deps".into()),
                chown: None,
                src: vec![p.into()],
                dest: p.into(),
            });
        }
    }
    add_app_user(&mut runtime);
    let port = svc.port.unwrap_or(8000);
    if apache {
        runtime.comment("Apache serves public/ on the service's port as the unprivileged user, with Laravel's .htaccess rewrites.");
        runtime.run([
            "sed -ri -e 's!/var/www/html!/app/public!g' /etc/apache2/sites-available/*.conf".to_string(),
            format!("sed -ri -e 's/^Listen 80$/Listen {port}/' /etc/apache2/ports.conf"),
            format!("sed -ri -e 's/<VirtualHost \\*:80>/<VirtualHost *:{port}>/' /etc/apache2/sites-available/000-default.conf"),
            "printf '<Directory /app/public>\\n    AllowOverride All\\n    Require all granted\\n</Directory>\\n' > /etc/apache2/conf-available/app.conf".to_string(),
            "a2enconf app".to_string(),
            "a2enmod rewrite".to_string(),
            "chown -R app:app /var/run/apache2 /var/lock/apache2 /var/log/apache2".to_string(),
        ]);
    }
    runtime.push(Instruction::Copy {
        from: Some("build".into()),
        chown: Some("app:app".into()),
        src: vec!["/app".into()],
        dest: "/app".into(),
    });
    let start = if apache {
        Some("apache2-foreground")
    } else {
        svc.commands.start.as_deref()
    };
    warnings.extend(finish_runtime(
        ctx,
        &mut runtime,
        "app",
        start,
        &["php", "-v"],
    ));
    stages.extend([deps, build, test, runtime]);
    d.stages = stages;

    if apache {
        notes.push(format!("Laravel runtime: Apache with mod_php (php:{version}-apache-bookworm) serving public/ on port {port}, not `php artisan serve`, which is a development server"));
    } else if svc.commands.start.is_some() {
        warnings.push("the image serves with PHP's built-in server (one process, meant for development); production usually runs php-fpm behind nginx, which the team can swap in for the runtime stage".into());
    }
    if laravel {
        warnings.push("Laravel: no .env is copied into any image; APP_KEY (and the DB_* settings) must come from the deployment's environment".into());
    }
    if symfony {
        warnings.push("Symfony: the committed .env and .env.test are included (Symfony needs them; secrets belong in .env.local, which stays out): check they hold no secret, and set APP_SECRET and DATABASE_URL in the deployment's environment".into());
    }
    if svc.role == Role::Library {
        notes.push("a library: the runtime image holds the package and its vendor folder; publish it to a Composer repository separately".into());
    }

    // CI: compile in the composer image, which has PHP but not the app's extensions.
    let cache_dir = crate::index::join(ctx.dir, ".cache/composer");
    let compile_variables = vec![(
        "COMPOSER_CACHE_DIR".to_string(),
        format!("$CI_PROJECT_DIR/{cache_dir}"),
    )];
    let compile = vec![
        "composer install --no-interaction --prefer-dist --no-progress --no-scripts --optimize-autoloader --ignore-platform-reqs".to_string(),
    ];
    notes.push("compile installs with the composer image and --ignore-platform-reqs (that image lacks the app's extensions); the Docker build checks the real platform".into());
    let mut test_setup = vec![
        "composer install --no-interaction --prefer-dist --no-progress --ignore-platform-reqs"
            .to_string(),
    ];
    test_setup.extend(lint_install.iter().cloned());
    test_setup.push("export APP_DIR=\"$PWD\"".into());

    // Tests.
    let mut tests = Vec::new();
    if laravel {
        // A throwaway key for this job only; encrypted cookies and sessions need one.
        tests.push(
            "export APP_KEY=\"$(php -r 'echo \"base64:\".base64_encode(random_bytes(32));')\""
                .into(),
        );
        let db = crate::generate::test_services::script_variables(
            svc.framework,
            &crate::generate::test_services::connections(&svc.databases),
        );
        if !db.is_empty() {
            let exports: Vec<String> = db.iter().map(|(k, v)| format!("{k}={v}")).collect();
            tests.push(format!(
                "if ! grep -qs 'name=\"DB_CONNECTION\"' phpunit.xml phpunit.xml.dist; then export {}; fi",
                exports.join(" ")
            ));
            notes.push("Laravel tests use the job's database service unless phpunit.xml chooses its own connection".into());
        }
    }
    let sql = svc.databases.iter().any(|d| {
        matches!(
            d,
            Database::Postgresql | Database::Mysql | Database::Mariadb
        )
    });
    if symfony && sql && ctx.has("bin/console") && c.packages.contains("doctrine/doctrine-bundle") {
        // Doctrine's test config suffixes the database name (`_test`): create it, then migrate.
        tests.push("php bin/console doctrine:database:create --if-not-exists --env=test".into());
        if c.packages.contains("doctrine/doctrine-migrations-bundle") {
            tests.push("php bin/console doctrine:migrations:migrate --no-interaction --allow-no-migration --env=test".into());
        }
    }
    let junit = match (svc.test_framework, svc.commands.test.as_deref()) {
        (Some(TestFramework::Phpunit | TestFramework::Pest), Some(t)) => {
            tests.push(format!("{t} --log-junit \"$CI_PROJECT_DIR/junit.xml\""));
            notes.push(format!("tests: `{t}` with a JUnit report (--log-junit)"));
            Some("junit.xml".to_string())
        }
        (_, Some(t)) => {
            tests.push(t.to_string());
            None
        }
        (_, None) => {
            warnings.push(
                "no tests were found; the test job only checks the PHP syntax of the source".into(),
            );
            tests.push("find . -path ./vendor -prune -o -name '*.php' -print0 | xargs -0 -n1 php -l > /dev/null".into());
            None
        }
    };

    let mut ignore = vec![
        "vendor",
        "node_modules",
        ".phpunit.cache",
        ".phpunit.result.cache",
        ".php-cs-fixer.cache",
        ".cache",
    ];
    if laravel {
        ignore.extend([
            "storage/logs/*",
            "storage/framework/cache/*",
            "storage/framework/sessions/*",
            "storage/framework/views/*",
            "bootstrap/cache/*.php",
            "public/hot",
        ]);
    }
    if assets {
        // Rebuilt in the image; a local build must not shadow it.
        ignore.push("public/build");
    }
    if symfony {
        // Symfony commits .env/.env.test with non-secret defaults and needs them to boot.
        ignore.extend(["!.env", "!.env.test", "var"]);
    }
    Recipe {
        build_image: ("composer".into(), COMPOSER_TAG.into()),
        compile,
        compile_variables,
        test_variables: Vec::new(),
        cache: Some(lock_cache(
            ctx,
            &["composer.lock", "composer.json"],
            &[".cache/composer", "vendor"],
            "php",
        )),
        compile_artifacts: Vec::new(),
        test_setup,
        test: tests,
        junit,
        lint: Some(lint),
        sast: None,
        dockerfile: d,
        dockerignore: dockerignore(&ignore),
        sonar_properties: Vec::new(),
        context: None,
        notes,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_come_from_requirements_and_the_lock() {
        let c = composer(
            Some(
                r#"{"require":{"php":"^8.2","ext-intl":"*","ext-ctype":"*","laravel/framework":"^11"},"require-dev":{"phpstan/phpstan":"^1"}}"#,
            ),
            Some(
                r#"{"packages":[{"name":"mongodb/mongodb","require":{"ext-mongodb":"^1.20"}}],"platform":{"ext-zip":"*"}}"#,
            ),
        );
        assert!(c.json_ok && c.lock);
        let names: Vec<&str> = c.extensions.iter().map(String::as_str).collect();
        assert_eq!(names, vec!["ctype", "intl", "mongodb", "zip"]);
        assert!(c.packages.contains("phpstan/phpstan"));
        let (known, unknown) = extensions(&c.extensions);
        let known: Vec<&str> = known.iter().map(|(n, ..)| *n).collect();
        assert_eq!(known, vec!["intl", "mongodb", "zip"]);
        assert!(unknown.is_empty());
        let (_, unknown) = extensions(&["sqlsrv".to_string()].into_iter().collect());
        assert_eq!(unknown, vec!["sqlsrv"]);
    }

    #[test]
    fn extension_commands_configure_install_and_enable() {
        let picked: Vec<_> = EXTENSIONS
            .iter()
            .filter(|(n, ..)| ["gd", "pdo_pgsql", "redis"].contains(n))
            .collect();
        assert_eq!(
            extension_commands(&picked),
            vec![
                "docker-php-ext-configure gd --with-freetype --with-jpeg",
                "docker-php-ext-install -j\"$(nproc)\" gd pdo_pgsql",
                "pecl install redis-6.0.2",
                "docker-php-ext-enable redis",
                "rm -rf /tmp/pear",
            ]
        );
    }

    #[test]
    fn malformed_composer_json_is_reported() {
        let c = composer(Some("{\"require\": {\"php\": \">=7.4\",}}"), None);
        assert!(!c.json_ok);
        assert!(c.json_error.is_some());
    }

    #[test]
    fn phpstan_arguments_are_kept() {
        assert_eq!(
            phpstan_args("phpstan analyse --no-progress --level=0 src"),
            vec!["--level=0", "src"]
        );
        assert!(phpstan_args("vendor/bin/phpstan analyse --no-progress").is_empty());
    }

    #[test]
    fn laravel_gets_a_test_key_database_settings_and_runtime_libraries() {
        let r = crate::generate::recipes::ruby::recipe_of(&[
            (
                "composer.json",
                r#"{"type":"project","require":{"php":"^8.2","ext-intl":"*","laravel/framework":"^11"},"require-dev":{"phpunit/phpunit":"^11"}}"#,
            ),
            ("composer.lock", r#"{"packages":[],"packages-dev":[]}"#),
            (".env.example", "DB_CONNECTION=pgsql\n"),
            ("artisan", "<?php\n"),
            ("phpunit.xml", "<phpunit/>\n"),
        ]);
        assert!(r.test.iter().any(|l| l.starts_with("export APP_KEY=")));
        assert!(r.test.iter().any(|l| l.contains("DB_HOST=postgres")));
        assert_eq!(r.junit.as_deref(), Some("junit.xml"));
        let text = r.dockerfile.render();
        assert!(
            text.contains("docker-php-ext-install -j\"$(nproc)\" intl pdo_pgsql"),
            "{text}"
        );
        assert!(
            text.contains("libicu72") && text.contains("libpq5"),
            "{text}"
        );
        assert!(text.contains("COPY --from=composer /usr/bin/composer /usr/bin/composer"));
        assert!(!r.dockerignore.iter().any(|l| l == "!.env"));
        assert!(r.warnings.iter().any(|w| w.contains("APP_KEY")));
    }
}
