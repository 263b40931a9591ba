//! `reference-gateway kube`: the Kubernetes controller mode.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::info;

use super::{CommonArgs, Error, duration};
use crate::admin::Admin;
use crate::dataplane::DataPlane;
use crate::provider::ReloadMetrics;
use crate::provider::kube::address::{AddressSource, Addressing};
use crate::provider::kube::resources::ServedVersions;
use crate::provider::kube::{self, KubeOptions, KubeProvider};

/// `kube` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct KubeArgs {
    /// A kubeconfig file (out of cluster, for development); without it the
    /// in-cluster service account (or `$KUBECONFIG`) is used.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Where Gateway addresses come from: `node` (hostNetwork: the node's
    /// address, from `--bind-address` or the downward API's HOST_IP or
    /// NODE_IP), `service` (a LoadBalancer Service's ingress addresses, see
    /// `--service`), `pool:CIDR` (each Gateway its own address from the
    /// network, kept while the Gateway exists, so Gateways with listeners
    /// on the same port never collide; e.g. `pool:127.1.9.0/24` out of
    /// cluster), or an IP address to bind on and report.
    #[arg(long, default_value = "node")]
    pub address_source: AddressSource,
    /// Address listeners bind to when their Gateway names none (default:
    /// the node's address for `node`, 0.0.0.0 for `service`, the address
    /// itself for a literal source; not with `pool:CIDR`).
    #[arg(long)]
    pub bind_address: Option<IpAddr>,
    /// The LoadBalancer Service (`namespace/name`) whose addresses Gateways
    /// report with `--address-source service`.
    #[arg(long, default_value = "gwl4-system/reference-gateway")]
    pub service: String,
    /// Quiet time after a watched change before rebuilding the snapshot.
    #[arg(long, default_value = "100ms", value_parser = duration::parse)]
    pub reload_debounce: Duration,
    /// Flags shared with the other modes.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Connects, discovers the served Gateway API versions and runs the
/// provider until `shutdown`.
pub(super) async fn run(
    args: KubeArgs,
    data_plane: Arc<DataPlane>,
    admin: Arc<Admin>,
    metrics: ReloadMetrics,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let addressing = Addressing::resolve(
        &args.address_source,
        args.bind_address,
        &args.service,
        |name| std::env::var(name).ok(),
    )
    .map_err(Error::Address)?;
    info!(
        bind_address = %addressing.bind_address,
        service = ?addressing.service,
        pool = ?addressing.pool.map(|p| p.to_string()),
        "addressing"
    );
    let client = kube::client(args.kubeconfig.as_deref()).await?;
    let versions = ServedVersions::discover(&client).await?;
    let options = KubeOptions {
        addressing,
        debounce: args.reload_debounce,
    };
    let provider = KubeProvider::new(client, versions, options, data_plane, admin, metrics);
    Ok(provider.run(shutdown).await?)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Args, Command};
    use super::*;

    #[test]
    fn parses_the_manifest_args() {
        let args = Args::parse_from([
            "reference-gateway",
            "kube",
            "--admin-address",
            "127.0.0.1:9901",
            "--health-address",
            "0.0.0.0:9902",
        ]);
        let Command::Kube(a) = args.command else {
            panic!("not kube");
        };
        assert_eq!(a.address_source, AddressSource::Node);
        assert_eq!(a.kubeconfig, None);
        assert_eq!(a.common.admin_address, "127.0.0.1:9901".parse().unwrap());
        assert_eq!(
            a.common.health_address,
            Some("0.0.0.0:9902".parse().unwrap())
        );
        assert!(!a.common.metrics_on_health_address);
        assert_eq!(a.service, "gwl4-system/reference-gateway");
    }

    #[test]
    fn parses_out_of_cluster_args() {
        let args = Args::parse_from([
            "reference-gateway",
            "kube",
            "--kubeconfig",
            "/tmp/k/kubeconfig",
            "--address-source",
            "127.0.1.9",
            "--reload-debounce",
            "50ms",
        ]);
        let Command::Kube(a) = args.command else {
            panic!("not kube");
        };
        assert_eq!(a.kubeconfig, Some(PathBuf::from("/tmp/k/kubeconfig")));
        assert_eq!(
            a.address_source,
            AddressSource::Literal("127.0.1.9".parse().unwrap())
        );
        assert_eq!(a.reload_debounce, Duration::from_millis(50));
        assert!(
            Args::try_parse_from(["reference-gateway", "kube", "--address-source", "pod"]).is_err()
        );
    }

    #[test]
    fn parses_a_pool_address_source() {
        let args = Args::parse_from([
            "reference-gateway",
            "kube",
            "--address-source",
            "pool:127.1.9.0/24",
        ]);
        let Command::Kube(a) = args.command else {
            panic!("not kube");
        };
        assert_eq!(
            a.address_source,
            AddressSource::Pool("127.1.9.0/24".parse().unwrap())
        );
        let error = Args::try_parse_from([
            "reference-gateway",
            "kube",
            "--address-source",
            "pool:10.0.0.0/33",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            error.contains(
                "\"pool:10.0.0.0/33\" is not pool:CIDR: prefix length 33 is more than 32"
            ),
            "{error}"
        );
    }
}
