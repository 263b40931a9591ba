//! Late UDP replies (`traffic::late`) and strays: a flow answered after its
//! window counts as answered once the sample is settled, by the backend
//! that replied; a datagram from another address that is not for this flow
//! (a late reply to an earlier owner of the source port) is skipped, not
//! taken for a wrong reply.

use std::net::SocketAddr;
use std::time::Duration;

use echo_server::protocol::Reply;
use harness::traffic::{LateReplies, Outcome, UdpOptions, sample};
use tokio::net::UdpSocket;

/// Each flow's window: replies to even source ports come after it.
const WINDOW: Duration = Duration::from_millis(300);
const DELAY: Duration = Duration::from_millis(700);
const FLOWS: usize = 40;

/// Answers every `HELLO <nonce>` as backend `late-b`, after [`DELAY`] for
/// even source ports; before each answer a stray with another flow's tag
/// comes from a second socket.
async fn slow_responder() -> SocketAddr {
    let socket = std::sync::Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let stray = std::sync::Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let (n, peer) = socket.recv_from(&mut buf).await.unwrap();
            let nonce = String::from_utf8_lossy(&buf[..n])
                .trim_start_matches("HELLO ")
                .to_string();
            let (socket, stray) = (socket.clone(), stray.clone());
            tokio::spawn(async move {
                let reply = |nonce: &str| Reply {
                    pod: "late-b-0".into(),
                    namespace: "default".into(),
                    service: "late-b".into(),
                    protocol: "udp".into(),
                    local: addr.to_string(),
                    peer: peer.to_string(),
                    flow_seq: None,
                    nonce: nonce.into(),
                };
                let foreign = serde_json::to_vec(&reply("00000000000000ff-1")).unwrap();
                stray.send_to(&foreign, peer).await.unwrap();
                if peer.port() % 2 == 0 {
                    tokio::time::sleep(DELAY).await;
                }
                let answer = serde_json::to_vec(&reply(&nonce)).unwrap();
                socket.send_to(&answer, peer).await.unwrap();
            });
        }
    });
    addr
}

#[tokio::test]
async fn flows_answered_after_their_window_count_as_answered_and_strays_are_skipped() {
    let target = slow_responder().await;
    let late = LateReplies::default();
    let options = UdpOptions {
        timeout: WINDOW,
        ..UdpOptions::default()
    };
    let taken = sample(FLOWS, FLOWS, |i| late.identify(i, target, options))
        .await
        .unwrap();
    let timed_out = taken.count(Outcome::Timeout) as usize;
    assert!(
        timed_out > 0 && timed_out < FLOWS,
        "some flows (even ports) miss their window: {timed_out} of {FLOWS}"
    );
    assert_eq!(
        taken.count(Outcome::Ok) as usize + timed_out,
        FLOWS,
        "strays were taken for replies: {:?}",
        taken.outcomes
    );
    // Twice the delay: the last replies are due a delay after the last
    // resend, and a loaded machine may be slower still.
    let (settled, answered_late) = late.settle(taken, 2 * DELAY).await;
    assert_eq!(answered_late, timed_out);
    assert_eq!(
        settled.count(Outcome::Ok) as usize,
        FLOWS,
        "{:?}",
        settled.outcomes
    );
    assert_eq!(settled.backends.values().sum::<u64>(), FLOWS as u64);
    let late_probe = settled
        .probes
        .iter()
        .find(|p| p.evidence.detail.contains("(late:"))
        .expect("a late probe says so");
    assert!(late_probe.evidence.elapsed >= DELAY, "{late_probe:?}");
}
