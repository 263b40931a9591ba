//! Least exposure of a local-mode run (issue #24): every socket that could
//! take traffic from another host — a TCP listener, or a UDP socket not
//! connected to a peer — of gwl4, the reference gateway it starts and the
//! echo servers is on a loopback address, and gwl4 itself listens on
//! nothing. Sampled every 20 ms over a run of a TCP and a UDP test (the
//! README's "What listens where" table says what each one opens).

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use common::{ProcSocket, gwl4_in, proc_sockets, processes_of};

/// The socket inodes process `pid` holds.
fn inodes(pid: u32) -> BTreeSet<u64> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return BTreeSet::new();
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let t = target.to_string_lossy().into_owned();
            t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// The sockets open to all that the processes of the run in `dir` hold,
/// by whether gwl4 itself (`gwl4_pid`) holds them.
fn open_sockets(dir: &Path, gwl4_pid: u32) -> Vec<(bool, ProcSocket)> {
    let all: Vec<ProcSocket> = ["tcp", "tcp6", "udp", "udp6"]
        .into_iter()
        .flat_map(proc_sockets)
        .filter(|s| {
            if s.table.starts_with("tcp") {
                s.listening
            } else {
                s.unconnected
            }
        })
        .collect();
    let mut found = Vec::new();
    for pid in processes_of(dir) {
        let held = inodes(pid);
        for socket in &all {
            if held.contains(&socket.inode) {
                found.push((pid == gwl4_pid, socket.clone()));
            }
        }
    }
    found
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[test]
fn a_local_run_opens_nothing_beyond_loopback_and_gwl4_listens_on_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = gwl4_in(dir.path())
        // TCPRouteWeightedRouting and UDPRouteWeightedRouting.
        .arg("WeightedRouting")
        .arg("--report-dir")
        .arg(dir.path().join("reports"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let gwl4_pid = child.id();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    let mut seen: BTreeSet<(bool, ProcSocket)> = BTreeSet::new();
    let status = loop {
        seen.extend(open_sockets(dir.path(), gwl4_pid));
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("gwl4 ran past 300 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "the run passed: {status}");
    // The samples saw the run: the gateway's listeners and the echo
    // servers' sockets (a test that sees nothing proves nothing).
    let tcp_listeners = seen
        .iter()
        .filter(|(_, s)| s.table.starts_with("tcp"))
        .count();
    let udp_open = seen
        .iter()
        .filter(|(_, s)| s.table.starts_with("udp"))
        .count();
    assert!(
        tcp_listeners >= 3 && udp_open >= 3,
        "too few sockets seen to judge: {seen:#?}"
    );
    let exposed: Vec<&(bool, ProcSocket)> =
        seen.iter().filter(|(_, s)| !is_loopback(s.local)).collect();
    assert!(exposed.is_empty(), "open beyond loopback: {exposed:#?}");
    let gwl4_listens: Vec<&(bool, ProcSocket)> = seen
        .iter()
        .filter(|(own, s)| *own && s.table.starts_with("tcp"))
        .collect();
    assert!(
        gwl4_listens.is_empty(),
        "gwl4 itself listens: {gwl4_listens:#?}"
    );
}
