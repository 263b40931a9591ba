//! `gwl4 doctor`'s read-only checks against kube-fake-client, for the
//! cases the API server tier does not stage: no Gateway API CRDs, a
//! GatewayClass its controller has not accepted, no routes served, one
//! permission denied to a user; and an API server that does not answer.

mod common;
mod kube_support;

use harness::cluster::kube::crds::INSTALL_COMMAND;
use harness::doctor::cluster;
use harness::doctor::report::{Report, Status};
use kube_support::*;

fn quiet() -> Report {
    Report {
        quiet: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn missing_crds_fail_with_the_install_command() {
    let client = fake(Routes::None, None).await;
    let mut report = quiet();
    assert!(cluster::crds(&client, &mut report).await.is_none());
    let check = &report.checks[0];
    assert_eq!(check.status, Status::Fail);
    assert!(
        check.detail.contains("neither TCPRoute nor UDPRoute"),
        "{check}"
    );
    assert!(check.fix.as_deref().unwrap().contains(INSTALL_COMMAND));
}

#[tokio::test]
async fn v1_routes_pass_and_v1alpha2_routes_warn() {
    let mut report = quiet();
    cluster::crds(&fake(Routes::V1, None).await, &mut report)
        .await
        .unwrap();
    cluster::crds(&fake(Routes::V1alpha2, None).await, &mut report)
        .await
        .unwrap();
    let (v1, old) = (&report.checks[0], &report.checks[1]);
    assert_eq!(v1.status, Status::Ok, "{v1}");
    assert_eq!(
        v1.detail,
        "v1.6.1 standard channel; TCPRoute v1, UDPRoute v1"
    );
    assert_eq!(old.status, Status::Warn, "{old}");
    assert!(
        old.fix
            .as_deref()
            .unwrap()
            .starts_with("TCPRoute and UDPRoute served only as v1alpha2")
    );
    assert!(!report.failed());
}

#[tokio::test]
async fn a_class_not_accepted_fails_naming_its_controller() {
    let client = fake(Routes::V1, Some(false)).await;
    let mut report = quiet();
    let served = cluster::crds(&client, &mut report).await.unwrap();
    assert!(
        cluster::gateway_class(&client, &served, CLASS, &mut report)
            .await
            .is_none()
    );
    let check = &report.checks[1];
    assert_eq!(check.status, Status::Fail);
    assert!(
        check.detail.contains("is not Accepted (Accepted=Unknown"),
        "{check}"
    );
    assert!(
        check.fix.as_deref().unwrap().contains(CONTROLLER),
        "{check}"
    );

    let client = fake(Routes::V1, Some(true)).await;
    let mut report = quiet();
    let served = cluster::crds(&client, &mut report).await.unwrap();
    assert_eq!(
        cluster::gateway_class(&client, &served, CLASS, &mut report)
            .await
            .as_deref(),
        Some(CONTROLLER)
    );
    assert!(
        report.checks[1]
            .detail
            .ends_with("supportedFeatures: Gateway, TCPRoute, UDPRoute")
    );
}

#[tokio::test]
async fn a_denied_permission_is_named_with_the_binding_that_grants_it() {
    let client = fake_denying(
        Routes::V1,
        Some(true),
        &["delete gateways", "create pods/portforward"],
    )
    .await;
    let mut report = quiet();
    assert!(!cluster::permissions(&client, false, &mut report).await);
    let check = &report.checks[0];
    assert_eq!(check.status, Status::Fail);
    assert_eq!(
        check.detail,
        "fake-user lacks 2 of the 35 permissions gwl4 needs: delete gateways.gateway.networking.k8s.io, create pods/portforward"
    );
    let fix = check.fix.as_deref().unwrap();
    assert!(fix.contains(
        "kubectl create clusterrolebinding gwl4-runner --clusterrole gwl4-runner --user fake-user"
    ));
    assert!(fix.contains("--clusterrole gwl4-runner-pods"));

    // With --workloads local, Pods are not needed and EndpointSlices are.
    let client = fake_denying(Routes::V1, Some(true), &["create pods/portforward"]).await;
    let mut report = quiet();
    assert!(cluster::permissions(&client, true, &mut report).await);
    assert_eq!(
        report.checks[0].detail,
        "fake-user has all 35 permissions gwl4 needs"
    );
}

#[test]
fn an_api_server_that_does_not_answer_fails_the_first_check_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    // A kubeconfig pointing at a closed port on loopback.
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n\
         users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    )
    .unwrap();
    let out = common::run_in(
        dir.path(),
        &[
            "doctor",
            "--gateway-class",
            "any",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ],
    );
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0]
            .starts_with("FAIL  API server         no cluster reachable at https://127.0.0.1:9/"),
        "{text}"
    );
    assert!(lines[1].contains("fix: pass --kubeconfig"), "{text}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("skip")).count(),
        8,
        "{text}"
    );
    assert!(
        text.contains("doctor: 1 check(s) failed, 8 not made"),
        "{text}"
    );
}
