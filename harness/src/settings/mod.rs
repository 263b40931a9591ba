//! Run settings: timeouts, feature selection.

pub mod features;
pub mod timeout;
