//! Php detector (being written).

use super::{Candidate, DirContext, Ecosystem};

/// The Php detector.
pub struct Php;

impl Ecosystem for Php {
    fn name(&self) -> &'static str {
        "php"
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
