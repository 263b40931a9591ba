//! TCP probes on loopback: every outcome produced for real, and
//! identify/echo/stream against an in-process echo server.

use std::net::SocketAddr;
use std::time::Duration;

mod common;

use common::within;
use echo_server::{Config, Identity, Running};
use harness::traffic::{Outcome, Tcp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Short deadlines for the probes that are meant to time out.
const IMPATIENT: Tcp = Tcp {
    connect_timeout: Duration::from_millis(300),
    io_timeout: Duration::from_millis(300),
    settle: None,
};

async fn echo_server() -> Running {
    common::echo_server("svc-1", "pod-1", true, false).await
}

/// A loopback listener whose accepted connections are handed to `behave`.
async fn fake_server<F, Fut>(behave: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            behave(stream).await;
        }
    });
    addr
}

#[tokio::test]
async fn identify_reports_backend_and_client_address() {
    let server = echo_server().await;
    let target = server.tcp_addr().unwrap();
    let probe = within(Tcp::default().identify(target)).await.unwrap();
    assert_eq!(probe.outcome, Outcome::Ok, "{}", probe.evidence.detail);
    let reply = probe.reply.as_ref().unwrap();
    assert_eq!(
        (reply.service.as_str(), reply.pod.as_str()),
        ("svc-1", "pod-1")
    );
    assert_eq!(probe.backend().unwrap().to_string(), "svc-1/pod-1");
    let local = probe.evidence.local.unwrap();
    assert_eq!(reply.peer, local.to_string());
    assert_eq!(probe.evidence.remote, Some(target));
    assert!(probe.evidence.bytes_received > 0);
}

#[tokio::test]
async fn echo_and_stream_are_intact() {
    let server = echo_server().await;
    let target = server.tcp_addr().unwrap();
    let tcp = Tcp::default();
    for len in [0usize, 1, 100_000, 3 << 20] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let probe = within(tcp.echo(target, &payload)).await.unwrap();
        assert_eq!(
            probe.outcome,
            Outcome::Ok,
            "{len}: {}",
            probe.evidence.detail
        );
        assert_eq!(probe.evidence.bytes_received, len as u64);
    }
    let len = 64 << 20;
    let probe = within(tcp.stream(target, len)).await.unwrap();
    assert_eq!(probe.outcome, Outcome::Ok, "{}", probe.evidence.detail);
    assert_eq!(probe.evidence.bytes_received, len);
    assert_eq!(probe.evidence.bytes_sent, len + "STREAM\n".len() as u64);
}

#[tokio::test]
async fn closed_port_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    drop(listener);
    let probe = within(Tcp::default().identify(target)).await.unwrap();
    assert_eq!(probe.outcome, Outcome::Refused, "{}", probe.evidence.detail);
    assert_eq!(probe.evidence.local, None, "never connected");
}

#[tokio::test]
async fn accept_then_close_is_closed_without_reply() {
    // Half-close, then drain: the client sees FIN, never a reply.
    let target = fake_server(|mut s| async move {
        tokio::spawn(async move {
            s.shutdown().await.ok();
            let mut sink = Vec::new();
            s.read_to_end(&mut sink).await.ok();
        });
    })
    .await;
    let tcp = Tcp::default();
    let probe = within(tcp.identify(target)).await.unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::ClosedWithoutReply,
        "{}",
        probe.evidence.detail
    );
    let probe = within(tcp.echo(target, b"hello")).await.unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::ClosedWithoutReply,
        "{}",
        probe.evidence.detail
    );
    let probe = within(tcp.stream(target, 1000)).await.unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::ClosedWithoutReply,
        "{}",
        probe.evidence.detail
    );
}

#[tokio::test]
async fn reset_after_accept_is_reset() {
    // SO_LINGER 0 then close: the kernel sends RST instead of FIN.
    let target = fake_server(|s| async move {
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
    })
    .await;
    let tcp = Tcp::default();
    for _ in 0..3 {
        let probe = within(tcp.identify(target)).await.unwrap();
        assert_eq!(probe.outcome, Outcome::Reset, "{}", probe.evidence.detail);
        assert!(
            probe.evidence.local.is_some(),
            "the connection was established"
        );
        let probe = within(tcp.echo(target, &[7u8; 200_000])).await.unwrap();
        assert_eq!(probe.outcome, Outcome::Reset, "{}", probe.evidence.detail);
    }
}

#[tokio::test]
async fn silent_server_is_a_timeout() {
    let target = fake_server(|s| async move {
        // Hold the connection open without ever answering.
        tokio::spawn(async move {
            let mut s = s;
            let mut sink = Vec::new();
            s.read_to_end(&mut sink).await.ok();
        });
    })
    .await;
    let probe = within(IMPATIENT.identify(target)).await.unwrap();
    assert_eq!(probe.outcome, Outcome::Timeout, "{}", probe.evidence.detail);
    let probe = within(IMPATIENT.echo(target, b"x")).await.unwrap();
    assert_eq!(probe.outcome, Outcome::Timeout, "{}", probe.evidence.detail);
}

#[tokio::test]
async fn full_accept_queue_is_a_connect_timeout() {
    // A listener that never accepts, with backlog 0: once its queue is full
    // the kernel drops further SYNs, so connect hangs.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(0).unwrap();
    let target = socket.local_addr().unwrap().as_socket().unwrap();
    let mut held = Vec::new();
    let probe = within(async {
        loop {
            let probe = IMPATIENT.identify(target).await.unwrap();
            if probe.evidence.local.is_none() {
                break probe;
            }
            // That connection got into the queue; keep it there.
            held.push(probe);
            assert!(held.len() < 10, "accept queue never filled");
        }
    })
    .await;
    assert_eq!(probe.outcome, Outcome::Timeout, "{}", probe.evidence.detail);
    assert!(
        probe.evidence.detail.contains("connecting"),
        "{}",
        probe.evidence.detail
    );
}

#[tokio::test]
async fn wrong_bytes_are_a_mismatch() {
    // Echoes with every byte but newlines incremented, so HELLO gets a junk line.
    let target = fake_server(|mut s| async move {
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let wrong: Vec<u8> = buf[..n]
                    .iter()
                    .map(|&b| if b == b'\n' { b } else { b.wrapping_add(1) })
                    .collect();
                if s.write_all(&wrong).await.is_err() {
                    break;
                }
            }
        });
    })
    .await;
    let tcp = Tcp::default();
    // Junk, and the connection stays open: not the gateway's own answer
    // before a close (that waits for the close, up to the io timeout).
    let probe = within(IMPATIENT.identify(target)).await.unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::Mismatch,
        "{}",
        probe.evidence.detail
    );
    let probe = within(tcp.echo(target, b"abc")).await.unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::Mismatch,
        "{}",
        probe.evidence.detail
    );
    assert!(
        probe.evidence.detail.contains("byte 0 differs"),
        "{}",
        probe.evidence.detail
    );
    let probe = within(tcp.stream(target, 100_000)).await.unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::Mismatch,
        "{}",
        probe.evidence.detail
    );
    assert!(
        probe.evidence.detail.contains("sha256"),
        "{}",
        probe.evidence.detail
    );
}

#[tokio::test]
async fn wrong_nonce_and_truncated_echo_are_mismatches() {
    let server = echo_server().await;
    let real = server.tcp_addr().unwrap();
    // Rewrites the HELLO nonce before forwarding to the real echo server;
    // cuts ECHO payloads short.
    let target = fake_server(move |mut s| async move {
        tokio::spawn(async move {
            let mut buf = vec![0u8; 1024];
            let Ok(n) = s.read(&mut buf).await else {
                return;
            };
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            let mut upstream = TcpStream::connect(real).await.unwrap();
            if request.starts_with("HELLO") {
                upstream.write_all(b"HELLO someone-else\n").await.unwrap();
                let mut line = vec![0u8; 1024];
                let n = upstream.read(&mut line).await.unwrap();
                s.write_all(&line[..n]).await.ok();
            } else {
                s.write_all(b"ab").await.ok();
                s.shutdown().await.ok();
                let mut sink = Vec::new();
                s.read_to_end(&mut sink).await.ok();
            }
        });
    })
    .await;
    let tcp = Tcp::default();
    // Junk, and the connection stays open: not the gateway's own answer
    // before a close (that waits for the close, up to the io timeout).
    let probe = within(IMPATIENT.identify(target)).await.unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::Mismatch,
        "{}",
        probe.evidence.detail
    );
    assert!(
        probe.evidence.detail.contains("someone-else"),
        "{}",
        probe.evidence.detail
    );
    assert_eq!(
        probe.reply.unwrap().service,
        "svc-1",
        "the reply is kept as evidence"
    );
    let probe = within(tcp.echo(target, b"abcdef")).await.unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::Mismatch,
        "{}",
        probe.evidence.detail
    );
    assert!(
        probe.evidence.detail.contains("ended after 2 of 6"),
        "{}",
        probe.evidence.detail
    );
}

#[tokio::test]
async fn text_mode_backend() {
    let identity = Identity {
        pod: "p".into(),
        namespace: "n".into(),
        service: "s".into(),
    };
    let mut config = Config::loopback(identity);
    config.text = Some("Hello from TCP Echo!".into());
    let server = echo_server::start(config).await.unwrap();
    let target = server.tcp_addr().unwrap();
    let tcp = Tcp::default();
    let probe = within(tcp.text(target, "Hello from TCP Echo!"))
        .await
        .unwrap();
    assert_eq!(probe.outcome, Outcome::Ok, "{}", probe.evidence.detail);
    let probe = within(tcp.text(target, "Hello from somewhere else"))
        .await
        .unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::Mismatch,
        "{}",
        probe.evidence.detail
    );
    // A protocol-mode echo server sends nothing on connect.
    let plain = echo_server().await;
    let probe = within(tcp.text(plain.tcp_addr().unwrap(), "x"))
        .await
        .unwrap();
    assert_eq!(
        probe.outcome,
        Outcome::ClosedWithoutReply,
        "{}",
        probe.evidence.detail
    );
}
