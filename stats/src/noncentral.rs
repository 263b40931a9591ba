//! The noncentral chi-squared distribution (statrs has only the central one).
//!
//! If `Z₁ … Z_k` are independent standard normals and `μ₁ … μ_k` constants,
//! `Σ (Z_i + μ_i)²` has the noncentral chi-squared distribution with `k`
//! degrees of freedom and noncentrality `λ = Σ μ_i²`. Pearson's statistic
//! under a fixed alternative is approximately distributed this way, which is
//! what turns a power target into a sample size.
//!
//! # Method
//!
//! The distribution is a Poisson mixture of central chi-squared
//! distributions:
//!
//! ```text
//! P(X ≤ x) = Σ_{j≥0} w_j · F_{k+2j}(x),   w_j = e^{-λ/2} (λ/2)^j / j!
//! ```
//!
//! where `F_m` is the central chi-squared CDF with `m` degrees of freedom
//! (statrs' regularized incomplete gamma function). The sum starts at the
//! Poisson mode and walks outward in both directions, so large `λ` does not
//! underflow `e^{-λ/2}`.
//!
//! # Truncation error bound
//!
//! Each omitted term is `w_j · F` with `0 ≤ F ≤ 1`, so the absolute error of
//! the truncated sum is at most the Poisson mass of the omitted indices. Past
//! the mode the Poisson weights fall at least geometrically
//! (`w_{j+1}/w_j = (λ/2)/(j+1)`), so the omitted upper tail after index `J` is
//! at most `w_{J+1} / (1 − (λ/2)/(J+2))`; below the mode
//! (`w_{j−1}/w_j = j/(λ/2)`) the omitted lower tail before index `L` is at
//! most `w_{L−1} / (1 − (L−1)/(λ/2))`. The sum stops when each bound is below
//! [`TRUNCATION_BOUND`]` / 2`; [`NoncentralChiSquared::cdf_with_bound`] returns
//! the bound actually achieved. Rounding in the central CDFs (statrs, about
//! 1e-15 relative each) comes on top of it.

use statrs::function::gamma::{gamma_lr, gamma_ur, ln_gamma};

use crate::error::{Error, check_open};

/// The largest absolute truncation error the series is allowed (see the
/// module documentation for the bound).
pub const TRUNCATION_BOUND: f64 = 1e-14;

/// A noncentral chi-squared distribution with `df` degrees of freedom and
/// noncentrality `ncp` (written λ; the mean is `df + λ`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoncentralChiSquared {
    df: f64,
    ncp: f64,
}

/// A value of the series and the bound on its truncation error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesValue {
    /// The truncated sum.
    pub value: f64,
    /// Upper bound on `|value − exact|` from the omitted Poisson terms.
    pub truncation_bound: f64,
}

impl NoncentralChiSquared {
    /// A distribution with `df > 0` degrees of freedom and noncentrality
    /// `ncp ≥ 0` (0 gives the central distribution).
    pub fn new(df: f64, ncp: f64) -> Result<Self, Error> {
        check_open("df", df, 0.0, f64::INFINITY, "df > 0")?;
        if !(ncp >= 0.0 && ncp.is_finite()) {
            return Err(Error::OutOfRange {
                field: "ncp",
                value: ncp,
                expected: "0 <= ncp < infinity",
            });
        }
        Ok(NoncentralChiSquared { df, ncp })
    }

    /// Degrees of freedom.
    pub fn df(&self) -> f64 {
        self.df
    }

    /// Noncentrality λ.
    pub fn ncp(&self) -> f64 {
        self.ncp
    }

    /// `P(X ≤ x)`.
    pub fn cdf(&self, x: f64) -> f64 {
        self.cdf_with_bound(x).value
    }

    /// `P(X > x)`, computed from upper-tail central terms rather than as
    /// `1 − cdf` so that small tail probabilities keep their precision.
    pub fn sf(&self, x: f64) -> f64 {
        self.sf_with_bound(x).value
    }

    /// `P(X ≤ x)` with its truncation error bound.
    pub fn cdf_with_bound(&self, x: f64) -> SeriesValue {
        if x <= 0.0 {
            return SeriesValue {
                value: 0.0,
                truncation_bound: 0.0,
            };
        }
        self.series(|a| gamma_lr(a, x / 2.0))
    }

    /// `P(X > x)` with its truncation error bound.
    pub fn sf_with_bound(&self, x: f64) -> SeriesValue {
        if x <= 0.0 {
            return SeriesValue {
                value: 1.0,
                truncation_bound: 0.0,
            };
        }
        self.series(|a| gamma_ur(a, x / 2.0))
    }

    /// `Σ_j w_j · central(df/2 + j)`, where `central(a)` is a regularized
    /// incomplete gamma function of shape `a` (lower for the CDF, upper for
    /// the survival function).
    fn series(&self, central: impl Fn(f64) -> f64) -> SeriesValue {
        let half_df = self.df / 2.0;
        let mu = self.ncp / 2.0;
        if mu == 0.0 {
            return SeriesValue {
                value: central(half_df),
                truncation_bound: 0.0,
            };
        }
        let weight = |j: u64| (-mu + j as f64 * mu.ln() - ln_gamma(j as f64 + 1.0)).exp();
        let mode = mu.floor() as u64;
        let mut sum = 0.0;

        // Upward from the mode.
        let mut j = mode;
        let upper_bound = loop {
            sum += weight(j) * central(half_df + j as f64);
            let next = weight(j + 1);
            let tail = next / (1.0 - mu / (j as f64 + 2.0));
            if tail <= TRUNCATION_BOUND / 2.0 {
                break tail;
            }
            j += 1;
        };

        // Downward from just below the mode.
        let mut lower_bound = 0.0;
        let mut j = mode;
        while j > 0 {
            j -= 1;
            sum += weight(j) * central(half_df + j as f64);
            if j == 0 {
                break;
            }
            let tail = weight(j - 1) / (1.0 - (j - 1) as f64 / mu);
            if tail <= TRUNCATION_BOUND / 2.0 {
                lower_bound = tail;
                break;
            }
        }

        SeriesValue {
            value: sum.clamp(0.0, 1.0),
            truncation_bound: upper_bound + lower_bound,
        }
    }
}
