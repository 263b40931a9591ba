//! Ctrl-C in the middle of a run stops every gateway and backend and removes
//! the run directory; gwl4 exits 130.

// A synchronous test driving a child process: there is no async clock to pause.
#![allow(clippy::disallowed_types)]

mod common;

use std::time::Duration;

use common::{gwl4, naive_gateway, processes_of};

#[test]
fn sigint_mid_run_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let suites = dir.path().join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    let mut test = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../suites/tcp/TCPRouteWeightedRouting.yaml"
    ))
    .unwrap();
    test = test.replacen("name: TCPRouteWeightedRouting", "name: SlowTest", 1).replacen(
        "steps:\n",
        "steps:\n  - tcp: {gateway: weighted-gw, listener: tcp, expect: {backendIn: [tcp-v1, tcp-v2, tcp-v3]}}\n  - wait: {duration: 60s, reason: be interrupted}\n",
        1,
    );
    std::fs::write(suites.join("SlowTest.yaml"), test).unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut child = gwl4()
        .current_dir(dir.path())
        .env("TMPDIR", &tmp)
        .args([
            "--gateway-command",
            naive_gateway().to_str().unwrap(),
            "--suite-dir",
            suites.to_str().unwrap(),
            "--exact",
            "SlowTest",
        ])
        .spawn()
        .unwrap();
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
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
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
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "run directory left behind"
    );
}
