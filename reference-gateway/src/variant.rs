//! Allowed variations, for gwl4's self-test: behaviours that differ from the
//! reference gateway's defaults only in ways the Gateway API spec allows.
//! A conformance tool that fails a correct implementation for a choice the
//! spec leaves open loses that implementer's trust, so `gwl4 self-test`
//! runs the relevant tests against each variation and requires them to
//! pass (warnings allowed). Each variant's doc names the spec's words that
//! allow it.
//!
//! Every variant is off unless named (`standalone --variant NAME`,
//! repeatable). Where each takes effect:
//!
//! - `multi-rule-rejected`, `tcp-udp-same-port-refused`: the translation's
//!   [`crate::translate::Policy`];
//! - `weighted-round-robin`: the data plane's backend choice
//!   (`dataplane::state`);
//! - `reject-by-accept-close`: `dataplane::tcp`;
//! - `udp-loss`, `udp-session-cap`: `dataplane::udp`.

use crate::fault::Flag;

/// One allowed variation. Names (kebab-case) are `--variant` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Variant {
    /// A v1alpha2 route with more than one rule is not accepted
    /// (`Accepted=False/UnsupportedValue`) instead of being served by its
    /// first rule with `PartiallyInvalid`: the spec requires neither (a
    /// Route "MUST be considered Accepted if at least one rule is
    /// implemented" does not oblige an implementation to implement one of
    /// several), and Envoy Gateway rejects such routes.
    MultiRuleRejected,
    /// TCP and UDP listeners on one port are refused as conflicting
    /// (`Conflicted=True/ProtocolConflict`, neither bound, the Gateway
    /// `ListenersNotValid`): "an implementation that cannot serve both TCP
    /// and UDP listeners on the same address ... would not consider those
    /// cases compatible" (apis/v1/gateway_types.go, Compatible Listeners).
    TcpUdpSamePortRefused,
    /// Backends are chosen by a deterministic weighted rotation instead of
    /// weighted random choice: BackendRef.Weight fixes proportions, not how
    /// they are drawn (Traefik and Envoy rotate).
    WeightedRoundRobin,
    /// A connection to an invalid backend is accepted and then closed (FIN,
    /// no byte) instead of reset: TCPRouteRule.BackendRefs says "MUST
    /// actively reject connection attempts" and no more (Envoy-based
    /// implementations do this).
    RejectByAcceptClose,
    /// A stated fraction of UDP datagrams (`--udp-loss`, default 5%) is
    /// dropped at random in each direction: UDP is lossy on every real
    /// network, and GEP-2645 asks for no delivery guarantee.
    UdpLoss,
    /// At most `--udp-session-cap` UDP sessions per listener (default 500);
    /// new flows beyond it are dropped until sessions idle out, as Envoy's
    /// circuit breaker does (1,024 by default): capacity, which the spec
    /// leaves to implementations (GEP-2645 Non-Goals: session tracking).
    UdpSessionCap,
}

impl Flag for Variant {}

/// A set of variants (cheap to copy; empty by default).
pub type Variants = crate::fault::Flags<Variant>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kebab_case() {
        assert_eq!(Variant::all().count(), 6);
        assert_eq!(
            Variant::TcpUdpSamePortRefused.name(),
            "tcp-udp-same-port-refused"
        );
        let set: Variants = [Variant::UdpLoss].into_iter().collect();
        assert!(set.contains(Variant::UdpLoss) && !set.contains(Variant::UdpSessionCap));
    }
}
