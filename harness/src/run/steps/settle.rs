//! Waiting for traffic to settle before a step's own traffic counts.
//!
//! A `tcp`, `udp`, `flowAffinity`, `distribution` or `rejection` step
//! first probes, every DefaultPollInterval up to MaxTimeToConsistency,
//! until the gateway carries the step's route; only then are its counted
//! or statistical probes sent, once, and judged.
//!
//! One probe meeting the expectation is not enough on a real cluster: the
//! gateway learns each backend's endpoints on its own schedule, so the
//! first probe can reach backend A while backend B is still unknown to it,
//! and the step's first connections to B are reset (the node tier saw it
//! in 1 of 8 catalog runs, `TCPRouteWeightsWithUnequalReplicas`). So a
//! step that expects answers waits for RequiredConsecutiveSuccesses probes
//! in a row (as upstream's `MakeRequestAndExpectEventuallyConsistentResponse`
//! and gwl4's `convergence` step do), and a split also until every backend
//! it weights above zero has answered once (those probes are sent back to
//! back: a 1% backend needs about a hundred).
//!
//! What fails is unchanged: only a step whose every probe missed until
//! MaxTimeToConsistency fails here. A gateway that met the expectation at
//! least once but never settled further gets its step's traffic at the
//! bound, and that traffic is the verdict.

use std::collections::BTreeSet;

use super::probe::{self, ProbeKind, ProbeTimeouts, judge};
use crate::cluster::World;
use crate::run::context::{Ctx, Resolved};
use crate::suite::step::{Expect, ExpectedOutcome};

/// What settled means for one step.
#[derive(Debug, Clone, Copy)]
pub struct Settled<'a> {
    /// Probes in a row that meet the expectation.
    pub in_a_row: u32,
    /// Backends that must each have answered a probe.
    pub every: &'a [String],
}

impl<'a> Settled<'a> {
    /// RequiredConsecutiveSuccesses in a row for a step that expects
    /// answers; one probe for a step that expects rejection (each UDP miss
    /// waits a second, and no backend is half-loaded there).
    pub fn for_expect<W: World>(ctx: &Ctx<'_, W>, expect: &Expect) -> Settled<'a> {
        let answers = matches!(expect.outcome, None | Some(ExpectedOutcome::Ok));
        Settled {
            in_a_row: if answers {
                ctx.run.timeouts.consecutive_successes()
            } else {
                1
            },
            every: &[],
        }
    }

    /// One probe meeting the expectation.
    pub fn once() -> Settled<'a> {
        Settled {
            in_a_row: 1,
            every: &[],
        }
    }
}

/// [`settle`] with the probe timeouts and [`Settled`] that `expect` calls
/// for.
pub async fn eventually<W: World>(
    ctx: &Ctx<'_, W>,
    kind: &ProbeKind,
    r: Resolved,
    expect: &Expect,
) -> Result<(), String> {
    let t = ProbeTimeouts::for_expect(&ctx.run.timeouts, expect);
    settle(ctx, kind, r, expect, t, Settled::for_expect(ctx, expect)).await
}

/// Probes until `settled` holds (see the module); `Err` with the last miss
/// if no probe met `expect` by MaxTimeToConsistency.
pub async fn settle<W: World>(
    ctx: &Ctx<'_, W>,
    kind: &ProbeKind,
    r: Resolved,
    expect: &Expect,
    t: ProbeTimeouts,
    settled: Settled<'_>,
) -> Result<(), String> {
    let bound = ctx.run.timeouts.max_time_to_consistency;
    let deadline = tokio::time::Instant::now() + bound;
    let mut met = false;
    let mut streak = 0;
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut last_miss = String::new();
    loop {
        match probe::run(kind, r.addr, t, expect.text.as_deref()).await {
            Ok(p) => match judge(&p, expect, r.addr, r.protocol) {
                Ok(()) => {
                    met = true;
                    streak += 1;
                    seen.extend(p.backend().map(|b| b.service));
                }
                Err(m) => {
                    streak = 0;
                    last_miss = m;
                }
            },
            Err(e) => return Err(e.to_string()),
        }
        let in_a_row = streak >= settled.in_a_row.max(1);
        if in_a_row && settled.every.iter().all(|b| seen.contains(b)) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return if met {
                Ok(())
            } else {
                Err(format!(
                    "not consistent within MaxTimeToConsistency ({:.1}s); last probe: {last_miss}",
                    bound.as_secs_f64()
                ))
            };
        }
        if !in_a_row {
            tokio::time::sleep(ctx.poll()).await;
        }
    }
}
