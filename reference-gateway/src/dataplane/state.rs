//! What a listener task reads for each new connection or session: the
//! route, its backends with resolved metric handles, and the rules that
//! decide whether an established connection survives a reload.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::metrics::{BackendMetrics, Metrics};
use super::select;
use crate::config::{Listener, Target};

/// The swappable part of a listener: built from a [`Listener`] at apply time.
#[derive(Debug)]
pub(crate) struct ListenerState {
    /// The config it was built from, to skip no-op reloads.
    pub config: Listener,
    /// `None`: no route, every connection is rejected.
    pub route: Option<RouteState>,
    /// Decisions made so far: the turn of a weighted rotation.
    turns: AtomicU64,
}

/// A route with per-backend metric handles.
#[derive(Debug)]
pub(crate) struct RouteState {
    pub name: String,
    pub backends: Vec<BackendState>,
    /// Sum of weights; 0 means every connection is rejected.
    pub total_weight: u64,
}

/// One weighted backend.
#[derive(Debug)]
pub(crate) struct BackendState {
    pub name: String,
    pub weight: u32,
    pub target: Target,
    pub metrics: BackendMetrics,
}

/// Where a new connection or flow goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Forward to this backend (index into the route's backends), which has
    /// at least one endpoint.
    Forward(usize),
    /// Reset / drop. `backend` is the chosen backend, if one was; `reason`
    /// is a metric label.
    Reject {
        backend: Option<usize>,
        reason: &'static str,
    },
}

/// What an established connection or session is bound to, to recheck it
/// after a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Binding {
    pub route: Option<String>,
    pub backend: Option<String>,
    /// The endpoint in use; `None` for a remembered rejection.
    pub endpoint: Option<SocketAddr>,
}

impl ListenerState {
    pub(crate) fn new(config: &Listener, metrics: &Metrics) -> Self {
        let route = config.route.as_ref().map(|route| {
            let backends: Vec<BackendState> = route
                .backends
                .iter()
                .map(|b| BackendState {
                    name: b.name.clone(),
                    weight: b.weight,
                    target: b.target.clone(),
                    metrics: BackendMetrics::new(metrics, &config.name, &b.name),
                })
                .collect();
            RouteState {
                name: route.name.clone(),
                total_weight: backends.iter().map(|b| u64::from(b.weight)).sum(),
                backends,
            }
        });
        Self {
            config: config.clone(),
            route,
            turns: AtomicU64::new(0),
        }
    }

    /// Picks the backend for a new connection or flow, by weight: at random,
    /// or in a deterministic rotation when `rotate` (an allowed variation).
    pub(crate) fn decide(&self, rng: &mut impl rand::Rng, rotate: bool) -> Decision {
        let Some(route) = &self.route else {
            return Decision::Reject {
                backend: None,
                reason: "no_route",
            };
        };
        let weights = route.backends.iter().map(|b| b.weight);
        let picked = if rotate {
            let turn = self.turns.fetch_add(1, Ordering::Relaxed);
            select::rotation(weights, route.total_weight, turn)
        } else {
            select::weighted(weights, route.total_weight, rng)
        };
        let Some(index) = picked else {
            return Decision::Reject {
                backend: None,
                reason: "no_weight",
            };
        };
        let reason = match &route.backends[index].target {
            Target::Endpoints(endpoints) if !endpoints.is_empty() => {
                return Decision::Forward(index);
            }
            Target::Endpoints(_) => "no_endpoints",
            Target::Reject(_) => "rejected_backend",
        };
        Decision::Reject {
            backend: Some(index),
            reason,
        }
    }

    /// The backend at `index` and its endpoints, if it forwards.
    pub(crate) fn forward_target(&self, index: usize) -> Option<(&BackendState, &[SocketAddr])> {
        let backend = self.route.as_ref()?.backends.get(index)?;
        match &backend.target {
            Target::Endpoints(endpoints) => Some((backend, endpoints)),
            Target::Reject(_) => None,
        }
    }

    /// The binding of a new connection or flow to `backend` and `endpoint`.
    pub(crate) fn binding(&self, backend: Option<usize>, endpoint: Option<SocketAddr>) -> Binding {
        let route = self.route.as_ref();
        Binding {
            route: route.map(|r| r.name.clone()),
            backend: backend
                .and_then(|i| route.and_then(|r| r.backends.get(i)))
                .map(|b| b.name.clone()),
            endpoint,
        }
    }

    /// Whether a connection or session bound as `binding` may continue under
    /// this state: same route, its backend still present with the same
    /// endpoint (or, for a remembered rejection, still rejected). Weight
    /// changes do not matter: they apply to new connections only.
    pub(crate) fn keeps(&self, binding: &Binding) -> bool {
        if self.route.as_ref().map(|r| r.name.as_str()) != binding.route.as_deref() {
            return false;
        }
        let Some(route) = &self.route else {
            return true;
        };
        let Some(backend_name) = &binding.backend else {
            // Rejected because no backend had weight: keep while that holds.
            return route.total_weight == 0;
        };
        route.backends.iter().any(|b| {
            &b.name == backend_name
                && match (&b.target, binding.endpoint) {
                    (Target::Endpoints(endpoints), Some(endpoint)) => endpoints.contains(&endpoint),
                    (Target::Reject(_), None) => true,
                    _ => false,
                }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Backend, ListenerKey, Protocol, Route};

    fn listener(backends: Vec<Backend>) -> Listener {
        Listener {
            key: ListenerKey {
                address: "127.0.0.1".parse().unwrap(),
                port: 1,
                protocol: Protocol::Tcp,
            },
            name: "ns/gw/l".into(),
            route: Some(Route {
                name: "TCPRoute/ns/r".into(),
                backends,
            }),
        }
    }

    fn backend(name: &str, weight: u32, endpoints: &[&str]) -> Backend {
        Backend {
            name: name.into(),
            weight,
            target: Target::Endpoints(endpoints.iter().map(|e| e.parse().unwrap()).collect()),
        }
    }

    #[test]
    fn bindings_survive_weight_changes_but_not_endpoint_removal() {
        let metrics = Metrics::default();
        let old = ListenerState::new(&listener(vec![backend("a", 1, &["127.0.0.1:5"])]), &metrics);
        let binding = Binding {
            route: Some("TCPRoute/ns/r".into()),
            backend: Some("a".into()),
            endpoint: Some("127.0.0.1:5".parse().unwrap()),
        };
        assert!(old.keeps(&binding));
        let reweighted = ListenerState::new(
            &listener(vec![
                backend("a", 9, &["127.0.0.1:5"]),
                backend("b", 1, &["127.0.0.1:6"]),
            ]),
            &metrics,
        );
        assert!(reweighted.keeps(&binding));
        let moved =
            ListenerState::new(&listener(vec![backend("a", 1, &["127.0.0.1:7"])]), &metrics);
        assert!(!moved.keeps(&binding));
        let mut no_route = listener(vec![]);
        no_route.route = None;
        assert!(!ListenerState::new(&no_route, &metrics).keeps(&binding));
    }
}
