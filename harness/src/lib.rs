//! gwl4's engine: suites, the runner, cluster backends and traffic drivers.
//!
//! # Layout
//!
//! (filled in as the crate grows)
