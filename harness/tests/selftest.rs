//! `gwl4 self-test` end to end: the clean reference gateway passes every
//! test the self-test runs (strict), every deliberate fault is caught by
//! the test written for it, and every allowed variation passes. All 16
//! faults and 6 variations run in one invocation, one gwl4 run after
//! another (local mode gives every gwl4 process the same loopback
//! addresses, so runs cannot overlap); each runs against the few tests it
//! touches, so this takes a few minutes.

mod common;

use common::{processes_of, run_in, text};

/// The expected catcher of every fault: the self-test must report each
/// fault caught by exactly this test (among any others).
const EXPECTED: &[(&str, &str)] = &[
    ("weights-ignored", "TCPRouteWeightedRouting"),
    ("per-endpoint-weight", "TCPRouteWeightsWithUnequalReplicas"),
    ("zero-weight-leak", "TCPRouteWeightedRouting"),
    ("udp-per-packet", "UDPRouteFlowAffinity"),
    (
        "udp-reply-from-backend-socket",
        "UDPRouteReplyFromGatewayAddress",
    ),
    (
        "invalid-share-redistributed",
        "TCPRouteInvalidBackendShareIsRejected",
    ),
    (
        "grant-revocation-ignored",
        "TCPRouteReferenceGrantRevokedStopsTraffic",
    ),
    ("newest-route-wins", "TCPRouteMultipleRoutesAttachment"),
    (
        "section-name-ignored",
        "TCPRouteParentRefPortAndSectionName",
    ),
    ("status-without-listener", "UDPRoute"),
    ("stale-observed-generation", "GatewayObservedGenerationBump"),
    (
        "attached-routes-miscount",
        "UDPRouteParentRefAttachAllListeners",
    ),
    (
        "cross-namespace-without-grant",
        "TCPRouteInvalidCrossNamespaceBackendRef",
    ),
    ("grant-scope-ignored", "TCPRouteReferenceGrantScope"),
    (
        "route-deletion-keeps-traffic",
        "TCPRouteDeletionStopsNewConnections",
    ),
    ("slow-convergence", "TCPRouteWeightChangeConverges"),
];

/// Every allowed variation, and what its run must show beyond passing.
const VARIANTS: &[(&str, Option<&str>)] = &[
    ("multi-rule-rejected", None),
    ("tcp-udp-same-port-refused", None),
    ("weighted-round-robin", None),
    ("reject-by-accept-close", Some("closedWithoutReply")),
    ("udp-loss", Some("resent after loss")),
    ("udp-session-cap", Some("session limit")),
];

#[test]
fn the_clean_gateway_passes_and_every_fault_is_caught_by_its_catcher() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["self-test", "--report-dir", "reports"]);
    let all = text(&out);
    let json = std::fs::read_to_string(dir.path().join("reports/selftest.json"))
        .unwrap_or_else(|e| panic!("no selftest.json ({e}):\n{all}"));
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();

    let clean = &report["clean"];
    assert!(
        clean["testsRun"].as_u64().unwrap() >= EXPECTED.len() as u64,
        "the clean run ran too few tests: {clean}\n{all}"
    );
    assert_eq!(
        clean["failed"].as_array().unwrap().len(),
        0,
        "the clean gateway failed tests: {clean}\n{all}"
    );

    let rows = report["faults"].as_array().unwrap();
    assert_eq!(rows.len(), EXPECTED.len(), "{all}");
    for (fault, catcher) in EXPECTED {
        let row = rows
            .iter()
            .find(|r| r["fault"] == *fault)
            .unwrap_or_else(|| panic!("no row for {fault}:\n{all}"));
        assert_eq!(row["expectedCatcher"], *catcher, "{fault}");
        let caught_by: Vec<&str> = row["run"]["failed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert!(
            caught_by.contains(catcher),
            "fault {fault} was not caught by {catcher} (caught by {caught_by:?}):\n{all}"
        );
        assert_eq!(row["caughtByExpected"], true, "{fault}");
    }
    let variants = report["variants"].as_array().unwrap();
    assert_eq!(variants.len(), VARIANTS.len(), "{all}");
    for (variant, shows) in VARIANTS {
        let row = variants
            .iter()
            .find(|r| r["variant"] == *variant)
            .unwrap_or_else(|| panic!("no row for {variant}:\n{all}"));
        assert_eq!(
            row["passed"], true,
            "variation {variant} failed: {row}\n{all}"
        );
        assert_eq!(row["run"]["exitCode"], 0, "{variant}: {row}");
        assert!(row["run"]["testsRun"].as_u64().unwrap() > 0, "{variant}");
        if let Some(text) = shows {
            assert!(
                row["shows"].as_str().unwrap().contains(text),
                "{variant} should show {text}: {row}"
            );
        }
    }
    assert_eq!(report["passed"], true, "{all}");
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("self-test passed"), "{all}");

    // The HTML page is self-contained and names every fault.
    let html = std::fs::read_to_string(dir.path().join("reports/selftest.html")).unwrap();
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
    for (fault, _) in EXPECTED {
        assert!(html.contains(fault), "{fault} missing from the HTML page");
    }
    for (variant, _) in VARIANTS {
        assert!(
            html.contains(variant),
            "{variant} missing from the HTML page"
        );
    }
    // Each run kept its own reports.
    assert!(
        dir.path()
            .join("reports/selftest/clean/report.json")
            .exists()
    );
    assert!(
        dir.path()
            .join("reports/selftest/udp-per-packet/report.json")
            .exists()
    );
    assert!(processes_of(dir.path()).is_empty(), "processes left behind");
}

#[test]
fn an_unknown_fault_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["self-test", "--faults", "no-such-fault"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
