//! The sampler: a sliding window (concurrency bound, no slot held by a slow probe), outcome and backend counts, and
//! the latency histogram, with synthetic probes and with real echo servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod common;

use common::PATIENCE;
use echo_server::Running;
use harness::traffic::{Backend, Evidence, Outcome, Probe, Tcp, sample, sample_until};
use tokio::sync::Barrier;

fn synthetic(outcome: Outcome, elapsed: Duration) -> Probe {
    Probe {
        outcome,
        evidence: Evidence {
            elapsed,
            ..Evidence::default()
        },
        reply: None,
    }
}

#[tokio::test]
async fn concurrency_reaches_but_never_exceeds_the_bound() {
    const BOUND: usize = 4;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    // Each probe waits until BOUND probes are in flight together: with fewer
    // allowed the barrier never opens (the test times out), with more the
    // maximum shows it.
    let barrier = Arc::new(Barrier::new(BOUND));
    let run = sample(48, BOUND, |i| {
        let (in_flight, max_seen, barrier) = (in_flight.clone(), max_seen.clone(), barrier.clone());
        async move {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            max_seen.fetch_max(now, Ordering::SeqCst);
            barrier.wait().await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(synthetic(Outcome::Ok, Duration::from_micros(i as u64)))
        }
    });
    let result = tokio::time::timeout(PATIENCE, run)
        .await
        .expect("barrier opened")
        .unwrap();
    assert_eq!(max_seen.load(Ordering::SeqCst), BOUND);
    // Every probe once (in the order they finished).
    let mut seen: Vec<u128> = result
        .probes
        .iter()
        .map(|p| p.evidence.elapsed.as_micros())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..48).collect::<Vec<u128>>());
}

#[tokio::test]
async fn a_slow_probe_does_not_hold_the_other_slots() {
    // Probe 0 ends only after all 19 others have: with an ordered window
    // the finished ones would keep their slots behind it and this never
    // completes (a dropped datagram waits a second: rejection samples ran
    // in waves).
    let done = Arc::new(AtomicUsize::new(0));
    let all_others = Arc::new(tokio::sync::Notify::new());
    let run = sample(20, 2, |i| {
        let (done, all_others) = (done.clone(), all_others.clone());
        async move {
            if i == 0 {
                while done.load(Ordering::SeqCst) < 19 {
                    all_others.notified().await;
                }
            } else if done.fetch_add(1, Ordering::SeqCst) + 1 == 19 {
                all_others.notify_one();
            }
            Ok(synthetic(Outcome::Ok, Duration::from_micros(i as u64)))
        }
    });
    let result = tokio::time::timeout(PATIENCE, run)
        .await
        .expect("the slow probe held the window")
        .unwrap();
    assert_eq!(result.probes.len(), 20);
    // Probes are kept in the order they were started (probe i took i µs),
    // whatever order they finished in: a session limit shows in start order.
    for (i, p) in result.probes.iter().enumerate() {
        assert_eq!(p.evidence.elapsed, Duration::from_micros(i as u64));
    }
}

#[tokio::test]
async fn counts_outcomes_and_histograms_ok_latency() {
    let result = sample(100, 10, |i| async move {
        Ok(match i % 4 {
            0 => synthetic(Outcome::Refused, Duration::from_secs(9)),
            _ => synthetic(Outcome::Ok, Duration::from_millis(i as u64 + 1)),
        })
    })
    .await
    .unwrap();
    assert_eq!(result.count(Outcome::Refused), 25);
    assert_eq!(result.count(Outcome::Ok), 75);
    assert_eq!(result.count(Outcome::Timeout), 0);
    let h = &result.latency_us;
    assert_eq!(h.len(), 75, "only ok probes are in the histogram");
    // i = 1 -> 2 ms is the fastest ok probe; i = 99 -> 100 ms the slowest.
    assert!(h.equivalent(h.min(), 2_000), "min {}", h.min());
    assert!(h.equivalent(h.max(), 100_000), "max {}", h.max());
    assert!(h.value_at_quantile(0.5) > 40_000 && h.value_at_quantile(0.5) < 60_000);
}

#[tokio::test]
async fn latency_beyond_the_range_is_clamped_not_lost() {
    let result = sample(2, 1, |i| async move {
        Ok(synthetic(
            Outcome::Ok,
            Duration::from_secs(if i == 0 { 1 } else { 10 * 3600 }),
        ))
    })
    .await
    .unwrap();
    let h = &result.latency_us;
    assert_eq!(h.len(), 2);
    assert!(h.equivalent(h.min(), 1_000_000), "min {}", h.min());
    assert!(h.max() >= 3_599_000_000, "max {}", h.max());
}

async fn echo_server(service: &str) -> Running {
    common::echo_server(service, &format!("{service}-0"), true, false).await
}

#[tokio::test]
async fn counts_backends_over_real_probes() {
    let a = echo_server("a").await;
    let b = echo_server("b").await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let targets = [a.tcp_addr().unwrap(), b.tcp_addr().unwrap(), closed_addr];
    let tcp = Tcp::default();
    let run = sample(90, 16, |i| tcp.identify(targets[i % 3]));
    let result = tokio::time::timeout(PATIENCE, run).await.unwrap().unwrap();
    let backend = |s: &str| Backend {
        service: s.into(),
        pod: format!("{s}-0"),
    };
    assert_eq!(result.backends.get(&backend("a")), Some(&30));
    assert_eq!(result.backends.get(&backend("b")), Some(&30));
    assert_eq!(result.count(Outcome::Ok), 60);
    assert_eq!(result.count(Outcome::Refused), 30);
    assert_eq!(result.latency_us.len(), 60);
    assert_eq!(result.probes[2].outcome, Outcome::Refused);
}

/// A UDP-like probe: answered at once, or unanswered after a short window.
async fn flow(answered: bool) -> Result<Probe, harness::traffic::Error> {
    if answered {
        Ok(synthetic(Outcome::Ok, Duration::ZERO))
    } else {
        tokio::time::sleep(Duration::from_millis(40)).await;
        Ok(synthetic(Outcome::Timeout, Duration::from_millis(40)))
    }
}

/// The rule the statistical steps use, on probes in start order.
fn replies_stopped(done: &[Probe], concurrency: usize) -> bool {
    let answered: Vec<bool> = done.iter().map(|p| p.is_ok()).collect();
    stats::capacity::replies_stopped(&answered, stats::capacity::stop_run(concurrency))
}

#[tokio::test]
async fn a_drop_share_and_a_stall_do_not_end_a_sample_early() {
    // Half the flows dropped (a designed invalid share), and a stall that
    // loses the 200 flows in flight. In finish order the dropped flows
    // time out in clusters of hundreds and read as replies that stopped
    // (samples ended after a sixth of their flows); in start order they
    // do not.
    const N: usize = 3000;
    let taken = sample_until(
        N,
        200,
        |i| flow(i % 2 == 1 && !(1000..1200).contains(&i)),
        |done| replies_stopped(done, 200),
    )
    .await
    .unwrap();
    assert_eq!(taken.probes.len(), N, "the sample ran to the end");
    assert_eq!(
        stats::capacity::cutoff(&taken.probes.iter().map(|p| p.is_ok()).collect::<Vec<_>>()),
        None
    );
}

#[tokio::test]
async fn replies_that_stop_for_good_end_a_sample_early() {
    // A session cap: after 1000 flows nothing is answered any more.
    const N: usize = 5000;
    let taken = sample_until(
        N,
        200,
        |i| flow(i % 2 == 1 && i < 1000),
        |done| replies_stopped(done, 200),
    )
    .await
    .unwrap();
    let len = taken.probes.len();
    assert!(
        (1400..2000).contains(&len),
        "stopped two windows' worth after the cap, with those in flight: {len}"
    );
    let cut = stats::capacity::cutoff(&taken.probes.iter().map(|p| p.is_ok()).collect::<Vec<_>>())
        .expect("a cutoff");
    assert_eq!(cut.cut_at, 1000, "{cut:?}");
}
