//! What a step observed: plain serde data, written into every format.
//!
//! Shares are fractions in 0..=1; latencies are microseconds. The maps are
//! `BTreeMap` so every format lists keys in the same (sorted) order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One piece of evidence from a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Evidence {
    /// Objects' status conditions as observed.
    Conditions(ConditionsEvidence),
    /// Connections or datagrams sent and what became of them.
    Traffic(TrafficEvidence),
    /// A weighted split judged by a goodness-of-fit test.
    Distribution(DistributionEvidence),
    /// The share of traffic refused or dropped, judged against the expected share.
    Rejection(RejectionEvidence),
    /// Time until traffic reflected a change.
    Convergence(ConvergenceEvidence),
    /// Anything else, as text.
    Text(TextEvidence),
}

/// Objects' conditions, one YAML text per object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionsEvidence {
    /// The objects observed.
    pub objects: Vec<ObjectConditions>,
}

/// One object's observed status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectConditions {
    /// Kubernetes kind (e.g. `TCPRoute`).
    pub kind: String,
    /// Namespace; absent for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
    /// The status (or the conditions) as YAML text, as `kubectl get -o yaml` shows it.
    pub yaml: String,
}

impl ObjectConditions {
    /// `Kind namespace/name` (or `Kind name` when cluster-scoped).
    pub fn reference(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {}/{}", self.kind, ns, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// Traffic sent through the gateway and what happened to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficEvidence {
    /// Connections or datagrams attempted.
    pub attempts: u64,
    /// Counts per outcome (`ok`, `refused`, `reset`, `closedWithoutReply`,
    /// `timeout`, `unreachable`, `mismatch`, ...).
    pub outcomes: BTreeMap<String, u64>,
    /// Counts per backend that answered.
    pub backends: BTreeMap<String, u64>,
    /// A few example attempts, to show what the outcomes looked like.
    #[serde(default)]
    pub examples: Vec<TrafficExample>,
    /// Latency of successful attempts, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencySummary>,
    /// UDP probes: how many datagrams they took, and what was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp: Option<UdpTries>,
}

/// The sends behind a step's UDP probes. UDP is lossy: a probe resends its
/// datagram when no reply comes (200 ms, then 400 ms, then 800 ms later),
/// so a lost datagram costs a resend, not a verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UdpTries {
    /// Datagrams sent, resends included.
    pub sent: u64,
    /// Probes that needed more than one send before a reply (or the end of
    /// their window).
    pub resent_probes: u64,
    /// Probes that expected a reply and got none after every send.
    pub unanswered: u64,
    /// The most sends a probe may make.
    pub max_tries: u32,
}

/// One attempt, as an example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficExample {
    /// Outcome name (as in [`TrafficEvidence::outcomes`]).
    pub outcome: String,
    /// Client-side address used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// Address the client sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// Backend that answered, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// What happened, e.g. the error or the unexpected reply.
    pub detail: String,
}

/// Latency percentiles and a histogram, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencySummary {
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Slowest.
    pub max_us: u64,
    /// Histogram buckets in increasing order of upper bound.
    #[serde(default)]
    pub buckets: Vec<HistogramBucket>,
}

/// Samples at or below `le_us` and above the previous bucket's bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistogramBucket {
    /// Inclusive upper bound in microseconds.
    pub le_us: u64,
    /// Samples in this bucket.
    pub count: u64,
}

/// A Wilson score interval for a share, `lo ≤ hi`, both in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interval {
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
}

/// A weighted split judged by Pearson's chi-squared goodness of fit.
///
/// Serialised exactly as the `stats` crate's `DistributionVerdict`, so the
/// harness can pass a verdict through serde unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DistributionEvidence {
    /// Significance level of the test.
    pub alpha: f64,
    /// Power the sample size was planned for.
    pub power: f64,
    /// Effect (absolute share) the sample size was planned to detect.
    pub effect: f64,
    /// Samples observed, on any backend.
    pub n: u64,
    /// Per weighted backend: expected versus observed.
    pub backends: Vec<BackendShare>,
    /// Backends that received samples but are not in the weights.
    #[serde(default)]
    pub unexpected: Vec<UnexpectedBackend>,
    /// Pearson's statistic over the non-zero-weight backends (absent when no test ran).
    pub chi_squared: Option<f64>,
    /// Degrees of freedom.
    pub df: u32,
    /// p-value of the statistic (absent when no test ran).
    pub p_value: Option<f64>,
    /// Smallest single-backend shift detectable with `power` at this `n`.
    pub detectable_effect: Option<f64>,
    /// The exact verdict (p > α and weight-0 backends got nothing): gwl4's
    /// recommendation and the spec's should.
    pub passed: bool,
    /// Why the exact verdict failed, one sentence per rule broken.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The subset of `reasons` about weight-0 backends receiving samples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zero_weight_reasons: Vec<String>,
    /// The `must` verdict (shares within the spec's tolerance); absent in
    /// records from before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<ToleranceEvidence>,
    /// Remarks that do not fail the step.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The `must` verdict of a split: no share significantly farther from its
/// weight than the spec's epsilon (upstream's ±5 points; a weight-0
/// backend: 0.5%).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToleranceEvidence {
    /// How far a share may be from its weight's (absolute).
    pub tolerance: f64,
    /// The share a weight-0 backend may get.
    pub zero_weight_tolerance: f64,
    /// Whether every share was within its tolerance.
    pub passed: bool,
    /// One sentence per share that was not.
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// One weighted backend in a distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendShare {
    /// Backend name.
    pub name: String,
    /// Weight in the route.
    pub weight: u32,
    /// Expected share (weight over total weight).
    pub expected_share: f64,
    /// Expected sample count.
    pub expected_count: f64,
    /// Observed sample count.
    pub observed: u64,
    /// Observed share.
    pub share: f64,
    /// Wilson interval for the true share.
    pub wilson: Interval,
}

/// Samples that landed on a backend not in the weights at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnexpectedBackend {
    /// The name samples reported.
    pub name: String,
    /// How many samples landed there.
    pub observed: u64,
}

/// The share of traffic refused or dropped.
///
/// Serialised exactly as the `stats` crate's `RejectionVerdict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectionEvidence {
    /// Significance level.
    pub alpha: f64,
    /// Power the sample size was planned for.
    pub power: f64,
    /// Effect (absolute share) the sample size was planned to detect.
    pub effect: f64,
    /// Expected rejected share (the invalid backends' weight share).
    pub expected_share: f64,
    /// `total · expected_share`.
    pub expected_count: f64,
    /// Attempts rejected.
    pub rejected: u64,
    /// Attempts made.
    pub total: u64,
    /// Observed rejected share.
    pub share: f64,
    /// Wilson interval for the true rejected share.
    pub wilson: Interval,
    /// Two-sided exact binomial p-value (absent when the rule is exact or nothing was sent).
    pub p_value: Option<f64>,
    /// Smallest departure from the expected share detectable at this n.
    pub detectable_effect: Option<f64>,
    /// The exact verdict (the binomial test at 0 < share < 1: gwl4's
    /// recommendation).
    pub passed: bool,
    /// Why it failed.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The `must` verdict; absent in records from before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<ToleranceEvidence>,
}

/// Time until traffic reflected a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConvergenceEvidence {
    /// Seconds until converged (or until giving up).
    pub seconds: f64,
    /// The bound (MaxTimeToConsistency), seconds.
    pub bound: f64,
    /// Whether traffic converged within the bound.
    pub converged: bool,
}

/// Free text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TextEvidence {
    /// The text.
    pub text: String,
}
