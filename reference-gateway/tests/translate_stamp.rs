//! `stamp`: lastTransitionTime is kept while a condition's status holds,
//! and status documents read back what they write.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use reference_gateway::model::Snapshot;
use reference_gateway::status::{ConditionStatus, ConditionType, Status, StatusDocument, stamp};
use reference_gateway::translate::translate;

const BASE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gwl4, generation: 1}
spec: {controllerName: gwl4.dev/reference-gateway}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: ns, generation: 1}
spec:
  gatewayClassName: gwl4
  listeners: [{name: tcp, port: 9000, protocol: TCP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: r, namespace: ns, generation: 1}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: svc, port: 80}]}]
"#;

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: svc, namespace: ns}\nspec: {ports: [{port: 80}]}\n";

fn time(s: &str) -> Time {
    Time(s.parse().expect("timestamp"))
}

fn statuses(text: &str) -> Vec<StatusDocument> {
    translate(&Snapshot::from_yaml("test", text).expect("parses")).statuses
}

fn route_condition(
    docs: &[StatusDocument],
    type_: ConditionType,
) -> (ConditionStatus, Option<Time>) {
    let doc = docs
        .iter()
        .find(|d| d.metadata.name == "r")
        .expect("route status");
    let Status::Route(route) = &doc.status else {
        panic!("not a route status")
    };
    let c = route.parents[0]
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .expect("condition");
    (c.status, c.last_transition_time.clone())
}

#[test]
fn translation_leaves_times_to_the_caller() {
    let docs = statuses(BASE);
    assert!(!docs.is_empty());
    assert!(docs.iter().all(|d| {
        !serde_yaml::to_string(d)
            .unwrap()
            .contains("lastTransitionTime")
    }));
}

#[test]
fn times_change_only_with_status() {
    let t0 = time("2026-01-01T00:00:00Z");
    let t1 = time("2026-01-01T00:05:00Z");
    let first = stamp(&[], statuses(BASE), &t0);
    assert_eq!(
        route_condition(&first, ConditionType::ResolvedRefs),
        (ConditionStatus::False, Some(t0.clone()))
    );

    // Same snapshot later: every time is kept.
    let again = stamp(&first, statuses(BASE), &t1);
    assert_eq!(again, first);

    // The Service appears: ResolvedRefs flips and is re-stamped; Accepted holds.
    let fixed = stamp(&again, statuses(&format!("{BASE}---\n{SERVICE}")), &t1);
    assert_eq!(
        route_condition(&fixed, ConditionType::ResolvedRefs),
        (ConditionStatus::True, Some(t1.clone()))
    );
    assert_eq!(
        route_condition(&fixed, ConditionType::Accepted),
        (ConditionStatus::True, Some(t0.clone()))
    );
}

#[test]
fn a_changed_message_alone_is_not_a_transition() {
    let t0 = time("2026-01-01T00:00:00Z");
    let t1 = time("2026-01-01T00:05:00Z");
    let first = stamp(&[], statuses(BASE), &t0);
    // A different missing Service: same status, new message.
    let other = BASE.replace("name: svc", "name: other");
    let next = stamp(&first, statuses(&other), &t1);
    assert_eq!(
        route_condition(&next, ConditionType::ResolvedRefs),
        (ConditionStatus::False, Some(t0))
    );
}

#[test]
fn listeners_are_matched_by_name() {
    let t0 = time("2026-01-01T00:00:00Z");
    let t1 = time("2026-01-01T00:05:00Z");
    let first = stamp(&[], statuses(BASE), &t0);
    let renamed = BASE.replace("name: tcp,", "name: tcp2,");
    let next = stamp(&first, statuses(&renamed), &t1);
    let gw = next
        .iter()
        .find(|d| d.metadata.name == "gw")
        .expect("gateway");
    let Status::Gateway(status) = &gw.status else {
        panic!("not a gateway status")
    };
    assert!(
        status.listeners[0]
            .conditions
            .iter()
            .all(|c| c.last_transition_time == Some(t1.clone()))
    );
    assert!(
        status
            .conditions
            .iter()
            .all(|c| c.last_transition_time == Some(t0.clone()))
    );
}

#[test]
fn status_documents_read_back_and_know_their_path() {
    let docs = stamp(&[], statuses(BASE), &time("2026-01-01T00:00:00Z"));
    for doc in &docs {
        let yaml = serde_yaml::to_string(doc).expect("serialises");
        let back: StatusDocument = serde_yaml::from_str(&yaml).expect("reads back");
        assert_eq!(&back, doc, "{yaml}");
    }
    let paths: Vec<String> = docs
        .iter()
        .map(|d| d.relative_path().display().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "GatewayClass/gwl4.yaml",
            "Gateway/ns/gw.yaml",
            "TCPRoute/ns/r.yaml"
        ]
    );
    let yaml = serde_yaml::to_string(&docs[2]).unwrap();
    assert!(
        yaml.contains("lastTransitionTime: 2026-01-01T00:00:00Z")
            || yaml.contains("lastTransitionTime: '2026-01-01T00:00:00Z'"),
        "{yaml}"
    );
}
