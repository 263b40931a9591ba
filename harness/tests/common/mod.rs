//! Helpers shared by the end-to-end tests: run gwl4 in a scratch directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Fails a hung test instead of hanging it; never reached when things work.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// `f`, or a panic after [`PATIENCE`].
pub async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(PATIENCE, f)
        .await
        .expect("test timed out")
}

/// An in-process echo server on loopback, `service` in namespace `ns` (pod
/// `<pod>`), serving only the protocols asked for.
pub async fn echo_server(service: &str, pod: &str, tcp: bool, udp: bool) -> echo_server::Running {
    let identity = echo_server::Identity {
        pod: pod.into(),
        namespace: "ns".into(),
        service: service.into(),
    };
    let mut config = echo_server::Config::loopback(identity);
    if !tcp {
        config.tcp_port = None;
    }
    if !udp {
        config.udp_port = None;
    }
    echo_server::start(config).await.unwrap()
}

/// The gwl4 binary.
pub fn gwl4() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gwl4"))
}

/// The deliberately non-conforming gateway (`harness/examples/naive-gateway.rs`);
/// `cargo test` builds examples.
pub fn naive_gateway() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_gwl4"))
        .parent()
        .unwrap()
        .join("examples/naive-gateway");
    assert!(
        p.exists(),
        "{} is missing: run the whole `cargo test` (it builds examples) or `cargo build --example naive-gateway`",
        p.display()
    );
    p
}

/// gwl4 to run in `dir` with TMPDIR inside it (so its run directory is
/// findable).
pub fn gwl4_in(dir: &Path) -> Command {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut cmd = gwl4();
    cmd.current_dir(dir).env("TMPDIR", &tmp);
    cmd
}

/// Runs gwl4 in `dir` (see [`gwl4_in`]) and returns its output.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    gwl4_in(dir).args(args).output().unwrap()
}

/// Starts gwl4 in `dir` (TMPDIR inside it) on one test, `SlowTest`:
/// TCPRouteWeightedRouting (three echo backends) with `steps` first, then
/// a long wait to be interrupted in. `args` come before the test selection.
pub fn spawn_slow_test(dir: &Path, steps: &str, args: &[&str]) -> std::process::Child {
    let suites = dir.join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    let test = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../suites/tcp/TCPRouteWeightedRouting.yaml"
    ))
    .unwrap()
    .replacen("name: TCPRouteWeightedRouting", "name: SlowTest", 1)
    .replacen(
        "steps:\n",
        &format!("steps:\n{steps}  - wait: {{duration: 120s, reason: be interrupted}}\n"),
        1,
    );
    std::fs::write(suites.join("SlowTest.yaml"), test).unwrap();
    gwl4_in(dir)
        .args(args)
        .args([
            "--suite-dir",
            suites.to_str().unwrap(),
            "--exact",
            "SlowTest",
        ])
        .spawn()
        .unwrap()
}

/// Sends SIGINT to `child` and returns its exit code once it has exited.
pub fn interrupt(child: &mut std::process::Child) -> Option<i32> {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    child.wait().unwrap().code()
}

/// Text of an output, both streams.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// PIDs of live processes whose environment has `TMPDIR=<dir>/tmp`.
pub fn processes_of(dir: &Path) -> Vec<u32> {
    let needle = format!("TMPDIR={}", dir.join("tmp").display());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(env) = std::fs::read(entry.path().join("environ"))
            && env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes())
        {
            pids.push(pid);
        }
    }
    pids
}
