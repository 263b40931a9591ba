//! The translation-level faults through `FaultState::translate`: the same
//! snapshot translated clean and with the fault on.

use std::time::Duration;

use reference_gateway::config::Target;
use reference_gateway::fault::{Fault, FaultState};
use reference_gateway::model::Snapshot;
use reference_gateway::translate::translate;

const CLASS_AND_GATEWAY: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gwl4}
spec: {controllerName: gwl4.dev/reference-gateway}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra, generation: 1}
spec:
  gatewayClassName: gwl4
  listeners:
    - {name: tcp, protocol: TCP, port: 9300}
"#;

fn service(namespace: &str, name: &str, ip: &str) -> String {
    format!(
        r#"
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  ports: [{{name: tcp, port: 8080, targetPort: 3000, protocol: TCP}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: {namespace}
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
ports: [{{name: tcp, port: 3000, protocol: TCP}}]
endpoints: [{{addresses: ["{ip}"], conditions: {{ready: true}}}}]
"#
    )
}

fn route(name: &str, created: &str, namespace: &str, backend: &str) -> String {
    format!(
        r#"
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {{name: {name}, namespace: infra, generation: 1, creationTimestamp: "{created}"}}
spec:
  parentRefs: [{{name: gw, sectionName: tcp}}]
  rules:
    - backendRefs: [{{name: {backend}, namespace: {namespace}, port: 8080}}]
"#
    )
}

/// The backend names the listener's route sends traffic to.
fn served(translation: &reference_gateway::translate::Translation) -> Vec<String> {
    translation.config.listeners[0]
        .route
        .iter()
        .flat_map(|r| r.backends.iter())
        .filter(|b| matches!(b.target, Target::Endpoints(_)))
        .map(|b| b.name.clone())
        .collect()
}

fn state(fault: Fault) -> FaultState {
    FaultState::new([fault].into_iter().collect(), Duration::ZERO)
}

#[test]
fn newest_route_wins_serves_the_newer_route() {
    let yaml = format!(
        "{CLASS_AND_GATEWAY}{}{}{}{}",
        service("infra", "old-svc", "127.0.2.1"),
        service("infra", "new-svc", "127.0.2.2"),
        route("old", "2026-01-01T00:00:00Z", "infra", "old-svc"),
        route("new", "2026-01-01T00:00:05Z", "infra", "new-svc"),
    );
    let snapshot = Snapshot::from_yaml("test", &yaml).unwrap();
    assert_eq!(served(&translate(&snapshot)), vec!["infra/old-svc:8080"]);
    assert_eq!(
        served(&state(Fault::NewestRouteWins).translate(&snapshot)),
        vec!["infra/new-svc:8080"]
    );
}

#[test]
fn cross_namespace_without_grant_forwards_without_a_grant() {
    let yaml = format!(
        "{CLASS_AND_GATEWAY}{}{}",
        service("web", "svc", "127.0.2.1"),
        route("r", "2026-01-01T00:00:00Z", "web", "svc"),
    );
    let snapshot = Snapshot::from_yaml("test", &yaml).unwrap();
    assert!(served(&translate(&snapshot)).is_empty());
    assert_eq!(
        served(&state(Fault::CrossNamespaceWithoutGrant).translate(&snapshot)),
        vec!["web/svc:8080"]
    );
}

#[test]
fn grant_revocation_ignored_keeps_a_deleted_grant() {
    let base = format!(
        "{CLASS_AND_GATEWAY}{}{}",
        service("web", "svc", "127.0.2.1"),
        route("r", "2026-01-01T00:00:00Z", "web", "svc"),
    );
    let grant = r#"
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: g, namespace: web}
spec:
  from: [{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: infra}]
  to: [{group: "", kind: Service}]
"#;
    let granted = Snapshot::from_yaml("test", &format!("{base}{grant}")).unwrap();
    let revoked = Snapshot::from_yaml("test", &base).unwrap();
    let faulty = state(Fault::GrantRevocationIgnored);
    assert_eq!(served(&faulty.translate(&granted)), vec!["web/svc:8080"]);
    assert!(served(&translate(&revoked)).is_empty());
    assert_eq!(served(&faulty.translate(&revoked)), vec!["web/svc:8080"]);
}
