//! The events a run emits, in the order it emits them.
//!
//! Everything here is plain serde data: the runner stamps times (this crate
//! has no clock) and fills in evidence; [`crate::RunRecord`] folds the events.
//! Durations serialise as seconds (a float), which is what JUnit and people
//! read.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::evidence::Evidence;

/// Version of the event and record schema; bumped on incompatible changes.
/// 2: requirement levels and spec references on tests and steps, warned
/// steps and tests, interrupted runs.
pub const SCHEMA_VERSION: u32 = 2;

/// One thing that happened during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum TestEvent {
    /// The run began; always the first event.
    RunStarted(Box<RunStarted>),
    /// A test began (or was judged not runnable: it still starts, then finishes).
    TestStarted(TestStarted),
    /// One step of a running test finished.
    StepFinished(StepFinished),
    /// A test finished with a result.
    TestFinished(TestFinished),
    /// The run ended; absent when a run was interrupted.
    RunFinished(RunFinished),
}

/// Where the run happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// No Kubernetes: processes on loopback addresses.
    Local,
    /// A real cluster from a kubeconfig.
    Kubernetes,
}

impl Mode {
    /// The lower-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Kubernetes => "kubernetes",
        }
    }
}

/// The implementation under test, as upstream's `--organization`, `--project`,
/// `--url`, `--version` and `--contact` flags describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Implementation {
    /// Who maintains it.
    pub organization: String,
    /// Project or repository name.
    pub project: String,
    /// Where to read about it (shown as text, never fetched).
    pub url: String,
    /// The version tested.
    pub version: String,
    /// Maintainers' handles or a support URL.
    pub contact: Vec<String>,
}

/// How the run judged results: the statistical knobs, timeouts and selection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSettings {
    /// Significance level of each statistical test (false-failure rate per test).
    pub alpha: f64,
    /// Power each distribution test is sized for.
    pub power: f64,
    /// The effect (absolute share difference, 0..1) the sample size is sized to detect.
    pub detectable_effect: f64,
    /// Upper bound on the chance that any statistical test in the run fails on a correct gateway.
    pub family_wise_bound: f64,
    /// Timeouts by `TimeoutConfig` field name, in seconds.
    pub timeouts: BTreeMap<String, f64>,
    /// Conformance profiles selected (e.g. `GATEWAY-TCP`).
    pub profiles: Vec<String>,
    /// Features the implementation was taken to support.
    pub supported_features: Vec<String>,
}

/// The first event: what is being tested, by what, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStarted {
    /// [`SCHEMA_VERSION`] of the emitter.
    pub schema_version: u32,
    /// Unique id of this run (chosen by the runner).
    pub run_id: String,
    /// RFC 3339 start time, stamped by the caller.
    pub start_time: String,
    /// Version of gwl4 that ran.
    pub gwl4_version: String,
    /// Local or Kubernetes.
    pub mode: Mode,
    /// Upstream's `--mode` for the ConformanceReport (`default` unless the
    /// implementation has several operating modes).
    #[serde(default = "default_conformance_mode")]
    pub conformance_mode: String,
    /// GatewayClass under test.
    pub gateway_class: String,
    /// The implementation under test.
    pub implementation: Implementation,
    /// Gateway API version the run was made for (e.g. `v1.6.1`).
    #[serde(rename = "gatewayAPIVersion")]
    pub gateway_api_version: String,
    /// Gateway API channel (`standard` or `experimental`).
    #[serde(rename = "gatewayAPIChannel")]
    pub gateway_api_channel: String,
    /// Statistical settings, timeouts and selection.
    pub settings: RunSettings,
}

fn default_conformance_mode() -> String {
    "default".to_owned()
}

/// How strongly the spec requires what a test or step checks, and so what a
/// miss does to the run.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum Level {
    /// The spec says MUST or MUST NOT, or the upstream conformance suite
    /// asserts it: a miss fails the test and the run.
    #[default]
    Must,
    /// The spec says SHOULD: a miss is a warning (a failure with `--strict`).
    Should,
    /// Optional behaviour the spec allows: whichever branch the
    /// implementation took must be right; a miss fails the test.
    May,
    /// gwl4's own view of good L4 behaviour: a warning (a failure with
    /// `--strict`).
    Recommended,
}

impl Level {
    /// Every level, strongest first.
    pub const ALL: [Level; 4] = [Level::Must, Level::Should, Level::May, Level::Recommended];

    /// The name written in suite files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::May => "may",
            Level::Recommended => "recommended",
        }
    }

    /// Whether a miss at this level fails the test without `--strict`
    /// (`must`, and `may`: a branch the implementation took done wrong).
    pub fn fails_by_default(self) -> bool {
        matches!(self, Level::Must | Level::May)
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sentence of the spec (or of gwl4's own recommendations) a test or
/// step traces its verdict to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecRef {
    /// The row of gwl4's requirements registry (`spec/requirements.yaml`),
    /// when the reference names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The requirement's own strength.
    pub level: Level,
    /// Where it is written: a file and Go field of the Gateway API module,
    /// a GEP and section, an upstream conformance test, or `gwl4`.
    pub source: String,
    /// The sentence, quoted.
    pub quote: String,
}

/// A test began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestStarted {
    /// Unique PascalCase test name.
    pub name: String,
    /// The spec rule the test checks, as a sentence.
    pub description: String,
    /// Features the test needs (upstream feature names and gwl4's own).
    pub features: Vec<String>,
    /// Name of the equivalent upstream conformance test, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// Upstream marks the test provisional.
    #[serde(default)]
    pub provisional: bool,
    /// The test's requirement level (a step may override it).
    #[serde(default)]
    pub level: Level,
    /// The requirements the test traces to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spec: Vec<SpecRef>,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepOutcome {
    /// The step's expectation held.
    Passed,
    /// The step's expectation did not hold.
    Failed,
    /// The step's expectation did not hold, at a `should` or `recommended`
    /// level: a warning, and the test went on.
    Warned,
    /// The step did not run (an earlier step failed, or it belongs to a
    /// branch the implementation did not take).
    Skipped,
}

impl StepOutcome {
    /// Lower-case name used in reports and DOM attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Passed => "passed",
            StepOutcome::Failed => "failed",
            StepOutcome::Warned => "warned",
            StepOutcome::Skipped => "skipped",
        }
    }
}

/// One finished step of a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    /// Position of the step in the test (0-based).
    pub index: usize,
    /// Step kind as written in the suite (`assert`, `tcp`, `udp`,
    /// `distribution`, `rejection`, `flowAffinity`, `convergence`, `apply`, ...).
    pub kind: String,
    /// One line saying what the step did.
    pub summary: String,
    /// How it ended.
    pub outcome: StepOutcome,
    /// The step's requirement level (its own, or the test's).
    #[serde(default)]
    pub level: Level,
    /// The requirements the step traces to, when it names its own (empty:
    /// the test's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spec: Vec<SpecRef>,
    /// Time the step took.
    #[serde(with = "secs")]
    pub elapsed: Duration,
    /// What was observed.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

/// A step of a running test finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepFinished {
    /// Name of the test the step belongs to.
    pub test: String,
    /// The step.
    #[serde(flatten)]
    pub step: StepRecord,
}

/// The verdict on a test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "status",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum TestResult {
    /// Every step passed.
    Passed,
    /// Every `must` and `may` step passed, and some `should` or
    /// `recommended` step did not: a pass with warnings.
    Warned {
        /// The warnings, one per line.
        message: String,
    },
    /// A step failed.
    Failed {
        /// Why, in one or a few lines.
        message: String,
    },
    /// The implementation does not claim a feature the test needs; never a pass.
    NotSupported {
        /// Features the test needs that were not supported.
        missing_features: Vec<String>,
    },
    /// Not run on purpose (e.g. `--skip-tests`).
    Skipped {
        /// Why.
        reason: String,
    },
}

/// A test finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestFinished {
    /// Name of the test.
    pub test: String,
    /// Its verdict.
    pub result: TestResult,
    /// Time the test took, set-up and clean-up included.
    #[serde(with = "secs")]
    pub elapsed: Duration,
    /// Where the time outside its steps went, when the runner measured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
}

/// A test's time outside its steps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timing {
    /// Waiting for another test that held an object or port it needs (not
    /// part of `elapsed`).
    #[serde(with = "secs")]
    pub queued: Duration,
    /// The test it waited for, and what they both hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_behind: Option<String>,
    /// Applying its manifests and waiting for their workloads to roll out.
    #[serde(with = "secs")]
    pub setup: Duration,
    /// Deleting what it created.
    #[serde(with = "secs")]
    pub cleanup: Duration,
}

/// The run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunFinished {
    /// RFC 3339 end time, stamped by the caller.
    pub end_time: String,
    /// Wall time of the whole run.
    #[serde(with = "secs")]
    pub elapsed: Duration,
    /// The run was stopped (Ctrl-C or SIGTERM) before every test ran: the
    /// tests it did not finish are reported as skipped with that reason.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

/// Durations as fractional seconds, the unit JUnit and people read.
pub(crate) mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}
