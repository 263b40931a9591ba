//! Which Gateway API versions the cluster serves, the `ApiResource` of
//! each kind read, and turning listed or watched objects into a
//! [`Snapshot`].
//!
//! Gateway API kinds are read as `DynamicObject`s of the served version
//! and converted to the `gateway-api` crate's types (TCPRoute and UDPRoute
//! v1 share the v1alpha2 schema; ReferenceGrant v1beta1 shares v1's).
//! Conversion is lenient: the API server has validated the object against
//! its CRD, so a field this crate does not know is ignored, not refused.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::warn;

use super::Error;
use crate::model::{ApiVersion, GATEWAY_GROUP, Snapshot, Versioned};

/// A Gateway API kind the provider reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GatewayKind {
    /// `gatewayclasses` (cluster-scoped).
    GatewayClass,
    /// `gateways`.
    Gateway,
    /// `tcproutes`.
    TcpRoute,
    /// `udproutes`.
    UdpRoute,
    /// `referencegrants`.
    ReferenceGrant,
}

impl GatewayKind {
    /// Every kind, in the order they are listed.
    pub const ALL: [GatewayKind; 5] = [
        GatewayKind::GatewayClass,
        GatewayKind::Gateway,
        GatewayKind::TcpRoute,
        GatewayKind::UdpRoute,
        GatewayKind::ReferenceGrant,
    ];

    /// The kind as Kubernetes spells it.
    pub fn kind(self) -> &'static str {
        match self {
            GatewayKind::GatewayClass => "GatewayClass",
            GatewayKind::Gateway => "Gateway",
            GatewayKind::TcpRoute => "TCPRoute",
            GatewayKind::UdpRoute => "UDPRoute",
            GatewayKind::ReferenceGrant => "ReferenceGrant",
        }
    }

    /// The resource name (plural).
    pub fn plural(self) -> &'static str {
        match self {
            GatewayKind::GatewayClass => "gatewayclasses",
            GatewayKind::Gateway => "gateways",
            GatewayKind::TcpRoute => "tcproutes",
            GatewayKind::UdpRoute => "udproutes",
            GatewayKind::ReferenceGrant => "referencegrants",
        }
    }
}

/// The versions the provider reads each Gateway API kind in.
/// GatewayClass and Gateway are always v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServedVersions {
    /// TCPRoute and UDPRoute: v1 (Gateway API ≥ v1.6) or v1alpha2.
    pub routes: ApiVersion,
    /// ReferenceGrant: v1 or v1beta1.
    pub reference_grants: ApiVersion,
}

impl Default for ServedVersions {
    /// What the gateway-api crate (Gateway API v1.5.1) installs.
    fn default() -> Self {
        ServedVersions {
            routes: ApiVersion::V1alpha2,
            reference_grants: ApiVersion::V1,
        }
    }
}

impl ServedVersions {
    /// Asks the API server's discovery which versions of the group it
    /// serves and picks the newest usable one per kind.
    pub async fn discover(client: &Client) -> Result<Self, Error> {
        let group = kube::discovery::group(client, GATEWAY_GROUP)
            .await
            .map_err(|source| Error::Discovery {
                what: format!("API group {GATEWAY_GROUP} (are the Gateway API CRDs installed?)"),
                source: Box::new(source),
            })?;
        let serves = |version: &str, plural: &str| {
            group
                .versioned_resources(version)
                .iter()
                .any(|(r, _)| r.plural == plural)
        };
        let pick = |kind: GatewayKind, candidates: &[ApiVersion]| {
            candidates
                .iter()
                .copied()
                .find(|v| serves(version_name(*v), kind.plural()))
                .ok_or_else(|| Error::NotServed {
                    kind: kind.kind(),
                    versions: candidates
                        .iter()
                        .map(|v| version_name(*v))
                        .collect::<Vec<_>>()
                        .join(" or "),
                })
        };
        for kind in [GatewayKind::GatewayClass, GatewayKind::Gateway] {
            pick(kind, &[ApiVersion::V1])?;
        }
        let routes = pick(
            GatewayKind::TcpRoute,
            &[ApiVersion::V1, ApiVersion::V1alpha2],
        )?;
        pick(GatewayKind::UdpRoute, &[routes])?;
        let reference_grants = pick(
            GatewayKind::ReferenceGrant,
            &[ApiVersion::V1, ApiVersion::V1beta1],
        )?;
        Ok(ServedVersions {
            routes,
            reference_grants,
        })
    }

    /// The version `kind` is read and written in.
    pub fn version(&self, kind: GatewayKind) -> ApiVersion {
        match kind {
            GatewayKind::GatewayClass | GatewayKind::Gateway => ApiVersion::V1,
            GatewayKind::TcpRoute | GatewayKind::UdpRoute => self.routes,
            GatewayKind::ReferenceGrant => self.reference_grants,
        }
    }

    /// The `ApiResource` for `Api<DynamicObject>` of `kind`.
    pub fn resource(&self, kind: GatewayKind) -> ApiResource {
        let version = self.version(kind);
        ApiResource {
            group: GATEWAY_GROUP.to_string(),
            version: version_name(version).to_string(),
            api_version: version.as_str().to_string(),
            kind: kind.kind().to_string(),
            plural: kind.plural().to_string(),
        }
    }

    /// An API over every object of `kind` (all namespaces).
    pub fn api(&self, client: &Client, kind: GatewayKind) -> Api<DynamicObject> {
        Api::all_with(client.clone(), &self.resource(kind))
    }
}

/// `v1` of `gateway.networking.k8s.io/v1`.
fn version_name(version: ApiVersion) -> &'static str {
    version
        .as_str()
        .rsplit('/')
        .next()
        .unwrap_or_else(|| version.as_str())
}

/// Every input object, as listed or watched.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    /// Gateway API objects, by kind.
    pub gateway: Vec<(GatewayKind, DynamicObject)>,
    /// Services.
    pub services: Vec<Service>,
    /// EndpointSlices.
    pub endpoint_slices: Vec<EndpointSlice>,
    /// Namespaces.
    pub namespaces: Vec<Namespace>,
}

impl Objects {
    /// Lists every input object once (no watch): the provider's first
    /// view, and what tests use against a fake API server.
    pub async fn list(client: &Client, versions: &ServedVersions) -> Result<Self, Error> {
        let mut objects = Objects::default();
        for kind in GatewayKind::ALL {
            let list = versions
                .api(client, kind)
                .list(&ListParams::default())
                .await
                .map_err(|source| Error::Api {
                    action: format!("list {}", versions.resource(kind).api_version),
                    object: kind.plural().to_string(),
                    source: Box::new(source),
                })?;
            objects
                .gateway
                .extend(list.items.into_iter().map(|o| (kind, o)));
        }
        objects.services = list_all(client).await?;
        objects.endpoint_slices = list_all(client).await?;
        objects.namespaces = list_all(client).await?;
        Ok(objects)
    }

    /// The translation's input. Objects that do not convert to the crate's
    /// types are left out with a warning naming them.
    pub fn snapshot(&self, versions: &ServedVersions, bind_address: IpAddr) -> Snapshot {
        let mut snapshot = Snapshot::new(bind_address);
        for (kind, object) in &self.gateway {
            let value = match serde_json::to_value(object) {
                Ok(value) => value,
                Err(error) => {
                    warn!(kind = kind.kind(), %error, "cannot serialise a watched object");
                    continue;
                }
            };
            let version = versions.version(*kind);
            let added = match kind {
                GatewayKind::GatewayClass => typed(value, "gateway.networking.k8s.io/v1")
                    .map(|o| snapshot.gateway_classes.push(o)),
                GatewayKind::Gateway => {
                    typed(value, "gateway.networking.k8s.io/v1").map(|o| snapshot.gateways.push(o))
                }
                GatewayKind::TcpRoute => typed(value, "gateway.networking.k8s.io/v1alpha2")
                    .map(|o| snapshot.tcp_routes.push(Versioned::new(version, o))),
                GatewayKind::UdpRoute => typed(value, "gateway.networking.k8s.io/v1alpha2")
                    .map(|o| snapshot.udp_routes.push(Versioned::new(version, o))),
                GatewayKind::ReferenceGrant => typed(value, "gateway.networking.k8s.io/v1")
                    .map(|o| snapshot.reference_grants.push(Versioned::new(version, o))),
            };
            if let Err(error) = added {
                warn!(
                    kind = kind.kind(),
                    namespace = object.metadata.namespace.as_deref().unwrap_or(""),
                    name = object.metadata.name.as_deref().unwrap_or(""),
                    %error,
                    "object left out: it does not match the Gateway API schema this gateway knows"
                );
            }
        }
        snapshot.services = self.services.clone();
        snapshot.endpoint_slices = self.endpoint_slices.clone();
        snapshot.namespaces = self.namespaces.clone();
        strip(&mut snapshot);
        snapshot
    }
}

/// Lists every object of a core kind, all namespaces.
async fn list_all<K>(client: &Client) -> Result<Vec<K>, Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    Api::<K>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map(|list| list.items)
        .map_err(|source| Error::Api {
            action: "list".into(),
            object: K::plural(&()).to_string(),
            source: Box::new(source),
        })
}

/// Converts an object's JSON to the crate type, relabelled with the
/// version the type carries (the schemas are the same).
fn typed<T: DeserializeOwned>(mut value: Value, api_version: &str) -> Result<T, String> {
    value["apiVersion"] = Value::String(api_version.to_string());
    serde_path_to_error::deserialize(&value)
        .map_err(|e| format!("field `{}`: {}", e.path(), e.inner()))
}

/// Drops what changes on every write but never matters to translation
/// (resourceVersion, managedFields) and sorts every list by namespace and
/// name, so the snapshot does not depend on the order a store returns
/// objects in. Status is kept: a status change by someone else (e.g. a
/// write that dropped our route parent entry) must trigger a reload, which
/// then writes ours back; our own writes cost one reload that writes nothing.
fn strip(snapshot: &mut Snapshot) {
    tidy(&mut snapshot.gateway_classes, |o| &mut o.metadata);
    tidy(&mut snapshot.gateways, |o| &mut o.metadata);
    tidy(&mut snapshot.tcp_routes, |o| &mut o.object.metadata);
    tidy(&mut snapshot.udp_routes, |o| &mut o.object.metadata);
    tidy(&mut snapshot.reference_grants, |o| &mut o.object.metadata);
    tidy(&mut snapshot.services, |o| &mut o.metadata);
    tidy(&mut snapshot.endpoint_slices, |o| &mut o.metadata);
    tidy(&mut snapshot.namespaces, |o| &mut o.metadata);
}

fn tidy<T>(items: &mut Vec<T>, meta: fn(&mut T) -> &mut ObjectMeta) {
    let mut keyed: Vec<_> = items
        .drain(..)
        .map(|mut item| {
            let m = meta(&mut item);
            m.resource_version = None;
            m.managed_fields = None;
            ((m.namespace.clone(), m.name.clone()), item)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    items.extend(keyed.into_iter().map(|(_, item)| item));
}
