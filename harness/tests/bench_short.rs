//! `gwl4 bench --short` in local mode: the CI tier that catches breakage of
//! the bench (processes start, every generator runs, reports are written,
//! the split is judged). Seconds long; no assertion on any timing.

use std::process::Command;

fn gwl4() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gwl4"))
}

#[test]
fn short_bench_in_local_mode_measures_everything_and_writes_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = gwl4()
        .args([
            "bench",
            "--short",
            "--idle-connections",
            "50",
            "--report-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("ratio"), "{stdout}");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bench.json")).unwrap())
            .unwrap();
    let metrics: Vec<&str> = json["ratios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metric"].as_str().unwrap())
        .collect();
    for wanted in [
        "TCP throughput (MB/s)",
        "TCP connections/s",
        "TCP echo latency p99 (µs)",
        "UDP saturation delivered (datagrams/s)",
        "UDP echo latency p50 (µs)",
    ] {
        assert!(
            metrics.contains(&wanted),
            "{wanted} missing from {metrics:?}"
        );
    }
    for side in ["direct", "gateway"] {
        let t = &json[side]["tcpThroughput"];
        assert_eq!(t["bytes"], 8 << 20, "{side}: {t}");
        assert!(
            json[side]["tcpConnections"]["connections"]
                .as_u64()
                .unwrap()
                > 0
        );
        assert!(json[side]["udpLatency"]["samples"].as_u64().unwrap() > 0);
    }
    // Short mode runs two rounds: each path measured in both, the median
    // reported, each round's ratio kept.
    for side in ["direct", "gateway"] {
        for m in [
            "tcpThroughput",
            "tcpConnections",
            "tcpLatency",
            "udpSaturation",
            "udpLatency",
        ] {
            let rounds = json[side]["rounds"][m].as_array().unwrap();
            assert_eq!(rounds.len(), 2, "{side} {m}: {rounds:?}");
        }
    }
    let throughput = &json["ratios"][0];
    assert_eq!(throughput["metric"], "TCP throughput (MB/s)");
    assert_eq!(throughput["roundRatios"].as_array().unwrap().len(), 2);
    // Every connection through the gateway, in every round, landed on one
    // of the two weighted backends, and one verdict was computed over all.
    let split = &json["split"]["verdict"];
    let n = split["n"].as_u64().unwrap();
    let pooled: u64 = json["gateway"]["rounds"]["tcpConnections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["connections"].as_u64().unwrap())
        .sum();
    assert_eq!(n, pooled);
    assert!(
        split["unexpected"].as_array().unwrap().is_empty(),
        "{split}"
    );
    assert_eq!(json["memory"]["connections"], 50);

    let html = std::fs::read_to_string(dir.path().join("bench.html")).unwrap();
    assert!(html.contains("<svg"), "no histogram in bench.html");
}

#[test]
fn a_gateway_address_without_the_direct_one_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = gwl4()
        .args([
            "bench",
            "--short",
            "--gateway-tcp",
            "127.0.0.1:9",
            "--report-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--gateway-tcp needs the direct address"),
        "{stderr}"
    );
}
