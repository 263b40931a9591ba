//! The whole catalog through Envoy Gateway (a peer nobody here wrote), and
//! every verdict compared with the table in `docs/peers.md`: a change in
//! gwl4 that silently flips a third-party verdict (or a peer that starts
//! behaving differently) fails here, naming each test whose verdict moved.
//! The table is the triaged record; when a verdict changes for a good
//! reason, the table and its triage change with it.
//!
//! Needs the peers tier: `tools/peers/with-peer.sh envoy-gateway cargo test
//! -p harness --test peers_envoy_gateway -- --ignored --nocapture` (as
//! `.ci/run` does; root, Go, pip).
//!
//! A row may give two verdicts ("failed or passed") where the peer itself
//! is nondeterministic and the triage says why; any other verdict is a
//! change. The statistical steps hold their stated error rate here as
//! anywhere: a correct split fails at most at the run's family-wise bound
//! (printed in the summary), which is then a verdict change this test
//! reports.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

/// The verdicts `docs/peers.md` records for `peer`: test → the verdicts
/// it may have, from the table between `<!-- verdicts PEER -->` and
/// `<!-- end verdicts -->`.
fn recorded(peer: &str) -> BTreeMap<String, Vec<String>> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/peers.md"))
            .expect("docs/peers.md");
    let begin = format!("<!-- verdicts {peer} -->");
    let start = doc
        .find(&begin)
        .unwrap_or_else(|| panic!("docs/peers.md has no {begin}"));
    let table = &doc[start..];
    let table = &table[..table
        .find("<!-- end verdicts -->")
        .expect("end of the verdict table")];
    table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| test ") && !l.starts_with("|---"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let verdicts = cells[3].split(" or ").map(str::to_string).collect();
            (cells[1].to_string(), verdicts)
        })
        .collect()
}

/// The verdict of each test in a report.json, in the table's words.
fn verdicts(report: &serde_json::Value) -> BTreeMap<String, String> {
    report["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| {
            let status = t["result"]["status"].as_str().unwrap_or("?");
            let word = match status {
                "warned" => "warning",
                "notSupported" => "not supported",
                other => other,
            };
            (t["name"].as_str().unwrap().to_string(), word.to_string())
        })
        .collect()
}

#[test]
#[ignore = "needs the peers tier: tools/peers/with-peer.sh envoy-gateway (run by .ci/run)"]
fn envoy_gateway_verdicts_match_docs_peers() {
    let class = std::env::var("GWL4_PEER_CLASS")
        .expect("GWL4_PEER_CLASS is not set: run under tools/peers/with-peer.sh envoy-gateway");
    let kubeconfig = std::env::var("KUBECONFIG").expect("KUBECONFIG");
    let dir = tempfile::tempdir().unwrap();
    let begin = std::time::SystemTime::now();
    let out = common::run_in(
        dir.path(),
        &[
            "--gateway-class",
            &class,
            "--workloads",
            "local",
            "--kubeconfig",
            &kubeconfig,
            "--supported-features",
            "Gateway,TCPRoute,UDPRoute,ReferenceGrant",
            "--timeout-config-overrides",
            "GatewayMustHaveAddress:60;GatewayMustHaveCondition:60",
        ],
    );
    let output = common::text(&out);
    println!("{output}");
    println!(
        "catalog through Envoy Gateway: {:.0?}",
        begin.elapsed().unwrap_or_default()
    );
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "gwl4 did not finish a run (exit {:?})",
        out.status.code()
    );
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("gwl4-reports/report.json")).unwrap(),
    )
    .unwrap();
    let want = recorded("envoy-gateway");
    let got = verdicts(&report);
    let mut moved = Vec::new();
    for (test, verdict) in &got {
        match want.get(test) {
            None => moved.push(format!(
                "{test}: {verdict}, and docs/peers.md has no row for it"
            )),
            Some(w) if !w.contains(verdict) => moved.push(format!(
                "{test}: docs/peers.md says {}, this run says {verdict}",
                w.join(" or ")
            )),
            Some(_) => {}
        }
    }
    for test in want.keys().filter(|t| !got.contains_key(*t)) {
        moved.push(format!("{test}: in docs/peers.md, not in this run"));
    }
    assert!(
        moved.is_empty(),
        "Envoy Gateway's verdicts moved from docs/peers.md (triage each and update the table):\n  {}",
        moved.join("\n  ")
    );
    println!("all {} verdicts match docs/peers.md", got.len());
}

#[test]
fn the_recorded_table_is_readable() {
    let table = recorded("envoy-gateway");
    assert!(table.len() > 60, "{} rows", table.len());
    for (test, verdicts) in &table {
        for verdict in verdicts {
            assert!(
                ["passed", "warning", "failed", "not supported", "skipped"]
                    .contains(&verdict.as_str()),
                "{test}: verdict {verdict:?} is not one the report gives"
            );
        }
    }
}
