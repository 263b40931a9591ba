//! TCP workers: one single-thread tokio runtime per core.
//!
//! Each TCP listener binds one `SO_REUSEPORT` socket per worker (see
//! `tcp::bind`); a worker accepts on its own socket and serves what it
//! accepted from start to end, so a connection's task never moves between
//! threads and no worker wakes another. The kernel spreads new connections
//! over the sockets by their addresses. This is how HAProxy, nginx and
//! Envoy run too: one event loop per core. Against tokio's work-stealing
//! runtime, whose idle workers park on and wake each other through
//! futexes, it raised the connection rate by about 7% on a 2-core machine
//! (BENCHMARKS.md, session 4). UDP listeners stay on the caller's runtime.

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
