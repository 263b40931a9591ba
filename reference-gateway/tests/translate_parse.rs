//! The strict YAML parser: accepted kinds and versions, unknown fields,
//! and errors that name file, line, object and field.

use reference_gateway::model::{ApiVersion, Problem, Snapshot, documents};

const ROUTES: &str = r#"
# a comment-only first document
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: new, namespace: ns}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: svc, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: old}
spec:
  rules:
  - backendRefs: [{name: svc, port: 53}]
  - backendRefs: [{name: svc, port: 54}]
---
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: beta, namespace: ns}
spec:
  from: [{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: other}]
  to: [{group: "", kind: Service}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: ga, namespace: ns}
spec:
  from: [{group: gateway.networking.k8s.io, kind: UDPRoute, namespace: other}]
  to: [{group: "", kind: Service, name: svc}]
"#;

#[test]
fn versions_are_recorded_and_empty_documents_skipped() {
    let s = Snapshot::from_yaml("routes.yaml", ROUTES).expect("parses");
    assert_eq!(s.tcp_routes.len(), 1);
    assert_eq!(s.tcp_routes[0].api_version, ApiVersion::V1);
    assert_eq!(s.udp_routes[0].api_version, ApiVersion::V1alpha2);
    assert_eq!(
        s.udp_routes[0].object.spec.rules.len(),
        2,
        "v1alpha2 keeps several rules"
    );
    // kubectl's default namespace for a namespaced object without one.
    assert_eq!(
        s.udp_routes[0].object.metadata.namespace.as_deref(),
        Some("default")
    );
    let versions: Vec<_> = s.reference_grants.iter().map(|g| g.api_version).collect();
    assert_eq!(versions, [ApiVersion::V1beta1, ApiVersion::V1]);
}

#[test]
fn documents_know_their_first_line() {
    let docs = documents("a: 1\n---\nb: 2\nc: 3\n--- # note\nd: 4");
    let lines: Vec<_> = docs.iter().map(|d| (d.index, d.line)).collect();
    assert_eq!(lines, [(1, 1), (2, 3), (3, 6)]);
    assert_eq!(docs[1].text, "b: 2\nc: 3\n");
}

fn error(text: &str) -> reference_gateway::model::ParseError {
    let mut s = Snapshot::default();
    let before = s.clone();
    let e = s
        .add_yaml("dir/file.yaml", text)
        .expect_err("must be refused");
    assert_eq!(s, before, "a refused text adds nothing");
    e
}

#[test]
fn unknown_fields_are_rejected_at_any_depth() {
    let e = error(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n\
         apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: n, labelz: {}}\n\
         spec: {gatewayClassName: c, listeners: []}\n",
    );
    assert_eq!(e.problem, Problem::UnknownField("metadata.labelz".into()));
    assert_eq!((e.document, e.line), (2, 5));
    assert_eq!(
        e.to_string(),
        "dir/file.yaml:5: document 2 (Gateway n/g): unknown field `metadata.labelz`"
    );

    let e = error(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s, namespace: n}\naddressType: IPv4\n\
         endpoints: [{addresses: [10.0.0.1], condition: {ready: true}}]\n",
    );
    assert_eq!(
        e.problem,
        Problem::UnknownField("endpoints[0].condition".into())
    );
}

#[test]
fn null_fields_are_not_unknown() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: n, labels: null}\nspec: {ports: [{port: 80}]}\n";
    Snapshot::from_yaml("f", text).expect("null is the same as absent");
}

#[test]
fn wrong_types_name_the_field_path() {
    let e = error(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: UDPRoute\nmetadata: {name: r, namespace: n}\n\
         spec: {rules: [{backendRefs: [{name: s, port: fifty-three}]}]}\n",
    );
    match &e.problem {
        Problem::InvalidField { path, .. } => assert_eq!(path, "spec.rules[0].backendRefs[0].port"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(e.object.as_deref(), Some("UDPRoute n/r"));
}

#[test]
fn other_kinds_and_versions_are_refused() {
    for (api_version, kind) in [
        ("apps/v1", "Deployment"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ("gateway.networking.k8s.io/v1alpha2", "Gateway"),
        ("gateway.networking.k8s.io/v1beta1", "TCPRoute"),
        ("v1", "EndpointSlice"),
    ] {
        let e = error(&format!(
            "apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x}}\n"
        ));
        assert!(
            matches!(e.problem, Problem::UnsupportedKind { .. }),
            "{api_version} {kind}: {e}"
        );
    }
}

#[test]
fn v1_routes_need_exactly_one_rule() {
    let e = error(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata: {name: r, namespace: n}\nspec: {rules: []}\n",
    );
    assert_eq!(e.problem, Problem::RuleCount(0));
}

#[test]
fn duplicates_are_refused_across_texts() {
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n";
    let mut s = Snapshot::default();
    s.add_yaml("one.yaml", ns).expect("first");
    let e = s.add_yaml("two.yaml", ns).expect_err("second");
    assert_eq!(e.problem, Problem::Duplicate);
    assert_eq!(s.namespaces.len(), 1);
}

#[test]
fn missing_name_and_non_objects_are_refused() {
    assert_eq!(
        error("apiVersion: v1\nkind: Namespace\nmetadata: {}\n").problem,
        Problem::MissingName
    );
    assert!(matches!(
        error("- just\n- a list\n").problem,
        Problem::NotAnObject(_)
    ));
    let e = error("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkey: [unclosed\n");
    assert!(matches!(e.problem, Problem::Yaml(_)));
    assert_eq!((e.document, e.line), (2, 5));
}
