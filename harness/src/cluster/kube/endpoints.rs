//! Waiting until a Service's EndpointSlices list every Ready Pod it selects
//! (`--workloads cluster`). A Deployment is Available once its Pods are
//! Ready, but the cluster's EndpointSlice controller publishes them a moment
//! later; a gateway that reads EndpointSlices rejects a backend that has none
//! yet, as it should. Seen on the node tier: the first milliseconds of a
//! weighted split were reset because one backend's slice still lagged, and
//! gwl4 judged a correct gateway on a world that had not converged. So a
//! test's steps start only once every selector Service it applied lists its
//! Pods as ready endpoints.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::forward::pod_ready;
use crate::cluster::{ClusterError, ObjectKey};

/// `k=v,k2=v2` for a Service's `spec.selector`; `None` when it has none
/// (a Service without a selector has EndpointSlices written by hand).
pub fn selector(service: &Value) -> Option<String> {
    let map = service.get("spec")?.get("selector")?.as_object()?;
    if map.is_empty() {
        return None;
    }
    Some(
        map.iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// The addresses of ready endpoints in `slices` (a missing `ready`
/// condition means ready, as the EndpointSlice API says).
pub fn ready_addresses(slices: &[EndpointSlice]) -> BTreeSet<String> {
    slices
        .iter()
        .flat_map(|s| s.endpoints.iter().flatten())
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false))
        .flat_map(|e| e.addresses.iter().cloned())
        .collect()
}

/// The IPs of `pods` that are Ready and not being deleted.
pub fn ready_pod_ips(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter()
        .filter(|p| pod_ready(p))
        .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
        .collect()
}

/// Waits up to `timeout` until every Ready Pod `service` selects is a ready
/// endpoint in its EndpointSlices, polling every `poll`.
pub async fn wait_published(
    client: &kube::Client,
    key: &ObjectKey,
    service: &Value,
    timeout: Duration,
    poll: Duration,
) -> Result<(), ClusterError> {
    let Some(selector) = selector(service) else {
        return Ok(());
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), &key.namespace);
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &key.namespace);
    let by_service = format!("kubernetes.io/service-name={}", key.name);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let list_error = |e: kube::Error| ClusterError::Setup(super::retry::describe(key, &e));
        let ready = ready_pod_ips(
            &pods
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(list_error)?
                .items,
        );
        let published = ready_addresses(
            &slices
                .list(&ListParams::default().labels(&by_service))
                .await
                .map_err(list_error)?
                .items,
        );
        let missing: Vec<&String> = ready.difference(&published).collect();
        if missing.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ClusterError::Setup(format!(
                "{key}: its EndpointSlices do not list the Ready Pods {missing:?} as ready \
                 endpoints after {timeout:?} (NamespacesMustBeReady); the cluster's \
                 EndpointSlice controller should publish them"
            )));
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_service_without_a_selector_needs_no_wait() {
        assert_eq!(selector(&json!({"spec": {}})), None);
        assert_eq!(selector(&json!({"spec": {"selector": {}}})), None);
        assert_eq!(
            selector(&json!({"spec": {"selector": {"app": "tcp-v1", "tier": "a"}}})).as_deref(),
            Some("app=tcp-v1,tier=a")
        );
    }

    #[test]
    fn only_ready_endpoints_and_ready_pods_count() {
        let slice: EndpointSlice = serde_json::from_value(json!({
            "metadata": {"name": "s"},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.0.0.1"], "conditions": {"ready": true}},
                {"addresses": ["10.0.0.2"], "conditions": {"ready": false}},
                {"addresses": ["10.0.0.3"]},
            ],
        }))
        .unwrap();
        let published = ready_addresses(&[slice]);
        assert_eq!(
            published.into_iter().collect::<Vec<_>>(),
            ["10.0.0.1", "10.0.0.3"]
        );
        let pod = |ip: &str, ready: &str, deleting: bool| -> Pod {
            let mut p = json!({
                "metadata": {"name": ip},
                "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": ready}]},
            });
            if deleting {
                p["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
            }
            serde_json::from_value(p).unwrap()
        };
        let ips = ready_pod_ips(&[
            pod("10.0.0.1", "True", false),
            pod("10.0.0.2", "False", false),
            pod("10.0.0.4", "True", true),
        ]);
        assert_eq!(ips.into_iter().collect::<Vec<_>>(), ["10.0.0.1"]);
    }
}
