//! What a server instance is: its identity, addresses and behaviour, and the
//! command-line flags that produce them.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// Who this backend is, as reported in every identity [`Reply`](crate::protocol::Reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Pod (replica) name.
    pub pod: String,
    /// Namespace of the pod.
    pub namespace: String,
    /// Service (backend) name.
    pub service: String,
}

/// Everything [`start`](crate::start) needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Reported identity.
    pub identity: Identity,
    /// Address both sockets bind to.
    pub bind: IpAddr,
    /// TCP port (0 = ephemeral); `None` runs no TCP server.
    pub tcp_port: Option<u16>,
    /// UDP port (0 = ephemeral); `None` runs no UDP server.
    pub udp_port: Option<u16>,
    /// `--text`: reply with this fixed text instead of speaking the protocol.
    pub text: Option<String>,
    /// How long open TCP connections may take to finish after shutdown starts.
    pub grace: Duration,
}

impl Config {
    /// A config on 127.0.0.1 with ephemeral TCP and UDP ports, for tests.
    pub fn loopback(identity: Identity) -> Self {
        Self {
            identity,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            tcp_port: Some(0),
            udp_port: Some(0),
            text: None,
            grace: Duration::from_secs(5),
        }
    }
}

/// The server's command-line flags. `gwl4 echo-server` flattens the same
/// struct, so both binaries accept identical flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Pod name to report.
    #[arg(long, env = "POD_NAME", default_value = "echo-server")]
    pub pod: String,
    /// Namespace to report.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// Service name to report.
    #[arg(long, env = "SERVICE_NAME", default_value = "echo-server")]
    pub service: String,
    /// Address to bind both sockets to.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub bind: IpAddr,
    /// TCP port; 0 picks a free port (printed in the ready line).
    #[arg(long, default_value_t = 5000)]
    pub tcp_port: u16,
    /// UDP port; 0 picks a free port (printed in the ready line).
    #[arg(long, default_value_t = 5001)]
    pub udp_port: u16,
    /// Run no TCP server.
    #[arg(long, conflicts_with = "no_udp")]
    pub no_tcp: bool,
    /// Run no UDP server.
    #[arg(long)]
    pub no_udp: bool,
    /// Reply with this text (plus a newline) to every TCP connection and UDP
    /// datagram instead of speaking the echo protocol.
    #[arg(long)]
    pub text: Option<String>,
    /// Time open connections get to finish after SIGTERM or Ctrl-C
    /// (`5`, `5s` or `500ms`).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub grace_period: Duration,
}

impl From<Args> for Config {
    fn from(args: Args) -> Self {
        Self {
            identity: Identity {
                pod: args.pod,
                namespace: args.namespace,
                service: args.service,
            },
            bind: args.bind,
            tcp_port: (!args.no_tcp).then_some(args.tcp_port),
            udp_port: (!args.no_udp).then_some(args.udp_port),
            text: args.text,
            grace: args.grace_period,
        }
    }
}

/// Parses `5`, `5s`, `1.5s` or `500ms`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, scale) = match s.strip_suffix("ms") {
        Some(n) => (n, 1e-3),
        None => (s.strip_suffix('s').unwrap_or(s), 1.0),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 5s or 500ms"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn flags_become_config() {
        let cli = Cli::parse_from([
            "x",
            "--pod",
            "p",
            "--namespace",
            "n",
            "--service",
            "s",
            "--bind",
            "127.0.0.2",
            "--tcp-port",
            "7",
            "--no-udp",
            "--text",
            "hi",
            "--grace-period",
            "1s",
        ]);
        let config = Config::from(cli.args);
        assert_eq!(
            config.identity,
            Identity {
                pod: "p".into(),
                namespace: "n".into(),
                service: "s".into()
            }
        );
        assert_eq!(config.bind, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
        assert_eq!(config.tcp_port, Some(7));
        assert_eq!(config.udp_port, None);
        assert_eq!(config.text.as_deref(), Some("hi"));
        assert_eq!(config.grace, Duration::from_secs(1));
    }

    #[test]
    fn both_servers_cannot_be_off() {
        assert!(Cli::try_parse_from(["x", "--no-tcp", "--no-udp"]).is_err());
    }
}
