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

/// A weighted split judged by Pearson's chi-squared goodness of fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DistributionEvidence {
    /// Significance level of the test.
    pub alpha: f64,
    /// Power the sample size was chosen for.
    pub power: f64,
    /// Samples taken.
    pub n: u64,
    /// Per backend: expected versus observed.
    pub backends: Vec<BackendShare>,
    /// Pearson's chi-squared statistic over the non-zero-weight backends.
    pub chi_squared: f64,
    /// Degrees of freedom.
    pub df: u64,
    /// p-value of the statistic.
    pub p_value: f64,
    /// Smallest share deviation detectable with `power` at this `n`.
    pub detectable_effect: f64,
    /// The verdict (p ≥ α and weight-0 backends got nothing).
    pub passed: bool,
    /// Why it failed (or notes on a pass), one sentence each.
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// One backend in a distribution.
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
    pub observed_count: u64,
    /// Observed share.
    pub observed_share: f64,
    /// Wilson interval lower bound for the observed share.
    pub wilson_lo: f64,
    /// Wilson interval upper bound for the observed share.
    pub wilson_hi: f64,
}

/// The share of traffic refused or dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectionEvidence {
    /// Expected rejected share (the invalid backends' weight share).
    pub expected_reject_share: f64,
    /// Attempts rejected.
    pub rejected: u64,
    /// Attempts made.
    pub total: u64,
    /// Wilson interval lower bound for the rejected share.
    pub wilson_lo: f64,
    /// Wilson interval upper bound for the rejected share.
    pub wilson_hi: f64,
    /// Two-sided exact binomial p-value against the expected share.
    pub p_value: f64,
    /// Significance level.
    pub alpha: f64,
    /// The verdict.
    pub passed: bool,
}

impl RejectionEvidence {
    /// Observed rejected share (0 when nothing was sent).
    pub fn observed_share(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.rejected as f64 / self.total as f64
        }
    }
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
