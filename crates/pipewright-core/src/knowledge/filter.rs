//! Metadata filters: equality conditions on a record's language, framework, build tool and
//! source, all joined by AND. Both backends understand the same [`Filter`]: the embedded one
//! checks it in memory and in SQL, ChromaDB receives it as a `where` clause.

use super::record::{Record, RecordSource};
use super::stack_key::{build_tool_name, framework_name};
use crate::stack::{BuildTool, Framework, Language};

/// A metadata field that can be filtered on. Its [`MetaKey::name`] is the stored key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetaKey {
    Language,
    Framework,
    BuildTool,
    Source,
}

impl MetaKey {
    /// Every filterable key.
    pub const ALL: [MetaKey; 4] = [
        MetaKey::Language,
        MetaKey::Framework,
        MetaKey::BuildTool,
        MetaKey::Source,
    ];

    /// The stored metadata key (a SQLite column, a ChromaDB metadata key).
    pub fn name(self) -> &'static str {
        match self {
            MetaKey::Language => "language",
            MetaKey::Framework => "framework",
            MetaKey::BuildTool => "build_tool",
            MetaKey::Source => "source",
        }
    }

    /// The record's stored value for this key (`none` for an absent framework or build tool).
    pub fn value_of(self, record: &Record) -> &'static str {
        match self {
            MetaKey::Language => record.stack.language.as_str(),
            MetaKey::Framework => framework_name(record.stack.framework),
            MetaKey::BuildTool => build_tool_name(record.stack.build_tool),
            MetaKey::Source => record.source.as_str(),
        }
    }
}

/// Equality conditions joined by AND; the empty filter matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    conditions: Vec<(MetaKey, &'static str)>,
}

impl Filter {
    /// Matches every record.
    pub fn all() -> Self {
        Filter::default()
    }

    /// Only records for `language`.
    pub fn language(self, language: Language) -> Self {
        self.with(MetaKey::Language, language.as_str())
    }

    /// Only records for `framework`; `None` selects records without a framework.
    pub fn framework(self, framework: Option<Framework>) -> Self {
        self.with(MetaKey::Framework, framework_name(framework))
    }

    /// Only records for `build_tool`; `None` selects records without one.
    pub fn build_tool(self, build_tool: Option<BuildTool>) -> Self {
        self.with(MetaKey::BuildTool, build_tool_name(build_tool))
    }

    /// Only records from `source`.
    pub fn source(self, source: RecordSource) -> Self {
        self.with(MetaKey::Source, source.as_str())
    }

    /// Sets one condition, replacing an earlier one on the same key.
    fn with(mut self, key: MetaKey, value: &'static str) -> Self {
        self.conditions.retain(|(k, _)| *k != key);
        self.conditions.push((key, value));
        self.conditions.sort();
        self
    }

    /// The conditions, sorted by key.
    pub fn conditions(&self) -> &[(MetaKey, &'static str)] {
        &self.conditions
    }

    /// The wanted value for `key`, if the filter has a condition on it.
    pub fn get(&self, key: MetaKey) -> Option<&'static str> {
        self.conditions
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }

    /// True when `record` meets every condition.
    pub fn matches(&self, record: &Record) -> bool {
        self.conditions
            .iter()
            .all(|(k, v)| k.value_of(record) == *v)
    }

    /// True when there is no condition.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::{Collection, StackKey};

    #[test]
    fn conditions_are_anded_and_none_matches_absent_fields() {
        let r = Record::new(
            Collection::Templates,
            "t",
            StackKey::new(Language::Ruby),
            None,
            Some("FROM ruby".into()),
            RecordSource::Imported,
            0,
        );
        assert!(Filter::all().matches(&r));
        assert!(Filter::all()
            .language(Language::Ruby)
            .framework(None)
            .matches(&r));
        assert!(!Filter::all()
            .language(Language::Ruby)
            .framework(Some(Framework::Rails))
            .matches(&r));
        assert!(!Filter::all().source(RecordSource::Learned).matches(&r));
    }

    #[test]
    fn a_later_condition_on_the_same_key_replaces_the_earlier() {
        let f = Filter::all()
            .language(Language::Go)
            .language(Language::Rust);
        assert_eq!(f.conditions(), &[(MetaKey::Language, "rust")]);
    }
}
