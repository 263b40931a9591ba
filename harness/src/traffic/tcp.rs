//! TCP probes against an echo server (directly or through a gateway). Each
//! probe is one fresh connection: connect, one command, close.
//!
//! Precedence when both directions fail: a wrong reply ([`Outcome::Mismatch`]:
//! bytes that differ) is reported first, then a write error, then the read
//! side's result (a reply cut short by EOF among them: when a reset is seen
//! first by the write side, the read side sees only an EOF). A peer that
//! closes while we are still sending usually resets the connection (its
//! kernel answers our data with RST), so such probes report `reset`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use echo_server::protocol::Reply;
use rand::{RngCore, SeedableRng, rngs::StdRng};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::outcome::{Error, Evidence, Outcome, Probe, classify, excerpt};

/// Longest identity line we read; a real one is a few hundred bytes.
const MAX_REPLY_LINE: u64 = 64 * 1024;

/// Chunk size for streaming: big enough for throughput, small enough that a
/// 1 GiB stream never sits in memory.
const CHUNK: usize = 64 * 1024;

/// The slowest average rate, in bytes per second each way, at which an
/// echo or stream exchange may run: a whole exchange of `n` bytes must end
/// within `io_timeout + n / MIN_EXCHANGE_RATE`. The per-read deadline alone
/// would let a peer answering one byte per second hold a 1 MiB probe for
/// twelve days. Loopback and cluster paths run at hundreds of MB/s; 256 KiB/s
/// is far below any working gateway.
pub const MIN_EXCHANGE_RATE: u64 = 256 * 1024;

/// Deadlines for TCP probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tcp {
    /// Longest wait for the connection to be established.
    pub connect_timeout: Duration,
    /// Longest wait for any single read or write to make progress (not the
    /// whole exchange, so long streams do not need a long deadline; the
    /// exchange as a whole is bounded by [`MIN_EXCHANGE_RATE`]).
    pub io_timeout: Duration,
    /// Before sending, wait this long for the peer to close or reset.
    /// A gateway that accepts then closes (FIN) looks like a reset if our
    /// request reaches it first (its close with unread data sends RST), so
    /// probes expecting a rejection settle first; `None` sends at once.
    pub settle: Option<Duration>,
}

impl Default for Tcp {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(10),
            settle: None,
        }
    }
}

/// Waits up to `settle` for the peer to speak first: EOF or a reset ends
/// the probe (returned as the failure); silence or data means go on.
async fn settle(stream: &TcpStream, settle: Option<Duration>) -> Result<(), Fail> {
    let Some(wait) = settle else { return Ok(()) };
    let mut byte = [0u8; 1];
    match tokio::time::timeout(wait, stream.peek(&mut byte)).await {
        Ok(Ok(0)) => Err(Fail::Wrong(
            Outcome::ClosedWithoutReply,
            "the peer accepted the connection, then closed it (FIN) without a reply".into(),
        )),
        Ok(Err(e)) => Err(Fail::Io(e)),
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

/// A read or write failure, or a wrong reply.
enum Fail {
    Io(io::Error),
    Wrong(Outcome, String),
    /// The reply ended (EOF) before all of it came: a mismatch, unless the
    /// write side failed, which then explains it. (A reset seen first by
    /// the write side leaves the read side a plain EOF.)
    Ended(String),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Bookkeeping for one probe, turned into a [`Probe`] at the end.
struct Attempt {
    target: SocketAddr,
    started: Instant,
    evidence: Evidence,
}

impl Attempt {
    fn new(target: SocketAddr) -> Self {
        Self {
            target,
            started: Instant::now(),
            evidence: Evidence {
                remote: Some(target),
                ..Evidence::default()
            },
        }
    }

    fn finish(mut self, outcome: Outcome, detail: String, reply: Option<Reply>) -> Probe {
        self.evidence.elapsed = self.started.elapsed();
        self.evidence.detail = detail;
        Probe {
            outcome,
            evidence: self.evidence,
            reply,
        }
    }

    /// Classifies `fail`; an unclassifiable io error is our own problem.
    fn fail(self, action: &'static str, fail: Fail) -> Result<Probe, Error> {
        match fail {
            Fail::Wrong(outcome, detail) => Ok(self.finish(outcome, detail, None)),
            Fail::Ended(detail) => Ok(self.finish(Outcome::Mismatch, detail, None)),
            // Linux reports a reset that arrives after the peer's FIN as EPIPE,
            // not ECONNRESET: the peer accepted, closed without replying, and
            // our request then drew the reset. That is an accept-then-close,
            // not a rejection.
            Fail::Io(source)
                if action.starts_with("reading")
                    && source.raw_os_error() == Some(nix::errno::Errno::EPIPE as i32) =>
            {
                let detail = format!(
                    "{action}: the peer closed (FIN) before replying; our request then drew a reset ({source})"
                );
                Ok(self.finish(Outcome::ClosedWithoutReply, detail, None))
            }
            Fail::Io(source) => match classify(&source) {
                Some(outcome) => Ok(self.finish(outcome, format!("{action}: {source}"), None)),
                None => Err(Error {
                    protocol: "tcp",
                    target: self.target,
                    action,
                    source,
                }),
            },
        }
    }
}

/// Awaits `f` for at most `limit`; running out is an [`io::ErrorKind::TimedOut`]
/// error, which [`classify`] turns into [`Outcome::Timeout`].
async fn deadline<T>(
    limit: Duration,
    what: &str,
    f: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    tokio::time::timeout(limit, f).await.unwrap_or_else(|_| {
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no {what} within {limit:?}"),
        ))
    })
}

impl Tcp {
    async fn connect(&self, attempt: &mut Attempt) -> io::Result<TcpStream> {
        let stream = deadline(
            self.connect_timeout,
            "connection",
            TcpStream::connect(attempt.target),
        )
        .await?;
        attempt.evidence.local = stream.local_addr().ok();
        Ok(stream)
    }

    /// `HELLO <nonce>`: which backend answers, and the client address it
    /// sees. A reply that is not identity JSON, or carries another nonce, is
    /// a [`Outcome::Mismatch`].
    pub async fn identify(&self, target: SocketAddr) -> Result<Probe, Error> {
        let mut attempt = Attempt::new(target);
        let mut stream = match self.connect(&mut attempt).await {
            Ok(s) => s,
            Err(e) => return attempt.fail("connecting", e.into()),
        };
        if let Err(f) = settle(&stream, self.settle).await {
            return attempt.fail("reading before the request", f);
        }
        let nonce = format!("{:016x}", rand::random::<u64>());
        let request = format!("HELLO {nonce}\n");
        if let Err(e) = deadline(
            self.io_timeout,
            "write progress",
            stream.write_all(request.as_bytes()),
        )
        .await
        {
            return attempt.fail("sending HELLO", e.into());
        }
        attempt.evidence.bytes_sent = request.len() as u64;
        let mut line = Vec::new();
        let mut reader = BufReader::new(&mut stream).take(MAX_REPLY_LINE);
        let read = deadline(
            self.io_timeout,
            "reply",
            reader.read_until(b'\n', &mut line),
        )
        .await;
        attempt.evidence.bytes_received = line.len() as u64;
        if let Err(e) = read {
            return attempt.fail("reading the identity reply", e.into());
        }
        if line.is_empty() {
            return Ok(attempt.finish(
                Outcome::ClosedWithoutReply,
                "connection closed before any reply".into(),
                None,
            ));
        }
        if !line.starts_with(b"{") {
            // No echo backend sends this (an identity reply is a JSON
            // object): when the peer then ends the connection, this was the
            // gateway's own answer and nothing was forwarded.
            reader.set_limit(MAX_REPLY_LINE);
            if let Some(end) = self.ends_after(&mut reader, &mut line).await {
                attempt.evidence.bytes_received = line.len() as u64;
                let detail = format!("{end} after a reply no backend sends: {}", excerpt(&line));
                return Ok(attempt.finish(Outcome::ClosedAfterForeignReply, detail, None));
            }
            attempt.evidence.bytes_received = line.len() as u64;
        }
        if line.last() != Some(&b'\n') {
            let detail = format!("identity reply not newline-terminated: {}", excerpt(&line));
            return Ok(attempt.finish(Outcome::Mismatch, detail, None));
        }
        match serde_json::from_slice::<Reply>(&line) {
            Ok(reply) if reply.nonce == nonce => {
                let detail = format!("answered by {}/{}", reply.service, reply.pod);
                Ok(attempt.finish(Outcome::Ok, detail, Some(reply)))
            }
            Ok(reply) => {
                let detail = format!("reply carries nonce {:?}, sent {nonce:?}", reply.nonce);
                Ok(attempt.finish(Outcome::Mismatch, detail, Some(reply)))
            }
            Err(e) => {
                let detail = format!("not an identity reply ({e}): {}", excerpt(&line));
                Ok(attempt.finish(Outcome::Mismatch, detail, None))
            }
        }
    }

    /// Reads on (into `got`, as far as `r`'s limit allows) until the peer
    /// closes or resets the connection, within the io timeout: how it
    /// ended, or `None` if it stayed open or kept talking.
    async fn ends_after<R: AsyncRead + Unpin>(
        &self,
        r: &mut tokio::io::Take<R>,
        got: &mut Vec<u8>,
    ) -> Option<&'static str> {
        let room = r.limit();
        match deadline(self.io_timeout, "close", r.read_to_end(got)).await {
            // EOF: but only a real close, not the end of the read limit.
            Ok(n) if (n as u64) < room => Some("closed"),
            Err(e) if classify(&e) == Some(Outcome::Reset) => Some("reset"),
            _ => None,
        }
    }

    /// `ECHO <n>` + `payload`: the same bytes must come back. Sends and
    /// receives at once, so large payloads cannot deadlock.
    pub async fn echo(&self, target: SocketAddr, payload: &[u8]) -> Result<Probe, Error> {
        let mut attempt = Attempt::new(target);
        let mut stream = match self.connect(&mut attempt).await {
            Ok(s) => s,
            Err(e) => return attempt.fail("connecting", e.into()),
        };
        let header = format!("ECHO {}\n", payload.len());
        let (mut r, mut w) = stream.split();
        let mut sent = 0u64;
        let mut received = 0u64;
        let send = async {
            self.write_chunk(&mut w, header.as_bytes(), &mut sent)
                .await?;
            for chunk in payload.chunks(CHUNK) {
                self.write_chunk(&mut w, chunk, &mut sent).await?;
            }
            io::Result::Ok(())
        };
        let receive = self.read_expecting(&mut r, payload, &mut received);
        let limit = self.exchange_limit(payload.len() as u64);
        let both = tokio::time::timeout(limit, async { tokio::join!(send, receive) }).await;
        attempt.evidence.bytes_sent = sent;
        attempt.evidence.bytes_received = received;
        let Ok((sent_result, received_result)) = both else {
            let detail = too_slow(limit, payload.len() as u64, sent, received);
            return Ok(attempt.finish(Outcome::Timeout, detail, None));
        };
        match decide(sent_result, received_result) {
            Ok(()) => {
                Ok(attempt.finish(Outcome::Ok, format!("{} bytes echoed", payload.len()), None))
            }
            Err((action, fail)) => attempt.fail(action, fail),
        }
    }

    /// `STREAM`: sends `len` pseudo-random bytes, half-closes, reads the echo
    /// to EOF, and compares SHA-256 digests of what went out and came back.
    /// Memory use is one chunk each way, whatever `len` is.
    pub async fn stream(&self, target: SocketAddr, len: u64) -> Result<Probe, Error> {
        let mut attempt = Attempt::new(target);
        let mut stream = match self.connect(&mut attempt).await {
            Ok(s) => s,
            Err(e) => return attempt.fail("connecting", e.into()),
        };
        let (mut r, mut w) = stream.split();
        let mut sent = 0u64;
        let mut received = 0u64;
        let send = async {
            self.write_chunk(&mut w, b"STREAM\n", &mut sent).await?;
            let mut rng = StdRng::seed_from_u64(rand::random());
            let mut digest = Sha256::new();
            let mut chunk = vec![0u8; CHUNK];
            let mut left = len;
            while left > 0 {
                let n = left.min(CHUNK as u64) as usize;
                rng.fill_bytes(&mut chunk[..n]);
                digest.update(&chunk[..n]);
                self.write_chunk(&mut w, &chunk[..n], &mut sent).await?;
                left -= n as u64;
            }
            // Half-close: the server finishes echoing, then closes.
            deadline(self.io_timeout, "write progress", w.shutdown()).await?;
            io::Result::Ok(digest.finalize())
        };
        let receive = async {
            let mut digest = Sha256::new();
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = deadline(self.io_timeout, "read progress", r.read(&mut buf)).await?;
                if n == 0 {
                    return io::Result::Ok(digest.finalize());
                }
                received += n as u64;
                digest.update(&buf[..n]);
                if received > len {
                    // More than was sent is wrong already; reading on would
                    // let a peer spewing garbage hold the probe.
                    return io::Result::Ok(digest.finalize());
                }
            }
        };
        let limit = self.exchange_limit(len);
        let both = tokio::time::timeout(limit, async { tokio::join!(send, receive) }).await;
        attempt.evidence.bytes_sent = sent;
        attempt.evidence.bytes_received = received;
        let Ok((sent_digest, received_digest)) = both else {
            let detail = too_slow(limit, len, sent, received);
            return Ok(attempt.finish(Outcome::Timeout, detail, None));
        };
        let payload_received = received;
        let verdict = match (sent_digest, received_digest) {
            (Ok(out), Ok(back)) if payload_received == len && out == back => Ok(()),
            (Ok(_), Ok(_)) if payload_received == 0 && len > 0 => Err((
                "reading the stream",
                Fail::Wrong(
                    Outcome::ClosedWithoutReply,
                    "connection closed before any reply".into(),
                ),
            )),
            (Ok(out), Ok(back)) if payload_received > len => Err((
                "comparing the stream",
                Fail::Wrong(
                    Outcome::Mismatch,
                    format!(
                        "sent {len} bytes (sha256 {}), got more back (stopped reading at \
                         {payload_received}, sha256 {})",
                        hex::encode(out),
                        hex::encode(back)
                    ),
                ),
            )),
            (Ok(out), Ok(back)) => Err((
                "comparing the stream",
                Fail::Wrong(
                    Outcome::Mismatch,
                    format!(
                        "sent {len} bytes (sha256 {}), got {payload_received} back (sha256 {})",
                        hex::encode(out),
                        hex::encode(back)
                    ),
                ),
            )),
            (Err(e), _) => Err(("sending the stream", Fail::Io(e))),
            (Ok(_), Err(e)) => Err(("reading the stream", Fail::Io(e))),
        };
        match verdict {
            Ok(()) => Ok(attempt.finish(Outcome::Ok, format!("{len} bytes streamed intact"), None)),
            Err((action, fail)) => attempt.fail(action, fail),
        }
    }

    /// For a backend in `--text` mode (the tutorial's `http-echo -text`):
    /// connect, half-close at once (like `nc` with nothing to send), read to
    /// EOF, and expect `expected` (trailing whitespace ignored).
    pub async fn text(&self, target: SocketAddr, expected: &str) -> Result<Probe, Error> {
        let mut attempt = Attempt::new(target);
        let mut stream = match self.connect(&mut attempt).await {
            Ok(s) => s,
            Err(e) => return attempt.fail("connecting", e.into()),
        };
        if let Err(e) = deadline(self.io_timeout, "write progress", stream.shutdown()).await {
            return attempt.fail("half-closing", e.into());
        }
        let mut got = Vec::new();
        let mut reader = (&mut stream).take(MAX_REPLY_LINE);
        let read = deadline(self.io_timeout, "reply", reader.read_to_end(&mut got)).await;
        attempt.evidence.bytes_received = got.len() as u64;
        if let Err(e) = read {
            return attempt.fail("reading the text", e.into());
        }
        let (outcome, detail) = text_verdict(&got, expected);
        Ok(attempt.finish(outcome, detail, None))
    }

    /// How long an exchange of `bytes` each way may take in all.
    fn exchange_limit(&self, bytes: u64) -> Duration {
        self.io_timeout + Duration::from_secs_f64(bytes as f64 / MIN_EXCHANGE_RATE as f64)
    }

    async fn write_chunk<W: AsyncWrite + Unpin>(
        &self,
        w: &mut W,
        bytes: &[u8],
        sent: &mut u64,
    ) -> io::Result<()> {
        deadline(self.io_timeout, "write progress", w.write_all(bytes)).await?;
        *sent += bytes.len() as u64;
        Ok(())
    }

    /// Reads `expected.len()` bytes, comparing as they arrive.
    async fn read_expecting<R: AsyncRead + Unpin>(
        &self,
        r: &mut R,
        expected: &[u8],
        received: &mut u64,
    ) -> Result<(), Fail> {
        let mut buf = vec![0u8; CHUNK];
        let mut at = 0usize;
        while at < expected.len() {
            let want = (expected.len() - at).min(CHUNK);
            let n = deadline(self.io_timeout, "read progress", r.read(&mut buf[..want])).await?;
            if n == 0 {
                return Err(if at == 0 {
                    Fail::Wrong(
                        Outcome::ClosedWithoutReply,
                        "connection closed before any reply".into(),
                    )
                } else {
                    Fail::Ended(format!(
                        "reply ended after {at} of {} bytes",
                        expected.len()
                    ))
                });
            }
            *received += n as u64;
            if let Some(i) = (0..n).find(|&i| buf[i] != expected[at + i]) {
                return Err(Fail::Wrong(
                    Outcome::Mismatch,
                    format!(
                        "byte {} differs: sent {:#04x}, got {:#04x}; reply from there: {}",
                        at + i,
                        expected[at + i],
                        buf[i],
                        excerpt(&buf[i..n])
                    ),
                ));
            }
            at += n;
        }
        Ok(())
    }
}

/// The detail of an exchange that ran out of its whole-exchange limit.
fn too_slow(limit: Duration, len: u64, sent: u64, received: u64) -> String {
    format!(
        "the exchange of {len} bytes did not finish within {limit:.1?} (RequestTimeout plus 1 s \
         per {} KiB): {sent} bytes sent, {received} received; the reply came too slowly",
        MIN_EXCHANGE_RATE / 1024
    )
}

/// Judges a `--text` reply (shared by the TCP and UDP probes).
pub(crate) fn text_verdict(got: &[u8], expected: &str) -> (Outcome, String) {
    let text = String::from_utf8_lossy(got);
    if got.is_empty() {
        (Outcome::ClosedWithoutReply, "no text before EOF".into())
    } else if text.trim_end() == expected.trim_end() {
        (Outcome::Ok, format!("got the text {:?}", text.trim_end()))
    } else {
        (
            Outcome::Mismatch,
            format!("got {}, expected {expected:?}", excerpt(got)),
        )
    }
}

/// Combines both directions by the precedence in the module docs.
fn decide(sent: io::Result<()>, received: Result<(), Fail>) -> Result<(), (&'static str, Fail)> {
    match (sent, received) {
        (_, Err(Fail::Wrong(Outcome::Mismatch, d))) => {
            Err(("reading the echo", Fail::Wrong(Outcome::Mismatch, d)))
        }
        (Err(e), _) => Err(("sending the payload", Fail::Io(e))),
        (Ok(()), Err(Fail::Ended(d))) => {
            Err(("reading the echo", Fail::Wrong(Outcome::Mismatch, d)))
        }
        (Ok(()), Err(f)) => Err(("reading the echo", f)),
        (Ok(()), Ok(())) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_beats_write_error_beats_read_result() {
        let reset = || io::Error::from(io::ErrorKind::ConnectionReset);
        let wrong = || Fail::Wrong(Outcome::Mismatch, "x".into());
        let closed = || Fail::Wrong(Outcome::ClosedWithoutReply, "y".into());
        assert!(matches!(
            decide(Err(reset()), Err(wrong())),
            Err((_, Fail::Wrong(Outcome::Mismatch, _)))
        ));
        assert!(matches!(
            decide(Err(reset()), Err(closed())),
            Err((_, Fail::Io(_)))
        ));
        assert!(matches!(
            decide(Ok(()), Err(closed())),
            Err((_, Fail::Wrong(Outcome::ClosedWithoutReply, _)))
        ));
        assert!(decide(Ok(()), Ok(())).is_ok());
        // A reply cut short while our write drew a reset is the reset.
        let ended = || Fail::Ended("reply ended after 1 of 2 bytes".into());
        assert!(matches!(
            decide(Err(reset()), Err(ended())),
            Err((_, Fail::Io(_)))
        ));
        assert!(matches!(
            decide(Ok(()), Err(ended())),
            Err((_, Fail::Wrong(Outcome::Mismatch, _)))
        ));
    }
}
