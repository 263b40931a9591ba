//! Traffic drivers: TCP and UDP probes against echo servers, directly or
//! through a gateway, each ending in one [`Outcome`] with [`Evidence`].
//!
//! The runner's `tcp`, `udp`, `distribution`, `rejection` and `flowAffinity`
//! steps are built from these: a [`Tcp`] probe per connection, a
//! [`UdpFlow`] per source port, and [`sample`] to run many of either with
//! bounded concurrency.
//!
//! Failures of our own (no free port, too many open files) are an
//! [`Error`], never an outcome: they say nothing about the system under test.

pub mod late;
pub mod outcome;
pub mod sampler;
pub mod tcp;
pub mod udp;

pub use late::LateReplies;
pub use outcome::{Backend, Error, Evidence, Outcome, Probe, classify};
pub use sampler::{Sample, sample, sample_until};
pub use tcp::Tcp;
pub use udp::{Burst, UdpFlow, UdpOptions};
