//! TCP/UDP echo backend that reports who it is.
//!
//! gwl4 puts one of these behind every backendRef, so a client on the far
//! side of a gateway can tell which backend (and which replica) answered and
//! what client address the backend saw.
//!
//! # Layout
//!
//! - [`protocol`]: the wire format shared with the harness's traffic drivers
//!   (the identity reply, command words, limits).

pub mod protocol;
