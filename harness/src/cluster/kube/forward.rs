//! Direct backend probes through kube-rs port-forward: when traffic through
//! the gateway fails, the runner probes the backend itself to say which
//! side is broken. A forward listens on 127.0.0.1:0 and carries each
//! accepted connection to a ready pod behind the Service.
//!
//! Port-forward carries TCP only, so UDP-only Service ports get no address.

use std::net::SocketAddr;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;
use kube::api::ListParams;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Forwards to one Service's TCP ports, and the tasks serving them (abort
/// them to stop forwarding).
#[derive(Debug, Default)]
pub struct Forwards {
    /// Local addresses, one per TCP Service port.
    pub addresses: Vec<SocketAddr>,
    /// Accept loops.
    pub tasks: Vec<JoinHandle<()>>,
}

/// Whether a pod is Ready.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        && pod.metadata.deletion_timestamp.is_none()
}

/// The container port a Service port's targetPort means in `pod`.
fn target_port(target: Option<&IntOrString>, port: i32, pod: &Pod) -> Option<u16> {
    let number = match target {
        None => port,
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(name)) => {
            pod.spec
                .as_ref()?
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| p.name.as_deref() == Some(name.as_str()))?
                .container_port
        }
    };
    u16::try_from(number).ok()
}

/// Starts forwards to the first ready pod behind `namespace/service`.
pub async fn start(
    client: &kube::Client,
    namespace: &str,
    service: &str,
) -> Result<Forwards, String> {
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let svc = services
        .get_opt(service)
        .await
        .map_err(|e| format!("reading Service {namespace}/{service}: {e}"))?
        .ok_or_else(|| format!("Service {namespace}/{service} does not exist"))?;
    let spec = svc.spec.unwrap_or_default();
    let selector = spec.selector.unwrap_or_default();
    if selector.is_empty() {
        return Err(format!("Service {namespace}/{service} has no selector"));
    }
    let labels = selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = pods
        .list(&ListParams::default().labels(&labels))
        .await
        .map_err(|e| format!("listing pods of Service {namespace}/{service} ({labels}): {e}"))?;
    let Some(pod) = list.items.into_iter().find(pod_ready) else {
        return Err(format!(
            "Service {namespace}/{service}: no ready pod matches {labels}"
        ));
    };
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let mut out = Forwards::default();
    for p in spec.ports.iter().flatten() {
        if p.protocol.as_deref().unwrap_or("TCP") != "TCP" {
            continue;
        }
        let Some(port) = target_port(p.target_port.as_ref(), p.port, &pod) else {
            continue;
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("port-forward listener: {e}"))?;
        out.addresses
            .push(listener.local_addr().map_err(|e| e.to_string())?);
        let (pods, pod_name) = (pods.clone(), pod_name.clone());
        out.tasks.push(tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(carry(pods.clone(), pod_name.clone(), port, conn));
            }
        }));
    }
    Ok(out)
}

/// One forwarded connection; errors end it (the probe sees a close and
/// reports the backend as not answering, with the log line as detail).
async fn carry(pods: Api<Pod>, pod: String, port: u16, mut conn: TcpStream) {
    let mut forwarder = match pods.portforward(&pod, &[port]).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!("port-forward to pod {pod}:{port}: {e}");
            return;
        }
    };
    let Some(mut upstream) = forwarder.take_stream(port) else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
    drop(upstream);
    let _ = forwarder.join().await;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn named_and_numbered_target_ports() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "echo", "ports": [
                {"name": "tcp", "containerPort": 3000},
                {"name": "udp", "containerPort": 3001, "protocol": "UDP"}]}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
        assert!(pod_ready(&pod));
        assert_eq!(target_port(None, 8080, &pod), Some(8080));
        assert_eq!(
            target_port(Some(&IntOrString::Int(3000)), 8080, &pod),
            Some(3000)
        );
        assert_eq!(
            target_port(Some(&IntOrString::String("tcp".into())), 8080, &pod),
            Some(3000)
        );
        assert_eq!(
            target_port(Some(&IntOrString::String("nope".into())), 8080, &pod),
            None
        );
    }
}
