//! Wilson score confidence intervals for a proportion.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

/// A closed interval of shares, `lo ≤ hi`, both in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interval {
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
}

impl Interval {
    /// Whether `share` lies inside the interval (ends included).
    pub fn contains(&self, share: f64) -> bool {
        self.lo <= share && share <= self.hi
    }
}

/// The Wilson score interval for `successes` out of `trials` at confidence
/// `1 − alpha` (two-sided).
///
/// Meaning: the set of true shares `p` that a two-sided score test at level
/// `alpha` would not reject given the observation. Unlike the textbook
/// `p̂ ± z·√(p̂(1−p̂)/n)` it stays inside [0, 1] and does not collapse to a
/// point at 0 or n successes, which matters for weight-0 and small-weight
/// backends. With no trials it is the whole of [0, 1]. Assumes the trials are
/// independent with a common success probability.
///
/// `alpha` must be in (0, 1); `successes ≤ trials`.
pub fn wilson(successes: u64, trials: u64, alpha: f64) -> Interval {
    if trials == 0 {
        return Interval { lo: 0.0, hi: 1.0 };
    }
    let z = Normal::standard().inverse_cdf(1.0 - alpha / 2.0);
    let n = trials as f64;
    let x = successes.min(trials) as f64;
    let z2 = z * z;
    let centre = (x + z2 / 2.0) / (n + z2);
    let half = z / (n + z2) * (x * (n - x) / n + z2 / 4.0).sqrt();
    // At 0 or n successes an end is exactly 0 or 1; say so rather than
    // leave rounding residue like 1e-17.
    Interval {
        lo: if x == 0.0 {
            0.0
        } else {
            (centre - half).clamp(0.0, 1.0)
        },
        hi: if x == n {
            1.0
        } else {
            (centre + half).clamp(0.0, 1.0)
        },
    }
}
