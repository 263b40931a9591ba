//! gwl4 against a gateway whose UDP listeners are hostile (issue #24):
//! replies from a wrong source address, 100 replies to one datagram, a
//! 65,507-byte datagram in reply to every probe. UDP is lossy, so a lost
//! datagram is not a violation but a wrong reply is: a reply from the
//! wrong source or with the wrong content fails the test, named; duplicate
//! replies are skipped by nonce, never taken for a later probe's reply.
//! Each run ends within a stated bound, with no panic and nothing left.
//!
//! The modes share this file because each test file is its own test binary
//! (~100 MB linked); they differ only in the mode and the verdict.

mod common;

use std::time::Duration;

use common::{HostileRun, run_hostile_catalog_test};

const TIMEOUTS: &str = "RequestTimeout:2;MaxTimeToConsistency:4";
const BOUND: Duration = Duration::from_secs(90);

/// Runs the catalog test `test` (`--strict`) against `--mode <mode>`,
/// expecting exit `code` and nothing left.
fn run(mode: &str, test: &str, code: i32) -> HostileRun {
    let r = run_hostile_catalog_test(mode, test, TIMEOUTS, BOUND);
    assert_eq!(r.code, Some(code), "{}", r.all);
    r
}

#[test]
fn replies_from_a_wrong_source_are_wrong_replies() {
    for test in ["UDPRoute", "UDPRouteLargeDatagram"] {
        let r = run("udp-wrong-source", test, 1);
        assert!(r.all.contains(&format!("FAILED   {test}")), "{}", r.all);
        assert!(r.all.contains("mismatch"), "{}", r.all);
        assert!(r.all.contains(":5300: want ok"), "{}", r.all);
        // "reply came from <gateway>:<other port>, sent to <gateway>:5300"
        let from = r
            .all
            .split("reply came from ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap_or_else(|| panic!("no wrong source named:\n{}", r.all));
        assert!(!from.ends_with(":5300"), "{}", r.all);
    }
}

#[test]
fn a_hundred_replies_to_one_datagram_are_skipped_not_mistaken() {
    // Bursts of several datagrams per flow: every later probe of a flow
    // first meets 99+ copies of the earlier replies.
    for test in ["UDPRouteReplyFromGatewayAddress", "UDPRouteFlowAffinity"] {
        let r = run("udp-hundred", test, 0);
        let json = std::fs::read_to_string(r.dir.path().join("gwl4-reports/report.json")).unwrap();
        assert!(
            json.contains("late replies to earlier probes skipped"),
            "{test}: no duplicate was seen, so this proves nothing:\n{}",
            r.all
        );
    }
}

#[test]
fn a_65507_byte_reply_to_every_probe_is_a_mismatch() {
    let r = run("udp-jumbo", "UDPRoute", 1);
    assert!(
        r.all
            .contains("not an identity reply (expected value at line 1 column 1): \"JJJJ"),
        "{}",
        r.all
    );
    let r = run("udp-jumbo", "UDPRouteLargeDatagram", 1);
    assert!(r.all.contains("byte 0 differs"), "{}", r.all);
}
