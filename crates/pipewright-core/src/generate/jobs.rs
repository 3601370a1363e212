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

use super::tools::Tool;
use super::{BuildPlan, Recipe, ServiceContext};
use crate::pipeline::{Artifacts, Cache, Image, Job, Need, Rule, Service, Stage, Variables, When};

/// The job name for a stage step, suffixed with the service in a monorepo.
fn name(base: &str, service: &str, monorepo: bool) -> String {
    if monorepo {
        format!("{base}:{service}")
    } else {
        base.to_string()
    }
}

fn tool_image(ctx: &ServiceContext<'_>, tool: Tool, entrypoint: bool) -> Image {
    let t = ctx.settings.tools.get(tool);
    Image {
        name: ctx.job_image(&t.image, &t.tag),
        entrypoint: entrypoint.then(|| vec![String::new()]),
    }
}

pub use super::names::sanitize;

/// The `rules: changes` paths of a monorepo service: its folder (the whole repository for
/// a service at the root: GitLab matches repository-relative paths, so `**/*` is every file),
/// the lock files it is built from when they live outside it, the files directly in a build
/// context above its folder (a workspace member's shared manifests and lock: the root
/// `Cargo.toml`/`Cargo.lock`, `package.json`/`pnpm-lock.yaml`, `pom.xml`; `*` stays in one
/// folder), and the pipeline itself.
pub fn change_paths(dir: &str, recipe: &Recipe) -> Vec<String> {
    let mut paths = vec![if dir.is_empty() {
        "**/*".to_string()
    } else {
        format!("{dir}/**/*")
    }];
    if !dir.is_empty() {
        let inside = format!("{dir}/");
        for key in recipe.cache.iter().flat_map(|c| c.key_files.iter()) {
            if !key.starts_with(&inside) && !paths.contains(key) {
                paths.push(key.clone());
            }
        }
        if let Some(context) = recipe
            .context
            .as_deref()
            .filter(|c| c.is_empty() || inside.starts_with(&format!("{c}/")))
        {
            let shared = if context.is_empty() {
                "*".to_string()
            } else {
                format!("{context}/*")
            };
            if !paths.contains(&shared) {
                paths.push(shared);
            }
        }
    }
    paths.push(".gitlab-ci.yml".to_string());
    paths
}

/// The jobs of one service (ten for an application, seven for a library, which ships no
/// image), and the explanation lines the choices need.
pub fn service_jobs(
    ctx: &ServiceContext<'_>,
    recipe: &Recipe,
    monorepo: bool,
    plan: &BuildPlan,
    slug: &str,
) -> (Vec<Job>, Vec<String>) {
    let mut notes = Vec::new();
    let test_in_image = plan.test_target().is_some();
    let builds_image = matches!(plan, BuildPlan::Image { .. });
    let app_dir = match plan {
        BuildPlan::Image { app_dir, .. } => app_dir.clone(),
        BuildPlan::NoImage => "/app".to_string(),
    };
    let n = |base: &str| name(base, slug, monorepo);
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
            changes: change_paths(ctx.dir, recipe),
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
    compile.variables = recipe.compile_variables.iter().cloned().collect();
    compile.cache = recipe.cache.clone();
    // Script lines share one shell, so a single `cd` moves every later line into the service.
    if !ctx.dir.is_empty() {
        compile.script.push(format!("cd {}", ctx.dir));
    }
    let mirror_setups: Vec<String> = s
        .mirrors
        .setups_for(ctx.service)
        .into_iter()
        .map(|(_, cmd)| cmd.to_string())
        .collect();
    compile.script.extend(mirror_setups.iter().cloned());
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
    if let BuildPlan::Image { test, runtime, .. } = plan {
        let auth = format!(
            "printf '{{\"auths\":{{\"%s\":{{\"auth\":\"%s\"}}}}}}' \"{}\" \"$(printf '%s:%s' \"$NEXUS_USERNAME\" \"$NEXUS_PASSWORD\" | base64 | tr -d '\\n')\" > /kaniko/.docker/config.json",
            registry_host(&s.internal_registry)
        );
        let mirror_args: String = s
            .mirrors
            .variables_for(ctx.service)
            .iter()
            .map(|(k, _)| format!(" --build-arg \"{k}=${k}\""))
            .collect();
        let kaniko = |target: Option<&str>, dest: &str, cleanup: bool| {
            let target = target.map(|t| format!(" --target {t}")).unwrap_or_default();
            format!(
                "/kaniko/executor --context \"{context}\" --dockerfile \"{dockerfile}\"{target} --destination \"{dest}\" --build-arg \"BASE_REGISTRY={}\"{mirror_args} --cache=true --cache-repo \"{push_repo}/cache\" --skip-unused-stages{insecure_kaniko}{}",
                s.internal_registry,
                if cleanup { " --cleanup" } else { "" }
            )
        };
        let mut build_script = vec!["mkdir -p /kaniko/.docker".to_string(), auth];
        if let Some(t) = test {
            build_script.push(kaniko(Some(t), &test_tag, true));
        }
        build_script.push(kaniko(runtime.as_deref(), &candidate, false));
        let what_test = test
            .as_deref()
            .map(|t| format!("the `{t}` target for the test job,"))
            .unwrap_or_else(|| "(the Dockerfile has no test stage)".into());
        let what_runtime = runtime
            .as_deref()
            .map(|r| {
                format!("then the `{r}` target as the release candidate, tagged with the commit.")
            })
            .unwrap_or_else(|| {
                "then its last stage as the release candidate, tagged with the commit.".into()
            });
        let mut build = Job::new(n("build"), Stage::Build).comment([
            format!("Builds the Dockerfile with Kaniko (no Docker daemon): {what_test}"),
            what_runtime,
        ]);
        build.image = Some(tool_image(ctx, Tool::Kaniko, true));
        build.needs = Some(vec![Need {
            job: n("compile"),
            artifacts: false,
        }]);
        build.script = build_script;
        jobs.push(build);
    }

    // test
    let (services, db_vars, db_note) = super::test_services::test_services(ctx);
    notes.extend(db_note);
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
        test.variables.set("APP_DIR", app_dir.as_str());
        test.needs = Some(vec![Need {
            job: n("build"),
            artifacts: false,
        }]);
        test_script.push("cd \"$APP_DIR\"".to_string());
    } else {
        test.comment = if builds_image {
            vec![
                "The repository's own Dockerfile has no test stage, so the tests run in the language".into(),
                "image after installing the dependencies; then the linter, whose verdict `quality` enforces.".into(),
            ]
        } else {
            vec![
                "A library ships no image: the tests run in the language image after installing the".into(),
                "dependencies; then the linter, whose verdict `quality` enforces.".into(),
            ]
        };
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
        test_script.extend(mirror_setups.iter().cloned());
        test_script.extend(recipe.test_setup.iter().cloned());
    }
    test.variables.extend(db_vars.iter());
    // What the application itself reads (found by its recipe) wins over the conventions.
    test.variables.extend(recipe.test_variables.iter().cloned());
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
        test_script.push(relative_report_paths(&lint.report));
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
            sast.variables.set("APP_DIR", app_dir.as_str());
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
            sast.image = Some(tool_image(ctx, Tool::Semgrep, false));
            sast.variables = Variables::from(vec![
                ("SEMGREP_RULES", s.semgrep_rules.as_str()),
                ("SEMGREP_SEND_METRICS", "off"),
            ]);
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
    quality.image = Some(tool_image(ctx, Tool::SonarScanner, true));
    quality.variables = Variables::from(vec![
        ("SONAR_USER_HOME", "$CI_PROJECT_DIR/.sonar"),
        ("GIT_DEPTH", "0"),
    ]);
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
    security.image = Some(tool_image(ctx, Tool::Trivy, true));
    let trivy = s.tools.get(Tool::Trivy);
    let trivy_db = s.tools.get(Tool::TrivyDb);
    let mut server_vars = Variables::new();
    server_vars.set(
        "TRIVY_DB_REPOSITORY",
        s.image_ref(&s.internal_registry, &trivy_db.image, &trivy_db.tag),
    );
    security.services = vec![Service {
        name: ctx.job_image(&trivy.image, &trivy.tag),
        alias: Some("trivy-server".into()),
        command: vec!["server".into(), "--listen".into(), "0.0.0.0:4954".into()],
        variables: server_vars,
    }];
    security.variables = Variables::from(vec![
        ("TRIVY_USERNAME", "$NEXUS_USERNAME"),
        ("TRIVY_PASSWORD", "$NEXUS_PASSWORD"),
        ("TRIVY_NO_PROGRESS", "true"),
    ]);
    // Only an explicit `[registry] insecure = true` turns TLS verification off.
    if s.registry_insecure {
        security.variables.set("TRIVY_INSECURE", "true");
    }
    security.needs = Some(vec![Need {
        job: n("build"),
        artifacts: false,
    }]);
    security.script = vec![
        // The server downloads its database before it listens; a scan sent earlier fails.
        "i=0; until wget -q -O /dev/null http://trivy-server:4954/healthz; do i=$((i+1)); if [ \"$i\" -ge 90 ]; then echo \"the Trivy server did not become ready within 3 minutes\"; exit 1; fi; sleep 2; done".to_string(),
        format!(
        "trivy image --server http://trivy-server:4954 --exit-code 1 --severity CRITICAL --ignore-unfixed --format template --template \"@/contrib/gitlab.tpl\" --output gl-container-scanning-report.json \"{candidate}\""
        ),
    ];
    security.artifacts = Some(Artifacts {
        reports: vec![(
            "container_scanning".into(),
            "gl-container-scanning-report.json".into(),
        )],
        expire_in: Some("1 week".into()),
        when: Some(When::Always),
        ..Default::default()
    });
    if builds_image {
        jobs.push(security);
    }

    // push
    let mut push = Job::new(n("push"), Stage::Push).comment([
        "Promotes the tested and scanned candidate to its release tags in Nexus with crane",
        "(a registry-to-registry copy: no Docker daemon, no rebuild); `latest` on the default branch only.",
    ]);
    push.image = Some(tool_image(ctx, Tool::Crane, true));
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
    if builds_image {
        jobs.push(push);
    }

    // notify: after the release (push), or after the checks when nothing ships.
    let finished: Vec<String> = if builds_image {
        vec![n("push")]
    } else {
        vec![n("test"), n("sast"), n("quality")]
    };
    let event = |status: &str| {
        format!(
            "curl -fsS --max-time 10 -H \"Authorization: Splunk $SPLUNK_HEC_TOKEN\" -d \"{{\\\"sourcetype\\\":\\\"gitlab:pipeline\\\",\\\"event\\\":{{\\\"project\\\":\\\"$CI_PROJECT_PATH\\\",\\\"service\\\":\\\"{slug}\\\",\\\"pipeline\\\":\\\"$CI_PIPELINE_ID\\\",\\\"ref\\\":\\\"$CI_COMMIT_REF_NAME\\\",\\\"sha\\\":\\\"$CI_COMMIT_SHA\\\",\\\"status\\\":\\\"{status}\\\"}}}}\" \"$SPLUNK_HEC_URL/services/collector/event\""
        )
    };
    let mut ok = Job::new(n("notify-success"), Stage::Notify)
        .comment(["Sends a success event to Splunk HEC; may fail without failing the pipeline."]);
    ok.image = Some(tool_image(ctx, Tool::Curl, true));
    ok.needs = Some(
        finished
            .iter()
            .map(|j| Need {
                job: j.clone(),
                artifacts: false,
            })
            .collect(),
    );
    ok.script = vec![event("success")];
    ok.allow_failure = true;
    ok.when = Some(When::OnSuccess);
    jobs.push(ok);
    let mut failed = Job::new(n("notify-failure"), Stage::Notify)
        .comment(["Sends a failure event to Splunk HEC when any earlier job failed."]);
    failed.image = Some(tool_image(ctx, Tool::Curl, true));
    failed.script = vec![event("failed")];
    failed.allow_failure = true;
    failed.when = Some(When::OnFailure);
    jobs.push(failed);

    // learn
    let mut learn = Job::new(n("learn"), Stage::Learn).comment([
        "Reports the pipeline to pipewright, which stores it for reuse once every job passed.",
    ]);
    learn.image = Some(tool_image(ctx, Tool::Curl, true));
    learn.needs = Some(
        finished
            .iter()
            .cloned()
            .chain([n("notify-success")])
            .map(|job| Need {
                job,
                artifacts: false,
            })
            .collect(),
    );
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
    (jobs, notes)
}

/// The shell line that makes a linter report's file paths relative to the folder the linter
/// ran in (the service folder, which is SonarQube's `projectBaseDir`): linters write the
/// absolute paths of the image (`/app/main.go`), which SonarQube, scanning the checkout in
/// `$CI_PROJECT_DIR`, would not find and drop.
pub fn relative_report_paths(report: &str) -> String {
    format!(
        "if [ -f \"$CI_PROJECT_DIR/{report}\" ] && [ \"$PWD\" != / ]; then sed -i \"s#$PWD/##g\" \"$CI_PROJECT_DIR/{report}\"; fi"
    )
}

/// The host part of a registry reference (`$NEXUS_INTERNAL_REGISTRY` stays a variable).
fn registry_host(registry: &str) -> String {
    registry.split('/').next().unwrap_or(registry).to_string()
}
