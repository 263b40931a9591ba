//! Bench results: per-target numbers, gateway/direct ratios, the observed
//! split's verdict, and the text, JSON and HTML forms.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::BenchError;
use super::memory::Memory;
use super::tcp::{ConnectionRate, Throughput};
use super::udp::UdpRate;

/// A ratio at or above this (gateway / direct, higher is better) means the
/// gateway is at the generator's ceiling: it may be faster than measured.
pub const CEILING: f64 = 0.9;

/// Which path a measurement took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The backend, directly.
    Direct,
    /// Through the gateway.
    Gateway,
}

impl Side {
    /// The order of round `round`: direct first in odd rounds (counting
    /// from 1), the gateway first in even ones, so neither path always runs
    /// on the machine the other has just warmed or loaded.
    pub fn order(round: u32) -> [Side; 2] {
        if round.is_multiple_of(2) {
            [Side::Direct, Side::Gateway]
        } else {
            [Side::Gateway, Side::Direct]
        }
    }

    /// `gateway` or `direct`, by side (values or references alike).
    pub fn pick<T>(self, gateway: T, direct: T) -> T {
        match self {
            Side::Direct => direct,
            Side::Gateway => gateway,
        }
    }
}

/// The round with the median `key` (the lower middle one of an even
/// count), or `None` with no rounds. A whole round is reported, not a
/// mean of rounds, so its numbers stay consistent with each other.
pub fn median<T: Clone>(rounds: &[T], key: impl Fn(&T) -> f64) -> Option<T> {
    let mut order: Vec<&T> = rounds.iter().collect();
    order.sort_by(|a, b| key(a).total_cmp(&key(b)));
    order
        .get(rounds.len().saturating_sub(1) / 2)
        .map(|t| (*t).clone())
}

/// One latency bucket of the histogram (for charts).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    /// Upper bound, microseconds.
    pub le_us: f64,
    /// Samples in the bucket.
    pub count: u64,
}

/// Round-trip latency summary (microseconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Latency {
    /// Round trips recorded.
    pub samples: u64,
    /// Requests with no reply (UDP only).
    pub lost: u64,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest.
    pub max_us: f64,
    /// Log-spaced buckets (×1.25) for charts.
    pub buckets: Vec<Bucket>,
}

impl Latency {
    /// An empty nanosecond histogram, 1 ns to 60 s, 3 significant figures.
    pub fn histogram() -> Histogram<u64> {
        Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("constant bounds are valid")
    }

    /// Summarises a nanosecond histogram.
    pub fn from_histogram(h: &Histogram<u64>, lost: u64) -> Self {
        let us = |ns: u64| ns as f64 / 1000.0;
        let buckets = if h.is_empty() {
            Vec::new()
        } else {
            h.iter_log(1_000, 1.25)
                .filter(|v| v.count_since_last_iteration() > 0)
                .map(|v| Bucket {
                    le_us: us(v.value_iterated_to()),
                    count: v.count_since_last_iteration(),
                })
                .collect()
        };
        Self {
            samples: h.len(),
            lost,
            p50_us: us(h.value_at_quantile(0.5)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
            buckets,
        }
    }
}

/// Everything measured on one path.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetResults {
    /// Single-stream TCP throughput.
    pub tcp_throughput: Option<Throughput>,
    /// TCP connection rate.
    pub tcp_connections: Option<ConnectionRate>,
    /// TCP echo round trips.
    pub tcp_latency: Option<Latency>,
    /// UDP offered flat out.
    pub udp_saturation: Option<UdpRate>,
    /// UDP at the stated offered rate.
    pub udp_offered: Option<UdpRate>,
    /// UDP echo round trips.
    pub udp_latency: Option<Latency>,
    /// Every round of the measurements repeated in rounds (the fields
    /// above hold the median round).
    #[serde(default)]
    pub rounds: Rounds,
}

/// The measurements repeated in rounds, one entry per round in run order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rounds {
    /// Single-stream TCP throughput.
    pub tcp_throughput: Vec<Throughput>,
    /// TCP connection rate.
    pub tcp_connections: Vec<ConnectionRate>,
    /// UDP offered flat out.
    pub udp_saturation: Vec<UdpRate>,
    /// TCP echo round trips (the median round by p99 is reported).
    pub tcp_latency: Vec<Latency>,
    /// UDP echo round trips (likewise).
    pub udp_latency: Vec<Latency>,
}

/// The observed TCP split through the gateway and its chi-squared verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitReport {
    /// Expected weights, by backend `service`.
    pub weights: Vec<(String, u32)>,
    /// The verdict (counts, expected counts, p-value, Wilson intervals).
    pub verdict: stats::DistributionVerdict,
}

impl SplitReport {
    /// Judges the connection-rate test's identity counts against `weights`.
    pub fn judge(
        weights: &[(String, u32)],
        observed: &BTreeMap<String, u64>,
    ) -> Result<Self, BenchError> {
        let w: Vec<(&str, u32)> = weights.iter().map(|(n, w)| (n.as_str(), *w)).collect();
        let o: Vec<(&str, u64)> = observed.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        let verdict = stats::judge_distribution(&w, &o, &stats::Settings::default())
            .map_err(|e| BenchError::Usage(format!("--weights: {e}")))?;
        Ok(Self {
            weights: weights.to_vec(),
            verdict,
        })
    }
}

/// One metric, side by side.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ratio {
    /// What was measured, with its unit.
    pub metric: String,
    /// Direct path.
    pub direct: f64,
    /// Through the gateway.
    pub gateway: f64,
    /// `gateway / direct`.
    pub ratio: f64,
    /// Whether higher is better (rates) or lower (latencies, loss).
    pub higher_is_better: bool,
    /// A rate within [`CEILING`] of the direct path's.
    pub at_ceiling: bool,
    /// `gateway / direct` of each round, for the measurements repeated in
    /// rounds (empty for the others): their spread is the noise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub round_ratios: Vec<f64>,
}

impl Ratio {
    /// `N rounds, round ratios LO–HI` when measured in several rounds.
    pub fn spread(&self) -> Option<String> {
        let n = self.round_ratios.len();
        let lo = self
            .round_ratios
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let hi = self.round_ratios.iter().copied().fold(0.0, f64::max);
        (n > 1).then(|| format!("{n} rounds, round ratios {lo:.3}–{hi:.3}"))
    }
}

/// A whole bench run: the input to the text table, bench.json and bench.html.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchReport {
    /// The gateway's name (`--label`).
    pub label: String,
    /// `--short`: numbers are not meaningful.
    pub short: bool,
    /// Load average when the run ended (1, 5, 15 minutes), if readable.
    pub load_average: Option<String>,
    /// The backend directly (also the generator's ceiling).
    pub direct: TargetResults,
    /// Through the gateway.
    pub gateway: TargetResults,
    /// Side-by-side ratios.
    pub ratios: Vec<Ratio>,
    /// The observed split, if weights were given.
    pub split: Option<SplitReport>,
    /// Gateway RSS with idle connections, if measured.
    pub memory: Option<Memory>,
}

impl BenchReport {
    /// Builds the ratios.
    pub fn new(
        label: String,
        short: bool,
        direct: TargetResults,
        gateway: TargetResults,
        split: Option<SplitReport>,
        memory: Option<Memory>,
    ) -> Self {
        let mut ratios = Vec::new();
        // 0 / 0 (no loss on either path) is parity, not undefined.
        let ratio = |direct: f64, gateway: f64| match (direct > 0.0, gateway > 0.0) {
            (true, _) => gateway / direct,
            (false, false) => 1.0,
            (false, true) => f64::INFINITY,
        };
        // Each round's ratio, for the metrics measured in rounds.
        let per_round = |values: &dyn Fn(&Rounds) -> Vec<f64>| -> Vec<f64> {
            let (d, g) = (values(&direct.rounds), values(&gateway.rounds));
            d.iter().zip(&g).map(|(d, g)| ratio(*d, *g)).collect()
        };
        let mut add =
            |metric: &str, d: Option<f64>, g: Option<f64>, higher: bool, round_ratios: Vec<f64>| {
                if let (Some(direct), Some(gateway)) = (d, g) {
                    let ratio = ratio(direct, gateway);
                    ratios.push(Ratio {
                        metric: metric.to_string(),
                        direct,
                        gateway,
                        ratio,
                        higher_is_better: higher,
                        at_ceiling: higher && ratio >= CEILING,
                        round_ratios,
                    });
                }
            };
        let (d, g) = (&direct, &gateway);
        add(
            "TCP throughput (MB/s)",
            d.tcp_throughput.as_ref().map(|t| t.bytes_per_second / 1e6),
            g.tcp_throughput.as_ref().map(|t| t.bytes_per_second / 1e6),
            true,
            per_round(&|r| {
                r.tcp_throughput
                    .iter()
                    .map(|t| t.bytes_per_second)
                    .collect()
            }),
        );
        add(
            "TCP connections/s",
            d.tcp_connections.as_ref().map(|c| c.per_second),
            g.tcp_connections.as_ref().map(|c| c.per_second),
            true,
            per_round(&|r| r.tcp_connections.iter().map(|c| c.per_second).collect()),
        );
        // Rounds are chosen by p99, so only the p99 rows show round ratios.
        type Percentile = (&'static str, fn(&Latency) -> f64, bool);
        let tcp: [Percentile; 3] = [
            ("p50", |l| l.p50_us, false),
            ("p99", |l| l.p99_us, true),
            ("p99.9", |l| l.p999_us, false),
        ];
        for (name, pick, in_rounds) in tcp {
            add(
                &format!("TCP echo latency {name} (µs)"),
                d.tcp_latency.as_ref().map(pick),
                g.tcp_latency.as_ref().map(pick),
                false,
                if in_rounds {
                    per_round(&|r| r.tcp_latency.iter().map(pick).collect())
                } else {
                    Vec::new()
                },
            );
        }
        add(
            "UDP saturation delivered (datagrams/s)",
            d.udp_saturation.as_ref().map(|u| u.received_per_second),
            g.udp_saturation.as_ref().map(|u| u.received_per_second),
            true,
            per_round(&|r| {
                r.udp_saturation
                    .iter()
                    .map(|u| u.received_per_second)
                    .collect()
            }),
        );
        if let (Some(du), Some(gu)) = (&d.udp_offered, &g.udp_offered) {
            let offered = gu.offered_per_second.unwrap_or(0);
            add(
                &format!("UDP delivered at {offered}/s offered (datagrams/s)"),
                Some(du.received_per_second),
                Some(gu.received_per_second),
                true,
                Vec::new(),
            );
            add(
                &format!("UDP loss at {offered}/s offered (%)"),
                Some(du.loss * 100.0),
                Some(gu.loss * 100.0),
                false,
                Vec::new(),
            );
        }
        let udp: [Percentile; 2] = [("p50", |l| l.p50_us, false), ("p99", |l| l.p99_us, true)];
        for (name, pick, in_rounds) in udp {
            add(
                &format!("UDP echo latency {name} (µs)"),
                d.udp_latency.as_ref().map(pick),
                g.udp_latency.as_ref().map(pick),
                false,
                if in_rounds {
                    per_round(&|r| r.udp_latency.iter().map(pick).collect())
                } else {
                    Vec::new()
                },
            );
        }
        Self {
            label,
            short,
            load_average: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")),
            direct,
            gateway,
            ratios,
            split,
            memory,
        }
    }

    /// The table printed at the end of a run.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "gwl4 bench: {} vs direct{}{}",
            self.label,
            if self.short {
                " (short mode: numbers not meaningful)"
            } else {
                ""
            },
            self.load_average
                .as_ref()
                .map(|l| format!(", load average {l}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "{:<46} {:>12} {:>12} {:>8}",
            "metric", "direct", &self.label, "ratio"
        );
        for r in &self.ratios {
            let spread = r
                .spread()
                .map(|s| format!("  median of {s}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<46} {:>12.1} {:>12.1} {:>8.3}{}{spread}",
                r.metric,
                r.direct,
                r.gateway,
                r.ratio,
                if r.at_ceiling {
                    "  at the generator ceiling (direct path): the gateway may be faster"
                } else {
                    ""
                }
            );
        }
        if let Some(split) = &self.split {
            let v = &split.verdict;
            let counts: Vec<String> = v
                .backends
                .iter()
                .map(|b| {
                    format!(
                        "{} {} ({:.1}% vs {:.1}%)",
                        b.name,
                        b.observed,
                        b.share * 100.0,
                        b.expected_share * 100.0
                    )
                })
                .chain(
                    v.unexpected
                        .iter()
                        .map(|u| format!("{} {} (unexpected)", u.name, u.observed)),
                )
                .collect();
            let _ = writeln!(
                out,
                "TCP split over {} connections: {}; chi-squared p = {}: {}",
                v.n,
                counts.join(", "),
                v.p_value
                    .map_or_else(|| "n/a".into(), |p| format!("{p:.3}")),
                if v.passed {
                    "consistent with the weights".to_string()
                } else {
                    format!("NOT consistent: {}", v.reasons.join("; "))
                }
            );
        }
        if let Some(m) = &self.memory {
            let _ = writeln!(
                out,
                "gateway RSS: {:.1} MiB idle, {:.1} MiB with {} idle TCP connections: {:.1} KiB per connection",
                m.rss_before_kib as f64 / 1024.0,
                m.rss_after_kib as f64 / 1024.0,
                m.connections,
                m.per_connection_kib
            );
            if let Some(e) = &m.error {
                let _ = writeln!(
                    out,
                    "  {} idle connections failed; the first: {e}",
                    m.failed
                );
            }
        }
        out
    }

    /// Writes `bench.json` and `bench.html` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), BenchError> {
        let write = |name: &str, body: String| {
            let path = dir.join(name);
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&path, body))
                .map_err(|source| BenchError::Write { path, source })
        };
        let json = serde_json::to_string_pretty(self).expect("plain data serialises");
        write("bench.json", json)?;
        write("bench.html", super::html::page(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(p50: u64, p99: u64) -> Latency {
        let mut h = Latency::histogram();
        h.record_n(p50 * 1000, 98).unwrap();
        h.record_n(p99 * 1000, 2).unwrap();
        Latency::from_histogram(&h, 0)
    }

    #[test]
    fn ratios_are_gateway_over_direct_and_flag_the_ceiling() {
        let direct = TargetResults {
            tcp_throughput: Some(Throughput {
                bytes: 100,
                seconds: 1.0,
                bytes_per_second: 1e9,
            }),
            tcp_latency: Some(latency(20, 40)),
            ..TargetResults::default()
        };
        let gateway = TargetResults {
            tcp_throughput: Some(Throughput {
                bytes: 100,
                seconds: 1.0,
                bytes_per_second: 0.95e9,
            }),
            tcp_latency: Some(latency(40, 100)),
            ..TargetResults::default()
        };
        let r = BenchReport::new("gw".into(), false, direct, gateway, None, None);
        let find = |m: &str| r.ratios.iter().find(|x| x.metric == m).unwrap();
        let t = find("TCP throughput (MB/s)");
        assert!((t.ratio - 0.95).abs() < 1e-9);
        assert!(t.at_ceiling);
        let p50 = find("TCP echo latency p50 (µs)");
        assert!((p50.ratio - 2.0).abs() < 0.01, "{p50:?}");
        assert!(!p50.at_ceiling, "latencies have no ceiling");
        let p99 = find("TCP echo latency p99 (µs)");
        assert!((p99.gateway - 100.0).abs() < 0.1, "{p99:?}");
        // Metrics measured on neither side are left out, not zero.
        assert!(r.ratios.iter().all(|x| !x.metric.starts_with("UDP")));
        assert!(r.text().contains("generator ceiling"));
    }

    #[test]
    fn the_split_is_judged_against_the_weights() {
        let weights = vec![("a".to_string(), 70), ("b".to_string(), 30)];
        let fair = BTreeMap::from([("a".to_string(), 7_000), ("b".to_string(), 3_000)]);
        assert!(SplitReport::judge(&weights, &fair).unwrap().verdict.passed);
        let even = BTreeMap::from([("a".to_string(), 5_000), ("b".to_string(), 5_000)]);
        assert!(!SplitReport::judge(&weights, &even).unwrap().verdict.passed);
    }

    #[test]
    fn the_median_round_is_reported_and_every_round_ratio_kept() {
        let t = |bps: f64| Throughput {
            bytes: 100,
            seconds: 1.0,
            bytes_per_second: bps,
        };
        assert_eq!(median(&[3.0, 1.0, 2.0], |x| *x), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0], |x| *x), Some(2.0));
        assert_eq!(median(&[] as &[f64], |x| *x), None);
        let results = |rates: &[f64]| TargetResults {
            tcp_throughput: median(&rates.iter().map(|r| t(*r)).collect::<Vec<_>>(), |t| {
                t.bytes_per_second
            }),
            rounds: Rounds {
                tcp_throughput: rates.iter().map(|r| t(*r)).collect(),
                ..Rounds::default()
            },
            ..TargetResults::default()
        };
        // A noisy third round moves its own ratio, not the reported one.
        let r = BenchReport::new(
            "gw".into(),
            false,
            results(&[1e9, 1e9, 0.5e9]),
            results(&[0.8e9, 0.7e9, 0.45e9]),
            None,
            None,
        );
        let t = &r.ratios[0];
        assert!((t.ratio - 0.7).abs() < 1e-9, "{t:?}");
        assert_eq!(t.round_ratios.len(), 3);
        assert!((t.round_ratios[2] - 0.9).abs() < 1e-9, "{t:?}");
        assert!(
            r.text()
                .contains("median of 3 rounds, round ratios 0.700–0.900"),
            "{}",
            r.text()
        );
    }

    #[test]
    fn rounds_alternate_which_path_goes_first() {
        assert_eq!(Side::order(0), [Side::Direct, Side::Gateway]);
        assert_eq!(Side::order(1), [Side::Gateway, Side::Direct]);
        assert_eq!(Side::order(2), Side::order(0));
    }

    #[test]
    fn buckets_count_every_sample() {
        let l = latency(30, 90);
        assert_eq!(l.buckets.iter().map(|b| b.count).sum::<u64>(), 100);
        assert!(l.buckets.windows(2).all(|w| w[0].le_us < w[1].le_us));
    }
}
