//! A pod network for echo replicas run beside a real API server
//! (`--workloads local`): each replica gets its own network namespace with
//! an ordinary private address on a bridge the run creates, because the
//! API server rejects loopback addresses in EndpointSlices.
//!
//! Run block `n` (see [`super::addresses`]) owns bridge `gwl4br<n>` with
//! `10.248.n.1/24` on the host side; a replica at `10.248.n.k` lives in
//! namespace `gwl4-<n>-<k>`, joined to the bridge by veth `gv<n>x<k>`
//! (its `eth0` inside). The host (gateway, harness) reaches replicas
//! through the bridge. Needs root and iproute2's `ip`.
//!
//! Everything is removed when a replica stops ([`PodNetwork::remove`]) or
//! the run ends ([`PodNetwork::destroy`]); the Ctrl-C path calls
//! [`remove_all_live`]. Leftovers of a run that was killed are removed
//! when the next run claims the same block.

use std::net::Ipv4Addr;
use std::sync::Mutex;

use tokio::process::Command;

use super::addresses::AddressPool;
use crate::cluster::ClusterError;

/// Bridges and namespaces alive now, for the Ctrl-C path.
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A replica's place: its address and the namespace to run it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// Its address on the bridge.
    pub address: Ipv4Addr,
    /// The network namespace (`ip netns exec <netns> …`).
    pub netns: String,
}

/// One run's bridge and the namespaces on it.
#[derive(Debug)]
pub struct PodNetwork {
    block: u8,
    bridge: String,
    pool: AddressPool,
}

/// Runs `ip args…`; the error quotes the command and what it printed.
async fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().await.map_err(|e| {
        format!(
            "`ip {}`: {e} (--workloads local needs iproute2)",
            args.join(" ")
        )
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Names of the existing network namespaces.
async fn namespaces() -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().await;
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn setup_error(message: String) -> ClusterError {
    ClusterError::Setup(format!("--workloads local: {message}"))
}

/// The host end of a pod namespace's veth (`gwl4-B-O` → `gvBxO`).
/// Deleting it first removes both ends at once; a namespace deleted with
/// its veth inside is torn down by the kernel asynchronously, and its host
/// end can outlive `ip netns del` (and gwl4) for a moment.
fn host_veth(netns: &str) -> Option<String> {
    let rest = netns.strip_prefix("gwl4-")?;
    let (block, octet) = rest.split_once('-')?;
    Some(format!("gv{block}x{octet}"))
}

fn track(name: &str) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(name.to_string());
}

fn untrack(name: &str) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|n| n != name);
}

impl PodNetwork {
    /// The first octets of every pod subnet: `10.248.<block>.0/24`.
    pub const SUBNET: [u8; 2] = [10, 248];

    /// Creates the bridge of `block` (removing a killed run's leftovers).
    pub async fn create(block: u8) -> Result<PodNetwork, ClusterError> {
        if !nix::unistd::Uid::effective().is_root() {
            return Err(setup_error(
                "network namespaces for the echo replicas need root (run gwl4 as root, or use a cluster that runs Pods)".into(),
            ));
        }
        let [a, b] = Self::SUBNET;
        let network = PodNetwork {
            block,
            bridge: format!("gwl4br{block}"),
            pool: AddressPool::new(
                Ipv4Addr::new(a, b, block, 2),
                Ipv4Addr::new(a, b, block, 254),
            ),
        };
        network.remove_leftovers().await;
        let host = format!("{}/24", network.host_address());
        let bridge = network.bridge.as_str();
        ip(&["link", "add", bridge, "type", "bridge"])
            .await
            .map_err(setup_error)?;
        track(bridge);
        let configured = async {
            ip(&["addr", "add", &host, "dev", bridge]).await?;
            ip(&["link", "set", bridge, "up"]).await
        };
        if let Err(e) = configured.await {
            network.destroy().await;
            return Err(setup_error(e));
        }
        Ok(network)
    }

    /// The host's address on the bridge (`10.248.n.1`).
    pub fn host_address(&self) -> Ipv4Addr {
        let [a, b] = Self::SUBNET;
        Ipv4Addr::new(a, b, self.block, 1)
    }

    fn netns_name(&self, address: Ipv4Addr) -> String {
        format!("gwl4-{}-{}", self.block, address.octets()[3])
    }

    /// A new namespace with a free address, up and routed via the host.
    pub async fn add(&self) -> Result<Pod, ClusterError> {
        let address = self
            .pool
            .allocate()
            .ok_or_else(|| setup_error(format!("no free address on {}", self.bridge)))?;
        let pod = Pod {
            address,
            netns: self.netns_name(address),
        };
        let veth = host_veth(&pod.netns).unwrap_or_default();
        let cidr = format!("{address}/24");
        let host = self.host_address().to_string();
        let ns = pod.netns.as_str();
        track(ns);
        let made = async {
            ip(&["netns", "add", ns]).await?;
            ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ])
            .await?;
            ip(&["link", "set", &veth, "master", &self.bridge, "up"]).await?;
            ip(&["-n", ns, "addr", "add", &cidr, "dev", "eth0"]).await?;
            ip(&["-n", ns, "link", "set", "eth0", "up"]).await?;
            ip(&["-n", ns, "link", "set", "lo", "up"]).await?;
            ip(&["-n", ns, "route", "add", "default", "via", &host]).await
        };
        match made.await {
            Ok(()) => Ok(pod),
            Err(e) => {
                self.remove(pod).await;
                Err(setup_error(e))
            }
        }
    }

    /// Deletes a pod's namespace (its veth goes with it) and frees its
    /// address.
    pub async fn remove(&self, pod: Pod) {
        if let Some(veth) = host_veth(&pod.netns) {
            let _ = ip(&["link", "del", &veth]).await;
        }
        let _ = ip(&["netns", "del", &pod.netns]).await;
        untrack(&pod.netns);
        self.pool.release(pod.address);
    }

    /// Deletes the bridge and any namespace of this block still there.
    pub async fn destroy(&self) {
        self.remove_leftovers().await;
    }

    async fn remove_leftovers(&self) {
        let prefix = format!("gwl4-{}-", self.block);
        for ns in namespaces().await {
            if ns.starts_with(&prefix) {
                if let Some(veth) = host_veth(&ns) {
                    let _ = ip(&["link", "del", &veth]).await;
                }
                let _ = ip(&["netns", "del", &ns]).await;
                untrack(&ns);
            }
        }
        let _ = ip(&["link", "del", &self.bridge]).await;
        untrack(&self.bridge);
    }
}

/// Deletes every bridge and namespace still alive (the Ctrl-C path, after
/// the processes in them were killed). Blocking: the process exits next.
pub fn remove_all_live() {
    let names = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
    for name in names {
        let args: &[&str] = if name.starts_with("gwl4br") {
            &["link", "del", &name]
        } else {
            if let Some(veth) = host_veth(&name) {
                let _ = std::process::Command::new("ip")
                    .args(["link", "del", &veth])
                    .output();
            }
            &["netns", "del", &name]
        };
        let _ = std::process::Command::new("ip").args(args).output();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_namespaces_host_veth_is_named_from_it() {
        assert_eq!(host_veth("gwl4-163-3").as_deref(), Some("gv163x3"));
        assert_eq!(host_veth("gwl4br163"), None);
        assert_eq!(host_veth("other-1-2"), None);
    }
}
