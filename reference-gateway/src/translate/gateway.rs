//! Gateways and their listeners: addresses, protocol support, conflicts,
//! allowed route kinds, and which sockets can be bound.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use gateway_api::experimental::gateways::{Gateway, GatewayListeners};

use super::input::{Input, namespace_of};
use crate::config::{ListenerKey, Protocol};
use crate::model::{GATEWAY_GROUP, Snapshot};
use crate::status::{Kind, Reason};

/// A failed check: the condition reason and its message.
pub(crate) type Problem = (Reason, String);

/// A Gateway of ours, validated, with attachment bookkeeping.
pub(crate) struct GatewayState<'a> {
    pub gateway: &'a Gateway,
    pub namespace: String,
    pub name: String,
    /// Why the Gateway as a whole is not accepted (class or address).
    pub rejected: Option<Problem>,
    /// Set when an IPAddress entry has no value, or the address pool had
    /// none left: nothing to bind.
    pub address_missing: Option<String>,
    /// Where every listener binds (deduplicated, in spec order).
    pub addresses: Vec<IpAddr>,
    pub listeners: Vec<ListenerState<'a>>,
}

/// One spec listener.
pub(crate) struct ListenerState<'a> {
    pub spec: &'a GatewayListeners,
    /// TCP or UDP; `None` for any other protocol.
    pub protocol: Option<Protocol>,
    /// Why `Accepted` is False.
    pub rejected: Option<Problem>,
    /// `Conflicted=True` message.
    pub conflict: Option<String>,
    /// Route kinds the listener accepts.
    pub kinds: Vec<Kind>,
    /// `ResolvedRefs=False/InvalidRouteKinds` message.
    pub invalid_kinds: Option<String>,
    /// Indexes (into `Input::routes`) of the routes attached.
    pub attached: BTreeSet<usize>,
}

impl ListenerState<'_> {
    /// Whether the socket(s) get bound.
    pub fn programmed(&self, gateway_ok: bool) -> bool {
        gateway_ok && self.rejected.is_none()
    }
}

impl GatewayState<'_> {
    /// Accepted and with an address: listeners can be programmed.
    pub fn bindable(&self) -> bool {
        self.rejected.is_none() && self.address_missing.is_none()
    }

    /// `namespace/gateway`, for messages.
    pub fn label(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Validates every Gateway whose class is ours, oldest first. `classes`
/// maps our class names to whether the class is accepted.
pub(crate) fn prepare<'a>(
    input: &Input<'a>,
    classes: &BTreeMap<String, bool>,
) -> Vec<GatewayState<'a>> {
    // Sockets claimed by older Gateways: a newer Gateway's listener on the
    // same address, port and protocol cannot bind (PortUnavailable).
    let mut claimed: BTreeMap<ListenerKey, String> = BTreeMap::new();
    let mut out = Vec::new();
    for gateway in &input.gateways {
        let Some(&class_accepted) = classes.get(&gateway.spec.gateway_class_name) else {
            continue;
        };
        let mut state = GatewayState {
            gateway,
            namespace: namespace_of(&gateway.metadata),
            name: gateway.metadata.name.clone().unwrap_or_default(),
            rejected: None,
            address_missing: None,
            addresses: Vec::new(),
            listeners: gateway
                .spec
                .listeners
                .iter()
                .map(validate_listener)
                .collect(),
        };
        if !class_accepted {
            let class = &gateway.spec.gateway_class_name;
            state.rejected = Some((
                Reason::Invalid,
                format!("spec.gatewayClassName: GatewayClass {class} is not accepted"),
            ));
        } else {
            match addresses(gateway, input.snapshot) {
                Addresses::Bind(list) => state.addresses = list,
                Addresses::Unassigned(message) => state.address_missing = Some(message),
                Addresses::Unsupported(problem) => state.rejected = Some(problem),
            }
        }
        mark_conflicts(&mut state.listeners, input.policy.refuse_tcp_udp_same_port);
        if state.bindable() {
            claim_ports(&mut state, &input.snapshot.failed_binds, &mut claimed);
        }
        out.push(state);
    }
    out
}

/// What `spec.addresses` comes to.
enum Addresses {
    /// Bind every listener on each of these.
    Bind(Vec<IpAddr>),
    /// An IPAddress entry without a value (this gateway cannot assign one),
    /// or the address pool is exhausted (Programmed=False/AddressNotAssigned).
    Unassigned(String),
    /// A type or value that cannot be bound (Accepted=False/UnsupportedAddress).
    Unsupported(Problem),
}

/// `spec.addresses`; when there are none, the Gateway's pool address, or
/// (no pool) the default bind address.
fn addresses(gateway: &Gateway, snapshot: &Snapshot) -> Addresses {
    let specified = gateway.spec.addresses.as_deref().unwrap_or_default();
    if specified.is_empty() {
        let key = (
            namespace_of(&gateway.metadata),
            gateway.metadata.name.clone().unwrap_or_default(),
        );
        return match (
            snapshot.gateway_addresses.get(&key),
            &snapshot.pool_exhausted,
        ) {
            (Some(&address), _) => Addresses::Bind(vec![address]),
            (None, Some(message)) => Addresses::Unassigned(message.clone()),
            (None, None) => Addresses::Bind(vec![snapshot.bind_address]),
        };
    }
    let mut list = Vec::new();
    for (i, address) in specified.iter().enumerate() {
        let type_ = address.r#type.as_deref().unwrap_or("IPAddress");
        if type_ != "IPAddress" {
            return Addresses::Unsupported((
                Reason::UnsupportedAddress,
                format!("spec.addresses[{i}].type: {type_} is not supported; only IPAddress"),
            ));
        }
        let Some(value) = address.value.as_deref() else {
            return Addresses::Unassigned(format!(
                "spec.addresses[{i}].value: an IPAddress without a value cannot be assigned"
            ));
        };
        let Ok(ip) = value.parse::<IpAddr>() else {
            return Addresses::Unsupported((
                Reason::UnsupportedAddress,
                format!("spec.addresses[{i}].value: {value:?} is not an IP address"),
            ));
        };
        if !list.contains(&ip) {
            list.push(ip);
        }
    }
    Addresses::Bind(list)
}

fn validate_listener(spec: &GatewayListeners) -> ListenerState<'_> {
    let protocol = match spec.protocol.as_str() {
        "TCP" => Some(Protocol::Tcp),
        "UDP" => Some(Protocol::Udp),
        _ => None,
    };
    let name = &spec.name;
    let rejected = if protocol.is_none() {
        Some((
            Reason::UnsupportedProtocol,
            format!(
                "listener {name}: protocol {} is not supported; this gateway serves TCP and UDP only",
                spec.protocol
            ),
        ))
    } else if !(1..=65535).contains(&spec.port) {
        Some((
            Reason::UnsupportedValue,
            format!("listener {name}: port {} is not in 1-65535", spec.port),
        ))
    } else {
        None
    };
    let (kinds, invalid_kinds) = route_kinds(spec, protocol);
    ListenerState {
        spec,
        protocol,
        rejected,
        conflict: None,
        kinds,
        invalid_kinds,
        attached: BTreeSet::new(),
    }
}

/// `allowedRoutes.kinds`, defaulting from the protocol (TCP → TCPRoute,
/// UDP → UDPRoute). A kind the protocol cannot carry is invalid.
fn route_kinds(spec: &GatewayListeners, protocol: Option<Protocol>) -> (Vec<Kind>, Option<String>) {
    let native = match protocol {
        Some(Protocol::Tcp) => Some(Kind::TcpRoute),
        Some(Protocol::Udp) => Some(Kind::UdpRoute),
        None => None,
    };
    let requested = spec
        .allowed_routes
        .as_ref()
        .and_then(|a| a.kinds.as_deref())
        .unwrap_or_default();
    if requested.is_empty() {
        return (native.into_iter().collect(), None);
    }
    let mut kinds = Vec::new();
    let mut invalid = Vec::new();
    for (i, k) in requested.iter().enumerate() {
        let group = k.group.as_deref().unwrap_or(GATEWAY_GROUP);
        match native {
            Some(n) if group == GATEWAY_GROUP && k.kind == n.as_str() => {
                if !kinds.contains(&n) {
                    kinds.push(n);
                }
            }
            _ => invalid.push(format!("allowedRoutes.kinds[{i}] {group}/{}", k.kind)),
        }
    }
    let message = (!invalid.is_empty()).then(|| {
        format!(
            "listener {}: {} not supported with protocol {}",
            spec.name,
            invalid.join(", "),
            spec.protocol
        )
    });
    (kinds, message)
}

/// Listeners that are not distinct: two TCP (or two UDP) listeners on one
/// port, or TCP sharing a port with HTTP, HTTPS or TLS. All of them are
/// marked (no winner is picked) and none is bound. TCP and UDP on the same
/// port are distinct, and served, unless `tcp_udp` (the policy that
/// refuses them as incompatible, which the spec allows) marks them too.
fn mark_conflicts(listeners: &mut [ListenerState<'_>], tcp_udp: bool) {
    let mut messages = vec![None; listeners.len()];
    for (i, a) in listeners.iter().enumerate() {
        let mut with = Vec::new();
        for (j, b) in listeners.iter().enumerate() {
            if i == j || a.spec.port != b.spec.port {
                continue;
            }
            let pair = (a.spec.protocol.as_str(), b.spec.protocol.as_str());
            let clash = matches!(
                pair,
                ("TCP", "TCP")
                    | ("UDP", "UDP")
                    | ("TCP", "HTTP" | "HTTPS" | "TLS")
                    | ("HTTP" | "HTTPS" | "TLS", "TCP")
            ) || (tcp_udp && matches!(pair, ("TCP", "UDP") | ("UDP", "TCP")));
            if clash {
                with.push(format!("{} ({})", b.spec.name, b.spec.protocol));
            }
        }
        if !with.is_empty() {
            messages[i] = Some(format!(
                "listener {}: {} port {} is also used by listener {}",
                a.spec.name,
                a.spec.protocol,
                a.spec.port,
                with.join(", ")
            ));
        }
    }
    for (l, message) in listeners.iter_mut().zip(messages) {
        if let Some(message) = message {
            if l.rejected.is_none() {
                l.rejected = Some((Reason::ProtocolConflict, message.clone()));
            }
            l.conflict = Some(message);
        }
    }
}

/// Marks listeners whose socket failed to bind last time, or is taken by an
/// older Gateway, as PortUnavailable; claims the sockets of the others.
fn claim_ports(
    state: &mut GatewayState<'_>,
    failed: &BTreeSet<ListenerKey>,
    claimed: &mut BTreeMap<ListenerKey, String>,
) {
    let owner_prefix = state.label();
    for listener in &mut state.listeners {
        let (Some(protocol), None) = (listener.protocol, &listener.rejected) else {
            continue;
        };
        let keys: Vec<ListenerKey> = state
            .addresses
            .iter()
            .map(|&address| ListenerKey {
                address,
                port: listener.spec.port as u16,
                protocol,
            })
            .collect();
        let name = &listener.spec.name;
        let problem = keys.iter().find_map(|k| {
            let socket = format!(
                "{}/{}",
                std::net::SocketAddr::new(k.address, k.port),
                listener.spec.protocol
            );
            if failed.contains(k) {
                Some(format!(
                    "listener {name}: the data plane could not bind {socket}"
                ))
            } else {
                claimed.get(k).map(|owner| {
                    format!("listener {name}: {socket} is already used by listener {owner}")
                })
            }
        });
        match problem {
            Some(message) => listener.rejected = Some((Reason::PortUnavailable, message)),
            None => {
                for k in keys {
                    claimed.insert(k, format!("{owner_prefix}/{name}"));
                }
            }
        }
    }
}
