//! The whole catalog through real Pods (issue #22): on the node tier
//! (`tools/kube/with-node.sh`: a kube-apiserver, kube-controller-manager,
//! kube-scheduler, a kubelet on containerd and kube-proxy, all on this
//! machine), the reference gateway is installed from
//! `manifests/reference-gateway/` exactly as a user would install it (its
//! namespace, ServiceAccount and ClusterRole, and a `hostNetwork`
//! Deployment that becomes a Pod running the image built from the
//! reference gateway's binary), and gwl4 runs with its defaults for a
//! cluster: `--workloads cluster`, so every echo backend is a Deployment
//! the cluster rolls out into Pods, its EndpointSlices written by the
//! EndpointSlice controller, and backends probed through port-forward when
//! a check fails. Every test must pass `--strict`, as through the API server
//! tier with `--workloads local` (apiserver_catalog.rs); on the standard
//! channel the two v1alpha2 multi-rule tests are skipped as unexpressible.
//! Echo Pods must really have run (a watcher counts the Ready ones), and
//! afterwards nothing gwl4 labelled is left in the API server and no echo
//! Pod remains.
//!
//! Run (root; containerd, runc and iptables installed; `cargo build -p
//! echo-server -p reference-gateway` done; `KUBE_BUILD_NODE=1
//! tools/kube/build.sh`):
//! `GWL4_IMAGE_BINARIES=target/debug tools/kube/with-node.sh --crds standard
//! cargo test -p harness --test node_catalog -- --ignored --nocapture`.

mod apiserver_support;
mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use apiserver_support::labelled_leftovers;
use common::text;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{GroupVersionKind, TypeMeta};
use kube::discovery::Scope;
use serde::Deserialize;
use serde_json::Value;

/// The namespace the manifests install the reference gateway into.
const SYSTEM: &str = "gwl4-system";

/// Namespaces whose Pods are not gwl4's.
const NOT_GWL4: [&str; 3] = [SYSTEM, "kube-system", "default"];

/// The image the node tier builds from the echo server's binary.
const ECHO_IMAGE: &str = "ghcr.io/gwl4/echo-server:local";

/// Tests whose v1alpha2 routes have two rules: not expressible where only
/// v1 is served.
const MULTI_RULE: [&str; 2] = ["TCPRouteMultipleRules", "UDPRouteMultipleRules"];

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a node: tools/kube/with-node.sh --crds standard (run by .ci/run)"]
async fn the_catalog_passes_with_echo_backends_as_real_pods() {
    assert!(
        std::env::var_os("GWL4_NODE_DIR").is_some(),
        "GWL4_NODE_DIR is not set: run this test under tools/kube/with-node.sh --crds standard \
         (see tools/kube/README.md, \"A node\"), as .ci/run does"
    );
    let tier = apiserver_support::tier();
    let client = apiserver_support::client(&tier).await;
    let channel = harness::cluster::kube::crds::detect(&client)
        .await
        .unwrap()
        .channel
        .unwrap_or_default();

    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/reference-gateway");
    let mut files: Vec<_> = std::fs::read_dir(&manifests)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    for file in &files {
        apply_file(&client, file).await;
    }
    wait_gateway_ready(&client).await;

    let listed = common::gwl4().arg("--list").output().unwrap();
    let total = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|l| l.ends_with(": test"))
        .count();
    assert!(total > 50, "catalog listing:\n{}", text(&listed));

    let watcher = tokio::spawn(ready_echo_pods(client.clone()));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = tier.kubeconfig.clone();
    let begin = tokio::time::Instant::now();
    let out = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || {
            common::run_in(
                &dir,
                &[
                    "--gateway-class",
                    "gwl4-reference",
                    "--echo-image",
                    ECHO_IMAGE,
                    "--kubeconfig",
                    kubeconfig.to_str().unwrap(),
                    "--strict",
                ],
            )
        }
    })
    .await
    .unwrap();
    let wall = begin.elapsed();
    watcher.abort();
    let seen = watcher.await.unwrap_err();
    assert!(seen.is_cancelled());
    let output = text(&out);
    println!("{output}");
    println!(
        "catalog through real Pods ({channel} channel, --workloads cluster, in-cluster reference gateway): {total} tests in {wall:.1?}"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "gwl4 failed; the reference gateway's log tail:\n{}",
        gateway_log_tail()
    );
    let skipped = if channel == "standard" {
        MULTI_RULE.len()
    } else {
        0
    };
    for summary in [
        format!("{} passed, 0 failed, 0 warnings", total - skipped),
        format!("0 not supported, {skipped} skipped"),
    ] {
        assert!(output.contains(&summary), "want {summary:?}");
    }

    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("gwl4-reports/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["run"]["gatewayAPIChannel"], channel.as_str());

    let pods = READY_PODS.lock().unwrap().clone();
    println!(
        "echo Pods seen Ready during the run: {} in {} namespaces",
        pods.len(),
        pods.iter()
            .map(|p| p.split('/').next().unwrap())
            .collect::<BTreeSet<_>>()
            .len()
    );
    // Every test has at least one echo backend; the shared infrastructure
    // namespaces alone hold several.
    assert!(pods.len() >= 10, "too few echo Pods became Ready: {pods:?}");

    assert_eq!(labelled_leftovers(&client).await, Vec::<String>::new());
    assert_eq!(echo_pods(&client).await, Vec::<String>::new());
    assert!(
        common::processes_of(dir.path()).is_empty(),
        "gwl4's children still run"
    );
}

/// Server-side applies every document of `file`, as `kubectl apply
/// --server-side -f file` would.
async fn apply_file(client: &kube::Client, file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let object = Value::deserialize(doc).unwrap();
        if object.is_null() {
            continue;
        }
        let types: TypeMeta = serde_json::from_value(object.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let gvk = GroupVersionKind::try_from(&types).unwrap();
        let (resource, caps) = kube::discovery::pinned_kind(client, &gvk)
            .await
            .unwrap_or_else(|e| panic!("{}: {} is not served: {e}", file.display(), types.kind));
        let name = object["metadata"]["name"].as_str().unwrap();
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => {
                let namespace = object["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("default");
                Api::namespaced_with(client.clone(), namespace, &resource)
            }
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        api.patch(
            name,
            &PatchParams::apply("gwl4-node-test").force(),
            &Patch::Apply(&object),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: applying {} {name}: {e}", file.display(), types.kind));
    }
}

/// Waits until the Deployment is Available and the class Accepted.
async fn wait_gateway_ready(client: &kube::Client) {
    let deployments: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        SYSTEM,
        &kube::api::ApiResource::from_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment")),
    );
    let info = harness::cluster::kube::resources::lookup("GatewayClass").unwrap();
    let classes: Api<DynamicObject> = Api::all_with(client.clone(), &info.resource("v1"));
    for _ in 0..240 {
        let deployment =
            serde_json::to_value(deployments.get("reference-gateway").await.unwrap()).unwrap();
        let class = serde_json::to_value(classes.get("gwl4-reference").await.unwrap()).unwrap();
        if harness::cluster::kube::world::deployment_available(&deployment)
            && harness::cluster::kube::condition_true(&class, "Accepted")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!(
        "the reference gateway's Deployment was not Available with its class Accepted after 120 s; its log:\n{}",
        gateway_log_tail()
    );
}

/// Pods (`namespace/name`) seen Ready in gwl4's namespaces, filled by
/// [`ready_echo_pods`] until it is aborted.
static READY_PODS: std::sync::Mutex<BTreeSet<String>> = std::sync::Mutex::new(BTreeSet::new());

/// Lists Pods every 250 ms and records the Ready ones outside
/// [`NOT_GWL4`]; runs until aborted.
async fn ready_echo_pods(client: kube::Client) {
    let pods: Api<Pod> = Api::all(client);
    loop {
        if let Ok(list) = pods.list(&ListParams::default()).await {
            for pod in list.items {
                let namespace = pod.metadata.namespace.clone().unwrap_or_default();
                if NOT_GWL4.contains(&namespace.as_str())
                    || !harness::cluster::kube::forward::pod_ready(&pod)
                {
                    continue;
                }
                let name = pod.metadata.name.clone().unwrap_or_default();
                READY_PODS
                    .lock()
                    .unwrap()
                    .insert(format!("{namespace}/{name}"));
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Pods still in gwl4's namespaces.
async fn echo_pods(client: &kube::Client) -> Vec<String> {
    let pods: Api<Pod> = Api::all(client.clone());
    pods.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| {
            let namespace = p.metadata.namespace.unwrap_or_default();
            (!NOT_GWL4.contains(&namespace.as_str()))
                .then(|| format!("{namespace}/{}", p.metadata.name.unwrap_or_default()))
        })
        .collect()
}

/// The last lines the in-cluster reference gateway logged (the kubelet's
/// pod logs under the node's directory).
fn gateway_log_tail() -> String {
    let Some(node) = std::env::var_os("GWL4_NODE_DIR") else {
        return String::new();
    };
    let logs = Path::new(&node).join("pod-logs");
    let mut found = Vec::new();
    for entry in walkdir(&logs) {
        let name = entry.to_string_lossy();
        if name.contains("gwl4-system_reference-gateway") && name.ends_with(".log") {
            found.push(entry);
        }
    }
    found.sort();
    let Some(last) = found.last() else {
        return format!("(no log under {})", logs.display());
    };
    let text = std::fs::read_to_string(last).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Every file under `dir`.
fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walkdir(&path));
        } else {
            out.push(path);
        }
    }
    out
}
