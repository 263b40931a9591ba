//! TCP error replies: unknown commands keep the connection; unframeable
//! input (over-long line, oversized or malformed ECHO) closes it.

mod common;

use common::{parse_reply, read_line, read_to_end, server};
use echo_server::protocol::{MAX_ECHO, MAX_LINE};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[tokio::test]
async fn unknown_command_gets_an_error_and_the_connection_stays_usable() {
    let running = server().await;
    let mut stream = BufReader::new(
        TcpStream::connect(running.tcp_addr().unwrap())
            .await
            .unwrap(),
    );
    stream.write_all(b"GET / HTTP/1.1\n").await.unwrap();
    let line = read_line(&mut stream).await;
    assert!(
        line.starts_with("ERROR unknown command \"GET / HTTP/1.1\""),
        "{line}"
    );
    stream.write_all(b"HELLO after\n").await.unwrap();
    assert_eq!(
        parse_reply(read_line(&mut stream).await.as_bytes()).nonce,
        "after"
    );
}

#[tokio::test]
async fn over_long_line_gets_an_error_then_close() {
    let running = server().await;
    let mut stream = BufReader::new(
        TcpStream::connect(running.tcp_addr().unwrap())
            .await
            .unwrap(),
    );
    stream.write_all(&vec![b'A'; MAX_LINE]).await.unwrap();
    let line = read_line(&mut stream).await;
    assert_eq!(line, format!("ERROR line longer than {MAX_LINE} bytes"));
    assert!(read_to_end(&mut stream).await.is_empty());
}

#[tokio::test]
async fn longest_allowed_line_is_accepted() {
    let running = server().await;
    let mut stream = BufReader::new(
        TcpStream::connect(running.tcp_addr().unwrap())
            .await
            .unwrap(),
    );
    let nonce = "n".repeat(MAX_LINE - "HELLO \n".len());
    stream
        .write_all(format!("HELLO {nonce}\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(
        parse_reply(read_line(&mut stream).await.as_bytes()).nonce,
        nonce
    );
}

#[tokio::test]
async fn oversized_echo_is_refused_and_closed() {
    let running = server().await;
    let mut stream = BufReader::new(
        TcpStream::connect(running.tcp_addr().unwrap())
            .await
            .unwrap(),
    );
    stream
        .write_all(format!("ECHO {}\n", MAX_ECHO + 1).as_bytes())
        .await
        .unwrap();
    let line = read_line(&mut stream).await;
    assert!(
        line.starts_with(&format!("ERROR ECHO {} exceeds the limit", MAX_ECHO + 1)),
        "{line}"
    );
    assert!(read_to_end(&mut stream).await.is_empty());
}

#[tokio::test]
async fn malformed_echo_is_refused_and_closed() {
    let running = server().await;
    let mut stream = BufReader::new(
        TcpStream::connect(running.tcp_addr().unwrap())
            .await
            .unwrap(),
    );
    stream.write_all(b"ECHO lots\n").await.unwrap();
    let line = read_line(&mut stream).await;
    assert!(line.starts_with("ERROR ECHO needs a byte count"), "{line}");
    assert!(read_to_end(&mut stream).await.is_empty());
}
