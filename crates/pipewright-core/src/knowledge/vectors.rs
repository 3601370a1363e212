//! In-memory vector search for one collection: records are grouped by (language, framework),
//! so a filtered query looks at one group, checks the remaining conditions, and scores only
//! what passed (cosine on unit vectors, top-k kept in a small heap). The embedded store keeps
//! one index per collection, loaded at open and updated after each committed write.

use super::filter::{Filter, MetaKey};
use super::record::Record;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

/// The filterable values of one record, in [`MetaKey::ALL`] order.
pub type Meta = [&'static str; 4];

/// The filterable values of `record`.
pub fn meta_of(record: &Record) -> Meta {
    MetaKey::ALL.map(|k| k.value_of(record))
}

fn position(key: MetaKey) -> usize {
    MetaKey::ALL.iter().position(|k| *k == key).unwrap_or(0)
}

type BucketKey = (&'static str, &'static str);

#[derive(Debug, Default)]
struct Bucket {
    ids: Vec<String>,
    metas: Vec<Meta>,
    /// Row-major, `dimension` floats per record.
    vectors: Vec<f32>,
}

/// Vectors and filterable metadata of one collection.
#[derive(Debug, Default)]
pub struct VectorIndex {
    dimension: Option<usize>,
    buckets: HashMap<BucketKey, Bucket>,
    slots: HashMap<String, (BucketKey, usize)>,
}

/// A search hit: the record id and its cosine distance (0 = same direction, 2 = opposite).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub distance: f32,
}

/// Why a vector was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("vector of dimension {got} given to an index of dimension {expected}")]
pub struct DimensionError {
    pub expected: usize,
    pub got: usize,
}

impl VectorIndex {
    /// An empty index.
    pub fn new() -> Self {
        VectorIndex::default()
    }

    /// The dimension of the stored vectors (set by the first insert).
    pub fn dimension(&self) -> Option<usize> {
        self.dimension
    }

    /// How many records the index holds.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when the index holds nothing.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds or replaces one record's vector (scaled to unit length here).
    pub fn upsert(&mut self, id: &str, meta: Meta, vector: &[f32]) -> Result<(), DimensionError> {
        let dim = *self.dimension.get_or_insert(vector.len());
        if vector.len() != dim {
            return Err(DimensionError {
                expected: dim,
                got: vector.len(),
            });
        }
        self.remove(id);
        let key = (
            meta[position(MetaKey::Language)],
            meta[position(MetaKey::Framework)],
        );
        let bucket = self.buckets.entry(key).or_default();
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        bucket.vectors.extend(vector.iter().map(|x| x * scale));
        bucket.ids.push(id.to_string());
        bucket.metas.push(meta);
        self.slots
            .insert(id.to_string(), (key, bucket.ids.len() - 1));
        Ok(())
    }

    /// Removes one record; false when it was not there.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some((key, at)) = self.slots.remove(id) else {
            return false;
        };
        let Some(bucket) = self.buckets.get_mut(&key) else {
            return false;
        };
        let dim = self.dimension.unwrap_or(0);
        let last = bucket.ids.len() - 1;
        bucket.ids.swap_remove(at);
        bucket.metas.swap_remove(at);
        if at != last {
            bucket
                .vectors
                .copy_within(last * dim..(last + 1) * dim, at * dim);
            if let Some(moved) = bucket.ids.get(at) {
                self.slots.insert(moved.clone(), (key, at));
            }
        }
        bucket.vectors.truncate(last * dim);
        if bucket.ids.is_empty() {
            self.buckets.remove(&key);
        }
        true
    }

    /// The `k` records nearest to `query` among those `filter` accepts, nearest first (ties
    /// by id). A query of the wrong dimension is an error, not an empty answer.
    pub fn search(
        &self,
        query: &[f32],
        filter: &Filter,
        k: usize,
    ) -> Result<Vec<Hit>, DimensionError> {
        let Some(dim) = self.dimension else {
            return Ok(Vec::new());
        };
        if query.len() != dim {
            return Err(DimensionError {
                expected: dim,
                got: query.len(),
            });
        }
        if k == 0 {
            return Ok(Vec::new());
        }
        let mut q = query.to_vec();
        super::embed::normalize(&mut q);
        let language = filter.get(MetaKey::Language);
        let framework = filter.get(MetaKey::Framework);
        let rest: Vec<(usize, &'static str)> = filter
            .conditions()
            .iter()
            .filter(|(key, _)| !matches!(key, MetaKey::Language | MetaKey::Framework))
            .map(|(key, v)| (position(*key), *v))
            .collect();
        let buckets: Vec<&Bucket> = match (language, framework) {
            (Some(l), Some(f)) => self.buckets.get(&(l, f)).into_iter().collect(),
            _ => self
                .buckets
                .iter()
                .filter(|((l, f), _)| {
                    language.is_none_or(|x| x == *l) && framework.is_none_or(|x| x == *f)
                })
                .map(|(_, b)| b)
                .collect(),
        };
        let mut heap: BinaryHeap<Reverse<Scored<'_>>> = BinaryHeap::with_capacity(k + 1);
        for bucket in buckets {
            for (i, meta) in bucket.metas.iter().enumerate() {
                if !rest.iter().all(|(p, v)| meta[*p] == *v) {
                    continue;
                }
                let candidate = Scored {
                    score: dot(&q, &bucket.vectors[i * dim..(i + 1) * dim]),
                    id: &bucket.ids[i],
                };
                if heap.len() < k {
                    heap.push(Reverse(candidate));
                } else if heap.peek().is_some_and(|Reverse(worst)| candidate > *worst) {
                    heap.pop();
                    heap.push(Reverse(candidate));
                }
            }
        }
        let mut hits: Vec<Scored<'_>> = heap.into_iter().map(|Reverse(s)| s).collect();
        hits.sort_by(|a, b| b.cmp(a));
        Ok(hits
            .into_iter()
            .map(|s| Hit {
                id: s.id.to_string(),
                distance: 1.0 - s.score,
            })
            .collect())
    }
}

/// A candidate during search; greater means better (higher score, then smaller id).
#[derive(Debug, Clone, Copy)]
struct Scored<'a> {
    score: f32,
    id: &'a str,
}

impl PartialEq for Scored<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scored<'_> {}
impl PartialOrd for Scored<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.id.cmp(self.id))
    }
}

/// Dot product in eight independent lanes, which the compiler turns into SIMD.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks_a = a.chunks_exact(8);
    let chunks_b = b.chunks_exact(8);
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for i in 0..8 {
            lanes[i] += ca[i] * cb[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::RecordSource;

    fn meta(lang: &'static str, fw: &'static str, tool: &'static str) -> Meta {
        [lang, fw, tool, RecordSource::Imported.as_str()]
    }

    #[test]
    fn search_filters_first_then_ranks_by_cosine() {
        let mut ix = VectorIndex::new();
        ix.upsert("a", meta("python", "django", "pip"), &[1.0, 0.0, 0.0])
            .unwrap();
        ix.upsert("b", meta("python", "django", "poetry"), &[0.9, 0.1, 0.0])
            .unwrap();
        ix.upsert("c", meta("python", "flask", "pip"), &[1.0, 0.0, 0.0])
            .unwrap();
        ix.upsert("d", meta("ruby", "none", "bundler"), &[1.0, 0.0, 0.0])
            .unwrap();
        let f = Filter::all()
            .language(crate::stack::Language::Python)
            .framework(Some(crate::stack::Framework::Django));
        let hits = ix.search(&[1.0, 0.0, 0.0], &f, 5).unwrap();
        let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, vec!["a", "b"]);
        assert!(hits[0].distance.abs() < 1e-6);
        let by_tool = Filter::all().build_tool(Some(crate::stack::BuildTool::Pip));
        let ids: Vec<String> = ix
            .search(&[1.0, 0.0, 0.0], &by_tool, 5)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect();
        assert_eq!(ids, vec!["a", "c"]);
        assert_eq!(
            ix.search(&[1.0, 0.0, 0.0], &Filter::all(), 2)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn remove_keeps_the_other_slots_right() {
        let mut ix = VectorIndex::new();
        for (id, v) in [("a", [1.0, 0.0]), ("b", [0.0, 1.0]), ("c", [0.7, 0.7])] {
            ix.upsert(id, meta("go", "gin", "go"), &v).unwrap();
        }
        assert!(ix.remove("a"));
        assert!(!ix.remove("a"));
        let hits = ix.search(&[0.0, 1.0], &Filter::all(), 5).unwrap();
        let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, vec!["b", "c"]);
        ix.upsert("c", meta("go", "gin", "go"), &[0.0, 1.0])
            .unwrap();
        assert_eq!(ix.len(), 2);
        let hits = ix.search(&[0.0, 1.0], &Filter::all(), 5).unwrap();
        assert!(hits.iter().all(|h| h.distance.abs() < 1e-6), "{hits:?}");
    }

    #[test]
    fn a_wrong_dimension_is_an_error() {
        let mut ix = VectorIndex::new();
        ix.upsert("a", meta("go", "gin", "go"), &[1.0, 0.0])
            .unwrap();
        assert_eq!(
            ix.upsert("b", meta("go", "gin", "go"), &[1.0, 0.0, 0.0]),
            Err(DimensionError {
                expected: 2,
                got: 3
            })
        );
        assert!(ix.search(&[1.0], &Filter::all(), 1).is_err());
    }
}
