//! What a test holds while it runs, derived from its suite file alone.
//!
//! Two tests in one cluster collide when they touch the same object (one
//! test's clean-up deletes the other's Service; both apply a TCPRoute of
//! one name with different rules) or, when Gateways share an address, bind
//! the same listener port. So a test holds:
//!
//! - every object it creates, changes or deletes, alone;
//! - every object it only refers to (routes' `parentRefs` and
//!   `backendRefs`, a ReferenceGrant's `to`), beside other tests that only
//!   refer to it: a test that refers to a Service it does not create
//!   expects that Service to be absent, so it must not run beside a test
//!   that creates it;
//! - the port of every listener of its Gateways, as written and as later
//!   patched;
//! - the whole cluster, when it changes something every test shares (a
//!   GatewayClass, a conformance namespace): it runs alone.
//!
//! The conformance namespaces themselves are applied identically by every
//! test and never deleted by one, so they are not held.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use crate::cluster::ObjectKey;
use crate::run::base_objects;
use crate::suite::{Step, TestSpec};

/// What one test holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holds {
    /// Objects it creates, changes or deletes.
    pub objects: BTreeSet<ObjectKey>,
    /// Objects it only refers to: tests that only refer to one object may
    /// run together; a test that creates or changes it runs alone with it.
    pub refers: BTreeSet<ObjectKey>,
    /// Listener ports of its Gateways (any protocol: an implementation may
    /// refuse TCP and UDP on one port across Gateways of one address).
    pub ports: BTreeSet<u16>,
    /// Why it must run alone, if it must.
    pub alone: Option<String>,
}

/// One thing two tests both hold, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shared {
    /// An object both touch.
    Object(ObjectKey),
    /// A listener port, while Gateways may share an address.
    Port(u16),
    /// One of them runs alone, for this reason.
    Alone(String),
}

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shared::Object(key) => write!(f, "{key}"),
            Shared::Port(port) => write!(f, "listener port {port} on a shared Gateway address"),
            Shared::Alone(why) => write!(f, "the whole cluster ({why})"),
        }
    }
}

impl Holds {
    /// The first thing `self` and `other` both hold; `ports`: whether
    /// listener ports count (Gateways may share an address).
    pub fn overlap(&self, other: &Holds, ports: bool) -> Option<Shared> {
        if let Some(why) = self.alone.as_ref().or(other.alone.as_ref()) {
            return Some(Shared::Alone(why.clone()));
        }
        let written = self
            .objects
            .iter()
            .find(|k| other.objects.contains(*k) || other.refers.contains(*k));
        if let Some(key) = written.or_else(|| other.objects.intersection(&self.refers).next()) {
            return Some(Shared::Object(key.clone()));
        }
        if ports && let Some(port) = self.ports.intersection(&other.ports).next() {
            return Some(Shared::Port(*port));
        }
        None
    }
}

/// What `spec` holds.
pub fn holds(spec: &TestSpec) -> Holds {
    let shared_namespaces: BTreeSet<ObjectKey> = base_objects()
        .iter()
        .map(|o| ObjectKey::of(o, ""))
        .collect();
    let mut holds = Holds::default();
    let mut objects: Vec<Value> = spec.manifests.iter().map(|m| m.value.clone()).collect();
    for step in &spec.steps {
        match &step.step {
            Step::Apply(apply) => objects.extend(
                serde_yaml::Deserializer::from_str(&apply.manifests)
                    .filter_map(|d| serde::Deserialize::deserialize(d).ok())
                    .filter(|v: &Value| !v.is_null()),
            ),
            Step::Patch(patch) => {
                let key = object_ref(spec, &patch.object);
                changes(&mut holds, &key, &shared_namespaces);
                if key.kind == "Gateway" {
                    holds.ports.extend(listener_ports(&patch.patch));
                }
                holds.objects.insert(key);
            }
            Step::Delete(object) => {
                let key = object_ref(spec, object);
                changes(&mut holds, &key, &shared_namespaces);
                holds.objects.insert(key);
            }
            _ => {}
        }
    }
    for object in &objects {
        let key = ObjectKey::of(object, &spec.namespace);
        if key.kind == "GatewayClass" {
            holds.alone = Some(format!("it applies {key}"));
        }
        if key.kind == "Gateway" {
            holds.ports.extend(listener_ports(object));
        }
        holds.refers.extend(references(object, &key.namespace));
        if !shared_namespaces.contains(&key) {
            holds.objects.insert(key);
        }
    }
    let written = holds.objects.clone();
    holds.refers.retain(|k| !written.contains(k));
    holds
}

/// A `patch` or `delete` of `key`: one of the objects every test shares
/// makes the test run alone.
fn changes(holds: &mut Holds, key: &ObjectKey, shared_namespaces: &BTreeSet<ObjectKey>) {
    if key.kind == "GatewayClass" || shared_namespaces.contains(key) {
        holds.alone = Some(format!("it changes {key}, which every test uses"));
    }
}

fn object_ref(spec: &TestSpec, object: &crate::suite::step::ObjectRef) -> ObjectKey {
    ObjectKey::new(
        &object.kind,
        object.namespace.as_deref().unwrap_or(&spec.namespace),
        &object.name,
    )
}

/// `spec.listeners[*].port` of a Gateway (or of a patch of one).
fn listener_ports(gateway: &Value) -> Vec<u16> {
    gateway
        .pointer("/spec/listeners")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.get("port").and_then(Value::as_u64))
        .filter_map(|p| u16::try_from(p).ok())
        .collect()
}

/// Objects a route or ReferenceGrant names: its parent Gateways, its
/// backends, a grant's named targets.
fn references(object: &Value, namespace: &str) -> Vec<ObjectKey> {
    let str_at = |v: &Value, field: &str| v.get(field).and_then(Value::as_str).map(str::to_string);
    let mut out = Vec::new();
    let list = |pointer: &str| -> Vec<Value> {
        object
            .pointer(pointer)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let named = |r: &Value, default_kind: &str, default_namespace: &str| {
        str_at(r, "name").map(|name| {
            ObjectKey::new(
                &str_at(r, "kind").unwrap_or_else(|| default_kind.into()),
                &str_at(r, "namespace").unwrap_or_else(|| default_namespace.into()),
                &name,
            )
        })
    };
    for parent in list("/spec/parentRefs") {
        out.extend(named(&parent, "Gateway", namespace));
    }
    for rule in list("/spec/rules") {
        for backend in rule
            .get("backendRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(named(backend, "Service", namespace));
        }
    }
    if object.get("kind").and_then(Value::as_str) == Some("ReferenceGrant") {
        for target in list("/spec/to") {
            // A grant's targets are in its own namespace.
            let mut target = target.clone();
            target["namespace"] = Value::String(namespace.to_string());
            out.extend(named(&target, "Service", namespace));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::load;

    fn test(name: &str) -> TestSpec {
        load::builtin()
            .unwrap()
            .into_iter()
            .find(|t| t.name == name)
            .unwrap()
    }

    fn key(kind: &str, ns: &str, name: &str) -> ObjectKey {
        ObjectKey::new(kind, ns, name)
    }

    #[test]
    fn a_test_holds_its_objects_references_and_ports() {
        let h = holds(&test("TCPRouteAllWeightsZeroRejectsConnections"));
        let infra = "gateway-conformance-infra";
        for k in [
            key("Gateway", infra, "tcp-zero-gw"),
            key("TCPRoute", infra, "tcp-zero"),
            key("Deployment", infra, "tcp-v1"),
            key("Service", infra, "tcp-v2"),
        ] {
            assert!(h.objects.contains(&k), "{k} not in {:?}", h.objects);
        }
        assert_eq!(h.ports, BTreeSet::from([9300]));
        assert_eq!(h.alone, None);
        assert!(
            !h.objects.iter().any(|k| k.kind == "Namespace"),
            "the conformance namespaces are shared"
        );
    }

    #[test]
    fn a_backend_referred_to_but_not_created_is_held_for_reading() {
        let a = holds(&test("TCPRouteNonexistentBackendRejectsConnections"));
        let missing = ObjectKey::new(
            "Service",
            "gateway-conformance-infra",
            "nonexistent-service",
        );
        assert!(a.refers.contains(&missing), "{:?}", a.refers);
        assert!(!a.objects.contains(&missing));
        let b = holds(&test("UDPRouteNonexistentBackendDropsDatagrams"));
        assert!(b.refers.contains(&missing));
        assert_eq!(a.overlap(&b, false), None, "both only refer to it");
        let creates = Holds {
            objects: BTreeSet::from([missing.clone()]),
            ..Holds::default()
        };
        assert_eq!(
            a.overlap(&creates, false),
            Some(Shared::Object(missing.clone()))
        );
        assert_eq!(creates.overlap(&a, false), Some(Shared::Object(missing)));
    }

    #[test]
    fn a_patched_listener_port_is_held() {
        let h = holds(&test("GatewayListenerPortChange"));
        assert!(h.ports.contains(&9301), "{:?}", h.ports);
    }

    #[test]
    fn tests_sharing_a_backend_or_port_overlap() {
        let a = holds(&test("TCPRouteWeightedRouting"));
        let b = holds(&test("TCPRouteWeightChangeConverges"));
        let c = holds(&test("UDPRouteWeightedRouting"));
        assert!(a.overlap(&b, false).is_some(), "both create tcp-v1");
        assert_eq!(a.overlap(&c, true), None);
        let ports_only = Holds {
            ports: a.ports.clone(),
            ..Holds::default()
        };
        assert_eq!(a.overlap(&ports_only, false), None);
        assert!(matches!(
            a.overlap(&ports_only, true),
            Some(Shared::Port(9300))
        ));
    }

    #[test]
    fn changing_a_shared_namespace_runs_alone() {
        let mut spec = test("TCPRouteAllWeightsZeroRejectsConnections");
        spec.steps.push(crate::suite::TestStep {
            step: Step::Delete(crate::suite::step::ObjectRef {
                kind: "Namespace".into(),
                name: "gateway-conformance-infra".into(),
                namespace: None,
            }),
            ..spec.steps[0].clone()
        });
        let h = holds(&spec);
        assert!(
            h.alone
                .as_deref()
                .unwrap()
                .contains("Namespace gateway-conformance-infra")
        );
        assert!(matches!(
            h.overlap(&Holds::default(), false),
            Some(Shared::Alone(_))
        ));
    }
}
