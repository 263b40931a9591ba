//! TCP generators: tight loops of our own rather than the probes in
//! [`crate::traffic`], whose per-probe evidence and SHA-256 verification
//! would make the generator the bottleneck.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::BenchError;
use super::report::Latency;

/// Read and write chunk of the throughput test.
const CHUNK: usize = 256 * 1024;

/// No single socket operation of a generator may stall longer than this.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Single-stream throughput.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Throughput {
    /// Bytes sent (and received back).
    pub bytes: u64,
    /// From connect to the last echoed byte.
    pub seconds: f64,
    /// `bytes / seconds`, one way.
    pub bytes_per_second: f64,
}

/// Connection rate and what the connections found.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRate {
    /// Concurrent connections.
    pub concurrency: usize,
    /// Completed connect, HELLO, reply, close cycles.
    pub connections: u64,
    /// Cycles that failed (refused, reset, timed out).
    pub failures: u64,
    /// Measurement window.
    pub seconds: f64,
    /// `connections / seconds`.
    pub per_second: f64,
    /// Identity replies per backend `service`.
    pub backends: BTreeMap<String, u64>,
}

async fn io<T>(
    what: &'static str,
    target: SocketAddr,
    fut: impl Future<Output = std::io::Result<T>>,
) -> Result<T, BenchError> {
    match tokio::time::timeout(IO_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(BenchError::Io {
            what,
            target,
            source,
        }),
        Err(_) => Err(BenchError::Io {
            what,
            target,
            source: std::io::ErrorKind::TimedOut.into(),
        }),
    }
}

/// `STREAM` with `len` bytes over one connection; checks every byte came
/// back (count and a position-dependent pattern, cheap to verify), then
/// half-closes.
pub async fn throughput(target: SocketAddr, len: u64) -> Result<Throughput, BenchError> {
    let start = Instant::now();
    let stream = io("connecting to", target, TcpStream::connect(target)).await?;
    let _ = stream.set_nodelay(true);
    let (mut r, mut w) = stream.into_split();
    let pattern: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
    let send = async {
        io("writing to", target, w.write_all(b"STREAM\n")).await?;
        let mut left = len;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            io("writing to", target, w.write_all(&pattern[..n])).await?;
            left -= n as u64;
        }
        Ok(())
    };
    let receive = async {
        let mut buf = vec![0u8; CHUNK];
        let mut received = 0u64;
        let mut mismatch = None;
        loop {
            if received >= len {
                return Ok((received, mismatch));
            }
            let n = io("reading from", target, r.read(&mut buf)).await?;
            if n == 0 {
                return Ok((received, mismatch));
            }
            // The pattern repeats every CHUNK bytes. Checking every byte
            // would cost the generator as much as the copy it measures, so
            // check the first and last byte of each read: a lost, added or
            // reordered run of bytes shifts them.
            if mismatch.is_none() && n > 0 {
                for i in [0, n - 1] {
                    let at = received + i as u64;
                    if buf[i] != ((at % CHUNK as u64) % 251) as u8 {
                        mismatch = Some(at);
                    }
                }
            }
            received += n as u64;
        }
    };
    let (sent, received) = tokio::join!(send, receive);
    sent?;
    let (received, mismatch) = received?;
    let seconds = start.elapsed().as_secs_f64();
    // The half-close only once the whole echo is back: this measures
    // throughput, and a gateway that ends a half-closed connection early
    // (the catalog's TCPRouteHalfClose judges that; Traefik's TCPRoutes cut
    // the reply at once) would otherwise lose the tail still in flight.
    let _ = w.shutdown().await;
    if received != len {
        return Err(BenchError::Protocol {
            target,
            message: format!("STREAM of {len} bytes echoed {received}"),
        });
    }
    if let Some(at) = mismatch {
        return Err(BenchError::Protocol {
            target,
            message: format!("STREAM echo differs at byte {at}"),
        });
    }
    Ok(Throughput {
        bytes: len,
        seconds,
        bytes_per_second: len as f64 / seconds,
    })
}

/// `concurrency` workers each loop connect, `HELLO`, read the identity,
/// close, for `duration`.
pub async fn connection_rate(
    target: SocketAddr,
    concurrency: usize,
    duration: Duration,
) -> Result<ConnectionRate, BenchError> {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency.max(1) {
        let stop = stop.clone();
        workers.spawn(async move {
            let mut cycle = 0usize;
            let mut ok = 0u64;
            let mut failed = 0u64;
            let mut backends: BTreeMap<String, u64> = BTreeMap::new();
            while !stop.load(Ordering::Relaxed) {
                cycle += 1;
                let source = source_address(target, worker * 7919 + cycle);
                match hello(target, source).await {
                    Ok(service) => {
                        ok += 1;
                        *backends.entry(service).or_default() += 1;
                    }
                    Err(_) => failed += 1,
                }
            }
            (ok, failed, backends)
        });
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = ConnectionRate {
        concurrency,
        connections: 0,
        failures: 0,
        seconds: 0.0,
        per_second: 0.0,
        backends: BTreeMap::new(),
    };
    while let Some(done) = workers.join_next().await {
        let (ok, failed, backends) =
            done.map_err(|e| BenchError::Local(format!("connection worker: {e}")))?;
        total.connections += ok;
        total.failures += failed;
        for (k, v) in backends {
            *total.backends.entry(k).or_default() += v;
        }
    }
    total.seconds = start.elapsed().as_secs_f64();
    total.per_second = total.connections as f64 / total.seconds;
    if total.connections == 0 {
        return Err(BenchError::Protocol {
            target,
            message: format!("no connection completed ({} failed)", total.failures),
        });
    }
    Ok(total)
}

/// A source address for connection `n` to a loopback `target`: one of
/// 127.0.4.1–250 in turn. Every closed connection leaves a TIME_WAIT entry
/// on our side for a minute; from a single source address a few seconds at
/// tens of thousands of connections per second would exhaust the ephemeral
/// ports and the bench would measure that instead of the gateway.
fn source_address(target: SocketAddr, n: usize) -> Option<SocketAddr> {
    match target {
        SocketAddr::V4(v4) if v4.ip().is_loopback() => {
            let host = (n % 250) as u8 + 1;
            Some(SocketAddr::from(([127, 0, 4, host], 0)))
        }
        _ => None,
    }
}

/// One connect (from `source`, if given), HELLO, identity, close; returns
/// the backend's `service`.
async fn hello(target: SocketAddr, source: Option<SocketAddr>) -> Result<String, BenchError> {
    let connect = async {
        let socket = if target.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        if let Some(source) = source {
            socket.bind(source)?;
        }
        socket.connect(target).await
    };
    let mut stream = io("connecting to", target, connect).await?;
    let _ = stream.set_nodelay(true);
    io("writing to", target, stream.write_all(b"HELLO bench\n")).await?;
    let mut line = Vec::with_capacity(256);
    let mut reader = BufReader::new(&mut stream);
    io("reading from", target, reader.read_until(b'\n', &mut line)).await?;
    service_of(&line).ok_or_else(|| BenchError::Protocol {
        target,
        message: format!(
            "not an identity reply: {}",
            String::from_utf8_lossy(&line).trim_end()
        ),
    })
}

/// The `service` field of an identity reply.
pub(crate) fn service_of(line: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Identity {
        service: String,
    }
    serde_json::from_slice::<Identity>(line)
        .ok()
        .map(|i| i.service)
}

/// `samples` sequential `ECHO 64` round trips over one connection.
pub async fn echo_latency(target: SocketAddr, samples: usize) -> Result<Latency, BenchError> {
    let mut stream = io("connecting to", target, TcpStream::connect(target)).await?;
    let _ = stream.set_nodelay(true);
    let mut request = b"ECHO 64\n".to_vec();
    request.extend_from_slice(&[b'x'; 64]);
    let mut reply = [0u8; 64];
    let mut histogram = Latency::histogram();
    // A few untimed round trips first: connection setup and the first
    // reads are not the steady state.
    for i in 0..samples + 10 {
        let start = Instant::now();
        io("writing to", target, stream.write_all(&request)).await?;
        io("reading from", target, stream.read_exact(&mut reply)).await?;
        if i >= 10 {
            record(&mut histogram, start.elapsed());
        }
    }
    Ok(Latency::from_histogram(&histogram, 0))
}

/// Records a duration in nanoseconds (saturating at the histogram's top).
pub(crate) fn record(histogram: &mut Histogram<u64>, elapsed: Duration) {
    histogram.saturating_record(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
}
