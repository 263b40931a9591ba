//! `--gateway-command` against deliberately non-conforming gateways: gwl4
//! must fail them (exit 1) and name the failing tests. A harness that
//! cannot fail proves nothing.

mod common;

use common::{naive_gateway, processes_of, run_in, text};

#[test]
fn a_gateway_that_ignores_weights_fails_the_weighted_test() {
    let dir = tempfile::tempdir().unwrap();
    let gw = naive_gateway();
    let out = run_in(
        dir.path(),
        &[
            "--gateway-command",
            gw.to_str().unwrap(),
            "--exact",
            "TCPRouteWeightedRouting",
        ],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("FAILED   TCPRouteWeightedRouting"), "{all}");
    // The must: shares far outside the spec's tolerance, weight 0 included.
    assert!(
        all.contains("wholly outside its weight's 70.0% ± 5 points"),
        "{all}"
    );
    assert!(
        all.contains("weight-0 backend \"tcp-v3\" received"),
        "{all}"
    );
    // Reports were written and name the failure.
    let junit = std::fs::read_to_string(dir.path().join("gwl4-reports/junit.xml")).unwrap();
    assert!(
        junit.contains("TCPRouteWeightedRouting") && junit.contains("<failure"),
        "{junit}"
    );
    assert!(processes_of(dir.path()).is_empty());
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0,
        "run directory left behind"
    );
}

#[test]
fn a_gateway_that_never_writes_status_fails_every_test() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = format!("{} --no-status", naive_gateway().display());
    let out = run_in(
        dir.path(),
        &[
            "--gateway-command",
            &cmd,
            "--conformance-profiles",
            "GATEWAY-TCP",
            "--timeout-config-overrides",
            "GatewayMustHaveCondition:2;TCPRouteMustHaveCondition:2",
            "--exact",
            "TCPRouteWeightedRouting",
        ],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("FAILED   TCPRouteWeightedRouting: step 1 (assert, must:"),
        "{all}"
    );
    assert!(all.contains("(GatewayMustHaveCondition)"), "{all}");
    assert!(processes_of(dir.path()).is_empty());
}
