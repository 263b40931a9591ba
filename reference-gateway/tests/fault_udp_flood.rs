//! UDP flood from many source ports (issue #24): the gateway binary with
//! `--udp-max-sessions 1000` takes two rounds of [`FLOOD`] new flows, each
//! one datagram from its own loopback port, while one active flow keeps
//! talking.
//!
//! Proves: the session table stays at its bound (the gateway's own gauge),
//! every session beyond it was evicted for it, the evicted ones are the
//! oldest (a datagram from a flow of the first round opens a new session,
//! one from the newest flows does not), the active flow kept its one
//! session throughout (the backend's per-peer count of its datagrams runs
//! on unbroken), and memory stays bounded: resident memory after the second
//! round is no higher than after the first, give or take, and both within
//! a generous per-session allowance of the baseline (figures printed).

mod dataplane_support;

use std::net::SocketAddr;
use std::time::Duration;

use dataplane_support::*;
use echo_server::protocol::Reply;
use reference_gateway::config::Protocol;
use tokio::net::UdpSocket;

/// The session table's bound in this test.
const BOUND: usize = 1_000;
/// New flows per round: five times the bound.
const FLOOD: usize = 5_000;
/// New flows between two datagrams of the active flow: well under the
/// bound, so a least-recently-used policy never picks the active flow.
const BATCH: usize = 100;
/// Memory a session may cost, generously (its socket's buffers are the
/// kernel's, not the process's; measured: about 1.2 KiB with the table
/// unbounded, 2 KiB with it full).
const SESSION_ALLOWANCE_KIB: u64 = 16;

/// The flow that keeps talking through the flood.
struct Active {
    socket: UdpSocket,
    /// The backend's count of this flow's datagrams in its last reply. The
    /// backend counts per peer, and its peer is the gateway's session
    /// socket: a new session would start again from 1.
    seq: u64,
    sent: u64,
}

impl Active {
    /// One round trip (retransmitting, as UDP clients do, up to 5 times);
    /// fails if the flow's session was replaced.
    async fn round_trip(&mut self, gateway: SocketAddr) {
        let mut buf = vec![0u8; 65_535];
        for _ in 0..5 {
            self.socket.send_to(b"HELLO active", gateway).await.unwrap();
            self.sent += 1;
            if let Ok(received) =
                tokio::time::timeout(Duration::from_millis(500), self.socket.recv_from(&mut buf))
                    .await
            {
                let (len, from) = received.unwrap();
                assert_eq!(from, gateway);
                let reply: Reply = serde_json::from_slice(&buf[..len]).unwrap();
                let seq = reply.flow_seq.expect("a UDP reply counts the flow");
                assert!(
                    seq > self.seq,
                    "the active flow lost its session: the backend counts {seq} datagrams, after {}",
                    self.seq
                );
                self.seq = seq;
                return;
            }
        }
        panic!("the active flow got no reply in 5 tries");
    }
}

/// Opens `count` new flows, a datagram each, [`BATCH`] at a time with a
/// round trip of the active flow after each batch; returns their sockets.
async fn flood(count: usize, gateway: SocketAddr, active: &mut Active) -> Vec<UdpSocket> {
    let mut sockets = Vec::with_capacity(count);
    for batch in 0..count / BATCH {
        for i in 0..BATCH {
            let socket = udp_client().await;
            socket
                .send_to(format!("flood {batch}/{i}").as_bytes(), gateway)
                .await
                .unwrap();
            sockets.push(socket);
        }
        active.round_trip(gateway).await;
    }
    sockets
}

/// Sends one datagram from each socket and waits for every echo.
async fn echo_each(sockets: &[UdpSocket], gateway: SocketAddr) {
    let mut buf = vec![0u8; 2048];
    for (i, socket) in sockets.iter().enumerate() {
        let message = format!("again {i}");
        let mut answered = false;
        for _ in 0..5 {
            socket.send_to(message.as_bytes(), gateway).await.unwrap();
            // Drain the first round's echo, if still queued, on the way.
            while let Ok(received) =
                tokio::time::timeout(Duration::from_millis(500), socket.recv_from(&mut buf)).await
            {
                let (len, _) = received.unwrap();
                if &buf[..len] == message.as_bytes() {
                    answered = true;
                    break;
                }
            }
            if answered {
                break;
            }
        }
        assert!(answered, "flow {i} got no echo");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_new_flows_keeps_the_table_bounded_evicts_the_oldest_and_spares_active_flows() {
    // 10,000 client sockets are held at once.
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let echo = echo("v1").await;
    let port = free_port();
    let gateway_addr = SocketAddr::new(LOCALHOST, port);
    let cfg = config(vec![listener(
        key(port, Protocol::Udp),
        "UDPRoute/flood/r",
        vec![backend("v1", 1, &[echo.udp_addr().unwrap()])],
    )]);
    let bound = BOUND.to_string();
    let gateway = serve_config(
        &cfg,
        &[
            "--udp-max-sessions",
            &bound,
            // No idle expiry during the test: every removal is an eviction.
            "--udp-idle-timeout",
            "3600s",
        ],
    )
    .await;
    let mut active = Active {
        socket: udp_client().await,
        seq: 0,
        sent: 0,
    };
    active.round_trip(gateway_addr).await;
    let baseline = proc_status_kib(gateway.pid, "VmRSS");
    let fds_at_baseline = open_fds(gateway.pid);

    let first = flood(FLOOD, gateway_addr, &mut active).await;
    let after_first = proc_status_kib(gateway.pid, "VmRSS");
    let table = metric_sum(gateway.admin, "gateway_udp_sessions_active").await;
    assert_eq!(table, BOUND as f64, "after {FLOOD} new flows");

    let second = flood(FLOOD, gateway_addr, &mut active).await;
    let after_second = proc_status_kib(gateway.pid, "VmRSS");
    let peak = proc_status_kib(gateway.pid, "VmHWM");
    let table = metric_sum(gateway.admin, "gateway_udp_sessions_active").await;
    assert_eq!(table, BOUND as f64, "after {} new flows", 2 * FLOOD);
    let created = metric_sum(gateway.admin, "gateway_udp_sessions_created_total").await;
    let evicted = metric_sum(gateway.admin, "gateway_udp_sessions_evicted_total").await;
    eprintln!(
        "udp flood: bound {BOUND}, 2 × {FLOOD} new flows: {created} sessions created, {evicted} evicted, {table} in the table"
    );
    eprintln!(
        "udp flood: VmRSS {baseline} KiB at baseline, {after_first} KiB after {FLOOD} flows, {after_second} KiB after {}; VmHWM {peak} KiB",
        2 * FLOOD
    );
    assert!(
        created > (2 * FLOOD) as f64 * 0.9,
        "most flows got a session"
    );
    assert_eq!(
        evicted,
        created - BOUND as f64,
        "every session beyond the bound, and only those, was evicted"
    );
    // One upstream socket per session, and no more.
    let fds = open_fds(gateway.pid);
    eprintln!("udp flood: {fds_at_baseline} descriptors at baseline, {fds} after the flood");
    assert!(fds <= fds_at_baseline + BOUND + 8, "{fds} descriptors open");
    let allowance = SESSION_ALLOWANCE_KIB * BOUND as u64;
    assert!(
        after_first <= baseline + allowance && after_second <= baseline + allowance,
        "resident memory grew past {allowance} KiB for {BOUND} sessions"
    );
    // A table that grew with the flood would add its second 5,000 sessions
    // here; a bounded one only reuses what the first round freed.
    assert!(
        after_second <= after_first + allowance / 8,
        "resident memory kept growing: {after_first} KiB, then {after_second} KiB"
    );

    // The newest flows still have their sessions: datagrams from the last
    // BOUND / 2 open none; the oldest were evicted: each of the first 100
    // flows opens a new one.
    let newest = &second[FLOOD - BOUND / 2..];
    echo_each(newest, gateway_addr).await;
    let now = metric_sum(gateway.admin, "gateway_udp_sessions_created_total").await;
    assert_eq!(now, created, "a recent flow had lost its session");
    echo_each(&first[..100], gateway_addr).await;
    let now = metric_sum(gateway.admin, "gateway_udp_sessions_created_total").await;
    assert_eq!(now, created + 100.0, "an old flow still had its session");

    // And the active flow is still on its first session.
    active.round_trip(gateway_addr).await;
    eprintln!(
        "udp flood: the active flow kept one session over {} datagrams ({} received)",
        active.sent, active.seq
    );
}
