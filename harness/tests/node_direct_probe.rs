//! When a traffic step fails against a real cluster, gwl4 probes the
//! expected backend directly, through a port-forward to its Pod (the
//! kubelet's streaming server and the runtime's port-forward, which only a
//! real node has), and says which side is at fault. On the node tier
//! (`tools/kube/with-node.sh`), with the in-cluster reference gateway that
//! node_catalog.rs installs: a user suite whose TCPRoute sends everything
//! to one backend while the step expects another, `probe-b`, so the step
//! fails, and the diagnosis must reach `probe-b` through port-forward
//! (a local address) and blame the gateway.
//!
//! Run after node_catalog.rs in one `with-node.sh` (it relies on the
//! reference gateway that test installed, and installs it itself if it is
//! missing): `GWL4_IMAGE_BINARIES=target/debug tools/kube/with-node.sh --crds
//! standard cargo test -p harness --test node_catalog --test
//! node_direct_probe -- --ignored --nocapture`.

mod apiserver_support;
mod common;
mod node_support;

use common::text;

/// Its traffic step: the route (common::tcp_suite's) sends everything to
/// `nodedirectprobe-echo`, the step expects `probe-b`.
const STEPS: &str = "  - assert: {kind: TCPRoute, name: nodedirectprobe, parent: {name: nodedirectprobe-gw}, conditions: [Accepted]}
  - tcp: {gateway: nodedirectprobe-gw, listener: tcp, connections: 3, expect: {backend: probe-b}}
";

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a node: tools/kube/with-node.sh --crds standard (run by .ci/run)"]
async fn a_failed_step_probes_the_backend_through_port_forward() {
    let tier = node_support::tier();
    let client = apiserver_support::client(&tier).await;
    node_support::install_reference_gateway(&client).await;

    let dir = tempfile::tempdir().unwrap();
    let suites = common::tcp_suite(dir.path(), "NodeDirectProbe", STEPS);
    let file = suites.join("NodeDirectProbe.yaml");
    let suite = std::fs::read_to_string(&file).unwrap() + &common::echo_backend("probe-b");
    std::fs::write(&file, suite).unwrap();

    let out = node_support::run_gwl4(
        dir.path(),
        &tier,
        &[
            "--suite-dir",
            suites.to_str().unwrap(),
            "--exact",
            "NodeDirectProbe",
        ],
    )
    .await;
    let all = text(&out);
    println!("{all}");
    assert_eq!(out.status.code(), Some(1), "the step must fail");
    let report = std::fs::read_to_string(dir.path().join("gwl4-reports/report.json")).unwrap();
    // Through port-forward: the backend is reached at a local address.
    assert!(
        report.contains("backend probe-b at 127.0.0.1:") && report.contains("answers directly"),
        "no direct probe of probe-b through port-forward in the report:\n{report}"
    );
    assert!(report.contains("the gateway is at fault"), "{report}");
    assert!(
        all.contains("backend probe-b at 127.0.0.1:") && all.contains("the gateway is at fault"),
        "the terminal should say whose fault it is"
    );
    assert_eq!(
        apiserver_support::labelled_leftovers(&client).await,
        Vec::<String>::new()
    );
}
