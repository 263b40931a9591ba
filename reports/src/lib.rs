//! reports: a gwl4 run's events folded into the formats people review it in.
//!
//! The harness emits [`TestEvent`]s; [`RunRecord`] folds them (a pure fold,
//! no clock, no I/O); every format is written from the record:
//! JUnit XML for CI summaries, one self-contained HTML page for people, the
//! upstream `ConformanceReport` YAML, and the complete record as JSON (read
//! back by `gwl4 compare`, which renders [`compare_html`]).
//!
//! # Layout
//!
//! - `event`: [`TestEvent`] and its payloads; [`SCHEMA_VERSION`].
//! - `evidence`: [`Evidence`] a step carries (conditions, traffic,
//!   distribution, rejection, convergence, text).
//! - `record`: [`RunRecord`], the fold, [`ResultKind`].
//! - `profiles`: upstream GATEWAY-TCP / GATEWAY-UDP profiles and membership.
//! - `text`: evidence as plain text and shared number formatting.
//! - `time`: where a run's time went (the slowest tests, by phase).
//! - `junit`: JUnit XML (quick-junit).
//! - `conformance`: upstream `ConformanceReport` (`apis/v1`) and its rules
//!   (unit tests of the rules in `conformance_tests.rs`).
//! - `json`: the record as JSON, and its reader.
//! - `html`: the HTML report (maud; `html/evidence.rs` renders steps,
//!   `html/charts.rs` draws SVG with plotters, `html/style.css` is inlined),
//!   and `html/compare.rs`, the comparison page.
//! - `write_all` (here): every format into one report directory.
//!
//! Tests: `tests/formats.rs` (insta snapshots of JUnit, ConformanceReport
//! and JSON from the fixed run in `tests/common`, each format read back by
//! an independent parser), `tests/browser.rs` (headless Chromium; needs
//! Debian's `chromium`, or `GWL4_SKIP_BROWSER=1`), `tests/stats_compat.rs`
//! (the `stats` crate's verdicts deserialise as evidence unchanged).

mod conformance;
mod event;
mod evidence;
mod html;
mod json;
mod junit;
pub mod profiles;
mod record;
pub mod text;
pub mod time;

use std::path::{Path, PathBuf};

pub use conformance::{
    API_VERSION, ConformanceReport, ConformanceResult, ExtendedStatus, KIND, ProfileReport,
    ReportImplementation, Statistics, Status, conformance_report, conformance_yaml,
    suggested_file_name, validate_implementation, write_conformance_report,
};
pub use event::{
    Implementation, Level, Mode, RunFinished, RunSettings, RunStarted, SCHEMA_VERSION, SpecRef,
    StepFinished, StepOutcome, StepRecord, TestEvent, TestFinished, TestResult, TestStarted,
    Timing,
};
pub use evidence::{
    BackendShare, ConditionsEvidence, ConvergenceEvidence, DistributionEvidence, Evidence,
    HistogramBucket, Interval, LatencySummary, ObjectConditions, RejectionEvidence, TextEvidence,
    ToleranceEvidence, TrafficEvidence, TrafficExample, UdpTries, UnexpectedBackend,
};
pub use html::{compare_html, html_report, write_html};
pub use json::{json_from_str, json_string, read_json, write_json};
pub use junit::{junit_report, junit_string, suite_of, write_junit};
pub use record::{FoldError, ResultKind, RunRecord, TestRecord};

/// File names [`write_all`] uses inside the report directory.
pub const JUNIT_FILE: &str = "junit.xml";
/// See [`JUNIT_FILE`].
pub const HTML_FILE: &str = "report.html";
/// See [`JUNIT_FILE`].
pub const JSON_FILE: &str = "report.json";

/// Why a report could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The events did not describe a run.
    #[error("event stream: {0}")]
    Fold(#[from] FoldError),
    /// quick-junit could not serialise the report.
    #[error("JUnit XML: {0}")]
    Junit(String),
    /// The ConformanceReport could not be serialised.
    #[error("ConformanceReport YAML: {0}")]
    Yaml(String),
    /// A run record's JSON was malformed.
    #[error("run record{}: {message}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Json {
        /// The file, when reading one.
        path: Option<PathBuf>,
        /// What was wrong, with the field path.
        message: String,
    },
    /// A run record from another schema version.
    #[error("run record{}: schemaVersion is {found}, this gwl4 reads 1 to {expected}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    SchemaVersion {
        /// The file, when reading one.
        path: Option<PathBuf>,
        /// The version found (`none` if absent).
        found: String,
        /// The version this build reads.
        expected: u32,
    },
    /// The implementation fields a ConformanceReport requires are missing or malformed.
    #[error("ConformanceReport: implementation.{field} {problem}")]
    Implementation {
        /// The field of `implementation`.
        field: &'static str,
        /// What is wrong and how to fix it.
        problem: String,
    },
}

impl ReportError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// Attaches the file a JSON error is about.
    fn at(self, file: &Path) -> Self {
        match self {
            ReportError::Json { message, .. } => ReportError::Json {
                path: Some(file.to_owned()),
                message,
            },
            ReportError::SchemaVersion {
                found, expected, ..
            } => ReportError::SchemaVersion {
                path: Some(file.to_owned()),
                found,
                expected,
            },
            other => other,
        }
    }
}

/// Writes `junit.xml`, `report.html` and `report.json` into `dir` (created if
/// missing), and the ConformanceReport to `conformance_report` when given
/// (upstream's `--report-output`; relative paths are taken as given, not
/// relative to `dir`). Returns the paths written, in that order.
pub fn write_all(
    record: &RunRecord,
    dir: &Path,
    conformance_report: Option<&Path>,
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    let junit = dir.join(JUNIT_FILE);
    write_junit(record, &junit)?;
    let html = dir.join(HTML_FILE);
    write_html(record, &html)?;
    let json = dir.join(JSON_FILE);
    write_json(record, &json)?;
    let mut written = vec![junit, html, json];
    if let Some(path) = conformance_report {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| ReportError::io(parent, e))?;
        }
        write_conformance_report(record, path)?;
        written.push(path.to_owned());
    }
    Ok(written)
}
