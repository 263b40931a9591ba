//! UDP listeners: one socket per listener, a session per client address.
//!
//! A session owns a connected upstream socket to the endpoint chosen when
//! the flow's first datagram arrived, so every datagram of a flow reaches
//! one backend. Replies are sent from the listener's own socket, so the
//! client sees them come from the address it sent to.
//!
//! The session table is bounded (`Options::udp_max_sessions`). When it is
//! full, a new flow **evicts the least recently used session**
//! (`udp_sessions_evicted_total{reason="full"}`): a new flow is more likely
//! live than the one idle longest, and refusing instead would lock new
//! clients out until idle expiry. (The `udp-session-cap` variant refuses
//! instead, as Envoy does: `udp_datagrams_dropped_total{reason="session_limit"}`;
//! the `udp-loss` variant drops datagrams at random both ways.) Sessions idle (no datagram either way)
//! for `Options::udp_idle_timeout` are removed (`reason="idle"`); sessions
//! whose route, backend or endpoint a reload removed are removed too
//! (`reason="reconfigured"`) and their flow is re-balanced on its next
//! datagram. A flow whose share is rejected is remembered as rejected, so
//! all its datagrams are dropped.
//!
//! No allocation per datagram: the listener task reuses one 65,535-byte
//! buffer, and reply tasks share one per worker thread (never held across
//! an `.await`).

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lru::LruCache;
use prometheus_client::metrics::counter::Counter;
use socket2::{Domain, SockRef, Socket, Type};
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tokio_util::task::AbortOnDropHandle;
use tracing::{debug, warn};

use super::metrics::{ListenerLabels, Metrics};
use super::state::{Binding, Decision, ListenerState};
use super::{Ctx, Shared, select};
use crate::config::ListenerKey;
use crate::fault::{self, Fault};
use crate::variant::Variant;

/// Largest UDP payload plus headroom: buffers of this size never truncate.
const BUFFER: usize = 65_535;

/// Socket buffer size asked for (the kernel caps it at `net.core.*mem_max`).
const SOCKET_BUFFER: usize = 4 << 20;

thread_local! {
    /// The reply buffer of this worker thread's reply tasks.
    static REPLY_BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0; BUFFER].into_boxed_slice());
}

/// Binds a listener socket.
pub(crate) fn bind(key: &ListenerKey) -> io::Result<UdpSocket> {
    let addr = SocketAddr::new(key.address, key.port);
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    socket.set_nonblocking(true)?;
    // Best effort: bigger buffers absorb bursts of many flows.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// One client flow.
struct Session {
    /// `None`: the flow's share is rejected; its datagrams are dropped.
    upstream: Option<Arc<UdpSocket>>,
    binding: Binding,
    /// Milliseconds since the listener's epoch, of the last datagram either way.
    last_seen: Arc<AtomicU64>,
    /// The reply task; aborted (and the upstream socket closed) on drop.
    _replies: Option<AbortOnDropHandle<()>>,
}

/// Per-listener counters, resolved once.
struct Counters {
    dropped_rejected: Counter,
    dropped_send: Counter,
    dropped_reply: Counter,
    evicted_idle: Counter,
    evicted_full: Counter,
    evicted_reconfigured: Counter,
    dropped_full: Counter,
}

impl Counters {
    fn new(metrics: &Metrics, listener: &str) -> Self {
        let dropped = |reason| Metrics::reason(&metrics.udp_datagrams_dropped, listener, reason);
        let evicted = |reason| Metrics::reason(&metrics.udp_sessions_evicted, listener, reason);
        Self {
            dropped_rejected: dropped("rejected"),
            dropped_send: dropped("upstream_send_failed"),
            dropped_reply: dropped("reply_send_failed"),
            evicted_idle: evicted("idle"),
            evicted_full: evicted("full"),
            evicted_reconfigured: evicted("reconfigured"),
            dropped_full: dropped("session_limit"),
        }
    }
}

/// Serves the listener socket until the listener is removed or stopped.
pub(crate) async fn serve(socket: UdpSocket, shared: Arc<Shared>, ctx: Arc<Ctx>) {
    let socket = Arc::new(socket);
    let epoch = Instant::now();
    let idle = ctx.options.udp_idle_timeout;
    let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
    let max = ctx.options.udp_max_sessions.max(1);
    let counters = Counters::new(&ctx.metrics, &shared.name);
    let active = ctx
        .metrics
        .udp_sessions_active
        .get_or_create_owned(&ListenerLabels {
            listener: shared.name.clone(),
        });
    let mut sessions: LruCache<SocketAddr, Session> = LruCache::unbounded();
    let mut buf = vec![0u8; BUFFER];
    // Sweep often enough that a session outlives its idle timeout by at
    // most a quarter of it.
    let period = (idle / 4).clamp(Duration::from_millis(5), Duration::from_secs(1));
    let mut sweep = tokio::time::interval(period);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut changes = shared.changes.subscribe();
    loop {
        tokio::select! {
            () = shared.closed.cancelled() => break,
            () = shared.stop_accept.cancelled() => break,
            _ = sweep.tick() => {
                let now = millis(epoch);
                let expired = remove_where(&mut sessions, |s| {
                    now.saturating_sub(s.last_seen.load(Ordering::Relaxed)) >= idle_ms
                });
                counters.evicted_idle.inc_by(expired);
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
                let state = shared.state.load();
                let stale = remove_where(&mut sessions, |s| !state.keeps(&s.binding));
                counters.evicted_reconfigured.inc_by(stale);
            }
            received = socket.recv_from(&mut buf) => {
                let (len, peer) = match received {
                    Ok(received) => received,
                    Err(error) => {
                        // E.g. an ICMP error reported on the socket: not fatal.
                        debug!(listener = %shared.name, %error, "recv failed");
                        continue;
                    }
                };
                let data = &buf[..len];
                let now = millis(epoch);
                if lost(ctx.options.udp_loss) {
                    continue;
                }
                if ctx.options.faults.contains(Fault::UdpPerPacket) {
                    sessions.pop(&peer);
                }
                if let Some(session) = sessions.get(&peer) {
                    session.last_seen.store(now, Ordering::Relaxed);
                    forward(session, data, &counters);
                    continue;
                }
                if sessions.len() >= max {
                    if ctx.options.variants.contains(Variant::UdpSessionCap) {
                        counters.dropped_full.inc();
                        continue;
                    }
                    if sessions.pop_lru().is_some() {
                        counters.evicted_full.inc();
                    }
                }
                let replies_from = if ctx.options.faults.contains(Fault::UdpReplyFromBackendSocket) {
                    fault::dataplane::reply_socket(&socket)
                } else {
                    socket.clone()
                };
                let session = open(&shared, &ctx, &replies_from, peer, epoch, now, &counters);
                forward(&session, data, &counters);
                sessions.put(peer, session);
            }
        }
        active.set(i64::try_from(sessions.len()).unwrap_or(i64::MAX));
    }
    active.set(0);
}

/// Sends a client datagram upstream, or drops it for a rejected flow.
fn forward(session: &Session, data: &[u8], counters: &Counters) {
    match &session.upstream {
        // A direct non-blocking send: a full upstream buffer must not stall
        // every other flow, and tokio's `try_send` would refuse to try on a
        // socket the reactor has not yet reported writable (a new session).
        Some(upstream) => {
            if SockRef::from(&**upstream).send(data).is_err() {
                counters.dropped_send.inc();
            }
        }
        None => {
            counters.dropped_rejected.inc();
        }
    }
}

/// Creates the session of a new flow: choose the backend by weight, then
/// the endpoint.
fn open(
    shared: &Shared,
    ctx: &Ctx,
    listener: &Arc<UdpSocket>,
    peer: SocketAddr,
    epoch: Instant,
    now: u64,
    counters: &Counters,
) -> Session {
    let state: Arc<ListenerState> = shared.state.load_full();
    let rejected = |backend| Session {
        upstream: None,
        binding: state.binding(backend, None),
        last_seen: Arc::new(AtomicU64::new(now)),
        _replies: None,
    };
    let decision = state.decide(
        &mut rand::rng(),
        ctx.options.variants.contains(Variant::WeightedRoundRobin),
    );
    let index = match decision {
        Decision::Forward(index) => index,
        Decision::Reject { backend, reason } => {
            debug!(listener = %shared.name, %peer, reason, "flow rejected");
            return rejected(backend);
        }
    };
    let Some((backend, endpoints)) = state.forward_target(index) else {
        return rejected(Some(index));
    };
    for i in select::endpoint_order(endpoints.len(), &mut rand::rng()) {
        let endpoint = endpoints[i];
        match connect(endpoint, shared.address) {
            Ok(upstream) => {
                let upstream = Arc::new(upstream);
                let last_seen = Arc::new(AtomicU64::new(now));
                backend.metrics.sessions_created.inc();
                let replies = tokio::spawn(replies(
                    upstream.clone(),
                    listener.clone(),
                    peer,
                    last_seen.clone(),
                    epoch,
                    counters.dropped_reply.clone(),
                    ctx.options.udp_loss,
                ));
                return Session {
                    upstream: Some(upstream),
                    binding: state.binding(Some(index), Some(endpoint)),
                    last_seen,
                    _replies: Some(AbortOnDropHandle::new(replies)),
                };
            }
            Err(error) => {
                warn!(listener = %shared.name, backend = %backend.name, %endpoint, %error, "upstream socket failed");
            }
        }
    }
    rejected(Some(index))
}

/// A socket connected to `endpoint`, bound to an ephemeral port of
/// [`session_source`].
fn connect(endpoint: SocketAddr, listener: IpAddr) -> io::Result<UdpSocket> {
    let socket = std::net::UdpSocket::bind(SocketAddr::new(session_source(endpoint, listener), 0))?;
    socket.connect(endpoint)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// The address a session's upstream socket binds: the listener's own when
/// both it and the endpoint are loopback addresses, else the wildcard.
///
/// A session holds its port until it idles out (a minute by default), and
/// a wildcard port is taken on every address at once: a few local test
/// runs side by side, each opening thousands of sessions on its own
/// loopback address, used up the machine's ~28,000 ephemeral ports, and
/// every new socket on it failed (`Address already in use`). Bound to the
/// listener's loopback address, each listener address has its own ports.
fn session_source(endpoint: SocketAddr, listener: IpAddr) -> IpAddr {
    if listener.is_loopback()
        && endpoint.ip().is_loopback()
        && listener.is_ipv4() == endpoint.is_ipv4()
    {
        listener
    } else {
        match endpoint {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        }
    }
}

/// Relays a session's replies to its client from the listener socket.
async fn replies(
    upstream: Arc<UdpSocket>,
    listener: Arc<UdpSocket>,
    client: SocketAddr,
    last_seen: Arc<AtomicU64>,
    epoch: Instant,
    dropped: Counter,
    loss: f64,
) {
    loop {
        // Wait for both sides first so the shared buffer is used without
        // an await in between.
        if upstream.readable().await.is_err() || listener.writable().await.is_err() {
            return;
        }
        let sent = REPLY_BUFFER.with_borrow_mut(|buf| {
            let len = upstream.try_recv(buf)?;
            if lost(loss) {
                return Ok(true);
            }
            Ok::<bool, io::Error>(listener.try_send_to(&buf[..len], client).is_ok())
        });
        match sent {
            Ok(true) => last_seen.store(millis(epoch), Ordering::Relaxed),
            Ok(false) => {
                dropped.inc();
            }
            // WouldBlock (spurious readiness) or an ICMP error such as
            // ECONNREFUSED from a backend that is not listening: keep going.
            Err(_) => {}
        }
    }
}

/// The `udp-loss` variant: whether this datagram is lost (chance `loss`).
fn lost(loss: f64) -> bool {
    loss > 0.0 && rand::random::<f64>() < loss
}

/// Removes the sessions matching `pred`; returns how many.
fn remove_where(
    sessions: &mut LruCache<SocketAddr, Session>,
    pred: impl Fn(&Session) -> bool,
) -> u64 {
    let doomed: Vec<SocketAddr> = sessions
        .iter()
        .filter(|(_, s)| pred(s))
        .map(|(addr, _)| *addr)
        .collect();
    for addr in &doomed {
        sessions.pop(addr);
    }
    doomed.len() as u64
}

fn millis(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_bind_the_listeners_loopback_address_else_the_wildcard() {
        let src = |endpoint: &str, listener: &str| {
            session_source(endpoint.parse().unwrap(), listener.parse().unwrap()).to_string()
        };
        assert_eq!(src("127.0.0.1:3000", "127.1.4.12"), "127.1.4.12");
        assert_eq!(src("10.244.0.7:3000", "127.1.4.12"), "0.0.0.0");
        assert_eq!(src("127.0.0.1:3000", "0.0.0.0"), "0.0.0.0");
        assert_eq!(src("10.244.0.7:3000", "10.0.0.1"), "0.0.0.0");
        assert_eq!(src("[::1]:3000", "127.1.4.12"), "::");
    }
}
