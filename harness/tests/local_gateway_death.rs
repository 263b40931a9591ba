//! A gateway process that dies in the middle of a test is named as the
//! cause of the failure (how it ended and its last log lines), and the step
//! that would otherwise pass on a dead gateway (datagrams going unanswered)
//! does not.

// A synchronous test driving a child process: there is no async clock to pause.
#![allow(clippy::disallowed_types)]

mod common;

use std::time::Duration;

use common::{gwl4_in, processes_of, text};

/// A test that waits, then expects its UDP datagrams to be dropped: a dead
/// gateway drops everything, so only the death check can fail it.
const SUITE: &str = r#"name: ZzGatewayDies
description: A UDP route to a backend that does not exist drops its datagrams.
level: must
spec: [udproute-rule-backendrefs-reject-invalid]
features: [Gateway, UDPRoute]
steps:
  - assert: {kind: Gateway, name: dies-gw, conditions: [Accepted, Programmed], hasAddress: true}
  - wait: {duration: 4s, reason: the gateway is killed meanwhile}
  - udp: {gateway: dies-gw, listener: udp, flows: 3, expect: {outcome: rejected}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: dies-gw
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
    - {name: udp, protocol: UDP, port: 5300}
---
apiVersion: gateway.networking.k8s.io/v1
kind: UDPRoute
metadata:
  name: dies
spec:
  parentRefs:
    - {name: dies-gw, sectionName: udp}
  rules:
    - backendRefs:
        - {name: nowhere, port: 8080}
"#;

/// PIDs of the reference gateway processes gwl4 started in `dir` for the
/// test (its config directory is under the test's name).
fn gateways(dir: &std::path::Path) -> Vec<u32> {
    processes_of(dir)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.contains("reference-gateway") && c.contains("ZzGatewayDies")
                })
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn a_gateway_killed_mid_test_is_named_as_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let suites = dir.path().join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    std::fs::write(suites.join("ZzGatewayDies.yaml"), SUITE).unwrap();
    let child = gwl4_in(dir.path())
        .args([
            "--suite-dir",
            suites.to_str().unwrap(),
            "--exact",
            "ZzGatewayDies",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the test's gateway once it runs, during the wait.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut killed = false;
    while std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        if let Some(pid) = gateways(dir.path()).first() {
            std::thread::sleep(Duration::from_millis(1000));
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
            killed = true;
            break;
        }
    }
    assert!(killed, "no gateway process to kill");
    let out = child.wait_with_output().unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("the gateway process was killed by signal 9 (SIGKILL)"),
        "{all}"
    );
    assert!(all.contains("its last log lines"), "{all}");
    assert!(processes_of(dir.path()).is_empty());
}
