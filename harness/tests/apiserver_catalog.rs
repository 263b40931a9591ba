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

use apiserver_support::{
    assert_catalog_passed, catalog_size, host_leftovers, labelled_leftovers, session,
};
use common::text;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real API server: tools/kube/with-apiserver.sh (run by .ci/run)"]
async fn the_catalog_passes_through_a_real_api_server() {
    let s = session().await;
    let served = harness::cluster::kube::crds::detect(&s.client)
        .await
        .unwrap();
    let channel = served.channel.clone().unwrap_or_default();

    let total = catalog_size();

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
    assert_catalog_passed(&output, s.dir.path(), &channel, total);
    assert_eq!(labelled_leftovers(&s.client).await, Vec::<String>::new());
    assert_eq!(host_leftovers(), Vec::<String>::new());
    assert!(
        common::processes_of(s.dir.path()).is_empty(),
        "gwl4's children still run"
    );
}
