//! Retrieval in the seed's priority order, with the reason for the pick.
//!
//! 1. a successful pipeline for the same language + framework, human corrections from
//!    `pipeline_feedback` for the same stack ranked with them;
//! 2. a template for the language + framework;
//! 3. a template for the language alone (stored without a framework);
//! 4. nothing: the built-in generator writes the pipeline.
//!
//! Within a rank the nearest [`CANDIDATES`] by vector are ordered by [`rank`]: the most similar
//! stack first; among equals, user-made ones (`manual_` and corrections), then more stages,
//! then more successes. A store that fails never stops generation: the answer is rank 4 with
//! the failure in `warnings`.

use super::filter::Filter;
use super::record::{Collection, Record};
use super::stack_key::StackKey;
use super::{KnowledgeStore, Query, Scored, StoreError};
use serde::Serialize;
use std::cmp::Ordering;

/// How many nearest records per collection are ranked.
pub const CANDIDATES: usize = 32;

/// Which of the four priorities the pick came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetrievalRank {
    SuccessfulPipeline,
    FrameworkTemplate,
    LanguageTemplate,
    BuiltIn,
}

impl RetrievalRank {
    /// 1 to 4, the seed's priority number.
    pub fn number(self) -> u8 {
        match self {
            RetrievalRank::SuccessfulPipeline => 1,
            RetrievalRank::FrameworkTemplate => 2,
            RetrievalRank::LanguageTemplate => 3,
            RetrievalRank::BuiltIn => 4,
        }
    }

    /// Words for people: `successful pipeline`, `framework template` …
    pub fn label(self) -> &'static str {
        match self {
            RetrievalRank::SuccessfulPipeline => "successful pipeline",
            RetrievalRank::FrameworkTemplate => "framework template",
            RetrievalRank::LanguageTemplate => "language template",
            RetrievalRank::BuiltIn => "built-in generator",
        }
    }
}

/// The seed's generation path for a pick: used as is, or adapted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum RagPath {
    /// Both files present: used as they are (`[RAG Template]`).
    #[serde(rename = "chromadb-direct")]
    Direct,
    /// One file present: a reference the LLM adapts (`[RAG + LLM]`).
    #[serde(rename = "chromadb-reference")]
    Reference,
}

impl RagPath {
    /// The seed's name: `chromadb-direct` or `chromadb-reference`.
    pub fn as_str(self) -> &'static str {
        match self {
            RagPath::Direct => "chromadb-direct",
            RagPath::Reference => "chromadb-reference",
        }
    }

    /// The seed's commit message tag.
    pub fn commit_tag(self) -> &'static str {
        match self {
            RagPath::Direct => "[RAG Template]",
            RagPath::Reference => "[RAG + LLM]",
        }
    }

    /// The path a record leads to.
    pub fn for_record(record: &Record) -> RagPath {
        if record.has_both_files() {
            RagPath::Direct
        } else {
            RagPath::Reference
        }
    }
}

/// What retrieval picked, from which rank, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retrieval {
    pub pick: Option<Record>,
    pub rank: RetrievalRank,
    /// `None` when nothing was picked.
    pub path: Option<RagPath>,
    pub reason: String,
    /// Problems met on the way (a store that failed), for the user to see.
    pub warnings: Vec<String>,
}

impl Retrieval {
    /// Rank 4 because the store named `store` failed (could not be opened or searched), with
    /// the failure in `warnings`: generation goes on with the built-in generator.
    pub fn store_failed(store: &str, error: &StoreError) -> Retrieval {
        Retrieval {
            pick: None,
            rank: RetrievalRank::BuiltIn,
            path: None,
            reason: "the knowledge store could not be searched; the built-in generator writes the pipeline"
                .to_string(),
            warnings: vec![format!(
                "knowledge store {store} failed, so no stored pipeline was used: {error}"
            )],
        }
    }

    /// One line: `rank 1 (successful pipeline), chromadb-direct: <reason>`.
    pub fn summary(&self) -> String {
        let path = self
            .path
            .map(|p| format!(", {}", p.as_str()))
            .unwrap_or_default();
        format!(
            "rank {} ({}){path}: {}",
            self.rank.number(),
            self.rank.label(),
            self.reason
        )
    }
}

/// Whether a step looks for the service's framework or for records without one.
#[derive(Debug, Clone, Copy)]
enum FrameworkScope {
    Same,
    Without,
}

/// One priority: which collections to search and how.
struct Step {
    rank: RetrievalRank,
    collections: &'static [Collection],
    scope: FrameworkScope,
    /// Skipped for a stack without a framework: it would search what a later step searches.
    needs_framework: bool,
}

/// The seed's priority order (rank 4, the built-in generator, is what is left).
const STEPS: &[Step] = &[
    Step {
        rank: RetrievalRank::SuccessfulPipeline,
        collections: &[Collection::Successful, Collection::Feedback],
        scope: FrameworkScope::Same,
        needs_framework: false,
    },
    Step {
        rank: RetrievalRank::FrameworkTemplate,
        collections: &[Collection::Templates],
        scope: FrameworkScope::Same,
        needs_framework: true,
    },
    Step {
        rank: RetrievalRank::LanguageTemplate,
        collections: &[Collection::Templates],
        scope: FrameworkScope::Without,
        needs_framework: false,
    },
];

/// Orders candidates best first: stack similarity to `wanted` (higher first), then
/// user-made, then more stages, then more successes, then nearer by vector, then id.
pub fn rank(wanted: &StackKey, mut candidates: Vec<Scored>) -> Vec<Scored> {
    candidates.sort_by(|a, b| compare(wanted, a, b));
    candidates
}

fn compare(wanted: &StackKey, a: &Scored, b: &Scored) -> Ordering {
    let (ra, rb) = (&a.record, &b.record);
    wanted
        .similarity(&rb.stack)
        .cmp(&wanted.similarity(&ra.stack))
        .then_with(|| rb.is_user_made().cmp(&ra.is_user_made()))
        .then_with(|| rb.stages_count.cmp(&ra.stages_count))
        .then_with(|| rb.success_count.cmp(&ra.success_count))
        .then_with(|| a.distance.total_cmp(&b.distance))
        .then_with(|| ra.id.cmp(&rb.id))
}

/// Walks the priority order against `store` and returns the first rank that has a record.
pub async fn retrieve(store: &dyn KnowledgeStore, stack: &StackKey) -> Retrieval {
    let wanted = stack_label(stack);
    for step in STEPS {
        if step.needs_framework && stack.framework.is_none() {
            continue;
        }
        let framework = match step.scope {
            FrameworkScope::Same => stack.framework,
            FrameworkScope::Without => None,
        };
        let filter = Filter::all().language(stack.language).framework(framework);
        let mut candidates = Vec::new();
        for collection in step.collections {
            let query = Query {
                collection: *collection,
                stack: stack.clone(),
                filter: filter.clone(),
                limit: CANDIDATES,
            };
            match store.query(&query).await {
                Ok(found) => candidates.extend(found),
                Err(e) => return Retrieval::store_failed(&store.describe(), &e),
            }
        }
        let total = candidates.len();
        if let Some(best) = rank(stack, candidates).into_iter().next() {
            let reason = explain(stack, step.rank, &best, total);
            let path = RagPath::for_record(&best.record);
            return Retrieval {
                pick: Some(best.record),
                rank: step.rank,
                path: Some(path),
                reason,
                warnings: Vec::new(),
            };
        }
    }
    Retrieval {
        pick: None,
        rank: RetrievalRank::BuiltIn,
        path: None,
        reason: format!(
            "no successful pipeline or template for {wanted} in {}; the built-in generator writes the pipeline",
            store.describe()
        ),
        warnings: Vec::new(),
    }
}

fn stack_label(stack: &StackKey) -> String {
    match stack.framework {
        Some(f) => format!("{}/{}", stack.language, f),
        None => format!("{} (no framework)", stack.language),
    }
}

fn explain(stack: &StackKey, rank: RetrievalRank, best: &Scored, total: usize) -> String {
    let r = &best.record;
    let mut facts = vec![format!(
        "stack match {}/{}",
        stack.similarity(&r.stack),
        StackKey::MAX_SIMILARITY
    )];
    if r.is_user_made() {
        facts.push(if r.collection == Collection::Feedback {
            "a human correction".to_string()
        } else {
            "user-made".to_string()
        });
    }
    facts.push(format!("{} stages", r.stages_count));
    facts.push(format!("{} successes", r.success_count));
    format!(
        "{} `{}` from {} for {}: {}; best of {} candidate{}",
        rank.label(),
        r.id,
        r.collection,
        stack_label(stack),
        facts.join(", "),
        total,
        if total == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::{Origin, RecordSource};
    use crate::stack::{BuildTool, Framework, Language};

    fn stack(tool: BuildTool) -> StackKey {
        StackKey::new(Language::Python)
            .with_framework(Some(Framework::Django))
            .with_build_tool(Some(tool))
    }

    fn scored(id: &str, stack: StackKey, stages: usize, successes: u32) -> Scored {
        let ci = format!(
            "stages: [{}]\n",
            (0..stages)
                .map(|i| format!("s{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut r = Record::new(
            Collection::Successful,
            id,
            stack,
            Some(ci),
            Some("FROM python".into()),
            RecordSource::Imported,
            0,
        );
        r.success_count = successes;
        Scored {
            record: r,
            distance: 0.1,
        }
    }

    fn ids(v: &[Scored]) -> Vec<&str> {
        v.iter().map(|s| s.record.id.as_str()).collect()
    }

    #[test]
    fn similar_stack_beats_user_made_stages_and_successes() {
        let wanted = stack(BuildTool::Poetry);
        let ranked = rank(
            &wanted,
            vec![
                scored("manual_far", stack(BuildTool::Pip), 9, 50),
                scored("near", wanted.clone(), 1, 0),
            ],
        );
        assert_eq!(ids(&ranked), vec!["near", "manual_far"]);
    }

    #[test]
    fn among_equals_manual_then_stages_then_successes() {
        let s = stack(BuildTool::Poetry);
        let ranked = rank(
            &s,
            vec![
                scored("imported_many_successes", s.clone(), 9, 99),
                scored("manual_few_stages", s.clone(), 3, 1),
                scored("manual_more_stages", s.clone(), 9, 1),
                scored("manual_more_stages_more_successes", s.clone(), 9, 2),
            ],
        );
        assert_eq!(
            ids(&ranked),
            vec![
                "manual_more_stages_more_successes",
                "manual_more_stages",
                "manual_few_stages",
                "imported_many_successes"
            ]
        );
    }

    #[test]
    fn corrections_count_as_user_made() {
        let s = stack(BuildTool::Poetry);
        let fb = Record::feedback(
            s.clone(),
            Some("stages: [a]\n".into()),
            None,
            "use the house image".into(),
            Origin::default(),
            0,
        );
        let ranked = rank(
            &s,
            vec![
                scored("imported", s.clone(), 9, 9),
                Scored {
                    record: fb,
                    distance: 0.5,
                },
            ],
        );
        assert!(ranked[0].record.id.starts_with("feedback_"));
        assert_eq!(RagPath::for_record(&ranked[0].record), RagPath::Reference);
    }

    #[test]
    fn ranks_and_paths_keep_the_seed_names() {
        assert_eq!(RetrievalRank::SuccessfulPipeline.number(), 1);
        assert_eq!(RetrievalRank::BuiltIn.number(), 4);
        assert_eq!(RagPath::Direct.as_str(), "chromadb-direct");
        assert_eq!(RagPath::Reference.commit_tag(), "[RAG + LLM]");
        assert_eq!(
            serde_json::to_value(RetrievalRank::FrameworkTemplate).unwrap(),
            "framework-template"
        );
    }
}
