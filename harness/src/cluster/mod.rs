//! Cluster backends: where a test's objects live and its gateway runs.
//!
//! A [`Cluster`] hands each test a [`World`]: apply, patch, delete and read
//! objects; the runner's steps talk only to that. `local` plays the API
//! server itself and runs the gateway and echo backends as processes;
//! `kube` talks to a real cluster from the kubeconfig.

pub mod kube;
pub mod local;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

/// Identifies one object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// Kind, e.g. `TCPRoute`.
    pub kind: String,
    /// Namespace; empty for cluster-scoped kinds.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// A key, dropping the namespace of cluster-scoped kinds.
    pub fn new(kind: &str, namespace: &str, name: &str) -> ObjectKey {
        let namespace = if is_cluster_scoped(kind) {
            String::new()
        } else {
            namespace.to_string()
        };
        ObjectKey {
            kind: kind.to_string(),
            namespace,
            name: name.to_string(),
        }
    }

    /// The key of a manifest, defaulting its namespace.
    pub fn of(value: &Value, default_namespace: &str) -> ObjectKey {
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let ns = value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(default_namespace);
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        ObjectKey::new(kind, ns, name)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Kinds without a namespace.
pub fn is_cluster_scoped(kind: &str) -> bool {
    matches!(kind, "Namespace" | "GatewayClass")
}

/// Why a cluster operation failed. Messages name the object and field.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The API (or local mode acting as it) rejected a manifest.
    #[error("{key}: {message}")]
    Rejected {
        /// The object.
        key: ObjectKey,
        /// The API's message, naming the field.
        message: String,
    },
    /// The object does not exist.
    #[error("{0}: not found")]
    NotFound(ObjectKey),
    /// Starting or talking to the gateway or a backend failed.
    #[error("{0}")]
    Setup(String),
    /// File system trouble in the run directory.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// A place tests run: hands each test its own [`World`].
pub trait Cluster: Send + Sync + 'static {
    /// A test's world.
    type World: World + 'static;
    /// Sets up a fresh world for the test `name` (local mode: directories,
    /// the GatewayClass and a running gateway).
    fn world(&self, name: &str) -> impl Future<Output = Result<Self::World, ClusterError>> + Send;
    /// The GatewayClass's `status.supportedFeatures` (names), waiting up to
    /// `timeout` for the class to be accepted; None if it lists none.
    fn class_features(
        &self,
        class: &str,
        timeout: std::time::Duration,
    ) -> impl Future<Output = Result<Option<Vec<String>>, ClusterError>> + Send;
    /// Why this cluster cannot hold a test's manifests at all (no served
    /// API version can express them), if so; the test is then skipped with
    /// this reason instead of failing on the API server's rejection.
    fn cannot_hold(&self, _manifests: &[Value]) -> Option<String> {
        None
    }
    /// The Gateway API bundle version and channel of the installed CRDs,
    /// where they say (local mode: None, the versions gwl4 is written for).
    fn gateway_api(&self) -> Option<(String, String)> {
        None
    }
}

/// One test's view of the cluster.
pub trait World: Send + Sync {
    /// Creates or updates objects; all are validated before any is applied.
    fn apply(&self, manifests: Vec<Value>)
    -> impl Future<Output = Result<(), ClusterError>> + Send;
    /// Applies a JSON merge patch to one object.
    fn patch(
        &self,
        key: &ObjectKey,
        patch: &Value,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send;
    /// Deletes one object.
    fn delete(&self, key: &ObjectKey) -> impl Future<Output = Result<(), ClusterError>> + Send;
    /// Reads one object with its status, or None if it does not exist.
    fn get(
        &self,
        key: &ObjectKey,
    ) -> impl Future<Output = Result<Option<Value>, ClusterError>> + Send;
    /// The controllerName route status entries must carry.
    fn controller_name(&self) -> Option<String>;
    /// Ready endpoints of a Service port as the backend itself is reached
    /// (for "is it the gateway or the backend?" diagnosis).
    fn service_endpoints(
        &self,
        namespace: &str,
        service: &str,
    ) -> impl Future<Output = Vec<SocketAddr>> + Send;
    /// Recent gateway logs and similar, for failure messages.
    fn diagnostics(&self) -> String;
    /// Resolves when the world's objects or status may have changed, or
    /// after `at_most`: status waits call it between reads. Local mode
    /// wakes on the gateway's status file writes, kube mode on its watches'
    /// events (polling where watches are refused); the default just sleeps.
    fn changed(&self, at_most: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(at_most)
    }
    /// The gateway's `/metrics` (Prometheus text), when it has an admin API.
    fn gateway_metrics(&self) -> impl Future<Output = Option<String>> + Send {
        async { None }
    }
    /// When gwl4 runs the gateway process itself (local mode) and it has
    /// exited: how (exit status or signal) and its last log lines. A test
    /// whose gateway died is failed for that, not for what followed.
    fn gateway_exit(&self) -> Option<String> {
        None
    }
    /// Removes everything the test created.
    fn cleanup(self) -> impl Future<Output = ()> + Send;
}
