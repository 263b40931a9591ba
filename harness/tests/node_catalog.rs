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
//! In CI (`.ci/run`). It used to fail a correct gateway about one run in
//! eight, when gwl4's convergence before a counted or statistical step was
//! one probe, met before the gateway had loaded every backend's endpoints;
//! steps now settle first (`run::steps::settle`).
//!
//! Run (root; containerd, runc and iptables installed; `cargo build -p
//! echo-server -p reference-gateway` done; `KUBE_BUILD_NODE=1
//! tools/kube/build.sh`):
//! `GWL4_IMAGE_BINARIES=target/debug tools/kube/with-node.sh --crds standard
//! cargo test -p harness --test node_catalog -- --ignored --nocapture`.

mod apiserver_support;
mod common;
mod node_support;

use std::collections::BTreeSet;
use std::time::Duration;

use apiserver_support::{assert_catalog_passed, catalog_size, labelled_leftovers};
use common::text;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use node_support::{SYSTEM, gateway_log_tail};

/// Namespaces whose Pods are not gwl4's.
const NOT_GWL4: [&str; 3] = [SYSTEM, "kube-system", "default"];

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a node: tools/kube/with-node.sh --crds standard (by hand, not in CI: README, \"The node tier\")"]
async fn the_catalog_passes_with_echo_backends_as_real_pods() {
    let tier = node_support::tier();
    let client = apiserver_support::client(&tier).await;
    let channel = harness::cluster::kube::crds::detect(&client)
        .await
        .unwrap()
        .channel
        .unwrap_or_default();
    node_support::install_reference_gateway(&client).await;

    let total = catalog_size();

    let watcher = tokio::spawn(ready_echo_pods(client.clone()));
    let dir = tempfile::tempdir().unwrap();
    let begin = tokio::time::Instant::now();
    let out = node_support::run_gwl4(dir.path(), &tier, &["--strict"]).await;
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
    assert_catalog_passed(&output, dir.path(), &channel, total);

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
