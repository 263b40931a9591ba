//! The command line. Flag names follow upstream's conformance suite where
//! they overlap. Settings layer: defaults, then an options YAML file
//! (`--conformance-options-file`, same names in camelCase), then flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

/// gwl4: conformance and traffic tests for Gateway API TCPRoute and UDPRoute.
///
/// With no arguments, runs every test in local mode (no Kubernetes) against
/// the bundled reference gateway. With --gateway-class (or --kubeconfig),
/// runs them against that GatewayClass on a cluster. Each verdict traces to
/// the spec: a must failure fails the run (exit 1), a should or
/// recommendation miss is a warning (a failure with --strict).
#[derive(Debug, Parser)]
#[command(
    name = "gwl4",
    disable_version_flag = true,
    args_conflicts_with_subcommands = true,
    after_help = EXAMPLES
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
    #[command(after_help = "Examples:
  gwl4 compare before/report.json after/report.json
  gwl4 compare v1=runs/a/report.json v2=runs/b/report.json -o compare.html")]
    Compare(CompareArgs),
    /// Show the catalog catches real implementations' bugs and passes what
    /// the spec allows: run it against the reference gateway, clean, with
    /// each deliberate fault, and in each allowed variation.
    #[command(after_help = "Examples:
  gwl4 self-test                                  every fault and variation against the tests each touches
  gwl4 self-test --full                           the whole catalog against each
  gwl4 self-test --faults udp-per-packet --variants udp-loss")]
    SelfTest(crate::selftest::SelfTestArgs),
    /// Check a cluster before a run: API server, Gateway API CRDs, the
    /// GatewayClass, permissions, and a Gateway carrying TCP and UDP to an
    /// echo backend from here; one line per check, with the fix.
    #[command(after_help = "Examples:
  gwl4 doctor --gateway-class istio
  gwl4 doctor --gateway-class eg --kubeconfig ~/.kube/staging --echo-image registry.example/echo:1
  gwl4 doctor --gateway-class eg --read-only      create nothing, send no traffic

Exit codes: 0 nothing failed (warnings allowed), 2 a check failed.")]
    Doctor(crate::doctor::DoctorArgs),
    /// Read the reports a run printed with --report-log (a Kubernetes Job's
    /// log) back into a report directory.
    #[command(after_help = "Examples:
  kubectl logs -n gwl4-runner job/gwl4 | gwl4 fetch-report --from-log -
  gwl4 fetch-report --from-log job.log --report-dir job-reports")]
    FetchReport(FetchReportArgs),
    /// Measure a gateway against its backend reached directly (throughput,
    /// connection rate, latency, UDP rate and loss), reported as ratios.
    #[command(after_help = "Examples:
  gwl4 bench                                      the reference gateway, local mode
  gwl4 bench --short                              seconds: checks it works
  gwl4 bench --gateway-tcp 10.0.0.5:9000 --direct-tcp 127.0.0.1:5000 \\
             --gateway-udp 10.0.0.5:9001 --direct-udp 127.0.0.1:5001")]
    Bench(crate::bench::BenchArgs),
}

/// `gwl4 fetch-report`.
#[derive(Debug, Args)]
pub struct FetchReportArgs {
    /// The log to read (`-`: standard input).
    #[arg(long, value_name = "FILE")]
    pub from_log: PathBuf,
    /// Where to write the reports.
    #[arg(long, default_value = "gwl4-reports")]
    pub report_dir: PathBuf,
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

/// Examples printed after `gwl4 --help`.
const EXAMPLES: &str = "Examples:
  gwl4                                          every test, local mode, reference gateway
  gwl4 --list                                   the tests, each with its level and features
  gwl4 TCPRoute --strict                        tests whose name has TCPRoute; warnings fail
  gwl4 --gateway-command \"my-proxy --flag\"      your standalone L4 proxy (the local contract)
  gwl4 --gateway-class istio                    a GatewayClass on the cluster of your kubeconfig
  gwl4 --conformance-profiles GATEWAY-UDP       only the UDP profile's tests
  gwl4 self-test                                the catalog against known bugs and allowed variations

Exit codes: 0 passed (warnings allowed), 1 a test failed, 2 usage or setup error
(or objects left in the cluster), 3 nothing ran, 130 interrupted (reports written
for the tests that finished).";

/// A test run.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Which tests run.
    #[command(flatten)]
    pub test: Selection,
    /// gwl4's flags.
    #[command(flatten)]
    pub options: Options,
}

/// Which tests run. These are libtest's flags (gwl4 runs its tests through
/// libtest-mimic), so they behave as for `cargo test`; libtest's other
/// flags are accepted and hidden.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Test selection")]
pub struct Selection {
    /// Run only the tests whose names contain FILTER.
    #[arg(value_name = "FILTER")]
    pub filter: Option<String>,
    /// Match FILTER and --skip against whole names.
    #[arg(long)]
    pub exact: bool,
    /// Skip the tests whose names contain FILTER (repeatable).
    #[arg(long, value_name = "FILTER")]
    pub skip: Vec<String>,
    /// List the tests with their level and features; run nothing.
    #[arg(long)]
    pub list: bool,
    /// Tests run at once (default 8; in kube mode tests that touch the same
    /// objects or ports wait for each other).
    #[arg(long, value_name = "N")]
    pub test_threads: Option<usize>,
    /// One character per test instead of one line.
    #[arg(short, long)]
    pub quiet: bool,
    /// libtest: output format.
    #[arg(long, value_enum, hide = true)]
    pub format: Option<libtest_mimic::FormatSetting>,
    /// libtest: colour.
    #[arg(long, value_enum, hide = true)]
    pub color: Option<libtest_mimic::ColorSetting>,
    /// libtest: write the log to a file.
    #[arg(long, hide = true)]
    pub logfile: Option<String>,
    /// libtest: run ignored tests (gwl4 has none).
    #[arg(long, hide = true)]
    pub ignored: bool,
    /// libtest: run ignored tests too.
    #[arg(long, hide = true)]
    pub include_ignored: bool,
    /// libtest: run tests, not benchmarks (no-op).
    #[arg(long, hide = true)]
    pub test: bool,
    /// libtest: run benchmarks (gwl4 has none).
    #[arg(long, hide = true)]
    pub bench: bool,
    /// libtest: no-op.
    #[arg(long, hide = true)]
    pub nocapture: bool,
    /// libtest: no-op.
    #[arg(long, hide = true)]
    pub show_output: bool,
    /// libtest: unstable flags, no-op.
    #[arg(short = 'Z', hide = true)]
    pub unstable_flags: Option<String>,
}

impl Selection {
    /// As libtest-mimic's arguments.
    pub fn to_libtest(&self) -> libtest_mimic::Arguments {
        libtest_mimic::Arguments {
            include_ignored: self.include_ignored,
            ignored: self.ignored,
            test: self.test,
            bench: self.bench,
            list: self.list,
            nocapture: self.nocapture,
            show_output: self.show_output,
            exact: self.exact,
            quiet: self.quiet,
            test_threads: self.test_threads,
            logfile: self.logfile.clone(),
            skip: self.skip.clone(),
            color: self.color,
            format: self.format,
            filter: self.filter.clone(),
            ..libtest_mimic::Arguments::default()
        }
    }
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
    #[arg(long, value_enum, help_heading = "Where the tests run")]
    pub cluster: Option<ClusterKind>,
    /// GatewayClass under test (local default: gwl4-reference).
    #[arg(long, help_heading = "Where the tests run")]
    pub gateway_class: Option<String>,
    /// Local mode: a program speaking the standalone gateway contract, with
    /// leading arguments, split on whitespace (default: the reference gateway).
    #[arg(long, help_heading = "Local mode")]
    pub gateway_command: Option<String>,
    /// Local mode: controllerName written into the GatewayClass (default gwl4.dev/reference-gateway).
    #[arg(long, help_heading = "Local mode")]
    pub controller_name: Option<String>,
    /// Echo backend image; `{ECHO_IMAGE}` in suite manifests.
    #[arg(long, help_heading = "Where the tests run")]
    pub echo_image: Option<String>,
    /// Features the implementation supports (comma-separated); default: the GatewayClass's status.supportedFeatures.
    #[arg(long, value_delimiter = ',', help_heading = "Test selection")]
    pub supported_features: Option<Vec<String>>,
    /// Features to treat as unsupported (comma-separated).
    #[arg(long, value_delimiter = ',', help_heading = "Test selection")]
    pub exempt_features: Option<Vec<String>>,
    /// Treat every known feature as supported.
    #[arg(long, help_heading = "Test selection")]
    #[serde(default)]
    pub all_features: bool,
    /// Conformance profiles (comma-separated): GATEWAY-TCP, GATEWAY-UDP. Adds their core features and runs only their tests.
    #[arg(long, value_delimiter = ',', help_heading = "Test selection")]
    pub conformance_profiles: Option<Vec<String>>,
    /// Tests to skip, by name (comma-separated).
    #[arg(long, value_delimiter = ',', help_heading = "Test selection")]
    pub skip_tests: Option<Vec<String>>,
    /// Run only this test (by name).
    #[arg(long, help_heading = "Test selection")]
    pub run_test: Option<String>,
    /// Directories of extra suite files (repeatable).
    #[arg(long, help_heading = "Test selection")]
    pub suite_dir: Option<Vec<PathBuf>>,
    /// Directory for junit.xml, report.html and report.json (default gwl4-reports).
    #[arg(long, help_heading = "Reports")]
    pub report_dir: Option<PathBuf>,
    /// Also write the upstream ConformanceReport YAML here.
    #[arg(long, help_heading = "Reports")]
    pub report_output: Option<PathBuf>,
    /// Implementation organization (ConformanceReport).
    #[arg(long, help_heading = "Reports")]
    pub organization: Option<String>,
    /// Implementation project.
    #[arg(long, help_heading = "Reports")]
    pub project: Option<String>,
    /// Implementation URL.
    #[arg(long, help_heading = "Reports")]
    pub url: Option<String>,
    /// Implementation version (ConformanceReport). Alone (`gwl4 --version`
    /// or `-V`): print gwl4's version and its catalog's Gateway API version.
    #[arg(
        short = 'V',
        long,
        num_args = 0..=1,
        default_missing_value = "",
        value_name = "VERSION",
        help_heading = "Reports"
    )]
    pub version: Option<String>,
    /// Implementation contacts (comma-separated).
    #[arg(long, value_delimiter = ',', help_heading = "Reports")]
    pub contact: Option<Vec<String>>,
    /// Timeout overrides, upstream format: `Name:seconds;Name:seconds`.
    #[arg(long, help_heading = "Verdicts")]
    pub timeout_config_overrides: Option<String>,
    /// Options file (YAML, these settings in camelCase).
    #[arg(long, visible_alias = "options-file", help_heading = "Options file")]
    #[serde(skip)]
    pub conformance_options_file: Option<PathBuf>,
    /// Remove everything the run created (default true).
    #[arg(long, help_heading = "Where the tests run")]
    pub cleanup: Option<bool>,
    /// Run-level false-failure bound for the statistical steps (Bonferroni:
    /// each of the k statistical steps gets alpha/k). Default: 0.001 per step.
    #[arg(long, help_heading = "Verdicts")]
    pub alpha: Option<f64>,
    /// Power each statistical step must have to detect the effect (default 0.99).
    #[arg(long, help_heading = "Verdicts")]
    pub power: Option<f64>,
    /// Smallest share error (absolute) to detect (default 0.05).
    #[arg(long, help_heading = "Verdicts")]
    pub effect: Option<f64>,
    /// Kube mode: the kubeconfig (default: KUBECONFIG, ~/.kube/config, then in-cluster).
    #[arg(long, help_heading = "Where the tests run")]
    pub kubeconfig: Option<PathBuf>,
    /// Kube mode: labels for the namespaces gwl4 creates (comma-separated key=value).
    #[arg(long, value_delimiter = ',', help_heading = "Where the tests run")]
    pub namespace_labels: Option<Vec<String>>,
    /// Kube mode: annotations for the namespaces gwl4 creates (comma-separated key=value).
    #[arg(long, value_delimiter = ',', help_heading = "Where the tests run")]
    pub namespace_annotations: Option<Vec<String>>,
    /// Kube mode: who runs the echo backends, `cluster` (default) or `local`
    /// (gwl4 runs them in network namespaces and writes their
    /// EndpointSlices: for an API server with no kubelet; needs root).
    #[arg(long, value_enum, help_heading = "Where the tests run")]
    pub workloads: Option<WorkloadsKind>,
    /// Kube mode: whether Gateways share an address, which decides whether
    /// tests with listeners on one port may run side by side: `auto`
    /// (default: learned from the addresses Gateways report), `shared`, or
    /// `per-gateway`.
    #[arg(long, value_enum, help_heading = "Where the tests run")]
    pub gateway_addresses: Option<crate::run::schedule::AddressSharing>,
    /// After writing the reports, print them (gzipped, base64) to stdout
    /// too, for `gwl4 fetch-report` to read out of a Job's log.
    #[arg(long, help_heading = "Reports")]
    #[serde(default)]
    pub report_log: bool,
    /// Print every step as it finishes.
    #[arg(long, short = 'v', help_heading = "Reports")]
    #[serde(default)]
    pub verbose: bool,
    /// Fail tests on `should` and `recommended` misses too (by default they
    /// are warnings and only `must` and `may` misses fail).
    #[arg(long, help_heading = "Verdicts")]
    #[serde(default)]
    pub strict: bool,
}

impl Options {
    /// `self` (flags) over `file`.
    pub fn over(self, file: Options) -> Options {
        macro_rules! pick {
            ($($f:ident),*) => { Options { $($f: self.$f.or(file.$f),)* all_features: self.all_features || file.all_features, verbose: self.verbose || file.verbose, strict: self.strict || file.strict, report_log: self.report_log || file.report_log } };
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
            workloads,
            gateway_addresses
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
