//! One test's view of a real cluster: server-side apply with the `gwl4`
//! field manager, every object labelled with the run id and recorded for
//! deletion, Deployments waited on until available and their Services until
//! their EndpointSlices list the Pods ([`super::endpoints`]) (or, with
//! `--workloads local`, run by gwl4 itself: see [`super::pods`]), status
//! read by GET whenever the run's watches report a change
//! ([`super::changes`]).
//!
//! An apply is all or nothing: every object is first sent as a server-side
//! dry run, so a manifest the API server rejects (a CRD's CEL rule, say)
//! fails the step before any object of it exists.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use super::KubeSettings;
use super::crds::Served;
use super::forward::{self, Forwards};
use super::ledger::{self, Created, Ledger};
use super::pods::{Pods, WorldPods};
use super::resources::{self, FIELD_MANAGER, KindInfo, RUN_ID_LABEL};
use crate::cluster::{ClusterError, ObjectKey, World};

/// One test's world in kube mode.
pub struct KubeWorld {
    pub(super) client: kube::Client,
    pub(super) settings: Arc<KubeSettings>,
    pub(super) served: Arc<Served>,
    /// The run's ledger: namespaces the run created.
    pub(super) run_ledger: Arc<Ledger>,
    /// The run's list of what could not be deleted.
    pub(super) left_behind: Arc<Mutex<Vec<String>>>,
    pub(super) controller: Option<String>,
    /// This test's objects (namespaces excepted: they belong to the run).
    pub(super) ledger: Arc<Ledger>,
    pub(super) forwards: tokio::sync::Mutex<HashMap<(String, String), Forwards>>,
    pub(super) notes: Mutex<Vec<String>>,
    /// `--workloads local`: the run's pod network.
    pub(super) pods: Option<Arc<Pods>>,
    /// `--workloads local`: this test's replicas.
    pub(super) world_pods: Option<WorldPods>,
    /// The run's watches, and this world's place in their events.
    pub(super) changes: Arc<super::changes::Changes>,
    pub(super) changed: tokio::sync::Mutex<tokio::sync::watch::Receiver<u64>>,
}

impl std::fmt::Debug for KubeWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // kube::Client has no Debug.
        f.debug_struct("KubeWorld")
            .field("served", &self.served)
            .field("ledger", &self.ledger)
            .finish_non_exhaustive()
    }
}

/// A manifest checked and ready to apply.
struct Prepared {
    key: ObjectKey,
    info: &'static KindInfo,
    version: String,
    body: Value,
}

impl KubeWorld {
    fn api(&self, info: &KindInfo, version: &str, namespace: &str) -> Api<DynamicObject> {
        let resource = info.resource(version);
        if info.namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &resource)
        } else {
            Api::all_with(self.client.clone(), &resource)
        }
    }

    /// The kind's table entry and the version in use, or a rejection.
    fn kind(&self, key: &ObjectKey) -> Result<(&'static KindInfo, String), ClusterError> {
        let info = resources::lookup(&key.kind).ok_or_else(|| ClusterError::Rejected {
            key: key.clone(),
            message: format!(
                "kind: {} is not a kind kube mode handles (known: {})",
                key.kind,
                resources::known_kinds()
            ),
        })?;
        let version = if info.is_gateway_api() {
            self.served
                .version(info.kind)
                .ok_or_else(|| ClusterError::Rejected {
                    key: key.clone(),
                    message: format!(
                        "the cluster serves no {} CRD; install the Gateway API CRDs: {}",
                        info.kind,
                        super::crds::INSTALL_COMMAND
                    ),
                })?
                .to_string()
        } else {
            info.version.to_string()
        };
        Ok((info, version))
    }

    /// Checks one manifest and converts it to the served version.
    fn prepare(&self, manifest: &Value) -> Result<Prepared, ClusterError> {
        let key = ObjectKey::of(manifest, "default");
        let reject = |message: String| ClusterError::Rejected {
            key: key.clone(),
            message,
        };
        if key.name.is_empty() {
            return Err(reject("metadata.name: required".into()));
        }
        let (info, mut version) = self.kind(&key)?;
        let body = self.served.convert(manifest).map_err(reject)?;
        if info.is_gateway_api()
            && let Some((_, written)) = body["apiVersion"].as_str().and_then(|a| a.split_once('/'))
            && self.served.serves(info.kind, written)
        {
            version = written.to_string();
        }
        let wanted = info.resource(&version).api_version;
        if body["apiVersion"].as_str() != Some(wanted.as_str()) {
            return Err(reject(format!(
                "apiVersion: {} is not served for {}; use {wanted}",
                body["apiVersion"], key.kind
            )));
        }
        Ok(Prepared {
            key,
            info,
            version,
            body,
        })
    }

    /// Server-side applies one prepared object (with `dry_run`, only
    /// checks that the API server would accept it).
    async fn apply_one(
        &self,
        p: &Prepared,
        labelled: bool,
        dry_run: bool,
    ) -> Result<(), ClusterError> {
        let mut body = p.body.clone();
        if p.info.namespaced {
            body["metadata"]["namespace"] = Value::String(p.key.namespace.clone());
        }
        if labelled {
            body["metadata"]["labels"][RUN_ID_LABEL] = Value::String(self.settings.run_id.clone());
        }
        let api = self.api(p.info, &p.version, &p.key.namespace);
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        params.dry_run = dry_run;
        api.patch(&p.key.name, &params, &Patch::Apply(&body))
            .await
            .map_err(|e| api_error(&p.key, e))?;
        Ok(())
    }

    /// Records one prepared object for deletion, then applies it.
    async fn apply_recorded_prepared(&self, p: &Prepared) -> Result<(), ClusterError> {
        // Recorded before the request, so a Ctrl-C mid-apply still deletes it.
        self.ledger.record(Created {
            resource: p.info.resource(&p.version),
            namespace: p.key.namespace.clone(),
            name: p.key.name.clone(),
        });
        self.apply_one(p, true, false).await
    }

    /// Checks, records and applies one manifest of gwl4's own (an
    /// EndpointSlice of `--workloads local`).
    pub(super) async fn apply_recorded(&self, manifest: &Value) -> Result<(), ClusterError> {
        let p = self.prepare(manifest)?;
        self.apply_recorded_prepared(&p).await
    }

    /// Creates (or labels) a Namespace. One that existed before the run is
    /// applied without the run-id label and never deleted; one the run
    /// creates gets the label, `--namespace-labels`/`--namespace-annotations`,
    /// and is deleted at the end of the run.
    async fn apply_namespace(&self, mut p: Prepared) -> Result<(), ClusterError> {
        let name = p.key.name.clone();
        let api = self.api(p.info, &p.version, "");
        let existing = api.get_opt(&name).await.map_err(|e| api_error(&p.key, e))?;
        let ours = match &existing {
            None => true,
            Some(ns) => {
                ns.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(RUN_ID_LABEL))
                    == Some(&self.settings.run_id)
            }
        };
        if ours {
            for (k, v) in &self.settings.namespace_labels {
                p.body["metadata"]["labels"][k] = json!(v);
            }
            for (k, v) in &self.settings.namespace_annotations {
                p.body["metadata"]["annotations"][k] = json!(v);
            }
        }
        let resource = p.info.resource(&p.version);
        self.apply_one(&p, ours, false).await?;
        if ours {
            self.run_ledger.record(Created {
                resource,
                namespace: String::new(),
                name,
            });
        }
        Ok(())
    }

    /// Reads a Deployment until it is available.
    async fn wait_available(&self, key: &ObjectKey, version: &str) -> Result<(), ClusterError> {
        let info = resources::lookup("Deployment").expect("Deployment is in the table");
        let api = self.api(info, version, &key.namespace);
        let timeout = self.settings.timeouts.namespaces_must_be_ready;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let obj = api
                .get_opt(&key.name)
                .await
                .map_err(|e| api_error(key, e))?
                .ok_or_else(|| ClusterError::NotFound(key.clone()))?;
            let value = serde_json::to_value(&obj).unwrap_or_default();
            if deployment_available(&value) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClusterError::Setup(format!(
                    "{key} is not available after {timeout:?} (NamespacesMustBeReady); status: {}",
                    value.get("status").unwrap_or(&Value::Null)
                )));
            }
            self.changed(
                self.settings
                    .timeouts
                    .default_poll_interval
                    .max(Duration::from_millis(250)),
            )
            .await;
        }
    }

    fn note(&self, line: String) {
        self.notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }
}

/// Whether a Deployment (as JSON) has rolled out and all replicas are available.
pub fn deployment_available(d: &Value) -> bool {
    let wanted = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let generation = d
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let status = |f: &str| d.pointer(&format!("/status/{f}")).and_then(Value::as_i64);
    status("observedGeneration").unwrap_or(0) >= generation
        && status("updatedReplicas").unwrap_or(0) >= wanted
        && status("availableReplicas").unwrap_or(0) >= wanted
}

/// An API error as a cluster error naming the object.
fn api_error(key: &ObjectKey, e: kube::Error) -> ClusterError {
    // An outage that outlasted the retries is not the API's verdict on
    // the object.
    if let Some(outage) = super::retry::outage(&e) {
        return ClusterError::Setup(format!("{key}: {outage}"));
    }
    match e {
        kube::Error::Api(s) if s.code == 404 => ClusterError::NotFound(key.clone()),
        kube::Error::Api(s) => ClusterError::Rejected {
            key: key.clone(),
            message: s.message,
        },
        other => ClusterError::Setup(format!("{key}: {other}")),
    }
}

impl World for KubeWorld {
    async fn apply(&self, manifests: Vec<Value>) -> Result<(), ClusterError> {
        let mut prepared = Vec::with_capacity(manifests.len());
        for m in &manifests {
            prepared.push(self.prepare(m)?);
        }
        // Namespaces first, so the objects in them can be created.
        let (namespaces, objects): (Vec<_>, Vec<_>) = prepared
            .into_iter()
            .partition(|p| p.info.kind == "Namespace");
        for p in namespaces {
            self.apply_namespace(p).await?;
        }
        // All or nothing: the API server checks every object (schema, CEL,
        // admission) before any is created.
        for p in &objects {
            self.apply_one(p, true, true).await?;
        }
        for p in &objects {
            self.apply_recorded_prepared(p).await?;
        }
        let keys: Vec<ObjectKey> = objects.iter().map(|p| p.key.clone()).collect();
        if self.pods.is_some() {
            // Nothing on the API server rolls Deployments out: gwl4 runs them.
            return self.sync_pods(&keys).await;
        }
        for p in objects.iter().filter(|p| p.info.kind == "Deployment") {
            self.wait_available(&p.key, &p.version).await?;
        }
        for p in objects.iter().filter(|p| p.info.kind == "Service") {
            super::endpoints::wait_published(
                &self.client,
                &p.key,
                &p.body,
                self.settings.timeouts.namespaces_must_be_ready,
                Duration::from_millis(100),
            )
            .await?;
        }
        Ok(())
    }

    async fn patch(&self, key: &ObjectKey, patch: &Value) -> Result<(), ClusterError> {
        let (info, version) = self.kind(key)?;
        let api = self.api(info, &version, &key.namespace);
        api.patch(&key.name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(|e| api_error(key, e))?;
        self.sync_pods(std::slice::from_ref(key)).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), ClusterError> {
        let (info, version) = self.kind(key)?;
        let api = self.api(info, &version, &key.namespace);
        if api
            .get_opt(&key.name)
            .await
            .map_err(|e| api_error(key, e))?
            .is_none()
        {
            return Err(ClusterError::NotFound(key.clone()));
        }
        let created = Created {
            resource: info.resource(&version),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        };
        ledger::delete(
            &self.client,
            &created,
            self.settings.timeouts.delete_timeout,
            Some(&self.changes),
        )
        .await
        .map_err(ClusterError::Setup)?;
        self.ledger.forget(&key.kind, &key.namespace, &key.name);
        self.sync_pods(std::slice::from_ref(key)).await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Value>, ClusterError> {
        let (info, version) = self.kind(key)?;
        let api = self.api(info, &version, &key.namespace);
        let obj = api
            .get_opt(&key.name)
            .await
            .map_err(|e| api_error(key, e))?;
        obj.map(|o| serde_json::to_value(o).map_err(|e| ClusterError::Setup(format!("{key}: {e}"))))
            .transpose()
    }

    fn controller_name(&self) -> Option<String> {
        self.controller.clone()
    }

    async fn changed(&self, at_most: Duration) {
        let mut rx = self.changed.lock().await;
        self.changes.changed(&mut rx, at_most).await;
    }

    async fn service_endpoints(&self, namespace: &str, service: &str) -> Vec<SocketAddr> {
        if self.pods.is_some() {
            return self.pod_endpoints(namespace, service).await;
        }
        let mut forwards = self.forwards.lock().await;
        let key = (namespace.to_string(), service.to_string());
        if let Some(f) = forwards.get(&key) {
            return f.addresses.clone();
        }
        match forward::start(&self.client, namespace, service).await {
            Ok(f) => {
                let addresses = f.addresses.clone();
                if addresses.is_empty() {
                    self.note(format!(
                        "Service {namespace}/{service} has no TCP port to port-forward (port-forward carries TCP only)"
                    ));
                }
                forwards.insert(key, f);
                addresses
            }
            Err(e) => {
                self.note(format!("direct probe: {e}"));
                Vec::new()
            }
        }
    }

    fn diagnostics(&self) -> String {
        let notes = self.notes.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = format!(
            "kube mode, GatewayClass {} (controller {}); gateway logs are in the implementation's pods",
            self.settings.gateway_class,
            self.controller.as_deref().unwrap_or("unknown")
        );
        if let Some(world) = &self.world_pods {
            out.push_str(&format!(
                "\necho replicas run by gwl4 (--workloads local); their logs: {}",
                world.log_dir().display()
            ));
        }
        for n in notes.iter() {
            out.push('\n');
            out.push_str(n);
        }
        out
    }

    async fn cleanup(self) {
        for (_, f) in self.forwards.lock().await.drain() {
            for t in f.tasks {
                t.abort();
            }
        }
        self.stop_pods().await;
        if !self.settings.cleanup {
            return;
        }
        let problems = self
            .ledger
            .delete_all(self.settings.timeouts.delete_timeout)
            .await;
        super::record_left_behind(&self.left_behind, problems);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_availability() {
        let d = |status: Value| json!({"metadata": {"generation": 2}, "spec": {"replicas": 2}, "status": status});
        assert!(!deployment_available(&d(json!({}))));
        assert!(!deployment_available(&d(
            json!({"observedGeneration": 1, "updatedReplicas": 2, "availableReplicas": 2})
        )));
        assert!(!deployment_available(&d(
            json!({"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 1})
        )));
        assert!(deployment_available(&d(
            json!({"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2})
        )));
    }
}
