//! The spare descriptor: one file descriptor the process keeps in reserve
//! so that, at the open-files limit, a TCP worker can still accept queued
//! connections in order to reset them (`tcp::refuse_queued`, libuv's
//! `uv__emfile_trick`) instead of leaving their clients hanging.
//!
//! The hard part is not losing it. Closing the spare frees a slot for the
//! whole process, and another thread's `accept` or backend `socket` can
//! take it first; if that connection is then served and held, the spare
//! cannot be reopened, and with no spare and no free slot every later
//! client hangs in the accept queue for as long as the held connections
//! live. Seen in CI with one spare per worker thread: 16, then 8, of 80
//! clients hung (`fault_fd_exhaustion`).
//!
//! So the invariant is enforced where descriptors are held for long: a
//! proxied connection calls [`Spare::keep`] once it holds both its descriptors,
//! and if the spare is missing and cannot be reopened, the connection gives
//! its descriptors back (it is reset) and the spare takes one. A slot taken
//! from the spare therefore always comes back, from the connection that
//! took it or from the next one. Any thread may refill it, hence one spare
//! for the process behind a lock rather than one per thread.

use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

/// The process's spare.
pub(crate) static SPARE: Spare = Spare::new();

pub(crate) struct Spare {
    file: Mutex<Option<File>>,
    /// Whether `file` holds a descriptor: the fast path of [`Spare::keep`],
    /// which runs for every connection, takes no lock.
    ///
    /// A stale `true` is harmless: the caller's descriptors were allocated
    /// before it read the flag, so before the [`Spare::take`] that cleared
    /// it closed the spare; they cannot be the ones that took its slot.
    held: AtomicBool,
}

impl Spare {
    const fn new() -> Self {
        Spare {
            file: Mutex::new(None),
            held: AtomicBool::new(false),
        }
    }

    /// Makes sure the spare is open; false when it is missing and no
    /// descriptor is free to reopen it.
    pub(crate) fn keep(&self) -> bool {
        if self.held.load(Ordering::SeqCst) {
            return true;
        }
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if file.is_none() {
            *file = File::open("/dev/null").ok();
        }
        self.held.store(file.is_some(), Ordering::SeqCst);
        file.is_some()
    }

    /// Takes the spare, to be dropped (closed) by the caller just before
    /// it accepts at the limit; `None` when another thread has it or it is
    /// lost. The caller calls [`Spare::keep`] when done.
    pub(crate) fn take(&self) -> Option<File> {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        self.held.store(false, Ordering::SeqCst);
        file.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_then_keep_reopens_and_a_second_take_waits_for_it() {
        let spare = Spare::new();
        assert!(spare.keep());
        let taken = spare.take().expect("the spare");
        assert!(spare.take().is_none(), "one spare");
        drop(taken);
        assert!(spare.keep());
        assert!(spare.keep(), "kept, not reopened: the fast path");
        assert!(spare.take().is_some());
    }
}
