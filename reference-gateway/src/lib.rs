//! gwl4's reference gateway: a Gateway API layer-4 gateway (TCPRoute,
//! UDPRoute) that passes every gwl4 test.
//!
//! # Layout
//!
//! - [`config`]: the data-plane configuration, the output of translation and
//!   the input of the data plane (Listener → Route → Backend → Endpoint).
//! - [`model`]: the translation's input, a `Snapshot` of Gateway API and
//!   Kubernetes objects, and the strict multi-document YAML parser.
//! - [`translate`]: the pure translation, `Snapshot` → config + statuses.
//! - [`status`]: status documents (one per owned object, `kubectl get -o
//!   yaml`-shaped), condition reasons, and `stamp` for lastTransitionTime.
pub mod config;
pub mod model;
pub mod status;
pub mod translate;
