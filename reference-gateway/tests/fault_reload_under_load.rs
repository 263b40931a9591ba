//! Reload under load (issue #24): the `reference-gateway standalone`
//! binary holds [`ESTABLISHED`] connections on route A (listener `a`)
//! and takes a stream of new ones there, while route B (on listener `b`
//! of the same Gateway) is added, changed (to another backend) and
//! deleted [`CYCLES`] times through its file in the config directory.
//!
//! Proves: every reload took effect (B's traffic follows each step, and
//! the gateway counts one reload per step), yet none touched A: every
//! established connection answers an echo of its own bytes intact after
//! the cycles and then closes cleanly (no reset, no truncation), the
//! busiest of them kept echoing throughout, no new connection on A failed,
//! and the gateway closed none of A's connections for a reload.
//!
//! The gateway is a child process; this process holds the client ends of
//! the connections and the echo backend's ends (about 2,000 descriptors).

mod dataplane_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use dataplane_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, Semaphore};

const NS: &str = "reload";
/// Connections held open on route A through all the reloads.
const ESTABLISHED: usize = 1_000;
/// Of those, how many echo continuously during the reloads.
const BUSY: usize = 50;
/// Add, change and delete route B this many times.
const CYCLES: u32 = 100;
/// Clients opening new connections on A in a loop during the reloads.
const NEW_CLIENTS: usize = 4;

/// Everything but route B: the Gateway with listeners `a` and `b`, the
/// two backends' Services, and route A to `v1`.
fn base_objects(a: u16, b: u16, v1: u16, v2: u16) -> String {
    format!(
        r#"{}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {{name: a, namespace: {NS}, generation: 1, creationTimestamp: "2026-01-01T00:00:01Z"}}
spec:
  parentRefs: [{{name: gw, sectionName: a}}]
  rules:
  - backendRefs: [{{name: v1, port: 3000}}]
---
{}
---
{}
"#,
        gateway_yaml(NS, &[("a", a, "TCP"), ("b", b, "TCP")]),
        service_yaml(NS, "v1", v1, None),
        service_yaml(NS, "v2", v2, None)
    )
}

/// Route B to `backend`, at `generation`.
fn route_b(backend: &str, generation: u32) -> String {
    format!(
        r#"apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {{name: b, namespace: {NS}, generation: {generation}, creationTimestamp: "2026-01-01T00:00:02Z"}}
spec:
  parentRefs: [{{name: gw, sectionName: b}}]
  rules:
  - backendRefs: [{{name: {backend}, port: 3000}}]
"#
    )
}

/// Polls new connections to B until they reach `want` (a service name),
/// or fail when `want` is `None` (no route).
async fn b_serves(addr: SocketAddr, want: Option<&str>) {
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        let got = tcp_hello(addr).await.ok().map(|reply| reply.service);
        if got.as_deref() == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "route B never served {want:?} (got {got:?})"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One echo of `data` over `stream`; an error names what went wrong.
async fn round_trip(stream: &mut TcpStream, data: &[u8]) -> Result<(), String> {
    stream
        .write_all(data)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut back = vec![0u8; data.len()];
    tokio::time::timeout(GUARD, stream.read_exact(&mut back))
        .await
        .map_err(|_| "no echo".to_owned())?
        .map_err(|e| format!("read: {e}"))?;
    if back != data {
        return Err("echo differs".into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloading_route_b_300_times_leaves_route_a_connections_untouched() {
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let (v1, v2) = (echo("v1").await, echo("v2").await);
    let (a_port, b_port) = (free_port(), free_port());
    let (a, b) = (
        SocketAddr::new(LOCALHOST, a_port),
        SocketAddr::new(LOCALHOST, b_port),
    );
    let dirs = tempfile::tempdir().unwrap();
    let (config_dir, status_dir) = (dirs.path().join("config"), dirs.path().join("status"));
    std::fs::create_dir_all(&config_dir).unwrap();
    write_atomic(
        &config_dir.join("base.yaml"),
        &base_objects(
            a_port,
            b_port,
            v1.tcp_addr().unwrap().port(),
            v2.tcp_addr().unwrap().port(),
        ),
    );
    let b_file = config_dir.join("route-b.yaml");
    let args: Vec<std::ffi::OsString> = vec![
        "standalone".into(),
        "--bind-address".into(),
        "127.0.0.1".into(),
        "--admin-address".into(),
        "127.0.0.1:0".into(),
        "--reload-debounce".into(),
        "10ms".into(),
        "--drain-period".into(),
        "1s".into(),
        "--config-dir".into(),
        config_dir.clone().into(),
        "--status-dir".into(),
        status_dir.into(),
    ];
    let gateway = spawn_gateway(&args).await;
    let deadline = tokio::time::Instant::now() + GUARD;
    while tcp_hello(a).await.map(|r| r.service).ok().as_deref() != Some("v1") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "route A never served"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The established connections: each echoes once to prove it is up,
    // then its task waits; the busy ones echo on until `stop`.
    let stop = Arc::new(AtomicBool::new(false));
    let up = Arc::new(Barrier::new(ESTABLISHED + 1));
    let verify = Arc::new(Barrier::new(ESTABLISHED + 1));
    let connecting = Arc::new(Semaphore::new(64));
    let busy_echoes = Arc::new(AtomicU64::new(0));
    let mut held = Vec::with_capacity(ESTABLISHED);
    for i in 0..ESTABLISHED {
        let (stop, up, verify, connecting, busy_echoes) = (
            stop.clone(),
            up.clone(),
            verify.clone(),
            connecting.clone(),
            busy_echoes.clone(),
        );
        held.push(tokio::spawn(async move {
            // Every task reaches both barriers, failed or not, so that a
            // failure is reported rather than hanging the others.
            let opened = async {
                let _permit = connecting.acquire().await.unwrap();
                let mut stream = TcpStream::connect(a)
                    .await
                    .map_err(|e| format!("connection {i}: connect: {e}"))?;
                stream
                    .write_all(b"STREAM\n")
                    .await
                    .map_err(|e| format!("connection {i}: write: {e}"))?;
                round_trip(&mut stream, format!("{i} up;").as_bytes())
                    .await
                    .map_err(|e| format!("connection {i} at start: {e}"))?;
                Ok::<_, String>(stream)
            }
            .await;
            up.wait().await;
            let busy = async {
                let mut stream = opened?;
                let mut n = 0u64;
                while i < BUSY && !stop.load(Ordering::Relaxed) {
                    round_trip(&mut stream, format!("{i} busy {n};").as_bytes())
                        .await
                        .map_err(|e| format!("busy connection {i} during reloads: {e}"))?;
                    busy_echoes.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Ok::<_, String>(stream)
            }
            .await;
            verify.wait().await;
            let mut stream = busy?;
            // Its own bytes, 4 KiB of them, then a clean close both ways.
            let data: Vec<u8> = format!("{i:08};")
                .into_bytes()
                .into_iter()
                .cycle()
                .take(4096)
                .collect();
            round_trip(&mut stream, &data)
                .await
                .map_err(|e| format!("connection {i} after the reloads: {e}"))?;
            stream
                .shutdown()
                .await
                .map_err(|e| format!("connection {i} shutdown: {e}"))?;
            let mut rest = Vec::new();
            tokio::time::timeout(GUARD, stream.read_to_end(&mut rest))
                .await
                .map_err(|_| format!("connection {i} never closed"))?
                .map_err(|e| format!("connection {i} close: {e}"))?;
            if !rest.is_empty() {
                return Err(format!("connection {i}: {} stray bytes", rest.len()));
            }
            Ok(())
        }));
    }
    up.wait().await;
    eprintln!("reload: {ESTABLISHED} connections established on route A");

    // New connections on A throughout.
    let new_ok = Arc::new(AtomicU64::new(0));
    let new_failed = Arc::new(AtomicU64::new(0));
    let new_clients: Vec<_> = (0..NEW_CLIENTS)
        .map(|_| {
            let (stop, ok, failed) = (stop.clone(), new_ok.clone(), new_failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match tcp_hello(a).await {
                        Ok(reply) if reply.service == "v1" => ok.fetch_add(1, Ordering::Relaxed),
                        other => {
                            eprintln!("reload: a new connection on A failed: {other:?}");
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();

    // Route B: added (to v1), changed (to v2), deleted; each step checked
    // through B's own traffic.
    let started = tokio::time::Instant::now();
    for cycle in 0..CYCLES {
        write_atomic(&b_file, &route_b("v1", 2 * cycle + 1));
        b_serves(b, Some("v1")).await;
        write_atomic(&b_file, &route_b("v2", 2 * cycle + 2));
        b_serves(b, Some("v2")).await;
        std::fs::remove_file(&b_file).unwrap();
        b_serves(b, None).await;
    }
    let reloading = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for client in new_clients {
        client.await.unwrap();
    }
    verify.wait().await;
    let mut failures = Vec::new();
    for task in held {
        if let Err(error) = task.await.unwrap() {
            failures.push(error);
        }
    }
    let report: serde_json::Value =
        serde_json::from_str(&http_get(gateway.admin, "/status").await.1).unwrap();
    let reloads = report["reloads"].as_u64().unwrap();
    let closed_on_a = metric_where(
        gateway.admin,
        "gateway_tcp_connections_closed_by_reload_total",
        |labels| labels.get("listener") == Some(&format!("{NS}/gw/a")),
    )
    .await;
    let closed_on_b = metric_where(
        gateway.admin,
        "gateway_tcp_connections_closed_by_reload_total",
        |labels| labels.get("listener") == Some(&format!("{NS}/gw/b")),
    )
    .await;
    let (new_ok, new_failed) = (
        new_ok.load(Ordering::Relaxed),
        new_failed.load(Ordering::Relaxed),
    );
    eprintln!(
        "reload: {} route B changes in {reloading:.1?} ({reloads} reloads applied in all)",
        3 * CYCLES
    );
    eprintln!(
        "reload: on route A meanwhile: {new_ok} new connections served, {new_failed} failed; {} echoes on {BUSY} busy connections",
        busy_echoes.load(Ordering::Relaxed)
    );
    eprintln!(
        "reload: afterwards {} of {ESTABLISHED} established connections echoed 4 KiB intact and closed cleanly; closed by reload: {closed_on_a} on A, {closed_on_b} on B",
        ESTABLISHED - failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} connections on A failed, the first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(new_failed, 0, "new connections on A failed");
    assert!(new_ok > 0, "no new connection on A was tried");
    assert!(
        busy_echoes.load(Ordering::Relaxed) >= BUSY as u64,
        "the busy connections did not echo during the reloads"
    );
    assert_eq!(closed_on_a, 0.0, "the gateway closed connections on A");
    assert!(
        reloads > u64::from(3 * CYCLES),
        "{reloads} reloads for {} changes",
        3 * CYCLES
    );
}
