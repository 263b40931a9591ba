//! `convergence`: after a change, how long until traffic reflects it. The
//! time is reported; the bound is MaxTimeToConsistency.

use reports::{ConvergenceEvidence, Evidence};

use super::probe::{self, ProbeKind, ProbeTimeouts, judge};
use super::traffic::failure;
use crate::cluster::World;
use crate::run::context::{Ctx, StepReport};
use crate::suite::step::{Convergence, Protocol};

/// `convergence`: probes (a new connection or flow each) every
/// DefaultPollInterval until RequiredConsecutiveSuccesses in a row meet the
/// expectation; reports the time to the first probe of that run.
pub async fn convergence<W: World>(ctx: &Ctx<'_, W>, step: &Convergence) -> StepReport {
    let start = tokio::time::Instant::now();
    let r = match ctx.resolve_as(&step.target, step.protocol).await {
        Ok(r) => r,
        Err(e) => return StepReport::fail("convergence", e),
    };
    let protocol = step.protocol.unwrap_or(r.protocol);
    let kind = match (step.expect.text.is_some(), protocol) {
        (true, Protocol::Udp) => ProbeKind::UdpText,
        (true, Protocol::Tcp) => ProbeKind::Tcp(crate::suite::step::TcpMode::Text, 0),
        (false, _) => ProbeKind::identify(protocol),
    };
    let needed = ctx.run.timeouts.consecutive_successes();
    let bound = ctx.run.timeouts.max_time_to_consistency;
    let summary = format!(
        "traffic to {} converges ({needed} probes in a row) within MaxTimeToConsistency ({:.0}s)",
        r.addr,
        bound.as_secs_f64()
    );
    let t = ProbeTimeouts::for_expect(&ctx.run.timeouts, &step.expect);
    let mut streak = 0;
    let mut streak_start = start;
    let mut last_miss = String::new();
    loop {
        let probe_time = tokio::time::Instant::now();
        match probe::run(&kind, r.addr, t, step.expect.text.as_deref()).await {
            Ok(p) => match judge(&p, &step.expect, r.addr, protocol) {
                Ok(()) => {
                    if streak == 0 {
                        streak_start = probe_time;
                    }
                    streak += 1;
                }
                Err(m) => {
                    streak = 0;
                    last_miss = m;
                }
            },
            Err(e) => return StepReport::fail(summary, format!("gwl4 could not send: {e}")),
        }
        let elapsed = (streak_start - start).as_secs_f64();
        if streak >= needed {
            let ev = Evidence::Convergence(ConvergenceEvidence {
                seconds: elapsed,
                bound: bound.as_secs_f64(),
                converged: true,
            });
            return StepReport::pass(format!("{summary}: {elapsed:.3}s")).with(ev);
        }
        if start.elapsed() >= bound {
            let ev = Evidence::Convergence(ConvergenceEvidence {
                seconds: start.elapsed().as_secs_f64(),
                bound: bound.as_secs_f64(),
                converged: false,
            });
            let why = if last_miss.is_empty() {
                format!(
                    "only {streak} of {needed} probes in a row met the expectation before the bound"
                )
            } else {
                format!("did not converge; last miss: {last_miss}")
            };
            return failure(ctx, summary, why, &step.expect, protocol)
                .await
                .with(ev);
        }
        tokio::time::sleep(ctx.poll()).await;
    }
}
