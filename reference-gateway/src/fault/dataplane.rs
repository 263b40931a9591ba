//! The data-plane faults' helpers. The data plane calls these behind one
//! `if faults.contains(..)` each:
//!
//! - `udp-per-packet` (`dataplane::udp::serve`): the client's session is
//!   forgotten before each datagram, so every datagram picks a backend anew;
//! - `udp-reply-from-backend-socket` (`dataplane::udp::open`): replies are
//!   sent from [`reply_socket`], not from the listener's socket;
//! - `reject-by-accept-close` (`dataplane::tcp::serve`): a rejected
//!   connection is closed with a FIN instead of a reset.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;

/// `udp-reply-from-backend-socket`: a fresh socket on the listener's
/// address but another (ephemeral) port, to send a session's replies from.
/// Falls back to the listener itself if it cannot be bound.
pub fn reply_socket(listener: &Arc<UdpSocket>) -> Arc<UdpSocket> {
    let other = || -> io::Result<UdpSocket> {
        let local = listener.local_addr()?;
        let socket = std::net::UdpSocket::bind(SocketAddr::new(local.ip(), 0))?;
        socket.set_nonblocking(true)?;
        UdpSocket::from_std(socket)
    };
    match other() {
        Ok(socket) => Arc::new(socket),
        Err(error) => {
            tracing::warn!(%error, "fault udp-reply-from-backend-socket: cannot bind a second socket");
            listener.clone()
        }
    }
}
