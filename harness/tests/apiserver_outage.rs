//! The API server goes away in the middle of a run, twice: kube-apiserver is
//! killed and restarted, then etcd (`tools/kube/restart.sh`, 5 s down each).
//! Meanwhile the whole catalog runs through gwl4 against the reference
//! gateway's Kubernetes provider, and traffic flows through a route of the
//! test's own. What must hold:
//!
//! - gwl4's API calls ride the outages out (retried with backoff, bounded:
//!   `cluster/kube/retry.rs`), say so once on stderr, and every test passes:
//!   no test hangs and none fails for a transient outage;
//! - the data plane does not depend on the API server: an established
//!   connection keeps echoing and new connections on the unchanged route
//!   keep working while it is down, without a single failure;
//! - the controller reconnects and re-lists: after the outages, a spec
//!   change to the route is reflected in its status (observedGeneration,
//!   Accepted) and a route created afterwards is served.
//!
//! Run: `KUBE_CONTROLLERS=namespace,garbagecollector
//! tools/kube/with-apiserver.sh --crds standard cargo test -p harness --test
//! apiserver_outage -- --ignored --nocapture` (as `.ci/run` does).

mod apiserver_support;
mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use apiserver_support::{host_leftovers, kube_dir, labelled_leftovers, restart, session};
use harness::cluster::local::addresses::claim_block;
use harness::cluster::local::netns::PodNetwork;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// The listener ports of the test's own Gateway (the catalog's tests use
/// their own Gateways, on their own addresses).
const PORT: u16 = 9400;
const PORT_AFTER: u16 = 9401;

fn api(client: &kube::Client, kind: &str, ns: Option<&str>) -> Api<DynamicObject> {
    let info = harness::cluster::kube::resources::lookup(kind).unwrap();
    let resource = info.resource(info.version);
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// Server-side applies `object` (its kind and namespace from itself).
async fn apply(client: &kube::Client, object: Value) {
    let kind = object["kind"].as_str().unwrap();
    let name = object["metadata"]["name"].as_str().unwrap();
    let ns = object["metadata"]["namespace"].as_str();
    api(client, kind, ns)
        .patch(
            name,
            &PatchParams::apply("gwl4-outage-test").force(),
            &Patch::Apply(&object),
        )
        .await
        .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
}

async fn get(client: &kube::Client, kind: &str, ns: &str, name: &str) -> Value {
    let o = api(client, kind, Some(ns)).get(name).await.unwrap();
    serde_json::to_value(o).unwrap()
}

fn route(ns: &str, name: &str, listener: &str, backend_port: u16, weight: u32) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "TCPRoute",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "parentRefs": [{"name": "outage", "sectionName": listener}],
            "rules": [{"backendRefs": [{"name": "echo", "port": backend_port, "weight": weight}]}]
        }
    })
}

/// Whether `route`'s status from our controller is Accepted for the
/// route's current generation.
fn accepted_now(route: &Value) -> bool {
    let generation = route["metadata"]["generation"].as_i64();
    route["status"]["parents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["controllerName"] == "gwl4.dev/reference-gateway")
        .flat_map(|p| p["conditions"].as_array().cloned().unwrap_or_default())
        .any(|c| {
            c["type"] == "Accepted"
                && c["status"] == "True"
                && c["observedGeneration"].as_i64() == generation
        })
}

/// Waits (up to 60 s) until `check` holds for the object.
async fn wait_for(
    client: &kube::Client,
    kind: &str,
    ns: &str,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..600 {
        let o = get(client, kind, ns, name).await;
        if check(&o) {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{kind} {ns}/{name}: {what} not reached in 60 s: {:#}",
        get(client, kind, ns, name).await
    );
}

/// One round trip of a new connection through the gateway: HELLO, and the
/// reply names the nonce.
async fn hello(addr: SocketAddr, nonce: u64) -> Result<(), String> {
    let work = async {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        s.write_all(format!("HELLO n{nonce}\n").as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut line = String::new();
        BufReader::new(s)
            .read_line(&mut line)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if line.contains(&format!("\"n{nonce}\"")) {
            Ok(())
        } else {
            Err(format!("reply {line:?}"))
        }
    };
    tokio::time::timeout(Duration::from_secs(5), work)
        .await
        .map_err(|_| "no reply in 5 s".to_string())?
}

/// Counts of the traffic kept up during the run.
#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
}

/// An established connection echoing a line every 50 ms until `stop`:
/// every line must come back intact.
async fn established(
    addr: SocketAddr,
    counts: Arc<Counts>,
    stop: CancellationToken,
) -> Vec<String> {
    let mut errors = Vec::new();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"STREAM\n").await.unwrap();
    let mut i = 0u64;
    while !stop.is_cancelled() {
        i += 1;
        let line = format!("tick {i}\n");
        let round = async {
            s.write_all(line.as_bytes()).await?;
            let mut back = vec![0; line.len()];
            s.read_exact(&mut back).await?;
            Ok::<_, std::io::Error>(back)
        };
        match tokio::time::timeout(Duration::from_secs(5), round).await {
            Ok(Ok(back)) if back == line.as_bytes() => counts.ok.fetch_add(1, Ordering::Relaxed),
            other => {
                errors.push(format!("tick {i}: {other:?}"));
                counts.failed.fetch_add(1, Ordering::Relaxed);
                break;
            }
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    errors
}

/// A new connection every 200 ms until `stop`.
async fn new_connections(
    addr: SocketAddr,
    counts: Arc<Counts>,
    stop: CancellationToken,
) -> Vec<String> {
    let mut errors = Vec::new();
    let mut i = 0;
    while !stop.is_cancelled() {
        i += 1;
        match hello(addr, i).await {
            Ok(()) => counts.ok.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                errors.push(format!("connection {i}: {e}"));
                counts.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    errors
}

/// Removes the pod networks this process made, also when the test panics.
struct RemoveOnDrop;

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        harness::cluster::local::netns::remove_all_live();
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real API server: tools/kube/with-apiserver.sh (run by .ci/run)"]
async fn runs_and_routes_survive_api_server_and_etcd_restarts() {
    let kube_dir = kube_dir();
    let s = session().await;
    let ns = format!("gwl4-outage-{}", std::process::id());

    // The test's own route: a Gateway with two listeners, and as the
    // backend of Service `echo` an echo server on the host's side of a
    // pod bridge (EndpointSlices may not hold loopback addresses).
    let block = claim_block();
    let network = PodNetwork::create(block.n).await.unwrap();
    // A failing assertion must not leave the bridge for the next test's
    // leftover check to trip on.
    let _bridge = RemoveOnDrop;
    let mut config = echo_server::Config::loopback(echo_server::Identity {
        pod: "echo-0".into(),
        namespace: ns.clone(),
        service: "echo".into(),
    });
    config.bind = network.host_address().into();
    config.udp_port = None;
    let echo = echo_server::start(config).await.unwrap();
    let backend = echo.tcp_addr().unwrap();
    apply(
        &s.client,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    )
    .await;
    apply(&s.client, json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "namespace": ns},
        "spec": {"ports": [{"name": "tcp", "port": 8080, "protocol": "TCP", "targetPort": backend.port()}]}
    })).await;
    apply(&s.client, json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "echo-1", "namespace": ns, "labels": {"kubernetes.io/service-name": "echo"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [backend.ip().to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "tcp", "port": backend.port(), "protocol": "TCP"}]
    })).await;
    apply(
        &s.client,
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "outage", "namespace": ns},
            "spec": {"gatewayClassName": "gwl4-reference", "listeners": [
                {"name": "tcp", "protocol": "TCP", "port": PORT},
                {"name": "after", "protocol": "TCP", "port": PORT_AFTER}
            ]}
        }),
    )
    .await;
    apply(&s.client, route(&ns, "during", "tcp", 8080, 1)).await;
    wait_for(
        &s.client,
        "TCPRoute",
        &ns,
        "during",
        "Accepted",
        accepted_now,
    )
    .await;
    let gateway = wait_for(&s.client, "Gateway", &ns, "outage", "an address", |g| {
        g["status"]["addresses"][0]["value"].is_string()
    })
    .await;
    let ip: std::net::IpAddr = gateway["status"]["addresses"][0]["value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let addr = SocketAddr::new(ip, PORT);
    hello(addr, 0)
        .await
        .expect("the route serves before the outages");

    // Traffic through the outages.
    let stop = CancellationToken::new();
    let (steady, fresh) = (Arc::new(Counts::default()), Arc::new(Counts::default()));
    let steady_task = tokio::spawn(established(addr, steady.clone(), stop.clone()));
    let fresh_task = tokio::spawn(new_connections(addr, fresh.clone(), stop.clone()));

    // The catalog, with the outages a few seconds in.
    let stderr_path = s.dir.path().join("gwl4.stderr");
    let mut gwl4 = tokio::process::Command::new(env!("CARGO_BIN_EXE_gwl4"))
        .args(s.args(&[]))
        .current_dir(s.dir.path())
        .env("TMPDIR", s.dir.path())
        .stdout(Stdio::from(
            std::fs::File::create(s.dir.path().join("gwl4.stdout")).unwrap(),
        ))
        .stderr(Stdio::from(std::fs::File::create(&stderr_path).unwrap()))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let begin = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (ok_before, fresh_before) = (
        steady.ok.load(Ordering::Relaxed),
        fresh.ok.load(Ordering::Relaxed),
    );
    restart(&kube_dir, "kube-apiserver", 5).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    restart(&kube_dir, "etcd", 5).await;
    let (ok_during, fresh_during) = (
        steady.ok.load(Ordering::Relaxed) - ok_before,
        fresh.ok.load(Ordering::Relaxed) - fresh_before,
    );
    assert!(
        gwl4.try_wait().unwrap().is_none(),
        "the catalog ended before the outages did: make it start them earlier"
    );
    let status = tokio::time::timeout(Duration::from_secs(900), gwl4.wait())
        .await
        .expect("gwl4 hung after the outages")
        .unwrap();
    let wall = begin.elapsed();
    let stdout = std::fs::read_to_string(s.dir.path().join("gwl4.stdout")).unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    println!("{stdout}\n{stderr}");
    println!("catalog with two API outages: {wall:.1?}");

    // gwl4: every test passed, and it said what happened.
    assert_eq!(
        status.code(),
        Some(0),
        "gwl4 failed through the outages; controller log tail:\n{}",
        s.controller.log_tail()
    );
    assert!(!stderr.contains("panicked"), "gwl4 panicked");
    assert!(
        stderr.contains("the API server did not answer"),
        "gwl4 never noticed the outage"
    );
    assert!(
        stderr.contains("the API server answers again"),
        "gwl4 never said the API server was back"
    );

    // The data plane kept going while the API server was down.
    stop.cancel();
    let steady_errors = steady_task.await.unwrap();
    let fresh_errors = fresh_task.await.unwrap();
    println!(
        "established connection: {} round trips ({ok_during} during the outages), {} failed; new connections: {} ({fresh_during} during), {} failed",
        steady.ok.load(Ordering::Relaxed),
        steady.failed.load(Ordering::Relaxed),
        fresh.ok.load(Ordering::Relaxed),
        fresh.failed.load(Ordering::Relaxed),
    );
    assert_eq!(
        steady_errors,
        Vec::<String>::new(),
        "the established connection broke"
    );
    assert_eq!(fresh_errors, Vec::<String>::new(), "new connections failed");
    assert!(
        ok_during > 50 && fresh_during > 10,
        "too little traffic during the outages to tell"
    );

    // The controller reconnected: a change after the outages is reflected,
    // and a new route is served.
    assert!(
        s.controller.is_running(),
        "the controller died: {}",
        s.controller.log_tail()
    );
    apply(&s.client, route(&ns, "during", "tcp", 8080, 2)).await;
    let changed = wait_for(
        &s.client,
        "TCPRoute",
        &ns,
        "during",
        "Accepted at the new generation",
        accepted_now,
    )
    .await;
    assert_eq!(changed["metadata"]["generation"], 2);
    apply(&s.client, route(&ns, "after", "after", 8080, 1)).await;
    wait_for(
        &s.client,
        "TCPRoute",
        &ns,
        "after",
        "Accepted",
        accepted_now,
    )
    .await;
    let mut served = Err(String::new());
    for i in 0..50 {
        served = hello(SocketAddr::new(ip, PORT_AFTER), 1000 + i).await;
        if served.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    served.expect("a route created after the outages is served");

    // Nothing left behind.
    let namespaces = api(&s.client, "Namespace", None);
    namespaces
        .delete(&ns, &DeleteParams::default())
        .await
        .unwrap();
    for _ in 0..600 {
        if namespaces.get_opt(&ns).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        namespaces.get_opt(&ns).await.unwrap().is_none(),
        "namespace {ns} not deleted in 60 s"
    );
    drop(echo);
    network.destroy().await;
    assert_eq!(labelled_leftovers(&s.client).await, Vec::<String>::new());
    assert_eq!(host_leftovers(), Vec::<String>::new());
    assert!(
        common::processes_of(s.dir.path()).is_empty(),
        "gwl4's children still run"
    );
}
