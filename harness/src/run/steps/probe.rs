//! One probe of a traffic step, and judging it against an expectation.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use reports::{
    Evidence, HistogramBucket, LatencySummary, TrafficEvidence, TrafficExample, UdpTries,
};

use crate::settings::timeout::TimeoutConfig;
use crate::suite::step::{Expect, ExpectedOutcome, Protocol, TcpMode};
use crate::traffic::{self, Outcome, Probe, Sample, Tcp, UdpFlow, UdpOptions};

/// What one probe does.
#[derive(Debug, Clone)]
pub enum ProbeKind {
    /// A new TCP connection doing one of the TCP modes.
    Tcp(TcpMode, u64),
    /// A new UDP flow sending one datagram: `HELLO`, or `n` bytes to echo.
    Udp(Option<u64>),
    /// A new UDP flow expecting a fixed-text reply.
    UdpText,
}

impl ProbeKind {
    /// An identity probe for the protocol.
    pub fn identify(protocol: Protocol) -> ProbeKind {
        match protocol {
            Protocol::Tcp => ProbeKind::Tcp(TcpMode::Identify, 0),
            Protocol::Udp => ProbeKind::Udp(None),
        }
    }
}

/// Timeouts for one probe: RequestTimeout, or `udp_timeout` for UDP.
#[derive(Debug, Clone, Copy)]
pub struct ProbeTimeouts {
    /// TCP connect and per-read/write deadline.
    pub tcp: Duration,
    /// UDP reply deadline.
    pub udp: Duration,
    /// TCP: wait this long after connecting for a close or reset before
    /// sending (probes expecting a rejection; see `Tcp::settle`).
    pub settle: Option<Duration>,
}

/// How long a TCP probe expecting a rejection waits for the gateway to act
/// before it sends: a reject (reset) or an accept-then-close (FIN) happens
/// as soon as the gateway accepts, so this separates the two.
pub const TCP_SETTLE: Duration = Duration::from_millis(20);

/// How long a UDP probe that expects no reply waits before counting its
/// datagram as dropped (a reply on loopback or in a cluster takes
/// milliseconds; RequestTimeout would make every dropped datagram cost 10 s).
pub const UDP_DROP_WAIT: Duration = Duration::from_secs(1);

impl ProbeTimeouts {
    /// From the run's TimeoutConfig.
    pub fn from(t: &TimeoutConfig) -> ProbeTimeouts {
        ProbeTimeouts {
            tcp: t.request_timeout,
            udp: t.request_timeout,
            settle: None,
        }
    }

    /// For probes judged against `expect`: a UDP probe expecting no reply
    /// waits [`UDP_DROP_WAIT`]; a TCP probe expecting any failure settles
    /// for [`TCP_SETTLE`] first.
    pub fn for_expect(t: &TimeoutConfig, expect: &Expect) -> ProbeTimeouts {
        let mut out = ProbeTimeouts::from(t);
        if matches!(
            expect.outcome,
            Some(ExpectedOutcome::Rejected | ExpectedOutcome::Timeout)
        ) {
            out.udp = UDP_DROP_WAIT.min(t.request_timeout);
        }
        if expect.outcome.is_some_and(|o| o != ExpectedOutcome::Ok) {
            out.settle = Some(TCP_SETTLE);
        }
        out
    }
}

/// Runs one probe.
pub async fn run(
    kind: &ProbeKind,
    addr: SocketAddr,
    t: ProbeTimeouts,
    expect_text: Option<&str>,
) -> Result<Probe, traffic::Error> {
    let tcp = Tcp {
        connect_timeout: t.tcp,
        io_timeout: t.tcp,
        settle: t.settle,
    };
    match kind {
        ProbeKind::Tcp(TcpMode::Identify, _) => tcp.identify(addr).await,
        ProbeKind::Tcp(TcpMode::Echo, n) => tcp.echo(addr, &payload(*n)).await,
        ProbeKind::Tcp(TcpMode::Stream, n) => tcp.stream(addr, *n).await,
        ProbeKind::Tcp(TcpMode::Text, _) => tcp.text(addr, expect_text.unwrap_or_default()).await,
        ProbeKind::Udp(_) | ProbeKind::UdpText => {
            let mut flow = UdpFlow::open(addr, udp_options(t)).await?;
            match kind {
                ProbeKind::Udp(Some(n)) => flow.echo(&payload(*n)).await,
                ProbeKind::UdpText => flow.text(expect_text.unwrap_or_default()).await,
                _ => flow.identify().await,
            }
        }
    }
}

/// The options of a UDP probe's flow.
pub fn udp_options(t: ProbeTimeouts) -> UdpOptions {
    UdpOptions {
        timeout: t.udp,
        ..UdpOptions::default()
    }
}

fn payload(n: u64) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Whether a probe is the spec's "actively reject": for TCP the
/// connection is refused, reset, or accepted and closed, without a byte from
/// any backend (TCPRouteRule.BackendRefs says "MUST actively reject
/// connection attempts" and no more: neither forwarded nor left hanging,
/// which a timeout would be; a reset after part of an echo came back was
/// forwarded, so it is not one; bytes no backend sends followed by the end
/// of the connection were the gateway's own answer, as the spec's HTTP
/// rejection is a 404 reply); for UDP the datagram got no reply (or an ICMP
/// refusal).
pub fn is_rejection(protocol: Protocol, p: &Probe) -> bool {
    match protocol {
        Protocol::Tcp => match p.outcome {
            Outcome::Refused | Outcome::Reset | Outcome::ClosedWithoutReply => {
                p.evidence.bytes_received == 0
            }
            // Bytes, but none a backend sends: not forwarded.
            Outcome::ClosedAfterForeignReply => true,
            _ => false,
        },
        Protocol::Udp => matches!(p.outcome, Outcome::Timeout | Outcome::Refused),
    }
}

/// Whether a probe meets the expectation; the error says how it missed.
pub fn judge(
    p: &Probe,
    expect: &Expect,
    gateway: SocketAddr,
    protocol: Protocol,
) -> Result<(), String> {
    let want = expect.outcome.unwrap_or(ExpectedOutcome::Ok);
    let outcome_ok = match want {
        ExpectedOutcome::Ok => p.outcome == Outcome::Ok,
        ExpectedOutcome::Rejected => is_rejection(protocol, p),
        ExpectedOutcome::RefusedOrReset => matches!(p.outcome, Outcome::Refused | Outcome::Reset),
        ExpectedOutcome::Refused => p.outcome == Outcome::Refused,
        ExpectedOutcome::Reset => p.outcome == Outcome::Reset,
        ExpectedOutcome::ClosedWithoutReply => p.outcome == Outcome::ClosedWithoutReply,
        ExpectedOutcome::Timeout => p.outcome == Outcome::Timeout,
    };
    if !outcome_ok {
        let want_s = serde_json::to_value(want)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        return Err(format!(
            "{}: want {want_s}{}",
            describe(p),
            match want {
                ExpectedOutcome::Rejected => match protocol {
                    Protocol::Tcp =>
                        " (refused, reset, or closed without a byte, within RequestTimeout)",
                    Protocol::Udp => " (no reply)",
                },
                _ => "",
            }
        ));
    }
    if want != ExpectedOutcome::Ok {
        return Ok(());
    }
    let service = p.reply.as_ref().map(|r| r.service.as_str());
    if let Some(b) = &expect.backend
        && service != Some(b.as_str())
    {
        return Err(format!("{}: want a reply from backend {b}", describe(p)));
    }
    if let Some(set) = &expect.backend_in
        && !service.is_some_and(|s| set.iter().any(|b| b == s))
    {
        return Err(format!("{}: want a reply from one of {set:?}", describe(p)));
    }
    if let Some(ns) = &expect.namespace
        && p.reply.as_ref().map(|r| r.namespace.as_str()) != Some(ns.as_str())
    {
        return Err(format!("{}: want a backend in namespace {ns}", describe(p)));
    }
    if expect.reply_from_gateway == Some(true) && p.evidence.reply_from != Some(gateway) {
        return Err(format!(
            "{}: the reply came from {}, not from the gateway address {gateway}",
            describe(p),
            p.evidence
                .reply_from
                .map_or("nowhere".into(), |a| a.to_string())
        ));
    }
    Ok(())
}

/// One line about a probe: outcome, backend, addresses, detail.
pub fn describe(p: &Probe) -> String {
    let mut s = p.outcome.as_str().to_string();
    if let Some(b) = p.backend() {
        s += &format!(" from {b}");
    }
    if let (Some(l), Some(r)) = (p.evidence.local, p.evidence.remote) {
        s += &format!(" ({l} -> {r})");
    }
    if !p.evidence.detail.is_empty() {
        s += &format!(": {}", p.evidence.detail);
    }
    s
}

/// Traffic evidence for reports.
pub fn traffic_evidence(sample: &Sample) -> Evidence {
    let outcomes: BTreeMap<String, u64> = sample
        .outcomes
        .iter()
        .map(|(o, n)| (o.as_str().to_string(), *n))
        .collect();
    let mut backends: BTreeMap<String, u64> = BTreeMap::new();
    for (b, n) in &sample.backends {
        *backends.entry(b.service.clone()).or_default() += n;
    }
    let mut examples: Vec<&Probe> = sample
        .probes
        .iter()
        .filter(|p| !p.is_ok())
        .take(5)
        .collect();
    if examples.is_empty() {
        examples = sample.probes.iter().take(2).collect();
    }
    let h = &sample.latency_us;
    let latency = (!h.is_empty()).then(|| LatencySummary {
        p50_us: h.value_at_quantile(0.5),
        p90_us: h.value_at_quantile(0.9),
        p99_us: h.value_at_quantile(0.99),
        p999_us: h.value_at_quantile(0.999),
        max_us: h.max(),
        buckets: h
            .iter_log(100, 2.0)
            .map(|v| HistogramBucket {
                le_us: v.value_iterated_to(),
                count: v.count_since_last_iteration(),
            })
            .collect(),
    });
    let udp = sample
        .probes
        .iter()
        .any(|p| p.evidence.tries > 0)
        .then(|| UdpTries {
            sent: sample
                .probes
                .iter()
                .map(|p| u64::from(p.evidence.tries))
                .sum(),
            resent_probes: sample
                .probes
                .iter()
                .filter(|p| p.evidence.tries > 1)
                .count() as u64,
            unanswered: sample.count(Outcome::Timeout),
            max_tries: traffic::udp::MAX_TRIES,
        });
    Evidence::Traffic(TrafficEvidence {
        udp,
        attempts: sample.probes.len() as u64,
        outcomes,
        backends,
        examples: examples
            .into_iter()
            .map(|p| TrafficExample {
                outcome: p.outcome.as_str().to_string(),
                local: p.evidence.local.map(|a| a.to_string()),
                remote: p.evidence.remote.map(|a| a.to_string()),
                backend: p.backend().map(|b| b.to_string()),
                detail: p.evidence.detail.clone(),
            })
            .collect(),
        latency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::Evidence;

    fn probe(outcome: Outcome, bytes_received: u64) -> Probe {
        Probe {
            outcome,
            evidence: Evidence {
                bytes_received,
                ..Evidence::default()
            },
            reply: None,
        }
    }

    #[test]
    fn a_tcp_rejection_carries_no_byte_from_a_backend() {
        for outcome in [
            Outcome::Refused,
            Outcome::Reset,
            Outcome::ClosedWithoutReply,
        ] {
            assert!(
                is_rejection(Protocol::Tcp, &probe(outcome, 0)),
                "{outcome:?}"
            );
            // Part of an echo came back, then the reset: it was forwarded.
            assert!(
                !is_rejection(Protocol::Tcp, &probe(outcome, 100)),
                "{outcome:?}"
            );
        }
        assert!(!is_rejection(Protocol::Tcp, &probe(Outcome::Timeout, 0)));
        // The gateway's own answer, then the end: nothing was forwarded.
        assert!(is_rejection(
            Protocol::Tcp,
            &probe(Outcome::ClosedAfterForeignReply, 100)
        ));
        // Bytes a backend might have sent are not a rejection.
        assert!(!is_rejection(Protocol::Tcp, &probe(Outcome::Mismatch, 100)));
        assert!(is_rejection(Protocol::Udp, &probe(Outcome::Timeout, 0)));
        assert!(!is_rejection(Protocol::Udp, &probe(Outcome::Ok, 10)));
    }
}
