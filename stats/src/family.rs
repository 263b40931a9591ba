//! Run-level error rate: Bonferroni over the statistical tests in one run.
//!
//! Each `distribution` or `rejection` step fails a correct implementation with
//! probability at most α. Over `m` such tests the probability that *any* of
//! them fails a correct implementation (the family-wise error rate) is at most
//! `m·α`, whatever the dependence between the tests (Boole's inequality).
//! Counting only the statistical tests is right: the other steps are
//! deterministic checks with no sampling error.

use crate::error::{Error, check_open};

/// Upper bound on the probability that at least one of `tests` statistical
/// tests, each at significance `alpha_per_test`, fails a correct
/// implementation: `min(1, tests · alpha_per_test)`.
pub fn family_wise_bound(alpha_per_test: f64, tests: u32) -> Result<f64, Error> {
    check_open("alphaPerTest", alpha_per_test, 0.0, 1.0, "0 < alpha < 1")?;
    Ok((alpha_per_test * f64::from(tests)).min(1.0))
}

/// The per-test significance that keeps the family-wise false-failure
/// probability of `tests` statistical tests at most `run_alpha`:
/// `run_alpha / tests` (and `run_alpha` itself when there are no tests).
pub fn per_test_alpha(run_alpha: f64, tests: u32) -> Result<f64, Error> {
    check_open("runAlpha", run_alpha, 0.0, 1.0, "0 < alpha < 1")?;
    Ok(run_alpha / f64::from(tests.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_and_inverse_agree() {
        assert_eq!(family_wise_bound(0.001, 20).unwrap(), 0.02);
        assert_eq!(family_wise_bound(0.1, 20).unwrap(), 1.0);
        assert_eq!(family_wise_bound(0.001, 0).unwrap(), 0.0);
        let alpha = per_test_alpha(0.01, 8).unwrap();
        assert_eq!(alpha, 0.00125);
        assert!((family_wise_bound(alpha, 8).unwrap() - 0.01).abs() < 1e-15);
        assert_eq!(per_test_alpha(0.01, 0).unwrap(), 0.01);
    }

    #[test]
    fn rejects_alpha_out_of_range() {
        assert!(family_wise_bound(0.0, 3).is_err());
        assert!(per_test_alpha(1.0, 3).is_err());
        assert!(per_test_alpha(f64::NAN, 3).is_err());
    }
}
