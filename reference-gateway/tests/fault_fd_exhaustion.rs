//! File-descriptor exhaustion (issue #24): the gateway binary with its
//! open-files limit lowered (`prlimit(2)` on the running child, soft and
//! hard, so it cannot raise it back) to what it holds at rest plus room
//! for [`ROOM`] proxied connections (two descriptors each).
//!
//! While it is saturated, connections beyond the limit must fail fast
//! (reset or closed, not left hanging in the accept queue), the gateway
//! must not spin (its CPU over a [`WINDOW`] while clients keep arriving,
//! printed), and once the held connections close it must serve new ones
//! again. The gateway is a child process so that its descriptors, not the
//! test's, hit the limit.

mod dataplane_support;

use std::net::SocketAddr;
use std::time::Duration;

use dataplane_support::*;
use reference_gateway::config::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The gateway's TCP workers: both race for the one spare descriptor.
const WORKERS: usize = 2;
/// Proxied connections the lowered limit leaves room for.
const ROOM: usize = 40;
/// Connections tried in all while filling up: well past the room.
const TRIED: usize = 80;
/// How long the CPU is measured while saturated.
const WINDOW: Duration = Duration::from_secs(2);
/// A reply slower than this counts as hanging (generous: a refused
/// connection fails at once, a served one answers in milliseconds).
const PATIENCE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Echoed.
    Served,
    /// Reset, refused, or closed without a reply.
    Refused,
    /// No answer within [`PATIENCE`].
    Hung,
}

/// Opens a `STREAM` connection and tries one round trip; the stream is
/// returned when it was served, to be held.
async fn attempt(addr: SocketAddr) -> (Outcome, Option<TcpStream>) {
    let round_trip = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(b"STREAM\nping").await?;
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"ping", "a served connection echoes intact");
        std::io::Result::Ok(stream)
    };
    match tokio::time::timeout(PATIENCE, round_trip).await {
        Ok(Ok(stream)) => (Outcome::Served, Some(stream)),
        Ok(Err(_)) => (Outcome::Refused, None),
        Err(_) => (Outcome::Hung, None),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_descriptor_limit_new_connections_fail_fast_without_spinning_then_recover() {
    let echo = echo("v1").await;
    let port = free_port();
    let addr = SocketAddr::new(LOCALHOST, port);
    let cfg = config(vec![listener(
        key(port, Protocol::Tcp),
        "TCPRoute/fd/r",
        vec![backend("v1", 1, &[echo.tcp_addr().unwrap()])],
    )]);
    let workers = WORKERS.to_string();
    let gateway = serve_config(&cfg, &["--tcp-workers", &workers]).await;
    // Warm up every worker (buffers, any lazily opened descriptor).
    for _ in 0..8 {
        tcp_hello(addr).await.expect("served before the limit");
    }
    // At rest once the warm-up connections are closed on its side too.
    let mut at_rest = open_fds(gateway.pid);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = open_fds(gateway.pid);
        if now == at_rest {
            break;
        }
        at_rest = now;
    }
    let limit = (at_rest + 2 * ROOM) as u64;
    rlimit::prlimit(
        gateway.pid,
        rlimit::Resource::NOFILE,
        Some((limit, limit)),
        None,
    )
    .expect("lower the gateway's open-files limit");
    eprintln!("fd: gateway holds {at_rest} descriptors at rest; limit lowered to {limit}");

    // Fill up: connections are served until the descriptors run out.
    let mut held = Vec::new();
    let mut outcomes = Vec::new();
    for _ in 0..TRIED {
        let (outcome, stream) = attempt(addr).await;
        outcomes.push(outcome);
        held.extend(stream);
    }
    let count = |o: Outcome| outcomes.iter().filter(|&&x| x == o).count();
    let (served, refused, hung) = (
        count(Outcome::Served),
        count(Outcome::Refused),
        count(Outcome::Hung),
    );
    eprintln!(
        "fd: of {TRIED} connections, {served} served, {refused} reset or closed, {hung} hanging"
    );
    // A connection is held only while the spare is open too (`spare` in
    // the data plane): never one more than the room.
    assert!(
        served <= ROOM,
        "{served} connections served with room for {ROOM}: the limit did not apply, or a connection holds the spare's slot"
    );
    assert!(
        served >= ROOM - 4,
        "only {served} connections served with room for {ROOM}"
    );
    assert_eq!(
        hung, 0,
        "connections beyond the limit hang instead of failing fast"
    );
    assert_eq!(served + refused, TRIED);

    // One descriptor fewer: whichever of the two cases the fill-up ended
    // in (one descriptor left, so accept works and the backend socket
    // fails; or none, so accept itself fails), the window below has the
    // other.
    rlimit::prlimit(
        gateway.pid,
        rlimit::Resource::NOFILE,
        Some((limit - 1, limit - 1)),
        None,
    )
    .unwrap();

    // Saturated, with a new client every 10 ms: the gateway must not spin.
    let before = cpu_time(gateway.pid);
    let started = tokio::time::Instant::now();
    let mut during = Vec::new();
    while started.elapsed() < WINDOW {
        let (outcome, stream) = attempt(addr).await;
        during.push(outcome);
        drop(stream);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    let used = cpu_time(gateway.pid) - before;
    let share = used.as_secs_f64() / elapsed.as_secs_f64();
    eprintln!(
        "fd: saturated for {elapsed:.2?} with {} new clients: gateway CPU {used:?} ({:.1}% of one core); outcomes {:?}",
        during.len(),
        share * 100.0,
        [Outcome::Served, Outcome::Refused, Outcome::Hung]
            .map(|o| during.iter().filter(|&&x| x == o).count())
    );
    assert!(
        share < 0.5,
        "the gateway used {:.0}% of a core while saturated: it spins",
        share * 100.0
    );
    // All refused: the spare's slot lets a connection be accepted, never
    // held.
    assert!(
        during.iter().all(|&o| o == Outcome::Refused),
        "while saturated new connections must be refused: {during:?}"
    );

    // The held connections still work, then close: the gateway recovers.
    for stream in &mut held {
        stream.write_all(b"pong").await.unwrap();
        let mut buf = [0u8; 4];
        tokio::time::timeout(GUARD, stream.read_exact(&mut buf))
            .await
            .expect("a held connection answers")
            .expect("a held connection is intact");
        assert_eq!(&buf, b"pong");
    }
    drop(held);
    let deadline = tokio::time::Instant::now() + GUARD;
    while open_fds(gateway.pid) > at_rest {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gateway still holds {} descriptors, {at_rest} at rest",
            open_fds(gateway.pid)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Half the room, so that the admin API (same process, same limit) has
    // descriptors left for the metrics below.
    let mut again = Vec::new();
    for _ in 0..ROOM / 2 {
        let (outcome, stream) = attempt(addr).await;
        assert_eq!(outcome, Outcome::Served, "not served after recovery");
        again.extend(stream);
    }
    eprintln!(
        "fd: after the held connections closed, {} new connections served again",
        ROOM / 2
    );
    drop(again);
    // Reset at accept, for want of a descriptor (not just for want of one
    // for the backend connection): the spare-descriptor path ran.
    let reset_at_accept = metric_where(
        gateway.admin,
        "gateway_tcp_connections_rejected_total",
        |labels| labels.get("reason") == Some("fd_limit"),
    )
    .await;
    eprintln!("fd: {reset_at_accept} connections reset at accept (reason fd_limit)");
    assert!(reset_at_accept > 0.0);
}
