//! JavaScript / TypeScript detection: one explicit assertion block per fixture under
//! `fixtures/repos/js-*` and `ts-*`, plus small in-memory trees for the variants.

mod common;

use common::{analyze_fixture, analyze_tree, assert_stack, service};
use pipewright_core::stack::{Role, ServiceProfile, StackProfile};

fn dbs(s: &ServiceProfile) -> Vec<&str> {
    s.databases.iter().map(|d| d.as_str()).collect()
}

fn cmd(v: &Option<String>) -> Option<&str> {
    v.as_deref()
}

/// The detail of the first evidence item with this conclusion whose detail contains `needle`.
#[track_caller]
fn evidence<'a>(s: &'a ServiceProfile, conclusion: &str, needle: &str) -> &'a str {
    s.evidence
        .iter()
        .find(|e| e.conclusion == conclusion && e.detail.contains(needle))
        .map(|e| e.detail.as_str())
        .unwrap_or_else(|| {
            panic!(
                "no `{conclusion}` evidence containing `{needle}` in {}: {:#?}",
                s.path, s.evidence
            )
        })
}

fn paths(p: &StackProfile) -> Vec<&str> {
    p.services.iter().map(|s| s.path.as_str()).collect()
}

#[test]
fn express_on_npm_with_lts_nvmrc() {
    let p = analyze_fixture("js-express-npm");
    let s = service(&p, ".");
    assert_stack(
        s,
        "javascript",
        Some("express"),
        Some("npm"),
        Some("jest"),
        Some(("lts/*", ".nvmrc")),
    );
    assert_eq!(s.role, Role::Application);
    assert_eq!(s.port, Some(8080));
    assert_eq!(s.port_source.as_deref(), Some("src/server.js"));
    assert_eq!(dbs(s), ["postgresql", "redis", "rabbitmq"]);
    assert_eq!(cmd(&s.commands.install), Some("npm ci"));
    assert_eq!(cmd(&s.commands.build), None);
    assert_eq!(cmd(&s.commands.test), Some("npm test"));
    assert_eq!(cmd(&s.commands.lint), Some("npm run lint"));
    assert_eq!(cmd(&s.commands.start), Some("npm start"));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn type_declarations_do_not_make_an_express_app_typescript() {
    let p = analyze_fixture("js-express-with-dts");
    let s = service(&p, ".");
    assert_stack(
        s,
        "javascript",
        Some("express"),
        Some("yarn"),
        Some("mocha"),
        Some(("20.11.1", ".node-version")),
    );
    evidence(s, "language", "0 TypeScript source files");
    evidence(s, "language", "tsconfig.json present");
    evidence(s, "build_tool", "yarn classic");
    assert_eq!(s.port, Some(3000));
    assert_eq!(dbs(s), ["mysql", "mongodb", "kafka"]);
    assert_eq!(
        cmd(&s.commands.install),
        Some("yarn install --frozen-lockfile")
    );
    assert_eq!(cmd(&s.commands.test), Some("yarn test"));
    assert_eq!(cmd(&s.commands.lint), None);
    assert_eq!(cmd(&s.commands.start), Some("node app.js"));
}

#[test]
fn typescript_nest_app_on_pnpm_with_prisma() {
    let p = analyze_fixture("ts-nest-app");
    let s = service(&p, ".");
    assert_stack(
        s,
        "typescript",
        Some("nestjs"),
        Some("pnpm"),
        Some("jest"),
        Some((">=18", "package.json (engines.node)")),
    );
    let pnpm = s
        .versions
        .iter()
        .find(|v| v.name == "pnpm")
        .expect("pnpm pin");
    assert_eq!(pnpm.value, "9.1.0");
    assert_eq!(pnpm.source, "package.json (packageManager)");
    evidence(s, "build_tool", "packageManager is \"pnpm@9.1.0\"");
    assert_eq!(s.port, Some(3100));
    assert_eq!(s.port_source.as_deref(), Some("src/main.ts"));
    assert_eq!(dbs(s), ["postgresql"]);
    evidence(s, "database", "Prisma datasource provider = \"postgresql\"");
    assert_eq!(
        cmd(&s.commands.install),
        Some("pnpm install --frozen-lockfile")
    );
    assert_eq!(cmd(&s.commands.build), Some("pnpm run build"));
    assert_eq!(cmd(&s.commands.test), Some("pnpm test"));
    assert_eq!(cmd(&s.commands.lint), Some("pnpm run lint"));
    assert_eq!(cmd(&s.commands.start), Some("pnpm run start:prod"));
}

#[test]
fn next_on_yarn_berry_with_port_in_the_start_script() {
    let p = analyze_fixture("ts-next-yarn-berry");
    let s = service(&p, ".");
    assert_stack(
        s,
        "typescript",
        Some("nextjs"),
        Some("yarn"),
        Some("vitest"),
        Some(("20.11.0", ".tool-versions")),
    );
    evidence(s, "build_tool", "yarn Berry");
    evidence(s, "test_framework", "the test script runs vitest");
    assert_eq!(s.port, Some(4000));
    assert_eq!(s.port_source.as_deref(), Some("package.json"));
    assert_eq!(cmd(&s.commands.install), Some("yarn install --immutable"));
    assert_eq!(cmd(&s.commands.build), Some("yarn run build"));
    assert_eq!(cmd(&s.commands.test), Some("yarn test"));
    assert_eq!(cmd(&s.commands.lint), Some("yarn run lint"));
    assert_eq!(cmd(&s.commands.start), Some("yarn start"));
}

#[test]
fn vue_on_bun_with_mise_and_no_test_script() {
    let p = analyze_fixture("js-vue-bun");
    let s = service(&p, ".");
    assert_stack(
        s,
        "javascript",
        Some("vue"),
        Some("bun"),
        Some("vitest"),
        Some(("22", "mise.toml (tools.node)")),
    );
    let bun = s
        .versions
        .iter()
        .find(|v| v.name == "bun")
        .expect("bun pin");
    assert_eq!(bun.value, "1.1.8");
    assert_eq!(s.role, Role::Application);
    evidence(s, "role", "static site");
    assert_eq!(s.port, None);
    assert_eq!(
        cmd(&s.commands.install),
        Some("bun install --frozen-lockfile")
    );
    assert_eq!(cmd(&s.commands.build), Some("bun run build"));
    assert_eq!(cmd(&s.commands.test), Some("bunx vitest run"));
    assert_eq!(cmd(&s.commands.start), None);
}

#[test]
fn angular_on_npm_without_lock_file_pinned_by_volta() {
    let p = analyze_fixture("ts-angular-npm");
    let s = service(&p, ".");
    assert_stack(
        s,
        "typescript",
        Some("angular"),
        Some("npm"),
        None,
        Some(("20.12.2", "package.json (volta.node)")),
    );
    assert_eq!(s.role, Role::Application);
    assert_eq!(cmd(&s.commands.install), Some("npm install"));
    assert_eq!(cmd(&s.commands.test), Some("npm test"));
    assert_eq!(cmd(&s.commands.start), Some("npm start"));
}

#[test]
fn sveltekit_on_pnpm_tested_with_playwright() {
    let p = analyze_fixture("js-sveltekit-pnpm");
    let s = service(&p, ".");
    assert_stack(
        s,
        "javascript",
        Some("svelte"),
        Some("pnpm"),
        Some("playwright"),
        Some(("^20.11", "package.json (engines.node)")),
    );
    evidence(s, "framework", "`@sveltejs/kit`");
    assert_eq!(cmd(&s.commands.test), Some("pnpm test"));
    assert_eq!(cmd(&s.commands.build), Some("pnpm run build"));
}

#[test]
fn react_with_webpack_is_a_site_not_asset_tooling() {
    let p = analyze_fixture("js-react-webpack");
    let s = service(&p, ".");
    assert_stack(
        s,
        "javascript",
        Some("react"),
        Some("npm"),
        Some("jest"),
        Some((">=18.17", "package.json (engines.node)")),
    );
    assert_eq!(s.role, Role::Application);
    // No lint script, but an ESLint config: run eslint itself.
    assert_eq!(cmd(&s.commands.lint), Some("npx eslint ."));
    assert_eq!(cmd(&s.commands.build), Some("npm run build"));
}

#[test]
fn library_with_mocha_and_cache_clients() {
    let p = analyze_fixture("js-library-mocha");
    let s = service(&p, ".");
    assert_stack(
        s,
        "javascript",
        None,
        Some("npm"),
        Some("mocha"),
        Some(("18", ".nvmrc")),
    );
    assert_eq!(s.role, Role::Library);
    assert_eq!(dbs(s), ["memcached", "elasticsearch"]);
    assert_eq!(cmd(&s.commands.start), None);
    assert_eq!(s.port, None);
}

#[test]
fn django_with_tailwind_package_json_stays_python() {
    let p = analyze_fixture("js-django-tailwind");
    assert_eq!(paths(&p), ["."]);
    assert_eq!(p.primary_language.map(|l| l.as_str()), Some("python"));
    let s = service(&p, ".");
    assert_stack(
        s,
        "python",
        Some("django"),
        Some("pip"),
        // No test file anywhere: no test framework claimed (issue 14).
        None,
        Some(("3.12.3", ".python-version")),
    );
    assert_eq!(s.role, Role::Application);
    assert_eq!(s.port, Some(8000));
    assert_eq!(dbs(s), ["postgresql"]);
    assert_eq!(s.secondary.len(), 1, "{:?}", s.secondary);
    let js = &s.secondary[0];
    assert_eq!(js.language.as_str(), "javascript");
    assert_eq!(js.framework, None);
    assert!(
        js.reason.contains(
            "package.json only holds front-end asset tooling: tailwindcss, postcss, autoprefixer"
        ),
        "{}",
        js.reason
    );
    assert!(
        js.reason
            .contains("python (django) is the deployable stack"),
        "{}",
        js.reason
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn pnpm_monorepo_has_three_members_and_no_root_service() {
    let p = analyze_fixture("ts-pnpm-monorepo");
    assert!(p.monorepo);
    assert_eq!(paths(&p), ["apps/api", "apps/web", "packages/ui"]);

    let web = service(&p, "apps/web");
    assert_stack(
        web,
        "typescript",
        Some("nextjs"),
        Some("pnpm"),
        None,
        Some(("20.12.2", ".nvmrc")),
    );
    assert_eq!(web.role, Role::Application);
    assert_eq!(web.port, Some(3000));
    assert_eq!(
        cmd(&web.commands.install),
        Some("pnpm install --frozen-lockfile")
    );
    assert_eq!(cmd(&web.commands.start), Some("pnpm start"));
    // The workspace root's pins apply to its members.
    assert!(web.versions.iter().any(|v| v.name == "node"
        && v.value == ">=20"
        && v.source == "package.json (engines.node)"));
    evidence(web, "build_tool", "packageManager is \"pnpm@9.1.0\"");

    let api = service(&p, "apps/api");
    assert_stack(
        api,
        "javascript",
        Some("express"),
        Some("pnpm"),
        Some("vitest"),
        Some(("20.12.2", ".nvmrc")),
    );
    assert_eq!(api.port, Some(4000));
    assert_eq!(api.port_source.as_deref(), Some("apps/api/src/index.js"));
    assert_eq!(dbs(api), ["redis"]);
    assert_eq!(cmd(&api.commands.start), Some("pnpm start"));

    let ui = service(&p, "packages/ui");
    assert_stack(
        ui,
        "typescript",
        Some("react"),
        Some("pnpm"),
        Some("vitest"),
        Some(("20.12.2", ".nvmrc")),
    );
    assert_eq!(ui.role, Role::Library);
    evidence(ui, "role", "peer dependency");
    assert_eq!(cmd(&ui.commands.start), None);
}

#[test]
fn malformed_package_json_is_a_warning_not_a_panic() {
    let p = analyze_fixture("js-malformed-package-json");
    let s = service(&p, ".");
    assert_stack(s, "javascript", None, Some("npm"), None, None);
    assert_eq!(s.role, Role::Library);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("package.json") && w.contains("malformed JSON")),
        "{:?}",
        p.warnings
    );
    assert_eq!(cmd(&s.commands.install), Some("npm install"));
}

// ---- in-memory trees -------------------------------------------------------------------

#[test]
fn vendored_node_modules_never_produce_a_service() {
    let p = analyze_tree(&[
        (
            "package.json",
            r#"{"name":"app","scripts":{"start":"node index.js"},"dependencies":{"express":"^4.19.2"}}"#,
        ),
        ("index.js", "require('express')().listen(3000);\n"),
        (
            "node_modules/x/package.json",
            r#"{"name":"x","version":"1.0.0","dependencies":{"next":"14.0.0"}}"#,
        ),
        ("node_modules/x/index.js", "module.exports = 1;\n"),
        (
            "web/node_modules/y/package.json",
            r#"{"name":"y","scripts":{"start":"node y.js"}}"#,
        ),
    ]);
    assert_eq!(paths(&p), ["."]);
    assert_eq!(
        service(&p, ".").framework.map(|f| f.as_str()),
        Some("express")
    );
}

#[test]
fn tailwind_only_package_json_is_asset_tooling() {
    let p = analyze_tree(&[(
        "package.json",
        r#"{"private":true,"scripts":{"build":"tailwindcss -o site.css"},
            "devDependencies":{"tailwindcss":"^3.4.3","postcss":"^8.4.38","prettier":"^3.2.5"}}"#,
    )]);
    let s = service(&p, ".");
    assert_eq!(s.role, Role::AssetTooling);
    evidence(
        s,
        "role",
        "package.json only holds front-end asset tooling: tailwindcss, postcss",
    );
}

#[test]
fn hotwire_bundling_beside_a_gemfile_is_asset_tooling() {
    let p = analyze_tree(&[
        (
            "Gemfile",
            "source 'https://rubygems.org'\ngem 'rails', '~> 7.1'\n",
        ),
        (
            "package.json",
            r#"{"private":true,"scripts":{"build":"esbuild app/javascript/*.* --bundle --outdir=app/assets/builds"},
                "dependencies":{"@hotwired/turbo-rails":"^8.0.4","@hotwired/stimulus":"^3.2.2","esbuild":"^0.21.3","alpinejs":"^3.13.10"}}"#,
        ),
    ]);
    // Once the Ruby detector claims the folder, JavaScript is its secondary; either way the
    // JavaScript side is asset tooling and names what it found.
    let s = service(&p, ".");
    let wanted = "package.json only holds front-end asset tooling: @hotwired/turbo-rails, @hotwired/stimulus, esbuild (beside Gemfile)";
    if s.language.as_str() == "javascript" {
        assert_eq!(s.role, Role::AssetTooling);
        // Role evidence is written in lower case.
        evidence(s, "role", &wanted.to_lowercase());
    } else {
        assert!(
            s.secondary
                .iter()
                .any(|x| x.language.as_str() == "javascript" && x.reason.contains(wanted)),
            "{:?}",
            s.secondary
        );
    }
}

#[test]
fn package_manager_field_decides_before_lock_files() {
    let p = analyze_tree(&[
        (
            "package.json",
            r#"{"name":"a","packageManager":"yarn@4.1.1","scripts":{"start":"node a.js"}}"#,
        ),
        ("package-lock.json", "{}"),
        ("yarn.lock", "__metadata:\n  version: 8\n"),
        ("a.js", "console.log(1)\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.build_tool.map(|b| b.as_str()), Some("yarn"));
    // yarn 4 is Berry even without .yarnrc.yml.
    assert_eq!(cmd(&s.commands.install), Some("yarn install --immutable"));
    let yarn = s
        .versions
        .iter()
        .find(|v| v.name == "yarn")
        .expect("yarn pin");
    assert_eq!(
        (yarn.value.as_str(), yarn.source.as_str()),
        ("4.1.1", "package.json (packageManager)")
    );
    assert_eq!(s.role, Role::Application);
    assert_eq!(cmd(&s.commands.start), Some("yarn start"));
}

#[test]
fn binary_bun_lock_and_several_lock_files_warn() {
    let p = analyze_tree(&[
        (
            "package.json",
            r#"{"name":"b","dependencies":{"express":"^4"}}"#,
        ),
        ("bun.lockb", "binary"),
        ("package-lock.json", "{}"),
        ("server.js", "const PORT = process.env.PORT ?? 3500;\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.build_tool.map(|b| b.as_str()), Some("bun"));
    assert_eq!(
        cmd(&s.commands.install),
        Some("bun install --frozen-lockfile")
    );
    assert_eq!(s.port, Some(3500));
    assert_eq!(cmd(&s.commands.start), Some("node server.js"));
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("several package managers' lock files")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn npm_placeholder_test_script_is_ignored() {
    let p = analyze_tree(&[
        (
            "package.json",
            r#"{"name":"c","scripts":{"test":"echo \"Error: no test specified\" && exit 1"},
            "devDependencies":{"jest":"^29.7.0","eslint":"^9.0.0"}}"#,
        ),
        ("sum.test.js", "test('adds', () => {});\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.test_framework.map(|t| t.as_str()), Some("jest"));
    assert_eq!(cmd(&s.commands.test), Some("npx jest"));
    assert_eq!(cmd(&s.commands.lint), Some("npx eslint ."));
    assert_eq!(cmd(&s.commands.install), Some("npm install"));
}

#[test]
fn the_test_script_picks_among_several_test_frameworks() {
    let p = analyze_tree(&[
        (
            "package.json",
            r#"{"name":"d","scripts":{"test":"mocha"},"devDependencies":{"jest":"^29","mocha":"^10"}}"#,
        ),
        ("test/sum.js", "it('adds', () => {});\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.test_framework.map(|t| t.as_str()), Some("mocha"));
}

#[test]
fn framework_priority_when_several_are_dependencies() {
    let p = analyze_tree(&[
        (
            "nest/package.json",
            r#"{"name":"n","dependencies":{"@nestjs/core":"^10","express":"^4","react":"^18"}}"#,
        ),
        (
            "site/package.json",
            r#"{"name":"s","dependencies":{"react":"^18","vue":"^3"}}"#,
        ),
    ]);
    let nest = service(&p, "nest");
    assert_eq!(nest.framework.map(|f| f.as_str()), Some("nestjs"));
    // No start:prod and no start script: the compiled entry point.
    assert_eq!(cmd(&nest.commands.start), Some("node dist/main.js"));
    assert_eq!(
        service(&p, "site").framework.map(|f| f.as_str()),
        Some("vue")
    );
}

#[test]
fn version_sources_keep_their_order() {
    let p = analyze_tree(&[
        (
            "package.json",
            r#"{"name":"e","engines":{"node":">=18"},"volta":{"node":"20.12.2"}}"#,
        ),
        (".tool-versions", "node 20.11.1\n"),
    ]);
    let s = service(&p, ".");
    let got: Vec<(&str, &str)> = s
        .versions
        .iter()
        .filter(|v| v.name == "node")
        .map(|v| (v.value.as_str(), v.source.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("20.11.1", ".tool-versions"),
            (">=18", "package.json (engines.node)"),
            ("20.12.2", "package.json (volta.node)"),
        ]
    );
}

#[test]
fn typescript_without_tsconfig_when_ts_sources_dominate() {
    let p = analyze_tree(&[
        ("package.json", r#"{"name":"f","main":"dist/index.js"}"#),
        ("src/index.ts", "export const a = 1;\n"),
        ("src/util.ts", "export const b = 2;\n"),
        ("jest.config.js", "module.exports = {};\n"),
        ("scripts/release.js", "console.log('release');\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.language.as_str(), "typescript");
    evidence(s, "language", "2 TypeScript source files");
}

#[test]
fn npm_workspaces_object_form_drops_the_root() {
    let p = analyze_tree(&[
        (
            "package.json",
            r#"{"private":true,"workspaces":{"packages":["services/*"]},"devDependencies":{"typescript":"^5"}}"#,
        ),
        ("package-lock.json", "{}"),
        (
            "services/users/package.json",
            r#"{"name":"users","scripts":{"start":"node index.js"},"dependencies":{"express":"^4"}}"#,
        ),
        (
            "services/users/index.js",
            "require('express')().listen(7000);\n",
        ),
    ]);
    assert_eq!(paths(&p), ["services/users"]);
    let s = service(&p, "services/users");
    // The lock file sits at the workspace root.
    assert_eq!(cmd(&s.commands.install), Some("npm ci"));
    assert_eq!(s.port, Some(7000));
}

#[test]
fn workspace_root_without_members_lists_its_patterns() {
    let p = analyze_tree(&[
        ("package.json", r#"{"private":true}"#),
        (
            "pnpm-workspace.yaml",
            "packages:\n  - 'apps/*'\n  - 'libs/*'\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.build_tool.map(|b| b.as_str()), Some("pnpm"));
    assert_eq!(s.role, Role::Library);
    evidence(
        s,
        "role",
        "workspace members (pnpm-workspace.yaml packages): apps/*, libs/*",
    );
}

#[test]
fn malformed_pnpm_workspace_yaml_is_a_warning() {
    let p = analyze_tree(&[
        ("package.json", r#"{"private":true}"#),
        ("pnpm-workspace.yaml", "packages: [apps/*\n  - : :\n"),
    ]);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("pnpm-workspace.yaml") && w.contains("malformed YAML")),
        "{:?}",
        p.warnings
    );
    // Still a workspace root, though its members are unknown.
    evidence(
        service(&p, "."),
        "role",
        "workspace root without member services",
    );
}
