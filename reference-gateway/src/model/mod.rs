//! The translation's input: a [`Snapshot`] of Gateway API and Kubernetes
//! objects, plus the facts that are not API objects (the default bind
//! address, per-Gateway pool addresses, and the listener sockets that
//! failed to bind).
//!
//! Objects are the `gateway-api` and `k8s-openapi` types. TCPRoute and
//! UDPRoute exist as v1 (Gateway API v1.6) and v1alpha2; both are parsed
//! with the crate's v1alpha2 types (same schema, but v1 allows one rule) and
//! the version they came in is kept in [`Versioned`].

mod parse;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use gateway_api::experimental::gatewayclasses::GatewayClass;
use gateway_api::experimental::gateways::Gateway;
use gateway_api::experimental::referencegrants::ReferenceGrant;
use gateway_api::experimental::tcproutes::TcpRoute;
use gateway_api::experimental::udproutes::UdpRoute;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::config::ListenerKey;

pub use parse::{Document, ParseError, Problem, documents};

/// API group of every Gateway API kind.
pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// The API version an object was written in, where more than one is
/// accepted for the same schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiVersion {
    /// `gateway.networking.k8s.io/v1`.
    V1,
    /// `gateway.networking.k8s.io/v1beta1` (ReferenceGrant, Gateway, GatewayClass).
    V1beta1,
    /// `gateway.networking.k8s.io/v1alpha2` (TCPRoute, UDPRoute).
    V1alpha2,
}

impl ApiVersion {
    /// The full `apiVersion` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "gateway.networking.k8s.io/v1",
            ApiVersion::V1beta1 => "gateway.networking.k8s.io/v1beta1",
            ApiVersion::V1alpha2 => "gateway.networking.k8s.io/v1alpha2",
        }
    }
}

/// An object and the API version it was written in.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The `apiVersion` of the input document.
    pub api_version: ApiVersion,
    /// The object, parsed with the crate's type for the kind.
    pub object: T,
}

impl<T> Versioned<T> {
    /// Wraps an object written in `api_version`.
    pub fn new(api_version: ApiVersion, object: T) -> Self {
        Versioned {
            api_version,
            object,
        }
    }
}

/// Everything translation looks at. Order inside the vectors does not
/// matter: [`crate::translate::translate`] sorts its input.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// GatewayClasses (all controllers; only ours are processed).
    pub gateway_classes: Vec<GatewayClass>,
    /// Gateways (only those of our GatewayClasses are processed).
    pub gateways: Vec<Gateway>,
    /// TCPRoutes, v1 or v1alpha2.
    pub tcp_routes: Vec<Versioned<TcpRoute>>,
    /// UDPRoutes, v1 or v1alpha2.
    pub udp_routes: Vec<Versioned<UdpRoute>>,
    /// ReferenceGrants, v1beta1 or v1 (same schema).
    pub reference_grants: Vec<Versioned<ReferenceGrant>>,
    /// Services (backends).
    pub services: Vec<Service>,
    /// EndpointSlices, found by their `kubernetes.io/service-name` label.
    pub endpoint_slices: Vec<EndpointSlice>,
    /// Namespaces, for their labels (allowedRoutes selectors). A namespace
    /// without an object here still has its `kubernetes.io/metadata.name`.
    pub namespaces: Vec<Namespace>,
    /// Where listeners bind when their Gateway has no `spec.addresses`:
    /// the standalone provider's `--bind-address`.
    pub bind_address: IpAddr,
    /// Per-Gateway addresses, by (namespace, name), that take the place of
    /// `bind_address` for a Gateway without `spec.addresses`: the
    /// Kubernetes provider's address pool (`--address-source pool:CIDR`).
    /// Empty otherwise.
    pub gateway_addresses: BTreeMap<(String, String), IpAddr>,
    /// Set when addresses come from a pool: a Gateway without
    /// `spec.addresses` and without an entry in `gateway_addresses` found
    /// the pool exhausted, and gets `Programmed=False/AddressNotAssigned`
    /// with this message instead of binding on `bind_address`.
    pub pool_exhausted: Option<String>,
    /// Listener sockets the data plane failed to bind last time: these
    /// listeners get `Accepted=False/PortUnavailable`, so status stays a
    /// pure function of the snapshot.
    pub failed_binds: BTreeSet<ListenerKey>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot::new(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
}

impl Snapshot {
    /// An empty snapshot binding on `bind_address`.
    pub fn new(bind_address: IpAddr) -> Self {
        Snapshot {
            gateway_classes: Vec::new(),
            gateways: Vec::new(),
            tcp_routes: Vec::new(),
            udp_routes: Vec::new(),
            reference_grants: Vec::new(),
            services: Vec::new(),
            endpoint_slices: Vec::new(),
            namespaces: Vec::new(),
            bind_address,
            gateway_addresses: BTreeMap::new(),
            pool_exhausted: None,
            failed_binds: BTreeSet::new(),
        }
    }

    /// Parses multi-document YAML (see [`documents`]) and adds every object
    /// to the snapshot. `source` names the text in errors (a file path).
    /// On error nothing is added.
    pub fn add_yaml(&mut self, source: &str, text: &str) -> Result<(), ParseError> {
        parse::add_yaml(self, source, text)
    }

    /// A snapshot of one YAML text, binding on the default address.
    pub fn from_yaml(source: &str, text: &str) -> Result<Self, ParseError> {
        let mut snapshot = Snapshot::default();
        snapshot.add_yaml(source, text)?;
        Ok(snapshot)
    }
}
