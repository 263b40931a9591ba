//! Shared fixtures of the data-plane tests: echo backends, configs, clients.
#![allow(dead_code, missing_docs)]

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use echo_server::protocol::Reply;
use reference_gateway::config::{Backend, Config, Listener, ListenerKey, Protocol, Route, Target};
use reference_gateway::dataplane::metrics::Metrics;
use reference_gateway::dataplane::{DataPlane, Options};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};

pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Guard against hangs: every awaited network step finishes well within this.
pub const GUARD: Duration = Duration::from_secs(20);

/// An echo backend reporting `service`, on ephemeral loopback ports.
pub async fn echo(service: &str) -> echo_server::Running {
    echo_server::start(echo_server::Config::loopback(echo_server::Identity {
        pod: format!("{service}-0"),
        namespace: "test".into(),
        service: service.into(),
    }))
    .await
    .expect("echo server starts")
}

/// A port free on 127.0.0.1 for both TCP and UDP right now (the kernel does
/// not hand the same ephemeral port out again at once).
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind((LOCALHOST, 0)).unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind((LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

pub fn key(port: u16, protocol: Protocol) -> ListenerKey {
    ListenerKey {
        address: LOCALHOST,
        port,
        protocol,
    }
}

pub fn backend(name: &str, weight: u32, endpoints: &[SocketAddr]) -> Backend {
    Backend {
        name: name.into(),
        weight,
        target: Target::Endpoints(endpoints.to_vec()),
    }
}

pub fn reject(name: &str, weight: u32) -> Backend {
    Backend {
        name: name.into(),
        weight,
        target: Target::Reject("backend not permitted".into()),
    }
}

/// A listener with a route named `route` over `backends`.
pub fn listener(key: ListenerKey, route: &str, backends: Vec<Backend>) -> Listener {
    Listener {
        key,
        name: format!(
            "test/gw/{}-{}",
            key.port,
            if key.protocol == Protocol::Tcp {
                "tcp"
            } else {
                "udp"
            }
        ),
        route: Some(Route {
            name: route.into(),
            backends,
        }),
    }
}

pub fn config(listeners: Vec<Listener>) -> Config {
    let mut listeners = listeners;
    listeners.sort_by_key(|l| l.key);
    Config { listeners }
}

/// A data plane with `options`, its metrics kept for assertions.
pub fn data_plane(options: Options) -> (DataPlane, Metrics) {
    let metrics = Metrics::default();
    (DataPlane::new(options, metrics.clone()).unwrap(), metrics)
}

/// Applies `config` and fails the test if a listener did not bind.
pub fn apply(dp: &DataPlane, config: &Config) {
    let failed = dp.apply(config);
    assert!(failed.is_empty(), "bind failures: {failed:?}");
}

/// `HELLO` over a new TCP connection: the identity of the backend reached.
pub async fn tcp_hello(addr: SocketAddr) -> io::Result<Reply> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(b"HELLO n\n").await?;
    let mut line = String::new();
    let read = BufReader::new(&mut stream).read_line(&mut line).await?;
    if read == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "clean EOF, no reply",
        ));
    }
    serde_json::from_str(&line).map_err(io::Error::other)
}

/// `HELLO` on `socket` to `addr`; the reply and the address it came from.
pub async fn udp_hello(socket: &UdpSocket, addr: SocketAddr) -> (Reply, SocketAddr) {
    socket.send_to(b"HELLO n", addr).await.unwrap();
    let mut buf = vec![0; 65_535];
    let (len, from) = tokio::time::timeout(GUARD, socket.recv_from(&mut buf))
        .await
        .expect("a reply")
        .unwrap();
    (serde_json::from_slice(&buf[..len]).unwrap(), from)
}

pub async fn udp_client() -> UdpSocket {
    UdpSocket::bind((LOCALHOST, 0)).await.unwrap()
}

/// Two-sided 99.9% band of a binomial(n, p) count (normal approximation,
/// z = 3.2905): a correct gateway lands outside it 0.1% of the time.
pub fn binomial_band(n: u64, p: f64) -> (f64, f64) {
    let n = n as f64;
    let mean = n * p;
    let half = 3.2905 * (n * p * (1.0 - p)).sqrt();
    (mean - half, mean + half)
}

/// Polls `value` until `pred` holds: for metrics, which have no event to
/// await. Fails after [`GUARD`].
pub async fn eventually(what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + GUARD;
    while !pred() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// The gateway binary as a child process, and what /proc says about it: for
// the fault tests, whose figures (memory, CPU, descriptors) are about the
// process, and whose descriptors must not count against the test's own.

/// The `reference-gateway` binary running as a child; killed on drop.
pub struct GatewayProcess {
    pub child: tokio::process::Child,
    pub pid: i32,
    /// Its admin API (`/readyz`, `/status`, `/metrics`).
    pub admin: SocketAddr,
    /// Keeps the config file (or directory) alive as long as the process.
    pub _dir: Option<tempfile::TempDir>,
}

/// Starts `reference-gateway serve-config` on `config` (written to a
/// temporary file) with `flags`, and waits until it is ready.
pub async fn serve_config(config: &Config, flags: &[&str]) -> GatewayProcess {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, serde_yaml::to_string(config).unwrap()).unwrap();
    let mut args: Vec<std::ffi::OsString> = vec![
        "serve-config".into(),
        "--admin-address".into(),
        "127.0.0.1:0".into(),
        "--drain-period".into(),
        "1s".into(),
        "--config".into(),
        file.into(),
    ];
    args.extend(flags.iter().map(Into::into));
    let mut gateway = spawn_gateway(&args).await;
    gateway._dir = Some(dir);
    gateway
}

/// Starts `command` (the binary with its mode and flags; the admin address
/// must be port 0 or fixed) and reads its admin line; does not wait for
/// `/readyz`, so a test can see the gateway not ready yet.
pub async fn start_gateway(
    command: &mut tokio::process::Command,
) -> (tokio::process::Child, SocketAddr) {
    use tokio::io::AsyncBufReadExt;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the gateway binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(GUARD, lines.next_line())
        .await
        .expect("the admin line in time")
        .unwrap()
        .expect("the admin line");
    let admin = line
        .strip_prefix("admin http://")
        .expect("admin line")
        .parse()
        .unwrap();
    (child, admin)
}

/// Starts the binary with `args` (a mode and its flags; the admin address
/// must be port 0 or fixed), reads its admin line, waits for `/readyz`.
pub async fn spawn_gateway(args: &[std::ffi::OsString]) -> GatewayProcess {
    let (child, admin) = start_gateway(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_reference-gateway"))
            .args(args)
            .env("RUST_LOG", "error"),
    )
    .await;
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    let deadline = tokio::time::Instant::now() + GUARD;
    while http_get(admin, "/readyz").await.0 != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gateway never ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    GatewayProcess {
        child,
        pid,
        admin,
        _dir: None,
    }
}

/// Replaces `path` atomically (a temporary file renamed over it), as the
/// harness does, so the gateway never reads half a file.
pub fn write_atomic(path: &std::path::Path, text: &str) {
    let temp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_str().unwrap()
    ));
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

/// The Namespace `ns`, the GatewayClass `gwl4` and its Gateway `gw` in
/// `ns` with `listeners` as (name, port, protocol), for a standalone config
/// directory; no trailing `---`.
pub fn gateway_yaml(ns: &str, listeners: &[(&str, u16, &str)]) -> String {
    let listeners: String = listeners
        .iter()
        .map(|(name, port, protocol)| {
            format!("\n  - {{name: {name}, port: {port}, protocol: {protocol}}}")
        })
        .collect();
    format!(
        r#"apiVersion: v1
kind: Namespace
metadata: {{name: {ns}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: gwl4, generation: 1}}
spec: {{controllerName: gwl4.dev/reference-gateway}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: {ns}, generation: 1}}
spec:
  gatewayClassName: gwl4
  listeners:{listeners}"#
    )
}

/// A Service `name` in `ns` (TCP port 3000, and UDP port 3001 when `udp`
/// is given) and its EndpointSlice: one endpoint on 127.0.0.1 at the
/// echo backend's `tcp` (and `udp`) port. For a standalone config directory.
pub fn service_yaml(ns: &str, name: &str, tcp: u16, udp: Option<u16>) -> String {
    let mut ports = "  - {name: tcp, port: 3000, protocol: TCP}\n".to_string();
    let mut endpoint_ports = format!("- {{name: tcp, port: {tcp}, protocol: TCP}}\n");
    if let Some(udp) = udp {
        ports.push_str("  - {name: udp, port: 3001, protocol: UDP}\n");
        endpoint_ports.push_str(&format!("- {{name: udp, port: {udp}, protocol: UDP}}\n"));
    }
    format!(
        r#"apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec:
  ports:
{ports}---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: {ns}
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
endpoints:
- addresses: ["127.0.0.1"]
ports:
{endpoint_ports}"#
    )
}

/// A plain HTTP/1.1 GET: the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::AsyncReadExt;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (
        head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        body.to_owned(),
    )
}

/// Sum of a metric's samples (over all labels) from `/metrics` (a
/// counter's name ends in `_total`).
pub async fn metric_sum(admin: SocketAddr, name: &str) -> f64 {
    metric_where(admin, name, |_| true).await
}

/// Sum of a metric's samples whose labels satisfy `pred`.
pub async fn metric_where(
    admin: SocketAddr,
    name: &str,
    pred: impl Fn(&prometheus_parse::Labels) -> bool,
) -> f64 {
    let text = http_get(admin, "/metrics").await.1;
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && pred(&s.labels))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        // An empty f64 sum is -0.0; adding 0.0 prints it as 0.
        .sum::<f64>()
        + 0.0
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
pub fn proc_status_kib(pid: i32, field: &str) -> u64 {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{path}: no {field} line"))
}

/// CPU time (user + system, all threads) the process has used so far.
/// `/proc/<pid>/stat` counts in USER_HZ ticks, 100 per second on every
/// Linux architecture this runs on.
pub fn cpu_time(pid: i32) -> Duration {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).unwrap();
    // Fields after the command name (which may hold spaces) in parentheses:
    // utime and stime are fields 14 and 15, the 12th and 13th after it.
    let after = &text[text.rfind(')').unwrap() + 2..];
    let fields: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().unwrap())
        .collect();
    Duration::from_millis((fields[0] + fields[1]) * 10)
}

/// How many descriptors the process has open.
pub fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}
