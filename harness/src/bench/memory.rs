//! Gateway memory: RSS before and after opening many idle TCP connections
//! through it, reported per connection.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::BenchError;

/// RSS with idle connections.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    /// Idle connections held open.
    pub connections: usize,
    /// Connections that failed to open or to get a reply (not held; the
    /// first error is in `error`).
    pub failed: usize,
    /// The first failure, if any.
    pub error: Option<String>,
    /// Gateway RSS before, KiB.
    pub rss_before_kib: u64,
    /// Gateway RSS with the connections open, KiB.
    pub rss_after_kib: u64,
    /// `(after − before) / connections`, KiB.
    pub per_connection_kib: f64,
}

/// VmRSS of `pid` and its children (nginx's workers hold its
/// connections), KiB.
pub fn rss_kib(pid: u32) -> Result<u64, BenchError> {
    let mut total = own_rss_kib(pid)?;
    for child in children(pid) {
        // A child that exits meanwhile has no memory to count.
        total += own_rss_kib(child).unwrap_or(0);
    }
    Ok(total)
}

fn own_rss_kib(pid: u32) -> Result<u64, BenchError> {
    let path = format!("/proc/{pid}/status");
    let text =
        std::fs::read_to_string(&path).map_err(|e| BenchError::Local(format!("{path}: {e}")))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| BenchError::Local(format!("{path}: no VmRSS line")))
}

/// Direct children of `pid`, from every thread's `children` list.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out: Vec<u32> = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Opens `n` connections through `gateway`, each completing a `HELLO` (so
/// the gateway's upstream side is established too), reads the gateway's
/// RSS, then closes them all.
pub async fn idle_connections(
    gateway: SocketAddr,
    pid: u32,
    n: usize,
) -> Result<Memory, BenchError> {
    let before = rss_kib(pid)?;
    let mut open = Vec::with_capacity(n);
    let mut failed = 0;
    let mut error = None;
    for _ in 0..n {
        match hello(gateway).await {
            Ok(stream) => open.push(stream),
            Err(e) => {
                failed += 1;
                error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    let after = rss_kib(pid)?;
    let held = open.len();
    drop(open);
    Ok(Memory {
        connections: held,
        failed,
        error,
        rss_before_kib: before,
        rss_after_kib: after,
        per_connection_kib: after.saturating_sub(before) as f64 / held.max(1) as f64,
    })
}

/// One connection through the gateway, its `HELLO` answered.
async fn hello(gateway: SocketAddr) -> std::io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect(gateway).await?;
    let mut stream = BufReader::new(stream);
    stream.get_mut().write_all(b"HELLO idle\n").await?;
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(stream)
}
