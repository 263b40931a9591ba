//! `gwl4 --help` reads like gwl4: its own options, grouped, with examples;
//! libtest's no-op flags hidden but still accepted; `--version` alone prints
//! gwl4's version and its catalog's Gateway API version.

mod common;

use common::gwl4;

#[test]
fn help_leads_with_gwl4s_own_options_in_groups() {
    let out = gwl4().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for heading in [
        "Test selection:",
        "Where the tests run:",
        "Local mode:",
        "Verdicts:",
        "Reports:",
        "Examples:",
        "Exit codes:",
    ] {
        assert!(help.contains(heading), "no {heading}:\n{help}");
    }
    for flag in ["--strict", "--gateway-class", "--list", "--report-dir"] {
        assert!(help.contains(flag), "no {flag}:\n{help}");
    }
    for hidden in [
        "--nocapture",
        "--bench",
        "--show-output",
        "-Z",
        "--include-ignored",
    ] {
        assert!(!help.contains(hidden), "{hidden} is shown:\n{help}");
    }
    // Hidden, not removed: libtest's flags are still accepted.
    let listed = gwl4()
        .args([
            "--nocapture",
            "--show-output",
            "-Z",
            "unstable-options",
            "--list",
        ])
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    for sub in ["self-test", "bench", "compare", "fetch-report", "doctor"] {
        let out = gwl4().args([sub, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Examples:"),
            "{sub} --help has no examples:\n{help}"
        );
    }
}

#[test]
fn version_alone_prints_gwl4_and_the_catalogs_gateway_api_version() {
    for flag in ["--version", "-V"] {
        let out = gwl4().arg(flag).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.starts_with(&format!("gwl4 {}", env!("CARGO_PKG_VERSION")))
                && text.contains("Gateway API v1.6.1"),
            "{text}"
        );
    }
}

#[test]
fn the_readme_shows_the_current_short_help() {
    let out = gwl4().arg("-h").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    assert!(
        readme.contains(help.trim_end()),
        "README.md's `gwl4 -h` block is stale; paste the output of `gwl4 -h`:\n{help}"
    );
}
