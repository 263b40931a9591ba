//! Limits on the admin and health listeners' connections, so a client that
//! connects and sends nothing (or trickles a request) cannot hold sockets
//! for ever: axum's server sets no timeout of its own.
//!
//! - Each connection lives at most [`Limits::lifetime`], then it is closed
//!   (a probe or a scrape takes milliseconds; a keep-alive client just
//!   reconnects).
//! - At most [`Limits::connections`] are open at once; one more closes the
//!   oldest rather than being refused, so a flood of idle connections
//!   cannot lock the kubelet's probes out for longer than one connection's
//!   turn.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// The limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest a connection stays open.
    pub lifetime: Duration,
    /// Most connections open at once.
    pub connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            lifetime: Duration::from_secs(10),
            connections: 64,
        }
    }
}

/// A listener applying [`Limits`] to what it accepts.
#[derive(Debug)]
pub struct Limited {
    inner: TcpListener,
    limits: Limits,
    /// Open connections, oldest first: closing one cancels its token.
    open: Arc<Mutex<VecDeque<CancellationToken>>>,
}

impl Limited {
    /// Wraps `inner`.
    pub fn new(inner: TcpListener, limits: Limits) -> Self {
        Limited {
            inner,
            limits,
            open: Arc::default(),
        }
    }
}

impl axum::serve::Listener for Limited {
    type Io = LimitedStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        let token = CancellationToken::new();
        {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            // Forget the ones that ended, then make room.
            open.retain(|t| !t.is_cancelled());
            while open.len() >= self.limits.connections.max(1) {
                if let Some(oldest) = open.pop_front() {
                    oldest.cancel();
                }
            }
            open.push_back(token.clone());
        }
        let closed = token.clone().cancelled_owned();
        (
            LimitedStream {
                stream,
                deadline: Box::pin(tokio::time::sleep(self.limits.lifetime)),
                closed: Box::pin(closed),
                token,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// An accepted connection that fails every read and write once its
/// lifetime is over or it was chosen to make room; hyper then closes it.
#[derive(Debug)]
pub struct LimitedStream {
    stream: TcpStream,
    deadline: Pin<Box<tokio::time::Sleep>>,
    closed: Pin<Box<WaitForCancellationFutureOwned>>,
    token: CancellationToken,
}

impl LimitedStream {
    /// An error once the connection must end.
    fn ended(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Some(io::Error::new(
                io::ErrorKind::TimedOut,
                "admin connection lifetime over",
            ));
        }
        if self.closed.as_mut().poll(cx).is_ready() {
            return Some(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed to make room for a newer admin connection",
            ));
        }
        None
    }
}

impl Drop for LimitedStream {
    fn drop(&mut self) {
        // Marks it gone for the listener's bookkeeping.
        self.token.cancel();
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.ended(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.ended(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
