//! UDP flow accounting under load: 1,000 datagrams on one flow, and 1,000
//! flows of one datagram each.

mod common;

use common::{parse_reply, server, within};
use futures::{StreamExt, stream};
use tokio::net::UdpSocket;

async fn hello(
    socket: &UdpSocket,
    to: std::net::SocketAddr,
    nonce: &str,
) -> echo_server::protocol::Reply {
    socket
        .send_to(format!("HELLO {nonce}").as_bytes(), to)
        .await
        .unwrap();
    let mut buf = [0u8; 2048];
    let (n, from) = within(socket.recv_from(&mut buf)).await.unwrap();
    assert_eq!(from, to);
    parse_reply(&buf[..n])
}

#[tokio::test]
async fn one_flow_counts_every_datagram() {
    let running = server().await;
    let addr = running.udp_addr().unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = socket.local_addr().unwrap().to_string();
    // Paced by waiting for each reply: no queue can overflow, so no loss.
    for seq in 1..=1_000u64 {
        let reply = hello(&socket, addr, &seq.to_string()).await;
        assert_eq!(reply.peer, me);
        assert_eq!(reply.nonce, seq.to_string());
        assert_eq!(reply.flow_seq, Some(seq));
    }
}

#[tokio::test]
async fn each_new_flow_starts_at_one() {
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let running = server().await;
    let addr = running.udp_addr().unwrap();
    let flows = stream::iter(0..1_000)
        .map(|i| async move {
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let reply = hello(&socket, addr, &format!("flow-{i}")).await;
            // The socket is kept until the end: a closed one's port could be
            // handed to a later flow, which the server would rightly count as
            // the same peer.
            (socket, reply)
        })
        .buffer_unordered(100)
        .collect::<Vec<_>>()
        .await;
    assert_eq!(flows.len(), 1_000);
    for (socket, reply) in &flows {
        let me = socket.local_addr().unwrap().to_string();
        assert_eq!(reply.peer, me);
        assert_eq!(reply.flow_seq, Some(1), "flow {me}");
    }
}
