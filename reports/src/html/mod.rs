//! The HTML report: one self-contained page (inline CSS and SVG, no script,
//! nothing fetched) that opens offline and prints.
//!
//! Order on the page: header (implementation, GatewayClass, versions,
//! settings), verdict, `<section id="failures">` linking to each failed test,
//! `<section id="warnings">` linking to each test that passed with warnings
//! (a `should` or `recommended` step missed; its own colour), the summary
//! matrix by profile and feature, the table of tests
//! (`<tr data-test=… data-result=…>`), then one `<section class="test">` per
//! test, failures first, then warnings. Each test and step shows its level
//! and the spec sentence it checks. Every distribution and rejection step has an
//! `<svg class="chart distribution">`.

mod charts;
mod compare;
mod evidence;

use std::collections::BTreeMap;
use std::path::Path;

use maud::{DOCTYPE, Markup, PreEscaped, html};

pub use compare::compare_html;

use crate::ReportError;
use crate::junit::suite_of;
use crate::profiles::{GWL4_SUITE, PROFILES};
use crate::record::{ResultKind, RunRecord, TestRecord};
use crate::text::seconds;

const STYLE: &str = include_str!("style.css");

/// The `id` of a test's section: `test-` and the name, other characters as `-`.
pub fn anchor(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("test-{safe}")
}

/// Wraps a body in the page skeleton with the inline stylesheet.
pub(crate) fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

fn badge(kind: ResultKind) -> Markup {
    html! { span.badge.(kind.as_str()) { (kind.label()) } }
}

/// The run as one HTML page.
pub fn html_report(record: &RunRecord) -> String {
    let run = &record.run;
    let title = format!(
        "gwl4: {} {} on GatewayClass {}",
        run.implementation.project, run.implementation.version, run.gateway_class
    );
    let tests = record.tests_failures_first();
    let body = html! {
        header {
            h1 { (title) }
            (header_meta(record))
            (verdict(record))
            nav.toc {
                a href="#failures" { "Failures" }
                a href="#warnings" { "Warnings" }
                a href="#summary" { "Summary" }
                a href="#tests" { "Tests" }
            }
        }
        (failures(&tests))
        (warnings(&tests))
        section #summary {
            h2 { "Summary by profile and feature" }
            (matrix(record))
            h2 { "Tests" }
            table.tests {
                tr { th { "test" } th { "suite" } th { "result" } th.num { "time" } th { "detail" } }
                @for test in &tests {
                    tr data-test=(test.info.name) data-result=(test.kind().as_str()) {
                        td { a href=(format!("#{}", anchor(&test.info.name))) { (test.info.name) } }
                        td { (suite_of(test)) }
                        td { (badge(test.kind())) }
                        td.num { (test.elapsed.map(|e| seconds(e.as_secs_f64())).unwrap_or_default()) }
                        td { (test.result_message()) }
                    }
                }
            }
        }
        section #tests {
            h2 { "Tests in detail" }
            @for test in &tests {
                (test_section(test))
            }
        }
    };
    page(&title, body)
}

/// Writes the page to `path`.
pub fn write_html(record: &RunRecord, path: &Path) -> Result<(), ReportError> {
    std::fs::write(path, html_report(record)).map_err(|e| ReportError::io(path, e))
}

fn header_meta(record: &RunRecord) -> Markup {
    let run = &record.run;
    let imp = &run.implementation;
    let s = &run.settings;
    html! {
        div.columns {
            dl.meta {
                dt { "Implementation" } dd { (imp.organization) " / " (imp.project) " " (imp.version) }
                dt { "URL" } dd { code { (imp.url) } }
                dt { "Contact" } dd { (imp.contact.join(", ")) }
                dt { "GatewayClass" } dd { code { (run.gateway_class) } }
                dt { "Gateway API" } dd { (run.gateway_api_version) " (" (run.gateway_api_channel) ")" }
                dt { "Mode" } dd { (run.mode.as_str()) }
                dt { "gwl4" } dd { (run.gwl4_version) }
                dt { "Run" } dd { code { (run.run_id) } }
                dt { "Started" } dd { (run.start_time) }
                @if let Some(f) = &record.finished {
                    dt { "Finished" } dd {
                        (f.end_time) " (" (seconds(f.elapsed.as_secs_f64())) ")"
                        @if f.interrupted { " " strong { "interrupted" } }
                    }
                } @else {
                    dt { "Finished" } dd { strong { "no: the run was interrupted" } }
                }
            }
            dl.meta.settings {
                dt { "α per test" } dd { (crate::text::prob(s.alpha)) }
                dt { "Power" } dd { (s.power) }
                dt { "Detectable effect" } dd { (crate::text::pct(s.detectable_effect)) }
                dt { "Family-wise bound" } dd { (crate::text::prob(s.family_wise_bound)) }
                dt { "Profiles" } dd { (s.profiles.join(", ")) }
                dt { "Supported features" } dd { (s.supported_features.join(", ")) }
                dt { "Timeouts" } dd {
                    details {
                        summary { (s.timeouts.len()) " settings" }
                        table { @for (name, secs) in &s.timeouts { tr { td { (name) } td.num { (secs) " s" } } } }
                    }
                }
            }
        }
    }
}

fn verdict(record: &RunRecord) -> Markup {
    let failed = record.count(ResultKind::Failed) + record.count(ResultKind::Incomplete);
    let class = if failed > 0 { "failed" } else { "passed" };
    let interrupted = record.finished.as_ref().is_some_and(|f| f.interrupted);
    html! {
        p.verdict.(class) {
            @if interrupted { "The run was interrupted: the tests it did not finish are skipped. " }
            @if failed > 0 { (failed) " of " (record.tests.len()) " tests failed. " }
            @else { "No test failed. " }
            @for kind in ResultKind::ALL {
                @let n = record.count(kind);
                @if n > 0 { (badge(kind)) " " (n) " " }
            }
        }
    }
}

fn failures(tests: &[&TestRecord]) -> Markup {
    let failed: Vec<&&TestRecord> = tests.iter().filter(|t| t.kind().is_failure()).collect();
    html! {
        section id="failures" class=(if failed.is_empty() { "none" } else { "some" }) {
            h2 { "Failures (" (failed.len()) ")" }
            @if failed.is_empty() {
                p { "No test failed." }
            } @else {
                ol {
                    @for t in failed {
                        li data-test=(t.info.name) {
                            a href=(format!("#{}", anchor(&t.info.name))) { strong { (t.info.name) } }
                            ": " (t.result_message())
                        }
                    }
                }
            }
        }
    }
}

fn warnings(tests: &[&TestRecord]) -> Markup {
    let warned: Vec<&&TestRecord> = tests
        .iter()
        .filter(|t| t.kind() == ResultKind::Warned)
        .collect();
    html! {
        section id="warnings" class=(if warned.is_empty() { "none" } else { "some" }) {
            h2 { "Warnings (" (warned.len()) ")" }
            @if warned.is_empty() {
                p { "No should or recommended expectation was missed." }
            } @else {
                p.muted { "These tests passed every must; a should (the spec says SHOULD) or recommended (gwl4's own view of good L4 behaviour) expectation did not hold. They fail only with --strict." }
                ol {
                    @for t in warned {
                        li data-test=(t.info.name) {
                            a href=(format!("#{}", anchor(&t.info.name))) { strong { (t.info.name) } }
                            ": " (t.result_message())
                        }
                    }
                }
            }
        }
    }
}

/// Counts per result kind, keyed by (suite, feature); feature `""` is the suite total.
fn matrix(record: &RunRecord) -> Markup {
    let mut rows: BTreeMap<(usize, String), [usize; ResultKind::ALL.len()]> = BTreeMap::new();
    let suites: Vec<&str> = PROFILES
        .iter()
        .map(|p| p.name)
        .chain([GWL4_SUITE])
        .collect();
    for test in &record.tests {
        let suite = suite_of(test);
        let order = suites
            .iter()
            .position(|s| *s == suite)
            .unwrap_or(suites.len());
        let col = ResultKind::ALL
            .iter()
            .position(|k| *k == test.kind())
            .unwrap_or(0);
        rows.entry((order, String::new())).or_default()[col] += 1;
        for feature in &test.info.features {
            rows.entry((order, feature.clone())).or_default()[col] += 1;
        }
    }
    // "did not finish" only has a column when some test did not.
    let shown: Vec<usize> = (0..ResultKind::ALL.len())
        .filter(|i| {
            ResultKind::ALL[*i] != ResultKind::Incomplete
                || record.count(ResultKind::Incomplete) > 0
        })
        .collect();
    html! {
        table.matrix {
            tr {
                th { "suite" } th { "feature" }
                @for i in &shown { th.num { (ResultKind::ALL[*i].label()) } }
            }
            @for ((order, feature), counts) in &rows {
                tr.total[feature.is_empty()] {
                    td { (suites.get(*order).copied().unwrap_or("")) }
                    td { @if feature.is_empty() { strong { "all tests" } } @else { (feature) } }
                    @for (i, n) in counts.iter().enumerate().filter(|(i, _)| shown.contains(i)) {
                        td class=(if *n > 0 { format!("num {}", ResultKind::ALL[i].as_str()) } else { "num".to_owned() }) { @if *n > 0 { (n) } @else { "·" } }
                    }
                }
            }
        }
    }
}

fn test_section(test: &TestRecord) -> Markup {
    let kind = test.kind();
    html! {
        section.test id=(anchor(&test.info.name)) data-result=(kind.as_str()) {
            h3 { (test.info.name) " " (badge(kind)) " " span.level.(test.info.level.as_str()) { (test.info.level.as_str()) } }
            p.rule { (test.info.description) }
            @if !test.info.spec.is_empty() {
                details.spec {
                    summary { "What the spec says (" (test.info.spec.len()) ")" }
                    (evidence::quotes(&test.info.spec))
                }
            }
            @if kind != ResultKind::Passed {
                p.message.(kind.as_str()) { (test.result_message()) }
            }
            p.muted {
                "suite " (suite_of(test))
                " · features " (test.info.features.join(", "))
                @if let Some(up) = &test.info.upstream { " · upstream " code { (up) } }
                @if test.info.provisional { " · provisional upstream" }
                @if let Some(e) = test.elapsed { " · " (seconds(e.as_secs_f64())) }
            }
            @if !test.steps.is_empty() {
                ol.steps {
                    @for step in &test.steps {
                        (evidence::step(test, step))
                    }
                }
            }
        }
    }
}
