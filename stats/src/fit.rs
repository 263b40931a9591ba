//! The `distribution` verdict: Pearson's chi-squared goodness of fit of the
//! observed backend counts against the weights, plus the weight-0 rule.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::error::Error;
use crate::interval::{Interval, wilson};
use crate::power::{
    MIN_EXPECTED_COUNT, SamplePlan, detectable_effect, distribution_sample_size,
    required_noncentrality,
};
use crate::settings::Settings;
use crate::weights::{Split, check_unique};

/// Result of Pearson's chi-squared goodness-of-fit test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChiSquaredTest {
    /// `Σ (O − E)² / E`.
    pub statistic: f64,
    /// Degrees of freedom: categories − 1.
    pub df: u32,
    /// `P(χ²_df ≥ statistic)`: the probability of a fit at least this bad if
    /// the samples really follow the shares.
    pub p_value: f64,
}

/// Pearson's chi-squared test of `observed` counts against `shares` (same
/// length, shares positive and summing to 1): the expected count of category
/// `i` is `n·shares[i]` with `n = Σ observed`.
///
/// Returns `None` with fewer than two categories or no samples. Assumes the
/// samples are independent draws from one fixed split; the chi-squared
/// distribution of the statistic is a large-sample approximation, customarily
/// trusted when every expected count is at least 5.
///
/// The p-value is statrs' central chi-squared survival function. (statrs'
/// own `chisquare` takes `usize` counts and returns `1 − cdf`, which loses
/// p-values below about 1e-16; reports show them.)
pub fn chi_squared_test(observed: &[u64], shares: &[f64]) -> Option<ChiSquaredTest> {
    let n: u64 = observed.iter().sum();
    if observed.len() < 2 || n == 0 || observed.len() != shares.len() {
        return None;
    }
    let statistic = observed
        .iter()
        .zip(shares)
        .map(|(&o, &p)| {
            let e = n as f64 * p;
            (o as f64 - e).powi(2) / e
        })
        .sum();
    let df = observed.len() as u32 - 1;
    let p_value = ChiSquared::new(f64::from(df)).ok()?.sf(statistic);
    Some(ChiSquaredTest {
        statistic,
        df,
        p_value,
    })
}

/// Evidence for one weighted backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendEvidence {
    /// Backend name as in the weights.
    pub name: String,
    /// Configured weight.
    pub weight: u32,
    /// `weight / Σ weights`.
    pub expected_share: f64,
    /// `n · expected_share`.
    pub expected_count: f64,
    /// Samples that landed on this backend.
    pub observed: u64,
    /// `observed / n` (0 with no samples).
    pub share: f64,
    /// Wilson score interval for the true share at confidence `1 − alpha`.
    pub wilson: Interval,
}

/// Samples that landed on a backend that is not in the weights at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnexpectedBackend {
    /// The name samples reported.
    pub name: String,
    /// How many samples landed there.
    pub observed: u64,
}

/// Everything a report needs about one `distribution` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DistributionVerdict {
    /// Significance level of the test.
    pub alpha: f64,
    /// Power target the sample size was planned for.
    pub power: f64,
    /// Effect (absolute share) the sample size was planned to detect.
    pub effect: f64,
    /// Samples observed, on any backend.
    pub n: u64,
    /// One entry per weighted backend, in the weights' order.
    pub backends: Vec<BackendEvidence>,
    /// Backends that received samples but are not in the weights.
    pub unexpected: Vec<UnexpectedBackend>,
    /// Pearson's statistic over the non-zero-weight backends (absent with
    /// fewer than two of them, or no samples on them).
    pub chi_squared: Option<f64>,
    /// Degrees of freedom: non-zero-weight backends − 1.
    pub df: u32,
    /// p-value of the chi-squared test (absent when no test ran).
    pub p_value: Option<f64>,
    /// The smallest single-backend shift this n detects with the target
    /// power (absent with no samples or when no shift up to 0.5 is).
    pub detectable_effect: Option<f64>,
    /// Whether the exact test passed: the split matches the weights to
    /// within sampling noise and weight-0 backends got nothing (gwl4's
    /// recommendation and the spec's should).
    pub passed: bool,
    /// Why the exact test failed, one sentence per rule broken; empty when
    /// it passed.
    pub reasons: Vec<String>,
    /// The subset of `reasons` about weight-0 backends receiving samples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zero_weight_reasons: Vec<String>,
    /// The `must` verdict: no share significantly outside the spec's
    /// tolerance (see [`crate::tolerance`]), and no sample on a backend not
    /// in the weights.
    pub tolerance: crate::tolerance::ToleranceVerdict,
    /// Remarks that do not fail the step (e.g. small expected counts).
    pub notes: Vec<String>,
}

/// Samples below which a too-good fit is not remarked on. Above it, a
/// p-value of at least `1 - α` says the draws were not independent: a
/// gateway choosing at random comes that close with probability α, the
/// same rate at which it fails.
pub const TOO_GOOD_MIN_N: u64 = 1000;

/// Judges one `distribution` step: `observed` (backend name, samples) against
/// `weights` (backend name, weight). Shorthand for
/// [`DistributionJudge::new`] then [`DistributionJudge::judge`].
pub fn judge_distribution(
    weights: &[(&str, u32)],
    observed: &[(&str, u64)],
    settings: &Settings,
) -> Result<DistributionVerdict, Error> {
    DistributionJudge::new(weights, settings)?.judge(observed)
}

/// The `distribution` test for one set of weights and settings, prepared
/// once (the power computation behind the detectable effect is the costly
/// part) and then applied to any number of observations.
#[derive(Debug, Clone)]
pub struct DistributionJudge<'a> {
    settings: Settings,
    split: Split<'a>,
    shares: Vec<f64>,
    required_ncp: f64,
}

impl<'a> DistributionJudge<'a> {
    /// Validates the settings and the weights (backend name, weight).
    pub fn new(weights: &[(&'a str, u32)], settings: &Settings) -> Result<Self, Error> {
        settings.validate()?;
        let split = Split::new(weights)?;
        let shares = split.fit_shares();
        let required_ncp = match shares.len() {
            1 => 0.0,
            k => required_noncentrality(k as u32 - 1, settings.alpha, settings.power),
        };
        Ok(DistributionJudge {
            settings: *settings,
            split,
            shares,
            required_ncp,
        })
    }

    /// How many samples to take (see [`distribution_sample_size`]).
    pub fn sample_plan(&self) -> Result<SamplePlan, Error> {
        distribution_sample_size(&self.split.backends, &self.settings)
    }

    /// Judges `observed` (backend name, samples).
    ///
    /// Fails when any of these holds:
    /// - no samples at all;
    /// - a weight-0 backend received any sample (however few: the spec says
    ///   no traffic, so there is no error rate to allow for);
    /// - a backend not in the weights received any sample;
    /// - with two or more non-zero weights, Pearson's chi-squared test over
    ///   those backends (using only the samples that landed on them) has
    ///   p-value ≤ α.
    ///
    /// With a single non-zero backend there is nothing to fit: every sample
    /// must land on it, which the first three rules already demand.
    ///
    /// Assumptions: samples are independent and identically distributed,
    /// which is why they are taken in one attempt after the route has
    /// converged (the configuration no longer changing under the samples)
    /// and never retried. Errors are reserved for malformed input (an
    /// observed backend named twice).
    pub fn judge(&self, observed: &[(&str, u64)]) -> Result<DistributionVerdict, Error> {
        let settings = &self.settings;
        check_unique("observed", observed.iter().map(|(name, _)| *name))?;
        let count_of = |name: &str| {
            observed
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |(_, c)| *c)
        };
        let n: u64 = observed.iter().map(|(_, c)| c).sum();
        let mut reasons = Vec::new();
        let mut notes = Vec::new();
        if n == 0 {
            reasons.push("no samples were observed".to_owned());
        }

        let backends: Vec<BackendEvidence> = self
            .split
            .backends
            .iter()
            .map(|&(name, weight)| {
                let observed = count_of(name);
                let expected_share = self.split.share(weight);
                BackendEvidence {
                    name: name.to_owned(),
                    weight,
                    expected_share,
                    expected_count: n as f64 * expected_share,
                    observed,
                    share: if n == 0 {
                        0.0
                    } else {
                        observed as f64 / n as f64
                    },
                    wilson: wilson(observed, n, settings.alpha),
                }
            })
            .collect();
        let mut zero_weight_reasons = Vec::new();
        for b in backends.iter().filter(|b| b.weight == 0 && b.observed > 0) {
            zero_weight_reasons.push(format!(
                "backend {:?} has weight 0 but received {} of {n} samples",
                b.name, b.observed
            ));
        }
        reasons.extend(zero_weight_reasons.iter().cloned());
        let unexpected: Vec<UnexpectedBackend> = observed
            .iter()
            .filter(|(name, count)| *count > 0 && self.split.weight_of(name).is_none())
            .map(|(name, count)| UnexpectedBackend {
                name: (*name).to_owned(),
                observed: *count,
            })
            .collect();
        for u in &unexpected {
            reasons.push(format!(
                "backend {:?} is not among the weighted backends but received {} of {n} samples",
                u.name, u.observed
            ));
        }

        let fitted: Vec<&BackendEvidence> = backends.iter().filter(|b| b.weight > 0).collect();
        let counts: Vec<u64> = fitted.iter().map(|b| b.observed).collect();
        let test = chi_squared_test(&counts, &self.shares);
        if let Some(test) = test.as_ref().filter(|t| {
            t.p_value >= 1.0 - settings.alpha && n >= TOO_GOOD_MIN_N && reasons.is_empty()
        }) {
            notes.push(format!(
                "the split is closer to the weights than independent draws come \
                 (chi-squared p-value {:.6} >= 1 - alpha over {n} samples): the gateway \
                 most likely rotates through its backends deterministically (weighted \
                 round-robin) instead of choosing each connection at random; the spec \
                 allows either, so this passes",
                test.p_value
            ));
        }
        if let Some(test) = &test {
            if test.p_value <= settings.alpha {
                reasons.push(format!(
                    "chi-squared = {:.3} with {} df, p-value {:.3e} <= alpha {}: \
                     the observed split does not match the weights",
                    test.statistic, test.df, test.p_value, settings.alpha
                ));
            }
            let fit_n: u64 = counts.iter().sum();
            for b in &fitted {
                let expected = fit_n as f64 * b.expected_share;
                if expected < MIN_EXPECTED_COUNT as f64 {
                    notes.push(format!(
                        "expected count on backend {:?} is {expected:.2} (below \
                         {MIN_EXPECTED_COUNT}): the chi-squared p-value is only approximate",
                        b.name
                    ));
                }
            }
        }

        let shares: Vec<(&str, f64, u64)> = backends
            .iter()
            .map(|b| (b.name.as_str(), b.expected_share, b.observed))
            .collect();
        let mut tolerance = crate::tolerance::within_tolerance(&shares, n, settings.alpha);
        for u in &unexpected {
            tolerance.reasons.push(format!(
                "backend {:?} is not among the weighted backends but received {} of {n} samples",
                u.name, u.observed
            ));
        }
        tolerance.passed = tolerance.reasons.is_empty();
        Ok(DistributionVerdict {
            zero_weight_reasons,
            tolerance,
            alpha: settings.alpha,
            power: settings.power,
            effect: settings.effect,
            n,
            chi_squared: test.map(|t| t.statistic),
            df: fitted.len().saturating_sub(1) as u32,
            p_value: test.map(|t| t.p_value),
            detectable_effect: detectable_effect(
                &self.shares,
                n,
                settings.power,
                self.required_ncp,
            ),
            passed: reasons.is_empty(),
            backends,
            unexpected,
            reasons,
            notes,
        })
    }
}
