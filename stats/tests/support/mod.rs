//! Simulation helpers shared by the Monte Carlo tests and the
//! `compare-upstream` example (included there with `#[path]`).
//!
//! Samples are drawn directly as counts (binomial by inverting a CDF table,
//! multinomial by one categorical draw per sample), never by simulating
//! connections, so thousands of trials stay cheap even in debug builds.

#![allow(dead_code)] // Each includer uses a different subset.

use rand::Rng;
use statrs::distribution::{Binomial, Discrete, DiscreteCDF};

/// Draws Binomial(n, p) counts by inverting a precomputed CDF table: one
/// uniform and a binary search per draw.
pub struct BinomialSampler {
    cdf: Vec<f64>,
}

impl BinomialSampler {
    pub fn new(n: u64, p: f64) -> Self {
        let dist = Binomial::new(p, n).unwrap();
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (0..=n)
            .map(|k| {
                total += dist.pmf(k);
                total
            })
            .collect();
        // Rounding must not leave uniforms near 1 without an outcome.
        *cdf.last_mut().unwrap() = 1.0;
        BinomialSampler { cdf }
    }

    pub fn sample(&self, rng: &mut impl Rng) -> u64 {
        let u: f64 = rng.random();
        self.cdf.partition_point(|&c| c <= u) as u64
    }
}

/// One multinomial draw of `n` samples over `shares`, a categorical draw per
/// sample.
pub fn multinomial(rng: &mut impl Rng, n: u64, shares: &[f64]) -> Vec<u64> {
    let mut counts = vec![0; shares.len()];
    for _ in 0..n {
        let mut u: f64 = rng.random();
        let mut i = 0;
        while i + 1 < shares.len() && u >= shares[i] {
            u -= shares[i];
            i += 1;
        }
        counts[i] += 1;
    }
    counts
}

/// Smallest c with `P(X > c) ≤ tail` for X ~ Binomial(trials, p): more
/// than c events is "too many" at that tail probability.
pub fn upper_bound(trials: u64, p: f64, tail: f64) -> u64 {
    let dist = Binomial::new(p, trials).unwrap();
    (0..=trials).find(|&c| dist.sf(c) <= tail).unwrap()
}

/// Largest c with `P(X < c) ≤ tail` for X ~ Binomial(trials, p): fewer
/// than c events is "too few" at that tail probability.
pub fn lower_bound(trials: u64, p: f64, tail: f64) -> u64 {
    let dist = Binomial::new(p, trials).unwrap();
    (0..=trials)
        .rev()
        .find(|&c| c == 0 || dist.cdf(c - 1) <= tail)
        .unwrap()
}
