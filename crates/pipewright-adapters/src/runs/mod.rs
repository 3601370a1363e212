//! Run stores: where workflow runs, monitor tasks and webhook deliveries are recorded.
//! [`SqliteRunStore`] keeps them in `runs.sqlite3` in the data folder (beside the embedded
//! knowledge store), for one instance; [`PgRunStore`] in a PostgreSQL database several
//! instances share (`PIPEWRIGHT_DATABASE_URL`).

mod postgres;
mod sqlite;

pub use postgres::{PgRunStore, Wakeup};
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
