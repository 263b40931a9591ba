//! The data plane: a TCP and UDP proxy that serves a [`Config`].
//!
//! [`DataPlane::apply`] diffs the new config against the bound listeners
//! (keyed by [`ListenerKey`]): new listeners are bound (failures are
//! returned, for `PortUnavailable`), removed ones are closed together with
//! their connections and sessions, and changed ones get their new route
//! swapped in atomically (`arc-swap`: the accept and new-session paths take
//! no lock).
//!
//! What survives a reload: an established TCP connection or UDP session
//! stays as long as its listener keeps the same route and that route still
//! has the connection's backend (by name) with the connection's endpoint
//! among its ready endpoints. Weight changes, added backends and added
//! endpoints affect new connections only. A connection whose route was
//! deleted or replaced, or whose backend or endpoint was removed (or became
//! a reject share), is closed with a reset on both sides; a UDP session in
//! that case is dropped and its flow re-balanced on its next datagram.
//!
//! Modules: `select` (weighted random backend choice, and why), `tcp`
//! (accept, connect, reset; at the open-files limit, queued connections
//! reset rather than left waiting), `spare` (the descriptor kept for that,
//! and how it is never lost), `copy` (buffered copy or opt-in splice, half-close),
//! `udp` (sessions, idle timeout, the bounded table's LRU policy), `state`
//! (what a listener serves and what survives a reload), `workers` (the
//! per-core runtimes TCP runs on, and why), [`metrics`].

pub mod metrics;

mod copy;
mod select;
mod spare;
mod state;
mod tcp;
mod udp;
mod workers;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use self::copy::SpliceBudget;
use self::metrics::Metrics;
use self::state::ListenerState;
use self::workers::Workers;
use crate::config::{Config, Listener, ListenerKey, Protocol};
use crate::fault::Faults;
use crate::variant::Variants;

/// Tunables of the data plane.
#[derive(Debug, Clone)]
pub struct Options {
    /// Deadline for connecting to one backend endpoint.
    pub connect_timeout: Duration,
    /// A UDP session with no datagram either way for this long is removed.
    pub udp_idle_timeout: Duration,
    /// Most UDP sessions per listener; a new flow beyond it evicts the
    /// least recently used session (with the `udp-session-cap` variant, it
    /// is dropped instead).
    pub udp_max_sessions: usize,
    /// Most TCP connections that may splice at the same time, each after
    /// its first bulk read (others copy through a buffer). `None` or 0: none, the default,
    /// because splice measured slower than the buffered copy (see `copy`).
    /// Each spliced connection holds four more descriptors: a sixteenth of
    /// the open-files limit keeps pipes to a quarter of it.
    pub max_spliced_connections: Option<usize>,
    /// TCP workers: single-thread runtimes, each accepting on every TCP
    /// listener's socket and serving what it accepted. Default: one per
    /// core.
    pub tcp_workers: usize,
    /// Deliberate bugs for gwl4's self-test (none by default; see [`crate::fault`]).
    pub faults: Faults,
    /// Allowed variations for gwl4's self-test (none by default; see
    /// [`crate::variant`]).
    pub variants: Variants,
    /// The `udp-loss` variant: the chance each UDP datagram, either way, is
    /// dropped.
    pub udp_loss: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            udp_idle_timeout: Duration::from_secs(60),
            udp_max_sessions: 65_536,
            max_spliced_connections: None,
            tcp_workers: workers::per_core(),
            faults: Faults::default(),
            variants: Variants::default(),
            udp_loss: 0.0,
        }
    }
}

/// What every listener task needs; shared behind an `Arc`, so a connection
/// takes it with one reference count rather than one per field.
#[derive(Debug)]
pub(crate) struct Ctx {
    options: Arc<Options>,
    metrics: Metrics,
    budget: SpliceBudget,
    tracker: TaskTracker,
}

/// A bound listener, shared by its task and its connections.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The listener's name when it was bound (log and metric label).
    name: String,
    /// The address it binds (UDP sessions bind it too when it is a
    /// loopback address: `udp::session_source`).
    address: std::net::IpAddr,
    state: ArcSwap<ListenerState>,
    /// Pinged after each swap of `state`, so connections recheck.
    changes: watch::Sender<()>,
    /// Stop accepting (shutdown, removal).
    stop_accept: CancellationToken,
    /// Close every connection and session (removal, end of drain).
    closed: CancellationToken,
}

/// A bound listener, its address, and for TCP a channel that disconnects
/// once every worker has closed its descriptor of the socket.
type Bound = (Arc<Shared>, SocketAddr, Option<mpsc::Receiver<()>>);

/// A bind failure: which listener, and the OS error.
pub type BindFailures = BTreeMap<ListenerKey, String>;

/// The running data plane. Methods need a tokio runtime.
#[derive(Debug)]
pub struct DataPlane {
    ctx: Arc<Ctx>,
    listeners: Mutex<BTreeMap<ListenerKey, Bound>>,
    /// Parent of every listener's `closed`: cancels all at the end of a drain.
    kill: CancellationToken,
    /// Where TCP listeners accept and their connections run.
    workers: Workers,
}

impl DataPlane {
    /// A data plane with no listeners. Fails if the TCP workers' threads
    /// cannot be started.
    pub fn new(options: Options, metrics: Metrics) -> std::io::Result<Self> {
        let budget = SpliceBudget::new(options.max_spliced_connections.unwrap_or(0));
        let workers = Workers::start(options.tcp_workers)?;
        Ok(Self {
            ctx: Arc::new(Ctx {
                options: Arc::new(options),
                metrics,
                budget,
                tracker: TaskTracker::new(),
            }),
            listeners: Mutex::new(BTreeMap::new()),
            kill: CancellationToken::new(),
            workers,
        })
    }

    /// Serves `config` from now on. Returns the listeners that could not be
    /// bound (they are retried on the next apply).
    pub fn apply(&self, config: &Config) -> BindFailures {
        let wanted: BTreeMap<ListenerKey, &Listener> =
            config.listeners.iter().map(|l| (l.key, l)).collect();
        let mut listeners = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut closing = Vec::new();
        listeners.retain(|key, (shared, _, sockets)| {
            let keep = wanted.contains_key(key);
            if !keep {
                info!(listener = %shared.name, ?key, "listener removed");
                shared.stop_accept.cancel();
                shared.closed.cancel();
                closing.extend(sockets.take());
            }
            keep
        });
        // A removed TCP listener's socket is closed by its workers; wait for
        // them, so that its port can be bound again by this very apply or
        // the next one.
        for sockets in closing {
            if sockets.recv_timeout(Duration::from_secs(1))
                != Err(mpsc::RecvTimeoutError::Disconnected)
            {
                warn!("a removed listener's socket is still open after 1 s");
            }
        }
        let mut failed = BindFailures::new();
        for (key, listener) in wanted {
            if let Some((shared, _, _)) = listeners.get(&key) {
                if shared.state.load().config != *listener {
                    shared
                        .state
                        .store(Arc::new(ListenerState::new(listener, &self.ctx.metrics)));
                    shared.changes.send_replace(());
                }
                continue;
            }
            match self.bind(listener) {
                Ok(bound) => {
                    listeners.insert(key, bound);
                }
                Err(error) => {
                    warn!(listener = %listener.name, ?key, %error, "cannot bind listener");
                    failed.insert(key, error.to_string());
                }
            }
        }
        failed
    }

    /// The bound listeners and their local addresses.
    pub fn bound(&self) -> BTreeMap<ListenerKey, SocketAddr> {
        let listeners = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        listeners
            .iter()
            .map(|(key, (_, addr, _))| (*key, *addr))
            .collect()
    }

    /// Stops accepting, lets TCP connections finish for up to `drain`, then
    /// resets the rest. UDP listeners stop at once (a datagram flow has no
    /// end to wait for).
    pub async fn shutdown(&self, drain: Duration) {
        let listeners = std::mem::take(
            &mut *self
                .listeners
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for (shared, _, _) in listeners.values() {
            shared.stop_accept.cancel();
        }
        self.ctx.tracker.close();
        if tokio::time::timeout(drain, self.ctx.tracker.wait())
            .await
            .is_err()
        {
            info!(
                remaining = self.ctx.tracker.len(),
                "drain period over, closing connections"
            );
        }
        self.kill.cancel();
        self.ctx.tracker.wait().await;
    }

    fn bind(&self, listener: &Listener) -> std::io::Result<Bound> {
        let shared = Arc::new(Shared {
            name: listener.name.clone(),
            address: listener.key.address,
            state: ArcSwap::from_pointee(ListenerState::new(listener, &self.ctx.metrics)),
            changes: watch::Sender::new(()),
            stop_accept: CancellationToken::new(),
            closed: self.kill.child_token(),
        });
        let ctx = self.ctx.clone();
        let (local, sockets) = match listener.key.protocol {
            Protocol::Tcp => {
                let socket = tcp::bind(&listener.key)?;
                let local = socket.local_addr()?;
                // Every worker's descriptor first: a failure leaves none serving.
                let workers = self.workers.handles();
                let descriptors = workers
                    .iter()
                    .map(|_| socket.try_clone())
                    .collect::<std::io::Result<Vec<_>>>()?;
                let (open, sockets) = mpsc::channel();
                for (descriptor, worker) in descriptors.into_iter().zip(workers) {
                    let (open, serve) = (
                        open.clone(),
                        tcp::serve(descriptor, shared.clone(), ctx.clone()),
                    );
                    worker.spawn(self.ctx.tracker.track_future(async move {
                        serve.await;
                        drop(open); // after the descriptor, which `serve` closed
                    }));
                }
                (local, Some(sockets))
            }
            Protocol::Udp => {
                let socket = udp::bind(&listener.key)?;
                let local = socket.local_addr()?;
                self.ctx
                    .tracker
                    .spawn(udp::serve(socket, shared.clone(), ctx));
                (local, None)
            }
        };
        info!(listener = %listener.name, %local, "listener bound");
        Ok((shared, local, sockets))
    }
}
