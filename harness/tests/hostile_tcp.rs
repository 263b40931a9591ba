//! gwl4 against a gateway whose TCP listeners are hostile (issue #24):
//! accepts and never reads, reads and never answers, answers one byte per
//! second, answers with 100 MB of garbage, resets in the middle of a reply.
//! Each runs the catalog's TCP integrity tests (`--strict`, so their
//! recommended level fails the run) and must end within a stated bound,
//! with no panic, a failure naming the cause, no process, run directory or
//! listener left behind.
//!
//! The modes share this file because each test file is its own test binary
//! (~100 MB linked); they differ only in the mode and the verdict.

mod common;

use std::time::Duration;

use common::{HostileRun, run_hostile_catalog_test};

/// Short probe deadlines so a one-byte-per-second gateway costs seconds:
/// a probe of 1 MiB then ends within 2 s + 4 s (RequestTimeout plus 1 s per
/// 256 KiB). The bound leaves room for a loaded machine.
const TIMEOUTS: &str = "RequestTimeout:2;MaxTimeToConsistency:4";
const BOUND: Duration = Duration::from_secs(90);

/// Runs the catalog test `test` against `--mode <mode>` and checks the
/// common verdict: exit 1, the test failed, nothing left.
fn run(mode: &str, test: &str) -> HostileRun {
    let r = run_hostile_catalog_test(mode, test, TIMEOUTS, BOUND);
    assert_eq!(r.code, Some(1), "{}", r.all);
    assert!(r.all.contains(&format!("FAILED   {test}")), "{}", r.all);
    r
}

#[test]
fn a_gateway_that_accepts_and_never_reads_times_out() {
    let r = run("tcp-silent", "TCPRouteLargeTransferIntegrity");
    assert!(r.all.contains("timeout ("), "{}", r.all);
    assert!(r.all.contains("no read progress within 2s"), "{}", r.all);
}

#[test]
fn a_gateway_that_reads_and_never_answers_times_out() {
    let r = run("tcp-no-answer", "TCPRouteLargeTransferIntegrity");
    assert!(r.all.contains("no read progress within 2s"), "{}", r.all);
}

#[test]
fn a_gateway_answering_one_byte_per_second_is_cut_off() {
    let r = run("tcp-drip", "TCPRouteLargeTransferIntegrity");
    assert!(
        r.all
            .contains("the exchange of 1048576 bytes did not finish within 6.0s"),
        "{}",
        r.all
    );
    assert!(r.all.contains("the reply came too slowly"), "{}", r.all);
}

#[test]
fn a_gateway_answering_100_mb_of_garbage_is_a_mismatch_read_bounded() {
    let r = run("tcp-garbage", "TCPRouteLargeTransferIntegrity");
    assert!(
        r.all.contains("byte 0 differs: sent 0x00, got 0xa5"),
        "{}",
        r.all
    );
    // A stream probe stops reading once more came back than was sent.
    let r = run("tcp-garbage", "TCPRouteHalfClose");
    assert!(
        r.all.contains("got more back (stopped reading at"),
        "{}",
        r.all
    );
}

#[test]
fn a_gateway_resetting_mid_reply_is_a_reset() {
    let r = run("tcp-reset", "TCPRouteLargeTransferIntegrity");
    // Whichever side of the probe saw it first (ECONNRESET or EPIPE).
    assert!(r.all.contains("last probe: reset ("), "{}", r.all);
}
