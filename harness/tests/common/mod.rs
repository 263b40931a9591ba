//! Helpers shared by the end-to-end tests: run gwl4 in a scratch directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The gwl4 binary.
pub fn gwl4() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gwl4"))
}

/// The deliberately non-conforming gateway (`harness/examples/naive-gateway.rs`);
/// `cargo test` builds examples.
pub fn naive_gateway() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_gwl4"))
        .parent()
        .unwrap()
        .join("examples/naive-gateway");
    assert!(
        p.exists(),
        "{} is missing: run the whole `cargo test` (it builds examples) or `cargo build --example naive-gateway`",
        p.display()
    );
    p
}

/// Runs gwl4 in `dir` with TMPDIR inside it (so its run directory is
/// findable) and returns its output.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    gwl4()
        .current_dir(dir)
        .env("TMPDIR", &tmp)
        .args(args)
        .output()
        .unwrap()
}

/// Text of an output, both streams.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// PIDs of live processes whose environment has `TMPDIR=<dir>/tmp`.
pub fn processes_of(dir: &Path) -> Vec<u32> {
    let needle = format!("TMPDIR={}", dir.join("tmp").display());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(env) = std::fs::read(entry.path().join("environ"))
            && env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes())
        {
            pids.push(pid);
        }
    }
    pids
}
