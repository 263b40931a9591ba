//! The whole catalog passes against the reference gateway in local mode,
//! `--strict`: every must, should and recommendation holds (the README's
//! `cargo run`, with warnings as failures), and the reports say so.

mod common;

use common::{processes_of, run_in, text};

#[test]
fn the_whole_catalog_passes_strict_against_the_reference_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["--strict"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains(" 0 failed, 0 warnings"), "{all}");
    let record = reports::read_json(&dir.path().join("gwl4-reports/report.json")).unwrap();
    let catalog = harness::suite::load::builtin().unwrap();
    assert_eq!(record.tests.len(), catalog.len());
    let not_passed: Vec<String> = record
        .tests
        .iter()
        .filter(|t| t.kind() != reports::ResultKind::Passed)
        .map(|t| format!("{}: {}", t.info.name, t.result_message()))
        .collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}");
    // Every test and every step carries its level; every test its spec.
    assert!(record.tests.iter().all(|t| !t.info.spec.is_empty()));
    assert!(processes_of(dir.path()).is_empty());
}
