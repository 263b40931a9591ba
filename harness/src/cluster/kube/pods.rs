//! `--workloads local`: echo replicas beside an API server that runs no
//! Pods (a bare kube-apiserver, as in the `tools/kube` CI tier).
//!
//! Every object is still applied to the API server as usual, but nothing
//! there rolls out Deployments or writes EndpointSlices. So gwl4 mirrors
//! each test's Deployments and Services as the API server returned them
//! (defaults included), runs their replicas itself, each in its own network
//! namespace ([`PodNetwork`]), and writes one EndpointSlice per selector
//! Service to the API server (labels `kubernetes.io/service-name` and
//! `endpointslice.kubernetes.io/managed-by: local.gwl4.dev`, plus the run
//! id), recorded for deletion like every object gwl4 creates. A gateway
//! controller then sees ordinary Services and EndpointSlices.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::ledger::{self, Created};
use super::world::KubeWorld;
use crate::cluster::local::netns::PodNetwork;
use crate::cluster::local::store::Store;
use crate::cluster::local::workloads::{EchoLauncher, Hosts, Workloads};
use crate::cluster::{ClusterError, ObjectKey, World};

/// How `--workloads local` runs echo replicas.
#[derive(Debug, Clone)]
pub struct LocalWorkloads {
    /// The gwl4 binary (`gwl4 echo-server …`).
    pub gwl4: PathBuf,
    /// The image that marks echo Deployments.
    pub echo_image: String,
    /// Where each test's replica logs go (`<dir>/<test>/`).
    pub log_dir: PathBuf,
}

/// The run's pod network and settings.
#[derive(Debug)]
pub struct Pods {
    /// The bridge and namespaces.
    pub network: PodNetwork,
    /// Settings.
    pub settings: LocalWorkloads,
}

/// One test's replicas and the objects they were started from.
#[derive(Debug)]
pub struct WorldPods {
    /// Deployments and Services of the test, as the API server has them.
    store: std::sync::Mutex<Store>,
    workloads: tokio::sync::Mutex<Workloads>,
    /// EndpointSlices written, by key.
    slices: std::sync::Mutex<BTreeSet<ObjectKey>>,
    log_dir: PathBuf,
}

impl WorldPods {
    /// Nothing running yet; logs go under `log_dir`.
    pub fn new(log_dir: PathBuf) -> Result<WorldPods, ClusterError> {
        std::fs::create_dir_all(&log_dir).map_err(|source| ClusterError::Io {
            path: log_dir.display().to_string(),
            source,
        })?;
        Ok(WorldPods {
            store: Default::default(),
            workloads: Default::default(),
            slices: Default::default(),
            log_dir,
        })
    }

    /// Where the replicas' logs are.
    pub fn log_dir(&self) -> &std::path::Path {
        &self.log_dir
    }
}

/// Whether a change to an object of `kind` moves replicas or endpoints.
pub fn concerns_pods(kind: &str) -> bool {
    matches!(kind, "Deployment" | "Service")
}

impl KubeWorld {
    /// After `keys` changed on the API server: mirror them, bring the
    /// replicas in line, and write (or delete) the EndpointSlices.
    pub(super) async fn sync_pods(&self, keys: &[ObjectKey]) -> Result<(), ClusterError> {
        let (Some(pods), Some(world)) = (&self.pods, &self.world_pods) else {
            return Ok(());
        };
        let keys: Vec<&ObjectKey> = keys.iter().filter(|k| concerns_pods(&k.kind)).collect();
        if keys.is_empty() {
            return Ok(());
        }
        let mut fetched = Vec::new();
        for key in keys {
            fetched.push((key.clone(), self.get(key).await?));
        }
        let mut workloads = world.workloads.lock().await;
        let snapshot = {
            let mut store = world.store.lock().unwrap_or_else(|e| e.into_inner());
            for (key, object) in fetched {
                match object {
                    Some(object) => {
                        store.apply(object, &key.namespace, "");
                    }
                    None => {
                        let _ = store.delete(&key);
                    }
                }
            }
            store.clone()
        };
        let launch = EchoLauncher {
            program: &pods.settings.gwl4,
            image: &pods.settings.echo_image,
            log_dir: &world.log_dir,
            timeout: self.settings.timeouts.create_timeout,
        };
        workloads
            .reconcile(&snapshot, Hosts::Namespaces(&pods.network), &launch)
            .await?;
        let slices = workloads.endpoint_slices(&snapshot);
        drop(workloads);
        let wanted: BTreeSet<ObjectKey> = slices.iter().map(|s| ObjectKey::of(s, "")).collect();
        let gone: Vec<ObjectKey> = {
            let mut written = world.slices.lock().unwrap_or_else(|e| e.into_inner());
            let gone = written.difference(&wanted).cloned().collect();
            written.clone_from(&wanted);
            gone
        };
        for key in gone {
            self.delete_slice(&key).await?;
        }
        for slice in slices {
            self.apply_recorded(&slice).await?;
        }
        Ok(())
    }

    async fn delete_slice(&self, key: &ObjectKey) -> Result<(), ClusterError> {
        let info =
            super::resources::lookup("EndpointSlice").expect("EndpointSlice is in the table");
        let created = Created {
            resource: info.resource(info.version),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        };
        ledger::delete(&self.client, &created, Duration::ZERO, None)
            .await
            .map_err(ClusterError::Setup)?;
        self.ledger.forget(&key.kind, &key.namespace, &key.name);
        Ok(())
    }

    /// Replica addresses and ports behind a Service, reached directly.
    pub(super) async fn pod_endpoints(&self, namespace: &str, service: &str) -> Vec<SocketAddr> {
        let Some(world) = &self.world_pods else {
            return Vec::new();
        };
        let workloads = world.workloads.lock().await;
        let store = world.store.lock().unwrap_or_else(|e| e.into_inner());
        workloads.service_endpoints(&store, namespace, service)
    }

    /// Stops this test's replicas and removes their namespaces.
    pub(super) async fn stop_pods(&self) {
        if let (Some(pods), Some(world)) = (&self.pods, &self.world_pods) {
            world
                .workloads
                .lock()
                .await
                .stop(Hosts::Namespaces(&pods.network))
                .await;
        }
    }
}
