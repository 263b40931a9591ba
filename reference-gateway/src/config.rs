//! The data-plane configuration: what `translate` produces and the data plane
//! applies. One vocabulary: Listener → Route → Backend → Endpoint.
//!
//! Plain data, no I/O. Everything is ordered (Vec sorted, BTreeMap) so the
//! same Snapshot always yields byte-identical YAML in golden files.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

/// Everything the data plane serves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// One entry per bound socket, sorted by (address, port, protocol).
    pub listeners: Vec<Listener>,
}

/// L4 protocol of a listener socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Protocol {
    /// A TCP listener (TCPRoute).
    #[serde(rename = "TCP")]
    Tcp,
    /// A UDP listener (UDPRoute).
    #[serde(rename = "UDP")]
    Udp,
}

/// Where a listener socket binds: the key the data plane diffs configs by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerKey {
    /// Address to bind (the Gateway's address).
    pub address: IpAddr,
    /// Port to bind.
    pub port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
}

/// A listener socket and the route it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Listener {
    /// Where to bind.
    #[serde(flatten)]
    pub key: ListenerKey,
    /// The Gateway listener this socket implements, as `namespace/gateway/listener`.
    pub name: String,
    /// The route that gets the traffic (the oldest attached route), if any.
    /// With no route the socket is still bound and every connection is
    /// rejected (TCP reset) or datagram dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
}

/// The route serving a listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Route {
    /// `TCPRoute/namespace/name` or `UDPRoute/namespace/name`.
    pub name: String,
    /// Weighted backends of the route's (first) rule, in backendRefs order.
    /// Weight-0 backends are kept (they get nothing) so status and config
    /// line up index for index.
    pub backends: Vec<Backend>,
}

/// One backendRef after resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Backend {
    /// `namespace/service:port` as written in the backendRef.
    pub name: String,
    /// The backendRef's weight (default 1). Share = weight / sum of weights.
    pub weight: u32,
    /// Where this share of traffic goes.
    pub target: Target,
}

/// What happens to a backend's share of new connections or flows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Target {
    /// Forward to one of these ready endpoints (sorted).
    Endpoints(Vec<SocketAddr>),
    /// Reject the share: TCP connections are reset, UDP datagrams dropped.
    /// The reason is a short sentence for logs and the admin API.
    Reject(String),
}
