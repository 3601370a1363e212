//! pipewright's core: the pure logic that turns a repository index into a stack profile
//! (and, later in the flow, into a pipeline and a Dockerfile).
//!
//! Nothing in this crate performs I/O: sources hand it a [`index::RepoIndex`], and it answers
//! with typed models. That keeps every conclusion reproducible from the same inputs and
//! testable in memory.
//!
//! ```
//! use pipewright_core::{detect, index::{Content, RawEntry, RepoIndex}};
//! let index = RepoIndex::build(
//!     vec![RawEntry::new("go.mod", 40)],
//!     [("go.mod".to_string(), Content::Text("module x\n\ngo 1.22\n".into()))].into(),
//! );
//! let profile = detect::analyze(&index, ".");
//! assert_eq!(profile.services[0].language.as_str(), "go");
//! ```

pub mod detect;
pub mod index;
pub mod source;
pub mod stack;
pub mod validate;
pub mod yaml;
