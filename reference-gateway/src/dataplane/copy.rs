//! Moving bytes between the client and the backend connection.
//!
//! Every connection is moved by a **buffered copy** that owns no buffer
//! while the peer keeps up: it reads into one buffer per worker thread and
//! writes straight on, keeping bytes of its own only when the writer is
//! full (then exactly those bytes, until they are written). Short exchanges
//! and idle connections therefore cost no per-connection buffers and one
//! system call per read and write; a bulk transfer moves up to
//! [`READ_BUFFER`] bytes per system call.
//!
//! `splice(2)` through a pipe per direction (`tokio-splice2`, zero copy in
//! user space) is **opt-in**: with a splice budget ([`SpliceBudget`], from
//! `Options::max_spliced_connections`), a connection switches to it once a
//! direction reads a bulk chunk ([`BULK`] bytes or more in one read, as
//! HAProxy's `splice-auto`). It is off by default because it measured
//! slower: on loopback the whole path (client, gateway, echo backend) spent
//! about 2.6 CPU seconds per GiB with splice against 2.2 with this copy,
//! the peers receiving spliced data paying more than the gateway saved,
//! and single-stream throughput followed (BENCHMARKS.md). Each spliced
//! connection also holds four more descriptors, hence the budget.
//!
//! Both paths propagate half-close: EOF read on one side becomes a write
//! shutdown (FIN) on the other, and the connection ends when both
//! directions have. A connection that has already half-closed stays
//! buffered.

use std::cell::RefCell;
use std::io::{self, Read as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use socket2::{SockRef, Socket};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::sync::Semaphore;

/// Size of the per-thread read buffer of the buffered copy: the most one
/// read moves. 256 KiB halved the gateway's context switches against
/// 64 KiB under a single stream (fewer, larger writes for the peer too);
/// it is also the most a direction keeps when its writer pushes back.
const READ_BUFFER: usize = 256 * 1024;

thread_local! {
    /// The buffered copy's read buffer on this worker thread. Borrowed only
    /// inside synchronous code, never across an `.await`.
    static READ: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_BUFFER].into_boxed_slice());
}

/// Bytes moved in each direction, and the error that ended the copy, if any.
#[derive(Debug, Default)]
pub(crate) struct Moved {
    /// Client to backend.
    pub upstream: u64,
    /// Backend to client.
    pub downstream: u64,
    /// Whether splice moved them (false: the buffered copy).
    pub spliced: bool,
    pub error: Option<std::io::Error>,
}

/// How many connections may splice at once.
#[derive(Debug, Clone)]
pub(crate) struct SpliceBudget(Arc<Semaphore>);

impl SpliceBudget {
    /// A budget of `permits` spliced connections (0 disables splice).
    pub(crate) fn new(permits: usize) -> Self {
        Self(Arc::new(Semaphore::new(
            permits.min(Semaphore::MAX_PERMITS),
        )))
    }
}

/// A single read at least this large means bulk transfer: switch to splice.
pub(crate) const BULK: usize = 16 * 1024;

/// The most [`read_first`] reads: the bulk threshold, and about what a
/// fresh connection's send buffer (`tcp_wmem`'s default, 16 KiB) takes in
/// one send, so the bytes normally leave whole as the backend connection
/// opens. Anything longer is left for the copy to read.
const FIRST: usize = BULK;

/// Reads what the client has already sent, up to [`FIRST`] bytes, without
/// waiting: empty when nothing is there yet, or at EOF (which stays
/// readable, so the copy sees it again). Done on the accepted socket
/// before the event loop knows it, so its first bytes cost one read here
/// instead of a peek to decide on the delayed ACK and a read after the
/// event loop's turn, and the event loop is not woken for bytes already
/// taken (registering a socket with unread data raises a read event).
pub(crate) fn read_first(client: &Socket) -> io::Result<Vec<u8>> {
    READ.with_borrow_mut(|buf| match (&*client).read(&mut buf[..FIRST]) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    })
}

/// Copies both ways until both directions have ended or one fails. `first`
/// is what [`read_first`] read from the client; its first `sent` bytes
/// went out as the backend connection opened, the rest go before anything
/// else the client sends.
pub(crate) async fn bidirectional(
    client: &mut TcpStream,
    backend: &mut TcpStream,
    first: Vec<u8>,
    sent: usize,
    budget: &SpliceBudget,
) -> Moved {
    let mut up = Half {
        moved: first.len() as u64,
        bulk: first.len() >= BULK,
        pending: first,
        written: sent,
        ended: false,
    };
    let mut down = Half::default();
    let mut allow_splice = cfg!(target_os = "linux") && budget.0.available_permits() > 0;
    loop {
        let bulk = {
            let (client_read, mut client_write) = client.split();
            let (backend_read, mut backend_write) = backend.split();
            let run = async {
                let bulk = both_ways(
                    (&client_read, &mut backend_write, &mut up),
                    (&backend_read, &mut client_write, &mut down),
                    allow_splice,
                )
                .await?;
                if bulk {
                    // Bytes a cancelled direction had read go out first.
                    flush(&mut backend_write, &mut up).await?;
                    flush(&mut client_write, &mut down).await?;
                }
                io::Result::Ok(bulk)
            };
            match run.await {
                Ok(bulk) => bulk,
                Err(error) => return moved(&up, &down, false, Some(error)),
            }
        };
        if !bulk {
            return moved(&up, &down, false, None);
        }
        allow_splice = false;
        if up.ended || down.ended {
            continue;
        }
        let Ok(_permit) = budget.0.try_acquire() else {
            continue;
        };
        // Err means the pipes could not be created (e.g. out of
        // descriptors) before any byte moved: go on copying.
        if let Ok(result) = tokio_splice2::copy_bidirectional(client, backend).await {
            up.moved += result.tx as u64;
            down.moved += result.rx as u64;
            return moved(&up, &down, true, result.error);
        }
    }
}

fn moved(up: &Half, down: &Half, spliced: bool, error: Option<io::Error>) -> Moved {
    Moved {
        upstream: up.moved,
        downstream: down.moved,
        spliced,
        error,
    }
}

/// One direction's state on the buffered copy; outlives a cancelled
/// [`one_way`] so no byte is lost when the connection switches to splice.
#[derive(Debug, Default)]
struct Half {
    /// Read but not yet written from `written` on: empty (and unallocated)
    /// unless the writer pushed back.
    pending: Vec<u8>,
    /// How much of `pending` is written (an offset, so a partial write of a
    /// large backlog does not shift the rest).
    written: usize,
    moved: u64,
    /// EOF seen and passed on.
    ended: bool,
    /// A bulk read was seen.
    bulk: bool,
}

type Way<'a, 'b> = (&'a ReadHalf<'b>, &'a mut WriteHalf<'b>, &'a mut Half);

/// Runs both directions until both have ended (`false`) or, with
/// `allow_splice`, one has seen bulk (`true`; the other is cancelled at a
/// point where its state is in its [`Half`]).
async fn both_ways(a: Way<'_, '_>, b: Way<'_, '_>, allow_splice: bool) -> io::Result<bool> {
    let (mut a_done, mut b_done) = (a.2.ended, b.2.ended);
    let ended = [AtomicBool::new(a_done), AtomicBool::new(b_done)];
    let fa = one_way(a.0, a.1, a.2, (&ended[0], &ended[1]), allow_splice);
    let fb = one_way(b.0, b.1, b.2, (&ended[1], &ended[0]), allow_splice);
    tokio::pin!(fa, fb);
    while !(a_done && b_done) {
        let bulk = tokio::select! {
            r = &mut fa, if !a_done => { a_done = true; r? }
            r = &mut fb, if !b_done => { b_done = true; r? }
        };
        if bulk {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes out what a direction has pending.
async fn flush(to: &mut WriteHalf<'_>, half: &mut Half) -> io::Result<()> {
    to.write_all(&half.pending[half.written..]).await?;
    half.pending = Vec::new();
    half.written = 0;
    Ok(())
}

/// One direction: read what is there, write it on at once; on EOF shut the
/// writer down (half-close) and return `false`. Returns `true` at a bulk
/// read when `allow_splice`, once everything read has been written. Every
/// `.await` is cancel-safe: progress is recorded in `half` as it happens.
/// `ended` is (this direction, the other one): once both have ended, the
/// sockets are closed at once, and the close sends the FIN, so the
/// direction that ends last does not shut its writer down first.
async fn one_way(
    from: &ReadHalf<'_>,
    to: &mut WriteHalf<'_>,
    half: &mut Half,
    ended: (&AtomicBool, &AtomicBool),
    allow_splice: bool,
) -> io::Result<bool> {
    if half.ended {
        return Ok(false);
    }
    loop {
        while half.written < half.pending.len() {
            let n = to.write(&half.pending[half.written..]).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            half.written += n;
        }
        if half.pending.capacity() > 0 {
            // Release a backpressure buffer once it is written out.
            half.pending = Vec::new();
            half.written = 0;
        }
        if allow_splice && half.bulk {
            return Ok(true);
        }
        from.readable().await?;
        let read = READ.with_borrow_mut(|buf| -> io::Result<Option<usize>> {
            let n = match try_read(from, buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            };
            let mut written = 0;
            while written < n {
                match try_write(to, &buf[written..n]) {
                    Ok(k) => written += k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            half.pending.extend_from_slice(&buf[written..n]);
            Ok(Some(n))
        })?;
        match read {
            // Spurious readiness.
            None => {}
            Some(0) => {
                if !ended.1.load(Ordering::Relaxed) {
                    to.shutdown().await?;
                }
                ended.0.store(true, Ordering::Relaxed);
                half.ended = true;
                return Ok(false);
            }
            Some(n) => {
                half.moved += n as u64;
                half.bulk |= n >= BULK;
            }
        }
    }
}

/// `try_read`, except that a short read also clears the read readiness, as
/// tokio's own `poll_read` does: under edge-triggered epoll a read that
/// returns less than it asked for has drained the socket, and the next
/// arrival raises a new edge. Without it every read is followed by one
/// more that only returns `WouldBlock`: on a short exchange, a third of the
/// gateway's reads.
fn try_read(from: &ReadHalf<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let stream: &TcpStream = from.as_ref();
    draining(stream, Interest::READABLE, buf.len(), || {
        (&*SockRef::from(stream)).read(buf)
    })
}

/// `try_write`, clearing the write readiness on a short write (the send
/// buffer is full), for the same reason as [`try_read`].
fn try_write(to: &WriteHalf<'_>, buf: &[u8]) -> io::Result<usize> {
    let stream: &TcpStream = to.as_ref();
    draining(stream, Interest::WRITABLE, buf.len(), || {
        (&*SockRef::from(stream)).write(buf)
    })
}

/// Runs `io` (moving at most `len` bytes) under `stream`'s `interest`
/// readiness; a partial transfer clears the readiness. `try_io` clears it
/// only when the closure returns `WouldBlock`, so a partial count leaves
/// the closure that way and is returned here; tokio clears it only if no
/// new readiness event arrived meanwhile, so no wake-up is lost.
fn draining(
    stream: &TcpStream,
    interest: Interest,
    len: usize,
    mut io: impl FnMut() -> io::Result<usize>,
) -> io::Result<usize> {
    let mut partial = None;
    let result = stream.try_io(interest, || match io()? {
        n if n > 0 && n < len => {
            partial = Some(n);
            Err(io::ErrorKind::WouldBlock.into())
        }
        n => Ok(n),
    });
    partial.map_or(result, Ok)
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::{read_first, try_read};

    #[test]
    fn read_first_takes_what_is_waiting_and_leaves_the_eof() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let server = socket2::Socket::from(server);
        assert!(read_first(&server).unwrap().is_empty(), "nothing sent yet");

        std::io::Write::write_all(&mut client, b"HELLO").unwrap();
        let first = wait_for(|| read_first(&server).unwrap());
        assert_eq!(first, b"HELLO");
        assert!(read_first(&server).unwrap().is_empty(), "taken, not peeked");

        client.shutdown(std::net::Shutdown::Write).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            read_first(&server).unwrap().is_empty(),
            "an EOF is not data"
        );
        let mut byte = [0u8; 1];
        assert_eq!(
            (&server).read(&mut byte).unwrap(),
            0,
            "the EOF is left to read"
        );
    }

    /// Calls `read` until it returns bytes, for up to about 5 s (loopback
    /// delivery can lag the write by a softirq).
    fn wait_for(mut read: impl FnMut() -> Vec<u8>) -> Vec<u8> {
        for _ in 0..5000 {
            let bytes = read();
            if !bytes.is_empty() {
                return bytes;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Vec::new()
    }

    #[tokio::test]
    async fn a_short_read_waits_for_new_data_and_misses_none() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let (from, _to) = server.split();
        let mut buf = [0u8; 64];

        client.write_all(b"hello").await.unwrap();
        from.readable().await.unwrap();
        assert_eq!(try_read(&from, &mut buf).unwrap(), 5);
        // Drained: readiness is cleared, so waiting does not return at once
        // only to read WouldBlock (a plain `try_read` leaves it set).
        let stale = tokio::time::timeout(Duration::from_millis(50), from.readable()).await;
        assert!(stale.is_err(), "read readiness survived a short read");

        // Data arriving afterwards raises readiness again: no wake-up lost.
        client.write_all(b"again").await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), from.readable())
            .await
            .expect("new data must wake the reader")
            .unwrap();
        assert_eq!(try_read(&from, &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"again");
    }
}
