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
    slow_test(dir, steps, args).spawn().unwrap()
}

/// The command [`spawn_slow_test`] spawns, to spawn with other settings
/// (its output piped, say).
pub fn slow_test(dir: &Path, steps: &str, args: &[&str]) -> Command {
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
    let mut cmd = gwl4_in(dir);
    cmd.args(args).args([
        "--suite-dir",
        suites.to_str().unwrap(),
        "--exact",
        "SlowTest",
    ]);
    cmd
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

/// The misbehaving gateway (`harness/examples/hostile-gateway.rs`), run as
/// `<path> --mode <mode>`; `cargo test` builds examples.
pub fn hostile_gateway() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_gwl4"))
        .parent()
        .unwrap()
        .join("examples/hostile-gateway");
    assert!(
        p.exists(),
        "{} is missing: run the whole `cargo test` (it builds examples) or `cargo build --example hostile-gateway`",
        p.display()
    );
    p
}

/// A one-test user suite named `name`: a Gateway `<lower name>-gw` with a
/// TCP listener `tcp` on port 9400 and a TCPRoute to one echo backend
/// `<lower name>-echo`, running `steps` (YAML list items, each starting
/// `  - `). Written to `<dir>/suites`; returns that directory.
pub fn tcp_suite(dir: &Path, name: &str, steps: &str) -> PathBuf {
    let lower = name.to_lowercase();
    let suites = dir.join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    let text = format!(
        r#"name: {name}
description: A test of gwl4 itself against a misbehaving gateway.
level: must
spec: [gep2644-basic-forwarding-core]
features: [Gateway, TCPRoute]
steps:
{steps}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: {lower}-gw
spec:
  gatewayClassName: "{{GATEWAY_CLASS_NAME}}"
  listeners:
    - {{name: tcp, protocol: TCP, port: 9400}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: {lower}
spec:
  parentRefs:
    - {{name: {lower}-gw, sectionName: tcp}}
  rules:
    - backendRefs:
        - {{name: {lower}-echo, port: 8080}}
"#
    ) + &echo_backend(&format!("{lower}-echo"));
    std::fs::write(suites.join(format!("{name}.yaml")), text).unwrap();
    suites
}

/// The manifests of a TCP-only echo backend `name` for a suite file: a
/// Deployment (image `{ECHO_IMAGE}`, port 3000) and a Service `name` on
/// port 8080, each document starting with `---`.
pub fn echo_backend(name: &str) -> String {
    format!(
        r#"---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: echo
          image: "{{ECHO_IMAGE}}"
          args: ["--tcp-port", "3000", "--no-udp"]
          env:
            - {{name: SERVICE_NAME, value: {name}}}
            - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
            - {{name: POD_NAMESPACE, valueFrom: {{fieldRef: {{fieldPath: metadata.namespace}}}}}}
          ports: [{{name: tcp, containerPort: 3000, protocol: TCP}}]
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports: [{{name: tcp, port: 8080, targetPort: 3000, protocol: TCP}}]
"#
    )
}

/// A finished gwl4 run against the hostile gateway.
pub struct HostileRun {
    /// Exit code.
    pub code: Option<i32>,
    /// Both output streams.
    pub all: String,
    /// How long it took.
    pub took: std::time::Duration,
    /// Its scratch directory (TMPDIR is `<dir>/tmp`).
    pub dir: tempfile::TempDir,
}

/// Runs gwl4 with `--gateway-command "<hostile-gateway> --mode <mode>
/// <gateway_args>"` and `args`, in a fresh scratch directory (`setup`
/// writes suites there first), and checks what every hostile mode must
/// give: gwl4 ends within `bound` (else it is killed and the test fails:
/// a hang), does not panic, and leaves no process behind. Run-directory
/// and port checks are the caller's.
// A test driving a child process synchronously: no async clock to pause.
#[allow(clippy::disallowed_types)]
pub fn run_hostile(
    mode: &str,
    gateway_args: &str,
    setup: impl FnOnce(&Path) -> Vec<String>,
    args: &[&str],
    bound: std::time::Duration,
) -> HostileRun {
    let dir = tempfile::tempdir().unwrap();
    let selection = setup(dir.path());
    let command = format!(
        "{} --mode {mode} {gateway_args}",
        hostile_gateway().display()
    );
    let started = std::time::Instant::now();
    let child = gwl4_in(dir.path())
        .args(["--gateway-command", &command])
        .args(args)
        .args(&selection)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(out) = rx.recv_timeout(bound) else {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        panic!("gwl4 against --mode {mode} did not finish within {bound:?}: a hang");
    };
    let out = out.unwrap();
    let took = started.elapsed();
    let all = text(&out);
    assert!(!all.contains("panicked at"), "gwl4 panicked:\n{all}");
    // Processes SIGKILLed at the end may take a moment to vanish.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while !processes_of(dir.path()).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let left = processes_of(dir.path());
    assert!(left.is_empty(), "processes left behind: {left:?}\n{all}");
    HostileRun {
        code: out.status.code(),
        all,
        took,
        dir,
    }
}

/// Runs the one-test user suite `name` ([`tcp_suite`]: assert its Gateway,
/// the `more` steps, then TCP through it) against `--mode <mode>` with
/// `timeouts` as `--timeout-config-overrides`, and checks gwl4 left nothing
/// in its TMPDIR.
pub fn run_hostile_suite(
    mode: &str,
    name: &str,
    more: &str,
    timeouts: &str,
    bound: std::time::Duration,
) -> HostileRun {
    let lower = name.to_lowercase();
    let steps = format!(
        "  - assert: {{kind: Gateway, name: {lower}-gw, conditions: [Accepted, Programmed], hasAddress: true}}\n\
         {more}\
         \x20 - tcp: {{gateway: {lower}-gw, listener: tcp, connections: 3, expect: {{backend: {lower}-echo}}}}\n"
    );
    let r = run_hostile(
        mode,
        "",
        |dir| {
            let suites = tcp_suite(dir, name, &steps);
            vec![
                "--suite-dir".into(),
                suites.display().to_string(),
                "--exact".into(),
                name.into(),
            ]
        },
        &["--timeout-config-overrides", timeouts],
        bound,
    );
    assert!(r.left_in_tmp().is_empty(), "left: {:?}", r.left_in_tmp());
    r
}

/// Runs the catalog test `test` with `--strict` (so its recommended level
/// fails the run too) against `--mode <mode> <gateway_args>` with
/// `timeouts` as `--timeout-config-overrides`, and checks gwl4 left
/// nothing in its TMPDIR.
pub fn run_hostile_catalog(
    mode: &str,
    gateway_args: &str,
    test: &str,
    timeouts: &str,
    bound: std::time::Duration,
) -> HostileRun {
    let r = run_hostile(
        mode,
        gateway_args,
        |_| vec!["--exact".into(), test.into()],
        &["--strict", "--timeout-config-overrides", timeouts],
        bound,
    );
    assert!(r.left_in_tmp().is_empty(), "left: {:?}", r.left_in_tmp());
    r
}

/// [`run_hostile_catalog`] of a test whose traffic reached the gateway,
/// which also checks nothing is bound on the addresses the traffic went
/// to (the gateway's sockets are gone with it).
pub fn run_hostile_catalog_test(
    mode: &str,
    test: &str,
    timeouts: &str,
    bound: std::time::Duration,
) -> HostileRun {
    let r = run_hostile_catalog(mode, "", test, timeouts, bound);
    assert!(r.assert_targets_free() > 0, "no traffic target:\n{}", r.all);
    r
}

impl HostileRun {
    /// The gateway addresses its traffic steps went to ("connection(s) to
    /// A:P", "datagram(s) to A:P" in the output or report.json), with
    /// whether each is UDP.
    pub fn targets(&self) -> Vec<(std::net::SocketAddrV4, bool)> {
        let report = std::fs::read_to_string(self.dir.path().join("gwl4-reports/report.json"))
            .unwrap_or_default();
        let mut out = Vec::new();
        let markers = [
            ("connection(s) to ", false),
            ("datagram(s) to ", true),
            ("datagrams to ", true),
        ];
        for (marker, udp) in markers {
            for text in [&self.all, &report] {
                for part in text.split(marker).skip(1) {
                    let addr = part.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'));
                    let addr = addr.into_iter().next().map(|a| a.trim_end_matches(':'));
                    if let Some(a) = addr.and_then(|a| a.parse().ok())
                        && !out.contains(&(a, udp))
                    {
                        out.push((a, udp));
                    }
                }
            }
        }
        out
    }

    /// Asserts nothing is bound any more on the addresses the traffic went
    /// to; returns how many were checked.
    pub fn assert_targets_free(&self) -> usize {
        let targets = self.targets();
        for (addr, udp) in &targets {
            let bound = if *udp {
                udp_bound(addr.port())
            } else {
                tcp_listeners(addr.port())
            };
            assert!(
                !bound.contains(addr.ip()),
                "{addr} (udp: {udp}) is still bound"
            );
        }
        targets.len()
    }

    /// Entries gwl4 left in its TMPDIR (its run directory `gwl4-*`).
    pub fn left_in_tmp(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.path().join("tmp"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

/// The IPv4 addresses with a TCP listener on `port`, from /proc/net/tcp.
pub fn tcp_listeners(port: u16) -> Vec<std::net::Ipv4Addr> {
    ipv4_on(proc_sockets("tcp"), port, |s| s.listening)
}

/// The IPv4 addresses with a UDP socket bound on `port`, from /proc/net/udp.
pub fn udp_bound(port: u16) -> Vec<std::net::Ipv4Addr> {
    ipv4_on(proc_sockets("udp"), port, |_| true)
}

fn ipv4_on(
    sockets: Vec<ProcSocket>,
    port: u16,
    keep: impl Fn(&ProcSocket) -> bool,
) -> Vec<std::net::Ipv4Addr> {
    sockets
        .into_iter()
        .filter(|s| s.port == port && keep(s))
        .filter_map(|s| match s.local {
            std::net::IpAddr::V4(v4) => Some(v4),
            std::net::IpAddr::V6(_) => None,
        })
        .collect()
}

/// One socket of a /proc/net table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProcSocket {
    /// The table: tcp, tcp6, udp or udp6.
    pub table: &'static str,
    pub local: std::net::IpAddr,
    pub port: u16,
    /// TCP: in LISTEN (state 0A).
    pub listening: bool,
    /// UDP: not connected to a peer (takes datagrams from anyone).
    pub unconnected: bool,
    pub inode: u64,
}

/// The sockets of `/proc/net/<table>` (tcp, tcp6, udp or udp6).
pub fn proc_sockets(table: &'static str) -> Vec<ProcSocket> {
    std::fs::read_to_string(format!("/proc/net/{table}"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (addr, port) = cols.get(1)?.split_once(':')?;
            let (remote, _) = cols.get(2)?.split_once(':')?;
            Some(ProcSocket {
                table,
                local: proc_ip(addr)?,
                port: u16::from_str_radix(port, 16).ok()?,
                listening: cols.get(3) == Some(&"0A"),
                unconnected: remote.chars().all(|c| c == '0'),
                inode: cols.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// An address of a /proc/net table: hex, host byte order per 32-bit word.
fn proc_ip(hex: &str) -> Option<std::net::IpAddr> {
    let words: Vec<u32> = (0..hex.len() / 8)
        .map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<_>>()?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).into()),
        16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).into()),
        _ => None,
    }
}

/// Fails at once if SIGINT is ignored in this process: its children (the
/// tier scripts, `sleep`) would inherit that, bash cannot trap a signal
/// ignored on entry, and a Ctrl-C test would wait out its command instead
/// (seen when `.ci/run` was started as a background job of a
/// non-interactive shell, which ignores SIGINT for it).
pub fn assert_sigint_not_ignored() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let ignored = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .unwrap_or(0);
    let sigint = 1u64 << (nix::sys::signal::Signal::SIGINT as u64 - 1);
    assert!(
        ignored & sigint == 0,
        "SIGINT is ignored in this test process (inherited: started as a background job of a \
         non-interactive shell, or under a wrapper that ignores it), so a Ctrl-C test cannot \
         run; run it in the foreground, or with SIGINT at its default disposition"
    );
}
