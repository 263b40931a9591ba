//! The verdict tables of `docs/peers.md` that the peers' tests compare
//! runs with are readable: a row per catalog test, each verdict one a
//! report gives. Needs no peer.

mod common;
mod peers_support;

#[test]
fn every_peer_table_is_readable_and_covers_the_catalog() {
    let catalog: Vec<String> = harness::suite::load::builtin()
        .expect("the catalog loads")
        .into_iter()
        .map(|t| t.name)
        .collect();
    for peer in ["envoy-gateway", "traefik"] {
        let table = peers_support::recorded(peer);
        for test in &catalog {
            assert!(table.contains_key(test), "{peer}: no row for {test}");
        }
        for (test, verdicts) in &table {
            assert!(
                catalog.contains(test),
                "{peer}: {test} is not in the catalog"
            );
            for verdict in verdicts {
                assert!(
                    peers_support::VERDICTS.contains(&verdict.as_str()),
                    "{peer}: {test}: verdict {verdict:?} is not one the report gives"
                );
            }
        }
    }
}
