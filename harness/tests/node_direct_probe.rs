//! When a traffic step fails against a real cluster, gwl4 probes the
//! expected backend directly, through a port-forward to its Pod (the
//! kubelet's streaming server and the runtime's port-forward, which only a
//! real node has), and says which side is at fault. On the node tier
//! (`tools/kube/with-node.sh`), with the in-cluster reference gateway that
//! node_catalog.rs installs: a user suite whose TCPRoute sends everything
//! to backend `probe-a` while the step expects `probe-b`, so the step
//! fails, and the diagnosis must reach `probe-b` through port-forward
//! (a local address) and blame the gateway.
//!
//! Run after node_catalog.rs in one `with-node.sh` (it relies on the
//! reference gateway that test installed, and installs it itself if it is
//! missing): `GWL4_IMAGE_BINARIES=target/debug tools/kube/with-node.sh --crds
//! standard cargo test -p harness --test node_catalog --test
//! node_direct_probe -- --ignored --nocapture`.

mod apiserver_support;
mod common;
mod node_support;

use common::text;

/// A suite with two echo backends and a route to the first; the step
/// expects the second.
const SUITE: &str = r#"name: NodeDirectProbe
description: A test of gwl4 itself; its traffic step cannot pass.
level: must
spec: [gep2644-basic-forwarding-core]
features: [Gateway, TCPRoute]
steps:
  - assert: {kind: TCPRoute, name: probe, parent: {name: probe-gw}, conditions: [Accepted]}
  - tcp: {gateway: probe-gw, listener: tcp, connections: 3, expect: {backend: probe-b}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: probe-gw
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
    - {name: tcp, protocol: TCP, port: 9400}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: probe
spec:
  parentRefs:
    - {name: probe-gw, sectionName: tcp}
  rules:
    - backendRefs:
        - {name: probe-a, port: 8080}
"#;

/// The Deployment and Service of echo backend `name`.
fn backend(name: &str) -> String {
    format!(
        r#"---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: echo
          image: "{{ECHO_IMAGE}}"
          args: ["--tcp-port", "3000", "--no-udp"]
          env:
            - {{name: SERVICE_NAME, value: {name}}}
            - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
            - {{name: POD_NAMESPACE, valueFrom: {{fieldRef: {{fieldPath: metadata.namespace}}}}}}
          ports: [{{name: tcp, containerPort: 3000, protocol: TCP}}]
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports: [{{name: tcp, port: 8080, targetPort: 3000, protocol: TCP}}]
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a node: tools/kube/with-node.sh --crds standard (run by .ci/run)"]
async fn a_failed_step_probes_the_backend_through_port_forward() {
    let tier = node_support::tier();
    let client = apiserver_support::client(&tier).await;
    node_support::install_reference_gateway(&client).await;

    let dir = tempfile::tempdir().unwrap();
    let suites = dir.path().join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    std::fs::write(
        suites.join("NodeDirectProbe.yaml"),
        format!("{SUITE}{}{}", backend("probe-a"), backend("probe-b")),
    )
    .unwrap();

    let out = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        let kubeconfig = tier.kubeconfig.clone();
        move || {
            common::run_in(
                &dir,
                &[
                    "--gateway-class",
                    "gwl4-reference",
                    "--echo-image",
                    node_support::ECHO_IMAGE,
                    "--kubeconfig",
                    kubeconfig.to_str().unwrap(),
                    "--suite-dir",
                    suites.to_str().unwrap(),
                    "--exact",
                    "NodeDirectProbe",
                ],
            )
        }
    })
    .await
    .unwrap();
    let all = text(&out);
    println!("{all}");
    assert_eq!(out.status.code(), Some(1), "the step must fail");
    let report = std::fs::read_to_string(dir.path().join("gwl4-reports/report.json")).unwrap();
    // Through port-forward: the backend is reached at a local address.
    assert!(
        report.contains("backend probe-b at 127.0.0.1:") && report.contains("answers directly"),
        "no direct probe of probe-b through port-forward in the report:\n{report}"
    );
    assert!(report.contains("the gateway is at fault"), "{report}");
    assert!(
        all.contains("backend probe-b at 127.0.0.1:") && all.contains("the gateway is at fault"),
        "the terminal should say whose fault it is"
    );
    assert_eq!(
        apiserver_support::labelled_leftovers(&client).await,
        Vec::<String>::new()
    );
}
