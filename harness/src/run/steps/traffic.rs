//! `tcp`, `udp` and `flowAffinity`: traffic through a listener, each probe
//! judged against the step's expectation. A failing step also probes the
//! expected backends directly, so the reader learns whether the gateway or
//! the backend is at fault.

use std::net::SocketAddr;

use super::probe::{self, ProbeKind, ProbeTimeouts, describe, judge, traffic_evidence};
use super::settle::eventually;
use crate::cluster::World;
use crate::run::context::{Ctx, Resolved, StepReport};
use crate::suite::step::{Expect, ExpectedOutcome, FlowAffinity, Protocol, Tcp, TcpMode, Udp};
use crate::traffic::{self, Probe, Sample, UdpFlow, UdpOptions};

/// Runs `n` probes and judges each; fails on any miss, listing a few.
async fn counted<W: World>(
    ctx: &Ctx<'_, W>,
    kind: &ProbeKind,
    r: Resolved,
    expect: &Expect,
    n: u32,
    concurrency: u32,
    summary: String,
) -> StepReport {
    let t = ProbeTimeouts::for_expect(&ctx.run.timeouts, expect);
    let text = expect.text.clone();
    let sample = traffic::sample(n as usize, concurrency as usize, |_| {
        let kind = kind.clone();
        let text = text.clone();
        async move { probe::run(&kind, r.addr, t, text.as_deref()).await }
    })
    .await;
    let sample = match sample {
        Ok(s) => s,
        Err(e) => return StepReport::fail(summary, format!("gwl4 could not send: {e}")),
    };
    judged(ctx, sample, r, expect, summary).await
}

async fn judged<W: World>(
    ctx: &Ctx<'_, W>,
    sample: Sample,
    r: Resolved,
    expect: &Expect,
    summary: String,
) -> StepReport {
    let misses: Vec<String> = sample
        .probes
        .iter()
        .filter_map(|p| judge(p, expect, r.addr, r.protocol).err())
        .collect();
    let ev = traffic_evidence(&sample);
    if misses.is_empty() {
        let report = StepReport::pass(summary).with(ev);
        if expect.outcome == Some(ExpectedOutcome::Rejected) && r.protocol == Protocol::Tcp {
            return rejection_warnings(report, &sample.probes);
        }
        return report;
    }
    let why = format!(
        "{} of {} probes missed the expectation; first: {}",
        misses.len(),
        sample.probes.len(),
        misses
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ")
    );
    failure(ctx, summary, why, expect, r.protocol)
        .await
        .with(ev)
}

/// The spec's "actively reject" is met by accept-then-close too, and by
/// the gateway's own answer before it closes (for HTTP the spec's
/// rejection is a 404 reply); gwl4 recommends a refusal or reset
/// (`gwl4-reject-by-refusal-or-reset`): a warning for each of the two when
/// any rejection took that form.
pub fn rejection_warnings(mut report: StepReport, probes: &[Probe]) -> StepReport {
    let count = |o: traffic::Outcome| probes.iter().filter(|p| p.outcome == o).count();
    let closed = count(traffic::Outcome::ClosedWithoutReply);
    if closed > 0 {
        report = report.warn(
            reports::Level::Recommended,
            format!(
                "{closed} of {} connections were rejected by accepting and then closing (closedWithoutReply), \
                 which the spec's \"actively reject\" allows; gwl4 recommends refusing or resetting them \
                 (gwl4-reject-by-refusal-or-reset), which a client reads as a rejection at once",
                probes.len()
            ),
        );
    }
    let answered = count(traffic::Outcome::ClosedAfterForeignReply);
    if answered > 0 {
        let first = probes
            .iter()
            .find(|p| p.outcome == traffic::Outcome::ClosedAfterForeignReply)
            .map(|p| p.evidence.detail.as_str())
            .unwrap_or_default();
        report = report.warn(
            reports::Level::Recommended,
            format!(
                "{answered} of {} connections were rejected by the gateway answering with bytes no backend \
                 sends and then ending the connection (closedAfterForeignReply; first: {first}): nothing was \
                 forwarded, which \"MUST be rejected\" allows (for HTTP the spec's rejection is a 404 reply); \
                 gwl4 recommends refusing or resetting them (gwl4-reject-by-refusal-or-reset): a TCP client \
                 cannot tell such bytes from its server's",
                probes.len()
            ),
        );
    }
    report
}

/// A failed traffic step: `why`, then the direct-backend diagnosis, with
/// conditions and the world's diagnostics as evidence.
pub async fn failure<W: World>(
    ctx: &Ctx<'_, W>,
    summary: String,
    why: String,
    expect: &Expect,
    protocol: Protocol,
) -> StepReport {
    let mut names: Vec<String> = expect.backend.iter().cloned().collect();
    names.extend(expect.backend_in.iter().flatten().cloned());
    // The direct probe's verdict is part of the failure itself, so the
    // terminal says whose fault it is, not only the reports.
    let direct = diagnose(ctx, &names, protocol).await;
    StepReport::fail(summary, format!("{why}\n{direct}"))
        .with(ctx.conditions_evidence().await)
        .note(ctx.world.diagnostics())
}

/// Probes each named backend directly, bypassing the gateway.
pub async fn diagnose<W: World>(
    ctx: &Ctx<'_, W>,
    services: &[String],
    protocol: Protocol,
) -> String {
    if services.is_empty() {
        return "no backend named in the expectation to probe directly".into();
    }
    let t = ProbeTimeouts {
        tcp: ctx
            .run
            .timeouts
            .request_timeout
            .min(std::time::Duration::from_secs(2)),
        udp: std::time::Duration::from_secs(1),
        settle: None,
    };
    let mut lines = Vec::new();
    for svc in services {
        let endpoints = ctx.world.service_endpoints(&ctx.spec.namespace, svc).await;
        if endpoints.is_empty() {
            lines.push(format!("backend {svc}: no ready endpoints known"));
        }
        for ep in endpoints {
            let p = probe::run(&ProbeKind::identify(protocol), ep, t, None).await;
            lines.push(match p {
                Ok(p) if p.is_ok() => format!(
                    "backend {svc} at {ep} answers directly ({}): the gateway is at fault",
                    describe(&p)
                ),
                Ok(p) => format!(
                    "backend {svc} at {ep} does not answer directly ({}): the backend is at fault",
                    describe(&p)
                ),
                Err(e) => format!("backend {svc} at {ep}: {e}"),
            });
        }
    }
    lines.join("\n")
}

fn outcome_word(e: &Expect) -> String {
    match e.outcome.unwrap_or(ExpectedOutcome::Ok) {
        ExpectedOutcome::Ok => match (&e.backend, &e.backend_in, &e.text) {
            (Some(b), _, _) => format!("reach {b}"),
            (_, Some(set), _) => format!("reach one of {}", set.join(", ")),
            (_, _, Some(t)) => format!("get {t:?}"),
            _ => "get a reply".into(),
        },
        other => format!(
            "be {}",
            serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ),
    }
}

/// `tcp`.
pub async fn tcp<W: World>(ctx: &Ctx<'_, W>, step: &Tcp) -> StepReport {
    let r = match ctx.resolve_as(&step.target, Some(Protocol::Tcp)).await {
        Ok(r) => r,
        Err(e) => return StepReport::fail("tcp", e),
    };
    let len = step.payload.map_or(
        if step.mode == TcpMode::Identify {
            0
        } else {
            4096
        },
        |b| b.0,
    );
    let kind = ProbeKind::Tcp(step.mode, len);
    let summary = format!(
        "{} TCP connection(s) to {} ({:?}) must {}",
        step.connections,
        r.addr,
        step.mode,
        outcome_word(&step.expect)
    )
    .to_lowercase();
    if r.protocol != Protocol::Tcp {
        return StepReport::fail(summary, "the listener is not TCP");
    }
    if step.eventually
        && let Err(e) = eventually(ctx, &kind, r, &step.expect).await
    {
        return failure(ctx, summary, e, &step.expect, Protocol::Tcp).await;
    }
    counted(
        ctx,
        &kind,
        r,
        &step.expect,
        step.connections,
        step.concurrency,
        summary,
    )
    .await
}

/// `udp`.
pub async fn udp<W: World>(ctx: &Ctx<'_, W>, step: &Udp) -> StepReport {
    let r = match ctx.resolve_as(&step.target, Some(Protocol::Udp)).await {
        Ok(r) => r,
        Err(e) => return StepReport::fail("udp", e),
    };
    let kind = if step.expect.text.is_some() {
        ProbeKind::UdpText
    } else {
        ProbeKind::Udp(step.payload.map(|b| b.0))
    };
    let summary = format!(
        "{} UDP flow(s) x {} datagram(s) to {} must {}",
        step.flows,
        step.datagrams,
        r.addr,
        outcome_word(&step.expect)
    );
    if r.protocol != Protocol::Udp {
        return StepReport::fail(summary, "the listener is not UDP");
    }
    if step.eventually
        && let Err(e) = eventually(ctx, &kind, r, &step.expect).await
    {
        return failure(ctx, summary, e, &step.expect, Protocol::Udp).await;
    }
    if step.datagrams == 1 {
        return counted(ctx, &kind, r, &step.expect, step.flows, 10, summary).await;
    }
    let mut probes: Vec<Probe> = Vec::new();
    for _ in 0..step.flows {
        match burst(ctx, r.addr, step.datagrams).await {
            Ok(b) => probes.extend(b),
            Err(e) => return StepReport::fail(summary, format!("gwl4 could not send: {e}")),
        }
    }
    judged(
        ctx,
        traffic::sampler::summarise(probes),
        r,
        &step.expect,
        summary,
    )
    .await
}

async fn burst<W: World>(
    ctx: &Ctx<'_, W>,
    addr: SocketAddr,
    k: u32,
) -> Result<Vec<Probe>, traffic::Error> {
    let mut flow = UdpFlow::open(
        addr,
        UdpOptions {
            timeout: ctx.run.timeouts.request_timeout,
            ..UdpOptions::default()
        },
    )
    .await?;
    Ok(flow.burst(k as usize).await?.probes)
}

/// `flowAffinity`: every datagram of a flow reaches the same backend.
pub async fn flow_affinity<W: World>(ctx: &Ctx<'_, W>, step: &FlowAffinity) -> StepReport {
    let r = match ctx.resolve(&step.target).await {
        Ok(r) => r,
        Err(e) => return StepReport::fail("flowAffinity", e),
    };
    let summary = format!(
        "{} UDP flows x {} datagrams to {}: each flow stays on one backend",
        step.flows, step.datagrams, r.addr
    );
    let expect = Expect {
        backend_in: Some(step.backends.clone()),
        ..Expect::default()
    };
    if let Err(e) = eventually(ctx, &ProbeKind::Udp(None), r, &expect).await {
        return failure(ctx, summary, e, &expect, Protocol::Udp).await;
    }
    let mut all = Vec::new();
    let mut split_flows = Vec::new();
    for f in 0..step.flows {
        let probes = match burst(ctx, r.addr, step.datagrams).await {
            Ok(p) => p,
            Err(e) => return StepReport::fail(summary, format!("gwl4 could not send: {e}")),
        };
        let backends: std::collections::BTreeSet<String> = probes
            .iter()
            .filter_map(|p| p.backend().map(|b| b.to_string()))
            .collect();
        if backends.len() > 1 {
            split_flows.push(format!(
                "flow {f} from {}: {}",
                probes
                    .first()
                    .and_then(|p| p.evidence.local)
                    .map_or("?".into(), |a| a.to_string()),
                backends.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        all.extend(probes);
    }
    let sample = traffic::sampler::summarise(all);
    let ev = traffic_evidence(&sample);
    if !split_flows.is_empty() {
        let why = format!(
            "{} of {} flows were spread over several backends (per-datagram balancing); {}",
            split_flows.len(),
            step.flows,
            split_flows
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
        return StepReport::fail(summary, why).with(ev);
    }
    judged(ctx, sample, r, &expect, summary).await
}
