//! Prints the sample sizes gwl4 uses with the default settings (α = 0.001,
//! power 0.99, effect 5 percentage points), and what upstream's 500 samples
//! can detect.
//!
//! `cargo run -p stats --example sample-size`

use stats::{
    Settings, distribution_detectable_effect, distribution_sample_size, family_wise_bound,
    rejection_detectable_effect, rejection_sample_size,
};

fn main() -> Result<(), stats::Error> {
    let settings = Settings::default();
    println!(
        "settings: alpha {}, power {}, effect {}\n",
        settings.alpha, settings.power, settings.effect
    );

    println!("distribution steps");
    println!("| weights | n | for power | for expected counts >= 5 | for weight-0 leak |");
    println!("|---|---|---|---|---|");
    let splits: [&[(&str, u32)]; 8] = [
        &[("v1", 70), ("v2", 30), ("v3", 0)],
        &[("v1", 50), ("v2", 50)],
        &[("v1", 80), ("v2", 20)],
        &[("v1", 90), ("v2", 10)],
        &[("v1", 99), ("v2", 1)],
        &[("v1", 50), ("v2", 30), ("v3", 20)],
        &[("v1", 25), ("v2", 25), ("v3", 25), ("v4", 25)],
        &[("v1", 1), ("v2", 0)],
    ];
    let show = |n: Option<u64>| n.map_or("-".to_owned(), |n| n.to_string());
    for weights in splits {
        let plan = distribution_sample_size(weights, &settings)?;
        let names: Vec<String> = weights.iter().map(|(_, w)| w.to_string()).collect();
        println!(
            "| {} | **{}** | {} | {} | {} |",
            names.join("/"),
            plan.n,
            show(plan.for_power),
            show(plan.for_expected_counts),
            show(plan.for_leak)
        );
    }

    println!("\nrejection steps (exact binomial test)");
    println!("| invalid share | n |");
    println!("|---|---|");
    for share in [0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0] {
        println!("| {share} | {} |", rejection_sample_size(share, &settings)?);
    }

    let weights = [("v1", 70), ("v2", 30), ("v3", 0)];
    let at = |n| distribution_detectable_effect(&weights, n, &settings);
    println!(
        "\n70/30/0: detectable effect at upstream's 500 samples: {:.4}; at 2651: {:.4}",
        at(500)?.unwrap_or(f64::NAN),
        at(2651)?.unwrap_or(f64::NAN)
    );
    println!(
        "rejection share 0.3: detectable effect at 500 samples: {:.4}",
        rejection_detectable_effect(500, 0.3, &settings)?.unwrap_or(f64::NAN)
    );
    println!(
        "family-wise false-failure bound over 20 statistical tests: {}",
        family_wise_bound(settings.alpha, 20)?
    );
    Ok(())
}
