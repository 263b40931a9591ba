//! Deliberate bugs, for gwl4's self-test: each [`Fault`] makes the gateway
//! misbehave the way a real L4 implementation did (the variant's doc names
//! the bug), so `gwl4 self-test` can show that the catalog catches it.
//!
//! Every fault is off unless named (`standalone --fault NAME`, repeatable)
//! and lives here, as one small function applied at one seam:
//!
//! - [`FaultState::translate`] (the file provider's translation call):
//!   snapshot pre-processing and config/status post-processing, in
//!   [`snapshot`] and [`config`] (the faults that need memory across
//!   reloads keep it in [`FaultState`]);
//! - [`FaultState::apply`] (the file provider's data-plane apply):
//!   `slow-convergence` applies changed configs late, after their status;
//! - [`dataplane`]: the two faults that only the data plane can show
//!   (`udp-per-packet`, `udp-reply-from-backend-socket`), each one
//!   `if faults.contains(..)` in `dataplane::udp`.
//!
//! Behaviours the spec allows (not bugs) are variants, in
//! [`crate::variant`]; they share the [`Flags`] set type.
//!
//! With no fault named, [`FaultState::translate`] is exactly
//! [`crate::translate::translate_with`] under its policy (the default, or
//! the allowed variations named with `--variant`).

pub mod config;
pub mod dataplane;
pub mod snapshot;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::config::Config;
use crate::dataplane::{BindFailures, DataPlane};
use crate::model::Snapshot;
use crate::translate::{Policy, Translation, translate_with};

/// One deliberate bug. Names (kebab-case) are `--fault` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Fault {
    /// Round-robin over every endpoint of every backendRef, weight 0
    /// included: blixt (never implemented weights), haproxytech
    /// kubernetes-ingress #698 (weights ignored).
    WeightsIgnored,
    /// Each endpoint gets its backendRef's full weight, so replica counts
    /// skew the split: Cilium's per-EndpointSlice weights (#46061 docs,
    /// inferred), blixt's flattened endpoints.
    PerEndpointWeight,
    /// A weight-0 backend still gets an occasional connection (about 2% of
    /// them): NGINX Gateway Fabric PR #5601 (0% entries in
    /// `split_clients`), Cilium weight 0 as "maintenance" (#46061).
    ZeroWeightLeak,
    /// Each datagram balanced on its own, so a flow spreads over backends:
    /// blixt PR #117 (per-packet round-robin), Envoy per-packet LB
    /// (envoy PR #18605).
    UdpPerPacket,
    /// UDP replies leave from a different local port than the listener's,
    /// so clients drop them: Envoy Gateway #641 (return path), blixt (no
    /// reply NAT).
    UdpReplyFromBackendSocket,
    /// An invalid backend's share goes to the valid ones instead of being
    /// rejected: Kong (KIC test encodes redistribution), Contour (inferred).
    InvalidShareRedistributed,
    /// Permission from a deleted ReferenceGrant stays cached: stunner #90 /
    /// operator #30 (cross-namespace permission state).
    GrantRevocationIgnored,
    /// On a shared L4 listener the newest route gets the traffic, not the
    /// oldest: Envoy Gateway #4150 (several routes on one listener; before
    /// PR #9247 the second was not attached).
    NewestRouteWins,
    /// A route bound to one listener by sectionName is served on every
    /// listener of its Gateway (all TCP listeners route to the same
    /// backend): APISIX ingress #2802 (fix #2818 is opt-in).
    SectionNameIgnored,
    /// UDP listeners are reported Programmed but never bound: istio #54163
    /// (UDP listener silently omitted), Envoy Gateway #6156.
    StatusWithoutListener,
    /// Conditions keep the observedGeneration they were first written with
    /// after a spec change: stunner #31 / Envoy Gateway #5850 (status that
    /// does not reflect the current spec).
    StaleObservedGeneration,
    /// attachedRoutes counts a route once per Gateway (on the first listener
    /// it attaches to), not once per listener: istio #55173 (a route without
    /// sectionName bound to only one of two listeners).
    AttachedRoutesMiscount,
    /// Follows cross-namespace backendRefs with no ReferenceGrant:
    /// traefik-helm-chart #1164, Kong before PR #5028 (no UDP grant checks).
    CrossNamespaceWithoutGrant,
    /// A ReferenceGrant allows more than it names: its `to.name` and its
    /// `from` group and kind are not checked, so any grant in a namespace
    /// opens every Service there to both route kinds. The scope checks
    /// implementations get wrong (nginx-gateway-fabric #2333: grants
    /// checked against the wrong route kind), which no catalog test
    /// checked before TCPRouteReferenceGrantScope.
    GrantScopeIgnored,
    /// A deleted route keeps serving new connections: blixt and Contour
    /// e2e assert teardown on deletion because implementations missed it.
    RouteDeletionKeepsTraffic,
    /// Applies config changes to the data plane only after longer than
    /// MaxTimeToConsistency (`--slow-convergence-delay`), while status
    /// already reports them: gateway-api #5039/#5121 (data plane programmed
    /// long after status).
    SlowConvergence,
}

impl Flag for Fault {}

/// A command-line enum of named deviations (faults, variants) whose values
/// fit in a [`Flags`] set.
pub trait Flag: clap::ValueEnum + Copy + PartialEq + 'static {
    /// Every value, in declaration order.
    fn all() -> impl Iterator<Item = Self> {
        Self::value_variants().iter().copied()
    }

    /// The value's name on the command line (kebab-case).
    fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default()
    }

    /// The value's bit in a [`Flags`] set: its position in declaration order.
    fn bit(self) -> u32 {
        let index = Self::value_variants()
            .iter()
            .position(|v| *v == self)
            .unwrap_or(0);
        1 << index
    }
}

/// A set of [`Flag`] values (cheap to copy; empty by default).
#[derive(Debug)]
pub struct Flags<T>(u32, std::marker::PhantomData<fn() -> T>);

impl<T> Clone for Flags<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Flags<T> {}

impl<T> Default for Flags<T> {
    fn default() -> Self {
        Flags(0, std::marker::PhantomData)
    }
}

impl<T> PartialEq for Flags<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T> Eq for Flags<T> {}

impl<T: Flag> Flags<T> {
    /// Whether `flag` is in the set.
    pub fn contains(self, flag: T) -> bool {
        self.0 & flag.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl<T: Flag> FromIterator<T> for Flags<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Flags(
            iter.into_iter().fold(0, |bits, f| bits | f.bit()),
            std::marker::PhantomData,
        )
    }
}

/// A set of faults.
pub type Faults = Flags<Fault>;

/// The faults of a provider, with the memory some of them need across
/// reloads.
#[derive(Debug, Default)]
pub struct FaultState {
    faults: Faults,
    /// The translation's policy (allowed variations, not faults).
    policy: Policy,
    slow_convergence_delay: Duration,
    memory: Mutex<Memory>,
}

/// What faults remember from one reload to the next.
#[derive(Debug, Default)]
struct Memory {
    snapshot: snapshot::Memory,
    config: config::Memory,
    /// Whether a config was applied yet (`slow-convergence` defers the others).
    applied_once: bool,
}

impl FaultState {
    /// `faults` on; `slow-convergence` waits `slow_convergence_delay`.
    pub fn new(faults: Faults, slow_convergence_delay: Duration) -> Self {
        FaultState {
            faults,
            policy: Policy::default(),
            slow_convergence_delay,
            memory: Mutex::default(),
        }
    }

    /// Translates under `policy` (allowed variations) instead of the default.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// [`translate`] with the translation-level faults applied. Idempotent
    /// within a reload (the provider may translate several times).
    pub fn translate(&self, snapshot: &Snapshot) -> Translation {
        if self.faults.is_empty() {
            return translate_with(snapshot, self.policy);
        }
        let mut memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        let snapshot = snapshot::apply(self.faults, &mut memory.snapshot, snapshot.clone());
        let mut translation = translate_with(&snapshot, self.policy);
        config::apply(self.faults, &mut memory.config, &snapshot, &mut translation);
        translation
    }

    /// Applies `config` to the data plane. With `slow-convergence`, every
    /// config after the first is applied only after the delay, in a task,
    /// while its status is written at once (status ahead of the data
    /// plane); no bind failures are reported for a deferred config.
    pub fn apply(&self, data_plane: &Arc<DataPlane>, config: &Config) -> BindFailures {
        let first = {
            let mut memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
            !std::mem::replace(&mut memory.applied_once, true)
        };
        if first || !self.faults.contains(Fault::SlowConvergence) {
            return data_plane.apply(config);
        }
        let (data_plane, config, delay) = (
            data_plane.clone(),
            config.clone(),
            self.slow_convergence_delay,
        );
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = data_plane.apply(&config);
        });
        BindFailures::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kebab_case_and_sets_hold_what_was_put_in() {
        assert_eq!(Fault::all().count(), 16);
        assert_eq!(
            Fault::UdpReplyFromBackendSocket.name(),
            "udp-reply-from-backend-socket"
        );
        let set: Faults = [Fault::WeightsIgnored, Fault::SlowConvergence]
            .into_iter()
            .collect();
        assert!(set.contains(Fault::WeightsIgnored));
        assert!(set.contains(Fault::SlowConvergence));
        assert!(!set.contains(Fault::UdpPerPacket));
        assert!(Faults::default().is_empty());
    }
}
