//! The kube backend against kube-fake-client (an in-memory API server
//! without watches, which is why the backend polls): CRD and version
//! detection, manifest conversion, apply and cleanup.

mod kube_support;

use std::time::Duration;

use harness::cluster::kube::KubeCluster;
use harness::cluster::kube::resources::RUN_ID_LABEL;
use harness::cluster::{Cluster, ObjectKey, World};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kube_fake_client::ClientBuilder;
use serde_json::json;

use harness::cluster::kube::crds::INSTALL_COMMAND;
use kube_support::*;

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
