//! `gwl4 doctor` on the real API server tier (standard channel): a healthy
//! cluster passes every check and leaves nothing behind; a GatewayClass
//! that does not exist fails its check naming the classes there are; a
//! ServiceAccount with too few permissions fails the permission check
//! naming each one missing and the binding that fixes it, and nothing is
//! created. Each exits 2 on a failure, 0 otherwise.
//!
//! Run: `tools/kube/with-apiserver.sh --crds standard cargo test -p harness
//! --test apiserver_doctor -- --ignored` (needs root, as .ci/run is).

mod apiserver_support;
mod common;

use apiserver_support::accounts::{
    account_with, kubeconfig_for, remove_accounts, runner_namespace, wait_bound,
};
use apiserver_support::{host_leftovers, labelled_leftovers, session};
use common::text;
use k8s_openapi::api::rbac::v1::PolicyRule;

/// The doctor's lines for one check, by name.
fn line<'a>(output: &'a str, check: &str) -> &'a str {
    output
        .lines()
        .find(|l| l.get(6..).is_some_and(|rest| rest.starts_with(check)))
        .unwrap_or_else(|| panic!("no {check} line in:\n{output}"))
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real API server: tools/kube/with-apiserver.sh (run by .ci/run)"]
async fn the_doctor_passes_a_healthy_tier_and_names_what_is_wrong() {
    let s = session().await;
    let admin = s.tier.kubeconfig.to_str().unwrap();

    // Healthy: every check ok.
    let out = common::run_in(s.dir.path(), &s.args_after("doctor", &[]));
    let output = text(&out);
    println!("--- healthy\n{output}");
    assert_eq!(out.status.code(), Some(0), "{output}");
    for check in [
        "API server",
        "Gateway API CRDs",
        "GatewayClass",
        "permissions",
        "watches",
        "echo backend",
        "Gateway address",
        "TCP through it",
        "UDP through it",
        "cleanup",
    ] {
        assert!(line(&output, check).starts_with("ok "), "{output}");
    }
    assert!(line(&output, "TCP through it").contains("answered by echo/"));
    assert!(line(&output, "UDP through it").contains("answered by echo/"));
    assert!(output.contains("doctor: all 10 checks passed"), "{output}");
    assert_eq!(labelled_leftovers(&s.client).await, Vec::<String>::new());
    assert_eq!(host_leftovers(), Vec::<String>::new());

    // A GatewayClass that does not exist.
    let out = common::run_in(
        s.dir.path(),
        &[
            "doctor",
            "--gateway-class",
            "no-such-class",
            "--kubeconfig",
            admin,
        ],
    );
    let output = text(&out);
    println!("--- missing GatewayClass\n{output}");
    assert_eq!(out.status.code(), Some(2), "{output}");
    let class = line(&output, "GatewayClass");
    assert!(
        class.starts_with("FAIL")
            && class.contains("no-such-class does not exist (there are: gwl4-reference)"),
        "{output}"
    );
    assert!(
        line(&output, "echo backend").starts_with("skip"),
        "{output}"
    );

    // A ServiceAccount that may read the CRDs and classes, and nothing else.
    runner_namespace(&s.client).await;
    let read_only: Vec<PolicyRule> = serde_json::from_value(serde_json::json!([
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["get"]},
        {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["gatewayclasses"], "verbs": ["get", "list"]},
    ]))
    .unwrap();
    account_with(&s.client, "gwl4-reader", &read_only).await;
    wait_bound(&s.client, "gwl4-reader", &read_only).await;
    let reader = kubeconfig_for(&s.client, &s.tier.kubeconfig, "gwl4-reader", s.dir.path()).await;
    let out = common::run_in(
        s.dir.path(),
        &[
            "doctor",
            "--gateway-class",
            "gwl4-reference",
            "--kubeconfig",
            reader.to_str().unwrap(),
        ],
    );
    let output = text(&out);
    println!("--- too few permissions\n{output}");
    assert_eq!(out.status.code(), Some(2), "{output}");
    let permissions = line(&output, "permissions");
    assert!(
        permissions.starts_with("FAIL")
            && permissions
                .contains("system:serviceaccount:gwl4-runner:gwl4-reader lacks 32 of the 35")
            && permissions
                .contains("get/create/patch/delete namespaces, get/create/patch/delete services,")
            && permissions.contains(
                "list pods, list endpointslices.discovery.k8s.io, get/create pods/portforward"
            ),
        "{output}"
    );
    assert!(
        output.contains("kubectl create clusterrolebinding gwl4-runner --clusterrole gwl4-runner --serviceaccount gwl4-runner:gwl4-reader"),
        "{output}"
    );
    // Without watch permissions gwl4 still runs, polling: a warning.
    let watches = line(&output, "watches");
    assert!(
        watches.starts_with("warn")
            && watches.contains("may not list/watch gateways.gateway.networking.k8s.io")
            && watches.contains("will poll"),
        "{output}"
    );
    assert!(line(&output, "cleanup").starts_with("skip"), "{output}");
    assert_eq!(labelled_leftovers(&s.client).await, Vec::<String>::new());
    remove_accounts(&s.client).await;
}
