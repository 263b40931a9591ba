//! TCP `ECHO <n>`: the same n bytes come back, for a range of sizes.

mod common;

use common::{random_bytes, server, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `ECHO n` + payload while reading the reply, so large payloads cannot
/// deadlock on full socket buffers.
async fn echo(stream: &mut TcpStream, payload: &[u8]) -> Vec<u8> {
    let (mut r, mut w) = stream.split();
    let write = async {
        w.write_all(format!("ECHO {}\n", payload.len()).as_bytes())
            .await?;
        w.write_all(payload).await
    };
    let mut back = vec![0u8; payload.len()];
    let (written, read) = within(async { tokio::join!(write, r.read_exact(&mut back)) }).await;
    written.unwrap();
    read.unwrap();
    back
}

#[tokio::test]
async fn echoes_every_size_intact() {
    let running = server().await;
    let mut stream = TcpStream::connect(running.tcp_addr().unwrap())
        .await
        .unwrap();
    for len in [0, 1, 1000, 65_539, 1 << 20] {
        let payload = random_bytes(len);
        let back = echo(&mut stream, &payload).await;
        assert!(back == payload, "{len}-byte echo differs");
    }
}

#[tokio::test]
async fn payload_that_looks_like_commands_is_just_bytes() {
    let running = server().await;
    let mut stream = TcpStream::connect(running.tcp_addr().unwrap())
        .await
        .unwrap();
    let payload = b"HELLO x\nSTREAM\n";
    assert_eq!(echo(&mut stream, payload).await, payload);
    // The connection is still framed: another command works.
    assert_eq!(echo(&mut stream, b"ok").await, b"ok");
}

#[tokio::test]
async fn client_closing_mid_payload_ends_the_connection() {
    let running = server().await;
    let mut stream = TcpStream::connect(running.tcp_addr().unwrap())
        .await
        .unwrap();
    stream.write_all(b"ECHO 10\nabc").await.unwrap();
    stream.shutdown().await.unwrap();
    assert_eq!(common::read_to_end(&mut stream).await, b"abc");
}
