//! TCP `HELLO`: the identity line, and several commands on one connection.

mod common;

use common::{parse_reply, read_line, server};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[tokio::test]
async fn hello_reports_identity_and_addresses() {
    let running = server().await;
    let addr = running.tcp_addr().unwrap();
    let stream = TcpStream::connect(addr).await.unwrap();
    let client = stream.local_addr().unwrap();
    let mut stream = BufReader::new(stream);
    stream.write_all(b"HELLO n-123\n").await.unwrap();
    let reply = parse_reply(read_line(&mut stream).await.as_bytes());
    assert_eq!(reply.pod, "pod-a");
    assert_eq!(reply.namespace, "ns-a");
    assert_eq!(reply.service, "svc-a");
    assert_eq!(reply.protocol, "tcp");
    assert_eq!(reply.local, addr.to_string());
    assert_eq!(reply.peer, client.to_string());
    assert_eq!(reply.nonce, "n-123");
    assert_eq!(reply.flow_seq, None);
}

#[tokio::test]
async fn commands_follow_each_other_on_one_connection() {
    let running = server().await;
    let mut stream = BufReader::new(
        TcpStream::connect(running.tcp_addr().unwrap())
            .await
            .unwrap(),
    );
    stream
        .write_all(b"HELLO one\nECHO 5\nabcdeHELLO two\r\n")
        .await
        .unwrap();
    assert_eq!(
        parse_reply(read_line(&mut stream).await.as_bytes()).nonce,
        "one"
    );
    let mut echoed = [0u8; 5];
    stream.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"abcde");
    assert_eq!(
        parse_reply(read_line(&mut stream).await.as_bytes()).nonce,
        "two"
    );
}

#[tokio::test]
async fn unterminated_last_line_is_still_a_command() {
    let running = server().await;
    let mut stream = TcpStream::connect(running.tcp_addr().unwrap())
        .await
        .unwrap();
    stream.write_all(b"HELLO last").await.unwrap();
    stream.shutdown().await.unwrap();
    let out = common::read_to_end(&mut stream).await;
    assert_eq!(parse_reply(&out).nonce, "last");
}
