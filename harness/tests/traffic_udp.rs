//! UDP flows on loopback: identify, echo and bursts against an in-process
//! echo server, and every failure outcome produced for real.

use std::time::Duration;

mod common;

use common::within;
use echo_server::{Config, Identity, Running};
use harness::traffic::{Outcome, UdpFlow, UdpOptions};
use tokio::net::UdpSocket;

const QUICK: UdpOptions = UdpOptions {
    timeout: Duration::from_millis(300),
    connected: false,
};

async fn echo_server() -> Running {
    common::echo_server("svc-u", "pod-u", false, true).await
}

#[tokio::test]
async fn identify_and_echo_on_one_flow() {
    let server = echo_server().await;
    let target = server.udp_addr().unwrap();
    let mut flow = UdpFlow::open(target, UdpOptions::default()).await.unwrap();
    let probe = within(flow.identify()).await.unwrap();
    assert_eq!(probe.outcome, Outcome::Ok, "{}", probe.evidence.detail);
    let reply = probe.reply.as_ref().unwrap();
    assert_eq!(reply.service, "svc-u");
    assert_eq!(reply.flow_seq, Some(1));
    assert_eq!(probe.evidence.reply_from, Some(target));
    assert_eq!(probe.evidence.local, Some(flow.local_addr()));
    assert_eq!(reply.peer, flow.local_addr().to_string());

    let payload = vec![0xabu8; echo_server::protocol::MAX_DATAGRAM];
    let probe = within(flow.echo(&payload)).await.unwrap();
    assert_eq!(probe.outcome, Outcome::Ok, "{}", probe.evidence.detail);
    assert_eq!(probe.evidence.bytes_received, payload.len() as u64);

    let probe = within(flow.identify()).await.unwrap();
    assert_eq!(
        probe.reply.unwrap().flow_seq,
        Some(3),
        "the echo counted as datagram 2"
    );
}

#[tokio::test]
async fn connected_flow_works_too() {
    let server = echo_server().await;
    let options = UdpOptions {
        connected: true,
        ..UdpOptions::default()
    };
    let mut flow = UdpFlow::open(server.udp_addr().unwrap(), options)
        .await
        .unwrap();
    let probe = within(flow.identify()).await.unwrap();
    assert_eq!(probe.outcome, Outcome::Ok, "{}", probe.evidence.detail);
}

#[tokio::test]
async fn burst_stays_on_one_flow_and_counts_up() {
    let server = echo_server().await;
    let mut flow = UdpFlow::open(server.udp_addr().unwrap(), UdpOptions::default())
        .await
        .unwrap();
    let burst = within(flow.burst(200)).await.unwrap();
    assert_eq!(burst.ok_count(), 200);
    let expected: Vec<Option<u64>> = (1..=200).map(Some).collect();
    assert_eq!(burst.flow_seqs(), expected);
    let backends = burst.backends();
    assert_eq!(backends.len(), 1);
    assert_eq!(backends.first().unwrap().to_string(), "svc-u/pod-u");
}

#[tokio::test]
async fn silent_socket_is_a_timeout() {
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = silent.local_addr().unwrap();
    let mut flow = UdpFlow::open(target, QUICK).await.unwrap();
    let probe = within(flow.identify()).await.unwrap();
    assert_eq!(probe.outcome, Outcome::Timeout, "{}", probe.evidence.detail);
    let probe = within(flow.echo(b"x")).await.unwrap();
    assert_eq!(probe.outcome, Outcome::Timeout, "{}", probe.evidence.detail);
    // The datagrams did arrive; nobody answered.
    let mut buf = [0u8; 64];
    let (_, from) = silent.recv_from(&mut buf).await.unwrap();
    assert_eq!(from, flow.local_addr());
}

#[tokio::test]
async fn closed_port_is_refused_on_a_connected_flow_only() {
    let closed = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = closed.local_addr().unwrap();
    drop(closed);
    let connected = UdpOptions {
        connected: true,
        ..QUICK
    };
    let mut flow = UdpFlow::open(target, connected).await.unwrap();
    let probe = within(flow.identify()).await.unwrap();
    assert_eq!(probe.outcome, Outcome::Refused, "{}", probe.evidence.detail);
    // Unconnected sockets never hear about ICMP errors (see the module docs).
    let mut flow = UdpFlow::open(target, QUICK).await.unwrap();
    let probe = within(flow.identify()).await.unwrap();
    assert_eq!(probe.outcome, Outcome::Timeout, "{}", probe.evidence.detail);
}

#[tokio::test]
async fn reply_from_the_wrong_address_is_a_mismatch() {
    // Receives on one socket, answers from another: the bug of a gateway
    // replying from a socket other than its listener's.
    let server = echo_server().await;
    let real = server.udp_addr().unwrap();
    let front = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = front.local_addr().unwrap();
    let back = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let wrong = back.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        let upstream = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        loop {
            let (n, client) = front.recv_from(&mut buf).await.unwrap();
            upstream.send_to(&buf[..n], real).await.unwrap();
            let (n, _) = upstream.recv_from(&mut buf).await.unwrap();
            back.send_to(&buf[..n], client).await.unwrap();
        }
    });
    let mut flow = UdpFlow::open(target, UdpOptions::default()).await.unwrap();
    let probe = within(flow.identify()).await.unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::Mismatch,
        "{}",
        probe.evidence.detail
    );
    assert_eq!(probe.evidence.reply_from, Some(wrong));
    assert_eq!(
        probe.reply.unwrap().service,
        "svc-u",
        "the reply is kept as evidence"
    );
    let probe = within(flow.echo(b"data")).await.unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::Mismatch,
        "{}",
        probe.evidence.detail
    );
    assert!(
        probe.evidence.detail.contains(&wrong.to_string()),
        "{}",
        probe.evidence.detail
    );
}

#[tokio::test]
async fn wrong_bytes_are_a_mismatch() {
    // Answers every datagram with its bytes flipped.
    let server_socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = server_socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, client) = server_socket.recv_from(&mut buf).await.unwrap();
            let wrong: Vec<u8> = buf[..n].iter().map(|b| b ^ 0xff).collect();
            server_socket.send_to(&wrong, client).await.unwrap();
        }
    });
    let mut flow = UdpFlow::open(target, QUICK).await.unwrap();
    let probe = within(flow.echo(b"abc")).await.unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::Mismatch,
        "{}",
        probe.evidence.detail
    );
    assert!(
        probe.evidence.detail.contains("byte 0 differs"),
        "{}",
        probe.evidence.detail
    );
    let probe = within(flow.identify()).await.unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::Mismatch,
        "{}",
        probe.evidence.detail
    );
    assert!(
        probe.evidence.detail.contains("not an identity reply"),
        "{}",
        probe.evidence.detail
    );
}

#[tokio::test]
async fn late_reply_to_an_earlier_probe_is_skipped() {
    // Holds the replies to the first HELLO (and to its resends) back until
    // another HELLO arrives, then sends them all before that one's: the
    // first probe times out, the second must pick its own reply, not the
    // stale ones.
    let server = echo_server().await;
    let real = server.udp_addr().unwrap();
    let front = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = front.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        let upstream = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut first: Option<Vec<u8>> = None;
        let mut held: Vec<Vec<u8>> = Vec::new();
        loop {
            let (n, client) = front.recv_from(&mut buf).await.unwrap();
            let request = buf[..n].to_vec();
            upstream.send_to(&request, real).await.unwrap();
            let (n, _) = upstream.recv_from(&mut buf).await.unwrap();
            if first.get_or_insert_with(|| request.clone()) == &request {
                held.push(buf[..n].to_vec());
                continue;
            }
            for old in held.drain(..) {
                front.send_to(&old, client).await.unwrap();
            }
            front.send_to(&buf[..n], client).await.unwrap();
        }
    });
    let mut flow = UdpFlow::open(target, QUICK).await.unwrap();
    let first = within(flow.identify()).await.unwrap();
    assert_eq!(first.outcome, Outcome::Timeout, "{}", first.evidence.detail);
    let tries = first.evidence.tries;
    let second = within(flow.identify()).await.unwrap();
    assert_eq!(second.outcome, Outcome::Ok, "{}", second.evidence.detail);
    // The echo server counts every datagram of the flow, resends included.
    assert_eq!(
        second.reply.as_ref().unwrap().flow_seq,
        Some(u64::from(tries) + 1)
    );
    assert!(
        second
            .evidence
            .detail
            .contains(&format!("{tries} late replies")),
        "{}",
        second.evidence.detail
    );
}

#[tokio::test]
async fn text_mode_backend() {
    let identity = Identity {
        pod: "p".into(),
        namespace: "n".into(),
        service: "s".into(),
    };
    let mut config = Config::loopback(identity);
    config.text = Some("Hello from UDP Echo!".into());
    let server = echo_server::start(config).await.unwrap();
    let mut flow = UdpFlow::open(server.udp_addr().unwrap(), QUICK)
        .await
        .unwrap();
    let probe = within(flow.text("Hello from UDP Echo!")).await.unwrap();
    assert_eq!(probe.outcome, Outcome::Ok, "{}", probe.evidence.detail);
    let probe = within(flow.text("something else")).await.unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::Mismatch,
        "{}",
        probe.evidence.detail
    );
    // A protocol-mode server echoes our datagram instead.
    let plain = echo_server().await;
    let mut flow = UdpFlow::open(plain.udp_addr().unwrap(), QUICK)
        .await
        .unwrap();
    let probe = within(flow.text("Hello from UDP Echo!")).await.unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::Mismatch,
        "{}",
        probe.evidence.detail
    );
}

#[tokio::test]
async fn a_lost_datagram_is_resent_from_the_same_port() {
    // Drops the first datagram of every probe: the probe resends the same
    // datagram from the same source port, and the reply to the resend counts.
    let server = echo_server().await;
    let real = server.udp_addr().unwrap();
    let front = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = front.local_addr().unwrap();
    let sources = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = sources.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        let upstream = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut dropped: Vec<Vec<u8>> = Vec::new();
        loop {
            let (n, client) = front.recv_from(&mut buf).await.unwrap();
            seen.lock().unwrap().push(client);
            let request = buf[..n].to_vec();
            if !dropped.contains(&request) {
                dropped.push(request);
                continue;
            }
            upstream.send_to(&request, real).await.unwrap();
            let (n, _) = upstream.recv_from(&mut buf).await.unwrap();
            front.send_to(&buf[..n], client).await.unwrap();
        }
    });
    let mut flow = UdpFlow::open(
        target,
        UdpOptions {
            timeout: Duration::from_secs(2),
            ..UdpOptions::default()
        },
    )
    .await
    .unwrap();
    let probe = within(flow.identify()).await.unwrap();
    assert_eq!(probe.outcome, Outcome::Ok, "{}", probe.evidence.detail);
    assert_eq!(probe.evidence.tries, 2);
    let sources = sources.lock().unwrap().clone();
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[0], sources[1], "the resend left from the same port");
    let echoed = within(flow.echo(b"payload")).await.unwrap();
    assert_eq!(echoed.outcome, Outcome::Ok, "{}", echoed.evidence.detail);
    assert_eq!(echoed.evidence.tries, 2);
}
