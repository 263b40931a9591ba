//! A team's own test, passed with `--suite-dir`, runs beside the catalog
//! and passes against the reference gateway; `gwl4 compare` then sets two
//! runs' report.json side by side.

mod common;

use common::{gwl4, run_in, text};

/// A user's test in the suite format: one backend, status then traffic.
const USER_TEST: &str = r#"name: TeamEchoThroughPort7000
description: Our TCP listener on 7000 reaches the echo backend.
level: must
spec: [{level: must, source: "apis/v1/shared_types.go RouteParentStatus", quote: "The status of the route for one parent."}]
features: [Gateway, TCPRoute]
namespace: team-a
steps:
  - assert: {kind: Gateway, name: edge, conditions: [Accepted, Programmed], hasAddress: true}
  - assert: {kind: TCPRoute, name: echo, parent: edge, conditions: [Accepted, ResolvedRefs]}
  - tcp: {gateway: edge, listener: tcp, connections: 20, expect: {backend: echo, namespace: team-a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners: [{name: tcp, protocol: TCP, port: 7000}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: echo}
spec:
  parentRefs: [{name: edge}]
  rules: [{backendRefs: [{name: echo, port: 8080}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      containers:
        - name: echo
          image: "{ECHO_IMAGE}"
          args: ["--tcp-port", "3000", "--no-udp"]
          env:
            - {name: SERVICE_NAME, value: echo}
            - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{name: tcp, port: 8080, targetPort: 3000, protocol: TCP}]
"#;

#[test]
fn a_suite_dir_test_passes_and_runs_can_be_compared() {
    let dir = tempfile::tempdir().unwrap();
    let suites = dir.path().join("team-tests");
    std::fs::create_dir_all(&suites).unwrap();
    std::fs::write(suites.join("TeamEchoThroughPort7000.yaml"), USER_TEST).unwrap();
    let suite_dir = suites.to_str().unwrap();

    let list = run_in(dir.path(), &["--suite-dir", suite_dir, "--list"]);
    assert!(
        text(&list).contains("[must Gateway,TCPRoute] TeamEchoThroughPort7000: test"),
        "{}",
        text(&list)
    );

    let out = run_in(
        dir.path(),
        &[
            "--suite-dir",
            suite_dir,
            "--report-dir",
            "run-a",
            "--exact",
            "TeamEchoThroughPort7000",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("1 passed, 0 failed"), "{}", text(&out));
    let out = run_in(
        dir.path(),
        &[
            "--report-dir",
            "run-b",
            "--exact",
            "TCPRouteParentRefAttachAll",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let cmp = gwl4()
        .current_dir(dir.path())
        .args([
            "compare",
            "team=run-a/report.json",
            "catalog=run-b/report.json",
            "-o",
            "compare.html",
        ])
        .output()
        .unwrap();
    assert!(cmp.status.success(), "{}", text(&cmp));
    let html = std::fs::read_to_string(dir.path().join("compare.html")).unwrap();
    for needle in [
        "TeamEchoThroughPort7000",
        "TCPRouteParentRefAttachAll",
        "team",
        "catalog",
    ] {
        assert!(html.contains(needle), "compare page lacks {needle}");
    }

    let bad = gwl4()
        .current_dir(dir.path())
        .args(["compare", "missing/report.json"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
}
