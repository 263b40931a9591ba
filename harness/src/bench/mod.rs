//! `gwl4 bench`: what a gateway costs at L4, measured side by side with the
//! same backend reached directly, and reported as ratios.
//!
//! One run measures two targets, the **direct** path (an echo backend) and
//! the **gateway** path (a listener in front of that backend), with the same
//! generators, one after the other, so machine noise hits both alike:
//!
//! - TCP single-stream throughput (`STREAM`, one large transfer);
//! - TCP connection rate (connect, `HELLO`, close) at a stated concurrency,
//!   whose identity replies double as the observed weighted split;
//! - TCP echo round-trip latency at low load (one request in flight);
//! - UDP saturation rate (offered as fast as one sender can), UDP delivered
//!   rate and loss at a stated offered rate, and UDP round-trip latency.
//!
//! The direct path is also the generator's ceiling: a gateway within 10% of
//! it is reported as "at the generator ceiling" (the gateway may be faster
//! than measured). gwl4 runs the generators; the backend and gateway are
//! separate processes so they share no runtime with it.
//!
//! Modules: [`local`] (start echo backends and a gateway under the
//! standalone contract), [`tcp`] and [`udp`] (the generators), [`report`]
//! (results, ratios, the text table and JSON), [`html`] (the page with latency histograms), [`memory`] (gateway RSS
//! per idle connection).

pub mod html;
pub mod local;
pub mod memory;
pub mod report;
pub mod tcp;
pub mod udp;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use self::report::{BenchReport, Side, SplitReport, TargetResults, median};

/// `gwl4 bench` flags.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The gateway's TCP listener. With no gateway address at all, gwl4
    /// starts echo backends and a gateway itself (local mode).
    #[arg(long)]
    pub gateway_tcp: Option<SocketAddr>,
    /// The gateway's UDP listener.
    #[arg(long)]
    pub gateway_udp: Option<SocketAddr>,
    /// The backend reached directly over TCP (required with --gateway-tcp).
    #[arg(long)]
    pub direct_tcp: Option<SocketAddr>,
    /// The backend reached directly over UDP (required with --gateway-udp).
    #[arg(long)]
    pub direct_udp: Option<SocketAddr>,
    /// Local mode: a program speaking the standalone gateway contract, with
    /// leading arguments, split on whitespace (default: the reference gateway).
    #[arg(long)]
    pub gateway_command: Option<String>,
    /// Local mode: controllerName written into the GatewayClass.
    #[arg(long, default_value = "gwl4.dev/reference-gateway")]
    pub controller_name: String,
    /// The gateway's process id, to report its RSS with idle connections.
    /// Local mode knows it.
    #[arg(long)]
    pub gateway_pid: Option<u32>,
    /// Expected TCP split as NAME=WEIGHT,… (NAME: the backend's `service`
    /// identity). Local mode: bench-v1=70,bench-v2=30.
    #[arg(long, value_delimiter = ',')]
    pub weights: Option<Vec<String>>,
    /// A name for the gateway in reports (e.g. envoy, haproxy).
    #[arg(long, default_value = "gateway")]
    pub label: String,
    /// CI mode: every measurement a fraction of a second (catches breakage,
    /// numbers are not meaningful).
    #[arg(long)]
    pub short: bool,
    /// Rounds of the throughput, rate and latency measurements: each round
    /// measures both paths, in alternating order (direct first in odd
    /// rounds, the gateway first in even ones), and the median round of
    /// each path is reported, so a burst of machine noise moves one round
    /// rather than the result.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// How long each rate measurement runs.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Bytes sent in the single-stream throughput test.
    #[arg(long, default_value_t = 1 << 30)]
    pub stream_bytes: u64,
    /// Concurrent connections in the connection-rate test.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Echo round trips in each latency test (TCP and UDP).
    #[arg(long, default_value_t = 20_000)]
    pub latency_samples: usize,
    /// Offered UDP rate (datagrams per second) for the loss test.
    #[arg(long, default_value_t = 20_000)]
    pub udp_rate: u64,
    /// UDP flows (source ports) the rate tests spread datagrams over.
    #[arg(long, default_value_t = 4)]
    pub udp_flows: usize,
    /// UDP payload bytes.
    #[arg(long, default_value_t = 64)]
    pub udp_payload: usize,
    /// Idle TCP connections to hold open through the gateway for the
    /// memory measurement (0: skip). Needs the gateway's pid.
    #[arg(long, default_value_t = 0)]
    pub idle_connections: usize,
    /// Directory for bench.json and bench.html (default gwl4-reports).
    #[arg(long, default_value = "gwl4-reports")]
    pub report_dir: PathBuf,
}

impl BenchArgs {
    /// The settings after `--short`.
    fn plan(&self) -> Plan {
        if self.short {
            Plan {
                duration: Duration::from_millis(300),
                stream_bytes: 8 << 20,
                concurrency: self.concurrency.min(4),
                latency_samples: 200,
                udp_rate: self.udp_rate.min(2_000),
                rounds: self.rounds.min(2),
            }
        } else {
            Plan {
                duration: self.duration,
                stream_bytes: self.stream_bytes,
                concurrency: self.concurrency,
                latency_samples: self.latency_samples,
                udp_rate: self.udp_rate,
                rounds: self.rounds,
            }
        }
    }

    /// Parses `--weights`.
    fn parsed_weights(&self) -> Result<Option<Vec<(String, u32)>>, BenchError> {
        let Some(items) = &self.weights else {
            return Ok(None);
        };
        items
            .iter()
            .map(|item| {
                let (name, weight) = item.split_once('=').ok_or_else(|| {
                    BenchError::Usage(format!("--weights: `{item}` is not NAME=WEIGHT"))
                })?;
                let weight = weight.parse().map_err(|_| {
                    BenchError::Usage(format!("--weights: weight of `{name}` is not a number"))
                })?;
                Ok((name.to_string(), weight))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// What each measurement runs with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub duration: Duration,
    pub stream_bytes: u64,
    pub concurrency: usize,
    pub latency_samples: usize,
    pub udp_rate: u64,
    pub rounds: u32,
}

/// Why a bench could not run (never a slow result: that is data).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Bad flags.
    #[error("{0}")]
    Usage(String),
    /// A socket operation of the generator failed.
    #[error("{what} {target}: {source}")]
    Io {
        /// What the generator was doing.
        what: &'static str,
        /// The address it was talking to.
        target: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A reply was not what the echo protocol says.
    #[error("{target}: {message}")]
    Protocol {
        /// The address that replied.
        target: SocketAddr,
        /// What was wrong.
        message: String,
    },
    /// Local mode could not start its processes or files.
    #[error("local mode: {0}")]
    Local(String),
    /// Reports could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The addresses one run measures.
#[derive(Debug, Clone)]
pub struct Targets {
    /// Gateway TCP listener and the backend behind it, directly.
    pub tcp: Option<(SocketAddr, SocketAddr)>,
    /// Gateway UDP listener and the backend behind it, directly.
    pub udp: Option<(SocketAddr, SocketAddr)>,
}

/// `gwl4 bench`: runs and returns the exit code (0 measured, 2 usage or
/// setup error).
pub fn run(args: &BenchArgs) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gwl4 bench: cannot start the runtime: {e}");
            return crate::exit::SETUP_ERROR;
        }
    };
    match runtime.block_on(run_async(args)) {
        Ok(report) => {
            print!("{}", report.text());
            println!(
                "reports: {}, {}",
                args.report_dir.join("bench.json").display(),
                args.report_dir.join("bench.html").display()
            );
            crate::exit::SUCCESS
        }
        Err(e) => {
            eprintln!("gwl4 bench: {e}");
            crate::exit::SETUP_ERROR
        }
    }
}

/// Runs the bench and writes its reports.
pub async fn run_async(args: &BenchArgs) -> Result<BenchReport, BenchError> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let plan = args.plan();
    let mut weights = args.parsed_weights()?;
    let mut local = None;
    let mut gateway_pid = args.gateway_pid;
    let targets = if args.gateway_tcp.is_none() && args.gateway_udp.is_none() {
        let started = local::LocalBench::start(args).await?;
        gateway_pid = gateway_pid.or(started.gateway_pid());
        weights = weights.or_else(|| Some(local::default_weights()));
        let targets = started.targets();
        local = Some(started);
        targets
    } else {
        let pair =
            |gw: Option<SocketAddr>, direct: Option<SocketAddr>, flag: &str| match (gw, direct) {
                (Some(gw), Some(direct)) => Ok(Some((gw, direct))),
                (None, _) => Ok(None),
                (Some(_), None) => Err(BenchError::Usage(format!(
                    "{flag} needs the direct address too"
                ))),
            };
        Targets {
            tcp: pair(args.gateway_tcp, args.direct_tcp, "--gateway-tcp")?,
            udp: pair(args.gateway_udp, args.direct_udp, "--gateway-udp")?,
        }
    };
    let result = measure(args, &plan, &targets, weights.as_deref(), gateway_pid).await;
    if let Some(local) = local {
        local.stop().await;
    }
    let report = result?;
    report.write(&args.report_dir)?;
    Ok(report)
}

/// Every measurement on both paths: throughput, rates and latencies in
/// [`Plan::rounds`] interleaved rounds (the median round reported), the
/// offered-rate UDP test once per path.
async fn measure(
    args: &BenchArgs,
    plan: &Plan,
    targets: &Targets,
    weights: Option<&[(String, u32)]>,
    gateway_pid: Option<u32>,
) -> Result<BenchReport, BenchError> {
    let mut direct = TargetResults::default();
    let mut gateway = TargetResults::default();
    let mut split = None;
    // Memory first: after the rate tests, tens of thousands of TIME_WAIT
    // entries can leave a proxy short of upstream ports.
    let memory = match (targets.tcp, gateway_pid, args.idle_connections) {
        (Some((gw, _)), Some(pid), n) if n > 0 => {
            Some(memory::idle_connections(gw, pid, if args.short { n.min(200) } else { n }).await?)
        }
        _ => None,
    };
    if let Some((gw, backend)) = targets.tcp {
        for round in 0..plan.rounds {
            for side in Side::order(round) {
                let addr = side.pick(gw, backend);
                let throughput = tcp::throughput(addr, plan.stream_bytes).await?;
                let rate = tcp::connection_rate(addr, plan.concurrency, plan.duration).await?;
                let latency = tcp::echo_latency(addr, plan.latency_samples).await?;
                let rounds = &mut side.pick(&mut gateway, &mut direct).rounds;
                rounds.tcp_throughput.push(throughput);
                rounds.tcp_connections.push(rate);
                rounds.tcp_latency.push(latency);
            }
        }
        if let Some(weights) = weights {
            // One verdict over every connection through the gateway, all
            // rounds pooled.
            let mut pooled = BTreeMap::new();
            for rate in &gateway.rounds.tcp_connections {
                for (service, n) in &rate.backends {
                    *pooled.entry(service.clone()).or_default() += n;
                }
            }
            split = Some(SplitReport::judge(weights, &pooled)?);
        }
        for side in [Side::Direct, Side::Gateway] {
            let out = side.pick(&mut gateway, &mut direct);
            out.tcp_throughput = median(&out.rounds.tcp_throughput, |t| t.bytes_per_second);
            out.tcp_connections = median(&out.rounds.tcp_connections, |c| c.per_second);
            out.tcp_latency = median(&out.rounds.tcp_latency, |l| l.p99_us);
        }
    }
    if let Some((gw, backend)) = targets.udp {
        let flows = args.udp_flows.max(1);
        let payload = args.udp_payload;
        let duration = plan.duration;
        let samples = plan.latency_samples;
        for round in 0..plan.rounds {
            for side in Side::order(round) {
                let addr = side.pick(gw, backend);
                let (saturation, latency) = blocking(move || {
                    Ok((
                        udp::rate(addr, flows, payload, None, duration)?,
                        udp::latency(addr, payload, samples)?,
                    ))
                })
                .await?;
                let rounds = &mut side.pick(&mut gateway, &mut direct).rounds;
                rounds.udp_saturation.push(saturation);
                rounds.udp_latency.push(latency);
            }
        }
        for side in [Side::Direct, Side::Gateway] {
            let addr = side.pick(gw, backend);
            let rate = plan.udp_rate;
            let offered =
                blocking(move || udp::rate(addr, flows, payload, Some(rate), duration)).await?;
            let out = side.pick(&mut gateway, &mut direct);
            out.udp_saturation = median(&out.rounds.udp_saturation, |u| u.received_per_second);
            out.udp_latency = median(&out.rounds.udp_latency, |l| l.p99_us);
            out.udp_offered = Some(offered);
        }
    }
    Ok(BenchReport::new(
        args.label.clone(),
        args.short,
        direct,
        gateway,
        split,
        memory,
    ))
}

/// Runs a UDP generator (blocking sockets) on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    generator: impl FnOnce() -> Result<T, BenchError> + Send + 'static,
) -> Result<T, BenchError> {
    tokio::task::spawn_blocking(generator)
        .await
        .map_err(|e| BenchError::Local(format!("UDP generator thread: {e}")))?
}
