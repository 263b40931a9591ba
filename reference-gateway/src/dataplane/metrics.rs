//! Data-plane metrics (Prometheus, via `prometheus-client`).
//!
//! Families are registered once; the per-listener and per-backend handles
//! are resolved when a config is applied, so the per-connection and
//! per-datagram paths only touch atomics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of per-backend series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    /// Listener name (`namespace/gateway/listener`).
    pub listener: String,
    /// Backend name (`namespace/service:port`).
    pub backend: String,
}

/// Labels of per-backend byte counters.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BytesLabels {
    /// Listener name.
    pub listener: String,
    /// Backend name.
    pub backend: String,
    /// `upstream` (client to backend) or `downstream` (backend to client).
    pub direction: String,
}

/// Labels of series that carry a reason (rejections, drops, evictions).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Listener name.
    pub listener: String,
    /// Why: e.g. `no_route`, `rejected_backend`, `idle`, `full`.
    pub reason: String,
}

/// Labels of per-listener series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerLabels {
    /// Listener name.
    pub listener: String,
}

/// Every data-plane metric family. Cheap to clone (families are `Arc`s).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// TCP connections accepted and forwarded to a backend.
    pub tcp_accepted: Family<BackendLabels, Counter>,
    /// TCP connections currently proxied.
    pub tcp_active: Family<BackendLabels, Gauge>,
    /// TCP connections answered with a reset (reject share, no route, or
    /// every endpoint unreachable).
    pub tcp_rejected: Family<ReasonLabels, Counter>,
    /// Bytes moved by finished TCP connections.
    pub tcp_bytes: Family<BytesLabels, Counter>,
    /// TCP connections closed by a reload (route or backend removed) or
    /// at the end of the drain period.
    pub tcp_closed_by_reload: Family<ListenerLabels, Counter>,
    /// Finished TCP connections whose bytes were moved by splice(2)
    /// (the others used the buffered copy).
    pub tcp_spliced: Family<ListenerLabels, Counter>,
    /// UDP sessions in the table (including remembered rejected flows).
    pub udp_sessions_active: Family<ListenerLabels, Gauge>,
    /// UDP sessions created, by the backend chosen for them.
    pub udp_sessions_created: Family<BackendLabels, Counter>,
    /// UDP sessions removed before their client went away.
    pub udp_sessions_evicted: Family<ReasonLabels, Counter>,
    /// UDP datagrams not forwarded.
    pub udp_datagrams_dropped: Family<ReasonLabels, Counter>,
}

impl Metrics {
    /// Registers every family in `registry` (names get the registry's prefix).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "tcp_connections_accepted",
            "TCP connections accepted and forwarded to a backend",
            self.tcp_accepted.clone(),
        );
        registry.register(
            "tcp_connections_active",
            "TCP connections currently proxied",
            self.tcp_active.clone(),
        );
        registry.register(
            "tcp_connections_rejected",
            "TCP connections answered with a reset",
            self.tcp_rejected.clone(),
        );
        registry.register(
            "tcp_bytes",
            "Bytes moved by finished TCP connections",
            self.tcp_bytes.clone(),
        );
        registry.register(
            "tcp_connections_closed_by_reload",
            "TCP connections closed because a reload removed their route or backend, or the drain period ended",
            self.tcp_closed_by_reload.clone(),
        );
        registry.register(
            "tcp_connections_spliced",
            "Finished TCP connections whose bytes moved by splice(2) rather than a buffered copy",
            self.tcp_spliced.clone(),
        );
        registry.register(
            "udp_sessions_active",
            "UDP sessions in the session table",
            self.udp_sessions_active.clone(),
        );
        registry.register(
            "udp_sessions_created",
            "UDP sessions created",
            self.udp_sessions_created.clone(),
        );
        registry.register(
            "udp_sessions_evicted",
            "UDP sessions removed (idle timeout, table full, reconfigured)",
            self.udp_sessions_evicted.clone(),
        );
        registry.register(
            "udp_datagrams_dropped",
            "UDP datagrams not forwarded",
            self.udp_datagrams_dropped.clone(),
        );
    }

    pub(crate) fn reason(
        family: &Family<ReasonLabels, Counter>,
        listener: &str,
        reason: &str,
    ) -> Counter {
        family.get_or_create_owned(&ReasonLabels {
            listener: listener.to_owned(),
            reason: reason.to_owned(),
        })
    }
}

/// Per-backend handles, resolved at apply time.
#[derive(Debug, Clone)]
pub(crate) struct BackendMetrics {
    pub accepted: Counter,
    pub active: Gauge,
    pub bytes_up: Counter,
    pub bytes_down: Counter,
    pub sessions_created: Counter,
}

impl BackendMetrics {
    pub(crate) fn new(metrics: &Metrics, listener: &str, backend: &str) -> Self {
        let labels = BackendLabels {
            listener: listener.to_owned(),
            backend: backend.to_owned(),
        };
        let bytes = |direction: &str| {
            metrics.tcp_bytes.get_or_create_owned(&BytesLabels {
                listener: listener.to_owned(),
                backend: backend.to_owned(),
                direction: direction.to_owned(),
            })
        };
        Self {
            accepted: metrics.tcp_accepted.get_or_create_owned(&labels),
            active: metrics.tcp_active.get_or_create_owned(&labels),
            bytes_up: bytes("upstream"),
            bytes_down: bytes("downstream"),
            sessions_created: metrics.udp_sessions_created.get_or_create_owned(&labels),
        }
    }
}
