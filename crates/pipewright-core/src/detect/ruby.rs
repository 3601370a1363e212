//! Ruby detector (being written).

use super::{Candidate, DirContext, Ecosystem};

/// The Ruby detector.
pub struct Ruby;

impl Ecosystem for Ruby {
    fn name(&self) -> &'static str {
        "ruby"
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
