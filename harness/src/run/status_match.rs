//! Judging an object's status against an `assert` step: one pure function,
//! generic over the object kind (Gateway, listener, route parent, anything
//! with `status.conditions`), so TCP and UDP routes share every check.

use serde_json::Value;

use crate::suite::step::{ParentSelector, StatusMatch};

/// Why an object does not (yet) match. Each entry is one sentence naming the
/// field, suitable for a failure message.
pub type Mismatches = Vec<String>;

/// Checks `object` (the full object: metadata, spec, status) against `m`.
///
/// `namespace` is the object's namespace (for defaulting parent namespaces);
/// `controller` is the controllerName route parent entries must carry, when
/// known.
pub fn evaluate(
    m: &StatusMatch,
    object: &Value,
    namespace: &str,
    controller: Option<&str>,
) -> Result<(), Mismatches> {
    let generation = object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64);
    let mut problems = Vec::new();

    if let Some(listener) = &m.listener {
        match find_listener(object, listener) {
            Some(status) => check_scope(
                m,
                status,
                generation,
                &format!("status.listeners[{listener}]"),
                &mut problems,
            ),
            None => problems.push(format!("status.listeners has no entry named {listener:?}")),
        }
    } else if m.object.kind.ends_with("Route") {
        let selectors: Vec<ParentSelector> = match &m.parent {
            Some(p) => vec![p.selector()],
            None => spec_parents(object),
        };
        if selectors.is_empty() {
            problems.push("the route has no spec.parentRefs to check".into());
        }
        for sel in selectors {
            let gw_ns = sel
                .namespace
                .clone()
                .unwrap_or_else(|| namespace.to_string());
            let label = format!(
                "status.parents[{}/{}{}]",
                gw_ns,
                sel.name,
                sel.section_name
                    .as_deref()
                    .map(|s| format!("/{s}"))
                    .unwrap_or_default()
            );
            let entries = find_parents(object, &sel, namespace, controller);
            if m.no_parent_entry == Some(true) {
                if !entries.is_empty() {
                    problems.push(format!(
                        "{label}: expected no status entry, found {}",
                        entries.len()
                    ));
                }
                continue;
            }
            match entries.first() {
                Some(entry) => check_scope(m, entry, generation, &label, &mut problems),
                None => problems.push(format!(
                    "{label}: no status entry{}",
                    controller
                        .map(|c| format!(" with controllerName {c}"))
                        .unwrap_or_default()
                )),
            }
        }
    } else {
        let status = object.get("status").unwrap_or(&Value::Null);
        check_scope(m, status, generation, "status", &mut problems);
        if m.supported_features_sorted == Some(true) {
            let names: Vec<&str> = status
                .get("supportedFeatures")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|f| {
                            f.get("name")
                                .and_then(Value::as_str)
                                .or(f.as_str())
                                .unwrap_or("")
                        })
                        .collect()
                })
                .unwrap_or_default();
            if names.is_empty() {
                problems.push(
                    "status.supportedFeatures is empty (GEP-2162: implementations must publish the supported features before Accepting the GatewayClass, or in the same operation)"
                        .into(),
                );
            } else if names.windows(2).any(|w| w[0] > w[1]) {
                problems.push(format!(
                    "status.supportedFeatures is not sorted by name: {names:?}"
                ));
            }
        }
        if m.has_address == Some(true) {
            let n = status
                .get("addresses")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if n == 0 {
                problems.push("status.addresses is empty".into());
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Checks conditions, attachedRoutes and supportedKinds within one status
/// scope (a Gateway's status, a listener's status or a route parent entry).
fn check_scope(
    m: &StatusMatch,
    scope: &Value,
    generation: Option<i64>,
    label: &str,
    problems: &mut Mismatches,
) {
    let conditions = scope
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for want in &m.conditions {
        let found = conditions
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(&want.r#type));
        match found {
            None => problems.push(format!(
                "{label}: no {} condition (want {want})",
                want.r#type
            )),
            Some(c) => {
                let status = str_at(c, "status");
                let reason = str_at(c, "reason");
                if !want.matches(&want.r#type, status, reason) {
                    problems.push(format!(
                        "{label}: condition {}={status}/{reason}, want {want}",
                        want.r#type
                    ));
                }
            }
        }
    }
    for (ty, prefix) in &m.message_prefix {
        let message = conditions
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
            .map(|c| str_at(c, "message"));
        match message {
            None => problems.push(format!(
                "{label}: no {ty} condition (want its message to start {prefix:?})"
            )),
            Some(text) if !text.starts_with(prefix.as_str()) => problems.push(format!(
                "{label}: condition {ty} message is {text:?}, want it to start {prefix:?}"
            )),
            Some(_) => {}
        }
    }
    if m.current_generation
        && let Some(generation) = generation
    {
        for c in &conditions {
            let observed = c.get("observedGeneration").and_then(Value::as_i64);
            if observed != Some(generation) {
                problems.push(format!(
                    "{label}: condition {} has observedGeneration {}, metadata.generation is {generation}",
                    str_at(c, "type"),
                    observed.map_or("unset".to_string(), |o| o.to_string())
                ));
            }
        }
    }
    if let Some(want) = m.attached_routes {
        let got = scope.get("attachedRoutes").and_then(Value::as_i64);
        if got != Some(want) {
            problems.push(format!(
                "{label}: attachedRoutes is {}, want {want}",
                got.map_or("unset".into(), |g| g.to_string())
            ));
        }
    }
    let mut got: Vec<String> = scope
        .get("supportedKinds")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|k| str_at(k, "kind").to_string()).collect())
        .unwrap_or_default();
    got.sort();
    if let Some(want) = &m.supported_kinds_include {
        let missing: Vec<&String> = want.iter().filter(|k| !got.contains(k)).collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{label}: supportedKinds is {got:?}, which lacks {missing:?}"
            ));
        }
    }
    if let Some(want) = &m.supported_kinds {
        let mut want = want.clone();
        want.sort();
        if got != want {
            problems.push(format!("{label}: supportedKinds is {got:?}, want {want:?}"));
        }
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn find_listener<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object
        .pointer("/status/listeners")?
        .as_array()?
        .iter()
        .find(|l| l.get("name").and_then(Value::as_str) == Some(name))
}

/// Parent selectors for every `spec.parentRefs` entry of a route.
fn spec_parents(object: &Value) -> Vec<ParentSelector> {
    object
        .pointer("/spec/parentRefs")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .map(|r| ParentSelector {
                    name: str_at(r, "name").to_string(),
                    namespace: r
                        .get("namespace")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    section_name: r
                        .get("sectionName")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Route status entries for one parent (upstream: name, namespace with
/// omission tolerated for same-namespace routes, controllerName).
fn find_parents<'a>(
    object: &'a Value,
    sel: &ParentSelector,
    route_ns: &str,
    controller: Option<&str>,
) -> Vec<&'a Value> {
    let want_ns = sel.namespace.as_deref().unwrap_or(route_ns);
    object
        .pointer("/status/parents")
        .and_then(Value::as_array)
        .map(|parents| {
            parents
                .iter()
                .filter(|p| {
                    let r = p.get("parentRef").unwrap_or(&Value::Null);
                    let ns = r
                        .get("namespace")
                        .and_then(Value::as_str)
                        .unwrap_or(route_ns);
                    str_at(r, "name") == sel.name
                        && ns == want_ns
                        && sel
                            .section_name
                            .as_deref()
                            .is_none_or(|s| r.get("sectionName").and_then(Value::as_str) == Some(s))
                        && controller.is_none_or(|c| str_at(p, "controllerName") == c)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn m(yaml: &str) -> StatusMatch {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn route(generation: i64, observed: i64, reason: &str) -> Value {
        json!({
            "metadata": {"name": "r", "namespace": "ns", "generation": generation},
            "spec": {"parentRefs": [{"name": "gw"}]},
            "status": {"parents": [{
                "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"},
                "controllerName": "gwl4.dev/reference-gateway",
                "conditions": [
                    {"type": "Accepted", "status": "True", "reason": "Accepted", "observedGeneration": observed},
                    {"type": "ResolvedRefs", "status": "False", "reason": reason, "observedGeneration": observed}
                ]
            }]}
        })
    }

    #[test]
    fn route_parent_conditions_and_generation() {
        let want = m(
            "{kind: TCPRoute, name: r, parent: gw, conditions: [Accepted, ResolvedRefs=False/RefNotPermitted]}",
        );
        let ctl = Some("gwl4.dev/reference-gateway");
        assert_eq!(
            evaluate(&want, &route(1, 1, "RefNotPermitted"), "ns", ctl),
            Ok(())
        );
        let err = evaluate(&want, &route(1, 1, "BackendNotFound"), "ns", ctl).unwrap_err();
        assert!(
            err[0].contains("ResolvedRefs=False/BackendNotFound"),
            "{err:?}"
        );
        let err = evaluate(&want, &route(2, 1, "RefNotPermitted"), "ns", ctl).unwrap_err();
        assert!(err[0].contains("observedGeneration 1"), "{err:?}");
        let err = evaluate(
            &want,
            &route(1, 1, "RefNotPermitted"),
            "ns",
            Some("other/controller"),
        )
        .unwrap_err();
        assert!(
            err[0].contains("no status entry with controllerName"),
            "{err:?}"
        );
    }

    #[test]
    fn supported_features_must_be_sorted() {
        let class = |names: &[&str]| {
            json!({"metadata": {"generation": 1}, "status": {"supportedFeatures":
                names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()}})
        };
        let want = m("{kind: GatewayClass, name: c, supportedFeaturesSorted: true}");
        assert_eq!(
            evaluate(&want, &class(&["Gateway", "TCPRoute"]), "", None),
            Ok(())
        );
        let err = evaluate(&want, &class(&["TCPRoute", "Gateway"]), "", None).unwrap_err();
        assert!(err[0].contains("not sorted"), "{err:?}");
        assert!(evaluate(&want, &class(&[]), "", None).is_err());
    }

    #[test]
    fn message_prefixes() {
        let mut r = route(1, 1, "RefNotPermitted");
        r["status"]["parents"][0]["conditions"][0]["message"] =
            json!("Dropped Rule 1: only rule 0 is served");
        let ok =
            m("{kind: TCPRoute, name: r, parent: gw, messagePrefix: {Accepted: Dropped Rule}}");
        assert_eq!(evaluate(&ok, &r, "ns", None), Ok(()));
        let bad = m("{kind: TCPRoute, name: r, parent: gw, messagePrefix: {Accepted: Fall Back}}");
        assert!(evaluate(&bad, &r, "ns", None).unwrap_err()[0].contains("want it to start"));
        let absent = m(
            "{kind: TCPRoute, name: r, parent: gw, messagePrefix: {PartiallyInvalid: Dropped Rule}}",
        );
        assert!(evaluate(&absent, &r, "ns", None).unwrap_err()[0].contains("no PartiallyInvalid"));
    }

    #[test]
    fn listener_scope() {
        let gw = json!({
            "metadata": {"generation": 1},
            "status": {"listeners": [{"name": "tcp", "attachedRoutes": 2,
                "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "TCPRoute"}],
                "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "observedGeneration": 1}]}]}
        });
        let ok = m(
            "{kind: Gateway, name: gw, listener: tcp, conditions: [Accepted], attachedRoutes: 2, supportedKinds: [TCPRoute]}",
        );
        assert_eq!(evaluate(&ok, &gw, "ns", None), Ok(()));
        let include =
            m("{kind: Gateway, name: gw, listener: tcp, supportedKindsInclude: [TCPRoute]}");
        assert_eq!(evaluate(&include, &gw, "ns", None), Ok(()));
        let lacks =
            m("{kind: Gateway, name: gw, listener: tcp, supportedKindsInclude: [UDPRoute]}");
        assert!(evaluate(&lacks, &gw, "ns", None).unwrap_err()[0].contains("lacks"));
        let bad = m("{kind: Gateway, name: gw, listener: tcp, attachedRoutes: 1}");
        assert!(evaluate(&bad, &gw, "ns", None).unwrap_err()[0].contains("attachedRoutes is 2"));
        let missing = m("{kind: Gateway, name: gw, listener: udp}");
        assert!(evaluate(&missing, &gw, "ns", None).unwrap_err()[0].contains("no entry named"));
    }
}
