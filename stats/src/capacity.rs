//! Loss that is not routing: UDP replies that stop for good partway through
//! a sample (a gateway's session limit), and the residual loss that
//! retransmission leaves, bounded so a rejection verdict can say how much
//! loss could have moved it.
//!
//! A UDP flow is a gateway session that lives until its idle timeout, and a
//! statistical step opens thousands within seconds. A gateway with a cap on
//! sessions (Envoy's default circuit breaker: 1,024 per cluster) answers
//! the first flows up to the cap and drops every later one until sessions
//! expire. In start order that is a run of unanswered flows at the end of
//! the sample, far longer than the drop rate seen before it makes
//! plausible, and longer than a stall (which loses the flows in flight,
//! then replies resume: [`stop_run`]). [`cutoff`] finds it; the caller judges the split on the flows
//! before it and reports the limit, which is a capacity matter, not a
//! routing one.

/// A run of unanswered flows at the end of a sample, too long for chance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoff {
    /// Flows answered before replies stopped (a session limit near this).
    pub answered: usize,
    /// Index (start order) of the first flow of the unanswered run: the
    /// flows before it are the usable sample.
    pub cut_at: usize,
    /// Length of the unanswered run.
    pub trailing: usize,
}

/// Shortest run that may count as replies stopping.
pub const MIN_RUN: usize = 10;

/// A run counts when chance would make it at most this likely.
pub const RUN_CHANCE: f64 = 1e-6;

/// Finds replies that stopped for good: `answered[i]` says whether flow `i`
/// (in start order) got a reply. The trailing unanswered run counts when it
/// is at least [`MIN_RUN`] long and, at the drop rate seen before it `q`
/// (unanswered / flows before the run; designed drops of an invalid share
/// included), `q^run <= RUN_CHANCE`.
pub fn cutoff(answered: &[bool]) -> Option<Cutoff> {
    let last = answered.iter().rposition(|a| *a)?;
    let cut_at = last + 1;
    let trailing = answered.len() - cut_at;
    if trailing < MIN_RUN {
        return None;
    }
    let before = &answered[..cut_at];
    let answered_before = before.iter().filter(|a| **a).count();
    let q = (cut_at - answered_before) as f64 / cut_at as f64;
    let chance = q.powi(i32::try_from(trailing).unwrap_or(i32::MAX));
    (chance <= RUN_CHANCE).then_some(Cutoff {
        answered: answered_before,
        cut_at,
        trailing,
    })
}

/// Shortest run of unanswered flows after which [`replies_stopped`] may
/// say replies stopped, whatever the concurrency.
pub const STOP_RUN: usize = 50;

/// The run [`replies_stopped`] needs for a sample taken `concurrency` flows
/// at a time: at least [`STOP_RUN`], and twice the concurrency. A stall of
/// the gateway, a backend or the runner longer than a flow's window loses
/// about the flows in flight, a run of about `concurrency` in start order,
/// after which replies resume; a session limit loses every later flow. Two
/// windows' worth tells them apart, at the cost of two more windows before
/// a capped sample ends.
pub fn stop_run(concurrency: usize) -> usize {
    STOP_RUN.max(2 * concurrency)
}

/// Whether a sample still being taken should stop starting flows:
/// `answered` is the flows finished so far, in start order; some flow was
/// answered, and the last `k` all went unanswered, where `k` is at least
/// `min_run` ([`stop_run`]) and long enough that, at the drop rate seen
/// before the run, chance would make it at most [`RUN_CHANCE`] likely.
/// Replies have then stopped (a session limit): every further flow would
/// wait out its timeout to show the same, so the sample ends there and
/// [`cutoff`] judges what was taken.
pub fn replies_stopped(answered: &[bool], min_run: usize) -> bool {
    let Some(last) = answered.iter().rposition(|a| *a) else {
        return false;
    };
    let run = answered.len() - last - 1;
    if run < min_run.max(1) {
        return false;
    }
    let before = &answered[..=last];
    let q = before.iter().filter(|a| !**a).count() as f64 / before.len() as f64;
    q.powi(i32::try_from(run).unwrap_or(i32::MAX)) <= RUN_CHANCE
}

/// Residual loss after retransmission, from the answered flows' sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResidualLoss {
    /// Per-send loss estimated from the answered flows: resends / sends.
    pub per_send: f64,
    /// Chance a flow is lost after every send, if sends are lost
    /// independently: `per_send ^ max_tries`.
    pub per_flow: f64,
    /// How much that could raise a dropped share whose valid part is
    /// `1 - share`: `(1 - share) * per_flow`.
    pub share_bias: f64,
}

/// Estimates residual loss from the answered flows' send counts (`tries`,
/// each at least 1) for a probe that sends at most `max_tries` times, and
/// bounds how much it could add to a dropped share of `share`.
pub fn residual_loss(tries: &[u32], max_tries: u32, share: f64) -> ResidualLoss {
    let sends: u64 = tries.iter().map(|t| u64::from(*t)).sum();
    let resends: u64 = tries.iter().map(|t| u64::from(t.saturating_sub(1))).sum();
    let per_send = if sends == 0 {
        0.0
    } else {
        resends as f64 / sends as f64
    };
    let per_flow = per_send.powi(i32::try_from(max_tries).unwrap_or(i32::MAX));
    ResidualLoss {
        per_send,
        per_flow,
        share_bias: (1.0 - share) * per_flow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flows(pattern: &[(bool, usize)]) -> Vec<bool> {
        pattern
            .iter()
            .flat_map(|(a, n)| std::iter::repeat_n(*a, *n))
            .collect()
    }

    #[test]
    fn a_session_cap_is_a_cutoff() {
        // Envoy's 1024 sessions: every flow answered, then none.
        let c = cutoff(&flows(&[(true, 1024), (false, 1507)])).unwrap();
        assert_eq!(
            c,
            Cutoff {
                answered: 1024,
                cut_at: 1024,
                trailing: 1507
            }
        );
    }

    #[test]
    fn an_invalid_share_alone_is_not_a_cutoff() {
        // Half the flows dropped by design, alternating: the trailing run is short.
        let mut a: Vec<bool> = (0..3000).map(|i| i % 2 == 1).collect();
        a.extend([false; 3]);
        assert_eq!(cutoff(&a), None);
        // A run of 15 after a 50% drop rate: 0.5^15 = 3e-5 is chance enough.
        let mut b: Vec<bool> = (0..3000).map(|i| i % 2 == 1).collect();
        b.extend([false; 15]);
        assert_eq!(cutoff(&b), None);
        // 25 in a row: 3e-8, a cutoff.
        let mut c: Vec<bool> = (0..3000).map(|i| i % 2 == 1).collect();
        c.extend([false; 25]);
        assert_eq!(cutoff(&c).map(|c| c.trailing), Some(25));
    }

    #[test]
    fn short_runs_and_all_silent_samples_are_not_cutoffs() {
        assert_eq!(cutoff(&flows(&[(true, 100), (false, 9)])), None);
        // No reply at all: nothing to cut at (the route may drop everything).
        assert_eq!(cutoff(&[false; 50]), None);
        assert_eq!(cutoff(&[]), None);
    }

    #[test]
    fn a_sample_stops_when_replies_stop() {
        assert!(replies_stopped(
            &flows(&[(true, 500), (false, 50)]),
            STOP_RUN
        ));
        assert!(!replies_stopped(
            &flows(&[(true, 500), (false, 49)]),
            STOP_RUN
        ));
        assert!(!replies_stopped(&[false; 200], STOP_RUN));
        // At a 90% drop rate 50 in a row is 0.5% likely: keep going.
        let mut mostly_dropped: Vec<bool> = (0..1000).map(|i| i % 10 == 0).collect();
        mostly_dropped.extend([false; 50]);
        assert!(!replies_stopped(&mostly_dropped, STOP_RUN));
    }

    #[test]
    fn a_stall_of_the_flows_in_flight_does_not_stop_a_sample() {
        // 200 at a time: a stall loses about 200 in a row, then replies
        // resume; only a run of twice that is replies stopping.
        assert_eq!(stop_run(200), 400);
        assert_eq!(stop_run(10), STOP_RUN);
        let half: Vec<bool> = (0..1000).map(|i| i % 2 == 1).collect();
        let mut stalled = half.clone();
        stalled.extend([false; 230]);
        assert!(!replies_stopped(&stalled, stop_run(200)));
        let mut capped = half;
        capped.extend([false; 400]);
        assert!(replies_stopped(&capped, stop_run(200)));
    }

    #[test]
    fn residual_loss_is_bounded_from_resends() {
        // 1000 flows, 100 needed one resend: per-send loss 100/1100.
        let mut tries = vec![1u32; 900];
        tries.extend([2u32; 100]);
        let r = residual_loss(&tries, 4, 0.5);
        assert!((r.per_send - 100.0 / 1100.0).abs() < 1e-12);
        assert!((r.per_flow - r.per_send.powi(4)).abs() < 1e-15);
        assert!((r.share_bias - 0.5 * r.per_flow).abs() < 1e-15);
        assert_eq!(residual_loss(&[], 4, 0.5).share_bias, 0.0);
    }
}
