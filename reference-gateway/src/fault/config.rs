//! Faults applied to translation's output: the data-plane config (what
//! gets served) or the status documents (what gets reported), never both,
//! so each one shows a data plane or a status that disagrees with the spec.

use std::collections::BTreeMap;

use super::{Fault, Faults};
use crate::config::{Backend, Config, ListenerKey, Protocol, Route, Target};
use crate::model::Snapshot;
use crate::status::{ConditionStatus, ConditionType, Kind, Status, StatusDocument};
use crate::translate::Translation;

/// What the config and status faults remember across reloads.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    /// `route-deletion-keeps-traffic`: the last route each listener served.
    routes: BTreeMap<ListenerKey, Route>,
    /// `stale-observed-generation`: the generation each object's status was
    /// first written for, by `Kind/namespace/name`.
    generations: BTreeMap<String, i64>,
}

/// Applies the config- and status-level faults in `faults`.
pub(crate) fn apply(
    faults: Faults,
    memory: &mut Memory,
    snapshot: &Snapshot,
    translation: &mut Translation,
) {
    let config = &mut translation.config;
    let statuses = &mut translation.statuses;
    if faults.contains(Fault::InvalidShareRedistributed) {
        for_each_route(config, invalid_share_redistributed);
    }
    if faults.contains(Fault::WeightsIgnored) {
        for_each_route(config, weights_ignored);
    }
    if faults.contains(Fault::PerEndpointWeight) {
        for_each_route(config, per_endpoint_weight);
    }
    if faults.contains(Fault::ZeroWeightLeak) {
        for_each_route(config, zero_weight_leak);
    }
    if faults.contains(Fault::SectionNameIgnored) {
        section_name_ignored(config);
    }
    if faults.contains(Fault::StatusWithoutListener) {
        status_without_listener(config);
    }
    if faults.contains(Fault::RouteDeletionKeepsTraffic) {
        route_deletion_keeps_traffic(&mut memory.routes, config);
    }
    if faults.contains(Fault::StaleObservedGeneration) {
        stale_observed_generation(&mut memory.generations, statuses);
    }
    if faults.contains(Fault::AttachedRoutesMiscount) {
        attached_routes_miscount(snapshot, statuses);
    }
}

fn for_each_route(config: &mut Config, fault: fn(&mut Route)) {
    for route in config.listeners.iter_mut().filter_map(|l| l.route.as_mut()) {
        fault(route);
    }
}

/// One backend per endpoint of `backend`, each with `weight`.
fn per_endpoint(backend: &Backend, weight: u32) -> Vec<Backend> {
    match &backend.target {
        Target::Endpoints(endpoints) => endpoints
            .iter()
            .map(|e| Backend {
                name: backend.name.clone(),
                weight,
                target: Target::Endpoints(vec![*e]),
            })
            .collect(),
        Target::Reject(_) => Vec::new(),
    }
}

/// `weights-ignored`: every endpoint of every backend, weight 0 included,
/// gets an equal share.
pub fn weights_ignored(route: &mut Route) {
    route.backends = route
        .backends
        .iter()
        .flat_map(|b| per_endpoint(b, 1))
        .collect();
}

/// `per-endpoint-weight`: every endpoint gets its backend's full weight.
pub fn per_endpoint_weight(route: &mut Route) {
    route.backends = route
        .backends
        .iter()
        .flat_map(|b| per_endpoint(b, b.weight))
        .collect();
}

/// `zero-weight-leak`: weight-0 backends get about 2% of new connections
/// each (the others keep their relative shares).
pub fn zero_weight_leak(route: &mut Route) {
    let total: u32 = route.backends.iter().map(|b| b.weight).sum();
    if total == 0 {
        return;
    }
    for backend in &mut route.backends {
        backend.weight = if backend.weight == 0 {
            total
        } else {
            backend.weight.saturating_mul(49)
        };
    }
}

/// `invalid-share-redistributed`: invalid backends lose their weight, so
/// their share goes to the valid ones.
pub fn invalid_share_redistributed(route: &mut Route) {
    let valid: u32 = route
        .backends
        .iter()
        .filter(|b| matches!(b.target, Target::Endpoints(_)))
        .map(|b| b.weight)
        .sum();
    if valid == 0 {
        return;
    }
    for backend in &mut route.backends {
        if matches!(backend.target, Target::Reject(_)) {
            backend.weight = 0;
        }
    }
}

/// `section-name-ignored`: the route of a Gateway's first listener (lowest
/// port) is served on every listener of that Gateway with the same
/// protocol, whatever sectionName the routes name.
pub fn section_name_ignored(config: &mut Config) {
    let gateway = |name: &str| name.rsplit_once('/').map(|(g, _)| g.to_owned());
    let served: Vec<(Option<String>, Protocol, Route)> = config
        .listeners
        .iter()
        .filter_map(|l| Some((gateway(&l.name), l.key.protocol, l.route.clone()?)))
        .collect();
    for listener in &mut config.listeners {
        let own = gateway(&listener.name);
        listener.route = served
            .iter()
            .find(|(g, p, _)| *g == own && *p == listener.key.protocol)
            .map(|(_, _, route)| route.clone());
    }
}

/// `status-without-listener`: UDP listeners are left out of the config
/// (never bound), while their status still says Programmed.
pub fn status_without_listener(config: &mut Config) {
    config.listeners.retain(|l| l.key.protocol != Protocol::Udp);
}

/// `route-deletion-keeps-traffic`: a listener whose route went away keeps
/// serving the route it had.
pub fn route_deletion_keeps_traffic(last: &mut BTreeMap<ListenerKey, Route>, config: &mut Config) {
    for listener in &mut config.listeners {
        match &listener.route {
            Some(route) => {
                last.insert(listener.key, route.clone());
            }
            None => listener.route = last.get(&listener.key).cloned(),
        }
    }
}

/// `stale-observed-generation`: every condition reports the generation the
/// object's status was first written for.
pub fn stale_observed_generation(
    first: &mut BTreeMap<String, i64>,
    statuses: &mut [StatusDocument],
) {
    for doc in statuses {
        let Some(generation) = doc.metadata.generation else {
            continue;
        };
        let key = format!(
            "{}/{}/{}",
            doc.kind.as_str(),
            doc.metadata.namespace.as_deref().unwrap_or_default(),
            doc.metadata.name
        );
        let stale = *first.entry(key).or_insert(generation);
        let conditions: Vec<&mut crate::status::Condition> = match &mut doc.status {
            Status::GatewayClass(s) => s.conditions.iter_mut().collect(),
            Status::Gateway(s) => s
                .conditions
                .iter_mut()
                .chain(s.listeners.iter_mut().flat_map(|l| l.conditions.iter_mut()))
                .collect(),
            Status::Route(s) => s
                .parents
                .iter_mut()
                .flat_map(|p| p.conditions.iter_mut())
                .collect(),
        };
        for condition in conditions {
            if condition.observed_generation.is_some() {
                condition.observed_generation = Some(stale);
            }
        }
    }
}

/// `attached-routes-miscount`: attachedRoutes is recounted so each route
/// accepted by a Gateway counts once, on the first listener it selects
/// (by sectionName, port and route kind), instead of on every listener.
pub fn attached_routes_miscount(snapshot: &Snapshot, statuses: &mut [StatusDocument]) {
    // (gateway namespace, gateway name) → for each accepted route: its kind,
    // sectionName and port.
    type Selector = (Kind, Option<String>, Option<i32>);
    let mut accepted: BTreeMap<(String, String), Vec<Selector>> = BTreeMap::new();
    for doc in statuses.iter() {
        let Status::Route(route) = &doc.status else {
            continue;
        };
        for parent in &route.parents {
            let ok = parent
                .conditions
                .iter()
                .any(|c| c.type_ == ConditionType::Accepted && c.status == ConditionStatus::True);
            if !ok || parent.parent_ref.kind != "Gateway" {
                continue;
            }
            let namespace = parent
                .parent_ref
                .namespace
                .clone()
                .or_else(|| doc.metadata.namespace.clone())
                .unwrap_or_default();
            accepted
                .entry((namespace, parent.parent_ref.name.clone()))
                .or_default()
                .push((
                    doc.kind,
                    parent.parent_ref.section_name.clone(),
                    parent.parent_ref.port,
                ));
        }
    }
    for doc in statuses.iter_mut() {
        let Status::Gateway(status) = &mut doc.status else {
            continue;
        };
        let namespace = doc.metadata.namespace.clone().unwrap_or_default();
        let Some(spec) = snapshot.gateways.iter().find(|g| {
            g.metadata.name.as_deref() == Some(doc.metadata.name.as_str())
                && g.metadata.namespace.as_deref().unwrap_or_default() == namespace
        }) else {
            continue;
        };
        let routes = accepted
            .get(&(namespace, doc.metadata.name.clone()))
            .cloned()
            .unwrap_or_default();
        let mut counts = vec![0; status.listeners.len()];
        for (kind, section, port) in routes {
            let first = status.listeners.iter().position(|l| {
                let port_of = spec
                    .spec
                    .listeners
                    .iter()
                    .find(|s| s.name == l.name)
                    .map(|s| s.port);
                section.as_ref().is_none_or(|s| *s == l.name)
                    && port.is_none_or(|p| Some(p) == port_of)
                    && l.supported_kinds.iter().any(|k| k.kind == kind.as_str())
            });
            if let Some(i) = first {
                counts[i] += 1;
            }
        }
        for (listener, count) in status.listeners.iter_mut().zip(counts) {
            listener.attached_routes = count;
        }
    }
}
