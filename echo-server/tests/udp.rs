//! UDP: `HELLO` identity with per-peer `flowSeq`, verbatim echo, largest datagram.

mod common;

use common::{identity, parse_reply, random_bytes, server, within};
use echo_server::protocol::MAX_DATAGRAM;
use tokio::net::UdpSocket;

async fn exchange(socket: &UdpSocket, to: std::net::SocketAddr, datagram: &[u8]) -> Vec<u8> {
    socket.send_to(datagram, to).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, from) = within(socket.recv_from(&mut buf)).await.unwrap();
    assert_eq!(from, to, "reply must come from the address we sent to");
    buf.truncate(n);
    buf
}

#[tokio::test]
async fn hello_reports_identity_peer_and_flow_seq() {
    let running = server().await;
    let addr = running.udp_addr().unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = socket.local_addr().unwrap();
    let first = parse_reply(&exchange(&socket, addr, b"HELLO a\n").await);
    assert_eq!(first.pod, identity().pod);
    assert_eq!(first.namespace, identity().namespace);
    assert_eq!(first.service, identity().service);
    assert_eq!(first.protocol, "udp");
    assert_eq!(first.local, addr.to_string());
    assert_eq!(first.peer, me.to_string());
    assert_eq!(first.nonce, "a");
    assert_eq!(first.flow_seq, Some(1));
    // Echoed datagrams count too.
    assert_eq!(exchange(&socket, addr, b"x").await, b"x");
    let third = parse_reply(&exchange(&socket, addr, b"HELLO b").await);
    assert_eq!((third.nonce.as_str(), third.flow_seq), ("b", Some(3)));
}

#[tokio::test]
async fn other_datagrams_are_echoed_verbatim() {
    let running = server().await;
    let addr = running.udp_addr().unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for datagram in [&b"HELLOx"[..], b"hello", b"\0\x01\x02", b""] {
        assert_eq!(exchange(&socket, addr, datagram).await, datagram);
    }
}

#[tokio::test]
async fn largest_datagram_is_echoed_intact() {
    let running = server().await;
    let addr = running.udp_addr().unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let payload = random_bytes(MAX_DATAGRAM);
    let back = exchange(&socket, addr, &payload).await;
    assert_eq!(back.len(), MAX_DATAGRAM);
    assert!(back == payload, "largest datagram differs");
}
