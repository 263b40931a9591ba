//! Which tests run at the same time (`--test-threads`).
//!
//! Local mode gives each test a world of its own (its own store, gateway
//! process and loopback address), so nothing is shared. In a cluster every
//! test meets the same API server and, often, the same Gateway address. A
//! test *holds* what it touches ([`holds`]); [`Scheduler::acquire`] starts a
//! test only when nothing it holds is held by a running test, and otherwise
//! waits, so collisions serialise tests instead of failing them.
//!
//! Listener ports matter only where Gateways share an address (a
//! hostNetwork data plane on one node address); where each Gateway gets an
//! address of its own (a LoadBalancer per Gateway, the reference gateway's
//! `--address-source pool:CIDR`), two tests on port 9300 do not collide.
//! With `--gateway-addresses auto` (the default) the scheduler learns which
//! from the addresses Gateways report ([`Scheduler::observe`]): ports are
//! held until two Gateways have been seen with different addresses, and
//! again from the moment two alive at once are seen sharing one.
//! Acquisition is all at once, so tests never deadlock.

pub mod holds;
mod order;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use tokio::time::Instant;

pub use self::holds::{Holds, Shared, holds};
pub use self::order::longest_first;
use crate::cluster::ObjectKey;

/// `--gateway-addresses`: whether Gateways share an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressSharing {
    /// Learn it from the addresses Gateways report (ports are held until
    /// Gateways are seen with addresses of their own).
    #[default]
    Auto,
    /// Gateways share one address: tests with listeners on one port run
    /// one at a time.
    Shared,
    /// Every Gateway has its own address: ports never collide.
    PerGateway,
}

/// What the run has learned about Gateway addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Learned {
    Unknown,
    PerGateway,
    Shared,
}

#[derive(Debug)]
struct State {
    /// Running tests and what they hold.
    running: BTreeMap<String, Holds>,
    /// Gateways of running tests and the address each reported.
    addresses: BTreeMap<(String, ObjectKey), IpAddr>,
    /// Every Gateway the run has seen, running or not.
    history: BTreeMap<(String, ObjectKey), IpAddr>,
    learned: Learned,
}

/// Hands out the right to run, one test at a time or side by side.
#[derive(Debug)]
pub struct Scheduler {
    sharing: AddressSharing,
    state: Mutex<State>,
    freed: Condvar,
}

/// A running test's claim; dropping it frees what the test held.
#[derive(Debug)]
pub struct Ticket<'a> {
    scheduler: &'a Scheduler,
    test: String,
    /// How long the test waited, and for which test and what.
    pub waited: Option<Wait>,
}

/// A test's wait for another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// How long.
    pub time: Duration,
    /// The test it first waited for.
    pub behind: String,
    /// What they both hold.
    pub what: String,
}

impl Scheduler {
    /// A scheduler that treats ports as `sharing` says.
    pub fn new(sharing: AddressSharing) -> Scheduler {
        Scheduler {
            sharing,
            state: Mutex::new(State {
                running: BTreeMap::new(),
                addresses: BTreeMap::new(),
                history: BTreeMap::new(),
                learned: Learned::Unknown,
            }),
            freed: Condvar::new(),
        }
    }

    /// Whether listener ports count as shared now.
    fn ports_shared(&self, learned: Learned) -> bool {
        match self.sharing {
            AddressSharing::Shared => true,
            AddressSharing::PerGateway => false,
            AddressSharing::Auto => learned != Learned::PerGateway,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks until no running test holds anything `holds` holds, then
    /// marks `test` running.
    pub fn acquire(&self, test: &str, holds: Holds) -> Ticket<'_> {
        let began = Instant::now();
        let mut first: Option<(String, String)> = None;
        let mut state = self.lock();
        loop {
            let ports = self.ports_shared(state.learned);
            let blocker = state
                .running
                .iter()
                .find_map(|(name, held)| holds.overlap(held, ports).map(|s| (name.clone(), s)));
            match blocker {
                None => break,
                Some((name, shared)) => {
                    first.get_or_insert((name, shared.to_string()));
                    state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
        state.running.insert(test.to_string(), holds);
        Ticket {
            scheduler: self,
            test: test.to_string(),
            waited: first.map(|(behind, what)| Wait {
                time: began.elapsed(),
                behind,
                what,
            }),
        }
    }

    /// `test`'s Gateway `gateway` reported `address`. Returns a line to
    /// print when this changes what the run believes about addresses.
    pub fn observe(&self, test: &str, gateway: &ObjectKey, address: IpAddr) -> Option<String> {
        let mut state = self.lock();
        let id = (test.to_string(), gateway.clone());
        if state.addresses.get(&id) == Some(&address) {
            return None;
        }
        // Sharing shows only between Gateways alive at once (a pool may
        // hand a freed address out again); addresses of their own show
        // between any two, as no working pool gives two live Gateways one.
        let same = state
            .addresses
            .iter()
            .find(|(k, a)| **k != id && **a == address)
            .map(|(k, _)| k.1.clone());
        let different = state.history.iter().any(|(k, a)| *k != id && *a != address);
        state.history.insert(id.clone(), address);
        let before = state.learned;
        if same.is_some() {
            state.learned = Learned::Shared;
        } else if different && before == Learned::Unknown {
            state.learned = Learned::PerGateway;
        }
        state.addresses.insert(id, address);
        if state.learned == before || self.sharing != AddressSharing::Auto {
            return None;
        }
        // Waiting tests may start now.
        self.freed.notify_all();
        Some(match same {
            Some(other) => format!(
                "gwl4: Gateways share an address ({gateway} and {other} both report {address}): \
                 tests with listeners on one port run one at a time"
            ),
            None => format!(
                "gwl4: each Gateway reports an address of its own ({gateway}: {address}): \
                 tests with listeners on one port may run side by side"
            ),
        })
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut state = self.scheduler.lock();
        state.running.remove(&self.test);
        state.addresses.retain(|(test, _), _| *test != self.test);
        drop(state);
        self.scheduler.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use super::*;

    fn object(name: &str) -> Holds {
        Holds {
            objects: BTreeSet::from([ObjectKey::new("Service", "ns", name)]),
            ..Holds::default()
        }
    }

    fn port(p: u16) -> Holds {
        Holds {
            ports: BTreeSet::from([p]),
            ..Holds::default()
        }
    }

    fn gw(name: &str) -> ObjectKey {
        ObjectKey::new("Gateway", "ns", name)
    }

    /// Runs `second` on a thread after `first` was acquired and reports
    /// whether it got through while `first` was still held.
    fn starts_beside(s: &Arc<Scheduler>, first: Holds, second: Holds) -> bool {
        let held = s.acquire("first", first);
        let s2 = s.clone();
        let t = std::thread::spawn(move || {
            let ticket = s2.acquire("second", second);
            ticket.waited.is_none()
        });
        std::thread::sleep(Duration::from_millis(100));
        drop(held);
        t.join().unwrap()
    }

    #[test]
    fn tests_holding_one_object_run_one_after_the_other() {
        let s = Arc::new(Scheduler::new(AddressSharing::PerGateway));
        assert!(!starts_beside(&s, object("a"), object("a")));
        assert!(starts_beside(&s, object("a"), object("b")));
    }

    #[test]
    fn the_wait_names_the_test_and_what_they_share() {
        let s = Arc::new(Scheduler::new(AddressSharing::Shared));
        let held = s.acquire("TestA", port(9300));
        let s2 = s.clone();
        let t = std::thread::spawn(move || s2.acquire("TestB", port(9300)).waited.clone().unwrap());
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        let wait = t.join().unwrap();
        assert_eq!(wait.behind, "TestA");
        assert_eq!(wait.what, "listener port 9300 on a shared Gateway address");
        assert!(wait.time >= Duration::from_millis(40), "{wait:?}");
    }

    #[test]
    fn ports_count_only_while_gateways_may_share_an_address() {
        let shared = Arc::new(Scheduler::new(AddressSharing::Shared));
        assert!(!starts_beside(&shared, port(9300), port(9300)));
        let own = Arc::new(Scheduler::new(AddressSharing::PerGateway));
        assert!(starts_beside(&own, port(9300), port(9300)));
        let auto = Arc::new(Scheduler::new(AddressSharing::Auto));
        assert!(
            !starts_beside(&auto, port(9300), port(9300)),
            "unknown: held"
        );
    }

    #[test]
    fn auto_learns_addresses_of_their_own_and_then_sharing() {
        let s = Scheduler::new(AddressSharing::Auto);
        let ip = |x: &str| x.parse::<IpAddr>().unwrap();
        let a = s.acquire("A", port(9300));
        let b = s.acquire("B", port(5300));
        assert_eq!(s.observe("A", &gw("a"), ip("127.0.9.1")), None);
        let line = s.observe("B", &gw("b"), ip("127.0.9.2")).unwrap();
        assert!(line.contains("an address of its own"), "{line}");
        assert!(!s.ports_shared(s.lock().learned));
        // A third Gateway on an address already in use: shared from now on.
        let line = s.observe("B", &gw("b2"), ip("127.0.9.1")).unwrap();
        assert!(line.contains("share an address"), "{line}");
        assert!(s.ports_shared(s.lock().learned));
        assert_eq!(
            s.observe("B", &gw("b3"), ip("127.0.9.3")),
            None,
            "sharing is sticky"
        );
        drop((a, b));
        assert!(
            s.lock().addresses.is_empty(),
            "a finished test's Gateways are forgotten"
        );
    }

    #[test]
    fn gateways_one_after_the_other_on_different_addresses_teach_their_own() {
        let s = Scheduler::new(AddressSharing::Auto);
        let a = s.acquire("A", port(9300));
        assert_eq!(s.observe("A", &gw("a"), "127.0.9.1".parse().unwrap()), None);
        drop(a);
        let b = s.acquire("B", port(9300));
        assert!(
            s.observe("B", &gw("b"), "127.0.9.2".parse().unwrap())
                .is_some()
        );
        assert_eq!(s.lock().learned, Learned::PerGateway);
        drop(b);
    }

    #[test]
    fn one_gateway_alone_teaches_nothing() {
        let s = Scheduler::new(AddressSharing::Auto);
        let a = s.acquire("A", port(9300));
        let ip: IpAddr = "127.0.9.1".parse().unwrap();
        assert_eq!(s.observe("A", &gw("a"), ip), None);
        drop(a);
        let b = s.acquire("B", port(9300));
        assert_eq!(s.observe("B", &gw("a"), ip), None, "not alive at once");
        drop(b);
        assert_eq!(s.lock().learned, Learned::Unknown);
    }

    #[test]
    fn a_test_that_runs_alone_waits_for_everyone_and_everyone_for_it() {
        let s = Arc::new(Scheduler::new(AddressSharing::PerGateway));
        let alone = Holds {
            alone: Some("it changes GatewayClass x".into()),
            ..Holds::default()
        };
        assert!(!starts_beside(&s, object("a"), alone.clone()));
        assert!(!starts_beside(&s, alone, object("b")));
    }
}
