//! The kube backend against kube-fake-client (an in-memory API server
//! without watches, which is why the backend polls): CRD and version
//! detection, manifest conversion, apply and cleanup, and status polling
//! through `get` by the real runner.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use harness::cluster::kube::crds::INSTALL_COMMAND;
use harness::cluster::kube::resources::{KINDS, RUN_ID_LABEL};
use harness::cluster::kube::{KubeCluster, KubeSettings};
use harness::cluster::{Cluster, ObjectKey, World};
use harness::settings::timeout::TimeoutConfig;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube_fake_client::ClientBuilder;
use serde_json::{Value, json};

/// A marker type so the fake client knows a Gateway API group/version/plural
/// (it only serves what is registered; gateway-api 0.22 has no v1 routes).
macro_rules! gateway_kind {
    ($name:ident, $kind:literal, $version:literal, $plural:literal) => {
        #[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
        struct $name {
            metadata: ObjectMeta,
        }
        impl kube::Resource for $name {
            type DynamicType = ();
            type Scope = NamespaceResourceScope;
            fn kind(_: &()) -> Cow<'_, str> {
                $kind.into()
            }
            fn group(_: &()) -> Cow<'_, str> {
                "gateway.networking.k8s.io".into()
            }
            fn version(_: &()) -> Cow<'_, str> {
                $version.into()
            }
            fn plural(_: &()) -> Cow<'_, str> {
                $plural.into()
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

gateway_kind!(GatewayClassV1, "GatewayClass", "v1", "gatewayclasses");
gateway_kind!(GatewayV1, "Gateway", "v1", "gateways");
gateway_kind!(TcpRouteV1, "TCPRoute", "v1", "tcproutes");
gateway_kind!(TcpRouteV1alpha2, "TCPRoute", "v1alpha2", "tcproutes");
gateway_kind!(UdpRouteV1, "UDPRoute", "v1", "udproutes");
gateway_kind!(UdpRouteV1alpha2, "UDPRoute", "v1alpha2", "udproutes");
gateway_kind!(ReferenceGrantV1, "ReferenceGrant", "v1", "referencegrants");

/// kube-fake-client 0.3 registers every custom resource as namespaced, so
/// the cluster-scoped GatewayClass is stored under a stand-in namespace:
/// this layer rewrites single-object GatewayClass paths to it (lists, which
/// span namespaces, pass unchanged).
#[derive(Clone)]
struct ClusterScopedClasses(kube::Client);

const CLASSES: &str = "/apis/gateway.networking.k8s.io/v1/gatewayclasses";

impl tower::Service<http::Request<kube::client::Body>> for ClusterScopedClasses {
    type Response = http::Response<kube::client::Body>;
    type Error = kube::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, kube::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), kube::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: http::Request<kube::client::Body>) -> Self::Future {
        let path = req.uri().path().to_string();
        if let Some(rest) = path.strip_prefix(CLASSES)
            && (!rest.is_empty() || req.method() == http::Method::POST)
        {
            let query = req
                .uri()
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            let uri = format!(
                "/apis/gateway.networking.k8s.io/v1/namespaces/cluster-scoped/gatewayclasses{rest}{query}"
            );
            *req.uri_mut() = uri.parse().unwrap();
        }
        let client = self.0.clone();
        Box::pin(async move { client.send(req).await })
    }
}

const CLASS: &str = "gwl4-reference";
const CONTROLLER: &str = "gwl4.dev/reference-gateway";
const RUN_ID: &str = "20261126T070000Z-42";

fn crd(plural: &str, kind: &str, versions: &[(&str, bool)]) -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.gateway.networking.k8s.io"),
                     "annotations": {"gateway.networking.k8s.io/bundle-version": "v1.6.1",
                                     "gateway.networking.k8s.io/channel": "standard"}},
        "spec": {
            "group": "gateway.networking.k8s.io",
            "names": {"kind": kind, "plural": plural},
            "scope": if kind == "GatewayClass" { "Cluster" } else { "Namespaced" },
            "versions": versions.iter().map(|(v, served)| json!({"name": v, "served": served, "storage": served}))
                .collect::<Vec<_>>(),
        }
    }))
    .unwrap()
}

/// Which route versions the fake cluster's CRDs serve.
#[derive(Clone, Copy)]
enum Routes {
    V1,
    V1alpha2,
    None,
}

/// A fake cluster with the Gateway API CRDs for `routes`, and, if
/// `class_accepted` is Some, the GatewayClass (Accepted or not).
async fn fake(routes: Routes, class_accepted: Option<bool>) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut crds = vec![
        crd("gatewayclasses", "GatewayClass", &[("v1", true)]),
        crd("gateways", "Gateway", &[("v1", true)]),
        crd("referencegrants", "ReferenceGrant", &[("v1", true)]),
    ];
    let versions: &[(&str, bool)] = match routes {
        Routes::V1 => &[("v1", true), ("v1alpha2", false)],
        Routes::V1alpha2 => &[("v1alpha2", true)],
        Routes::None => &[],
    };
    if !versions.is_empty() {
        crds.push(crd("tcproutes", "TCPRoute", versions));
        crds.push(crd("udproutes", "UDPRoute", versions));
    }
    let mut builder = ClientBuilder::new()
        .with_resource::<GatewayClassV1>()
        .with_resource::<GatewayV1>()
        .with_resource::<ReferenceGrantV1>()
        .with_objects(crds);
    builder = match routes {
        Routes::V1 => builder
            .with_resource::<TcpRouteV1>()
            .with_resource::<UdpRouteV1>(),
        Routes::V1alpha2 => builder
            .with_resource::<TcpRouteV1alpha2>()
            .with_resource::<UdpRouteV1alpha2>(),
        Routes::None => builder,
    };
    let client = kube::Client::new(
        ClusterScopedClasses(builder.build().await.unwrap()),
        "default",
    );
    if let Some(accepted) = class_accepted {
        let api = class_api(&client);
        let class: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": CLASS},
            "spec": {"controllerName": CONTROLLER},
            "status": {
                "conditions": [{"type": "Accepted", "status": if accepted { "True" } else { "Unknown" },
                                "reason": "Accepted", "message": "", "lastTransitionTime": "2026-11-26T07:00:00Z"}],
                "supportedFeatures": [{"name": "Gateway"}, {"name": "TCPRoute"}, {"name": "UDPRoute"}]
            }
        }))
        .unwrap();
        api.create(&PostParams::default(), &class).await.unwrap();
    }
    client
}

fn class_api(client: &kube::Client) -> Api<DynamicObject> {
    let r = harness::cluster::kube::resources::lookup("GatewayClass")
        .unwrap()
        .resource("v1");
    Api::all_with(client.clone(), &r)
}

fn settings() -> KubeSettings {
    let mut timeouts = TimeoutConfig::local();
    timeouts.gwc_must_be_accepted = Duration::from_secs(1);
    timeouts.namespaces_must_be_ready = Duration::from_secs(20);
    timeouts.default_poll_interval = Duration::from_millis(20);
    KubeSettings {
        kubeconfig: None,
        gateway_class: CLASS.into(),
        run_id: RUN_ID.into(),
        namespace_labels: BTreeMap::from([("team".to_string(), "l4".to_string())]),
        namespace_annotations: BTreeMap::from([("owner".to_string(), "gwl4-tests".to_string())]),
        cleanup: true,
        timeouts,
    }
}

fn doc(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

const ROUTE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: route, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: echo, port: 8080}]}]
"#;

#[tokio::test]
async fn v1_routes_are_detected_and_applied_as_v1() {
    let client = fake(Routes::V1, Some(true)).await;
    let cluster = KubeCluster::with_client(client.clone(), settings())
        .await
        .unwrap();
    assert_eq!(cluster.served().version("TCPRoute"), Some("v1"));
    assert_eq!(cluster.served().version("UDPRoute"), Some("v1"));
    assert_eq!(cluster.served().bundle_version.as_deref(), Some("v1.6.1"));
    assert_eq!(cluster.controller(), Some(CONTROLLER));
    let world = cluster.world("t").await.unwrap();
    world.apply(doc(ROUTE)).await.unwrap();
    let got = world
        .get(&ObjectKey::new(
            "TCPRoute",
            "gateway-conformance-infra",
            "route",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got["apiVersion"], "gateway.networking.k8s.io/v1");
    assert_eq!(got["metadata"]["labels"][RUN_ID_LABEL], RUN_ID);
    world.cleanup().await;
    cluster.finish().await;
}

#[tokio::test]
async fn v1alpha2_only_clusters_get_converted_manifests() {
    let client = fake(Routes::V1alpha2, Some(true)).await;
    let cluster = KubeCluster::with_client(client.clone(), settings())
        .await
        .unwrap();
    assert_eq!(cluster.served().version("TCPRoute"), Some("v1alpha2"));
    let world = cluster.world("t").await.unwrap();
    world.apply(doc(ROUTE)).await.unwrap();
    // Stored under v1alpha2, read back through the typed v1alpha2 API.
    let typed: Api<gateway_api::experimental::tcproutes::TcpRoute> =
        Api::namespaced(client.clone(), "gateway-conformance-infra");
    let route = typed.get("route").await.unwrap();
    assert_eq!(route.spec.rules[0].backend_refs.len(), 1);
    let got = world
        .get(&ObjectKey::new(
            "TCPRoute",
            "gateway-conformance-infra",
            "route",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got["apiVersion"], "gateway.networking.k8s.io/v1alpha2");
    world.cleanup().await;
    cluster.finish().await;
}

#[tokio::test]
async fn missing_crds_and_classes_are_setup_errors_naming_the_fix() {
    let err = KubeCluster::with_client(fake(Routes::None, Some(true)).await, settings())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("neither TCPRoute nor UDPRoute") && err.contains(INSTALL_COMMAND),
        "{err}"
    );

    let _ = rustls::crypto::ring::default_provider().install_default();
    let empty = ClientBuilder::new().build().await.unwrap();
    let err = KubeCluster::with_client(empty, settings())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("GatewayClass, Gateway") && err.contains(INSTALL_COMMAND),
        "{err}"
    );

    let err = KubeCluster::with_client(fake(Routes::V1, None).await, settings())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("GatewayClass gwl4-reference does not exist"),
        "{err}"
    );

    let err = KubeCluster::with_client(fake(Routes::V1, Some(false)).await, settings())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is not Accepted") && err.contains(CONTROLLER),
        "{err}"
    );
}

#[tokio::test]
async fn class_features_come_from_the_class_status() {
    let cluster = KubeCluster::with_client(fake(Routes::V1, Some(true)).await, settings())
        .await
        .unwrap();
    let features = cluster
        .class_features(CLASS, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        features,
        Some(vec!["Gateway".into(), "TCPRoute".into(), "UDPRoute".into()])
    );
}

#[tokio::test]
async fn unknown_kinds_and_bad_manifests_apply_nothing() {
    let client = fake(Routes::V1, Some(true)).await;
    let cluster = KubeCluster::with_client(client.clone(), settings())
        .await
        .unwrap();
    let world = cluster.world("t").await.unwrap();
    let mut objects = doc(ROUTE);
    objects.push(
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "gateway-conformance-infra"}}),
    );
    let err = world.apply(objects).await.unwrap_err().to_string();
    assert!(
        err.starts_with("HTTPRoute gateway-conformance-infra/web: kind: HTTPRoute is not a kind"),
        "{err}"
    );
    // Validation came first: the valid route was not applied either.
    let key = ObjectKey::new("TCPRoute", "gateway-conformance-infra", "route");
    assert_eq!(world.get(&key).await.unwrap(), None);

    let two_rules = ROUTE.replace(
        "rules: [{",
        "rules: [{backendRefs: [{name: a, port: 1}]}, {",
    );
    let two_rules = two_rules.replace(
        "gateway.networking.k8s.io/v1",
        "gateway.networking.k8s.io/v1alpha2",
    );
    let err = world.apply(doc(&two_rules)).await.unwrap_err().to_string();
    assert!(err.contains("spec.rules: 2 rules"), "{err}");
    world.cleanup().await;
}

/// Plays the Deployment controller: marks each Deployment in `namespace`
/// available once it exists. Returns after `count` are marked.
async fn deployment_controller(client: kube::Client, namespace: &str, count: usize) {
    let api: Api<Deployment> = Api::namespaced(client, namespace);
    let mut done = std::collections::BTreeSet::new();
    while done.len() < count {
        for d in api.list(&ListParams::default()).await.unwrap().items {
            let name = d.metadata.name.clone().unwrap();
            if done.contains(&name) {
                continue;
            }
            let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let status = json!({"status": {
                "observedGeneration": d.metadata.generation.unwrap_or(1),
                "replicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas}});
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await
                .unwrap();
            done.insert(name);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Everything labelled with the run id, over every kind kube mode handles.
async fn labelled(client: &kube::Client, version: &str) -> Vec<String> {
    let mut out = Vec::new();
    for info in KINDS {
        let v = if info.kind == "TCPRoute" || info.kind == "UDPRoute" {
            version
        } else {
            info.version
        };
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &info.resource(v));
        let Ok(list) = api
            .list(&ListParams::default().labels(&format!("{RUN_ID_LABEL}={RUN_ID}")))
            .await
        else {
            continue;
        };
        out.extend(list.items.into_iter().map(|o| {
            format!(
                "{} {:?}/{:?}",
                info.kind, o.metadata.namespace, o.metadata.name
            )
        }));
    }
    out
}

const BACKEND: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo, namespace: gateway-conformance-web-backend}
spec:
  replicas: 2
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec: {containers: [{name: echo, image: ghcr.io/gwl4/echo-server:latest}]}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: gateway-conformance-web-backend}
spec:
  selector: {app: echo}
  ports: [{name: tcp, port: 8080, targetPort: 3000, protocol: TCP}]
"#;

#[tokio::test]
async fn apply_waits_for_deployments_and_cleanup_leaves_nothing_labelled() {
    let client = fake(Routes::V1, Some(true)).await;
    // A namespace that existed before the run: kept, never labelled.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let existing: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "gateway-conformance-web-backend"}}))
            .unwrap();
    namespaces
        .create(&PostParams::default(), &existing)
        .await
        .unwrap();

    let cluster = KubeCluster::with_client(client.clone(), settings())
        .await
        .unwrap();
    let world = cluster.world("t").await.unwrap();
    let mut objects = harness::run::base_objects();
    objects.extend(doc(ROUTE));
    objects.extend(doc(BACKEND));
    let controller = tokio::spawn(deployment_controller(
        client.clone(),
        "gateway-conformance-web-backend",
        1,
    ));
    world.apply(objects).await.unwrap();
    controller.await.unwrap();

    let infra = namespaces.get("gateway-conformance-infra").await.unwrap();
    let labels = infra.metadata.labels.clone().unwrap();
    assert_eq!(labels[RUN_ID_LABEL], RUN_ID);
    assert_eq!(labels["gateway-conformance"], "infra");
    assert_eq!(labels["team"], "l4");
    assert_eq!(infra.metadata.annotations.unwrap()["owner"], "gwl4-tests");
    let web = namespaces
        .get("gateway-conformance-web-backend")
        .await
        .unwrap();
    assert_eq!(
        web.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(RUN_ID_LABEL)),
        None
    );
    assert_eq!(
        web.metadata.labels.unwrap()["gateway-conformance"],
        "backend"
    );
    let before = labelled(&client, "v1").await;
    assert!(before.len() >= 5, "{before:?}");

    world.cleanup().await;
    let after_test: Vec<String> = labelled(&client, "v1").await;
    // Only the run's namespaces are left until the run ends.
    assert!(
        after_test.iter().all(|o| o.starts_with("Namespace")),
        "{after_test:?}"
    );
    cluster.finish().await;
    assert_eq!(labelled(&client, "v1").await, Vec::<String>::new());
    namespaces
        .get("gateway-conformance-web-backend")
        .await
        .unwrap();
    assert!(
        namespaces
            .get_opt("gateway-conformance-infra")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn interrupt_cleanup_deletes_what_live_worlds_created() {
    let client = fake(Routes::V1, Some(true)).await;
    let cluster = KubeCluster::with_client(client.clone(), settings())
        .await
        .unwrap();
    let world = cluster.world("t").await.unwrap();
    let mut objects = harness::run::base_objects();
    objects.extend(doc(ROUTE));
    world.apply(objects).await.unwrap();
    assert!(!labelled(&client, "v1").await.is_empty());
    // What the Ctrl-C handler calls; other tests' ledgers may be live too,
    // which is harmless: each deletes only what it recorded.
    harness::cluster::kube::delete_all_live().await;
    assert_eq!(labelled(&client, "v1").await, Vec::<String>::new());
    drop(world);
}

#[tokio::test]
async fn step_deletes_and_patches_reach_the_api() {
    let client = fake(Routes::V1, Some(true)).await;
    let cluster = KubeCluster::with_client(client.clone(), settings())
        .await
        .unwrap();
    let world = cluster.world("t").await.unwrap();
    let mut objects = harness::run::base_objects();
    objects.extend(doc(ROUTE));
    world.apply(objects).await.unwrap();
    let key = ObjectKey::new("TCPRoute", "gateway-conformance-infra", "route");
    world
        .patch(&key, &json!({"spec": {"parentRefs": [{"name": "other"}]}}))
        .await
        .unwrap();
    let got = world.get(&key).await.unwrap().unwrap();
    assert_eq!(got["spec"]["parentRefs"][0]["name"], "other");
    world.delete(&key).await.unwrap();
    assert_eq!(world.get(&key).await.unwrap(), None);
    let err = world.delete(&key).await.unwrap_err().to_string();
    assert!(err.ends_with("not found"), "{err}");
    world.cleanup().await;
    cluster.finish().await;
}

/// A test file the real runner executes: status assertions only, so the
/// fake cluster needs no data plane.
const STATUS_SUITE: &str = r#"name: KubeStatusPolling
description: >-
  A Gateway gets an address and its conditions, and its TCPRoute is
  accepted, as read by polling GET through the kube backend.
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
    let result = harness::run::run_test(&world, &spec, &run, &events).await;
    deployments.await.unwrap();
    if let Some(g) = gateway {
        g.await.unwrap();
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
