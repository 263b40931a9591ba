//! `--report-log` prints the reports into the run's output (a Kubernetes
//! Job's log), and `gwl4 fetch-report --from-log -` reads them back, byte
//! for byte, into a report directory.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::{gwl4, run_in, text};

#[test]
fn reports_round_trip_through_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(
        dir.path(),
        &[
            "--report-log",
            "--report-dir",
            "written",
            "--exact",
            "TCPRouteReferenceGrant",
        ],
    );
    let log = text(&run);
    assert_eq!(run.status.code(), Some(0), "{log}");
    assert!(log.contains("gwl4-report-begin junit.xml "), "{log}");

    let mut fetch = gwl4()
        .current_dir(dir.path())
        .args(["fetch-report", "--from-log", "-", "--report-dir", "fetched"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    fetch.stdin.take().unwrap().write_all(&run.stdout).unwrap();
    let fetched = fetch.wait_with_output().unwrap();
    assert_eq!(fetched.status.code(), Some(0), "{}", text(&fetched));

    let mut names: Vec<_> = std::fs::read_dir(dir.path().join("written"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(names.len() >= 3, "{names:?}");
    for name in names {
        let written = std::fs::read(dir.path().join("written").join(&name)).unwrap();
        let back = std::fs::read(dir.path().join("fetched").join(&name))
            .unwrap_or_else(|e| panic!("{name:?} not fetched: {e}"));
        assert!(written == back, "{name:?} differs after the round trip");
    }
}

#[test]
fn a_log_without_reports_is_an_error_that_says_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("job.log"),
        "test TCPRouteReferenceGrant ... ok\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &["fetch-report", "--from-log", "job.log"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("job.log: no report in the log"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("gwl4-reports").exists());
}
