//! Shared fixtures of the data-plane tests: echo backends, configs, clients.
#![allow(dead_code, missing_docs)]

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use echo_server::protocol::Reply;
use reference_gateway::config::{Backend, Config, Listener, ListenerKey, Protocol, Route, Target};
use reference_gateway::dataplane::metrics::Metrics;
use reference_gateway::dataplane::{DataPlane, Options};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};

pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Guard against hangs: every awaited network step finishes well within this.
pub const GUARD: Duration = Duration::from_secs(20);

/// An echo backend reporting `service`, on ephemeral loopback ports.
pub async fn echo(service: &str) -> echo_server::Running {
    echo_server::start(echo_server::Config::loopback(echo_server::Identity {
        pod: format!("{service}-0"),
        namespace: "test".into(),
        service: service.into(),
    }))
    .await
    .expect("echo server starts")
}

/// A port free on 127.0.0.1 for both TCP and UDP right now (the kernel does
/// not hand the same ephemeral port out again at once).
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind((LOCALHOST, 0)).unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind((LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

pub fn key(port: u16, protocol: Protocol) -> ListenerKey {
    ListenerKey {
        address: LOCALHOST,
        port,
        protocol,
    }
}

pub fn backend(name: &str, weight: u32, endpoints: &[SocketAddr]) -> Backend {
    Backend {
        name: name.into(),
        weight,
        target: Target::Endpoints(endpoints.to_vec()),
    }
}

pub fn reject(name: &str, weight: u32) -> Backend {
    Backend {
        name: name.into(),
        weight,
        target: Target::Reject("backend not permitted".into()),
    }
}

/// A listener with a route named `route` over `backends`.
pub fn listener(key: ListenerKey, route: &str, backends: Vec<Backend>) -> Listener {
    Listener {
        key,
        name: format!(
            "test/gw/{}-{}",
            key.port,
            if key.protocol == Protocol::Tcp {
                "tcp"
            } else {
                "udp"
            }
        ),
        route: Some(Route {
            name: route.into(),
            backends,
        }),
    }
}

pub fn config(listeners: Vec<Listener>) -> Config {
    let mut listeners = listeners;
    listeners.sort_by_key(|l| l.key);
    Config { listeners }
}

/// A data plane with `options`, its metrics kept for assertions.
pub fn data_plane(options: Options) -> (DataPlane, Metrics) {
    let metrics = Metrics::default();
    (DataPlane::new(options, metrics.clone()).unwrap(), metrics)
}

/// Applies `config` and fails the test if a listener did not bind.
pub fn apply(dp: &DataPlane, config: &Config) {
    let failed = dp.apply(config);
    assert!(failed.is_empty(), "bind failures: {failed:?}");
}

/// `HELLO` over a new TCP connection: the identity of the backend reached.
pub async fn tcp_hello(addr: SocketAddr) -> io::Result<Reply> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(b"HELLO n\n").await?;
    let mut line = String::new();
    let read = BufReader::new(&mut stream).read_line(&mut line).await?;
    if read == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "clean EOF, no reply",
        ));
    }
    serde_json::from_str(&line).map_err(io::Error::other)
}

/// `HELLO` on `socket` to `addr`; the reply and the address it came from.
pub async fn udp_hello(socket: &UdpSocket, addr: SocketAddr) -> (Reply, SocketAddr) {
    socket.send_to(b"HELLO n", addr).await.unwrap();
    let mut buf = vec![0; 65_535];
    let (len, from) = tokio::time::timeout(GUARD, socket.recv_from(&mut buf))
        .await
        .expect("a reply")
        .unwrap();
    (serde_json::from_slice(&buf[..len]).unwrap(), from)
}

pub async fn udp_client() -> UdpSocket {
    UdpSocket::bind((LOCALHOST, 0)).await.unwrap()
}

/// Two-sided 99.9% band of a binomial(n, p) count (normal approximation,
/// z = 3.2905): a correct gateway lands outside it 0.1% of the time.
pub fn binomial_band(n: u64, p: f64) -> (f64, f64) {
    let n = n as f64;
    let mean = n * p;
    let half = 3.2905 * (n * p * (1.0 - p)).sqrt();
    (mean - half, mean + half)
}

/// Polls `value` until `pred` holds: for metrics, which have no event to
/// await. Fails after [`GUARD`].
pub async fn eventually(what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + GUARD;
    while !pred() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
