//! JavaScript detector (being written).

use super::{Candidate, DirContext, Ecosystem};

/// The JavaScript detector.
pub struct JavaScript;

impl Ecosystem for JavaScript {
    fn name(&self) -> &'static str {
        "javascript"
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
