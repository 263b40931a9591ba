//! The node tier (`tools/kube/with-node.sh`, issue #22) for the tests that
//! run on it: its environment, the reference gateway installed in it from
//! `manifests/reference-gateway/` as a user would, and that gateway's log.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;

use crate::apiserver_support::{self, Tier};

/// The namespace the manifests install the reference gateway into.
pub const SYSTEM: &str = "gwl4-system";

/// The image the node tier builds from the echo server's binary.
pub const ECHO_IMAGE: &str = "ghcr.io/gwl4/echo-server:local";

/// The tier's kubeconfigs, or a panic saying how to get a node.
pub fn tier() -> Tier {
    assert!(
        std::env::var_os("GWL4_NODE_DIR").is_some(),
        "GWL4_NODE_DIR is not set: run this test under tools/kube/with-node.sh --crds standard \
         (see tools/kube/README.md, \"A node\"), as .ci/run does"
    );
    apiserver_support::tier()
}

/// Runs gwl4 in `dir` (common::run_in) as a user would against this
/// cluster: the reference gateway's class, the node's echo image, the
/// tier's admin kubeconfig, then `extra`; off the async runtime.
pub async fn run_gwl4(dir: &Path, tier: &Tier, extra: &[&str]) -> Output {
    let dir = dir.to_owned();
    let kubeconfig = tier.kubeconfig.clone();
    let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut args = vec![
            "--gateway-class",
            "gwl4-reference",
            "--echo-image",
            ECHO_IMAGE,
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ];
        args.extend(extra.iter().map(String::as_str));
        crate::common::run_in(&dir, &args)
    })
    .await
    .unwrap()
}

/// Applies every manifest of `manifests/reference-gateway/` (in file name
/// order) and waits until the Deployment is Available and the class
/// Accepted. Applying again is harmless (server-side apply).
pub async fn install_reference_gateway(client: &kube::Client) {
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/reference-gateway");
    let mut files: Vec<_> = std::fs::read_dir(&manifests)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    for file in &files {
        apply_file(client, file).await;
    }
    wait_gateway_ready(client).await;
}

/// Server-side applies every document of `file`, as `kubectl apply
/// --server-side -f file` would.
pub async fn apply_file(client: &kube::Client, file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    for doc in apiserver_support::accounts::documents(&text) {
        apiserver_support::accounts::apply(client, &doc, false).await;
    }
}

/// Waits until the Deployment is Available and the class Accepted.
pub async fn wait_gateway_ready(client: &kube::Client) {
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

/// The last lines the in-cluster reference gateway logged (the kubelet's
/// pod logs under the node's directory).
pub fn gateway_log_tail() -> String {
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
fn walkdir(dir: &Path) -> Vec<PathBuf> {
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
