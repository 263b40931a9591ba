//! Kubernetes mode: a real cluster from the kubeconfig.
//!
//! At start, [`KubeCluster::connect`] reaches the API server, checks the
//! Gateway API CRDs and the versions they serve, and checks that the
//! GatewayClass exists and is Accepted. Each test's [`KubeWorld`]
//! server-side applies its manifests (field manager `gwl4`, label
//! `gwl4.dev/run-id`), waits for echo Deployments and then for their
//! Services' EndpointSlices to list the Pods ([`endpoints`]), reads status by GET
//! between changes its watches report ([`changes`]; polling where watches
//! are refused), and deletes what it created. Namespaces the run
//! creates are deleted at the end of the run ([`KubeCluster::finish`]);
//! objects in namespaces that existed before are deleted one by one. The
//! Ctrl-C handler reaches everything still alive through
//! [`delete_all_live`].
//!
//! With `--workloads local` ([`pods`]), gwl4 runs the echo replicas itself
//! in network namespaces and writes their EndpointSlices: for an API server
//! with no kubelet or controllers (the `tools/kube` tier).

pub mod changes;
pub mod crds;
pub mod endpoints;
pub mod forward;
pub mod ledger;
pub mod permissions;
pub mod pods;
pub mod resources;
pub mod retry;
pub mod world;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

pub use self::crds::Served;
use self::ledger::Ledger;
pub use self::ledger::delete_all_live;
pub use self::pods::LocalWorkloads;
use self::pods::{Pods, WorldPods};
pub use self::world::KubeWorld;
use super::{Cluster, ClusterError, ObjectKey};
use crate::settings::timeout::TimeoutConfig;

/// How kube mode runs.
#[derive(Debug, Clone)]
pub struct KubeSettings {
    /// `--kubeconfig`; default: `KUBECONFIG`, `~/.kube/config`, then in-cluster.
    pub kubeconfig: Option<PathBuf>,
    /// The GatewayClass under test.
    pub gateway_class: String,
    /// Value of the `gwl4.dev/run-id` label on everything created.
    pub run_id: String,
    /// Labels for namespaces gwl4 creates (`--namespace-labels`).
    pub namespace_labels: BTreeMap<String, String>,
    /// Annotations for namespaces gwl4 creates (`--namespace-annotations`).
    pub namespace_annotations: BTreeMap<String, String>,
    /// Delete what the run created (`--cleanup`, default true).
    pub cleanup: bool,
    /// Timeouts.
    pub timeouts: TimeoutConfig,
    /// `--workloads local`: run echo replicas here instead of on the cluster.
    pub local_workloads: Option<LocalWorkloads>,
}

/// Parses upstream's `key=value,key=value` flag values (already split on
/// commas) into a map; `flag` names the flag in errors.
pub fn parse_pairs(flag: &str, items: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for item in items.iter().filter(|i| !i.trim().is_empty()) {
        let Some((k, v)) = item.split_once('=') else {
            return Err(format!("{flag}: {item:?} is not key=value"));
        };
        if k.trim().is_empty() {
            return Err(format!("{flag}: {item:?} has an empty key"));
        }
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// The kube backend.
pub struct KubeCluster {
    client: kube::Client,
    settings: Arc<KubeSettings>,
    served: Arc<Served>,
    controller: Option<String>,
    /// Namespaces the run created.
    run_ledger: Arc<Ledger>,
    /// What the run could not delete (each test's cleanup adds to it).
    left_behind: Arc<Mutex<Vec<String>>>,
    /// `--workloads local`: the pod network, and the address block it uses.
    pods: Option<(Arc<Pods>, crate::cluster::local::addresses::Block)>,
    /// Watches on the run's objects, which wake waits.
    changes: Arc<changes::Changes>,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // kube::Client has no Debug.
        f.debug_struct("KubeCluster")
            .field("settings", &self.settings)
            .field("served", &self.served)
            .field("controller", &self.controller)
            .finish_non_exhaustive()
    }
}

/// Where the kubeconfig would come from, for messages.
fn kubeconfig_source(explicit: Option<&Path>) -> String {
    if let Some(p) = explicit {
        return format!("--kubeconfig {}", p.display());
    }
    if let Some(env) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        return format!("KUBECONFIG={}", env.to_string_lossy());
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("~"), PathBuf::from);
    format!("{}", home.join(".kube").join("config").display())
}

/// A client that reached the API server, and where it came from.
pub struct Connection {
    /// The client.
    pub client: kube::Client,
    /// The API server's URL.
    pub server: String,
    /// Where the kubeconfig came from (`--kubeconfig FILE`, `KUBECONFIG=…`,
    /// `~/.kube/config`), for messages.
    pub source: String,
    /// The kubeconfig context used, or "in-cluster service account".
    pub context: String,
    /// The API server's version (`gitVersion`).
    pub version: String,
}

/// A client from `--kubeconfig`, or the usual places, once the API server
/// has answered.
pub async fn connect_client(kubeconfig: Option<&Path>) -> Result<Connection, ClusterError> {
    // kube panics when two rustls providers are linked and none is chosen.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let source = kubeconfig_source(kubeconfig);
    let (config, context) = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| {
                ClusterError::Setup(format!(
                    "no cluster reachable: cannot read kubeconfig {}: {e}",
                    path.display()
                ))
            })?;
            let context = kc.current_context.clone().unwrap_or_default();
            let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| ClusterError::Setup(format!("kubeconfig {}: {e}", path.display())))?;
            (config, context)
        }
        None => {
            let config = kube::Config::infer().await.map_err(|e| {
                ClusterError::Setup(format!(
                    "no cluster reachable: no usable kubeconfig (tried {source}) and not running in a cluster ({e}); pass --kubeconfig, or run without --gateway-class for local mode"
                ))
            })?;
            let context = Kubeconfig::read()
                .ok()
                .and_then(|kc| kc.current_context)
                .unwrap_or_else(|| "in-cluster service account".into());
            (config, context)
        }
    };
    let server = config.cluster_url.to_string();
    let client_error =
        |e: kube::Error| ClusterError::Setup(format!("kube client for {server} ({source}): {e}"));
    // Whether the cluster answers at all is asked once, without retries:
    // a wrong kubeconfig fails fast. Every later call retries (retry.rs).
    let mut once = config.clone();
    once.default_retry = false;
    let probe = kube::Client::try_from(once).map_err(client_error)?;
    match tokio::time::timeout(Duration::from_secs(15), probe.apiserver_version()).await {
        Ok(Ok(info)) => Ok(Connection {
            client: retry::client(config).map_err(client_error)?,
            server,
            source,
            context,
            version: info.git_version,
        }),
        Ok(Err(e)) => Err(ClusterError::Setup(format!(
            "no cluster reachable at {server} (kubeconfig {source}): {e}"
        ))),
        Err(_) => Err(ClusterError::Setup(format!(
            "no cluster reachable at {server} (kubeconfig {source}): no answer in 15s"
        ))),
    }
}

impl KubeCluster {
    /// Connects with the kubeconfig from `settings`, then checks the CRDs
    /// and the GatewayClass.
    pub async fn connect(settings: KubeSettings) -> Result<KubeCluster, ClusterError> {
        let connection = connect_client(settings.kubeconfig.as_deref()).await?;
        KubeCluster::with_client(connection.client, settings).await
    }

    /// Checks the CRDs and the GatewayClass through `client` (tests pass a
    /// fake client here).
    pub async fn with_client(
        client: kube::Client,
        settings: KubeSettings,
    ) -> Result<KubeCluster, ClusterError> {
        let served = crds::detect(&client).await?;
        let pods = match &settings.local_workloads {
            Some(local) => {
                let block = crate::cluster::local::addresses::claim_block();
                let network = crate::cluster::local::netns::PodNetwork::create(block.n).await?;
                let pods = Pods {
                    network,
                    settings: local.clone(),
                };
                Some((Arc::new(pods), block))
            }
            None => None,
        };
        let changes = Arc::new(changes::Changes::start(&client, &served, &settings.run_id));
        let run_ledger = Ledger::new(client.clone());
        run_ledger.watch_with(changes.clone());
        let mut cluster = KubeCluster {
            run_ledger,
            changes,
            left_behind: Default::default(),
            client,
            settings: Arc::new(settings),
            served: Arc::new(served),
            controller: None,
            pods,
        };
        let class = match cluster
            .accepted_class(cluster.settings.timeouts.gwc_must_be_accepted)
            .await
        {
            Ok(class) => class,
            Err(e) => {
                cluster.finish().await;
                return Err(e);
            }
        };
        cluster.controller = class
            .pointer("/spec/controllerName")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(cluster)
    }

    /// The served Gateway API versions.
    pub fn served(&self) -> &Served {
        &self.served
    }

    /// The GatewayClass's controllerName.
    pub fn controller(&self) -> Option<&str> {
        self.controller.as_deref()
    }

    /// The GatewayClass once it is Accepted=True, polling up to `timeout`.
    async fn accepted_class(&self, timeout: Duration) -> Result<Value, ClusterError> {
        let name = &self.settings.gateway_class;
        let version = self.served.version("GatewayClass").unwrap_or("v1");
        let info = resources::lookup("GatewayClass").expect("GatewayClass is in the table");
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &info.resource(version));
        let key = ObjectKey::new("GatewayClass", "", name);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let class = api
                .get_opt(name)
                .await
                .map_err(|e| ClusterError::Setup(format!("reading {key}: {e}")))?;
            let Some(class) = class else {
                let existing = class_names(&api).await.join(", ");
                return Err(ClusterError::Setup(format!(
                    "{key} does not exist (GatewayClasses in the cluster: {}); install the implementation or pass --gateway-class",
                    if existing.is_empty() {
                        "none"
                    } else {
                        &existing
                    }
                )));
            };
            let value = serde_json::to_value(&class).unwrap_or_default();
            if condition_true(&value, "Accepted") {
                return Ok(value);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClusterError::Setup(format!(
                    "{key} is not Accepted after {timeout:?} (GWCMustBeAccepted); is its controller ({}) running? status: {}",
                    value
                        .pointer("/spec/controllerName")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    value.get("status").unwrap_or(&Value::Null)
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Deletes the namespaces the run created and waits for them to go.
    /// Call once, after the last test. Returns what could not be deleted,
    /// in any test's cleanup or here, one line each (each also printed as
    /// it happens): empty when the cluster is as gwl4 found it.
    pub async fn finish(&self) -> Vec<String> {
        if let Some((pods, _)) = &self.pods {
            pods.network.destroy().await;
        }
        if self.settings.cleanup {
            let problems = self
                .run_ledger
                .delete_all(self.settings.timeouts.namespaces_must_be_ready)
                .await;
            record_left_behind(&self.left_behind, problems);
        }
        std::mem::take(&mut *self.left_behind.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Prints each cleanup problem and keeps it for the end of the run.
fn record_left_behind(left_behind: &Mutex<Vec<String>>, problems: Vec<String>) {
    for problem in &problems {
        eprintln!("gwl4: cleanup: {problem}");
    }
    left_behind
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend(problems);
}

/// The GatewayClasses there are, for "does not exist" messages (none when
/// they cannot be listed).
pub async fn class_names(api: &Api<DynamicObject>) -> Vec<String> {
    api.list(&Default::default())
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter_map(|c| c.metadata.name)
                .collect()
        })
        .unwrap_or_default()
}

/// A GatewayClass's `status.supportedFeatures`, as names.
pub fn supported_features(class: &Value) -> Vec<String> {
    class
        .pointer("/status/supportedFeatures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        // Gateway API v1.2+ writes objects ({name}); older, plain strings.
        .filter_map(|f| f.get("name").unwrap_or(f).as_str().map(str::to_string))
        .collect()
}

/// Whether `status.conditions` has `type` with status True.
pub fn condition_true(object: &Value, type_: &str) -> bool {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == type_ && c["status"] == "True")
        })
}

impl Cluster for KubeCluster {
    type World = KubeWorld;

    async fn world(&self, name: &str) -> Result<KubeWorld, ClusterError> {
        let world_pods = match &self.pods {
            Some((pods, _)) => Some(WorldPods::new(pods.settings.log_dir.join(name))?),
            None => None,
        };
        let ledger = Ledger::new(self.client.clone());
        ledger.watch_with(self.changes.clone());
        if self.pods.is_none() {
            ledger.foreground_deployments();
        }
        Ok(KubeWorld {
            changed: tokio::sync::Mutex::new(self.changes.subscribe()),
            changes: self.changes.clone(),
            client: self.client.clone(),
            settings: self.settings.clone(),
            served: self.served.clone(),
            run_ledger: self.run_ledger.clone(),
            left_behind: self.left_behind.clone(),
            controller: self.controller.clone(),
            ledger,
            forwards: tokio::sync::Mutex::new(Default::default()),
            notes: Mutex::new(Vec::new()),
            pods: self.pods.as_ref().map(|(p, _)| p.clone()),
            world_pods,
        })
    }

    async fn class_features(
        &self,
        _class: &str,
        timeout: Duration,
    ) -> Result<Option<Vec<String>>, ClusterError> {
        let class = self.accepted_class(timeout).await?;
        let names = supported_features(&class);
        Ok((!names.is_empty()).then_some(names))
    }

    fn gateway_api(&self) -> Option<(String, String)> {
        Some((
            self.served.bundle_version.clone()?,
            self.served.channel.clone()?,
        ))
    }

    fn cannot_hold(&self, manifests: &[Value]) -> Option<String> {
        manifests.iter().find_map(|m| self.served.unexpressible(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_label_flags_parse_as_upstream() {
        let m = parse_pairs("--namespace-labels", &["a=1".into(), "b = x=y".into()]).unwrap();
        assert_eq!(m["a"], "1");
        assert_eq!(m["b"], "x=y");
        let e = parse_pairs("--namespace-labels", &["novalue".into()]).unwrap_err();
        assert!(e.starts_with("--namespace-labels: \"novalue\""), "{e}");
    }
}
