//! A deliberately non-conforming standalone gateway, for gwl4's own tests:
//! it proves gwl4 fails gateways that are wrong.
//!
//! It speaks the standalone contract (`--config-dir`, `--status-dir`,
//! `--bind-address`), claims every condition True, and proxies each TCP
//! listener round-robin over every endpoint of every backendRef, **ignoring
//! weights** (weight 0 included). With `--no-status` it never writes status.
//! TCP only; ~the smallest thing that looks like a gateway.

mod config_dir;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use config_dir::{load, ns, of};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

struct Args {
    config: PathBuf,
    status: PathBuf,
    bind: String,
    write_status: bool,
}

fn args() -> Args {
    let mut a = Args {
        config: PathBuf::new(),
        status: PathBuf::new(),
        bind: "127.0.0.1".into(),
        write_status: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--config-dir" => a.config = it.next().expect("value").into(),
            "--status-dir" => a.status = it.next().expect("value").into(),
            "--bind-address" => a.bind = it.next().expect("value"),
            "--no-status" => a.write_status = false,
            _ => {}
        }
    }
    a
}

fn cond(t: &str, generation: &Value) -> Value {
    json!({"type": t, "status": "True", "reason": t, "message": "", "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

/// Every endpoint of every backendRef of every TCPRoute parented to `gw`.
fn endpoints(objs: &[Value], gw: &Value) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for route in of(objs, "TCPRoute") {
        let parented = route["spec"]["parentRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == gw["metadata"]["name"]);
        if !parented {
            continue;
        }
        for rule in route["spec"]["rules"].as_array().into_iter().flatten() {
            for b in rule["backendRefs"].as_array().into_iter().flatten() {
                let svc_ns = b["namespace"].as_str().unwrap_or(ns(route));
                let svc = of(objs, "Service")
                    .find(|s| s["metadata"]["name"] == b["name"] && ns(s) == svc_ns);
                let Some(port_name) = svc.and_then(|s| {
                    s["spec"]["ports"]
                        .as_array()?
                        .iter()
                        .find(|p| p["port"] == b["port"])
                        .map(|p| p["name"].clone())
                }) else {
                    continue;
                };
                for slice in of(objs, "EndpointSlice").filter(|s| {
                    ns(s) == svc_ns
                        && s["metadata"]["labels"]["kubernetes.io/service-name"] == b["name"]
                }) {
                    let Some(port) = slice["ports"]
                        .as_array()
                        .and_then(|ps| ps.iter().find(|p| p["name"] == port_name))
                        .and_then(|p| p["port"].as_u64())
                    else {
                        continue;
                    };
                    for e in slice["endpoints"].as_array().into_iter().flatten() {
                        for a in e["addresses"].as_array().into_iter().flatten() {
                            if let Some(ip) = a.as_str().and_then(|s| s.parse().ok()) {
                                out.push(SocketAddr::new(ip, port as u16));
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

fn write(dir: &Path, kind: &str, o: &Value, status: Value) {
    let mut path = dir.join(kind);
    if kind != "GatewayClass" {
        path = path.join(ns(o));
    }
    let _ = std::fs::create_dir_all(&path);
    let doc = json!({"apiVersion": o["apiVersion"], "kind": kind,
        "metadata": {"name": o["metadata"]["name"], "namespace": o["metadata"]["namespace"], "generation": o["metadata"]["generation"]},
        "status": status});
    let file = path.join(format!(
        "{}.yaml",
        o["metadata"]["name"].as_str().unwrap_or("x")
    ));
    let tmp = file.with_extension("tmp");
    let _ = std::fs::write(&tmp, serde_yaml::to_string(&doc).unwrap_or_default());
    let _ = std::fs::rename(&tmp, &file);
}

fn write_statuses(objs: &[Value], a: &Args) {
    for c in of(objs, "GatewayClass") {
        let g = &c["metadata"]["generation"];
        write(
            &a.status,
            "GatewayClass",
            c,
            json!({"conditions": [cond("Accepted", g)],
            "supportedFeatures": [{"name": "Gateway"}, {"name": "ReferenceGrant"}, {"name": "TCPRoute"}, {"name": "UDPRoute"}]}),
        );
    }
    for gw in of(objs, "Gateway") {
        let g = &gw["metadata"]["generation"];
        let listeners: Vec<Value> = gw["spec"]["listeners"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                json!({
            "name": l["name"], "attachedRoutes": 1,
            "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "TCPRoute"}],
            "conditions": [cond("Accepted", g), cond("Programmed", g), cond("ResolvedRefs", g)]})
            })
            .collect();
        write(
            &a.status,
            "Gateway",
            gw,
            json!({"addresses": [{"type": "IPAddress", "value": a.bind}],
            "conditions": [cond("Accepted", g), cond("Programmed", g)], "listeners": listeners}),
        );
    }
    let controller = of(objs, "GatewayClass")
        .next()
        .map(|c| c["spec"]["controllerName"].clone())
        .unwrap_or(Value::Null);
    for kind in ["TCPRoute", "UDPRoute"] {
        for r in of(objs, kind) {
            let g = &r["metadata"]["generation"];
            let parents: Vec<Value> = r["spec"]["parentRefs"].as_array().into_iter().flatten().map(|p| {
                let mut p = p.clone();
                p["group"] = json!("gateway.networking.k8s.io");
                p["kind"] = json!("Gateway");
                json!({"parentRef": p, "controllerName": controller, "conditions": [cond("Accepted", g), cond("ResolvedRefs", g)]})
            }).collect();
            write(&a.status, kind, r, json!({"parents": parents}));
        }
    }
}

async fn serve(listener: TcpListener, pool: Arc<Vec<SocketAddr>>) {
    let next = AtomicUsize::new(0);
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        if pool.is_empty() {
            continue;
        }
        let target = pool[next.fetch_add(1, Ordering::Relaxed) % pool.len()];
        tokio::spawn(async move {
            if let Ok(mut upstream) = TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
        });
    }
}

#[tokio::main]
async fn main() {
    let a = args();
    let mut last = String::new();
    let mut tasks: BTreeMap<u16, tokio::task::JoinHandle<()>> = BTreeMap::new();
    loop {
        let objs = load(&a.config);
        let fingerprint = serde_json::to_string(&objs).unwrap_or_default();
        if fingerprint != last {
            last = fingerprint;
            for (_, t) in std::mem::take(&mut tasks) {
                t.abort();
            }
            for gw in of(&objs, "Gateway") {
                let pool = Arc::new(endpoints(&objs, gw));
                for l in gw["spec"]["listeners"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|l| l["protocol"] == "TCP")
                {
                    let port = l["port"].as_u64().unwrap_or(0) as u16;
                    let sock =
                        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                            .expect("socket");
                    let _ = sock.set_reuse_address(true);
                    let addr: SocketAddr = format!("{}:{port}", a.bind).parse().expect("address");
                    if sock.bind(&addr.into()).is_ok() && sock.listen(1024).is_ok() {
                        let _ = sock.set_nonblocking(true);
                        if let Ok(listener) = TcpListener::from_std(sock.into()) {
                            tasks.insert(port, tokio::spawn(serve(listener, pool.clone())));
                        }
                    }
                }
            }
            if a.write_status {
                write_statuses(&objs, &a);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
