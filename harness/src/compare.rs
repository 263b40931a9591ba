//! `gwl4 compare`: one HTML page from several runs' report.json.

use std::path::Path;

use crate::cli::CompareArgs;
use crate::exit;

/// Runs the subcommand; returns the exit code.
pub fn run(args: &CompareArgs) -> u8 {
    let mut runs = Vec::new();
    for arg in &args.runs {
        let (label, path) = match arg.split_once('=') {
            Some((l, p)) => (l.to_string(), p.to_string()),
            None => (
                Path::new(arg)
                    .parent()
                    .and_then(|p| p.file_name())
                    .map_or(arg.clone(), |n| n.to_string_lossy().into_owned()),
                arg.clone(),
            ),
        };
        match reports::read_json(Path::new(&path)) {
            Ok(record) => runs.push((label, record)),
            Err(e) => {
                eprintln!("gwl4 compare: {e}");
                return exit::SETUP_ERROR;
            }
        }
    }
    if let Err(e) = std::fs::write(&args.output, reports::compare_html(&runs)) {
        eprintln!("gwl4 compare: {}: {e}", args.output.display());
        return exit::SETUP_ERROR;
    }
    println!("wrote {}", args.output.display());
    exit::SUCCESS
}
