//! The real runner against the kube backend on kube-fake-client: address
//! and conditions are polled through `World::get` until the stand-in
//! controller writes them, and the same test fails without it.

mod kube_support;

use std::time::Duration;

use harness::cluster::kube::KubeCluster;
use harness::cluster::{Cluster, World};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use kube_support::*;

/// A test file the real runner executes: status assertions only, so the
/// fake cluster needs no data plane.
const STATUS_SUITE: &str = r#"name: KubeStatusPolling
description: >-
  A Gateway gets an address and its conditions, and its TCPRoute is
  accepted, as read by polling GET through the kube backend.
level: must
spec: [{level: must, source: "apis/v1/shared_types.go RouteParentStatus", quote: "The status of the route for one parent."}]
features: [Gateway, TCPRoute]
steps:
  - assert: {kind: Gateway, name: gw, conditions: [Accepted, Programmed], hasAddress: true}
  - assert: {kind: TCPRoute, name: route, parent: gw, conditions: [Accepted, ResolvedRefs]}
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
metadata: {name: route}
spec:
  parentRefs: [{name: gw, sectionName: tcp}]
  rules: [{backendRefs: [{name: echo, port: 8080}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec: {containers: [{name: echo, image: "{ECHO_IMAGE}"}]}
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{port: 8080, targetPort: 3000}]
"#;

fn condition(type_: &str, generation: i64) -> Value {
    json!({"type": type_, "status": "True", "reason": type_, "message": "",
           "observedGeneration": generation, "lastTransitionTime": "2026-11-26T07:00:00Z"})
}

/// Plays the gateway controller: once the Gateway and the route exist,
/// writes their status (an address, Accepted/Programmed, the route's parent
/// entry) through the status subresource.
async fn gateway_controller(client: kube::Client, version: &str) {
    let ns = "gateway-conformance-infra";
    let lookup = harness::cluster::kube::resources::lookup;
    let gateways: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &lookup("Gateway").unwrap().resource("v1"),
    );
    let routes: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &lookup("TCPRoute").unwrap().resource(version),
    );
    let (gw, route) = loop {
        if let (Some(gw), Some(route)) = (
            gateways.get_opt("gw").await.unwrap(),
            routes.get_opt("route").await.unwrap(),
        ) {
            break (gw, route);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let g = gw.metadata.generation.unwrap_or(1);
    let status = json!({"status": {
        "addresses": [{"type": "IPAddress", "value": "10.0.0.7"}],
        "conditions": [condition("Accepted", g), condition("Programmed", g)]}});
    gateways
        .patch_status("gw", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    let r = route.metadata.generation.unwrap_or(1);
    let status = json!({"status": {"parents": [{
        "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw", "sectionName": "tcp"},
        "controllerName": CONTROLLER,
        "conditions": [condition("Accepted", r), condition("ResolvedRefs", r)]}]}});
    routes
        .patch_status("route", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

async fn run_status_suite(with_controller: bool) -> (reports::TestResult, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("KubeStatusPolling.yaml"), STATUS_SUITE).unwrap();
    let spec = harness::suite::load::from_dir(dir.path())
        .unwrap()
        .remove(0);
    let client = fake(Routes::V1alpha2, Some(true)).await;
    let mut settings = settings();
    settings.timeouts.gateway_must_have_condition = Duration::from_secs(2);
    settings.timeouts.tcp_route_must_have_condition = Duration::from_secs(2);
    let run = harness::run::context::RunSettings {
        timeouts: settings.timeouts.clone(),
        stats: stats::Settings::default(),
        gateway_class: CLASS.into(),
        echo_image: "ghcr.io/gwl4/echo-server:test".into(),
        strict: false,
        scheduler: None,
    };
    let cluster = KubeCluster::with_client(client.clone(), settings)
        .await
        .unwrap();
    let world = cluster.world(&spec.name).await.unwrap();
    let deployments = tokio::spawn(deployment_controller(
        client.clone(),
        "gateway-conformance-infra",
        1,
    ));
    let gateway =
        with_controller.then(|| tokio::spawn(gateway_controller(client.clone(), "v1alpha2")));
    let events = harness::run::events::Events::new(false);
    let result = harness::run::run_test(&world, &spec, &run, &events)
        .await
        .result;
    // The stand-ins stop here either way (they would wait forever for
    // objects a failed apply never created); a panic in one still shows.
    for task in std::iter::once(deployments).chain(gateway) {
        task.abort();
        if let Err(e) = task.await
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    let diagnostics = world.diagnostics();
    world.cleanup().await;
    cluster.finish().await;
    assert_eq!(labelled(&client, "v1alpha2").await, Vec::<String>::new());
    (result, diagnostics)
}

#[tokio::test]
async fn the_runner_polls_address_and_conditions_through_get() {
    let (result, _) = run_status_suite(true).await;
    assert!(matches!(result, reports::TestResult::Passed), "{result:?}");
}

#[tokio::test]
async fn without_a_controller_the_status_assertion_fails() {
    let (result, diagnostics) = run_status_suite(false).await;
    let reports::TestResult::Failed { message } = &result else {
        panic!("expected a failure, got {result:?}");
    };
    assert!(message.contains("Gateway"), "{message}");
    assert!(
        diagnostics.contains("GatewayClass gwl4-reference"),
        "{diagnostics}"
    );
}
