//! Weighted backend choice and endpoint order.
//!
//! Backends are chosen by **weighted random** choice, independently for
//! each new TCP connection or UDP flow. gwl4 judges splits with a
//! chi-squared test that assumes independent multinomial samples; weighted
//! random choice is exactly that model, needs no shared mutable state
//! between connections (no lock or atomic on the accept path), and cannot
//! synchronise with a client's own pattern (smooth weighted round-robin
//! would, e.g. a client alternating two kinds of connection could see each
//! kind pinned to one backend).

use rand::Rng;

/// Picks an index with probability weight / total. `None` if `total` is 0.
/// `total` must be the sum of `weights`.
pub(crate) fn weighted(
    weights: impl Iterator<Item = u32>,
    total: u64,
    rng: &mut impl Rng,
) -> Option<usize> {
    if total == 0 {
        return None;
    }
    at(weights, rng.random_range(0..total))
}

/// The `turn`-th pick of a deterministic weighted rotation (the
/// `weighted-round-robin` variant): over any `total` consecutive turns each
/// index is picked exactly its weight's times. `None` if `total` is 0.
pub(crate) fn rotation(weights: impl Iterator<Item = u32>, total: u64, turn: u64) -> Option<usize> {
    if total == 0 {
        return None;
    }
    at(weights, turn % total)
}

/// The index whose cumulative weight range holds `point`.
fn at(weights: impl Iterator<Item = u32>, mut point: u64) -> Option<usize> {
    for (index, weight) in weights.enumerate() {
        let weight = u64::from(weight);
        if point < weight {
            return Some(index);
        }
        point -= weight;
    }
    None
}

/// The order to try a backend's endpoints in: a uniformly random first
/// endpoint (spreading load over replicas), then the others in turn.
pub(crate) fn endpoint_order<R: Rng>(
    len: usize,
    rng: &mut R,
) -> impl Iterator<Item = usize> + use<R> {
    let start = if len == 0 {
        0
    } else {
        rng.random_range(0..len)
    };
    (0..len).map(move |i| (start + i) % len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn weight_zero_never_chosen_and_shares_follow_weights() {
        let mut rng = StdRng::seed_from_u64(7);
        let weights = [3u32, 0, 1];
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            let i = weighted(weights.iter().copied(), 4, &mut rng).unwrap();
            counts[i] += 1;
        }
        assert_eq!(counts[1], 0);
        // Expected 30,000 / 10,000; sd ≈ 87: a 6-sd band.
        assert!((29_480..=30_520).contains(&counts[0]), "{counts:?}");
    }

    #[test]
    fn a_rotation_gives_each_its_weight_per_round_and_weight_zero_nothing() {
        let weights = [3u32, 0, 1];
        let mut counts = [0u32; 3];
        for turn in 0..40 {
            counts[rotation(weights.iter().copied(), 4, turn).unwrap()] += 1;
        }
        assert_eq!(counts, [30, 0, 10]);
        assert_eq!(rotation([0u32].into_iter(), 0, 5), None);
    }

    #[test]
    fn all_zero_weights_choose_nothing() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(weighted([0u32, 0].into_iter(), 0, &mut rng), None);
    }

    #[test]
    fn endpoint_order_visits_each_once() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut order: Vec<usize> = endpoint_order(5, &mut rng).collect();
        order.sort_unstable();
        assert_eq!(order, vec![0, 1, 2, 3, 4]);
        assert_eq!(endpoint_order(0, &mut rng).count(), 0);
    }
}
