//! Tests that would collide in a cluster take turns instead of failing:
//! `GatewayObservedGenerationBump` and `TCPRouteObservedGenerationBump`
//! share no object, but both have a listener on port 9300. Where every
//! Gateway gets one address (a hostNetwork gateway on one node), two such
//! tests at once would fight over the port; gwl4 runs them one after the
//! other. Where each Gateway gets its own address, they run side by side.
//!
//! Run: `tools/kube/with-apiserver.sh --crds standard cargo test -p harness
//! --test apiserver_schedule -- --ignored` (needs root, as .ci/run is).

mod apiserver_support;
mod common;

use apiserver_support::{Addresses, host_leftovers, labelled_leftovers, session_with};
use common::text;
use reports::{RunRecord, TestRecord};

const PAIR: [&str; 2] = [
    "GatewayObservedGenerationBump",
    "TCPRouteObservedGenerationBump",
];

/// Runs the pair with two threads; returns the record.
async fn run_pair(addresses: Addresses, extra: &[&str]) -> RunRecord {
    let s = session_with(addresses).await;
    let mut flags = vec!["--test-threads", "2", "--strict", "--skip", "UDPRoute"];
    flags.extend_from_slice(extra);
    flags.push("ObservedGenerationBump");
    let out = common::run_in(s.dir.path(), &s.args(&flags));
    let output = text(&out);
    println!("{output}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "controller log tail:\n{}",
        s.controller.log_tail()
    );
    let record = reports::read_json(&s.dir.path().join("gwl4-reports/report.json")).unwrap();
    let names: Vec<&str> = record.tests.iter().map(|t| t.info.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    for name in PAIR {
        assert!(names.contains(&name), "{names:?}");
    }
    assert!(labelled_leftovers(&s.client).await.is_empty());
    assert!(host_leftovers().is_empty());
    record
}

fn queued(t: &TestRecord) -> (f64, String) {
    let timing = t.timing.clone().unwrap_or_default();
    (
        timing.queued.as_secs_f64(),
        timing.queued_behind.unwrap_or_default(),
    )
}

/// One test, so its two controllers (each reconciles every Gateway of the
/// class) never run at once.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real API server: tools/kube/with-apiserver.sh (run by .ci/run)"]
async fn colliding_tests_take_turns_and_others_run_side_by_side() {
    tests_on_one_port_of_a_shared_address_take_turns().await;
    with_addresses_of_their_own_they_run_side_by_side().await;
}

async fn tests_on_one_port_of_a_shared_address_take_turns() {
    // The default, --gateway-addresses auto: nothing learned yet, so ports
    // are held.
    let record = run_pair(Addresses::Shared, &[]).await;
    let waits: Vec<(String, (f64, String))> = record
        .tests
        .iter()
        .map(|t| (t.info.name.clone(), queued(t)))
        .filter(|(_, (secs, _))| *secs > 0.0)
        .collect();
    assert_eq!(
        waits.len(),
        1,
        "exactly one waited for the other: {waits:?}"
    );
    let (waiter, (_, behind)) = &waits[0];
    let other = PAIR.iter().find(|n| *n != waiter).unwrap();
    assert!(
        behind.starts_with(other) && behind.contains("listener port 9300"),
        "{waiter} queued behind {behind:?}"
    );
}

async fn with_addresses_of_their_own_they_run_side_by_side() {
    let record = run_pair(
        Addresses::PerGateway,
        &["--gateway-addresses", "per-gateway"],
    )
    .await;
    for t in &record.tests {
        assert_eq!(queued(t), (0.0, String::new()), "{}", t.info.name);
    }
}
