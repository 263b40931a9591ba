//! Upstream conformance profiles and which tests belong to them.
//!
//! Upstream (`conformance/utils/suite/profiles.go`) puts a test in a profile
//! when all its features are in the profile's core ∪ extended features, and
//! calls it "extended" for that profile when any feature is not core.
//!
//! gwl4 tests may also carry gwl4's own features (names upstream does not
//! define, e.g. a finer-grained `TCPRouteWeights`). Those refine *which*
//! behaviour a test checks, not which route protocol it exercises, so they are
//! **ignored** when deciding membership and core/extended: a test's profiles
//! are decided by its upstream features alone. A test with no upstream
//! feature at all belongs to no profile. The upstream features are the ones in
//! [`UPSTREAM_FEATURES`].

/// An upstream conformance profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// Upstream name, e.g. `GATEWAY-TCP`.
    pub name: &'static str,
    /// Core features.
    pub core: &'static [&'static str],
    /// Extended features (upstream lists the route kind here too).
    pub extended: &'static [&'static str],
}

impl Profile {
    /// Whether a feature is in the profile's core set.
    pub fn is_core(&self, feature: &str) -> bool {
        self.core.contains(&feature)
    }

    /// Whether a feature is in core ∪ extended.
    pub fn has(&self, feature: &str) -> bool {
        self.is_core(feature) || self.extended.contains(&feature)
    }

    /// Whether a test with these features is extended (not core) for this profile.
    pub fn is_extended_test(&self, features: &[String]) -> bool {
        upstream_only(features).any(|f| !self.is_core(f))
    }
}

/// `GatewayExtendedFeatures` in upstream `pkg/features/gateway.go`.
const GATEWAY_EXTENDED: [&str; 10] = [
    "GatewayPort8080",
    "GatewayStaticAddresses",
    "GatewayHTTPListenerIsolation",
    "GatewayHTTPSListenerDetectMisdirectedRequests",
    "GatewayInfrastructurePropagation",
    "GatewayAddressEmpty",
    "GatewayListenerSet",
    "GatewayBackendClientCertificate",
    "GatewayFrontendClientCertificateValidation",
    "GatewayFrontendClientCertificateValidationInsecureFallback",
];

const fn with_route<const N: usize>(route: &'static str) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < GATEWAY_EXTENDED.len() {
        out[i] = GATEWAY_EXTENDED[i];
        i += 1;
    }
    out[i] = route;
    out
}

const TCP_EXTENDED: [&str; 11] = with_route("TCPRoute");
const UDP_EXTENDED: [&str; 11] = with_route("UDPRoute");

/// `GATEWAY-TCP`: core Gateway, TCPRoute, ReferenceGrant.
pub const GATEWAY_TCP: Profile = Profile {
    name: "GATEWAY-TCP",
    core: &["Gateway", "TCPRoute", "ReferenceGrant"],
    extended: &TCP_EXTENDED,
};

/// `GATEWAY-UDP`: core Gateway, UDPRoute, ReferenceGrant.
pub const GATEWAY_UDP: Profile = Profile {
    name: "GATEWAY-UDP",
    core: &["Gateway", "UDPRoute", "ReferenceGrant"],
    extended: &UDP_EXTENDED,
};

/// The profiles gwl4 reports, in report order.
pub const PROFILES: [Profile; 2] = [GATEWAY_TCP, GATEWAY_UDP];

/// Name of the JUnit suite (and HTML group) for tests in no upstream profile.
pub const GWL4_SUITE: &str = "GWL4-ONLY (no upstream profile)";

/// Feature names upstream defines that an L4 test could carry; any other
/// name is gwl4's own.
pub const UPSTREAM_FEATURES: &[&str] = &[
    "Gateway",
    "ReferenceGrant",
    "TCPRoute",
    "UDPRoute",
    "TLSRoute",
    "TLSRouteModeTerminate",
    "TLSRouteModeMixed",
    "HTTPRoute",
    "GRPCRoute",
    "BackendTLSPolicy",
    "Mesh",
    "GatewayPort8080",
    "GatewayStaticAddresses",
    "GatewayHTTPListenerIsolation",
    "GatewayHTTPSListenerDetectMisdirectedRequests",
    "GatewayInfrastructurePropagation",
    "GatewayAddressEmpty",
    "GatewayListenerSet",
    "GatewayBackendClientCertificate",
    "GatewayFrontendClientCertificateValidation",
    "GatewayFrontendClientCertificateValidationInsecureFallback",
];

/// Whether upstream defines this feature name.
pub fn is_upstream_feature(feature: &str) -> bool {
    UPSTREAM_FEATURES.contains(&feature)
}

fn upstream_only(features: &[String]) -> impl Iterator<Item = &str> {
    features
        .iter()
        .map(String::as_str)
        .filter(|f| is_upstream_feature(f))
}

/// The profiles (of [`PROFILES`]) a test with these features belongs to.
pub fn profiles_of(features: &[String]) -> Vec<&'static Profile> {
    if upstream_only(features).next().is_none() {
        return Vec::new();
    }
    PROFILES
        .iter()
        .filter(|p| upstream_only(features).all(|f| p.has(f)))
        .collect()
}

/// The profile by name, if gwl4 reports it.
pub fn profile(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn names(features: &[&str]) -> Vec<&'static str> {
        profiles_of(&f(features)).iter().map(|p| p.name).collect()
    }

    #[test]
    fn membership_follows_upstream_features_only() {
        assert_eq!(names(&["Gateway", "TCPRoute"]), ["GATEWAY-TCP"]);
        assert_eq!(
            names(&["Gateway", "UDPRoute", "ReferenceGrant"]),
            ["GATEWAY-UDP"]
        );
        // Protocol-agnostic Gateway tests count in both, as upstream.
        assert_eq!(names(&["Gateway"]), ["GATEWAY-TCP", "GATEWAY-UDP"]);
        // TCP and UDP together fit neither profile.
        assert!(names(&["Gateway", "TCPRoute", "UDPRoute"]).is_empty());
        assert!(names(&["Gateway", "TLSRoute"]).is_empty());
        // gwl4's own features are ignored...
        assert_eq!(
            names(&["Gateway", "TCPRoute", "TCPRouteWeights"]),
            ["GATEWAY-TCP"]
        );
        // ...but a test with nothing upstream is in no profile.
        assert!(names(&["UDPFlowAffinity"]).is_empty());
        assert!(names(&[]).is_empty());
    }

    #[test]
    fn extended_means_a_non_core_upstream_feature() {
        assert!(!GATEWAY_TCP.is_extended_test(&f(&["Gateway", "TCPRoute", "ReferenceGrant"])));
        assert!(!GATEWAY_TCP.is_extended_test(&f(&["Gateway", "TCPRoute", "TCPRouteWeights"])));
        assert!(GATEWAY_TCP.is_extended_test(&f(&[
            "Gateway",
            "TCPRoute",
            "GatewayStaticAddresses"
        ])));
        assert!(GATEWAY_UDP.extended.contains(&"UDPRoute"));
        assert!(
            GATEWAY_UDP
                .extended
                .contains(&"GatewayFrontendClientCertificateValidationInsecureFallback")
        );
    }
}
