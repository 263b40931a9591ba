//! Binding the sockets, running the servers, shutting them down.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{Args, Config};
use crate::{tcp, udp};

/// Listen backlog asked for; the kernel caps it at `net.core.somaxconn`.
/// Large so bursts of thousands of connects are not dropped.
const BACKLOG: i32 = 4096;

/// Receive buffer asked for on the UDP socket (capped by `net.core.rmem_max`),
/// so a burst of datagrams is queued rather than dropped.
const UDP_RECV_BUFFER: usize = 4 << 20;

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A socket could not be created or bound.
    #[error("cannot bind the {protocol} socket to {addr}: {source}")]
    Bind {
        /// `"tcp"` or `"udp"`.
        protocol: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The tokio runtime or a signal handler could not be set up.
    #[error("cannot set up the {what}: {source}")]
    Setup {
        /// What failed, e.g. "tokio runtime".
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

/// A started server. Dropping it aborts the servers at once; call
/// [`Running::shutdown`] for a graceful stop.
#[derive(Debug)]
pub struct Running {
    tcp_addr: Option<SocketAddr>,
    udp_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    tcp_closed: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// The bound TCP address, if a TCP server runs.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// The bound UDP address, if a UDP server runs.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp_addr
    }

    /// The line a parent process waits for on stdout, e.g.
    /// `listening tcp=127.0.0.1:5000 udp=127.0.0.1:5001` (`off` for a
    /// server that does not run).
    pub fn ready_line(&self) -> String {
        let show = |a: Option<SocketAddr>| a.map_or_else(|| "off".into(), |a| a.to_string());
        format!(
            "listening tcp={} udp={}",
            show(self.tcp_addr),
            show(self.udp_addr)
        )
    }

    /// Starts shutting down and returns once the TCP listener is closed (new
    /// connections are refused); open connections keep running.
    pub async fn stop_accepting(&self) {
        self.shutdown.cancel();
        if self.tcp_addr.is_some() {
            self.tcp_closed.cancelled().await;
        }
    }

    /// Graceful stop: stop accepting, let open TCP connections finish within
    /// the grace period, abort the rest.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for task in std::mem::take(&mut self.tasks) {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "echo server task failed");
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Binds the sockets `config` asks for and spawns the servers on the current
/// tokio runtime.
pub async fn start(config: Config) -> Result<Running, Error> {
    let shutdown = CancellationToken::new();
    let tcp_closed = CancellationToken::new();
    let mut tasks = Vec::new();
    let mut tcp_addr = None;
    let mut udp_addr = None;
    // Bind everything before spawning anything, so a bind error leaves nothing behind.
    let listener = config
        .tcp_port
        .map(|port| bind_tcp(SocketAddr::new(config.bind, port)))
        .transpose()?;
    let socket = config
        .udp_port
        .map(|port| bind_udp(SocketAddr::new(config.bind, port)))
        .transpose()?;
    if let Some(listener) = listener {
        tcp_addr = Some(listener.local_addr().map_err(|source| Error::Bind {
            protocol: "tcp",
            addr: SocketAddr::new(config.bind, config.tcp_port.unwrap_or(0)),
            source,
        })?);
        let ctx = Arc::new(tcp::TcpContext {
            identity: config.identity.clone(),
            text: config.text.clone(),
        });
        tasks.push(tokio::spawn(tcp::serve(
            listener,
            ctx,
            shutdown.clone(),
            tcp_closed.clone(),
            config.grace,
        )));
    }
    if let Some(socket) = socket {
        udp_addr = Some(socket.local_addr().map_err(|source| Error::Bind {
            protocol: "udp",
            addr: SocketAddr::new(config.bind, config.udp_port.unwrap_or(0)),
            source,
        })?);
        tasks.push(tokio::spawn(udp::serve(
            socket,
            config.identity.clone(),
            config.text.clone(),
            shutdown.clone(),
        )));
    }
    let running = Running {
        tcp_addr,
        udp_addr,
        shutdown,
        tcp_closed,
        tasks,
    };
    let id = &config.identity;
    tracing::info!(
        pod = %id.pod, namespace = %id.namespace, service = %id.service,
        "{}", running.ready_line()
    );
    Ok(running)
}

/// Runs the server from command-line flags until SIGTERM or Ctrl-C, then
/// shuts down gracefully. Builds its own tokio runtime, raises the soft
/// open-files limit to the hard limit, and prints [`Running::ready_line`] to
/// stdout once bound. Tracing setup is the caller's job.
pub fn run_blocking(args: Args) -> Result<(), Error> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-files limit raised"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-files limit"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Setup {
            what: "tokio runtime",
            source,
        })?;
    runtime.block_on(async {
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|source| Error::Setup {
                what: "SIGTERM handler",
                source,
            })?;
        let running = start(Config::from(args)).await?;
        println!("{}", running.ready_line());
        tokio::select! {
            _ = sigterm.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: shutting down"),
        }
        running.shutdown().await;
        tracing::info!("echo server stopped");
        Ok(())
    })
}

fn bind_tcp(addr: SocketAddr) -> Result<TcpListener, Error> {
    let err = |source| Error::Bind {
        protocol: "tcp",
        addr,
        source,
    };
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(err)?;
    // Restarting on the same port must not wait for TIME_WAIT to expire.
    socket.set_reuse_address(true).map_err(err)?;
    socket.set_nonblocking(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    socket.listen(BACKLOG).map_err(err)?;
    TcpListener::from_std(socket.into()).map_err(err)
}

fn bind_udp(addr: SocketAddr) -> Result<UdpSocket, Error> {
    let err = |source| Error::Bind {
        protocol: "udp",
        addr,
        source,
    };
    let socket =
        Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).map_err(err)?;
    if let Err(e) = socket.set_recv_buffer_size(UDP_RECV_BUFFER) {
        tracing::warn!(error = %e, "cannot enlarge the udp receive buffer");
    }
    socket.set_nonblocking(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    UdpSocket::from_std(socket.into()).map_err(err)
}
