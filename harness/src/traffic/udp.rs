//! UDP probes. A flow is one client socket, so one source port: the unit a
//! gateway keeps affinity for.
//!
//! By default the socket is unconnected and replies are read with
//! `recv_from`, so a reply from the wrong source address is seen (and
//! reported as [`Outcome::Mismatch`]) instead of being silently dropped by
//! the kernel. The price: Linux reports ICMP port-unreachable only to
//! connected sockets, so an unconnected flow sees a closed port as
//! [`Outcome::Timeout`]. [`UdpOptions::connected`] trades the other way.
//!
//! UDP is lossy, and a lost datagram is not a wrong answer: a probe resends
//! the same datagram, from the same source port, when no reply has come
//! [`RETRANSMIT_GAPS`] after the previous send (200 ms, then 400 ms, then
//! 800 ms: sends at 0, 0.2, 0.6 and 1.4 s), as DNS and other UDP clients
//! do, for as long as its timeout allows; any reply counts. A probe that
//! expects no reply resends on the same schedule inside its window, which
//! only makes a leak likelier to show. [`Evidence::tries`] says how many
//! sends a probe took.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use echo_server::protocol::Reply;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::outcome::{Backend, Error, Evidence, Outcome, Probe, classify, excerpt};
use super::tcp::text_verdict;

/// The gaps between a probe's sends while no reply has come: the first
/// retransmission after 200 ms, then each gap doubles; three at most.
pub const RETRANSMIT_GAPS: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
];

/// How many times a probe sends its datagram at most.
pub const MAX_TRIES: u32 = RETRANSMIT_GAPS.len() as u32 + 1;

/// A flow's receive buffer: any UDP datagram fits.
const RECV_BUF: usize = 65_536;

/// How a flow's socket behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpOptions {
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// Connect the socket to the target: ICMP port-unreachable becomes
    /// [`Outcome::Refused`], but replies from other addresses are filtered
    /// out by the kernel (and so time out).
    pub connected: bool,
}

impl Default for UdpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            connected: false,
        }
    }
}

/// One UDP flow (one client socket) to a target.
#[derive(Debug)]
pub struct UdpFlow {
    socket: UdpSocket,
    target: SocketAddr,
    local: SocketAddr,
    options: UdpOptions,
    /// Tags nonces so replies to earlier (timed-out) probes are recognised.
    flow_tag: u64,
    next_seq: u64,
    /// When the last [`UdpFlow::identify`] started: its late reply's
    /// elapsed time counts from here.
    identify_started: Option<Instant>,
    /// Datagrams the current probe skipped as strays ([`UdpFlow::receive`]).
    strays: usize,
    buf: Vec<u8>,
}

/// The replies to [`UdpFlow::burst`], one probe per datagram in send order.
#[derive(Debug, Clone)]
pub struct Burst {
    /// One identify probe per datagram.
    pub probes: Vec<Probe>,
}

impl Burst {
    /// The distinct backends that answered.
    pub fn backends(&self) -> std::collections::BTreeSet<Backend> {
        self.probes.iter().filter_map(Probe::backend).collect()
    }

    /// Each reply's `flowSeq` (`None` where there was no identity reply).
    pub fn flow_seqs(&self) -> Vec<Option<u64>> {
        self.probes
            .iter()
            .map(|p| p.reply.as_ref().and_then(|r| r.flow_seq))
            .collect()
    }

    /// How many datagrams got a correct reply.
    pub fn ok_count(&self) -> usize {
        self.probes.iter().filter(|p| p.is_ok()).count()
    }
}

/// Source addresses already used toward each target. A gateway keys UDP
/// sessions by the client's address: a "new" flow whose ephemeral port the
/// kernel happens to hand out again would land in an old session (on its old
/// backend), so every flow toward one target gets a source port never used
/// toward it before in this process.
fn used_sources() -> &'static std::sync::Mutex<std::collections::HashSet<(SocketAddr, SocketAddr)>>
{
    static USED: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashSet<(SocketAddr, SocketAddr)>>,
    > = std::sync::OnceLock::new();
    USED.get_or_init(Default::default)
}

/// A socket on `source` whose port has not been used toward `target` yet.
/// Sockets holding reused ports are kept open while searching, so the
/// kernel cannot offer them again, then closed.
async fn fresh_socket(source: std::net::IpAddr, target: SocketAddr) -> io::Result<UdpSocket> {
    let mut held = Vec::new();
    loop {
        let socket = UdpSocket::bind((source, 0)).await?;
        let local = socket.local_addr()?;
        let is_new = used_sources()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((local, target));
        if is_new {
            return Ok(socket);
        }
        if held.len() >= 60_000 {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("every source port toward {target} was used already"),
            ));
        }
        held.push(socket);
    }
}

/// The source address for flows to `target`: the address the kernel
/// routes from, looked up once per target address.
///
/// Once: the lookup takes a wildcard port (free on every address at
/// once); thousands of flows each doing it ran the machine out of such
/// ports long before any one address ran out (`Address already in use`,
/// four local runs side by side).
fn source_for(target: SocketAddr) -> io::Result<std::net::IpAddr> {
    type Routes = std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, std::net::IpAddr>>;
    static ROUTES: std::sync::OnceLock<Routes> = std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    let known = routes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&target.ip())
        .copied();
    let routed = match known {
        Some(routed) => routed,
        None => {
            // Connecting a UDP socket only does a route lookup; nothing is
            // sent. Not bound first: the kernel binds it as it connects, so
            // no wildcard socket that could take datagrams is ever open.
            let route = socket2::Socket::new(
                socket2::Domain::for_address(target),
                socket2::Type::DGRAM,
                Some(socket2::Protocol::UDP),
            )?;
            route.connect(&target.into())?;
            let routed = route
                .local_addr()?
                .as_socket()
                .ok_or_else(|| io::Error::other("a UDP socket without an IP address"))?
                .ip();
            routes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(target.ip(), routed);
            routed
        }
    };
    Ok(routed)
}

/// Why a wait for a reply ended without one.
enum NoReply {
    Io(io::Error),
    Timeout,
}

/// When a probe resends: the next send's time, and the gaps left.
struct Resend {
    next: Option<Instant>,
    gaps: std::slice::Iter<'static, Duration>,
}

impl Resend {
    fn after(sent: Instant) -> Resend {
        let mut gaps = RETRANSMIT_GAPS.iter();
        Resend {
            next: gaps.next().map(|g| sent + *g),
            gaps,
        }
    }
}

impl UdpFlow {
    /// Binds a new socket on an ephemeral port of the source address the
    /// kernel would route from to reach `target` (so [`Self::local_addr`]
    /// is the address the server sees, not a wildcard), connected to
    /// `target` if the options say so.
    pub async fn open(target: SocketAddr, options: UdpOptions) -> Result<Self, Error> {
        let err = |action, source| Error {
            protocol: "udp",
            target,
            action,
            source,
        };
        let source = source_for(target).map_err(|e| err("finding the route", e))?;
        let socket = fresh_socket(source, target)
            .await
            .map_err(|e| err("binding a socket", e))?;
        if options.connected {
            socket
                .connect(target)
                .await
                .map_err(|e| err("connecting the socket", e))?;
        }
        let local = socket
            .local_addr()
            .map_err(|e| err("reading the local address", e))?;
        Ok(Self {
            socket,
            target,
            local,
            options,
            flow_tag: rand::random(),
            next_seq: 0,
            identify_started: None,
            strays: 0,
            buf: vec![0u8; RECV_BUF],
        })
    }

    /// This flow's local address (the source address of every datagram).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends `HELLO <nonce>` and awaits the identity reply. Replies to
    /// earlier probes of this flow (recognised by nonce) are skipped.
    pub async fn identify(&mut self) -> Result<Probe, Error> {
        self.next_seq += 1;
        let nonce = self.nonce();
        let started = Instant::now();
        self.identify_started = Some(started);
        self.strays = 0;
        let mut evidence = self.evidence();
        let request = format!("HELLO {nonce}");
        if let Some(probe) = self
            .send(request.as_bytes(), &mut evidence, started)
            .await?
        {
            return Ok(probe);
        }
        let deadline = started + self.options.timeout;
        let mut resend = Resend::after(started);
        let mut stale = 0usize;
        let ours = self.carries_tag();
        loop {
            let (n, from) = match self
                .receive(
                    request.as_bytes(),
                    &ours,
                    deadline,
                    &mut resend,
                    &mut evidence,
                )
                .await
            {
                Ok(r) => r,
                Err(no) => return self.no_reply(no, evidence, started, "identity reply"),
            };
            evidence.bytes_received += n as u64;
            evidence.reply_from = Some(from);
            match self.identity_verdict(n, from, &nonce, stale, evidence.clone(), started) {
                Some(probe) => return Ok(probe),
                None => stale += 1,
            }
        }
    }

    /// This flow's nonce for its current (last started) identify probe.
    fn nonce(&self) -> String {
        format!("{:016x}-{}", self.flow_tag, self.next_seq)
    }

    /// The verdict on a datagram of `n` bytes in the buffer, from `from`,
    /// for the identify probe with `nonce`; `None` for a reply to an
    /// earlier probe of this flow (skipped: `stale` counts them).
    fn identity_verdict(
        &self,
        n: usize,
        from: SocketAddr,
        nonce: &str,
        stale: usize,
        evidence: Evidence,
        started: Instant,
    ) -> Option<Probe> {
        let reply = match serde_json::from_slice::<Reply>(&self.buf[..n]) {
            Ok(r) => r,
            Err(e) => {
                let detail = format!("not an identity reply ({e}): {}", excerpt(&self.buf[..n]));
                return Some(finish(Outcome::Mismatch, evidence, started, detail, None));
            }
        };
        if reply.nonce != nonce && self.is_earlier_nonce(&reply.nonce) {
            return None;
        }
        let (outcome, mut detail) = if reply.nonce != nonce {
            (
                Outcome::Mismatch,
                format!("reply carries nonce {:?}, sent {nonce:?}", reply.nonce),
            )
        } else if from != self.target {
            (
                Outcome::Mismatch,
                format!("reply came from {from}, sent to {}", self.target),
            )
        } else {
            (
                Outcome::Ok,
                format!("answered by {}/{}", reply.service, reply.pod),
            )
        };
        if stale > 0 {
            detail.push_str(&format!(
                " ({stale} late replies to earlier probes skipped)"
            ));
        }
        Some(finish(outcome, evidence, started, detail, Some(reply)))
    }

    /// Frees the receive buffer of a flow kept open only to see whether a
    /// late reply comes (`late`): thousands of them may wait at once.
    pub fn park(&mut self) {
        self.buf = Vec::new();
    }

    /// After [`Self::identify`] gave `timed_out` ([`Outcome::Timeout`]):
    /// the reply that has come since, if any, read without waiting. Its
    /// verdict is as `identify` would have given it (a wrong reply is still
    /// wrong), its elapsed time counts from the probe's start, and its
    /// detail says it came late.
    pub fn late_identity(&mut self, timed_out: &Probe) -> Option<Probe> {
        let started = self.identify_started?;
        let nonce = self.nonce();
        let mut evidence = timed_out.evidence.clone();
        self.buf.resize(RECV_BUF, 0);
        let mut stale = 0;
        let ours = self.carries_tag();
        let verdict = loop {
            let Ok((n, from)) = self.socket.try_recv_from(&mut self.buf) else {
                break None;
            };
            if self.is_stray(n, from, &ours) {
                continue;
            }
            evidence.bytes_received += n as u64;
            evidence.reply_from = Some(from);
            match self.identity_verdict(n, from, &nonce, stale, evidence.clone(), started) {
                Some(probe) => break Some(probe),
                None => stale += 1,
            }
        };
        self.park();
        verdict.map(|mut probe| {
            probe.evidence.detail = format!(
                "{} (late: after the {:?} the probe waited)",
                probe.evidence.detail, self.options.timeout
            );
            probe
        })
    }

    /// Sends `payload` and expects it back verbatim, from the target.
    /// (A payload starting with `HELLO` gets an identity reply instead.)
    pub async fn echo(&mut self, payload: &[u8]) -> Result<Probe, Error> {
        let started = Instant::now();
        self.strays = 0;
        let mut evidence = self.evidence();
        if let Some(probe) = self.send(payload, &mut evidence, started).await? {
            return Ok(probe);
        }
        let deadline = started + self.options.timeout;
        let mut resend = Resend::after(started);
        let (n, from) = match self
            .receive(
                payload,
                &|d| d == payload,
                deadline,
                &mut resend,
                &mut evidence,
            )
            .await
        {
            Ok(r) => r,
            Err(no) => return self.no_reply(no, evidence, started, "echo"),
        };
        evidence.bytes_received = n as u64;
        evidence.reply_from = Some(from);
        let got = &self.buf[..n];
        let (outcome, detail) = if got != payload {
            let detail = match got.iter().zip(payload).position(|(a, b)| a != b) {
                Some(i) => format!("byte {i} differs; reply from there: {}", excerpt(&got[i..])),
                None => format!("reply has {n} bytes, sent {}", payload.len()),
            };
            (Outcome::Mismatch, detail)
        } else if from != self.target {
            (
                Outcome::Mismatch,
                format!("reply came from {from}, sent to {}", self.target),
            )
        } else {
            (Outcome::Ok, format!("{n} bytes echoed"))
        };
        Ok(finish(outcome, evidence, started, detail, None))
    }

    /// For a backend in `--text` mode: sends one datagram and expects
    /// `expected` back (trailing whitespace ignored), from the target.
    pub async fn text(&mut self, expected: &str) -> Result<Probe, Error> {
        let started = Instant::now();
        self.strays = 0;
        let mut evidence = self.evidence();
        if let Some(probe) = self.send(b"hello\n", &mut evidence, started).await? {
            return Ok(probe);
        }
        let deadline = started + self.options.timeout;
        let mut resend = Resend::after(started);
        let (n, from) = match self
            .receive(b"hello\n", &|_| true, deadline, &mut resend, &mut evidence)
            .await
        {
            Ok(r) => r,
            Err(no) => return self.no_reply(no, evidence, started, "text"),
        };
        evidence.bytes_received = n as u64;
        evidence.reply_from = Some(from);
        let (outcome, detail) = match text_verdict(&self.buf[..n], expected) {
            (Outcome::Ok, _) if from != self.target => (
                Outcome::Mismatch,
                format!("reply came from {from}, sent to {}", self.target),
            ),
            // An empty datagram is a wrong reply, not a closed connection.
            (Outcome::ClosedWithoutReply, _) => (
                Outcome::Mismatch,
                format!("empty datagram, expected {expected:?}"),
            ),
            verdict => verdict,
        };
        Ok(finish(outcome, evidence, started, detail, None))
    }

    /// Sends `k` `HELLO` datagrams on this flow, one at a time: each is sent
    /// only after the previous one was answered or timed out, so the burst
    /// is paced by the round trip and a lost datagram shows as one
    /// [`Outcome::Timeout`] without disturbing the rest (late replies are
    /// recognised by nonce and skipped).
    pub async fn burst(&mut self, k: usize) -> Result<Burst, Error> {
        let mut probes = Vec::with_capacity(k);
        for _ in 0..k {
            probes.push(self.identify().await?);
        }
        Ok(Burst { probes })
    }

    fn evidence(&self) -> Evidence {
        Evidence {
            local: Some(self.local),
            remote: Some(self.target),
            ..Evidence::default()
        }
    }

    /// Sends one datagram; `Some(probe)` if sending already decided the outcome.
    async fn send(
        &self,
        datagram: &[u8],
        evidence: &mut Evidence,
        started: Instant,
    ) -> Result<Option<Probe>, Error> {
        let sent = if self.options.connected {
            self.socket.send(datagram).await
        } else {
            self.socket.send_to(datagram, self.target).await
        };
        match sent {
            Ok(n) => {
                evidence.bytes_sent += n as u64;
                evidence.tries += 1;
                Ok(None)
            }
            // A connected socket reports an earlier ICMP error on the next send.
            Err(e) => self
                .io_failure(e, evidence.clone(), started, "sending")
                .map(Some),
        }
    }

    /// Waits for a datagram until `deadline`, resending `datagram` on the
    /// retransmission schedule while none comes. Strays are skipped.
    ///
    /// A stray is a datagram from another address than the target that
    /// `ours` does not recognise as an answer to this flow: a late reply to
    /// an earlier, closed flow that had this source port, from the gateway
    /// (or test) it talked to. Under load such replies are common (a resend
    /// answered twice, a stalled gateway answering after the flow gave up),
    /// and taking one as this flow's wrong reply failed correct gateways.
    /// A reply that is ours but from the wrong address is still returned:
    /// that is the gateway's fault, and the caller says so.
    async fn receive(
        &mut self,
        datagram: &[u8],
        ours: &dyn Fn(&[u8]) -> bool,
        deadline: Instant,
        resend: &mut Resend,
        evidence: &mut Evidence,
    ) -> Result<(usize, SocketAddr), NoReply> {
        loop {
            let wake = resend.next.map_or(deadline, |r| r.min(deadline));
            match tokio::time::timeout_at(wake, self.socket.recv_from(&mut self.buf)).await {
                Ok(Ok((n, from))) if self.is_stray(n, from, ours) => self.strays += 1,
                Ok(Ok(r)) => return Ok(r),
                Ok(Err(e)) => return Err(NoReply::Io(e)),
                Err(_) if wake >= deadline => return Err(NoReply::Timeout),
                Err(_) => {
                    let sent = if self.options.connected {
                        self.socket.send(datagram).await
                    } else {
                        self.socket.send_to(datagram, self.target).await
                    };
                    let n = sent.map_err(NoReply::Io)?;
                    evidence.bytes_sent += n as u64;
                    evidence.tries += 1;
                    resend.next = resend.gaps.next().map(|g| Instant::now() + *g);
                }
            }
        }
    }

    /// Whether the `n`-byte datagram in the buffer, from `from`, is a stray
    /// (see [`Self::receive`]).
    fn is_stray(&self, n: usize, from: SocketAddr, ours: &dyn Fn(&[u8]) -> bool) -> bool {
        from != self.target && !ours(&self.buf[..n])
    }

    /// Recognises an identity reply to any probe of this flow: it carries
    /// the flow's nonce tag.
    fn carries_tag(&self) -> impl Fn(&[u8]) -> bool + use<> {
        let tag = format!("\"{:016x}-", self.flow_tag).into_bytes();
        move |datagram: &[u8]| datagram.windows(tag.len()).any(|w| w == tag.as_slice())
    }

    fn no_reply(
        &self,
        no: NoReply,
        evidence: Evidence,
        started: Instant,
        what: &str,
    ) -> Result<Probe, Error> {
        match no {
            NoReply::Timeout => {
                let mut detail = format!(
                    "no {what} within {:?} ({} sends)",
                    self.options.timeout, evidence.tries
                );
                if self.strays > 0 {
                    detail.push_str(&format!(
                        "; {} stray datagrams from other addresses skipped",
                        self.strays
                    ));
                }
                Ok(finish(Outcome::Timeout, evidence, started, detail, None))
            }
            NoReply::Io(e) => self.io_failure(e, evidence, started, "awaiting the reply"),
        }
    }

    fn io_failure(
        &self,
        e: io::Error,
        evidence: Evidence,
        started: Instant,
        action: &'static str,
    ) -> Result<Probe, Error> {
        match classify(&e) {
            Some(outcome) => Ok(finish(
                outcome,
                evidence,
                started,
                format!("{action}: {e}"),
                None,
            )),
            None => Err(Error {
                protocol: "udp",
                target: self.target,
                action,
                source: e,
            }),
        }
    }

    /// Whether `nonce` belongs to an earlier probe of this flow.
    fn is_earlier_nonce(&self, nonce: &str) -> bool {
        let Some((tag, seq)) = nonce.split_once('-') else {
            return false;
        };
        tag == format!("{:016x}", self.flow_tag)
            && seq.parse::<u64>().is_ok_and(|s| s < self.next_seq)
    }
}

fn finish(
    outcome: Outcome,
    mut evidence: Evidence,
    started: Instant,
    detail: String,
    reply: Option<Reply>,
) -> Probe {
    evidence.elapsed = started.elapsed();
    evidence.detail = detail;
    Probe {
        outcome,
        evidence,
        reply,
    }
}
