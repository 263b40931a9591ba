//! One executor per step kind.

pub mod branch;
pub mod converge;
pub mod mutate;
pub mod probe;
pub mod settle;
pub mod split;
pub mod status;
pub mod traffic;
