//! `distribution` and `rejection`: many samples, one statistical verdict
//! (stats crate), taken once after traffic has converged: no retries.
//!
//! UDP is lossy: a flow that got no reply after every resend, on a split of
//! valid backends, is *lost*, not misrouted. The split is judged on the
//! answered flows; loss above [`UDP_LOSS_BOUND`] is a `recommended`-level
//! warning (a failure with `--strict`), and replies that stop for good
//! partway through (a gateway's session limit, [`stats::capacity::cutoff`])
//! are named as such. A rejection step judges its dropped share on the
//! flows before such a cutoff, and states how much residual loss could
//! have raised it.

use std::collections::BTreeMap;

use reports::{DistributionEvidence, Evidence, Level, RejectionEvidence};

use super::probe::{
    self, ProbeKind, ProbeTimeouts, TCP_SETTLE, UDP_DROP_WAIT, describe, traffic_evidence,
};
use super::settle::{Settled, settle};
use super::traffic::failure;
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

/// Share of a UDP split's flows that may go unanswered (after every
/// resend) before gwl4 warns: loss on a real network path, not routing.
pub const UDP_LOSS_BOUND: f64 = 0.01;

/// A note (and, above the bound or at a session limit, a warning) about the
/// flows of a UDP sample that got no reply; `answered[i]` in start order.
fn udp_loss(answered: &[bool]) -> (Option<String>, Option<String>) {
    let n = answered.len();
    let lost = answered.iter().filter(|a| !**a).count();
    if lost == 0 {
        return (None, None);
    }
    let share = lost as f64 / n as f64;
    let cut = stats::capacity::cutoff(answered);
    let limit = cut.map(|c| {
        format!(
            "replies stopped after {} answered flows: the last {} flows all got no reply \
             after {} sends each, which a loss rate does not explain; new flows were dropped \
             after about {} concurrent sessions, a session limit (capacity, not routing)",
            c.answered,
            c.trailing,
            traffic::udp::MAX_TRIES,
            c.answered
        )
    });
    let note = format!(
        "{lost} of {n} UDP flows ({}) got no reply after {} sends each: counted as lost, \
         not as misrouted; the split is judged on the {} answered flows{}",
        reports::text::pct(share),
        traffic::udp::MAX_TRIES,
        n - lost,
        limit.as_ref().map(|l| format!(". {l}")).unwrap_or_default()
    );
    let warning = if limit.is_some() || share > UDP_LOSS_BOUND {
        Some(format!(
            "{lost} of {n} UDP flows lost ({} > the {} bound){}",
            reports::text::pct(share),
            reports::text::pct(UDP_LOSS_BOUND),
            limit.map(|l| format!(": {l}")).unwrap_or_default()
        ))
    } else {
        None
    };
    (Some(note), warning)
}

/// UDP: whether replies have stopped for good (a session limit), so the
/// sample ends: every further flow would only wait out its timeout. `done`
/// is in start order; `concurrency` flows were in flight at a time.
fn replies_stopped(protocol: Protocol, done: &[traffic::Probe], concurrency: usize) -> bool {
    protocol == Protocol::Udp
        && stats::capacity::replies_stopped(
            &done.iter().map(|p| p.is_ok()).collect::<Vec<_>>(),
            stats::capacity::stop_run(concurrency),
        )
}

/// A statistical step's sample: `n` new connections or flows to `addr`,
/// each identifying its backend, `concurrency` at a time, in start order;
/// UDP stops early if replies stop for good. A UDP flow that timed out is
/// kept open until the sample is over, and a reply it gets by then is its
/// outcome (`traffic::late`); also returns how many were answered so.
async fn take_sample(
    protocol: Protocol,
    addr: std::net::SocketAddr,
    n: u64,
    concurrency: u32,
    t: ProbeTimeouts,
) -> Result<(traffic::Sample, usize), traffic::Error> {
    let kind = ProbeKind::identify(protocol);
    let late = traffic::LateReplies::default();
    let concurrency = concurrency as usize;
    let sample = traffic::sample_until(
        n as usize,
        concurrency,
        |i| {
            let (kind, late) = (&kind, &late);
            async move {
                match protocol {
                    Protocol::Udp => late.identify(i, addr, probe::udp_options(t)).await,
                    Protocol::Tcp => probe::run(kind, addr, t, None).await,
                }
            }
        },
        |done| replies_stopped(protocol, done, concurrency),
    )
    .await?;
    Ok(late.settle(sample, t.udp).await)
}

/// The note on flows answered only after their window, if any.
fn late_note(late: usize, t: ProbeTimeouts) -> Option<String> {
    (late > 0).then(|| {
        format!(
            "{late} UDP flows were answered only after the {:?} each waited (a stall of the \
             gateway, a backend or gwl4): counted as answered, by whichever backend replied",
            t.udp
        )
    })
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
    // Settled: every weighted backend has answered, not just one.
    let settled = Settled {
        every: expect.backend_in.as_deref().unwrap_or_default(),
        ..Settled::for_expect(ctx, &expect)
    };
    let t = ProbeTimeouts::from(&ctx.run.timeouts);
    if let Err(e) = settle(ctx, &ProbeKind::identify(protocol), r, &expect, t, settled).await {
        return failure(ctx, summary, e, &expect, protocol).await;
    }
    let (sample, late) = match take_sample(protocol, r.addr, n, step.concurrency, t).await {
        Ok(s) => s,
        Err(e) => return StepReport::fail(summary, format!("gwl4 could not send: {e}")),
    };
    let traffic_ev = traffic_evidence(&sample);
    // UDP: a flow with no reply after every resend is lost, not misrouted.
    let lost = |p: &traffic::Probe| protocol == Protocol::Udp && p.outcome == Outcome::Timeout;
    let failed: Vec<String> = sample
        .probes
        .iter()
        .filter(|p| !p.is_ok() && !lost(p))
        .take(3)
        .map(describe)
        .collect();
    if !failed.is_empty() {
        let bad = sample
            .probes
            .iter()
            .filter(|p| !p.is_ok() && !lost(p))
            .count();
        return failure(
            ctx,
            summary,
            format!(
                "{bad} of {n} samples got no right reply from a backend; first: {}",
                failed.join(" | ")
            ),
            &expect,
            protocol,
        )
        .await
        .with(traffic_ev);
    }
    let answered: Vec<bool> = sample.probes.iter().map(|p| p.is_ok()).collect();
    let (loss_note, loss_warning) = udp_loss(&answered);
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for (b, c) in &sample.backends {
        *counts.entry(b.service.clone()).or_default() += c;
    }
    let observed: Vec<(&str, u64)> = counts.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let verdict = match judge.judge(&observed) {
        Ok(v) => v,
        Err(e) => return StepReport::fail(summary, e.to_string()),
    };
    // The must: shares within the spec's tolerance. The exact fit is gwl4's
    // recommendation; weight 0 meaning no sample at all is the spec's should.
    let mut report = if verdict.tolerance.passed {
        StepReport::pass(summary)
    } else {
        StepReport::fail(summary, verdict.tolerance.reasons.join("; "))
    };
    if verdict.tolerance.passed && !verdict.passed {
        if !verdict.zero_weight_reasons.is_empty() {
            report = report.warn(Level::Should, verdict.zero_weight_reasons.join("; "));
        }
        let exact: Vec<&String> = verdict
            .reasons
            .iter()
            .filter(|r| !verdict.zero_weight_reasons.contains(r))
            .collect();
        if !exact.is_empty() {
            report = report.warn(
                Level::Recommended,
                exact
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        }
    }
    if let Some(ev) = convert::<_, DistributionEvidence>(&verdict) {
        report = report.with(Evidence::Distribution(ev));
    }
    if let Some(note) = loss_note {
        report = report.note(note);
    }
    if let Some(w) = loss_warning {
        report = report.warn(Level::Recommended, w);
    }
    if let Some(note) = late_note(late, t) {
        report = report.note(note);
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
    if let Err(e) = settle(
        ctx,
        &ProbeKind::identify(protocol),
        r,
        &expect,
        t,
        Settled::once(),
    )
    .await
    {
        return failure(ctx, summary, e, &expect, protocol).await;
    }
    let concurrency = step
        .concurrency
        .unwrap_or(if protocol == Protocol::Udp { 200 } else { 10 });
    let (sample, late) = match take_sample(protocol, r.addr, n, concurrency, t).await {
        Ok(s) => s,
        Err(e) => return StepReport::fail(summary, format!("gwl4 could not send: {e}")),
    };
    let traffic_ev = traffic_evidence(&sample);
    // UDP: replies that stop for good partway (a session limit) are not
    // rejections; judge the share on the flows before them.
    let answered: Vec<bool> = sample.probes.iter().map(|p| p.is_ok()).collect();
    let cut = (protocol == Protocol::Udp)
        .then(|| stats::capacity::cutoff(&answered))
        .flatten();
    let judged = cut.map_or(sample.probes.len(), |c| c.cut_at);
    let n = judged as u64;
    let mut wrong = Vec::new();
    let mut rejected = 0u64;
    for p in &sample.probes[..judged] {
        if probe::is_rejection(protocol, p) {
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
    // The must: the rejected share within the spec's tolerance of the
    // invalid share (exact at 0 and 1); the exact binomial fit is gwl4's
    // recommendation.
    let mut report = if verdict.tolerance.passed {
        StepReport::pass(summary)
    } else {
        StepReport::fail(
            summary,
            format!(
                "{rejected} of {n} {verb} ({:.3}), want {}: {}",
                verdict.share,
                step.share,
                verdict.tolerance.reasons.join("; ")
            ),
        )
    };
    if verdict.tolerance.passed && !verdict.passed {
        report = report.warn(
            Level::Recommended,
            format!(
                "{rejected} of {n} {verb} ({:.3}), want {} exactly: {}",
                verdict.share,
                step.share,
                verdict.reasons.join("; ")
            ),
        );
    }
    if let Some(ev) = convert::<_, RejectionEvidence>(&verdict) {
        report = report.with(Evidence::Rejection(ev));
    }
    if protocol == Protocol::Tcp {
        report = super::traffic::rejection_warnings(report, &sample.probes[..judged]);
    }
    if protocol == Protocol::Udp {
        let tries: Vec<u32> = sample.probes[..judged]
            .iter()
            .filter(|p| p.is_ok())
            .map(|p| p.evidence.tries)
            .collect();
        let loss = stats::capacity::residual_loss(&tries, traffic::udp::MAX_TRIES, step.share);
        report = report.note(format!(
            "residual loss: the answered flows needed a resend for {} of their sends, so a \
             valid flow goes unanswered after all {} sends with probability about {} (if \
             sends are lost independently): loss could have raised the dropped share by at \
             most {} (the test is sized to detect {})",
            reports::text::pct(loss.per_send),
            traffic::udp::MAX_TRIES,
            reports::text::prob(loss.per_flow),
            reports::text::prob(loss.share_bias),
            reports::text::pct(settings.effect)
        ));
        if loss.share_bias > settings.effect / 4.0 {
            report = report.warn(
                Level::Recommended,
                format!(
                    "UDP loss is high enough to bias the dropped share by up to {} (a quarter \
                 of the detectable effect is {}): the verdict is not exact",
                    reports::text::prob(loss.share_bias),
                    reports::text::prob(settings.effect / 4.0)
                ),
            );
        }
    }
    if let Some(note) = late_note(late, t) {
        report = report.note(note);
    }
    if let Some(c) = cut {
        let total = sample.probes.len();
        report = report
            .note(format!(
                "replies stopped after {} answered flows: the last {} of {total} flows all got \
                 no reply, far more in a row than the {} share explains; that is a session \
                 limit (capacity), not rejection, so the dropped share is judged on the {} \
                 flows started before it (truncating at the last answered flow removes the \
                 drops that would have followed it by chance, about {} flows: negligible at \
                 this n, and it can only lower the dropped share)",
                c.answered,
                c.trailing,
                step.share,
                c.cut_at,
                reports::text::prob(step.share / (1.0 - step.share).max(f64::EPSILON))
            ))
            .warn(
                Level::Recommended,
                format!(
                    "new UDP flows were dropped after about {} answered flows: a session limit",
                    c.answered
                ),
            );
    }
    report.with(traffic_ev)
}
