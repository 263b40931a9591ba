//! gwl4 against a gateway process that misbehaves (issue #24): exits at
//! start, exits in the middle of a test, ignores SIGTERM, forks a child that
//! keeps a listener open after the gateway is gone. Each run ends within a
//! stated bound, with no panic, the cause named (a failure, or for the
//! stop-time modes a line on stderr), and no process, run directory or
//! listener left behind: gwl4 signals the gateway's whole process group,
//! SIGTERM then SIGKILL after a 3 s grace.
//!
//! The modes share this file because each test file is its own test binary
//! (~100 MB linked); they differ only in the mode and the verdict.

mod common;

use std::time::Duration;

use common::{HostileRun, run_hostile_suite, tcp_listeners};

const TIMEOUTS: &str =
    "GatewayMustHaveCondition:4;GatewayMustHaveAddress:4;RequestTimeout:2;MaxTimeToConsistency:4";
const BOUND: Duration = Duration::from_secs(90);

/// Runs the one-test suite `name` (assert the Gateway, `more` steps, then
/// TCP through it) against `--mode <mode> <gateway_args>`.
fn run(mode: &str, gateway_args: &str, name: &str, more: &str) -> HostileRun {
    run_hostile_suite(mode, gateway_args, name, more, TIMEOUTS, BOUND)
}

#[test]
fn a_gateway_that_exits_at_start_is_a_setup_error_naming_it() {
    let r = run("exit-at-start", "", "ZzExitAtStart", "");
    assert_eq!(r.code, Some(2), "{}", r.all);
    assert!(r.all.contains("the gateway exited at start"), "{}", r.all);
    // Its log is quoted.
    assert!(r.all.contains("exiting at start, as asked"), "{}", r.all);
}

#[test]
fn a_gateway_that_exits_mid_test_is_named_as_the_cause() {
    let r = run(
        "exit-mid-test",
        "",
        "ZzExitMidTest",
        "  - wait: {duration: 3s, reason: the gateway exits meanwhile}\n",
    );
    assert_eq!(r.code, Some(1), "{}", r.all);
    assert!(
        r.all.contains("the gateway process exited with status 4"),
        "{}",
        r.all
    );
    assert!(r.all.contains("exiting mid-test, as asked"), "{}", r.all);
}

#[test]
fn a_gateway_that_ignores_sigterm_is_killed_after_the_grace() {
    let r = run("ignore-sigterm", "", "ZzIgnoreSigterm", "");
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
    let r = run(
        "fork-listener",
        &format!("--port {port}"),
        "ZzForkListener",
        "",
    );
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
