//! The k3s tier: the kube backend's lifecycle against a real API server in
//! a container (needs Docker: `cargo test -p harness --test kube_k3s -- --ignored`).
//!
//! The Gateway API CRDs are generated from the gateway-api crate's types
//! (`CustomResourceExt::crd()`, Gateway API v1.5.1 schemas), with TCPRoute
//! and UDPRoute given a served v1 version beside the non-served v1alpha2 as
//! the v1.6 standard channel has them (the schemas are the same). No
//! gateway controller runs yet: the test plays the GatewayClass's
//! controller by writing Accepted itself.
//!
//! `GWL4_K3S_TAG` picks the k3s image tag; `GWL4_K3S_IMAGE` the backend
//! image (default: the pause image k3s ships, so nothing is pulled).

use std::collections::BTreeMap;
use std::time::Duration;

use harness::cluster::kube::resources::{KINDS, RUN_ID_LABEL};
use harness::cluster::kube::{KubeCluster, KubeSettings};
use harness::cluster::{Cluster, ObjectKey, World};
use harness::settings::timeout::TimeoutConfig;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use testcontainers_modules::k3s::{K3s, KUBE_SECURE_PORT};
use testcontainers_modules::testcontainers::ImageExt;
use testcontainers_modules::testcontainers::runners::AsyncRunner;

const K3S_TAG: &str = "v1.36.0-k3s1";
const RUN_ID: &str = "k3s-lifecycle";

/// The CRDs, as the v1.6.1 standard channel serves them.
fn crds() -> Vec<CustomResourceDefinition> {
    use gateway_api::apis::experimental as x;
    let mut out = vec![
        x::gatewayclasses::GatewayClass::crd(),
        x::gateways::Gateway::crd(),
        x::referencegrants::ReferenceGrant::crd(),
    ];
    for mut route in [x::tcproutes::TcpRoute::crd(), x::udproutes::UdpRoute::crd()] {
        let mut v1 = route.spec.versions[0].clone();
        v1.name = "v1".into();
        route.spec.versions[0].served = false;
        route.spec.versions[0].storage = false;
        v1.served = true;
        v1.storage = true;
        route.spec.versions.push(v1);
        out.push(route);
    }
    out
}

async fn client_for(kubeconfig: &str, port: u16) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut kc: kube::config::Kubeconfig = serde_yaml::from_str(kubeconfig).unwrap();
    for c in &mut kc.clusters {
        if let Some(cluster) = c.cluster.as_mut() {
            cluster.server = Some(format!("https://127.0.0.1:{port}"));
        }
    }
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

async fn wait_established(client: &kube::Client, name: &str) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for _ in 0..120 {
        let crd = api.get(name).await.unwrap();
        let established = crd.status.and_then(|s| s.conditions).is_some_and(|c| {
            c.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        });
        if established {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("CRD {name} not Established");
}

async fn labelled(client: &kube::Client) -> Vec<String> {
    let mut out = Vec::new();
    for info in KINDS {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &info.resource(info.version));
        let list = api
            .list(&ListParams::default().labels(&format!("{RUN_ID_LABEL}={RUN_ID}")))
            .await
            .unwrap();
        out.extend(list.items.into_iter().map(|o| {
            format!(
                "{} {:?}/{:?}",
                info.kind, o.metadata.namespace, o.metadata.name
            )
        }));
    }
    out
}

#[tokio::test]
#[ignore = "needs Docker"]
async fn kube_backend_lifecycle_on_k3s() {
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
    let kubeconfig = k3s.image().read_kube_config().unwrap();
    let client = client_for(&kubeconfig, port).await;

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
    // The class, Accepted by "its controller" (this test).
    let class_api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &harness::cluster::kube::resources::lookup("GatewayClass")
            .unwrap()
            .resource("v1"),
    );
    let class = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": "gwl4-reference"}, "spec": {"controllerName": "gwl4.dev/reference-gateway"}});
    class_api
        .patch(
            "gwl4-reference",
            &PatchParams::apply("gwl4-test"),
            &Patch::Apply(&class),
        )
        .await
        .unwrap();
    let status = json!({"status": {"conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
        "message": "", "lastTransitionTime": "2026-11-26T07:00:00Z", "observedGeneration": 1}]}});
    class_api
        .patch_status(
            "gwl4-reference",
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await
        .unwrap();

    let timeouts = TimeoutConfig {
        gwc_must_be_accepted: Duration::from_secs(30),
        ..TimeoutConfig::default()
    };
    let settings = KubeSettings {
        kubeconfig: None,
        gateway_class: "gwl4-reference".into(),
        run_id: RUN_ID.into(),
        namespace_labels: BTreeMap::new(),
        namespace_annotations: BTreeMap::new(),
        cleanup: true,
        timeouts,
        local_workloads: None,
    };
    let cluster = KubeCluster::with_client(client.clone(), settings)
        .await
        .unwrap();
    assert_eq!(cluster.served().version("TCPRoute"), Some("v1"));
    let world = cluster.world("lifecycle").await.unwrap();
    let image =
        std::env::var("GWL4_K3S_IMAGE").unwrap_or_else(|_| "rancher/mirrored-pause:3.6".into());
    let mut objects = harness::run::base_objects();
    let manifests = format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: echo, namespace: gateway-conformance-infra}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: echo}}}}
  template:
    metadata: {{labels: {{app: echo}}}}
    spec: {{containers: [{{name: echo, image: "{image}", imagePullPolicy: IfNotPresent}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: echo, namespace: gateway-conformance-infra}}
spec: {{selector: {{app: echo}}, ports: [{{port: 8080, targetPort: 3000}}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: gateway-conformance-infra}}
spec:
  gatewayClassName: gwl4-reference
  listeners: [{{name: tcp, protocol: TCP, port: 9000}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {{name: route, namespace: gateway-conformance-infra}}
spec:
  parentRefs: [{{name: gw, sectionName: tcp}}]
  rules: [{{backendRefs: [{{name: echo, port: 8080}}]}}]
"#
    );
    for d in serde_yaml::Deserializer::from_str(&manifests) {
        objects.push(serde::Deserialize::deserialize(d).unwrap());
    }
    // Returns once the Deployment is available.
    world.apply(objects).await.unwrap();
    let route = world
        .get(&ObjectKey::new(
            "TCPRoute",
            "gateway-conformance-infra",
            "route",
        ))
        .await
        .unwrap()
        .expect("the route exists");
    assert_eq!(route["metadata"]["labels"][RUN_ID_LABEL], RUN_ID);
    assert_eq!(route["metadata"]["generation"], Value::from(1));
    assert!(labelled(&client).await.len() >= 7);

    world.cleanup().await;
    cluster.finish().await;
    assert_eq!(labelled(&client).await, Vec::<String>::new());
}
