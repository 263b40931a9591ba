//! The `gwl4` command.
fn main() {}
