//! Where listeners bind and which address Gateways report.
//!
//! - [`AddressSource::Node`]: the gateway runs with `hostNetwork: true`
//!   (the kind case): listeners bind on the node's own address and that is
//!   the Gateway's address. The address is `--bind-address` if given, else
//!   the Pod's `status.hostIP` from the downward API (`HOST_IP`, or
//!   `NODE_IP` as the install manifests name it).
//! - [`AddressSource::Service`]: the gateway sits behind a `LoadBalancer`
//!   Service: listeners bind on `--bind-address` (default `0.0.0.0`, the
//!   Pod's addresses) and Gateways report the Service's
//!   `status.loadBalancer.ingress` addresses (none until the load balancer
//!   assigns one; the Service is watched, so its arrival updates status).
//! - [`AddressSource::Literal`]: bind on and report a fixed address (out of
//!   cluster development, tests).
//! - [`AddressSource::Pool`] (`pool:CIDR`): each Gateway gets an address of
//!   its own from the CIDR, binds there and reports it (see [`super::pool`]).
//!   The others give every Gateway the same address, so two Gateways with a
//!   listener on the same port collide and tests that each make one cannot
//!   run at once; with a pool (out of cluster, a loopback block such as
//!   `127.1.9.0/24`) they never do.
//!
//! A Gateway with `spec.addresses` binds and reports those, whatever the
//! source.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use k8s_openapi::api::core::v1::Service;

use super::pool::Cidr;
use crate::status::{GatewayAddress, Kind, Status, StatusDocument};

/// Environment variables read, in order, for the node's address.
pub const NODE_ADDRESS_ENV: [&str; 2] = ["HOST_IP", "NODE_IP"];

/// Where the Gateway address comes from (`--address-source`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressSource {
    /// `node`: hostNetwork; the node's address.
    Node,
    /// `service`: a LoadBalancer Service's ingress addresses.
    Service,
    /// An IP address: bind on it and report it.
    Literal(IpAddr),
    /// `pool:CIDR`: each Gateway its own address from the network.
    Pool(Cidr),
}

impl FromStr for AddressSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "node" => Ok(AddressSource::Node),
            "service" => Ok(AddressSource::Service),
            other => match other.strip_prefix("pool:") {
                Some(cidr) => cidr
                    .parse()
                    .map(AddressSource::Pool)
                    .map_err(|e| format!("{other:?} is not pool:CIDR: {e}")),
                None => other.parse().map(AddressSource::Literal).map_err(|_| {
                    format!("{other:?} is not `node`, `service`, `pool:CIDR` or an IP address")
                }),
            },
        }
    }
}

/// The resolved addressing of a running provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressing {
    /// Where listeners of Gateways without `spec.addresses` bind.
    pub bind_address: IpAddr,
    /// `Some((namespace, name))`: report this LoadBalancer Service's
    /// ingress addresses instead of the bind address.
    pub service: Option<(String, String)>,
    /// `Some(cidr)`: Gateways without `spec.addresses` bind on and report
    /// an address of their own from this network instead of the bind
    /// address (which then serves no Gateway of ours).
    pub pool: Option<Cidr>,
}

impl Addressing {
    /// Resolves `source`. `bind_address` is `--bind-address`; `env` reads
    /// an environment variable (a parameter so tests need not set any);
    /// `service` is `--service` (`namespace/name`).
    pub fn resolve(
        source: &AddressSource,
        bind_address: Option<IpAddr>,
        service: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        match source {
            AddressSource::Literal(address) => Ok(Addressing {
                bind_address: bind_address.unwrap_or(*address),
                service: None,
                pool: None,
            }),
            AddressSource::Pool(cidr) => match bind_address {
                Some(_) => Err(format!(
                    "--bind-address does not go with --address-source pool:{cidr}: \
                     each Gateway binds on its own address from the pool"
                )),
                None => Ok(Addressing {
                    bind_address: match cidr.network() {
                        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    },
                    service: None,
                    pool: Some(*cidr),
                }),
            },
            AddressSource::Node => {
                if let Some(address) = bind_address {
                    return Ok(Addressing {
                        bind_address: address,
                        service: None,
                        pool: None,
                    });
                }
                for name in NODE_ADDRESS_ENV {
                    if let Some(value) = env(name).filter(|v| !v.is_empty()) {
                        let address = value.parse().map_err(|_| {
                            format!("environment variable {name}={value:?} is not an IP address")
                        })?;
                        return Ok(Addressing {
                            bind_address: address,
                            service: None,
                            pool: None,
                        });
                    }
                }
                Err(format!(
                    "--address-source node needs --bind-address or the node's address in {} \
                     (downward API fieldRef status.hostIP)",
                    NODE_ADDRESS_ENV.join(" or ")
                ))
            }
            AddressSource::Service => {
                let (namespace, name) = service
                    .split_once('/')
                    .filter(|(n, s)| !n.is_empty() && !s.is_empty())
                    .ok_or_else(|| format!("--service {service:?} is not namespace/name"))?;
                Ok(Addressing {
                    bind_address: bind_address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    service: Some((namespace.to_string(), name.to_string())),
                    pool: None,
                })
            }
        }
    }

    /// With a Service source, replaces the bind address in Gateway
    /// `status.addresses` by the Service's load-balancer addresses (IP
    /// entries; hostnames become `Hostname` addresses). Gateways with
    /// `spec.addresses` report those and are left alone.
    pub fn rewrite(&self, statuses: &mut [StatusDocument], services: &[Service]) {
        let Some((namespace, name)) = &self.service else {
            return;
        };
        let external = load_balancer_addresses(services, namespace, name);
        let bound = self.bind_address.to_string();
        for doc in statuses.iter_mut().filter(|d| d.kind == Kind::Gateway) {
            let Status::Gateway(status) = &mut doc.status else {
                continue;
            };
            if status.addresses.len() == 1 && status.addresses[0].value == bound {
                status.addresses = external.clone();
            }
        }
    }
}

/// `status.loadBalancer.ingress` of the Service `namespace/name`.
fn load_balancer_addresses(
    services: &[Service],
    namespace: &str,
    name: &str,
) -> Vec<GatewayAddress> {
    let Some(service) = services.iter().find(|s| {
        s.metadata.namespace.as_deref() == Some(namespace)
            && s.metadata.name.as_deref() == Some(name)
    }) else {
        return Vec::new();
    };
    let ingress = service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref());
    let mut addresses = Vec::new();
    for entry in ingress.into_iter().flatten() {
        if let Some(ip) = &entry.ip {
            addresses.push(GatewayAddress {
                type_: "IPAddress".into(),
                value: ip.clone(),
            });
        } else if let Some(hostname) = &entry.hostname {
            addresses.push(GatewayAddress {
                type_: "Hostname".into(),
                value: hostname.clone(),
            });
        }
    }
    addresses
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn node_source_reads_the_downward_api_address() {
        let env = |name: &str| (name == "NODE_IP").then(|| "10.0.0.7".to_string());
        let a = Addressing::resolve(&AddressSource::Node, None, "a/b", env).unwrap();
        assert_eq!(a.bind_address, "10.0.0.7".parse::<IpAddr>().unwrap());
        assert_eq!(a.service, None);
        let explicit = "10.0.0.9".parse().unwrap();
        let a = Addressing::resolve(&AddressSource::Node, Some(explicit), "a/b", env).unwrap();
        assert_eq!(a.bind_address, explicit);
        let error = Addressing::resolve(&AddressSource::Node, None, "a/b", no_env).unwrap_err();
        assert!(error.contains("HOST_IP"), "{error}");
        let bad = |_: &str| Some("node-1".to_string());
        assert!(Addressing::resolve(&AddressSource::Node, None, "a/b", bad).is_err());
    }

    #[test]
    fn sources_parse() {
        assert_eq!("node".parse(), Ok(AddressSource::Node));
        assert_eq!("service".parse(), Ok(AddressSource::Service));
        assert_eq!(
            "127.0.1.5".parse(),
            Ok(AddressSource::Literal("127.0.1.5".parse().unwrap()))
        );
        assert!("nodes".parse::<AddressSource>().is_err());
    }

    #[test]
    fn pool_source_parses_a_cidr() {
        assert_eq!(
            "pool:127.0.9.0/24".parse(),
            Ok(AddressSource::Pool("127.0.9.0/24".parse().unwrap()))
        );
        assert_eq!(
            "pool:fd00::/120".parse(),
            Ok(AddressSource::Pool("fd00::/120".parse().unwrap()))
        );
    }

    #[test]
    fn bad_pool_source_names_the_problem() {
        assert_eq!(
            "pool:10.0.0.0/33".parse::<AddressSource>(),
            Err("\"pool:10.0.0.0/33\" is not pool:CIDR: prefix length 33 is more than 32".into())
        );
        assert_eq!(
            "pool:10.0.0/8".parse::<AddressSource>(),
            Err("\"pool:10.0.0/8\" is not pool:CIDR: \"10.0.0\" is not an IP address".into())
        );
    }

    #[test]
    fn unknown_source_lists_the_choices() {
        assert_eq!(
            "nodes".parse::<AddressSource>(),
            Err("\"nodes\" is not `node`, `service`, `pool:CIDR` or an IP address".into())
        );
    }

    #[test]
    fn pool_source_resolves_to_the_pool_and_refuses_a_bind_address() {
        let cidr: Cidr = "127.0.9.0/24".parse().unwrap();
        let a = Addressing::resolve(&AddressSource::Pool(cidr), None, "a/b", no_env).unwrap();
        assert_eq!(a.pool, Some(cidr));
        assert_eq!(a.service, None);
        let error = Addressing::resolve(
            &AddressSource::Pool(cidr),
            Some("127.0.0.1".parse().unwrap()),
            "a/b",
            no_env,
        )
        .unwrap_err();
        assert!(error.contains("--bind-address"), "{error}");
    }

    #[test]
    fn service_source_reports_the_load_balancer_address() {
        let a =
            Addressing::resolve(&AddressSource::Service, None, "gwl4-system/gw", no_env).unwrap();
        assert_eq!(a.bind_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let service: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "gw", "namespace": "gwl4-system"},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.4"}, {"hostname": "lb.example"}]}}
        }))
        .unwrap();
        let mut docs: Vec<StatusDocument> = vec![
            serde_yaml::from_str(
                "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
                 metadata: {name: g, namespace: n}\n\
                 status: {addresses: [{type: IPAddress, value: 0.0.0.0}], conditions: [], listeners: []}\n",
            )
            .unwrap(),
            serde_yaml::from_str(
                "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
                 metadata: {name: own, namespace: n}\n\
                 status: {addresses: [{type: IPAddress, value: 10.1.1.1}], conditions: [], listeners: []}\n",
            )
            .unwrap(),
        ];
        a.rewrite(&mut docs, &[service]);
        let Status::Gateway(g) = &docs[0].status else {
            panic!()
        };
        let values: Vec<_> = g
            .addresses
            .iter()
            .map(|a| (a.type_.as_str(), a.value.as_str()))
            .collect();
        assert_eq!(
            values,
            [("IPAddress", "203.0.113.4"), ("Hostname", "lb.example")]
        );
        let Status::Gateway(own) = &docs[1].status else {
            panic!()
        };
        assert_eq!(
            own.addresses[0].value, "10.1.1.1",
            "spec.addresses are kept"
        );
        assert!(Addressing::resolve(&AddressSource::Service, None, "gw", no_env).is_err());
    }
}
