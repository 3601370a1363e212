//! The closed sets of the stack model, and their public names.
//!
//! Each enum serializes to exactly one lowercase name; those names are the contract of
//! `analyze --json` and of the knowledge store's metadata, so they never change.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The public, lowercase name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let wanted = s.trim().to_ascii_lowercase();
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == wanted)
                    .ok_or_else(|| {
                        let known: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                        format!("unknown {} `{}`; known: {}", stringify!($name), s, known.join(", "))
                    })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        /// In the OpenAPI document: a string, one of the public names.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

named_enum!(
    /// A language pipewright can build a pipeline for.
    Language {
        Ruby => "ruby",
        Python => "python",
        JavaScript => "javascript",
        TypeScript => "typescript",
        Java => "java",
        Kotlin => "kotlin",
        Go => "go",
        Rust => "rust",
        Php => "php",
        CSharp => "csharp",
        Elixir => "elixir",
    }
);

named_enum!(
    /// An application framework, recognised from dependency manifests only.
    Framework {
        Sinatra => "sinatra",
        Rails => "rails",
        Hanami => "hanami",
        Django => "django",
        Flask => "flask",
        FastApi => "fastapi",
        Express => "express",
        NextJs => "nextjs",
        NestJs => "nestjs",
        React => "react",
        Vue => "vue",
        Angular => "angular",
        Svelte => "svelte",
        SpringBoot => "spring-boot",
        Quarkus => "quarkus",
        Micronaut => "micronaut",
        Ktor => "ktor",
        Gin => "gin",
        Echo => "echo",
        Fiber => "fiber",
        Chi => "chi",
        NetHttp => "net/http",
        Axum => "axum",
        ActixWeb => "actix-web",
        Rocket => "rocket",
        Laravel => "laravel",
        Symfony => "symfony",
        AspNetCore => "aspnetcore",
        Phoenix => "phoenix",
    }
);

impl Framework {
    /// Frameworks whose output is static files served by a web server, not a process of their own.
    pub fn is_static_frontend(self) -> bool {
        matches!(
            self,
            Framework::React | Framework::Vue | Framework::Angular | Framework::Svelte
        )
    }
}

named_enum!(
    /// The package manager or build tool that installs and builds a service.
    BuildTool {
        Bundler => "bundler",
        Pip => "pip",
        Poetry => "poetry",
        Pipenv => "pipenv",
        Uv => "uv",
        Pdm => "pdm",
        Npm => "npm",
        Yarn => "yarn",
        Pnpm => "pnpm",
        Bun => "bun",
        Maven => "maven",
        Gradle => "gradle",
        Go => "go",
        Cargo => "cargo",
        Composer => "composer",
        Dotnet => "dotnet",
        Mix => "mix",
    }
);

named_enum!(
    /// The test framework a service's tests are written for.
    TestFramework {
        Rspec => "rspec",
        Minitest => "minitest",
        Pytest => "pytest",
        Unittest => "unittest",
        Jest => "jest",
        Vitest => "vitest",
        Mocha => "mocha",
        Playwright => "playwright",
        Junit => "junit",
        GoTest => "go-test",
        CargoTest => "cargo-test",
        Phpunit => "phpunit",
        Pest => "pest",
        Xunit => "xunit",
        Nunit => "nunit",
        Mstest => "mstest",
        Exunit => "exunit",
    }
);

named_enum!(
    /// A database, cache or broker a service needs at run time (and in its tests).
    Database {
        Postgresql => "postgresql",
        Mysql => "mysql",
        Mariadb => "mariadb",
        Sqlite => "sqlite",
        Redis => "redis",
        Mongodb => "mongodb",
        Memcached => "memcached",
        Elasticsearch => "elasticsearch",
        Rabbitmq => "rabbitmq",
        Kafka => "kafka",
        Cassandra => "cassandra",
        Mssql => "mssql",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde() {
        for f in Framework::ALL {
            let json = serde_json::to_string(f).unwrap();
            let back: Framework = serde_json::from_str(&json).unwrap();
            assert_eq!(*f, back);
        }
        assert_eq!(Framework::SpringBoot.as_str(), "spring-boot");
        assert_eq!(TestFramework::GoTest.as_str(), "go-test");
    }

    #[test]
    fn unknown_name_is_an_error_listing_the_known_ones() {
        let err = "cobol".parse::<Language>().unwrap_err();
        assert!(err.contains("ruby"), "{err}");
    }
}
