//! The config-level faults, one small function each: what they do to a
//! route or config (the end-to-end proof that gwl4 catches them is
//! `gwl4 self-test`).

use std::collections::BTreeMap;

use reference_gateway::config::{Backend, Config, Listener, ListenerKey, Protocol, Route, Target};
use reference_gateway::fault::config::{
    invalid_share_redistributed, per_endpoint_weight, route_deletion_keeps_traffic,
    section_name_ignored, status_without_listener, weights_ignored, zero_weight_leak,
};

fn backend(name: &str, weight: u32, endpoints: &[&str]) -> Backend {
    Backend {
        name: name.into(),
        weight,
        target: Target::Endpoints(endpoints.iter().map(|e| e.parse().unwrap()).collect()),
    }
}

fn reject(name: &str, weight: u32) -> Backend {
    Backend {
        name: name.into(),
        weight,
        target: Target::Reject("not found".into()),
    }
}

fn route(backends: Vec<Backend>) -> Route {
    Route {
        name: "TCPRoute/ns/r".into(),
        backends,
    }
}

fn listener(name: &str, port: u16, protocol: Protocol, route: Option<Route>) -> Listener {
    Listener {
        key: ListenerKey {
            address: "127.0.1.1".parse().unwrap(),
            port,
            protocol,
        },
        name: name.into(),
        route,
    }
}

fn weights(route: &Route) -> Vec<(String, u32)> {
    route
        .backends
        .iter()
        .map(|b| (b.name.clone(), b.weight))
        .collect()
}

#[test]
fn weights_ignored_gives_every_endpoint_one_share_weight_zero_included() {
    let mut r = route(vec![
        backend("a", 70, &["127.0.2.1:1"]),
        backend("b", 0, &["127.0.2.2:1", "127.0.2.3:1"]),
        reject("c", 5),
    ]);
    weights_ignored(&mut r);
    assert_eq!(
        weights(&r),
        vec![("a".into(), 1), ("b".into(), 1), ("b".into(), 1)]
    );
}

#[test]
fn per_endpoint_weight_multiplies_by_replicas() {
    let mut r = route(vec![
        backend("one", 50, &["127.0.2.1:1"]),
        backend("three", 50, &["127.0.2.2:1", "127.0.2.3:1", "127.0.2.4:1"]),
    ]);
    per_endpoint_weight(&mut r);
    let total: u32 = r.backends.iter().map(|b| b.weight).sum();
    let three: u32 = r
        .backends
        .iter()
        .filter(|b| b.name == "three")
        .map(|b| b.weight)
        .sum();
    assert_eq!((three, total), (150, 200));
}

#[test]
fn zero_weight_leak_gives_weight_zero_about_two_percent() {
    let mut r = route(vec![
        backend("a", 70, &["127.0.2.1:1"]),
        backend("b", 30, &["127.0.2.2:1"]),
        backend("z", 0, &["127.0.2.3:1"]),
    ]);
    zero_weight_leak(&mut r);
    assert_eq!(
        weights(&r),
        vec![("a".into(), 3430), ("b".into(), 1470), ("z".into(), 100)]
    );
    // All-zero routes still reject everything.
    let mut zero = route(vec![backend("z", 0, &["127.0.2.3:1"])]);
    zero_weight_leak(&mut zero);
    assert_eq!(weights(&zero), vec![("z".into(), 0)]);
}

#[test]
fn invalid_share_redistributed_zeroes_invalid_backends_unless_all_are() {
    let mut r = route(vec![backend("ok", 1, &["127.0.2.1:1"]), reject("bad", 1)]);
    invalid_share_redistributed(&mut r);
    assert_eq!(weights(&r), vec![("ok".into(), 1), ("bad".into(), 0)]);
    let mut all_bad = route(vec![reject("bad", 1)]);
    invalid_share_redistributed(&mut all_bad);
    assert_eq!(weights(&all_bad), vec![("bad".into(), 1)]);
}

#[test]
fn section_name_ignored_serves_the_first_listeners_route_on_its_gateway_only() {
    let first = route(vec![backend("one", 1, &["127.0.2.1:1"])]);
    let second = route(vec![backend("two", 1, &["127.0.2.2:1"])]);
    let mut config = Config {
        listeners: vec![
            listener("ns/gw/one", 9300, Protocol::Tcp, Some(first.clone())),
            listener("ns/gw/two", 9301, Protocol::Tcp, Some(second.clone())),
            listener("ns/gw/three", 9302, Protocol::Tcp, None),
            listener("ns/gw/udp", 9303, Protocol::Udp, None),
            listener("ns/other/tcp", 9304, Protocol::Tcp, Some(second.clone())),
        ],
    };
    section_name_ignored(&mut config);
    let routes: Vec<Option<&Route>> = config.listeners.iter().map(|l| l.route.as_ref()).collect();
    assert_eq!(
        routes,
        vec![
            Some(&first),
            Some(&first),
            Some(&first),
            None,
            Some(&second)
        ]
    );
}

#[test]
fn status_without_listener_drops_udp_listeners_only() {
    let mut config = Config {
        listeners: vec![
            listener("ns/gw/tcp", 9300, Protocol::Tcp, None),
            listener("ns/gw/udp", 9301, Protocol::Udp, None),
        ],
    };
    status_without_listener(&mut config);
    assert_eq!(config.listeners.len(), 1);
    assert_eq!(config.listeners[0].key.protocol, Protocol::Tcp);
}

#[test]
fn route_deletion_keeps_traffic_remembers_the_last_route() {
    let r = route(vec![backend("a", 1, &["127.0.2.1:1"])]);
    let mut memory = BTreeMap::new();
    let mut before = Config {
        listeners: vec![listener("ns/gw/tcp", 9300, Protocol::Tcp, Some(r.clone()))],
    };
    route_deletion_keeps_traffic(&mut memory, &mut before);
    let mut after = Config {
        listeners: vec![listener("ns/gw/tcp", 9300, Protocol::Tcp, None)],
    };
    route_deletion_keeps_traffic(&mut memory, &mut after);
    assert_eq!(after.listeners[0].route.as_ref(), Some(&r));
}
