//! One view of TCPRoutes and UDPRoutes: the crate has a type per kind with
//! identical shapes, and translation should not be written twice.

use gateway_api::experimental::tcproutes::TcpRoute;
use gateway_api::experimental::udproutes::UdpRoute;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::config::Protocol;
use crate::model::{ApiVersion, Versioned};
use crate::status::Kind;

/// A route of either kind.
#[derive(Debug, Clone)]
pub(crate) struct RouteView {
    pub kind: Kind,
    pub api_version: ApiVersion,
    pub namespace: String,
    pub name: String,
    pub generation: Option<i64>,
    pub created: Option<Time>,
    pub parent_refs: Vec<ParentRefView>,
    pub rules: Vec<RuleView>,
}

impl RouteView {
    /// The listener protocol this route kind is served by.
    pub fn protocol(&self) -> Protocol {
        match self.kind {
            Kind::UdpRoute => Protocol::Udp,
            _ => Protocol::Tcp,
        }
    }

    /// `TCPRoute ns/name`, for messages.
    pub fn label(&self) -> String {
        format!("{} {}/{}", self.kind.as_str(), self.namespace, self.name)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ParentRefView {
    pub group: Option<String>,
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: String,
    pub section_name: Option<String>,
    pub port: Option<i32>,
}

#[derive(Debug, Clone)]
pub(crate) struct RuleView {
    pub name: Option<String>,
    pub backend_refs: Vec<BackendRefView>,
}

#[derive(Debug, Clone)]
pub(crate) struct BackendRefView {
    pub group: Option<String>,
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: String,
    pub port: Option<i32>,
    pub weight: Option<i32>,
}

fn base(kind: Kind, api_version: ApiVersion, meta: &ObjectMeta) -> RouteView {
    RouteView {
        kind,
        api_version,
        namespace: meta.namespace.clone().unwrap_or_else(|| "default".into()),
        name: meta.name.clone().unwrap_or_default(),
        generation: meta.generation,
        created: meta.creation_timestamp.clone(),
        parent_refs: Vec::new(),
        rules: Vec::new(),
    }
}

/// Both crate types have the same field names; one macro body keeps the two
/// conversions from drifting apart.
macro_rules! convert {
    ($route:expr, $kind:expr) => {{
        let v = $route;
        let mut view = base($kind, v.api_version, &v.object.metadata);
        view.parent_refs = v
            .object
            .spec
            .parent_refs
            .iter()
            .flatten()
            .map(|p| ParentRefView {
                group: p.group.clone(),
                kind: p.kind.clone(),
                namespace: p.namespace.clone(),
                name: p.name.clone(),
                section_name: p.section_name.clone(),
                port: p.port,
            })
            .collect();
        view.rules = v
            .object
            .spec
            .rules
            .iter()
            .map(|r| RuleView {
                name: r.name.clone(),
                backend_refs: r
                    .backend_refs
                    .iter()
                    .map(|b| BackendRefView {
                        group: b.group.clone(),
                        kind: b.kind.clone(),
                        namespace: b.namespace.clone(),
                        name: b.name.clone(),
                        port: b.port,
                        weight: b.weight,
                    })
                    .collect(),
            })
            .collect();
        view
    }};
}

pub(crate) fn from_tcp(route: &Versioned<TcpRoute>) -> RouteView {
    convert!(route, Kind::TcpRoute)
}

pub(crate) fn from_udp(route: &Versioned<UdpRoute>) -> RouteView {
    convert!(route, Kind::UdpRoute)
}

impl RouteView {
    /// `TCP` or `UDP`, for messages.
    pub fn protocol_name(&self) -> &'static str {
        match self.protocol() {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}
