//! The verdict a split's `must` rests on: is any share *significantly*
//! farther from its weight than the spec lets an implementation be?
//!
//! BackendRef.Weight: "For non-zero values, there may be some epsilon from
//! the exact proportion defined here depending on the precision an
//! implementation supports", and the upstream conformance suite accepts any
//! share within ±5 percentage points of the weight. So the `must` fails a
//! backend only when its Wilson interval (at confidence `1 − α/k` for `k`
//! backends, Bonferroni) lies wholly outside weight ± [`WEIGHT_TOLERANCE`],
//! and a weight-0 backend only when its interval lies wholly above
//! [`ZERO_WEIGHT_TOLERANCE`] (the text's "no traffic should be forwarded"
//! is a lowercase should; upstream fails any hit but retries, which
//! tolerates leaks of a few in a thousand). The exact tests (chi-squared,
//! binomial, weight 0 means zero) stay in the verdicts as gwl4's
//! recommendation and the spec's should.
//!
//! A correct gateway fails this with probability at most α (each interval
//! misses its true share with probability at most α/k); a gateway 10 points
//! off fails it with near certainty at the catalog's sample sizes.

use serde::{Deserialize, Serialize};

use crate::interval::wilson;

/// How far (absolute share) a weighted backend's share may be from its
/// weight's before the `must` fails: upstream's ±5 points.
pub const WEIGHT_TOLERANCE: f64 = 0.05;

/// The share a weight-0 backend may get before the `must` fails.
pub const ZERO_WEIGHT_TOLERANCE: f64 = 0.005;

/// The `must` verdict of a split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToleranceVerdict {
    /// [`WEIGHT_TOLERANCE`].
    pub tolerance: f64,
    /// [`ZERO_WEIGHT_TOLERANCE`].
    pub zero_weight_tolerance: f64,
    /// No share was significantly outside its tolerance.
    pub passed: bool,
    /// One sentence per share that was.
    pub reasons: Vec<String>,
}

/// Judges shares against their tolerances: `shares` holds (name, expected
/// share, samples observed) out of `n` samples.
pub fn within_tolerance(shares: &[(&str, f64, u64)], n: u64, alpha: f64) -> ToleranceVerdict {
    let k = shares.len().max(1) as f64;
    let mut reasons = Vec::new();
    if n == 0 {
        reasons.push("no samples were observed".to_owned());
    }
    for &(name, expected, observed) in shares {
        if n == 0 {
            break;
        }
        let ci = wilson(observed, n, alpha / k);
        let share = observed as f64 / n as f64;
        if expected == 0.0 {
            if ci.lo > ZERO_WEIGHT_TOLERANCE {
                reasons.push(format!(
                    "weight-0 backend {name:?} received {observed} of {n} samples ({:.2}%, \
                     interval [{:.2}%, {:.2}%] wholly above the {:.1}% tolerated)",
                    share * 100.0,
                    ci.lo * 100.0,
                    ci.hi * 100.0,
                    ZERO_WEIGHT_TOLERANCE * 100.0
                ));
            }
        } else if ci.lo > expected + WEIGHT_TOLERANCE || ci.hi < expected - WEIGHT_TOLERANCE {
            reasons.push(format!(
                "backend {name:?} got {:.1}% of the samples (interval [{:.1}%, {:.1}%]), wholly \
                 outside its weight's {:.1}% ± {:.0} points",
                share * 100.0,
                ci.lo * 100.0,
                ci.hi * 100.0,
                expected * 100.0,
                WEIGHT_TOLERANCE * 100.0
            ));
        }
    }
    ToleranceVerdict {
        tolerance: WEIGHT_TOLERANCE,
        zero_weight_tolerance: ZERO_WEIGHT_TOLERANCE,
        passed: reasons.is_empty(),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_points_off_is_tolerated_ten_is_not() {
        // 70/30 over 2651 samples: 75% on the 70 backend passes the must,
        // 80% fails it.
        let v = within_tolerance(&[("a", 0.7, 1988), ("b", 0.3, 663)], 2651, 0.001);
        assert!(v.passed, "{:?}", v.reasons);
        let v = within_tolerance(&[("a", 0.7, 2121), ("b", 0.3, 530)], 2651, 0.001);
        assert!(!v.passed);
        assert!(v.reasons[0].contains("\"a\""), "{:?}", v.reasons);
    }

    #[test]
    fn weight_zero_tolerates_a_few_in_a_thousand() {
        let v = within_tolerance(&[("a", 1.0, 2645), ("z", 0.0, 6)], 2651, 0.001);
        assert!(v.passed, "{:?}", v.reasons);
        // A 2% leak: 53 samples.
        let v = within_tolerance(&[("a", 1.0, 2598), ("z", 0.0, 53)], 2651, 0.001);
        assert!(!v.passed);
        assert!(v.reasons.iter().any(|r| r.contains("weight-0")));
    }

    #[test]
    fn no_samples_fail() {
        assert!(!within_tolerance(&[("a", 1.0, 0)], 0, 0.001).passed);
    }
}
