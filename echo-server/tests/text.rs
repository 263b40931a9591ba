//! `--text`: a fixed reply on TCP connect and to every UDP datagram, as the
//! tutorial's echo image does.

mod common;

use common::{read_to_end, server_with, within};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

const TEXT: &str = "Hello from TCP Echo!";

#[tokio::test]
async fn tcp_sends_the_text_then_closes() {
    let running = server_with(|c| c.text = Some(TEXT.into())).await;
    let mut stream = TcpStream::connect(running.tcp_addr().unwrap())
        .await
        .unwrap();
    assert_eq!(
        read_to_end(&mut stream).await,
        format!("{TEXT}\n").as_bytes()
    );
}

#[tokio::test]
async fn tcp_text_like_echo_pipe_nc() {
    // `echo hi | nc host port`: the client writes, half-closes, reads.
    let running = server_with(|c| c.text = Some(TEXT.into())).await;
    let mut stream = TcpStream::connect(running.tcp_addr().unwrap())
        .await
        .unwrap();
    stream.write_all(b"hi\n").await.unwrap();
    stream.shutdown().await.unwrap();
    assert_eq!(
        read_to_end(&mut stream).await,
        format!("{TEXT}\n").as_bytes()
    );
}

#[tokio::test]
async fn udp_replies_with_the_text_to_everything() {
    let running = server_with(|c| c.text = Some(TEXT.into())).await;
    let addr = running.udp_addr().unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for datagram in [&b"hi\n"[..], b"HELLO n"] {
        socket.send_to(datagram, addr).await.unwrap();
        let mut buf = [0u8; 256];
        let (n, from) = within(socket.recv_from(&mut buf)).await.unwrap();
        assert_eq!(from, addr);
        assert_eq!(&buf[..n], format!("{TEXT}\n").as_bytes());
    }
}
