//! Shared by the kube-fake-client tests: a fake cluster with the Gateway
//! API CRDs, stand-ins for the controllers, and helpers.
#![allow(dead_code)] // each test binary uses a different part

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::cluster::kube::KubeSettings;
use harness::cluster::kube::resources::{KINDS, RUN_ID_LABEL};
use harness::settings::timeout::TimeoutConfig;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
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

/// Fills two gaps of kube-fake-client 0.3 in front of it. It registers every
/// custom resource as namespaced, so single-object paths of the
/// cluster-scoped GatewayClass are rewritten to a stand-in namespace (lists,
/// which span namespaces, pass unchanged). And it cannot route
/// `/api/v1/namespaces/{name}` at all, so Namespaces are served here from a
/// map: get, list (label selector `k=v`), create, apply/merge patch, delete.
#[derive(Clone)]
struct FakeGaps {
    inner: kube::Client,
    namespaces: Arc<Mutex<BTreeMap<String, Value>>>,
    /// `verb resource[/subresource]` a SelfSubjectAccessReview denies
    /// (everything else is allowed, to user [`FAKE_USER`]).
    denied: Arc<Vec<String>>,
}

/// Who the fake API server says we are (SelfSubjectReview).
pub const FAKE_USER: &str = "fake-user";
const ACCESS_REVIEWS: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
const SELF_REVIEWS: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

pub const CLASSES: &str = "/apis/gateway.networking.k8s.io/v1/gatewayclasses";
const NAMESPACES: &str = "/api/v1/namespaces";

fn respond(code: u16, body: &Value) -> http::Response<kube::client::Body> {
    http::Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(kube::client::Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

fn not_found(name: &str) -> http::Response<kube::client::Body> {
    respond(
        404,
        &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": format!("namespaces \"{name}\" not found"), "reason": "NotFound", "code": 404}),
    )
}

/// RFC 7396 merge of `patch` into `target`.
fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

impl FakeGaps {
    fn namespaces(
        &self,
        method: &http::Method,
        name: Option<&str>,
        query: &str,
        body: &[u8],
    ) -> http::Response<kube::client::Body> {
        let mut store = self.namespaces.lock().unwrap();
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        match (method.as_str(), name) {
            ("GET", None) => {
                let selector = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("labelSelector="))
                    .map(|s| s.replace("%2F", "/").replace("%3D", "="));
                let items: Vec<Value> = store
                    .values()
                    .filter(
                        |ns| match selector.as_deref().and_then(|s| s.split_once('=')) {
                            Some((k, v)) => ns["metadata"]["labels"][k] == v,
                            None => true,
                        },
                    )
                    .cloned()
                    .collect();
                respond(
                    200,
                    &json!({"apiVersion": "v1", "kind": "NamespaceList", "metadata": {}, "items": items}),
                )
            }
            ("POST", None) => {
                let name = body["metadata"]["name"].as_str().unwrap().to_string();
                store.insert(name, body.clone());
                respond(201, &body)
            }
            ("GET", Some(name)) => match store.get(name) {
                Some(ns) => respond(200, ns),
                None => not_found(name),
            },
            ("PATCH", Some(name)) => {
                let ns = store.entry(name.to_string()).or_insert_with(
                    || json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
                );
                merge(ns, &body);
                respond(200, ns)
            }
            ("DELETE", Some(name)) => match store.remove(name) {
                Some(ns) => respond(200, &ns),
                None => not_found(name),
            },
            _ => respond(
                405,
                &json!({"kind": "Status", "code": 405, "message": "not faked"}),
            ),
        }
    }
}

impl tower::Service<http::Request<kube::client::Body>> for FakeGaps {
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
        let query = req.uri().query().unwrap_or_default().to_string();
        if path == ACCESS_REVIEWS || path == SELF_REVIEWS {
            let denied = self.denied.clone();
            return Box::pin(async move {
                let body = req.into_body().collect_bytes().await?;
                let mut review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                if path == SELF_REVIEWS {
                    review["status"] = json!({"userInfo": {"username": FAKE_USER}});
                } else {
                    let a = &review["spec"]["resourceAttributes"];
                    let mut resource = a["resource"].as_str().unwrap_or_default().to_string();
                    if let Some(sub) = a["subresource"].as_str() {
                        resource = format!("{resource}/{sub}");
                    }
                    let asked = format!("{} {resource}", a["verb"].as_str().unwrap_or_default());
                    review["status"] = json!({"allowed": !denied.contains(&asked)});
                }
                Ok(respond(201, &review))
            });
        }
        if let Some(rest) = path.strip_prefix(NAMESPACES)
            && !rest.trim_start_matches('/').contains('/')
        {
            let name = rest.strip_prefix('/').map(str::to_string);
            let this = self.clone();
            return Box::pin(async move {
                let method = req.method().clone();
                let body = req.into_body().collect_bytes().await?;
                Ok(this.namespaces(&method, name.as_deref(), &query, &body))
            });
        }
        if let Some(rest) = path.strip_prefix(CLASSES)
            && (!rest.is_empty() || req.method() == http::Method::POST)
        {
            let query = if query.is_empty() {
                query
            } else {
                format!("?{query}")
            };
            let uri = format!(
                "/apis/gateway.networking.k8s.io/v1/namespaces/cluster-scoped/gatewayclasses{rest}{query}"
            );
            *req.uri_mut() = uri.parse().unwrap();
        }
        let client = self.inner.clone();
        Box::pin(async move { client.send(req).await })
    }
}

pub const CLASS: &str = "gwl4-reference";
pub const CONTROLLER: &str = "gwl4.dev/reference-gateway";
pub const RUN_ID: &str = "20261126T070000Z-42";

pub fn crd(plural: &str, kind: &str, versions: &[(&str, bool)]) -> CustomResourceDefinition {
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
pub enum Routes {
    V1,
    V1alpha2,
    None,
}

/// A fake cluster with the Gateway API CRDs for `routes`, and, if
/// `class_accepted` is Some, the GatewayClass (Accepted or not).
pub async fn fake(routes: Routes, class_accepted: Option<bool>) -> kube::Client {
    fake_denying(routes, class_accepted, &[]).await
}

/// [`fake`], whose access reviews deny `denied` (`"verb resource"`).
pub async fn fake_denying(
    routes: Routes,
    class_accepted: Option<bool>,
    denied: &[&str],
) -> kube::Client {
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
        FakeGaps {
            inner: builder.build().await.unwrap(),
            namespaces: Arc::default(),
            denied: Arc::new(denied.iter().map(|d| d.to_string()).collect()),
        },
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

pub fn class_api(client: &kube::Client) -> Api<DynamicObject> {
    let r = harness::cluster::kube::resources::lookup("GatewayClass")
        .unwrap()
        .resource("v1");
    Api::all_with(client.clone(), &r)
}

pub fn settings() -> KubeSettings {
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
        local_workloads: None,
    }
}

pub fn doc(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

pub const ROUTE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: route, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: echo, port: 8080}]}]
"#;

/// Plays the Deployment controller: marks each Deployment in `namespace`
/// available once it exists. Returns after `count` are marked.
pub async fn deployment_controller(client: kube::Client, namespace: &str, count: usize) {
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
pub async fn labelled(client: &kube::Client, version: &str) -> Vec<String> {
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

pub const BACKEND: &str = r#"
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
