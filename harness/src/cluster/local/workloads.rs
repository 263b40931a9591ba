//! Deployments become echo-server processes (one per replica, each on its
//! own address: a loopback one in local mode, or a network namespace of
//! its own beside a real API server, see [`Hosts`]); Services with
//! selectors become EndpointSlices listing the ready replicas, as the
//! EndpointSlice controller would.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::addresses::AddressPool;
use super::netns::{Pod, PodNetwork};
use super::process::{Process, ProcessError};
use super::store::Store;
use crate::cluster::{ClusterError, ObjectKey};

/// Label value marking the EndpointSlices gwl4 writes (a label value may
/// not contain '/': the real API server caught the first choice).
pub const MANAGED_BY: &str = "local.gwl4.dev";

/// One running replica.
#[derive(Debug)]
pub struct Replica {
    /// Pod name (`<deployment>-gwl4-<i>`: upstream strips the last two
    /// segments to get the backend name).
    pub pod: String,
    /// Its address.
    pub address: Ipv4Addr,
    /// Its network namespace, when it has one.
    netns: Option<Pod>,
    process: Process,
}

/// Where replicas run.
#[derive(Debug, Clone, Copy)]
pub enum Hosts<'a> {
    /// On loopback addresses in the host's network namespace (local mode).
    Loopback(&'a AddressPool),
    /// Each in its own network namespace on a bridge (`--workloads local`:
    /// EndpointSlices on a real API server cannot list loopback addresses).
    Namespaces(&'a PodNetwork),
}

impl Hosts<'_> {
    /// An address, and the namespace to run in (None: the host's).
    async fn take(&self) -> Result<(Ipv4Addr, Option<Pod>), ClusterError> {
        match self {
            Hosts::Loopback(pool) => pool
                .allocate()
                .map(|a| (a, None))
                .ok_or_else(|| ClusterError::Setup("no free backend loopback address".into())),
            Hosts::Namespaces(network) => {
                let pod = network.add().await?;
                Ok((pod.address, Some(pod)))
            }
        }
    }

    async fn give_back(&self, address: Ipv4Addr, netns: Option<Pod>) {
        match (self, netns) {
            (Hosts::Namespaces(network), Some(pod)) => network.remove(pod).await,
            (Hosts::Loopback(pool), _) => pool.release(address),
            (Hosts::Namespaces(_), None) => {}
        }
    }
}

/// A Deployment's replicas and the template they were started from.
#[derive(Debug)]
struct Running {
    template: Value,
    replicas: Vec<Replica>,
}

/// The processes behind every Deployment of one world.
#[derive(Debug, Default)]
pub struct Workloads {
    running: BTreeMap<ObjectKey, Running>,
}

/// How to start echo servers.
#[derive(Debug, Clone)]
pub struct EchoLauncher<'a> {
    /// The gwl4 binary (`gwl4 echo-server …`).
    pub program: &'a Path,
    /// The image a Deployment must use to be run as an echo server.
    pub image: &'a str,
    /// Where logs go.
    pub log_dir: &'a Path,
    /// How long a replica may take to start.
    pub timeout: Duration,
}

impl Workloads {
    /// Starts, restarts and stops replicas so they match the store's
    /// Deployments.
    pub async fn reconcile(
        &mut self,
        store: &Store,
        hosts: Hosts<'_>,
        launch: &EchoLauncher<'_>,
    ) -> Result<(), ClusterError> {
        let wanted: BTreeMap<ObjectKey, Value> = store
            .of_kind("Deployment")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let stale: Vec<ObjectKey> = self
            .running
            .iter()
            .filter(|(k, r)| wanted.get(*k).is_none_or(|d| d["spec"] != r.template))
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            if let Some(r) = self.running.remove(&key) {
                stop_all(r.replicas, hosts).await;
            }
        }
        for (key, deployment) in wanted {
            if self.running.contains_key(&key) {
                continue;
            }
            let replicas = start_replicas(&key, &deployment, hosts, launch).await?;
            self.running.insert(
                key,
                Running {
                    template: deployment["spec"].clone(),
                    replicas,
                },
            );
        }
        Ok(())
    }

    /// Ready replicas of the Deployments in `namespace` whose pod labels
    /// match `selector`, with the Deployment's containers.
    fn matching<'a>(
        &'a self,
        store: &'a Store,
        namespace: &'a str,
        selector: &'a serde_json::Map<String, Value>,
    ) -> Vec<(&'a Replica, &'a Value)> {
        let mut out = Vec::new();
        for (key, running) in &self.running {
            if key.namespace != namespace {
                continue;
            }
            let Some(dep) = store.get(key) else { continue };
            let labels = &dep["spec"]["template"]["metadata"]["labels"];
            if !selector.is_empty() && selector.iter().all(|(k, v)| &labels[k] == v) {
                for r in &running.replicas {
                    out.push((r, dep));
                }
            }
        }
        out
    }

    /// EndpointSlices for every Service with a selector.
    pub fn endpoint_slices(&self, store: &Store) -> Vec<Value> {
        let mut slices = Vec::new();
        for (key, svc) in store.of_kind("Service") {
            let Some(selector) = svc["spec"]["selector"].as_object() else {
                continue;
            };
            let pods = self.matching(store, &key.namespace, selector);
            let ports: Vec<Value> = svc["spec"]["ports"]
                .as_array()
                .map(|ports| {
                    ports
                        .iter()
                        .map(|p| slice_port(p, pods.first().map(|(_, d)| *d)))
                        .collect()
                })
                .unwrap_or_default();
            let endpoints: Vec<Value> = pods
                .iter()
                .map(|(r, _)| {
                    json!({"addresses": [r.address.to_string()], "conditions": {"ready": true},
                           "targetRef": {"kind": "Pod", "name": r.pod, "namespace": key.namespace}})
                })
                .collect();
            slices.push(json!({
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {"name": format!("{}-gwl4", key.name), "namespace": key.namespace,
                    "labels": {"kubernetes.io/service-name": key.name, "endpointslice.kubernetes.io/managed-by": MANAGED_BY}},
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": ports,
            }));
        }
        slices
    }

    /// Each replica behind a Service at each of its target ports, as its
    /// EndpointSlice lists them (for direct probes).
    pub fn service_endpoints(
        &self,
        store: &Store,
        namespace: &str,
        service: &str,
    ) -> Vec<SocketAddr> {
        let key = ObjectKey::new("Service", namespace, service);
        let Some(svc) = store.get(&key) else {
            return Vec::new();
        };
        let Some(selector) = svc["spec"]["selector"].as_object() else {
            return Vec::new();
        };
        let pods = self.matching(store, namespace, selector);
        let ports: Vec<u16> = svc["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| slice_port(p, pods.first().map(|(_, d)| *d))["port"].as_u64())
            .filter_map(|p| u16::try_from(p).ok())
            .collect();
        pods.iter()
            .flat_map(|(r, _)| {
                ports
                    .iter()
                    .map(|p| SocketAddr::new(IpAddr::V4(r.address), *p))
            })
            .collect()
    }

    /// Stops everything.
    pub async fn stop(&mut self, hosts: Hosts<'_>) {
        for (_, r) in std::mem::take(&mut self.running) {
            stop_all(r.replicas, hosts).await;
        }
    }
}

/// A slice port for a Service port: the targetPort, resolved by name
/// through the containers' ports when it is a name.
fn slice_port(svc_port: &Value, deployment: Option<&Value>) -> Value {
    let protocol = svc_port["protocol"].as_str().unwrap_or("TCP");
    let port = match &svc_port["targetPort"] {
        Value::Number(n) => n.as_i64(),
        Value::String(name) => deployment.and_then(|d| {
            d["spec"]["template"]["spec"]["containers"]
                .as_array()?
                .iter()
                .find_map(|c| {
                    c["ports"]
                        .as_array()?
                        .iter()
                        .find(|p| p["name"] == name.as_str())
                        .and_then(|p| p["containerPort"].as_i64())
                })
        }),
        _ => svc_port["port"].as_i64(),
    };
    let mut p = json!({"protocol": protocol, "port": port});
    if let Some(name) = svc_port["name"].as_str() {
        p["name"] = json!(name);
    }
    p
}

async fn stop_all(replicas: Vec<Replica>, hosts: Hosts<'_>) {
    let stops = replicas.into_iter().map(|r| async move {
        r.process.stop(Duration::from_secs(2)).await;
        hosts.give_back(r.address, r.netns).await;
    });
    futures::future::join_all(stops).await;
}

async fn start_replicas(
    key: &ObjectKey,
    dep: &Value,
    hosts: Hosts<'_>,
    launch: &EchoLauncher<'_>,
) -> Result<Vec<Replica>, ClusterError> {
    let container = &dep["spec"]["template"]["spec"]["containers"][0];
    let image = container["image"].as_str().unwrap_or("");
    if image != launch.image {
        return Err(ClusterError::Rejected {
            key: key.clone(),
            message: format!(
                "spec.template.spec.containers[0].image: local mode runs only the echo image {:?} (got {image:?}); write {{ECHO_IMAGE}} in suite manifests",
                launch.image
            ),
        });
    }
    let count = dep["spec"]["replicas"].as_u64().unwrap_or(1);
    let mut replicas = Vec::new();
    for i in 0..count {
        let (address, netns) = match hosts.take().await {
            Ok(placed) => placed,
            Err(e) => {
                stop_all(replicas, hosts).await;
                return Err(e);
            }
        };
        let pod = format!("{}-gwl4-{i}", key.name);
        let mut args = vec!["echo-server".to_string()];
        args.extend(
            container["args"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string)),
        );
        args.extend(["--bind".to_string(), address.to_string()]);
        let env = container_env(container, &pod, &key.namespace, address);
        let log = launch
            .log_dir
            .join(format!("{}.{}.log", key.namespace, pod));
        // `ip netns exec` enters the namespace and execs the program, so
        // the pid is the echo server's.
        let (program, args) = match &netns {
            Some(p) => {
                let mut wrapped = vec!["netns".to_string(), "exec".into(), p.netns.clone()];
                wrapped.push(launch.program.display().to_string());
                wrapped.extend(args);
                (Path::new("ip"), wrapped)
            }
            None => (launch.program, args),
        };
        let spawned = async {
            let mut p = Process::spawn(
                &format!("echo backend {}/{pod}", key.namespace),
                program,
                &args,
                &env,
                log,
                "listening",
            )
            .await?;
            p.wait_ready(launch.timeout).await?;
            Ok::<_, ProcessError>(p)
        }
        .await;
        match spawned {
            Ok(process) => replicas.push(Replica {
                pod,
                address,
                netns,
                process,
            }),
            Err(e) => {
                hosts.give_back(address, netns).await;
                stop_all(replicas, hosts).await;
                return Err(ClusterError::Setup(format!(
                    "Deployment {}/{}: {e}",
                    key.namespace, key.name
                )));
            }
        }
    }
    Ok(replicas)
}

/// The container's env with the downward API resolved.
fn container_env(
    container: &Value,
    pod: &str,
    namespace: &str,
    address: Ipv4Addr,
) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for e in container["env"].as_array().into_iter().flatten() {
        let Some(name) = e["name"].as_str() else {
            continue;
        };
        let value = if let Some(v) = e["value"].as_str() {
            v.to_string()
        } else {
            match e
                .pointer("/valueFrom/fieldRef/fieldPath")
                .and_then(Value::as_str)
            {
                Some("metadata.name") => pod.to_string(),
                Some("metadata.namespace") => namespace.to_string(),
                Some("status.podIP") => address.to_string(),
                _ => continue,
            }
        };
        env.push((name.to_string(), value));
    }
    env
}
