//! When traffic through the gateway fails, gwl4 probes the backend
//! directly and says which side is at fault: here the reference gateway
//! with the `udp-reply-from-backend-socket` fault (replies leave from the
//! wrong port, so clients drop them) while the echo backend answers fine.

mod common;

use common::{run_in, text};

#[test]
fn a_failing_gateway_is_blamed_after_probing_the_backend_directly() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = format!(
        "{} reference-gateway standalone --fault udp-reply-from-backend-socket",
        env!("CARGO_BIN_EXE_gwl4")
    );
    let out = run_in(
        dir.path(),
        &["--gateway-command", &gateway, "--exact", "UDPRoute"],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    // The diagnosis is part of the failure: on the terminal and in every report.
    assert!(
        all.contains("answers directly") && all.contains("the gateway is at fault"),
        "{all}"
    );
    let report = std::fs::read_to_string(dir.path().join("gwl4-reports/report.json")).unwrap();
    assert!(
        report.contains("backend udp-echo at 127.") && report.contains("answers directly"),
        "{report}"
    );
    assert!(report.contains("the gateway is at fault"), "{report}");
}
