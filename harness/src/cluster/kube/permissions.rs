//! Every API permission kube mode needs, and why: the one list behind the
//! README's permission paragraph, `gwl4 doctor`'s access checks and the
//! ClusterRoles of `manifests/gwl4-job/10-rbac.yaml` (a test holds the
//! manifest to this table, and the API server tier proves each rule
//! needed).

/// When a permission is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Every kube-mode run (ClusterRole `gwl4-runner`).
    Always,
    /// Echo backends as Pods, the default `--workloads cluster`
    /// (`gwl4-runner-pods`).
    ClusterWorkloads,
    /// `--workloads local` (`gwl4-runner-local-workloads`).
    LocalWorkloads,
    /// Optional: waits woken by watches instead of polls
    /// (`gwl4-runner-watch`); without it gwl4 polls.
    Watch,
}

impl Need {
    /// The ClusterRole of `manifests/gwl4-job/10-rbac.yaml` that grants it.
    pub fn cluster_role(self) -> &'static str {
        match self {
            Need::Always => "gwl4-runner",
            Need::ClusterWorkloads => "gwl4-runner-pods",
            Need::LocalWorkloads => "gwl4-runner-local-workloads",
            Need::Watch => "gwl4-runner-watch",
        }
    }

    /// Whether a run with (`local_workloads`) needs it.
    pub fn applies(self, local_workloads: bool) -> bool {
        match self {
            Need::Always => true,
            Need::ClusterWorkloads => !local_workloads,
            Need::LocalWorkloads => local_workloads,
            Need::Watch => true,
        }
    }

    /// Whether a run works without it (more slowly).
    pub fn optional(self) -> bool {
        self == Need::Watch
    }
}

/// Verbs on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// API group ("" for the core group).
    pub group: &'static str,
    /// Resource, with `/subresource` where there is one.
    pub resource: &'static str,
    /// Verbs.
    pub verbs: &'static [&'static str],
    /// When it is needed.
    pub need: Need,
}

impl Permission {
    /// `resource.group` as kubectl and RBAC errors name it.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

/// Server-side apply needs patch, and create for an object that does not
/// exist yet; cleanup needs delete, and get to see it gone.
const WRITE: &[&str] = &["get", "create", "patch", "delete"];

/// A watch starts with a list.
const WATCH: &[&str] = &["list", "watch"];

const fn p(
    group: &'static str,
    resource: &'static str,
    verbs: &'static [&'static str],
    need: Need,
) -> Permission {
    Permission {
        group,
        resource,
        verbs,
        need,
    }
}

/// Every permission, in the order of the manifest's rules.
pub const PERMISSIONS: &[Permission] = &[
    // Which Gateway API versions and channel the cluster serves.
    p(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        &["get"],
        Need::Always,
    ),
    // The class under test; list only names the classes there are when
    // the one asked for is missing.
    p(
        "gateway.networking.k8s.io",
        "gatewayclasses",
        &["get", "list"],
        Need::Always,
    ),
    p("", "namespaces", WRITE, Need::Always),
    p("", "services", WRITE, Need::Always),
    p("apps", "deployments", WRITE, Need::Always),
    p("gateway.networking.k8s.io", "gateways", WRITE, Need::Always),
    p(
        "gateway.networking.k8s.io",
        "tcproutes",
        WRITE,
        Need::Always,
    ),
    p(
        "gateway.networking.k8s.io",
        "udproutes",
        WRITE,
        Need::Always,
    ),
    p(
        "gateway.networking.k8s.io",
        "referencegrants",
        WRITE,
        Need::Always,
    ),
    // Waiting until a Service's EndpointSlices list its Ready Pods, and the
    // direct backend probe when traffic through the gateway fails.
    p("", "pods", &["list"], Need::ClusterWorkloads),
    p(
        "discovery.k8s.io",
        "endpointslices",
        &["list"],
        Need::ClusterWorkloads,
    ),
    // kube-rs port-forwards over a WebSocket (a GET); API servers from
    // 1.35 also require create for it, as for SPDY.
    p(
        "",
        "pods/portforward",
        &["get", "create"],
        Need::ClusterWorkloads,
    ),
    p(
        "discovery.k8s.io",
        "endpointslices",
        WRITE,
        Need::LocalWorkloads,
    ),
    // Waits woken by watches on the run's objects (cluster/kube/changes.rs).
    p("gateway.networking.k8s.io", "gateways", WATCH, Need::Watch),
    p("gateway.networking.k8s.io", "tcproutes", WATCH, Need::Watch),
    p("gateway.networking.k8s.io", "udproutes", WATCH, Need::Watch),
    p("apps", "deployments", WATCH, Need::Watch),
    p("", "services", WATCH, Need::Watch),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The manifest's ClusterRoles hold exactly this table's rules, in
    /// order: one rule per permission.
    #[test]
    fn the_job_manifests_cluster_roles_are_this_table() {
        let text = include_str!("../../../../manifests/gwl4-job/10-rbac.yaml");
        let mut rules = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(text) {
            let doc: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
            if doc["kind"] != "ClusterRole" {
                continue;
            }
            let role = doc["metadata"]["name"].as_str().unwrap().to_string();
            for rule in doc["rules"].as_array().unwrap() {
                let list = |k: &str| -> Vec<String> {
                    rule[k]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string())
                        .collect()
                };
                let (groups, resources) = (list("apiGroups"), list("resources"));
                assert_eq!((groups.len(), resources.len()), (1, 1), "{rule}");
                rules.push((
                    role.clone(),
                    groups[0].clone(),
                    resources[0].clone(),
                    list("verbs"),
                ));
            }
        }
        let want: Vec<_> = PERMISSIONS
            .iter()
            .map(|p| {
                (
                    p.need.cluster_role().to_string(),
                    p.group.to_string(),
                    p.resource.to_string(),
                    p.verbs.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(rules, want);
    }
}
