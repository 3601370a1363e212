//! The ten jobs every service gets, built around its ecosystem's [`Recipe`]. Job order,
//! needs and failure policy are decided here once, for every stack:
//!
//! - `compile` gives fast feedback and warms the dependency cache (keyed on the lock file);
//! - `build` runs Kaniko twice: the Dockerfile's `test` target (tests run in it) and the
//!   `runtime` target (the release candidate), both tagged with the commit;
//! - `test` runs the tests, then the linter, inside the test image; the linter's report and
//!   exit status are artifacts that `quality` hands to SonarQube;
//! - `sast` needs nothing and starts at once; `security` scans the candidate with Trivy against
//!   a Trivy server run as a job service; `push` promotes the scanned candidate with `crane`
//!   (no Docker daemon); `notify-*` and `learn` report and may fail without failing the pipeline.

use super::{Recipe, ServiceContext};
use crate::pipeline::{Artifacts, Cache, Image, Job, Need, Rule, Service, Stage, When};
use crate::stack::Database;

/// The job name for a stage step, suffixed with the service in a monorepo.
fn name(base: &str, service: &str, monorepo: bool) -> String {
    if monorepo {
        format!("{base}:{service}")
    } else {
        base.to_string()
    }
}

fn tool_image(ctx: &ServiceContext<'_>, tool: &(String, String), entrypoint: bool) -> Image {
    Image {
        name: ctx.job_image(&tool.0, &tool.1),
        entrypoint: entrypoint.then(|| vec![String::new()]),
    }
}

/// The short service name used in job names and image names.
pub fn service_slug(path: &str) -> String {
    let last = path.rsplit('/').next().unwrap_or(path);
    sanitize(last)
}

/// Lowercase, `[a-z0-9._-]` only, as registries require.
pub fn sanitize(name: &str) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches(|c| matches!(c, '.' | '_' | '-')).to_string();
    if s.is_empty() {
        "app".to_string()
    } else {
        s
    }
}

/// A database started beside the test job: image, tag, alias, its own settings, and the
/// connection variables the application gets.
struct TestService {
    db: Database,
    image: &'static str,
    tag: &'static str,
    alias: &'static str,
    settings: &'static [(&'static str, &'static str)],
    app_vars: &'static [(&'static str, &'static str)],
}

/// Settings that need no password: a throwaway database in a job must not teach anyone to
/// write credentials into the file. SQLite lives in a file; Kafka, Cassandra and SQL Server
/// are too heavy to start for unit tests by default, and tests that need them usually mock them.
const TEST_SERVICES: &[TestService] = &[
    TestService {
        db: Database::Postgresql,
        image: "postgres",
        tag: "16-alpine",
        alias: "postgres",
        settings: &[
            ("POSTGRES_HOST_AUTH_METHOD", "trust"),
            ("POSTGRES_DB", "test"),
        ],
        app_vars: &[("DATABASE_URL", "postgres://postgres@postgres:5432/test")],
    },
    TestService {
        db: Database::Mysql,
        image: "mysql",
        tag: "8.4",
        alias: "mysql",
        settings: &[
            ("MYSQL_ALLOW_EMPTY_PASSWORD", "yes"),
            ("MYSQL_DATABASE", "test"),
        ],
        app_vars: &[("DATABASE_URL", "mysql://root@mysql:3306/test")],
    },
    TestService {
        db: Database::Mariadb,
        image: "mariadb",
        tag: "11.4",
        alias: "mysql",
        settings: &[
            ("MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "yes"),
            ("MARIADB_DATABASE", "test"),
        ],
        app_vars: &[("DATABASE_URL", "mysql://root@mysql:3306/test")],
    },
    TestService {
        db: Database::Redis,
        image: "redis",
        tag: "7-alpine",
        alias: "redis",
        settings: &[],
        app_vars: &[("REDIS_URL", "redis://redis:6379/0")],
    },
    TestService {
        db: Database::Mongodb,
        image: "mongo",
        tag: "7",
        alias: "mongo",
        settings: &[],
        app_vars: &[("MONGODB_URL", "mongodb://mongo:27017/test")],
    },
    TestService {
        db: Database::Memcached,
        image: "memcached",
        tag: "1.6-alpine",
        alias: "memcached",
        settings: &[],
        app_vars: &[("MEMCACHED_URL", "memcached:11211")],
    },
    TestService {
        db: Database::Rabbitmq,
        image: "rabbitmq",
        tag: "3.13-alpine",
        alias: "rabbitmq",
        settings: &[],
        app_vars: &[("AMQP_URL", "amqp://guest@rabbitmq:5672/")],
    },
    TestService {
        db: Database::Elasticsearch,
        image: "elasticsearch",
        tag: "8.15.3",
        alias: "elasticsearch",
        settings: &[
            ("discovery.type", "single-node"),
            ("xpack.security.enabled", "false"),
        ],
        app_vars: &[("ELASTICSEARCH_URL", "http://elasticsearch:9200")],
    },
];

/// The job services and connection variables for the databases the service needs.
fn test_services(ctx: &ServiceContext<'_>) -> (Vec<Service>, Vec<(String, String)>) {
    let mut services = Vec::new();
    let mut vars = Vec::new();
    for db in &ctx.service.databases {
        let Some(t) = TEST_SERVICES.iter().find(|t| t.db == *db) else {
            continue;
        };
        services.push(Service {
            name: ctx.job_image(t.image, t.tag),
            alias: Some(t.alias.to_string()),
            command: Vec::new(),
            variables: t
                .settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
        vars.extend(
            t.app_vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        // The same URL under the names the application's own configuration reads.
        if let Some((_, url)) = t.app_vars.iter().find(|(_, v)| v.contains("://")) {
            for name in super::recipes::url_settings(ctx, *db) {
                if !vars.iter().any(|(k, _)| *k == name) {
                    vars.push((name, url.to_string()));
                }
            }
        }
    }
    (services, vars)
}

/// All ten jobs of one service.
pub fn service_jobs(
    ctx: &ServiceContext<'_>,
    recipe: &Recipe,
    monorepo: bool,
    test_in_image: bool,
) -> Vec<Job> {
    let slug = service_slug(if ctx.dir.is_empty() { "app" } else { ctx.dir });
    let n = |base: &str| name(base, &slug, monorepo);
    let s = ctx.settings;
    let app_image = match (&s.image_name, monorepo) {
        (Some(name), false) => sanitize(name),
        (Some(name), true) => format!("{}-{slug}", sanitize(name)),
        (None, _) => {
            let root = ctx.service_root_name();
            if monorepo {
                format!("{root}-{slug}")
            } else {
                root
            }
        }
    };
    let push_repo = s.image_repo(&s.internal_registry, &app_image);
    let pull_repo = s.image_repo(&s.pull_registry, &app_image);
    let candidate = format!("{push_repo}:$CI_COMMIT_SHORT_SHA");
    let test_tag = format!("{push_repo}:$CI_COMMIT_SHORT_SHA-test");
    let in_project = |rel: &str| {
        if rel.is_empty() {
            "$CI_PROJECT_DIR".to_string()
        } else {
            format!("$CI_PROJECT_DIR/{rel}")
        }
    };
    let context = in_project(recipe.context.as_deref().unwrap_or(ctx.dir));
    let dockerfile = format!("{}/Dockerfile", in_project(ctx.dir));
    let insecure_kaniko = if s.registry_insecure {
        " --insecure --insecure-pull --skip-tls-verify"
    } else {
        ""
    };
    let insecure_crane = if s.registry_insecure {
        " --insecure"
    } else {
        ""
    };
    let rules = if monorepo {
        vec![Rule {
            if_: None,
            changes: vec![format!("{}/**/*", ctx.dir), ".gitlab-ci.yml".to_string()],
            when: None,
        }]
    } else {
        Vec::new()
    };
    let mut jobs = Vec::new();

    // compile
    let mut compile = Job::new(n("compile"), Stage::Compile)
        .image(ctx.job_image(&recipe.build_image.0, &recipe.build_image.1))
        .comment([format!(
            "Installs dependencies and compiles with the detected tooling; the cache is keyed on {}.",
            recipe
                .cache
                .as_ref()
                .map(|c| if c.key_files.is_empty() { "the job".to_string() } else { c.key_files.join(" and ") })
                .unwrap_or_else(|| "nothing (no cache)".into())
        )]);
    compile.variables = recipe.compile_variables.clone();
    compile.cache = recipe.cache.clone();
    // Script lines share one shell, so a single `cd` moves every later line into the service.
    if !ctx.dir.is_empty() {
        compile.script.push(format!("cd {}", ctx.dir));
    }
    compile.script.extend(recipe.compile.iter().cloned());
    compile.needs = Some(Vec::new());
    if !recipe.compile_artifacts.is_empty() {
        compile.artifacts = Some(Artifacts {
            paths: recipe
                .compile_artifacts
                .iter()
                .map(|p| crate::index::join(ctx.dir, p))
                .collect(),
            expire_in: Some("1 day".into()),
            ..Default::default()
        });
    }
    jobs.push(compile);

    // build
    let auth = format!(
        "printf '{{\"auths\":{{\"%s\":{{\"auth\":\"%s\"}}}}}}' \"{}\" \"$(printf '%s:%s' \"$NEXUS_USERNAME\" \"$NEXUS_PASSWORD\" | base64 | tr -d '\\n')\" > /kaniko/.docker/config.json",
        registry_host(&s.internal_registry)
    );
    let kaniko = |target: &str, dest: &str, cleanup: bool| {
        format!(
            "/kaniko/executor --context \"{context}\" --dockerfile \"{dockerfile}\" --target {target} --destination \"{dest}\" --build-arg \"BASE_REGISTRY={}\" --cache=true --cache-repo \"{push_repo}/cache\" --skip-unused-stages{insecure_kaniko}{}",
            s.internal_registry,
            if cleanup { " --cleanup" } else { "" }
        )
    };
    let mut build_script = vec!["mkdir -p /kaniko/.docker".to_string(), auth];
    if test_in_image {
        build_script.push(kaniko("test", &test_tag, true));
    }
    build_script.push(kaniko("runtime", &candidate, false));
    let mut build = Job::new(n("build"), Stage::Build).comment([
        "Builds the Dockerfile with Kaniko (no Docker daemon): the `test` target for the test job,",
        "then the `runtime` target as the release candidate, both tagged with the commit.",
    ]);
    build.image = Some(tool_image(ctx, &s.tools.kaniko, true));
    build.needs = Some(vec![Need {
        job: n("compile"),
        artifacts: false,
    }]);
    build.script = build_script;
    jobs.push(build);

    // test
    let (services, db_vars) = test_services(ctx);
    let mut test = Job::new(n("test"), Stage::Test);
    let mut test_script = Vec::new();
    if test_in_image {
        test.comment = vec![
            "Runs the tests inside the test image `build` produced, where the application and its".into(),
            "test dependencies live in $APP_DIR; then the linter, whose verdict `quality` enforces.".into(),
        ];
        test.image = Some(Image {
            name: format!("{pull_repo}:$CI_COMMIT_SHORT_SHA-test"),
            entrypoint: Some(vec![String::new()]),
        });
        test.variables.push(("APP_DIR".into(), "/app".into()));
        test.needs = Some(vec![Need {
            job: n("build"),
            artifacts: false,
        }]);
        test_script.push("cd \"$APP_DIR\"".to_string());
    } else {
        test.comment = vec![
            "The repository's own Dockerfile has no `test` stage, so the tests run in the language".into(),
            "image after installing the dependencies; then the linter, whose verdict `quality` enforces.".into(),
        ];
        test.image = Some(Image {
            name: ctx.job_image(&recipe.build_image.0, &recipe.build_image.1),
            entrypoint: None,
        });
        test.needs = Some(vec![Need {
            job: n("compile"),
            artifacts: true,
        }]);
        test.cache = recipe.cache.clone().map(|mut c| {
            c.policy = Some("pull".into());
            c
        });
        test.variables
            .extend(recipe.compile_variables.iter().cloned());
        if !ctx.dir.is_empty() {
            test_script.push(format!("cd {}", ctx.dir));
        }
        test_script.extend(recipe.test_setup.iter().cloned());
    }
    test.variables.extend(db_vars);
    test.services = services;
    test_script.extend(recipe.test.iter().cloned());
    let mut test_paths = Vec::new();
    let mut reports = Vec::new();
    if let Some(j) = &recipe.junit {
        reports.push(("junit".to_string(), j.clone()));
    }
    if let Some(lint) = &recipe.lint {
        test_script.push(format!(
            "status=0; {} || status=$?; echo \"$status\" > \"$CI_PROJECT_DIR/lint-exit-code\"",
            lint.command
        ));
        test_paths.push(lint.report.clone());
        test_paths.push("lint-exit-code".to_string());
    }
    test.script = test_script;
    test.artifacts = Some(Artifacts {
        paths: test_paths,
        reports,
        expire_in: Some("1 week".into()),
        when: Some(When::Always),
    });
    jobs.push(test);

    // sast
    let mut sast = Job::new(n("sast"), Stage::Sast);
    sast.needs = Some(Vec::new());
    // An ecosystem's own SAST tool runs in the test image; without one (the repository's own
    // Dockerfile has no test stage) Semgrep stands in.
    match recipe.sast.as_ref().filter(|_| test_in_image) {
        Some(custom) => {
            sast.comment = custom.comment.clone();
            sast.image = Some(Image {
                name: format!("{pull_repo}:$CI_COMMIT_SHORT_SHA-test"),
                entrypoint: Some(vec![String::new()]),
            });
            sast.needs = Some(vec![Need {
                job: n("build"),
                artifacts: false,
            }]);
            sast.variables.push(("APP_DIR".into(), "/app".into()));
            sast.script = std::iter::once("cd \"$APP_DIR\"".to_string())
                .chain(custom.script.iter().cloned())
                .collect();
            sast.artifacts = Some(Artifacts {
                paths: vec![custom.report.clone()],
                reports: custom
                    .report_kind
                    .iter()
                    .map(|k| (k.clone(), custom.report.clone()))
                    .collect(),
                expire_in: Some("1 week".into()),
                when: Some(When::Always),
            });
        }
        None => {
            sast.comment = vec!["Semgrep over the source, reported in GitLab's SAST format; needs nothing, so it starts at once.".into()];
            sast.image = Some(tool_image(ctx, &s.tools.semgrep, false));
            sast.variables = vec![
                ("SEMGREP_RULES".into(), s.semgrep_rules.clone()),
                ("SEMGREP_SEND_METRICS".into(), "off".into()),
            ];
            let target = if ctx.dir.is_empty() {
                ".".to_string()
            } else {
                ctx.dir.to_string()
            };
            sast.script = vec![format!(
                "semgrep scan --config \"$SEMGREP_RULES\" --metrics off --gitlab-sast --output gl-sast-report.json {target}"
            )];
            sast.artifacts = Some(Artifacts {
                reports: vec![("sast".into(), "gl-sast-report.json".into())],
                expire_in: Some("1 week".into()),
                when: Some(When::Always),
                ..Default::default()
            });
        }
    }
    jobs.push(sast);

    // quality
    let mut quality = Job::new(n("quality"), Stage::Quality);
    let sonar_key = if monorepo {
        format!("$CI_PROJECT_PATH_SLUG-{slug}")
    } else {
        "$CI_PROJECT_PATH_SLUG".to_string()
    };
    let base_dir = if ctx.dir.is_empty() {
        ".".to_string()
    } else {
        ctx.dir.to_string()
    };
    let mut sonar = format!(
        "sonar-scanner -Dsonar.host.url=\"$SONAR_HOST_URL\" -Dsonar.token=\"$SONAR_TOKEN\" -Dsonar.projectKey=\"{sonar_key}\" -Dsonar.projectBaseDir={base_dir} -Dsonar.qualitygate.wait=true"
    );
    for (key, value) in &recipe.sonar_properties {
        sonar.push_str(&format!(" -D{key}={value}"));
    }
    let mut qscript = Vec::new();
    match &recipe.lint {
        Some(lint) => {
            if let Some(prop) = &lint.sonar_property {
                sonar.push_str(&format!(" -D{prop}=\"$CI_PROJECT_DIR/{}\"", lint.report));
            }
            qscript.push(sonar);
            if lint.enforced {
                qscript.push(format!(
                    "test \"$(cat lint-exit-code)\" = 0 || {{ echo \"{} found problems (see {}); the project configures it, so they fail the job\"; exit 1; }}",
                    lint.tool, lint.report
                ));
            } else {
                qscript.push(format!(
                    "test \"$(cat lint-exit-code)\" = 0 || echo \"{} found problems (see {}); reported to SonarQube, not enforced: the project does not configure it\"",
                    lint.tool, lint.report
                ));
            }
            quality.comment = vec![format!(
                "SonarQube analysis with the quality gate, fed with {}'s report from the test job; {}.",
                lint.tool, lint.why
            )];
        }
        None => {
            qscript.push(sonar);
            quality.comment = vec!["SonarQube analysis with the quality gate.".into()];
        }
    }
    quality.image = Some(tool_image(ctx, &s.tools.sonar_scanner, true));
    quality.variables = vec![
        ("SONAR_USER_HOME".into(), "$CI_PROJECT_DIR/.sonar".into()),
        ("GIT_DEPTH".into(), "0".into()),
    ];
    quality.cache = Some(Cache {
        key_files: Vec::new(),
        key_prefix: Some(format!("sonar-{slug}")),
        paths: vec![".sonar/cache".into()],
        policy: None,
    });
    quality.needs = Some(vec![Need {
        job: n("test"),
        artifacts: true,
    }]);
    quality.script = qscript;
    jobs.push(quality);

    // security
    let mut security = Job::new(n("security"), Stage::Security).comment([
        "Trivy scans the candidate image against a Trivy server started as a job service;",
        "critical vulnerabilities with a fix available fail the job.",
    ]);
    security.image = Some(tool_image(ctx, &s.tools.trivy, true));
    security.services = vec![Service {
        name: ctx.job_image(&s.tools.trivy.0, &s.tools.trivy.1),
        alias: Some("trivy-server".into()),
        command: vec!["server".into(), "--listen".into(), "0.0.0.0:4954".into()],
        variables: vec![(
            "TRIVY_DB_REPOSITORY".into(),
            s.image_ref(
                &s.internal_registry,
                &s.tools.trivy_db.0,
                &s.tools.trivy_db.1,
            ),
        )],
    }];
    security.variables = vec![
        ("TRIVY_USERNAME".into(), "$NEXUS_USERNAME".into()),
        ("TRIVY_PASSWORD".into(), "$NEXUS_PASSWORD".into()),
        ("TRIVY_NO_PROGRESS".into(), "true".into()),
    ];
    if s.registry_insecure {
        security
            .variables
            .push(("TRIVY_INSECURE".into(), "true".into()));
    }
    security.needs = Some(vec![Need {
        job: n("build"),
        artifacts: false,
    }]);
    security.script = vec![format!(
        "trivy image --server http://trivy-server:4954 --exit-code 1 --severity CRITICAL --ignore-unfixed --format template --template \"@/contrib/gitlab.tpl\" --output gl-container-scanning-report.json \"{candidate}\""
    )];
    security.artifacts = Some(Artifacts {
        reports: vec![(
            "container_scanning".into(),
            "gl-container-scanning-report.json".into(),
        )],
        expire_in: Some("1 week".into()),
        when: Some(When::Always),
        ..Default::default()
    });
    jobs.push(security);

    // push
    let mut push = Job::new(n("push"), Stage::Push).comment([
        "Promotes the tested and scanned candidate to its release tags in Nexus with crane",
        "(a registry-to-registry copy: no Docker daemon, no rebuild); `latest` on the default branch only.",
    ]);
    push.image = Some(tool_image(ctx, &s.tools.crane, true));
    push.needs = Some(
        [n("test"), n("sast"), n("quality"), n("security")]
            .into_iter()
            .map(|j| Need {
                job: j,
                artifacts: false,
            })
            .collect(),
    );
    push.script = vec![
        format!(
            "printf '%s' \"$NEXUS_PASSWORD\" | crane auth login \"{}\" -u \"$NEXUS_USERNAME\" --password-stdin{insecure_crane}",
            registry_host(&s.internal_registry)
        ),
        format!("crane copy{insecure_crane} \"{candidate}\" \"{push_repo}:${{CI_COMMIT_TAG:-$CI_COMMIT_REF_SLUG}}\""),
        format!(
            "if [ \"$CI_COMMIT_BRANCH\" = \"$CI_DEFAULT_BRANCH\" ]; then crane copy{insecure_crane} \"{candidate}\" \"{push_repo}:latest\"; fi"
        ),
    ];
    jobs.push(push);

    // notify
    let event = |status: &str| {
        format!(
            "curl -fsS --max-time 10 -H \"Authorization: Splunk $SPLUNK_HEC_TOKEN\" -d \"{{\\\"sourcetype\\\":\\\"gitlab:pipeline\\\",\\\"event\\\":{{\\\"project\\\":\\\"$CI_PROJECT_PATH\\\",\\\"service\\\":\\\"{slug}\\\",\\\"pipeline\\\":\\\"$CI_PIPELINE_ID\\\",\\\"ref\\\":\\\"$CI_COMMIT_REF_NAME\\\",\\\"sha\\\":\\\"$CI_COMMIT_SHA\\\",\\\"status\\\":\\\"{status}\\\"}}}}\" \"$SPLUNK_HEC_URL/services/collector/event\""
        )
    };
    let mut ok = Job::new(n("notify-success"), Stage::Notify)
        .comment(["Sends a success event to Splunk HEC; may fail without failing the pipeline."]);
    ok.image = Some(tool_image(ctx, &s.tools.curl, true));
    ok.needs = Some(vec![Need {
        job: n("push"),
        artifacts: false,
    }]);
    ok.script = vec![event("success")];
    ok.allow_failure = true;
    ok.when = Some(When::OnSuccess);
    jobs.push(ok);
    let mut failed = Job::new(n("notify-failure"), Stage::Notify)
        .comment(["Sends a failure event to Splunk HEC when any earlier job failed."]);
    failed.image = Some(tool_image(ctx, &s.tools.curl, true));
    failed.script = vec![event("failed")];
    failed.allow_failure = true;
    failed.when = Some(When::OnFailure);
    jobs.push(failed);

    // learn
    let mut learn = Job::new(n("learn"), Stage::Learn).comment([
        "Reports the pipeline to pipewright, which stores it for reuse once every job passed.",
    ]);
    learn.image = Some(tool_image(ctx, &s.tools.curl, true));
    learn.needs = Some(vec![
        Need {
            job: n("push"),
            artifacts: false,
        },
        Need {
            job: n("notify-success"),
            artifacts: false,
        },
    ]);
    learn.script = vec![format!(
        "curl -fsS --max-time 20 -X POST -H \"Authorization: Bearer $PIPEWRIGHT_TOKEN\" -H \"Content-Type: application/json\" -d \"{{\\\"project_id\\\":\\\"$CI_PROJECT_ID\\\",\\\"pipeline_id\\\":\\\"$CI_PIPELINE_ID\\\",\\\"sha\\\":\\\"$CI_COMMIT_SHA\\\",\\\"ref\\\":\\\"$CI_COMMIT_REF_NAME\\\",\\\"service\\\":\\\"{slug}\\\"}}\" \"$PIPEWRIGHT_URL/api/v1/pipeline/learn\""
    )];
    learn.allow_failure = true;
    learn.when = Some(When::OnSuccess);
    jobs.push(learn);

    // Monorepo services run only when their folder changed; a rule carries the job's `when`
    // because GitLab does not allow `when` beside `rules`.
    if !rules.is_empty() {
        for job in &mut jobs {
            job.rules = rules
                .iter()
                .cloned()
                .map(|mut r| {
                    r.when = job.when.filter(|w| *w != When::OnSuccess);
                    r
                })
                .collect();
            job.when = None;
        }
    }
    jobs
}

/// The host part of a registry reference (`$NEXUS_INTERNAL_REGISTRY` stays a variable).
fn registry_host(registry: &str) -> String {
    registry.split('/').next().unwrap_or(registry).to_string()
}
