//! `gwl4 doctor` where TCPRoute and UDPRoute are served only as v1alpha2
//! (Gateway API v1.3.0, experimental channel: an install before v1.6):
//! the CRD check warns, naming the versions and the upgrade, and every
//! other check passes (gwl4 rewrites its v1 manifests to v1alpha2).
//!
//! Run: `GATEWAY_API_VERSION=v1.3.0 tools/kube/with-apiserver.sh --crds
//! experimental cargo test -p harness --test apiserver_doctor_v1alpha2 --
//! --ignored` (needs root, as .ci/run is).

mod apiserver_support;
mod common;

use apiserver_support::{labelled_leftovers, session};
use common::text;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real API server with v1.3.0 CRDs: GATEWAY_API_VERSION=v1.3.0 tools/kube/with-apiserver.sh --crds experimental (run by .ci/run)"]
async fn the_doctor_warns_on_v1alpha2_only_routes_and_passes() {
    let s = session().await;
    let served = harness::cluster::kube::crds::detect(&s.client)
        .await
        .unwrap();
    assert_eq!(
        served.version("TCPRoute"),
        Some("v1alpha2"),
        "run under GATEWAY_API_VERSION=v1.3.0 tools/kube/with-apiserver.sh --crds experimental"
    );
    let out = common::run_in(s.dir.path(), &s.args_after("doctor", &[]));
    let output = text(&out);
    println!("--- v1alpha2-only CRDs\n{output}");
    assert_eq!(out.status.code(), Some(0), "{output}");
    let crds = output
        .lines()
        .find(|l| l.contains("Gateway API CRDs"))
        .unwrap();
    assert!(
        crds.starts_with("warn")
            && crds.contains("v1.3.0 experimental channel; TCPRoute v1alpha2, UDPRoute v1alpha2"),
        "{output}"
    );
    assert!(
        output.contains("note: TCPRoute and UDPRoute served only as v1alpha2"),
        "{output}"
    );
    assert!(
        output.contains("doctor: all 10 checks passed (1 with a warning)"),
        "{output}"
    );
    assert_eq!(labelled_leftovers(&s.client).await, Vec::<String>::new());
}
