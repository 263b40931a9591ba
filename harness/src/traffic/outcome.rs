//! What a probe observed: a closed set of [`Outcome`]s, the [`Evidence`]
//! behind each, and the one function that turns socket errors into outcomes.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use echo_server::protocol::Reply;
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

/// How a probe ended. The serialised names are part of the suite format
/// (`expect: {outcome: refused}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// The exchange completed and the reply was right.
    Ok,
    /// The connection was refused: a TCP RST in answer to the SYN, or an ICMP
    /// port-unreachable for UDP (seen only on a connected socket).
    Refused,
    /// The connection was reset after it had been established.
    Reset,
    /// The peer closed the connection (EOF) before sending any reply: a
    /// gateway that accepts and then closes.
    ClosedWithoutReply,
    /// TCP: the peer sent bytes no echo backend sends (not an identity
    /// reply), then closed or reset the connection within RequestTimeout:
    /// the gateway's own answer, such as the `HTTP/1.1 400 Bad Request`
    /// Traefik gives on a port with no TCP route. Nothing was forwarded.
    ClosedAfterForeignReply,
    /// Nothing (or no progress) within the deadline.
    Timeout,
    /// No route: host or network unreachable.
    Unreachable,
    /// A reply arrived but was wrong: different bytes, truncated, not an
    /// identity, the wrong nonce, or (UDP) from the wrong source address.
    Mismatch,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Self; 8] = [
        Self::Ok,
        Self::Refused,
        Self::Reset,
        Self::ClosedWithoutReply,
        Self::ClosedAfterForeignReply,
        Self::Timeout,
        Self::Unreachable,
        Self::Mismatch,
    ];

    /// The serialised name, e.g. `closedWithoutReply`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Reset => "reset",
            Self::ClosedWithoutReply => "closedWithoutReply",
            Self::ClosedAfterForeignReply => "closedAfterForeignReply",
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
            Self::Mismatch => "mismatch",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What every probe result carries, so a failure can be explained.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// Our end of the connection or flow, once known.
    pub local: Option<SocketAddr>,
    /// The address we sent to.
    pub remote: Option<SocketAddr>,
    /// UDP: where the (last) reply came from; differs from `remote` when a
    /// gateway answers from the wrong address.
    pub reply_from: Option<SocketAddr>,
    /// Payload bytes we sent (command lines included).
    pub bytes_sent: u64,
    /// Bytes we received.
    pub bytes_received: u64,
    /// From the start of the probe (before connecting) to its end.
    pub elapsed: Duration,
    /// Human-readable detail: the io error, the first differing byte, ...
    pub detail: String,
    /// UDP: how many times the datagram was sent (1, plus one per
    /// retransmission); 0 for TCP.
    pub tries: u32,
}

/// Which backend answered: the identity fields of a [`Reply`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Backend {
    /// Service (backendRef) name.
    pub service: String,
    /// Pod (replica) name.
    pub pod: String,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.service, self.pod)
    }
}

/// The result of one probe: how it ended, why, and the identity reply when
/// the probe asked for one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// How the probe ended.
    pub outcome: Outcome,
    /// Addresses, byte counts, timing and detail.
    pub evidence: Evidence,
    /// The parsed identity reply (identify probes; also kept on a
    /// [`Outcome::Mismatch`] caused by the reply's source address or nonce).
    pub reply: Option<Reply>,
}

impl Probe {
    /// The backend that answered, if the probe got an identity reply.
    pub fn backend(&self) -> Option<Backend> {
        self.reply.as_ref().map(|r| Backend {
            service: r.service.clone(),
            pod: r.pod.clone(),
        })
    }

    /// Whether the outcome is [`Outcome::Ok`].
    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }
}

/// A failure on our side (no socket, no free port, too many open files):
/// it says nothing about the system under test, so it is not an [`Outcome`].
#[derive(Debug, thiserror::Error)]
#[error("{protocol} probe to {target}: local error while {action}: {source}")]
pub struct Error {
    /// `"tcp"` or `"udp"`.
    pub protocol: &'static str,
    /// The address being probed.
    pub target: SocketAddr,
    /// What we were doing, e.g. "binding a socket".
    pub action: &'static str,
    /// The OS error.
    pub source: io::Error,
}

/// Classifies a socket error as an [`Outcome`], or `None` when the error is
/// local (not an observation about the peer or the network).
///
/// The raw errno decides when there is one (it is more precise than
/// [`io::ErrorKind`]); otherwise the kind does, so errors built in code
/// (e.g. a deadline turned into [`io::ErrorKind::TimedOut`]) classify too.
pub fn classify(err: &io::Error) -> Option<Outcome> {
    if let Some(raw) = err.raw_os_error() {
        return match Errno::from_raw(raw) {
            Errno::ECONNREFUSED => Some(Outcome::Refused),
            Errno::ECONNRESET | Errno::ECONNABORTED | Errno::EPIPE | Errno::ENETRESET => {
                Some(Outcome::Reset)
            }
            Errno::ETIMEDOUT => Some(Outcome::Timeout),
            Errno::EHOSTUNREACH | Errno::ENETUNREACH | Errno::EHOSTDOWN | Errno::ENETDOWN => {
                Some(Outcome::Unreachable)
            }
            _ => None,
        };
    }
    match err.kind() {
        io::ErrorKind::ConnectionRefused => Some(Outcome::Refused),
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Some(Outcome::Reset),
        io::ErrorKind::TimedOut => Some(Outcome::Timeout),
        io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::NetworkDown => Some(Outcome::Unreachable),
        io::ErrorKind::UnexpectedEof => Some(Outcome::ClosedWithoutReply),
        _ => None,
    }
}

/// A printable excerpt of received bytes for [`Evidence::detail`].
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 80;
    let shown = &bytes[..bytes.len().min(MAX)];
    let mut s = format!("{:?}", String::from_utf8_lossy(shown));
    if bytes.len() > MAX {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: Errno) -> io::Error {
        io::Error::from_raw_os_error(errno as i32)
    }

    #[test]
    fn classifies_raw_errnos() {
        let cases = [
            (Errno::ECONNREFUSED, Some(Outcome::Refused)),
            (Errno::ECONNRESET, Some(Outcome::Reset)),
            (Errno::ECONNABORTED, Some(Outcome::Reset)),
            (Errno::EPIPE, Some(Outcome::Reset)),
            (Errno::ENETRESET, Some(Outcome::Reset)),
            (Errno::ETIMEDOUT, Some(Outcome::Timeout)),
            (Errno::EHOSTUNREACH, Some(Outcome::Unreachable)),
            (Errno::ENETUNREACH, Some(Outcome::Unreachable)),
            (Errno::EHOSTDOWN, Some(Outcome::Unreachable)),
            (Errno::ENETDOWN, Some(Outcome::Unreachable)),
            // Local trouble, not an observation about the peer.
            (Errno::EMFILE, None),
            (Errno::EADDRINUSE, None),
            (Errno::EADDRNOTAVAIL, None),
            (Errno::EINVAL, None),
            (Errno::EACCES, None),
        ];
        for (errno, expected) in cases {
            assert_eq!(classify(&os(errno)), expected, "{errno}");
        }
    }

    #[test]
    fn classifies_error_kinds_without_errno() {
        use io::ErrorKind as K;
        let cases = [
            (K::ConnectionRefused, Some(Outcome::Refused)),
            (K::ConnectionReset, Some(Outcome::Reset)),
            (K::ConnectionAborted, Some(Outcome::Reset)),
            (K::BrokenPipe, Some(Outcome::Reset)),
            (K::TimedOut, Some(Outcome::Timeout)),
            (K::HostUnreachable, Some(Outcome::Unreachable)),
            (K::NetworkUnreachable, Some(Outcome::Unreachable)),
            (K::NetworkDown, Some(Outcome::Unreachable)),
            (K::UnexpectedEof, Some(Outcome::ClosedWithoutReply)),
            (K::WouldBlock, None),
            (K::AddrInUse, None),
            (K::Other, None),
        ];
        for (kind, expected) in cases {
            assert_eq!(
                classify(&io::Error::new(kind, "test")),
                expected,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn errno_and_kind_agree() {
        // The std mapping from errno to kind must not contradict ours.
        for errno in [
            Errno::ECONNREFUSED,
            Errno::ECONNRESET,
            Errno::EPIPE,
            Errno::ETIMEDOUT,
            Errno::EHOSTUNREACH,
        ] {
            let err = os(errno);
            assert_eq!(
                classify(&err),
                classify(&io::Error::new(err.kind(), "kind only")),
                "{errno}"
            );
        }
    }

    #[test]
    fn outcome_names_are_the_suite_format() {
        for outcome in Outcome::ALL {
            let json = serde_json::to_string(&outcome).unwrap();
            assert_eq!(json, format!("\"{}\"", outcome.as_str()));
            assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), outcome);
        }
        assert_eq!(
            Outcome::ClosedWithoutReply.to_string(),
            "closedWithoutReply"
        );
    }

    #[test]
    fn excerpt_is_bounded_and_printable() {
        assert_eq!(excerpt(b"ERROR x\n"), "\"ERROR x\\n\"");
        assert!(excerpt(&[b'a'; 500]).ends_with("..."));
    }
}
