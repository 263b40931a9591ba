//! The peers tier leaves nothing behind: `tools/peers/with-peer.sh` run to
//! the end, and interrupted as Ctrl-C does (SIGINT to its whole process
//! group) once the peer is up, removes its network namespace and veth,
//! stops every process it started (the peer, Envoys, kube-apiserver,
//! etcd), removes its directory and state, gives net.ipv4.ip_forward back, and exits
//! 130 on the interrupt.
//!
//! Needs root and a built peer: `cargo test -p harness --test
//! peers_leftovers -- --ignored --nocapture` (as `.ci/run` does, after
//! `tools/peers/envoy-gateway/build.sh`; `GWL4_LEFTOVER_PEER=traefik` for
//! the other peer).

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;

/// What the tier could leave behind, as a comparable snapshot.
#[derive(Debug, PartialEq, Eq)]
struct Traces {
    namespaces: Vec<String>,
    links: Vec<String>,
    processes: Vec<String>,
    state: Vec<String>,
    dirs: Vec<String>,
    certs_dir: bool,
    ip_forward: String,
}

fn output(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn traces() -> Traces {
    let namespaces = output("ip", &["netns", "list"])
        .lines()
        .filter(|l| l.starts_with("gwl4-peer-"))
        .map(str::to_string)
        .collect();
    let links = output("ip", &["-o", "link"])
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .filter(|n| n.starts_with("gwlp"))
        .collect();
    // Every process the tier starts carries its directory (gwl4-peer.XXXXXX)
    // or the peers' binaries in its command line.
    let mut processes: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("/gwl4-peer.") || c.contains("tools/peers/bin/"))
        .filter(|c| !c.contains("peers_leftovers"))
        .collect();
    processes.sort();
    let state = std::fs::read_dir("/run/gwl4-peers")
        .map(|d| {
            d.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    // with-peer.sh's directory: logs, certificates, etcd's data.
    let mut dirs: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.starts_with("gwl4-peer."))
        .collect();
    dirs.sort();
    Traces {
        namespaces,
        links,
        processes,
        state,
        dirs,
        certs_dir: Path::new("/certs").exists(),
        ip_forward: std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
    }
}

fn with_peer() -> Command {
    let peer = std::env::var("GWL4_LEFTOVER_PEER").unwrap_or_else(|_| "envoy-gateway".into());
    let mut cmd = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tools/peers/with-peer.sh"
    ));
    cmd.arg(peer);
    cmd
}

/// Waits until `before` holds again (teardown finishes before the script
/// exits, but the kernel reaps killed processes a moment later).
fn assert_clean(before: &Traces, when: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = traces();
        if &now == before {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{when}: left behind\n  before: {before:?}\n  after:  {now:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[ignore = "needs root and a built peer (tools/peers/envoy-gateway/build.sh; run by .ci/run)"]
fn with_peer_leaves_nothing_at_the_end_or_after_ctrl_c() {
    common::assert_sigint_not_ignored();
    let before = traces();
    assert!(
        before.namespaces.is_empty() && before.links.is_empty() && before.processes.is_empty(),
        "another peer run is in progress: {before:?}"
    );

    let status = with_peer().arg("true").status().unwrap();
    assert!(status.success(), "with-peer.sh … true: {status}");
    assert_clean(&before, "after a run to the end");

    // Ctrl-C: SIGINT to the foreground process group, script and command.
    let mut child = with_peer()
        .args(["sh", "-c", "echo ready; exec sleep 600"])
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while line.trim() != "ready" {
        line.clear();
        let n = stdout.read_line(&mut line).unwrap();
        assert!(n > 0, "with-peer.sh ended before the peer came up");
    }
    let up = traces();
    assert_eq!(up.namespaces.len(), 1, "{up:?}");
    assert!(!up.processes.is_empty(), "{up:?}");
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(130),
        "with-peer.sh after SIGINT: {status}"
    );
    assert_clean(&before, "after Ctrl-C");
    println!(
        "with-peer.sh left nothing behind, at the end and after Ctrl-C ({} processes while up)",
        up.processes.len()
    );
}
