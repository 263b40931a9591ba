//! The upstream `ConformanceReport` (`conformance/apis/v1`), field for field.
//!
//! Only tests with an `upstream` name count, under that name; gwl4's own
//! tests appear in the other formats. Rules, as upstream's
//! `conformance/utils/suite/reports.go`:
//!
//! - a test counts in every reported profile it belongs to
//!   ([`crate::profiles`]; gwl4's own features are ignored there), and is
//!   *extended* for a profile if any of its upstream features is not core;
//! - passed and failed tests count (failed provisional tests too); skipped
//!   tests count unless provisional; not-supported tests never count;
//! - a status is `failure` if any counted test failed, else `partial` if any
//!   was skipped, else `success`;
//! - provisional tests that passed are listed in `succeededProvisionalTests`.
//!
//! gwl4 additions, documented because upstream has no such cases: only the
//! spec's MUSTs decide a test's result here ([`crate::TestRecord::must_kind`]:
//! a test that passed with warnings, or failed only on `should` or
//! `recommended` steps in a `--strict` run, counts as passed); a test that
//! never finished counts as failed; several gwl4 tests with
//! the same upstream name are merged into one (failed > not supported >
//! skipped > passed; features united; provisional if any is).
//!
//! Fields are declared in alphabetical order because upstream's YAML
//! (sigs.k8s.io/yaml, via JSON) sorts keys, so diffs against upstream reports
//! stay small.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ReportError;
use crate::event::Implementation;
use crate::profiles::{PROFILES, Profile, profile, profiles_of};
use crate::record::{ResultKind, RunRecord};

/// `apiVersion` of the report.
pub const API_VERSION: &str = "gateway.networking.k8s.io/v1";
/// `kind` of the report.
pub const KIND: &str = "ConformanceReport";

/// Upstream `ConformanceReport`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConformanceReport {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// When the report was made (RFC 3339).
    pub date: String,
    /// `standard` or `experimental`.
    #[serde(rename = "gatewayAPIChannel")]
    pub gateway_api_channel: String,
    /// Gateway API release the run was made for.
    #[serde(rename = "gatewayAPIVersion")]
    pub gateway_api_version: String,
    /// The implementation tested.
    pub implementation: ReportImplementation,
    /// Always [`KIND`].
    pub kind: String,
    /// The implementation's operating mode (upstream `--mode`).
    pub mode: String,
    /// One report per profile.
    pub profiles: Vec<ProfileReport>,
    /// Provisional tests that passed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub succeeded_provisional_tests: Vec<String>,
}

/// Upstream `Implementation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportImplementation {
    /// Maintainers' contacts.
    pub contact: Vec<String>,
    /// Maintaining organization.
    pub organization: String,
    /// Project name.
    pub project: String,
    /// Project URL.
    pub url: String,
    /// Version tested.
    pub version: String,
}

/// Upstream `ProfileReport`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileReport {
    /// Core results.
    pub core: Status,
    /// Extended results, when any extended test counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended: Option<ExtendedStatus>,
    /// Profile name.
    pub name: String,
    /// Human-readable summary, worded as upstream's.
    pub summary: String,
}

/// Upstream `Status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Counted tests that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_tests: Vec<String>,
    /// The verdict.
    pub result: ConformanceResult,
    /// Counted tests that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_tests: Vec<String>,
    /// Counts.
    pub statistics: Statistics,
}

/// Upstream `ExtendedStatus`: a [`Status`] plus the extended features.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtendedStatus {
    /// The extended tests' status.
    #[serde(flatten)]
    pub status: Status,
    /// Extended features of the profile the implementation supports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_features: Vec<String>,
    /// Extended features of the profile it does not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported_features: Vec<String>,
}

/// Upstream `Statistics`: the keys are capitalised (Go fields without tags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statistics {
    /// Failed tests.
    #[serde(rename = "Failed")]
    pub failed: u32,
    /// Passed tests.
    #[serde(rename = "Passed")]
    pub passed: u32,
    /// Skipped tests.
    #[serde(rename = "Skipped")]
    pub skipped: u32,
}

/// Upstream `Result`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConformanceResult {
    /// No counted test failed or was skipped.
    #[default]
    Success,
    /// Nothing failed, something was skipped.
    Partial,
    /// Something failed.
    Failure,
}

/// One upstream test's merged outcome.
struct UpstreamTest {
    name: String,
    features: Vec<String>,
    provisional: bool,
    kind: ResultKind,
}

/// Merge precedence: failed > not supported > skipped > passed.
fn rank(kind: ResultKind) -> u8 {
    match kind {
        ResultKind::Failed | ResultKind::Incomplete => 3,
        ResultKind::NotSupported => 2,
        ResultKind::Skipped => 1,
        ResultKind::Passed | ResultKind::Warned => 0,
    }
}

fn upstream_tests(record: &RunRecord) -> Vec<UpstreamTest> {
    let mut out: Vec<UpstreamTest> = Vec::new();
    for test in &record.tests {
        let Some(name) = &test.info.upstream else {
            continue;
        };
        // Incomplete is reported as failed: never a pass. Only MUSTs
        // decide: a pass with warnings is a pass.
        let kind = match test.must_kind() {
            ResultKind::Incomplete => ResultKind::Failed,
            ResultKind::Warned => ResultKind::Passed,
            k => k,
        };
        if let Some(existing) = out.iter_mut().find(|u| &u.name == name) {
            for f in &test.info.features {
                if !existing.features.contains(f) {
                    existing.features.push(f.clone());
                }
            }
            existing.provisional |= test.info.provisional;
            if rank(kind) > rank(existing.kind) {
                existing.kind = kind;
            }
        } else {
            out.push(UpstreamTest {
                name: name.clone(),
                features: test.info.features.clone(),
                provisional: test.info.provisional,
                kind,
            });
        }
    }
    out
}

impl Status {
    fn add(&mut self, test: &UpstreamTest) {
        match test.kind {
            ResultKind::Passed | ResultKind::Warned => self.statistics.passed += 1,
            ResultKind::Failed | ResultKind::Incomplete => {
                self.statistics.failed += 1;
                self.failed_tests.push(test.name.clone());
            }
            ResultKind::Skipped => {
                self.statistics.skipped += 1;
                self.skipped_tests.push(test.name.clone());
            }
            ResultKind::NotSupported => {}
        }
    }

    fn compile(&mut self) {
        self.result = if self.statistics.failed > 0 {
            ConformanceResult::Failure
        } else if self.statistics.skipped > 0 {
            ConformanceResult::Partial
        } else {
            ConformanceResult::Success
        };
        self.failed_tests.sort();
        self.skipped_tests.sort();
    }

    fn summary(&self) -> String {
        match self.result {
            ConformanceResult::Success => "succeeded".to_owned(),
            ConformanceResult::Partial => format!(
                "partially succeeded with {} test skips",
                self.statistics.skipped
            ),
            ConformanceResult::Failure => {
                format!("failed with {} test failures", self.statistics.failed)
            }
        }
    }
}

/// Profiles to report: the run's selected ones gwl4 knows, or all when none
/// was selected.
fn reported_profiles(record: &RunRecord) -> Vec<&'static Profile> {
    let selected: Vec<&'static Profile> = record
        .run
        .settings
        .profiles
        .iter()
        .filter_map(|name| profile(name))
        .collect();
    if selected.is_empty() {
        PROFILES.iter().collect()
    } else {
        selected
    }
}

/// Builds the report from a run.
pub fn conformance_report(record: &RunRecord) -> ConformanceReport {
    let tests = upstream_tests(record);
    let supported: BTreeSet<&str> = record
        .run
        .settings
        .supported_features
        .iter()
        .map(String::as_str)
        .collect();
    let mut profiles = Vec::new();
    for profile in reported_profiles(record) {
        let members: Vec<&UpstreamTest> = tests
            .iter()
            .filter(|t| profiles_of(&t.features).contains(&profile))
            .collect();
        // Upstream creates a profile's report when any test of it ran.
        if members.is_empty() {
            continue;
        }
        let mut core = Status::default();
        let mut extended: Option<Status> = None;
        for test in members {
            // Provisional tests skipped are upstream's PROVISIONAL_SKIPPED: not counted.
            if test.provisional && test.kind == ResultKind::Skipped {
                continue;
            }
            if profile.is_extended_test(&test.features) {
                if test.kind != ResultKind::NotSupported {
                    extended.get_or_insert_with(Status::default).add(test);
                }
            } else {
                core.add(test);
            }
        }
        core.compile();
        let extended = extended.map(|mut status| {
            status.compile();
            let mut ext: Vec<&str> = profile.extended.to_vec();
            ext.sort_unstable();
            ExtendedStatus {
                status,
                supported_features: ext
                    .iter()
                    .filter(|f| supported.contains(*f))
                    .map(|f| (*f).to_owned())
                    .collect(),
                unsupported_features: ext
                    .iter()
                    .filter(|f| !supported.contains(*f))
                    .map(|f| (*f).to_owned())
                    .collect(),
            }
        });
        let mut summary = format!("Core tests {}", core.summary());
        if let Some(ext) = &extended {
            summary = format!("{summary}. Extended tests {}", ext.status.summary());
        }
        summary.push('.');
        profiles.push(ProfileReport {
            core,
            extended,
            name: profile.name.to_owned(),
            summary,
        });
    }
    let mut succeeded_provisional_tests: Vec<String> = tests
        .iter()
        .filter(|t| t.provisional && t.kind == ResultKind::Passed)
        .map(|t| t.name.clone())
        .collect();
    succeeded_provisional_tests.sort();
    let run = &record.run;
    ConformanceReport {
        api_version: API_VERSION.to_owned(),
        date: record
            .finished
            .as_ref()
            .map_or_else(|| run.start_time.clone(), |f| f.end_time.clone()),
        gateway_api_channel: run.gateway_api_channel.clone(),
        gateway_api_version: run.gateway_api_version.clone(),
        implementation: ReportImplementation {
            contact: run.implementation.contact.clone(),
            organization: run.implementation.organization.clone(),
            project: run.implementation.project.clone(),
            url: run.implementation.url.clone(),
            version: run.implementation.version.clone(),
        },
        kind: KIND.to_owned(),
        mode: run.conformance_mode.clone(),
        profiles,
        succeeded_provisional_tests,
    }
}

/// The report as YAML text.
pub fn conformance_yaml(record: &RunRecord) -> Result<String, ReportError> {
    serde_yaml::to_string(&conformance_report(record)).map_err(|e| ReportError::Yaml(e.to_string()))
}

/// Checks the implementation fields upstream requires in a report
/// (`Implementation.Validate`): all set, and an absolute http(s) URL.
pub fn validate_implementation(imp: &Implementation) -> Result<(), ReportError> {
    let missing = |field: &'static str, flag: &'static str| ReportError::Implementation {
        field,
        problem: format!("is empty; set it with {flag}"),
    };
    if imp.organization.trim().is_empty() {
        return Err(missing("organization", "--organization"));
    }
    if imp.project.trim().is_empty() {
        return Err(missing("project", "--project"));
    }
    if imp.url.trim().is_empty() {
        return Err(missing("url", "--url"));
    }
    let host = imp
        .url
        .strip_prefix("https://")
        .or_else(|| imp.url.strip_prefix("http://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
    if host.is_none_or(str::is_empty) {
        return Err(ReportError::Implementation {
            field: "url",
            problem: format!("{:?} is not an absolute http(s) URL with a host", imp.url),
        });
    }
    if imp.version.trim().is_empty() {
        return Err(missing("version", "--version"));
    }
    if imp.contact.iter().all(|c| c.trim().is_empty()) {
        return Err(missing("contact", "--contact"));
    }
    Ok(())
}

/// Writes the report to `path` (upstream's `--report-output`), after
/// [`validate_implementation`], as upstream refuses a report without them.
pub fn write_conformance_report(record: &RunRecord, path: &Path) -> Result<(), ReportError> {
    validate_implementation(&record.run.implementation)?;
    let yaml = conformance_yaml(record)?;
    std::fs::write(path, yaml).map_err(|e| ReportError::io(path, e))
}

/// Upstream's suggested file name: `<channel>-<version>-<mode>-report.yaml`.
pub fn suggested_file_name(record: &RunRecord) -> String {
    format!(
        "{}-{}-{}-report.yaml",
        record.run.gateway_api_channel,
        record.run.implementation.version,
        record.run.conformance_mode
    )
}

#[cfg(test)]
#[path = "conformance_tests.rs"]
mod tests;
