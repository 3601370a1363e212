//! CSharp detector (being written).

use super::{Candidate, DirContext, Ecosystem};

/// The CSharp detector.
pub struct CSharp;

impl Ecosystem for CSharp {
    fn name(&self) -> &'static str {
        "csharp"
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
