//! The step vocabulary of a suite file: one typed struct per step kind.
//!
//! In YAML a step is a one-key map (`- tcp: {...}`); [`StepDoc`] reads that
//! shape strictly and [`Step`] is the checked result. `suites/README.md`
//! documents every field here with an example.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::matcher::{ConditionMatch, Duration};

/// One step of a test, after validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    /// Poll an object until a partial match holds.
    Assert(Assert),
    /// A partial match must not appear within a window.
    AssertNever(AssertNever),
    /// Create or update objects.
    Apply(Apply),
    /// Merge-patch one object.
    Patch(Patch),
    /// Delete one object.
    Delete(ObjectRef),
    /// Sleep (only where the spec is about ordering).
    Wait(Wait),
    /// TCP connections through a listener.
    Tcp(Tcp),
    /// UDP datagrams through a listener.
    Udp(Udp),
    /// Weighted split, judged by a chi-squared test.
    Distribution(Distribution),
    /// Weight-proportional rejection, judged by a binomial test.
    Rejection(Rejection),
    /// Every UDP flow stays on one backend.
    FlowAffinity(FlowAffinity),
    /// Time until traffic reflects a change.
    Convergence(Convergence),
    /// Which of the spec's allowed behaviours the implementation took
    /// (later steps run only for theirs, with `if:`).
    Branch(Branch),
}

/// A step with what the suite file says around it: its requirement level
/// (its own or the test's), the spec it traces to when it names its own,
/// and the branch it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestStep {
    /// The step.
    pub step: Step,
    /// Its level: the step's own `level:`, else the test's.
    pub level: reports::Level,
    /// The step's own `spec:` references (empty: the test's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spec: Vec<reports::SpecRef>,
    /// Runs only when an earlier `branch` step saw this branch (`if:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_if: Option<String>,
}

impl Step {
    /// The step's kind as written in YAML (`assert`, `tcp`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Assert(_) => "assert",
            Step::AssertNever(_) => "assertNever",
            Step::Apply(_) => "apply",
            Step::Patch(_) => "patch",
            Step::Delete(_) => "delete",
            Step::Wait(_) => "wait",
            Step::Tcp(_) => "tcp",
            Step::Udp(_) => "udp",
            Step::Distribution(_) => "distribution",
            Step::Rejection(_) => "rejection",
            Step::FlowAffinity(_) => "flowAffinity",
            Step::Convergence(_) => "convergence",
            Step::Branch(_) => "branch",
        }
    }

    /// Whether the step changes the world rather than checks it (its
    /// failure is never a mere warning).
    pub fn is_action(&self) -> bool {
        matches!(
            self,
            Step::Apply(_) | Step::Patch(_) | Step::Delete(_) | Step::Wait(_)
        )
    }
}

/// The YAML shape of a step: exactly one field is set.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct StepDoc {
    pub assert: Option<Assert>,
    pub assert_never: Option<AssertNever>,
    pub apply: Option<Apply>,
    pub patch: Option<Patch>,
    pub delete: Option<ObjectRef>,
    pub wait: Option<Wait>,
    pub tcp: Option<Tcp>,
    pub udp: Option<Udp>,
    pub distribution: Option<Distribution>,
    pub rejection: Option<Rejection>,
    pub flow_affinity: Option<FlowAffinity>,
    pub convergence: Option<Convergence>,
    pub branch: Option<Branch>,
    /// Not a step kind: the step's own requirement level.
    pub level: Option<reports::Level>,
    /// Not a step kind: the step's own spec references.
    pub spec: Option<Vec<SpecRefDoc>>,
    /// Not a step kind: the branch the step belongs to.
    #[serde(rename = "if")]
    pub only_if: Option<String>,
}

/// A `spec:` entry as written: a row id of `spec/requirements.yaml`, or (in
/// your own suites) the requirement itself.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SpecRefDoc {
    /// A registry row id.
    Id(String),
    /// A requirement the registry does not hold.
    Inline(InlineSpec),
}

/// A requirement written out in a suite file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InlineSpec {
    /// Its strength in the text.
    pub level: reports::Level,
    /// Where it is written.
    pub source: String,
    /// The sentence.
    pub quote: String,
}

impl StepDoc {
    /// The one step this document holds, or the names of the keys it has
    /// (empty or more than one) for the error message. `level`, `spec` and
    /// `if` are read by the caller first.
    pub fn into_step(self) -> Result<Step, Vec<&'static str>> {
        let mut found: Vec<(&'static str, Step)> = Vec::new();
        macro_rules! take {
            ($field:ident, $name:literal, $variant:ident) => {
                if let Some(v) = self.$field {
                    found.push(($name, Step::$variant(v)));
                }
            };
        }
        take!(assert, "assert", Assert);
        take!(assert_never, "assertNever", AssertNever);
        take!(apply, "apply", Apply);
        take!(patch, "patch", Patch);
        take!(delete, "delete", Delete);
        take!(wait, "wait", Wait);
        take!(tcp, "tcp", Tcp);
        take!(udp, "udp", Udp);
        take!(distribution, "distribution", Distribution);
        take!(rejection, "rejection", Rejection);
        take!(flow_affinity, "flowAffinity", FlowAffinity);
        take!(convergence, "convergence", Convergence);
        take!(branch, "branch", Branch);
        if found.len() == 1 {
            Ok(found.pop().expect("one element").1)
        } else {
            Err(found.into_iter().map(|(name, _)| name).collect())
        }
    }
}

/// A reference to one object by kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectRef {
    /// Object kind (`Gateway`, `TCPRoute`, `ReferenceGrant`, ...).
    pub kind: String,
    /// Object name.
    pub name: String,
    /// Namespace; defaults to the test's namespace (ignored for cluster-scoped kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Which parent entry of a route's status to look at.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParentSelector {
    /// Gateway name.
    pub name: String,
    /// Gateway namespace; defaults to the route's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Only the entry whose parentRef has this sectionName.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

/// What an `assert` or `assertNever` expects of an object's status.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusMatch {
    /// The object.
    #[serde(flatten)]
    pub object: ObjectRef,
    /// Routes: the parent entry (a Gateway name, or a full selector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRefArg>,
    /// Gateways: match this listener's status instead of the Gateway's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener: Option<String>,
    /// Conditions that must all be present, e.g. `Accepted`,
    /// `ResolvedRefs=False/RefNotPermitted`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ConditionMatch>,
    /// Listeners: `status.listeners[].attachedRoutes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_routes: Option<i64>,
    /// Listeners: the exact set of `supportedKinds` kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_kinds: Option<Vec<String>>,
    /// Listeners: kinds `supportedKinds` must include (it may list more:
    /// an implementation may support kinds of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_kinds_include: Option<Vec<String>>,
    /// Condition type → the prefix its message must start with (e.g.
    /// `{PartiallyInvalid: "Dropped Rule"}`); the condition must be present.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub message_prefix: BTreeMap<String, String>,
    /// Gateways: `status.addresses` must be non-empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_address: Option<bool>,
    /// GatewayClasses: `status.supportedFeatures` must be present and sorted
    /// by name, ascending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_features_sorted: Option<bool>,
    /// Routes: the route must have no status entry for `parent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_parent_entry: Option<bool>,
    /// Require every condition in scope to have `observedGeneration ==
    /// metadata.generation` (default true, as upstream).
    #[serde(default = "default_true")]
    pub current_generation: bool,
    /// `assertNever` only: how long the match must stay absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Duration>,
    /// The TimeoutConfig field bounding the poll; default by kind
    /// (`GatewayMustHaveCondition`, `TCPRouteMustHaveCondition`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

fn default_true() -> bool {
    true
}

/// `parent: my-gateway` or `parent: {name: my-gateway, sectionName: tcp}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ParentRefArg {
    /// Just the Gateway name.
    Name(String),
    /// A full selector.
    Selector(ParentSelector),
}

impl ParentRefArg {
    /// As a selector.
    pub fn selector(&self) -> ParentSelector {
        match self {
            ParentRefArg::Name(name) => ParentSelector {
                name: name.clone(),
                namespace: None,
                section_name: None,
            },
            ParentRefArg::Selector(s) => s.clone(),
        }
    }
}

/// `assert`: poll until the match holds.
pub type Assert = StatusMatch;

/// `assertNever`: the match must not appear within `within` (required).
pub type AssertNever = StatusMatch;

/// `apply`: objects to create or update (multi-document YAML text).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Apply {
    /// The objects, as YAML (templated like the test's manifests).
    pub manifests: String,
}

/// `patch`: a JSON merge patch (RFC 7386) of one object.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Patch {
    /// The object.
    #[serde(flatten)]
    pub object: ObjectRef,
    /// The merge patch, e.g. `{spec: {rules: [...]}}`.
    pub patch: serde_json::Value,
}

/// `wait`: sleep, because the spec is about ordering.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Wait {
    /// How long.
    pub duration: Duration,
    /// Why the test must wait (shown in reports).
    pub reason: String,
}

/// Where traffic goes: a Gateway's address and one listener's port.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Target {
    /// Gateway name.
    pub gateway: String,
    /// Gateway namespace; defaults to the test's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Listener name; its port is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener: Option<String>,
    /// A port, instead of a listener name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// The outcome a traffic step expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ExpectedOutcome {
    /// A reply from a backend.
    Ok,
    /// TCP: refused, reset, or accepted and closed without a byte from any
    /// backend (never answered, never left hanging); UDP: no reply. The
    /// spec's "actively reject".
    Rejected,
    /// Refused on connect (RST to the SYN).
    Refused,
    /// Reset after connect.
    Reset,
    /// Accepted, then closed before a reply (the weakest reading of "actively
    /// reject" that still neither forwards nor hangs; `rejected` includes it).
    ClosedWithoutReply,
    /// Refused or reset (TCP): the RST a client reads as a rejection at
    /// once, gwl4's recommended way to reject.
    RefusedOrReset,
    /// No answer within the request timeout.
    Timeout,
}

/// What a `tcp` or `udp` step expects of each reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expect {
    /// The outcome (default `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ExpectedOutcome>,
    /// The reply must come from this backend (the echo server's `service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The reply must come from one of these backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_in: Option<Vec<String>>,
    /// The backend's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The reply is this fixed text (an echo server started with `--text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// UDP: the reply must come from the address the client sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_from_gateway: Option<bool>,
}

/// What each TCP connection does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TcpMode {
    /// `HELLO`: read the backend's identity.
    #[default]
    Identify,
    /// `ECHO n`: send `payload` bytes, expect them back.
    Echo,
    /// `STREAM`: send `payload` bytes, half-close, expect them all back then EOF.
    Stream,
    /// Read the fixed text a `--text` backend sends on connect.
    Text,
}

/// `tcp`: connections through a listener.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tcp {
    /// Where to connect.
    #[serde(flatten)]
    pub target: Target,
    /// How many connections (default 1); all must meet `expect`.
    #[serde(default = "one")]
    pub connections: u32,
    /// How many at once (default 10).
    #[serde(default = "ten")]
    pub concurrency: u32,
    /// What each connection does.
    #[serde(default)]
    pub mode: TcpMode,
    /// Payload size for `echo` and `stream` (bytes, or `64KiB`, `1MiB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<ByteSize>,
    /// Expectation for every connection.
    #[serde(default)]
    pub expect: Expect,
    /// Poll (every DefaultPollInterval, up to MaxTimeToConsistency) until a
    /// first probe meets `expect`, then run the counted connections (default true).
    #[serde(default = "default_true")]
    pub eventually: bool,
}

/// `udp`: datagrams through a listener.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Udp {
    /// Where to send.
    #[serde(flatten)]
    pub target: Target,
    /// Number of flows (client sockets), default 1.
    #[serde(default = "one")]
    pub flows: u32,
    /// Datagrams per flow, default 1.
    #[serde(default = "one")]
    pub datagrams: u32,
    /// Payload size: a datagram of this many bytes is echoed (default: `HELLO`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<ByteSize>,
    /// Expectation for every datagram.
    #[serde(default)]
    pub expect: Expect,
    /// As for `tcp`.
    #[serde(default = "default_true")]
    pub eventually: bool,
}

/// Which protocol a statistical step drives; default: the listener's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// One sample = one new TCP connection.
    Tcp,
    /// One sample = one new UDP flow (a new source port).
    Udp,
}

/// `distribution`: the split across backends matches the weights.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Distribution {
    /// Where to send.
    #[serde(flatten)]
    pub target: Target,
    /// Protocol (default from the listener).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// Backend (echo `service`) → weight; weight-0 backends must get nothing.
    pub weights: BTreeMap<String, u32>,
    /// Sample count; default from the power rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
    /// Detectable effect (absolute share) for the power rule; default the
    /// run's (0.05). Extreme ratios need a smaller one to mean anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<f64>,
    /// Samples in flight at once (default 10).
    #[serde(default = "ten")]
    pub concurrency: u32,
}

/// `rejection`: the share of rejected connections or flows matches.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rejection {
    /// Where to send.
    #[serde(flatten)]
    pub target: Target,
    /// Protocol (default from the listener).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// Expected rejected share, 0 to 1 (the invalid backends' weight share).
    pub share: f64,
    /// Backends that may answer the rest.
    pub backends: Vec<String>,
    /// Sample count; default from the power rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
    /// Detectable effect (absolute share); default the run's (0.05).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<f64>,
    /// Samples in flight at once (default 10 for TCP; 200 for UDP, where a
    /// dropped datagram costs a one-second wait).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
}

/// `flowAffinity`: K datagrams on each of F flows; every flow stays on one backend.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowAffinity {
    /// Where to send.
    #[serde(flatten)]
    pub target: Target,
    /// Flows (F).
    pub flows: u32,
    /// Datagrams per flow (K).
    pub datagrams: u32,
    /// Backends the flows may land on (all of them, for the test to mean
    /// anything: with one backend every flow trivially sticks).
    pub backends: Vec<String>,
}

/// `convergence`: after a change, time until traffic reflects it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Convergence {
    /// Where to send.
    #[serde(flatten)]
    pub target: Target,
    /// Protocol (default from the listener).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// The state to reach; it must hold for RequiredConsecutiveSuccesses
    /// probes in a row.
    pub expect: Expect,
}

/// `branch`: the spec allows several behaviours; poll until one case's
/// conditions all hold (cases are tried in order at every poll), and record
/// which. Later steps with `if: <case name>` run only for that case.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Branch {
    /// The allowed behaviours, in the order they are tried.
    pub cases: Vec<BranchCase>,
    /// The TimeoutConfig field bounding the poll; default by the first
    /// case's first object, as for `assert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// One allowed behaviour and the status that shows it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BranchCase {
    /// Its name, used by later steps' `if:`.
    pub name: String,
    /// Status matches that must all hold (as for `assert`).
    pub when: Vec<StatusMatch>,
}

/// A byte count: `4096`, `64KiB`, `1MiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => parse_bytes(&s)
                .map(ByteSize)
                .map_err(serde::de::Error::custom),
        }
    }
}

fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid byte size {s:?}: expected e.g. 4096, 64KiB, 1MiB"))?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1024,
        "MiB" => 1024 * 1024,
        "GiB" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "invalid byte size unit {other:?} in {s:?}: use B, KiB, MiB or GiB"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("byte size {s:?} overflows"))
}

fn one() -> u32 {
    1
}

fn ten() -> u32 {
    10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_parse_with_units() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("64KiB"), Ok(65536));
        assert_eq!(parse_bytes("1MiB"), Ok(1 << 20));
        assert!(parse_bytes("1MB").unwrap_err().contains("unit"));
        assert!(parse_bytes("x").is_err());
    }

    #[test]
    fn a_step_must_have_exactly_one_kind() {
        let two: StepDoc = serde_yaml::from_str(
            "{wait: {duration: 1s, reason: r}, delete: {kind: TCPRoute, name: a}}",
        )
        .unwrap();
        assert_eq!(two.into_step().unwrap_err(), vec!["delete", "wait"]);
        let none = StepDoc::default();
        assert!(none.into_step().unwrap_err().is_empty());
    }
}
