//! backendRefs → weighted data-plane backends, and the route's
//! `ResolvedRefs` findings.
//!
//! Rules, in the order they are checked for each backendRef:
//! 1. kind must be a core `Service` (else `InvalidKind`);
//! 2. a Service ref needs a port (else `BackendNotFound`);
//! 3. a cross-namespace ref needs a ReferenceGrant in the Service's
//!    namespace (else `RefNotPermitted`), checked before existence as the
//!    upstream conformance tests expect;
//! 4. the Service must exist and have the port with the route's protocol:
//!    a UDPRoute needs a UDP service port, a TCPRoute a TCP one (else
//!    `BackendNotFound`, naming the missing port and protocol).
//!
//! A ref failing any rule keeps its weight as a reject share, so an invalid
//! backend with 80% of the weight rejects 80% of connections (TCP reset,
//! UDP drop). A valid Service with no ready endpoints is a reject share too,
//! but `ResolvedRefs` stays True: the reference itself resolves. If every
//! weight is 0 the data plane has no share to pick and rejects everything.

use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::core::v1::ServicePort;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::gateway::Problem;
use super::input::Input;
use super::routes::{BackendRefView, RouteView};
use crate::config::{Backend, Protocol, Target};
use crate::model::GATEWAY_GROUP;
use crate::status::Reason;

/// The first rule's backends and what went wrong resolving them.
pub(crate) struct Resolution {
    pub backends: Vec<Backend>,
    /// One per invalid backendRef, in order.
    pub failures: Vec<Problem>,
    /// Valid refs that still reject (no ready endpoints).
    pub notes: Vec<String>,
}

pub(crate) fn resolve(input: &Input<'_>, route: &RouteView) -> Resolution {
    let mut out = Resolution {
        backends: Vec::new(),
        failures: Vec::new(),
        notes: Vec::new(),
    };
    let Some(rule) = route.rules.first() else {
        return out;
    };
    for (i, backend_ref) in rule.backend_refs.iter().enumerate() {
        let namespace = backend_ref
            .namespace
            .clone()
            .unwrap_or_else(|| route.namespace.clone());
        let port = backend_ref
            .port
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        let name = format!("{namespace}/{}{port}", backend_ref.name);
        let weight = backend_ref.weight.unwrap_or(1).clamp(0, 1_000_000) as u32;
        let target = match check(input, route, backend_ref, &namespace) {
            Err((reason, message)) => {
                let message = format!("backendRefs[{i}]: {message}");
                out.failures.push((reason, message.clone()));
                Target::Reject(message)
            }
            Ok(endpoints) if endpoints.is_empty() => {
                let message = format!(
                    "backendRefs[{i}]: Service {namespace}/{} has no ready endpoints",
                    backend_ref.name
                );
                out.notes.push(message.clone());
                Target::Reject(message)
            }
            Ok(endpoints) => Target::Endpoints(endpoints),
        };
        out.backends.push(Backend {
            name,
            weight,
            target,
        });
    }
    out
}

fn check(
    input: &Input<'_>,
    route: &RouteView,
    b: &BackendRefView,
    namespace: &str,
) -> Result<Vec<SocketAddr>, Problem> {
    let group = b.group.as_deref().unwrap_or("");
    let kind = b.kind.as_deref().unwrap_or("Service");
    if !group.is_empty() || kind != "Service" {
        let shown = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{group}/{kind}")
        };
        return Err((
            Reason::InvalidKind,
            format!("kind {shown} is not supported; only core Service"),
        ));
    }
    let service_label = format!("Service {namespace}/{}", b.name);
    let Some(port) = b.port else {
        return Err((
            Reason::BackendNotFound,
            format!("{service_label}: port is required"),
        ));
    };
    if namespace != route.namespace && !granted(input, route, namespace, &b.name) {
        return Err((
            Reason::RefNotPermitted,
            format!(
                "{service_label} is in another namespace and no ReferenceGrant in {namespace} allows {} from {}",
                route.kind.as_str(),
                route.namespace
            ),
        ));
    }
    let Some(service) = input.services.get(&(namespace.to_string(), b.name.clone())) else {
        return Err((
            Reason::BackendNotFound,
            format!("{service_label} does not exist"),
        ));
    };
    let protocol = route.protocol();
    let wanted = match protocol {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    };
    let ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    let Some(service_port) = ports
        .iter()
        .find(|p| p.port == port && port_protocol(&p.protocol) == wanted)
    else {
        let detail = if ports.iter().any(|p| p.port == port) {
            format!("no {wanted} port {port}")
        } else {
            format!("no port {port}")
        };
        return Err((
            Reason::BackendNotFound,
            format!("{service_label} has {detail}"),
        ));
    };
    let slices = input.slices.get(&(namespace.to_string(), b.name.clone()));
    Ok(endpoints(
        service_port,
        slices.map(Vec::as_slice).unwrap_or_default(),
        wanted,
    ))
}

fn port_protocol(protocol: &Option<String>) -> &str {
    protocol.as_deref().unwrap_or("TCP")
}

/// Whether a ReferenceGrant in `namespace` lets this route kind from the
/// route's namespace refer to Service `name`.
fn granted(input: &Input<'_>, route: &RouteView, namespace: &str, name: &str) -> bool {
    input
        .grants
        .iter()
        .filter(|(ns, _)| ns == namespace)
        .any(|(_, spec)| {
            let from = spec.from.iter().any(|f| {
                f.group == GATEWAY_GROUP
                    && f.kind == route.kind.as_str()
                    && f.namespace == route.namespace
            });
            let to = spec.to.iter().any(|t| {
                t.group.is_empty()
                    && t.kind == "Service"
                    && t.name.as_deref().is_none_or(|n| n == name)
            });
            from && to
        })
}

/// Ready endpoint addresses of the Service port, sorted and deduplicated.
///
/// Readiness follows the EndpointSlice API: `conditions.ready` true or
/// unset. The first address of each endpoint is used (addresses are
/// fungible). The target port is found, in order: the slice port with the
/// Service port's name and the protocol; then a numeric `targetPort` (or
/// `port` when `targetPort` is unset). A named `targetPort` with no slice
/// port of that name leaves the slice without endpoints for this port.
fn endpoints(port: &ServicePort, slices: &[&EndpointSlice], protocol: &str) -> Vec<SocketAddr> {
    let name = port.name.as_deref().unwrap_or("");
    let mut out = Vec::new();
    for slice in slices {
        if !matches!(slice.address_type.as_str(), "IPv4" | "IPv6") {
            continue;
        }
        let from_slice = slice
            .ports
            .iter()
            .flatten()
            .find(|p| {
                p.name.as_deref().unwrap_or("") == name && port_protocol(&p.protocol) == protocol
            })
            .and_then(|p| p.port);
        let target = from_slice.or(match &port.target_port {
            None => Some(port.port),
            Some(IntOrString::Int(n)) => Some(*n),
            Some(IntOrString::String(_)) => None,
        });
        let Some(target) = target
            .and_then(|t| u16::try_from(t).ok())
            .filter(|t| *t != 0)
        else {
            continue;
        };
        for endpoint in slice.endpoints.iter().flatten() {
            let ready = endpoint
                .conditions
                .as_ref()
                .and_then(|c| c.ready)
                .unwrap_or(true);
            let address = endpoint
                .addresses
                .first()
                .and_then(|a| a.parse::<IpAddr>().ok());
            if let (true, Some(address)) = (ready, address) {
                out.push(SocketAddr::new(address, target));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
