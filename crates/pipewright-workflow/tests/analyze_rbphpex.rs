//! Ruby, PHP and Elixir detection: explicit assertions per fixture under `fixtures/repos/`
//! (`ruby-*`, `php-*`, `elixir-*`) and small in-memory trees for the variants.

mod common;

use common::{analyze_fixture, analyze_tree, assert_stack, service};
use pipewright_core::stack::{Role, ServiceProfile};

fn dbs(s: &ServiceProfile) -> Vec<&str> {
    s.databases.iter().map(|d| d.as_str()).collect()
}

fn versions(s: &ServiceProfile) -> Vec<(&str, &str, &str)> {
    s.versions
        .iter()
        .map(|v| (v.name.as_str(), v.value.as_str(), v.source.as_str()))
        .collect()
}

fn has_evidence(s: &ServiceProfile, conclusion: &str, file: &str, needle: &str) -> bool {
    s.evidence
        .iter()
        .any(|e| e.conclusion == conclusion && e.file == file && e.detail.contains(needle))
}

// ---------------------------------------------------------------- Ruby

#[test]
fn rails_app_with_a_js_bundling_package_json_is_a_rails_service() {
    let p = analyze_fixture("ruby-rails-jsbundling");
    // The package.json (esbuild, tailwind) belongs to the JavaScript detector; whatever it
    // concludes, the folder's service is the Rails app.
    assert_eq!(p.primary_language.map(|l| l.as_str()), Some("ruby"));
    let s = service(&p, ".");
    assert_stack(
        s,
        "ruby",
        Some("rails"),
        Some("bundler"),
        Some("rspec"),
        Some(("3.2.2", ".ruby-version")),
    );
    assert_eq!(s.role, Role::Application);
    assert_eq!(s.port, Some(3000));
    assert_eq!(s.port_source.as_deref(), Some("config/puma.rb"));
    assert_eq!(dbs(s), vec!["postgresql", "redis"]);
    assert_eq!(
        versions(s),
        vec![
            ("ruby", "3.2.2", ".ruby-version"),
            ("ruby", "3.2.2p53", "Gemfile.lock (RUBY VERSION)"),
            ("bundler", "2.5.6", "Gemfile.lock (BUNDLED WITH)"),
        ]
    );
    assert_eq!(
        s.commands.install.as_deref(),
        Some("bundle install --jobs 4 --retry 3")
    );
    assert_eq!(
        s.commands.build.as_deref(),
        Some("SECRET_KEY_BASE_DUMMY=1 RAILS_ENV=production bundle exec rails assets:precompile")
    );
    assert_eq!(s.commands.test.as_deref(), Some("bundle exec rspec"));
    assert_eq!(s.commands.lint.as_deref(), Some("bundle exec rubocop"));
    assert_eq!(
        s.commands.start.as_deref(),
        Some("bundle exec puma -C config/puma.rb")
    );
    assert!(has_evidence(
        s,
        "framework",
        "Gemfile",
        "7.1.3 in Gemfile.lock"
    ));
    assert!(has_evidence(
        s,
        "framework",
        "config/application.rb",
        "Rails::Application"
    ));
    assert!(has_evidence(
        s,
        "runtime_version",
        "Gemfile",
        "ruby directive reads .ruby-version"
    ));
    assert!(has_evidence(
        s,
        "command",
        ".",
        "configured by .rubocop.yml"
    ));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn rails_with_minitest_and_no_puma_config_runs_rails_server() {
    let p = analyze_fixture("ruby-rails-minitest");
    let s = service(&p, ".");
    assert_stack(
        s,
        "ruby",
        Some("rails"),
        Some("bundler"),
        Some("minitest"),
        Some(("~> 3.3.0", "Gemfile (ruby)")),
    );
    assert_eq!(dbs(s), vec!["mysql", "memcached"]);
    assert_eq!(s.port, Some(3000));
    assert_eq!(s.port_source.as_deref(), Some("framework default (rails)"));
    assert_eq!(s.commands.test.as_deref(), Some("bundle exec rails test"));
    assert_eq!(
        s.commands.start.as_deref(),
        Some("bundle exec rails server -b 0.0.0.0 -p 3000")
    );
    // .rubocop.yml without the gem in the bundle: the pipeline brings RuboCop itself.
    assert_eq!(s.commands.lint.as_deref(), Some("rubocop"));
    assert!(has_evidence(
        s,
        "command",
        ".rubocop.yml",
        "not in the bundle"
    ));
    assert!(has_evidence(s, "test_framework", "test", "Rails' default"));
    assert!(has_evidence(s, "build_tool", "Gemfile", "no Gemfile.lock"));
}

#[test]
fn modular_sinatra_with_config_ru_runs_rackup_on_its_port() {
    let p = analyze_fixture("ruby-sinatra-rackup");
    let s = service(&p, ".");
    assert_stack(
        s,
        "ruby",
        Some("sinatra"),
        Some("bundler"),
        Some("rspec"),
        Some(("3.3.0p0", "Gemfile.lock (RUBY VERSION)")),
    );
    assert_eq!(s.port, Some(9393));
    assert_eq!(s.port_source.as_deref(), Some("app.rb"));
    assert_eq!(dbs(s), vec!["mongodb", "rabbitmq"]);
    assert_eq!(
        s.commands.start.as_deref(),
        Some("bundle exec rackup -o 0.0.0.0 -p 9393")
    );
    assert_eq!(s.commands.lint.as_deref(), Some("bundle exec rubocop"));
    assert_eq!(s.commands.build, None);
    assert!(versions(s).contains(&("bundler", "2.5.3", "Gemfile.lock (BUNDLED WITH)")));
}

#[test]
fn classic_sinatra_without_config_ru_runs_app_rb() {
    let p = analyze_fixture("ruby-sinatra-classic");
    let s = service(&p, ".");
    assert_stack(
        s,
        "ruby",
        Some("sinatra"),
        Some("bundler"),
        Some("minitest"),
        Some(("3.3.0", ".tool-versions")),
    );
    assert_eq!(s.port, Some(8080));
    assert_eq!(dbs(s), vec!["sqlite", "memcached"]);
    assert_eq!(s.commands.test.as_deref(), Some("bundle exec rake test"));
    assert_eq!(
        s.commands.start.as_deref(),
        Some("bundle exec ruby app.rb -o 0.0.0.0 -p 8080")
    );
    assert!(has_evidence(s, "test_framework", "Gemfile", "minitest"));
}

#[test]
fn hanami_runs_puma_with_its_config() {
    let p = analyze_fixture("ruby-hanami");
    let s = service(&p, ".");
    assert_stack(
        s,
        "ruby",
        Some("hanami"),
        Some("bundler"),
        Some("rspec"),
        Some(("~> 3.3", "Gemfile (ruby)")),
    );
    assert_eq!(s.port, Some(2300));
    assert_eq!(s.port_source.as_deref(), Some("config/puma.rb"));
    assert_eq!(dbs(s), vec!["postgresql"]);
    assert_eq!(
        s.commands.start.as_deref(),
        Some("bundle exec puma -C config/puma.rb")
    );
    assert!(versions(s).contains(&("ruby", "3.3.1", "mise.toml (tools.ruby)")));
    assert!(has_evidence(s, "command", ".", "no .rubocop.yml"));
}

#[test]
fn library_gem_with_a_gemspec_is_a_library() {
    let p = analyze_fixture("ruby-gem-library");
    let s = service(&p, ".");
    assert_stack(
        s,
        "ruby",
        None,
        Some("bundler"),
        Some("rspec"),
        Some((">= 3.0.0", "tidy_csv.gemspec (required_ruby_version)")),
    );
    assert_eq!(s.role, Role::Library);
    assert_eq!(s.port, None);
    assert_eq!(
        s.commands.build.as_deref(),
        Some("gem build tidy_csv.gemspec")
    );
    assert_eq!(s.commands.lint.as_deref(), Some("bundle exec rubocop"));
    assert_eq!(s.commands.start, None);
    assert!(has_evidence(
        s,
        "role",
        "tidy_csv.gemspec",
        "without a web framework"
    ));
}

#[test]
fn hanami_without_puma_config_runs_hanami_server() {
    let p = analyze_tree(&[
        (
            "Gemfile",
            "source \"https://rubygems.org\"\ngem \"hanami\", \"~> 2.1\"\n",
        ),
        (
            "config/app.rb",
            "module Shelf\n  class App < Hanami::App\n  end\nend\n",
        ),
        (".ruby-version", "ruby-3.3.0\n"),
    ]);
    let s = service(&p, ".");
    assert_stack(
        s,
        "ruby",
        Some("hanami"),
        Some("bundler"),
        None,
        Some(("3.3.0", ".ruby-version")),
    );
    assert_eq!(
        s.commands.start.as_deref(),
        Some("bundle exec hanami server")
    );
    assert_eq!(s.port, Some(2300));
}

#[test]
fn plain_rack_app_is_an_application_with_rackup() {
    let p = analyze_tree(&[
        (
            "Gemfile",
            "source \"https://rubygems.org\"\ngem \"rack\"\ngem \"puma\"\n",
        ),
        ("config.ru", "run ->(env) { [200, {}, [\"ok\"]] }\n"),
    ]);
    let s = service(&p, ".");
    assert_stack(s, "ruby", None, Some("bundler"), None, None);
    assert_eq!(s.role, Role::Application);
    assert_eq!(
        s.commands.start.as_deref(),
        Some("bundle exec rackup -o 0.0.0.0 -p 9292")
    );
}

#[test]
fn modular_sinatra_app_rb_is_run_without_flags() {
    let p = analyze_tree(&[
        ("Gemfile", "gem 'sinatra'\n"),
        (
            "app.rb",
            "require 'sinatra/base'\nclass Api < Sinatra::Base\n  run! if app_file == $0\nend\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.commands.start.as_deref(), Some("bundle exec ruby app.rb"));
    assert_eq!(s.port, Some(4567));
    assert_eq!(
        s.port_source.as_deref(),
        Some("framework default (sinatra)")
    );
}

#[test]
fn rails_engine_gemspec_does_not_make_an_application() {
    let p = analyze_tree(&[
        ("Gemfile", "source \"https://rubygems.org\"\ngemspec\ngem \"sqlite3\"\n"),
        (
            "blorgh.gemspec",
            "Gem::Specification.new do |s|\n  s.name = \"blorgh\"\n  s.add_dependency \"rails\", \">= 7.1\"\n  s.add_development_dependency \"rspec-rails\"\nend\n",
        ),
        ("lib/blorgh.rb", "module Blorgh; end\n"),
        ("spec/dummy/config/application.rb", "module Dummy\n  class Application < Rails::Application\n  end\nend\n"),
        ("spec/dummy/Gemfile", "gem 'rails'\n"),
    ]);
    assert_eq!(
        p.services.len(),
        1,
        "the dummy app of an engine is not a service"
    );
    let s = service(&p, ".");
    assert_stack(s, "ruby", None, Some("bundler"), Some("rspec"), None);
    assert_eq!(s.role, Role::Library);
    assert_eq!(dbs(s), vec!["sqlite"]);
    assert!(has_evidence(
        s,
        "framework",
        "blorgh.gemspec",
        "plugin or engine"
    ));
}

#[test]
fn rails_application_rb_without_the_gem_is_a_warning_not_a_framework() {
    let p = analyze_tree(&[
        ("Gemfile", "gem \"puma\"\n"),
        (
            "config/application.rb",
            "class App < Rails::Application\nend\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_eq!(s.framework, None);
    assert!(
        p.warnings.iter().any(|w| w.contains("no rails gem")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn gemfile_ruby_file_may_name_tool_versions() {
    let p = analyze_tree(&[
        (
            "Gemfile",
            "ruby file: \".tool-versions\"\ngem \"sinatra\"\n",
        ),
        (".tool-versions", "nodejs 20.1.0\nruby 3.2.4\n"),
        ("config.ru", "require './app'\nrun Sinatra::Application\n"),
    ]);
    let s = service(&p, ".");
    assert_eq!(
        s.runtime_version
            .as_ref()
            .map(|v| (v.value.as_str(), v.source.as_str())),
        Some(("3.2.4", ".tool-versions"))
    );
    assert!(has_evidence(
        s,
        "runtime_version",
        "Gemfile",
        "reads .tool-versions"
    ));
    assert_eq!(
        s.commands.start.as_deref(),
        Some("bundle exec rackup -o 0.0.0.0 -p 4567")
    );
}

#[test]
fn gemfile_ruby_file_pointing_nowhere_is_a_warning() {
    let p = analyze_tree(&[("Gemfile", "ruby file: \".ruby-versoin\"\ngem \"rake\"\n")]);
    assert!(
        p.warnings.iter().any(|w| w.contains(".ruby-versoin")),
        "{:?}",
        p.warnings
    );
    assert_eq!(service(&p, ".").runtime_version, None);
}

#[test]
fn rails_database_yml_adapter_adds_the_database() {
    let p = analyze_tree(&[
        (
            "Gemfile",
            "gem \"rails\"\ngem \"activerecord-cockroachdb-adapter\"\n",
        ),
        (
            "config/database.yml",
            "production:\n  adapter: postgresql\n  url: <%= ENV['DATABASE_URL'] %>\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_eq!(dbs(s), vec!["postgresql"]);
    assert!(has_evidence(
        s,
        "database",
        "config/database.yml",
        "adapter: postgresql"
    ));
}

#[test]
fn ruby_service_in_a_subfolder_finds_version_files_up_the_tree() {
    let p = analyze_tree(&[
        (".ruby-version", "3.1.4\n"),
        ("services/api/Gemfile", "gem \"sinatra\"\n"),
        (
            "services/api/app.rb",
            "require \"sinatra\"\nget('/') { 'ok' }\n",
        ),
    ]);
    let s = service(&p, "services/api");
    assert_stack(
        s,
        "ruby",
        Some("sinatra"),
        Some("bundler"),
        None,
        Some(("3.1.4", ".ruby-version")),
    );
    assert_eq!(
        s.commands.start.as_deref(),
        Some("bundle exec ruby app.rb -o 0.0.0.0 -p 4567")
    );
}

// ---------------------------------------------------------------- PHP

#[test]
fn laravel_app_with_a_vite_package_json_is_a_laravel_service() {
    let p = analyze_fixture("php-laravel-vite");
    // The package.json (vite) belongs to the JavaScript detector; the service is Laravel.
    assert_eq!(p.primary_language.map(|l| l.as_str()), Some("php"));
    let s = service(&p, ".");
    assert_stack(
        s,
        "php",
        Some("laravel"),
        Some("composer"),
        Some("phpunit"),
        Some(("^8.2", "composer.json (require.php)")),
    );
    assert_eq!(s.role, Role::Application);
    assert_eq!(s.port, Some(8000));
    assert_eq!(dbs(s), vec!["postgresql", "redis"]);
    assert!(has_evidence(
        s,
        "database",
        ".env.example",
        "DB_CONNECTION=pgsql"
    ));
    assert_eq!(
        s.commands.install.as_deref(),
        Some("composer install --no-interaction --prefer-dist --no-progress")
    );
    assert_eq!(s.commands.test.as_deref(), Some("vendor/bin/phpunit"));
    assert_eq!(s.commands.lint.as_deref(), Some("vendor/bin/pint --test"));
    assert_eq!(
        s.commands.start.as_deref(),
        Some("php artisan serve --host=0.0.0.0 --port=8000")
    );
    assert!(has_evidence(s, "framework", "artisan", "artisan"));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn laravel_with_pest_and_larastan() {
    let p = analyze_fixture("php-laravel-pest");
    let s = service(&p, ".");
    // Pest wins over PHPUnit: it runs on it.
    assert_stack(
        s,
        "php",
        Some("laravel"),
        Some("composer"),
        Some("pest"),
        Some(("8.3.4", ".tool-versions")),
    );
    assert_eq!(
        versions(s),
        vec![
            ("php", "8.3.4", ".tool-versions"),
            ("php", "^8.3", "composer.json (require.php)")
        ]
    );
    assert_eq!(dbs(s), vec!["mysql", "redis"]);
    assert_eq!(s.commands.test.as_deref(), Some("vendor/bin/pest"));
    assert_eq!(
        s.commands.lint.as_deref(),
        Some("vendor/bin/phpstan analyse --no-progress")
    );
    assert!(has_evidence(s, "command", "phpstan.neon", "phpstan"));
}

#[test]
fn symfony_with_platform_pin_and_phpstan() {
    let p = analyze_fixture("php-symfony");
    let s = service(&p, ".");
    assert_stack(
        s,
        "php",
        Some("symfony"),
        Some("composer"),
        Some("phpunit"),
        Some(("8.2.12", "composer.json (config.platform.php)")),
    );
    assert!(versions(s).contains(&("php", ">=8.2", "composer.json (require.php)")));
    assert_eq!(dbs(s), vec!["postgresql"]);
    assert_eq!(s.port, Some(8000));
    assert_eq!(
        s.commands.start.as_deref(),
        Some("php -S 0.0.0.0:8000 -t public")
    );
    assert_eq!(
        s.commands.lint.as_deref(),
        Some("vendor/bin/phpstan analyse --no-progress")
    );
    assert!(has_evidence(
        s,
        "test_framework",
        "composer.json",
        "phpunit/phpunit"
    ));
    assert!(has_evidence(s, "framework", "symfony.lock", "Flex"));
}

#[test]
fn php_library_gets_default_phpstan_and_no_start() {
    let p = analyze_fixture("php-library");
    let s = service(&p, ".");
    assert_stack(
        s,
        "php",
        None,
        Some("composer"),
        Some("phpunit"),
        Some(("8.1", "mise.toml (tools.php)")),
    );
    assert_eq!(s.role, Role::Library);
    assert_eq!(s.port, None);
    assert_eq!(s.commands.start, None);
    assert_eq!(
        s.commands.lint.as_deref(),
        Some("phpstan analyse --no-progress --level=0 src")
    );
}

#[test]
fn malformed_composer_json_is_a_warning_not_a_crash() {
    let p = analyze_fixture("php-malformed-composer");
    let s = service(&p, ".");
    assert_stack(s, "php", None, Some("composer"), None, None);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("composer.json") && w.contains("malformed JSON")),
        "{:?}",
        p.warnings
    );
    // public/index.php is still served.
    assert_eq!(s.role, Role::Application);
    assert_eq!(
        s.commands.start.as_deref(),
        Some("php -S 0.0.0.0:8000 -t public")
    );
    assert_eq!(s.port_source.as_deref(), Some("public/index.php"));
}

#[test]
fn malformed_composer_json_falls_back_to_the_lock() {
    let p = analyze_tree(&[
        (
            "composer.json",
            "{\"require\": {\"laravel/framework\": \"^11.0\"\n",
        ),
        (
            "composer.lock",
            r#"{"packages": [{"name": "laravel/framework", "version": "v11.1.0"}], "packages-dev": [{"name": "pestphp/pest", "version": "v2.34.0"}]}"#,
        ),
    ]);
    let s = service(&p, ".");
    assert_stack(
        s,
        "php",
        Some("laravel"),
        Some("composer"),
        Some("pest"),
        None,
    );
    assert!(has_evidence(
        s,
        "framework",
        "composer.lock",
        "laravel/framework"
    ));
    assert!(has_evidence(
        s,
        "build_tool",
        "composer.lock",
        "composer.json could not be read"
    ));
    assert!(p.warnings.iter().any(|w| w.contains("malformed JSON")));
}

#[test]
fn symfony_recognised_from_symfony_lock() {
    let p = analyze_tree(&[
        (
            "composer.json",
            r#"{"type": "project", "require": {"php": ">=8.2", "symfony/flex": "^2"}}"#,
        ),
        (
            "symfony.lock",
            r#"{"symfony/framework-bundle": {"version": "7.0"}}"#,
        ),
        (".php-version", "8.3\n"),
    ]);
    let s = service(&p, ".");
    assert_stack(
        s,
        "php",
        Some("symfony"),
        Some("composer"),
        None,
        Some(("8.3", ".php-version")),
    );
    assert!(has_evidence(
        s,
        "framework",
        "symfony.lock",
        "framework-bundle"
    ));
}

#[test]
fn a_package_requiring_laravel_is_a_library() {
    let p = analyze_tree(&[(
        "composer.json",
        r#"{"name": "acme/laravel-audit", "type": "library", "require": {"php": "^8.2", "laravel/framework": "^11.0"}}"#,
    )]);
    let s = service(&p, ".");
    assert_eq!(s.framework, None);
    assert_eq!(s.role, Role::Library);
    assert!(has_evidence(
        s,
        "framework",
        "composer.json",
        "type `library`"
    ));
}

#[test]
fn laravel_env_example_drivers() {
    let p = analyze_tree(&[
        (
            "composer.json",
            r#"{"require": {"laravel/framework": "^11.0", "laravel/pint": "^1.0", "larastan/larastan": "^2.0"}}"#,
        ),
        (
            ".env.example",
            "DB_CONNECTION=sqlsrv\nQUEUE_CONNECTION=redis\n",
        ),
    ]);
    let s = service(&p, ".");
    assert_eq!(dbs(s), vec!["redis", "mssql"]);
    assert!(has_evidence(
        s,
        "database",
        ".env.example",
        "QUEUE_CONNECTION=redis"
    ));
    // Pint is preferred for Laravel even when PHPStan is there too.
    assert_eq!(s.commands.lint.as_deref(), Some("vendor/bin/pint --test"));
}

// ---------------------------------------------------------------- Elixir

#[test]
fn phoenix_app_with_credo() {
    let p = analyze_fixture("elixir-phoenix");
    let s = service(&p, ".");
    assert_stack(
        s,
        "elixir",
        Some("phoenix"),
        Some("mix"),
        Some("exunit"),
        Some(("1.16.2-otp-26", ".tool-versions")),
    );
    assert_eq!(s.role, Role::Application);
    assert_eq!(
        versions(s),
        vec![
            ("elixir", "1.16.2-otp-26", ".tool-versions"),
            ("elixir", "~> 1.15", "mix.exs (elixir)"),
            ("erlang", "26.2.3", ".tool-versions"),
        ]
    );
    assert_eq!(s.port, Some(4000));
    assert_eq!(s.port_source.as_deref(), Some("config/runtime.exs"));
    assert_eq!(dbs(s), vec!["postgresql", "redis"]);
    assert_eq!(s.commands.install.as_deref(), Some("mix deps.get"));
    assert_eq!(s.commands.build.as_deref(), Some("mix compile"));
    assert_eq!(s.commands.test.as_deref(), Some("mix test"));
    assert_eq!(s.commands.lint.as_deref(), Some("mix credo --strict"));
    assert_eq!(s.commands.start.as_deref(), Some("mix phx.server"));
    assert!(has_evidence(
        s,
        "test_framework",
        "test/test_helper.exs",
        "ExUnit"
    ));
}

#[test]
fn umbrella_apps_are_the_services() {
    let p = analyze_fixture("elixir-umbrella");
    assert!(p.monorepo);
    let paths: Vec<&str> = p.services.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["apps/ledger", "apps/ledger_web"],
        "the umbrella root is dropped"
    );

    let core = service(&p, "apps/ledger");
    assert_stack(
        core,
        "elixir",
        None,
        Some("mix"),
        Some("exunit"),
        Some(("~> 1.14", "apps/ledger/mix.exs (elixir)")),
    );
    assert_eq!(core.role, Role::Library);
    assert_eq!(dbs(core), vec!["mysql"]);
    assert_eq!(core.port, None);

    let web = service(&p, "apps/ledger_web");
    assert_stack(
        web,
        "elixir",
        Some("phoenix"),
        Some("mix"),
        Some("exunit"),
        Some(("~> 1.14", "apps/ledger_web/mix.exs (elixir)")),
    );
    // The umbrella's shared config holds the endpoint settings.
    assert_eq!(web.port, Some(4100));
    assert_eq!(web.port_source.as_deref(), Some("config/dev.exs"));
    // :ledger (in_umbrella) starts inside the web app and needs MySQL.
    assert_eq!(dbs(web), vec!["mysql"]);
    assert!(has_evidence(
        web,
        "database",
        "apps/ledger/mix.exs",
        "umbrella app :ledger"
    ));
    assert_eq!(
        web.commands.lint.as_deref(),
        Some("mix format --check-formatted")
    );
    assert!(has_evidence(web, "command", "mix.exs", "umbrella root"));
}

#[test]
fn plug_app_on_bandit_runs_with_mix_run() {
    let p = analyze_fixture("elixir-plug-bandit");
    let s = service(&p, ".");
    assert_stack(
        s,
        "elixir",
        None,
        Some("mix"),
        Some("exunit"),
        Some(("1.16.2-otp-26", "mise.toml (tools.elixir)")),
    );
    assert!(versions(s).contains(&("erlang", "26.2.3", "mise.toml (tools.erlang)")));
    assert_eq!(s.role, Role::Application);
    assert_eq!(s.port, Some(8080));
    assert_eq!(s.port_source.as_deref(), Some("config/config.exs"));
    assert_eq!(dbs(s), vec!["sqlite"]);
    assert_eq!(s.commands.start.as_deref(), Some("mix run --no-halt"));
    // No .formatter.exs: mix format is told what to check.
    assert_eq!(
        s.commands.lint.as_deref(),
        Some("mix format --check-formatted mix.exs \"{config,lib,test}/**/*.{ex,exs}\"")
    );
}

#[test]
fn elixir_library_uses_elixir_version_file() {
    let p = analyze_fixture("elixir-library");
    let s = service(&p, ".");
    assert_stack(
        s,
        "elixir",
        None,
        Some("mix"),
        Some("exunit"),
        Some(("1.15.7", ".elixir-version")),
    );
    assert!(versions(s).contains(&("elixir", "~> 1.14", "mix.exs (elixir)")));
    assert_eq!(s.role, Role::Library);
    assert_eq!(s.commands.start, None);
    assert_eq!(s.port, None);
}

#[test]
fn exunit_is_assumed_without_a_test_helper() {
    let p = analyze_tree(&[(
        "mix.exs",
        "defmodule A.MixProject do\n  use Mix.Project\n  def project, do: [app: :a, version: \"0.1.0\", deps: deps()]\n  defp deps, do: [{:phoenix, \"~> 1.7\"}]\nend\n",
    ), ("config/dev.exs", "config :a, AWeb.Endpoint, http: [ip: {127, 0, 0, 1}, port: 4002]\n")]);
    let s = service(&p, ".");
    assert_stack(
        s,
        "elixir",
        Some("phoenix"),
        Some("mix"),
        Some("exunit"),
        None,
    );
    assert!(has_evidence(
        s,
        "test_framework",
        "mix.exs",
        "ExUnit ships with Elixir"
    ));
    assert_eq!(s.port, Some(4002));
    assert_eq!(s.port_source.as_deref(), Some("config/dev.exs"));
}

#[test]
fn umbrella_root_without_apps_is_kept_as_a_library() {
    let p = analyze_tree(&[(
        "mix.exs",
        "defmodule U.MixProject do\n  use Mix.Project\n  def project, do: [apps_path: \"apps\", deps: []]\nend\n",
    )]);
    let s = service(&p, ".");
    assert_eq!(s.role, Role::Library);
    assert!(has_evidence(s, "role", "mix.exs", "umbrella project"));
}
