//! gwl4 against a gateway whose status files are hostile (issue #24): not
//! YAML, another object's document (and files for objects that do not
//! exist), 100 MB, Accepted flipping every 50 ms, rewritten in place so a
//! reader sees half a file. Each mode must end within a stated bound, with
//! no panic, a failure naming the cause (or, for the torn rewrite, which
//! gwl4 tolerates, a pass), and nothing left behind.
//!
//! The first three run the catalog's `TCPRouteLargeTransferIntegrity`,
//! whose first step asserts its Gateway's status. The flip and the torn
//! rewrite need a step the catalog does not have: one that keeps reading
//! the status for a window and must never see Accepted=False (a catalog
//! assert passes at the first good read, which proves nothing about a
//! status that changes every 50 ms); they run a one-test suite of their
//! own with that `assertNever`.
//!
//! The modes share this file because each test file is its own test binary
//! (~100 MB linked); they differ only in the mode and the verdict.

mod common;

use std::time::Duration;

use common::{HostileRun, run_hostile_catalog, run_hostile_suite};

/// Every status wait is 4 s, so a failing assert ends quickly; the bound
/// leaves room for a loaded machine.
const TIMEOUTS: &str = "GatewayMustHaveCondition:4;GatewayMustHaveAddress:4;TCPRouteMustHaveCondition:4;GWCMustBeAccepted:4;RequestTimeout:2;MaxTimeToConsistency:4";
const BOUND: Duration = Duration::from_secs(90);

/// The catalog test the status modes run, and its Gateway's status file.
const CATALOG_TEST: &str = "TCPRouteLargeTransferIntegrity";
const GATEWAY_FILE: &str = "tcp-integrity-gw.yaml";

/// Runs [`CATALOG_TEST`] against `--mode <mode>`: it must fail.
fn run_catalog(mode: &str) -> HostileRun {
    let r = run_hostile_catalog(mode, "", CATALOG_TEST, TIMEOUTS, BOUND);
    assert_eq!(r.code, Some(1), "{}", r.all);
    assert!(
        r.all
            .contains(&format!("FAILED   {CATALOG_TEST}: step 1 (assert")),
        "{}",
        r.all
    );
    r
}

/// Runs the one-test suite `name` (assert the Gateway, maybe `more` steps,
/// then TCP through it) against `--mode <mode>`.
fn run(mode: &str, name: &str, more: &str) -> HostileRun {
    run_hostile_suite(mode, name, more, TIMEOUTS, BOUND)
}

#[test]
fn a_status_file_that_is_not_yaml_is_named() {
    let r = run_catalog("status-not-yaml");
    assert!(
        r.all.contains(&format!(
            "{GATEWAY_FILE}: the gateway's status file is not a YAML status document"
        )),
        "{}",
        r.all
    );
}

#[test]
fn a_status_file_about_another_object_is_named() {
    let r = run_catalog("status-wrong-kind");
    assert!(
        r.all.contains("is for kind \"TCPRoute\", not Gateway"),
        "{}",
        r.all
    );
}

#[test]
fn a_100_mb_status_file_is_not_read_and_is_named() {
    let r = run_catalog("status-huge");
    assert!(
        r.all
            .contains("the gateway wrote a status file larger than the 1024 KiB gwl4 reads"),
        "{}",
        r.all
    );
}

#[test]
fn a_flipping_accepted_condition_fails_honestly() {
    // The assert may catch a True moment and pass; Accepted must then not
    // be seen False, which a flipping status is within 50 ms.
    let r = run(
        "status-flip",
        "ZzStatusFlip",
        "  - assertNever: {kind: Gateway, name: zzstatusflip-gw, conditions: [Accepted=False], within: 2s}\n",
    );
    assert_eq!(r.code, Some(1), "{}", r.all);
    assert!(
        r.all
            .contains("zzstatusflip-gw matched, which must not happen"),
        "{}",
        r.all
    );
}

#[test]
fn a_status_file_rewritten_in_place_is_reread_not_fatal() {
    // Many reads of a file torn every 60 ms: each torn read is read again.
    let r = run(
        "status-torn",
        "ZzStatusTorn",
        "  - assertNever: {kind: Gateway, name: zzstatustorn-gw, conditions: [Accepted=False], within: 3s}\n",
    );
    assert_eq!(r.code, Some(0), "{}", r.all);
    assert!(!r.all.contains("status document"), "{}", r.all);
    assert!(r.assert_targets_free() > 0, "no traffic target:\n{}", r.all);
}
