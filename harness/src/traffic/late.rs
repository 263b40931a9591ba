//! Late UDP replies: a flow answered after its window was answered, not
//! dropped.
//!
//! A statistical UDP step waits a fixed window per flow (resending inside
//! it) and then counts the flow as unanswered. On a loaded machine the
//! gateway, a backend or gwl4 itself can stall for longer than that: every
//! flow in flight then times out together, and in a rejection step they
//! would all count as dropped, raising the dropped share by a burst that
//! says nothing about routing (seen in CI on 2 cores: a correct gateway's
//! 50% share measured at 62%, `UDPRouteInvalidBackendShareIsDropped`). A
//! stalled gateway still answers once it runs again; a dropping one never
//! does. So a flow that timed out is kept open, and when the sample is
//! over (plus a grace of one window) whatever reply it got since is its
//! outcome: which backend answered, late, or a wrong reply, still wrong.
//! Only a flow with no reply by then is unanswered.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::Duration;

use super::outcome::{Error, Outcome, Probe};
use super::sampler::{Sample, summarise};
use super::udp::{UdpFlow, UdpOptions};

/// Flows kept open at most per sample: each holds a socket (a descriptor
/// and a source port) until the sample ends. Beyond it a timed-out flow is
/// closed and stays unanswered, as without this module.
pub const MAX_KEPT: usize = 8192;

/// The timed-out flows of one sample, by their index in start order.
#[derive(Default)]
pub struct LateReplies {
    kept: RefCell<Vec<(usize, UdpFlow, Probe)>>,
}

impl LateReplies {
    /// Probe `i` of the sample: a new flow to `target` that identifies its
    /// backend; kept open if it times out.
    pub async fn identify(
        &self,
        i: usize,
        target: SocketAddr,
        options: UdpOptions,
    ) -> Result<Probe, Error> {
        let mut flow = UdpFlow::open(target, options).await?;
        let probe = flow.identify().await?;
        if probe.outcome == Outcome::Timeout && self.kept.borrow().len() < MAX_KEPT {
            flow.park();
            self.kept.borrow_mut().push((i, flow, probe.clone()));
        }
        Ok(probe)
    }

    /// After `grace`, replaces each kept flow's timeout in `sample` with
    /// the reply it got since, if any; returns the sample and how many
    /// flows were answered late. The kept flows are closed.
    pub async fn settle(self, sample: Sample, grace: Duration) -> (Sample, usize) {
        let mut kept = self.kept.into_inner();
        if kept.is_empty() {
            return (sample, 0);
        }
        tokio::time::sleep(grace).await;
        let mut probes = sample.probes;
        let mut late = 0;
        for (i, flow, timed_out) in &mut kept {
            if let Some(probe) = flow.late_identity(timed_out)
                && let Some(slot) = probes.get_mut(*i)
            {
                *slot = probe;
                late += 1;
            }
        }
        (summarise(probes), late)
    }
}
