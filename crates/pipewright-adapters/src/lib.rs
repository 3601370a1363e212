//! pipewright's adapters: one module per outside system, each behind a trait that the core or
//! the workflow owns. Today: repository sources (a local folder, a shallow git clone, the
//! GitLab API), the GitLab client, language-model providers (Ollama, OpenAI-compatible,
//! Anthropic, a `claude-code` command), the knowledge store backends (embedded SQLite,
//! ChromaDB) and Ollama embeddings. With the `test-support` feature, `fake_gitlab` is a
//! faithful fake GitLab server for tests.
//!
//! ```no_run
//! use pipewright_adapters::source::LocalSource;
//! use pipewright_core::source::RepoSource;
//! let src = LocalSource::open("path/to/repo").unwrap();
//! let listing = src.list().unwrap();
//! println!("{} files", listing.entries.len());
//! ```

pub mod embed;
#[cfg(feature = "test-support")]
pub mod fake_gitlab;
pub mod gitlab;
pub mod http;
pub mod llm;
pub mod registry;
pub mod regular_file;
pub mod runs;
pub mod source;
pub mod store;
#[cfg(feature = "test-support")]
pub mod test_registry;
