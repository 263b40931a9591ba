//! Feature selection, as upstream's suite does it: the supported set comes
//! from flags, or from the GatewayClass's `status.supportedFeatures`; each
//! named conformance profile adds its core features; a test runs only if the
//! supported set covers all its features, and is otherwise reported as not
//! supported (never as passed).

use std::collections::BTreeSet;

/// A conformance profile gwl4 reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Profile {
    /// Upstream name, e.g. `GATEWAY-TCP`.
    pub name: &'static str,
    /// Core features (upstream `profiles.go`).
    pub core: &'static [&'static str],
}

/// GATEWAY-TCP: Gateway, TCPRoute, ReferenceGrant.
pub const GATEWAY_TCP: Profile = Profile {
    name: "GATEWAY-TCP",
    core: &["Gateway", "ReferenceGrant", "TCPRoute"],
};
/// GATEWAY-UDP: Gateway, UDPRoute, ReferenceGrant.
pub const GATEWAY_UDP: Profile = Profile {
    name: "GATEWAY-UDP",
    core: &["Gateway", "ReferenceGrant", "UDPRoute"],
};
/// The profiles gwl4 knows.
pub const PROFILES: &[Profile] = &[GATEWAY_TCP, GATEWAY_UDP];

/// Looks up a profile by its upstream name.
pub fn profile(name: &str) -> Option<Profile> {
    PROFILES.iter().copied().find(|p| p.name == name)
}

/// The profiles a test with these features belongs to: those whose core
/// route kind it uses.
pub fn profiles_of(features: &[String]) -> Vec<&'static str> {
    let has = |f: &str| features.iter().any(|x| x == f);
    let mut out = Vec::new();
    if has("TCPRoute") {
        out.push(GATEWAY_TCP.name);
    }
    if has("UDPRoute") {
        out.push(GATEWAY_UDP.name);
    }
    out
}

/// Which features count as supported for this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Supported features (after exemptions).
    pub supported: BTreeSet<String>,
    /// Where the set came from, for the summary and reports.
    pub source: String,
    /// Profiles named with `--conformance-profiles` (empty: all tests).
    pub profiles: Vec<Profile>,
}

impl Selection {
    /// Builds the supported set.
    ///
    /// `flags` are `--supported-features` (None when not given); `class` is
    /// the GatewayClass's `status.supportedFeatures` when it could be read.
    pub fn new(
        flags: Option<&[String]>,
        all_features: bool,
        exempt: &[String],
        class: Option<&[String]>,
        profiles: Vec<Profile>,
    ) -> Selection {
        let (mut supported, source): (BTreeSet<String>, String) = if all_features {
            (
                crate::suite::KNOWN_FEATURES
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                "--all-features".into(),
            )
        } else if let Some(f) = flags {
            (f.iter().cloned().collect(), "--supported-features".into())
        } else if let Some(c) = class {
            (
                c.iter().cloned().collect(),
                "GatewayClass status.supportedFeatures".into(),
            )
        } else {
            (BTreeSet::new(), "none given".into())
        };
        for p in &profiles {
            supported.extend(p.core.iter().map(|s| s.to_string()));
        }
        for e in exempt {
            supported.remove(e);
        }
        Selection {
            supported,
            source,
            profiles,
        }
    }

    /// Features of `needed` the run does not support (empty: the test runs).
    pub fn missing(&self, needed: &[String]) -> Vec<String> {
        needed
            .iter()
            .filter(|f| !self.supported.contains(*f))
            .cloned()
            .collect()
    }

    /// Whether a test with these features is in a selected profile (always
    /// true when no profile was named).
    pub fn in_profiles(&self, features: &[String]) -> bool {
        self.profiles.is_empty() || {
            let of = profiles_of(features);
            self.profiles.iter().any(|p| of.contains(&p.name))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn profiles_add_core_and_exemptions_remove() {
        let sel = Selection::new(
            Some(&s(&["Gateway"])),
            false,
            &s(&["ReferenceGrant"]),
            None,
            vec![GATEWAY_TCP],
        );
        assert!(sel.missing(&s(&["Gateway", "TCPRoute"])).is_empty());
        assert_eq!(
            sel.missing(&s(&["Gateway", "ReferenceGrant"])),
            s(&["ReferenceGrant"])
        );
        assert!(sel.in_profiles(&s(&["Gateway", "TCPRoute"])));
        assert!(!sel.in_profiles(&s(&["Gateway", "UDPRoute"])));
    }

    #[test]
    fn class_features_used_when_no_flags() {
        let sel = Selection::new(None, false, &[], Some(&s(&["Gateway", "UDPRoute"])), vec![]);
        assert!(sel.source.contains("GatewayClass"));
        assert_eq!(sel.missing(&s(&["TCPRoute"])), s(&["TCPRoute"]));
    }
}
