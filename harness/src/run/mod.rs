//! The runner: turns each test into a libtest-mimic trial and runs its steps
//! against a cluster backend's world.

pub mod status_match;
