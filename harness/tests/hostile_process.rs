//! gwl4 against a gateway process that misbehaves (issue #24): exits at
//! start, exits in the middle of a test, ignores SIGTERM, forks a child that
//! keeps a listener open after the gateway is gone. Each runs the catalog's
//! `TCPRouteLargeTransferIntegrity` and ends within a stated bound, with no
//! panic, the cause named (a failure, or for the stop-time modes a line on
//! stderr), and no process, run directory or listener left behind: gwl4
//! signals the gateway's whole process group, SIGTERM then SIGKILL after a
//! 3 s grace.
//!
//! The modes share this file because each test file is its own test binary
//! (~100 MB linked); they differ only in the mode and the verdict.

mod common;

use std::time::Duration;

use common::{HostileRun, run_hostile_catalog, tcp_listeners};

const TIMEOUTS: &str =
    "GatewayMustHaveCondition:4;GatewayMustHaveAddress:4;RequestTimeout:2;MaxTimeToConsistency:4";
const BOUND: Duration = Duration::from_secs(90);

/// The catalog test every mode runs: status asserts, then 1 MiB echoed on
/// each of 5 connections (after the probes that settle the route).
const TEST: &str = "TCPRouteLargeTransferIntegrity";

/// Runs [`TEST`] against `--mode <mode> <gateway_args>`.
fn run(mode: &str, gateway_args: &str) -> HostileRun {
    run_hostile_catalog(mode, gateway_args, TEST, TIMEOUTS, BOUND)
}

#[test]
fn a_gateway_that_exits_at_start_is_a_setup_error_naming_it() {
    let r = run("exit-at-start", "");
    assert_eq!(r.code, Some(2), "{}", r.all);
    assert!(r.all.contains("the gateway exited at start"), "{}", r.all);
    // Its log is quoted.
    assert!(r.all.contains("exiting at start, as asked"), "{}", r.all);
}

#[test]
fn a_gateway_that_exits_mid_test_is_named_as_the_cause() {
    // It exits when its third connection arrives: while gwl4 settles the
    // route or sends the test's traffic.
    let r = run("exit-mid-test", "");
    assert_eq!(r.code, Some(1), "{}", r.all);
    assert!(
        r.all.contains(&format!("FAILED   {TEST}: step 3 (tcp")),
        "{}",
        r.all
    );
    assert!(
        r.all.contains("the gateway process exited with status 4"),
        "{}",
        r.all
    );
    assert!(r.all.contains("exiting mid-test, as asked"), "{}", r.all);
}

#[test]
fn a_gateway_that_ignores_sigterm_is_killed_after_the_grace() {
    let r = run("ignore-sigterm", "");
    // The test itself passes: stopping is after it.
    assert_eq!(r.code, Some(0), "{}", r.all);
    assert!(
        r.all.contains("the gateway (pid ")
            && r.all.contains(
                ") did not exit within 3s of SIGTERM; killed its process group with SIGKILL"
            ),
        "{}",
        r.all
    );
    // The grace was given (a lower bound only).
    assert!(r.took >= Duration::from_secs(3), "{:?}", r.took);
    assert!(r.assert_targets_free() > 0, "no traffic target:\n{}", r.all);
}

#[test]
fn a_forked_child_keeping_a_listener_is_killed_with_the_gateway() {
    // A port of our own, free before the run.
    let port = (41_000..49_000)
        .map(|p| p + (std::process::id() % 7_000) as u16)
        .find(|p| tcp_listeners(*p).is_empty())
        .unwrap();
    let r = run("fork-listener", &format!("--port {port}"));
    assert_eq!(r.code, Some(0), "{}", r.all);
    // The child was there, outlived the gateway, and was killed.
    assert!(
        r.all
            .contains("SIGTERM, outliving it; killed them with SIGKILL"),
        "{}",
        r.all
    );
    assert!(
        tcp_listeners(port).is_empty(),
        "port {port} still listened on: {:?}",
        tcp_listeners(port)
    );
    assert!(r.assert_targets_free() > 0, "no traffic target:\n{}", r.all);
}
