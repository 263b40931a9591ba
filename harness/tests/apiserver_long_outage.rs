//! The API server goes away for longer than gwl4 retries a call
//! (`cluster/kube/retry.rs`: 30 s), in the middle of a test: kube-apiserver
//! is killed while a one-test suite waits between its steps, and stays down
//! for [`DOWN`]. What must hold:
//!
//! - the test in flight fails, and its failure names the outage ("the API
//!   server did not answer (…) for up to 30s of retries"), within its own
//!   status timeout (10 s here) plus one call's retries: no hang;
//! - gwl4 says when the API server stopped answering and when it came
//!   back, exits 1 within [`BOUND`], and leaves nothing behind: its cleanup
//!   (also retried) rides out the rest of the outage;
//! - no panic.
//!
//! The shorter outages a run rides out entirely are `apiserver_outage.rs`.
//!
//! Run: `KUBE_CONTROLLERS=namespace,garbagecollector
//! tools/kube/with-apiserver.sh --crds standard cargo test -p harness --test
//! apiserver_long_outage -- --ignored --nocapture` (as `.ci/run` does).

mod apiserver_support;
mod common;

use std::process::Stdio;
use std::time::Duration;

use apiserver_support::{host_leftovers, kube_dir, labelled_leftovers, restart, session};
use kube::api::{Api, DynamicObject, ListParams};

/// How long kube-apiserver stays down: longer than a call is retried (30 s)
/// plus the status timeout (10 s), shorter than that plus the
/// cleanup's own retries.
const DOWN: u64 = 45;

/// The whole run's bound: setup, the wait, the outage, the failed assert,
/// the cleanup after the API server is back, with room for a loaded machine.
const BOUND: Duration = Duration::from_secs(300);

/// The test's name; its Gateway is `zzlongoutage-gw`.
const NAME: &str = "ZzLongOutage";

/// The suite: the Gateway is accepted, a wait (the API server goes down
/// meanwhile), then the route's status (which needs the API server), then
/// traffic.
const STEPS: &str = r"  - assert: {kind: Gateway, name: zzlongoutage-gw, conditions: [Accepted, Programmed], hasAddress: true}
  - wait: {duration: 8s, reason: the API server goes down meanwhile}
  - assert: {kind: TCPRoute, name: zzlongoutage, parent: zzlongoutage-gw, conditions: [Accepted]}
  - tcp: {gateway: zzlongoutage-gw, listener: tcp, connections: 3, expect: {backend: zzlongoutage-echo}}
";

/// Whether a Gateway named `zzlongoutage-gw` is Accepted, in any namespace.
async fn gateway_accepted(client: &kube::Client) -> bool {
    let info = harness::cluster::kube::resources::lookup("Gateway").unwrap();
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &info.resource("v1"));
    let Ok(list) = api.list(&ListParams::default()).await else {
        return false;
    };
    list.items.iter().any(|g| {
        g.metadata.name.as_deref() == Some("zzlongoutage-gw")
            && g.data["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Accepted" && c["status"] == "True")
    })
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real API server: tools/kube/with-apiserver.sh (run by .ci/run)"]
async fn a_test_in_flight_fails_naming_an_outage_longer_than_the_retries() {
    let kube_dir = kube_dir();
    let s = session().await;
    let suites = common::tcp_suite(s.dir.path(), NAME, STEPS);
    let suite_dir = suites.display().to_string();
    let stdout_path = s.dir.path().join("gwl4.stdout");
    let stderr_path = s.dir.path().join("gwl4.stderr");
    let mut gwl4 = tokio::process::Command::new(env!("CARGO_BIN_EXE_gwl4"))
        .args(s.args(&[
            "--suite-dir",
            &suite_dir,
            "--exact",
            NAME,
            "--timeout-config-overrides",
            "GatewayMustHaveCondition:10;TCPRouteMustHaveCondition:10",
        ]))
        .current_dir(s.dir.path())
        .env("TMPDIR", s.dir.path())
        .stdout(Stdio::from(std::fs::File::create(&stdout_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&stderr_path).unwrap()))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let begin = tokio::time::Instant::now();

    // The outage starts once the Gateway is accepted, and a moment after:
    // gwl4 is then in its wait (or, on a slow machine, still in its first
    // assert, which must then fail the same way).
    let mut accepted = false;
    while begin.elapsed() < Duration::from_secs(120) && gwl4.try_wait().unwrap().is_none() {
        if gateway_accepted(&s.client).await {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        accepted,
        "the test's Gateway was never accepted: {}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let down_at = begin.elapsed();
    restart(&kube_dir, "kube-apiserver", DOWN).await;
    let back_at = begin.elapsed();

    let status = tokio::time::timeout(BOUND.saturating_sub(begin.elapsed()), gwl4.wait())
        .await
        .unwrap_or_else(|_| panic!("gwl4 did not end within {BOUND:?}: a hang"))
        .unwrap();
    let wall = begin.elapsed();
    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    println!("{stdout}\n{stderr}");
    println!(
        "kube-apiserver down from {down_at:.1?} to {back_at:.1?} (down {DOWN} s, then its start-up); gwl4 ended at {wall:.1?}"
    );

    assert!(!stderr.contains("panicked"), "gwl4 panicked");
    assert_eq!(status.code(), Some(1), "gwl4 should fail the test");
    assert!(stdout.contains(&format!("FAILED   {NAME}")), "{stdout}");
    // The step in flight (the route's status, after the wait) failed
    // within its timeout plus one call's retries, naming the outage.
    let all = format!("{stdout}\n{stderr}");
    let failure = all
        .lines()
        .find(|l| l.contains(&format!("FAILED   {NAME}")))
        .unwrap();
    assert!(
        failure.contains("MustHaveCondition): ")
            && failure.contains("the API server did not answer (")
            && failure.contains("for up to 30s of retries"),
        "the failure should name the outage: {failure}"
    );
    assert!(
        !stderr.contains("kube_client"),
        "kube's per-try error log should be off"
    );
    assert!(
        stderr.contains("the API server did not answer"),
        "gwl4 never said the API server stopped answering"
    );
    assert!(
        stderr.contains("the API server answers again"),
        "gwl4 never said the API server was back"
    );
    // Its cleanup rode out the rest of the outage: nothing is left.
    assert!(
        !all.contains("cleanup failed"),
        "gwl4 says it left something"
    );
    assert_eq!(labelled_leftovers(&s.client).await, Vec::<String>::new());
    assert_eq!(host_leftovers(), Vec::<String>::new());
    assert!(
        common::processes_of(s.dir.path()).is_empty(),
        "gwl4's children still run"
    );
    let in_tmp: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("gwl4-") && n != "gwl4-reports")
        .collect();
    assert_eq!(in_tmp, Vec::<String>::new(), "run directories left");
}
