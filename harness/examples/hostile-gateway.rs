//! A standalone-contract gateway that misbehaves in one chosen way, for
//! gwl4's robustness tests (`harness/tests/hostile_*.rs`, issue #24): gwl4
//! must finish in bounded time, never panic, name the cause, and leave
//! nothing behind, whatever the gateway under test does.
//!
//! Without `--mode` it behaves well enough: it writes plausible status
//! (every condition True, the bind address in `status.addresses`) and
//! proxies each TCP and UDP listener to the first backendRef's endpoints of
//! the routes of that protocol parented to the Gateway. So, with a mode,
//! the misbehaviour is the only cause of what gwl4 reports.
//!
//! Modes (`--mode NAME`):
//! - status: `status-not-yaml`, `status-wrong-kind` (a Gateway's file holds
//!   another object; files for objects that do not exist), `status-huge`
//!   (100 MB), `status-flip` (Accepted flips True/False every 50 ms),
//!   `status-torn` (rewritten in place, non-atomically, all the time);
//! - TCP: `tcp-silent` (accepts, never reads), `tcp-no-answer` (reads,
//!   never answers), `tcp-drip` (one byte per second), `tcp-garbage`
//!   (100 MB of garbage), `tcp-reset` (RST in the middle of a reply);
//! - UDP: `udp-wrong-source`, `udp-hundred` (100 replies per datagram),
//!   `udp-jumbo` (a 65,507-byte datagram to every probe);
//! - process: `exit-at-start`, `exit-mid-test` (when its third TCP
//!   connection arrives: in the middle of a test's traffic),
//!   `ignore-sigterm`, `fork-listener` (a child process that ignores
//!   SIGTERM and listens on `--port P` outlives the gateway).

mod config_dir;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use config_dir::{load, ns, of};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// 100 MB: the size of the huge status file and of the garbage reply.
const HUGE: usize = 100 * 1024 * 1024;

/// TCP connections accepted so far (`exit-mid-test` counts them).
static ACCEPTED: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone)]
struct Args {
    config: PathBuf,
    status: PathBuf,
    bind: String,
    mode: String,
    port: u16,
}

fn args() -> Args {
    let mut a = Args {
        config: PathBuf::new(),
        status: PathBuf::new(),
        bind: "127.0.0.1".into(),
        mode: String::new(),
        port: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().expect("a value after the flag");
        match flag.as_str() {
            "--config-dir" => a.config = value().into(),
            "--status-dir" => a.status = value().into(),
            "--bind-address" => a.bind = value(),
            "--mode" => a.mode = value(),
            "--port" => a.port = value().parse().expect("a port number"),
            _ => {}
        }
    }
    a
}

/// The endpoints of the first backendRef of each `kind` route parented to `gw`.
fn endpoints(objs: &[Value], gw: &Value, kind: &str) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    let parented = |r: &&Value| {
        r["spec"]["parentRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == gw["metadata"]["name"])
    };
    for route in of(objs, kind).filter(parented) {
        let Some(b) = route.pointer("/spec/rules/0/backendRefs/0") else {
            continue;
        };
        let svc_ns = b["namespace"].as_str().unwrap_or(ns(route));
        let port_name = of(objs, "Service")
            .find(|s| s["metadata"]["name"] == b["name"] && ns(s) == svc_ns)
            .and_then(|s| {
                let ports = s["spec"]["ports"].as_array()?;
                Some(ports.iter().find(|p| p["port"] == b["port"])?["name"].clone())
            });
        let slices = of(objs, "EndpointSlice").filter(|s| {
            ns(s) == svc_ns && s["metadata"]["labels"]["kubernetes.io/service-name"] == b["name"]
        });
        for slice in slices {
            let port = slice["ports"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| Some(&p["name"]) == port_name.as_ref()))
                .and_then(|p| p["port"].as_u64());
            for e in slice["endpoints"].as_array().into_iter().flatten() {
                for a in e["addresses"].as_array().into_iter().flatten() {
                    if let (Some(ip), Some(port)) = (a.as_str().and_then(|s| s.parse().ok()), port)
                    {
                        out.push(SocketAddr::new(ip, port as u16));
                    }
                }
            }
        }
    }
    out
}

fn cond(t: &str, status: &str, generation: &Value) -> Value {
    json!({"type": t, "status": status, "reason": t, "message": "",
        "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

fn status_path(dir: &Path, kind: &str, namespace: Option<&str>, name: &str) -> PathBuf {
    let mut path = dir.join(kind);
    if let Some(ns) = namespace {
        path = path.join(ns);
    }
    let _ = std::fs::create_dir_all(&path);
    path.join(format!("{name}.yaml"))
}

/// The status document of `o` as the contract wants it.
fn document(kind: &str, o: &Value, status: Value) -> String {
    let doc = json!({"apiVersion": o["apiVersion"], "kind": kind,
        "metadata": {"name": o["metadata"]["name"], "namespace": o["metadata"]["namespace"],
            "generation": o["metadata"]["generation"]},
        "status": status});
    serde_yaml::to_string(&doc).unwrap_or_default()
}

fn write_atomic(path: &Path, text: &[u8]) {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::write(&tmp, text);
    let _ = std::fs::rename(&tmp, path);
}

fn gateway_status(gw: &Value, bind: &str, accepted: &str) -> Value {
    let g = &gw["metadata"]["generation"];
    let listeners: Vec<Value> = gw["spec"]["listeners"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            json!({"name": l["name"], "attachedRoutes": 1,
            "supportedKinds": [{"group": "gateway.networking.k8s.io",
                "kind": if l["protocol"] == "UDP" { "UDPRoute" } else { "TCPRoute" }}],
            "conditions": [cond("Accepted", "True", g), cond("Programmed", "True", g),
                cond("ResolvedRefs", "True", g)]})
        })
        .collect();
    json!({"addresses": [{"type": "IPAddress", "value": bind}],
        "conditions": [cond("Accepted", accepted, g), cond("Programmed", "True", g)],
        "listeners": listeners})
}

/// Writes every status; the Gateway's the way the mode says.
fn write_statuses(objs: &[Value], a: &Args) {
    for c in of(objs, "GatewayClass") {
        let g = &c["metadata"]["generation"];
        let status = json!({"conditions": [cond("Accepted", "True", g)],
            "supportedFeatures": [{"name": "Gateway"}, {"name": "TCPRoute"}, {"name": "UDPRoute"}]});
        let path = status_path(
            &a.status,
            "GatewayClass",
            None,
            c["metadata"]["name"].as_str().unwrap_or("x"),
        );
        write_atomic(&path, document("GatewayClass", c, status).as_bytes());
    }
    let controller = of(objs, "GatewayClass")
        .next()
        .map(|c| c["spec"]["controllerName"].clone());
    for kind in ["TCPRoute", "UDPRoute"] {
        for r in of(objs, kind) {
            let g = &r["metadata"]["generation"];
            let parents: Vec<Value> = r["spec"]["parentRefs"].as_array().into_iter().flatten()
                .map(|p| {
                    let mut p = p.clone();
                    p["group"] = json!("gateway.networking.k8s.io");
                    p["kind"] = json!("Gateway");
                    json!({"parentRef": p, "controllerName": controller,
                        "conditions": [cond("Accepted", "True", g), cond("ResolvedRefs", "True", g)]})
                })
                .collect();
            let path = status_path(
                &a.status,
                kind,
                Some(ns(r)),
                r["metadata"]["name"].as_str().unwrap_or("x"),
            );
            write_atomic(
                &path,
                document(kind, r, json!({"parents": parents})).as_bytes(),
            );
        }
    }
    for gw in of(objs, "Gateway") {
        let path = status_path(
            &a.status,
            "Gateway",
            Some(ns(gw)),
            gw["metadata"]["name"].as_str().unwrap_or("x"),
        );
        let good = document("Gateway", gw, gateway_status(gw, &a.bind, "True"));
        match a.mode.as_str() {
            "status-not-yaml" => {
                write_atomic(&path, b"status: {conditions: [\n\t- type: Accepted ]]: :\n")
            }
            "status-wrong-kind" => {
                let other = json!({"apiVersion": "gateway.networking.k8s.io/v1alpha2",
                    "metadata": {"name": "someone-else", "namespace": ns(gw), "generation": 1}});
                write_atomic(
                    &path,
                    document("TCPRoute", &other, json!({"parents": []})).as_bytes(),
                );
                // Status for objects gwl4 never created.
                let ghost = status_path(&a.status, "Gateway", Some(ns(gw)), "ghost");
                write_atomic(&ghost, good.as_bytes());
                let nowhere = status_path(&a.status, "Nonsense", Some("no-such-namespace"), "x");
                write_atomic(&nowhere, b"- just\n- a list\n");
            }
            "status-huge" => {
                // Valid YAML: the real status, then 100 MB of comment lines.
                let mut text = good.into_bytes();
                let line = format!("# {}\n", "x".repeat(1021));
                while text.len() < HUGE {
                    text.extend_from_slice(line.as_bytes());
                }
                write_atomic(&path, &text);
            }
            // Written by their own tasks (see `main`).
            "status-flip" | "status-torn" => {}
            _ => write_atomic(&path, good.as_bytes()),
        }
    }
}

/// `status-flip` and `status-torn`: rewrite each Gateway's status forever.
async fn rewrite_forever(objs: Vec<Value>, a: Args) {
    let mut accepted = true;
    loop {
        for gw in of(&objs, "Gateway") {
            let path = status_path(
                &a.status,
                "Gateway",
                Some(ns(gw)),
                gw["metadata"]["name"].as_str().unwrap_or("x"),
            );
            let word = if accepted { "True" } else { "False" };
            let text = document("Gateway", gw, gateway_status(gw, &a.bind, word));
            if a.mode == "status-torn" {
                // In place: truncate, half, a pause, the rest.
                let half = text.len() / 2;
                let _ = std::fs::write(&path, &text.as_bytes()[..half]);
                tokio::time::sleep(Duration::from_millis(10)).await;
                if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&path) {
                    use std::io::Write;
                    let _ = f.write_all(&text.as_bytes()[half..]);
                }
            } else {
                write_atomic(&path, text.as_bytes());
            }
        }
        if a.mode == "status-flip" {
            accepted = !accepted;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn serve_tcp(listener: TcpListener, pool: Arc<Vec<SocketAddr>>, mode: String) {
    let next = AtomicUsize::new(0);
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if mode == "exit-mid-test" && ACCEPTED.fetch_add(1, Ordering::Relaxed) == 2 {
            eprintln!("hostile-gateway: exiting mid-test, as asked");
            std::process::exit(4);
        }
        let Some(target) =
            (!pool.is_empty()).then(|| pool[next.fetch_add(1, Ordering::Relaxed) % pool.len()])
        else {
            continue;
        };
        tokio::spawn(tcp_connection(client, target, mode.clone()));
    }
}

async fn tcp_connection(mut client: TcpStream, target: SocketAddr, mode: String) {
    let (mut cr, mut cw) = client.split();
    match mode.as_str() {
        "tcp-silent" => std::future::pending::<()>().await,
        "tcp-no-answer" => {
            let mut sink = tokio::io::sink();
            let _ = tokio::io::copy(&mut cr, &mut sink).await;
            std::future::pending::<()>().await;
        }
        "tcp-garbage" => {
            let mut sink = tokio::io::sink();
            let drain = tokio::io::copy(&mut cr, &mut sink);
            let garbage = async {
                let chunk = vec![0xA5u8; 64 * 1024];
                for _ in 0..HUGE / chunk.len() {
                    cw.write_all(&chunk).await?;
                }
                cw.shutdown().await
            };
            let _ = tokio::join!(drain, garbage);
        }
        _ => {
            let Ok(mut upstream) = TcpStream::connect(target).await else {
                return;
            };
            let (mut ur, mut uw) = upstream.split();
            let up = async {
                let _ = tokio::io::copy(&mut cr, &mut uw).await;
                let _ = uw.shutdown().await;
            };
            let down = async {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match ur.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    match mode.as_str() {
                        "tcp-drip" => {
                            for b in &buf[..n] {
                                if cw.write_all(&[*b]).await.is_err() {
                                    return;
                                }
                                tokio::time::sleep(Duration::from_secs(1)).await;
                            }
                        }
                        "tcp-reset" => {
                            // Half the reply, then RST (linger 0 on close).
                            let _ = cw.write_all(&buf[..n.div_ceil(2)]).await;
                            return;
                        }
                        _ => {
                            if cw.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                let _ = cw.shutdown().await;
            };
            if mode == "tcp-reset" {
                // Ends when the half reply is out, however the client side goes.
                let up = async {
                    up.await;
                    std::future::pending::<()>().await
                };
                tokio::select! { () = up => {}, () = down => {} }
            } else {
                tokio::join!(up, down);
            }
        }
    }
    if mode == "tcp-reset" {
        // Linger 0: closing sends RST, not FIN.
        let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
    }
}

async fn serve_udp(socket: UdpSocket, pool: Arc<Vec<SocketAddr>>, a: Args) {
    let socket = Arc::new(socket);
    let wrong = Arc::new(
        UdpSocket::bind((a.bind.as_str(), 0))
            .await
            .expect("a second socket"),
    );
    let mut sessions: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let next = AtomicUsize::new(0);
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        if a.mode == "udp-jumbo" {
            let _ = socket.send_to(&vec![b'J'; 65_507], client).await;
            continue;
        }
        if pool.is_empty() {
            continue;
        }
        let upstream = match sessions.get(&client) {
            Some(u) => u.clone(),
            None => {
                let target = pool[next.fetch_add(1, Ordering::Relaxed) % pool.len()];
                let Ok(u) = UdpSocket::bind("0.0.0.0:0").await else {
                    continue;
                };
                if u.connect(target).await.is_err() {
                    continue;
                }
                let u = Arc::new(u);
                let reply_via = if a.mode == "udp-wrong-source" {
                    wrong.clone()
                } else {
                    socket.clone()
                };
                let copies = if a.mode == "udp-hundred" { 100 } else { 1 };
                tokio::spawn(relay_back(u.clone(), reply_via, client, copies));
                sessions.insert(client, u.clone());
                u
            }
        };
        let _ = upstream.send(&buf[..n]).await;
    }
}

async fn relay_back(
    upstream: Arc<UdpSocket>,
    via: Arc<UdpSocket>,
    client: SocketAddr,
    copies: usize,
) {
    let mut buf = vec![0u8; 65_536];
    while let Ok(n) = upstream.recv(&mut buf).await {
        for _ in 0..copies {
            let _ = via.send_to(&buf[..n], client).await;
        }
    }
}

fn bind(addr: SocketAddr, kind: socket2::Type) -> Option<socket2::Socket> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, kind, None).ok()?;
    let _ = sock.set_reuse_address(true);
    sock.bind(&addr.into()).ok()?;
    if kind == socket2::Type::STREAM {
        sock.listen(1024).ok()?;
    }
    sock.set_nonblocking(true).ok()?;
    Some(sock)
}

/// (Re)binds every listener of every Gateway.
fn listen(objs: &[Value], a: &Args) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for gw in of(objs, "Gateway") {
        for l in gw["spec"]["listeners"].as_array().into_iter().flatten() {
            let port = l["port"].as_u64().unwrap_or(0) as u16;
            let Ok(addr) = format!("{}:{port}", a.bind).parse::<SocketAddr>() else {
                continue;
            };
            if l["protocol"] == "UDP" {
                let pool = Arc::new(endpoints(objs, gw, "UDPRoute"));
                let sock = bind(addr, socket2::Type::DGRAM)
                    .and_then(|s| UdpSocket::from_std(s.into()).ok());
                if let Some(sock) = sock {
                    tasks.push(tokio::spawn(serve_udp(sock, pool, a.clone())));
                }
            } else {
                let pool = Arc::new(endpoints(objs, gw, "TCPRoute"));
                if let Some(l) = bind(addr, socket2::Type::STREAM)
                    .and_then(|s| TcpListener::from_std(s.into()).ok())
                {
                    tasks.push(tokio::spawn(serve_tcp(l, pool, a.mode.clone())));
                }
            }
        }
    }
    tasks
}

/// `fork-listener`'s child: holds a listener, shrugs off SIGTERM, and stays.
async fn listener_child(a: &Args) {
    let _term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    let _l = TcpListener::bind((a.bind.as_str(), a.port))
        .await
        .expect("the child's listener");
    println!("listener child listening on {}:{}", a.bind, a.port);
    std::future::pending::<()>().await
}

#[tokio::main]
async fn main() {
    let a = args();
    match a.mode.as_str() {
        "exit-at-start" => {
            eprintln!("hostile-gateway: exiting at start, as asked");
            std::process::exit(3);
        }
        "listener-child" => return listener_child(&a).await,
        "fork-listener" => {
            let me = std::env::current_exe().expect("own path");
            // Never waited for: it is meant to outlive this process.
            #[allow(clippy::zombie_processes)]
            let child = std::process::Command::new(me)
                .args([
                    "--mode",
                    "listener-child",
                    "--bind-address",
                    &a.bind,
                    "--port",
                    &a.port.to_string(),
                ])
                .spawn()
                .expect("the listener child");
            eprintln!("hostile-gateway: forked listener child {}", child.id());
        }
        _ => {}
    }
    // Held for the whole run: SIGTERM is then caught, and ignored.
    let _term = (a.mode == "ignore-sigterm")
        .then(|| tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()));
    let mut last = String::new();
    let mut tasks = Vec::new();
    loop {
        let objs = load(&a.config);
        let fingerprint = serde_json::to_string(&objs).unwrap_or_default();
        if fingerprint != last {
            last = fingerprint;
            for t in std::mem::take(&mut tasks) {
                tokio::task::JoinHandle::abort(&t);
            }
            tasks = listen(&objs, &a);
            write_statuses(&objs, &a);
            if matches!(a.mode.as_str(), "status-flip" | "status-torn") {
                tasks.push(tokio::spawn(rewrite_forever(objs.clone(), a.clone())));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
