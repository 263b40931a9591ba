//! Statistical verdicts for gwl4: is a weighted split (or a rejection share)
//! what the weights say, at a stated error rate?
//!
//! The harness's `distribution` and `rejection` steps call this crate, and the
//! reports render its evidence structs. It is pure: no I/O, no clock, no
//! randomness (the simulations live in the tests).
//!
//! # What a verdict means
//!
//! Every statistical test here has three numbers ([`Settings`]):
//!
//! - **α** (default 0.001): the probability that the test fails a correct
//!   implementation. Over a run of `m` statistical tests the probability of
//!   any false failure is at most `m·α` ([`family_wise_bound`]);
//!   [`per_test_alpha`] turns a run-level α into a per-test one.
//! - **power** (default 0.99) and **effect** δ (default 0.05, i.e. 5
//!   percentage points): the sample size is chosen so that an implementation
//!   whose share on any one backend is off by δ (the others rescaled
//!   proportionally) fails with probability at least the power
//!   ([`distribution_sample_size`], [`rejection_sample_size`]).
//!
//! Weighted splits are judged by Pearson's chi-squared goodness of fit
//! ([`judge_distribution`]), with the rule that a weight-0 backend gets no
//! sample at all; rejection shares by the exact two-sided binomial test
//! ([`judge_rejection`]). Verdicts carry Wilson intervals, the p-value and
//! the effect that was detectable at the sample size used.
//!
//! # Assumptions
//!
//! - Samples are independent and identically distributed: each new
//!   connection or UDP flow picks its backend (or is rejected) independently,
//!   with the same probabilities throughout the step. This is why samples are
//!   taken in **one attempt after convergence**: the harness first waits
//!   until the route is programmed and traffic reaches the expected backends,
//!   then takes all n samples once. Retrying until an attempt passes would
//!   multiply the false-pass rate (see `docs/statistics.md`).
//! - Pearson's statistic follows the chi-squared distribution only
//!   approximately (large-sample theory); the sample size keeps every
//!   expected count at 5 or more, where the approximation is customarily
//!   trusted, and the verdict notes any count below that.
//! - Power is computed from the noncentral chi-squared approximation for the
//!   distribution test and exactly for the binomial test; the simulations in
//!   `tests/` check both against the real sampling distribution.
//!
//! # Layout
//!
//! - [`settings`]: [`Settings`] (α, power, effect) and their defaults.
//! - [`fit`]: Pearson's test ([`chi_squared_test`]) and the `distribution`
//!   verdict ([`DistributionJudge`], [`judge_distribution`],
//!   [`DistributionVerdict`]).
//! - [`power`]: sample size and detectable effect for the chi-squared test
//!   ([`distribution_sample_size`], [`SamplePlan`]).
//! - [`noncentral`]: the noncentral chi-squared distribution (Poisson series
//!   with a truncation bound), which statrs lacks.
//! - [`binomial`]: the exact two-sided binomial test, its power and sample
//!   size.
//! - [`rejection`]: the `rejection` verdict ([`judge_rejection`],
//!   [`RejectionVerdict`]).
//! - [`capacity`]: UDP replies that stop for good (a session limit,
//!   [`capacity::cutoff`]) and the residual loss retransmission leaves.
//! - [`interval`]: Wilson score intervals.
//! - [`tolerance`]: the `must` verdict of a split: no share significantly
//!   farther from its weight than the spec's epsilon (upstream's ±5 points).
//! - [`family`]: run-level (family-wise) error rate, Bonferroni.
//! - [`weights`]: weight shares ([`weight_share`]).
//! - [`upstream`]: the upstream conformance suite's ±5 pp rule, for
//!   comparison only.
//! - [`error`]: the one error type, [`Error`].

pub mod binomial;
pub mod capacity;
pub mod error;
pub mod family;
pub mod fit;
pub mod interval;
pub mod noncentral;
pub mod power;
pub mod rejection;
pub mod settings;
pub mod tolerance;
pub mod upstream;
pub mod weights;

pub use binomial::{
    binomial_power, binomial_test, rejection_detectable_effect, rejection_region,
    rejection_sample_size,
};
pub use error::Error;
pub use family::{family_wise_bound, per_test_alpha};
pub use fit::{
    BackendEvidence, ChiSquaredTest, DistributionJudge, DistributionVerdict, UnexpectedBackend,
    chi_squared_test, judge_distribution,
};
pub use interval::{Interval, wilson};
pub use noncentral::NoncentralChiSquared;
pub use power::{
    SamplePlan, chi_squared_power, distribution_detectable_effect, distribution_sample_size,
    required_noncentrality,
};
pub use rejection::{RejectionVerdict, judge_rejection};
pub use settings::Settings;
pub use weights::weight_share;
