//! The `reference-gateway` command line, shared by the crate's binary and
//! gwl4's hidden `gwl4 reference-gateway …` subcommand: both parse [`Args`]
//! and call [`run_blocking`].

mod duration;
mod kube_mode;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::admin::{self, Admin, Report};
use crate::config::Config;
use crate::dataplane::metrics::Metrics;
use crate::dataplane::{DataPlane, Options};
use crate::fault::{Fault, Faults};
use crate::provider::ReloadMetrics;
use crate::provider::file::{self, FileOptions, FileProvider};
use crate::variant::{Variant, Variants};

pub use kube_mode::KubeArgs;

/// gwl4's reference Gateway API L4 gateway.
#[derive(Debug, clap::Parser)]
#[command(name = "reference-gateway", version)]
pub struct Args {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The modes.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Serve the Gateway API objects in a directory of YAML files and
    /// write their status to another (the standalone gateway contract).
    Standalone(StandaloneArgs),
    /// Run as a Kubernetes controller: watch the Gateway API objects of
    /// the cluster and write their status (in cluster, or out of cluster
    /// with `--kubeconfig`).
    Kube(KubeArgs),
    /// Serve a data-plane config file as is (no Gateway API): for load
    /// tests and debugging the data plane.
    #[command(hide = true)]
    ServeConfig(ServeConfigArgs),
}

/// `standalone` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct StandaloneArgs {
    /// Directory of `*.yaml` files (multi-document) to serve; reloaded on change.
    #[arg(long)]
    pub config_dir: PathBuf,
    /// Directory to write `<Kind>/<namespace>/<name>.yaml` status files to.
    #[arg(long)]
    pub status_dir: PathBuf,
    /// Address listeners bind to when their Gateway names none.
    #[arg(long)]
    pub bind_address: IpAddr,
    /// Quiet time after a change in the config directory before reloading.
    #[arg(long, default_value = "100ms", value_parser = duration::parse)]
    pub reload_debounce: Duration,
    /// Turn on a deliberate bug (repeatable), for gwl4's self-test: the
    /// gateway then fails the tests that catch it. Off by default.
    #[arg(long = "fault", value_enum, value_name = "NAME")]
    pub faults: Vec<Fault>,
    /// How long the `slow-convergence` fault delays each reload (longer
    /// than local mode's MaxTimeToConsistency, 10 s).
    #[arg(long, default_value = "12s", value_parser = duration::parse)]
    pub slow_convergence_delay: Duration,
    /// Turn on an allowed variation (repeatable), for gwl4's self-test: a
    /// behaviour the spec allows other than this gateway's default, which
    /// the catalog must pass. Off by default.
    #[arg(long = "variant", value_enum, value_name = "NAME")]
    pub variants: Vec<Variant>,
    /// The `udp-loss` variant: the share of UDP datagrams dropped at
    /// random, each way.
    #[arg(long, default_value_t = 0.05, value_parser = share)]
    pub udp_loss: f64,
    /// The `udp-session-cap` variant: most UDP sessions per listener, new
    /// flows beyond it dropped (it replaces --udp-max-sessions).
    #[arg(long, default_value_t = 500)]
    pub udp_session_cap: usize,
    /// Flags shared with the other modes.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `serve-config` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfigArgs {
    /// A data-plane `Config` as YAML.
    #[arg(long)]
    pub config: PathBuf,
    /// Flags shared with the other modes.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Data-plane and admin flags.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Admin API address (`/healthz`, `/readyz`, `/status`, `/metrics`);
    /// port 0 picks a free port, printed at start. Keep it on loopback:
    /// `/status` shows every route, backend and address the gateway holds.
    #[arg(long, default_value_t = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))]
    pub admin_address: SocketAddr,
    /// A second address serving only `/healthz` and `/readyz`, for probes
    /// from outside the pod (the install manifests bind it on all
    /// interfaces); printed at start (`health http://…`). Off by default.
    #[arg(long)]
    pub health_address: Option<SocketAddr>,
    /// Also serve `/metrics` on `--health-address`, for a Prometheus that
    /// scrapes from off the node (`/status` stays on the admin address).
    #[arg(long, requires = "health_address")]
    pub metrics_on_health_address: bool,
    /// After SIGTERM or Ctrl-C, how long open connections may finish.
    #[arg(long, default_value = "10s", value_parser = duration::parse)]
    pub drain_period: Duration,
    /// Deadline for connecting to one backend endpoint.
    #[arg(long, default_value = "5s", value_parser = duration::parse)]
    pub connect_timeout: Duration,
    /// A UDP session idle (no datagram either way) this long is removed.
    #[arg(long, default_value = "60s", value_parser = duration::parse)]
    pub udp_idle_timeout: Duration,
    /// Most UDP sessions per listener; beyond it the least recently used
    /// session is evicted.
    #[arg(long, default_value_t = 65_536)]
    pub udp_max_sessions: usize,
    /// Most TCP connections that may switch to `splice(2)` after their first
    /// bulk read (each holds four more descriptors). Default 0: splice off,
    /// as it measured slower than the buffered copy (BENCHMARKS.md).
    #[arg(long, default_value_t = 0)]
    pub max_spliced_connections: usize,
    /// TCP workers: single-thread event loops, each accepting on every TCP
    /// listener's socket and serving the connections it accepted. Default:
    /// one per core.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub tcp_workers: Option<u16>,
}

impl CommonArgs {
    fn options(&self) -> Options {
        Options {
            connect_timeout: self.connect_timeout,
            udp_idle_timeout: self.udp_idle_timeout,
            udp_max_sessions: self.udp_max_sessions,
            max_spliced_connections: Some(self.max_spliced_connections),
            tcp_workers: self
                .tcp_workers
                .map_or_else(|| Options::default().tcp_workers, usize::from),
            faults: Faults::default(),
            variants: Variants::default(),
            udp_loss: 0.0,
        }
    }
}

/// A share in 0..1.
fn share(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not in [0, 1)"))
    }
}

/// Why the gateway could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The runtime, a signal handler or the admin socket could not be set up.
    #[error("cannot set up the {what}: {source}")]
    Setup {
        /// What failed.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file provider failed.
    #[error(transparent)]
    Provider(#[from] file::Error),
    /// The Kubernetes provider failed.
    #[error(transparent)]
    Kube(#[from] crate::provider::kube::Error),
    /// `kube`: the address source cannot be resolved.
    #[error("{0}")]
    Address(String),
    /// `serve-config`: the config file is unreadable or invalid.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong (with the field path for a parse error).
        message: String,
    },
}

fn setup(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Setup { what, source }
}

/// Runs a mode until SIGTERM or Ctrl-C, then drains. Builds its own tokio
/// runtime and raises the open-files soft limit; tracing setup is the
/// caller's job.
pub fn run_blocking(args: Args) -> Result<(), Error> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-files limit raised"),
        Err(error) => warn!(%error, "cannot raise the open-files limit"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(setup("tokio runtime"))?;
    if matches!(args.command, Command::Kube(_)) {
        // kube's TLS needs one process-wide crypto provider (several are linked).
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<(), Error> {
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(setup("SIGTERM handler"))?;
    let (common, faults) = match &args.command {
        Command::Standalone(a) => (a.common.clone(), a.faults.iter().copied().collect()),
        Command::ServeConfig(a) => (a.common.clone(), Faults::default()),
        Command::Kube(a) => (a.common.clone(), Faults::default()),
    };
    let metrics = Metrics::default();
    let reload_metrics = ReloadMetrics::default();
    let mut registry = Registry::with_prefix("gateway");
    metrics.register(&mut registry);
    reload_metrics.register(&mut registry);
    let admin = Arc::new(Admin::new(registry));
    let mut options = Options {
        faults,
        ..common.options()
    };
    if let Command::Standalone(a) = &args.command {
        options.variants = a.variants.iter().copied().collect();
        if options.variants.contains(Variant::UdpLoss) {
            options.udp_loss = a.udp_loss;
        }
        if options.variants.contains(Variant::UdpSessionCap) {
            options.udp_max_sessions = a.udp_session_cap.max(1);
        }
    }
    let variants = options.variants;
    let data_plane = Arc::new(DataPlane::new(options, metrics).map_err(setup("TCP workers"))?);
    let shutdown = CancellationToken::new();
    // The admin API outlives the drain, so it can report it.
    let admin_stop = CancellationToken::new();

    let admin_listener = tokio::net::TcpListener::bind(common.admin_address)
        .await
        .map_err(setup(format!("admin API on {}", common.admin_address)))?;
    let admin_addr = admin_listener.local_addr().map_err(setup("admin API"))?;
    tokio::spawn(admin::serve(
        admin_listener,
        admin.clone(),
        admin_stop.clone().cancelled_owned(),
    ));
    info!(address = %admin_addr, "admin API listening");
    if !admin_addr.ip().is_loopback() {
        warn!(address = %admin_addr, "the admin API (/status, /metrics) answers beyond loopback");
    }
    // The line a parent process can wait for to learn the admin port.
    println!("admin http://{admin_addr}");
    if let Some(address) = common.health_address {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(setup(format!("health endpoint on {address}")))?;
        let bound = listener.local_addr().map_err(setup("health endpoint"))?;
        tokio::spawn(admin::serve_router(
            listener,
            admin::health_router(admin.clone(), common.metrics_on_health_address),
            admin_stop.clone().cancelled_owned(),
        ));
        info!(address = %bound, metrics = common.metrics_on_health_address, "health endpoint listening");
        println!("health http://{bound}");
    }

    let mut provider = match args.command {
        Command::Standalone(a) => {
            let options = FileOptions {
                config_dir: a.config_dir,
                status_dir: a.status_dir,
                bind_address: a.bind_address,
                debounce: a.reload_debounce,
                faults,
                policy: variants.into(),
                slow_convergence_delay: a.slow_convergence_delay,
            };
            let provider =
                FileProvider::new(options, data_plane.clone(), admin.clone(), reload_metrics)?;
            let token = shutdown.child_token();
            Some(tokio::spawn(async move {
                provider.run(token).await.map_err(Error::from)
            }))
        }
        Command::Kube(a) => Some(tokio::spawn(kube_mode::run(
            a,
            data_plane.clone(),
            admin.clone(),
            reload_metrics,
            shutdown.child_token(),
        ))),
        Command::ServeConfig(a) => {
            serve_config(&a.config, &data_plane, &admin)?;
            None
        }
    };
    let provider_done = async {
        match provider.as_mut() {
            Some(task) => task.await,
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        _ = sigterm.recv() => { info!("SIGTERM: draining"); Ok(()) }
        _ = tokio::signal::ctrl_c() => { info!("Ctrl-C: draining"); Ok(()) }
        done = provider_done => match done {
            Ok(result) => result,
            Err(join) => Err(Error::Setup { what: "provider".into(), source: std::io::Error::other(join) }),
        },
    };
    shutdown.cancel();
    admin.set_ready(false);
    data_plane.shutdown(common.drain_period).await;
    admin_stop.cancel();
    info!("stopped");
    result
}

/// `serve-config`: apply a data-plane config file once.
fn serve_config(
    path: &std::path::Path,
    data_plane: &DataPlane,
    admin: &Admin,
) -> Result<(), Error> {
    let err = |message: String| Error::Config {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let config: Config =
        serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(&text))
            .map_err(|e| err(format!("field `{}`: {}", e.path(), e.inner())))?;
    let failed = data_plane.apply(&config);
    if !failed.is_empty() {
        return Err(err(format!("cannot bind listeners: {failed:?}")));
    }
    admin.publish(Report {
        config,
        reloads: 1,
        ..Report::default()
    });
    admin.set_ready(true);
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn parses_the_standalone_contract() {
        let standalone = |extra: &[&'static str]| {
            let mut argv = vec![
                "reference-gateway",
                "standalone",
                "--config-dir",
                "/c",
                "--status-dir",
                "/s",
                "--bind-address",
                "127.0.1.7",
            ];
            argv.extend_from_slice(extra);
            match Args::parse_from(argv).command {
                Command::Standalone(a) => a,
                _ => panic!("not standalone"),
            }
        };
        let a = standalone(&["--admin-address", "127.0.0.1:9901", "--drain-period", "2s"]);
        assert_eq!(a.config_dir, PathBuf::from("/c"));
        assert_eq!(a.status_dir, PathBuf::from("/s"));
        assert_eq!(a.bind_address, "127.0.1.7".parse::<IpAddr>().unwrap());
        assert_eq!(a.common.admin_address, "127.0.0.1:9901".parse().unwrap());
        assert_eq!(a.common.drain_period, Duration::from_secs(2));
        assert_eq!(a.common.udp_idle_timeout, Duration::from_secs(60));
        assert_eq!(a.common.udp_max_sessions, 65_536);
        assert_eq!(a.common.options().max_spliced_connections, Some(0));
        let b = standalone(&["--max-spliced-connections", "16"]);
        assert_eq!(b.common.options().max_spliced_connections, Some(16));
    }

    /// gwl4 nests [`Args`] as its hidden `reference-gateway` subcommand.
    #[test]
    fn nests_as_a_subcommand() {
        #[derive(clap::Parser)]
        enum Outer {
            ReferenceGateway(Args),
        }
        let Outer::ReferenceGateway(args) = Outer::parse_from([
            "gwl4",
            "reference-gateway",
            "standalone",
            "--config-dir",
            "c",
            "--status-dir",
            "s",
            "--bind-address",
            "::1",
        ]);
        assert!(matches!(args.command, Command::Standalone(_)));
    }
}
