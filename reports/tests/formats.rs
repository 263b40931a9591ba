//! Every format written from the fixed run: snapshots, and each read back by
//! something other than the code that wrote it.

mod common;

use std::time::Duration;

use reports::*;

#[test]
fn junit_snapshot() {
    insta::assert_snapshot!("junit", junit_string(&common::record()).unwrap());
}

#[test]
fn conformance_report_snapshot() {
    insta::assert_snapshot!(
        "conformance_report",
        conformance_yaml(&common::record()).unwrap()
    );
}

#[test]
fn json_snapshot() {
    insta::assert_snapshot!("record_json", json_string(&common::record()).unwrap());
}

/// The JUnit XML as a CI reporter sees it, read with roxmltree (not quick-junit).
#[test]
fn junit_reads_back_with_an_independent_parser() {
    let xml = junit_string(&common::record()).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let names: Vec<&str> = suites
        .iter()
        .map(|s| s.attribute("name").unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "GATEWAY-TCP",
            "GATEWAY-UDP",
            "GWL4-ONLY (no upstream profile)"
        ]
    );

    let attr =
        |n: &roxmltree::Node, a: &str| -> usize { n.attribute(a).unwrap_or("0").parse().unwrap() };
    let mut total = 0;
    for suite in &suites {
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        // Reporters trust these counts: they must match the children.
        assert_eq!(
            attr(suite, "tests"),
            cases.len(),
            "{:?}",
            suite.attribute("name")
        );
        let failures = cases
            .iter()
            .filter(|c| c.children().any(|e| e.has_tag_name("failure")))
            .count();
        assert_eq!(attr(suite, "failures"), failures);
        total += cases.len();
        let props: Vec<(&str, &str)> = suite
            .children()
            .filter(|n| n.has_tag_name("properties"))
            .flat_map(|p| p.children().filter(|n| n.has_tag_name("property")))
            .map(|p| (p.attribute("name").unwrap(), p.attribute("value").unwrap()))
            .collect();
        assert!(
            props.contains(&("implementation.project", "reference-gateway")),
            "{props:?}"
        );
        assert!(props.contains(&("settings.alpha", "0.001")), "{props:?}");
        assert!(
            props.contains(&("timeouts.MaxTimeToConsistency", "30s")),
            "{props:?}"
        );
    }
    assert_eq!(total, 9, "every test exactly once");
    assert_eq!(attr(&root, "tests"), 9);
    assert_eq!(attr(&root, "failures"), 2);

    let case = |name: &str| {
        root.descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("testcase {name}"))
    };
    let failure = case("UDPRouteWeightedRouting")
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(failure.attribute("message").unwrap().contains("udp-v3"));
    assert_eq!(failure.attribute("type"), Some("distribution"));
    let body = failure.text().unwrap();
    for needle in [
        "udp-v1",
        "334",
        "70.0%",
        "p=3.20e-101",
        "weight-0 backend udp-v3 received 333 samples",
    ] {
        assert!(
            body.contains(needle),
            "failure text lacks {needle}:\n{body}"
        );
    }
    let attach = case("TCPRouteMultipleRoutesAttachment")
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(
        attach.text().unwrap().contains("attachedRoutes: 1"),
        "conditions seen are in the failure text"
    );

    let ns = case("UDPRouteReferenceGrant")
        .children()
        .find(|n| n.has_tag_name("skipped"))
        .unwrap();
    assert!(
        ns.attribute("message")
            .unwrap()
            .contains("not supported: needs ReferenceGrant")
    );
    let skipped = case("TCPRouteParentRefAttachAll")
        .children()
        .find(|n| n.has_tag_name("skipped"))
        .unwrap();
    assert!(
        skipped
            .attribute("message")
            .unwrap()
            .contains("--skip-tests")
    );
    let passed = case("TCPRouteWeightedRouting");
    assert!(
        !passed
            .children()
            .any(|n| n.has_tag_name("failure") || n.has_tag_name("skipped"))
    );
    assert_eq!(passed.attribute("time"), Some("7.001"));
    // A pass with a warning: a passing testcase (no failure, error or
    // skipped child, so reporters count it passed), a `warning` property
    // naming the step, and the warned step's evidence in system-out.
    let warned = case("TCPRouteNonexistentBackendRejectsConnections");
    assert!(!warned.children().any(|n| n.has_tag_name("failure")
        || n.has_tag_name("error")
        || n.has_tag_name("skipped")));
    let property = |case: roxmltree::Node, name: &str| {
        case.descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
            .and_then(|n| n.attribute("value").map(str::to_owned))
    };
    let warning = property(warned, "warning").expect("a warning property");
    assert!(
        warning.contains("#2 tcp [warned] (recommended)"),
        "{warning}"
    );
    assert_eq!(property(warned, "level").as_deref(), Some("must"));
    let out = warned
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .and_then(|n| n.text())
        .unwrap();
    assert!(out.contains("closedWithoutReply=20"), "{out}");
    assert_eq!(property(passed, "warning"), None);
    assert_eq!(
        case("TutorialTcpAndUdp")
            .parent()
            .unwrap()
            .attribute("name"),
        Some("GWL4-ONLY (no upstream profile)")
    );
}

/// Upstream `conformance/apis/v1`, transcribed here independently of the
/// writer's types; unknown fields are rejected, so nothing extra sneaks in.
mod upstream {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ConformanceReport {
        #[serde(rename = "apiVersion")]
        pub api_version: String,
        pub kind: String,
        pub implementation: Implementation,
        pub date: String,
        #[serde(rename = "gatewayAPIVersion")]
        pub gateway_api_version: String,
        pub mode: String,
        #[serde(rename = "gatewayAPIChannel")]
        pub gateway_api_channel: String,
        pub profiles: Vec<ProfileReport>,
        #[serde(rename = "succeededProvisionalTests", default)]
        pub succeeded_provisional_tests: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Implementation {
        pub organization: String,
        pub project: String,
        pub url: String,
        pub version: String,
        pub contact: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ProfileReport {
        pub name: String,
        pub summary: String,
        pub core: Status,
        pub extended: Option<ExtendedStatus>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Status {
        pub result: String,
        pub statistics: Statistics,
        #[serde(rename = "skippedTests", default)]
        pub skipped_tests: Vec<String>,
        #[serde(rename = "failedTests", default)]
        pub failed_tests: Vec<String>,
    }

    // ExtendedStatus inlines Status in Go; spelled out because serde cannot
    // combine flatten with deny_unknown_fields.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ExtendedStatus {
        pub result: String,
        pub statistics: Statistics,
        #[serde(rename = "skippedTests", default)]
        pub skipped_tests: Vec<String>,
        #[serde(rename = "failedTests", default)]
        pub failed_tests: Vec<String>,
        #[serde(rename = "supportedFeatures", default)]
        pub supported_features: Vec<String>,
        #[serde(rename = "unsupportedFeatures", default)]
        pub unsupported_features: Vec<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct Statistics {
        #[serde(rename = "Passed")]
        pub passed: u32,
        #[serde(rename = "Skipped")]
        pub skipped: u32,
        #[serde(rename = "Failed")]
        pub failed: u32,
    }
}

#[test]
fn conformance_report_parses_as_upstream_and_counts_by_upstream_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("standard-v0.1.0-default-report.yaml");
    write_conformance_report(&common::record(), &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let r: upstream::ConformanceReport = serde_yaml::from_str(&text).unwrap();
    assert_eq!(r.api_version, "gateway.networking.k8s.io/v1");
    assert_eq!(r.kind, "ConformanceReport");
    assert_eq!(r.date, "2026-11-26T06:04:12Z");
    assert_eq!(
        (
            r.gateway_api_version.as_str(),
            r.gateway_api_channel.as_str(),
            r.mode.as_str()
        ),
        ("v1.6.1", "standard", "default")
    );
    let imp = &r.implementation;
    assert_eq!(
        (
            imp.organization.as_str(),
            imp.project.as_str(),
            imp.url.as_str(),
            imp.version.as_str()
        ),
        (
            "gwl4",
            "reference-gateway",
            "https://github.com/gwl4/gwl4",
            "v0.1.0"
        )
    );
    assert_eq!(r.implementation.contact, ["@gwl4/maintainers"]);
    assert_eq!(r.succeeded_provisional_tests, ["TCPRouteWeightedRouting"]);
    let names: Vec<&str> = r.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["GATEWAY-TCP", "GATEWAY-UDP"]);

    let tcp = &r.profiles[0];
    // Passed: WeightedRouting (provisional, counted); failed: MultipleRoutesAttachment;
    // ParentRefAttachAll is provisional and skipped: not counted; the gwl4-only
    // rejection and tutorial tests are not in the report at all.
    assert_eq!(tcp.core.result, "failure");
    assert_eq!(
        tcp.core.statistics,
        upstream::Statistics {
            passed: 1,
            skipped: 0,
            failed: 1
        }
    );
    assert_eq!(tcp.core.failed_tests, ["TCPRouteMultipleRoutesAttachment"]);
    assert!(tcp.core.skipped_tests.is_empty());
    let ext = tcp
        .extended
        .as_ref()
        .expect("GatewayStaticAddresses is extended");
    assert_eq!(ext.result, "success");
    assert!(ext.failed_tests.is_empty() && ext.skipped_tests.is_empty());
    assert_eq!(
        ext.statistics,
        upstream::Statistics {
            passed: 1,
            skipped: 0,
            failed: 0
        }
    );
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
        "Core tests failed with 1 test failures. Extended tests succeeded."
    );

    let udp = &r.profiles[1];
    // The failed provisional UDPRouteWeightedRouting counts; not-supported ReferenceGrant does not.
    assert_eq!(
        udp.core.statistics,
        upstream::Statistics {
            passed: 0,
            skipped: 0,
            failed: 1
        }
    );
    assert_eq!(udp.core.failed_tests, ["UDPRouteWeightedRouting"]);
    assert!(!text.contains("UDPRouteReferenceGrant"));
    assert!(
        !text.contains("TutorialTcpAndUdp") && !text.contains("TCPRouteInvalidBackendRejection")
    );
}

#[test]
fn json_round_trips_and_refuses_other_schema_versions() {
    let record = common::record();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    write_json(&record, &path).unwrap();
    assert_eq!(read_json(&path).unwrap(), record);

    // A version-1 record (before levels) still reads: its new fields default.
    let v1 = std::fs::read_to_string(&path).unwrap().replacen(
        "\"schemaVersion\": 2",
        "\"schemaVersion\": 1",
        1,
    );
    assert_eq!(json_from_str(&v1).unwrap().tests.len(), record.tests.len());

    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "\"schemaVersion\": 2",
        "\"schemaVersion\": 99",
        1,
    );
    let err = json_from_str(&text).unwrap_err().to_string();
    assert!(
        err.contains("schemaVersion is 99") && err.contains("reads 1 to 2"),
        "{err}"
    );
    std::fs::write(&path, &text).unwrap();
    let err = read_json(&path).unwrap_err().to_string();
    assert!(
        err.contains("report.json"),
        "the error names the file: {err}"
    );

    let broken = std::fs::read_to_string(dir.path().join("report.json"))
        .unwrap()
        .replacen("\"schemaVersion\": 99", "\"schemaVersion\": 2", 1)
        .replacen("\"passed\": true", "\"passed\": \"yes\"", 1);
    let err = json_from_str(&broken).unwrap_err().to_string();
    assert!(
        err.contains("tests[0].steps[2].evidence[0]"),
        "the error names the field: {err}"
    );
}

#[test]
fn the_fold_rejects_streams_that_do_not_describe_a_run() {
    let events = common::events();
    let err = RunRecord::from_events(&events[1..]).unwrap_err();
    assert!(
        err.to_string().contains("first event must be runStarted"),
        "{err}"
    );

    let mut record = RunRecord::new(common::run_started());
    let err = record
        .apply(TestEvent::TestFinished(TestFinished {
            test: "Nope".into(),
            result: TestResult::Passed,
            elapsed: Duration::ZERO,
            timing: None,
        }))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "testFinished for test Nope, which had not started"
    );

    let mut record = common::record();
    let again = events
        .iter()
        .find(|e| matches!(e, TestEvent::TestFinished(_)))
        .unwrap()
        .clone();
    assert!(matches!(
        record.apply(again),
        Err(FoldError::TestAlreadyFinished { .. })
    ));

    // An interrupted run folds fine: unfinished tests are reported as such.
    let cut = events
        .iter()
        .position(
            |e| matches!(e, TestEvent::TestFinished(f) if f.test == "UDPRouteWeightedRouting"),
        )
        .unwrap();
    let partial = RunRecord::from_events(&events[..cut]).unwrap();
    assert!(partial.finished.is_none());
    assert_eq!(
        partial.test("UDPRouteWeightedRouting").unwrap().kind(),
        ResultKind::Incomplete
    );
    let xml = junit_string(&partial).unwrap();
    assert!(
        xml.contains("<error message=\"the test did not finish"),
        "{xml}"
    );
}

#[test]
fn html_is_self_contained_and_lists_failures_first() {
    let html = html_report(&common::record());
    assert!(!html.contains("<script"), "no script needed");
    assert!(!html.contains("<link"), "no external stylesheet");
    assert!(
        !html.contains("@import") && !html.contains("url("),
        "CSS fetches nothing"
    );
    for attr in ["src=\"", "href=\""] {
        for value in html
            .split(attr)
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
        {
            assert!(
                value.starts_with('#'),
                "{attr}{value}\" points outside the page"
            );
        }
    }
    assert_eq!(
        html.matches("<svg class=\"chart distribution").count(),
        3,
        "two distributions and a rejection"
    );
    assert_eq!(html.matches("<svg class=\"chart latency").count(), 1);
    let failures = html.find("<section id=\"failures\"").unwrap();
    let summary = html.find("<section id=\"summary\"").unwrap();
    assert!(failures < summary);
    let first_test = html.find("<section class=\"test\"").unwrap();
    assert!(html[first_test..].starts_with(
        "<section class=\"test\" id=\"test-UDPRouteWeightedRouting\" data-result=\"failed\""
    ));
    // Warnings: their own section after the failures, and the warned test
    // after the failed ones, before the passes.
    let warnings = html
        .find("<section id=\"warnings\" class=\"some\"")
        .unwrap();
    assert!(failures < warnings && warnings < summary);
    let warned = html
        .find("id=\"test-TCPRouteNonexistentBackendRejectsConnections\" data-result=\"warned\"")
        .unwrap();
    let last_failed = html
        .find("id=\"test-TCPRouteMultipleRoutesAttachment\" data-result=\"failed\"")
        .unwrap();
    let a_pass = html
        .find("id=\"test-TCPRouteWeightedRouting\" data-result=\"passed\"")
        .unwrap();
    assert!(last_failed < warned && warned < a_pass);
    // Each step shows its level and the spec sentence behind it.
    assert!(html.contains("data-outcome=\"warned\" data-level=\"recommended\""));
    assert!(html.contains("80% of connections must be rejected instead."));
    // The implementation URL is shown as text only.
    assert!(html.contains("<code>https://github.com/gwl4/gwl4</code>"));
}

#[test]
fn write_all_writes_every_format_and_returns_the_paths() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let conf = dir
        .path()
        .join("conformance/standard-v0.1.0-default-report.yaml");
    let paths = write_all(&common::record(), &out, Some(&conf)).unwrap();
    assert_eq!(
        paths,
        [
            out.join("junit.xml"),
            out.join("report.html"),
            out.join("report.json"),
            conf.clone()
        ]
    );
    for p in &paths {
        assert!(
            std::fs::metadata(p).unwrap().len() > 500,
            "{} is written",
            p.display()
        );
    }
    assert_eq!(write_all(&common::record(), &out, None).unwrap().len(), 3);
    assert_eq!(
        suggested_file_name(&common::record()),
        "standard-v0.1.0-default-report.yaml"
    );
}

#[test]
fn compare_shows_each_run_side_by_side() {
    let before = common::record();
    let mut after = common::record();
    let udp = after
        .tests
        .iter_mut()
        .find(|t| t.info.name == "UDPRouteWeightedRouting")
        .unwrap();
    udp.result = Some(TestResult::Passed);
    if let Evidence::Distribution(d) = &mut udp.steps[1].evidence[0] {
        d.backends[0].share = 0.695;
    }
    after.tests.retain(|t| t.info.name != "TutorialTcpAndUdp");
    let html = compare_html(&[("v0.1.0".to_owned(), before), ("v0.2.0".to_owned(), after)]);
    assert!(html.contains("<tr data-run=\"v0.1.0\">") && html.contains("<tr data-run=\"v0.2.0\">"));
    let row = |name: &str| {
        let start = html.find(&format!("<tr data-test=\"{name}\">")).unwrap();
        &html[start..start + html[start..].find("</tr>").unwrap()]
    };
    let udp_row = row("UDPRouteWeightedRouting");
    assert!(
        udp_row.find("data-result=\"failed\"").unwrap()
            < udp_row.find("data-result=\"passed\"").unwrap()
    );
    assert!(row("TutorialTcpAndUdp").contains("not run"));
    assert!(
        html.contains("33.4%") && html.contains("69.5%"),
        "observed shares of both runs"
    );
}
