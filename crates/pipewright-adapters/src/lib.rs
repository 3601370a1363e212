//! pipewright's adapters: one module per outside system, each behind a trait that the core or
//! the workflow owns. Today: repository sources (a local folder, a shallow git clone), the
//! knowledge store backends (embedded SQLite, ChromaDB) and Ollama embeddings.
//!
//! ```no_run
//! use pipewright_adapters::source::LocalSource;
//! use pipewright_core::source::RepoSource;
//! let src = LocalSource::open("path/to/repo").unwrap();
//! let listing = src.list().unwrap();
//! println!("{} files", listing.entries.len());
//! ```

pub mod embed;
pub mod source;
pub mod store;
