//! The command line. Flag names follow upstream's conformance suite where
//! they overlap. Settings layer: defaults, then an options YAML file
//! (`--conformance-options-file`, same names in camelCase), then flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

/// gwl4: conformance and traffic tests for Gateway API TCPRoute and UDPRoute.
///
/// With no arguments, runs every test in local mode (no Kubernetes) against
/// the bundled reference gateway. Test selection flags (`--list`, a name
/// filter, `--exact`, `--skip`, `--test-threads`) work as for `cargo test`.
#[derive(Debug, Parser)]
#[command(
    name = "gwl4",
    disable_version_flag = true,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A subcommand instead of a test run.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Test run flags.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an echo backend (what local mode starts for each replica).
    #[command(hide = true)]
    EchoServer(echo_server::Args),
    /// Run the reference gateway (`gwl4 reference-gateway standalone …` is
    /// what local mode starts for each test).
    #[command(hide = true)]
    ReferenceGateway(reference_gateway::cli::Args),
    /// Compare runs: one HTML page from several report.json files.
    Compare(CompareArgs),
    /// Show the catalog catches real implementations' bugs: run it against
    /// the reference gateway, clean and with each deliberate fault.
    SelfTest(crate::selftest::SelfTestArgs),
    /// Measure a gateway against its backend reached directly (throughput,
    /// connection rate, latency, UDP rate and loss), reported as ratios.
    Bench(crate::bench::BenchArgs),
}

/// `gwl4 compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// report.json files; each may be written LABEL=PATH.
    #[arg(required = true)]
    pub runs: Vec<String>,
    /// Where to write the HTML page.
    #[arg(long, short, default_value = "gwl4-compare.html")]
    pub output: PathBuf,
}

/// A test run.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// libtest's flags.
    #[command(flatten)]
    pub test: libtest_mimic::Arguments,
    /// gwl4's flags.
    #[command(flatten)]
    pub options: Options,
}

/// Where the tests run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterKind {
    /// No Kubernetes: gwl4 runs the gateway and echo backends as processes.
    Local,
    /// A cluster from the kubeconfig.
    Kube,
}

/// Who runs the echo backends in kube mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadsKind {
    /// The cluster: Deployments roll out as Pods, its controller writes EndpointSlices.
    Cluster,
    /// gwl4: one echo process per replica in its own network namespace, and
    /// the EndpointSlices written by gwl4 (an API server without kubelet or
    /// controllers; needs root).
    Local,
}

/// Every layered setting. `None` means "not set here".
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Options {
    /// Where to run: `local` (default unless --gateway-class or --kubeconfig is given) or `kube`.
    #[arg(long, value_enum)]
    pub cluster: Option<ClusterKind>,
    /// GatewayClass under test (local default: gwl4-reference).
    #[arg(long)]
    pub gateway_class: Option<String>,
    /// Local mode: a program speaking the standalone gateway contract, with
    /// leading arguments, split on whitespace (default: the reference gateway).
    #[arg(long)]
    pub gateway_command: Option<String>,
    /// Local mode: controllerName written into the GatewayClass (default gwl4.dev/reference-gateway).
    #[arg(long)]
    pub controller_name: Option<String>,
    /// Echo backend image; `{ECHO_IMAGE}` in suite manifests.
    #[arg(long)]
    pub echo_image: Option<String>,
    /// Features the implementation supports (comma-separated); default: the GatewayClass's status.supportedFeatures.
    #[arg(long, value_delimiter = ',')]
    pub supported_features: Option<Vec<String>>,
    /// Features to treat as unsupported (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub exempt_features: Option<Vec<String>>,
    /// Treat every known feature as supported.
    #[arg(long)]
    #[serde(default)]
    pub all_features: bool,
    /// Conformance profiles (comma-separated): GATEWAY-TCP, GATEWAY-UDP. Adds their core features and runs only their tests.
    #[arg(long, value_delimiter = ',')]
    pub conformance_profiles: Option<Vec<String>>,
    /// Tests to skip, by name (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub skip_tests: Option<Vec<String>>,
    /// Run only this test (by name).
    #[arg(long)]
    pub run_test: Option<String>,
    /// Directories of extra suite files (repeatable).
    #[arg(long)]
    pub suite_dir: Option<Vec<PathBuf>>,
    /// Directory for junit.xml, report.html and report.json (default gwl4-reports).
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    /// Also write the upstream ConformanceReport YAML here.
    #[arg(long)]
    pub report_output: Option<PathBuf>,
    /// Implementation organization (ConformanceReport).
    #[arg(long)]
    pub organization: Option<String>,
    /// Implementation project.
    #[arg(long)]
    pub project: Option<String>,
    /// Implementation URL.
    #[arg(long)]
    pub url: Option<String>,
    /// Implementation version.
    #[arg(long)]
    pub version: Option<String>,
    /// Implementation contacts (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub contact: Option<Vec<String>>,
    /// Timeout overrides, upstream format: `Name:seconds;Name:seconds`.
    #[arg(long)]
    pub timeout_config_overrides: Option<String>,
    /// Options file (YAML, these settings in camelCase).
    #[arg(long, visible_alias = "options-file")]
    #[serde(skip)]
    pub conformance_options_file: Option<PathBuf>,
    /// Remove everything the run created (default true).
    #[arg(long)]
    pub cleanup: Option<bool>,
    /// Run-level false-failure bound for the statistical steps (Bonferroni:
    /// each of the k statistical steps gets alpha/k). Default: 0.001 per step.
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Power each statistical step must have to detect the effect (default 0.99).
    #[arg(long)]
    pub power: Option<f64>,
    /// Smallest share error (absolute) to detect (default 0.05).
    #[arg(long)]
    pub effect: Option<f64>,
    /// Kube mode: the kubeconfig (default: KUBECONFIG, ~/.kube/config, then in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kube mode: labels for the namespaces gwl4 creates (comma-separated key=value).
    #[arg(long, value_delimiter = ',')]
    pub namespace_labels: Option<Vec<String>>,
    /// Kube mode: annotations for the namespaces gwl4 creates (comma-separated key=value).
    #[arg(long, value_delimiter = ',')]
    pub namespace_annotations: Option<Vec<String>>,
    /// Kube mode: who runs the echo backends, `cluster` (default) or `local`
    /// (gwl4 runs them in network namespaces and writes their
    /// EndpointSlices: for an API server with no kubelet; needs root).
    #[arg(long, value_enum)]
    pub workloads: Option<WorkloadsKind>,
    /// Print every step as it finishes.
    #[arg(long, short = 'v')]
    #[serde(default)]
    pub verbose: bool,
    /// Fail tests on `should` and `recommended` misses too (by default they
    /// are warnings and only `must` and `may` misses fail).
    #[arg(long)]
    #[serde(default)]
    pub strict: bool,
}

impl Options {
    /// `self` (flags) over `file`.
    pub fn over(self, file: Options) -> Options {
        macro_rules! pick {
            ($($f:ident),*) => { Options { $($f: self.$f.or(file.$f),)* all_features: self.all_features || file.all_features, verbose: self.verbose || file.verbose, strict: self.strict || file.strict } };
        }
        pick!(
            cluster,
            gateway_class,
            gateway_command,
            controller_name,
            echo_image,
            supported_features,
            exempt_features,
            conformance_profiles,
            skip_tests,
            run_test,
            suite_dir,
            report_dir,
            report_output,
            organization,
            project,
            url,
            version,
            contact,
            timeout_config_overrides,
            conformance_options_file,
            cleanup,
            alpha,
            power,
            effect,
            kubeconfig,
            namespace_labels,
            namespace_annotations,
            workloads
        )
    }

    /// Reads an options file.
    pub fn from_file(path: &std::path::Path) -> Result<Options, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let de = serde_yaml::Deserializer::from_str(&text);
        serde_path_to_error::deserialize(de)
            .map_err(|e| format!("{}: {}: {}", path.display(), e.path(), e.inner()))
    }
}
