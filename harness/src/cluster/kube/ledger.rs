//! What a run created, and deleting it: per world at the end of each test,
//! per run at the end (namespaces the run created), and from the Ctrl-C
//! handler, which reaches every live ledger through a process-wide list.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject};

use super::changes::Changes;

/// One object gwl4 created.
#[derive(Debug, Clone)]
pub struct Created {
    /// Where it lives in the API.
    pub resource: ApiResource,
    /// Namespace; empty for cluster-scoped kinds.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl Created {
    fn api(&self, client: &kube::Client) -> Api<DynamicObject> {
        if self.namespace.is_empty() {
            Api::all_with(client.clone(), &self.resource)
        } else {
            Api::namespaced_with(client.clone(), &self.namespace, &self.resource)
        }
    }

    fn same(&self, other: &Created) -> bool {
        self.resource.kind == other.resource.kind
            && self.namespace == other.namespace
            && self.name == other.name
    }
}

impl std::fmt::Display for Created {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.resource.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.resource.kind, self.namespace, self.name)
        }
    }
}

/// Objects to delete, in creation order.
pub struct Ledger {
    client: kube::Client,
    objects: Mutex<Vec<Created>>,
    /// The run's watches, when it has them.
    changes: std::sync::OnceLock<Arc<Changes>>,
    /// Delete Deployments in the foreground (see [`Ledger::foreground_deployments`]).
    foreground: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // kube::Client has no Debug.
        f.debug_struct("Ledger")
            .field("objects", &self.objects)
            .finish_non_exhaustive()
    }
}

/// Every live ledger, for the interrupt handler.
static LIVE: Mutex<Vec<Weak<Ledger>>> = Mutex::new(Vec::new());

impl Ledger {
    /// A new ledger, registered for [`delete_all_live`].
    pub fn new(client: kube::Client) -> Arc<Ledger> {
        let ledger = Arc::new(Ledger {
            client,
            objects: Mutex::new(Vec::new()),
            changes: std::sync::OnceLock::new(),
            foreground: std::sync::atomic::AtomicBool::new(false),
        });
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&ledger));
        ledger
    }

    /// Waits for deletions on the run's watches (else it polls).
    pub fn watch_with(&self, changes: Arc<Changes>) {
        let _ = self.changes.set(changes);
    }

    /// Deletes Deployments in the foreground from now on: the Deployment
    /// goes only once the garbage collector has removed its ReplicaSets
    /// and Pods, so waiting for it to be gone waits for its Pods. For a
    /// cluster that runs the Pods (`--workloads cluster`): with background
    /// deletion the old Pods lived on after the Deployment had gone, the
    /// next test's Service of the same name selected them, and traffic
    /// went to Pods being torn down (seen on the node tier: connections
    /// reset, UDP flows unanswered). Not for `--workloads local`, where a
    /// bare API server may run no garbage collector to finish the deletion.
    pub fn foreground_deployments(&self) {
        self.foreground
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Records an object (once).
    pub fn record(&self, created: Created) {
        let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        if !objects.iter().any(|o| o.same(&created)) {
            objects.push(created);
        }
    }

    /// Forgets an object (deleted by a test step).
    pub fn forget(&self, kind: &str, namespace: &str, name: &str) {
        self.objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|o| !(o.resource.kind == kind && o.namespace == namespace && o.name == name));
    }

    /// Whether an object is recorded.
    pub fn contains(&self, kind: &str, namespace: &str, name: &str) -> bool {
        self.objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|o| o.resource.kind == kind && o.namespace == namespace && o.name == name)
    }

    /// Deletes every recorded object, newest first, and waits up to
    /// `timeout` for them to be gone (zero: do not wait). Returns the
    /// problems, one line per object.
    pub async fn delete_all(&self, timeout: Duration) -> Vec<String> {
        let objects: Vec<Created> =
            std::mem::take(&mut *self.objects.lock().unwrap_or_else(|e| e.into_inner()));
        let mut problems = Vec::new();
        let foreground = self.foreground.load(std::sync::atomic::Ordering::Relaxed);
        for o in objects.iter().rev() {
            let params = if foreground && o.resource.kind == "Deployment" {
                DeleteParams::foreground()
            } else {
                DeleteParams::background()
            };
            if let Err(e) = delete_with(&self.client, o, &params).await {
                problems.push(e);
            }
        }
        if !timeout.is_zero() {
            let deadline = tokio::time::Instant::now() + timeout;
            for o in &objects {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if let Err(e) = wait_gone(&self.client, o, left, self.changes.get()).await {
                    problems.push(e);
                }
            }
        }
        problems
    }
}

/// Deletes one object (background propagation, so a Deployment's pods go
/// too); a missing object is fine. Waits up to `timeout` for it to be gone
/// (woken by `changes` when the run watches).
pub async fn delete(
    client: &kube::Client,
    o: &Created,
    timeout: Duration,
    changes: Option<&Arc<Changes>>,
) -> Result<(), String> {
    delete_with(client, o, &DeleteParams::background()).await?;
    if timeout.is_zero() {
        return Ok(());
    }
    wait_gone(client, o, timeout, changes).await
}

/// Sends the deletion of one object; a missing object is fine.
async fn delete_with(
    client: &kube::Client,
    o: &Created,
    params: &DeleteParams,
) -> Result<(), String> {
    match o.api(client).delete(&o.name, params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(super::retry::describe(format_args!("deleting {o}"), &e)),
    }
}

async fn wait_gone(
    client: &kube::Client,
    o: &Created,
    timeout: Duration,
    changes: Option<&Arc<Changes>>,
) -> Result<(), String> {
    let api = o.api(client);
    let deadline = tokio::time::Instant::now() + timeout;
    // Only the watched kinds' deletions wake a wait; others are polled.
    let changes = changes.filter(|_| super::changes::WATCHED.contains(&o.resource.kind.as_str()));
    let mut rx = changes.map(|c| c.subscribe());
    loop {
        match api.get_opt(&o.name).await {
            Ok(None) => return Ok(()),
            Ok(Some(_)) if tokio::time::Instant::now() >= deadline => {
                return Err(format!("{o} still exists {timeout:?} after deletion"));
            }
            Ok(Some(_)) => {}
            Err(e) => {
                return Err(super::retry::describe(
                    format_args!("reading {o} after deletion"),
                    &e,
                ));
            }
        }
        match (changes, rx.as_mut()) {
            (Some(c), Some(rx)) => c.changed(rx, Duration::from_millis(250)).await,
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Deletes everything every live ledger holds, without waiting for the
/// deletions to finish. For the Ctrl-C handler, before it exits.
pub async fn delete_all_live() {
    let live: Vec<Arc<Ledger>> = LIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for ledger in live {
        for problem in ledger.delete_all(Duration::ZERO).await {
            eprintln!("gwl4: {problem}");
        }
    }
}
