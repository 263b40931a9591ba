//! Local mode for the bench: two echo backends and a gateway as separate
//! processes on loopback, the gateway configured through the standalone
//! contract (Gateway API YAML in a directory), so `--gateway-command` can
//! bench any program that speaks it.
//!
//! The TCP listener splits 70/30 between `bench-v1` and `bench-v2`; the UDP
//! listener sends everything to `bench-v1`, the backend the direct path
//! measures.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use super::tcp::service_of;
use super::{BenchArgs, BenchError, Targets};
use crate::cluster::local::process::{EXIT_ON_STDIN_EOF, Process};

/// Backend addresses (each backend on its own loopback address, so the
/// gateway's upstream connections do not share source-port space with the
/// generator's).
const V1: Ipv4Addr = Ipv4Addr::new(127, 0, 3, 1);
const V2: Ipv4Addr = Ipv4Addr::new(127, 0, 3, 2);
/// The gateway's bind address.
const GATEWAY: Ipv4Addr = Ipv4Addr::new(127, 0, 3, 10);

/// How long processes get to start and the gateway to serve its config.
const START: Duration = Duration::from_secs(30);

/// The weights local mode configures.
pub fn default_weights() -> Vec<(String, u32)> {
    vec![("bench-v1".into(), 70), ("bench-v2".into(), 30)]
}

/// The running processes.
#[derive(Debug)]
pub struct LocalBench {
    /// Config, status and logs; removed at stop.
    dir: PathBuf,
    backends: Vec<Process>,
    gateway: Child,
    v1: (SocketAddr, SocketAddr),
    listeners: (SocketAddr, SocketAddr),
}

fn local(message: impl std::fmt::Display) -> BenchError {
    BenchError::Local(message.to_string())
}

/// A port free on `address` right now (the gateway binds it next; nothing
/// else binds 127.0.3.10).
fn free_port(address: Ipv4Addr, udp: bool) -> Result<u16, BenchError> {
    let at = SocketAddr::new(address.into(), 0);
    let port = if udp {
        std::net::UdpSocket::bind(at).and_then(|s| s.local_addr())
    } else {
        std::net::TcpListener::bind(at).and_then(|s| s.local_addr())
    };
    port.map(|a| a.port())
        .map_err(|e| local(format!("no free port on {address}: {e}")))
}

/// Parses `listening tcp=A udp=B`.
fn ready_addresses(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let mut tcp = None;
    let mut udp = None;
    for word in line.split_whitespace() {
        if let Some(a) = word.strip_prefix("tcp=") {
            tcp = a.parse().ok();
        } else if let Some(a) = word.strip_prefix("udp=") {
            udp = a.parse().ok();
        }
    }
    Some((tcp?, udp?))
}

impl LocalBench {
    /// Starts the backends and the gateway and waits until traffic flows
    /// through both listeners.
    pub async fn start(args: &BenchArgs) -> Result<Self, BenchError> {
        let exe = std::env::current_exe().map_err(|e| local(format!("own executable: {e}")))?;
        let dir = std::env::temp_dir().join(format!("gwl4-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| local(format!("{}: {e}", dir.display())))?;
        let mut backends = Vec::new();
        let mut addresses = Vec::new();
        for (name, address) in [("bench-v1", V1), ("bench-v2", V2)] {
            let args: Vec<String> = [
                "echo-server",
                "--bind",
                &address.to_string(),
                "--tcp-port",
                "0",
                "--udp-port",
                "0",
                "--service",
                name,
                "--pod",
                &format!("{name}-0"),
                "--namespace",
                "gwl4-bench",
            ]
            .map(String::from)
            .to_vec();
            let log = dir.join(format!("{name}.log"));
            let mut p = Process::spawn(name, &exe, &args, &[], log, "listening")
                .await
                .map_err(local)?;
            let line = p.wait_ready(START).await.map_err(local)?;
            let addrs = ready_addresses(&line)
                .ok_or_else(|| local(format!("{name}: unexpected ready line `{line}`")))?;
            addresses.push(addrs);
            backends.push(p);
        }
        let (tcp_port, udp_port) = (free_port(GATEWAY, false)?, free_port(GATEWAY, true)?);
        let config_dir = dir.join("config");
        let status_dir = dir.join("status");
        for d in [&config_dir, &status_dir] {
            std::fs::create_dir_all(d).map_err(|e| local(format!("{}: {e}", d.display())))?;
        }
        let manifest = manifests(&args.controller_name, tcp_port, udp_port, &addresses);
        let path = config_dir.join("bench.yaml");
        std::fs::write(&path, manifest).map_err(|e| local(format!("{}: {e}", path.display())))?;
        let gateway = spawn_gateway(args, &exe, &config_dir, &status_dir, &dir)?;
        let listeners = (
            SocketAddr::new(GATEWAY.into(), tcp_port),
            SocketAddr::new(GATEWAY.into(), udp_port),
        );
        let mut bench = Self {
            dir,
            backends,
            gateway,
            v1: addresses[0],
            listeners,
        };
        bench.wait_serving().await?;
        Ok(bench)
    }

    /// The addresses to measure: gateway listeners and `bench-v1` directly.
    pub fn targets(&self) -> Targets {
        Targets {
            tcp: Some((self.listeners.0, self.v1.0)),
            udp: Some((self.listeners.1, self.v1.1)),
        }
    }

    /// The gateway's process id.
    pub fn gateway_pid(&self) -> Option<u32> {
        self.gateway.id()
    }

    /// Polls both listeners with real probes until each answers. The
    /// standalone contract has no ready signal; a reply through the
    /// gateway is the event that matters.
    async fn wait_serving(&mut self) -> Result<(), BenchError> {
        let deadline = tokio::time::Instant::now() + START;
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(local)?;
        let (mut tcp_ok, mut udp_ok) = (false, false);
        while !(tcp_ok && udp_ok) {
            if let Ok(Some(status)) = self.gateway.try_wait() {
                return Err(local(format!("the gateway exited at start: {status}")));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(local(format!(
                    "the gateway did not serve its listeners within {START:?} (tcp {tcp_ok}, udp {udp_ok})"
                )));
            }
            if !tcp_ok {
                tcp_ok = probe_tcp(self.listeners.0).await;
            }
            if !udp_ok {
                let _ = udp.send_to(b"HELLO ready", self.listeners.1).await;
                let mut buf = [0u8; 1024];
                udp_ok = matches!(
                    tokio::time::timeout(Duration::from_millis(100), udp.recv_from(&mut buf)).await,
                    Ok(Ok((n, _))) if service_of(&buf[..n]).is_some()
                );
            }
            if !(tcp_ok && udp_ok) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Stops everything.
    pub async fn stop(mut self) {
        let _ = self.gateway.start_kill();
        let _ = self.gateway.wait().await;
        for b in self.backends.drain(..) {
            b.stop(Duration::from_secs(2)).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn probe_tcp(target: SocketAddr) -> bool {
    let attempt = async {
        let mut s = TcpStream::connect(target).await.ok()?;
        s.write_all(b"HELLO ready\n").await.ok()?;
        let mut line = Vec::new();
        BufReader::new(&mut s)
            .read_until(b'\n', &mut line)
            .await
            .ok()?;
        service_of(&line)
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Some(_))
    )
}

/// Starts the gateway under the standalone contract; its output goes to
/// `gateway.log` in the bench's directory.
fn spawn_gateway(
    args: &BenchArgs,
    exe: &std::path::Path,
    config_dir: &std::path::Path,
    status_dir: &std::path::Path,
    dir: &std::path::Path,
) -> Result<Child, BenchError> {
    let (program, mut argv): (PathBuf, Vec<String>) = match &args.gateway_command {
        Some(cmd) => {
            let mut words = cmd.split_whitespace().map(String::from);
            let program = words
                .next()
                .ok_or_else(|| BenchError::Usage("--gateway-command is empty".into()))?;
            (program.into(), words.collect())
        }
        None => (
            exe.to_path_buf(),
            vec!["reference-gateway".into(), "standalone".into()],
        ),
    };
    argv.extend([
        "--config-dir".into(),
        config_dir.display().to_string(),
        "--status-dir".into(),
        status_dir.display().to_string(),
        "--bind-address".into(),
        IpAddr::from(GATEWAY).to_string(),
    ]);
    let log_path = dir.join("gateway.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| local(format!("{}: {e}", log_path.display())))?;
    let log2 = log
        .try_clone()
        .map_err(|e| local(format!("{}: {e}", log_path.display())))?;
    Command::new(&program)
        .args(&argv)
        .env(EXIT_ON_STDIN_EOF, "1")
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(log2)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| local(format!("cannot start {}: {e}", program.display())))
}

/// The Gateway API objects local mode serves: a class, a Gateway with a
/// TCP and a UDP listener, a 70/30 TCPRoute, a UDPRoute to v1, and the
/// Services and EndpointSlices for both backends.
fn manifests(
    controller: &str,
    tcp_port: u16,
    udp_port: u16,
    backends: &[(SocketAddr, SocketAddr)],
) -> String {
    let mut out = format!(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: gwl4-bench}}
spec: {{controllerName: "{controller}"}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: gwl4-bench}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: bench, namespace: gwl4-bench}}
spec:
  gatewayClassName: gwl4-bench
  listeners:
    - {{name: tcp, protocol: TCP, port: {tcp_port}}}
    - {{name: udp, protocol: UDP, port: {udp_port}}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {{name: bench, namespace: gwl4-bench}}
spec:
  parentRefs: [{{name: bench, sectionName: tcp}}]
  rules:
    - backendRefs:
        - {{name: bench-v1, port: 5000, weight: 70}}
        - {{name: bench-v2, port: 5000, weight: 30}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {{name: bench, namespace: gwl4-bench}}
spec:
  parentRefs: [{{name: bench, sectionName: udp}}]
  rules:
    - backendRefs:
        - {{name: bench-v1, port: 5001}}
"#
    );
    for (i, (tcp, udp)) in backends.iter().enumerate() {
        let name = format!("bench-v{}", i + 1);
        out.push_str(&format!(
            r#"---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: gwl4-bench}}
spec:
  ports:
    - {{name: tcp, port: 5000, targetPort: {tp}, protocol: TCP}}
    - {{name: udp, port: 5001, targetPort: {up}, protocol: UDP}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-bench
  namespace: gwl4-bench
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
endpoints:
  - addresses: ["{ip}"]
    conditions: {{ready: true}}
ports:
  - {{name: tcp, port: {tp}, protocol: TCP}}
  - {{name: udp, port: {up}, protocol: UDP}}
"#,
            tp = tcp.port(),
            up = udp.port(),
            ip = tcp.ip(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_echo_servers_ready_line() {
        let (tcp, udp) =
            ready_addresses("listening tcp=127.0.3.1:4000 udp=127.0.3.1:4001").unwrap();
        assert_eq!(tcp, "127.0.3.1:4000".parse().unwrap());
        assert_eq!(udp, "127.0.3.1:4001".parse().unwrap());
        assert!(ready_addresses("listening tcp=127.0.3.1:4000 udp=off").is_none());
    }

    #[test]
    fn manifests_name_both_backends_and_their_ports() {
        let backends = [
            (
                "127.0.3.1:4000".parse().unwrap(),
                "127.0.3.1:4001".parse().unwrap(),
            ),
            (
                "127.0.3.2:4100".parse().unwrap(),
                "127.0.3.2:4101".parse().unwrap(),
            ),
        ];
        let text = manifests("example.com/gw", 9000, 9001, &backends);
        let docs: Vec<serde_json::Value> = serde_yaml::Deserializer::from_str(&text)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect();
        assert_eq!(docs.len(), 9);
        let slice = docs
            .iter()
            .find(|d| d["kind"] == "EndpointSlice" && d["metadata"]["name"] == "bench-v2-bench")
            .unwrap();
        assert_eq!(slice["endpoints"][0]["addresses"][0], "127.0.3.2");
        assert_eq!(slice["ports"][1]["port"], 4101);
        assert!(text.contains("controllerName: \"example.com/gw\""));
    }
}
