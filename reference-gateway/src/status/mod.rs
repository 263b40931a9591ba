//! Status documents: what the gateway writes for each object it owns, in
//! the shape `kubectl get -o yaml` shows (`apiVersion`, `kind`, `metadata`
//! with `name`, `namespace`, `generation`, and `status`), keys in
//! alphabetical order like kubectl's output.
//!
//! Translation produces conditions without `lastTransitionTime`; the caller
//! stamps them with [`stamp`], which keeps the previous time of a condition
//! whose status did not change.

mod stamp;

use std::path::PathBuf;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};

pub use stamp::stamp;

/// The kinds that get a status document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// A GatewayClass (cluster-scoped).
    GatewayClass,
    /// A Gateway.
    Gateway,
    /// A TCPRoute.
    #[serde(rename = "TCPRoute")]
    TcpRoute,
    /// A UDPRoute.
    #[serde(rename = "UDPRoute")]
    UdpRoute,
}

impl Kind {
    /// The kind as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::GatewayClass => "GatewayClass",
            Kind::Gateway => "Gateway",
            Kind::TcpRoute => "TCPRoute",
            Kind::UdpRoute => "UDPRoute",
        }
    }
}

/// One object's status, as written to `S/<Kind>/<namespace>/<name>.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    try_from = "RawDocument"
)]
pub struct StatusDocument {
    /// `gateway.networking.k8s.io/v1`, or the version a route was written in.
    pub api_version: String,
    /// The object's kind.
    pub kind: Kind,
    /// Which object.
    pub metadata: Metadata,
    /// The status itself; its variant matches `kind`.
    pub status: Status,
}

impl StatusDocument {
    /// `<Kind>/<namespace>/<name>.yaml`, or `<Kind>/<name>.yaml` for a
    /// cluster-scoped kind: the file's path under the status directory.
    pub fn relative_path(&self) -> PathBuf {
        let mut path = PathBuf::from(self.kind.as_str());
        if let Some(namespace) = &self.metadata.namespace {
            path.push(namespace);
        }
        path.push(format!("{}.yaml", self.metadata.name));
        path
    }

    /// Every condition list in the document with a key naming where it is
    /// (`""` for the object, `listener <name>`, `parent <parentRef>`).
    pub(crate) fn condition_lists_mut(&mut self) -> Vec<(String, &mut Vec<Condition>)> {
        match &mut self.status {
            Status::GatewayClass(s) => vec![(String::new(), &mut s.conditions)],
            Status::Gateway(s) => {
                let mut lists = vec![(String::new(), &mut s.conditions)];
                for l in &mut s.listeners {
                    lists.push((format!("listener {}", l.name), &mut l.conditions));
                }
                lists
            }
            Status::Route(s) => s
                .parents
                .iter_mut()
                .map(|p| {
                    let key = serde_json::to_string(&(&p.controller_name, &p.parent_ref))
                        .unwrap_or_default();
                    (format!("parent {key}"), &mut p.conditions)
                })
                .collect(),
        }
    }
}

/// The document's `metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// `metadata.generation` of the object the status is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (absent for GatewayClass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A status, by kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Status {
    /// GatewayClass status.
    GatewayClass(GatewayClassStatus),
    /// Gateway status.
    Gateway(GatewayStatus),
    /// TCPRoute or UDPRoute status.
    Route(RouteStatus),
}

/// `status` of a GatewayClass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayClassStatus {
    /// `Accepted`.
    pub conditions: Vec<Condition>,
    /// The features this gateway supports, sorted by name.
    pub supported_features: Vec<SupportedFeature>,
}

/// One entry of `status.supportedFeatures`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportedFeature {
    /// The feature name, e.g. `TCPRoute`.
    pub name: String,
}

/// `status` of a Gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayStatus {
    /// Addresses the listeners are bound to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<GatewayAddress>,
    /// `Accepted` and `Programmed`.
    pub conditions: Vec<Condition>,
    /// One entry per spec listener, in spec order.
    #[serde(default)]
    pub listeners: Vec<ListenerStatus>,
}

/// One of `status.addresses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayAddress {
    /// Always `IPAddress`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The address.
    pub value: String,
}

/// One of `status.listeners`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerStatus {
    /// Routes attached (Accepted, allowed by this listener), counted even
    /// when the listener itself is not accepted.
    pub attached_routes: i32,
    /// `Accepted`, `Conflicted`, `Programmed`, `ResolvedRefs`.
    pub conditions: Vec<Condition>,
    /// The listener's name.
    pub name: String,
    /// Route kinds this listener accepts (possibly empty).
    pub supported_kinds: Vec<RouteGroupKind>,
}

/// A route kind with its group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteGroupKind {
    /// `gateway.networking.k8s.io`.
    pub group: String,
    /// `TCPRoute` or `UDPRoute`.
    pub kind: String,
}

/// `status` of a TCPRoute or UDPRoute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteStatus {
    /// One entry per parentRef that names a Gateway of ours.
    pub parents: Vec<RouteParentStatus>,
}

/// One of `status.parents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteParentStatus {
    /// `Accepted`, `PartiallyInvalid` (when rules were dropped), `ResolvedRefs`.
    pub conditions: Vec<Condition>,
    /// [`crate::translate::CONTROLLER_NAME`].
    pub controller_name: String,
    /// The spec's parentRef, with `group` and `kind` filled in.
    pub parent_ref: ParentRef,
}

/// A parentRef as echoed in route status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParentRef {
    /// Always set (default `gateway.networking.k8s.io`).
    pub group: String,
    /// Always set (default `Gateway`).
    pub kind: String,
    /// The Gateway's name.
    pub name: String,
    /// As written in the spec (absent means the route's namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// As written in the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// As written in the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

/// A status condition (metav1.Condition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
    /// Set by [`stamp`], never by translation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Names the object and field the condition is about.
    pub message: String,
    /// The object's `metadata.generation` this condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Why.
    pub reason: Reason,
    /// True, False or Unknown.
    pub status: ConditionStatus,
    /// Which condition.
    #[serde(rename = "type")]
    pub type_: ConditionType,
}

/// A condition's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionStatus {
    /// `True`.
    True,
    /// `False`.
    False,
    /// `Unknown`.
    Unknown,
}

/// The condition types this gateway writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ConditionType {
    /// GatewayClass, Gateway, listener and route parent.
    Accepted,
    /// Listener.
    Conflicted,
    /// Route parent, when rules were dropped.
    PartiallyInvalid,
    /// Gateway and listener.
    Programmed,
    /// Listener (route kinds) and route parent (backendRefs).
    ResolvedRefs,
}

/// Condition reasons: each variant is spelled exactly as the Gateway API
/// reason string it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Reason {
    /// Accepted=True.
    Accepted,
    /// Gateway Accepted (True: some, False: all listeners invalid).
    ListenersNotValid,
    /// GatewayClass Accepted=False: a parametersRef we cannot honour.
    InvalidParameters,
    /// Gateway Accepted=False: an address type or value we cannot bind.
    UnsupportedAddress,
    /// Programmed=True.
    Programmed,
    /// Programmed=False: the object is not valid enough to program.
    Invalid,
    /// Gateway Programmed=False: an IPAddress entry without a value.
    AddressNotAssigned,
    /// Listener Accepted=False: the socket is taken or failed to bind.
    PortUnavailable,
    /// Listener Accepted=False: not TCP or UDP.
    UnsupportedProtocol,
    /// Listener Accepted=False (bad port); route PartiallyInvalid=True.
    UnsupportedValue,
    /// ResolvedRefs=True.
    ResolvedRefs,
    /// Listener ResolvedRefs=False: allowedRoutes.kinds names a kind the
    /// listener cannot serve.
    InvalidRouteKinds,
    /// Listener Conflicted=True (and Accepted=False).
    ProtocolConflict,
    /// Listener Conflicted=False.
    NoConflicts,
    /// Route Accepted=False: no matched listener allows the route.
    NotAllowedByListeners,
    /// Route Accepted=False: sectionName/port match no listener.
    NoMatchingParent,
    /// Route ResolvedRefs=False: cross-namespace backend without a grant.
    RefNotPermitted,
    /// Route ResolvedRefs=False: backend kind is not a core Service.
    InvalidKind,
    /// Route ResolvedRefs=False: Service or port missing.
    BackendNotFound,
}

/// Reads a document by its `kind`, so each status parses strictly as its
/// own type.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawDocument {
    api_version: String,
    kind: Kind,
    metadata: Metadata,
    status: serde_json::Value,
}

impl TryFrom<RawDocument> for StatusDocument {
    type Error = serde_json::Error;

    fn try_from(raw: RawDocument) -> Result<Self, Self::Error> {
        let status = match raw.kind {
            Kind::GatewayClass => Status::GatewayClass(serde_json::from_value(raw.status)?),
            Kind::Gateway => Status::Gateway(serde_json::from_value(raw.status)?),
            Kind::TcpRoute | Kind::UdpRoute => Status::Route(serde_json::from_value(raw.status)?),
        };
        Ok(StatusDocument {
            api_version: raw.api_version,
            kind: raw.kind,
            metadata: raw.metadata,
            status,
        })
    }
}
