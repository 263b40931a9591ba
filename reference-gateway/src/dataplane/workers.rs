//! TCP workers: one single-thread tokio runtime per core.
//!
//! Every worker accepts on each TCP listener's socket through a descriptor
//! of its own (registered with its own runtime) and serves the connections
//! it accepted from start to end: a connection's task never moves between
//! threads, and no worker wakes another. Whichever worker is awake takes
//! the next connection, as HAProxy's threads do on a shared listener; the
//! price is that a new connection can also wake a sleeping worker whose
//! accept then finds nothing.
//!
//! Measured on a 2-core machine (BENCHMARKS.md, session 4): tokio's
//! work-stealing runtime, whose idle workers park on and wake each other
//! through futexes, got 0.39 of the direct connection rate; this, with the
//! two smaller changes in `tcp`, gets 0.44–0.46, level with HAProxy. One
//! `SO_REUSEPORT` socket per worker (nginx's `reuseport`, Envoy) measured
//! worse in the same build (15,600–16,300 connections/s against
//! 16,600–17,100, the machine idle half again as long): the kernel hands
//! each connection to a fixed worker, waking it even while the other is
//! awake and could take it. It would also let another process of the same
//! user join the port silently. UDP listeners stay on the caller's runtime.

use std::io;
use std::thread;

use tokio::runtime::{Builder, Handle};
use tokio_util::sync::CancellationToken;

/// The running workers; dropping this stops them (their tasks are dropped).
#[derive(Debug)]
pub(crate) struct Workers {
    handles: Vec<Handle>,
    stop: CancellationToken,
}

impl Workers {
    /// Starts `count` workers (at least one), each a thread running a
    /// single-thread runtime until dropped.
    pub(crate) fn start(count: usize) -> io::Result<Self> {
        let mut workers = Self {
            handles: Vec::new(),
            stop: CancellationToken::new(),
        };
        for index in 0..count.max(1) {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            let handle = runtime.handle().clone();
            let stop = workers.stop.clone();
            thread::Builder::new()
                .name(format!("tcp-worker-{index}"))
                .spawn(move || runtime.block_on(stop.cancelled()))?;
            workers.handles.push(handle);
        }
        Ok(workers)
    }

    /// One handle per worker, to spawn its accept loop on.
    pub(crate) fn handles(&self) -> &[Handle] {
        &self.handles
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// One worker per core the process may run on.
pub(crate) fn per_core() -> usize {
    thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}
