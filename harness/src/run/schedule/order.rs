//! The order tests start in. Threads take tests in order, so a long test
//! that starts last leaves the other threads idle at the end of the run.
//! Tests that sample (distribution, rejection), converge, or wait out a
//! window go first; the rest keep their (alphabetical) order.

use std::time::Duration;

use crate::suite::{Step, TestSpec};

/// A rough expected duration of a test, from its steps alone.
fn expected(spec: &TestSpec) -> Duration {
    spec.steps
        .iter()
        .map(|s| match &s.step {
            // Thousands of probes; a UDP drop is known only after a wait.
            Step::Distribution(_) | Step::Rejection(_) => Duration::from_secs(4),
            // Consecutive probes until traffic changes, then a check.
            Step::Convergence(_) => Duration::from_secs(3),
            Step::Wait(w) => w.duration.0,
            Step::AssertNever(n) => n.within.as_ref().map_or(Duration::ZERO, |w| w.0),
            _ => Duration::ZERO,
        })
        .sum()
}

/// Sorts `catalog` so the longest tests start first (stable: ties keep
/// their order).
pub fn longest_first(catalog: &mut [TestSpec]) {
    catalog.sort_by_key(|spec| std::cmp::Reverse(expected(spec)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::load;

    #[test]
    fn sampling_tests_start_before_quick_ones_and_ties_keep_their_order() {
        let mut catalog = load::builtin().unwrap();
        longest_first(&mut catalog);
        let position = |name: &str| catalog.iter().position(|t| t.name == name).unwrap();
        assert!(
            position("UDPRouteInvalidBackendShareIsDropped") < position("GatewayAllowedRoutesAll")
        );
        let quick: Vec<&str> = catalog
            .iter()
            .filter(|t| expected(t).is_zero())
            .map(|t| t.name.as_str())
            .collect();
        let mut sorted = quick.clone();
        sorted.sort_unstable();
        assert_eq!(quick, sorted);
        assert!(!quick.is_empty());
    }
}
