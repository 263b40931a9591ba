//! stats
//!
//! # Layout
//!
//! (filled in as the crate grows)
