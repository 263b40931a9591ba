//! `distribution` and `rejection`: many samples, one statistical verdict
//! (stats crate), taken once after traffic has converged: no retries.

use std::collections::BTreeMap;

use reports::{DistributionEvidence, Evidence, RejectionEvidence};

use super::probe::{
    self, ProbeKind, ProbeTimeouts, TCP_SETTLE, UDP_DROP_WAIT, describe, traffic_evidence,
};
use super::traffic::{eventually, eventually_with, failure};
use crate::cluster::World;
use crate::run::context::{Ctx, StepReport};
use crate::suite::step::{Distribution, Expect, Protocol, Rejection};
use crate::traffic::{self, Outcome};

fn settings<W: World>(ctx: &Ctx<'_, W>, effect: Option<f64>) -> stats::Settings {
    let mut s = ctx.run.stats;
    if let Some(e) = effect {
        s.effect = e;
    }
    s
}

/// The stats crate's verdicts and the reports' evidence are the same JSON.
fn convert<T: serde::Serialize, U: serde::de::DeserializeOwned>(v: &T) -> Option<U> {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| serde_json::from_value(j).ok())
}

/// `distribution`.
pub async fn distribution<W: World>(ctx: &Ctx<'_, W>, step: &Distribution) -> StepReport {
    let r = match ctx.resolve(&step.target).await {
        Ok(r) => r,
        Err(e) => return StepReport::fail("distribution", e),
    };
    let protocol = step.protocol.unwrap_or(r.protocol);
    let weights: Vec<(&str, u32)> = step.weights.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let settings = settings(ctx, step.effect);
    let judge = match stats::DistributionJudge::new(&weights, &settings) {
        Ok(j) => j,
        Err(e) => return StepReport::fail("distribution", e.to_string()),
    };
    let n = match step.samples {
        Some(n) => n,
        None => match judge.sample_plan() {
            Ok(plan) => plan.n,
            Err(e) => return StepReport::fail("distribution", e.to_string()),
        },
    };
    let w: Vec<String> = step
        .weights
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let summary = format!(
        "{n} new {} to {} split by weights {}",
        unit(protocol),
        r.addr,
        w.join(" ")
    );
    let live: Vec<String> = step
        .weights
        .iter()
        .filter(|(_, w)| **w > 0)
        .map(|(k, _)| k.clone())
        .collect();
    let expect = Expect {
        backend_in: Some(live),
        ..Expect::default()
    };
    if let Err(e) = eventually(ctx, &ProbeKind::identify(protocol), r, &expect).await {
        return failure(ctx, summary, e, &expect, protocol).await;
    }
    let t = ProbeTimeouts::from(&ctx.run.timeouts);
    let kind = ProbeKind::identify(protocol);
    let sample = match traffic::sample(n as usize, step.concurrency as usize, |_| {
        probe::run(&kind, r.addr, t, None)
    })
    .await
    {
        Ok(s) => s,
        Err(e) => return StepReport::fail(summary, format!("gwl4 could not send: {e}")),
    };
    let traffic_ev = traffic_evidence(&sample);
    let failed: Vec<String> = sample
        .probes
        .iter()
        .filter(|p| !p.is_ok())
        .take(3)
        .map(describe)
        .collect();
    if !failed.is_empty() {
        let bad = sample.probes.iter().filter(|p| !p.is_ok()).count();
        return failure(
            ctx,
            summary,
            format!(
                "{bad} of {n} samples got no reply from a backend; first: {}",
                failed.join(" | ")
            ),
            &expect,
            protocol,
        )
        .await
        .with(traffic_ev);
    }
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for (b, c) in &sample.backends {
        *counts.entry(b.service.clone()).or_default() += c;
    }
    let observed: Vec<(&str, u64)> = counts.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let verdict = match judge.judge(&observed) {
        Ok(v) => v,
        Err(e) => return StepReport::fail(summary, e.to_string()),
    };
    let mut report = if verdict.passed {
        StepReport::pass(summary)
    } else {
        StepReport::fail(summary, verdict.reasons.join("; "))
    };
    if let Some(ev) = convert::<_, DistributionEvidence>(&verdict) {
        report = report.with(Evidence::Distribution(ev));
    }
    report.with(traffic_ev)
}

fn unit(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "connections",
        Protocol::Udp => "UDP flows",
    }
}

/// `rejection`.
pub async fn rejection<W: World>(ctx: &Ctx<'_, W>, step: &Rejection) -> StepReport {
    let r = match ctx.resolve(&step.target).await {
        Ok(r) => r,
        Err(e) => return StepReport::fail("rejection", e),
    };
    let protocol = step.protocol.unwrap_or(r.protocol);
    let settings = settings(ctx, step.effect);
    let n = match step.samples {
        Some(n) => n,
        None => match stats::rejection_sample_size(step.share, &settings) {
            Ok(n) => n,
            Err(e) => return StepReport::fail("rejection", e.to_string()),
        },
    };
    let verb = if protocol == Protocol::Tcp {
        "rejected (refused, reset, or closed without a byte)"
    } else {
        "dropped"
    };
    let summary = format!(
        "{n} new {} to {}: a share of {} must be {verb}, the rest answered by {}",
        unit(protocol),
        r.addr,
        step.share,
        step.backends.join(", ")
    );
    // Converged means: the invalid share is in force, so the first probe
    // may be either; wait only for the listener to answer at all.
    let expect = if step.share < 1.0 {
        Expect {
            backend_in: Some(step.backends.clone()),
            ..Expect::default()
        }
    } else {
        Expect {
            outcome: Some(crate::suite::step::ExpectedOutcome::Rejected),
            ..Expect::default()
        }
    };
    // A dropped datagram must not cost RequestTimeout while converging, and
    // a TCP sample settles so an accept-then-close is not taken for a reset.
    let mut t = ProbeTimeouts::from(&ctx.run.timeouts);
    t.udp = UDP_DROP_WAIT;
    t.settle = Some(TCP_SETTLE);
    if let Err(e) = eventually_with(ctx, &ProbeKind::identify(protocol), r, &expect, t).await {
        return failure(ctx, summary, e, &expect, protocol).await;
    }
    let concurrency = step
        .concurrency
        .unwrap_or(if protocol == Protocol::Udp { 200 } else { 10 });
    let kind = ProbeKind::identify(protocol);
    let sample = match traffic::sample(n as usize, concurrency as usize, |_| {
        probe::run(&kind, r.addr, t, None)
    })
    .await
    {
        Ok(s) => s,
        Err(e) => return StepReport::fail(summary, format!("gwl4 could not send: {e}")),
    };
    let traffic_ev = traffic_evidence(&sample);
    let rejected_outcome = |o: Outcome| probe::is_rejection(protocol, o);
    let mut wrong = Vec::new();
    let mut rejected = 0u64;
    for p in &sample.probes {
        if rejected_outcome(p.outcome) {
            rejected += 1;
        } else if !p.is_ok()
            || !p
                .backend()
                .is_some_and(|b| step.backends.contains(&b.service))
        {
            wrong.push(describe(p));
        }
    }
    if !wrong.is_empty() {
        let why = format!(
            "{} of {n} samples were neither {verb} nor answered by {}; first: {}",
            wrong.len(),
            step.backends.join(", "),
            wrong
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(" | ")
        );
        return StepReport::fail(summary, why).with(traffic_ev);
    }
    let verdict = match stats::judge_rejection(step.share, rejected, n, &settings) {
        Ok(v) => v,
        Err(e) => return StepReport::fail(summary, e.to_string()),
    };
    let mut report = if verdict.passed {
        StepReport::pass(summary)
    } else {
        StepReport::fail(
            summary,
            format!(
                "{rejected} of {n} {verb} ({:.3}), want {}: {}",
                verdict.share,
                step.share,
                verdict.reasons.join("; ")
            ),
        )
    };
    if let Some(ev) = convert::<_, RejectionEvidence>(&verdict) {
        report = report.with(Evidence::Rejection(ev));
    }
    report.with(traffic_ev)
}
