//! `allowedRoutes.namespaces`: which namespaces' routes a listener accepts.

use std::collections::BTreeMap;

use gateway_api::experimental::gateways::{
    GatewayListenersAllowedRoutesNamespaces, GatewayListenersAllowedRoutesNamespacesFrom,
    GatewayListenersAllowedRoutesNamespacesSelector,
};

/// Whether a route in `route_namespace` (with `labels`) may attach to a
/// listener of a Gateway in `gateway_namespace`. `from` defaults to `Same`.
/// `Selector` with no selector matches nothing (the CRD requires one); an
/// empty selector matches every namespace, as in Kubernetes.
pub(crate) fn allowed(
    namespaces: Option<&GatewayListenersAllowedRoutesNamespaces>,
    gateway_namespace: &str,
    route_namespace: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    let from = namespaces
        .and_then(|n| n.from.clone())
        .unwrap_or(GatewayListenersAllowedRoutesNamespacesFrom::Same);
    match from {
        GatewayListenersAllowedRoutesNamespacesFrom::All => true,
        GatewayListenersAllowedRoutesNamespacesFrom::Same => gateway_namespace == route_namespace,
        GatewayListenersAllowedRoutesNamespacesFrom::Selector => namespaces
            .and_then(|n| n.selector.as_ref())
            .is_some_and(|s| matches(s, labels)),
    }
}

/// A metav1.LabelSelector match: every matchLabels pair and every
/// matchExpression must hold. An unknown operator matches nothing.
fn matches(
    selector: &GatewayListenersAllowedRoutesNamespacesSelector,
    labels: &BTreeMap<String, String>,
) -> bool {
    let pairs = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        let value = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    pairs && expressions
}

/// How the listener's namespace policy reads in a message.
pub(crate) fn describe(
    namespaces: Option<&GatewayListenersAllowedRoutesNamespaces>,
) -> &'static str {
    match namespaces.and_then(|n| n.from.clone()) {
        Some(GatewayListenersAllowedRoutesNamespacesFrom::All) => "All",
        Some(GatewayListenersAllowedRoutesNamespacesFrom::Selector) => "Selector",
        _ => "Same",
    }
}
