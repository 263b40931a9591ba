//! The gateway's own counters around a test: when the gateway under test
//! has an admin API, `/metrics` (Prometheus text) is read before and after
//! the test, and the counters that moved are set beside what the client
//! sent, so a reader can see e.g. that the gateway counted 2651 accepted
//! connections when gwl4 opened 2651.

use std::collections::BTreeMap;

/// Counter values by `name{labels}`.
pub type Counters = BTreeMap<String, f64>;

/// Parses Prometheus text into counters (`*_total` samples and the other
/// counter-typed families); gauges and histograms are left out.
pub fn counters(text: &str) -> Counters {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let Ok(scrape) = prometheus_parse::Scrape::parse(lines) else {
        return Counters::new();
    };
    let mut out = Counters::new();
    for s in scrape.samples {
        // OpenMetrics types the family `x` but names the sample `x_total`,
        // which the parser then calls untyped.
        let v = match s.value {
            prometheus_parse::Value::Counter(v) => v,
            prometheus_parse::Value::Untyped(v) if s.metric.ends_with("_total") => v,
            _ => continue,
        };
        let mut labels: Vec<String> = s
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        labels.sort();
        let key = if labels.is_empty() {
            s.metric.clone()
        } else {
            format!("{}{{{}}}", s.metric, labels.join(","))
        };
        out.insert(key, v);
    }
    out
}

/// The counters that moved between two scrapes, one line each.
pub fn deltas(before: &Counters, after: &Counters) -> Vec<String> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0.0);
            (d != 0.0).then(|| format!("{k} +{d}"))
        })
        .collect()
}

/// GETs a URL's body over plain HTTP (the admin API is on loopback).
pub async fn fetch(url: &str) -> Option<String> {
    // reqwest is built without a default TLS provider; a library caller may
    // not have installed one (the gwl4 binary has).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .ok()?;
    let resp = client.get(url).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.text().await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_text_as_the_reference_gateway_writes_it() {
        let text = "# HELP gateway_tcp_connections_accepted Connections accepted.\n# TYPE gateway_tcp_connections_accepted counter\ngateway_tcp_connections_accepted_total{listener=\"ns/gw/tcp\",backend=\"ns/b:8080\"} 3\n# TYPE gateway_reloads counter\ngateway_reloads_total{result=\"ok\"} 1\n# TYPE gateway_reload_duration_seconds histogram\ngateway_reload_duration_seconds_sum 0.01\ngateway_reload_duration_seconds_count 1\n# EOF\n";
        let c = counters(text);
        assert_eq!(c.get("gateway_tcp_connections_accepted_total{backend=\"ns/b:8080\",listener=\"ns/gw/tcp\"}"), Some(&3.0), "{c:?}");
        assert_eq!(
            c.get("gateway_reloads_total{result=\"ok\"}"),
            Some(&1.0),
            "{c:?}"
        );
    }

    #[tokio::test]
    async fn fetch_reads_a_plain_http_body() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await.unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
                .await
                .unwrap();
        });
        assert_eq!(
            fetch(&format!("http://{addr}/metrics")).await.as_deref(),
            Some("hello")
        );
    }

    #[test]
    fn counters_and_deltas() {
        let before = counters(
            "# TYPE gateway_tcp_connections_accepted_total counter\ngateway_tcp_connections_accepted_total{listener=\"a\"} 2\n# TYPE gateway_udp_sessions_active gauge\ngateway_udp_sessions_active 4\n",
        );
        let after = counters(
            "# TYPE gateway_tcp_connections_accepted_total counter\ngateway_tcp_connections_accepted_total{listener=\"a\"} 7\n# TYPE gateway_udp_sessions_active gauge\ngateway_udp_sessions_active 1\n",
        );
        assert_eq!(
            deltas(&before, &after),
            vec!["gateway_tcp_connections_accepted_total{listener=\"a\"} +5".to_string()]
        );
    }
}
