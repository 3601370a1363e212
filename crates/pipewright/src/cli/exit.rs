//! Exit codes shared by every subcommand.

/// Success.
pub const OK: i32 = 0;
/// Something failed inside pipewright, or validation found errors.
pub const FAILURE: i32 = 1;
/// The user named something wrong: a missing path, a file instead of a folder, a bad URL.
pub const USAGE: i32 = 2;
/// The repository was read, but no supported stack was recognised.
pub const NOTHING_RECOGNISED: i32 = 3;
/// An outside system could not be reached (a clone failed or timed out, ChromaDB or the
/// embedding server did not answer).
pub const UNREACHABLE: i32 = 4;
/// The knowledge store failed: a corrupt or locked SQLite file, an embedder or dimension
/// mismatch, an error answered by ChromaDB.
pub const STORE: i32 = 5;
