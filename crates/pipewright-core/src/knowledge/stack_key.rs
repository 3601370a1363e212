//! The stack fingerprint: the part of a [`ServiceProfile`] that decides which stored pipeline
//! fits a service. Retrieval filters on language and framework and ranks by how many of the
//! remaining fields agree, so two services with the same key can share a pipeline.

use crate::stack::{BuildTool, Database, Framework, Language, ServiceProfile, TestFramework};
use serde::{Deserialize, Serialize};

/// What a pipeline depends on in a service's stack.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StackKey {
    pub language: Language,
    pub framework: Option<Framework>,
    pub build_tool: Option<BuildTool>,
    pub test_framework: Option<TestFramework>,
    /// The major number of the runtime version (`3` for Python `^3.12`, `20` for Node `>=20`).
    pub runtime_major: Option<u32>,
    /// Sorted and without repeats, so equal sets compare equal.
    pub databases: Vec<Database>,
}

/// One field of a [`StackKey`], as weighed by [`StackKey::similarity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackField {
    Language,
    Framework,
    BuildTool,
    RuntimeMajor,
    TestFramework,
    Databases,
}

/// How much agreement on each field is worth. Each weight is larger than the sum of those
/// below it, so a closer match on a heavier field always wins over any lighter ones.
const SIMILARITY_WEIGHTS: &[(StackField, u32)] = &[
    (StackField::Language, 32),
    (StackField::Framework, 16),
    (StackField::BuildTool, 8),
    (StackField::RuntimeMajor, 4),
    (StackField::TestFramework, 2),
    (StackField::Databases, 1),
];

impl StackKey {
    /// A key with only a language; the other fields unknown.
    pub fn new(language: Language) -> Self {
        StackKey {
            language,
            framework: None,
            build_tool: None,
            test_framework: None,
            runtime_major: None,
            databases: Vec::new(),
        }
    }

    /// The fingerprint of one analyzed service.
    pub fn from_service(service: &ServiceProfile) -> Self {
        let mut databases = service.databases.clone();
        databases.sort();
        databases.dedup();
        StackKey {
            language: service.language,
            framework: service.framework,
            build_tool: service.build_tool,
            test_framework: service.test_framework,
            runtime_major: service
                .runtime_version
                .as_ref()
                .and_then(|v| major_version(&v.value)),
            databases,
        }
    }

    /// Sets the framework (builder style).
    pub fn with_framework(mut self, framework: Option<Framework>) -> Self {
        self.framework = framework;
        self
    }

    /// Sets the build tool (builder style).
    pub fn with_build_tool(mut self, build_tool: Option<BuildTool>) -> Self {
        self.build_tool = build_tool;
        self
    }

    /// Sets the databases, sorted and deduplicated (builder style).
    pub fn with_databases(mut self, mut databases: Vec<Database>) -> Self {
        databases.sort();
        databases.dedup();
        self.databases = databases;
        self
    }

    /// The canonical one-line text of the key, e.g.
    /// `language=python framework=django build_tool=poetry test=pytest runtime=3 databases=postgresql,redis`.
    /// Absent fields read `none`. Stable across runs: it is what embeddings are made from.
    pub fn fingerprint(&self) -> String {
        self.tokens().join(" ")
    }

    /// The fingerprint's `field=value` tokens, each with the field it came from.
    pub fn tokens(&self) -> Vec<String> {
        self.weighted_tokens().into_iter().map(|(t, _)| t).collect()
    }

    /// Tokens with their field, in a fixed order.
    pub fn weighted_tokens(&self) -> Vec<(String, StackField)> {
        vec![
            (format!("language={}", self.language), StackField::Language),
            (
                format!("framework={}", framework_name(self.framework)),
                StackField::Framework,
            ),
            (
                format!("build_tool={}", build_tool_name(self.build_tool)),
                StackField::BuildTool,
            ),
            (
                format!("test={}", test_framework_name(self.test_framework)),
                StackField::TestFramework,
            ),
            (
                format!(
                    "runtime={}",
                    self.runtime_major
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| NONE.to_string())
                ),
                StackField::RuntimeMajor,
            ),
            (
                format!(
                    "databases={}",
                    if self.databases.is_empty() {
                        NONE.to_string()
                    } else {
                        databases_text(&self.databases)
                    }
                ),
                StackField::Databases,
            ),
        ]
    }

    /// How closely `other` matches this key: the sum of the weights of the fields on which
    /// both agree (two unknowns agree). [`StackKey::MAX_SIMILARITY`] means the same stack.
    pub fn similarity(&self, other: &StackKey) -> u32 {
        SIMILARITY_WEIGHTS
            .iter()
            .filter(|(field, _)| self.agrees(other, *field))
            .map(|(_, w)| w)
            .sum()
    }

    /// The similarity of a key with itself.
    pub const MAX_SIMILARITY: u32 = 63;

    fn agrees(&self, other: &StackKey, field: StackField) -> bool {
        match field {
            StackField::Language => self.language == other.language,
            StackField::Framework => self.framework == other.framework,
            StackField::BuildTool => self.build_tool == other.build_tool,
            StackField::RuntimeMajor => self.runtime_major == other.runtime_major,
            StackField::TestFramework => self.test_framework == other.test_framework,
            StackField::Databases => self.databases == other.databases,
        }
    }
}

/// The word stored and filtered on when a framework, build tool or test framework is unknown.
pub const NONE: &str = "none";

/// The stored name of an optional framework (`none` when absent).
pub fn framework_name(framework: Option<Framework>) -> &'static str {
    framework.map(|f| f.as_str()).unwrap_or(NONE)
}

/// The stored name of an optional build tool (`none` when absent).
pub fn build_tool_name(build_tool: Option<BuildTool>) -> &'static str {
    build_tool.map(|b| b.as_str()).unwrap_or(NONE)
}

/// The stored name of an optional test framework (`none` when absent).
pub fn test_framework_name(test_framework: Option<TestFramework>) -> &'static str {
    test_framework.map(|t| t.as_str()).unwrap_or(NONE)
}

/// Parses a stored name where `none` (any case) means absent.
pub fn parse_or_none<T: std::str::FromStr<Err = String>>(text: &str) -> Result<Option<T>, String> {
    if text.trim().eq_ignore_ascii_case(NONE) {
        Ok(None)
    } else {
        text.parse().map(Some)
    }
}

/// The databases as stored: names joined by `,` (empty for none).
pub fn databases_text(databases: &[Database]) -> String {
    databases
        .iter()
        .map(|d| d.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads [`databases_text`] back.
pub fn parse_databases(text: &str) -> Result<Vec<Database>, String> {
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// The first run of digits in a version constraint: `^3.12` → 3, `>=20.1` → 20, `~> 3.2` → 3,
/// `v18` → 18. `None` when there is no number (`lts/*`, `latest`).
pub fn major_version(constraint: &str) -> Option<u32> {
    let start = constraint.find(|c: char| c.is_ascii_digit())?;
    let digits: String = constraint[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn django() -> StackKey {
        StackKey::new(Language::Python)
            .with_framework(Some(Framework::Django))
            .with_build_tool(Some(BuildTool::Poetry))
            .with_databases(vec![Database::Redis, Database::Postgresql, Database::Redis])
    }

    #[test]
    fn max_similarity_is_the_sum_of_the_weights() {
        let sum: u32 = SIMILARITY_WEIGHTS.iter().map(|(_, w)| w).sum();
        assert_eq!(sum, StackKey::MAX_SIMILARITY);
        assert_eq!(django().similarity(&django()), StackKey::MAX_SIMILARITY);
    }

    #[test]
    fn a_heavier_field_outweighs_all_lighter_ones() {
        for (i, (_, w)) in SIMILARITY_WEIGHTS.iter().enumerate() {
            let lighter: u32 = SIMILARITY_WEIGHTS[i + 1..].iter().map(|(_, w)| w).sum();
            assert!(*w > lighter);
        }
        let other_tool = django().with_build_tool(Some(BuildTool::Pip));
        let mut other_rest = django();
        other_rest.runtime_major = Some(3);
        other_rest.test_framework = Some(TestFramework::Pytest);
        other_rest.databases.clear();
        assert!(django().similarity(&other_rest) > django().similarity(&other_tool));
    }

    #[test]
    fn fingerprint_is_canonical() {
        assert_eq!(
            django().fingerprint(),
            "language=python framework=django build_tool=poetry test=none runtime=none databases=postgresql,redis"
        );
    }

    #[test]
    fn stored_names_read_back() {
        assert_eq!(parse_or_none::<Framework>("none"), Ok(None));
        assert_eq!(
            parse_or_none::<Framework>("django"),
            Ok(Some(Framework::Django))
        );
        assert!(parse_or_none::<Framework>("cobol").is_err());
        let dbs = vec![Database::Postgresql, Database::Redis];
        assert_eq!(parse_databases(&databases_text(&dbs)), Ok(dbs));
        assert_eq!(parse_databases(""), Ok(vec![]));
    }

    #[test]
    fn major_versions_are_read_from_constraints() {
        for (text, want) in [
            ("^3.12", Some(3)),
            (">=20.1", Some(20)),
            ("~> 3.2", Some(3)),
            ("v18", Some(18)),
            ("17", Some(17)),
            ("lts/*", None),
        ] {
            assert_eq!(major_version(text), want, "{text}");
        }
    }
}
