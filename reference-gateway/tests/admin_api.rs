//! The admin API in process: health, readiness, status and metrics that
//! parse as Prometheus text.

mod dataplane_support;

use std::net::SocketAddr;
use std::sync::Arc;

use dataplane_support::*;
use prometheus_client::registry::Registry;
use reference_gateway::admin::{self, Admin, Report};
use reference_gateway::config::Protocol;
use reference_gateway::dataplane::metrics::Metrics;
use reference_gateway::dataplane::{DataPlane, Options};
use reference_gateway::provider::ReloadMetrics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A minimal HTTP/1.1 GET: status code and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, body.to_owned())
}

fn sample<'a>(
    scrape: &'a prometheus_parse::Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<&'a prometheus_parse::Sample> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
}

fn value(sample: &prometheus_parse::Sample) -> f64 {
    match sample.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => v,
        ref other => panic!("unexpected value {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_status_and_parseable_metrics() {
    let metrics = Metrics::default();
    let reloads = ReloadMetrics::default();
    let mut registry = Registry::with_prefix("gateway");
    metrics.register(&mut registry);
    reloads.register(&mut registry);
    let admin_state = Arc::new(Admin::new(registry));
    let admin_listener = tokio::net::TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let admin_addr = admin_listener.local_addr().unwrap();
    tokio::spawn(admin::serve(
        admin_listener,
        admin_state.clone(),
        std::future::pending(),
    ));

    assert_eq!(get(admin_addr, "/healthz").await.0, 200);
    assert_eq!(get(admin_addr, "/readyz").await.0, 503);

    let a = echo("v1").await;
    let (tcp_port, udp_port, bad_port) = (free_port(), free_port(), free_port());
    let dp = DataPlane::new(Options::default(), metrics.clone()).unwrap();
    let tcp = listener_for(key(tcp_port, Protocol::Tcp), &a);
    let udp = listener(
        key(udp_port, Protocol::Udp),
        "UDPRoute/test/u",
        vec![backend("v1", 1, &[a.udp_addr().unwrap()])],
    );
    let bad = listener(
        key(bad_port, Protocol::Tcp),
        "TCPRoute/test/bad",
        vec![reject("bad", 1)],
    );
    let cfg = config(vec![tcp.clone(), udp.clone(), bad.clone()]);
    apply(&dp, &cfg);
    admin_state.publish(Report {
        config: cfg.clone(),
        reloads: 1,
        ..Report::default()
    });
    admin_state.set_ready(true);
    assert_eq!(get(admin_addr, "/readyz").await.0, 200);

    for _ in 0..3 {
        tcp_hello(SocketAddr::new(LOCALHOST, tcp_port))
            .await
            .unwrap();
    }
    assert!(
        tcp_hello(SocketAddr::new(LOCALHOST, bad_port))
            .await
            .is_err()
    );
    let client = udp_client().await;
    udp_hello(&client, SocketAddr::new(LOCALHOST, udp_port)).await;

    let (code, body) = get(admin_addr, "/status").await;
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["reloads"], 1);
    assert_eq!(status["config"]["listeners"].as_array().unwrap().len(), 3);
    assert!(status["lastError"].is_null());

    // The connection counters settle once the proxy tasks see EOF.
    let labels = [("listener", tcp.name.as_str()), ("backend", "v1")];
    let deadline = tokio::time::Instant::now() + GUARD;
    let scrape = loop {
        let text = get(admin_addr, "/metrics").await.1;
        let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .expect("Prometheus text");
        if sample(&parsed, "gateway_tcp_connections_active", &labels)
            .is_some_and(|s| value(s) == 0.0)
        {
            break parsed;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "active connections never went back to 0:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let accepted = sample(&scrape, "gateway_tcp_connections_accepted_total", &labels)
        .expect("accepted counter");
    assert_eq!(value(accepted), 3.0);
    let rejected = sample(
        &scrape,
        "gateway_tcp_connections_rejected_total",
        &[
            ("listener", bad.name.as_str()),
            ("reason", "rejected_backend"),
        ],
    )
    .expect("rejected counter");
    assert_eq!(value(rejected), 1.0);
    let up = sample(
        &scrape,
        "gateway_tcp_bytes_total",
        &[("listener", tcp.name.as_str()), ("direction", "upstream")],
    )
    .expect("bytes");
    assert_eq!(value(up), 3.0 * "HELLO n\n".len() as f64);
    let sessions = sample(
        &scrape,
        "gateway_udp_sessions_active",
        &[("listener", udp.name.as_str())],
    )
    .expect("udp sessions");
    assert_eq!(value(sessions), 1.0);
    let created = sample(
        &scrape,
        "gateway_udp_sessions_created_total",
        &[("listener", udp.name.as_str()), ("backend", "v1")],
    )
    .expect("created");
    assert_eq!(value(created), 1.0);
    assert!(
        scrape.docs.contains_key("gateway_reload_duration_seconds"),
        "{:?}",
        scrape.docs.keys()
    );
}

fn listener_for(
    key: reference_gateway::config::ListenerKey,
    a: &echo_server::Running,
) -> reference_gateway::config::Listener {
    listener(
        key,
        "TCPRoute/test/t",
        vec![backend("v1", 1, &[a.tcp_addr().unwrap()])],
    )
}
