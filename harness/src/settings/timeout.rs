//! `TimeoutConfig`: how long each kind of wait may take. Names and defaults
//! follow upstream's `conformance/utils/config/timeout.go`, so
//! `--timeout-config-overrides` reads the same as it does there.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

macro_rules! timeouts {
    ($($(#[$doc:meta])* $field:ident = $name:literal, $default_ms:expr;)*) => {
        /// Every timeout gwl4 waits under.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
        pub struct TimeoutConfig {
            $($(#[$doc])* #[serde(with = "secs")] pub $field: Duration,)*
        }

        impl Default for TimeoutConfig {
            fn default() -> Self {
                TimeoutConfig { $($field: Duration::from_millis($default_ms),)* }
            }
        }

        impl TimeoutConfig {
            /// Upstream names, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// The timeout with this upstream name.
            pub fn get(&self, name: &str) -> Option<Duration> {
                match name {
                    $($name => Some(self.$field),)*
                    _ => None,
                }
            }

            fn set(&mut self, name: &str, value: Duration) -> bool {
                match name {
                    $($name => { self.$field = value; true })*
                    _ => false,
                }
            }

            /// Every timeout by name, for reports.
            pub fn as_map(&self) -> BTreeMap<String, f64> {
                let mut m = BTreeMap::new();
                $(m.insert($name.to_string(), self.$field.as_secs_f64());)*
                m
            }
        }
    };
}

timeouts! {
    /// Creating an object.
    create_timeout = "CreateTimeout", 60_000;
    /// Deleting an object.
    delete_timeout = "DeleteTimeout", 30_000;
    /// Reading an object.
    get_timeout = "GetTimeout", 10_000;
    /// A Gateway getting an address.
    gateway_must_have_address = "GatewayMustHaveAddress", 180_000;
    /// A Gateway condition.
    gateway_must_have_condition = "GatewayMustHaveCondition", 180_000;
    /// A Gateway's listener statuses appearing.
    gateway_status_must_have_listeners = "GatewayStatusMustHaveListeners", 60_000;
    /// A listener condition.
    gateway_listeners_must_have_conditions = "GatewayListenersMustHaveConditions", 60_000;
    /// A GatewayClass being accepted.
    gwc_must_be_accepted = "GWCMustBeAccepted", 180_000;
    /// A TCPRoute condition.
    tcp_route_must_have_condition = "TCPRouteMustHaveCondition", 60_000;
    /// A UDPRoute condition.
    udp_route_must_have_condition = "UDPRouteMustHaveCondition", 60_000;
    /// A route's parents appearing.
    route_must_have_parents = "RouteMustHaveParents", 60_000;
    /// Upper bound for a conformant implementation to reflect a change in traffic.
    max_time_to_consistency = "MaxTimeToConsistency", 30_000;
    /// Namespaces (pods and Gateways) becoming ready.
    namespaces_must_be_ready = "NamespacesMustBeReady", 300_000;
    /// One request (connect + reply).
    request_timeout = "RequestTimeout", 10_000;
    /// Conditions reaching the latest observedGeneration.
    latest_observed_generation_set = "LatestObservedGenerationSet", 60_000;
    /// A whole test.
    default_test_timeout = "DefaultTestTimeout", 60_000;
    /// Between polls.
    default_poll_interval = "DefaultPollInterval", 100;
    /// Probes in a row that must agree before traffic counts as converged
    /// (a count, not a time: upstream's name, written as seconds here).
    required_consecutive_successes = "RequiredConsecutiveSuccesses", 3_000;
}

impl TimeoutConfig {
    /// Local-mode defaults: upstream's are sized for clusters pulling images
    /// and provisioning load balancers; a local gateway reconciles in
    /// milliseconds, and shorter bounds keep a failing run short. Every
    /// status wait is 15 s, MaxTimeToConsistency 10 s, RequestTimeout 5 s.
    pub fn local() -> TimeoutConfig {
        let s = Duration::from_secs;
        TimeoutConfig {
            gateway_must_have_address: s(15),
            gateway_must_have_condition: s(15),
            gateway_status_must_have_listeners: s(15),
            gateway_listeners_must_have_conditions: s(15),
            gwc_must_be_accepted: s(15),
            tcp_route_must_have_condition: s(15),
            udp_route_must_have_condition: s(15),
            route_must_have_parents: s(15),
            latest_observed_generation_set: s(15),
            namespaces_must_be_ready: s(30),
            max_time_to_consistency: s(10),
            request_timeout: s(5),
            ..TimeoutConfig::default()
        }
    }

    /// Probes in a row for convergence (`RequiredConsecutiveSuccesses`).
    pub fn consecutive_successes(&self) -> u32 {
        self.required_consecutive_successes.as_secs().max(1) as u32
    }

    /// Applies `Name:seconds;Name:seconds` (upstream's flag format).
    pub fn apply_overrides(&mut self, spec: &str) -> Result<(), String> {
        for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once(':')
                .ok_or_else(|| format!("timeout override {part:?}: expected Name:seconds"))?;
            let secs: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                .ok_or_else(|| {
                    format!("timeout override {part:?}: {value:?} is not a number of seconds")
                })?;
            if !self.set(name.trim(), Duration::from_secs_f64(secs)) {
                return Err(format!(
                    "timeout override {part:?}: unknown timeout {name:?}; known: {}",
                    Self::NAMES.join(", ")
                ));
            }
        }
        Ok(())
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        if !secs.is_finite() || secs < 0.0 {
            return Err(serde::de::Error::custom(format!(
                "{secs} is not a number of seconds"
            )));
        }
        Ok(Duration::from_secs_f64(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_use_upstream_names() {
        let mut t = TimeoutConfig::default();
        t.apply_overrides("MaxTimeToConsistency:5; RequestTimeout:0.5")
            .unwrap();
        assert_eq!(t.max_time_to_consistency, Duration::from_secs(5));
        assert_eq!(t.get("RequestTimeout"), Some(Duration::from_millis(500)));
        let err = t.apply_overrides("Nope:1").unwrap_err();
        assert!(err.contains("unknown timeout \"Nope\""), "{err}");
        assert!(t.apply_overrides("RequestTimeout").is_err());
    }

    #[test]
    fn defaults_match_upstream() {
        let t = TimeoutConfig::default();
        assert_eq!(
            t.get("GatewayMustHaveCondition"),
            Some(Duration::from_secs(180))
        );
        assert_eq!(
            t.get("DefaultPollInterval"),
            Some(Duration::from_millis(100))
        );
        assert_eq!(t.consecutive_successes(), 3);
    }
}
