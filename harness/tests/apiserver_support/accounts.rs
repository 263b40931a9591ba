//! ServiceAccounts for the tier's RBAC tests: the `gwl4-runner`
//! namespace of `manifests/gwl4-job/`, accounts bound to given rules, and
//! kubeconfigs holding their TokenRequest tokens.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule};
use kube::api::{
    Api, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::core::TypeMeta;
use kube::discovery::Scope;
use serde_json::{Value, json};

/// The accounts' namespace (`manifests/gwl4-job/00-namespace.yaml`).
pub const NAMESPACE: &str = "gwl4-runner";

/// The manifests' documents.
pub fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

/// Server-side applies `doc` (or only checks it, `dry_run`) as the admin,
/// as `kubectl apply --server-side` would: its resource and scope come from
/// the API server's discovery, so any kind it serves will do.
pub async fn apply(client: &kube::Client, doc: &Value, dry_run: bool) {
    let types: TypeMeta = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("no apiVersion and kind ({e}): {doc}"));
    let gvk = GroupVersionKind::try_from(&types).unwrap();
    let kind = &types.kind;
    let (resource, caps) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .unwrap_or_else(|e| panic!("{kind} is not served: {e}"));
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Namespaced => {
            let namespace = doc["metadata"]["namespace"].as_str().unwrap_or("default");
            Api::namespaced_with(client.clone(), namespace, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    let mut params = PatchParams::apply("gwl4-tier-test").force();
    params.dry_run = dry_run;
    let name = doc.pointer("/metadata/name").unwrap().as_str().unwrap();
    api.patch(name, &params, &Patch::Apply(doc))
        .await
        .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
}

/// Applies `manifests/gwl4-job/00-namespace.yaml`.
pub async fn runner_namespace(client: &kube::Client) {
    for doc in documents(include_str!(
        "../../../manifests/gwl4-job/00-namespace.yaml"
    )) {
        apply(client, &doc, false).await;
    }
}

/// A ServiceAccount `name` in [`NAMESPACE`] bound to a ClusterRole `name`
/// holding `rules`.
pub async fn account_with(client: &kube::Client, name: &str, rules: &[PolicyRule]) {
    let labels = json!({"app.kubernetes.io/part-of": "gwl4-tier-test"});
    apply(
        client,
        &json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels}}),
        false,
    )
    .await;
    apply(
        client,
        &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": labels}, "rules": rules}),
        false,
    )
    .await;
    apply(
        client,
        &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}]}),
        false,
    )
    .await;
}

/// Whether the API server lets `account` do `verb` on `resource`.
pub async fn allowed(
    client: &kube::Client,
    account: &str,
    verb: &str,
    group: &str,
    resource: &str,
) -> bool {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(format!("system:serviceaccount:{NAMESPACE}:{account}")),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{NAMESPACE}"),
                "system:authenticated".into(),
            ]),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<SubjectAccessReview> = Api::all(client.clone());
    api.create(&PostParams::default(), &review)
        .await
        .unwrap()
        .status
        .is_some_and(|s| s.allowed)
}

/// Waits until the authorizer has seen `account`'s binding (its cache
/// follows RBAC objects asynchronously): every verb of `rules` allowed.
pub async fn wait_bound(client: &kube::Client, account: &str, rules: &[PolicyRule]) {
    for _ in 0..100 {
        let mut all = true;
        for rule in rules {
            let group = rule.api_groups.as_ref().unwrap()[0].clone();
            let resource = rule.resources.as_ref().unwrap()[0].clone();
            if !allowed(client, account, &rule.verbs[0], &group, &resource).await {
                all = false;
            }
        }
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{account}'s ClusterRoleBinding not in effect after 10 s");
}

/// A kubeconfig for `account`: the admin's server and CA, a token from
/// the TokenRequest API.
pub async fn kubeconfig_for(
    client: &kube::Client,
    admin: &Path,
    account: &str,
    dir: &Path,
) -> PathBuf {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), NAMESPACE);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..Default::default()
        }),
        ..Default::default()
    };
    let token = accounts
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token;
    let mut config: Value = serde_yaml::from_str(&std::fs::read_to_string(admin).unwrap()).unwrap();
    config["users"] = json!([{"name": account, "user": {"token": token}}]);
    config["contexts"][0]["context"]["user"] = json!(account);
    let path = dir.join(format!("{account}.kubeconfig"));
    std::fs::write(&path, serde_yaml::to_string(&config).unwrap()).unwrap();
    path
}

/// Deletes what the accounts' tests created: every ClusterRole and
/// binding labelled part of gwl4 or its tier tests, and the namespace.
pub async fn remove_accounts(client: &kube::Client) {
    let select = ListParams::default().labels("app.kubernetes.io/part-of in (gwl4,gwl4-tier-test)");
    let roles: Api<ClusterRole> = Api::all(client.clone());
    roles
        .delete_collection(&DeleteParams::default(), &select)
        .await
        .unwrap();
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    bindings
        .delete_collection(&DeleteParams::default(), &select)
        .await
        .unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete(NAMESPACE, &DeleteParams::default())
        .await
        .unwrap();
}
