//! The `reference-gateway` binary (container images); gwl4 runs the same
//! code as `gwl4 reference-gateway …`.

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = reference_gateway::cli::Args::parse();
    reference_gateway::cli::run_blocking(args)?;
    Ok(())
}
