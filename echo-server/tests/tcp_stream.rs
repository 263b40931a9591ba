//! TCP `STREAM`: everything comes back, then EOF after the client half-closes.

mod common;

use common::{random_bytes, server, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn echoes_until_half_close_then_closes() {
    let running = server().await;
    let mut stream = TcpStream::connect(running.tcp_addr().unwrap())
        .await
        .unwrap();
    let payload = random_bytes(3 << 20);
    let (mut r, mut w) = stream.split();
    let write = async {
        w.write_all(b"STREAM\n").await?;
        for chunk in payload.chunks(100_000) {
            w.write_all(chunk).await?;
        }
        // Half-close: we are done sending but still reading.
        w.shutdown().await
    };
    let mut back = Vec::new();
    let (written, read) = within(async { tokio::join!(write, r.read_to_end(&mut back)) }).await;
    written.unwrap();
    read.unwrap();
    assert_eq!(back.len(), payload.len());
    assert!(back == payload, "stream echo differs");
}

#[tokio::test]
async fn reply_arrives_before_the_client_half_closes() {
    let running = server().await;
    let mut stream = TcpStream::connect(running.tcp_addr().unwrap())
        .await
        .unwrap();
    stream.write_all(b"STREAM\nping").await.unwrap();
    let mut back = [0u8; 4];
    within(stream.read_exact(&mut back)).await.unwrap();
    assert_eq!(&back, b"ping");
    stream.write_all(b"pong").await.unwrap();
    stream.shutdown().await.unwrap();
    assert_eq!(common::read_to_end(&mut stream).await, b"pong");
}
