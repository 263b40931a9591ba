//! What the API server (with the Gateway API CRDs' schema and CEL rules)
//! would reject, checked before local mode applies anything, so a manifest
//! that would fail on a cluster fails here too, with the field named.
//!
//! This is not the whole schema: it is the rules a hand-written test is
//! likely to break. The real API server tier runs the catalog against the
//! real CRDs.

use std::collections::BTreeSet;

use serde_json::Value;

/// The kinds local mode accepts, with their apiVersions.
pub const KINDS: &[(&str, &[&str])] = &[
    ("Namespace", &["v1"]),
    ("Service", &["v1"]),
    ("Deployment", &["apps/v1"]),
    ("EndpointSlice", &["discovery.k8s.io/v1"]),
    ("GatewayClass", &["gateway.networking.k8s.io/v1"]),
    ("Gateway", &["gateway.networking.k8s.io/v1"]),
    (
        "TCPRoute",
        &[
            "gateway.networking.k8s.io/v1",
            "gateway.networking.k8s.io/v1alpha2",
        ],
    ),
    (
        "UDPRoute",
        &[
            "gateway.networking.k8s.io/v1",
            "gateway.networking.k8s.io/v1alpha2",
        ],
    ),
    (
        "ReferenceGrant",
        &[
            "gateway.networking.k8s.io/v1",
            "gateway.networking.k8s.io/v1beta1",
        ],
    ),
];

/// Checks one object; the error names the field.
pub fn object(v: &Value, _default_namespace: &str) -> Result<(), String> {
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let Some((_, versions)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        let known: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
        return Err(format!(
            "kind: local mode does not know kind {kind:?}; it knows {}",
            known.join(", ")
        ));
    };
    if !versions.contains(&api) {
        return Err(format!(
            "apiVersion: {kind} is not served as {api:?}; use {}",
            versions.join(" or ")
        ));
    }
    let name = match v.pointer("/metadata/name") {
        None | Some(Value::Null) => return Err("metadata.name: Required value".into()),
        Some(Value::String(name)) => name,
        Some(other) => {
            return Err(format!(
                "metadata.name: Invalid value: {other}: must be a string"
            ));
        }
    };
    dns_name(name, 253).map_err(|e| format!("metadata.name: {e}"))?;
    labels(v)?;
    match kind {
        "Gateway" => gateway(v),
        "TCPRoute" | "UDPRoute" => route(v, api.ends_with("/v1")),
        "Deployment" => deployment(v),
        _ => Ok(()),
    }
}

fn dns_name(name: &str, max: usize) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
        ))
    }
}

/// A label name or value part: at most 63 alphanumerics, '-', '_' or '.',
/// starting and ending alphanumeric (empty allowed for values).
fn label_part(s: &str) -> bool {
    s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && (s.is_empty()
            || s.starts_with(|c: char| c.is_ascii_alphanumeric())
                && s.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// `metadata.labels`: keys `[prefix/]name`, values as the API server checks.
fn labels(v: &Value) -> Result<(), String> {
    let Some(labels) = v.pointer("/metadata/labels").and_then(Value::as_object) else {
        return Ok(());
    };
    for (key, value) in labels {
        let (prefix, name) = key.rsplit_once('/').unwrap_or(("", key));
        let prefix_ok = !key.contains('/') || dns_name(prefix, 253).is_ok();
        if name.is_empty() || !label_part(name) || !prefix_ok {
            return Err(format!(
                "metadata.labels: Invalid value: {key:?}: a label key is an optional DNS subdomain prefix and '/', then a name of at most 63 alphanumeric characters, '-', '_' or '.', starting and ending alphanumeric"
            ));
        }
        let Some(value) = value.as_str() else {
            return Err(format!("metadata.labels.{key}: must be a string"));
        };
        if !label_part(value) {
            return Err(format!(
                "metadata.labels: Invalid value: {value:?}: a valid label must be an empty string or consist of at most 63 alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
            ));
        }
    }
    Ok(())
}

fn array<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn gateway(v: &Value) -> Result<(), String> {
    if v.pointer("/spec/gatewayClassName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err("spec.gatewayClassName: Required value".into());
    }
    let listeners = array(v, "/spec/listeners");
    if listeners.is_empty() || listeners.len() > 64 {
        return Err(format!(
            "spec.listeners: must have between 1 and 64 items, has {}",
            listeners.len()
        ));
    }
    let mut names = BTreeSet::new();
    let mut tuples = BTreeSet::new();
    for (i, l) in listeners.iter().enumerate() {
        let name = l.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            return Err(format!("spec.listeners[{i}].name: Required value"));
        }
        if !names.insert(name) {
            return Err(format!(
                "spec.listeners: Invalid value: Listener name must be unique within the Gateway (duplicate {name:?})"
            ));
        }
        // Shown as written: a port of "9000" or 9000.5 is not port 0.
        let port = l.get("port").unwrap_or(&Value::Null);
        let port = match port.as_i64() {
            Some(p) if (1..=65535).contains(&p) => p,
            None if port.is_null() => {
                return Err(format!("spec.listeners[{i}].port: Required value"));
            }
            _ => {
                return Err(format!(
                    "spec.listeners[{i}].port: Invalid value: {port}: must be an integer between 1 and 65535"
                ));
            }
        };
        let protocol = l.get("protocol").and_then(Value::as_str).unwrap_or("");
        if protocol.is_empty() {
            return Err(format!("spec.listeners[{i}].protocol: Required value"));
        }
        if matches!(protocol, "TCP" | "UDP") {
            if l.get("hostname").is_some() {
                return Err(format!(
                    "spec.listeners[{i}].hostname: Forbidden: hostname must not be specified for protocols ['TCP', 'UDP']"
                ));
            }
            if l.get("tls").is_some() {
                return Err(format!(
                    "spec.listeners[{i}].tls: Forbidden: tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"
                ));
            }
        }
        let hostname = l.get("hostname").and_then(Value::as_str).unwrap_or("");
        if !tuples.insert((port, protocol, hostname)) {
            return Err(format!(
                "spec.listeners: Invalid value: Combination of port, protocol and hostname must be unique for each listener (listener {name:?})"
            ));
        }
    }
    Ok(())
}

fn route(v: &Value, is_v1: bool) -> Result<(), String> {
    let parents = array(v, "/spec/parentRefs");
    if parents.len() > 32 {
        return Err(format!(
            "spec.parentRefs: Too many: {}: must have at most 32 items",
            parents.len()
        ));
    }
    for (i, p) in parents.iter().enumerate() {
        if p.get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(format!("spec.parentRefs[{i}].name: Required value"));
        }
    }
    let rules = array(v, "/spec/rules");
    let max_rules = if is_v1 { 1 } else { 16 };
    if rules.is_empty() || rules.len() > max_rules {
        return Err(format!(
            "spec.rules: Invalid value: must have between 1 and {max_rules} items, has {}",
            rules.len()
        ));
    }
    for (r, rule) in rules.iter().enumerate() {
        let refs = array(rule, "/backendRefs");
        if refs.is_empty() || refs.len() > 16 {
            return Err(format!(
                "spec.rules[{r}].backendRefs: must have between 1 and 16 items, has {}",
                refs.len()
            ));
        }
        for (b, backend) in refs.iter().enumerate() {
            let field = format!("spec.rules[{r}].backendRefs[{b}]");
            if backend
                .get("name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(format!("{field}.name: Required value"));
            }
            let group = backend.get("group").and_then(Value::as_str).unwrap_or("");
            let kind = backend
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("Service");
            if group.is_empty() && kind == "Service" && backend.get("port").is_none() {
                return Err(format!(
                    "{field}: Invalid value: Must have port for Service reference"
                ));
            }
            // A weight that is not an integer ("1", 0.5) is refused too, as
            // the API server's schema does, rather than silently ignored.
            if let Some(w) = backend.get("weight").filter(|w| !w.is_null())
                && !w.as_i64().is_some_and(|w| (0..=1_000_000).contains(&w))
            {
                return Err(format!(
                    "{field}.weight: Invalid value: {w}: must be an integer between 0 and 1000000"
                ));
            }
        }
    }
    Ok(())
}

fn deployment(v: &Value) -> Result<(), String> {
    let containers = array(v, "/spec/template/spec/containers");
    if containers.is_empty() {
        return Err("spec.template.spec.containers: Required value".into());
    }
    if v.pointer("/spec/selector/matchLabels").is_none() {
        return Err("spec.selector: Required value".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rejects_what_the_crds_reject() {
        let gw = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "g"},
            "spec": {"gatewayClassName": "c", "listeners": [
                {"name": "a", "port": 9000, "protocol": "TCP"}, {"name": "a", "port": 9001, "protocol": "UDP"}]}});
        assert!(
            object(&gw, "ns")
                .unwrap_err()
                .contains("Listener name must be unique")
        );
        let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "TCPRoute", "metadata": {"name": "r"},
            "spec": {"rules": [{"backendRefs": [{"name": "s", "port": 1}]}, {"backendRefs": [{"name": "s", "port": 1}]}]}});
        assert!(object(&route, "ns").unwrap_err().starts_with("spec.rules"));
        let mut alpha = route.clone();
        alpha["apiVersion"] = json!("gateway.networking.k8s.io/v1alpha2");
        assert_eq!(object(&alpha, "ns"), Ok(()));
        let no_port = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "UDPRoute", "metadata": {"name": "r"},
            "spec": {"rules": [{"backendRefs": [{"name": "s"}]}]}});
        assert!(
            object(&no_port, "ns")
                .unwrap_err()
                .contains("Must have port")
        );
        let unknown = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert!(object(&unknown, "ns").unwrap_err().starts_with("kind:"));
        let labelled = |key: &str, value: &str| json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "labels": {key: value}}});
        let managed_by = "endpointslice.kubernetes.io/managed-by";
        assert_eq!(
            object(
                &labelled(managed_by, super::super::workloads::MANAGED_BY),
                "ns"
            ),
            Ok(())
        );
        assert!(
            object(&labelled(managed_by, "gwl4.dev/local"), "ns")
                .unwrap_err()
                .starts_with("metadata.labels: Invalid value: \"gwl4.dev/local\"")
        );
        assert!(object(&labelled("a/b/c", "x"), "ns").is_err());
        assert!(object(&labelled("app", &"x".repeat(64)), "ns").is_err());
    }
}
