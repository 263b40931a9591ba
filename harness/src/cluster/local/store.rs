//! The object store local mode keeps in place of an API server.
//!
//! It does what the API server does to metadata, because tests depend on it:
//! `generation` starts at 1 and grows on every spec change (observedGeneration
//! tests), `creationTimestamp` is set once at second precision (oldest-route
//! -wins tests need ties to behave as on a cluster), `uid` and
//! `resourceVersion` are set.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::validate;
use crate::cluster::{ClusterError, ObjectKey};

/// All objects of one test's world.
#[derive(Debug, Default, Clone)]
pub struct Store {
    objects: BTreeMap<ObjectKey, Value>,
    version: u64,
}

/// What an apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// New object.
    Created,
    /// The spec (or data) changed.
    Updated,
    /// Nothing changed.
    Unchanged,
}

impl Store {
    /// Creates or replaces `object` (already validated), stamping metadata.
    /// `now` is an RFC 3339 timestamp at second precision.
    pub fn apply(&mut self, mut object: Value, default_namespace: &str, now: &str) -> Change {
        let key = ObjectKey::of(&object, default_namespace);
        self.version += 1;
        let old = self.objects.get(&key);
        let changed = old.map(|o| content(o) != content(&object));
        let old_status = old.and_then(|o| o.get("status")).cloned();
        let old_meta = old.map(|o| o["metadata"].clone());
        let meta = object
            .as_object_mut()
            .expect("validated objects are maps")
            .entry("metadata")
            .or_insert_with(|| json!({}));
        if !key.namespace.is_empty() {
            meta["namespace"] = json!(key.namespace);
        }
        meta["resourceVersion"] = json!(self.version.to_string());
        let change = match (old_meta, changed) {
            (Some(old_meta), Some(changed)) => {
                for field in ["uid", "creationTimestamp"] {
                    meta[field] = old_meta[field].clone();
                }
                let generation = old_meta["generation"].as_i64().unwrap_or(1);
                meta["generation"] = json!(if changed { generation + 1 } else { generation });
                if let Some(status) = old_status {
                    object["status"] = status;
                }
                if changed {
                    Change::Updated
                } else {
                    Change::Unchanged
                }
            }
            _ => {
                meta["uid"] = json!(format!("00000000-0000-4000-8000-{:012x}", self.version));
                meta["creationTimestamp"] = json!(now);
                meta["generation"] = json!(1);
                Change::Created
            }
        };
        self.objects.insert(key, object);
        change
    }

    /// Applies a JSON merge patch (RFC 7386) to an existing object, with
    /// the same validation as apply.
    pub fn patch(
        &mut self,
        key: &ObjectKey,
        patch: &Value,
        now: &str,
    ) -> Result<Change, ClusterError> {
        let mut object = self
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| ClusterError::NotFound(key.clone()))?;
        json_patch::merge(&mut object, patch);
        validate::object(&object, &key.namespace).map_err(|message| ClusterError::Rejected {
            key: key.clone(),
            message,
        })?;
        Ok(self.apply(object, &key.namespace, now))
    }

    /// Deletes one object.
    pub fn delete(&mut self, key: &ObjectKey) -> Result<Value, ClusterError> {
        self.objects
            .remove(key)
            .ok_or_else(|| ClusterError::NotFound(key.clone()))
    }

    /// One object.
    pub fn get(&self, key: &ObjectKey) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Every object of a kind.
    pub fn of_kind<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Value)> + 'a {
        self.objects.iter().filter(move |(k, _)| k.kind == kind)
    }

    /// Every object.
    pub fn all(&self) -> impl Iterator<Item = (&ObjectKey, &Value)> {
        self.objects.iter()
    }
}

/// What counts as a change for `generation`: `spec` when the kind has one,
/// else everything but metadata and status (a Service's or slice's data).
fn content(object: &Value) -> Value {
    match object.get("spec") {
        Some(spec) => spec.clone(),
        None => {
            let mut v = object.clone();
            if let Some(m) = v.as_object_mut() {
                m.remove("metadata");
                m.remove("status");
            }
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_moves_only_on_spec_change() {
        let mut store = Store::default();
        let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "TCPRoute",
            "metadata": {"name": "r"}, "spec": {"rules": [{"backendRefs": [{"name": "a", "port": 1}]}]}});
        assert_eq!(
            store.apply(route.clone(), "ns", "2026-01-01T00:00:00Z"),
            Change::Created
        );
        let key = ObjectKey::new("TCPRoute", "ns", "r");
        assert_eq!(store.get(&key).unwrap()["metadata"]["generation"], 1);
        let mut relabelled = route.clone();
        relabelled["metadata"]["labels"] = json!({"a": "b"});
        assert_eq!(
            store.apply(relabelled, "ns", "2026-01-01T00:00:09Z"),
            Change::Unchanged
        );
        assert_eq!(store.get(&key).unwrap()["metadata"]["generation"], 1);
        let patch = json!({"spec": {"rules": [{"backendRefs": [{"name": "b", "port": 1}]}]}});
        assert_eq!(
            store.patch(&key, &patch, "2026-01-01T00:00:10Z").unwrap(),
            Change::Updated
        );
        let obj = store.get(&key).unwrap();
        assert_eq!(obj["metadata"]["generation"], 2);
        assert_eq!(obj["metadata"]["creationTimestamp"], "2026-01-01T00:00:00Z");
    }
}
