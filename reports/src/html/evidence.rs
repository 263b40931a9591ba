//! One step and its evidence as HTML.

use maud::{Markup, PreEscaped, html};

use super::charts;
use crate::event::{SpecRef, StepOutcome, StepRecord};
use crate::evidence::{
    ConvergenceEvidence, DistributionEvidence, Evidence, RejectionEvidence, ToleranceEvidence,
    TrafficEvidence,
};
use crate::record::TestRecord;
use crate::text::{opt_p_value, opt_pct, pct, seconds};

/// A step: kind, outcome, level, summary, time, the spec sentence it
/// checks (its own, or the test's), then its evidence.
pub fn step(test: &TestRecord, step: &StepRecord) -> Markup {
    let failed = matches!(step.outcome, StepOutcome::Failed | StepOutcome::Warned);
    let spec = if step.spec.is_empty() {
        &test.info.spec
    } else {
        &step.spec
    };
    let checks = !matches!(
        step.kind.as_str(),
        "apply" | "patch" | "delete" | "wait" | "gatewayMetrics"
    );
    html! {
        li.step data-outcome=(step.outcome.as_str()) data-level=(step.level.as_str()) {
            div.step-head {
                span.step-kind { (step.kind) }
                span.badge.(step.outcome.as_str()) { (step.outcome.as_str()) }
                @if checks { span.level.(step.level.as_str()) { (step.level.as_str()) } }
                span { (step.summary) }
                span.muted { (seconds(step.elapsed.as_secs_f64())) }
            }
            @if checks && !spec.is_empty() {
                (quotes(spec))
            }
            @for ev in &step.evidence {
                (evidence(&test.info.name, step, ev, failed))
            }
        }
    }
}

/// The spec sentences, quoted, each with its source and strength.
pub fn quotes(spec: &[SpecRef]) -> Markup {
    html! {
        @for r in spec {
            blockquote.spec data-level=(r.level.as_str()) {
                (r.quote)
                " "
                cite { "— " (r.source) " (" (r.level.as_str()) @if let Some(id) = &r.id { ", " code { (id) } } ")" }
            }
        }
    }
}

fn chart(result: Result<String, String>, caption: &str) -> Markup {
    match result {
        Ok(svg) => html! { figure { (PreEscaped(svg)) figcaption.muted { (caption) } } },
        Err(e) => html! { p.message { "chart could not be drawn: " (e) } },
    }
}

fn evidence(test: &str, step: &StepRecord, ev: &Evidence, failed: bool) -> Markup {
    let title = format!("{test} · step {} ({})", step.index + 1, step.kind);
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
                @if let Some(u) = &t.udp {
                    tr { td { "UDP datagrams sent" } td.num { (u.sent) } }
                    tr { td { "probes resent" } td.num { (u.resent_probes) } }
                    tr { td { "unanswered after " (u.max_tries) " sends" } td.num { (u.unanswered) } }
                }
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
            (chart(charts::latency_chart(l, &format!("{title}: latency")), "Latency of successful attempts: samples per bucket."))
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
        (chart(charts::distribution_chart(d, &format!("{title}: observed vs expected share")), "Observed share per backend (bars) with Wilson intervals at confidence 1 − α, against the share its weight sets (red marks)."))
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
                    td.num { (b.observed) }
                    td.num { (pct(b.share)) }
                    td { "[" (pct(b.wilson.lo)) ", " (pct(b.wilson.hi)) "]" }
                }
            }
            @for u in &d.unexpected {
                tr.unexpected {
                    td { (u.name) } td { "not in the weights" } td {} td {}
                    td.num { (u.observed) } td {} td {}
                }
            }
        }
        p.stats {
            "n = " (d.n) "; χ² = " (d.chi_squared.map_or_else(|| "n/a".to_owned(), |c| format!("{c:.3}")))
            ", df = " (d.df) ", p = " (opt_p_value(d.p_value)) " against α = " (d.alpha)
            "; planned to detect " (pct(d.effect)) " with power " (d.power)
            "; detectable at this n: " (opt_pct(d.detectable_effect)) ". Exact fit (recommended): "
            span.badge.(if d.passed { "passed" } else { "warned" }) { (if d.passed { "passed" } else { "missed" }) }
        }
        @if let Some(t) = &d.tolerance { (tolerance(t)) }
        @if !d.reasons.is_empty() {
            ul.reasons { @for r in &d.reasons { li { (r) } } }
        }
        @if !d.notes.is_empty() {
            ul.notes.muted { @for n in &d.notes { li { (n) } } }
        }
    }
}

fn rejection(r: &RejectionEvidence, title: &str) -> Markup {
    html! {
        (chart(charts::rejection_chart(r, &format!("{title}: rejected share")), "Rejected and served shares (bars) with Wilson intervals at confidence 1 − α, against the invalid backends' weight share (red marks)."))
        p.stats {
            "rejected " (r.rejected) " of " (r.total) " (" (pct(r.share)) ", Wilson ["
            (pct(r.wilson.lo)) ", " (pct(r.wilson.hi)) "]); expected " (pct(r.expected_share))
            " (" (format!("{:.1}", r.expected_count)) "); binomial p = " (opt_p_value(r.p_value))
            " against α = " (r.alpha) ". Exact: "
            span.badge.(if r.passed { "passed" } else { "warned" }) { (if r.passed { "passed" } else { "missed" }) }
        }
        @if let Some(t) = &r.tolerance { (tolerance(t)) }
        @if !r.reasons.is_empty() {
            ul.reasons { @for reason in &r.reasons { li { (reason) } } }
        }
    }
}

/// The `must` verdict of a split.
fn tolerance(t: &ToleranceEvidence) -> Markup {
    html! {
        p.stats.tolerance {
            "Must (each share within " (format!("{:.0}", t.tolerance * 100.0)) " points of its weight's; weight 0 under "
            (pct(t.zero_weight_tolerance)) "): "
            span.badge.(if t.passed { "passed" } else { "failed" }) { (if t.passed { "passed" } else { "failed" }) }
        }
        @if !t.reasons.is_empty() {
            ul.reasons { @for r in &t.reasons { li { (r) } } }
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
