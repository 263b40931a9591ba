//! gwl4's reference gateway: a Gateway API layer-4 gateway (TCPRoute,
//! UDPRoute) that passes every gwl4 test.
//!
//! # Layout
//!
//! - [`config`]: the data-plane configuration, the output of translation and
//!   the input of the data plane (Listener → Route → Backend → Endpoint).
//! - [`admin`]: the admin HTTP API (`/healthz`, `/readyz`, `/status`,
//!   `/metrics`).
//! - [`cli`]: the command line (`standalone`, `kube`), shared with gwl4.
//! - [`fault`]: deliberate bugs (`standalone --fault NAME`) that mirror
//!   real implementations' bugs, for gwl4's self-test; off by default.
//! - [`variant`]: allowed variations (`standalone --variant NAME`):
//!   behaviours the spec allows other than the default, for gwl4's
//!   self-test to show the catalog passes them; off by default.
//! - [`dataplane`]: the TCP and UDP proxy that serves a `Config`, swaps
//!   configs atomically and reports the listeners it could not bind.
//! - [`model`]: the translation's input, a `Snapshot` of Gateway API and
//!   Kubernetes objects, and the strict multi-document YAML parser.
//! - [`translate`]: the pure translation, `Snapshot` → config + statuses.
//! - [`provider`]: where objects come from and status goes; `file` is the
//!   standalone contract (config directory in, status directory out);
//!   `kube` the Kubernetes controller (watchers in, status subresource out).
//! - [`status`]: status documents (one per owned object, `kubectl get -o
//!   yaml`-shaped), condition reasons, and `stamp` for lastTransitionTime.
pub mod admin;
pub mod cli;
pub mod config;
pub mod dataplane;
pub mod fault;
pub mod model;
pub mod provider;
pub mod status;
pub mod translate;
pub mod variant;
