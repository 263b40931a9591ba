//! A TCP peer that answers with bytes no echo backend sends and then ends
//! the connection (Traefik's `HTTP/1.1 400 Bad Request` on a port with no
//! TCP route) is `closedAfterForeignReply`, which counts as a rejection:
//! nothing was forwarded. Foreign bytes on a connection that stays open,
//! and a cut-short identity reply (which a backend may have sent), stay
//! mismatches (or, cut short by a reset, a reset after bytes, which
//! `is_rejection` does not count either).

use std::net::SocketAddr;
use std::time::Duration;

mod common;

use common::within;
use harness::traffic::{Outcome, Tcp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A loopback listener that reads the request, writes `reply`, then ends
/// the connection as `end` says.
async fn server(reply: &'static [u8], end: End) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(reply).await;
                match end {
                    End::Close => drop(s),
                    End::Reset => {
                        // SO_LINGER 0 then close: RST instead of FIN.
                        socket2::SockRef::from(&s)
                            .set_linger(Some(Duration::ZERO))
                            .unwrap();
                        drop(s);
                    }
                    End::StayOpen => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        drop(s);
                    }
                }
            });
        }
    });
    addr
}

#[derive(Clone, Copy)]
enum End {
    Close,
    Reset,
    StayOpen,
}

async fn outcome(reply: &'static [u8], end: End) -> (Outcome, String) {
    let tcp = Tcp {
        io_timeout: Duration::from_millis(500),
        ..Tcp::default()
    };
    let probe = within(tcp.identify(server(reply, end).await))
        .await
        .unwrap();
    (probe.outcome, probe.evidence.detail)
}

const HTTP_400: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request";

#[tokio::test]
async fn the_gateways_own_answer_then_the_end_is_a_rejection_and_nothing_else_is() {
    let (o, detail) = outcome(HTTP_400, End::Close).await;
    assert_eq!(o, Outcome::ClosedAfterForeignReply, "{detail}");
    assert!(
        detail.starts_with("closed after a reply no backend sends: ")
            && detail.contains("400 Bad Request"),
        "{detail}"
    );
    let (o, detail) = outcome(HTTP_400, End::Reset).await;
    assert_eq!(o, Outcome::ClosedAfterForeignReply, "{detail}");
    assert!(detail.starts_with("reset after"), "{detail}");
    // Not newline-terminated, then closed: still the gateway's own bytes.
    let (o, detail) = outcome(b"denied", End::Close).await;
    assert_eq!(o, Outcome::ClosedAfterForeignReply, "{detail}");

    // Foreign bytes, but the connection stays open: something answered.
    let (o, detail) = outcome(HTTP_400, End::StayOpen).await;
    assert_eq!(o, Outcome::Mismatch, "{detail}");
    // The start of an identity reply, cut short: a backend may have sent it.
    let (o, detail) = outcome(b"{\"service\": \"tcp-v1\"", End::Close).await;
    assert_eq!(o, Outcome::Mismatch, "{detail}");
    // Cut short by a reset: a reset after bytes, which is no rejection
    // either (probe::is_rejection).
    let (o, detail) = outcome(b"{\"service\": \"tcp-v1\"", End::Reset).await;
    assert_eq!(o, Outcome::Reset, "{detail}");
}
