//! Providers: where the gateway's Gateway API objects come from and where
//! their status goes.
//!
//! - [`file`](mod@file): the standalone contract (a config directory of YAML in, a
//!   status directory of YAML out), used by gwl4's local mode.

pub mod file;
mod status_files;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

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
