//! Rust detector (being written).

use super::{Candidate, DirContext, Ecosystem};

/// The Rust detector.
pub struct Rust;

impl Ecosystem for Rust {
    fn name(&self) -> &'static str {
        "rust"
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
