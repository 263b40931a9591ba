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
