//! The least-privilege ClusterRoles of `manifests/gwl4-job/10-rbac.yaml`
//! are enough, and every rule in them is needed. gwl4 authenticates as
//! the manifests' ServiceAccount (a token from the TokenRequest API) and
//! runs the whole catalog with `--workloads local` (so the role for that,
//! `gwl4-runner-local-workloads`, is bound in place of the Pod role: the
//! tier has no kubelet); it passes. Then, for each rule in turn, a
//! ServiceAccount bound to the same rules less that one runs one test:
//! the run fails, and what it prints is the API server's Forbidden naming
//! a verb and resource of the missing rule; nothing is left behind.
//! Without delete the test runs but its objects stay, and the run exits 2
//! saying so (not 0, as if the cluster were clean).
//! The Job manifest is checked by the API server with a dry-run apply.
//!
//! Run: `tools/kube/with-apiserver.sh --crds standard cargo test -p harness
//! --test apiserver_rbac -- --ignored` (needs root, as .ci/run is).

mod apiserver_support;
mod common;

use std::time::Duration;

use apiserver_support::accounts::*;
use apiserver_support::{host_leftovers, labelled_leftovers, session, tier_args};
use common::text;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::{Value, json};

const RBAC: &str = include_str!("../../manifests/gwl4-job/10-rbac.yaml");

/// The test to run without `resource`: one that writes it. Both write
/// namespaces, Services, Deployments (and their EndpointSlices), a
/// Gateway and a ReferenceGrant.
fn one_test(resource: &str) -> &'static str {
    if resource == "udproutes" {
        "UDPRouteReferenceGrant"
    } else {
        "TCPRouteReferenceGrant"
    }
}

/// The rules of the two ClusterRoles a `--workloads local` run binds.
fn local_rules() -> Vec<PolicyRule> {
    let mut rules = Vec::new();
    for doc in documents(RBAC) {
        let name = doc.pointer("/metadata/name").and_then(Value::as_str);
        if doc["kind"] == "ClusterRole"
            && matches!(name, Some("gwl4-runner" | "gwl4-runner-local-workloads"))
        {
            let role: ClusterRole = serde_json::from_value(doc).unwrap();
            rules.extend(role.rules.unwrap_or_default());
        }
    }
    assert_eq!(rules.len(), 10, "the roles changed: {rules:#?}");
    rules
}

/// Deletes, as the admin, what a run could not (its namespaces take the
/// rest with them), and waits for it to go.
async fn delete_labelled(client: &kube::Client) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let labelled = ListParams::default().labels(apiserver_support::RUN_ID_LABEL);
    for ns in namespaces.list(&labelled).await.unwrap().items {
        let name = ns.metadata.name.unwrap_or_default();
        namespaces
            .delete(&name, &DeleteParams::default())
            .await
            .unwrap();
    }
    for _ in 0..600 {
        if labelled_leftovers(client).await.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "left behind after 60 s: {:?}",
        labelled_leftovers(client).await
    );
}

/// The `(verb, resource)` pairs of the API server's Forbidden messages in
/// `output` ("... cannot get resource \"namespaces\" ...").
fn forbidden(output: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = output;
    while let Some(i) = rest.find(" cannot ") {
        rest = &rest[i + " cannot ".len()..];
        let mut words = rest.splitn(3, ' ');
        let (Some(verb), Some("resource"), Some(tail)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let resource = tail
            .trim_start_matches(['\\', '"'])
            .split(['\\', '"'])
            .next()
            .unwrap_or_default();
        found.push((verb.to_string(), resource.to_string()));
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real API server: tools/kube/with-apiserver.sh (run by .ci/run)"]
async fn the_manifests_rbac_suffices_and_every_rule_is_needed() {
    let s = session().await;
    runner_namespace(&s.client).await;
    for doc in documents(RBAC) {
        apply(&s.client, &doc, false).await;
    }
    // The Job cannot run here (no kubelet), but the API server checks it.
    for doc in documents(include_str!("../../manifests/gwl4-job/20-job.yaml")) {
        apply(&s.client, &doc, true).await;
    }
    // The manifests bind the Pod role; a `--workloads local` run needs the
    // EndpointSlice role instead.
    apply(
        &s.client,
        &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "gwl4-runner-local-workloads",
                         "labels": {"app.kubernetes.io/part-of": "gwl4-tier-test"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "gwl4-runner-local-workloads"},
            "subjects": [{"kind": "ServiceAccount", "name": "gwl4", "namespace": NAMESPACE}]}),
        false,
    )
    .await;
    let rules = local_rules();
    wait_bound(&s.client, "gwl4", &rules).await;

    // The whole catalog, as the manifests' ServiceAccount.
    let kubeconfig = kubeconfig_for(&s.client, &s.tier.kubeconfig, "gwl4", s.dir.path()).await;
    let out = common::run_in(s.dir.path(), &tier_args(&kubeconfig, &["--strict"]));
    let output = text(&out);
    println!("{output}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "the catalog as system:serviceaccount:{NAMESPACE}:gwl4 failed; controller log tail:\n{}",
        s.controller.log_tail()
    );
    assert!(output.contains("passed, 0 failed, 0 warnings"), "{output}");
    assert!(forbidden(&output).is_empty(), "{output}");

    // Each rule removed in turn.
    for (i, removed) in rules.iter().enumerate() {
        let account = format!("gwl4-minus-{i}");
        let kept: Vec<PolicyRule> = rules
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, r)| r.clone())
            .collect();
        account_with(&s.client, &account, &kept).await;
        wait_bound(&s.client, &account, &kept).await;
        let kubeconfig =
            kubeconfig_for(&s.client, &s.tier.kubeconfig, &account, s.dir.path()).await;
        let resources = removed.resources.clone().unwrap_or_default();
        let test = one_test(&resources[0]);
        let begin = tokio::time::Instant::now();
        let out = common::run_in(s.dir.path(), &tier_args(&kubeconfig, &["--exact", test]));
        let took = begin.elapsed();
        let output = text(&out);
        let denied = forbidden(&output);
        println!(
            "without {resources:?} {:?} ({test}, {took:.1?}): exit {:?}, forbidden {denied:?}\n  {}",
            removed.verbs,
            out.status.code(),
            output
                .lines()
                .find(|l| l.contains(" cannot "))
                .unwrap_or_default()
                .trim()
        );
        assert_ne!(
            out.status.code(),
            Some(0),
            "passed without {removed:?}:\n{output}"
        );
        assert!(
            !denied.is_empty()
                && denied
                    .iter()
                    .all(|(verb, resource)| removed.verbs.contains(verb)
                        && resources.contains(resource)),
            "without {removed:?} the run should stop on a Forbidden naming one of its verbs and resources; it printed:\n{output}"
        );
        assert_eq!(labelled_leftovers(&s.client).await, Vec::<String>::new());
    }

    // Without delete, the test runs but its objects stay: the run must not
    // end as if the cluster were clean.
    let no_delete: Vec<PolicyRule> = rules
        .iter()
        .map(|r| PolicyRule {
            verbs: r.verbs.iter().filter(|v| *v != "delete").cloned().collect(),
            ..r.clone()
        })
        .collect();
    account_with(&s.client, "gwl4-no-delete", &no_delete).await;
    wait_bound(&s.client, "gwl4-no-delete", &no_delete).await;
    let kubeconfig = kubeconfig_for(
        &s.client,
        &s.tier.kubeconfig,
        "gwl4-no-delete",
        s.dir.path(),
    )
    .await;
    let out = common::run_in(
        s.dir.path(),
        &tier_args(&kubeconfig, &["--exact", "TCPRouteReferenceGrant"]),
    );
    let output = text(&out);
    println!("without delete: exit {:?}", out.status.code());
    assert_eq!(out.status.code(), Some(2), "{output}");
    assert!(
        output.contains("gwl4: cleanup failed:")
            && forbidden(&output).iter().all(|(verb, _)| verb == "delete"),
        "{output}"
    );
    delete_labelled(&s.client).await;

    assert_eq!(host_leftovers(), Vec::<String>::new());
    assert!(
        common::processes_of(s.dir.path()).is_empty(),
        "gwl4's children still run"
    );

    // Leave the API server as found (other tier tests share it).
    remove_accounts(&s.client).await;
}
