//! Graceful shutdown: the listener closes first, a command in progress
//! finishes within the grace period, idle connections close, and a
//! connection that outstays the grace period is cut.

mod common;

use std::io::ErrorKind;
use std::time::Duration;

use common::{read_to_end, server, server_with, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn open_stream_finishes_and_new_connects_are_refused() {
    let running = server().await;
    let addr = running.tcp_addr().unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"STREAM\nbefore").await.unwrap();
    let mut buf = [0u8; 6];
    within(stream.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"before");

    within(running.stop_accepting()).await;
    let refused = TcpStream::connect(addr)
        .await
        .expect_err("listener is closed");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);

    let shutdown = tokio::spawn(running.shutdown());
    // The stream is still served while shutdown waits for it.
    stream.write_all(b"after").await.unwrap();
    let mut buf = [0u8; 5];
    within(stream.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"after");
    assert!(
        !shutdown.is_finished(),
        "shutdown must wait for the open STREAM"
    );
    stream.write_all(b"last").await.unwrap();
    stream.shutdown().await.unwrap();
    assert_eq!(read_to_end(&mut stream).await, b"last");
    within(shutdown).await.unwrap();
}

#[tokio::test]
async fn idle_connection_is_closed_at_shutdown() {
    let running = server().await;
    let mut stream = TcpStream::connect(running.tcp_addr().unwrap())
        .await
        .unwrap();
    stream.write_all(b"ECHO 2\nok").await.unwrap();
    let mut buf = [0u8; 2];
    within(stream.read_exact(&mut buf)).await.unwrap();
    // Idle between commands: shutdown closes it without waiting for the grace period.
    within(running.shutdown()).await;
    assert!(read_to_end(&mut stream).await.is_empty());
}

#[tokio::test]
async fn connection_outstaying_the_grace_period_is_cut() {
    let running = server_with(|c| c.grace = Duration::from_millis(100)).await;
    let mut stream = TcpStream::connect(running.tcp_addr().unwrap())
        .await
        .unwrap();
    stream.write_all(b"STREAM\nx").await.unwrap();
    let mut buf = [0u8; 1];
    within(stream.read_exact(&mut buf)).await.unwrap();
    // Never half-closed: shutdown must still complete, cutting the stream.
    within(running.shutdown()).await;
    let mut rest = Vec::new();
    // Aborting the task drops the socket: EOF (or a reset if bytes were unread).
    match within(stream.read_to_end(&mut rest)).await {
        Ok(_) => assert!(rest.is_empty()),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
    }
}

#[tokio::test]
async fn dropping_running_stops_the_servers() {
    let running = server().await;
    let addr = running.tcp_addr().unwrap();
    drop(running);
    // Abort is asynchronous: until the task is torn down, connects may still
    // land in the backlog (and then be reset). Once it is, they are refused.
    within(async {
        loop {
            match TcpStream::connect(addr).await {
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => break,
                _ => tokio::task::yield_now().await,
            }
        }
    })
    .await;
}
