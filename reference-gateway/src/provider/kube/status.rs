//! Writing status documents to the objects' `status` subresource.
//!
//! Every write is a server-side apply (`Patch::Apply`, field manager
//! [`FIELD_MANAGER`], force) of the `status` alone.
//!
//! Routes are shared with other controllers: `status.parents` holds one
//! entry per (parentRef, controllerName), and only the entries with our
//! controllerName are ours. The Gateway API CRDs declare `status.parents`
//! `x-kubernetes-list-type: atomic` (v1.6.1 `tcproutes` CRD, `RouteStatus`),
//! so server-side apply cannot merge it entry by entry: whoever applies the
//! list owns all of it. So route writes are read-modify-write: GET the
//! route, keep every entry of other controllers as it is, replace ours, and
//! apply the whole list with the `metadata.resourceVersion` just read as a
//! precondition; a concurrent writer makes that a 409 Conflict, and the
//! write is retried from a fresh GET.
//!
//! A status is written only when it differs from the live one (ours,
//! compared field by field, `lastTransitionTime` carried over by
//! [`stamp`]), so an unchanged translation costs no write and no new
//! resourceVersion.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value, json};

use super::Error;
use super::resources::{GatewayKind, ServedVersions};
use crate::status::{Kind, Status, StatusDocument, stamp};
use crate::translate::CONTROLLER_NAME;

/// The field manager of every status write.
pub const FIELD_MANAGER: &str = "gwl4-reference-gateway";

/// How often a route write is retried after a 409 Conflict.
const CONFLICT_RETRIES: usize = 5;

/// What [`write_status`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// The live status already matched; nothing was written.
    Unchanged(StatusDocument),
    /// The status was applied; the document as written.
    Applied(StatusDocument),
    /// The object no longer exists.
    Gone,
}

/// The outcome of comparing a live object with a new document.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The new document, stamped against the live status.
    pub stamped: StatusDocument,
    /// The apply body, if the live status differs.
    pub patch: Option<Value>,
}

/// Compares `live` with `doc`: stamps `doc` with the live conditions'
/// times and builds the apply body when something differs. Pure.
pub fn plan(live: &DynamicObject, doc: &StatusDocument, api_version: &str, now: &Time) -> Plan {
    let live_status = live.data.get("status").cloned().unwrap_or(Value::Null);
    let ours_live = owned_part(doc.kind, &live_status);
    let previous: Vec<StatusDocument> = parse_previous(doc, &ours_live).into_iter().collect();
    let stamped = stamp(&previous, vec![doc.clone()], now)
        .pop()
        .unwrap_or_else(|| doc.clone());
    let ours_new = serde_json::to_value(&stamped.status).unwrap_or(Value::Null);
    if ours_new == ours_live {
        return Plan {
            stamped,
            patch: None,
        };
    }
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(doc.metadata.name));
    if let Some(namespace) = &doc.metadata.namespace {
        metadata.insert("namespace".into(), json!(namespace));
    }
    let status = match doc.kind {
        Kind::TcpRoute | Kind::UdpRoute => {
            // The whole atomic list: other controllers' entries, then ours.
            let mut parents: Vec<Value> = parents(&live_status)
                .filter(|p| !is_ours(p))
                .cloned()
                .collect();
            parents.extend(parents_of(&ours_new).cloned());
            if let Some(version) = &live.metadata.resource_version {
                metadata.insert("resourceVersion".into(), json!(version));
            }
            json!({ "parents": parents })
        }
        Kind::Gateway | Kind::GatewayClass => ours_new,
    };
    Plan {
        stamped,
        patch: Some(json!({
            "apiVersion": api_version,
            "kind": doc.kind.as_str(),
            "metadata": metadata,
            "status": status,
        })),
    }
}

/// Writes `doc` to its object's status subresource if it differs from the
/// live status (see the module docs). `now` stamps conditions that changed.
pub async fn write_status(
    client: &Client,
    versions: &ServedVersions,
    doc: &StatusDocument,
    now: &Time,
) -> Result<Written, Error> {
    let kind = gateway_kind(doc.kind);
    let resource = versions.resource(kind);
    let api: Api<DynamicObject> = match &doc.metadata.namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let object = match &doc.metadata.namespace {
        Some(namespace) => format!("{} {namespace}/{}", doc.kind.as_str(), doc.metadata.name),
        None => format!("{} {}", doc.kind.as_str(), doc.metadata.name),
    };
    let api_error = |action: &str, source| Error::Api {
        action: action.to_string(),
        object: object.clone(),
        source: Box::new(source),
    };
    let mut attempt = 0;
    loop {
        let Some(live) = api
            .get_opt(&doc.metadata.name)
            .await
            .map_err(|e| api_error("get", e))?
        else {
            return Ok(Written::Gone);
        };
        let Plan { stamped, patch } = plan(&live, doc, &resource.api_version, now);
        let Some(patch) = patch else {
            return Ok(Written::Unchanged(stamped));
        };
        let params = PatchParams::apply(FIELD_MANAGER).force();
        match api
            .patch_status(&doc.metadata.name, &params, &Patch::Apply(&patch))
            .await
        {
            Ok(_) => return Ok(Written::Applied(stamped)),
            Err(kube::Error::Api(status)) if status.code == 409 && attempt < CONFLICT_RETRIES => {
                attempt += 1;
                tracing::debug!(%object, attempt, "status write conflicted; retrying from a fresh read");
            }
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(Written::Gone),
            Err(e) => return Err(api_error("apply status of", e)),
        }
    }
}

/// An empty route status of ours for `kind` `namespace/name`: writing it
/// removes our parent entries from a route we no longer serve.
pub fn release(kind: Kind, namespace: &str, name: &str, api_version: &str) -> StatusDocument {
    StatusDocument {
        api_version: api_version.to_string(),
        kind,
        metadata: crate::status::Metadata {
            generation: None,
            name: name.to_string(),
            namespace: Some(namespace.to_string()),
        },
        status: Status::Route(crate::status::RouteStatus {
            parents: Vec::new(),
        }),
    }
}

/// Whether a live route has a parent entry of ours.
pub fn has_our_parents(live: &DynamicObject) -> bool {
    live.data
        .get("status")
        .is_some_and(|status| parents(status).any(is_ours))
}

/// The Gateway API kind a status document is about.
pub fn gateway_kind(kind: Kind) -> GatewayKind {
    match kind {
        Kind::GatewayClass => GatewayKind::GatewayClass,
        Kind::Gateway => GatewayKind::Gateway,
        Kind::TcpRoute => GatewayKind::TcpRoute,
        Kind::UdpRoute => GatewayKind::UdpRoute,
    }
}

/// The part of a live status this gateway owns, in the shape our
/// documents serialise to: for routes, `{"parents": [ours…]}`; otherwise
/// the fields our document has (a field written by someone else does not
/// count as a difference).
fn owned_part(kind: Kind, live: &Value) -> Value {
    let keys: &[&str] = match kind {
        Kind::TcpRoute | Kind::UdpRoute => {
            let ours: Vec<Value> = parents(live).filter(|p| is_ours(p)).cloned().collect();
            return json!({ "parents": ours });
        }
        Kind::Gateway => &["addresses", "conditions", "listeners"],
        Kind::GatewayClass => &["conditions", "supportedFeatures"],
    };
    let mut part = Map::new();
    for key in keys {
        if let Some(value) = live.get(key).filter(|v| !v.is_null()) {
            part.insert((*key).to_string(), value.clone());
        }
    }
    Value::Object(part)
}

/// The live status (our part) as a document, to carry condition times
/// over; `None` if it does not parse as one of ours.
fn parse_previous(doc: &StatusDocument, ours_live: &Value) -> Option<StatusDocument> {
    let value = json!({
        "apiVersion": doc.api_version,
        "kind": doc.kind,
        "metadata": doc.metadata,
        "status": ours_live,
    });
    serde_json::from_value(value).ok()
}

fn parents(status: &Value) -> impl Iterator<Item = &Value> {
    parents_of(status)
}

fn parents_of(status: &Value) -> impl Iterator<Item = &Value> {
    status
        .get("parents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn is_ours(parent: &Value) -> bool {
    parent.get("controllerName").and_then(Value::as_str) == Some(CONTROLLER_NAME)
}
