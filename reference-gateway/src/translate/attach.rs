//! Route attachment: which listeners of which Gateways a route's parentRefs
//! select, and the route's `Accepted` condition for each.

use super::gateway::{GatewayState, Problem};
use super::input::Input;
use super::namespaces;
use super::routes::{ParentRefView, RouteView};
use crate::model::GATEWAY_GROUP;
use crate::status::{ParentRef, Reason};

/// The outcome for one parentRef that names a Gateway of ours.
pub(crate) struct Attachment {
    /// The parentRef as echoed in status.
    pub parent_ref: ParentRef,
    /// `Ok(message)` for Accepted=True, or why not.
    pub accepted: Result<String, Problem>,
}

/// Attaches route `index` to every listener its parentRefs select and allow,
/// recording it in the listeners; returns one entry per parentRef that names
/// a Gateway of ours (others are not ours to report on).
pub(crate) fn attach(
    input: &Input<'_>,
    index: usize,
    route: &RouteView,
    gateways: &mut [GatewayState<'_>],
) -> Vec<Attachment> {
    let mut out = Vec::new();
    for (i, parent) in route.parent_refs.iter().enumerate() {
        let group = parent.group.clone().unwrap_or_else(|| GATEWAY_GROUP.into());
        let kind = parent.kind.clone().unwrap_or_else(|| "Gateway".into());
        if group != GATEWAY_GROUP || kind != "Gateway" {
            continue;
        }
        let namespace = parent
            .namespace
            .clone()
            .unwrap_or_else(|| route.namespace.clone());
        let Some(gateway) = gateways
            .iter_mut()
            .find(|g| g.namespace == namespace && g.name == parent.name)
        else {
            continue;
        };
        let accepted = if input.policy.reject_multi_rule && route.rules.len() > 1 {
            Err((
                Reason::UnsupportedValue,
                format!(
                    "spec.rules: {} rules; this gateway serves routes with one rule only (a {} listener cannot choose between rules)",
                    route.rules.len(),
                    route.protocol_name()
                ),
            ))
        } else {
            attach_one(input, index, route, i, parent, gateway)
        };
        out.push(Attachment {
            parent_ref: ParentRef {
                group,
                kind,
                name: parent.name.clone(),
                namespace: parent.namespace.clone(),
                port: parent.port,
                section_name: parent.section_name.clone(),
            },
            accepted,
        });
    }
    out
}

fn attach_one(
    input: &Input<'_>,
    index: usize,
    route: &RouteView,
    i: usize,
    parent: &ParentRefView,
    gateway: &mut GatewayState<'_>,
) -> Result<String, Problem> {
    let gateway_label = gateway.label();
    let candidates: Vec<usize> = gateway
        .listeners
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            parent
                .section_name
                .as_ref()
                .is_none_or(|s| *s == l.spec.name)
        })
        .filter(|(_, l)| parent.port.is_none_or(|p| p == l.spec.port))
        .map(|(n, _)| n)
        .collect();
    if candidates.is_empty() {
        let wanted = match (&parent.section_name, parent.port) {
            (Some(s), Some(p)) => format!("no listener named {s} on port {p}"),
            (Some(s), None) => format!("no listener named {s}"),
            (None, Some(p)) => format!("no listener on port {p}"),
            (None, None) => "no listeners".to_string(),
        };
        return Err((
            Reason::NoMatchingParent,
            format!("parentRefs[{i}]: Gateway {gateway_label} has {wanted}"),
        ));
    }
    let labels = input.labels_of(&route.namespace);
    let mut refusals = Vec::new();
    let mut attached = Vec::new();
    for n in candidates {
        let listener = &mut gateway.listeners[n];
        let policy = listener
            .spec
            .allowed_routes
            .as_ref()
            .and_then(|a| a.namespaces.as_ref());
        if !listener.kinds.contains(&route.kind) {
            refusals.push(format!(
                "listener {} ({}) does not allow kind {}",
                listener.spec.name,
                listener.spec.protocol,
                route.kind.as_str()
            ));
        } else if !namespaces::allowed(policy, &gateway.namespace, &route.namespace, &labels) {
            refusals.push(format!(
                "listener {} (namespaces from {}) does not allow routes from namespace {}",
                listener.spec.name,
                namespaces::describe(policy),
                route.namespace
            ));
        } else {
            listener.attached.insert(index);
            let mut note = listener.spec.name.clone();
            // All attached routes are Accepted, but only the oldest is served.
            if let Some(&oldest) = listener.attached.first()
                && oldest != index
            {
                note.push_str(&format!(
                    " (which serves the older {})",
                    input.routes[oldest].label()
                ));
            }
            attached.push(note);
        }
    }
    if attached.is_empty() {
        return Err((
            Reason::NotAllowedByListeners,
            format!(
                "parentRefs[{i}]: Gateway {gateway_label}: {}",
                refusals.join("; ")
            ),
        ));
    }
    Ok(format!(
        "parentRefs[{i}]: attached to Gateway {gateway_label} listener {}",
        attached.join(", ")
    ))
}
