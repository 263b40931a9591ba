//! Ctrl-C in the middle of a run stops every gateway and backend and removes
//! the run directory; gwl4 exits 130.

// A synchronous test driving a child process: there is no async clock to pause.
#![allow(clippy::disallowed_types)]

mod common;

use std::time::Duration;

use common::{naive_gateway, processes_of, spawn_slow_test};

#[test]
fn sigint_mid_run_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_slow_test(
        dir.path(),
        "  - tcp: {gateway: weighted-gw, listener: tcp, expect: {backendIn: [tcp-v1, tcp-v2, tcp-v3]}}\n",
        &["--gateway-command", naive_gateway().to_str().unwrap()],
    );
    // Wait until the gateway and three echo backends are up.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while processes_of(dir.path()).len() < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "gwl4 did not start its processes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(common::interrupt(&mut child), Some(130));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !processes_of(dir.path()).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "processes left: {:?}",
            processes_of(dir.path())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0,
        "run directory left behind"
    );
}

/// A one-step test that passes at once (no objects).
fn quick_test(name: &str) -> String {
    format!(
        "name: {name}\ndescription: Waits a moment.\nlevel: must\nspec: [{{level: must, source: s, quote: q}}]\nfeatures: [Gateway]\nsteps:\n  - wait: {{duration: 100ms, reason: a test that finishes}}\n"
    )
}

#[test]
fn an_interrupted_run_still_reports_the_tests_that_finished() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let suites = dir.path().join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    // Only these (filter ZzIntr), one at a time, in name order: ZzIntrAQuick finishes, ZzIntrBSlow is interrupted,
    // ZzIntrCNeverStarted never starts.
    std::fs::write(suites.join("ZzIntrAQuick.yaml"), quick_test("ZzIntrAQuick")).unwrap();
    let slow = quick_test("ZzIntrBSlow").replace(
        "100ms, reason: a test that finishes",
        "120s, reason: be interrupted",
    );
    std::fs::write(suites.join("ZzIntrBSlow.yaml"), slow).unwrap();
    std::fs::write(
        suites.join("ZzIntrCNeverStarted.yaml"),
        quick_test("ZzIntrCNeverStarted"),
    )
    .unwrap();
    let mut child = common::gwl4_in(dir.path())
        .args([
            "--suite-dir",
            suites.to_str().unwrap(),
            "--test-threads",
            "1",
        ])
        .arg("ZzIntr")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // libtest prints each verdict: interrupt once ZzIntrAQuick's is out and ZzIntrBSlow runs.
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("ZzIntrAQuick") && line.ends_with("... ok") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(common::interrupt(&mut child), Some(130));
    let record = reports::read_json(&dir.path().join("gwl4-reports/report.json"))
        .expect("an interrupted run writes report.json");
    assert!(record.finished.as_ref().is_some_and(|f| f.interrupted));
    let result = |name: &str| record.test(name).and_then(|t| t.result.clone());
    assert_eq!(result("ZzIntrAQuick"), Some(reports::TestResult::Passed));
    assert!(
        matches!(result("ZzIntrBSlow"), Some(reports::TestResult::Skipped { reason }) if reason.contains("not run to its end")),
        "{:?}",
        result("ZzIntrBSlow")
    );
    assert!(
        matches!(result("ZzIntrCNeverStarted"), Some(reports::TestResult::Skipped { reason }) if reason == "not run: the run was interrupted"),
        "{:?}",
        result("ZzIntrCNeverStarted")
    );
    let junit = std::fs::read_to_string(dir.path().join("gwl4-reports/junit.xml")).unwrap();
    assert!(junit.contains("the run was interrupted"), "{junit}");
    let html = std::fs::read_to_string(dir.path().join("gwl4-reports/report.html")).unwrap();
    assert!(html.contains("The run was interrupted"));
}
