//! The k3s tier: the reference gateway's Kubernetes provider, run out of
//! cluster (`reference-gateway kube --kubeconfig …`, the real binary)
//! against k3s in a container. Needs Docker:
//! `cargo test -p reference-gateway --test kube_k3s -- --ignored`.
//!
//! The Gateway API CRDs are generated from the gateway-api crate's types
//! (`CustomResourceExt::crd()`, Gateway API v1.5.1: TCPRoute and UDPRoute
//! in v1alpha2, as the crate has no v1 route types), so the provider's
//! version discovery must pick v1alpha2. `GWL4_K3S_TAG` overrides the k3s
//! image tag.

use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};
use testcontainers_modules::k3s::{K3s, KUBE_SECURE_PORT};
use testcontainers_modules::testcontainers::ImageExt;
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use tokio::io::{AsyncBufReadExt, BufReader};

const K3S_TAG: &str = "v1.36.0-k3s1";
const CONTROLLER: &str = "gwl4.dev/reference-gateway";
const OTHER_CONTROLLER: &str = "example.com/other-gateway";
/// How long the provider may take to write a status.
const STATUS_TIMEOUT: Duration = Duration::from_secs(60);

fn crds() -> Vec<CustomResourceDefinition> {
    use gateway_api::apis::experimental as x;
    vec![
        x::gatewayclasses::GatewayClass::crd(),
        x::gateways::Gateway::crd(),
        x::referencegrants::ReferenceGrant::crd(),
        x::tcproutes::TcpRoute::crd(),
        x::udproutes::UdpRoute::crd(),
    ]
}

/// The kubeconfig k3s wrote, pointed at the mapped API port.
fn kubeconfig(text: &str, port: u16) -> kube::config::Kubeconfig {
    let mut kc: kube::config::Kubeconfig = serde_yaml::from_str(text).unwrap();
    for c in &mut kc.clusters {
        if let Some(cluster) = c.cluster.as_mut() {
            cluster.server = Some(format!("https://127.0.0.1:{port}"));
        }
    }
    kc
}

async fn wait_established(client: &kube::Client, name: &str) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    poll(&format!("CRD {name} Established"), || async {
        let crd = api.get(name).await.ok()?;
        crd.status
            .and_then(|s| s.conditions)
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            })
            .then_some(())
    })
    .await;
}

/// Polls `check` (GET-based, as gwl4's status checks) until it yields.
async fn poll<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + STATUS_TIMEOUT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn resource(kind: &str, version: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "gateway.networking.k8s.io".into(),
        version: version.into(),
        api_version: format!("gateway.networking.k8s.io/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    }
}

async fn apply(client: &kube::Client, object: Value) {
    let object: DynamicObject = serde_json::from_value(object).unwrap();
    let api_version = object.types.as_ref().unwrap().api_version.clone();
    let kind = object.types.as_ref().unwrap().kind.clone();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let plural = match kind.as_str() {
        "GatewayClass" => "gatewayclasses".to_string(),
        other => format!("{}s", other.to_lowercase()),
    };
    let resource = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.clone(),
        kind: kind.clone(),
        plural,
    };
    let name = object.metadata.name.clone().unwrap();
    let api: Api<DynamicObject> = match &object.metadata.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    api.patch(
        &name,
        &PatchParams::apply("gwl4-test").force(),
        &Patch::Apply(&object),
    )
    .await
    .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
}

fn condition<'a>(conditions: &'a Value, type_: &str) -> Option<&'a Value> {
    conditions.as_array()?.iter().find(|c| c["type"] == type_)
}

async fn status(api: &Api<DynamicObject>, name: &str) -> Option<Value> {
    api.get(name).await.ok()?.data.get("status").cloned()
}

#[tokio::test]
#[ignore = "needs Docker"]
async fn controller_writes_status_on_k3s() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let conf = tempfile::tempdir().unwrap();
    let tag = std::env::var("GWL4_K3S_TAG").unwrap_or_else(|_| K3S_TAG.into());
    let k3s = K3s::default()
        .with_conf_mount(conf.path())
        .with_tag(tag)
        .with_privileged(true)
        .with_userns_mode("host")
        .start()
        .await
        .expect("starting k3s (is Docker running?)");
    let port = k3s.get_host_port_ipv4(KUBE_SECURE_PORT).await.unwrap();
    let kc = kubeconfig(&k3s.image().read_kube_config().unwrap(), port);
    let kubeconfig_path = conf.path().join("gwl4-kubeconfig.yaml");
    std::fs::write(&kubeconfig_path, serde_yaml::to_string(&kc).unwrap()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();

    let crd_api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds() {
        let name = crd.metadata.name.clone().unwrap();
        crd_api
            .patch(
                &name,
                &PatchParams::apply("gwl4-test").force(),
                &Patch::Apply(&crd),
            )
            .await
            .unwrap();
        wait_established(&client, &name).await;
    }

    // The controller, out of cluster, binding its listeners on loopback.
    let mut gateway = tokio::process::Command::new(env!("CARGO_BIN_EXE_reference-gateway"))
        .args(["kube", "--kubeconfig"])
        .arg(&kubeconfig_path)
        .args([
            "--address-source",
            "127.0.9.50",
            "--admin-address",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(gateway.stdout.take().unwrap()).lines();
    let admin = lines.next_line().await.unwrap().expect("admin line");
    assert!(admin.starts_with("admin http://"), "{admin}");

    for object in [
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}),
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
               "metadata": {"name": "gwl4"}, "spec": {"controllerName": CONTROLLER}}),
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "gw", "namespace": "app"},
               "spec": {"gatewayClassName": "gwl4", "listeners": [
                   {"name": "tcp", "protocol": "TCP", "port": 9000},
                   {"name": "udp", "protocol": "UDP", "port": 9001}]}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "namespace": "app"},
               "spec": {"ports": [{"name": "tcp", "port": 5000, "protocol": "TCP"},
                                  {"name": "udp", "port": 5001, "protocol": "UDP"}]}}),
        json!({"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TCPRoute",
               "metadata": {"name": "tcp", "namespace": "app"},
               "spec": {"parentRefs": [{"name": "gw", "sectionName": "tcp"}, {"name": "elsewhere"}],
                        "rules": [{"backendRefs": [{"name": "echo", "port": 5000}]}]}}),
        json!({"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "UDPRoute",
               "metadata": {"name": "udp", "namespace": "app"},
               "spec": {"parentRefs": [{"name": "gw", "sectionName": "udp"}],
                        "rules": [{"backendRefs": [{"name": "echo", "port": 5001}]}]}}),
    ] {
        apply(&client, object).await;
    }
    // Another controller's entry on the TCPRoute, which ours must keep.
    let tcp_routes: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "app",
        &resource("TCPRoute", "v1alpha2", "tcproutes"),
    );
    let theirs = json!({
        "controllerName": OTHER_CONTROLLER,
        "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "elsewhere"},
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "theirs",
                        "lastTransitionTime": "2026-11-26T07:00:00Z", "observedGeneration": 1}]
    });
    let live = tcp_routes.get("tcp").await.unwrap();
    let mut parents: Vec<Value> = live
        .data
        .pointer("/status/parents")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    parents.push(theirs.clone());
    tcp_routes
        .patch_status(
            "tcp",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"resourceVersion": live.metadata.resource_version},
                                 "status": {"parents": parents}}),
            ),
        )
        .await
        .unwrap();

    let classes: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &resource("GatewayClass", "v1", "gatewayclasses"),
    );
    let class = poll("GatewayClass Accepted", || async {
        let s = status(&classes, "gwl4").await?;
        (condition(&s["conditions"], "Accepted")?["status"] == "True").then_some(s)
    })
    .await;
    assert!(
        class["supportedFeatures"]
            .as_array()
            .is_some_and(|f| f.contains(&json!({"name": "TCPRoute"})))
    );

    let gateways: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "app",
        &resource("Gateway", "v1", "gateways"),
    );
    let gw = poll("Gateway Programmed", || async {
        let s = status(&gateways, "gw").await?;
        (condition(&s["conditions"], "Programmed")?["status"] == "True").then_some(s)
    })
    .await;
    assert_eq!(
        gw["addresses"],
        json!([{"type": "IPAddress", "value": "127.0.9.50"}])
    );
    let attached = poll("both routes attached", || async {
        let s = status(&gateways, "gw").await?;
        let counts: Vec<i64> = s["listeners"]
            .as_array()?
            .iter()
            .map(|l| l["attachedRoutes"].as_i64().unwrap_or(0))
            .collect();
        (counts == [1, 1]).then_some(counts)
    })
    .await;
    assert_eq!(attached, [1, 1]);

    let route = poll("TCPRoute Accepted by us", || async {
        let s = status(&tcp_routes, "tcp").await?;
        let ours = s["parents"]
            .as_array()?
            .iter()
            .find(|p| p["controllerName"] == CONTROLLER)?
            .clone();
        (condition(&ours["conditions"], "Accepted")?["status"] == "True").then_some(s)
    })
    .await;
    assert!(
        route["parents"].as_array().unwrap().contains(&theirs),
        "the other controller's entry is kept: {route:#}"
    );
    let udp_routes: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "app",
        &resource("UDPRoute", "v1alpha2", "udproutes"),
    );
    poll("UDPRoute Accepted", || async {
        let s = status(&udp_routes, "udp").await?;
        let ours = s["parents"].as_array()?.first()?.clone();
        (ours["controllerName"] == CONTROLLER
            && condition(&ours["conditions"], "Accepted")?["status"] == "True")
            .then_some(())
    })
    .await;
    gateway.kill().await.unwrap();
}
