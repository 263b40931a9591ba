//! Clients that hold the admin and health listeners' sockets: one that
//! connects and sends nothing, one that trickles a request a byte at a
//! time, and more idle connections than the limit. Each is closed by the
//! server (`admin::limits`), and a fresh probe still gets its answer. Before
//! the limits, the first two were held open for ever (axum's server has no
//! timeout of its own), so one client could pile up sockets on the
//! gateway's health port, which the install manifests open beyond loopback.
//!
//! Three tests in one file: they share the server set-up.

mod dataplane_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dataplane_support::http_get;
use prometheus_client::registry::Registry;
use reference_gateway::admin::{self, Admin, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous: the server's limits here are a fraction of it.
const GUARD: Duration = Duration::from_secs(20);

/// The health router behind `limits`, on loopback.
async fn serve(limits: Limits) -> SocketAddr {
    let admin = Arc::new(Admin::new(Registry::default()));
    admin.set_ready(true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(admin::serve_limited(
        listener,
        admin::health_router(admin, false),
        limits,
        std::future::pending(),
    ));
    addr
}

/// Reads until the server closes (EOF or reset); panics after [`GUARD`].
async fn closed_by_server(stream: &mut TcpStream) {
    let mut sink = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut sink))
        .await
        .expect("the server never closed the connection")
        .ok();
}

/// `GET /healthz`'s status code; panics after [`GUARD`].
async fn healthz(addr: SocketAddr) -> u16 {
    tokio::time::timeout(GUARD, http_get(addr, "/healthz"))
        .await
        .expect("/healthz answered in time")
        .0
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_its_lifetime() {
    let addr = serve(Limits {
        lifetime: Duration::from_millis(300),
        connections: 64,
    })
    .await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    closed_by_server(&mut idle).await;
    assert_eq!(healthz(addr).await, 200);
}

#[tokio::test]
async fn a_trickled_request_is_cut_off_after_the_lifetime() {
    let addr = serve(Limits {
        lifetime: Duration::from_millis(500),
        connections: 64,
    })
    .await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ";
    slow.write_all(request).await.unwrap();
    let trickle = async {
        // One byte every 100 ms, never finishing the header.
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow.write_all(b"a").await.is_err() {
                break;
            }
        }
    };
    tokio::time::timeout(GUARD, trickle)
        .await
        .expect("the server kept reading a request that never ends");
}

#[tokio::test]
async fn more_idle_connections_than_the_limit_close_the_oldest_not_the_probe() {
    let addr = serve(Limits {
        lifetime: Duration::from_secs(600),
        connections: 4,
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..10 {
        idle.push(TcpStream::connect(addr).await.unwrap());
        // In order: the server accepts each before the next.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A probe beyond the limit is answered.
    assert_eq!(healthz(addr).await, 200);
    // The seven oldest made room (for the six newer idle ones and the
    // probe); they are closed, well before their lifetime.
    for stream in idle.iter_mut().take(7) {
        closed_by_server(stream).await;
    }
}
