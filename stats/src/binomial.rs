//! The exact two-sided binomial test, its power, and sample size from power.
//!
//! Used for rejection shares: each sample (connection or datagram) is
//! rejected or not, independently, with a fixed probability that should equal
//! the invalid backends' weight share `r`.

use statrs::distribution::{Binomial, Discrete, DiscreteCDF};

use crate::error::Error;
use crate::power::{MAX_SAMPLES, smallest_effect};
use crate::settings::Settings;

/// Relative tolerance when comparing probabilities for "as or less likely"
/// (the same `1 + 1e-7` as R's `binom.test`), so that outcomes whose
/// probabilities differ only by rounding count as equally likely.
const RELATIVE_ERROR: f64 = 1.0 + 1e-7;

/// The largest n the sample-size scan will try. The scan is linear (the
/// exact test's power is not monotone in n), so the limit is lower than for
/// the chi-squared test.
pub const MAX_BINOMIAL_SAMPLES: u64 = 10_000_000;

/// Two-sided p-value of the exact binomial test of `successes` out of
/// `trials` against success probability `p`: the total probability, under
/// `p`, of every outcome no more likely than the one observed (the
/// definition R's `binom.test` uses, with the same relative tolerance).
///
/// `p` must be in [0, 1] and `successes ≤ trials`. With `p` 0 or 1 only one
/// outcome is possible: the p-value is 1 for it and 0 for any other.
pub fn binomial_test(successes: u64, trials: u64, p: f64) -> f64 {
    let x = successes.min(trials);
    if p <= 0.0 || p >= 1.0 {
        let only = if p <= 0.0 { 0 } else { trials };
        return if x == only { 1.0 } else { 0.0 };
    }
    let Ok(dist) = Binomial::new(p, trials) else {
        return f64::NAN;
    };
    p_value(&dist, x)
}

/// R's algorithm: the outcomes on the other side of the mean that are no
/// more likely than `x` form a tail (the pmf is monotone there), found by
/// bisection; the p-value is the two tails' sum.
fn p_value(dist: &Binomial, x: u64) -> f64 {
    let n = dist.n();
    let mean = n as f64 * dist.p();
    let limit = dist.pmf(x) * RELATIVE_ERROR;
    let xf = x as f64;
    let p = if xf == mean {
        1.0
    } else if xf < mean {
        // Outcomes ≥ ceil(mean) with pmf ≤ limit: a top tail [first, n].
        let from = mean.ceil() as u64;
        let first = partition(from, n + 1, |i| dist.pmf(i) <= limit);
        // P(X ≤ x) + P(X ≥ first); `sf(k)` is P(X > k).
        dist.cdf(x)
            + if first > n {
                0.0
            } else {
                tail_from(dist, first)
            }
    } else {
        // Outcomes ≤ floor(mean) with pmf ≤ limit: a bottom tail [0, end).
        let to = mean.floor() as u64 + 1;
        let end = partition(0, to, |i| dist.pmf(i) > limit);
        let lower = if end == 0 { 0.0 } else { dist.cdf(end - 1) };
        lower + tail_from(dist, x)
    };
    p.min(1.0)
}

/// `P(X ≥ k)`.
fn tail_from(dist: &Binomial, k: u64) -> f64 {
    if k == 0 { 1.0 } else { dist.sf(k - 1) }
}

/// The first index in `[lo, hi)` where `pred` holds, for `pred` false then
/// true over the range (`hi` if it never holds).
fn partition(mut lo: u64, mut hi: u64, pred: impl Fn(u64) -> bool) -> u64 {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// The rejection region of the two-sided exact test at level `alpha`:
/// outcomes `≤ below` or `≥ above` have p-value ≤ `alpha`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Largest rejected outcome below the mean, if any.
    pub below: Option<u64>,
    /// Smallest rejected outcome above the mean, if any.
    pub above: Option<u64>,
}

impl Region {
    /// Whether `x` is rejected.
    pub fn rejects(&self, x: u64) -> bool {
        self.below.is_some_and(|b| x <= b) || self.above.is_some_and(|a| x >= a)
    }

    /// `P(rejects)` when the true success probability is `p`: the test's size
    /// at the null share, its power elsewhere.
    pub fn probability(&self, trials: u64, p: f64) -> f64 {
        let Ok(dist) = Binomial::new(p.clamp(0.0, 1.0), trials) else {
            return f64::NAN;
        };
        let low = self.below.map_or(0.0, |b| dist.cdf(b));
        let high = self.above.map_or(0.0, |a| tail_from(&dist, a));
        (low + high).min(1.0)
    }
}

/// The rejection region for `trials` samples at null share `p` in (0, 1).
pub fn rejection_region(trials: u64, p: f64, alpha: f64) -> Region {
    region_near(trials, p, alpha, None)
}

/// As [`rejection_region`], starting the search from a nearby region (the
/// previous n's, in a scan), which makes each step a few evaluations.
fn region_near(trials: u64, p: f64, alpha: f64, guess: Option<Region>) -> Region {
    let Ok(dist) = Binomial::new(p, trials) else {
        return Region {
            below: None,
            above: None,
        };
    };
    let mean = trials as f64 * p;
    let rejected = |x: u64| p_value(&dist, x) <= alpha;
    // The p-value falls monotonically away from the mean on each side, so
    // each side's region is a tail; walk from the guess to its edge.
    let below = if mean.ceil() >= 1.0 && rejected(0) {
        let last = mean.ceil() as u64 - 1;
        let mut x = guess.and_then(|g| g.below).unwrap_or(0).min(last);
        while !rejected(x) {
            x -= 1;
        }
        while x < last && rejected(x + 1) {
            x += 1;
        }
        Some(x)
    } else {
        None
    };
    let first = mean.floor() as u64 + 1;
    let above = if first <= trials && rejected(trials) {
        let mut x = guess
            .and_then(|g| g.above)
            .unwrap_or(trials)
            .clamp(first, trials);
        while !rejected(x) {
            x += 1;
        }
        while x > first && rejected(x - 1) {
            x -= 1;
        }
        Some(x)
    } else {
        None
    };
    Region { below, above }
}

/// The alternatives a rejection test must detect: `r ± effect`, those in [0, 1].
fn alternatives(share: f64, effect: f64) -> impl Iterator<Item = f64> {
    [share - effect, share + effect]
        .into_iter()
        .filter(|p| (0.0..=1.0).contains(p))
}

/// Exact power of the two-sided binomial test at level `alpha` with `trials`
/// samples and null share `share` in (0, 1), against the worse of the
/// alternatives `share ± effect` that lie in [0, 1].
pub fn binomial_power(trials: u64, share: f64, effect: f64, alpha: f64) -> f64 {
    let region = rejection_region(trials, share, alpha);
    worst_power(&region, trials, share, effect)
}

fn worst_power(region: &Region, trials: u64, share: f64, effect: f64) -> f64 {
    alternatives(share, effect)
        .map(|alt| region.probability(trials, alt))
        .fold(f64::INFINITY, f64::min)
}

/// The sample size for a `rejection` step with expected rejection share
/// `share`: the smallest n at which the exact test has the target power
/// against `share ± effect`.
///
/// The exact test's power is a sawtooth in n (the discrete region jumps), so
/// this scans n upward and returns the first n that reaches the target; a
/// few slightly larger n may fall just short of it. With `share` 0 or 1 the
/// verdict is "none" or "all" rejected, and n is the number of samples for
/// which a departure of `effect` shows up at least once with the target
/// power: `(1−δ)ⁿ ≤ 1−power`.
pub fn rejection_sample_size(share: f64, settings: &Settings) -> Result<u64, Error> {
    settings.validate()?;
    check_share(share)?;
    if share == 0.0 || share == 1.0 {
        return Ok(crate::power::leak_sample_size(
            settings.effect,
            settings.power,
        ));
    }
    let mut region = None;
    for n in 1..=MAX_BINOMIAL_SAMPLES.min(MAX_SAMPLES) {
        let r = region_near(n, share, settings.alpha, region);
        if worst_power(&r, n, share, settings.effect) >= settings.power {
            return Ok(n);
        }
        region = Some(r);
    }
    Err(Error::SampleSizeTooLarge {
        limit: MAX_BINOMIAL_SAMPLES,
        power: settings.power,
        effect: settings.effect,
        alpha: settings.alpha,
    })
}

/// The smallest departure `δ` from `share` that the exact test at `trials`
/// samples detects with the target power (against the worse of `share ± δ`),
/// or `None` if none up to the farthest possible one is. With `share` 0 or
/// 1: the smallest `δ` with `1 − (1−δ)ⁿ ≥ power`. `settings.effect` is not
/// used.
pub fn rejection_detectable_effect(
    trials: u64,
    share: f64,
    settings: &Settings,
) -> Result<Option<f64>, Error> {
    settings.validate()?;
    check_share(share)?;
    if trials == 0 {
        return Ok(None);
    }
    if share == 0.0 || share == 1.0 {
        return Ok(Some(crate::power::leak_detectable(trials, settings.power)));
    }
    let region = rejection_region(trials, share, settings.alpha);
    let max = share.max(1.0 - share);
    Ok(smallest_effect(max, settings.power, |effect| {
        worst_power(&region, trials, share, effect)
    }))
}

pub(crate) fn check_share(share: f64) -> Result<(), Error> {
    if (0.0..=1.0).contains(&share) {
        Ok(())
    } else {
        Err(Error::OutOfRange {
            field: "expectedShare",
            value: share,
            expected: "0 <= share <= 1",
        })
    }
}
