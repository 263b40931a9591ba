//! Small value types of the suite format: condition matches and durations.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A condition an object must have: `Accepted` (status True, any reason),
/// `Accepted=False`, `Accepted=False/NotAllowedByListeners`, or with `*` for
/// any status (`Accepted=*/ListenersNotValid`; `Accepted=*`: present at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionMatch {
    /// Condition type.
    pub r#type: String,
    /// `True`, `False`, `Unknown`, or `*` (any).
    pub status: String,
    /// Reason, if it must match.
    pub reason: Option<String>,
}

impl ConditionMatch {
    /// Parses `Type[=Status][/Reason]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (head, reason) = match s.split_once('/') {
            Some((h, r)) => (h, Some(r.trim().to_string())),
            None => (s, None),
        };
        let (ty, status) = match head.split_once('=') {
            Some((t, st)) => (t.trim(), st.trim()),
            None => (head.trim(), "True"),
        };
        if ty.is_empty() || !ty.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "invalid condition {s:?}: expected Type, Type=Status or Type=Status/Reason"
            ));
        }
        if !matches!(status, "True" | "False" | "Unknown" | "*") {
            return Err(format!(
                "invalid condition status {status:?} in {s:?}: expected True, False, Unknown or *"
            ));
        }
        if reason.as_deref() == Some("") {
            return Err(format!("empty reason in condition {s:?}"));
        }
        Ok(ConditionMatch {
            r#type: ty.to_string(),
            status: status.to_string(),
            reason,
        })
    }

    /// Whether a condition with these fields satisfies the match.
    pub fn matches(&self, ty: &str, status: &str, reason: &str) -> bool {
        self.r#type == ty
            && (self.status == "*" || self.status == status)
            && self.reason.as_deref().is_none_or(|r| r == reason)
    }
}

impl fmt::Display for ConditionMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.r#type, self.status)?;
        if let Some(r) = &self.reason {
            write!(f, "/{r}")?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for ConditionMatch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ConditionMatch::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for ConditionMatch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The longest duration a suite may write: a day. No test waits that long,
/// and a bound keeps sums and deadlines (`Instant + d`) from overflowing.
pub const MAX_DURATION_MS: u64 = 24 * 60 * 60 * 1000;

/// A duration written `500ms`, `2s` or `1m`, at most a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    /// Parses `<n>ms`, `<n>s` or `<n>m`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: expected e.g. 500ms, 2s, 1m"))?;
        let unit_ms: u64 = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            _ => {
                return Err(format!(
                    "invalid duration {s:?}: the unit must be ms, s or m"
                ));
            }
        };
        // Bounded: `307445734561825861m` overflowed here (found by fuzzing),
        // and a huge `within` would overflow `Instant + within` when run.
        let ms = n
            .checked_mul(unit_ms)
            .filter(|ms| *ms <= MAX_DURATION_MS)
            .ok_or_else(|| format!("duration {s:?} is too long: at most 24h (1440m)"))?;
        let d = std::time::Duration::from_millis(ms);
        Ok(Duration(d))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Duration::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_shorthands() {
        let c = ConditionMatch::parse("Accepted").unwrap();
        assert!(c.matches("Accepted", "True", "Anything"));
        let c = ConditionMatch::parse("ResolvedRefs=False/RefNotPermitted").unwrap();
        assert!(c.matches("ResolvedRefs", "False", "RefNotPermitted"));
        assert!(!c.matches("ResolvedRefs", "False", "BackendNotFound"));
        assert!(ConditionMatch::parse("Accepted=Yes").is_err());
        assert!(ConditionMatch::parse("Accepted=True/").is_err());
        assert_eq!(
            ConditionMatch::parse("A=False/B").unwrap().to_string(),
            "A=False/B"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(Duration::parse("1500ms").unwrap().0.as_millis(), 1500);
        assert_eq!(Duration::parse("2s").unwrap().to_string(), "2s");
        assert!(Duration::parse("2h").is_err());
    }
}
