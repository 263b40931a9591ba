//! The whole catalog through Traefik (TCP only; a peer nobody here wrote),
//! every verdict compared with its table in `docs/peers.md`, as
//! `peers_envoy_gateway` does for Envoy Gateway. Run by hand (the CI run
//! checks Envoy Gateway only, for time):
//!
//! `tools/peers/with-peer.sh traefik cargo test -p harness --test
//! peers_traefik -- --ignored --nocapture`

mod common;
mod peers_support;

#[test]
#[ignore = "needs the peers tier: tools/peers/with-peer.sh traefik (by hand)"]
fn traefik_verdicts_match_docs_peers() {
    peers_support::verdicts_match_docs(
        "traefik",
        "Traefik",
        &[
            "--supported-features",
            "Gateway,TCPRoute,ReferenceGrant",
            "--timeout-config-overrides",
            "GatewayMustHaveAddress:60;GatewayMustHaveCondition:60",
        ],
    );
}
