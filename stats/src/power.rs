//! Sample size and detectable effect for the goodness-of-fit test.
//!
//! Under an alternative split `p₁` (true shares) the Pearson statistic for
//! `n` samples against the weights `p₀` is approximately noncentral
//! chi-squared with `df = k − 1` and `λ = n·Σ(p₁−p₀)²/p₀` (the standard
//! large-sample result, e.g. Cohen, *Statistical Power Analysis*, ch. 7, where
//! `w² = Σ(p₁−p₀)²/p₀`). The test rejects when the statistic exceeds the
//! central chi-squared `1−α` quantile, so its power is the noncentral survival
//! function at that quantile.
//!
//! The alternatives of interest are the *single-backend shifts*: backend `i`
//! gets `p₀ᵢ ± δ` and the others are rescaled proportionally to keep the sum
//! at 1. For such a shift `Σ(p₁−p₀)²/p₀ = δ²/(p₀ᵢ(1−p₀ᵢ))`, the same up or
//! down, so the hardest shift to detect is on the backend whose share is
//! closest to one half. The functions here compute the shifts explicitly and
//! take the worst case rather than relying on that closed form (a unit test
//! checks the two agree).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::error::Error;
use crate::noncentral::NoncentralChiSquared;
use crate::settings::Settings;
use crate::weights::Split;

/// The largest sample size any search here will consider.
pub const MAX_SAMPLES: u64 = 1_000_000_000;

/// Pearson's approximation is customarily trusted when every expected count
/// is at least 5 (Cochran, 1954); the sample size respects that.
pub const MIN_EXPECTED_COUNT: u64 = 5;

/// How many samples a `distribution` step needs, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SamplePlan {
    /// The sample size to use: the largest of the requirements below.
    pub n: u64,
    /// Smallest n at which the chi-squared test has the target power against
    /// every single-backend shift of the effect (absent with one non-zero
    /// backend: there is nothing to fit).
    pub for_power: Option<u64>,
    /// Smallest n at which every expected count is at least
    /// [`MIN_EXPECTED_COUNT`] (absent with one non-zero backend).
    pub for_expected_counts: Option<u64>,
    /// Smallest n at which a leak of the effect's share onto backends that
    /// must get nothing (weight-0 backends, or anything but the only non-zero
    /// backend) shows up as at least one sample with the target power:
    /// `(1−δ)ⁿ ≤ 1−power` (absent when there is no such backend).
    pub for_leak: Option<u64>,
}

/// `Σ (p₁ − p₀)² / p₀`: the noncentrality contributed by each sample when
/// the true shares are `alternative` and the test expects `null`. `null`
/// must be positive everywhere; both must have the same length.
pub fn noncentrality_per_sample(null: &[f64], alternative: &[f64]) -> f64 {
    null.iter()
        .zip(alternative)
        .map(|(p0, p1)| (p1 - p0).powi(2) / p0)
        .sum()
}

/// The shares with backend `index` moved by `shift` (positive or negative)
/// and the others rescaled proportionally, or `None` if the moved share would
/// leave [0, 1].
pub fn shifted(null: &[f64], index: usize, shift: f64) -> Option<Vec<f64>> {
    let p0 = null[index];
    let p1 = p0 + shift;
    if !(0.0..=1.0).contains(&p1) || p0 >= 1.0 {
        return None;
    }
    let scale = (1.0 - p1) / (1.0 - p0);
    Some(
        null.iter()
            .enumerate()
            .map(|(j, p)| if j == index { p1 } else { p * scale })
            .collect(),
    )
}

/// The smallest per-sample noncentrality over every single-backend shift of
/// `effect`, up or down (the hardest such alternative to detect), or `None`
/// when there are fewer than two categories or no shift is possible.
pub fn worst_case_noncentrality_per_sample(null: &[f64], effect: f64) -> Option<f64> {
    if null.len() < 2 {
        return None;
    }
    (0..null.len())
        .flat_map(|i| [effect, -effect].map(|s| shifted(null, i, s)))
        .flatten()
        .map(|alt| noncentrality_per_sample(null, &alt))
        .min_by(f64::total_cmp)
}

/// The probability that the chi-squared test at level `alpha` with `df`
/// degrees of freedom rejects, when the noncentrality is
/// `n · ncp_per_sample` (the power against that alternative).
pub fn chi_squared_power(n: u64, df: u32, ncp_per_sample: f64, alpha: f64) -> f64 {
    let Ok(central) = ChiSquared::new(f64::from(df)) else {
        return 0.0;
    };
    let critical = central.inverse_cdf(1.0 - alpha);
    match NoncentralChiSquared::new(f64::from(df), n as f64 * ncp_per_sample) {
        Ok(dist) => dist.sf(critical),
        Err(_) => 0.0,
    }
}

/// The sample size for a `distribution` step over `weights` (backend name,
/// weight), with the reasons (see [`SamplePlan`]).
pub fn distribution_sample_size(
    weights: &[(&str, u32)],
    settings: &Settings,
) -> Result<SamplePlan, Error> {
    settings.validate()?;
    let split = Split::new(weights)?;
    let shares = split.fit_shares();
    let (for_power, for_expected_counts) = if shares.len() >= 2 {
        let per_sample = worst_case_noncentrality_per_sample(&shares, settings.effect)
            .expect("effect <= 0.5 allows a shift of every backend");
        let df = shares.len() as u32 - 1;
        let n = smallest_n(settings, |n| {
            chi_squared_power(n, df, per_sample, settings.alpha)
        })?;
        // In integers: 5 / (1/1000) is not exactly 5000 in floating point.
        let min_weight = split
            .backends
            .iter()
            .map(|(_, w)| *w)
            .filter(|w| *w > 0)
            .min();
        let min_weight = u64::from(min_weight.expect("two non-zero weights"));
        let counts = (MIN_EXPECTED_COUNT * split.total).div_ceil(min_weight);
        (Some(n), Some(counts))
    } else {
        (None, None)
    };
    let for_leak = (shares.len() == 1 || split.has_zero_weight())
        .then(|| leak_sample_size(settings.effect, settings.power));
    let n = [for_power, for_expected_counts, for_leak]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(1);
    Ok(SamplePlan {
        n,
        for_power,
        for_expected_counts,
        for_leak,
    })
}

/// The smallest single-backend shift (absolute share) that the chi-squared
/// test over `weights` detects with the target power at `n` samples, or
/// `None` if no shift up to 0.5 is detected that reliably. With one non-zero
/// backend: the smallest leak share `δ` with `1 − (1−δ)ⁿ ≥ power`. Inverts
/// [`distribution_sample_size`]; `settings.effect` is not used.
pub fn distribution_detectable_effect(
    weights: &[(&str, u32)],
    n: u64,
    settings: &Settings,
) -> Result<Option<f64>, Error> {
    settings.validate()?;
    let shares = Split::new(weights)?.fit_shares();
    let required = match shares.len() {
        1 => 0.0,
        k => required_noncentrality(k as u32 - 1, settings.alpha, settings.power),
    };
    Ok(detectable_effect(&shares, n, settings.power, required))
}

/// [`distribution_detectable_effect`] given the non-zero shares and the
/// [`required_noncentrality`] for their degrees of freedom (unused with one
/// share), so that a caller judging many samples computes the latter once.
pub(crate) fn detectable_effect(shares: &[f64], n: u64, power: f64, required: f64) -> Option<f64> {
    match (n, shares.len()) {
        (0, _) => None,
        (_, 1) => Some(leak_detectable(n, power)),
        _ => {
            // The power depends on the shift only through n·λ₁(δ), which
            // grows with δ: find where it reaches the required noncentrality.
            let ncp = |effect: f64| {
                worst_case_noncentrality_per_sample(shares, effect)
                    .map_or(0.0, |per| n as f64 * per)
            };
            smallest_effect(0.5, required, ncp)
        }
    }
}

/// The smallest noncentrality λ at which the chi-squared test with `df`
/// degrees of freedom at level `alpha` has power `power` (to a relative
/// 1e-10, rounded up). Power grows with λ, so this is a bisection.
pub fn required_noncentrality(df: u32, alpha: f64, power: f64) -> f64 {
    let Ok(central) = ChiSquared::new(f64::from(df)) else {
        return f64::INFINITY;
    };
    let critical = central.inverse_cdf(1.0 - alpha);
    let reaches = |ncp: f64| {
        NoncentralChiSquared::new(f64::from(df), ncp).is_ok_and(|d| d.sf(critical) >= power)
    };
    let mut hi = 1.0;
    while !reaches(hi) {
        hi *= 2.0;
        if hi > 1e12 {
            return f64::INFINITY;
        }
    }
    let mut lo = 0.0;
    while hi - lo > 1e-10 * hi {
        let mid = (lo + hi) / 2.0;
        if reaches(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// Smallest n with `power(n) ≥ settings.power`, for `power` increasing in n:
/// doubling, then bisection.
pub(crate) fn smallest_n(settings: &Settings, power: impl Fn(u64) -> f64) -> Result<u64, Error> {
    let reaches = |n: u64| power(n) >= settings.power;
    let mut hi = 1;
    while !reaches(hi) {
        if hi >= MAX_SAMPLES {
            return Err(Error::SampleSizeTooLarge {
                limit: MAX_SAMPLES,
                power: settings.power,
                effect: settings.effect,
                alpha: settings.alpha,
            });
        }
        hi = (hi * 2).min(MAX_SAMPLES);
    }
    // Invariant: reaches(hi) and (lo == 0 or !reaches(lo)).
    let mut lo = hi / 2;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if reaches(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// Smallest effect in (0, `max`] with `power(effect) ≥ target`, for `power`
/// increasing in the effect, by bisection to 1e-9; `None` if even `max` falls
/// short.
pub(crate) fn smallest_effect(max: f64, target: f64, power: impl Fn(f64) -> f64) -> Option<f64> {
    if power(max) < target {
        return None;
    }
    let (mut lo, mut hi) = (0.0, max);
    while hi - lo > 1e-9 {
        let mid = (lo + hi) / 2.0;
        if power(mid) >= target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// Smallest n with `1 − (1−δ)ⁿ ≥ power`: enough samples that a leak of share
/// δ puts at least one sample where none belongs, with probability `power`.
pub(crate) fn leak_sample_size(effect: f64, power: f64) -> u64 {
    ((1.0 - power).ln() / (1.0 - effect).ln()).ceil().max(1.0) as u64
}

/// Smallest δ with `1 − (1−δ)ⁿ ≥ power`.
pub(crate) fn leak_detectable(n: u64, power: f64) -> f64 {
    1.0 - (1.0 - power).powf(1.0 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_case_shift_matches_closed_form() {
        // δ²/(p(1−p)) is smallest for the share closest to 1/2.
        let null = [0.5, 0.3, 0.2];
        let got = worst_case_noncentrality_per_sample(&null, 0.05).unwrap();
        assert!((got - 0.0025 / 0.25).abs() < 1e-15, "{got}");
        let null = [0.7, 0.3];
        let got = worst_case_noncentrality_per_sample(&null, 0.05).unwrap();
        assert!((got - 0.0025 / 0.21).abs() < 1e-15, "{got}");
        // Every shift, up or down, obeys the closed form.
        for (i, p) in [0.6, 0.25, 0.15].iter().enumerate() {
            for s in [0.05, -0.05] {
                let alt = shifted(&[0.6, 0.25, 0.15], i, s).unwrap();
                assert!((alt.iter().sum::<f64>() - 1.0).abs() < 1e-15);
                let per = noncentrality_per_sample(&[0.6, 0.25, 0.15], &alt);
                assert!((per - 0.0025 / (p * (1.0 - p))).abs() < 1e-14);
            }
        }
        // A share below the effect can only move up.
        assert!(shifted(&[0.98, 0.02], 1, -0.05).is_none());
        assert!(shifted(&[0.98, 0.02], 1, 0.05).is_some());
    }

    #[test]
    fn sample_size_is_the_smallest_reaching_the_power() {
        let settings = Settings::default();
        let weights = [("v1", 70), ("v2", 30), ("v3", 0)];
        let plan = distribution_sample_size(&weights, &settings).unwrap();
        let n = plan.for_power.unwrap();
        let per = 0.0025 / 0.21;
        assert!(chi_squared_power(n, 1, per, 0.001) >= 0.99);
        assert!(chi_squared_power(n - 1, 1, per, 0.001) < 0.99);
        // Normal approximation for df = 1: √λ ≈ z_{α/2} + z_power.
        let approx = (3.290_527 + 2.326_348_f64).powi(2) / per;
        assert!((n as f64 - approx).abs() < 5.0, "{n} vs {approx}");
        assert_eq!(plan.n, n);
        assert_eq!(plan.for_expected_counts, Some(17));
        assert_eq!(plan.for_leak, Some(90));
    }

    #[test]
    fn detectable_effect_inverts_sample_size() {
        let settings = Settings::default();
        let weights = [("a", 50), ("b", 30), ("c", 20)];
        let n = distribution_sample_size(&weights, &settings)
            .unwrap()
            .for_power
            .unwrap();
        let effect = distribution_detectable_effect(&weights, n, &settings)
            .unwrap()
            .unwrap();
        assert!(effect <= 0.05 && effect > 0.0499, "{effect}");
        let before = distribution_detectable_effect(&weights, n - 1, &settings)
            .unwrap()
            .unwrap();
        assert!(before > 0.05, "{before}");
        assert_eq!(
            distribution_detectable_effect(&weights, 0, &settings).unwrap(),
            None
        );
        // Ten samples cannot detect any shift reliably.
        assert_eq!(
            distribution_detectable_effect(&weights, 10, &settings).unwrap(),
            None
        );
    }

    #[test]
    fn single_backend_needs_only_the_leak_check() {
        let settings = Settings::default();
        let plan = distribution_sample_size(&[("only", 5), ("off", 0)], &settings).unwrap();
        // ln(0.01)/ln(0.95) = 89.78…
        assert_eq!(
            plan,
            SamplePlan {
                n: 90,
                for_power: None,
                for_expected_counts: None,
                for_leak: Some(90),
            }
        );
        let effect = distribution_detectable_effect(&[("only", 1)], 90, &settings)
            .unwrap()
            .unwrap();
        assert!(effect <= 0.05 && 1.0 - (1.0 - effect).powi(90) >= 0.99 - 1e-12);
    }

    #[test]
    fn extreme_weights_need_enough_expected_counts() {
        let plan = distribution_sample_size(&[("a", 999), ("b", 1)], &Settings::default()).unwrap();
        assert_eq!(plan.for_expected_counts, Some(5000));
        assert_eq!(plan.n, 5000);
    }
}
