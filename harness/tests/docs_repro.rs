//! The reproductions of the peers' findings (`docs/repro/`, cited by
//! `docs/peers.md`) stay valid suites: each parses, is listed, and names a
//! test of its own beside the catalog's.

mod common;

use common::{gwl4, text};

#[test]
fn every_reproduction_in_docs_repro_is_a_valid_suite() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/repro");
    let files = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .count();
    assert!(files > 0, "no reproductions in {dir}");
    let out = gwl4()
        .args(["--suite-dir", dir, "--list", "Repro"])
        .output()
        .unwrap();
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    let listed = shown.lines().filter(|l| l.contains("] Repro")).count();
    assert_eq!(listed, files, "one test per file, each listed: {shown}");
}
