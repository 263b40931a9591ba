//! A fixed run used by the snapshot, parse and browser tests: passes,
//! failures, a pass with a warning, a skip and a not-supported test, with conditions, traffic,
//! latency, distribution, rejection and convergence evidence.

#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;
use std::time::Duration;

use reports::*;

fn s(v: &str) -> String {
    v.to_owned()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

pub fn run_started() -> RunStarted {
    RunStarted {
        schema_version: SCHEMA_VERSION,
        run_id: s("run-fixture-1"),
        start_time: s("2026-11-26T06:00:00Z"),
        gwl4_version: s("0.1.0"),
        mode: Mode::Local,
        conformance_mode: s("default"),
        gateway_class: s("gwl4-reference"),
        implementation: Implementation {
            organization: s("gwl4"),
            project: s("reference-gateway"),
            url: s("https://github.com/gwl4/gwl4"),
            version: s("v0.1.0"),
            contact: strings(&["@gwl4/maintainers"]),
        },
        gateway_api_version: s("v1.6.1"),
        gateway_api_channel: s("standard"),
        settings: RunSettings {
            alpha: 0.001,
            power: 0.99,
            detectable_effect: 0.05,
            family_wise_bound: 0.01,
            timeouts: BTreeMap::from([
                (s("DefaultTestTimeout"), 60.0),
                (s("MaxTimeToConsistency"), 30.0),
                (s("RequestTimeout"), 10.0),
            ]),
            profiles: strings(&["GATEWAY-TCP", "GATEWAY-UDP"]),
            supported_features: strings(&[
                "Gateway",
                "GatewayStaticAddresses",
                "TCPRoute",
                "UDPRoute",
            ]),
        },
    }
}

fn start(
    name: &str,
    description: &str,
    features: &[&str],
    upstream: bool,
    provisional: bool,
) -> TestEvent {
    TestEvent::TestStarted(TestStarted {
        name: s(name),
        description: s(description),
        features: strings(features),
        upstream: upstream.then(|| s(name)),
        provisional,
        level: Level::Must,
        spec: vec![SpecRef {
            id: Some(s("tcproute-rule-backendrefs-weight")),
            level: Level::Must,
            source: s("apis/v1/tcproute_types.go TCPRouteRule.BackendRefs"),
            quote: s(
                "Connection rejections must respect weight; if an invalid backend is requested to have 80% of the connections, then 80% of connections must be rejected instead.",
            ),
        }],
    })
}

fn step(
    test: &str,
    index: usize,
    kind: &str,
    summary: &str,
    outcome: StepOutcome,
    ms: u64,
    evidence: Vec<Evidence>,
) -> TestEvent {
    TestEvent::StepFinished(StepFinished {
        test: s(test),
        step: StepRecord {
            index,
            kind: s(kind),
            summary: s(summary),
            outcome,
            level: Level::Must,
            spec: Vec::new(),
            elapsed: Duration::from_millis(ms),
            evidence,
        },
    })
}

/// A `recommended` step that missed: a warning.
fn warned_step(test: &str, index: usize, summary: &str, evidence: Vec<Evidence>) -> TestEvent {
    let mut e = step(
        test,
        index,
        "tcp",
        summary,
        StepOutcome::Warned,
        95,
        evidence,
    );
    if let TestEvent::StepFinished(f) = &mut e {
        f.step.level = Level::Recommended;
        f.step.spec = vec![SpecRef {
            id: Some(s("gwl4-reject-by-refusal-or-reset")),
            level: Level::Recommended,
            source: s("gwl4"),
            quote: s(
                "A connection to an invalid backend is best refused or reset, so the client knows at once.",
            ),
        }];
    }
    e
}

fn finish(test: &str, result: TestResult, ms: u64) -> TestEvent {
    TestEvent::TestFinished(TestFinished {
        test: s(test),
        result,
        elapsed: Duration::from_millis(ms),
        timing: None,
    })
}

fn conditions(kind: &str, name: &str, yaml: &str) -> Evidence {
    Evidence::Conditions(ConditionsEvidence {
        objects: vec![ObjectConditions {
            kind: s(kind),
            namespace: Some(s("gateway-conformance-infra")),
            name: s(name),
            yaml: s(yaml),
        }],
    })
}

const ACCEPTED_YAML: &str = "parents:\n- parentRef:\n    name: weighted-gw\n  controllerName: gwl4.dev/reference-gateway\n  conditions:\n  - type: Accepted\n    status: \"True\"\n    reason: Accepted\n    observedGeneration: 1\n  - type: ResolvedRefs\n    status: \"True\"\n    reason: ResolvedRefs\n    observedGeneration: 1\n";

fn backend(
    name: &str,
    weight: u32,
    expected: f64,
    n: u64,
    observed: u64,
    lo: f64,
    hi: f64,
) -> BackendShare {
    BackendShare {
        name: s(name),
        weight,
        expected_share: expected,
        expected_count: expected * n as f64,
        observed,
        share: observed as f64 / n as f64,
        wilson: Interval { lo, hi },
    }
}

fn distribution(
    backends: Vec<BackendShare>,
    n: u64,
    chi: f64,
    p: f64,
    passed: bool,
    reasons: &[&str],
) -> Evidence {
    Evidence::Distribution(DistributionEvidence {
        alpha: 0.001,
        power: 0.99,
        effect: 0.05,
        n,
        backends,
        unexpected: vec![],
        chi_squared: Some(chi),
        df: 1,
        p_value: Some(p),
        detectable_effect: Some(0.047),
        passed,
        reasons: strings(reasons),
        zero_weight_reasons: vec![],
        tolerance: Some(ToleranceEvidence {
            tolerance: 0.05,
            zero_weight_tolerance: 0.005,
            passed,
            reasons: if passed {
                vec![]
            } else {
                strings(&["backend \"udp-v3\" has weight 0: 333 of 1000 samples"])
            },
        }),
        notes: vec![],
    })
}

fn traffic(
    attempts: u64,
    outcomes: &[(&str, u64)],
    backends: &[(&str, u64)],
    examples: Vec<TrafficExample>,
    latency: bool,
) -> Evidence {
    Evidence::Traffic(TrafficEvidence {
        udp: None,
        attempts,
        outcomes: outcomes.iter().map(|(k, v)| (s(k), *v)).collect(),
        backends: backends.iter().map(|(k, v)| (s(k), *v)).collect(),
        examples,
        latency: latency.then(|| LatencySummary {
            p50_us: 180,
            p90_us: 320,
            p99_us: 900,
            p999_us: 2400,
            max_us: 3100,
            buckets: [(100, 12), (250, 61), (500, 20), (1000, 5), (5000, 2)]
                .iter()
                .map(|(le_us, count)| HistogramBucket {
                    le_us: *le_us,
                    count: *count,
                })
                .collect(),
        }),
    })
}

/// UDP probes' sends: 19 answered (2 after a resend), 1 never.
fn with_udp(mut e: Evidence) -> Evidence {
    if let Evidence::Traffic(t) = &mut e {
        t.udp = Some(UdpTries {
            sent: 25,
            resent_probes: 3,
            unanswered: 1,
            max_tries: 4,
        });
    }
    e
}

/// The whole fixed run, in emission order.
pub fn events() -> Vec<TestEvent> {
    use StepOutcome::{Failed, Passed, Skipped};
    let mut ev = vec![TestEvent::RunStarted(Box::new(run_started()))];

    let t = "TCPRouteWeightedRouting";
    ev.push(start(t, "New TCP connections are split across backendRefs in proportion to weight; a weight-0 backend receives none.", &["Gateway", "TCPRoute"], true, true));
    ev.push(step(
        t,
        0,
        "assert",
        "TCPRoute weighted Accepted=True",
        Passed,
        412,
        vec![conditions("TCPRoute", "weighted", ACCEPTED_YAML)],
    ));
    ev.push(step(
        t,
        1,
        "tcp",
        "100 connections echoed by tcp-v1 or tcp-v2",
        Passed,
        1250,
        vec![traffic(
            100,
            &[("ok", 100)],
            &[("tcp-v1", 71), ("tcp-v2", 29)],
            vec![],
            true,
        )],
    ));
    ev.push(step(
        t,
        2,
        "distribution",
        "1000 connections split 70/30/0",
        Passed,
        5125,
        vec![distribution(
            vec![
                backend("tcp-v1", 70, 0.7, 1000, 702, 0.6533, 0.7466),
                backend("tcp-v2", 30, 0.3, 1000, 298, 0.2534, 0.3467),
                backend("tcp-v3", 0, 0.0, 1000, 0, 0.0, 0.0107),
            ],
            1000,
            0.019,
            0.8903,
            true,
            &[],
        )],
    ));
    ev.push(finish(t, TestResult::Passed, 7001));

    let t = "UDPRouteWeightedRouting";
    ev.push(start(t, "New UDP flows are split across backendRefs in proportion to weight; a weight-0 backend receives none.", &["Gateway", "UDPRoute"], true, true));
    ev.push(step(
        t,
        0,
        "assert",
        "UDPRoute weighted Accepted=True",
        Passed,
        380,
        vec![],
    ));
    ev.push(step(
        t,
        1,
        "distribution",
        "1000 flows split 70/30/0",
        Failed,
        6250,
        vec![distribution(
            vec![
                backend("udp-v1", 70, 0.7, 1000, 334, 0.2896, 0.3816),
                backend("udp-v2", 30, 0.3, 1000, 333, 0.2887, 0.3806),
                backend("udp-v3", 0, 0.0, 1000, 333, 0.2887, 0.3806),
            ],
            1000,
            455.3,
            3.2e-101,
            false,
            &[
                "chi-squared p = 3.20e-101 < alpha = 0.001: shares do not follow the weights",
                "weight-0 backend udp-v3 received 333 samples",
            ],
        )],
    ));
    ev.push(finish(t, TestResult::Failed { message: s("distribution: shares do not follow weights 70/30/0 (p = 3.20e-101); weight-0 backend udp-v3 received 333 samples") }, 6900));

    let t = "TCPRouteMultipleRoutesAttachment";
    ev.push(start(t, "Several TCPRoutes may attach to one listener; all are Accepted, attachedRoutes counts them, and the oldest route receives the traffic.", &["Gateway", "TCPRoute"], true, false));
    ev.push(step(t, 0, "assert", "listener tcp attachedRoutes == 2", Failed, 30000, vec![conditions("Gateway", "multi-gw", "listeners:\n- name: tcp\n  attachedRoutes: 1\n  conditions:\n  - type: Accepted\n    status: \"True\"\n    reason: Accepted\n")]));
    ev.push(step(
        t,
        1,
        "tcp",
        "100 connections must all reach tcp-attach-backend-1",
        Skipped,
        0,
        vec![],
    ));
    ev.push(finish(t, TestResult::Failed { message: s("Gateway gateway-conformance-infra/multi-gw listener tcp: attachedRoutes is 1, expected 2 (after 30 s)") }, 30200));

    let t = "TCPRouteInvalidBackendRejection";
    ev.push(start(t, "Connections routed to an invalid backendRef are rejected in proportion to its weight; the valid share is served.", &["Gateway", "TCPRoute"], false, false));
    ev.push(step(
        t,
        0,
        "assert",
        "TCPRoute half-invalid ResolvedRefs=False/BackendNotFound",
        Passed,
        350,
        vec![],
    ));
    ev.push(step(
        t,
        1,
        "rejection",
        "1000 connections, half to a missing Service",
        Passed,
        4100,
        vec![Evidence::Rejection(RejectionEvidence {
            alpha: 0.001,
            power: 0.99,
            effect: 0.05,
            expected_share: 0.5,
            expected_count: 500.0,
            rejected: 493,
            total: 1000,
            share: 0.493,
            wilson: Interval {
                lo: 0.4410,
                hi: 0.5451,
            },
            p_value: Some(0.6821),
            detectable_effect: Some(0.061),
            passed: true,
            reasons: vec![],
            tolerance: None,
        })],
    ));
    ev.push(finish(t, TestResult::Passed, 4500));

    let t = "TCPRouteNonexistentBackendRejectsConnections";
    ev.push(start(
        t,
        "Connections to a route whose only backend does not exist are actively rejected.",
        &["Gateway", "TCPRoute"],
        false,
        false,
    ));
    ev.push(step(
        t,
        0,
        "tcp",
        "20 tcp connection(s) must be rejected",
        Passed,
        120,
        vec![traffic(
            20,
            &[("closedWithoutReply", 20)],
            &[],
            vec![],
            false,
        )],
    ));
    ev.push(warned_step(
        t,
        1,
        "20 tcp connection(s) must be refusedOrReset — WARNING: 20 of 20 probes missed the expectation; first: closedWithoutReply",
        vec![traffic(20, &[("closedWithoutReply", 20)], &[], vec![], false)],
    ));
    ev.push(finish(
        t,
        TestResult::Warned {
            message: s("step 2 (tcp, recommended: 20 tcp connection(s) must be refusedOrReset): 20 of 20 probes missed the expectation; first: closedWithoutReply"),
        },
        300,
    ));

    let t = "UDPRouteReferenceGrant";
    ev.push(start(t, "A UDPRoute may reference a Service in another namespace only while a ReferenceGrant permits it.", &["Gateway", "UDPRoute", "ReferenceGrant"], true, true));
    ev.push(finish(
        t,
        TestResult::NotSupported {
            missing_features: strings(&["ReferenceGrant"]),
        },
        0,
    ));

    let t = "TCPRouteParentRefAttachAll";
    ev.push(start(
        t,
        "A parentRef without port or sectionName attaches to every TCP listener.",
        &["Gateway", "TCPRoute"],
        true,
        true,
    ));
    ev.push(finish(
        t,
        TestResult::Skipped {
            reason: s("excluded by --skip-tests"),
        },
        0,
    ));

    let t = "GatewayStaticAddresses";
    ev.push(start(
        t,
        "A Gateway requesting a static address is bound there and reports it in status.addresses.",
        &["Gateway", "GatewayStaticAddresses"],
        true,
        false,
    ));
    ev.push(step(
        t,
        0,
        "assert",
        "Gateway static-gw addresses contain 127.0.1.200",
        Passed,
        600,
        vec![],
    ));
    ev.push(finish(t, TestResult::Passed, 800));

    let t = "TutorialTcpAndUdp";
    ev.push(start(t, "The tutorial: a Gateway with TCP 9000 and UDP 9001 listeners routes to echo backends, then a 50/50 split to v2 takes effect.", &["Gateway", "TCPRoute", "UDPRoute"], false, false));
    ev.push(step(
        t,
        0,
        "apply",
        "TCPRoute tutorial-tcp now splits 50/50 to tcp-echo-v2",
        Passed,
        40,
        vec![Evidence::Text(TextEvidence {
            text: s("tcproute.gateway.networking.k8s.io/tutorial-tcp configured"),
        })],
    ));
    ev.push(step(
        t,
        1,
        "convergence",
        "traffic reaches tcp-echo-v2",
        Passed,
        2300,
        vec![Evidence::Convergence(ConvergenceEvidence {
            seconds: 2.3,
            bound: 30.0,
            converged: true,
        })],
    ));
    ev.push(step(
        t,
        2,
        "udp",
        "20 datagrams on one flow answered by udp-echo",
        Passed,
        210,
        vec![with_udp(traffic(
            20,
            &[("ok", 19), ("timeout", 1)],
            &[("udp-echo", 19)],
            vec![TrafficExample {
                outcome: s("timeout"),
                local: Some(s("127.0.0.1:40512")),
                remote: Some(s("127.0.1.9:9001")),
                backend: None,
                detail: s("no reply within 2 s (4 sends)"),
            }],
            false,
        ))],
    ));
    ev.push(finish(t, TestResult::Passed, 3100));

    ev.push(TestEvent::RunFinished(RunFinished {
        end_time: s("2026-11-26T06:04:12Z"),
        elapsed: Duration::from_millis(252_500),
        interrupted: false,
    }));
    ev
}

/// The fixed run folded.
pub fn record() -> RunRecord {
    RunRecord::from_events(&events()).expect("the fixture is a valid event stream")
}
