//! What the knowledge store holds: a [`Record`] (a pipeline file and/or a Dockerfile with the
//! stack they fit and where they came from), the seed's three [`Collection`]s, and the checks
//! every record passes before a backend writes it.
//!
//! Ids of learned pipelines follow the seed: `manual_<language>_<framework>_<sha256[:12]>`,
//! where the hash covers both files, so storing the same pair twice finds the same record.

use super::stack_key::{framework_name, StackKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// The largest pipeline file or Dockerfile a record may hold.
pub const MAX_FILE_BYTES: usize = 256 * 1024;
/// The largest description or feedback comment a record may hold.
pub const MAX_NOTE_BYTES: usize = 16 * 1024;
/// The longest record id.
pub const MAX_ID_LEN: usize = 200;

/// One of the seed's three collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Collection {
    /// Starting templates by language (and framework): built in or imported.
    Templates,
    /// Pipelines that went fully green, learned from real runs.
    Successful,
    /// Human corrections of generated files, with a comment.
    Feedback,
}

/// Text names of a closed set, with `ALL`, `as_str`, `Display`, `FromStr` and serde.
macro_rules! text_enum {
    ($name:ident, $what:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored name.
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
                let wanted = s.trim();
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == wanted)
                    .ok_or_else(|| {
                        let known: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                        format!("unknown {} `{}`; known: {}", $what, s, known.join(", "))
                    })
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        /// In the OpenAPI document: a string, one of the stored names.
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

text_enum!(Collection, "collection" {
    Templates => "pipeline_templates",
    Successful => "successful_pipelines",
    Feedback => "pipeline_feedback",
});

/// Where a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordSource {
    /// Written by pipewright's own generator and exported as a starting template.
    BuiltIn,
    /// Read from a folder by `pipewright templates import`.
    Imported,
    /// Stored after a pipeline went fully green.
    Learned,
    /// A human's correction of a generated file.
    Feedback,
}

text_enum!(RecordSource, "record source" {
    BuiltIn => "built-in",
    Imported => "imported",
    Learned => "learned",
    Feedback => "feedback",
});

/// The project and pipeline a record came from, where known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Origin {
    /// The GitLab project (id or path) or repository URL, credentials removed.
    pub project: Option<String>,
    /// The GitLab pipeline id.
    pub pipeline: Option<String>,
}

/// One stored pipeline/Dockerfile pair (either file may be absent in a template).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Record {
    /// Unique within its collection; letters, digits, `.`, `_`, `-`.
    pub id: String,
    pub collection: Collection,
    /// The stack the files fit.
    #[serde(flatten)]
    pub stack: StackKey,
    /// The `.gitlab-ci.yml` text.
    pub gitlab_ci: Option<String>,
    /// The `Dockerfile` text.
    pub dockerfile: Option<String>,
    /// Entries in the pipeline's `stages:` list (0 without a pipeline file).
    pub stages_count: u32,
    pub source: RecordSource,
    /// How many times this exact pair went green (or was given as a correction).
    pub success_count: u32,
    /// Lowercase hex sha256 of the pipeline text followed by the Dockerfile text.
    pub content_hash: String,
    /// Seconds since the Unix epoch, UTC.
    pub created_at: i64,
    /// Seconds since the Unix epoch, UTC.
    pub updated_at: i64,
    #[serde(default)]
    pub origin: Origin,
    /// What the template is for (imported templates).
    pub description: Option<String>,
    /// What the human changed and why (feedback).
    pub comment: Option<String>,
}

/// Why a record cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record id `{id}` is not usable: {reason}; use 1-{MAX_ID_LEN} letters, digits, `.`, `_` or `-`")]
    InvalidId { id: String, reason: String },
    #[error("record `{id}` holds neither a pipeline file nor a Dockerfile; give at least one")]
    NoFiles { id: String },
    #[error(
        "record `{id}`: its {what} is {size} bytes, more than the {limit}-byte limit; shorten it"
    )]
    TooLarge {
        id: String,
        what: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("record `{id}`: its content hash `{stored}` does not match its files (`{actual}`); recompute it with Record::rehash")]
    HashMismatch {
        id: String,
        stored: String,
        actual: String,
    },
}

/// The seed's content hash: sha256 over the pipeline text then the Dockerfile text (an absent
/// file counts as empty), as lowercase hex.
pub fn content_hash(gitlab_ci: Option<&str>, dockerfile: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(gitlab_ci.unwrap_or("").as_bytes());
    h.update(dockerfile.unwrap_or("").as_bytes());
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

/// The id part for a framework: its name with anything but letters, digits and `-` turned
/// into `-` (`net/http` → `net-http`), or `none`.
pub fn framework_slug(stack: &StackKey) -> String {
    framework_name(stack.framework)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// `<prefix>_<language>_<framework>_<hash[:12]>`.
pub fn stack_id(prefix: &str, stack: &StackKey, hash: &str) -> String {
    format!(
        "{prefix}_{}_{}_{}",
        stack.language,
        framework_slug(stack),
        hash.get(..12).unwrap_or(hash)
    )
}

/// Counts the entries of a pipeline's top-level `stages:` list (0 when it has none or does
/// not parse).
pub fn count_stages(gitlab_ci: &str) -> u32 {
    match crate::yaml::to_json(gitlab_ci) {
        Ok(v) => v
            .get("stages")
            .and_then(|s| s.as_array())
            .map(|a| a.len() as u32)
            .unwrap_or(0),
        Err(_) => 0,
    }
}

impl Record {
    /// A record with the given files; hash and stage count are computed, counts start at 0.
    pub fn new(
        collection: Collection,
        id: impl Into<String>,
        stack: StackKey,
        gitlab_ci: Option<String>,
        dockerfile: Option<String>,
        source: RecordSource,
        now: i64,
    ) -> Self {
        let mut r = Record {
            id: id.into(),
            collection,
            stack,
            gitlab_ci,
            dockerfile,
            stages_count: 0,
            source,
            success_count: 0,
            content_hash: String::new(),
            created_at: now,
            updated_at: now,
            origin: Origin::default(),
            description: None,
            comment: None,
        };
        r.rehash();
        r
    }

    /// A pipeline that went fully green: id `manual_<language>_<framework>_<sha256[:12]>` in
    /// `successful_pipelines`, success count 1.
    pub fn learned(
        stack: StackKey,
        gitlab_ci: String,
        dockerfile: String,
        origin: Origin,
        now: i64,
    ) -> Self {
        let hash = content_hash(Some(&gitlab_ci), Some(&dockerfile));
        let id = stack_id("manual", &stack, &hash);
        let mut r = Record::new(
            Collection::Successful,
            id,
            stack,
            Some(gitlab_ci),
            Some(dockerfile),
            RecordSource::Learned,
            now,
        );
        r.success_count = 1;
        r.origin = origin;
        r
    }

    /// A human correction (either file or both) of what was generated for `stack`: id
    /// `feedback_<language>_<framework>_<sha256[:12]>` in `pipeline_feedback`, count 1.
    pub fn feedback(
        stack: StackKey,
        gitlab_ci: Option<String>,
        dockerfile: Option<String>,
        comment: String,
        origin: Origin,
        now: i64,
    ) -> Self {
        let hash = content_hash(gitlab_ci.as_deref(), dockerfile.as_deref());
        let id = stack_id("feedback", &stack, &hash);
        let mut r = Record::new(
            Collection::Feedback,
            id,
            stack,
            gitlab_ci,
            dockerfile,
            RecordSource::Feedback,
            now,
        );
        r.success_count = 1;
        r.comment = Some(comment);
        r.origin = origin;
        r
    }

    /// Recomputes the content hash and the stage count from the files.
    pub fn rehash(&mut self) {
        self.content_hash = content_hash(self.gitlab_ci.as_deref(), self.dockerfile.as_deref());
        self.stages_count = self.gitlab_ci.as_deref().map(count_stages).unwrap_or(0);
    }

    /// True when both files are present (the seed's `chromadb-direct` path).
    pub fn has_both_files(&self) -> bool {
        self.gitlab_ci.is_some() && self.dockerfile.is_some()
    }

    /// Made by a person rather than shipped: learned `manual_` pipelines and corrections.
    pub fn is_user_made(&self) -> bool {
        self.id.starts_with("manual_") || self.collection == Collection::Feedback
    }

    /// The text an embedding is made from besides the stack: both files and any comment.
    pub fn embedding_text(&self) -> String {
        [
            self.gitlab_ci.as_deref(),
            self.dockerfile.as_deref(),
            self.comment.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n")
    }

    /// The record that results from storing `self` again: one more success, the original
    /// creation time, the newer update time and origin (when known).
    pub fn repeated(existing: &Record, again: &Record) -> Record {
        let mut merged = existing.clone();
        merged.success_count = existing.success_count.saturating_add(1);
        merged.updated_at = again.updated_at.max(existing.updated_at);
        if again.origin.project.is_some() || again.origin.pipeline.is_some() {
            merged.origin = again.origin.clone();
        }
        if again.comment.is_some() {
            merged.comment = again.comment.clone();
        }
        merged
    }

    /// Structural checks every backend runs before writing: usable id, at least one file,
    /// sizes within limits, hash matching the files.
    pub fn check(&self) -> Result<(), RecordError> {
        check_id(&self.id)?;
        if self.gitlab_ci.is_none() && self.dockerfile.is_none() {
            return Err(RecordError::NoFiles {
                id: self.id.clone(),
            });
        }
        let sized: [(&'static str, Option<&str>, usize); 4] = [
            ("pipeline file", self.gitlab_ci.as_deref(), MAX_FILE_BYTES),
            ("Dockerfile", self.dockerfile.as_deref(), MAX_FILE_BYTES),
            ("description", self.description.as_deref(), MAX_NOTE_BYTES),
            ("comment", self.comment.as_deref(), MAX_NOTE_BYTES),
        ];
        for (what, text, limit) in sized {
            let size = text.map(str::len).unwrap_or(0);
            if size > limit {
                return Err(RecordError::TooLarge {
                    id: self.id.clone(),
                    what,
                    size,
                    limit,
                });
            }
        }
        let actual = content_hash(self.gitlab_ci.as_deref(), self.dockerfile.as_deref());
        if actual != self.content_hash {
            return Err(RecordError::HashMismatch {
                id: self.id.clone(),
                stored: self.content_hash.clone(),
                actual,
            });
        }
        Ok(())
    }

    /// Content problems worth refusing an import for: a pipeline that does not parse as a
    /// YAML mapping, a Dockerfile without a `FROM` instruction. Pipewright's full validator
    /// is passed to the import separately.
    pub fn content_findings(&self) -> Vec<String> {
        let mut findings = Vec::new();
        if let Some(ci) = &self.gitlab_ci {
            match crate::yaml::to_json(ci) {
                Ok(v) if v.is_object() => {}
                Ok(_) => findings.push(".gitlab-ci.yml: the top level is not a mapping".into()),
                Err(e) => findings.push(format!(".gitlab-ci.yml: {e}")),
            }
        }
        if let Some(df) = &self.dockerfile {
            let has_from = df.lines().any(|l| {
                l.trim_start()
                    .get(..5)
                    .is_some_and(|w| w.eq_ignore_ascii_case("from "))
            });
            if !has_from {
                findings.push("Dockerfile: no FROM instruction".into());
            }
        }
        findings
    }
}

/// Checks that an id is usable as a key and as a folder name on export.
pub fn check_id(id: &str) -> Result<(), RecordError> {
    let bad = |reason: &str| {
        Err(RecordError::InvalidId {
            id: id.chars().take(MAX_ID_LEN).collect(),
            reason: reason.to_string(),
        })
    };
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.len() > MAX_ID_LEN {
        return bad("it is too long");
    }
    if id.starts_with('.') {
        return bad("it starts with `.`");
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return bad(&format!("it contains `{}`", c.escape_default()));
    }
    Ok(())
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC (`2026-02-09T14:03:00Z`).
pub fn format_timestamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm), valid for the whole i64 day range we use.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{Framework, Language};

    fn stack() -> StackKey {
        StackKey::new(Language::Go).with_framework(Some(Framework::NetHttp))
    }

    #[test]
    fn learned_ids_follow_the_seed() {
        let r = Record::learned(
            stack(),
            "stages: [a, b]\n".into(),
            "FROM x\n".into(),
            Origin::default(),
            0,
        );
        let hash = content_hash(Some("stages: [a, b]\n"), Some("FROM x\n"));
        assert_eq!(r.id, format!("manual_go_net-http_{}", &hash[..12]));
        assert_eq!(r.stages_count, 2);
        assert_eq!(r.success_count, 1);
        assert!(r.is_user_made());
        assert!(r.check().is_ok());
    }

    #[test]
    fn hash_is_sha256_of_both_files() {
        // sha256("abc")
        assert_eq!(
            content_hash(Some("a"), Some("bc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn checks_refuse_bad_ids_empty_and_oversize_records() {
        let mut r = Record::new(
            Collection::Templates,
            "../etc",
            stack(),
            None,
            Some("FROM x".into()),
            RecordSource::Imported,
            0,
        );
        assert!(matches!(r.check(), Err(RecordError::InvalidId { .. })));
        r.id = "ok".into();
        assert!(r.check().is_ok());
        r.dockerfile = None;
        r.rehash();
        assert!(matches!(r.check(), Err(RecordError::NoFiles { .. })));
        r.gitlab_ci = Some("x".repeat(MAX_FILE_BYTES + 1));
        r.rehash();
        assert!(matches!(r.check(), Err(RecordError::TooLarge { .. })));
        r.gitlab_ci = Some("a: 1".into());
        assert!(matches!(r.check(), Err(RecordError::HashMismatch { .. })));
    }

    #[test]
    fn content_findings_name_the_file() {
        let r = Record::new(
            Collection::Templates,
            "t",
            stack(),
            Some("a: [1,\n".into()),
            Some("RUN x\n".into()),
            RecordSource::Imported,
            0,
        );
        let f = r.content_findings();
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].starts_with(".gitlab-ci.yml"));
        assert!(f[1].contains("FROM"));
    }

    #[test]
    fn repeating_raises_the_count_and_keeps_creation_time() {
        let first = Record::learned(
            stack(),
            "a: 1".into(),
            "FROM x".into(),
            Origin::default(),
            10,
        );
        let mut again = first.clone();
        again.updated_at = 20;
        again.origin.pipeline = Some("77".into());
        let merged = Record::repeated(&first, &again);
        assert_eq!(merged.success_count, 2);
        assert_eq!(merged.created_at, 10);
        assert_eq!(merged.updated_at, 20);
        assert_eq!(merged.origin.pipeline.as_deref(), Some("77"));
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(1_770_645_780), "2026-02-09T14:03:00Z");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29T00:00:00Z");
    }
}
