//! reference-gateway
//!
//! # Layout
//!
//! (filled in as the crate grows)
