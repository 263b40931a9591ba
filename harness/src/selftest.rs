//! `gwl4 self-test`: shows that the catalog catches the bugs real L4
//! implementations shipped. It runs the catalog in local mode against the
//! clean reference gateway, then against the reference gateway with each
//! [`Fault`] turned on (`gwl4 reference-gateway standalone --fault NAME`),
//! and reports which tests caught each fault.
//!
//! Each run is a child `gwl4` process (the same binary), one after the
//! other: local mode hands out the same loopback addresses in every
//! process, so two runs at once would collide. By default each fault runs
//! against a few tests, its expected catcher among them ([`EXPECTED`]), and
//! the clean run covers the union of those tests; `--full` runs the whole
//! catalog every time. Either way "caught" is read from the runs' own
//! report.json, never assumed.
//!
//! Beside the faults, it runs the reference gateway in its allowed
//! variations ([`Variant`], `--variant NAME`): behaviours the spec allows
//! other than the default (a multi-rule route rejected, TCP and UDP on one
//! port refused, a deterministic weighted rotation, accept-then-close
//! rejection, UDP loss, a UDP session cap). Each runs against the tests it
//! touches ([`VARIANTS`]) and must come out with exit 0: warnings allowed,
//! no failure. Some must also show what they are: a warning naming the
//! behaviour, or the resends UDP loss cost.
//!
//! The clean and fault runs are `--strict` (the reference gateway meets
//! every should and recommendation too, and a fault counts as caught when
//! any check catches it); each fault row says whether a `must` caught it
//! (a spec violation) or only a `should` or gwl4's recommendation. The
//! variation runs are not strict: a variation must fail no `must`.
//!
//! The self-test passes (exit 0) only if the clean run passed every test it
//! ran, every fault was caught by its expected catcher, and every variation
//! passed and showed what it should.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use reference_gateway::fault::{Fault, Flag};
use reference_gateway::variant::Variant;
use serde::Serialize;

use crate::exit;
use crate::suite;

/// For each fault: the test written to catch it, then related tests that
/// also run against it (by default only these run).
pub const EXPECTED: &[(Fault, &str, &[&str])] = &[
    (
        Fault::WeightsIgnored,
        "TCPRouteWeightedRouting",
        &["UDPRouteWeightedRouting"],
    ),
    (
        Fault::PerEndpointWeight,
        "TCPRouteWeightsWithUnequalReplicas",
        &["UDPRouteWeightsWithUnequalReplicas"],
    ),
    (
        Fault::ZeroWeightLeak,
        "TCPRouteWeightedRouting",
        &["UDPRouteWeightedRouting"],
    ),
    (Fault::UdpPerPacket, "UDPRouteFlowAffinity", &["UDPRoute"]),
    (
        Fault::UdpReplyFromBackendSocket,
        "UDPRouteReplyFromGatewayAddress",
        &["UDPRoute"],
    ),
    (
        Fault::InvalidShareRedistributed,
        "TCPRouteInvalidBackendShareIsRejected",
        &["UDPRouteInvalidBackendShareIsDropped"],
    ),
    (
        Fault::GrantRevocationIgnored,
        "TCPRouteReferenceGrantRevokedStopsTraffic",
        &["UDPRouteReferenceGrantRevokedStopsTraffic"],
    ),
    (
        Fault::NewestRouteWins,
        "TCPRouteMultipleRoutesAttachment",
        &["UDPRouteMultipleRoutesAttachment"],
    ),
    (
        Fault::SectionNameIgnored,
        "TCPRouteParentRefPortAndSectionName",
        &["UDPRouteParentRefPortAndSectionName"],
    ),
    (
        Fault::StatusWithoutListener,
        "UDPRoute",
        &["GatewayTCPAndUDPTutorial"],
    ),
    (
        Fault::StaleObservedGeneration,
        "GatewayObservedGenerationBump",
        &["TCPRouteObservedGenerationBump"],
    ),
    (
        Fault::AttachedRoutesMiscount,
        "UDPRouteParentRefAttachAllListeners",
        &["TCPRouteParentRefAttachAll"],
    ),
    (
        Fault::CrossNamespaceWithoutGrant,
        "TCPRouteInvalidCrossNamespaceBackendRef",
        &["TCPRouteBackendWithoutGrantRejectsConnections"],
    ),
    (
        Fault::GrantScopeIgnored,
        "TCPRouteReferenceGrantScope",
        &["UDPRouteReferenceGrantScope"],
    ),
    (
        Fault::RouteDeletionKeepsTraffic,
        "TCPRouteDeletionStopsNewConnections",
        &["UDPRouteDeletionStopsNewDatagrams"],
    ),
    (
        Fault::SlowConvergence,
        "TCPRouteWeightChangeConverges",
        &["TCPRouteObservedGenerationBump"],
    ),
];

/// What a variation's run must show besides passing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shows {
    /// Nothing more.
    Nothing,
    /// A warning (a should or recommended miss) whose text has this.
    Warning(&'static str),
    /// UDP probes that needed a resend (loss, absorbed).
    Resends,
}

/// The tests a variation runs against (by default; `--full`: all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// These tests.
    Tests(&'static [&'static str]),
    /// Every test that needs this feature.
    Feature(&'static str),
}

/// For each allowed variation: the tests it touches and what the run must
/// show.
pub const VARIANTS: &[(Variant, Scope, Shows)] = &[
    (
        Variant::MultiRuleRejected,
        Scope::Tests(&["TCPRouteMultipleRules", "UDPRouteMultipleRules"]),
        Shows::Nothing,
    ),
    (
        Variant::TcpUdpSamePortRefused,
        Scope::Tests(&["GatewayTCPAndUDPOnSamePort"]),
        Shows::Nothing,
    ),
    (
        Variant::WeightedRoundRobin,
        Scope::Tests(&[
            "TCPRouteWeightedRouting",
            "UDPRouteWeightedRouting",
            "TCPRouteInvalidBackendShareIsRejected",
        ]),
        Shows::Nothing,
    ),
    (
        Variant::RejectByAcceptClose,
        Scope::Tests(&[
            "TCPRouteAllWeightsZeroRejectsConnections",
            "TCPRouteNonexistentBackendRejectsConnections",
            "TCPRouteInvalidBackendShareIsRejected",
        ]),
        Shows::Warning("closedWithoutReply"),
    ),
    (Variant::UdpLoss, Scope::Feature("UDPRoute"), Shows::Resends),
    (
        Variant::UdpSessionCap,
        Scope::Tests(&[
            "UDPRouteWeightedRouting",
            "UDPRouteWeightsWithUnequalReplicas",
            "UDPRouteInvalidBackendShareIsDropped",
        ]),
        Shows::Warning("session limit"),
    ),
];

/// The test written to catch `fault`.
pub fn expected_catcher(fault: Fault) -> &'static str {
    EXPECTED
        .iter()
        .find(|(f, _, _)| *f == fault)
        .map(|(_, catcher, _)| *catcher)
        .unwrap_or_default()
}

/// `gwl4 self-test` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct SelfTestArgs {
    /// Faults to check (comma-separated; default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub faults: Option<Vec<Fault>>,
    /// Allowed variations to check (comma-separated; default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub variants: Option<Vec<Variant>>,
    /// Run the whole catalog against the clean gateway, each fault and each
    /// variation (default: the tests each one touches).
    #[arg(long)]
    pub full: bool,
    /// Directory for selftest.json, selftest.html and each run's reports
    /// under `selftest/<run>/` (default gwl4-reports).
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
}

/// One run's outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOutcome {
    /// `clean` or the fault's name.
    pub name: String,
    /// gwl4's exit code (None: killed by a signal).
    pub exit_code: Option<i32>,
    /// Tests that ran (passed or failed).
    pub tests_run: usize,
    /// Tests that failed (or did not finish).
    pub failed: Vec<String>,
    /// Where the run's reports are.
    pub report_dir: PathBuf,
}

/// One row of the matrix.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRow {
    /// The fault's `--fault` name.
    pub fault: String,
    /// The test written to catch it.
    pub expected_catcher: String,
    /// Whether the expected catcher failed against the fault.
    pub caught_by_expected: bool,
    /// The level it was caught at: `must` when some test failed a `must`
    /// against it (the fault breaks the spec's MUST, so a run without
    /// `--strict` fails too), else `should/recommended`.
    pub caught_at: String,
    /// The run against the fault; `failed` lists the tests that caught it.
    pub run: RunOutcome,
}

/// One allowed variation's row.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantRow {
    /// The variant's `--variant` name.
    pub variant: String,
    /// Whether the run passed (exit 0, no failure) and showed what it
    /// should.
    pub passed: bool,
    /// What it had to show, and whether it did (empty: nothing asked).
    pub shows: String,
    /// Tests that passed with warnings.
    pub warned: Vec<String>,
    /// The run; `failed` lists tests that failed (none, when it passed).
    pub run: RunOutcome,
}

/// The whole self-test result (`selftest.json`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SelfTestReport {
    /// Whether the self-test passed.
    pub passed: bool,
    /// Whether every run covered the whole catalog (`--full`).
    pub full: bool,
    /// The run against the clean gateway.
    pub clean: RunOutcome,
    /// One row per fault checked.
    pub faults: Vec<FaultRow>,
    /// One row per allowed variation checked.
    pub variants: Vec<VariantRow>,
}

/// Runs the self-test; returns the exit code.
pub fn run(args: &SelfTestArgs) -> u8 {
    match self_test(args) {
        Ok(report) => {
            if report.passed {
                exit::SUCCESS
            } else {
                exit::TEST_FAILED
            }
        }
        Err(message) => {
            eprintln!("gwl4 self-test: error: {message}");
            exit::SETUP_ERROR
        }
    }
}

fn self_test(args: &SelfTestArgs) -> Result<SelfTestReport, String> {
    let gwl4 = std::env::current_exe().map_err(|e| format!("cannot find the gwl4 binary: {e}"))?;
    if gwl4.to_string_lossy().contains(char::is_whitespace) {
        return Err(format!(
            "the gwl4 binary's path has whitespace, which --gateway-command cannot carry: {}",
            gwl4.display()
        ));
    }
    let specs = suite::load::builtin().map_err(|e| e.to_string())?;
    let catalog: Vec<String> = specs.iter().map(|t| t.name.clone()).collect();
    let faults: Vec<Fault> = args
        .faults
        .clone()
        .unwrap_or_else(|| Fault::all().collect());
    let variants: Vec<Variant> = args
        .variants
        .clone()
        .unwrap_or_else(|| Variant::all().collect());
    let variant_tests = |variant: Variant| -> BTreeSet<String> {
        VARIANTS
            .iter()
            .filter(|(v, _, _)| *v == variant)
            .flat_map(|(_, scope, _)| match scope {
                Scope::Tests(tests) => tests.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
                Scope::Feature(f) => specs
                    .iter()
                    .filter(|t| t.features.iter().any(|g| g == f))
                    .map(|t| t.name.clone())
                    .collect(),
            })
            .collect()
    };
    for variant in &variants {
        in_catalog(
            &format!("variant {}", variant.name()),
            variant_tests(*variant),
            &catalog,
        )?;
    }
    let subset = |fault: Fault| -> BTreeSet<String> {
        EXPECTED
            .iter()
            .filter(|(f, _, _)| *f == fault)
            .flat_map(|(_, catcher, related)| std::iter::once(catcher).chain(related.iter()))
            .map(|s| (*s).to_owned())
            .collect()
    };
    for fault in &faults {
        in_catalog(&format!("fault {}", fault.name()), subset(*fault), &catalog)?;
    }
    let selected = |names: Option<BTreeSet<String>>| -> Vec<String> {
        match names {
            None => Vec::new(),
            Some(keep) => catalog
                .iter()
                .filter(|t| !keep.contains(*t))
                .cloned()
                .collect(),
        }
    };
    let report_dir = args
        .report_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("gwl4-reports"));
    let runs_dir = report_dir.join("selftest");
    let clean_tests = (!args.full).then(|| {
        faults
            .iter()
            .flat_map(|f| subset(*f))
            .chain(variants.iter().flat_map(|v| variant_tests(*v)))
            .collect()
    });
    println!("gwl4 self-test: clean reference gateway (--strict)");
    let (clean, _) = run_once(
        &gwl4,
        "clean",
        None,
        true,
        &selected(clean_tests),
        &runs_dir,
    )?;
    let mut rows = Vec::new();
    for fault in &faults {
        let name = fault.name();
        println!("gwl4 self-test: fault {name}");
        let tests = (!args.full).then(|| subset(*fault));
        let flag = format!("--fault {name}");
        let (run, record) = run_once(&gwl4, &name, Some(&flag), true, &selected(tests), &runs_dir)?;
        let expected = expected_catcher(*fault);
        // Caught at must when any test that ran failed a must against it.
        let at_must = record.tests.iter().any(|t| t.must_kind().is_failure());
        rows.push(FaultRow {
            fault: name,
            expected_catcher: expected.to_owned(),
            caught_by_expected: run.failed.iter().any(|t| t == expected),
            caught_at: if at_must {
                "must"
            } else {
                "should/recommended"
            }
            .to_owned(),
            run,
        });
    }
    let mut variant_rows = Vec::new();
    for variant in &variants {
        let name = variant.name();
        println!("gwl4 self-test: allowed variation {name}");
        let tests = (!args.full).then(|| variant_tests(*variant));
        let flag = format!("--variant {name}");
        let dir_name = format!("variant-{name}");
        let (run, record) = run_once(
            &gwl4,
            &dir_name,
            Some(&flag),
            false,
            &selected(tests),
            &runs_dir,
        )?;
        let shows = VARIANTS
            .iter()
            .find(|(v, _, _)| v == variant)
            .map_or(Shows::Nothing, |(_, _, s)| *s);
        let (shown, shows_text) = showed(&record, shows);
        let warned: Vec<String> = record
            .tests
            .iter()
            .filter(|t| t.kind() == reports::ResultKind::Warned)
            .map(|t| t.info.name.clone())
            .collect();
        variant_rows.push(VariantRow {
            variant: name,
            passed: run.exit_code == Some(i32::from(exit::SUCCESS))
                && run.failed.is_empty()
                && run.tests_run > 0
                && shown,
            shows: shows_text,
            warned,
            run,
        });
    }
    let clean_ok = clean.exit_code == Some(i32::from(exit::SUCCESS)) && clean.failed.is_empty();
    let report = SelfTestReport {
        passed: clean_ok
            && rows.iter().all(|r| r.caught_by_expected)
            && variant_rows.iter().all(|r| r.passed),
        full: args.full,
        clean,
        faults: rows,
        variants: variant_rows,
    };
    print!("{}", table(&report));
    write_reports(&report, &report_dir)?;
    Ok(report)
}

/// An error naming `what` if any of `tests` is not in the catalog.
fn in_catalog(what: &str, tests: BTreeSet<String>, catalog: &[String]) -> Result<(), String> {
    let missing: Vec<String> = tests.into_iter().filter(|t| !catalog.contains(t)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{what}: tests not in the catalog: {}",
            missing.join(", ")
        ))
    }
}

/// Whether a variation's run showed what it must, and that in words.
fn showed(record: &reports::RunRecord, shows: Shows) -> (bool, String) {
    match shows {
        Shows::Nothing => (true, String::new()),
        Shows::Warning(text) => {
            let seen = record.tests.iter().any(|t| {
                t.kind() == reports::ResultKind::Warned && t.result_message().contains(text)
            });
            (
                seen,
                format!(
                    "a warning mentioning {text:?}: {}",
                    if seen { "seen" } else { "MISSING" }
                ),
            )
        }
        Shows::Resends => {
            let resent: u64 = record
                .tests
                .iter()
                .flat_map(|t| &t.steps)
                .flat_map(|s| &s.evidence)
                .filter_map(|e| match e {
                    reports::Evidence::Traffic(t) => t.udp.map(|u| u.resent_probes),
                    _ => None,
                })
                .sum();
            (
                resent > 0,
                format!("UDP probes resent after loss: {resent}"),
            )
        }
    }
}

/// Runs gwl4 once, skipping `skip`, against the reference gateway with
/// `gateway_flags` (`--fault NAME` or `--variant NAME`; none: the clean
/// gateway), `--strict` if asked; its reports go to `runs_dir/<name>/`.
fn run_once(
    gwl4: &Path,
    name: &str,
    gateway_flags: Option<&str>,
    strict: bool,
    skip: &[String],
    runs_dir: &Path,
) -> Result<(RunOutcome, reports::RunRecord), String> {
    let dir = runs_dir.join(name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let log_path = dir.join("gwl4.log");
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log2 = log
        .try_clone()
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut command = Command::new(gwl4);
    command.arg("--report-dir").arg(&dir).arg("--exact");
    for test in skip {
        command.arg("--skip").arg(test);
    }
    if let Some(flags) = gateway_flags {
        command.arg("--gateway-command").arg(format!(
            "{} reference-gateway standalone {flags}",
            gwl4.display()
        ));
    }
    if strict {
        command.arg("--strict");
    }
    let status = command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", gwl4.display()))?;
    let json = dir.join("report.json");
    let record = reports::read_json(&json).map_err(|e| {
        format!(
            "run {name} (exit {:?}) wrote no readable report ({e}); see {}",
            status.code(),
            log_path.display()
        )
    })?;
    let failed = record
        .tests
        .iter()
        .filter(|t| t.kind().is_failure())
        .map(|t| t.info.name.clone())
        .collect();
    let tests_run = record
        .tests
        .iter()
        .filter(|t| t.kind().is_failure() || t.kind().is_pass())
        .count();
    Ok((
        RunOutcome {
            name: name.to_owned(),
            exit_code: status.code(),
            tests_run,
            failed,
            report_dir: dir,
        },
        record,
    ))
}

/// The matrix as a text table.
pub fn table(report: &SelfTestReport) -> String {
    let mut out = String::new();
    let clean = &report.clean;
    let _ = writeln!(out, "\ngwl4 self-test");
    let _ = writeln!(
        out,
        "  clean reference gateway: {} tests run, {} failed{}",
        clean.tests_run,
        clean.failed.len(),
        if clean.failed.is_empty() {
            String::new()
        } else {
            format!(" ({})", clean.failed.join(", "))
        }
    );
    let width = report
        .faults
        .iter()
        .map(|r| r.fault.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        out,
        "  {:<width$}  {:<8}  {:<18}  {:<42}  caught by",
        "fault", "expected", "at level", "expected catcher"
    );
    for row in &report.faults {
        let _ = writeln!(
            out,
            "  {:<width$}  {:<8}  {:<18}  {:<42}  {}",
            row.fault,
            if row.caught_by_expected {
                "caught"
            } else {
                "MISSED"
            },
            if row.caught_by_expected {
                row.caught_at.as_str()
            } else {
                ""
            },
            row.expected_catcher,
            if row.run.failed.is_empty() {
                "nothing".to_owned()
            } else {
                row.run.failed.join(", ")
            }
        );
    }
    if !report.variants.is_empty() {
        let width = report
            .variants
            .iter()
            .map(|r| r.variant.len())
            .max()
            .unwrap_or(9)
            .max(9);
        let _ = writeln!(out, "  {:<width$}  {:<8}  result", "variation", "verdict");
        for row in &report.variants {
            let detail = if row.run.failed.is_empty() {
                format!(
                    "{} tests run, 0 failed, {} with warnings{}",
                    row.run.tests_run,
                    row.warned.len(),
                    if row.shows.is_empty() {
                        String::new()
                    } else {
                        format!("; {}", row.shows)
                    }
                )
            } else {
                format!("FAILED {}", row.run.failed.join(", "))
            };
            let _ = writeln!(
                out,
                "  {:<width$}  {:<8}  {detail}",
                row.variant,
                if row.passed { "allowed" } else { "FAILED" }
            );
        }
    }
    let _ = writeln!(
        out,
        "  self-test {}",
        if report.passed { "passed" } else { "FAILED" }
    );
    out
}

fn write_reports(report: &SelfTestReport, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = dir.join("selftest.json");
    let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    std::fs::write(&json, text + "\n").map_err(|e| format!("{}: {e}", json.display()))?;
    let html = dir.join("selftest.html");
    std::fs::write(&html, html_page(report)).map_err(|e| format!("{}: {e}", html.display()))?;
    println!("wrote {}", json.display());
    println!("wrote {}", html.display());
    Ok(())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The matrix as one self-contained HTML page (inline CSS, no scripts).
pub fn html_page(report: &SelfTestReport) -> String {
    let mut rows = String::new();
    for row in &report.faults {
        let caught = if row.run.failed.is_empty() {
            "<em>nothing</em>".to_owned()
        } else {
            row.run
                .failed
                .iter()
                .map(|t| {
                    if *t == row.expected_catcher {
                        format!("<strong>{}</strong>", escape(t))
                    } else {
                        escape(t)
                    }
                })
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let _ = writeln!(
            rows,
            "<tr class=\"{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if row.caught_by_expected { "ok" } else { "bad" },
            escape(&row.fault),
            escape(&row.expected_catcher),
            if row.caught_by_expected {
                format!("caught ({})", row.caught_at)
            } else {
                "MISSED".to_owned()
            },
            row.run.tests_run,
            caught
        );
    }
    let mut variant_rows = String::new();
    for row in &report.variants {
        let _ = writeln!(
            variant_rows,
            "<tr class=\"{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if row.passed { "ok" } else { "bad" },
            escape(&row.variant),
            if row.passed { "allowed" } else { "FAILED" },
            row.run.tests_run,
            escape(&if row.run.failed.is_empty() {
                row.warned.join(", ")
            } else {
                format!("failed: {}", row.run.failed.join(", "))
            }),
            escape(&row.shows),
        );
    }
    let clean = &report.clean;
    let clean_text = if clean.failed.is_empty() {
        format!("passed all {} tests it ran", clean.tests_run)
    } else {
        format!(
            "FAILED {} of {} tests: {}",
            clean.failed.len(),
            clean.tests_run,
            escape(&clean.failed.join(", "))
        )
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gwl4 self-test</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }}
tr.ok td:nth-child(3) {{ color: #1a7f37; font-weight: bold; }}
tr.bad td {{ background: #fdecea; }}
tr.bad td:nth-child(3) {{ color: #b3261e; font-weight: bold; }}
.verdict {{ font-size: 1.2em; font-weight: bold; }}
</style></head><body>
<h1>gwl4 self-test</h1>
<p class="verdict">Self-test {verdict}.</p>
<p>Clean reference gateway: {clean_text}. Scope: {scope}.</p>
<p>Each row: the reference gateway with one deliberate bug (<code>--fault NAME</code>), the test written to catch it, and every test that failed against it (the expected catcher in bold).</p>
<table>
<tr><th>fault</th><th>expected catcher</th><th>verdict</th><th>tests run</th><th>caught by</th></tr>
{rows}</table>
<h2>Allowed variations</h2>
<p>Each row: the reference gateway doing something the spec allows other than its default (<code>--variant NAME</code>); the catalog must pass it (warnings allowed).</p>
<table>
<tr><th>variation</th><th>verdict</th><th>tests run</th><th>warnings (or failures)</th><th>shows</th></tr>
{variant_rows}</table>
</body></html>
"#,
        verdict = if report.passed { "passed" } else { "FAILED" },
        scope = if report.full {
            "the whole catalog in every run"
        } else {
            "each fault's expected catcher and related tests"
        },
    )
}
