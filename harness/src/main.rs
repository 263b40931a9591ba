//! The `gwl4` command: runs the catalog, or one of the subcommands.

use std::process::ExitCode;

use clap::Parser;
use harness::cli::{Cli, Command};
use harness::cluster::local::process::EXIT_ON_STDIN_EOF;

fn main() -> ExitCode {
    // kube and reqwest use rustls; with two providers linked it must be chosen.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    // A test run's watches are optional (it polls where they are refused,
    // and says so once), so kube-runtime's retry warnings are noise there;
    // the reference gateway's watches are not optional. kube's client logs
    // every failed try, dozens a second in an API server outage; gwl4's
    // retry says one line when it starts and one when it ends
    // (`cluster::kube::retry`), and a call that still fails names it.
    let default_filter = match cli.command {
        Some(Command::ReferenceGateway(_)) => "warn",
        _ => "warn,kube_runtime::watcher=off,kube_client::client::builder=off",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // A panic kills the children and leaves the run directory first.
    harness::exit::install_panic_hook();
    // Up to the hard limit: a statistical UDP step keeps its timed-out
    // flows open until it ends (`traffic::late`), and eight tests run at
    // once; a soft limit of 1,024 is a common default. The children
    // (reference gateway, echo servers) raise theirs too.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let code = match cli.command {
        Some(Command::EchoServer(args)) => {
            exit_with_parent();
            match echo_server::run_blocking(args) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("echo-server: {e}");
                    1
                }
            }
        }
        Some(Command::ReferenceGateway(args)) => {
            exit_with_parent();
            match reference_gateway::cli::run_blocking(args) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("reference-gateway: {e}");
                    1
                }
            }
        }
        Some(Command::Compare(args)) => harness::compare::run(&args),
        Some(Command::SelfTest(args)) => harness::selftest::run(&args),
        Some(Command::Bench(args)) => harness::bench::run(&args),
        Some(Command::FetchReport(args)) => harness::report_log::run(&args),
        Some(Command::Doctor(args)) => harness::doctor::run(&args),
        None => harness::app::run(cli.run),
    };
    ExitCode::from(code)
}

/// When started by gwl4 local mode, stop (gracefully, via SIGTERM to
/// ourselves) once gwl4 goes away and our stdin pipe closes.
fn exit_with_parent() {
    if std::env::var_os(EXIT_ON_STDIN_EOF).is_none() {
        return;
    }
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM);
    });
}
