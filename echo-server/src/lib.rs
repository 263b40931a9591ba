//! TCP/UDP echo backend that reports who it is.
//!
//! gwl4 puts one of these behind every backendRef, so a client on the far
//! side of a gateway can tell which backend (and which replica) answered and
//! what client address the backend saw. The protocol is described in
//! [`protocol`] and in the README ("The echo server").
//!
//! Run it in-process with [`start`] (tests bind port 0 and read the bound
//! addresses from [`Running`]), or as a program with [`run_blocking`], which
//! both the `echo-server` binary and `gwl4 echo-server` call.
//!
//! # Layout
//!
//! - [`protocol`]: the wire format shared with the harness's traffic drivers
//!   (the identity reply, command parsing, limits).
//! - [`config`]: [`Identity`], [`Config`] and the command-line [`Args`].
//! - [`server`]: binding, [`start`], [`Running`] (graceful shutdown) and
//!   [`run_blocking`] (signals, ready line).
//! - [`tcp`]: the TCP accept loop and per-connection handler.
//! - [`udp`]: the UDP loop and the per-peer flow table behind `flowSeq`.

pub mod config;
pub mod protocol;
pub mod server;
pub mod tcp;
pub mod udp;

pub use config::{Args, Config, Identity};
pub use server::{Error, Running, run_blocking, start};
