//! gwl4's reference gateway: a Gateway API layer-4 gateway (TCPRoute,
//! UDPRoute) that passes every gwl4 test.
//!
//! # Layout
//!
//! - [`config`]: the data-plane configuration, the output of translation and
//!   the input of the data plane (Listener → Route → Backend → Endpoint).
pub mod config;
