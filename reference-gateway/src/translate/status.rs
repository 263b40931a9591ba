//! Assembling status documents and the data-plane config from the
//! validated, attached state.

use gateway_api::experimental::gatewayclasses::GatewayClass;

use super::attach::Attachment;
use super::backends::Resolution;
use super::gateway::{GatewayState, ListenerState};
use super::input::Input;
use super::routes::RouteView;
use super::{CONTROLLER_NAME, SUPPORTED_FEATURES};
use crate::config::{self, Config, ListenerKey};
use crate::model::{ApiVersion, GATEWAY_GROUP};
use crate::status::{
    Condition, ConditionStatus, ConditionType, GatewayAddress, GatewayClassStatus, GatewayStatus,
    Kind, ListenerStatus, Metadata, Reason, RouteGroupKind, RouteParentStatus, RouteStatus, Status,
    StatusDocument, SupportedFeature,
};

fn condition(
    type_: ConditionType,
    ok: bool,
    reason: Reason,
    message: String,
    generation: Option<i64>,
) -> Condition {
    Condition {
        last_transition_time: None,
        message,
        observed_generation: generation,
        reason,
        status: if ok {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        },
        type_,
    }
}

/// A GatewayClass of ours: Accepted unless it has a parametersRef (this
/// gateway takes no parameters). Returns the document and acceptance.
pub(crate) fn gateway_class(class: &GatewayClass) -> (StatusDocument, bool) {
    let generation = class.metadata.generation;
    let name = class.metadata.name.clone().unwrap_or_default();
    let accepted = class.spec.parameters_ref.is_none();
    let c = if accepted {
        condition(
            ConditionType::Accepted,
            true,
            Reason::Accepted,
            format!("GatewayClass {name}: accepted by {CONTROLLER_NAME}"),
            generation,
        )
    } else {
        condition(
            ConditionType::Accepted,
            false,
            Reason::InvalidParameters,
            format!(
                "GatewayClass {name}: spec.parametersRef is not supported; this gateway takes no parameters"
            ),
            generation,
        )
    };
    let status = GatewayClassStatus {
        conditions: vec![c],
        supported_features: SUPPORTED_FEATURES
            .iter()
            .map(|n| SupportedFeature {
                name: n.to_string(),
            })
            .collect(),
    };
    let document = StatusDocument {
        api_version: ApiVersion::V1.as_str().into(),
        kind: Kind::GatewayClass,
        metadata: Metadata {
            generation,
            name,
            namespace: None,
        },
        status: Status::GatewayClass(status),
    };
    (document, accepted)
}

/// A route's status: one parent entry per attachment, each with Accepted,
/// PartiallyInvalid (when rules beyond the first were dropped) and
/// ResolvedRefs, sorted by type.
pub(crate) fn route(
    route: &RouteView,
    attachments: &[Attachment],
    resolution: &Resolution,
    policy: super::Policy,
) -> StatusDocument {
    let generation = route.generation;
    let label = route.label();
    let resolved = match resolution.failures.first() {
        Some((reason, _)) => {
            let all: Vec<&str> = resolution
                .failures
                .iter()
                .map(|(_, m)| m.as_str())
                .collect();
            condition(
                ConditionType::ResolvedRefs,
                false,
                *reason,
                format!("{label}: {}", all.join("; ")),
                generation,
            )
        }
        None => {
            let mut message = format!("{label}: all backendRefs resolved");
            // Say so when nothing can be forwarded: the data plane rejects
            // every connection (TCP) or drops every datagram (UDP).
            if resolution.backends.is_empty() {
                message = format!("{label}: no backendRefs, so all traffic is rejected");
            } else if resolution.backends.iter().all(|b| b.weight == 0) {
                message.push_str(", but every weight is 0, so all traffic is rejected");
            } else if !resolution.notes.is_empty() {
                let notes = resolution.notes.join("; ");
                message.push_str(&format!(
                    ", but these shares are rejected until endpoints are ready: {notes}"
                ));
            }
            condition(
                ConditionType::ResolvedRefs,
                true,
                Reason::ResolvedRefs,
                message,
                generation,
            )
        }
    };
    // Rules are dropped only where the route is served by its first one.
    let dropped = (route.rules.len() > 1 && !policy.reject_multi_rule).then(|| {
        let names: Vec<String> = route
            .rules
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, r)| match &r.name {
                Some(n) => format!("spec.rules[{i}] ({n})"),
                None => format!("spec.rules[{i}]"),
            })
            .collect();
        condition(
            ConditionType::PartiallyInvalid,
            true,
            Reason::UnsupportedValue,
            format!(
                "Dropped Rule {}: {label}: a {} listener cannot choose between rules, so only spec.rules[0] is used",
                names.join(", "),
                route.protocol_name()
            ),
            generation,
        )
    });
    let parents = attachments
        .iter()
        .map(|a| {
            let accepted = match &a.accepted {
                Ok(m) => condition(
                    ConditionType::Accepted,
                    true,
                    Reason::Accepted,
                    format!("{label}: {m}"),
                    generation,
                ),
                Err((reason, m)) => condition(
                    ConditionType::Accepted,
                    false,
                    *reason,
                    format!("{label}: {m}"),
                    generation,
                ),
            };
            let mut conditions = vec![accepted, resolved.clone()];
            conditions.extend(dropped.clone());
            conditions.sort_by_key(|c| c.type_);
            RouteParentStatus {
                conditions,
                controller_name: CONTROLLER_NAME.into(),
                parent_ref: a.parent_ref.clone(),
            }
        })
        .collect();
    StatusDocument {
        api_version: route.api_version.as_str().into(),
        kind: route.kind,
        metadata: Metadata {
            generation,
            name: route.name.clone(),
            namespace: Some(route.namespace.clone()),
        },
        status: Status::Route(RouteStatus { parents }),
    }
}

/// A Gateway's status: addresses, Accepted, Programmed and one entry per
/// listener.
pub(crate) fn gateway(g: &GatewayState<'_>) -> StatusDocument {
    let generation = g.gateway.metadata.generation;
    let label = format!("Gateway {}", g.label());
    let listeners: Vec<ListenerStatus> = g
        .listeners
        .iter()
        .map(|l| listener(g, l, generation))
        .collect();
    let invalid = g.listeners.iter().filter(|l| l.rejected.is_some()).count();
    let accepted = match &g.rejected {
        Some((reason, m)) => condition(
            ConditionType::Accepted,
            false,
            *reason,
            format!("{label}: {m}"),
            generation,
        ),
        None if invalid > 0 => {
            let all = invalid == g.listeners.len();
            let which = if all {
                "every listener is"
            } else {
                "some listeners are"
            };
            condition(
                ConditionType::Accepted,
                !all,
                Reason::ListenersNotValid,
                format!(
                    "{label}: {which} not valid ({invalid} of {})",
                    g.listeners.len()
                ),
                generation,
            )
        }
        None => condition(
            ConditionType::Accepted,
            true,
            Reason::Accepted,
            format!("{label}: accepted"),
            generation,
        ),
    };
    let programmed_count = g
        .listeners
        .iter()
        .filter(|l| l.programmed(g.bindable()))
        .count();
    let programmed = if g.rejected.is_some() {
        condition(
            ConditionType::Programmed,
            false,
            Reason::Invalid,
            format!("{label}: not accepted"),
            generation,
        )
    } else if let Some(m) = &g.address_missing {
        condition(
            ConditionType::Programmed,
            false,
            Reason::AddressNotAssigned,
            format!("{label}: {m}"),
            generation,
        )
    } else if programmed_count == 0 {
        condition(
            ConditionType::Programmed,
            false,
            Reason::Invalid,
            format!("{label}: no listener can be programmed"),
            generation,
        )
    } else {
        let addresses: Vec<String> = g.addresses.iter().map(|a| a.to_string()).collect();
        let message = format!(
            "{label}: {programmed_count} listener(s) bound on {}",
            addresses.join(", ")
        );
        condition(
            ConditionType::Programmed,
            true,
            Reason::Programmed,
            message,
            generation,
        )
    };
    let addresses = if g.bindable() {
        g.addresses
            .iter()
            .map(|a| GatewayAddress {
                type_: "IPAddress".into(),
                value: a.to_string(),
            })
            .collect()
    } else {
        Vec::new()
    };
    StatusDocument {
        api_version: ApiVersion::V1.as_str().into(),
        kind: Kind::Gateway,
        metadata: Metadata {
            generation,
            name: g.name.clone(),
            namespace: Some(g.namespace.clone()),
        },
        status: Status::Gateway(GatewayStatus {
            addresses,
            conditions: vec![accepted, programmed],
            listeners,
        }),
    }
}

fn listener(
    g: &GatewayState<'_>,
    l: &ListenerState<'_>,
    generation: Option<i64>,
) -> ListenerStatus {
    let name = &l.spec.name;
    let accepted = match &l.rejected {
        Some((reason, m)) => condition(
            ConditionType::Accepted,
            false,
            *reason,
            m.clone(),
            generation,
        ),
        None => condition(
            ConditionType::Accepted,
            true,
            Reason::Accepted,
            format!("listener {name}: accepted"),
            generation,
        ),
    };
    let conflicted = match &l.conflict {
        Some(m) => condition(
            ConditionType::Conflicted,
            true,
            Reason::ProtocolConflict,
            m.clone(),
            generation,
        ),
        None => {
            let m = format!("listener {name}: no conflicts");
            // Conflicted has negative polarity: False is the healthy state.
            condition(
                ConditionType::Conflicted,
                false,
                Reason::NoConflicts,
                m,
                generation,
            )
        }
    };
    let programmed = if l.programmed(g.bindable()) {
        let m = format!(
            "listener {name}: bound on port {} ({})",
            l.spec.port, l.spec.protocol
        );
        condition(
            ConditionType::Programmed,
            true,
            Reason::Programmed,
            m,
            generation,
        )
    } else {
        let why = if l.rejected.is_some() {
            "not accepted"
        } else {
            "its Gateway cannot be programmed"
        };
        condition(
            ConditionType::Programmed,
            false,
            Reason::Invalid,
            format!("listener {name}: {why}"),
            generation,
        )
    };
    let resolved = match &l.invalid_kinds {
        Some(m) => condition(
            ConditionType::ResolvedRefs,
            false,
            Reason::InvalidRouteKinds,
            m.clone(),
            generation,
        ),
        None => {
            let m = format!("listener {name}: route kinds resolved");
            condition(
                ConditionType::ResolvedRefs,
                true,
                Reason::ResolvedRefs,
                m,
                generation,
            )
        }
    };
    ListenerStatus {
        attached_routes: l.attached.len() as i32,
        conditions: vec![accepted, conflicted, programmed, resolved],
        name: name.clone(),
        supported_kinds: l
            .kinds
            .iter()
            .map(|k| RouteGroupKind {
                group: GATEWAY_GROUP.into(),
                kind: k.as_str().into(),
            })
            .collect(),
    }
}

/// One config listener per programmed listener and address, serving the
/// oldest attached route.
pub(crate) fn config(
    input: &Input<'_>,
    gateways: &[GatewayState<'_>],
    resolutions: &[Resolution],
) -> Config {
    let mut listeners = Vec::new();
    for g in gateways {
        for l in g.listeners.iter().filter(|l| l.programmed(g.bindable())) {
            let Some(protocol) = l.protocol else { continue };
            // Indexes follow route age, so the first is the oldest.
            let route = l.attached.first().map(|&i| config::Route {
                name: format!(
                    "{}/{}/{}",
                    input.routes[i].kind.as_str(),
                    input.routes[i].namespace,
                    input.routes[i].name
                ),
                backends: resolutions[i].backends.clone(),
            });
            for &address in &g.addresses {
                listeners.push(config::Listener {
                    key: ListenerKey {
                        address,
                        port: l.spec.port as u16,
                        protocol,
                    },
                    name: format!("{}/{}", g.label(), l.spec.name),
                    route: route.clone(),
                });
            }
        }
    }
    listeners.sort_by_key(|l| l.key);
    Config { listeners }
}
