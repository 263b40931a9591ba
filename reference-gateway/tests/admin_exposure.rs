//! What each of the gateway's HTTP addresses serves (least exposure): the
//! health address (`--health-address`, the one the install manifests open
//! beyond loopback for the kubelet's probes) answers `/healthz` and
//! `/readyz` and nothing else, `/metrics` only with
//! `--metrics-on-health-address`, `/status` never; the admin address serves
//! everything, and defaults to loopback. The real binary, over real sockets.
//!
//! Two tests in one file: both start the same binary the same way.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// Fails a hung test instead of hanging it; never reached when things work.
const GUARD: Duration = Duration::from_secs(30);

/// The gateway in standalone mode on an empty config, with `args`; its
/// admin and (if asked for) health addresses, from its first stdout lines.
async fn start(dir: &Path, args: &[&str]) -> (Child, SocketAddr, Option<SocketAddr>) {
    let (config, status) = (dir.join("config"), dir.join("status"));
    std::fs::create_dir_all(&config).unwrap();
    std::fs::create_dir_all(&status).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_reference-gateway"))
        .args(["standalone", "--bind-address", "127.0.0.1"])
        .arg("--config-dir")
        .arg(&config)
        .arg("--status-dir")
        .arg(&status)
        .args(args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the gateway binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || {
        tokio::time::timeout(GUARD, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("a line")
    };
    let admin = next()
        .await
        .strip_prefix("admin http://")
        .expect("the admin line first")
        .parse()
        .unwrap();
    let health = if args.contains(&"--health-address") {
        Some(
            next()
                .await
                .strip_prefix("health http://")
                .expect("the health line second")
                .parse()
                .unwrap(),
        )
    } else {
        None
    };
    (child, admin, health)
}

/// `method path` over HTTP/1.1: the status code.
async fn request(addr: SocketAddr, method: &str, path: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(GUARD, stream.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
}

/// Waits for `/readyz` 200 on `addr` (the empty config applied).
async fn ready(addr: SocketAddr) {
    tokio::time::timeout(GUARD, async {
        while request(addr, "GET", "/readyz").await != 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("ready");
}

#[tokio::test]
async fn the_health_address_serves_only_the_probes_and_the_admin_address_everything() {
    let dir = tempfile::tempdir().unwrap();
    // Two loopback addresses stand for "the node's" and "loopback".
    let (_gw, admin, health) = start(
        dir.path(),
        &[
            "--admin-address",
            "127.0.0.1:0",
            "--health-address",
            "127.0.0.2:0",
        ],
    )
    .await;
    let health = health.unwrap();
    assert_eq!(health.ip().to_string(), "127.0.0.2");
    ready(health).await;
    assert_eq!(request(health, "GET", "/healthz").await, 200);
    assert_eq!(request(health, "GET", "/readyz").await, 200);
    for path in [
        "/status",
        "/metrics",
        "/",
        "/status/",
        "/debug",
        "/healthz/x",
    ] {
        assert_eq!(request(health, "GET", path).await, 404, "health {path}");
    }
    assert_eq!(request(health, "POST", "/healthz").await, 405);
    for path in ["/healthz", "/readyz", "/status", "/metrics"] {
        assert_eq!(request(admin, "GET", path).await, 200, "admin {path}");
    }
}

#[tokio::test]
async fn metrics_reach_the_health_address_only_when_asked_and_admin_defaults_to_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let (_gw, admin, health) = start(
        dir.path(),
        &[
            "--health-address",
            "127.0.0.2:0",
            "--metrics-on-health-address",
        ],
    )
    .await;
    let health = health.unwrap();
    assert!(admin.ip().is_loopback(), "default admin address {admin}");
    ready(health).await;
    assert_eq!(request(health, "GET", "/metrics").await, 200);
    assert_eq!(request(health, "GET", "/status").await, 404);
    assert_eq!(request(admin, "GET", "/status").await, 200);
}
