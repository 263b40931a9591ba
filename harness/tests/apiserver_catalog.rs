//! The whole catalog through the Kubernetes path on a real kube-apiserver
//! (the `tools/kube` tier): gwl4's kube backend applies every manifest
//! with server-side apply against the real Gateway API CRDs (CEL,
//! defaulting, status subresources, generation), the reference gateway's
//! Kubernetes provider reconciles them out of cluster and writes status,
//! and traffic goes to the address it reports (each Gateway its own, from
//! a pool). gwl4 runs at its default `--test-threads`, so tests run side
//! by side and take turns where they collide. Every test that passes in
//! local mode must pass here, `--strict` (no should or recommendation
//! missed either); on the standard channel the two v1alpha2
//! multi-rule tests cannot be expressed (v1 allows one rule) and are
//! skipped with that reason. After the run nothing labelled with a run id
//! is left in the API server, and no namespace, bridge or echo process on
//! the machine.
//!
//! Run: `tools/kube/with-apiserver.sh --crds standard cargo test -p harness
//! --test apiserver_catalog -- --ignored` (needs root, as .ci/run is).

mod apiserver_support;
mod common;

use apiserver_support::{MULTI_RULE, host_leftovers, labelled_leftovers, session};
use common::text;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real API server: tools/kube/with-apiserver.sh (run by .ci/run)"]
async fn the_catalog_passes_through_a_real_api_server() {
    let s = session().await;
    let served = harness::cluster::kube::crds::detect(&s.client)
        .await
        .unwrap();
    let channel = served.channel.clone().unwrap_or_default();

    let listed = common::gwl4().arg("--list").output().unwrap();
    let total = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|l| l.ends_with(": test"))
        .count();
    assert!(total > 50, "catalog listing:\n{}", text(&listed));

    let begin = tokio::time::Instant::now();
    let out = common::run_in(s.dir.path(), &s.args(&["--strict"]));
    let wall = begin.elapsed();
    let output = text(&out);
    println!("{output}");
    println!(
        "catalog through the real API server ({channel} channel): {total} tests in {wall:.1?}"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "gwl4 failed; controller log tail:\n{}",
        s.controller.log_tail()
    );
    let skipped = if channel == "standard" {
        MULTI_RULE.len()
    } else {
        0
    };
    for summary in [
        format!("{} passed, 0 failed, 0 warnings", total - skipped),
        format!("0 not supported, {skipped} skipped"),
    ] {
        assert!(output.contains(&summary), "want {summary:?}");
    }
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s.dir.path().join("gwl4-reports/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["run"]["gatewayAPIChannel"], channel.as_str());
    assert_eq!(report["run"]["gatewayAPIVersion"], "v1.6.1");
    if channel == "standard" {
        for name in MULTI_RULE {
            assert!(
                output.contains(name) && output.contains("cannot hold this test's manifests"),
                "{name} should be skipped as unexpressible in v1"
            );
        }
    }
    assert_eq!(labelled_leftovers(&s.client).await, Vec::<String>::new());
    assert_eq!(host_leftovers(), Vec::<String>::new());
    assert!(
        common::processes_of(s.dir.path()).is_empty(),
        "gwl4's children still run"
    );
}
