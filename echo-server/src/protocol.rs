//! The echo protocol, shared by the server and gwl4's traffic drivers.
//!
//! TCP: the client writes one command line. `HELLO <nonce>\n` gets one JSON
//! [`Reply`] line; `ECHO <n>\n` followed by n bytes gets the n bytes back;
//! `STREAM\n` echoes everything until the client half-closes. UDP: a
//! datagram starting `HELLO <nonce>` gets a JSON [`Reply`]; anything else is
//! echoed verbatim.

use serde::{Deserialize, Serialize};

/// The identity reply, one JSON object (one line on TCP, one datagram on UDP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reply {
    /// Pod (replica) name, from `POD_NAME`.
    pub pod: String,
    /// Namespace, from `POD_NAMESPACE`.
    pub namespace: String,
    /// Service (backend) name, from `SERVICE_NAME`.
    pub service: String,
    /// `"tcp"` or `"udp"`.
    pub protocol: String,
    /// The server's own address of this connection or socket (`ip:port`).
    pub local: String,
    /// The client address as the backend sees it (`ip:port`): shows SNAT.
    pub peer: String,
    /// UDP only: how many datagrams this peer has sent, counting this one (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_seq: Option<u64>,
    /// The nonce the client sent with `HELLO`.
    pub nonce: String,
}

/// Largest UDP payload over IPv4 (65,535 − 8 UDP − 20 IP header bytes).
pub const MAX_DATAGRAM: usize = 65_507;
