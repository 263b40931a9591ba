//! The pure translation: a [`Snapshot`] in, the data-plane [`Config`] and
//! every owned object's status out. No I/O, no clock, no randomness; the
//! output depends only on the snapshot's contents, not on its order.
//!
//! The recipe, one step per module:
//! 1. [`input`]: order the snapshot (creationTimestamp, then
//!    namespace/name) and index it;
//! 2. GatewayClasses with our [`CONTROLLER_NAME`] are accepted (here);
//! 3. [`gateway`]: validate Gateways of those classes and their listeners
//!    (protocol, conflicts, route kinds, ports);
//! 4. [`attach`]: attach routes, oldest first, to the listeners their
//!    parentRefs select and allow; the oldest route on a listener gets its
//!    traffic, all attached routes are Accepted and counted;
//! 5. [`backends`]: resolve each route's first rule into weighted backends;
//! 6. [`status`](mod@self::status): assemble status documents and the config.

mod attach;
mod backends;
mod gateway;
mod input;
mod namespaces;
mod routes;
mod status;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::model::Snapshot;
use crate::status::StatusDocument;

/// The `controllerName` of GatewayClasses this gateway implements.
pub const CONTROLLER_NAME: &str = "gwl4.dev/reference-gateway";

/// What goes in GatewayClass `status.supportedFeatures`, sorted. The
/// upstream names (Gateway, ReferenceGrant, TCPRoute, UDPRoute) plus gwl4's
/// own: `TCPRouteWeights` and `UDPRouteWeights` (weighted backendRefs split
/// new connections / new flows in proportion to weight).
pub const SUPPORTED_FEATURES: &[&str] = &[
    "Gateway",
    "ReferenceGrant",
    "TCPRoute",
    "TCPRouteWeights",
    "UDPRoute",
    "UDPRouteWeights",
];

/// The result of [`translate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Translation {
    /// What the data plane serves.
    pub config: Config,
    /// One document per owned object, sorted by kind, namespace and name;
    /// conditions have no `lastTransitionTime` (see [`crate::status::stamp`]).
    pub statuses: Vec<StatusDocument>,
}

/// Choices the spec leaves to an implementation, where the reference
/// gateway can take either (the default is what it does; the others are
/// allowed variations for gwl4's self-test, [`crate::variant`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// A route with more than one rule is not accepted
    /// (`Accepted=False/UnsupportedValue`), instead of served by its first
    /// rule with `PartiallyInvalid=True`.
    pub reject_multi_rule: bool,
    /// TCP and UDP listeners on one port conflict
    /// (`Conflicted=True/ProtocolConflict`), instead of both being served.
    pub refuse_tcp_udp_same_port: bool,
}

impl From<crate::variant::Variants> for Policy {
    fn from(v: crate::variant::Variants) -> Self {
        use crate::variant::Variant;
        Policy {
            reject_multi_rule: v.contains(Variant::MultiRuleRejected),
            refuse_tcp_udp_same_port: v.contains(Variant::TcpUdpSamePortRefused),
        }
    }
}

/// Translates a snapshot. See the module documentation for the steps.
pub fn translate(snapshot: &Snapshot) -> Translation {
    translate_with(snapshot, Policy::default())
}

/// [`translate`] under another [`Policy`].
pub fn translate_with(snapshot: &Snapshot, policy: Policy) -> Translation {
    let input = input::Input::new(snapshot, policy);
    let mut statuses = Vec::new();
    let mut classes = BTreeMap::new();
    for class in &input.classes {
        if class.spec.controller_name != CONTROLLER_NAME {
            continue;
        }
        let (document, accepted) = status::gateway_class(class);
        statuses.push(document);
        classes.insert(class.metadata.name.clone().unwrap_or_default(), accepted);
    }
    let mut gateways = gateway::prepare(&input, &classes);
    let mut resolutions = Vec::new();
    for (index, route) in input.routes.iter().enumerate() {
        let attachments = attach::attach(&input, index, route, &mut gateways);
        let resolution = backends::resolve(&input, route);
        if !attachments.is_empty() {
            statuses.push(status::route(route, &attachments, &resolution, policy));
        }
        resolutions.push(resolution);
    }
    let config = status::config(&input, &gateways, &resolutions);
    statuses.extend(gateways.iter().map(status::gateway));
    statuses.sort_by(|a, b| {
        (a.kind, &a.metadata.namespace, &a.metadata.name).cmp(&(
            b.kind,
            &b.metadata.namespace,
            &b.metadata.name,
        ))
    });
    Translation { config, statuses }
}
