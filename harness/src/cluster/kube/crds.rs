//! Which Gateway API CRDs the cluster has and which versions it serves, and
//! converting suite manifests (written in v1) to those versions.
//!
//! TCPRoute and UDPRoute are v1 in the standard channel since Gateway API
//! v1.6; older installs (and the experimental channel before v1.6) serve
//! only v1alpha2. The two schemas are the same except that v1 allows exactly
//! one rule, so conversion rewrites `apiVersion` and nothing else.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use serde_json::Value;

use super::resources::{GATEWAY_GROUP, KINDS};
use crate::cluster::ClusterError;

/// How to install the CRDs, named in every "missing CRD" error.
pub const INSTALL_COMMAND: &str = "kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.1/standard-install.yaml";

/// Versions gwl4 accepts per Gateway API kind, preferred first.
fn accepted_versions(kind: &str) -> &'static [&'static str] {
    match kind {
        "TCPRoute" | "UDPRoute" => &["v1", "v1alpha2"],
        "ReferenceGrant" => &["v1", "v1beta1"],
        _ => &["v1"],
    }
}

/// Kinds without which nothing can run.
const REQUIRED: &[&str] = &["GatewayClass", "Gateway"];

/// The served Gateway API versions, per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Served {
    /// Every served version gwl4 accepts, per kind, preferred first.
    versions: BTreeMap<String, Vec<String>>,
    /// `gateway.networking.k8s.io/bundle-version` of the Gateway CRD.
    pub bundle_version: Option<String>,
    /// `gateway.networking.k8s.io/channel` of the Gateway CRD.
    pub channel: Option<String>,
}

impl Served {
    /// Reads the versions from the CRDs present; errors when the core CRDs
    /// are missing or neither route kind is served.
    pub fn from_crds(crds: &[CustomResourceDefinition]) -> Result<Served, ClusterError> {
        let mut served = Served::default();
        for info in KINDS.iter().filter(|k| k.is_gateway_api()) {
            let Some(crd) = crds
                .iter()
                .find(|c| c.spec.group == GATEWAY_GROUP && c.spec.names.kind == info.kind)
            else {
                continue;
            };
            let versions: Vec<&str> = crd
                .spec
                .versions
                .iter()
                .filter(|v| v.served)
                .map(|v| v.name.as_str())
                .collect();
            let usable: Vec<String> = accepted_versions(info.kind)
                .iter()
                .filter(|v| versions.contains(v))
                .map(|v| (*v).to_string())
                .collect();
            served.versions.insert(info.kind.to_string(), usable);
            if info.kind == "Gateway" {
                let annotations = crd.metadata.annotations.clone().unwrap_or_default();
                served.bundle_version = annotations
                    .get("gateway.networking.k8s.io/bundle-version")
                    .cloned();
                served.channel = annotations
                    .get("gateway.networking.k8s.io/channel")
                    .cloned();
            }
        }
        let missing: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .filter(|k| served.version(k).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(ClusterError::Setup(format!(
                "the cluster serves no Gateway API {} (gateway.networking.k8s.io/v1); install the CRDs: {INSTALL_COMMAND}",
                missing.join(", ")
            )));
        }
        if served.version("TCPRoute").is_none() && served.version("UDPRoute").is_none() {
            return Err(ClusterError::Setup(format!(
                "the cluster serves neither TCPRoute nor UDPRoute (v1 or v1alpha2); install the Gateway API v1.6.1 standard channel: {INSTALL_COMMAND}"
            )));
        }
        Ok(served)
    }

    /// Whether `version` of `kind` is served.
    pub fn serves(&self, kind: &str, version: &str) -> bool {
        self.versions
            .get(kind)
            .is_some_and(|v| v.iter().any(|v| v == version))
    }

    /// The version in use for a Gateway API kind, if served.
    pub fn version(&self, kind: &str) -> Option<&str> {
        self.versions.get(kind)?.first().map(String::as_str)
    }

    /// Why no served version can hold `manifest`, if none can: a TCPRoute
    /// or UDPRoute with several rules where only v1 (exactly one rule) is
    /// served.
    pub fn unexpressible(&self, manifest: &Value) -> Option<String> {
        let kind = manifest["kind"].as_str().unwrap_or_default();
        let rules = manifest
            .pointer("/spec/rules")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        (self.version(kind).is_some()
            && !self.serves(kind, "v1alpha2")
            && matches!(kind, "TCPRoute" | "UDPRoute")
            && rules > 1)
            .then(|| format!(
                "spec.rules: {rules} rules, but the cluster serves {kind} only as {GATEWAY_GROUP}/v1, which allows exactly one (v1alpha2, served by the experimental channel, allows up to 16)"
            ))
    }

    /// `manifest` with its `apiVersion` set to the served version of its
    /// kind (Gateway API kinds only; others are returned unchanged).
    pub fn convert(&self, manifest: &Value) -> Result<Value, String> {
        let kind = manifest["kind"].as_str().unwrap_or_default();
        let api_version = manifest["apiVersion"].as_str().unwrap_or_default();
        let Some((group, written)) = api_version.split_once('/') else {
            return Ok(manifest.clone());
        };
        if group != GATEWAY_GROUP {
            return Ok(manifest.clone());
        }
        let Some(served) = self.version(kind) else {
            return Err(format!(
                "apiVersion: the cluster serves no {kind} CRD (accepted versions: {}); install the Gateway API CRDs: {INSTALL_COMMAND}",
                accepted_versions(kind).join(", ")
            ));
        };
        // Written in a served version: keep it (the experimental channel
        // serves v1alpha2 routes beside v1).
        if written == served || self.serves(kind, written) {
            return Ok(manifest.clone());
        }
        if !accepted_versions(kind).contains(&written) {
            return Err(format!(
                "apiVersion: {api_version} is not a version gwl4 converts for {kind} (the cluster serves {GATEWAY_GROUP}/{served})"
            ));
        }
        if let Some(why) = self.unexpressible(manifest) {
            return Err(why);
        }
        let mut out = manifest.clone();
        out["apiVersion"] = Value::String(format!("{GATEWAY_GROUP}/{served}"));
        Ok(out)
    }
}

/// Reads the Gateway API CRDs from the cluster.
pub async fn detect(client: &kube::Client) -> Result<Served, ClusterError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut found = Vec::new();
    for info in KINDS.iter().filter(|k| k.is_gateway_api()) {
        let name = format!("{}.{GATEWAY_GROUP}", info.plural);
        match api.get_opt(&name).await {
            Ok(Some(crd)) => found.push(crd),
            Ok(None) => {}
            Err(e) => {
                return Err(ClusterError::Setup(format!(
                    "reading CustomResourceDefinition {name}: {e} (gwl4 needs get on customresourcedefinitions)"
                )));
            }
        }
    }
    Served::from_crds(&found)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn crd(plural: &str, kind: &str, versions: &[(&str, bool)]) -> CustomResourceDefinition {
        serde_json::from_value(json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.{GATEWAY_GROUP}")},
            "spec": {
                "group": GATEWAY_GROUP,
                "names": {"kind": kind, "plural": plural},
                "scope": "Namespaced",
                "versions": versions.iter().map(|(v, served)| json!({
                    "name": v, "served": served, "storage": false
                })).collect::<Vec<_>>(),
            }
        }))
        .unwrap()
    }

    fn core() -> Vec<CustomResourceDefinition> {
        vec![
            crd("gatewayclasses", "GatewayClass", &[("v1", true)]),
            crd("gateways", "Gateway", &[("v1", true)]),
        ]
    }

    #[test]
    fn standard_v1_6_serves_v1_routes() {
        let mut crds = core();
        crds.push(crd(
            "tcproutes",
            "TCPRoute",
            &[("v1", true), ("v1alpha2", false)],
        ));
        crds.push(crd(
            "udproutes",
            "UDPRoute",
            &[("v1", true), ("v1alpha2", false)],
        ));
        let served = Served::from_crds(&crds).unwrap();
        assert_eq!(served.version("TCPRoute"), Some("v1"));
        assert_eq!(served.version("UDPRoute"), Some("v1"));
        assert_eq!(served.version("ReferenceGrant"), None);
    }

    #[test]
    fn older_installs_serve_v1alpha2_and_manifests_are_converted() {
        let mut crds = core();
        crds.push(crd("tcproutes", "TCPRoute", &[("v1alpha2", true)]));
        let served = Served::from_crds(&crds).unwrap();
        assert_eq!(served.version("TCPRoute"), Some("v1alpha2"));
        let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "TCPRoute",
            "metadata": {"name": "r"}, "spec": {"rules": [{"backendRefs": [{"name": "b", "port": 1}]}]}});
        let out = served.convert(&route).unwrap();
        assert_eq!(out["apiVersion"], "gateway.networking.k8s.io/v1alpha2");
        assert_eq!(out["spec"], route["spec"]);
        // Only the version changes; other kinds pass through.
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}});
        assert_eq!(served.convert(&svc).unwrap(), svc);
        // UDPRoute is not served at all: the error names the install command.
        let udp = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "UDPRoute"});
        let err = served.convert(&udp).unwrap_err();
        assert!(
            err.contains("no UDPRoute CRD") && err.contains(INSTALL_COMMAND),
            "{err}"
        );
    }

    #[test]
    fn v1alpha2_with_several_rules_cannot_become_v1() {
        let mut crds = core();
        crds.push(crd("tcproutes", "TCPRoute", &[("v1", true)]));
        let served = Served::from_crds(&crds).unwrap();
        let two = json!({"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TCPRoute",
            "spec": {"rules": [{}, {}]}});
        let err = served.convert(&two).unwrap_err();
        assert!(err.starts_with("spec.rules: 2 rules"), "{err}");
        let one = json!({"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TCPRoute",
            "spec": {"rules": [{}]}});
        assert_eq!(
            served.convert(&one).unwrap()["apiVersion"],
            "gateway.networking.k8s.io/v1"
        );
        assert!(served.unexpressible(&two).is_some());
        // The experimental channel serves both: a v1alpha2 route stays so.
        let mut crds = core();
        crds.push(crd(
            "tcproutes",
            "TCPRoute",
            &[("v1", true), ("v1alpha2", true)],
        ));
        let served = Served::from_crds(&crds).unwrap();
        assert_eq!(served.unexpressible(&two), None);
        assert_eq!(served.convert(&two).unwrap(), two);
    }

    #[test]
    fn missing_crds_name_the_install_command() {
        let err = Served::from_crds(&[]).unwrap_err().to_string();
        assert!(
            err.contains("GatewayClass, Gateway") && err.contains(INSTALL_COMMAND),
            "{err}"
        );
        let err = Served::from_crds(&core()).unwrap_err().to_string();
        assert!(
            err.contains("neither TCPRoute nor UDPRoute") && err.contains(INSTALL_COMMAND),
            "{err}"
        );
        // A CRD present but serving no accepted version counts as missing.
        let mut crds = core();
        crds.push(crd(
            "tcproutes",
            "TCPRoute",
            &[("v1alpha2", false), ("v1", false)],
        ));
        assert!(Served::from_crds(&crds).is_err());
    }
}
