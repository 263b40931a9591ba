//! The per-case time bound of the fuzz tests.

use std::sync::mpsc;
use std::time::Duration;

/// Runs `f` on its own thread and fails the case if it takes longer than
/// `limit`; a panic inside `f` is re-raised here, so proptest sees it (and
/// shrinks it) like any other failure. The thread of a hung `f` is left
/// behind: the test fails anyway.
pub fn bounded<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the thread ended without sending"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("took more than {limit:?}"),
    }
}
