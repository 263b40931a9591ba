//! kube-runtime reflectors on every input kind: each keeps a store of
//! the kind's objects and signals a shared [`Notify`] on every event, so the
//! provider can rebuild its snapshot (debounced) from the stores.

use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DynamicObject};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::warn;

use super::resources::{GatewayKind, Objects, ServedVersions};

/// The running reflectors. Dropping this stops them.
pub struct Watchers {
    gateway: Vec<(GatewayKind, Store<DynamicObject>)>,
    services: Store<Service>,
    endpoint_slices: Store<EndpointSlice>,
    namespaces: Store<Namespace>,
    tasks: Vec<JoinHandle<()>>,
}

impl Watchers {
    /// Starts one reflector per kind; each event notifies `changed`.
    pub fn start(client: &Client, versions: &ServedVersions, changed: Arc<Notify>) -> Self {
        let mut tasks = Vec::new();
        let mut gateway = Vec::new();
        for kind in GatewayKind::ALL {
            let resource = versions.resource(kind);
            let writer = reflector::store::Writer::new(resource.clone());
            let store = writer.as_reader();
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
            tasks.push(spawn(api, writer, changed.clone(), kind.plural()));
            gateway.push((kind, store));
        }
        let (services, writer) = reflector::store();
        tasks.push(spawn(
            Api::all(client.clone()),
            writer,
            changed.clone(),
            "services",
        ));
        let (endpoint_slices, writer) = reflector::store();
        tasks.push(spawn(
            Api::all(client.clone()),
            writer,
            changed.clone(),
            "endpointslices",
        ));
        let (namespaces, writer) = reflector::store();
        tasks.push(spawn(
            Api::all(client.clone()),
            writer,
            changed,
            "namespaces",
        ));
        Watchers {
            gateway,
            services,
            endpoint_slices,
            namespaces,
            tasks,
        }
    }

    /// Waits until every store has its initial list.
    pub async fn ready(&self) {
        for (_, store) in &self.gateway {
            let _ = store.wait_until_ready().await;
        }
        let _ = self.services.wait_until_ready().await;
        let _ = self.endpoint_slices.wait_until_ready().await;
        let _ = self.namespaces.wait_until_ready().await;
    }

    /// The stores' current contents.
    pub fn objects(&self) -> Objects {
        let mut objects = Objects::default();
        for (kind, store) in &self.gateway {
            objects
                .gateway
                .extend(store.state().iter().map(|o| (*kind, (**o).clone())));
        }
        objects.services = cloned(&self.services);
        objects.endpoint_slices = cloned(&self.endpoint_slices);
        objects.namespaces = cloned(&self.namespaces);
        objects
    }
}

impl Drop for Watchers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn cloned<K: Resource + Clone>(store: &Store<K>) -> Vec<K>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store.state().iter().map(|o| (**o).clone()).collect()
}

/// Runs a reflector for `api` until aborted; watch errors are logged and
/// retried with kube-runtime's default backoff.
fn spawn<K>(
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    changed: Arc<Notify>,
    what: &'static str,
) -> JoinHandle<()>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Send + Sync,
{
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                // A watch (re)start emits Init, InitApply… InitDone: only
                // the completed view is worth a rebuild.
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                Ok(_) => changed.notify_one(),
                Err(error) => warn!(resource = what, %error, "watch failed; retrying"),
            }
        }
    })
}
