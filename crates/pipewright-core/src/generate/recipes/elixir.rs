//! Elixir: Mix in the official `elixir:<v>-slim` image fetches and compiles the production
//! dependencies from `mix.exs`/`mix.lock` first, then `mix release` builds a self-contained
//! release (with ERTS) that runs on `debian:bookworm-slim` as `/app/bin/<app> start`. Tests run
//! with `mix test` in a test stage compiled for `MIX_ENV=test`; the linter is Credo when the
//! project depends on it, else `mix format --check-formatted`.

use super::ruby::{apt_install_line, apt_run, has_dir, APT_HEADER};
use super::{
    add_app_user, dockerfile_base, dockerignore, finish_runtime, lock_cache, Lint, Recipe,
};
use crate::detect::elixir::parse_deps;
use crate::dockerfile::{Instruction, Stage};
use crate::generate::ServiceContext;
use crate::stack::{Framework, Role};

/// Build tools for NIFs (exqlite, bcrypt …) and git dependencies.
const BUILD_PACKAGES: &[&str] = &["build-essential", "git"];
/// What a release's ERTS needs on a bare Debian: the C++ runtime, OpenSSL (crypto), ncurses.
const RUNTIME_PACKAGES: &[&str] = &["libstdc++6", "openssl", "libncurses6", "ca-certificates"];
/// The runtime's Debian release; the build image must be on the same one (same glibc/OpenSSL).
const RUNTIME_DEBIAN: &str = "bookworm";

/// The OTP application name (`app: :shop`) of a mix.exs.
pub fn app_name(mix: &str) -> Option<String> {
    let i = mix.find("app:")?;
    let rest = mix[i + 4..].trim_start().strip_prefix(':')?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The first release named in `releases: [name: …]`, if the project configures releases.
pub fn release_name(mix: &str) -> Option<String> {
    let i = mix.find("releases:")?;
    let rest = mix[i + 9..].trim_start();
    let rest = rest.strip_prefix('[')?.trim_start();
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && rest[name.len()..].starts_with(':')).then_some(name)
}

/// True when the mix.exs belongs to an umbrella app (paths into the umbrella root).
pub fn is_umbrella_app(mix: &str) -> bool {
    mix.contains("in_umbrella: true")
        || ["build_path:", "deps_path:", "lockfile:", "config_path:"]
            .iter()
            .any(|k| {
                mix.find(k)
                    .is_some_and(|i| mix[i..].lines().next().unwrap_or("").contains("\"../"))
            })
}

/// Credo when the project depends on it, else `mix format`.
fn lint(ctx: &ServiceContext<'_>, deps: &[String]) -> Lint {
    if deps.iter().any(|d| d == "credo") {
        return Lint {
            tool: "credo".into(),
            command: "mix credo --strict --format json > \"$CI_PROJECT_DIR/lint-report.json\""
                .into(),
            report: "lint-report.json".into(),
            // SonarQube has no Elixir analyzer to import into; the report stays an artifact.
            sonar_property: None,
            enforced: true,
            why: "credo is a dependency of the project, so it is enforced".into(),
        };
    }
    let detected = ctx
        .service
        .commands
        .lint
        .clone()
        .filter(|l| l.starts_with("mix format"))
        .unwrap_or_else(|| "mix format --check-formatted".into());
    let configured = ctx.has(".formatter.exs");
    Lint {
        tool: "mix format".into(),
        command: format!("{detected} > \"$CI_PROJECT_DIR/lint-report.txt\" 2>&1"),
        report: "lint-report.txt".into(),
        sonar_property: None,
        enforced: configured,
        why: if configured {
            "the project configures the formatter (.formatter.exs), so unformatted code fails"
                .into()
        } else {
            "no .formatter.exs and no credo, so formatting findings are advisory".into()
        },
    }
}

pub fn recipe(ctx: &ServiceContext<'_>) -> Recipe {
    let version = ctx.runtime.version.clone();
    let tag = format!("{version}-slim");
    let svc = ctx.service;
    let mix = ctx.text("mix.exs").unwrap_or("");
    let deps = parse_deps(mix);
    let phoenix = svc.framework == Some(Framework::Phoenix);
    let library = svc.role == Role::Library;
    let umbrella_app = is_umbrella_app(mix);
    let mut notes = vec![format!(
        "elixir image elixir:{tag} to build; the release (with ERTS) runs on debian:{RUNTIME_DEBIAN}-slim"
    )];
    let mut warnings = Vec::new();
    let app = app_name(mix).unwrap_or_else(|| {
        warnings.push(
            "mix.exs names no `app:`; the release name is a guess: check the runtime CMD".into(),
        );
        let last = ctx.dir.rsplit('/').next().unwrap_or("");
        let name: String = last
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        if name.is_empty() {
            "app".into()
        } else {
            name
        }
    });
    let release = release_name(mix).unwrap_or_else(|| app.clone());
    if umbrella_app {
        warnings.push(format!(
            "{} is an umbrella app: its mix.exs reads the umbrella's mix.lock, config and sibling apps through ../../, which are outside this service's Docker build context, so the image build fails as generated. Build one release from the umbrella root instead (a `releases:` entry in the root mix.exs, the Dockerfile at the root)",
            if ctx.dir.is_empty() { "." } else { ctx.dir }
        ));
    }
    if !ctx.has("mix.lock") && !umbrella_app {
        warnings.push("no mix.lock is committed: dependencies are resolved at every build, so builds are not reproducible; commit the lock".into());
    }
    if phoenix {
        let test_cfg = ctx.text("config/test.exs").unwrap_or("");
        if test_cfg.contains("hostname: \"localhost\"") && !test_cfg.contains("System.get_env") {
            warnings.push("config/test.exs connects to the database on localhost; in the test job it is the `postgres`/`mysql` service: read the host (or DATABASE_URL) from the environment there".into());
        }
        warnings.push("Phoenix: the release needs SECRET_KEY_BASE, DATABASE_URL and PHX_HOST from the deployment's environment (config/runtime.exs reads them)".into());
    }
    // config.exs usually ends with `import_config "#{config_env()}.exs"`: each environment the
    // images compile in (prod, test) then needs its own file.
    let config = ctx.text("config/config.exs").unwrap_or("");
    if config.contains("import_config \"#{config_env()}.exs\"")
        || config.contains("import_config \"#{Mix.env()}.exs\"")
    {
        for env in ["prod", "test"] {
            if !ctx.has(&format!("config/{env}.exs")) {
                warnings.push(format!(
                    "config/config.exs imports the environment's file, but config/{env}.exs is missing: compiling with MIX_ENV={env} fails until it exists"
                ));
            }
        }
    }
    let assets = phoenix && has_dir(ctx, "assets") && mix.contains("\"assets.deploy\"");

    // Dockerfile.
    let mut d = dockerfile_base(ctx);
    d.header.push(APT_HEADER.into());
    let base = ctx.base_image("elixir", &tag);
    let mut deps_stage = Stage::new(&base, "deps");
    deps_stage.comment = vec![
        "Dependencies only, from mix.exs, mix.lock and the config they compile against:".into(),
        "this layer is rebuilt only when those change.".into(),
    ];
    deps_stage.push(Instruction::Env(vec![
        ("MIX_ENV".into(), "prod".into()),
        ("LANG".into(), "C.UTF-8".into()),
    ]));
    deps_stage.push(Instruction::Workdir("/app".into()));
    deps_stage.comment(format!(
        "The release carries this image's ERTS to a debian:{RUNTIME_DEBIAN}-slim runtime: stop early if the Debian differs."
    ));
    deps_stage.run([format!(
        "grep -q '^VERSION_CODENAME={RUNTIME_DEBIAN}$' /etc/os-release || {{ echo 'the elixir image is not Debian {RUNTIME_DEBIAN}: change the runtime stage to match it' >&2; exit 1; }}"
    )]);
    apt_run(
        &mut deps_stage,
        "A C toolchain for dependencies with NIFs, and git for git dependencies.",
        BUILD_PACKAGES,
    );
    let manifests: Vec<&str> = ["mix.exs", "mix.lock"]
        .into_iter()
        .filter(|f| ctx.has(f))
        .collect();
    deps_stage.copy(manifests, "./");
    if has_dir(ctx, "config") {
        // Dependencies can read the application config at compile time (the whole folder:
        // config.exs usually imports the environment's file).
        deps_stage.copy(["config"], "config/");
    }
    deps_stage.run([
        "mix local.hex --force",
        "mix local.rebar --force",
        "mix deps.get --only prod",
        "mix deps.compile",
    ]);

    let mut build = Stage::new("deps", "build");
    build.copy(["."], ".");
    let mut build_cmds = Vec::new();
    if assets {
        build_cmds.push("mix assets.deploy".into());
        notes.push(
            "Phoenix assets: `mix assets.deploy` in the build stage (the project defines it)"
                .into(),
        );
    }
    build_cmds.push("mix compile".into());
    build_cmds.push(format!("mix release {release}"));
    build.comment("The release bundles ERTS, so the runtime needs no Erlang or Elixir.");
    build.run(build_cmds);

    let mut test = Stage::new("build", "test");
    test.comment = vec![
        "Test dependencies compiled for MIX_ENV=test; CI runs the tests and the linter here."
            .into(),
    ];
    test.push(Instruction::Env(vec![("MIX_ENV".into(), "test".into())]));
    test.run(["mix deps.get", "mix deps.compile", "mix compile"]);

    let mut runtime = Stage::new(
        ctx.base_image("debian", &format!("{RUNTIME_DEBIAN}-slim")),
        "runtime",
    );
    runtime.comment = vec!["Only the release: no Elixir, no Mix, no compiler.".into()];
    let mut env = vec![("LANG".to_string(), "C.UTF-8".to_string())];
    if phoenix {
        // The endpoint serves only when told to (what `mix phx.gen.release`'s bin/server does).
        env.push(("PHX_SERVER".into(), "true".into()));
    }
    runtime.push(Instruction::Env(env));
    runtime.push(Instruction::Workdir("/app".into()));
    apt_run(
        &mut runtime,
        "What the bundled ERTS links against.",
        RUNTIME_PACKAGES,
    );
    add_app_user(&mut runtime);
    runtime.push(Instruction::Copy {
        from: Some("build".into()),
        chown: Some("app:app".into()),
        src: vec![format!("/app/_build/prod/rel/{release}")],
        dest: "/app".into(),
    });
    let start = (!library).then(|| format!("/app/bin/{release} start"));
    let fallback = format!("/app/bin/{release}");
    warnings.extend(finish_runtime(
        ctx,
        &mut runtime,
        "app",
        start.as_deref(),
        &[fallback.as_str(), "version"],
    ));
    d.stages = vec![deps_stage, build, test, runtime];
    if let Some(dev) = svc.commands.start.as_deref().filter(|_| !library) {
        notes.push(format!(
            "start: `/app/bin/{release} start` (the release of :{app}) instead of the development command `{dev}`"
        ));
    }
    if library {
        notes.push("a library: the image holds its release (the compiled beams with ERTS) and prints its version; publish the package to Hex separately".into());
    }

    // CI: all dependencies, compiled for the test environment, cached with Mix and Hex homes.
    let at = |p: &str| format!("$CI_PROJECT_DIR/{}", crate::index::join(ctx.dir, p));
    let compile_variables = vec![
        ("MIX_ENV".to_string(), "test".to_string()),
        ("MIX_HOME".to_string(), at(".mix")),
        ("HEX_HOME".to_string(), at(".hex")),
    ];
    let setup = vec![
        apt_install_line(BUILD_PACKAGES),
        "mix local.hex --force".to_string(),
        "mix local.rebar --force".to_string(),
        "mix deps.get".to_string(),
    ];
    let mut compile = setup.clone();
    compile.push("mix compile".into());
    let mut test_setup = setup;
    test_setup.push("mix deps.compile".into());
    test_setup.push("export APP_DIR=\"$PWD\"".into());

    let junit_dep = deps.iter().any(|d| d == "junit_formatter");
    let (tests, junit) = if junit_dep {
        notes.push("tests: mix test with JUnitFormatter (junit_formatter is a dependency)".into());
        (
            vec![format!(
                "status=0; mix test --formatter JUnitFormatter --formatter ExUnit.CLIFormatter || status=$?; cp _build/test/lib/{app}/test-junit-report.xml \"$CI_PROJECT_DIR/junit.xml\" 2>/dev/null || true; test \"$status\" -eq 0"
            )],
            Some("junit.xml".to_string()),
        )
    } else {
        notes.push("tests: mix test; no JUnit report (junit_formatter is not a dependency)".into());
        (vec!["mix test".to_string()], None)
    };
    let lint = lint(ctx, &deps);
    notes.push(format!("linter: {} ({})", lint.tool, lint.why));

    Recipe {
        build_image: ("elixir".into(), tag),
        compile,
        compile_variables,
        test_variables: Vec::new(),
        cache: Some(lock_cache(
            ctx,
            &["mix.lock", "mix.exs"],
            &["deps", "_build", ".mix", ".hex"],
            "elixir",
        )),
        compile_artifacts: Vec::new(),
        test_setup,
        test: tests,
        junit,
        lint: Some(lint),
        sast: None,
        dockerfile: d,
        dockerignore: dockerignore(&[
            "_build",
            "deps",
            ".elixir_ls",
            ".mix",
            ".hex",
            "cover",
            "erl_crash.dump",
            "*.ez",
            "node_modules",
        ]),
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
    fn app_and_release_names_come_from_mix_exs() {
        let mix = "def project do\n  [\n    app: :shop,\n    version: \"0.1.0\",\n    releases: [\n      shop_web: [include_executables_for: [:unix]]\n    ]\n  ]\nend\n";
        assert_eq!(app_name(mix).as_deref(), Some("shop"));
        assert_eq!(release_name(mix).as_deref(), Some("shop_web"));
        assert_eq!(release_name("app: :x").as_deref(), None);
        assert_eq!(app_name("defmodule X do end"), None);
    }

    #[test]
    fn umbrella_apps_are_recognised() {
        assert!(is_umbrella_app(
            "app: :ledger,\n build_path: \"../../_build\",\n"
        ));
        assert!(is_umbrella_app("{:ledger, in_umbrella: true}"));
        assert!(!is_umbrella_app("app: :shop,\n deps: deps()\n"));
    }

    #[test]
    fn junit_formatter_and_credo_are_used_when_they_are_dependencies() {
        let mix = "defmodule Api.MixProject do\n  def project, do: [app: :api, deps: deps()]\n  def application, do: [mod: {Api.Application, []}]\n  defp deps do\n    [\n      {:bandit, \"~> 1.4\"},\n      {:credo, \"~> 1.7\", only: [:dev, :test]},\n      {:junit_formatter, \"~> 3.4\", only: :test}\n    ]\n  end\nend\n";
        let r = crate::generate::recipes::ruby::recipe_of(&[
            ("mix.exs", mix),
            ("mix.lock", "%{}\n"),
            ("test/test_helper.exs", "ExUnit.start()\n"),
        ]);
        assert_eq!(r.junit.as_deref(), Some("junit.xml"));
        assert!(r.test[0].contains("_build/test/lib/api/test-junit-report.xml"));
        assert_eq!(r.lint.as_ref().map(|l| l.tool.as_str()), Some("credo"));
        let text = r.dockerfile.render();
        assert!(text.contains("CMD [\"/app/bin/api\", \"start\"]"), "{text}");
        assert!(text.contains("/app/_build/prod/rel/api /app"), "{text}");
    }
}
