//! Simulates a 70/30/0 weighted split whose true share on the 70% backend is
//! 0.70 to 0.82, and prints how often gwl4's two verdicts (default
//! settings: the exact chi-squared fit, gwl4's recommendation, and the
//! `must`, no share significantly outside ±5 points) and the upstream rule
//! (±0.05 on 500 samples, one attempt or up to ten) pass it, then the same
//! rates computed exactly.
//!
//! `cargo run -p stats --example compare-upstream --release [trials]`
//! (default 100000 trials per cell; seeded, so the output is reproducible).

#[path = "../tests/support/mod.rs"]
mod support;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{Binomial, Discrete};
use stats::{DistributionJudge, Settings, upstream};
use support::BinomialSampler;

const WEIGHTS: [(&str, u32); 3] = [("v1", 70), ("v2", 30), ("v3", 0)];
const SHARES: [f64; 6] = [0.70, 0.72, 0.75, 0.78, 0.80, 0.82];
const SEED: u64 = 2026;

fn main() {
    let trials: u64 = std::env::args()
        .nth(1)
        .map(|t| t.parse().expect("trials: a positive integer"))
        .unwrap_or(100_000);
    let settings = Settings::default();
    let judge = DistributionJudge::new(&WEIGHTS, &settings).expect("valid weights");
    let n = judge.sample_plan().expect("a sample size").n;
    let gwl4_passes = |v1: u64| judge.judge(&[("v1", v1), ("v2", n - v1)]).unwrap().passed;
    let must_passes = |v1: u64| {
        judge
            .judge(&[("v1", v1), ("v2", n - v1)])
            .unwrap()
            .tolerance
            .passed
    };
    let m = upstream::SAMPLES;
    let upstream_passes =
        |v1: u64| upstream::attempt_passes(&WEIGHTS, &[("v1", v1), ("v2", m - v1)]);

    println!(
        "70/30/0 split; gwl4: alpha {}, power {}, effect {}, n = {n}; \
         upstream: {m} samples, ±{}, up to {} attempts; {trials} simulated trials per cell, seed {SEED}\n",
        settings.alpha,
        settings.power,
        settings.effect,
        upstream::TOLERANCE,
        upstream::MAX_ATTEMPTS
    );
    println!(
        "| true share | gwl4 exact fit (recommended) | gwl4 must (±5 points) | upstream pass rate (one attempt) | upstream pass rate (≤10 attempts) |"
    );
    println!("|---|---|---|---|---|");
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    for share in SHARES {
        let ours = BinomialSampler::new(n, share);
        let theirs = BinomialSampler::new(m, share);
        let rate = |count: usize| count as f64 / trials as f64;
        let gwl4 = (0..trials)
            .filter(|_| gwl4_passes(ours.sample(&mut rng)))
            .count();
        let must = (0..trials)
            .filter(|_| must_passes(ours.sample(&mut rng)))
            .count();
        let once = (0..trials)
            .filter(|_| upstream_passes(theirs.sample(&mut rng)))
            .count();
        let retried = (0..trials)
            .filter(|_| {
                (0..upstream::MAX_ATTEMPTS).any(|_| upstream_passes(theirs.sample(&mut rng)))
            })
            .count();
        println!(
            "| {share:.2} | {:.4} | {:.4} | {:.4} | {:.4} |",
            rate(gwl4),
            rate(must),
            rate(once),
            rate(retried)
        );
    }

    println!("\nExact (summing the binomial probabilities of every count that passes):\n");
    println!(
        "| true share | gwl4 exact fit (recommended) | gwl4 must (±5 points) | upstream pass rate (one attempt) | upstream pass rate (≤10 attempts) |"
    );
    println!("|---|---|---|---|---|");
    for share in SHARES {
        let exact = |samples: u64, passes: &dyn Fn(u64) -> bool| {
            let dist = Binomial::new(share, samples).unwrap();
            (0..=samples)
                .filter(|&v1| passes(v1))
                .map(|v1| dist.pmf(v1))
                .sum::<f64>()
        };
        let gwl4 = exact(n, &gwl4_passes);
        let must = exact(n, &must_passes);
        let once = exact(m, &upstream_passes);
        let retried = 1.0 - (1.0 - once).powi(upstream::MAX_ATTEMPTS as i32);
        println!("| {share:.2} | {gwl4:.6} | {must:.6} | {once:.6} | {retried:.6} |");
    }
}
