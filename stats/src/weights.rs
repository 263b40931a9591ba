//! Backend weights as the tests receive them, turned into shares.

use std::collections::BTreeSet;

use crate::error::Error;

/// Validated weights: names unique, at least one non-zero weight.
#[derive(Debug, Clone)]
pub(crate) struct Split<'a> {
    /// Every backend in the caller's order, with its weight.
    pub backends: Vec<(&'a str, u32)>,
    /// Sum of all weights (u64: 1,000,000 × many backends fits easily).
    pub total: u64,
}

impl<'a> Split<'a> {
    pub fn new(weights: &[(&'a str, u32)]) -> Result<Self, Error> {
        if weights.is_empty() {
            return Err(Error::NoBackends);
        }
        check_unique("weights", weights.iter().map(|(name, _)| *name))?;
        let total: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
        if total == 0 {
            return Err(Error::AllWeightsZero);
        }
        Ok(Split {
            backends: weights.to_vec(),
            total,
        })
    }

    /// `weight / total`.
    pub fn share(&self, weight: u32) -> f64 {
        f64::from(weight) / self.total as f64
    }

    /// Shares of the backends with non-zero weight, in order: the categories
    /// of the goodness-of-fit test.
    pub fn fit_shares(&self) -> Vec<f64> {
        self.backends
            .iter()
            .filter(|(_, w)| *w > 0)
            .map(|(_, w)| self.share(*w))
            .collect()
    }

    /// Whether some backend has weight 0.
    pub fn has_zero_weight(&self) -> bool {
        self.backends.iter().any(|(_, w)| *w == 0)
    }

    pub fn weight_of(&self, name: &str) -> Option<u32> {
        self.backends
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, w)| *w)
    }
}

pub(crate) fn check_unique<'a>(
    list: &'static str,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), Error> {
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(Error::DuplicateBackend {
                list,
                name: name.to_owned(),
            });
        }
    }
    Ok(())
}

/// The share of traffic that goes to `subset` of the weighted backends:
/// `Σ weight(subset) / Σ weight(all)`.
///
/// This is the expected rejection share when `subset` names the invalid
/// backends (the spec: "an invalid backend with 80% weight means 80% of
/// connections are rejected").
pub fn weight_share(weights: &[(&str, u32)], subset: &[&str]) -> Result<f64, Error> {
    let split = Split::new(weights)?;
    check_unique("subset", subset.iter().copied())?;
    let mut part = 0u64;
    for name in subset {
        let weight = split.weight_of(name).ok_or_else(|| Error::UnknownBackend {
            name: (*name).to_owned(),
        })?;
        part += u64::from(weight);
    }
    Ok(part as f64 / split.total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_of_invalid_backends() {
        let weights = [("a", 80), ("b", 20), ("c", 0)];
        assert_eq!(weight_share(&weights, &["a"]).unwrap(), 0.8);
        assert_eq!(weight_share(&weights, &["a", "b"]).unwrap(), 1.0);
        assert_eq!(weight_share(&weights, &[]).unwrap(), 0.0);
        assert_eq!(weight_share(&weights, &["c"]).unwrap(), 0.0);
    }

    #[test]
    fn bad_weights_are_errors_naming_the_backend() {
        assert_eq!(weight_share(&[], &[]), Err(Error::NoBackends));
        assert_eq!(weight_share(&[("a", 0)], &[]), Err(Error::AllWeightsZero));
        let err = weight_share(&[("a", 1), ("a", 2)], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "weights: backend \"a\" appears more than once"
        );
        let err = weight_share(&[("a", 1)], &["b"]).unwrap_err();
        assert!(err.to_string().contains("\"b\""), "{err}");
    }
}
