//! The `rejection` verdict: does the share of refused connections (or dropped
//! datagrams) match the invalid backends' weight share?

use serde::{Deserialize, Serialize};

use crate::binomial::{binomial_test, check_share, rejection_detectable_effect};
use crate::error::Error;
use crate::interval::{Interval, wilson};
use crate::settings::Settings;

/// Everything a report needs about one `rejection` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectionVerdict {
    /// Significance level of the test.
    pub alpha: f64,
    /// Power target the sample size was planned for.
    pub power: f64,
    /// Effect (absolute share) the sample size was planned to detect.
    pub effect: f64,
    /// The share that should be rejected: the invalid backends' weight share.
    pub expected_share: f64,
    /// `total · expected_share`.
    pub expected_count: f64,
    /// Samples rejected (connections refused or reset, datagrams unanswered).
    pub rejected: u64,
    /// All samples.
    pub total: u64,
    /// `rejected / total` (0 with no samples).
    pub share: f64,
    /// Wilson score interval for the true rejection share at `1 − alpha`.
    pub wilson: Interval,
    /// Two-sided exact binomial p-value (absent when the expected share is 0
    /// or 1, where the rule is exact, or with no samples).
    pub p_value: Option<f64>,
    /// The smallest departure from the expected share this n detects with
    /// the target power (absent with no samples or if none is).
    pub detectable_effect: Option<f64>,
    /// Whether the exact test passed (gwl4's recommendation when the share
    /// is strictly between 0 and 1; the rule itself at 0 and 1).
    pub passed: bool,
    /// Why it failed; empty when it passed.
    pub reasons: Vec<String>,
    /// The `must` verdict: at share 0 or 1 the exact rule; in between, the
    /// rejected share not significantly outside the expected share ± the
    /// spec's tolerance (see [`crate::tolerance`]).
    pub tolerance: crate::tolerance::ToleranceVerdict,
}

/// Judges one `rejection` step: `rejected` of `total` samples were rejected,
/// and the invalid backends' weight share is `expected_share` (see
/// [`crate::weight_share`]).
///
/// - Share 0: passes iff nothing was rejected; share 1: iff everything was.
///   No error rate applies: the spec allows none.
/// - Otherwise the exact two-sided binomial test: fails iff p-value ≤ α.
/// - No samples: fails.
///
/// Assumes each sample is rejected independently with one fixed probability:
/// samples are taken in one attempt after the configuration has converged,
/// with no retries.
pub fn judge_rejection(
    expected_share: f64,
    rejected: u64,
    total: u64,
    settings: &Settings,
) -> Result<RejectionVerdict, Error> {
    settings.validate()?;
    check_share(expected_share)?;
    if rejected > total {
        return Err(Error::RejectedExceedsTotal { rejected, total });
    }
    let mut reasons = Vec::new();
    let mut p_value = None;
    if total == 0 {
        reasons.push("no samples were observed".to_owned());
    } else if expected_share == 0.0 && rejected > 0 {
        reasons.push(format!(
            "{rejected} of {total} samples were rejected, but no backend is invalid"
        ));
    } else if expected_share == 1.0 && rejected < total {
        reasons.push(format!(
            "{} of {total} samples got through, but every backend is invalid",
            total - rejected
        ));
    } else if expected_share > 0.0 && expected_share < 1.0 {
        let p = binomial_test(rejected, total, expected_share);
        p_value = Some(p);
        if p <= settings.alpha {
            reasons.push(format!(
                "{rejected} of {total} samples rejected (share {:.4}, expected {:.4}): \
                 exact binomial p-value {p:.3e} <= alpha {}",
                rejected as f64 / total as f64,
                expected_share,
                settings.alpha
            ));
        }
    }
    let tolerance = if expected_share > 0.0 && expected_share < 1.0 {
        crate::tolerance::within_tolerance(
            &[("rejected", expected_share, rejected)],
            total,
            settings.alpha,
        )
    } else {
        crate::tolerance::ToleranceVerdict {
            tolerance: 0.0,
            zero_weight_tolerance: crate::tolerance::ZERO_WEIGHT_TOLERANCE,
            passed: reasons.is_empty(),
            reasons: reasons.clone(),
        }
    };
    Ok(RejectionVerdict {
        tolerance,
        alpha: settings.alpha,
        power: settings.power,
        effect: settings.effect,
        expected_share,
        expected_count: total as f64 * expected_share,
        rejected,
        total,
        share: if total == 0 {
            0.0
        } else {
            rejected as f64 / total as f64
        },
        wilson: wilson(rejected, total, settings.alpha),
        p_value,
        detectable_effect: rejection_detectable_effect(total, expected_share, settings)?,
        passed: reasons.is_empty(),
        reasons,
    })
}
