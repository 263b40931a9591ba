//! Errors: invalid inputs, each naming the setting, weight or count at fault.

/// Why a statistical computation could not be carried out.
///
/// These are errors in the *question* (a setting out of range, weights that
/// describe no split), never a failed verdict: a verdict that fails is an
/// `Ok` value with `passed: false` and its reasons.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A setting or argument is outside its allowed range.
    #[error("{field} = {value} is out of range: {expected}")]
    OutOfRange {
        /// The setting or argument, e.g. `alpha` or `settings.effect`.
        field: &'static str,
        /// The value given.
        value: f64,
        /// The allowed range, in words.
        expected: &'static str,
    },
    /// The weights list is empty.
    #[error("weights: no backends given")]
    NoBackends,
    /// Every backend has weight 0, so there is no split to test.
    #[error("weights: every backend has weight 0, so no share is defined")]
    AllWeightsZero,
    /// The same backend name appears twice in one list.
    #[error("{list}: backend {name:?} appears more than once")]
    DuplicateBackend {
        /// Which list: `weights`, `observed` or `subset`.
        list: &'static str,
        /// The repeated name.
        name: String,
    },
    /// A name in a subset of backends is not among the weighted backends.
    #[error("subset: backend {name:?} is not among the weighted backends")]
    UnknownBackend {
        /// The name not found.
        name: String,
    },
    /// More samples were counted as rejected than were sent.
    #[error("rejected = {rejected} exceeds total = {total}")]
    RejectedExceedsTotal {
        /// Rejected samples.
        rejected: u64,
        /// All samples.
        total: u64,
    },
    /// No sample size up to the limit reaches the power target.
    #[error(
        "no sample size up to {limit} reaches power {power} for effect {effect} at alpha {alpha}"
    )]
    SampleSizeTooLarge {
        /// The largest n searched.
        limit: u64,
        /// The power target.
        power: f64,
        /// The effect to detect.
        effect: f64,
        /// The significance level.
        alpha: f64,
    },
}

/// Returns an error unless `lo < value < hi` (both bounds excluded).
pub(crate) fn check_open(
    field: &'static str,
    value: f64,
    lo: f64,
    hi: f64,
    expected: &'static str,
) -> Result<(), Error> {
    // Written so that NaN fails too.
    if value > lo && value < hi {
        Ok(())
    } else {
        Err(Error::OutOfRange {
            field,
            value,
            expected,
        })
    }
}
