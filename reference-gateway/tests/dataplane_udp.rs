//! UDP data plane on loopback, with real echo backends.

mod dataplane_support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use dataplane_support::*;
use reference_gateway::config::Protocol;
use reference_gateway::dataplane::Options;
use reference_gateway::dataplane::metrics::{Metrics, ReasonLabels};

fn counter(
    family: &prometheus_client::metrics::family::Family<
        ReasonLabels,
        prometheus_client::metrics::counter::Counter,
    >,
    listener: &str,
    reason: &str,
) -> u64 {
    family
        .get_or_create(&ReasonLabels {
            listener: listener.into(),
            reason: reason.into(),
        })
        .get()
}

fn evicted(metrics: &Metrics, listener: &str, reason: &str) -> u64 {
    counter(&metrics.udp_sessions_evicted, listener, reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_come_from_the_listener_address_and_flows_stick_to_one_backend() {
    let (a, b) = (echo("v1").await, echo("v2").await);
    let port = free_port();
    let (dp, _) = data_plane(Options::default());
    apply(
        &dp,
        &config(vec![listener(
            key(port, Protocol::Udp),
            "UDPRoute/test/r",
            vec![
                backend("v1", 1, &[a.udp_addr().unwrap()]),
                backend("v2", 1, &[b.udp_addr().unwrap()]),
            ],
        )]),
    );
    let addr = SocketAddr::new(LOCALHOST, port);
    let mut per_backend = BTreeMap::<String, u32>::new();
    // Every client socket stays open to the end: a closed one's port could
    // be handed to the next client, which would then land in the earlier
    // flow's session (the gateway keeps it until its idle timeout).
    let mut clients = Vec::new();
    for _ in 0..40 {
        let client = udp_client().await;
        let mut services = BTreeSet::new();
        for seq in 1..=10u64 {
            let (reply, from) = udp_hello(&client, addr).await;
            assert_eq!(
                from, addr,
                "reply must come from the address the client sent to"
            );
            // One session: the backend sees one peer whose count goes up.
            assert_eq!(reply.flow_seq, Some(seq));
            services.insert(reply.service);
        }
        assert_eq!(services.len(), 1, "a flow was split: {services:?}");
        *per_backend
            .entry(services.pop_first().unwrap())
            .or_default() += 1;
        clients.push(client);
    }
    // 40 flows at 50/50: both backends used (fails with probability 2^-39).
    assert_eq!(per_backend.len(), 2, "{per_backend:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_expire_and_the_next_datagram_chooses_again() {
    let (a, b) = (echo("v1").await, echo("v2").await);
    let port = free_port();
    let (dp, metrics) = data_plane(Options {
        // Long enough that a stalled test machine does not expire the session
        // between the first two datagrams.
        udp_idle_timeout: Duration::from_secs(1),
        ..Options::default()
    });
    let only_v1 = listener(
        key(port, Protocol::Udp),
        "UDPRoute/test/r",
        vec![
            backend("v1", 1, &[a.udp_addr().unwrap()]),
            backend("v2", 0, &[b.udp_addr().unwrap()]),
        ],
    );
    apply(&dp, &config(vec![only_v1.clone()]));
    let addr = SocketAddr::new(LOCALHOST, port);
    let client = udp_client().await;
    assert_eq!(udp_hello(&client, addr).await.0.service, "v1");
    // A weight change keeps the session: still v1, same upstream peer.
    let mut only_v2 = only_v1.clone();
    only_v2.route.as_mut().unwrap().backends = vec![
        backend("v1", 0, &[a.udp_addr().unwrap()]),
        backend("v2", 1, &[b.udp_addr().unwrap()]),
    ];
    apply(&dp, &config(vec![only_v2.clone()]));
    let (reply, _) = udp_hello(&client, addr).await;
    assert_eq!((reply.service.as_str(), reply.flow_seq), ("v1", Some(2)));
    // Once idle past the timeout the session goes; the flow is chosen anew.
    eventually("idle eviction", || {
        evicted(&metrics, &only_v1.name, "idle") == 1
    })
    .await;
    let (reply, _) = udp_hello(&client, addr).await;
    assert_eq!((reply.service.as_str(), reply.flow_seq), ("v2", Some(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_table_evicts_the_least_recently_used_session() {
    let a = echo("v1").await;
    let port = free_port();
    let (dp, metrics) = data_plane(Options {
        udp_max_sessions: 2,
        ..Options::default()
    });
    let l = listener(
        key(port, Protocol::Udp),
        "UDPRoute/test/r",
        vec![backend("v1", 1, &[a.udp_addr().unwrap()])],
    );
    apply(&dp, &config(vec![l.clone()]));
    let addr = SocketAddr::new(LOCALHOST, port);
    let (f1, f2, f3) = (udp_client().await, udp_client().await, udp_client().await);
    let seq = |r: (echo_server::protocol::Reply, SocketAddr)| r.0.flow_seq.unwrap();
    assert_eq!(seq(udp_hello(&f1, addr).await), 1);
    assert_eq!(seq(udp_hello(&f2, addr).await), 1);
    assert_eq!(seq(udp_hello(&f1, addr).await), 2); // f2 is now least recently used
    assert_eq!(seq(udp_hello(&f3, addr).await), 1); // evicts f2
    assert_eq!(evicted(&metrics, &l.name, "full"), 1);
    assert_eq!(seq(udp_hello(&f1, addr).await), 3, "f1's session survived");
    // f2 comes back as a new session (a new upstream port, so seq 1), evicting f3.
    assert_eq!(seq(udp_hello(&f2, addr).await), 1);
    assert_eq!(evicted(&metrics, &l.name, "full"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_flow_is_dropped_consistently() {
    let a = echo("v1").await;
    let port = free_port();
    let (dp, metrics) = data_plane(Options::default());
    let l = listener(
        key(port, Protocol::Udp),
        "UDPRoute/test/r",
        vec![backend("v1", 1, &[a.udp_addr().unwrap()]), reject("bad", 1)],
    );
    apply(&dp, &config(vec![l.clone()]));
    let addr = SocketAddr::new(LOCALHOST, port);
    // Each flow sends 5 datagrams; a flow is either answered every time or
    // never. Waiting for the drop counter tells us a dropped datagram was
    // handled (no sleep needed to know no reply is coming).
    let (mut answered, mut dropped) = (0, 0);
    let mut buf = vec![0u8; 65_535];
    // Open to the end, so no client reuses an earlier one's port (session).
    let mut clients = Vec::new();
    for _ in 0..30 {
        let client = udp_client().await;
        let mut replies = 0;
        for _ in 0..5 {
            let before = counter(&metrics.udp_datagrams_dropped, &l.name, "rejected");
            client.send_to(b"HELLO n", addr).await.unwrap();
            tokio::select! {
                r = client.recv_from(&mut buf) => { r.unwrap(); replies += 1; }
                () = eventually("drop", || counter(&metrics.udp_datagrams_dropped, &l.name, "rejected") > before) => {}
            }
        }
        match replies {
            5 => answered += 1,
            0 => dropped += 1,
            n => panic!("a flow got {n} of 5 replies"),
        }
        clients.push(client);
    }
    assert!(
        answered > 0 && dropped > 0,
        "answered {answered}, dropped {dropped}"
    );
    // A route that only rejects drops everything.
    let mut all_bad = l.clone();
    all_bad.route.as_mut().unwrap().backends = vec![reject("bad", 1)];
    apply(&dp, &config(vec![all_bad]));
    let client = udp_client().await;
    let before = counter(&metrics.udp_datagrams_dropped, &l.name, "rejected");
    client.send_to(b"HELLO n", addr).await.unwrap();
    eventually("drop", || {
        counter(&metrics.udp_datagrams_dropped, &l.name, "rejected") == before + 1
    })
    .await;
    assert!(
        client.try_recv_from(&mut buf).is_err(),
        "a rejected flow got a reply"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_whose_backend_disappears_are_rebalanced() {
    let (a, b) = (echo("v1").await, echo("v2").await);
    let port = free_port();
    let (dp, metrics) = data_plane(Options::default());
    let l = listener(
        key(port, Protocol::Udp),
        "UDPRoute/test/r",
        vec![backend("v1", 1, &[a.udp_addr().unwrap()])],
    );
    apply(&dp, &config(vec![l.clone()]));
    let addr = SocketAddr::new(LOCALHOST, port);
    let client = udp_client().await;
    assert_eq!(udp_hello(&client, addr).await.0.service, "v1");
    let mut moved = l.clone();
    moved.route.as_mut().unwrap().backends = vec![backend("v2", 1, &[b.udp_addr().unwrap()])];
    apply(&dp, &config(vec![moved]));
    eventually("reconfigured eviction", || {
        evicted(&metrics, &l.name, "reconfigured") == 1
    })
    .await;
    assert_eq!(udp_hello(&client, addr).await.0.service, "v2");
}
