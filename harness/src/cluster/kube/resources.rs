//! The kinds kube mode handles and where they live in the API. Suites use
//! a small, fixed vocabulary of kinds, so a table beats API discovery: it
//! needs no extra permissions and works with the fake client in tests.

use kube::api::ApiResource;

/// Label carried by everything gwl4 creates, valued with the run id.
pub const RUN_ID_LABEL: &str = "gwl4.dev/run-id";

/// Field manager for server-side apply.
pub const FIELD_MANAGER: &str = "gwl4";

/// The Gateway API group.
pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// One kind gwl4 can apply, read and delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    /// Kind, e.g. `TCPRoute`.
    pub kind: &'static str,
    /// API group; empty for the core group.
    pub group: &'static str,
    /// Resource name in URLs.
    pub plural: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// The version used for built-in kinds; Gateway API kinds use the
    /// version the cluster serves (see `crds`).
    pub version: &'static str,
}

impl KindInfo {
    /// Whether this is a Gateway API kind (version decided by the CRDs).
    pub fn is_gateway_api(&self) -> bool {
        self.group == GATEWAY_GROUP
    }

    /// The `ApiResource` for `version`.
    pub fn resource(&self, version: &str) -> ApiResource {
        let api_version = if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        };
        ApiResource {
            group: self.group.to_string(),
            version: version.to_string(),
            api_version,
            kind: self.kind.to_string(),
            plural: self.plural.to_string(),
        }
    }
}

const fn kind(
    kind: &'static str,
    group: &'static str,
    plural: &'static str,
    namespaced: bool,
    version: &'static str,
) -> KindInfo {
    KindInfo {
        kind,
        group,
        plural,
        namespaced,
        version,
    }
}

/// Every kind kube mode knows.
pub const KINDS: &[KindInfo] = &[
    kind("Namespace", "", "namespaces", false, "v1"),
    kind("Service", "", "services", true, "v1"),
    kind("ConfigMap", "", "configmaps", true, "v1"),
    kind("Pod", "", "pods", true, "v1"),
    kind("Deployment", "apps", "deployments", true, "v1"),
    kind(
        "EndpointSlice",
        "discovery.k8s.io",
        "endpointslices",
        true,
        "v1",
    ),
    kind("GatewayClass", GATEWAY_GROUP, "gatewayclasses", false, "v1"),
    kind("Gateway", GATEWAY_GROUP, "gateways", true, "v1"),
    kind("TCPRoute", GATEWAY_GROUP, "tcproutes", true, "v1"),
    kind("UDPRoute", GATEWAY_GROUP, "udproutes", true, "v1"),
    kind(
        "ReferenceGrant",
        GATEWAY_GROUP,
        "referencegrants",
        true,
        "v1",
    ),
];

/// The table entry for `kind`.
pub fn lookup(kind: &str) -> Option<&'static KindInfo> {
    KINDS.iter().find(|k| k.kind == kind)
}

/// The kinds, for error messages.
pub fn known_kinds() -> String {
    KINDS.iter().map(|k| k.kind).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_carry_group_and_version() {
        let r = lookup("TCPRoute").unwrap().resource("v1alpha2");
        assert_eq!(r.api_version, "gateway.networking.k8s.io/v1alpha2");
        assert_eq!(r.plural, "tcproutes");
        let r = lookup("Service").unwrap().resource("v1");
        assert_eq!(r.api_version, "v1");
        assert!(lookup("HTTPRoute").is_none());
        // The table agrees with the local backend on which kinds are cluster-scoped.
        for k in KINDS {
            assert_eq!(
                !k.namespaced,
                crate::cluster::is_cluster_scoped(k.kind),
                "{}",
                k.kind
            );
        }
    }
}
