//! The Kubernetes provider against kube-fake-client (an in-memory API
//! server without watches): everything is listed once into `Objects` and
//! run through `KubeProvider::reload`, the same path a watch event takes.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use gateway_api::experimental::gatewayclasses::GatewayClass;
use gateway_api::experimental::gateways::Gateway;
use gateway_api::experimental::referencegrants::ReferenceGrant;
use gateway_api::experimental::tcproutes::TcpRoute;
use gateway_api::experimental::udproutes::UdpRoute;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube_fake_client::ClientBuilder;
use prometheus_client::registry::Registry;
use reference_gateway::admin::Admin;
use reference_gateway::dataplane::metrics::Metrics;
use reference_gateway::dataplane::{DataPlane, Options};
use reference_gateway::provider::ReloadMetrics;
use reference_gateway::provider::kube::address::{AddressSource, Addressing};
use reference_gateway::provider::kube::resources::{GatewayKind, Objects, ServedVersions};
use reference_gateway::provider::kube::status::{FIELD_MANAGER, Written, write_status};
use reference_gateway::provider::kube::{KubeOptions, KubeProvider};
use reference_gateway::translate::{CONTROLLER_NAME, SUPPORTED_FEATURES};
use serde_json::{Value, json};

/// kube-fake-client 0.3 registers every custom resource as namespaced, so
/// the cluster-scoped GatewayClass is stored under a stand-in namespace:
/// this layer rewrites single-object GatewayClass paths to it (lists, which
/// span namespaces, pass unchanged). It also cannot list Namespaces
/// (`/api/v1/namespaces` is an "Invalid path" to it): that list is answered
/// empty here, and no scenario below depends on namespace labels.
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
        if path == "/api/v1/namespaces" && req.method() == http::Method::GET {
            let body = br#"{"apiVersion":"v1","kind":"NamespaceList","metadata":{},"items":[]}"#;
            let response = http::Response::new(kube::client::Body::from(body.to_vec()));
            return Box::pin(async move { Ok(response) });
        }
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

/// Marks a gateway-api type as a registered, status-bearing resource.
macro_rules! registered {
    ($builder:expr, $($kind:ty),*) => {
        $builder$(.with_resource::<$kind>().with_status_subresource::<$kind>())*
    };
}

const OTHER_CONTROLLER: &str = "example.com/other-gateway";

/// A fake cluster holding the objects of `yaml` (GatewayClasses are
/// created through the API so they land where the path rewrite puts them).
async fn fake(yaml: &str) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let objects: Vec<Value> = serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let (classes, others): (Vec<Value>, Vec<Value>) = objects
        .into_iter()
        .partition(|o| o["kind"] == "GatewayClass");
    let builder = registered!(
        ClientBuilder::new(),
        GatewayClass,
        Gateway,
        TcpRoute,
        UdpRoute,
        ReferenceGrant
    );
    let inner = builder.with_runtime_objects(others).build().await.unwrap();
    let client = kube::Client::new(ClusterScopedClasses(inner), "default");
    for class in classes {
        let class: DynamicObject = serde_json::from_value(class).unwrap();
        api(&client, GatewayKind::GatewayClass, None)
            .create(&PostParams::default(), &class)
            .await
            .unwrap();
    }
    client
}

fn api(client: &kube::Client, kind: GatewayKind, namespace: Option<&str>) -> Api<DynamicObject> {
    let resource = ServedVersions::default().resource(kind);
    match namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

fn new_provider(
    client: &kube::Client,
    addressing: Addressing,
) -> (KubeProvider, Arc<Admin>, Arc<DataPlane>) {
    let admin = Arc::new(Admin::new(Registry::default()));
    let data_plane = Arc::new(DataPlane::new(Options::default(), Metrics::default()).unwrap());
    let options = KubeOptions {
        addressing,
        debounce: Duration::from_millis(10),
    };
    let provider = KubeProvider::new(
        client.clone(),
        ServedVersions::default(),
        options,
        data_plane.clone(),
        admin.clone(),
        ReloadMetrics::default(),
    );
    (provider, admin, data_plane)
}

fn bind(address: &str) -> Addressing {
    Addressing {
        bind_address: address.parse::<IpAddr>().unwrap(),
        service: None,
        pool: None,
    }
}

/// Lists the fake cluster and reloads once; panics if a status write failed.
async fn reload(provider: &mut KubeProvider, client: &kube::Client) {
    let objects = Objects::list(client, &ServedVersions::default())
        .await
        .unwrap();
    assert!(!provider.reload(&objects).await, "a status write failed");
}

fn cluster(class: &str, gateway_port: u16) -> String {
    format!(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: {class}}}
spec: {{controllerName: {CONTROLLER_NAME}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: not-ours}}
spec: {{controllerName: {OTHER_CONTROLLER}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: app, generation: 1}}
spec:
  gatewayClassName: {class}
  listeners:
    - {{name: tcp, protocol: TCP, port: {gateway_port}}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {{name: route, namespace: app, generation: 1}}
spec:
  parentRefs:
    - {{name: gw}}
    - {{name: elsewhere}}
  rules:
    - backendRefs: [{{name: echo, port: 5000}}]
---
apiVersion: v1
kind: Service
metadata: {{name: echo, namespace: app}}
spec:
  ports: [{{name: tcp, port: 5000, protocol: TCP}}]
"#
    )
}

/// The other controller's entry for the `elsewhere` parent.
fn other_parent() -> Value {
    json!({
        "controllerName": OTHER_CONTROLLER,
        "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "elsewhere"},
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "theirs",
                        "lastTransitionTime": "2026-11-26T07:00:00Z", "observedGeneration": 1}]
    })
}

async fn write_other_parent(client: &kube::Client) {
    let patch = json!({"status": {"parents": [other_parent()]}});
    api(client, GatewayKind::TcpRoute, Some("app"))
        .patch_status("route", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

async fn status_of(
    client: &kube::Client,
    kind: GatewayKind,
    ns: Option<&str>,
    name: &str,
) -> Value {
    let object = api(client, kind, ns).get(name).await.unwrap();
    object.data.get("status").cloned().unwrap_or(Value::Null)
}

fn condition<'a>(conditions: &'a Value, type_: &str) -> &'a Value {
    conditions
        .as_array()
        .unwrap_or_else(|| panic!("no conditions in {conditions}"))
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {conditions}"))
}

#[tokio::test]
async fn route_status_keeps_another_controllers_parent_entry() {
    let client = fake(&cluster("ours", 9000)).await;
    write_other_parent(&client).await;
    let (mut provider, _, _) = new_provider(&client, bind("127.0.9.1"));
    reload(&mut provider, &client).await;

    let status = status_of(&client, GatewayKind::TcpRoute, Some("app"), "route").await;
    let parents = status["parents"].as_array().unwrap();
    assert_eq!(parents.len(), 2, "{status:#}");
    assert!(
        parents.contains(&other_parent()),
        "theirs is untouched: {status:#}"
    );
    let ours = parents
        .iter()
        .find(|p| p["controllerName"] == CONTROLLER_NAME)
        .expect("our entry");
    assert_eq!(ours["parentRef"]["name"], "gw");
    assert_eq!(condition(&ours["conditions"], "Accepted")["status"], "True");
    assert_eq!(
        condition(&ours["conditions"], "ResolvedRefs")["status"],
        "True"
    );
}

#[tokio::test]
async fn unchanged_status_is_not_rewritten() {
    let client = fake(&cluster("ours", 9000)).await;
    write_other_parent(&client).await;
    let (mut provider, admin, data_plane) = new_provider(&client, bind("127.0.9.2"));
    reload(&mut provider, &client).await;
    let versions = |client: kube::Client| async move {
        let objects = Objects::list(&client, &ServedVersions::default())
            .await
            .unwrap();
        objects
            .gateway
            .iter()
            .map(|(k, o)| {
                (
                    k.kind(),
                    o.metadata.name.clone(),
                    o.metadata.resource_version.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let before = versions(client.clone()).await;

    // A fresh provider (no memory of the first) finds nothing to write
    // (once the first has released its listener sockets).
    data_plane.shutdown(Duration::ZERO).await;
    let (mut again, _, _) = new_provider(&client, bind("127.0.9.2"));
    reload(&mut again, &client).await;
    assert_eq!(versions(client.clone()).await, before);

    // The writer itself, fed the same documents, says so.
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::from_second(2_000_000_000).unwrap(),
    );
    let statuses = admin.report().statuses.clone();
    assert_eq!(statuses.len(), 3, "class, gateway, route: {statuses:#?}");
    for doc in &statuses {
        let written = write_status(&client, &ServedVersions::default(), doc, &now)
            .await
            .unwrap();
        assert!(matches!(written, Written::Unchanged(_)), "{written:?}");
    }
    assert_eq!(versions(client.clone()).await, before);
}

#[tokio::test]
async fn our_gateway_class_is_accepted_with_supported_features() {
    let client = fake(&cluster("ours", 9000)).await;
    let (mut provider, _, _) = new_provider(&client, bind("127.0.9.3"));
    reload(&mut provider, &client).await;

    let status = status_of(&client, GatewayKind::GatewayClass, None, "ours").await;
    let accepted = condition(&status["conditions"], "Accepted");
    assert_eq!(accepted["status"], "True", "{status:#}");
    assert_eq!(accepted["reason"], "Accepted");
    assert!(accepted["lastTransitionTime"].is_string());
    let features: Vec<&str> = status["supportedFeatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(features, SUPPORTED_FEATURES);
    let theirs = status_of(&client, GatewayKind::GatewayClass, None, "not-ours").await;
    assert_eq!(
        theirs,
        Value::Null,
        "another controller's class is left alone"
    );
}

#[tokio::test]
async fn gateway_reports_its_bind_address() {
    let client = fake(&cluster("ours", 9000)).await;
    let (mut provider, _, _) = new_provider(&client, bind("127.0.9.4"));
    reload(&mut provider, &client).await;

    let status = status_of(&client, GatewayKind::Gateway, Some("app"), "gw").await;
    assert_eq!(
        status["addresses"],
        json!([{"type": "IPAddress", "value": "127.0.9.4"}]),
        "{status:#}"
    );
    assert_eq!(
        condition(&status["conditions"], "Programmed")["status"],
        "True"
    );
    assert_eq!(status["listeners"][0]["attachedRoutes"], 1);
    // The field manager is ours (the fake records managed fields on apply).
    let object = api(&client, GatewayKind::Gateway, Some("app"))
        .get("gw")
        .await
        .unwrap();
    let managers: Vec<_> = object
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(managers.iter().any(|m| m == FIELD_MANAGER), "{managers:?}");
}

#[tokio::test]
async fn gateway_behind_a_load_balancer_reports_its_address() {
    let yaml = format!(
        "{}---\n{}",
        cluster("ours", 9000),
        r#"apiVersion: v1
kind: Service
metadata: {name: reference-gateway, namespace: gwl4-system}
spec: {type: LoadBalancer, ports: [{port: 9000, protocol: TCP}]}
status: {loadBalancer: {ingress: [{ip: 203.0.113.7}]}}
"#
    );
    let client = fake(&yaml).await;
    let addressing = Addressing {
        bind_address: "127.0.9.5".parse().unwrap(),
        service: Some(("gwl4-system".into(), "reference-gateway".into())),
        pool: None,
    };
    let (mut provider, _, _) = new_provider(&client, addressing);
    reload(&mut provider, &client).await;
    let status = status_of(&client, GatewayKind::Gateway, Some("app"), "gw").await;
    assert_eq!(
        status["addresses"],
        json!([{"type": "IPAddress", "value": "203.0.113.7"}]),
        "{status:#}"
    );
}

#[tokio::test]
async fn detached_route_loses_only_our_parent_entry() {
    let client = fake(&cluster("ours", 9000)).await;
    write_other_parent(&client).await;
    let (mut provider, _, _) = new_provider(&client, bind("127.0.9.6"));
    reload(&mut provider, &client).await;
    // The route now names only the other controller's Gateway.
    let patch = json!({"spec": {"parentRefs": [{"name": "elsewhere"}]}});
    api(&client, GatewayKind::TcpRoute, Some("app"))
        .patch("route", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    reload(&mut provider, &client).await;
    let status = status_of(&client, GatewayKind::TcpRoute, Some("app"), "route").await;
    assert_eq!(status["parents"], json!([other_parent()]), "{status:#}");
}

#[tokio::test]
async fn pooled_gateways_on_one_port_each_bind_their_own_address() {
    // Three Gateways, each with a TCP listener on port 9000, and a pool of
    // two hosts (127.0.9.17 and .18): the two oldest bind, the third has
    // no address.
    let mut yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n\
         metadata: {{name: ours}}\nspec: {{controllerName: {CONTROLLER_NAME}}}\n"
    );
    for (name, second) in [("gw-a", 1), ("gw-b", 2), ("gw-c", 3)] {
        yaml.push_str(&format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
             metadata: {{name: {name}, namespace: app, generation: 1, uid: uid-{name}, \
             creationTimestamp: '2026-01-01T00:00:0{second}Z'}}\n\
             spec: {{gatewayClassName: ours, listeners: [{{name: tcp, protocol: TCP, port: 9000}}]}}\n"
        ));
    }
    let client = fake(&yaml).await;
    let source: AddressSource = "pool:127.0.9.16/30".parse().unwrap();
    let addressing = Addressing::resolve(&source, None, "unused/unused", |_| None).unwrap();
    let (mut provider, admin, _) = new_provider(&client, addressing);
    reload(&mut provider, &client).await;

    for (name, address) in [("gw-a", "127.0.9.17"), ("gw-b", "127.0.9.18")] {
        let status = status_of(&client, GatewayKind::Gateway, Some("app"), name).await;
        assert_eq!(
            status["addresses"],
            json!([{"type": "IPAddress", "value": address}]),
            "{name}: {status:#}"
        );
        assert_eq!(
            condition(&status["conditions"], "Programmed")["status"],
            "True",
            "{name}: {status:#}"
        );
    }
    let bound: Vec<String> = admin
        .report()
        .config
        .listeners
        .iter()
        .map(|l| format!("{}:{}", l.key.address, l.key.port))
        .collect();
    assert_eq!(bound, ["127.0.9.17:9000", "127.0.9.18:9000"]);
    let status = status_of(&client, GatewayKind::Gateway, Some("app"), "gw-c").await;
    let programmed = condition(&status["conditions"], "Programmed");
    assert_eq!(programmed["status"], "False", "{status:#}");
    assert_eq!(programmed["reason"], "AddressNotAssigned");
    let message = programmed["message"].as_str().unwrap();
    assert!(
        message.contains("the address pool 127.0.9.16/30 has no free address (2 in use)"),
        "{message}"
    );
}
