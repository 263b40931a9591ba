//! A server-first backend (SMTP, SSH, MySQL greet the client before it
//! says anything) is reached at once through a TCP listener: the gateway
//! delays the upstream handshake's last ACK only when the client has
//! already sent bytes for it to ride on, so a silent client's backend
//! accepts the connection and its banner comes back without waiting for
//! the delayed-ACK timer (200 ms).

mod dataplane_support;

use std::net::SocketAddr;
use std::time::Duration;

use dataplane_support::*;
use reference_gateway::config::Protocol;
use reference_gateway::dataplane::Options;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BANNER: &[u8] = b"220 gwl4 server-first\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_gets_the_backends_banner_through_the_gateway() {
    let smtp = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let smtp_addr = smtp.local_addr().unwrap();
    let server = tokio::spawn(async move {
        loop {
            let (mut conn, _) = smtp.accept().await.unwrap();
            tokio::spawn(async move {
                conn.write_all(BANNER).await.unwrap();
                // Then echo whatever the client says, as a line protocol.
                let mut buf = [0u8; 64];
                while let Ok(n @ 1..) = conn.read(&mut buf).await {
                    conn.write_all(&buf[..n]).await.unwrap();
                }
            });
        }
    });
    let port = free_port();
    let (dp, _) = data_plane(Options::default());
    apply(
        &dp,
        &config(vec![listener(
            key(port, Protocol::Tcp),
            "TCPRoute/test/banner",
            vec![backend("smtp", 1, &[smtp_addr])],
        )]),
    );
    let addr = SocketAddr::new(LOCALHOST, port);

    for _ in 0..5 {
        let mut client = TcpStream::connect(addr).await.unwrap();
        let started = tokio::time::Instant::now();
        let mut banner = vec![0u8; BANNER.len()];
        tokio::time::timeout(GUARD, client.read_exact(&mut banner))
            .await
            .expect("the banner arrives")
            .unwrap();
        assert_eq!(banner, BANNER);
        // A delayed ACK would hold the backend's accept for 200 ms.
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_millis(150),
            "the banner took {waited:?}: the upstream handshake waited for client data"
        );

        // The client speaks afterwards; the connection works both ways.
        client.write_all(b"EHLO\r\n").await.unwrap();
        let mut reply = [0u8; 6];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"EHLO\r\n");
    }
    server.abort();
}
