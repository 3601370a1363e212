//! Cooperative cancellation of long computations. The service runs CPU-heavy work on blocking
//! threads; when the request ends early (its time limit answered 504, the client left) or
//! the server shuts down, that work must stop rather than run on unobserved. Code that can
//! loop for long (the validator's credential tracing) asks [`requested`] in its loops and
//! returns early; what it returns then is never used. Outside [`with_flag`] (the CLI, tests)
//! nothing is ever cancelled, unless [`cancel_all`] was called.
//!
//! ```
//! use pipewright_core::cancel;
//! use std::sync::{atomic::{AtomicBool, Ordering}, Arc};
//! let flag = Arc::new(AtomicBool::new(false));
//! flag.store(true, Ordering::Relaxed);
//! assert!(cancel::with_flag(flag, cancel::requested));
//! assert!(!cancel::requested());
//! ```

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set once for the whole process (the server is shutting down).
static ALL: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The flag of the work this thread runs, if it runs cancellable work.
    static FLAG: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// Runs `work` on this thread with `flag` as its cancellation flag.
pub fn with_flag<T>(flag: Arc<AtomicBool>, work: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<AtomicBool>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            FLAG.with(|f| *f.borrow_mut() = previous);
        }
    }
    let previous = FLAG.with(|f| f.borrow_mut().replace(flag));
    let _restore = Restore(previous);
    work()
}

/// The cancellation flag of the work running on this thread, for the threads it starts:
/// they run their part under it with [`with_flag`].
pub fn current_flag() -> Option<Arc<AtomicBool>> {
    FLAG.with(|f| f.borrow().clone())
}

/// True when the work running on this thread should stop.
pub fn requested() -> bool {
    ALL.load(Ordering::Relaxed)
        || FLAG.with(|f| {
            f.borrow()
                .as_ref()
                .is_some_and(|flag| flag.load(Ordering::Relaxed))
        })
}

/// Asks every cancellable computation in the process to stop (shutdown).
pub fn cancel_all() {
    ALL.store(true, Ordering::Relaxed);
}
