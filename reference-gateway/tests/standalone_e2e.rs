//! The standalone contract end to end: the `reference-gateway standalone`
//! binary, YAML in a config directory, status files out, real traffic.

mod dataplane_support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dataplane_support::*;
use tokio::process::{Child, Command};

const NS: &str = "gwl4-e2e";

/// The ports of the test: gateway listeners and the two echo backends.
struct Ports {
    gateway: u16,
    busy: u16,
    v1: (u16, u16),
    v2: (u16, u16),
}

/// Every object; the TCPRoute goes to `tcp_backend` at `generation`.
fn objects(p: &Ports, tcp_backend: &str, generation: u32, with_udp_route: bool) -> String {
    let mut yaml = format!(
        r#"{}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {{name: tcp, namespace: {NS}, generation: {generation}, creationTimestamp: "2026-01-01T00:00:03Z"}}
spec:
  parentRefs: [{{name: gw, sectionName: tcp}}]
  rules:
  - backendRefs: [{{name: {tcp_backend}, port: 3000}}]
---
{}
---
{}
"#,
        gateway_yaml(
            NS,
            &[
                ("tcp", p.gateway, "TCP"),
                ("udp", p.gateway, "UDP"),
                ("busy", p.busy, "TCP")
            ]
        ),
        service_yaml(NS, "v1", p.v1.0, Some(p.v1.1)),
        service_yaml(NS, "v2", p.v2.0, Some(p.v2.1))
    );
    if with_udp_route {
        yaml.push_str(&format!(
            r#"---
apiVersion: gateway.networking.k8s.io/v1
kind: UDPRoute
metadata: {{name: udp, namespace: {NS}, generation: 1, creationTimestamp: "2026-01-01T00:00:04Z"}}
spec:
  parentRefs: [{{name: gw, sectionName: udp}}]
  rules:
  - backendRefs: [{{name: v1, port: 3001}}]
"#
        ));
    }
    yaml
}

async fn start(config_dir: &Path, status_dir: &Path) -> (Child, SocketAddr) {
    start_gateway(
        Command::new(env!("CARGO_BIN_EXE_reference-gateway"))
            .args([
                "standalone",
                "--bind-address",
                "127.0.0.1",
                "--admin-address",
                "127.0.0.1:0",
            ])
            .args(["--reload-debounce", "50ms", "--drain-period", "1s"])
            .arg("--config-dir")
            .arg(config_dir)
            .arg("--status-dir")
            .arg(status_dir),
    )
    .await
}

/// Polls a status file until `pred` holds for its YAML (the file is
/// replaced atomically, so every read is a whole document).
async fn status_until(
    path: &Path,
    what: &str,
    pred: impl Fn(&serde_yaml::Value) -> bool,
) -> serde_yaml::Value {
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
            if pred(&value) {
                return value;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}: never {what}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The condition `type_` of a condition list.
fn condition<'a>(conditions: &'a serde_yaml::Value, type_: &str) -> &'a serde_yaml::Value {
    conditions
        .as_sequence()
        .and_then(|list| list.iter().find(|c| c["type"] == type_))
        .unwrap_or(&serde_yaml::Value::Null)
}

fn route_accepted(doc: &serde_yaml::Value) -> &serde_yaml::Value {
    condition(&doc["status"]["parents"][0]["conditions"], "Accepted")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_in_status_out_traffic_follows_changes() {
    let (v1, v2) = (echo("v1").await, echo("v2").await);
    // A port someone else holds: its listener must get PortUnavailable.
    let blocker = std::net::TcpListener::bind((LOCALHOST, 0)).unwrap();
    let ports = Ports {
        gateway: free_port(),
        busy: blocker.local_addr().unwrap().port(),
        v1: (v1.tcp_addr().unwrap().port(), v1.udp_addr().unwrap().port()),
        v2: (v2.tcp_addr().unwrap().port(), v2.udp_addr().unwrap().port()),
    };
    let dirs = tempfile::tempdir().unwrap();
    let (config_dir, status_dir) = (dirs.path().join("config"), dirs.path().join("status"));
    std::fs::create_dir_all(&config_dir).unwrap();
    let objects_file = config_dir.join("objects.yaml");
    write_atomic(&objects_file, &objects(&ports, "v1", 1, true));
    let (mut child, admin) = start(&config_dir, &status_dir).await;
    let status = |kind: &str, name: &str| -> PathBuf {
        if kind == "GatewayClass" {
            status_dir.join(kind).join(format!("{name}.yaml"))
        } else {
            status_dir.join(kind).join(NS).join(format!("{name}.yaml"))
        }
    };

    // Status written, in the contract's layout.
    status_until(&status("GatewayClass", "gwl4"), "Accepted", |d| {
        condition(&d["status"]["conditions"], "Accepted")["status"] == "True"
    })
    .await;
    let gateway = status_until(&status("Gateway", "gw"), "has listener status", |d| {
        d["status"]["listeners"]
            .as_sequence()
            .is_some_and(|l| l.len() == 3)
    })
    .await;
    assert_eq!(gateway["status"]["addresses"][0]["value"], "127.0.0.1");
    let listeners = gateway["status"]["listeners"].as_sequence().unwrap();
    let by_name = |n: &str| listeners.iter().find(|l| l["name"] == n).unwrap();
    assert_eq!(by_name("tcp")["attachedRoutes"], 1);
    assert_eq!(
        condition(&by_name("tcp")["conditions"], "Programmed")["status"],
        "True"
    );
    assert_eq!(
        condition(&by_name("busy")["conditions"], "Accepted")["reason"],
        "PortUnavailable",
        "{gateway:?}"
    );
    let route = status_until(&status("TCPRoute", "tcp"), "Accepted", |d| {
        route_accepted(d)["status"] == "True"
    })
    .await;
    let accepted_since = route_accepted(&route)["lastTransitionTime"].clone();
    assert!(accepted_since.is_string());
    assert_eq!(http_get(admin, "/readyz").await.0, 200);

    // Traffic.
    let tcp_addr = SocketAddr::new(LOCALHOST, ports.gateway);
    assert_eq!(tcp_hello(tcp_addr).await.unwrap().service, "v1");
    let client = udp_client().await;
    let (reply, from) = udp_hello(&client, tcp_addr).await;
    assert_eq!((reply.service.as_str(), from), ("v1", tcp_addr));

    // Change the route: status and traffic follow; Accepted did not change,
    // so its lastTransitionTime is kept.
    write_atomic(&objects_file, &objects(&ports, "v2", 2, true));
    let route = status_until(&status("TCPRoute", "tcp"), "observedGeneration 2", |d| {
        route_accepted(d)["observedGeneration"] == 2
    })
    .await;
    assert_eq!(route_accepted(&route)["lastTransitionTime"], accepted_since);
    assert_eq!(tcp_hello(tcp_addr).await.unwrap().service, "v2");

    // A file that does not parse: reported with file and line; the last
    // good config keeps serving.
    let broken = config_dir.join("broken.yaml");
    write_atomic(
        &broken,
        "apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: gwl4-e2e}\nspec: {bogusField: 1}\n",
    );
    let deadline = tokio::time::Instant::now() + GUARD;
    let error = loop {
        let report: serde_json::Value =
            serde_json::from_str(&http_get(admin, "/status").await.1).unwrap();
        if let Some(error) = report["lastError"].as_str() {
            break error.to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the broken file was never reported"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        error.contains("broken.yaml:1") && error.contains("bogusField"),
        "{error}"
    );
    assert_eq!(tcp_hello(tcp_addr).await.unwrap().service, "v2");
    std::fs::remove_file(&broken).unwrap();

    // Deleting the UDPRoute removes its status file.
    let udp_status = status("UDPRoute", "udp");
    assert!(udp_status.exists());
    write_atomic(&objects_file, &objects(&ports, "v2", 2, false));
    let deadline = tokio::time::Instant::now() + GUARD;
    while udp_status.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stale status file kept"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let report: serde_json::Value =
        serde_json::from_str(&http_get(admin, "/status").await.1).unwrap();
    assert!(report["lastError"].is_null(), "{report}");

    // SIGTERM: a clean exit after the drain.
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exit = tokio::time::timeout(GUARD, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    drop(blocker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_until_a_config_parses() {
    let dirs = tempfile::tempdir().unwrap();
    let (config_dir, status_dir) = (dirs.path().join("config"), dirs.path().join("status"));
    std::fs::create_dir_all(&config_dir).unwrap();
    let file = config_dir.join("gateway.yaml");
    write_atomic(
        &file,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: gwl4}\nspec: {controllerName: 7, extra: true}\n",
    );
    let (_child, admin) = start(&config_dir, &status_dir).await;
    let deadline = tokio::time::Instant::now() + GUARD;
    let error = loop {
        let report: serde_json::Value =
            serde_json::from_str(&http_get(admin, "/status").await.1).unwrap();
        if let Some(error) = report["lastError"].as_str() {
            break error.to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the error was never reported"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The second document starts on line 5.
    assert!(error.contains("gateway.yaml:5"), "{error}");
    assert_eq!(http_get(admin, "/readyz").await.0, 503);
    write_atomic(
        &file,
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: gwl4}\nspec: {controllerName: gwl4.dev/reference-gateway}\n",
    );
    let deadline = tokio::time::Instant::now() + GUARD;
    while http_get(admin, "/readyz").await.0 != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    status_until(
        &status_dir.join("GatewayClass/gwl4.yaml"),
        "Accepted",
        |d| condition(&d["status"]["conditions"], "Accepted")["status"] == "True",
    )
    .await;
}
