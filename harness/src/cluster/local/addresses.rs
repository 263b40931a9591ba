//! Loopback addresses handed to gateways and backends. Linux routes all of
//! 127.0.0.0/8 to lo, so each gateway and each replica gets its own address
//! and every port is free on it: tests run in parallel without port clashes,
//! and backends are told apart by address.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Mutex;

/// A pool of addresses `base.x.y` handed out round-robin (so a just-freed
/// address is not reused at once, which could meet its old TIME_WAIT sockets).
#[derive(Debug)]
pub struct AddressPool {
    first: u32,
    last: u32,
    state: Mutex<(u32, BTreeSet<u32>)>,
}

impl AddressPool {
    /// Addresses from `first` to `last` inclusive, skipping `.0` and `.255`.
    pub fn new(first: Ipv4Addr, last: Ipv4Addr) -> AddressPool {
        let (first, last) = (u32::from(first), u32::from(last));
        AddressPool {
            first,
            last,
            state: Mutex::new((first, BTreeSet::new())),
        }
    }

    /// Gateways: 127.0.1.1 – 127.0.1.254.
    pub fn gateways() -> AddressPool {
        AddressPool::new(Ipv4Addr::new(127, 0, 1, 1), Ipv4Addr::new(127, 0, 1, 254))
    }

    /// Backends: 127.0.2.1 – 127.0.9.254.
    pub fn backends() -> AddressPool {
        AddressPool::new(Ipv4Addr::new(127, 0, 2, 1), Ipv4Addr::new(127, 0, 9, 254))
    }

    /// The next free address, if any.
    pub fn allocate(&self) -> Option<Ipv4Addr> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (next, used) = &mut *guard;
        let span = self.last - self.first + 1;
        for _ in 0..span {
            let candidate = *next;
            *next = if *next >= self.last {
                self.first
            } else {
                *next + 1
            };
            let octet = candidate & 0xff;
            if octet == 0 || octet == 255 || used.contains(&candidate) {
                continue;
            }
            used.insert(candidate);
            return Some(Ipv4Addr::from(candidate));
        }
        None
    }

    /// Returns an address to the pool.
    pub fn release(&self, addr: Ipv4Addr) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .remove(&u32::from(addr));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_skips_broadcast_and_used() {
        let pool = AddressPool::new(Ipv4Addr::new(127, 0, 1, 254), Ipv4Addr::new(127, 0, 2, 1));
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(127, 0, 1, 254)));
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(127, 0, 2, 1)));
        assert_eq!(pool.allocate(), None);
        pool.release(Ipv4Addr::new(127, 0, 1, 254));
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(127, 0, 1, 254)));
    }
}
