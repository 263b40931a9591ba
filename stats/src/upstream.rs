//! The upstream conformance suite's weight check, for comparison only.
//!
//! `conformance/utils/weight/weight.go` (`TestWeightedDistribution`) sends
//! [`SAMPLES`] requests and passes an attempt when every backend's observed
//! share is within [`TOLERANCE`] (absolute) of its expected share, every
//! backend with non-zero weight was seen, and nothing else was; the caller
//! retries up to [`MAX_ATTEMPTS`] times and passes on the first clean
//! attempt. gwl4 does not judge by this rule; it exists so that the
//! documentation's comparison table is computed from the same code as the
//! simulations, and so reports can say what upstream would have concluded.

/// Samples per attempt.
pub const SAMPLES: u64 = 500;
/// Absolute tolerance on each backend's share.
pub const TOLERANCE: f64 = 0.05;
/// Attempts before the upstream suite gives up.
pub const MAX_ATTEMPTS: u32 = 10;

/// Whether one upstream attempt passes: `observed` (backend name, samples)
/// against `weights` (backend name, weight). The arithmetic is the same
/// floating point as upstream's (`|count/total − weight/Σweights| > 0.05`
/// fails), so boundary counts fall the same way.
pub fn attempt_passes(weights: &[(&str, u32)], observed: &[(&str, u64)]) -> bool {
    let total_weight: f64 = weights.iter().map(|(_, w)| f64::from(*w)).sum();
    let total: u64 = observed.iter().map(|(_, c)| c).sum();
    if total_weight == 0.0 || total == 0 {
        return false;
    }
    let count_of = |name: &str| {
        observed
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, c)| *c)
            .sum::<u64>()
    };
    let known = observed
        .iter()
        .all(|(name, count)| *count == 0 || weights.iter().any(|(n, _)| n == name));
    let seen_as_expected = weights
        .iter()
        .all(|(name, weight)| (count_of(name) > 0) == (*weight > 0));
    let within = weights.iter().all(|(name, weight)| {
        let got = count_of(name) as f64 / total as f64;
        let want = f64::from(*weight) / total_weight;
        (got - want).abs() <= TOLERANCE
    });
    known && seen_as_expected && within
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEIGHTS: [(&str, u32); 3] = [("v1", 70), ("v2", 30), ("v3", 0)];

    #[test]
    fn band_edges_fall_as_in_go() {
        let pass = |v1: u64| attempt_passes(&WEIGHTS, &[("v1", v1), ("v2", 500 - v1)]);
        // 325/500 − 0.7 rounds to just under 0.05; 375/500 − 0.7 just over.
        assert!(pass(325));
        assert!(pass(350));
        assert!(pass(374));
        assert!(!pass(375));
        assert!(!pass(324));
    }

    #[test]
    fn weight_zero_unknown_and_missing_backends_fail() {
        assert!(!attempt_passes(
            &WEIGHTS,
            &[("v1", 349), ("v2", 150), ("v3", 1)]
        ));
        assert!(!attempt_passes(
            &WEIGHTS,
            &[("v1", 349), ("v2", 150), ("x", 1)]
        ));
        assert!(!attempt_passes(&[("a", 1), ("b", 99)], &[("b", 500)]));
        assert!(!attempt_passes(&WEIGHTS, &[]));
    }
}
