//! `gwl4 compare`: several runs side by side on one page.

use maud::html;

use super::{badge, page};
use crate::evidence::Evidence;
use crate::record::RunRecord;
use crate::text::pct;

/// One page comparing runs (labelled by the caller, e.g. by implementation or
/// version): per test, each run's result; per distribution step, each run's
/// observed shares. Tests are listed in order of first appearance.
pub fn compare_html(runs: &[(String, RunRecord)]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (_, record) in runs {
        for t in &record.tests {
            if !names.contains(&t.info.name.as_str()) {
                names.push(&t.info.name);
            }
        }
    }
    // (test, step index, backend) rows for every distribution any run has.
    let mut shares: Vec<(&str, usize, &str)> = Vec::new();
    for (_, record) in runs {
        for t in &record.tests {
            for step in &t.steps {
                for ev in &step.evidence {
                    if let Evidence::Distribution(d) = ev {
                        for b in &d.backends {
                            let key = (t.info.name.as_str(), step.index, b.name.as_str());
                            if !shares.contains(&key) {
                                shares.push(key);
                            }
                        }
                    }
                }
            }
        }
    }
    let body = html! {
        h1 { "gwl4: comparing " (runs.len()) " runs" }
        table.runs {
            tr { th { "run" } th { "implementation" } th { "GatewayClass" } th { "Gateway API" } th { "started" } th { "failed" } }
            @for (label, r) in runs {
                tr data-run=(label) {
                    td { strong { (label) } }
                    td { (r.run.implementation.project) " " (r.run.implementation.version) }
                    td { code { (r.run.gateway_class) } }
                    td { (r.run.gateway_api_version) " (" (r.run.gateway_api_channel) ")" }
                    td { (r.run.start_time) }
                    td.num { (r.tests.iter().filter(|t| t.kind().is_failure()).count()) }
                }
            }
        }
        h2 { "Results per test" }
        table.compare {
            tr { th { "test" } @for (label, _) in runs { th { (label) } } }
            @for name in &names {
                tr data-test=(name) {
                    td { (name) }
                    @for (_, r) in runs {
                        @match r.test(name) {
                            Some(t) => td data-result=(t.kind().as_str()) title=(t.result_message()) { (badge(t.kind())) },
                            None => td.muted { "not run" },
                        }
                    }
                }
            }
        }
        @if !shares.is_empty() {
            h2 { "Observed shares per distribution step" }
            table.compare-shares {
                tr {
                    th { "test" } th { "step" } th { "backend" } th.num { "expected" }
                    @for (label, _) in runs { th.num { (label) } }
                }
                @for (test, index, backend) in &shares {
                    tr {
                        td { (test) } td.num { (index) } td { (backend) }
                        td.num { (expected(runs, test, *index, backend).map(pct).unwrap_or_default()) }
                        @for (_, r) in runs {
                            td.num { (observed(r, test, *index, backend).map(pct).unwrap_or_else(|| "–".to_owned())) }
                        }
                    }
                }
            }
        }
        p.muted { "Each run's own report.html has the evidence behind every result." }
    };
    page("gwl4 comparison", body)
}

fn share<'a>(
    r: &'a RunRecord,
    test: &str,
    index: usize,
    backend: &str,
) -> Option<&'a crate::evidence::BackendShare> {
    let t = r.test(test)?;
    t.steps
        .iter()
        .filter(|s| s.index == index)
        .flat_map(|s| &s.evidence)
        .find_map(|ev| match ev {
            Evidence::Distribution(d) => d.backends.iter().find(|b| b.name == backend),
            _ => None,
        })
}

fn observed(r: &RunRecord, test: &str, index: usize, backend: &str) -> Option<f64> {
    share(r, test, index, backend).map(|b| b.share)
}

fn expected(runs: &[(String, RunRecord)], test: &str, index: usize, backend: &str) -> Option<f64> {
    runs.iter()
        .find_map(|(_, r)| share(r, test, index, backend))
        .map(|b| b.expected_share)
}
