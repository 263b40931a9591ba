//! The Kubernetes provider: the reference gateway as a controller.
//!
//! The file provider's twin: kube-runtime watchers on every input kind
//! (GatewayClass, Gateway, TCPRoute, UDPRoute, ReferenceGrant, Service,
//! EndpointSlice, Namespace) keep stores; every change (debounced) rebuilds
//! the [`Snapshot`](crate::model::Snapshot), which goes through the same
//! translate → apply (bind failures fed back) path, and the status of every
//! owned object is written to its `status` subresource (see [`status`]:
//! server-side apply with field manager `gwl4-reference-gateway`; route
//! parents of other controllers are preserved).
//!
//! Versions: TCPRoute/UDPRoute are read and written in v1 when the cluster
//! serves it (Gateway API ≥ v1.6), else v1alpha2; ReferenceGrant in v1, else
//! v1beta1 ([`ServedVersions::discover`], from the API's resource list).
//!
//! Addresses (see [`address`]): `--address-source node` for a hostNetwork
//! Deployment (the kind case: listeners bind on the node's address, from
//! the downward API's `status.hostIP`, and Gateways report it), or
//! `--address-source service` behind a LoadBalancer Service (listeners bind
//! on `0.0.0.0`; Gateways report the Service's `status.loadBalancer`
//! addresses), or a literal address (out of cluster), or `--address-source
//! pool:CIDR`: each Gateway its own address from the network (see [`pool`]),
//! so Gateways with listeners on the same port never collide.
//!
//! The client is in-cluster (service account) or, with `--kubeconfig`, from
//! a kubeconfig file, for development out of cluster ([`client`]).

pub mod address;
pub mod pool;
pub mod resources;
pub mod status;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use self::address::Addressing;
use self::pool::{AddressPool, claimants};
use self::resources::{GatewayKind, Objects, ServedVersions};
use self::status::{Written, has_our_parents, plan, release, write_status};
use super::{ReloadMetrics, now, translate_and_apply};
use crate::admin::{Admin, Report};
use crate::dataplane::DataPlane;
use crate::fault::FaultState;
use crate::model::Snapshot;
use crate::status::{Kind, StatusDocument};

/// How long after a failed status write the provider tries again.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// How the provider runs.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    /// Where listeners bind and what Gateways report.
    pub addressing: Addressing,
    /// Quiet time after the last change before rebuilding the snapshot.
    pub debounce: Duration,
}

/// Why the provider could not start or a Kubernetes call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable kubeconfig or in-cluster config.
    #[error("cannot configure the Kubernetes client{}: {message}", .path.as_ref().map(|p| format!(" from {}", p.display())).unwrap_or_default())]
    Config {
        /// `--kubeconfig`, if given.
        path: Option<PathBuf>,
        /// What failed.
        message: String,
    },
    /// API discovery failed.
    #[error("cannot discover {what}: {source}")]
    Discovery {
        /// What was being discovered.
        what: String,
        /// The client's error.
        source: Box<kube::Error>,
    },
    /// A kind is not served in any version this gateway reads.
    #[error(
        "the cluster does not serve {kind} in {versions}: install the Gateway API CRDs \
         (e.g. kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.1/experimental-install.yaml)"
    )]
    NotServed {
        /// The kind.
        kind: &'static str,
        /// The versions looked for.
        versions: String,
    },
    /// An API call failed.
    #[error("cannot {action} {object}: {source}")]
    Api {
        /// `get`, `list`, `apply status of`.
        action: String,
        /// The object or resource.
        object: String,
        /// The client's error.
        source: Box<kube::Error>,
    },
}

/// A Kubernetes client: from `kubeconfig` if given (out of cluster), else
/// inferred (in-cluster service account, or `$KUBECONFIG`).
pub async fn client(kubeconfig: Option<&Path>) -> Result<Client, Error> {
    let config_error = |message: String| Error::Config {
        path: kubeconfig.map(Path::to_owned),
        message,
    };
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| config_error(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| config_error(e.to_string()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| config_error(e.to_string()))?,
    };
    Client::try_from(config).map_err(|e| config_error(e.to_string()))
}

/// The running provider's state between reloads.
pub struct KubeProvider {
    client: Client,
    versions: ServedVersions,
    options: KubeOptions,
    data_plane: Arc<DataPlane>,
    admin: Arc<Admin>,
    metrics: ReloadMetrics,
    /// The snapshot last applied with every status write done, to skip
    /// rebuilds that change nothing translation looks at.
    applied: Option<Snapshot>,
    reloads: u64,
    /// With `--address-source pool:CIDR`: the Gateways' addresses.
    pool: Option<AddressPool>,
}

impl KubeProvider {
    /// A provider over `client`, reading the Gateway API in `versions`.
    pub fn new(
        client: Client,
        versions: ServedVersions,
        options: KubeOptions,
        data_plane: Arc<DataPlane>,
        admin: Arc<Admin>,
        metrics: ReloadMetrics,
    ) -> Self {
        KubeProvider {
            client,
            versions,
            pool: options.addressing.pool.map(AddressPool::new),
            options,
            data_plane,
            admin,
            metrics,
            applied: None,
            reloads: 0,
        }
    }

    /// Watches every input kind and reloads on every (debounced) change
    /// until `shutdown` is cancelled. Ready once the first full view is
    /// applied.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), Error> {
        let changed = Arc::new(Notify::new());
        let watchers = watch::Watchers::start(&self.client, &self.versions, changed.clone());
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = watchers.ready() => {}
        }
        info!(versions = ?self.versions, "watches synced");
        let mut retry = self.reload(&watchers.objects()).await;
        loop {
            let wait_retry = async {
                match retry {
                    true => tokio::time::sleep(RETRY_AFTER).await,
                    false => std::future::pending().await,
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = changed.notified() => {}
                () = wait_retry => {}
            }
            // Debounce: a quiet period with no further event.
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = changed.notified() => {}
                    () = tokio::time::sleep(self.options.debounce) => break,
                }
            }
            retry = self.reload(&watchers.objects()).await;
        }
    }

    /// Translates `objects`, applies the config and writes every status
    /// that changed. Returns whether a status write failed (and so a retry
    /// is due).
    pub async fn reload(&mut self, objects: &Objects) -> bool {
        let started = tokio::time::Instant::now();
        let mut snapshot = objects.snapshot(&self.versions, self.options.addressing.bind_address);
        if let Some(pool) = &mut self.pool {
            snapshot.gateway_addresses = pool.assign(&claimants(&snapshot));
            snapshot.pool_exhausted = Some(pool.exhausted());
        }
        if self.applied.as_ref() == Some(&snapshot) {
            return false;
        }
        let (mut translation, failures) =
            translate_and_apply(&self.data_plane, snapshot.clone(), &FaultState::default());
        self.options
            .addressing
            .rewrite(&mut translation.statuses, &snapshot.services);
        let (statuses, errors) = self.write_statuses(objects, translation.statuses).await;
        self.reloads += 1;
        let failed = !errors.is_empty();
        self.applied = (!failed).then_some(snapshot);
        self.admin.publish(Report {
            statuses,
            config: translation.config,
            bind_failures: failures,
            last_error: failed.then(|| errors.join("; ")),
            reloads: self.reloads,
        });
        self.admin.set_ready(true);
        self.metrics.count(if failed { "error" } else { "ok" });
        let elapsed = started.elapsed();
        self.metrics.duration.observe(elapsed.as_secs_f64());
        info!(
            reload = self.reloads,
            ?elapsed,
            status_errors = errors.len(),
            "config applied"
        );
        failed
    }

    /// Writes each document whose live status differs, and removes our
    /// parent entries from routes we no longer report on. Returns the
    /// stamped documents and the errors.
    async fn write_statuses(
        &self,
        objects: &Objects,
        documents: Vec<StatusDocument>,
    ) -> (Vec<StatusDocument>, Vec<String>) {
        let now = now();
        let live: BTreeMap<(GatewayKind, Option<&str>, &str), _> = objects
            .gateway
            .iter()
            .map(|(kind, o)| {
                let key = (
                    *kind,
                    o.metadata.namespace.as_deref(),
                    o.metadata.name.as_deref().unwrap_or_default(),
                );
                (key, o)
            })
            .collect();
        let mut stamped = Vec::new();
        let mut errors = Vec::new();
        let mut reported = BTreeSet::new();
        for doc in &documents {
            let kind = status::gateway_kind(doc.kind);
            let key = (
                kind,
                doc.metadata.namespace.as_deref(),
                doc.metadata.name.as_str(),
            );
            reported.insert(key);
            let api_version = self.versions.resource(kind).api_version;
            // The store's copy decides whether a write is due; the write
            // itself re-reads the object (the store may lag our last write).
            if let Some(object) = live.get(&key) {
                let planned = plan(object, doc, &api_version, &now);
                if planned.patch.is_none() {
                    stamped.push(planned.stamped);
                    continue;
                }
            }
            match write_status(&self.client, &self.versions, doc, &now).await {
                Ok(Written::Applied(d) | Written::Unchanged(d)) => stamped.push(d),
                Ok(Written::Gone) => {}
                Err(error) => {
                    warn!(%error, "status write failed");
                    errors.push(error.to_string());
                }
            }
        }
        for (&key, object) in &live {
            let (kind, Some(namespace), name) = key else {
                continue;
            };
            let route_kind = match kind {
                GatewayKind::TcpRoute => Kind::TcpRoute,
                GatewayKind::UdpRoute => Kind::UdpRoute,
                _ => continue,
            };
            if reported.contains(&key) || !has_our_parents(object) {
                continue;
            }
            let api_version = self.versions.resource(kind).api_version;
            let doc = release(route_kind, namespace, name, &api_version);
            if let Err(error) = write_status(&self.client, &self.versions, &doc, &now).await {
                warn!(%error, "removing our route parents failed");
                errors.push(error.to_string());
            }
        }
        (stamped, errors)
    }
}
