//! Elixir detector (being written).

use super::{Candidate, DirContext, Ecosystem};

/// The Elixir detector.
pub struct Elixir;

impl Ecosystem for Elixir {
    fn name(&self) -> &'static str {
        "elixir"
    }
    fn is_manifest(&self, _file_name: &str) -> bool {
        false
    }
    fn wants(&self, _path: &str) -> bool {
        false
    }
    fn detect(&self, _ctx: &DirContext<'_>) -> Option<Candidate> {
        None
    }
}
