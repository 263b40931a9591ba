//! Unit tests of the ConformanceReport counting rules.

use std::time::Duration;

use super::*;
use crate::event::{
    Implementation, Mode, RunSettings, RunStarted, SCHEMA_VERSION, TestEvent, TestFinished,
    TestResult, TestStarted,
};

fn run(supported: &[&str], profiles: &[&str]) -> RunStarted {
    RunStarted {
        schema_version: SCHEMA_VERSION,
        run_id: "r".into(),
        start_time: "2026-01-01T00:00:00Z".into(),
        gwl4_version: "0.1.0".into(),
        mode: Mode::Local,
        conformance_mode: "default".into(),
        gateway_class: "gc".into(),
        implementation: Implementation::default(),
        gateway_api_version: "v1.6.1".into(),
        gateway_api_channel: "standard".into(),
        settings: RunSettings {
            supported_features: supported.iter().map(|s| (*s).to_owned()).collect(),
            profiles: profiles.iter().map(|s| (*s).to_owned()).collect(),
            ..RunSettings::default()
        },
    }
}

/// (gwl4 name, upstream name, features, provisional, result)
type Case<'a> = (
    &'a str,
    Option<&'a str>,
    &'a [&'a str],
    bool,
    Option<TestResult>,
);

fn record(supported: &[&str], profiles: &[&str], cases: &[Case]) -> RunRecord {
    let mut events = vec![TestEvent::RunStarted(Box::new(run(supported, profiles)))];
    for (name, upstream, features, provisional, result) in cases {
        events.push(TestEvent::TestStarted(TestStarted {
            name: (*name).into(),
            description: "rule".into(),
            features: features.iter().map(|s| (*s).to_owned()).collect(),
            upstream: upstream.map(str::to_owned),
            provisional: *provisional,
            level: crate::event::Level::Must,
            spec: Vec::new(),
        }));
        if let Some(result) = result {
            events.push(TestEvent::TestFinished(TestFinished {
                test: (*name).into(),
                result: result.clone(),
                elapsed: Duration::from_secs(1),
                timing: None,
            }));
        }
    }
    RunRecord::from_events(&events).unwrap()
}

const TCP: &[&str] = &["Gateway", "TCPRoute"];
const UDP: &[&str] = &["Gateway", "UDPRoute"];
const TCP_STATIC: &[&str] = &["Gateway", "TCPRoute", "GatewayStaticAddresses"];

fn failed() -> Option<TestResult> {
    Some(TestResult::Failed {
        message: "boom".into(),
    })
}
fn skipped() -> Option<TestResult> {
    Some(TestResult::Skipped {
        reason: "asked".into(),
    })
}
fn not_supported() -> Option<TestResult> {
    Some(TestResult::NotSupported {
        missing_features: vec!["X".into()],
    })
}
const PASSED: Option<TestResult> = Some(TestResult::Passed);

fn profile_named<'a>(r: &'a ConformanceReport, name: &str) -> &'a ProfileReport {
    r.profiles.iter().find(|p| p.name == name).unwrap()
}

#[test]
fn all_passed_is_success() {
    let r = conformance_report(&record(
        &[],
        &[],
        &[
            ("A", Some("A"), TCP, false, PASSED),
            ("B", Some("B"), TCP, true, PASSED),
        ],
    ));
    let tcp = profile_named(&r, "GATEWAY-TCP");
    assert_eq!(tcp.core.result, ConformanceResult::Success);
    assert_eq!(
        tcp.core.statistics,
        Statistics {
            passed: 2,
            failed: 0,
            skipped: 0
        }
    );
    assert_eq!(tcp.summary, "Core tests succeeded.");
    assert!(tcp.extended.is_none());
    assert_eq!(r.succeeded_provisional_tests, ["B"]);
    // No UDP test ran, so no UDP profile report, as upstream.
    assert_eq!(r.profiles.len(), 1);
}

#[test]
fn any_failure_is_failure_even_with_skips() {
    let r = conformance_report(&record(
        &[],
        &[],
        &[
            ("A", Some("A"), TCP, false, failed()),
            ("B", Some("B"), TCP, false, skipped()),
            ("C", Some("C"), TCP, false, PASSED),
        ],
    ));
    let core = &profile_named(&r, "GATEWAY-TCP").core;
    assert_eq!(core.result, ConformanceResult::Failure);
    assert_eq!(
        core.statistics,
        Statistics {
            passed: 1,
            failed: 1,
            skipped: 1
        }
    );
    assert_eq!(core.failed_tests, ["A"]);
    assert_eq!(core.skipped_tests, ["B"]);
}

#[test]
fn skips_without_failures_are_partial() {
    let r = conformance_report(&record(
        &[],
        &[],
        &[
            ("A", Some("A"), UDP, false, skipped()),
            ("B", Some("B"), UDP, false, PASSED),
        ],
    ));
    let udp = profile_named(&r, "GATEWAY-UDP");
    assert_eq!(udp.core.result, ConformanceResult::Partial);
    assert_eq!(
        udp.summary,
        "Core tests partially succeeded with 1 test skips."
    );
}

#[test]
fn not_supported_and_provisional_skipped_are_not_counted_but_failed_provisional_is() {
    let r = conformance_report(&record(
        &[],
        &[],
        &[
            ("A", Some("A"), TCP, false, not_supported()),
            ("B", Some("B"), TCP, true, skipped()),
            ("C", Some("C"), TCP, true, failed()),
            ("D", Some("D"), TCP, false, PASSED),
        ],
    ));
    let core = &profile_named(&r, "GATEWAY-TCP").core;
    assert_eq!(
        core.statistics,
        Statistics {
            passed: 1,
            failed: 1,
            skipped: 0
        }
    );
    assert_eq!(core.failed_tests, ["C"]);
    assert!(core.skipped_tests.is_empty());
    assert!(r.succeeded_provisional_tests.is_empty());
}

#[test]
fn gwl4_only_tests_do_not_count() {
    let r = conformance_report(&record(
        &[],
        &[],
        &[
            ("Mine", None, TCP, false, failed()),
            ("A", Some("A"), TCP, false, PASSED),
        ],
    ));
    assert_eq!(
        profile_named(&r, "GATEWAY-TCP").core.result,
        ConformanceResult::Success
    );
}

#[test]
fn extended_tests_get_their_own_status_and_feature_lists() {
    let r = conformance_report(&record(
        &["Gateway", "TCPRoute", "GatewayStaticAddresses"],
        &["GATEWAY-TCP"],
        &[
            ("A", Some("A"), TCP, false, PASSED),
            ("S", Some("S"), TCP_STATIC, false, skipped()),
        ],
    ));
    let tcp = profile_named(&r, "GATEWAY-TCP");
    assert_eq!(tcp.core.result, ConformanceResult::Success);
    let ext = tcp.extended.as_ref().unwrap();
    assert_eq!(ext.status.result, ConformanceResult::Partial);
    assert_eq!(ext.status.skipped_tests, ["S"]);
    assert_eq!(
        ext.supported_features,
        ["GatewayStaticAddresses", "TCPRoute"]
    );
    assert!(
        ext.unsupported_features
            .contains(&"GatewayPort8080".to_owned())
    );
    assert_eq!(
        tcp.summary,
        "Core tests succeeded. Extended tests partially succeeded with 1 test skips."
    );
}

#[test]
fn gateway_only_tests_count_in_every_selected_profile() {
    let gw: &[&str] = &["Gateway"];
    let both = conformance_report(&record(&[], &[], &[("G", Some("G"), gw, false, failed())]));
    assert_eq!(both.profiles.len(), 2);
    assert!(
        both.profiles
            .iter()
            .all(|p| p.core.result == ConformanceResult::Failure)
    );
    let udp_only = conformance_report(&record(
        &[],
        &["GATEWAY-UDP"],
        &[("G", Some("G"), gw, false, PASSED)],
    ));
    assert_eq!(udp_only.profiles.len(), 1);
    assert_eq!(udp_only.profiles[0].name, "GATEWAY-UDP");
}

#[test]
fn unfinished_tests_count_as_failed_and_merged_names_take_the_worst() {
    let r = conformance_report(&record(
        &[],
        &[],
        &[
            ("Interrupted", Some("I"), TCP, false, None),
            ("PartOne", Some("M"), TCP, false, PASSED),
            ("PartTwo", Some("M"), TCP, false, failed()),
        ],
    ));
    let core = &profile_named(&r, "GATEWAY-TCP").core;
    assert_eq!(
        core.statistics,
        Statistics {
            passed: 0,
            failed: 2,
            skipped: 0
        }
    );
    assert_eq!(core.failed_tests, ["I", "M"]);
}

#[test]
fn a_report_needs_every_implementation_field_and_a_real_url() {
    let good = Implementation {
        organization: "o".into(),
        project: "p".into(),
        url: "https://example.org/p".into(),
        version: "v1".into(),
        contact: vec!["@o".into()],
    };
    assert!(validate_implementation(&good).is_ok());
    let err = |imp: Implementation| validate_implementation(&imp).unwrap_err().to_string();
    assert_eq!(
        err(Implementation {
            organization: String::new(),
            ..good.clone()
        }),
        "ConformanceReport: implementation.organization is empty; set it with --organization"
    );
    assert!(
        err(Implementation {
            url: "example.org".into(),
            ..good.clone()
        })
        .contains("not an absolute http(s) URL")
    );
    assert!(
        err(Implementation {
            url: "https://".into(),
            ..good.clone()
        })
        .contains("url")
    );
    assert!(
        err(Implementation {
            contact: vec![],
            ..good.clone()
        })
        .contains("--contact")
    );

    // The writer refuses, naming the field; nothing is written.
    let dir = std::env::temp_dir().join(format!("gwl4-reports-{}", std::process::id()));
    let path = dir.join("report.yaml");
    let r = record(&[], &[], &[("A", Some("A"), TCP, false, PASSED)]);
    let e = write_conformance_report(&r, &path).unwrap_err();
    assert!(e.to_string().contains("implementation.organization"), "{e}");
    assert!(!path.exists());
}

/// A failed test whose one failed step had `level`.
fn failed_at(record: &mut RunRecord, test: &str, level: crate::event::Level) {
    use crate::event::{StepFinished, StepOutcome, StepRecord};
    let step = StepRecord {
        index: 0,
        kind: "tcp".into(),
        summary: "s".into(),
        outcome: StepOutcome::Failed,
        level,
        spec: Vec::new(),
        elapsed: Duration::ZERO,
        evidence: Vec::new(),
    };
    // Insert the step before the verdict, as the runner emits them.
    let t = record
        .tests
        .iter_mut()
        .find(|t| t.info.name == test)
        .unwrap();
    t.steps.push(
        StepFinished {
            test: test.into(),
            step,
        }
        .step,
    );
}

#[test]
fn only_musts_decide_a_result() {
    use crate::event::Level;
    let warned = Some(TestResult::Warned {
        message: "step 2 (tcp, recommended): refused".into(),
    });
    let mut r = record(
        &[],
        &[],
        &[
            ("Warned", Some("Warned"), TCP, false, warned),
            ("StrictOnly", Some("StrictOnly"), TCP, false, failed()),
            ("Must", Some("Must"), TCP, false, failed()),
        ],
    );
    failed_at(&mut r, "StrictOnly", Level::Recommended);
    failed_at(&mut r, "Must", Level::Must);
    let tcp = profile_named(&conformance_report(&r), "GATEWAY-TCP").clone();
    assert_eq!(
        tcp.core.statistics,
        Statistics {
            passed: 2,
            failed: 1,
            skipped: 0
        }
    );
    assert_eq!(tcp.core.failed_tests, ["Must"]);
}
