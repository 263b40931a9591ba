//! Faults that change what translation sees: the snapshot is edited before
//! [`crate::translate::translate`] runs, so status and config both follow
//! the bug, as they would in a gateway whose controller had it.

use std::collections::{BTreeMap, BTreeSet};

use gateway_api::experimental::referencegrants::ReferenceGrant;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::{Fault, Faults};
use crate::model::{Snapshot, Versioned};

/// ReferenceGrants seen so far, by `namespace/name` (`grant-revocation-ignored`).
#[derive(Debug, Default)]
pub(crate) struct Memory {
    grants: BTreeMap<String, Versioned<ReferenceGrant>>,
}

/// Applies the snapshot-level faults in `faults`.
pub(crate) fn apply(faults: Faults, memory: &mut Memory, mut snapshot: Snapshot) -> Snapshot {
    if faults.contains(Fault::NewestRouteWins) {
        newest_route_wins(&mut snapshot);
    }
    if faults.contains(Fault::GrantRevocationIgnored) {
        grant_revocation_ignored(&mut memory.grants, &mut snapshot);
    }
    if faults.contains(Fault::CrossNamespaceWithoutGrant) {
        cross_namespace_without_grant(&mut snapshot);
    }
    if faults.contains(Fault::GrantScopeIgnored) {
        grant_scope_ignored(&mut snapshot);
    }
    snapshot
}

/// `grant-scope-ignored`: a grant's `to` names and `from` kinds are not
/// checked: any grant in a namespace lets both route kinds from its `from`
/// namespaces refer to every Service there.
pub fn grant_scope_ignored(snapshot: &mut Snapshot) {
    for grant in &mut snapshot.reference_grants {
        let spec = &mut grant.object.spec;
        for to in &mut spec.to {
            to.name = None;
        }
        let mut from = Vec::new();
        for f in &spec.from {
            for kind in ["TCPRoute", "UDPRoute"] {
                let mut wide = f.clone();
                wide.group = crate::model::GATEWAY_GROUP.to_string();
                wide.kind = kind.to_string();
                from.push(wide);
            }
        }
        spec.from = from;
    }
}

/// `newest-route-wins`: mirror every route's creationTimestamp (t → C − t),
/// so the newest route sorts first and gets the listener's traffic.
pub fn newest_route_wins(snapshot: &mut Snapshot) {
    const MIRROR: i64 = 4_000_000_000;
    let mirror = |created: &mut Option<Time>| {
        if let Some(Time(t)) = created
            && let Ok(mirrored) = Timestamp::from_second(MIRROR - t.as_second())
        {
            *t = mirrored;
        }
    };
    for route in &mut snapshot.tcp_routes {
        mirror(&mut route.object.metadata.creation_timestamp);
    }
    for route in &mut snapshot.udp_routes {
        mirror(&mut route.object.metadata.creation_timestamp);
    }
}

/// `grant-revocation-ignored`: every ReferenceGrant ever seen is added
/// back to the snapshot (a permission cache that is never invalidated).
pub fn grant_revocation_ignored(
    seen: &mut BTreeMap<String, Versioned<ReferenceGrant>>,
    snapshot: &mut Snapshot,
) {
    let key = |g: &Versioned<ReferenceGrant>| {
        format!(
            "{}/{}",
            g.object.metadata.namespace.as_deref().unwrap_or_default(),
            g.object.metadata.name.as_deref().unwrap_or_default()
        )
    };
    for grant in &snapshot.reference_grants {
        seen.insert(key(grant), grant.clone());
    }
    let present: BTreeSet<String> = snapshot.reference_grants.iter().map(key).collect();
    for (name, grant) in seen.iter() {
        if !present.contains(name) {
            snapshot.reference_grants.push(grant.clone());
        }
    }
}

/// `cross-namespace-without-grant`: a ReferenceGrant is made up for every
/// cross-namespace backendRef, as if none were needed.
pub fn cross_namespace_without_grant(snapshot: &mut Snapshot) {
    // target namespace → (route kind, route namespace)
    let mut wanted: BTreeMap<String, BTreeSet<(&str, String)>> = BTreeMap::new();
    let mut note = |kind: &'static str, from: Option<&String>, to: Option<&String>| {
        if let (Some(from), Some(to)) = (from, to)
            && from != to
        {
            wanted
                .entry(to.clone())
                .or_default()
                .insert((kind, from.clone()));
        }
    };
    for route in &snapshot.tcp_routes {
        let from = route.object.metadata.namespace.as_ref();
        for rule in &route.object.spec.rules {
            for backend in &rule.backend_refs {
                note("TCPRoute", from, backend.namespace.as_ref());
            }
        }
    }
    for route in &snapshot.udp_routes {
        let from = route.object.metadata.namespace.as_ref();
        for rule in &route.object.spec.rules {
            for backend in &rule.backend_refs {
                note("UDPRoute", from, backend.namespace.as_ref());
            }
        }
    }
    for (namespace, froms) in wanted {
        let from: Vec<String> = froms
            .iter()
            .map(|(kind, ns)| {
                format!(
                    "    - {{group: gateway.networking.k8s.io, kind: {kind}, namespace: {ns}}}\n"
                )
            })
            .collect();
        let yaml = format!(
            "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata:\n  name: fault-cross-namespace-without-grant\n  namespace: {namespace}\nspec:\n  from:\n{}  to:\n    - {{group: \"\", kind: Service}}\n",
            from.concat()
        );
        if let Err(error) = snapshot.add_yaml("fault cross-namespace-without-grant", &yaml) {
            tracing::warn!(%error, "fault cross-namespace-without-grant: cannot make a grant");
        }
    }
}
