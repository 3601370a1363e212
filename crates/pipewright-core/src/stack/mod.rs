//! The stack model: what pipewright concluded about a repository, and why.
//!
//! A [`StackProfile`] is the analyzer's answer: the languages by share, and one
//! [`ServiceProfile`] per deployable (or library) folder, each conclusion backed by
//! [`Evidence`]. Closed sets (languages, frameworks, build tools, test frameworks,
//! databases) are enums whose serialized names are the public contract of
//! `pipewright analyze --json`.

mod names;

pub use names::{BuildTool, Database, Framework, Language, TestFramework};

use serde::{Deserialize, Serialize};

/// The version of the machine contract of `pipewright analyze --json` and `generate --json`
/// (and the API's analyze and generate answers), described by `schemas/analysis.schema.json`
/// and `schemas/generate.schema.json`. Adding a field keeps it; removing a field or changing
/// what one means raises it.
pub const SCHEMA_VERSION: u32 = 1;

/// Serializes as [`SCHEMA_VERSION`]; reading another version is an error naming both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchemaVersion;

impl Serialize for SchemaVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(SCHEMA_VERSION)
    }
}

impl<'de> Deserialize<'de> for SchemaVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = u32::deserialize(deserializer)?;
        if v == SCHEMA_VERSION {
            Ok(SchemaVersion)
        } else {
            Err(serde::de::Error::custom(format!(
                "schema_version {v} is not supported: this pipewright reads version {SCHEMA_VERSION}"
            )))
        }
    }
}

/// Everything the analyzer concluded about one repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StackProfile {
    /// The contract version ([`SCHEMA_VERSION`]); absent in profiles written before it existed.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = u32, example = 1))]
    pub schema_version: SchemaVersion,
    /// What was analyzed, as the user named it (a path or a URL).
    pub root: String,
    /// The language of the main deployable service, not simply the biggest by bytes.
    pub primary_language: Option<Language>,
    /// True when more than one service was found.
    pub monorepo: bool,
    /// Languages by share of the counted (non-vendored, non-generated, non-doc) bytes.
    pub languages: Vec<LanguageShare>,
    pub services: Vec<ServiceProfile>,
    pub warnings: Vec<String>,
    /// How many files the index held, and how many were left out of the language share.
    pub index: IndexSummary,
}

/// Counts that say how much of the tree the analysis saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IndexSummary {
    pub files: usize,
    pub excluded_from_share: usize,
    pub files_read: usize,
    /// Counted files whose size was measured; when fewer than all, `bytes` and `share` are
    /// estimates (unmeasured files count at their language's mean size).
    pub sizes_measured: usize,
    pub bytes_estimated: bool,
}

/// One language's share of the repository's counted source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LanguageShare {
    /// Lowercase language name (`python`, `typescript`, `html`, `shell` …).
    pub name: String,
    pub files: usize,
    pub bytes: u64,
    /// Fraction of counted bytes, 0.0–1.0, rounded to four decimals.
    pub share: f64,
}

/// One service: a folder with its own manifest, and what it needs to build and run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceProfile {
    /// Folder relative to the root, `"."` for the root itself.
    pub path: String,
    pub language: Language,
    pub framework: Option<Framework>,
    pub build_tool: Option<BuildTool>,
    pub test_framework: Option<TestFramework>,
    pub runtime_version: Option<RuntimeVersion>,
    pub port: Option<u16>,
    /// Where the port came from: a file, or `framework default (<name>)`.
    pub port_source: Option<String>,
    pub databases: Vec<Database>,
    pub commands: Commands,
    /// Other stacks present in the same folder that are not the deployable application.
    pub secondary: Vec<Secondary>,
    pub evidence: Vec<Evidence>,
    /// Every version pin seen for this service (runtime and tools), in priority order.
    pub versions: Vec<RuntimeVersion>,
    /// What kind of thing this folder is.
    pub role: Role,
    /// Variables the repository's own CI sets for its tests to reach a database (names only,
    /// never values): the generated test job sets the same names to its test services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_variables: Vec<TestVariable>,
}

/// A variable the repository's CI sets so its tests find a database (`DB_HOST`, `PGHOST`,
/// `REDIS_URL`): which database, and which part of the connection it carries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestVariable {
    pub name: String,
    pub database: Database,
    pub part: ConnectionPart,
    /// The CI file that sets it.
    pub source: String,
}

/// The part of a database connection a variable carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConnectionPart {
    Host,
    Port,
    User,
    Password,
    Name,
    Url,
}

impl ConnectionPart {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionPart::Host => "host",
            ConnectionPart::Port => "port",
            ConnectionPart::User => "user",
            ConnectionPart::Password => "password",
            ConnectionPart::Name => "name",
            ConnectionPart::Url => "url",
        }
    }
}

/// A runtime or tool version exactly as written, with the file it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuntimeVersion {
    /// `python`, `node`, `ruby`, `java`, `go`, `rust`, `php`, `dotnet`, `elixir`, or a tool (`pnpm`, `poetry` …).
    pub name: String,
    /// The raw constraint as written (`^3.9`, `>=18`, `3.12.1`).
    pub value: String,
    /// The file (relative to the root) and, where useful, the key inside it.
    pub source: String,
}

/// The commands a pipeline would run for this service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Commands {
    pub install: Option<String>,
    pub build: Option<String>,
    pub test: Option<String>,
    pub lint: Option<String>,
    pub start: Option<String>,
}

/// A stack that is present but was not chosen as the service's own, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Secondary {
    pub language: Language,
    pub framework: Option<Framework>,
    pub reason: String,
}

/// One reason behind one conclusion.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evidence {
    /// What was concluded: `language`, `framework`, `build_tool`, `test_framework`,
    /// `runtime_version`, `port`, `database`, `command`, `role`, or `warning`.
    pub conclusion: String,
    /// The file (relative to the root) that shows it.
    pub file: String,
    pub detail: String,
}

impl Evidence {
    pub fn new(conclusion: &str, file: impl Into<String>, detail: impl Into<String>) -> Self {
        Evidence {
            conclusion: conclusion.to_string(),
            file: file.into(),
            detail: detail.into(),
        }
    }
}

/// What a folder with a manifest is for; decides which of several stacks is the service's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A workspace root that only lists member packages (Cargo virtual workspace, Maven
    /// parent POM, npm workspaces root, `go.work`). Not a service when members exist.
    Aggregator,
    /// Front-end asset tooling beside another stack (a Tailwind or Vite `package.json`).
    AssetTooling,
    /// A library or tool with no server framework and no start command.
    Library,
    /// Something that runs: a server framework, or a start command.
    Application,
}
