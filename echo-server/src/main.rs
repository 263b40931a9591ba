//! The `echo-server` binary: flags in, [`echo_server::run_blocking`] out.

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// TCP/UDP echo backend that reports its identity (see the README, "The echo
/// server").
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    args: echo_server::Args,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Logs go to stderr: stdout carries only the ready line.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    echo_server::run_blocking(cli.args)?;
    Ok(())
}
