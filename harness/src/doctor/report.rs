//! The doctor's output: one line per check as it finishes, with the fix
//! under a failed one, and a closing count.

use std::fmt;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, with something to know (does not fail the doctor).
    Warn,
    /// Broken: a run would fail or mislead here.
    Fail,
    /// Not checked: an earlier check it needs failed.
    Skip,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        })
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked ("API server", "GatewayClass", …).
    pub name: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// How to fix it (failures and warnings).
    pub fix: Option<String>,
}

impl Check {
    /// A passed check.
    pub fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A check that works, with a note.
    pub fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A failed check and its fix.
    pub fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A check not made because `needs` failed.
    pub fn skip(name: &'static str, needs: &str) -> Check {
        Check {
            name,
            status: Status::Skip,
            detail: format!("not checked: needs {needs}"),
            fix: None,
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<5} {:<18} {}", self.status, self.name, self.detail)?;
        if let Some(fix) = &self.fix {
            let label = if self.status == Status::Warn {
                "note"
            } else {
                "fix"
            };
            write!(f, "\n{:<24} {label}: {fix}", "")?;
        }
        Ok(())
    }
}

/// The checks so far, printed as they are added.
#[derive(Debug, Default)]
pub struct Report {
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Print each check as it is added (off in tests).
    pub quiet: bool,
}

impl Report {
    /// Records (and prints) `check`; returns whether it did not fail.
    pub fn add(&mut self, check: Check) -> bool {
        if !self.quiet {
            println!("{check}");
        }
        let passed = !matches!(check.status, Status::Fail | Status::Skip);
        self.checks.push(check);
        passed
    }

    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// The closing line.
    pub fn summary(&self) -> String {
        let count = |s: Status| self.checks.iter().filter(|c| c.status == s).count();
        let (failed, skipped, warned) = (
            count(Status::Fail),
            count(Status::Skip),
            count(Status::Warn),
        );
        if failed == 0 && skipped == 0 {
            let warnings = if warned > 0 {
                format!(" ({warned} with a warning)")
            } else {
                String::new()
            };
            format!(
                "doctor: all {} checks passed{warnings}: gwl4 can run here",
                self.checks.len()
            )
        } else {
            format!(
                "doctor: {failed} check(s) failed, {skipped} not made; fix the first failure and run gwl4 doctor again"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_prints_its_fix_under_it_and_fails_the_report() {
        let mut report = Report {
            quiet: true,
            ..Default::default()
        };
        assert!(report.add(Check::ok("API server", "answers")));
        assert!(!report.add(Check::fail("GatewayClass", "missing", "install it")));
        assert!(!report.add(Check::skip("permissions", "the GatewayClass")));
        assert!(report.failed());
        assert_eq!(
            report.checks[1].to_string(),
            format!(
                "FAIL  GatewayClass       missing\n{:24} fix: install it",
                ""
            )
        );
        assert!(
            report
                .summary()
                .starts_with("doctor: 1 check(s) failed, 1 not made")
        );
    }
}
