//! Waits driven by watches. Every wait in kube mode (a status condition, a
//! Deployment rolling out, an object going away) reads the object, and
//! between reads waits for [`Changes`] to say something of this run changed:
//! one watch per kind on the objects labelled with the run id, across all
//! namespaces. A wait then wakes as soon as the API server reports a change
//! instead of on the next poll, and the API server is not asked every
//! 100 ms by every test running at once.
//!
//! Watches need `list` and `watch` (ClusterRole `gwl4-runner-watch`).
//! Where they are refused, or while a watch is broken, waits poll at
//! `DefaultPollInterval` as before; a wait never depends on a watch alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

use super::crds::Served;
use super::resources::{self, RUN_ID_LABEL};

/// The kinds whose changes waits wait for.
pub const WATCHED: [&str; 5] = ["Gateway", "TCPRoute", "UDPRoute", "Deployment", "Service"];

/// How long a wait sleeps between reads while the watches are healthy:
/// they wake it sooner; this only bounds the cost of a missed event.
const WATCHED_POLL: Duration = Duration::from_secs(2);

/// Whether the refusal of a watch has been printed (once per process).
static REFUSAL_NOTED: AtomicBool = AtomicBool::new(false);

/// Whether a watch failed because the API server forbade it.
fn refused(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code == 403,
        watcher::Error::WatchError(s) => s.code == 403,
        _ => false,
    }
}

/// The run's watches.
#[derive(Debug)]
pub struct Changes {
    /// Counts events; waiters hold receivers.
    tx: watch::Sender<u64>,
    /// Whether every watch is established (else waits poll).
    healthy: Arc<[AtomicBool]>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Changes {
    /// Starts a watch per kind in [`WATCHED`] the cluster serves, on the
    /// objects labelled `gwl4.dev/run-id=<run_id>`.
    pub fn start(client: &kube::Client, served: &Served, run_id: &str) -> Changes {
        let (tx, _) = watch::channel(0u64);
        let kinds: Vec<(&'static resources::KindInfo, String)> = WATCHED
            .iter()
            .filter_map(|k| resources::lookup(k))
            .filter_map(|info| {
                let version = if info.is_gateway_api() {
                    served.version(info.kind)?.to_string()
                } else {
                    info.version.to_string()
                };
                Some((info, version))
            })
            .collect();
        let healthy: Arc<[AtomicBool]> = kinds.iter().map(|_| AtomicBool::new(false)).collect();
        let config = watcher::Config::default().labels(&format!("{RUN_ID_LABEL}={run_id}"));
        let tasks = kinds
            .into_iter()
            .enumerate()
            .map(|(i, (info, version))| {
                let api: Api<DynamicObject> =
                    Api::all_with(client.clone(), &info.resource(&version));
                let (tx, healthy, config) = (tx.clone(), healthy.clone(), config.clone());
                tokio::spawn(async move {
                    let mut events = std::pin::pin!(watcher(api, config).default_backoff());
                    while let Some(event) = events.next().await {
                        match event {
                            Ok(_) => {
                                healthy[i].store(true, Ordering::Relaxed);
                                tx.send_modify(|n| *n += 1);
                            }
                            // Refused (RBAC) or broken: poll until it is back.
                            Err(e) => {
                                healthy[i].store(false, Ordering::Relaxed);
                                if refused(&e) && !REFUSAL_NOTED.swap(true, Ordering::Relaxed) {
                                    eprintln!(
                                        "gwl4: note: the API server refuses to let this user watch {} \
                                         (403), so waits poll every DefaultPollInterval instead \
                                         (grant ClusterRole gwl4-runner-watch to watch)",
                                        info.plural
                                    );
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        Changes { tx, healthy, tasks }
    }

    /// A receiver for one world's waits.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }

    /// Whether every watch is established.
    pub fn healthy(&self) -> bool {
        self.healthy.iter().all(|h| h.load(Ordering::Relaxed))
    }

    /// Waits until something changed since `rx` last looked, or for
    /// `at_most` (stretched to a longer bound while every watch is
    /// healthy, as events then wake the wait).
    pub async fn changed(&self, rx: &mut watch::Receiver<u64>, at_most: Duration) {
        let bound = if self.healthy() {
            at_most.max(WATCHED_POLL)
        } else {
            at_most
        };
        let _ = tokio::time::timeout(bound, rx.changed()).await;
    }
}

impl Drop for Changes {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
