//! JUnit XML for CI test summaries (quick-junit).
//!
//! One `<testsuite>` per upstream profile, plus [`GWL4_SUITE`] for tests in no
//! profile. A test that belongs to several profiles (a protocol-agnostic
//! Gateway test) is listed once, in the first of them, with a `profiles`
//! property naming all: CI summaries then count every test exactly once.
//! Failures carry their evidence as text; not-supported and skipped tests
//! are `<skipped>` with the reason; a test that never finished is an
//! `<error>`. A test that passed with warnings (a `should` or `recommended`
//! step missed) is a passing `<testcase>`: JUnit has no warning status and
//! GitHub's JUnit reporters count only failures, errors and skips, so the
//! warning goes in a `warning` property (one line per warned step) and the
//! warned steps' evidence in `<system-out>`, where a reader looking at the
//! test finds it. Every suite carries the run's implementation and settings as
//! properties.

use std::io::Write;
use std::path::Path;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::ReportError;
use crate::event::{StepOutcome, TestResult};
use crate::profiles::{GWL4_SUITE, PROFILES};
use crate::record::{RunRecord, TestRecord};
use crate::text;

/// The JUnit suite a test is listed in.
pub fn suite_of(test: &TestRecord) -> &'static str {
    test.profiles().first().copied().unwrap_or(GWL4_SUITE)
}

/// The run as a JUnit report.
pub fn junit_report(record: &RunRecord) -> Report {
    let mut report = Report::new(format!("gwl4 {}", record.run.run_id));
    if let Ok(ts) = chrono::DateTime::parse_from_rfc3339(&record.run.start_time) {
        report.set_timestamp(ts);
    }
    if let Some(finished) = &record.finished {
        report.set_time(finished.elapsed);
    }
    let properties = run_properties(record);
    let names = PROFILES.iter().map(|p| p.name).chain([GWL4_SUITE]);
    for name in names {
        let tests: Vec<&TestRecord> = record
            .tests
            .iter()
            .filter(|t| suite_of(t) == name)
            .collect();
        if tests.is_empty() {
            continue;
        }
        let mut suite = TestSuite::new(name);
        suite.add_properties(properties.clone());
        let mut time = std::time::Duration::ZERO;
        for test in tests {
            time += test.elapsed.unwrap_or_default();
            suite.add_test_case(test_case(name, test));
        }
        suite.set_time(time);
        report.add_test_suite(suite);
    }
    report
}

/// The run as JUnit XML text.
pub fn junit_string(record: &RunRecord) -> Result<String, ReportError> {
    junit_report(record)
        .to_string()
        .map_err(|e| ReportError::Junit(e.to_string()))
}

/// Writes `junit.xml`-style output to `path`.
pub fn write_junit(record: &RunRecord, path: &Path) -> Result<(), ReportError> {
    let xml = junit_string(record)?;
    let mut file = std::fs::File::create(path).map_err(|e| ReportError::io(path, e))?;
    file.write_all(xml.as_bytes())
        .map_err(|e| ReportError::io(path, e))
}

fn test_case(suite: &str, test: &TestRecord) -> TestCase {
    let status = match &test.result {
        Some(TestResult::Passed | TestResult::Warned { .. }) => TestCaseStatus::success(),
        Some(TestResult::Failed { message }) => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let failed_kind = test
                .steps
                .iter()
                .find(|s| s.outcome == StepOutcome::Failed)
                .map(|s| s.kind.clone())
                .unwrap_or_else(|| "test".to_owned());
            s.set_message(message.as_str())
                .set_type(failed_kind)
                .set_description(failure_body(test));
            s
        }
        Some(TestResult::NotSupported { .. }) => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(test.result_message())
                .set_type("notSupported");
            s
        }
        Some(TestResult::Skipped { .. }) => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(test.result_message()).set_type("skipped");
            s
        }
        None => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(test.result_message())
                .set_type("incomplete")
                .set_description(text::test_text(test));
            s
        }
    };
    let mut case = TestCase::new(test.info.name.as_str(), status);
    case.set_classname(format!("gwl4.{suite}"));
    if let Some(elapsed) = test.elapsed {
        case.set_time(elapsed);
    }
    if matches!(test.result, Some(TestResult::Warned { .. })) {
        case.set_system_out(text::test_text(test));
    } else if !test.steps.is_empty() {
        let lines: Vec<String> = test.steps.iter().map(text::step_line).collect();
        case.set_system_out(lines.join("\n"));
    }
    let warnings: Vec<String> = test.warnings().map(text::step_line).collect();
    if !warnings.is_empty() {
        case.add_property(Property::new("warning", warnings.join("\n")));
    }
    case.add_property(Property::new("level", test.info.level.as_str()));
    case.add_property(Property::new("description", test.info.description.as_str()));
    case.add_property(Property::new("features", test.info.features.join(",")));
    case.add_property(Property::new("profiles", test.profiles().join(",")));
    if let Some(upstream) = &test.info.upstream {
        case.add_property(Property::new("upstream", upstream.as_str()));
    }
    if test.info.provisional {
        case.add_property(Property::new("provisional", "true"));
    }
    case
}

/// The failure's text: the spec rule, the message, then every step with the
/// evidence of the ones that did not pass.
fn failure_body(test: &TestRecord) -> String {
    format!(
        "{}\n\n{}\n\n{}",
        test.info.description,
        test.result_message(),
        text::test_text(test)
    )
}

fn run_properties(record: &RunRecord) -> Vec<Property> {
    let run = &record.run;
    let s = &run.settings;
    let mut props = vec![
        Property::new("gwl4.runId", run.run_id.as_str()),
        Property::new("gwl4.version", run.gwl4_version.as_str()),
        Property::new("gwl4.mode", run.mode.as_str()),
        Property::new("gatewayClass", run.gateway_class.as_str()),
        Property::new("gatewayAPIVersion", run.gateway_api_version.as_str()),
        Property::new("gatewayAPIChannel", run.gateway_api_channel.as_str()),
        Property::new(
            "implementation.organization",
            run.implementation.organization.as_str(),
        ),
        Property::new(
            "implementation.project",
            run.implementation.project.as_str(),
        ),
        Property::new("implementation.url", run.implementation.url.as_str()),
        Property::new(
            "implementation.version",
            run.implementation.version.as_str(),
        ),
        Property::new(
            "implementation.contact",
            run.implementation.contact.join(","),
        ),
        Property::new("settings.alpha", s.alpha.to_string()),
        Property::new("settings.power", s.power.to_string()),
        Property::new("settings.detectableEffect", s.detectable_effect.to_string()),
        Property::new("settings.familyWiseBound", s.family_wise_bound.to_string()),
        Property::new("settings.profiles", s.profiles.join(",")),
        Property::new("settings.supportedFeatures", s.supported_features.join(",")),
    ];
    for (name, secs) in &s.timeouts {
        props.push(Property::new(
            format!("timeouts.{name}"),
            format!("{secs}s"),
        ));
    }
    props
}
