//! Headless Chromium for tests of the HTML report: find the binary, run it
//! on a page with the flags that keep it off the network, read its console.
//! Shared by `reports/tests/browser.rs` and the harness's end-to-end report
//! test (which includes this file by path).

#![allow(dead_code)] // each includer uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Generous: a cold Chromium start on a loaded 2-core machine takes seconds.
pub const BROWSER_DEADLINE: Duration = Duration::from_secs(120);

/// Chromium: `GWL4_CHROMIUM`, else `chromium`, `chromium-browser` or
/// `google-chrome` on PATH.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("GWL4_CHROMIUM") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Chromium for `test`, or `None` after a note saying the test did not run
/// and how to install it. The README's test command must pass on a machine
/// with only Rust, so a missing browser is a note, not a failure, unless
/// every tool is required: `CI=true` (CI installs Chromium) or
/// `GWL4_REQUIRE_ALL=1`, where it panics. `GWL4_SKIP_BROWSER=1` skips on
/// purpose. The note goes straight to stderr, past the test harness's
/// output capture, so it shows in a passing run.
pub fn chromium_for(test: &str) -> Option<PathBuf> {
    use std::io::Write;
    let note = |why: &str| {
        let _ = writeln!(std::io::stderr(), "NOTE: {test} did not run: {why}");
    };
    if std::env::var("GWL4_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        note("GWL4_SKIP_BROWSER=1");
        return None;
    }
    if let Some(bin) = chromium() {
        return Some(bin);
    }
    let why = "Chromium is not installed (looked for GWL4_CHROMIUM, and chromium, \
               chromium-browser or google-chrome on PATH); install it with \
               `apt-get install -y chromium` (Debian), which .ci/run does";
    let required = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("GWL4_REQUIRE_ALL").is_ok_and(|v| v == "1");
    if required {
        panic!("{why} (CI=true or GWL4_REQUIRE_ALL=1 requires every tool)");
    }
    note(why);
    None
}

/// Runs Chromium headless on `page` with `extra` flags; returns its output.
pub fn run_chromium(bin: &Path, profile: &Path, page: &Path, extra: &[String]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(format!("file://{}", page.display()))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(BROWSER_DEADLINE) {
        Ok(output) => output.expect("waiting for chromium"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("chromium did not finish within {BROWSER_DEADLINE:?}");
        }
    }
}

/// Console messages Chromium logged (`...:CONSOLE...] "message", source: ...`).
pub fn console_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Failed to load resource")
                || l.contains("net::ERR_")
        })
        .map(str::to_owned)
        .collect()
}

/// Every `src`/`href` value in the markup.
pub fn links(markup: &str) -> Vec<&str> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attr| markup.split(attr).skip(1))
        .map(|rest| &rest[..rest.find('"').unwrap_or(rest.len())])
        .collect()
}
