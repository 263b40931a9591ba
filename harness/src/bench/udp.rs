//! UDP generators: blocking sockets on plain threads (a paced sender and a
//! receiver per flow), which keep up with loopback better than an async
//! loop would, and leave the async runtime out of the timing.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::BenchError;
use super::report::Latency;
use super::tcp::record;

/// How long receivers keep reading after the sender stops: replies still
/// in flight are delivered, not lost.
const DRAIN: Duration = Duration::from_millis(300);

/// Datagrams offered and delivered over a window.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UdpRate {
    /// Offered rate (datagrams per second); `None`: as fast as one sender can.
    pub offered_per_second: Option<u64>,
    /// Flows (source ports) the datagrams were spread over.
    pub flows: usize,
    /// Payload bytes per datagram.
    pub payload: usize,
    /// Datagrams sent.
    pub sent: u64,
    /// Echoes received.
    pub received: u64,
    /// Sending window.
    pub seconds: f64,
    /// `sent / seconds`.
    pub sent_per_second: f64,
    /// `received / seconds`: the delivered (round-trip) rate.
    pub received_per_second: f64,
    /// `1 − received / sent`.
    pub loss: f64,
}

fn socket(target: SocketAddr) -> Result<UdpSocket, BenchError> {
    let err = |what| {
        move |source| BenchError::Io {
            what,
            target,
            source,
        }
    };
    let any: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let s = UdpSocket::bind(any).map_err(err("binding a socket for"))?;
    let s2 = socket2::SockRef::from(&s);
    let _ = s2.set_recv_buffer_size(4 << 20);
    let _ = s2.set_send_buffer_size(4 << 20);
    s.connect(target).map_err(err("connecting a socket to"))?;
    s.set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(err("configuring a socket for"))?;
    Ok(s)
}

/// Sends `payload`-byte datagrams round-robin over `flows` sockets for
/// `duration`, at `offered` per second (or flat out), counting echoes.
pub fn rate(
    target: SocketAddr,
    flows: usize,
    payload: usize,
    offered: Option<u64>,
    duration: Duration,
) -> Result<UdpRate, BenchError> {
    let sockets: Vec<Arc<UdpSocket>> = (0..flows.max(1))
        .map(|_| socket(target).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let receivers: Vec<_> = sockets
        .iter()
        .map(|s| {
            let (s, received, stop) = (s.clone(), received.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65_536];
                loop {
                    match s.recv(&mut buf) {
                        Ok(_) => {
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                        // Timeout (or an ICMP error): stop only once told to.
                        Err(_) if stop.load(Ordering::Relaxed) => return,
                        Err(_) => {}
                    }
                }
            })
        })
        .collect();
    // Not "HELLO": the echo server echoes anything else verbatim.
    let data = vec![b'u'; payload.max(1)];
    let start = Instant::now();
    let mut sent = 0u64;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= duration {
            break;
        }
        // Paced: catch up to the schedule, then sleep a little (finer
        // sleeps cost more than they smooth). Flat out: batches of 64.
        let burst = match offered {
            Some(rate) => {
                let due = (elapsed.as_secs_f64() * rate as f64) as u64;
                if sent >= due {
                    std::thread::sleep(Duration::from_micros(200));
                    continue;
                }
                (due - sent).min(4096)
            }
            None => 64,
        };
        for _ in 0..burst {
            let s = &sockets[(sent as usize) % sockets.len()];
            // ENOBUFS on a full buffer is loss, like any drop.
            let _ = s.send(&data);
            sent += 1;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    std::thread::sleep(DRAIN);
    stop.store(true, Ordering::Relaxed);
    for r in receivers {
        let _ = r.join();
    }
    let received = received.load(Ordering::Relaxed);
    Ok(UdpRate {
        offered_per_second: offered,
        flows: sockets.len(),
        payload,
        sent,
        received,
        seconds,
        sent_per_second: sent as f64 / seconds,
        received_per_second: received as f64 / seconds,
        loss: if sent == 0 {
            0.0
        } else {
            1.0 - (received.min(sent) as f64 / sent as f64)
        },
    })
}

/// `samples` sequential round trips on one flow; a datagram with no echo
/// within 50 ms counts as lost (and is not in the histogram).
pub fn latency(target: SocketAddr, payload: usize, samples: usize) -> Result<Latency, BenchError> {
    let s = socket(target)?;
    let mut data = vec![b'l'; payload.max(8)];
    let mut buf = vec![0u8; 65_536];
    let mut histogram = Latency::histogram();
    let mut lost = 0u64;
    for i in 0..samples + 10 {
        // A sequence number in the payload, so a late echo of an earlier
        // datagram is not taken for this one's.
        data[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let start = Instant::now();
        s.send(&data).map_err(|source| BenchError::Io {
            what: "sending to",
            target,
            source,
        })?;
        loop {
            match s.recv(&mut buf) {
                Ok(n) if n >= 8 && buf[..8] == data[..8] => {
                    if i >= 10 {
                        record(&mut histogram, start.elapsed());
                    }
                    break;
                }
                Ok(_) => continue,
                Err(_) => {
                    lost += 1;
                    break;
                }
            }
        }
    }
    if histogram.is_empty() {
        return Err(BenchError::Protocol {
            target,
            message: format!("no UDP echo in {samples} tries"),
        });
    }
    Ok(Latency::from_histogram(&histogram, lost))
}
