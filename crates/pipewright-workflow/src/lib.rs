//! pipewright's request flows, written against the adapter traits: today the analysis of a
//! repository (open the source, index it once, run the detectors).
//!
//! ```no_run
//! use pipewright_workflow::analyze::{analyze, AnalyzeOptions};
//! let profile = analyze("path/to/repo", &AnalyzeOptions::default()).unwrap();
//! println!("{:?}", profile.primary_language);
//! ```

pub mod analyze;
pub mod generate;
pub mod paths;
pub mod workflow;
