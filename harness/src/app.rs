//! A whole test run, from parsed flags to exit code: load the catalog,
//! select features, start the cluster backend, run the trials, write the
//! reports, print the summary.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use libtest_mimic::{Completion, Failed, Trial};
use reports::{
    Implementation, Mode, RunFinished, RunRecord, RunSettings as ReportSettings, RunStarted,
    TestEvent, TestResult,
};

use crate::cli::{ClusterKind, Options, RunArgs, WorkloadsKind};
use crate::cluster::kube;
use crate::cluster::local::{LocalCluster, LocalSettings, process};
use crate::cluster::{Cluster, World};
use crate::exit;
use crate::run::context::RunSettings;
use crate::run::events::Events;
use crate::run::schedule::{self, Scheduler};
use crate::run::{self, finished, started};
use crate::settings::features::{self, Selection};
use crate::settings::timeout::TimeoutConfig;
use crate::suite::{self, Step, TestSpec};

/// Default GatewayClass in local mode.
pub const LOCAL_GATEWAY_CLASS: &str = "gwl4-reference";

/// Kube mode's default `--test-threads`, as local mode's: tests that
/// collide wait for each other (run::schedule), and tests mostly wait on
/// the gateway and the API server, not on the CPU.
pub const KUBE_TEST_THREADS: usize = 8;
/// The reference gateway's controllerName.
pub const REFERENCE_CONTROLLER: &str = "gwl4.dev/reference-gateway";
/// Default echo image (also what local mode recognises).
pub const DEFAULT_ECHO_IMAGE: &str = "ghcr.io/gwl4/echo-server:latest";

/// A setup error: printed, exit 2.
fn setup(msg: impl std::fmt::Display) -> u8 {
    eprintln!("gwl4: error: {msg}");
    exit::SETUP_ERROR
}

/// Runs the tests; returns the exit code.
pub fn run(args: RunArgs) -> u8 {
    let RunArgs { test, options } = args;
    if options.version.as_deref() == Some("") {
        return print_version();
    }
    let mut test = test.to_libtest();
    let options = match &options.conformance_options_file {
        Some(path) => match Options::from_file(path) {
            Ok(file) => options.over(file),
            Err(e) => return setup(e),
        },
        None => options,
    };
    let mut catalog = match suite::load::builtin() {
        Ok(c) => c,
        Err(e) => return setup(e),
    };
    for dir in options.suite_dir.iter().flatten() {
        match suite::load::from_dir(dir)
            .and_then(|extra| suite::load::merge(catalog.clone(), extra))
        {
            Ok(c) => catalog = c,
            Err(e) => return setup(e),
        }
    }
    let kind = options.cluster.unwrap_or(
        if (options.gateway_class.is_some() || options.kubeconfig.is_some())
            && options.gateway_command.is_none()
        {
            ClusterKind::Kube
        } else {
            ClusterKind::Local
        },
    );
    let mut timeouts = match kind {
        ClusterKind::Local => TimeoutConfig::local(),
        ClusterKind::Kube => TimeoutConfig::default(),
    };
    if let Some(o) = &options.timeout_config_overrides
        && let Err(e) = timeouts.apply_overrides(o)
    {
        return setup(e);
    }
    let mut profiles = Vec::new();
    for name in options.conformance_profiles.iter().flatten() {
        match features::profile(name) {
            Some(p) => profiles.push(p),
            None => {
                return setup(format!(
                    "--conformance-profiles: unknown profile {name:?}; known: GATEWAY-TCP, GATEWAY-UDP"
                ));
            }
        }
    }
    if let Some(only) = &options.run_test {
        if !catalog.iter().any(|t| &t.name == only) {
            return setup(format!("--run-test: no test named {only:?}"));
        }
        test.filter = Some(only.clone());
        test.exact = true;
    }
    if let Some(skip) = &options.skip_tests {
        test.skip.extend(skip.iter().cloned());
    }
    if test.list {
        let trials = catalog
            .iter()
            .map(|t| Trial::test(&t.name, || Ok(())).with_kind(trial_kind(t)))
            .collect();
        let _ = libtest_mimic::run(&test, trials);
        return exit::SUCCESS;
    }
    let run_id = format!(
        "{}-{}",
        humantime::format_rfc3339_seconds(SystemTime::now())
            .to_string()
            .replace([':', '-'], ""),
        std::process::id()
    );
    // Removed on every return from here on (or named, with
    // `--cleanup=false`); the signal handler and the panic hook leave it too.
    let run_dir_guard = exit::RunDir::new(
        std::env::temp_dir().join(format!("gwl4-{run_id}")),
        options.cleanup == Some(false),
    );
    let run_dir = run_dir_guard.path().to_path_buf();
    let gateway_command = options
        .gateway_command
        .as_ref()
        .map(|c| c.split_whitespace().map(str::to_string).collect::<Vec<_>>());
    if gateway_command.as_ref().is_some_and(Vec::is_empty) {
        return setup("--gateway-command is empty");
    }
    let gateway_class = options
        .gateway_class
        .clone()
        .unwrap_or_else(|| LOCAL_GATEWAY_CLASS.into());
    let echo_image = options
        .echo_image
        .clone()
        .unwrap_or_else(|| DEFAULT_ECHO_IMAGE.into());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return setup(format!("tokio runtime: {e}")),
    };
    install_interrupt_handler(&rt);
    let plan = Plan {
        options,
        test,
        catalog,
        timeouts,
        profiles,
        gateway_class,
        echo_image,
        gateway_command,
        run_id,
        run_dir: run_dir.clone(),
        mode: match kind {
            ClusterKind::Local => Mode::Local,
            ClusterKind::Kube => Mode::Kubernetes,
        },
    };
    match kind {
        ClusterKind::Local => {
            if plan.options.workloads == Some(WorkloadsKind::Cluster) {
                return setup(
                    "--workloads cluster needs kube mode (--gateway-class, --kubeconfig or --cluster kube); local mode always runs the echo backends itself",
                );
            }
            let gwl4 = match std::env::current_exe() {
                Ok(p) => p,
                Err(e) => return setup(format!("cannot find the gwl4 binary: {e}")),
            };
            let local = LocalSettings {
                gwl4,
                gateway_command: plan.gateway_command.clone(),
                gateway_class: plan.gateway_class.clone(),
                controller_name: plan
                    .options
                    .controller_name
                    .clone()
                    .unwrap_or_else(|| REFERENCE_CONTROLLER.into()),
                echo_image: plan.echo_image.clone(),
                run_dir,
                keep: plan.options.cleanup == Some(false),
                timeouts: plan.timeouts.clone(),
            };
            match LocalCluster::new(local) {
                Ok(cluster) => execute(&rt, Arc::new(cluster), plan),
                Err(e) => setup(e),
            }
        }
        ClusterKind::Kube => {
            let mut plan = plan;
            let pairs = |flag: &str, items: &Option<Vec<String>>| {
                kube::parse_pairs(flag, items.as_deref().unwrap_or_default())
            };
            let settings = match (
                pairs("--namespace-labels", &plan.options.namespace_labels),
                pairs(
                    "--namespace-annotations",
                    &plan.options.namespace_annotations,
                ),
            ) {
                (Ok(namespace_labels), Ok(namespace_annotations)) => kube::KubeSettings {
                    local_workloads: match plan.options.workloads {
                        Some(WorkloadsKind::Local) => match std::env::current_exe() {
                            Ok(gwl4) => Some(kube::LocalWorkloads {
                                gwl4,
                                echo_image: plan.echo_image.clone(),
                                log_dir: plan.run_dir.join("echo"),
                            }),
                            Err(e) => return setup(format!("cannot find the gwl4 binary: {e}")),
                        },
                        _ => None,
                    },
                    kubeconfig: plan.options.kubeconfig.clone(),
                    gateway_class: plan.gateway_class.clone(),
                    run_id: plan.run_id.clone(),
                    namespace_labels,
                    namespace_annotations,
                    cleanup: plan.options.cleanup != Some(false),
                    timeouts: plan.timeouts.clone(),
                },
                (Err(e), _) | (_, Err(e)) => return setup(e),
            };
            let cluster = match rt.block_on(kube::KubeCluster::connect(settings)) {
                Ok(c) => Arc::new(c),
                Err(e) => return setup(e),
            };
            // Tests in a cluster take turns where they collide
            // (run::schedule), so they may run side by side.
            plan.test.test_threads.get_or_insert(KUBE_TEST_THREADS);
            let run_id = plan.run_id.clone();
            let code = execute(&rt, cluster.clone(), plan);
            let left_behind = rt.block_on(cluster.finish());
            if left_behind.is_empty() {
                return code;
            }
            // The verdicts stand (the reports are written), but objects of
            // this run may still be in the cluster, and a later test may
            // have run beside a previous test's leftovers: not a clean run.
            eprintln!(
                "gwl4: cleanup failed: {} object(s) of this run could not be deleted (above); \
                 find them with `kubectl get <kind> -A -l gwl4.dev/run-id={run_id}`. Exit 2.",
                left_behind.len()
            );
            exit::SETUP_ERROR
        }
    }
}

/// Everything decided before the cluster backend starts.
struct Plan {
    options: Options,
    test: libtest_mimic::Arguments,
    catalog: Vec<TestSpec>,
    timeouts: TimeoutConfig,
    profiles: Vec<features::Profile>,
    gateway_class: String,
    echo_image: String,
    gateway_command: Option<Vec<String>>,
    run_id: String,
    run_dir: PathBuf,
    mode: Mode,
}

/// Selects features, runs the trials on `cluster`, writes the reports.
fn execute<C: Cluster>(rt: &tokio::runtime::Runtime, cluster: Arc<C>, plan: Plan) -> u8 {
    let Plan {
        options,
        mut test,
        catalog,
        timeouts,
        profiles,
        gateway_class,
        echo_image,
        gateway_command,
        run_id,
        run_dir: _,
        mode,
    } = plan;
    // Features: flags, or the GatewayClass's status (read from a gateway
    // started just for that).
    // Named profiles define the set on their own (as upstream), so a gateway
    // that writes no status can still be tested.
    let class_features =
        if options.supported_features.is_none() && !options.all_features && profiles.is_empty() {
            match rt.block_on(cluster.class_features(&gateway_class, timeouts.gwc_must_be_accepted))
            {
                Ok(f) => f,
                Err(e) => return setup(e),
            }
        } else {
            None
        };
    if std::env::var(exit::TEST_PANIC).as_deref() == Ok("with-gateway") {
        // Test hook (exit::TEST_PANIC): a panic with a gateway running.
        let world = rt.block_on(cluster.world("test-panic"));
        panic!(
            "{}=with-gateway: world started: {}",
            exit::TEST_PANIC,
            world.is_ok()
        );
    }
    let selection = Selection::new(
        options.supported_features.as_deref(),
        options.all_features,
        options.exempt_features.as_deref().unwrap_or_default(),
        class_features.as_deref(),
        profiles,
    );
    let catalog: Vec<TestSpec> = catalog
        .into_iter()
        .filter(|t| selection.in_profiles(&t.features))
        .collect();

    // Statistics: Bonferroni over the statistical steps that will run.
    let statistical = catalog
        .iter()
        .filter(|t| {
            selection.missing(&t.features).is_empty()
                && selected_by_name(&test, &t.name)
                && cluster.cannot_hold(&manifest_values(t)).is_none()
        })
        .flat_map(|t| t.steps.iter())
        .filter(|s| matches!(s.step, Step::Distribution(_) | Step::Rejection(_)))
        .count() as u32;
    let mut stats_settings = stats::Settings::default();
    if let Some(p) = options.power {
        stats_settings.power = p;
    }
    if let Some(e) = options.effect {
        stats_settings.effect = e;
    }
    if let Some(run_alpha) = options.alpha {
        match stats::per_test_alpha(run_alpha, statistical.max(1)) {
            Ok(a) => stats_settings.alpha = a,
            Err(e) => return setup(format!("--alpha: {e}")),
        }
    }
    if let Err(e) = stats_settings.validate() {
        return setup(e);
    }
    let family_wise = stats::family_wise_bound(stats_settings.alpha, statistical).unwrap_or(1.0);

    let gateway_api = cluster
        .gateway_api()
        .unwrap_or_else(|| ("v1.6.1".into(), "standard".into()));
    let events = Events::new(options.verbose);
    let start = tokio::time::Instant::now();
    events.emit(TestEvent::RunStarted(Box::new(RunStarted {
        schema_version: reports::SCHEMA_VERSION,
        run_id: run_id.clone(),
        start_time: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        gwl4_version: env!("CARGO_PKG_VERSION").to_string(),
        mode,
        conformance_mode: "default".into(),
        gateway_class: gateway_class.clone(),
        implementation: Implementation {
            organization: options.organization.clone().unwrap_or_else(|| {
                if gateway_command.is_none() {
                    "gwl4".into()
                } else {
                    String::new()
                }
            }),
            project: options.project.clone().unwrap_or_else(|| {
                if gateway_command.is_none() {
                    "reference-gateway".into()
                } else {
                    String::new()
                }
            }),
            url: options.url.clone().unwrap_or_default(),
            version: options.version.clone().unwrap_or_else(|| {
                if gateway_command.is_none() {
                    env!("CARGO_PKG_VERSION").into()
                } else {
                    String::new()
                }
            }),
            contact: options.contact.clone().unwrap_or_default(),
        },
        gateway_api_version: gateway_api.0,
        gateway_api_channel: gateway_api.1,
        settings: ReportSettings {
            alpha: stats_settings.alpha,
            power: stats_settings.power,
            detectable_effect: stats_settings.effect,
            family_wise_bound: family_wise,
            timeouts: timeouts.as_map(),
            profiles: selection
                .profiles
                .iter()
                .map(|p| p.name.to_string())
                .collect(),
            supported_features: selection.supported.iter().cloned().collect(),
        },
    })));

    // Local mode gives every test its own world; in a cluster tests that
    // touch the same objects or ports must take turns.
    let scheduler = (mode == Mode::Kubernetes).then(|| {
        Arc::new(Scheduler::new(
            options.gateway_addresses.unwrap_or_default(),
        ))
    });
    let settings = Arc::new(RunSettings {
        timeouts,
        stats: stats_settings,
        gateway_class,
        echo_image,
        strict: options.strict,
        scheduler: scheduler.clone(),
    });
    let handle = rt.handle().clone();
    // Long tests first, so no thread is left with one at the end. Listing,
    // and one test at a time (where order changes nothing), keep the
    // catalog's order.
    let mut order = catalog.clone();
    if !test.list && test.test_threads.is_none_or(|n| n > 1) {
        schedule::longest_first(&mut order);
    }
    let trials: Vec<Trial> = order
        .iter()
        .map(|spec| {
            let kind = trial_kind(spec);
            let spec = spec.clone();
            let missing = selection.missing(&spec.features);
            let cannot_hold = cluster.cannot_hold(&manifest_values(&spec));
            // Only a cluster's tests take turns (local worlds share nothing).
            let scheduled = scheduler.clone().map(|s| (s, schedule::holds(&spec)));
            let (cluster, settings, events, handle) = (
                cluster.clone(),
                settings.clone(),
                events.clone(),
                handle.clone(),
            );
            Trial::ignorable_test(spec.name.clone(), move || {
                exit::in_trial(|| {
                    // Ctrl-C or SIGTERM came: start nothing (a new world would
                    // recreate the run directory); the reports mark it not run.
                    if exit::stopping() {
                        return Ok(Completion::ignored_with("not run: the run was interrupted"));
                    }
                    if !missing.is_empty() {
                        events.emit(started(&spec));
                        events.emit(finished(
                            &spec,
                            TestResult::NotSupported {
                                missing_features: missing.clone(),
                            },
                            Duration::ZERO,
                        ));
                        return Ok(Completion::ignored_with(format!(
                            "not supported: needs {}",
                            missing.join(", ")
                        )));
                    }
                    if let Some(reason) = &cannot_hold {
                        let reason =
                            format!("the cluster cannot hold this test's manifests: {reason}");
                        events.emit(started(&spec));
                        events.emit(finished(
                            &spec,
                            TestResult::Skipped {
                                reason: reason.clone(),
                            },
                            Duration::ZERO,
                        ));
                        return Ok(Completion::ignored_with(reason));
                    }
                    // Queued behind a colliding test, it has not started: an
                    // interrupt now reports it "not run".
                    let ticket = scheduled
                        .as_ref()
                        .map(|(s, holds)| s.acquire(&spec.name, holds.clone()));
                    events.emit(started(&spec));
                    let mut timing = reports::Timing::default();
                    if let Some(wait) = ticket.as_ref().and_then(|t| t.waited.clone()) {
                        timing.queued = wait.time;
                        timing.queued_behind = Some(format!("{} ({})", wait.behind, wait.what));
                    }
                    let (result, elapsed) = handle.block_on(async {
                        let begin = tokio::time::Instant::now();
                        let result = match cluster.world(&spec.name).await {
                            Ok(world) => {
                                let world_ready = begin.elapsed();
                                let ran = run::run_test(&world, &spec, &settings, &events).await;
                                timing.setup = world_ready + ran.setup;
                                let cleaning = tokio::time::Instant::now();
                                world.cleanup().await;
                                timing.cleanup = cleaning.elapsed();
                                ran.result
                            }
                            Err(e) => TestResult::Failed {
                                message: format!("setting up the test's world: {e}"),
                            },
                        };
                        (result, begin.elapsed())
                    });
                    drop(ticket);
                    events.emit(run::timed(&spec, result.clone(), elapsed, Some(timing)));
                    match result {
                        TestResult::Failed { message } => Err(Failed::from(message)),
                        _ => Ok(Completion::Completed),
                    }
                })
            })
            .with_kind(kind)
        })
        .collect();
    if test.test_threads.is_none() {
        // Tests mostly wait on sockets and status files, not on the CPU.
        test.test_threads = Some(8);
    }
    let finisher = Arc::new(Finisher {
        events: events.clone(),
        selected: catalog
            .iter()
            .filter(|t| selected_by_name(&test, &t.name))
            .cloned()
            .collect(),
        start,
        report_dir: options
            .report_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("gwl4-reports")),
        report_output: options.report_output.clone(),
        statistical,
        alpha: stats_settings.alpha,
        family_wise,
        strict: options.strict,
        report_log: options.report_log,
    });
    *on_interrupt().lock().unwrap_or_else(|e| e.into_inner()) = Some(finisher.clone());
    let conclusion = libtest_mimic::run(&test, trials);
    on_interrupt()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    // The run directory is left (removed, or named) by its guard in `run`.
    if let Err(e) = finisher.finish(false) {
        return setup(e);
    }
    if conclusion.num_failed > 0 {
        exit::TEST_FAILED
    } else if conclusion.num_passed == 0 {
        exit::NOTHING_RAN
    } else {
        exit::SUCCESS
    }
}

/// What it takes to end a run with its reports: normally, or on Ctrl-C
/// with the tests that finished.
struct Finisher {
    events: Events,
    /// Every test the run was to run, for marking those an interrupted run
    /// did not finish.
    selected: Vec<TestSpec>,
    start: tokio::time::Instant,
    report_dir: PathBuf,
    report_output: Option<PathBuf>,
    statistical: u32,
    alpha: f64,
    family_wise: f64,
    strict: bool,
    /// `--report-log`: print the reports to stdout too.
    report_log: bool,
}

impl Finisher {
    /// Folds the events (closed with `RunFinished`), prints the summary and
    /// writes every report. `interrupted`: the tests that started but did
    /// not finish, and those that never started, are recorded as skipped
    /// ("not run: the run was interrupted"), and the run as interrupted.
    fn finish(&self, interrupted: bool) -> Result<(), String> {
        let mut events = self.events.snapshot();
        if interrupted {
            let mut begun = std::collections::BTreeSet::new();
            let mut done = std::collections::BTreeSet::new();
            for e in &events {
                match e {
                    TestEvent::TestStarted(t) => {
                        begun.insert(t.name.clone());
                    }
                    TestEvent::TestFinished(t) => {
                        done.insert(t.test.clone());
                    }
                    _ => {}
                }
            }
            for spec in &self.selected {
                if done.contains(&spec.name) {
                    continue;
                }
                let reason = if begun.contains(&spec.name) {
                    "not run to its end: the run was interrupted"
                } else {
                    events.push(started(spec));
                    "not run: the run was interrupted"
                };
                events.push(finished(
                    spec,
                    TestResult::Skipped {
                        reason: reason.into(),
                    },
                    Duration::ZERO,
                ));
            }
        }
        events.push(TestEvent::RunFinished(RunFinished {
            end_time: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            elapsed: self.start.elapsed(),
            interrupted,
        }));
        let record =
            RunRecord::from_events(&events).map_err(|e| format!("building the report: {e}"))?;
        print_summary(
            &record,
            self.statistical,
            self.alpha,
            self.family_wise,
            self.strict,
        );
        let paths = reports::write_all(&record, &self.report_dir, self.report_output.as_deref())
            .map_err(|e| format!("writing reports: {e}"))?;
        for p in &paths {
            println!("wrote {}", p.display());
        }
        if self.report_log {
            let log = crate::report_log::encode(&paths)
                .map_err(|e| format!("encoding the reports for the log: {e}"))?;
            print!("{log}");
        }
        Ok(())
    }
}

/// The running run's [`Finisher`], for the Ctrl-C handler.
fn on_interrupt() -> &'static std::sync::Mutex<Option<Arc<Finisher>>> {
    static SLOT: std::sync::OnceLock<std::sync::Mutex<Option<Arc<Finisher>>>> =
        std::sync::OnceLock::new();
    SLOT.get_or_init(Default::default)
}

/// `gwl4 --version`: gwl4's version and what its catalog was written for.
fn print_version() -> u8 {
    let api = suite::requirements::builtin()
        .map(|r| r.gateway_api_version.clone())
        .unwrap_or_else(|_| "unknown".into());
    let tests = suite::load::builtin().map(|c| c.len()).unwrap_or(0);
    println!(
        "gwl4 {} (catalog: {tests} tests for Gateway API {api}, TCPRoute and UDPRoute)",
        env!("CARGO_PKG_VERSION")
    );
    exit::SUCCESS
}

/// A test's kind as libtest shows it (`--list`, progress lines): its level
/// and features, e.g. `must Gateway,TCPRoute`.
fn trial_kind(spec: &TestSpec) -> String {
    format!("{} {}", spec.level, spec.features.join(","))
}

fn print_summary(record: &RunRecord, statistical: u32, alpha: f64, family_wise: f64, strict: bool) {
    use reports::ResultKind;
    println!();
    println!("gwl4 summary");
    for t in record.tests_failures_first() {
        let label = match t.kind() {
            k if k.is_failure() => "FAILED",
            ResultKind::Warned => "WARNING",
            _ => continue,
        };
        for line in t.result_message().lines().take(3) {
            println!(
                "  {label:<8} {}: {}",
                t.info.name,
                line.trim_start_matches("warning: ")
            );
        }
    }
    let warned = record.count(ResultKind::Warned);
    println!(
        "  {} passed, {} failed, {warned} {} (should/recommended{}), {} not supported, {} skipped",
        record.count(ResultKind::Passed),
        record.count(ResultKind::Failed) + record.count(ResultKind::Incomplete),
        if warned == 1 { "warning" } else { "warnings" },
        if strict { "; --strict: they fail" } else { "" },
        record.count(ResultKind::NotSupported),
        record.count(ResultKind::Skipped)
    );
    println!(
        "  statistics: {statistical} statistical steps at alpha {alpha:.2e} each; family-wise false-failure bound {family_wise:.4} (Bonferroni)"
    );
    let slowest = reports::time::slowest(record, 5);
    if !slowest.is_empty() {
        let queued = reports::time::queued(record);
        println!(
            "  slowest tests{}:",
            if queued.is_zero() {
                String::new()
            } else {
                format!(
                    " (tests queued {:.1} s in all behind others holding the same objects or ports)",
                    queued.as_secs_f64()
                )
            }
        );
        for line in slowest {
            println!("    {line}");
        }
    }
}

/// Whether libtest's name filter and `--skip` let the test `name` run
/// (substring matches, whole names with `--exact`).
fn selected_by_name(test: &libtest_mimic::Arguments, name: &str) -> bool {
    let matches = |pattern: &str| {
        if test.exact {
            name == pattern
        } else {
            name.contains(pattern)
        }
    };
    test.filter.as_deref().is_none_or(matches) && !test.skip.iter().any(|s| matches(s))
}

/// A test's manifests as written (not templated).
fn manifest_values(spec: &TestSpec) -> Vec<serde_json::Value> {
    spec.manifests.iter().map(|m| m.value.clone()).collect()
}

/// Ctrl-C / SIGTERM: kill every child, leave the run directories (removed,
/// or named with `--cleanup=false`), write the reports of the tests that
/// finished (the rest marked not run, the run interrupted), exit 130.
///
/// The signals are hooked before this returns, so no signal in the
/// meantime takes the default action (death, with the directory left).
/// Tests still running go on until the exit: the directories are swept
/// again, and the children killed again, just before it, so a world that
/// was being created when the signal came leaves nothing.
pub(crate) fn install_interrupt_handler(rt: &tokio::runtime::Runtime) {
    use tokio::signal::unix::{SignalKind, signal};
    let _context = rt.enter();
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        eprintln!("gwl4: warning: cannot hook Ctrl-C and SIGTERM; they will not clean up");
        return;
    };
    rt.spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        exit::set_stopping();
        eprintln!("\ngwl4: interrupted; stopping gateways and backends");
        process::kill_all();
        crate::cluster::local::netns::remove_all_live();
        // Before the cluster's objects: deleting them may wait on an API
        // server that does not answer, and a second kill then must not
        // find the directory.
        exit::leave_all();
        kube::delete_all_live().await;
        let finisher = on_interrupt()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(f) = finisher {
            eprintln!("gwl4: writing the reports of the tests that finished");
            if let Err(e) = f.finish(true) {
                eprintln!("gwl4: error: {e}");
            }
        }
        process::kill_all();
        crate::cluster::local::netns::remove_all_live();
        exit::leave_all();
        std::process::exit(i32::from(exit::INTERRUPTED));
    });
}
