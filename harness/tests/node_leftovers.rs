//! The node tier (`tools/kube/with-node.sh`, issue #22) leaves nothing
//! behind on the machine: no process (containerd, its shims, the kubelet,
//! kube-proxy, kube-scheduler, the API server tier), no network namespace,
//! link, mount, iptables or ip6tables KUBE-*/CNI-* line, nft table, kubepods cgroup,
//! and none of the fixed paths the kubelet, containerd and libcni use
//! whatever they are told (/var/lib/kubelet, /var/lib/cni, /run/containerd,
//! /var/log/containers, /opt/containerd), neither after a plain run
//! (`with-node.sh true`) nor after Ctrl-C while the command runs (SIGINT to
//! the process group once the Node is Ready: exit code 130).
//!
//! What is compared is a snapshot taken before against one taken after, so
//! things the machine had before do not count.
//!
//! Run (root, containerd and runc installed, `KUBE_BUILD_NODE=1
//! tools/kube/build.sh` and `cargo build --release -p echo-server` done,
//! or both with `GWL4_IMAGE_BINARIES=target/debug` and a debug build, as
//! .ci/run does):
//! `cargo test -p harness --test node_leftovers -- --ignored --nocapture`.

// A synchronous test driving child processes: there is no async clock to pause.
#![allow(clippy::disallowed_types)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The line with-node.sh prints on stderr once the Node is Ready and the
/// network check passed, right before it runs the command.
const READY: &str = "with-node.sh: node ready";

/// Paths outside the run directory the node's components use regardless of
/// their configuration.
const FIXED_PATHS: &[&str] = &[
    "/var/lib/kubelet",
    "/var/lib/cni",
    "/run/containerd",
    "/var/log/containers",
    "/opt/containerd",
];

/// Process names (`/proc/PID/comm`, 15 characters at most) of the node.
const NODE_PROCESSES: &[&str] = &[
    "containerd",
    "containerd-shim",
    "kubelet",
    "kube-proxy",
    "kube-scheduler",
    "runc",
];

fn with_node() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/kube/with-node.sh")
}

/// `program args`' stdout (empty if it cannot run).
fn stdout_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Everything the node tier could leave behind, one line per thing.
fn snapshot() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let cmdline = std::fs::read(entry.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        // The run directory is $TMPDIR/gwl4-node.XXXXXX: every process of
        // the node and its API server tier names it.
        if NODE_PROCESSES.contains(&comm.trim()) || cmdline.contains("/gwl4-node.") {
            out.insert(format!("process {name} ({}): {cmdline}", comm.trim()));
        }
    }
    for line in stdout_of("ip", &["netns", "list"]).lines() {
        out.insert(format!("netns {line}"));
    }
    for line in stdout_of("ip", &["-o", "link", "show"]).lines() {
        let name = line.split(": ").nth(1).unwrap_or_default();
        if name.starts_with("cni-") || name.starts_with("veth") {
            out.insert(format!("link {name}"));
        }
    }
    for line in std::fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
    {
        let target = line.split(' ').nth(1).unwrap_or_default();
        if target.contains("/gwl4-node.")
            || target.starts_with("/run/netns/cni-")
            || ["kubelet", "containerd", "kubepods", "cni"]
                .iter()
                .any(|w| target.contains(w))
        {
            out.insert(format!("mount {line}"));
        }
    }
    for save in ["iptables-save", "ip6tables-save"] {
        for line in stdout_of(save, &[]).lines() {
            if line.contains("KUBE") || line.contains("CNI") {
                out.insert(format!("{save}: {line}"));
            }
        }
    }
    // Tables iptables-nft leaves, and any a component made with nft itself
    // (kube-proxy's nftables mode, CNI's nftables backend).
    for line in stdout_of("nft", &["list", "tables"]).lines() {
        out.insert(format!("nft {line}"));
    }
    for entry in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let kubepods = entry.path().join("kubepods");
        if kubepods.exists() {
            out.insert(format!("cgroup {}", kubepods.display()));
        }
    }
    for path in FIXED_PATHS {
        if Path::new(path).exists() {
            out.insert(format!("path {path}"));
        }
    }
    out
}

/// Waits (a few seconds, for exited processes to be reaped) until the
/// snapshot holds nothing `before` did not, and the run directory named in
/// `output` is gone.
fn assert_nothing_left(before: &BTreeSet<String>, output: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let new: Vec<String> = snapshot().difference(before).cloned().collect();
        if new.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left behind:\n  {}\n--- with-node.sh's output:\n{output}",
            new.join("\n  ")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let run_dir = run_dir(output);
    assert!(
        !run_dir.exists(),
        "{} is still there\n{output}",
        run_dir.display()
    );
}

/// The node's run directory, from the ready line's KUBECONFIG (DIR/api/kubeconfig).
fn run_dir(output: &str) -> PathBuf {
    let line = output
        .lines()
        .find(|l| l.starts_with(READY))
        .unwrap_or_else(|| panic!("no '{READY}' line:\n{output}"));
    let kubeconfig = line
        .split("KUBECONFIG=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no KUBECONFIG in {line:?}"));
    Path::new(kubeconfig)
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf()
}

/// Waits (30 s at most) until a process of process group `group` runs
/// `cmdline` (NUL-separated, as in /proc/PID/cmdline).
fn wait_for_command(group: Pid, cmdline: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            // "PID (COMM) STATE PPID PGRP ...": COMM may hold spaces.
            let pgrp = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(2))
                .and_then(|p| p.parse::<i32>().ok());
            pgrp == Some(group.as_raw())
                && std::fs::read(e.path().join("cmdline")).unwrap_or_default() == cmdline.as_bytes()
        });
        if found {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {cmdline:?} in process group {group} after 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "needs the node tier: root, containerd, runc, tools/kube/build.sh with KUBE_BUILD_NODE=1"]
fn with_node_leaves_nothing_behind() {
    common::assert_sigint_not_ignored();
    let before = snapshot();
    eprintln!("before: {} relevant entries", before.len());

    // A plain run: start, `true`, tear down.
    let started = Instant::now();
    let out = Command::new(with_node()).arg("true").output().unwrap();
    let output = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("{output}");
    assert_eq!(out.status.code(), Some(0), "with-node.sh true:\n{output}");
    eprintln!("with-node.sh true took {:.1?}", started.elapsed());
    assert_nothing_left(&before, &output);

    // Ctrl-C while the command runs: the whole process group gets SIGINT.
    let started = Instant::now();
    let mut child = Command::new(with_node())
        .args(["sleep", "600"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let group = Pid::from_raw(child.id() as i32);
    let stderr = child.stderr.take().unwrap();
    let (ready_tx, ready_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            eprintln!("  | {line}");
            if line.starts_with(READY) {
                let _ = ready_tx.send(line.clone());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let ready = ready_rx.recv_timeout(Duration::from_secs(600));
    if ready.is_err() {
        let _ = killpg(group, Signal::SIGTERM);
        let _ = child.wait();
        panic!(
            "the node was not ready within 10 minutes:\n{}",
            reader.join().unwrap()
        );
    }
    let ready = ready.unwrap();
    let kubeconfig = ready.split("KUBECONFIG=").nth(1).unwrap().split(';').next();
    assert!(
        kubeconfig.is_some_and(|k| Path::new(k).is_file()),
        "no kubeconfig at {kubeconfig:?}"
    );
    // The ready line comes just before with-node.sh forks the command; a
    // SIGINT in between can miss `sleep` (not yet exec'd), and bash then
    // waits for it to end before acting on its own (600 s). Wait until it runs.
    wait_for_command(group, "sleep\x00600\x00");
    eprintln!("node ready after {:.1?}; SIGINT", started.elapsed());
    let interrupted = Instant::now();
    killpg(group, Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    let output = reader.join().unwrap();
    eprintln!("teardown after SIGINT took {:.1?}", interrupted.elapsed());
    assert_eq!(status.code(), Some(130), "after SIGINT:\n{output}");
    assert_nothing_left(&before, &output);
}
