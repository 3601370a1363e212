//! pipewright's core: the pure logic that turns a repository index into a stack profile
//! (and, later in the flow, into a pipeline and a Dockerfile), the language-model contract,
//! prompts and answer reading ([`llm`]) that the providers in the adapters crate implement, and
//! the knowledge store's records, ranking and retrieval ([`knowledge`]).
//!
//! Nothing in this crate performs I/O: sources hand it a [`index::RepoIndex`], and it answers
//! with typed models. That keeps every conclusion reproducible from the same inputs and
//! testable in memory.
//!
//! ```
//! use pipewright_core::{detect, index::{Content, RawEntry, RepoIndex}};
//! let index = RepoIndex::build(
//!     vec![RawEntry::new("requirements.txt", 14)],
//!     [("requirements.txt".to_string(), Content::Text("fastapi>=0.110\n".into()))].into(),
//! );
//! let profile = detect::analyze(&index, ".");
//! assert_eq!(profile.services[0].language.as_str(), "python");
//! ```

pub mod cancel;
pub mod detect;
pub mod dockerfile;
pub mod generate;
pub mod gitlab;
pub mod heal;
pub mod images;
pub mod index;
pub mod knowledge;
pub mod llm;
pub mod monitor;
pub mod overrides;
pub mod pipeline;
pub mod quote;
pub mod redact;
pub mod runs;
pub mod source;
pub mod stack;
pub mod validate;
pub mod yaml;
