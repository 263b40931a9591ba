//! A backend that stops reading (issue #24): the gateway binary proxies
//! [`STUCK`] connections whose clients write as fast as they can to a
//! backend that accepts and never reads, next to a listener with a
//! healthy echo backend.
//!
//! Proves: what the gateway holds per stuck connection stays bounded (its
//! resident memory over the baseline, divided by the stuck connections,
//! is within twice the one read buffer a pushed-back direction may keep;
//! figure printed) although each client wrote megabytes; the gateway does
//! not spin on them (CPU over a window, printed); other connections are
//! unaffected (echoes through the other listener are intact and prompt,
//! figure printed); and once the backend goes away every stuck connection
//! ends.

mod dataplane_support;

use std::net::SocketAddr;
use std::time::Duration;

use dataplane_support::*;
use rand::{Rng, SeedableRng};
use reference_gateway::config::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Connections to the backend that does not read.
const STUCK: usize = 64;
/// The most a client tries to write: more than the kernel can hold on the
/// path (a gateway that buffered without bound would take it all). Each of
/// the four sockets on it (client send, gateway receive, gateway send,
/// backend receive) may autotune up to the `tcp_rmem`/`tcp_wmem` maximum,
/// 32 MiB and 4 MiB here: with a fixed 32 MiB cap one client, on a loaded
/// machine, wrote it all before its writes stalled (the kernel buffers
/// could hold it; the gateway's memory stayed bounded).
fn cap() -> usize {
    let max = |name: &str| -> usize {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"))
            .ok()
            .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
            .unwrap_or(32 << 20)
    };
    2 * (max("tcp_rmem") + max("tcp_wmem")) + (1 << 20)
}
/// A write that makes no progress for this long means the path is full.
const STALL: Duration = Duration::from_secs(1);
/// The gateway's read buffer: the most a pushed-back direction keeps.
const READ_BUFFER_KIB: u64 = 256;
/// Echoes through the healthy listener while the others are stuck.
const HEALTHY: usize = 20;
/// Bytes each healthy echo moves.
const PAYLOAD: usize = 1 << 20;

/// Writes to `stream` until a write stalls for [`STALL`] or `cap` bytes
/// are out; returns how many bytes were written.
async fn fill(mut stream: TcpStream, cap: usize) -> (TcpStream, usize) {
    let chunk = vec![0x5a_u8; 64 * 1024];
    let mut written = 0;
    while written < cap {
        match tokio::time::timeout(STALL, stream.write(&chunk)).await {
            Ok(Ok(n)) => written += n,
            Ok(Err(error)) => panic!("a stuck connection failed: {error}"),
            Err(_) => break,
        }
    }
    (stream, written)
}

/// `ECHO` of [`PAYLOAD`] random bytes; true if they came back intact.
async fn echo_round_trip(addr: SocketAddr, seed: u64) -> bool {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut payload = vec![0u8; PAYLOAD];
    rand::rngs::StdRng::seed_from_u64(seed).fill(&mut payload[..]);
    stream
        .write_all(format!("ECHO {PAYLOAD}\n").as_bytes())
        .await
        .unwrap();
    let (mut read, mut write) = stream.split();
    let mut back = vec![0u8; PAYLOAD];
    let (written, read) = tokio::join!(write.write_all(&payload), read.read_exact(&mut back));
    written.is_ok() && read.is_ok() && back == payload
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_stops_reading_costs_bounded_memory_and_spares_other_connections() {
    let echo = echo("v1").await;
    // Accepts and holds every connection, never reading.
    let stuck_backend = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let stuck_addr = stuck_backend.local_addr().unwrap();
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            tokio::select! {
                accepted = stuck_backend.accept() => held.push(accepted.unwrap().0),
                _ = &mut stop_rx => return held.len(),
            }
        }
    });
    let (stuck_port, healthy_port) = (free_port(), free_port());
    let cfg = config(vec![
        listener(
            key(stuck_port, Protocol::Tcp),
            "TCPRoute/slow/stuck",
            vec![backend("stuck", 1, &[stuck_addr])],
        ),
        listener(
            key(healthy_port, Protocol::Tcp),
            "TCPRoute/slow/healthy",
            vec![backend("v1", 1, &[echo.tcp_addr().unwrap()])],
        ),
    ]);
    let gateway = serve_config(&cfg, &[]).await;
    let stuck_gateway = SocketAddr::new(LOCALHOST, stuck_port);
    let healthy_gateway = SocketAddr::new(LOCALHOST, healthy_port);

    // Warm up: bulk echoes touch every worker's read buffer.
    for seed in 0..8 {
        assert!(echo_round_trip(healthy_gateway, seed).await);
    }
    let baseline = proc_status_kib(gateway.pid, "VmRSS");

    // Fill every stuck connection until its writes stall.
    let cap = cap();
    let started = tokio::time::Instant::now();
    let fills: Vec<_> = (0..STUCK)
        .map(|_| {
            tokio::spawn(async move {
                let stream = TcpStream::connect(stuck_gateway).await.unwrap();
                fill(stream, cap).await
            })
        })
        .collect();
    let mut stuck = Vec::new();
    let mut written = Vec::new();
    for fill in fills {
        let (stream, n) = fill.await.unwrap();
        stuck.push(stream);
        written.push(n);
    }
    let filled = started.elapsed();
    let total: usize = written.iter().sum();
    assert!(
        written.iter().all(|&n| n < cap),
        "a client wrote all {cap} bytes: nothing pushed back"
    );
    let stuck_rss = proc_status_kib(gateway.pid, "VmRSS");
    let per_connection = stuck_rss.saturating_sub(baseline) / STUCK as u64;
    eprintln!(
        "slow backend: {STUCK} stuck connections, clients wrote {} KiB each on average ({} KiB at most) before stalling ({filled:.1?})",
        total / STUCK / 1024,
        written.iter().max().unwrap() / 1024
    );
    eprintln!(
        "slow backend: VmRSS {baseline} KiB at baseline, {stuck_rss} KiB with them stuck: {per_connection} KiB per stuck connection"
    );
    assert!(
        per_connection <= 2 * READ_BUFFER_KIB,
        "{per_connection} KiB per stuck connection"
    );

    // The gateway does not spin on them.
    let before = cpu_time(gateway.pid);
    let window = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let share = (cpu_time(gateway.pid) - before).as_secs_f64() / window.elapsed().as_secs_f64();
    eprintln!(
        "slow backend: gateway CPU with them stuck: {:.1}% of one core",
        share * 100.0
    );
    assert!(share < 0.5, "{:.0}% of a core", share * 100.0);

    // Other connections are unaffected: concurrent bulk echoes through the
    // healthy listener come back intact.
    let started = tokio::time::Instant::now();
    let echoes: Vec<_> = (0..HEALTHY)
        .map(|i| tokio::spawn(echo_round_trip(healthy_gateway, 100 + i as u64)))
        .collect();
    for echo in echoes {
        let intact = tokio::time::timeout(GUARD, echo)
            .await
            .expect("an echo beside the stuck connections finishes")
            .unwrap();
        assert!(intact, "an echo beside the stuck connections was corrupted");
    }
    eprintln!(
        "slow backend: {HEALTHY} concurrent echoes of {} KiB beside them took {:.1?}",
        PAYLOAD / 1024,
        started.elapsed()
    );
    let rss = proc_status_kib(gateway.pid, "VmRSS");
    assert!(
        rss.saturating_sub(baseline) / STUCK as u64 <= 2 * READ_BUFFER_KIB,
        "{rss} KiB after the echoes"
    );

    // The backend goes away: every stuck connection ends.
    stop_tx.send(()).unwrap();
    assert_eq!(holder.await.unwrap(), STUCK, "the backend held them all");
    let deadline = tokio::time::Instant::now() + GUARD;
    while metric_sum(gateway.admin, "gateway_tcp_connections_active").await > 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stuck connections outlive their backend"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(stuck);
}
