//! Run stores: where workflow runs are recorded. [`SqliteRunStore`] keeps them in
//! `runs.sqlite3` in the data folder (beside the embedded knowledge store).

mod sqlite;

pub use sqlite::SqliteRunStore;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A fresh, time-sortable run id.
pub fn new_run_id() -> String {
    pipewright_core::runs::run_id(now_ms(), fastrand::u32(..))
}
