//! The HTML report of a real local-mode run, in headless Chromium: a row per
//! test, a chart per distribution step, failures first, nothing fetched,
//! nothing logged to the console; a screenshot is kept for people to look at.
//!
//! Needs Debian's `chromium` (CI installs it): without it the test passes with a
//! note, unless `CI=true` or `GWL4_REQUIRE_ALL=1`; `GWL4_SKIP_BROWSER=1` skips.

#[path = "../../reports/tests/browser_support/mod.rs"]
mod browser_support;
mod common;

use std::path::Path;

use browser_support::{chromium_for, console_lines, links, run_chromium};
use common::run_in;

/// A test that fails on purpose: a valid route never reports BackendNotFound.
const FAILING: &str = r#"name: ZzFailingRouting
description: A deliberately failing test, so the report has a failure to put first.
level: must
spec: [{level: must, source: "apis/v1/shared_types.go RouteParentStatus", quote: "The status of the route for one parent."}]
features: [Gateway, TCPRoute]
steps:
  - assert: {kind: TCPRoute, name: r, parent: gw, conditions: [ResolvedRefs=False/BackendNotFound]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners: [{name: tcp, protocol: TCP, port: 9000}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: b, port: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: b}
spec:
  ports: [{name: tcp, port: 8080, targetPort: 3000, protocol: TCP}]
"#;

#[test]
fn report_of_a_real_run_renders_in_chromium() {
    let Some(bin) = chromium_for("harness: report_of_a_real_run_renders_in_chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let suites = dir.path().join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    std::fs::write(suites.join("ZzFailingRouting.yaml"), FAILING).unwrap();
    // Both weighted-routing tests (a distribution chart each) and the failure.
    let out = run_in(
        dir.path(),
        &[
            "--suite-dir",
            suites.to_str().unwrap(),
            "--timeout-config-overrides",
            "TCPRouteMustHaveCondition:2",
            "Routing",
        ],
    );
    let all = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let page = dir.path().join("gwl4-reports/report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    for link in links(&html) {
        assert!(
            link.starts_with('#'),
            "the report links outside itself: {link}"
        );
    }

    let profile = dir.path().join("profile");
    let dom = run_chromium(&bin, &profile, &page, &["--dump-dom".into()]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    assert!(
        console_lines(&dom.stderr).is_empty(),
        "console output: {:?}",
        console_lines(&dom.stderr)
    );

    let rows: Vec<&str> = dom_text
        .split("<tr data-test=\"")
        .skip(1)
        .map(|r| &r[..r.find('"').unwrap()])
        .collect();
    assert_eq!(rows.len(), 3, "one summary row per test: {rows:?}");
    for t in [
        "TCPRouteWeightedRouting",
        "UDPRouteWeightedRouting",
        "ZzFailingRouting",
    ] {
        assert!(rows.contains(&t), "no row for {t}: {rows:?}");
    }
    let charts = dom_text
        .matches("<svg class=\"chart distribution\"")
        .count();
    assert_eq!(charts, 2, "one chart per distribution step");
    let sections: Vec<&str> = dom_text
        .split("<section class=\"test\" id=\"test-")
        .skip(1)
        .map(|r| &r[..r.find('"').unwrap()])
        .collect();
    assert_eq!(
        sections.first(),
        Some(&"ZzFailingRouting"),
        "failures first: {sections:?}"
    );
    let failures = &dom_text[dom_text.find("<section id=\"failures\"").unwrap()..];
    let failures = &failures[..failures.find("</section>").unwrap()];
    assert!(
        failures.contains("ZzFailingRouting"),
        "the failures list names the failing test"
    );

    let shot = dir.path().join("report.png");
    let out = run_chromium(
        &bin,
        &profile,
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".into(),
        ],
    );
    assert!(
        out.status.success() && shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-run-report.png");
    std::fs::copy(&shot, &keep).unwrap();
    eprintln!("screenshot of the report: {}", keep.display());
}
