//! Repository sources: a local folder ([`LocalSource`]) and a shallow git clone
//! ([`GitSource`]), both implementing [`pipewright_core::source::RepoSource`].

mod git;
mod local;

pub use git::{redact_url, GitSource, GitUrl, DEFAULT_CLONE_TIMEOUT};
pub use local::LocalSource;
