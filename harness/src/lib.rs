//! gwl4's engine: suites, the runner, cluster backends and traffic drivers.
//!
//! # Layout
//!
//! - [`suite`]: the test file format (header + steps + manifests), strict
//!   parsing, and the catalog embedded in the binary.
//! - [`traffic`]: TCP/UDP probes against echo servers, each ending in one
//!   `Outcome` with evidence, and a bounded-concurrency sampler.
//! - [`settings`]: timeouts (upstream's TimeoutConfig) and feature selection.
//! - [`cluster`]: where tests' objects live: the [`cluster::World`] trait,
//!   the local backend (processes on loopback, no Kubernetes) and the kube
//!   backend (a cluster from the kubeconfig; with `--workloads local`, echo
//!   replicas in network namespaces beside an API server with no nodes).
//! - [`run`]: the runner and the steps' executors.
//! - [`cli`] and [`app`]: the command line and a whole run; [`compare`]: `gwl4 compare`.
//! - [`selftest`]: `gwl4 self-test`, the catalog against the reference
//!   gateway with each deliberate fault.
//! - [`exit`]: exit codes.
//! - [`doctor`]: `gwl4 doctor`, preflight for a cluster.
//! - [`report_log`]: the reports in a log (`--report-log`) and back out of
//!   it (`gwl4 fetch-report`), for runs in a Kubernetes Job.
//! - [`bench`]: `gwl4 bench`, a gateway measured against its backend directly.
pub mod app;
pub mod bench;
pub mod cli;
pub mod cluster;
pub mod compare;
pub mod doctor;
pub mod exit;
pub mod report_log;
pub mod run;
pub mod selftest;
pub mod settings;
pub mod suite;
pub mod traffic;
