//! The whole catalog through Envoy Gateway (a peer nobody here wrote), and
//! every verdict compared with the table in `docs/peers.md`: a change in
//! gwl4 that silently flips a third-party verdict (or a peer that starts
//! behaving differently) fails here, naming each test whose verdict moved.
//! The table is the triaged record; when a verdict changes for a good
//! reason, the table and its triage change with it.
//!
//! `tools/peers/with-peer.sh envoy-gateway cargo test -p harness --test
//! peers_envoy_gateway -- --ignored --nocapture`

mod common;
mod peers_support;

#[test]
#[ignore = "needs the peers tier: tools/peers/with-peer.sh envoy-gateway (run by .ci/run)"]
fn envoy_gateway_verdicts_match_docs_peers() {
    peers_support::verdicts_match_docs(
        "envoy-gateway",
        "Envoy Gateway",
        &[
            "--supported-features",
            "Gateway,TCPRoute,UDPRoute,ReferenceGrant",
            "--timeout-config-overrides",
            "GatewayMustHaveAddress:60;GatewayMustHaveCondition:60",
        ],
    );
}
