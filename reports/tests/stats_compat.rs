//! The `stats` crate's verdicts pass through serde into this crate's
//! evidence unchanged, so the harness needs no field-by-field mapping.

use reports::{DistributionEvidence, RejectionEvidence};

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(value: serde_json::Value) {
    let parsed: T = serde_json::from_value(value.clone()).expect("stats' JSON parses as evidence");
    assert_eq!(
        serde_json::to_value(&parsed).unwrap(),
        value,
        "nothing lost or added"
    );
}

#[test]
fn distribution_verdicts_are_distribution_evidence() {
    let settings = stats::Settings::default();
    let weights = [("v1", 70), ("v2", 30), ("v3", 0)];
    for observed in [
        [("v1", 702), ("v2", 298), ("v3", 0)],
        [("v1", 334), ("v2", 333), ("v3", 333)],
    ] {
        let verdict = stats::judge_distribution(&weights, &observed, &settings).unwrap();
        round_trip::<DistributionEvidence>(serde_json::to_value(&verdict).unwrap());
    }
}

#[test]
fn rejection_verdicts_are_rejection_evidence() {
    let settings = stats::Settings::default();
    for (rejected, total) in [(493, 1000), (0, 1000)] {
        let verdict = stats::judge_rejection(0.5, rejected, total, &settings).unwrap();
        round_trip::<RejectionEvidence>(serde_json::to_value(&verdict).unwrap());
    }
}
