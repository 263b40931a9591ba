//! Evidence as plain text (JUnit failure bodies, terminal output) and the
//! number formatting shared by every format.

use std::fmt::Write as _;

use crate::event::StepRecord;
use crate::evidence::{
    ConvergenceEvidence, DistributionEvidence, Evidence, RejectionEvidence, TrafficEvidence,
};
use crate::record::TestRecord;

/// A share (0..1) as a percentage with one decimal.
pub fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// A p-value: scientific notation when tiny, so it never reads as `0.0000`.
pub fn p_value(p: f64) -> String {
    if p != 0.0 && p < 1e-3 {
        format!("{p:.2e}")
    } else {
        format!("{p:.4}")
    }
}

/// An optional p-value (`n/a` when no test ran).
pub fn opt_p_value(p: Option<f64>) -> String {
    p.map_or_else(|| "n/a".to_owned(), p_value)
}

/// An optional share as a percentage (`n/a` when absent).
pub fn opt_pct(share: Option<f64>) -> String {
    share.map_or_else(|| "n/a".to_owned(), pct)
}

/// Seconds with millisecond precision.
pub fn seconds(secs: f64) -> String {
    format!("{secs:.3} s")
}

/// `key=value, key=value` for a count map.
fn counts<'a>(map: impl IntoIterator<Item = (&'a String, &'a u64)>) -> String {
    let parts: Vec<String> = map.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

/// One test's steps and evidence as text; failed steps get their full evidence.
pub fn test_text(test: &TestRecord) -> String {
    let mut out = String::new();
    for step in &test.steps {
        out.push_str(&step_line(step));
        out.push('\n');
        if step.outcome != crate::event::StepOutcome::Passed {
            for evidence in &step.evidence {
                for line in evidence_text(evidence).lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
    }
    out
}

/// A probability or rate for people: four decimals, or scientific notation
/// below 0.001 (`0.0090`, `1.11e-4`).
pub fn prob(x: f64) -> String {
    if x == 0.0 || x >= 0.001 {
        let s = format!("{x:.4}");
        let s = s.trim_end_matches('0');
        s.strip_suffix('.').unwrap_or(s).to_owned()
    } else {
        format!("{x:.2e}")
    }
}

/// `#2 distribution [failed] summary (1.234 s)`; steps count from 1. A
/// step below `must` names its level: `#3 tcp [warned] (recommended) …`.
pub fn step_line(step: &StepRecord) -> String {
    let level = if step.level == crate::event::Level::Must {
        String::new()
    } else {
        format!(" ({})", step.level)
    };
    format!(
        "#{} {} [{}]{level} {} ({})",
        step.index + 1,
        step.kind,
        step.outcome.as_str(),
        step.summary,
        seconds(step.elapsed.as_secs_f64())
    )
}

/// A spec reference as one line: `[must] source: "quote"`.
pub fn spec_line(spec: &crate::event::SpecRef) -> String {
    format!("[{}] {}: \"{}\"", spec.level, spec.source, spec.quote)
}

/// One piece of evidence as text (several lines).
pub fn evidence_text(evidence: &Evidence) -> String {
    match evidence {
        Evidence::Conditions(c) => {
            let mut out = String::new();
            for object in &c.objects {
                let _ = writeln!(out, "observed {}:", object.reference());
                for line in object.yaml.lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
            out
        }
        Evidence::Traffic(t) => traffic_text(t),
        Evidence::Distribution(d) => distribution_text(d),
        Evidence::Rejection(r) => rejection_text(r),
        Evidence::Convergence(c) => convergence_text(c),
        Evidence::Text(t) => t.text.clone(),
    }
}

fn traffic_text(t: &TrafficEvidence) -> String {
    let mut out = format!(
        "traffic: {} attempts; outcomes: {}; backends: {}\n",
        t.attempts,
        counts(&t.outcomes),
        counts(&t.backends)
    );
    for ex in &t.examples {
        let _ = writeln!(
            out,
            "  e.g. {} {} -> {}{}: {}",
            ex.outcome,
            ex.local.as_deref().unwrap_or("?"),
            ex.remote.as_deref().unwrap_or("?"),
            ex.backend
                .as_deref()
                .map(|b| format!(" (backend {b})"))
                .unwrap_or_default(),
            ex.detail
        );
    }
    if let Some(u) = &t.udp {
        let _ = writeln!(out, "{}", udp_tries(u));
    }
    if let Some(l) = &t.latency {
        let _ = writeln!(
            out,
            "latency µs: p50={} p90={} p99={} p99.9={} max={}",
            l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us
        );
    }
    out
}

/// `UDP: 3170 datagrams sent; 15 probes resent; 0 unanswered after 4 sends`.
pub fn udp_tries(u: &crate::evidence::UdpTries) -> String {
    format!(
        "UDP: {} datagrams sent; {} probes needed a resend; {} got no reply after up to {} sends",
        u.sent, u.resent_probes, u.unanswered, u.max_tries
    )
}

fn distribution_text(d: &DistributionEvidence) -> String {
    let mut out = format!(
        "distribution over n={} samples: {}\n",
        d.n,
        if d.passed { "passed" } else { "FAILED" }
    );
    let _ = writeln!(
        out,
        "  {:<24} {:>6} {:>9} {:>9} {:>9} {:>9}  Wilson interval",
        "backend", "weight", "expected", "exp.n", "observed", "obs.n"
    );
    for b in &d.backends {
        let _ = writeln!(
            out,
            "  {:<24} {:>6} {:>9} {:>9.1} {:>9} {:>9}  [{}, {}]",
            b.name,
            b.weight,
            pct(b.expected_share),
            b.expected_count,
            pct(b.share),
            b.observed,
            pct(b.wilson.lo),
            pct(b.wilson.hi)
        );
    }
    for u in &d.unexpected {
        let _ = writeln!(
            out,
            "  {:<24} not in the weights, got {} samples",
            u.name, u.observed
        );
    }
    let _ = writeln!(
        out,
        "chi-squared={} df={} p={} alpha={} power={} planned effect={} detectable effect at this n={}",
        d.chi_squared
            .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.3}")),
        d.df,
        opt_p_value(d.p_value),
        d.alpha,
        d.power,
        pct(d.effect),
        opt_pct(d.detectable_effect)
    );
    if let Some(t) = &d.tolerance {
        let _ = writeln!(out, "{}", tolerance_line(t));
    }
    for reason in &d.reasons {
        let _ = writeln!(out, "- {reason}");
    }
    for note in &d.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

fn rejection_text(r: &RejectionEvidence) -> String {
    let mut out = format!(
        "rejection: {}/{} rejected ({}, Wilson [{}, {}]), expected {} ({:.1}); binomial p={} alpha={}: {}\n",
        r.rejected,
        r.total,
        pct(r.share),
        pct(r.wilson.lo),
        pct(r.wilson.hi),
        pct(r.expected_share),
        r.expected_count,
        opt_p_value(r.p_value),
        r.alpha,
        if r.passed { "passed" } else { "FAILED" }
    );
    if let Some(t) = &r.tolerance {
        let _ = writeln!(out, "{}", tolerance_line(t));
    }
    for reason in &r.reasons {
        let _ = writeln!(out, "- {reason}");
    }
    out
}

/// The `must` verdict of a split in one line (its reasons after it).
pub fn tolerance_line(t: &crate::evidence::ToleranceEvidence) -> String {
    let mut line = format!(
        "must (each share within {} points of its weight's, weight 0 under {}): {}",
        t.tolerance * 100.0,
        pct(t.zero_weight_tolerance),
        if t.passed { "passed" } else { "FAILED" }
    );
    for reason in &t.reasons {
        line.push_str(&format!("\n- {reason}"));
    }
    line
}

fn convergence_text(c: &ConvergenceEvidence) -> String {
    if c.converged {
        format!(
            "converged after {} (bound {})\n",
            seconds(c.seconds),
            seconds(c.bound)
        )
    } else {
        format!(
            "did NOT converge within {} (gave up after {})\n",
            seconds(c.bound),
            seconds(c.seconds)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_p_values_stay_visible() {
        assert_eq!(p_value(3.2e-9), "3.20e-9");
        assert_eq!(p_value(0.0), "0.0000");
        assert_eq!(p_value(0.4321), "0.4321");
        assert_eq!(pct(0.7), "70.0%");
    }
}
