//! Self-heal's pure half: reading a failed job's log and deciding what to do about it.
//!
//! [`Classifier`] streams a job log once and answers a [`Classification`]: the
//! [`FailureClass`], the evidence line exactly as the log viewer shows it, its line number,
//! a confidence and the other candidates. GitLab's `failure_reason` is read first
//! ([`reason_verdict`]); the log's signatures are one table ([`SIGNATURES`]). The fix
//! strategies and the loop guards live beside it; the loop itself (commits, waiting for
//! pipelines) belongs to the workflow. Nothing here performs I/O.
//!
//! ```
//! use pipewright_core::heal::{classify, FailureClass};
//! let log = b"\x1b[0;33mWARNING: Failed to pull image\x1b[0;m\n\
//!     ERROR: Job failed: failed to pull image \"nexus:5001/demo/node:99\": manifest unknown\n";
//! let c = classify(log, Some("script_failure"), None);
//! assert_eq!(c.class, FailureClass::ImageNotFound);
//! assert_eq!(c.line, Some(2));
//! ```

mod class;
mod classify;
mod clean;
mod edit;
mod fix;
mod guard;
mod llm;
mod memory;
mod patterns;
mod reason;

pub use class::FailureClass;
pub use classify::{classify, Basis, Candidate, Classification, Classifier, ClassifierOptions};
pub use clean::{clean_line, clean_log, evidence_in_log, CleanLine, SectionEvent};
pub use fix::{
    decide, nearest_tag, FixContext, GeneratedFile, HealDecision, Patch, Strategy, RETRY_BUDGET,
    STRATEGIES,
};
pub use guard::{
    assess, base_job_name, commit_message, distinct_signatures, file_state_hash, mask_evidence,
    parse_subject, parse_trailer, FailureSignature, HealGuard, Observation, Progress, RunTrailer,
    StopReason, DEFAULT_MAX_ATTEMPTS, MAX_INEFFECTIVE_PER_SIGNATURE, RUN_TRAILER,
};
pub use llm::{
    check_fix, heal_request, pipeline_weakening, read_llm_fix, HealPromptInput, LlmFixError,
    FAILURE, JOB_LOG, PREVIOUS_FIX,
};
pub use memory::{memory_key, split_diff, FilePatch, FixMemory, LearnedFix};
pub use patterns::{
    Meaning, Signature, EXIT_CODE_HINTS, POST_FAILURE_SECTIONS, ROOT_CAUSES, SIGNATURES,
};
pub use reason::{reason_verdict, ReasonVerdict};
