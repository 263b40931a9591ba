//! The three numbers that define every statistical test: α, power, effect.

use serde::{Deserialize, Serialize};

use crate::error::{Error, check_open};

/// Significance, power target and detectable effect for one statistical test.
///
/// - `alpha`: the probability that the test fails a correct implementation
///   (false failure), per test. Default 0.001.
/// - `power`: the probability that the test fails an implementation that is
///   off by `effect`, which fixes the sample size. Default 0.99.
/// - `effect`: the smallest error worth catching, in absolute share (0.05 = 5
///   percentage points): one backend's share off by this much, the other
///   backends rescaled proportionally. Default 0.05.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// Significance level per test, in (0, 1).
    pub alpha: f64,
    /// Power target, in (alpha, 1).
    pub power: f64,
    /// Detectable effect in absolute share, in (0, 0.5].
    pub effect: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            alpha: 0.001,
            power: 0.99,
            effect: 0.05,
        }
    }
}

impl Settings {
    /// Checks every field's range; the error names the field.
    pub fn validate(&self) -> Result<(), Error> {
        check_open("settings.alpha", self.alpha, 0.0, 1.0, "0 < alpha < 1")?;
        check_open(
            "settings.power",
            self.power,
            self.alpha,
            1.0,
            "alpha < power < 1",
        )?;
        // 0.5 is allowed: up to there, every backend can be shifted by the
        // effect in at least one direction without leaving [0, 1].
        check_open(
            "settings.effect",
            self.effect,
            0.0,
            0.5 + f64::EPSILON,
            "0 < effect <= 0.5",
        )
    }
}
