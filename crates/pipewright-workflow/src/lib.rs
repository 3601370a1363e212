//! pipewright's request flows, written against the adapter traits: the analysis of a
//! repository (open the source, index it once, run the detectors), generation and the choice
//! of its path, and the knowledge store's templates and feedback. The CLI and the HTTP
//! service both call these; neither holds flow logic of its own.
//!
//! ```no_run
//! use pipewright_workflow::analyze::{analyze, AnalyzeOptions};
//! let profile = analyze("path/to/repo", &AnalyzeOptions::default()).unwrap();
//! println!("{:?}", profile.primary_language);
//! ```

pub mod analyze;
pub mod chat;
pub mod generate;
pub mod heal;
pub mod images;
pub mod monitor;
pub mod paths;
pub mod preview;
pub mod templates;
pub mod workflow;
