//! The read-only checks: the Gateway API CRDs, the GatewayClass, and every
//! permission gwl4 needs. Each takes a client, so the kube-fake-client
//! tests drive them as the real API server tier does.

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::Value;

use super::report::{Check, Report};
use crate::cluster::kube::crds::{self, INSTALL_COMMAND, Served};
use crate::cluster::kube::permissions::PERMISSIONS;
use crate::cluster::kube::resources;

/// The Gateway API version the catalog is written for.
const CATALOG_API: &str = "v1.6.1";

/// Which Gateway API CRDs are installed and which versions they serve.
pub async fn crds(client: &kube::Client, report: &mut Report) -> Option<Served> {
    const NAME: &str = "Gateway API CRDs";
    let served = match crds::detect(client).await {
        Ok(s) => s,
        Err(e) => {
            report.add(Check::fail(
                NAME,
                e.to_string(),
                format!("install the {CATALOG_API} standard channel: {INSTALL_COMMAND}"),
            ));
            return None;
        }
    };
    let bundle = format!(
        "{} {} channel",
        served.bundle_version.as_deref().unwrap_or("(unlabelled)"),
        served.channel.as_deref().unwrap_or("unknown")
    );
    let route = |kind: &str| match served.version(kind) {
        Some(v) => format!("{kind} {v}"),
        None => format!("{kind} not served"),
    };
    let detail = format!("{bundle}; {}, {}", route("TCPRoute"), route("UDPRoute"));
    let mut notes = Vec::new();
    let kinds = |version: Option<&str>| -> Vec<&str> {
        ["TCPRoute", "UDPRoute"]
            .into_iter()
            .filter(|k| served.version(k) == version)
            .collect()
    };
    let (absent, old) = (kinds(None), kinds(Some("v1alpha2")));
    if !absent.is_empty() {
        notes.push(format!(
            "{} not served: {} tests will not run (install the {CATALOG_API} standard channel: {INSTALL_COMMAND})",
            absent.join(" and "),
            if absent.len() == 1 { "its" } else { "their" }
        ));
    }
    if !old.is_empty() {
        notes.push(format!(
            "{} served only as v1alpha2 (an install before Gateway API v1.6): gwl4 rewrites its v1 manifests to v1alpha2; the {CATALOG_API} standard channel tests what users of v1 get ({INSTALL_COMMAND})",
            old.join(" and ")
        ));
    }
    if served.bundle_version.as_deref() != Some(CATALOG_API) && notes.is_empty() {
        notes.push(format!(
            "the catalog is written for Gateway API {CATALOG_API}; tests may cite fields this install does not have"
        ));
    }
    report.add(if notes.is_empty() {
        Check::ok(NAME, detail)
    } else {
        Check::warn(NAME, detail, notes.join("; "))
    });
    Some(served)
}

/// The GatewayClass exists and is Accepted; returns its controllerName.
pub async fn gateway_class(
    client: &kube::Client,
    served: &Served,
    name: &str,
    report: &mut Report,
) -> Option<String> {
    const NAME: &str = "GatewayClass";
    let version = served.version("GatewayClass").unwrap_or("v1");
    let info = resources::lookup("GatewayClass").expect("GatewayClass is in the table");
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &info.resource(version));
    let class = match api.get_opt(name).await {
        Ok(Some(c)) => serde_json::to_value(&c).unwrap_or_default(),
        Ok(None) => {
            let existing = crate::cluster::kube::class_names(&api).await;
            let there = if existing.is_empty() {
                "there is none".to_string()
            } else {
                format!("there are: {}", existing.join(", "))
            };
            report.add(Check::fail(
                NAME,
                format!("{name} does not exist ({there})"),
                "install the implementation (it creates its GatewayClass), or pass --gateway-class with one of the classes there are",
            ));
            return None;
        }
        Err(e) => {
            report.add(Check::fail(
                NAME,
                format!("reading GatewayClass {name}: {e}"),
                "see the permissions gwl4 needs (README, `Against a Kubernetes cluster`)",
            ));
            return None;
        }
    };
    let controller = class
        .pointer("/spec/controllerName")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let accepted = class
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Accepted"));
    if accepted.is_none_or(|c| c["status"] != "True") {
        let seen = accepted.map_or("no Accepted condition".to_string(), |c| {
            format!(
                "Accepted={} reason {} message {:?}",
                c["status"].as_str().unwrap_or("?"),
                c["reason"].as_str().unwrap_or("?"),
                c["message"].as_str().unwrap_or("")
            )
        });
        report.add(Check::fail(
            NAME,
            format!("{name} is not Accepted ({seen}); controllerName {controller}"),
            format!(
                "is the implementation's controller ({controller}) running, and does it accept this class? Read its logs"
            ),
        ));
        return None;
    }
    let features = crate::cluster::kube::supported_features(&class);
    let detail = format!("{name} Accepted; controllerName {controller}");
    report.add(if features.is_empty() {
        Check::warn(
            NAME,
            format!("{detail}; status.supportedFeatures is empty"),
            "gwl4 then cannot tell which tests apply: pass --supported-features (e.g. Gateway,TCPRoute,UDPRoute) or --conformance-profiles",
        )
    } else {
        Check::ok(
            NAME,
            format!("{detail}; supportedFeatures: {}", features.join(", ")),
        )
    });
    Some(controller)
}

/// Who the API server says we are (`kubectl auth whoami`), if it says.
async fn whoami(client: &kube::Client) -> Option<String> {
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    let review = api
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .ok()?;
    review.status?.user_info?.username
}

/// Denied verbs by resource, in the table's order; shown as
/// `get/create services, list pods`.
#[derive(Debug, Default)]
struct Denied(Vec<(String, Vec<&'static str>)>);

impl Denied {
    fn add(&mut self, resource: String, verb: &'static str) {
        match self.0.last_mut() {
            Some((r, verbs)) if *r == resource => verbs.push(verb),
            _ => self.0.push((resource, vec![verb])),
        }
    }
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(r, verbs)| format!("{} {r}", verbs.join("/")))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Every permission gwl4 needs, by SelfSubjectAccessReview (cluster-wide:
/// gwl4 creates its own namespaces).
pub async fn permissions(
    client: &kube::Client,
    local_workloads: bool,
    report: &mut Report,
) -> bool {
    const NAME: &str = "permissions";
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let mut checked = 0;
    let mut missing = Denied::default();
    let mut roles = Vec::new();
    let mut optional_missing = Denied::default();
    for p in PERMISSIONS
        .iter()
        .filter(|p| p.need.applies(local_workloads))
    {
        let (resource, subresource) = match p.resource.split_once('/') {
            Some((r, s)) => (r, Some(s.to_string())),
            None => (p.resource, None),
        };
        for verb in p.verbs {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        group: Some(p.group.into()),
                        resource: Some(resource.into()),
                        subresource: subresource.clone(),
                        verb: Some((*verb).into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            match api.create(&PostParams::default(), &review).await {
                Ok(r) if r.status.as_ref().is_some_and(|s| s.allowed) => {}
                Ok(_) if p.need.optional() => optional_missing.add(p.qualified(), verb),
                Ok(_) => {
                    missing.add(p.qualified(), verb);
                    if !roles.contains(&p.need.cluster_role()) {
                        roles.push(p.need.cluster_role());
                    }
                }
                Err(e) => {
                    report.add(Check::fail(
                        NAME,
                        format!("asking the API server (SelfSubjectAccessReview): {e}"),
                        "every authenticated user may create SelfSubjectAccessReviews on a standard cluster; check the API server's authorizer",
                    ));
                    return false;
                }
            }
            if !p.need.optional() {
                checked += 1;
            }
        }
    }
    let who = whoami(client).await;
    let user = who.as_deref().unwrap_or("this kubeconfig's user");
    let watches = if optional_missing.0.is_empty() {
        Check::ok(
            "watches",
            "waits wake on watch events (list and watch allowed)",
        )
    } else {
        Check::warn(
            "watches",
            format!(
                "{user} may not {optional_missing}: gwl4 will poll for status instead of watching (slower, more API requests)"
            ),
            "apply the ClusterRole gwl4-runner-watch in manifests/gwl4-job/10-rbac.yaml and bind it",
        )
    };
    if missing.0.is_empty() {
        let ok = report.add(Check::ok(
            NAME,
            format!("{user} has all {checked} permissions gwl4 needs"),
        ));
        report.add(watches);
        return ok;
    }
    let subject = match who
        .as_deref()
        .and_then(|u| u.strip_prefix("system:serviceaccount:"))
    {
        Some(sa) => format!("--serviceaccount {sa}"),
        None => format!("--user {user}"),
    };
    let binds: Vec<String> = roles
        .iter()
        .map(|r| format!("kubectl create clusterrolebinding {r} --clusterrole {r} {subject}"))
        .collect();
    let failed = report.add(Check::fail(
        NAME,
        format!(
            "{user} lacks {} of the {checked} permissions gwl4 needs: {missing}",
            missing.0.iter().map(|(_, v)| v.len()).sum::<usize>(),
        ),
        format!(
            "apply the ClusterRoles in manifests/gwl4-job/10-rbac.yaml and bind them: {}",
            binds.join("; ")
        ),
    ));
    report.add(watches);
    failed
}
