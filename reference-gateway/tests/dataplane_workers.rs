//! TCP workers: every worker accepts on the listener's one socket, which
//! is closed by the time the listener's removal returns; a port another
//! reuse-port group holds is refused rather than shared.

mod dataplane_support;

use std::net::SocketAddr;

use dataplane_support::*;
use reference_gateway::config::Protocol;
use reference_gateway::dataplane::Options;
use socket2::{Domain, Socket, Type};

/// Listening TCP sockets on `port` (any address), from /proc/net/tcp.
fn listening_sockets(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // fields[1]: local address, fields[3]: state (0A = LISTEN).
            fields[1].ends_with(&local) && fields[3] == "0A"
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_share_one_socket_and_close_it_with_the_listener() {
    let v1 = echo("v1").await;
    let port = free_port();
    let (dp, _) = data_plane(Options {
        tcp_workers: 3,
        ..Options::default()
    });
    let listeners = |routes| {
        config(if routes {
            vec![listener(
                key(port, Protocol::Tcp),
                "TCPRoute/test/r",
                vec![backend("v1", 1, &[v1.tcp_addr().unwrap()])],
            )]
        } else {
            vec![]
        })
    };
    apply(&dp, &listeners(true));
    assert_eq!(listening_sockets(port), 1);

    let addr = SocketAddr::new(LOCALHOST, port);
    for _ in 0..64 {
        let reply = tokio::time::timeout(GUARD, tcp_hello(addr))
            .await
            .expect("a worker answers")
            .expect("identity reply");
        assert_eq!(reply.service, "v1");
    }

    // Removal closes the socket before apply returns, so the port can be
    // bound again at once (a config that drops and restores a listener).
    apply(&dp, &listeners(false));
    assert_eq!(listening_sockets(port), 0, "a worker kept the socket open");
    apply(&dp, &listeners(true));
    assert_eq!(tcp_hello(addr).await.expect("identity reply").service, "v1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_another_reuse_port_group_holds_is_unavailable_not_shared() {
    let v1 = echo("v1").await;
    let port = free_port();
    let addr = SocketAddr::new(LOCALHOST, port);
    // Another process of the same user could hold the port like this; a
    // gateway binding with SO_REUSEPORT too would join it and take part of
    // its connections.
    let other = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    other.set_reuse_port(true).unwrap();
    other.bind(&addr.into()).unwrap();
    other.listen(16).unwrap();

    let (dp, _) = data_plane(Options::default());
    let failed = dp.apply(&config(vec![listener(
        key(port, Protocol::Tcp),
        "TCPRoute/test/r",
        vec![backend("v1", 1, &[v1.tcp_addr().unwrap()])],
    )]));
    let error = failed
        .get(&key(port, Protocol::Tcp))
        .expect("the listener fails to bind");
    assert!(error.contains("in use"), "{error}");
    assert_eq!(listening_sockets(port), 1, "only the other group's socket");
}
