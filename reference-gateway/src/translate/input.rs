//! The snapshot in translation order, with lookups.
//!
//! Every list is sorted by creationTimestamp (absent first), then
//! namespace/name, then the object's JSON (a total order, so two objects
//! with the same name still sort the same whatever the input order); the
//! first of any duplicates (same namespace/name) is kept. This is what makes
//! translation independent of input order, and what "oldest route wins"
//! means.

use std::collections::BTreeMap;

use gateway_api::experimental::gatewayclasses::GatewayClass;
use gateway_api::experimental::gateways::Gateway;
use gateway_api::experimental::referencegrants::ReferenceGrantSpec;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::Serialize;

use super::routes::{self, RouteView};
use crate::model::Snapshot;

/// Label that ties an EndpointSlice to its Service.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Label every namespace carries with its own name.
pub(crate) const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

pub(crate) struct Input<'a> {
    pub snapshot: &'a Snapshot,
    /// The implementation choices in force.
    pub policy: super::Policy,
    pub classes: Vec<&'a GatewayClass>,
    pub gateways: Vec<&'a Gateway>,
    /// TCP and UDP routes together, oldest first.
    pub routes: Vec<RouteView>,
    pub services: BTreeMap<(String, String), &'a Service>,
    /// Slices by (namespace, service name), each list sorted.
    pub slices: BTreeMap<(String, String), Vec<&'a EndpointSlice>>,
    pub namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// (namespace, spec) of every grant.
    pub grants: Vec<(String, &'a ReferenceGrantSpec)>,
}

pub(crate) fn namespace_of(meta: &ObjectMeta) -> String {
    meta.namespace.clone().unwrap_or_else(|| "default".into())
}

fn name_of(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

type SortKey = (Option<Time>, String, String, String);

fn sort_key<T: Serialize>(meta: &ObjectMeta, object: &T) -> SortKey {
    (
        meta.creation_timestamp.clone(),
        namespace_of(meta),
        name_of(meta),
        serde_json::to_string(object).unwrap_or_default(),
    )
}

/// Sorts and drops later duplicates of the same namespace/name.
fn ordered<'a, T: Serialize>(
    items: impl Iterator<Item = &'a T>,
    meta: impl Fn(&T) -> &ObjectMeta,
) -> Vec<&'a T> {
    let mut keyed: Vec<(SortKey, &'a T)> = items.map(|o| (sort_key(meta(o), o), o)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut seen = std::collections::BTreeSet::new();
    keyed
        .into_iter()
        .filter(|(k, _)| seen.insert((k.1.clone(), k.2.clone())))
        .map(|(_, o)| o)
        .collect()
}

impl<'a> Input<'a> {
    pub fn new(s: &'a Snapshot, policy: super::Policy) -> Self {
        let classes = ordered(s.gateway_classes.iter(), |o| &o.metadata);
        let gateways = ordered(s.gateways.iter(), |o| &o.metadata);
        let tcp = ordered(s.tcp_routes.iter().map(|v| &v.object), |o| &o.metadata);
        let udp = ordered(s.udp_routes.iter().map(|v| &v.object), |o| &o.metadata);
        let mut routes: Vec<RouteView> = Vec::new();
        for v in &s.tcp_routes {
            if tcp.iter().any(|o| std::ptr::eq(*o, &v.object)) {
                routes.push(routes::from_tcp(v));
            }
        }
        for v in &s.udp_routes {
            if udp.iter().any(|o| std::ptr::eq(*o, &v.object)) {
                routes.push(routes::from_udp(v));
            }
        }
        routes.sort_by(|a, b| {
            (&a.created, &a.namespace, &a.name, a.kind).cmp(&(
                &b.created,
                &b.namespace,
                &b.name,
                b.kind,
            ))
        });

        let services = ordered(s.services.iter(), |o| &o.metadata)
            .into_iter()
            .map(|o| ((namespace_of(&o.metadata), name_of(&o.metadata)), o))
            .collect();
        let mut slices: BTreeMap<(String, String), Vec<&EndpointSlice>> = BTreeMap::new();
        for slice in ordered(s.endpoint_slices.iter(), |o| &o.metadata) {
            let service = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL));
            if let Some(service) = service {
                slices
                    .entry((namespace_of(&slice.metadata), service.clone()))
                    .or_default()
                    .push(slice);
            }
        }
        let namespace_labels = ordered(s.namespaces.iter(), |o| &o.metadata)
            .into_iter()
            .map(|n| {
                (
                    name_of(&n.metadata),
                    n.metadata.labels.clone().unwrap_or_default(),
                )
            })
            .collect();
        let grants = ordered(s.reference_grants.iter().map(|v| &v.object), |o| {
            &o.metadata
        })
        .into_iter()
        .map(|g| (namespace_of(&g.metadata), &g.spec))
        .collect();
        Input {
            snapshot: s,
            policy,
            classes,
            gateways,
            routes,
            services,
            slices,
            namespace_labels,
            grants,
        }
    }

    /// A namespace's labels, including `kubernetes.io/metadata.name`.
    pub fn labels_of(&self, namespace: &str) -> BTreeMap<String, String> {
        let mut labels = self
            .namespace_labels
            .get(namespace)
            .cloned()
            .unwrap_or_default();
        labels.insert(NAMESPACE_NAME_LABEL.into(), namespace.into());
        labels
    }
}
