//! The UDP server: one receive loop, replies sent from the same socket.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::config::Identity;
use crate::protocol::{Reply, udp_hello_nonce};

/// How many peers [`FlowTable`] remembers by default.
pub const MAX_FLOWS: usize = 100_000;

/// Counts datagrams per peer address for `flowSeq`. Bounded: past `capacity`
/// peers the one seen first is forgotten (its count restarts at 1 if it comes
/// back), so a scan of source ports cannot exhaust memory.
#[derive(Debug)]
pub struct FlowTable {
    counts: HashMap<SocketAddr, u64>,
    order: VecDeque<SocketAddr>,
    capacity: usize,
}

impl FlowTable {
    /// An empty table remembering at most `capacity` peers (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            counts: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Counts one datagram from `peer` and returns its 1-based sequence number.
    pub fn record(&mut self, peer: SocketAddr) -> u64 {
        if let Some(count) = self.counts.get_mut(&peer) {
            *count += 1;
            return *count;
        }
        if self.counts.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.counts.remove(&oldest);
        }
        self.counts.insert(peer, 1);
        self.order.push_back(peer);
        1
    }

    /// Number of peers remembered.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether no peer is remembered.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// Serves `socket` until `shutdown` is cancelled. Every datagram is counted
/// in the flow table; `HELLO` gets an identity reply, `--text` mode gets the
/// text, anything else is echoed verbatim.
pub async fn serve(
    socket: UdpSocket,
    identity: Identity,
    text: Option<String>,
    shutdown: CancellationToken,
) {
    let local = match socket.local_addr() {
        Ok(a) => a.to_string(),
        Err(e) => {
            tracing::error!(error = %e, "udp socket has no local address");
            return;
        }
    };
    let mut flows = FlowTable::new(MAX_FLOWS);
    // One byte more than the largest datagram, so nothing is ever truncated.
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, peer) = tokio::select! {
            () = shutdown.cancelled() => return,
            received = socket.recv_from(&mut buf) => match received {
                Ok(r) => r,
                Err(e) => {
                    // E.g. ECONNREFUSED from an ICMP error for an earlier
                    // reply; the socket is still fine.
                    tracing::debug!(error = %e, "udp receive failed");
                    continue;
                }
            },
        };
        let seq = flows.record(peer);
        let datagram = &buf[..n];
        let reply = if let Some(text) = &text {
            format!("{text}\n").into_bytes()
        } else if let Some(nonce) = udp_hello_nonce(datagram) {
            identity_reply(&identity, &local, peer, seq, nonce)
        } else {
            datagram.to_vec()
        };
        if let Err(e) = socket.send_to(&reply, peer).await {
            tracing::debug!(%peer, error = %e, "udp send failed");
        }
    }
}

fn identity_reply(
    identity: &Identity,
    local: &str,
    peer: SocketAddr,
    seq: u64,
    nonce: String,
) -> Vec<u8> {
    let reply = Reply {
        pod: identity.pod.clone(),
        namespace: identity.namespace.clone(),
        service: identity.service.clone(),
        protocol: "udp".into(),
        local: local.to_owned(),
        peer: peer.to_string(),
        flow_seq: Some(seq),
        nonce,
    };
    let mut json = serde_json::to_vec(&reply).expect("Reply always serialises");
    // A newline keeps `nc -u` output readable; JSON parsers skip it.
    json.push(b'\n');
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn counts_per_peer() {
        let mut t = FlowTable::new(10);
        assert_eq!(t.record(addr(1)), 1);
        assert_eq!(t.record(addr(1)), 2);
        assert_eq!(t.record(addr(2)), 1);
        assert_eq!(t.record(addr(1)), 3);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn forgets_the_oldest_peer_past_capacity() {
        let mut t = FlowTable::new(2);
        t.record(addr(1));
        t.record(addr(1));
        t.record(addr(2));
        t.record(addr(3)); // evicts 1
        assert_eq!(t.len(), 2);
        assert_eq!(t.record(addr(2)), 2);
        assert_eq!(t.record(addr(3)), 2);
        assert_eq!(t.record(addr(1)), 1, "peer 1 was forgotten"); // evicts 2
        assert_eq!(t.record(addr(2)), 1, "peer 2 was forgotten");
    }
}
