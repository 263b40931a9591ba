//! TCP listeners: accept, choose a backend by weight, connect, proxy.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, SockRef, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, warn};

use super::metrics::{ListenerLabels, Metrics};
use super::state::{Decision, ListenerState};
use super::{Ctx, Shared, copy, select};
use crate::config::ListenerKey;
use crate::fault::Fault;

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
/// connection it accepts.
pub(crate) async fn serve(listener: std::net::TcpListener, shared: Arc<Shared>, ctx: Arc<Ctx>) {
    let listener = match TcpListener::from_std(listener) {
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
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Typically EMFILE: back off instead of spinning.
                    warn!(listener = %shared.name, %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let state = shared.state.load_full();
        let decision = state.decide(&mut rand::rng());
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
                if !ctx.options.faults.contains(Fault::RejectByAcceptClose) {
                    reset(&stream);
                }
            }
        }
    }
}

/// Makes the close of `stream` a reset (RST) rather than a FIN: the client
/// sees ECONNRESET, never a clean EOF it could take for an empty reply.
fn reset(stream: &TcpStream) {
    let _ = SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

/// Proxies one connection to the backend at `index`.
async fn proxy(
    mut client: TcpStream,
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
    let Some((mut upstream, endpoint)) =
        connect(endpoints, &ctx, &shared.name, &backend.name).await
    else {
        Metrics::reason(&ctx.metrics.tcp_rejected, &shared.name, "unreachable").inc();
        reset(&client);
        return;
    };
    if !cfg!(target_os = "linux") {
        let _ = client.set_nodelay(true);
    }
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
        let copy = copy::bidirectional(&mut client, &mut upstream, &ctx.budget);
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
/// starting from a random one.
async fn connect(
    endpoints: &[SocketAddr],
    ctx: &Ctx,
    listener: &str,
    backend: &str,
) -> Option<(TcpStream, SocketAddr)> {
    // ThreadRng is not Send: draw the order before any await.
    let order = select::endpoint_order(endpoints.len(), &mut rand::rng());
    for i in order {
        let endpoint = endpoints[i];
        match tokio::time::timeout(ctx.options.connect_timeout, connect_to(endpoint)).await {
            Ok(Ok(stream)) => return Some((stream, endpoint)),
            Ok(Err(error)) => warn!(listener, backend, %endpoint, %error, "connect failed"),
            Err(_) => warn!(listener, backend, %endpoint, "connect timed out"),
        }
    }
    None
}

/// Connects to `endpoint`, without waiting for the event loop when the
/// handshake is already over as `connect(2)` returns: on loopback the
/// kernel runs the whole handshake while sending the SYN. One
/// `getpeername` then replaces a turn of the event loop (for the writable
/// event) and the `SO_ERROR` check after it, and the client's first bytes
/// go on at once.
async fn connect_to(endpoint: SocketAddr) -> io::Result<TcpStream> {
    let socket = tcp_socket(endpoint)?;
    socket.set_tcp_nodelay(true)?;
    match socket.connect(&endpoint.into()) {
        Ok(()) => {}
        Err(error) if error.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(error) => return Err(error),
    }
    let stream = TcpStream::from_std(socket.into())?;
    if stream.peer_addr().is_err() {
        // Still connecting, or refused: the socket turns writable either
        // way, and the error (if any) says which.
        stream.writable().await?;
        if let Some(error) = stream.take_error()? {
            return Err(error);
        }
    }
    Ok(stream)
}
