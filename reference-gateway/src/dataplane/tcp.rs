//! TCP listeners: accept, choose a backend by weight, connect, proxy.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, SockRef, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::net::TcpStream;
use tracing::{debug, warn};

use super::metrics::{ListenerLabels, Metrics};
use super::spare::SPARE;
use super::state::{Decision, ListenerState};
use super::{Ctx, Shared, copy, select};
use crate::config::ListenerKey;
use crate::variant::Variant;

/// Binds a listening socket. Every worker accepts on it through its own
/// descriptor (see `workers`). SO_REUSEADDR lets a restart rebind at once,
/// past TIME_WAIT; no SO_REUSEPORT, so a port another process holds fails
/// to bind (`PortUnavailable`) rather than being shared with it.
pub(crate) fn bind(key: &ListenerKey) -> io::Result<std::net::TcpListener> {
    let addr = SocketAddr::new(key.address, key.port);
    let socket = tcp_socket(addr)?;
    socket.set_reuse_address(true)?;
    // Accepted connections inherit it (Linux): one system call fewer each.
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

/// A non-blocking TCP socket for `addr`'s address family.
fn tcp_socket(addr: SocketAddr) -> io::Result<Socket> {
    Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(socket2::Protocol::TCP),
    )
}

/// Accepts until the listener is stopped, one task per connection.
/// Runs on a worker, with the worker's own descriptor of the listening
/// socket: it is registered with that worker's runtime, and so is every
/// connection it proxies.
pub(crate) async fn serve(listener: std::net::TcpListener, shared: Arc<Shared>, ctx: Arc<Ctx>) {
    // Deprecated for types whose descriptor can change under the AsyncFd;
    // a std listener owns its one descriptor until dropped, so this is
    // sound, and the replacement is `unsafe`, which this workspace forbids.
    #[allow(deprecated)]
    let registered = AsyncFd::with_interest(listener, Interest::READABLE);
    SPARE.keep();
    let listener = match registered {
        Ok(listener) => listener,
        Err(error) => {
            // The other workers still accept on the socket.
            warn!(listener = %shared.name, %error, "cannot register a worker's socket");
            return;
        }
    };
    loop {
        let (stream, peer) = tokio::select! {
            () = shared.stop_accept.cancelled() => return,
            accepted = listener.async_io(Interest::READABLE, accept) => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    let at_limit = at_fd_limit(&error);
                    let refused = if at_limit {
                        refuse_queued(listener.get_ref())
                    } else {
                        0
                    };
                    if refused > 0 {
                        Metrics::reason(&ctx.metrics.tcp_rejected, &shared.name, "fd_limit")
                            .inc_by(refused as u64);
                        if warning_due() {
                            warn!(
                                listener = %shared.name, %error, refused,
                                "out of descriptors: queued connections reset (one line a second at most)"
                            );
                        }
                        continue;
                    }
                    // EMFILE while another worker has the spare (or it is
                    // being won back, see `spare`), or another error: back
                    // off instead of spinning on a listener that stays
                    // readable.
                    if !at_limit || warning_due() {
                        warn!(listener = %shared.name, %error, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    SPARE.keep();
                    continue;
                }
            },
        };
        let state = shared.state.load_full();
        let decision = state.decide(
            &mut rand::rng(),
            ctx.options.variants.contains(Variant::WeightedRoundRobin),
        );
        match decision {
            Decision::Forward(index) => {
                let shared = shared.clone();
                let ctx2 = ctx.clone();
                ctx.tracker.spawn(async move {
                    proxy(stream, peer, state, index, shared, ctx2).await;
                });
            }
            Decision::Reject { reason, .. } => {
                debug!(listener = %shared.name, %peer, reason, "connection rejected");
                Metrics::reason(&ctx.metrics.tcp_rejected, &shared.name, reason).inc();
                if !ctx.options.variants.contains(Variant::RejectByAcceptClose) {
                    reset(&stream);
                }
            }
        }
    }
}

thread_local! {
    /// When this worker last warned about resetting at the limit.
    static WARNED: Cell<Option<tokio::time::Instant>> = const { Cell::new(None) };
}

/// Whether this worker may warn again: at the limit, every new connection
/// can be a reset, and a line each would flood the log (the
/// `fd_limit` rejection counter counts them all).
fn warning_due() -> bool {
    let now = tokio::time::Instant::now();
    let due = WARNED
        .get()
        .is_none_or(|last| now.duration_since(last) >= Duration::from_secs(1));
    if due {
        WARNED.set(Some(now));
    }
    due
}

/// Whether accept failed for want of a descriptor (process or system).
fn at_fd_limit(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// At the open-files limit, `accept` fails and the kernel keeps completed
/// connections in the listen queue, where their clients hang (measured:
/// 39 of 80 clients got no answer within 1 s, `fault_fd_exhaustion`)
/// until a descriptor frees up, if ever. Instead, as libuv does
/// (`uv__emfile_trick`), close the process's spare descriptor, accept and
/// reset every queued connection with it (at most a listen queue's worth),
/// and reopen the spare: clients fail fast and can retry elsewhere. Costs
/// one descriptor. Returns how many were reset; 0 if another worker has
/// the spare or another thread took its slot first (the caller then backs
/// off).
fn refuse_queued(listener: &std::net::TcpListener) -> usize {
    let Some(spare) = SPARE.take() else {
        return 0;
    };
    drop(spare);
    let mut refused = 0;
    // Ends at WouldBlock (queue empty) or EMFILE (slot taken).
    while refused < 4096 {
        let Ok((socket, _)) = accept(listener) else {
            break;
        };
        reset(&socket);
        refused += 1;
    }
    SPARE.keep();
    refused
}

/// Accepts a connection, non-blocking but not yet registered with the
/// event loop: `proxy` reads the client's first bytes before it is.
fn accept(listener: &std::net::TcpListener) -> io::Result<(Socket, SocketAddr)> {
    let listener = SockRef::from(listener);
    #[cfg(target_os = "linux")]
    let (socket, peer) = listener.accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)?;
    #[cfg(not(target_os = "linux"))]
    let (socket, peer) = {
        let (socket, peer) = listener.accept()?;
        socket.set_nonblocking(true)?;
        (socket, peer)
    };
    let peer = peer
        .as_socket()
        .ok_or_else(|| io::Error::other("a TCP peer without an IP address"))?;
    Ok((socket, peer))
}

/// Makes the close of `socket` a reset (RST) rather than a FIN: the client
/// sees ECONNRESET, never a clean EOF it could take for an empty reply.
fn reset<'s>(socket: impl Into<SockRef<'s>>) {
    let _ = socket.into().set_linger(Some(Duration::ZERO));
}

/// Proxies one connection to the backend at `index`.
async fn proxy(
    client: Socket,
    peer: SocketAddr,
    state: Arc<ListenerState>,
    index: usize,
    shared: Arc<Shared>,
    ctx: Arc<Ctx>,
) {
    let Some((backend, endpoints)) = state.forward_target(index) else {
        reset(&client);
        return;
    };
    let first = match copy::read_first(&client) {
        Ok(first) => first,
        Err(error) => {
            debug!(listener = %shared.name, %peer, %error, "the client failed before its first bytes");
            return;
        }
    };
    let Some((mut upstream, endpoint, sent)) =
        connect(endpoints, &first, &ctx, &shared.name, &backend.name).await
    else {
        Metrics::reason(&ctx.metrics.tcp_rejected, &shared.name, "unreachable").inc();
        reset(&client);
        return;
    };
    if !SPARE.keep() {
        // This connection holds the spare's slot, or the one it needs
        // back: give both descriptors back rather than hold them (see
        // `spare`), then take one for the spare.
        Metrics::reason(&ctx.metrics.tcp_rejected, &shared.name, "fd_limit").inc();
        reset(&client);
        reset(&upstream);
        drop((client, upstream));
        SPARE.keep();
        return;
    }
    if !cfg!(target_os = "linux") {
        let _ = client.set_tcp_nodelay(true);
    }
    let mut client = match TcpStream::from_std(client.into()) {
        Ok(client) => client,
        Err(error) => {
            warn!(listener = %shared.name, %peer, %error, "cannot register a connection");
            reset(&upstream);
            return;
        }
    };
    let metrics = &backend.metrics;
    metrics.accepted.inc();
    metrics.active.inc();
    let binding = state.binding(Some(index), Some(endpoint));
    debug!(listener = %shared.name, %peer, backend = %backend.name, %endpoint, "proxying");

    // Subscribe before re-checking so a reload between accept and here is
    // not missed.
    let mut changes = shared.changes.subscribe();
    let mut keep = shared.state.load().keeps(&binding);
    let moved = if keep {
        let copy = copy::bidirectional(&mut client, &mut upstream, first, sent, &ctx.budget);
        tokio::pin!(copy);
        loop {
            tokio::select! {
                moved = &mut copy => break Some(moved),
                () = shared.closed.cancelled() => break None,
                changed = changes.changed() => {
                    keep = changed.is_ok() && shared.state.load().keeps(&binding);
                    if !keep {
                        break None;
                    }
                }
            }
        }
    } else {
        None
    };
    metrics.active.dec();
    match moved {
        Some(moved) => {
            metrics.bytes_up.inc_by(moved.upstream);
            metrics.bytes_down.inc_by(moved.downstream);
            if moved.spliced {
                ctx.metrics
                    .tcp_spliced
                    .get_or_create(&ListenerLabels {
                        listener: shared.name.clone(),
                    })
                    .inc();
            }
            if let Some(error) = moved.error {
                debug!(listener = %shared.name, %peer, %error, "connection ended with an error");
            }
        }
        None => {
            // The route or the backend is gone (or the gateway is stopping
            // past its drain period): reset both sides.
            ctx.metrics
                .tcp_closed_by_reload
                .get_or_create_owned(&ListenerLabels {
                    listener: shared.name.clone(),
                })
                .inc();
            reset(&client);
            reset(&upstream);
        }
    }
}

/// Connects to the first endpoint that answers within the connect timeout,
/// starting from a random one, sending `first` as in `connect_to`.
async fn connect(
    endpoints: &[SocketAddr],
    first: &[u8],
    ctx: &Ctx,
    listener: &str,
    backend: &str,
) -> Option<(TcpStream, SocketAddr, usize)> {
    // ThreadRng is not Send: draw the order before any await.
    let order = select::endpoint_order(endpoints.len(), &mut rand::rng());
    for i in order {
        let endpoint = endpoints[i];
        match tokio::time::timeout(ctx.options.connect_timeout, connect_to(endpoint, first)).await {
            Ok(Ok((stream, sent))) => return Some((stream, endpoint, sent)),
            Ok(Err(error)) => warn!(listener, backend, %endpoint, %error, "connect failed"),
            Err(_) => warn!(listener, backend, %endpoint, "connect timed out"),
        }
    }
    None
}

/// Connects to `endpoint` and sends it as much of `first` (the client's
/// bytes already read) as it takes at once, returning how much that was.
/// Neither waits for the event loop when the handshake is already over as
/// `connect(2)` returns: on loopback the kernel runs the whole handshake
/// while sending the SYN. A send that succeeds shows the connection is up
/// (one still connecting returns `WouldBlock`, a refused one its error);
/// without bytes to send, a `getpeername` tells. Either replaces a turn of
/// the event loop (for the writable event) and the `SO_ERROR` check after
/// it, and the client's first bytes are on their way at once, as
/// HAProxy's speculative send does.
///
/// With bytes to send, the handshake's last ACK waits and rides on them,
/// as HAProxy's `smart-connect` does: one packet fewer per connection, and
/// the backend accepts the connection and reads its first bytes in one
/// wakeup. Measured with `conn-cost.sh`: the echo backends spent 30–32 µs
/// of CPU per connection instead of 34–36, and switched context 1.13 times
/// instead of 1.25 (BENCHMARKS.md, session 5). Never without bytes to
/// send: a server-first backend (SMTP, SSH) would then see the connection
/// only when the delayed ACK fires, up to 200 ms later.
async fn connect_to(endpoint: SocketAddr, first: &[u8]) -> io::Result<(TcpStream, usize)> {
    let socket = tcp_socket(endpoint)?;
    socket.set_tcp_nodelay(true)?;
    #[cfg(target_os = "linux")]
    if !first.is_empty() {
        socket.set_tcp_quickack(false)?;
    }
    match socket.connect(&endpoint.into()) {
        Ok(()) => {}
        Err(error) if error.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(error) => return Err(error),
    }
    let sent = if first.is_empty() {
        socket.peer_addr().ok().map(|_| 0)
    } else {
        match socket.send(first) {
            Ok(n) => Some(n),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => None,
            Err(error) => return Err(error),
        }
    };
    let stream = TcpStream::from_std(socket.into())?;
    if sent.is_none() {
        // Still connecting, or refused: the socket turns writable either
        // way, and the error (if any) says which.
        stream.writable().await?;
        if let Some(error) = stream.take_error()? {
            return Err(error);
        }
    }
    Ok((stream, sent.unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;
    use std::net::SocketAddr;
    use std::time::Duration;

    use tokio::io::AsyncReadExt;
    use tokio::net::TcpStream;

    use super::connect_to;

    fn listener() -> (std::net::TcpListener, SocketAddr) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        (listener, addr)
    }

    // A delayed handshake ACK goes out with the first data or when the
    // delayed-ACK timer fires (TCP_DELACK_MAX, 200 ms, on Linux); on
    // loopback an undelayed one reaches the backend within the connect(2)
    // call, or within milliseconds if the kernel defers its softirq work.

    #[tokio::test]
    async fn without_first_bytes_a_server_first_backend_accepts_at_once() {
        let (backend, addr) = listener();
        let (_upstream, sent) = connect_to(addr, &[]).await.unwrap();
        assert_eq!(sent, 0);
        // The connection is established on the backend's side, which can
        // send its banner, long before a delayed ACK's timer.
        let deadline = tokio::time::Instant::now() + Duration::from_millis(150);
        while let Err(error) = backend.accept() {
            assert_eq!(error.kind(), ErrorKind::WouldBlock);
            assert!(
                tokio::time::Instant::now() < deadline,
                "the backend could not accept: the handshake's last ACK was delayed"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn first_bytes_go_out_as_the_connection_opens() {
        let (backend, addr) = listener();
        let (_upstream, sent) = connect_to(addr, b"HELLO").await.unwrap();
        assert_eq!(sent, 5, "a fresh loopback connection takes 5 bytes at once");
        let (accepted, _) = backend.accept().expect("the bytes carried the last ACK");
        accepted.set_nonblocking(true).unwrap();
        let mut accepted = TcpStream::from_std(accepted).unwrap();
        let mut buf = [0u8; 5];
        accepted.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HELLO");
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_error_with_or_without_first_bytes() {
        let (backend, addr) = listener();
        drop(backend);
        for first in [&b""[..], b"HELLO"] {
            let error = connect_to(addr, first).await.expect_err("nothing listens");
            assert_eq!(
                error.kind(),
                ErrorKind::ConnectionRefused,
                "first: {first:?}"
            );
        }
    }
}
