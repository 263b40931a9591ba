//! The HTML report in a real browser: headless Chromium loads the fixture
//! run's page from a file, and the test checks the DOM it built, that nothing
//! was fetched and nothing logged to the console, prints it to PDF, and takes
//! a screenshot (kept in the target directory for a human to look at).
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`): without it the
//! test passes with a note saying so and how to install it, unless `CI=true`
//! or `GWL4_REQUIRE_ALL=1`, where it fails. `GWL4_SKIP_BROWSER=1` skips it
//! explicitly; `GWL4_CHROMIUM` names another binary.

mod browser_support;
mod common;

use std::path::Path;

use browser_support::{chromium_for, console_lines, links, run_chromium};
use reports::{Evidence, RunRecord, html_report};

fn chart_steps(record: &RunRecord) -> usize {
    record
        .tests
        .iter()
        .flat_map(|t| &t.steps)
        .filter(|s| {
            s.evidence
                .iter()
                .any(|e| matches!(e, Evidence::Distribution(_) | Evidence::Rejection(_)))
        })
        .count()
}

#[test]
fn the_report_renders_offline_in_chromium() {
    let Some(bin) = chromium_for("reports: the_report_renders_offline_in_chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let record = common::record();
    let page = dir.path().join("report.html");
    std::fs::write(&page, html_report(&record)).unwrap();

    // The control: a page that logs a console error must be caught, or the
    // "no console errors" check below proves nothing.
    let control = dir.path().join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><title>c</title><script>console.error('control-error')</script>",
    )
    .unwrap();
    let out = run_chromium(
        &bin,
        &dir.path().join("profile-control"),
        &control,
        &["--dump-dom".into()],
    );
    assert!(
        console_lines(&out.stderr)
            .iter()
            .any(|l| l.contains("control-error")),
        "chromium's console log is not visible on stderr, so console errors cannot be checked:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run_chromium(
        &bin,
        &dir.path().join("profile-dom"),
        &page,
        &["--dump-dom".into()],
    );
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8(out.stdout).expect("UTF-8 DOM");
    let console = console_lines(&out.stderr);
    assert!(
        console.is_empty(),
        "console messages or failed loads: {console:#?}"
    );

    // A row per test, with its result.
    assert_eq!(
        dom.matches("<tr data-test=\"").count(),
        record.tests.len(),
        "one summary row per test"
    );
    for test in &record.tests {
        let row = format!(
            "<tr data-test=\"{}\" data-result=\"{}\">",
            test.info.name,
            test.kind().as_str()
        );
        assert!(dom.contains(&row), "missing {row}");
    }
    // A chart per distribution or rejection step, drawn as SVG in the DOM.
    assert_eq!(
        dom.matches("<svg class=\"chart distribution").count(),
        chart_steps(&record)
    );
    assert!(
        dom.contains("<rect") && dom.contains("<polyline"),
        "bars and whiskers are drawn"
    );
    // Failures first: their list is above the summary, and failed tests lead the details.
    let failures = dom
        .find("<section id=\"failures\"")
        .expect("failures section");
    assert!(
        failures
            < dom
                .find("<section id=\"summary\"")
                .expect("summary section")
    );
    let failures_html = &dom[failures..dom[failures..].find("</section>").unwrap() + failures];
    for name in [
        "UDPRouteWeightedRouting",
        "TCPRouteMultipleRoutesAttachment",
    ] {
        assert!(
            failures_html.contains(&format!("href=\"#test-{name}\"")),
            "{name} is listed under failures"
        );
    }
    let first = dom.find("<section class=\"test\"").unwrap();
    assert!(dom[first..].starts_with(
        "<section class=\"test\" id=\"test-UDPRouteWeightedRouting\" data-result=\"failed\""
    ));
    // Nothing points outside the page (the implementation URL is text).
    let outside: Vec<&str> = links(&dom)
        .into_iter()
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert!(
        outside.is_empty(),
        "links or sources outside the page: {outside:?}"
    );
    assert!(!dom.contains("url("), "no CSS fetches");

    let shot = dir.path().join("report.png");
    let out = run_chromium(
        &bin,
        &dir.path().join("profile-shot"),
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".into(),
        ],
    );
    assert!(
        out.status.success(),
        "screenshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a real screenshot ({} bytes)",
        png.len()
    );
    // Printable: Chromium lays the page out for paper without trouble.
    let pdf = dir.path().join("report.pdf");
    let out = run_chromium(
        &bin,
        &dir.path().join("profile-pdf"),
        &page,
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".into(),
        ],
    );
    assert!(
        out.status.success(),
        "printing failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pdf = std::fs::read(&pdf).expect("PDF written");
    assert!(
        pdf.starts_with(b"%PDF") && pdf.len() > 20_000,
        "a real PDF ({} bytes)",
        pdf.len()
    );
    // Kept for a human to look at.
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    std::fs::copy(&shot, &keep).unwrap();
    eprintln!("screenshot: {}", keep.display());
}
