//! [`RunRecord`]: the events folded into one value every format is written from.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::{
    RunFinished, RunStarted, SCHEMA_VERSION, StepRecord, TestEvent, TestResult, TestStarted, secs,
};
use crate::profiles;

/// An event stream that does not describe a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    /// The stream was empty or did not start with `runStarted`.
    #[error("the first event must be runStarted, found {found}")]
    NotStarted {
        /// The first event's kind, or `nothing`.
        found: &'static str,
    },
    /// A second `runStarted` arrived.
    #[error("runStarted repeated (run {run_id} already started)")]
    StartedTwice {
        /// The run already started.
        run_id: String,
    },
    /// An event named a test that had not started.
    #[error("{event} for test {test}, which had not started")]
    UnknownTest {
        /// The event's kind.
        event: &'static str,
        /// The test it named.
        test: String,
    },
    /// A test started twice.
    #[error("test {test} started twice")]
    DuplicateTest {
        /// The test.
        test: String,
    },
    /// An event arrived for a test that had already finished.
    #[error("{event} for test {test}, which had already finished")]
    TestAlreadyFinished {
        /// The event's kind.
        event: &'static str,
        /// The test.
        test: String,
    },
}

fn event_kind(event: &TestEvent) -> &'static str {
    match event {
        TestEvent::RunStarted(_) => "runStarted",
        TestEvent::TestStarted(_) => "testStarted",
        TestEvent::StepFinished(_) => "stepFinished",
        TestEvent::TestFinished(_) => "testFinished",
        TestEvent::RunFinished(_) => "runFinished",
    }
}

/// Everything known about a run: the input to every report format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// [`SCHEMA_VERSION`] of the record.
    pub schema_version: u32,
    /// The run's description.
    pub run: RunStarted,
    /// Tests in the order they started.
    pub tests: Vec<TestRecord>,
    /// How the run ended (`interrupted` when it was stopped early); absent
    /// when the process died before it could say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<RunFinished>,
}

/// One test: what it is, its steps and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestRecord {
    /// Name, description, features, upstream name and provisional flag.
    #[serde(flatten)]
    pub info: TestStarted,
    /// Finished steps in the order they finished.
    #[serde(default)]
    pub steps: Vec<StepRecord>,
    /// The verdict; absent if the test never finished (interrupted run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<TestResult>,
    /// Time the test took, when it finished.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_secs")]
    pub elapsed: Option<Duration>,
    /// Queueing, set-up and clean-up, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<crate::event::Timing>,
}

/// A test's verdict reduced to its kind, for counting and display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResultKind {
    /// A step failed.
    Failed,
    /// The test never finished.
    Incomplete,
    /// Every must passed; a should or recommended expectation did not hold.
    Warned,
    /// Every step passed.
    Passed,
    /// Skipped on purpose.
    Skipped,
    /// A needed feature is not supported.
    NotSupported,
}

impl ResultKind {
    /// All kinds, failures first, then warnings (the order reports list them in).
    pub const ALL: [ResultKind; 6] = [
        ResultKind::Failed,
        ResultKind::Incomplete,
        ResultKind::Warned,
        ResultKind::Passed,
        ResultKind::Skipped,
        ResultKind::NotSupported,
    ];

    /// Machine-readable name (also the HTML `data-result` value).
    pub fn as_str(self) -> &'static str {
        match self {
            ResultKind::Failed => "failed",
            ResultKind::Incomplete => "incomplete",
            ResultKind::Warned => "warned",
            ResultKind::Passed => "passed",
            ResultKind::Skipped => "skipped",
            ResultKind::NotSupported => "notSupported",
        }
    }

    /// Human-readable label.
    pub fn label(self) -> &'static str {
        match self {
            ResultKind::Failed => "failed",
            ResultKind::Incomplete => "did not finish",
            ResultKind::Warned => "passed with warnings",
            ResultKind::Passed => "passed",
            ResultKind::Skipped => "skipped",
            ResultKind::NotSupported => "not supported",
        }
    }

    /// Whether the kind counts against the run (failed or never finished).
    pub fn is_failure(self) -> bool {
        matches!(self, ResultKind::Failed | ResultKind::Incomplete)
    }

    /// Whether the test ran to its end with every must holding (passed,
    /// with or without warnings).
    pub fn is_pass(self) -> bool {
        matches!(self, ResultKind::Passed | ResultKind::Warned)
    }
}

impl TestRecord {
    /// The verdict's kind.
    pub fn kind(&self) -> ResultKind {
        match &self.result {
            None => ResultKind::Incomplete,
            Some(TestResult::Passed) => ResultKind::Passed,
            Some(TestResult::Warned { .. }) => ResultKind::Warned,
            Some(TestResult::Failed { .. }) => ResultKind::Failed,
            Some(TestResult::NotSupported { .. }) => ResultKind::NotSupported,
            Some(TestResult::Skipped { .. }) => ResultKind::Skipped,
        }
    }

    /// One line explaining a non-pass (empty for a pass).
    pub fn result_message(&self) -> String {
        match &self.result {
            None => "the test did not finish (the run was interrupted)".to_owned(),
            Some(TestResult::Passed) => String::new(),
            Some(TestResult::Warned { message }) => format!("warning: {message}"),
            Some(TestResult::Failed { message }) => message.clone(),
            Some(TestResult::NotSupported { missing_features }) => {
                format!("not supported: needs {}", missing_features.join(", "))
            }
            Some(TestResult::Skipped { reason }) => format!("skipped: {reason}"),
        }
    }

    /// The verdict by the spec's MUSTs alone, as the upstream
    /// ConformanceReport counts it: a test that failed only on `should` or
    /// `recommended` steps (a `--strict` run) passed there.
    pub fn must_kind(&self) -> ResultKind {
        let kind = self.kind();
        if kind != ResultKind::Failed {
            return kind;
        }
        let must_failed = self
            .steps
            .iter()
            .any(|s| s.outcome == crate::event::StepOutcome::Failed && s.level.fails_by_default());
        let any_step_failed = self
            .steps
            .iter()
            .any(|s| s.outcome == crate::event::StepOutcome::Failed);
        // A failure outside any step (set-up) is a must failure too.
        if must_failed || !any_step_failed {
            ResultKind::Failed
        } else {
            ResultKind::Warned
        }
    }

    /// The steps that warned (or, in a strict run, failed at a `should` or
    /// `recommended` level).
    pub fn warnings(&self) -> impl Iterator<Item = &StepRecord> {
        self.steps.iter().filter(|s| {
            s.outcome == crate::event::StepOutcome::Warned
                || (s.outcome == crate::event::StepOutcome::Failed && !s.level.fails_by_default())
        })
    }

    /// Names of the upstream profiles the test belongs to (see [`profiles`]).
    pub fn profiles(&self) -> Vec<&'static str> {
        profiles::profiles_of(&self.info.features)
            .into_iter()
            .map(|p| p.name)
            .collect()
    }
}

impl RunRecord {
    /// An empty record for a run that has just started.
    pub fn new(run: RunStarted) -> Self {
        RunRecord {
            schema_version: SCHEMA_VERSION,
            run,
            tests: Vec::new(),
            finished: None,
        }
    }

    /// Folds a whole event stream; the first event must be `runStarted`.
    pub fn from_events(events: &[TestEvent]) -> Result<Self, FoldError> {
        let (first, rest) = match events.split_first() {
            Some((TestEvent::RunStarted(run), rest)) => (run, rest),
            Some((other, _)) => {
                return Err(FoldError::NotStarted {
                    found: event_kind(other),
                });
            }
            None => return Err(FoldError::NotStarted { found: "nothing" }),
        };
        let mut record = RunRecord::new(RunStarted::clone(first));
        for event in rest {
            record.apply(event.clone())?;
        }
        Ok(record)
    }

    /// Folds one more event into the record.
    pub fn apply(&mut self, event: TestEvent) -> Result<(), FoldError> {
        let kind = event_kind(&event);
        match event {
            TestEvent::RunStarted(_) => Err(FoldError::StartedTwice {
                run_id: self.run.run_id.clone(),
            }),
            TestEvent::TestStarted(info) => {
                if self.test(&info.name).is_some() {
                    return Err(FoldError::DuplicateTest { test: info.name });
                }
                self.tests.push(TestRecord {
                    info,
                    steps: Vec::new(),
                    result: None,
                    elapsed: None,
                    timing: None,
                });
                Ok(())
            }
            TestEvent::StepFinished(step) => {
                let test = self.running_test(kind, &step.test)?;
                test.steps.push(step.step);
                Ok(())
            }
            TestEvent::TestFinished(done) => {
                let test = self.running_test(kind, &done.test)?;
                test.result = Some(done.result);
                test.elapsed = Some(done.elapsed);
                test.timing = done.timing;
                Ok(())
            }
            TestEvent::RunFinished(finished) => {
                self.finished = Some(finished);
                Ok(())
            }
        }
    }

    fn running_test(
        &mut self,
        event: &'static str,
        name: &str,
    ) -> Result<&mut TestRecord, FoldError> {
        let test = self
            .tests
            .iter_mut()
            .find(|t| t.info.name == name)
            .ok_or_else(|| FoldError::UnknownTest {
                event,
                test: name.to_owned(),
            })?;
        if test.result.is_some() {
            return Err(FoldError::TestAlreadyFinished {
                event,
                test: name.to_owned(),
            });
        }
        Ok(test)
    }

    /// The test with this name.
    pub fn test(&self, name: &str) -> Option<&TestRecord> {
        self.tests.iter().find(|t| t.info.name == name)
    }

    /// Tests with failures (failed, never finished) first, then those that
    /// passed with warnings, then the rest, each group in run order.
    pub fn tests_failures_first(&self) -> Vec<&TestRecord> {
        let mut tests: Vec<&TestRecord> = self.tests.iter().collect();
        // A stable sort keeps run order within each group.
        tests.sort_by_key(|t| match t.kind() {
            k if k.is_failure() => 0,
            ResultKind::Warned => 1,
            _ => 2,
        });
        tests
    }

    /// How many tests ended with each kind of result.
    pub fn count(&self, kind: ResultKind) -> usize {
        self.tests.iter().filter(|t| t.kind() == kind).count()
    }
}

/// `Option<Duration>` as optional seconds.
mod opt_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::secs::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|secs| Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom))
            .transpose()
    }
}
