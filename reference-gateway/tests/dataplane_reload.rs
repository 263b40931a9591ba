//! Reconfiguration under traffic: what survives a reload and what is closed.

mod dataplane_support;

use std::net::SocketAddr;

use dataplane_support::*;
use reference_gateway::config::Protocol;
use reference_gateway::dataplane::Options;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Opens a STREAM connection and proves it works with one round trip.
async fn open_stream(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"STREAM\nping").await.unwrap();
    let mut buf = [0u8; 4];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn established_connections_on_unchanged_routes_survive_reloads() {
    let (a, b) = (echo("v1").await, echo("v2").await);
    let (port, other_port) = (free_port(), free_port());
    let addr = SocketAddr::new(LOCALHOST, port);
    let (dp, _) = data_plane(Options::default());
    let base = listener(
        key(port, Protocol::Tcp),
        "TCPRoute/test/r",
        vec![backend("v1", 1, &[a.tcp_addr().unwrap()])],
    );
    apply(&dp, &config(vec![base.clone()]));

    // 40 connections, each sending 50 chunks with a round trip per chunk;
    // they report after their first round trip so reloads happen mid-stream.
    let (ready_tx, mut ready_rx) = mpsc::channel(64);
    let mut clients = Vec::new();
    for i in 0..40u32 {
        let ready_tx = ready_tx.clone();
        clients.push(tokio::spawn(async move {
            let mut stream = open_stream(addr).await;
            ready_tx.send(()).await.unwrap();
            for j in 0..50u32 {
                let chunk = format!("{i}:{j};");
                stream.write_all(chunk.as_bytes()).await.unwrap();
                let mut back = vec![0u8; chunk.len()];
                stream.read_exact(&mut back).await.unwrap();
                assert_eq!(back, chunk.as_bytes());
                tokio::task::yield_now().await;
            }
            stream.shutdown().await.unwrap();
            let mut rest = Vec::new();
            stream.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty());
        }));
    }
    for _ in 0..40 {
        ready_rx.recv().await.unwrap();
    }
    // Reloads that keep v1 and its endpoint: weights, a new backend, a new
    // listener, a renamed-then-restored backend set order.
    let mut reweighted = base.clone();
    reweighted.route.as_mut().unwrap().backends = vec![
        backend("v1", 5, &[a.tcp_addr().unwrap()]),
        backend("v2", 5, &[b.tcp_addr().unwrap()]),
    ];
    let other = listener(
        key(other_port, Protocol::Tcp),
        "TCPRoute/test/o",
        vec![backend("v2", 1, &[b.tcp_addr().unwrap()])],
    );
    for round in 0..20 {
        let next = match round % 3 {
            0 => config(vec![reweighted.clone()]),
            1 => config(vec![reweighted.clone(), other.clone()]),
            _ => config(vec![base.clone()]),
        };
        apply(&dp, &next);
        // New connections keep working during the reloads.
        let reply = tcp_hello(addr).await.expect("new connection during reload");
        assert!(reply.service == "v1" || reply.service == "v2");
    }
    for client in clients {
        tokio::time::timeout(GUARD, client)
            .await
            .expect("client finishes")
            .expect("client succeeded");
    }
}

/// Reads until the connection ends; true if it ended (EOF or reset).
async fn ended(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(GUARD, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_route_or_removing_a_backend_closes_its_connections() {
    let (a, b) = (echo("v1").await, echo("v2").await);
    let (port, kept_port) = (free_port(), free_port());
    let addr = SocketAddr::new(LOCALHOST, port);
    let kept_addr = SocketAddr::new(LOCALHOST, kept_port);
    let (dp, _) = data_plane(Options::default());
    let route = listener(
        key(port, Protocol::Tcp),
        "TCPRoute/test/r",
        vec![backend("v1", 1, &[a.tcp_addr().unwrap()])],
    );
    let kept = listener(
        key(kept_port, Protocol::Tcp),
        "TCPRoute/test/k",
        vec![backend("v2", 1, &[b.tcp_addr().unwrap()])],
    );
    apply(&dp, &config(vec![route.clone(), kept.clone()]));

    // Route deletion: the listener stays, with no route.
    let mut doomed = open_stream(addr).await;
    let mut survivor = open_stream(kept_addr).await;
    let mut routeless = route.clone();
    routeless.route = None;
    apply(&dp, &config(vec![routeless, kept.clone()]));
    assert!(
        ended(&mut doomed).await,
        "connection on the deleted route stays open"
    );

    // Backend removal: v1 replaced by v2 on the same route.
    apply(&dp, &config(vec![route.clone(), kept.clone()]));
    let mut doomed = open_stream(addr).await;
    let mut swapped = route.clone();
    swapped.route.as_mut().unwrap().backends = vec![backend("v2", 1, &[b.tcp_addr().unwrap()])];
    apply(&dp, &config(vec![swapped, kept.clone()]));
    assert!(
        ended(&mut doomed).await,
        "connection to the removed backend stays open"
    );

    // The untouched route's connection still works.
    survivor.write_all(b"pong").await.unwrap();
    let mut buf = [0u8; 4];
    survivor.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"pong");

    // Listener removal closes its connections too.
    apply(&dp, &config(vec![route.clone(), kept.clone()]));
    let mut doomed = open_stream(addr).await;
    apply(&dp, &config(vec![kept]));
    assert!(ended(&mut doomed).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_drains_then_closes_the_rest() {
    let a = echo("v1").await;
    let port = free_port();
    let addr = SocketAddr::new(LOCALHOST, port);
    let (dp, _) = data_plane(Options::default());
    apply(
        &dp,
        &config(vec![listener(
            key(port, Protocol::Tcp),
            "TCPRoute/test/r",
            vec![backend("v1", 1, &[a.tcp_addr().unwrap()])],
        )]),
    );
    let dp = std::sync::Arc::new(dp);
    let mut finishing = open_stream(addr).await;
    let mut lingering = open_stream(addr).await;
    let shutdown = tokio::spawn({
        let dp = dp.clone();
        async move { dp.shutdown(std::time::Duration::from_secs(1)).await }
    });
    // The listener closes: new connections are refused.
    let deadline = tokio::time::Instant::now() + GUARD;
    while TcpStream::connect(addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "still accepting");
        tokio::task::yield_now().await;
    }
    // Open connections keep working during the drain and finish normally.
    finishing.write_all(b"late").await.unwrap();
    let mut buf = [0u8; 4];
    finishing.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"late");
    finishing.shutdown().await.unwrap();
    let mut rest = Vec::new();
    finishing.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    // One still open at the end of the drain period is closed.
    assert!(ended(&mut lingering).await);
    tokio::time::timeout(GUARD, shutdown)
        .await
        .unwrap()
        .unwrap();
}
