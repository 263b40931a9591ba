//! Shared mutation strategies for the parsers' fuzz tests across crates.
//!
//! # Layout
//!
//! The harness (suite files, manifests, status files) and the reference
//! gateway (its config directory) fuzz parsers of the same kinds of input:
//! YAML text, and the objects in it. Test files of two crates cannot share
//! a module, so the generic parts of their fuzzers live here, in a dev-only
//! crate (`publish = false`, only ever a dev-dependency):
//!
//! - [`bounded`](mod@bounded): the per-case time bound (a hang fails the case).
//! - [`lines`]: line edits of YAML text, and the generic odd scalars and
//!   lines they paste in; each test adds its own domain's to those.
//! - [`objects`]: edits of a JSON value's nodes; each test chooses which
//!   edits, how often, and the odd values they write.
//!
//! What each test checks, and its case counts, stay in the test file.

pub mod bounded;
pub mod lines;
pub mod objects;

pub use bounded::bounded;
pub use lines::{LineEdit, ODD_SCALARS, apply_line_edit, line_edit, odd_lines};
pub use objects::{ObjectEdit, apply_object_edit};
