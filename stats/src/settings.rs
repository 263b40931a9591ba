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
        // Up to 0.5, every backend can be shifted by the effect in at least
        // one direction without leaving [0, 1].
        if self.effect > 0.0 && self.effect <= 0.5 {
            Ok(())
        } else {
            Err(Error::OutOfRange {
                field: "settings.effect",
                value: self.effect,
                expected: "0 < effect <= 0.5",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_ranges_are_enforced() {
        assert!(Settings::default().validate().is_ok());
        let with = |alpha, power, effect| {
            Settings {
                alpha,
                power,
                effect,
            }
            .validate()
        };
        assert!(with(0.001, 0.99, 0.5).is_ok());
        let err = with(0.001, 0.99, 0.500_000_1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "settings.effect = 0.5000001 is out of range: 0 < effect <= 0.5"
        );
        assert!(with(0.001, 0.99, 0.0).is_err());
        assert!(with(0.0, 0.99, 0.05).is_err());
        assert!(with(0.5, 0.4, 0.05).is_err());
        assert!(with(0.001, 1.0, 0.05).is_err());
        assert!(with(f64::NAN, 0.99, 0.05).is_err());
    }

    #[test]
    fn settings_read_from_camel_case_and_reject_unknown_fields() {
        let json = r#"{"alpha": 0.01, "power": 0.95, "effect": 0.1}"#;
        let s: Settings = serde_json::from_str(json).unwrap();
        assert_eq!((s.alpha, s.power, s.effect), (0.01, 0.95, 0.1));
        assert!(serde_json::from_str::<Settings>(r#"{"alpha": 0.01, "powr": 1}"#).is_err());
    }
}
