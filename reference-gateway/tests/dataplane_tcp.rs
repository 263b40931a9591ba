//! TCP data plane on loopback, with real echo backends.

mod dataplane_support;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use dataplane_support::*;
use rand::RngCore;
use reference_gateway::config::Protocol;
use reference_gateway::dataplane::Options;
use reference_gateway::dataplane::metrics::ListenerLabels;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_split_by_weight_and_weight_zero_gets_none() {
    let (a, b, c) = (echo("v1").await, echo("v2").await, echo("v3").await);
    let port = free_port();
    let (dp, _) = data_plane(Options::default());
    apply(
        &dp,
        &config(vec![listener(
            key(port, Protocol::Tcp),
            "TCPRoute/test/weighted",
            vec![
                backend("v1", 70, &[a.tcp_addr().unwrap()]),
                backend("v2", 30, &[b.tcp_addr().unwrap()]),
                backend("v3", 0, &[c.tcp_addr().unwrap()]),
            ],
        )]),
    );
    let addr = SocketAddr::new(LOCALHOST, port);
    let n = 2_000u64;
    let limit = Arc::new(Semaphore::new(64));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let permit = limit.clone().acquire_owned().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let reply = tcp_hello(addr).await.expect("identity reply");
            drop(permit);
            reply.service
        }));
    }
    let mut counts = BTreeMap::<String, u64>::new();
    for task in tasks {
        *counts.entry(task.await.unwrap()).or_default() += 1;
    }
    assert_eq!(counts.get("v3"), None, "weight 0 got traffic: {counts:?}");
    let v1 = counts.get("v1").copied().unwrap_or(0) as f64;
    let (low, high) = binomial_band(n, 0.7);
    assert!(
        (low..=high).contains(&v1),
        "v1 got {v1}, 99.9% band [{low:.1}, {high:.1}]: {counts:?}"
    );
    assert_eq!(counts.values().sum::<u64>(), n);
}

/// What a client observes on a connection that should be refused or reset.
async fn refused_or_reset(addr: SocketAddr) -> io::ErrorKind {
    match tcp_hello(addr).await {
        Ok(reply) => panic!("expected a reset, got a reply from {}", reply.service),
        Err(error) => error.kind(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_shares_and_routeless_listeners_reset_never_close_cleanly() {
    let a = echo("v1").await;
    let (reject_port, bare_port, mixed_port) = (free_port(), free_port(), free_port());
    let (dp, _) = data_plane(Options::default());
    let mut bare = listener(key(bare_port, Protocol::Tcp), "unused", vec![]);
    bare.route = None;
    apply(
        &dp,
        &config(vec![
            listener(
                key(reject_port, Protocol::Tcp),
                "TCPRoute/test/r",
                vec![reject("bad", 1)],
            ),
            bare,
            listener(
                key(mixed_port, Protocol::Tcp),
                "TCPRoute/test/m",
                vec![backend("v1", 1, &[a.tcp_addr().unwrap()]), reject("bad", 1)],
            ),
        ]),
    );
    for port in [reject_port, bare_port] {
        for _ in 0..20 {
            let kind = refused_or_reset(SocketAddr::new(LOCALHOST, port)).await;
            assert!(
                matches!(
                    kind,
                    io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::BrokenPipe
                ),
                "port {port}: {kind:?} (a clean EOF is UnexpectedEof)"
            );
        }
    }
    // Half the connections of the mixed route are answered, the rest reset.
    let n = 400;
    let (mut answered, mut reset) = (0u64, 0u64);
    for _ in 0..n {
        match tcp_hello(SocketAddr::new(LOCALHOST, mixed_port)).await {
            Ok(reply) => {
                assert_eq!(reply.service, "v1");
                answered += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => reset += 1,
            Err(e) => panic!("neither a reply nor a reset: {e}"),
        }
    }
    let (low, high) = binomial_band(n, 0.5);
    assert!(
        (low..=high).contains(&(reset as f64)),
        "{reset} resets, {answered} answered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoints_are_skipped_then_reset() {
    let a = echo("v1").await;
    // A port nobody listens on: connects there are refused.
    let dead = SocketAddr::new(LOCALHOST, free_port());
    let (port, dead_port) = (free_port(), free_port());
    let (dp, _) = data_plane(Options::default());
    apply(
        &dp,
        &config(vec![
            listener(
                key(port, Protocol::Tcp),
                "TCPRoute/test/r",
                vec![backend("v1", 1, &[dead, a.tcp_addr().unwrap()])],
            ),
            listener(
                key(dead_port, Protocol::Tcp),
                "TCPRoute/test/d",
                vec![backend("v0", 1, &[dead])],
            ),
        ]),
    );
    for _ in 0..10 {
        let reply = tcp_hello(SocketAddr::new(LOCALHOST, port))
            .await
            .expect("the live endpoint answers");
        assert_eq!(reply.service, "v1");
    }
    let kind = refused_or_reset(SocketAddr::new(LOCALHOST, dead_port)).await;
    assert_eq!(kind, io::ErrorKind::ConnectionReset);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_mebibyte_round_trips_intact_spliced_and_copied() {
    // Some(0): every connection takes the buffered-copy fallback.
    for spliced in [Some(16), Some(0)] {
        one_mebibyte_round_trips(Options {
            max_spliced_connections: spliced,
            ..Options::default()
        })
        .await;
    }
}

async fn one_mebibyte_round_trips(options: Options) {
    let a = echo("v1").await;
    let port = free_port();
    let splice = options.max_spliced_connections != Some(0);
    let (dp, metrics) = data_plane(options);
    apply(
        &dp,
        &config(vec![listener(
            key(port, Protocol::Tcp),
            "TCPRoute/test/r",
            vec![backend("v1", 1, &[a.tcp_addr().unwrap()])],
        )]),
    );
    let mut payload = vec![0u8; 1 << 20];
    rand::rng().fill_bytes(&mut payload);
    for _ in 0..3 {
        let stream = TcpStream::connect((LOCALHOST, port)).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let sent = payload.clone();
        let writer = tokio::spawn(async move {
            write
                .write_all(format!("ECHO {}\n", sent.len()).as_bytes())
                .await
                .unwrap();
            write.write_all(&sent).await.unwrap();
            write
        });
        let mut back = vec![0u8; payload.len()];
        read.read_exact(&mut back).await.unwrap();
        assert!(back == payload, "payload corrupted");
        drop(writer.await.unwrap());
    }
    // The copy path taken is the one asked for.
    let name = format!("test/gw/{port}-tcp");
    let counter = |family: &prometheus_client::metrics::family::Family<
        ListenerLabels,
        prometheus_client::metrics::counter::Counter,
    >| {
        family
            .get_or_create(&ListenerLabels {
                listener: name.clone(),
            })
            .get()
    };
    let accepted = || {
        metrics
            .tcp_accepted
            .get_or_create(&reference_gateway::dataplane::metrics::BackendLabels {
                listener: name.clone(),
                backend: "v1".into(),
            })
            .get()
    };
    assert_eq!(accepted(), 3);
    eventually("connections finish", || {
        metrics
            .tcp_active
            .get_or_create(&reference_gateway::dataplane::metrics::BackendLabels {
                listener: name.clone(),
                backend: "v1".into(),
            })
            .get()
            == 0
    })
    .await;
    assert_eq!(counter(&metrics.tcp_spliced), if splice { 3 } else { 0 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_half_close_reaches_the_backend_and_backend_fin_reaches_the_client() {
    for spliced in [Some(16), Some(0)] {
        client_half_close_reaches_the_backend_and_backend_fin_reaches_the_client_with(Options {
            max_spliced_connections: spliced,
            ..Options::default()
        })
        .await;
    }
}

async fn client_half_close_reaches_the_backend_and_backend_fin_reaches_the_client_with(
    options: Options,
) {
    let a = echo("v1").await;
    let port = free_port();
    let (dp, _) = data_plane(options);
    apply(
        &dp,
        &config(vec![listener(
            key(port, Protocol::Tcp),
            "TCPRoute/test/r",
            vec![backend("v1", 1, &[a.tcp_addr().unwrap()])],
        )]),
    );
    // STREAM echoes until our FIN, then the backend closes: we must see all
    // bytes then EOF, which needs half-close carried both ways.
    let mut stream = TcpStream::connect((LOCALHOST, port)).await.unwrap();
    stream
        .write_all(b"STREAM\nsome bytes then FIN")
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    let mut back = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut back))
        .await
        .expect("EOF arrives")
        .unwrap();
    assert_eq!(back, b"some bytes then FIN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_half_close_leaves_the_client_direction_open() {
    for spliced in [Some(16), Some(0)] {
        backend_half_close_leaves_the_client_direction_open_with(Options {
            max_spliced_connections: spliced,
            ..Options::default()
        })
        .await;
    }
}

async fn backend_half_close_leaves_the_client_direction_open_with(options: Options) {
    // A backend that speaks first, half-closes, then reads until EOF.
    let backend_listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let backend_addr = backend_listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut conn, _) = backend_listener.accept().await.unwrap();
        conn.write_all(b"bye").await.unwrap();
        conn.shutdown().await.unwrap();
        let mut got = Vec::new();
        conn.read_to_end(&mut got).await.unwrap();
        got
    });
    let port = free_port();
    let (dp, _) = data_plane(options);
    apply(
        &dp,
        &config(vec![listener(
            key(port, Protocol::Tcp),
            "TCPRoute/test/r",
            vec![backend("raw", 1, &[backend_addr])],
        )]),
    );
    let mut stream = TcpStream::connect((LOCALHOST, port)).await.unwrap();
    let mut first = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut first))
        .await
        .expect("EOF")
        .unwrap();
    assert_eq!(first, b"bye");
    stream.write_all(b"still talking").await.unwrap();
    stream.shutdown().await.unwrap();
    let got = tokio::time::timeout(GUARD, server)
        .await
        .expect("backend sees EOF")
        .unwrap();
    assert_eq!(got, b"still talking");
}
