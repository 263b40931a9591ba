//! Many probes with bounded concurrency, summarised: outcomes in order,
//! latency histogram, counts per outcome and per backend.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt, stream};
use hdrhistogram::Histogram;

use super::outcome::{Backend, Error, Outcome, Probe};

/// Significant figures kept by the latency histogram (0.1% resolution).
const SIGFIGS: u8 = 3;

/// Largest latency the histogram tells apart (one hour, in microseconds);
/// longer ones are recorded as this.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// The result of [`sample`].
#[derive(Debug, Clone)]
pub struct Sample {
    /// Every probe, in the order they were started (index `i` is probe `i`).
    pub probes: Vec<Probe>,
    /// Latency of the probes whose outcome is [`Outcome::Ok`], in
    /// microseconds (failures would mix in timeouts and instant refusals).
    pub latency_us: Histogram<u64>,
    /// How many probes ended in each outcome (outcomes with none are absent).
    pub outcomes: BTreeMap<Outcome, u64>,
    /// How many identity replies each backend gave, over probes whose
    /// outcome is [`Outcome::Ok`].
    pub backends: BTreeMap<Backend, u64>,
}

impl Sample {
    /// How many probes ended in `outcome`.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes.get(&outcome).copied().unwrap_or(0)
    }
}

/// Runs `n` probes, at most `concurrency` at a time (at least one), all on
/// the current task. `probe(i)` makes probe `i`; the sample holds them in
/// the order they were started (a session limit shows as replies that stop
/// after some probe). Stops at the first local [`Error`] (our own failure
/// invalidates the sample).
pub async fn sample<F, Fut>(n: usize, concurrency: usize, mut probe: F) -> Result<Sample, Error>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<Probe, Error>>,
{
    // Unordered: a slot frees as soon as its probe ends. In order, one slow
    // probe (a dropped datagram waits a full second) held every later
    // finished one in the window, so a rejection sample ran in waves.
    let mut probes: Vec<(usize, Probe)> = stream::iter(0..n)
        .map(|i| {
            let fut = probe(i);
            async move { fut.await.map(|p| (i, p)) }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    probes.sort_by_key(|(i, _)| *i);
    Ok(summarise(probes.into_iter().map(|(_, p)| p).collect()))
}

/// [`sample`] that stops starting probes once `stop` says so, given the
/// probes finished so far in the order they were *started*: the longest
/// run of them with every earlier one finished too. The probes in flight
/// then finish. The sample holds the probes taken, in start order.
///
/// Start order, not finish order: a probe that gets no reply finishes only
/// when its timeout runs out, so in finish order the unanswered ones come
/// in clusters (every flow started in one burst times out in the same
/// instant) and a stop rule read them as replies that had stopped, ending
/// samples after a sixth of their flows. In start order, replies that stop
/// for good (a session limit) are a run that only grows.
pub async fn sample_until<F, Fut>(
    n: usize,
    concurrency: usize,
    mut probe: F,
    stop: impl Fn(&[Probe]) -> bool,
) -> Result<Sample, Error>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<Probe, Error>>,
{
    let mut in_flight = futures::stream::FuturesUnordered::new();
    // Finished probes not yet in `prefix`, by start index.
    let mut pending: BTreeMap<usize, Probe> = BTreeMap::new();
    let mut prefix: Vec<Probe> = Vec::new();
    let mut next = 0;
    let mut stopped = false;
    loop {
        while !stopped && next < n && in_flight.len() < concurrency.max(1) {
            let fut = probe(next);
            let i = next;
            in_flight.push(async move { fut.await.map(|p| (i, p)) });
            next += 1;
        }
        let Some(done) = in_flight.next().await else {
            break;
        };
        let (i, p) = done?;
        pending.insert(i, p);
        let before = prefix.len();
        while let Some(p) = pending.remove(&prefix.len()) {
            prefix.push(p);
        }
        if !stopped && prefix.len() > before && stop(&prefix) {
            stopped = true;
        }
    }
    debug_assert!(pending.is_empty(), "every started probe finished");
    Ok(summarise(prefix))
}

/// Builds the counts and histogram over finished probes.
pub fn summarise(probes: Vec<Probe>) -> Sample {
    let mut latency_us =
        Histogram::new_with_max(MAX_LATENCY_US, SIGFIGS).expect("constant bounds are valid");
    let mut outcomes = BTreeMap::new();
    let mut backends = BTreeMap::new();
    for p in &probes {
        *outcomes.entry(p.outcome).or_insert(0) += 1;
        if p.is_ok() {
            let us = u64::try_from(p.evidence.elapsed.as_micros()).unwrap_or(u64::MAX);
            // A fixed range (auto-resizing histograms do not resize on
            // `saturating_record`): anything beyond it counts as the maximum.
            latency_us.saturating_record(us);
            if let Some(b) = p.backend() {
                *backends.entry(b).or_insert(0) += 1;
            }
        }
    }
    Sample {
        probes,
        latency_us,
        outcomes,
        backends,
    }
}
