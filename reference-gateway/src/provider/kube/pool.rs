//! `--address-source pool:CIDR`: each Gateway its own address.
//!
//! Why: with one bind address for every Gateway, two Gateways with a
//! listener on the same port collide (the older one gets the socket, the
//! newer `PortUnavailable`), so tests that each make a Gateway on a fixed
//! port cannot run at once on one machine. A pool hands every Gateway of our
//! GatewayClasses that has no `spec.addresses` an address of its own from a
//! CIDR (out of cluster, a loopback block such as `127.1.9.0/24`): listeners
//! bind there, `status.addresses` reports it, and same-port listeners of
//! different Gateways never meet.
//!
//! The rules, all in [`AddressPool::assign`]:
//! - an assignment is sticky while the Gateway exists, keyed by namespace,
//!   name *and* uid (a Gateway deleted and created again is a new Gateway);
//! - it is released when the Gateway is gone from the watched objects (or
//!   gains `spec.addresses`, or leaves our classes);
//! - addresses are handed out round-robin, the next free one after the last
//!   handed out, so a just-released address is not reused at once and a new
//!   Gateway does not meet the old one's TIME_WAIT sockets;
//! - new Gateways are served in (creationTimestamp, namespace, name) order,
//!   so a given set of objects gets the same addresses every time;
//! - when the pool is exhausted a Gateway gets none, and translation reports
//!   `Programmed=False/AddressNotAssigned` ([`AddressPool::exhausted`]); it
//!   gets one, in that same order, as soon as one is released.
//!
//! Hosts are the CIDR's addresses without the network and broadcast
//! addresses (IPv4 prefixes below /31; /31 has two hosts, /32 one), or
//! without the subnet-router anycast address (IPv6 prefixes below /127).
//! The state lives in the provider, not in the snapshot: translation only
//! sees the resulting per-Gateway map ([`Snapshot::gateway_addresses`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use tracing::{info, warn};

use crate::model::Snapshot;
use crate::translate::CONTROLLER_NAME;

/// An IPv4 or IPv6 network: `address/prefix`, host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Bits in an address of the family: 32 or 128.
    fn bits(&self) -> u8 {
        bits(self.network)
    }

    /// The first and last host, as numbers.
    fn host_range(&self) -> (u128, u128) {
        let network = number(self.network);
        let host_bits = u32::from(self.bits() - self.prefix);
        let last = network | host_mask(host_bits);
        match self.network {
            IpAddr::V4(_) if self.prefix < 31 => (network + 1, last - 1),
            IpAddr::V6(_) if self.prefix < 127 => (network + 1, last),
            _ => (network, last),
        }
    }

    /// How many host addresses the network has.
    pub fn hosts(&self) -> u128 {
        let (first, last) = self.host_range();
        last - first + 1
    }

    /// The `offset`-th host address (0 is the first), if there is one.
    pub fn host(&self, offset: u128) -> Option<IpAddr> {
        let (first, last) = self.host_range();
        let value = first.checked_add(offset).filter(|v| *v <= last)?;
        Some(match self.network {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(value as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(value)),
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// `10.0.0.0/24` or `fd00::/120`. The error says what is wrong, without
    /// repeating the input (callers add it).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = s.split_once('/').ok_or_else(|| {
            "no prefix length (expected ADDRESS/LENGTH, e.g. 127.1.9.0/24)".to_string()
        })?;
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{address:?} is not an IP address"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| format!("prefix length {prefix:?} is not a number"))?;
        let max = bits(network);
        if prefix > max {
            return Err(format!("prefix length {prefix} is more than {max}"));
        }
        let host_bits = u32::from(max - prefix);
        if number(network) & host_mask(host_bits) != 0 {
            let masked = number(network) & !host_mask(host_bits);
            let masked = match network {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(masked as u32)),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(masked)),
            };
            return Err(format!(
                "{network} has host bits set (the network is {masked}/{prefix})"
            ));
        }
        Ok(Cidr { network, prefix })
    }
}

fn bits(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn number(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The low `host_bits` bits set.
fn host_mask(host_bits: u32) -> u128 {
    u128::MAX.checked_shr(128 - host_bits).unwrap_or(0)
}

/// A Gateway that wants a pool address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimant {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid`: a recreated Gateway has another.
    pub uid: String,
    /// `metadata.creationTimestamp`: older Gateways are served first.
    pub created: Option<Time>,
}

impl Claimant {
    fn key(&self) -> (String, String) {
        (self.namespace.clone(), self.name.clone())
    }

    fn label(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// The Gateways of `snapshot` that want a pool address: those of a
/// GatewayClass with our controller name and without `spec.addresses`.
pub fn claimants(snapshot: &Snapshot) -> Vec<Claimant> {
    let ours: BTreeSet<&str> = snapshot
        .gateway_classes
        .iter()
        .filter(|c| c.spec.controller_name == CONTROLLER_NAME)
        .filter_map(|c| c.metadata.name.as_deref())
        .collect();
    snapshot
        .gateways
        .iter()
        .filter(|g| ours.contains(g.spec.gateway_class_name.as_str()))
        .filter(|g| g.spec.addresses.as_deref().unwrap_or_default().is_empty())
        .map(|g| Claimant {
            namespace: g
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: g.metadata.name.clone().unwrap_or_default(),
            uid: g.metadata.uid.clone().unwrap_or_default(),
            created: g.metadata.creation_timestamp.clone(),
        })
        .collect()
}

/// One Gateway's address.
#[derive(Debug, Clone)]
struct Assignment {
    uid: String,
    offset: u128,
}

/// The pool's assignments (see the module documentation).
#[derive(Debug, Clone)]
pub struct AddressPool {
    cidr: Cidr,
    /// By (namespace, name).
    assigned: BTreeMap<(String, String), Assignment>,
    /// Host offsets in use.
    in_use: BTreeSet<u128>,
    /// The offset handed out last: the next search starts after it.
    last: Option<u128>,
    /// Gateways that found the pool exhausted (logged once each).
    waiting: BTreeSet<(String, String)>,
}

impl AddressPool {
    /// An empty pool over `cidr`'s hosts.
    pub fn new(cidr: Cidr) -> Self {
        AddressPool {
            cidr,
            assigned: BTreeMap::new(),
            in_use: BTreeSet::new(),
            last: None,
            waiting: BTreeSet::new(),
        }
    }

    /// The network the addresses come from.
    pub fn cidr(&self) -> Cidr {
        self.cidr
    }

    /// Why a Gateway has no address: the condition message translation
    /// reports (only ever needed when every host is in use).
    pub fn exhausted(&self) -> String {
        format!(
            "the address pool {} has no free address ({} in use); delete a Gateway or \
             give the reference gateway a larger --address-source pool:CIDR",
            self.cidr,
            self.cidr.hosts()
        )
    }

    /// Brings the assignments in line with `claimants` (every Gateway that
    /// wants an address now): releases those of Gateways gone (or
    /// recreated), assigns new ones, and returns each Gateway's address by
    /// (namespace, name). A Gateway left out found the pool exhausted.
    pub fn assign(&mut self, claimants: &[Claimant]) -> BTreeMap<(String, String), IpAddr> {
        let wanted: BTreeMap<(String, String), &Claimant> =
            claimants.iter().map(|c| (c.key(), c)).collect();
        let gone: Vec<(String, String)> = self
            .assigned
            .iter()
            .filter(|(key, a)| wanted.get(*key).is_none_or(|c| c.uid != a.uid))
            .map(|(key, _)| key.clone())
            .collect();
        for key in gone {
            if let Some(a) = self.assigned.remove(&key) {
                self.in_use.remove(&a.offset);
                info!(
                    gateway = format!("{}/{}", key.0, key.1),
                    address = %self.address(a.offset),
                    pool = %self.cidr,
                    "pool address released"
                );
            }
        }
        self.waiting.retain(|key| wanted.contains_key(key));
        let mut new: Vec<&Claimant> = wanted
            .iter()
            .filter(|(key, _)| !self.assigned.contains_key(*key))
            .map(|(_, c)| *c)
            .collect();
        new.sort_by(|a, b| {
            (&a.created, &a.namespace, &a.name).cmp(&(&b.created, &b.namespace, &b.name))
        });
        for claimant in new {
            let key = claimant.key();
            match self.next_free() {
                Some(offset) => {
                    self.in_use.insert(offset);
                    self.last = Some(offset);
                    self.waiting.remove(&key);
                    self.assigned.insert(
                        key,
                        Assignment {
                            uid: claimant.uid.clone(),
                            offset,
                        },
                    );
                    info!(
                        gateway = claimant.label(),
                        address = %self.address(offset),
                        pool = %self.cidr,
                        "pool address assigned"
                    );
                }
                None => {
                    if self.waiting.insert(key) {
                        warn!(
                            gateway = claimant.label(),
                            pool = %self.cidr,
                            in_use = self.in_use.len(),
                            "address pool exhausted: the Gateway has no address"
                        );
                    }
                }
            }
        }
        self.assigned
            .iter()
            .map(|(key, a)| (key.clone(), self.address(a.offset)))
            .collect()
    }

    fn address(&self, offset: u128) -> IpAddr {
        self.cidr
            .host(offset)
            .expect("offsets in use are inside the pool")
    }

    /// The first free offset after the last handed out, wrapping around.
    fn next_free(&self) -> Option<u128> {
        let hosts = self.cidr.hosts();
        if self.in_use.len() as u128 >= hosts {
            return None;
        }
        let start = match self.last {
            Some(last) if last + 1 < hosts => last + 1,
            _ => 0,
        };
        let first_gap = |from: u128, to: u128| {
            let mut candidate = from;
            while candidate < to && self.in_use.contains(&candidate) {
                candidate += 1;
            }
            (candidate < to).then_some(candidate)
        };
        first_gap(start, hosts).or_else(|| first_gap(0, start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    fn claimant(namespace: &str, name: &str, uid: &str, created: Option<i64>) -> Claimant {
        Claimant {
            namespace: namespace.into(),
            name: name.into(),
            uid: uid.into(),
            created: created.map(|s| {
                Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000 + s).unwrap())
            }),
        }
    }

    fn addresses(map: &BTreeMap<(String, String), IpAddr>) -> Vec<(String, String)> {
        map.iter()
            .map(|((_, name), address)| (name.clone(), address.to_string()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn cidr_parses_an_ipv4_network_and_excludes_network_and_broadcast() {
        let c = cidr("127.0.9.0/24");
        assert_eq!(c.to_string(), "127.0.9.0/24");
        assert_eq!(c.hosts(), 254);
        assert_eq!(c.host(0), Some("127.0.9.1".parse().unwrap()));
        assert_eq!(c.host(253), Some("127.0.9.254".parse().unwrap()));
        assert_eq!(c.host(254), None);
    }

    #[test]
    fn cidr_slash_32_is_a_single_host() {
        let c = cidr("10.1.2.3/32");
        assert_eq!(c.hosts(), 1);
        assert_eq!(c.host(0), Some("10.1.2.3".parse().unwrap()));
        assert_eq!(c.host(1), None);
    }

    #[test]
    fn cidr_slash_31_has_two_hosts() {
        let c = cidr("10.1.2.2/31");
        assert_eq!(c.hosts(), 2);
        assert_eq!(c.host(0), Some("10.1.2.2".parse().unwrap()));
        assert_eq!(c.host(1), Some("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn cidr_ipv6_excludes_only_the_subnet_router_address() {
        let c = cidr("fd00::/120");
        assert_eq!(c.hosts(), 255);
        assert_eq!(c.host(0), Some("fd00::1".parse().unwrap()));
        assert_eq!(c.host(254), Some("fd00::ff".parse().unwrap()));
        assert_eq!(cidr("::/0").hosts(), u128::MAX);
        assert_eq!(cidr("fd00::5/128").hosts(), 1);
    }

    #[test]
    fn cidr_prefix_longer_than_the_address_is_refused() {
        assert_eq!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err("prefix length 33 is more than 32".into())
        );
        assert_eq!(
            "fd00::/129".parse::<Cidr>(),
            Err("prefix length 129 is more than 128".into())
        );
    }

    #[test]
    fn cidr_bad_address_prefix_or_host_bits_are_refused() {
        assert_eq!(
            "10.0.0/24".parse::<Cidr>(),
            Err("\"10.0.0\" is not an IP address".into())
        );
        assert_eq!(
            "10.0.0.0/x".parse::<Cidr>(),
            Err("prefix length \"x\" is not a number".into())
        );
        assert!(
            "10.0.0.0"
                .parse::<Cidr>()
                .unwrap_err()
                .starts_with("no prefix length")
        );
        assert_eq!(
            "127.0.9.5/24".parse::<Cidr>(),
            Err("127.0.9.5 has host bits set (the network is 127.0.9.0/24)".into())
        );
    }

    #[test]
    fn three_gateways_get_distinct_addresses() {
        let mut pool = AddressPool::new(cidr("127.0.9.0/24"));
        let map = pool.assign(&[
            claimant("a", "gw1", "u1", Some(0)),
            claimant("a", "gw2", "u2", Some(1)),
            claimant("b", "gw3", "u3", Some(2)),
        ]);
        assert_eq!(
            addresses(&map),
            pairs(&[
                ("gw1", "127.0.9.1"),
                ("gw2", "127.0.9.2"),
                ("gw3", "127.0.9.3")
            ])
        );
    }

    #[test]
    fn assignments_are_sticky_across_reconciles() {
        let mut pool = AddressPool::new(cidr("127.0.9.0/24"));
        let gateways = [
            claimant("a", "gw1", "u1", Some(0)),
            claimant("a", "gw2", "u2", Some(1)),
        ];
        let first = pool.assign(&gateways);
        // A newer Gateway arriving, and the list in another order, move
        // nobody.
        let mut more = vec![claimant("a", "gw0", "u0", Some(2))];
        more.extend(gateways.iter().rev().cloned());
        for _ in 0..3 {
            let again = pool.assign(&more);
            for (key, address) in &first {
                assert_eq!(again.get(key), Some(address));
            }
            assert_eq!(again.len(), 3);
        }
    }

    #[test]
    fn released_address_is_not_handed_out_next() {
        let mut pool = AddressPool::new(cidr("127.0.9.0/29"));
        let gw1 = claimant("a", "gw1", "u1", Some(0));
        let gw2 = claimant("a", "gw2", "u2", Some(1));
        pool.assign(&[gw1.clone(), gw2.clone()]);
        // gw1 (127.0.9.1) is deleted; a new Gateway gets .3, not .1.
        let map = pool.assign(&[gw2.clone(), claimant("a", "gw3", "u3", Some(2))]);
        assert_eq!(
            addresses(&map),
            pairs(&[("gw2", "127.0.9.2"), ("gw3", "127.0.9.3")])
        );
        // Round-robin wraps past the end (.6) to the first free address.
        let map = pool.assign(&[
            gw2.clone(),
            claimant("a", "gw3", "u3", Some(2)),
            claimant("a", "gw4", "u4", Some(3)),
            claimant("a", "gw5", "u5", Some(4)),
            claimant("a", "gw6", "u6", Some(5)),
            claimant("a", "gw7", "u7", Some(6)),
        ]);
        assert_eq!(
            addresses(&map),
            pairs(&[
                ("gw2", "127.0.9.2"),
                ("gw3", "127.0.9.3"),
                ("gw4", "127.0.9.4"),
                ("gw5", "127.0.9.5"),
                ("gw6", "127.0.9.6"),
                ("gw7", "127.0.9.1"),
            ])
        );
    }

    #[test]
    fn recreated_gateway_is_a_new_gateway() {
        let mut pool = AddressPool::new(cidr("127.0.9.0/24"));
        let first = pool.assign(&[claimant("a", "gw", "u1", Some(0))]);
        // Deleted and created again between two reconciles: another uid.
        let second = pool.assign(&[claimant("a", "gw", "u2", Some(5))]);
        assert_eq!(addresses(&first), pairs(&[("gw", "127.0.9.1")]));
        assert_eq!(addresses(&second), pairs(&[("gw", "127.0.9.2")]));
    }

    #[test]
    fn exhausted_pool_leaves_the_newest_gateway_without_an_address() {
        let mut pool = AddressPool::new(cidr("127.0.9.0/30"));
        let gateways = [
            claimant("a", "gw1", "u1", Some(0)),
            claimant("a", "gw2", "u2", Some(1)),
            claimant("a", "gw3", "u3", Some(2)),
        ];
        let map = pool.assign(&gateways);
        assert_eq!(
            addresses(&map),
            pairs(&[("gw1", "127.0.9.1"), ("gw2", "127.0.9.2")])
        );
        assert_eq!(
            pool.exhausted(),
            "the address pool 127.0.9.0/30 has no free address (2 in use); delete a Gateway \
             or give the reference gateway a larger --address-source pool:CIDR"
        );
        // When gw1 goes, the waiting gw3 gets its address.
        let map = pool.assign(&gateways[1..]);
        assert_eq!(
            addresses(&map),
            pairs(&[("gw2", "127.0.9.2"), ("gw3", "127.0.9.1")])
        );
    }

    #[test]
    fn new_gateways_are_served_oldest_first_then_by_namespace_and_name() {
        let gateways = [
            claimant("b", "gw", "u1", Some(1)),
            claimant("a", "gw", "u2", Some(1)),
            claimant("z", "old", "u3", Some(0)),
            claimant("c", "gw", "u4", None),
        ];
        let mut reversed = gateways.clone();
        reversed.reverse();
        for list in [&gateways, &reversed] {
            let mut pool = AddressPool::new(cidr("127.0.9.0/24"));
            let map = pool.assign(list);
            let got: Vec<String> = map
                .iter()
                .map(|((ns, name), a)| format!("{ns}/{name}={a}"))
                .collect();
            assert_eq!(
                got,
                [
                    "a/gw=127.0.9.3",
                    "b/gw=127.0.9.4",
                    "c/gw=127.0.9.1",
                    "z/old=127.0.9.2"
                ]
            );
        }
    }

    #[test]
    fn claimants_are_our_gateways_without_spec_addresses() {
        let snapshot = Snapshot::from_yaml(
            "test",
            &format!(
                "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n\
                 metadata: {{name: ours}}\nspec: {{controllerName: {CONTROLLER_NAME}}}\n---\n\
                 apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n\
                 metadata: {{name: theirs}}\nspec: {{controllerName: example.com/other}}\n---\n\
                 apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
                 metadata: {{name: pooled, namespace: n, uid: u1}}\n\
                 spec: {{gatewayClassName: ours, listeners: []}}\n---\n\
                 apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
                 metadata: {{name: own, namespace: n}}\n\
                 spec: {{gatewayClassName: ours, listeners: [], addresses: [{{value: 10.0.0.1}}]}}\n---\n\
                 apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
                 metadata: {{name: foreign, namespace: n}}\n\
                 spec: {{gatewayClassName: theirs, listeners: []}}\n"
            ),
        )
        .unwrap();
        let names: Vec<(String, String)> = claimants(&snapshot)
            .into_iter()
            .map(|c| (c.name, c.uid))
            .collect();
        assert_eq!(names, pairs(&[("pooled", "u1")]));
    }
}
