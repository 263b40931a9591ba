//! Providers: where the gateway's Gateway API objects come from and where
//! their status goes.
//!
//! - [`file`](mod@file): the standalone contract (a config directory of YAML in, a
//!   status directory of YAML out), used by gwl4's local mode.
//! - [`kube`](mod@kube): the Kubernetes controller (watchers in, the status
//!   subresource out).

pub mod file;
pub mod kube;
mod status_files;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::config::{ListenerKey, Protocol};
use crate::dataplane::DataPlane;
use crate::fault::FaultState;
use crate::model::Snapshot;
use crate::translate::Translation;

/// Label of the reload counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `ok` or `error` (the config did not parse; the old one stays).
    pub result: String,
}

/// Reload count and duration.
#[derive(Debug, Clone)]
pub struct ReloadMetrics {
    /// Reloads, by result.
    pub reloads: Family<ResultLabels, Counter>,
    /// Seconds from reading the files to status written.
    pub duration: Histogram,
}

impl Default for ReloadMetrics {
    fn default() -> Self {
        Self {
            reloads: Family::default(),
            duration: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
        }
    }
}

impl ReloadMetrics {
    /// Registers both metrics in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register("reloads", "Config reloads, by result", self.reloads.clone());
        registry.register(
            "reload_duration_seconds",
            "Time to read, translate and apply a config and write its status",
            self.duration.clone(),
        );
    }

    pub(crate) fn count(&self, result: &str) {
        self.reloads
            .get_or_create(&ResultLabels {
                result: result.to_owned(),
            })
            .inc();
    }
}

/// Translates and applies, feeding bind failures back: listeners the data
/// plane cannot bind go into `snapshot.failed_binds` and the snapshot is
/// translated again, so they get `PortUnavailable` and are left out of the
/// config. Returns the final translation and the failures by socket.
/// `faults` are the self-test's deliberate bugs (none: `FaultState::default()`).
pub(crate) fn translate_and_apply(
    data_plane: &Arc<DataPlane>,
    mut snapshot: Snapshot,
    faults: &FaultState,
) -> (Translation, BTreeMap<String, String>) {
    let mut failures = BTreeMap::new();
    // Each round either binds everything or adds failures; a handful of
    // rounds is plenty (every failing key is added once).
    for _ in 0..8 {
        let translation = faults.translate(&snapshot);
        let failed = faults.apply(data_plane, &translation.config);
        if failed.is_empty() {
            return (translation, failures);
        }
        for (key, error) in failed {
            failures.insert(socket_name(&key), error);
            snapshot.failed_binds.insert(key);
        }
    }
    let translation = faults.translate(&snapshot);
    let _ = faults.apply(data_plane, &translation.config);
    (translation, failures)
}

/// The current time in whole seconds (metav1.Time's precision), for
/// `lastTransitionTime`.
pub(crate) fn now() -> Time {
    Time(Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now()))
}

/// `127.0.1.2:9000/TCP`.
pub(crate) fn socket_name(key: &ListenerKey) -> String {
    let protocol = match key.protocol {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    };
    format!("{}/{protocol}", SocketAddr::new(key.address, key.port))
}
