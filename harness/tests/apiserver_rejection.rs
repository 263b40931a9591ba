//! A manifest the real CRDs reject (two listeners with one name) fails its
//! test with gwl4's error naming the object and quoting the API server,
//! and nothing of that apply exists: the Service listed before the bad
//! Gateway was never created (every object is dry-run first). Run with
//! `--cleanup=false` so the check sees what the run left, not what cleanup
//! removed.
//!
//! Run: `tools/kube/with-apiserver.sh --crds standard cargo test -p harness
//! --test apiserver_rejection -- --ignored` (needs root, as .ci/run is).

mod apiserver_support;
mod common;

use std::time::Duration;

use apiserver_support::{host_leftovers, session};
use common::text;
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::Api;

const SUITE: &str = r#"name: TierRejectsDuplicateListenerNames
description: The API server refuses a Gateway with two listeners named alike.
level: must
spec: [{level: must, source: "apis/v1/shared_types.go RouteParentStatus", quote: "The status of the route for one parent."}]
features: [Gateway, TCPRoute]
namespace: gwl4-tier-reject
steps:
  - assert: {kind: Gateway, name: dup-listeners, conditions: [Accepted]}
---
apiVersion: v1
kind: Namespace
metadata: {name: gwl4-tier-reject}
---
apiVersion: v1
kind: Service
metadata: {name: before-the-bad-gateway}
spec:
  selector: {app: nothing}
  ports: [{name: tcp, port: 8080, targetPort: 3000}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: dup-listeners}
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
    - {name: dup, protocol: TCP, port: 9300}
    - {name: dup, protocol: TCP, port: 9301}
"#;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real API server: tools/kube/with-apiserver.sh (run by .ci/run)"]
async fn a_rejected_manifest_is_named_and_nothing_is_half_applied() {
    let s = session().await;
    let suites = s.dir.path().join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    std::fs::write(suites.join("reject.yaml"), SUITE).unwrap();

    let out = common::run_in(
        s.dir.path(),
        &s.args(&[
            "--suite-dir",
            suites.to_str().unwrap(),
            "--run-test",
            "TierRejectsDuplicateListenerNames",
            "--cleanup=false",
        ]),
    );
    let output = text(&out);
    println!("{output}");
    assert_eq!(out.status.code(), Some(1), "the test must fail");
    assert!(
        output.contains("Gateway gwl4-tier-reject/dup-listeners: "),
        "the error names the object"
    );
    assert!(
        output.contains("spec.listeners") && output.contains("dup"),
        "the error quotes the API server's message about spec.listeners"
    );

    let services: Api<Service> = Api::namespaced(s.client.clone(), "gwl4-tier-reject");
    let left = services.get_opt("before-the-bad-gateway").await.unwrap();
    assert!(
        left.is_none(),
        "the Service of the rejected apply was created"
    );
    assert_eq!(host_leftovers(), Vec::<String>::new());

    // --cleanup=false kept the namespace; remove it (the tier runs the
    // namespace controller, which finalizes it).
    let namespaces: Api<Namespace> = Api::all(s.client.clone());
    let _ = namespaces
        .delete("gwl4-tier-reject", &Default::default())
        .await;
    for _ in 0..300 {
        if namespaces
            .get_opt("gwl4-tier-reject")
            .await
            .unwrap()
            .is_none()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("namespace gwl4-tier-reject still exists 30 s after deletion");
}
