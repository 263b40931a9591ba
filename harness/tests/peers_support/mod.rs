//! What the peers' verdict tests share: the verdict tables of
//! `docs/peers.md`, and one run of the catalog through a peer compared
//! with its table.
//!
//! Needs the peers tier: `tools/peers/with-peer.sh PEER cargo test -p
//! harness --test peers_PEER -- --ignored --nocapture` (as `.ci/run` does;
//! root, Go, pip).
//!
//! A row may give two verdicts ("failed or passed") where the peer itself
//! is nondeterministic and the triage says why; any other verdict is a
//! change. The statistical steps hold their stated error rate here as
//! anywhere: a correct split fails at most at the run's family-wise bound
//! (printed in the summary), which is then a verdict change the test
//! reports.

// Each test binary that includes this module uses part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use super::common;

/// The verdicts a report gives, in the tables' words.
pub const VERDICTS: [&str; 5] = ["passed", "warning", "failed", "not supported", "skipped"];

/// The verdicts `docs/peers.md` records for `peer`: test → the verdicts
/// it may have, from the table between `<!-- verdicts PEER -->` and
/// `<!-- end verdicts -->`.
pub fn recorded(peer: &str) -> BTreeMap<String, Vec<String>> {
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

/// Runs the catalog through the peer with-peer.sh started (`--workloads
/// local`, the class it names, `args` after) and asserts that every
/// verdict is one `docs/peers.md` records for `peer` (`name` in messages).
pub fn verdicts_match_docs(peer: &str, name: &str, args: &[&str]) {
    let class = std::env::var("GWL4_PEER_CLASS").unwrap_or_else(|_| {
        panic!("GWL4_PEER_CLASS is not set: run under tools/peers/with-peer.sh {peer}")
    });
    let kubeconfig = std::env::var("KUBECONFIG").expect("KUBECONFIG");
    let dir = tempfile::tempdir().unwrap();
    let begin = std::time::SystemTime::now();
    let mut all = vec![
        "--gateway-class",
        &class,
        "--workloads",
        "local",
        "--kubeconfig",
        &kubeconfig,
    ];
    all.extend_from_slice(args);
    let out = common::run_in(dir.path(), &all);
    println!("{}", common::text(&out));
    println!(
        "catalog through {name}: {:.0?}",
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
    let want = recorded(peer);
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
        "{name}'s verdicts moved from docs/peers.md (triage each and update the table):\n  {}",
        moved.join("\n  ")
    );
    println!("all {} verdicts match docs/peers.md", got.len());
}
