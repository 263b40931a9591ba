//! The real API server tier: a kube-apiserver and etcd built from Go
//! modules by `tools/kube/build.sh`, brought up by
//! `tools/kube/with-apiserver.sh`, which exports `KUBECONFIG` (user
//! `gwl4-admin`, for gwl4) and `GWL4_CONTROLLER_KUBECONFIG` (user
//! `gwl4-controller`, for the reference gateway's Kubernetes provider).
//! These tests are `#[ignore]`d: `.ci/run` runs them under that script.
//!
//! Nothing on a bare API server runs Pods, so gwl4 runs with
//! `--workloads local` (echo replicas in network namespaces, EndpointSlices
//! written by gwl4), and the reference gateway runs out of cluster on
//! addresses of its own (see [`Controller::start`]): each Gateway gets one
//! from the run's loopback block (`--address-source pool:127.1.n.0/24`),
//! so tests with listeners on one port run side by side.

#![allow(dead_code)]

pub mod accounts;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use harness::cluster::local::addresses::{Block, claim_block};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::Value;

/// Tests whose v1alpha2 routes have two rules: not expressible where only
/// v1 is served.
pub const MULTI_RULE: [&str; 2] = ["TCPRouteMultipleRules", "UDPRouteMultipleRules"];

/// The number of tests in the catalog, from `gwl4 --list`.
pub fn catalog_size() -> usize {
    let listed = crate::common::gwl4().arg("--list").output().unwrap();
    let total = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|l| l.ends_with(": test"))
        .count();
    assert!(
        total > 50,
        "catalog listing:\n{}",
        crate::common::text(&listed)
    );
    total
}

/// Checks what a whole-catalog run on a cluster serving Gateway API
/// `channel` must show in `output` and its `report.json` under `dir`: all
/// `total` tests passed, but on the standard channel the [`MULTI_RULE`]
/// tests, skipped as unexpressible in v1.
pub fn assert_catalog_passed(output: &str, dir: &Path, channel: &str, total: usize) {
    let skipped = if channel == "standard" {
        MULTI_RULE.len()
    } else {
        0
    };
    for summary in [
        format!("{} passed, 0 failed, 0 warnings", total - skipped),
        format!("0 not supported, {skipped} skipped"),
    ] {
        assert!(output.contains(&summary), "want {summary:?}");
    }
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.join("gwl4-reports/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["run"]["gatewayAPIChannel"], channel);
    assert_eq!(report["run"]["gatewayAPIVersion"], "v1.6.1");
    if channel == "standard" {
        for name in MULTI_RULE {
            assert!(
                output.contains(name) && output.contains("cannot hold this test's manifests"),
                "{name} should be skipped as unexpressible in v1"
            );
        }
    }
}

/// The label on everything gwl4 creates.
pub const RUN_ID_LABEL: &str = "gwl4.dev/run-id";

/// The tier's kubeconfigs, from the environment `with-apiserver.sh` sets.
#[derive(Debug, Clone)]
pub struct Tier {
    /// gwl4's (admin).
    pub kubeconfig: PathBuf,
    /// The controller's.
    pub controller_kubeconfig: PathBuf,
}

/// The tier's environment, or a panic saying how to get one.
pub fn tier() -> Tier {
    let var = |name: &str| {
        std::env::var_os(name).map(PathBuf::from).unwrap_or_else(|| {
            panic!(
                "{name} is not set: run this test under tools/kube/with-apiserver.sh --crds standard \
                 (see tools/kube/README.md), as .ci/run does"
            )
        })
    };
    Tier {
        kubeconfig: var("KUBECONFIG"),
        controller_kubeconfig: var("GWL4_CONTROLLER_KUBECONFIG"),
    }
}

/// An admin client.
pub async fn client(tier: &Tier) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = kube::config::Kubeconfig::read_from(&tier.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Applies the bundled GatewayClass `gwl4-reference`.
pub async fn apply_gateway_class(client: &kube::Client) {
    let text = include_str!("../../../manifests/reference-gateway/30-gatewayclass.yaml");
    let class: Value = serde_yaml::from_str(text).unwrap();
    let info = harness::cluster::kube::resources::lookup("GatewayClass").unwrap();
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &info.resource("v1"));
    api.patch(
        "gwl4-reference",
        &PatchParams::apply("gwl4-tier-test").force(),
        &Patch::Apply(&class),
    )
    .await
    .unwrap();
}

/// How the tier's reference gateway addresses Gateways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addresses {
    /// Each Gateway its own address from the block (`pool:127.1.n.0/24`).
    PerGateway,
    /// Every Gateway on 127.1.n.1, as a hostNetwork gateway on one node.
    Shared,
}

/// The reference gateway's Kubernetes provider, out of cluster; killed
/// when dropped.
pub struct Controller {
    child: Child,
    /// Its log.
    pub log: PathBuf,
    /// What it passes as `--address-source`.
    pub address_source: String,
    /// Keeps the addresses ours while the controller runs.
    _block: Block,
}

impl Controller {
    /// Starts `gwl4 reference-gateway kube` with per-Gateway addresses.
    pub fn start(tier: &Tier, dir: &Path) -> Controller {
        Controller::start_with(tier, dir, Addresses::PerGateway)
    }

    /// Starts `gwl4 reference-gateway kube`, logging to
    /// `dir/controller.log`, on addresses of a loopback block `n` claimed
    /// as local mode claims one (a lock no other gwl4 process on the
    /// machine takes while we hold it), so two tier runs at once, or a tier
    /// run beside local-mode runs, never share a listener address.
    pub fn start_with(tier: &Tier, dir: &Path, addresses: Addresses) -> Controller {
        let block = claim_block();
        let address_source = match addresses {
            Addresses::PerGateway => format!("pool:127.1.{}.0/24", block.n),
            Addresses::Shared => format!("127.1.{}.1", block.n),
        };
        let log = dir.join("controller.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_gwl4"))
            .args(["reference-gateway", "kube", "--kubeconfig"])
            .arg(&tier.controller_kubeconfig)
            .args(["--address-source", &address_source])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Controller {
            child,
            log,
            address_source,
            _block: block,
        }
    }

    /// Whether it still runs (has not exited).
    pub fn is_running(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .is_ok_and(|stat| stat.split(' ').nth(2).is_none_or(|state| state != "Z"))
    }

    /// The end of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Objects labelled with a run id still in the API server, as
/// `Kind namespace/name` lines.
pub async fn labelled_leftovers(client: &kube::Client) -> Vec<String> {
    let mut out = Vec::new();
    let served = harness::cluster::kube::crds::detect(client).await.unwrap();
    for info in harness::cluster::kube::resources::KINDS {
        let version = if info.is_gateway_api() {
            served.version(info.kind).unwrap_or(info.version)
        } else {
            info.version
        };
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &info.resource(version));
        let list = api
            .list(&ListParams::default().labels(RUN_ID_LABEL))
            .await
            .unwrap_or_else(|e| panic!("listing {}: {e}", info.kind));
        for o in list.items {
            out.push(format!(
                "{} {}/{}",
                info.kind,
                o.metadata.namespace.unwrap_or_default(),
                o.metadata.name.unwrap_or_default()
            ));
        }
    }
    out
}

/// What gwl4 may leave on the machine and must not: network namespaces
/// and bridges of `--workloads local`, and echo replicas still running.
pub fn host_leftovers() -> Vec<String> {
    let mut out = Vec::new();
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    for line in String::from_utf8_lossy(&netns.stdout).lines() {
        if line.starts_with("gwl4-") {
            out.push(format!("network namespace {line}"));
        }
    }
    let links = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&links.stdout).lines() {
        if line.contains(": gwl4br") || line.contains(": gv") {
            out.push(format!("link {line}"));
        }
    }
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains("echo-server") && cmdline.contains("--bind 10.248.") {
                out.push(format!(
                    "process {}: {cmdline}",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    out
}

/// What every tier test starts from: the environment, an admin client, a
/// scratch directory, and the reference gateway's provider running with
/// the class accepted.
pub struct Session {
    /// The kubeconfigs.
    pub tier: Tier,
    /// An admin client.
    pub client: kube::Client,
    /// Scratch directory (gwl4's working directory and TMPDIR).
    pub dir: tempfile::TempDir,
    /// The running controller.
    pub controller: Controller,
}

/// Starts a [`Session`] (each Gateway its own address).
pub async fn session() -> Session {
    session_with(Addresses::PerGateway).await
}

/// Starts a [`Session`] whose controller addresses Gateways as `addresses`.
pub async fn session_with(addresses: Addresses) -> Session {
    let tier = tier();
    let client = client(&tier).await;
    let dir = tempfile::tempdir().unwrap();
    apply_gateway_class(&client).await;
    let controller = Controller::start_with(&tier, dir.path(), addresses);
    wait_class_accepted(&client, &controller).await;
    Session {
        tier,
        client,
        dir,
        controller,
    }
}

impl Session {
    /// gwl4's flags for this tier, then `extra`.
    pub fn args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        tier_args(&self.tier.kubeconfig, extra)
    }

    /// `subcommand`, then [`Session::args`].
    pub fn args_after<'a>(&'a self, subcommand: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![subcommand];
        args.extend(self.args(extra));
        args
    }
}

/// gwl4's flags for this tier as the user of `kubeconfig`, then `extra`.
pub fn tier_args<'a>(kubeconfig: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--gateway-class",
        "gwl4-reference",
        "--workloads",
        "local",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args
}

/// The tier's directory (`GWL4_KUBE_DIR`, set by `with-apiserver.sh`).
pub fn kube_dir() -> PathBuf {
    PathBuf::from(
        std::env::var_os("GWL4_KUBE_DIR")
            .expect("GWL4_KUBE_DIR: run under tools/kube/with-apiserver.sh"),
    )
}

/// An outage: `tools/kube/restart.sh DIR name DOWN` (kill `name`, keep it
/// down `down` seconds, start it again, wait until it answers), returning
/// its stderr, which it also prints.
pub async fn restart(kube_dir: &Path, name: &str, down: u64) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/kube/restart.sh");
    let out = tokio::process::Command::new(script)
        .arg(kube_dir)
        .args([name, &down.to_string()])
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "restart.sh {name} failed: {err}");
    eprint!("{err}");
    err
}

/// Waits until the controller has accepted the class (so gwl4's start-up
/// check does not race the controller's first status write).
pub async fn wait_class_accepted(client: &kube::Client, controller: &Controller) {
    let info = harness::cluster::kube::resources::lookup("GatewayClass").unwrap();
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &info.resource("v1"));
    for _ in 0..300 {
        let class = api.get("gwl4-reference").await.unwrap();
        let value = serde_json::to_value(&class).unwrap();
        if harness::cluster::kube::condition_true(&value, "Accepted") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "GatewayClass gwl4-reference not Accepted after 30 s; controller log:\n{}",
        controller.log_tail()
    );
}
