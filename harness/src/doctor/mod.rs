//! `gwl4 doctor`: preflight for a cluster. With a run's cluster flags it
//! checks, in order, what a run needs, one line per check with the fix
//! under a failure: the API server answers; the Gateway API CRDs and the
//! versions they serve; the GatewayClass; every permission gwl4 needs
//! (SelfSubjectAccessReview); then a round trip in a throwaway namespace
//! (the echo backend runs, a Gateway gets an address, TCP and UDP reach
//! the echo through it) and its cleanup. Exit 0 when nothing failed, 2
//! otherwise.
//!
//! Layout: [`report`] (check lines), [`cluster`] (the read-only checks),
//! [`roundtrip`] (the objects and the traffic, `doctor.yaml`).

pub mod cluster;
pub mod report;
pub mod roundtrip;

use std::path::PathBuf;

use clap::Args;

use self::report::{Check, Report};
use crate::cli::WorkloadsKind;
use crate::cluster::kube::{self, KubeSettings, LocalWorkloads};
use crate::exit;
use crate::settings::timeout::TimeoutConfig;

/// `gwl4 doctor`: the cluster flags of a run.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The GatewayClass a run would test.
    #[arg(long)]
    pub gateway_class: String,
    /// The kubeconfig (default: KUBECONFIG, ~/.kube/config, then in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Echo backend image.
    #[arg(long, default_value = crate::app::DEFAULT_ECHO_IMAGE)]
    pub echo_image: String,
    /// Who runs the echo backends, as for a run: `cluster` (default) or `local`.
    #[arg(long, value_enum)]
    pub workloads: Option<WorkloadsKind>,
    /// Labels for the namespace the doctor creates (comma-separated key=value).
    #[arg(long, value_delimiter = ',')]
    pub namespace_labels: Option<Vec<String>>,
    /// Annotations for the namespace the doctor creates (comma-separated key=value).
    #[arg(long, value_delimiter = ',')]
    pub namespace_annotations: Option<Vec<String>>,
    /// Timeout overrides, upstream format: `Name:seconds;Name:seconds`.
    #[arg(long)]
    pub timeout_config_overrides: Option<String>,
    /// Only the read-only checks: create nothing, send no traffic.
    #[arg(long)]
    pub read_only: bool,
}

/// Runs the doctor; returns the exit code.
pub fn run(args: &DoctorArgs) -> u8 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gwl4 doctor: tokio runtime: {e}");
            return exit::SETUP_ERROR;
        }
    };
    let id = format!("{}-{:04x}", std::process::id(), rand::random::<u16>());
    // Removed on every return (echo logs of `--workloads local`); the
    // signal handler and the panic hook remove it too.
    let run_dir_guard = exit::RunDir::new(
        std::env::temp_dir().join(format!("gwl4-doctor-{id}")),
        false,
    );
    let run_dir = run_dir_guard.path().to_path_buf();
    crate::app::install_interrupt_handler(&rt);
    let mut report = Report::default();
    let settings = match settings(args, &id, &run_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gwl4 doctor: {e}");
            return exit::SETUP_ERROR;
        }
    };
    rt.block_on(diagnose(
        args,
        settings,
        &format!("gwl4-doctor-{id}"),
        &mut report,
    ));
    println!("{}", report.summary());
    if report.failed() {
        exit::SETUP_ERROR
    } else {
        exit::SUCCESS
    }
}

/// The settings a run with these flags would use.
fn settings(
    args: &DoctorArgs,
    id: &str,
    run_dir: &std::path::Path,
) -> Result<KubeSettings, String> {
    let mut timeouts = TimeoutConfig::default();
    if let Some(o) = &args.timeout_config_overrides {
        timeouts.apply_overrides(o)?;
    }
    let pairs = |flag: &str, items: &Option<Vec<String>>| {
        kube::parse_pairs(flag, items.as_deref().unwrap_or_default())
    };
    let local_workloads = match args.workloads {
        Some(WorkloadsKind::Local) => Some(LocalWorkloads {
            gwl4: std::env::current_exe()
                .map_err(|e| format!("cannot find the gwl4 binary: {e}"))?,
            echo_image: args.echo_image.clone(),
            log_dir: run_dir.join("echo"),
        }),
        _ => None,
    };
    Ok(KubeSettings {
        kubeconfig: args.kubeconfig.clone(),
        gateway_class: args.gateway_class.clone(),
        run_id: format!("doctor-{id}"),
        namespace_labels: pairs("--namespace-labels", &args.namespace_labels)?,
        namespace_annotations: pairs("--namespace-annotations", &args.namespace_annotations)?,
        cleanup: true,
        timeouts,
        local_workloads,
    })
}

/// The checks before the round trip, in order.
const CLUSTER_CHECKS: [&str; 4] = [
    "API server",
    "Gateway API CRDs",
    "GatewayClass",
    "permissions",
];

/// Every check, in order, into `report`.
pub async fn diagnose(
    args: &DoctorArgs,
    settings: KubeSettings,
    namespace: &str,
    report: &mut Report,
) {
    let skip_after = |report: &mut Report, failed: &str| {
        let after = CLUSTER_CHECKS
            .iter()
            .position(|n| *n == failed)
            .map_or(0, |i| i + 1);
        for name in &CLUSTER_CHECKS[after..] {
            report.add(Check::skip(name, &format!("the {failed}")));
        }
        if !args.read_only {
            report.add_skipped_round_trip(&format!("the {failed}"));
        }
    };
    let connection = match kube::connect_client(args.kubeconfig.as_deref()).await {
        Ok(c) => c,
        Err(e) => {
            report.add(Check::fail(
                CLUSTER_CHECKS[0],
                e.to_string(),
                "pass --kubeconfig, set KUBECONFIG, or select a context (`kubectl config use-context`); `kubectl version` must answer",
            ));
            skip_after(report, CLUSTER_CHECKS[0]);
            return;
        }
    };
    report.add(Check::ok(
        CLUSTER_CHECKS[0],
        format!(
            "{} answers (Kubernetes {}; context {}, kubeconfig {})",
            connection.server, connection.version, connection.context, connection.source
        ),
    ));
    let client = connection.client;
    let local = settings.local_workloads.is_some();
    let Some(served) = cluster::crds(&client, report).await else {
        skip_after(report, CLUSTER_CHECKS[1]);
        return;
    };
    let class = cluster::gateway_class(&client, &served, &args.gateway_class, report).await;
    let permitted = cluster::permissions(&client, local, report).await;
    if args.read_only {
        return;
    }
    match (class, permitted) {
        (Some(_), true) => {
            roundtrip::round_trip(&client, settings, &args.echo_image, namespace, report).await;
        }
        (None, _) => report.add_skipped_round_trip("the GatewayClass"),
        (_, false) => report.add_skipped_round_trip("the permissions"),
    }
}

impl Report {
    /// The round trip's checks, not made for want of `needs`.
    fn add_skipped_round_trip(&mut self, needs: &str) {
        for name in roundtrip::CHECKS {
            self.add(Check::skip(name, needs));
        }
    }
}
