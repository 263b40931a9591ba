//! Loopback addresses handed to gateways and backends. Linux routes all of
//! 127.0.0.0/8 to lo, so each gateway and each replica gets its own address
//! and every port is free on it: tests run in parallel without port clashes,
//! and backends are told apart by address.
//!
//! Each gwl4 process claims a block `n` (an exclusive `flock` on
//! `/tmp/gwl4-loopback-<n>.lock`, released when the process exits, even by
//! SIGKILL), so two runs at once never share addresses: gateways get
//! 127.1.n.1–254, backends 127.(16+n).0.1 – 127.(16+n).3.254.

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

    /// Gateways of block `n`: 127.1.n.1 – 127.1.n.254.
    pub fn gateways(n: u8) -> AddressPool {
        AddressPool::new(Ipv4Addr::new(127, 1, n, 1), Ipv4Addr::new(127, 1, n, 254))
    }

    /// Backends of block `n`: 127.(16+n).0.1 – 127.(16+n).3.254.
    pub fn backends(n: u8) -> AddressPool {
        AddressPool::new(
            Ipv4Addr::new(127, 16 + n, 0, 1),
            Ipv4Addr::new(127, 16 + n, 3, 254),
        )
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

/// Number of address blocks.
pub const BLOCKS: u8 = 200;

/// An address block held by this process until it is dropped.
#[derive(Debug)]
pub struct Block {
    /// The block number.
    pub n: u8,
    _lock: Option<nix::fcntl::Flock<std::fs::File>>,
}

/// Claims a free block, starting from one derived from our pid. Lock files
/// live in /tmp whatever TMPDIR says, so every gwl4 on the machine sees them.
pub fn claim_block() -> Block {
    let start = (std::process::id() % u32::from(BLOCKS)) as u8;
    for i in 0..BLOCKS {
        let n = (start + i) % BLOCKS;
        let path = format!("/tmp/gwl4-loopback-{n}.lock");
        let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        else {
            continue;
        };
        if let Ok(lock) = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        {
            return Block {
                n,
                _lock: Some(lock),
            };
        }
    }
    // Every block taken (or /tmp unwritable): share one rather than fail.
    Block {
        n: start,
        _lock: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_skips_broadcast_and_used() {
        let pool = AddressPool::new(Ipv4Addr::new(127, 0, 1, 254), Ipv4Addr::new(127, 0, 2, 1));
        assert!(AddressPool::gateways(BLOCKS - 1).allocate().is_some());
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(127, 0, 1, 254)));
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(127, 0, 2, 1)));
        assert_eq!(pool.allocate(), None);
        pool.release(Ipv4Addr::new(127, 0, 1, 254));
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(127, 0, 1, 254)));
    }

    #[test]
    fn two_claims_get_different_blocks() {
        let a = claim_block();
        let b = claim_block();
        assert_ne!(a.n, b.n);
    }
}
