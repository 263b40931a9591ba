//! One step and its evidence as HTML.

use maud::{Markup, PreEscaped, html};

use super::charts;
use crate::event::{StepOutcome, StepRecord};
use crate::evidence::{
    ConvergenceEvidence, DistributionEvidence, Evidence, RejectionEvidence, TrafficEvidence,
};
use crate::text::{p_value, pct, seconds};

/// A step: kind, outcome, summary, time, then its evidence.
pub fn step(test: &str, step: &StepRecord) -> Markup {
    let failed = step.outcome == StepOutcome::Failed;
    html! {
        li.step data-outcome=(step.outcome.as_str()) {
            div.step-head {
                span.step-kind { (step.kind) }
                span.badge.(step.outcome.as_str()) { (step.outcome.as_str()) }
                span { (step.summary) }
                span.muted { (seconds(step.elapsed.as_secs_f64())) }
            }
            @for ev in &step.evidence {
                (evidence(test, step, ev, failed))
            }
        }
    }
}

fn chart(result: Result<String, String>) -> Markup {
    match result {
        Ok(svg) => PreEscaped(svg),
        Err(e) => html! { p.message { "chart could not be drawn: " (e) } },
    }
}

fn evidence(test: &str, step: &StepRecord, ev: &Evidence, failed: bool) -> Markup {
    let title = format!("{test} · step {} ({})", step.index, step.kind);
    match ev {
        Evidence::Conditions(c) => html! {
            @for object in &c.objects {
                details open[failed] {
                    summary { "Status of " code { (object.reference()) } }
                    pre.yaml { (object.yaml) }
                }
            }
        },
        Evidence::Traffic(t) => traffic(t, &title),
        Evidence::Distribution(d) => distribution(d, &title),
        Evidence::Rejection(r) => rejection(r, &title),
        Evidence::Convergence(c) => convergence(c),
        Evidence::Text(t) => html! { pre { (t.text) } },
    }
}

fn traffic(t: &TrafficEvidence, title: &str) -> Markup {
    html! {
        div.columns {
            table.outcomes {
                tr { th { "outcome" } th.num { "count" } }
                @for (outcome, count) in &t.outcomes {
                    tr { td { (outcome) } td.num { (count) } }
                }
                tr { th { "attempts" } th.num { (t.attempts) } }
            }
            @if !t.backends.is_empty() {
                table.backends {
                    tr { th { "backend" } th.num { "count" } }
                    @for (backend, count) in &t.backends {
                        tr { td { (backend) } td.num { (count) } }
                    }
                }
            }
            @if let Some(l) = &t.latency {
                table.latency {
                    tr { th { "latency" } th.num { "µs" } }
                    tr { td { "p50" } td.num { (l.p50_us) } }
                    tr { td { "p90" } td.num { (l.p90_us) } }
                    tr { td { "p99" } td.num { (l.p99_us) } }
                    tr { td { "p99.9" } td.num { (l.p999_us) } }
                    tr { td { "max" } td.num { (l.max_us) } }
                }
            }
        }
        @if let Some(l) = t.latency.as_ref().filter(|l| !l.buckets.is_empty()) {
            (chart(charts::latency_chart(l, &format!("{title}: latency"))))
        }
        @if !t.examples.is_empty() {
            details {
                summary { "Example attempts (" (t.examples.len()) ")" }
                table {
                    tr { th { "outcome" } th { "local" } th { "remote" } th { "backend" } th { "detail" } }
                    @for ex in &t.examples {
                        tr {
                            td { (ex.outcome) }
                            td { code { (ex.local.as_deref().unwrap_or("")) } }
                            td { code { (ex.remote.as_deref().unwrap_or("")) } }
                            td { (ex.backend.as_deref().unwrap_or("")) }
                            td { (ex.detail) }
                        }
                    }
                }
            }
        }
    }
}

fn distribution(d: &DistributionEvidence, title: &str) -> Markup {
    html! {
        (chart(charts::distribution_chart(d, &format!("{title}: observed vs expected share"))))
        table.distribution {
            tr {
                th { "backend" } th.num { "weight" } th.num { "expected" } th.num { "expected n" }
                th.num { "observed n" } th.num { "observed" } th { "Wilson interval" }
            }
            @for b in &d.backends {
                tr {
                    td { (b.name) }
                    td.num { (b.weight) }
                    td.num { (pct(b.expected_share)) }
                    td.num { (format!("{:.1}", b.expected_count)) }
                    td.num { (b.observed_count) }
                    td.num { (pct(b.observed_share)) }
                    td { "[" (pct(b.wilson_lo)) ", " (pct(b.wilson_hi)) "]" }
                }
            }
        }
        p.stats {
            "n = " (d.n) "; χ² = " (format!("{:.3}", d.chi_squared)) ", df = " (d.df)
            ", p = " (p_value(d.p_value)) " against α = " (d.alpha)
            "; detectable effect at this n: " (pct(d.detectable_effect)) " with power " (d.power) ". "
            span.badge.(if d.passed { "passed" } else { "failed" }) { (if d.passed { "passed" } else { "failed" }) }
        }
        @if !d.reasons.is_empty() {
            ul.reasons { @for r in &d.reasons { li { (r) } } }
        }
    }
}

fn rejection(r: &RejectionEvidence, title: &str) -> Markup {
    html! {
        (chart(charts::rejection_chart(r, &format!("{title}: rejected share"))))
        p.stats {
            "rejected " (r.rejected) " of " (r.total) " (" (pct(r.observed_share())) ", Wilson ["
            (pct(r.wilson_lo)) ", " (pct(r.wilson_hi)) "]); expected " (pct(r.expected_reject_share))
            "; binomial p = " (p_value(r.p_value)) " against α = " (r.alpha) ". "
            span.badge.(if r.passed { "passed" } else { "failed" }) { (if r.passed { "passed" } else { "failed" }) }
        }
    }
}

fn convergence(c: &ConvergenceEvidence) -> Markup {
    let fill = if c.bound > 0.0 {
        (c.seconds / c.bound).clamp(0.0, 1.0) * 100.0
    } else {
        100.0
    };
    html! {
        p.convergence {
            span.meter.over[!c.converged] title="time to converge, as a share of the bound" {
                span style=(format!("width: {fill:.1}%")) {}
            }
            " "
            @if c.converged {
                "converged after " (seconds(c.seconds)) " (bound " (seconds(c.bound)) ")"
            } @else {
                strong { "did not converge" } " within " (seconds(c.bound))
            }
        }
    }
}
