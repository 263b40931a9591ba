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
pub const SCHEMA_VERSION: u32 = 1;

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
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepOutcome {
    /// The step's expectation held.
    Passed,
    /// The step's expectation did not hold.
    Failed,
    /// The step did not run (e.g. an earlier step failed).
    Skipped,
}

impl StepOutcome {
    /// Lower-case name used in reports and DOM attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Passed => "passed",
            StepOutcome::Failed => "failed",
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
