//! Jvm detector (being written).

use super::{Candidate, DirContext, Ecosystem};

/// The Jvm detector.
pub struct Jvm;

impl Ecosystem for Jvm {
    fn name(&self) -> &'static str {
        "jvm"
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
