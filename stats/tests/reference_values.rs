//! The distributions and tests against values from outside this crate:
//! published tables, closed forms, exact hand or rational arithmetic, and an
//! independent numerical integration. Each test names its source.

use statrs::distribution::{ChiSquared, Continuous, ContinuousCDF, Normal};
use stats::noncentral::TRUNCATION_BOUND;
use stats::{NoncentralChiSquared, binomial_test, chi_squared_test, wilson};

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} (±{tol})"
    );
}

/// Upper-tail critical values of the central chi-squared distribution, as
/// printed (3 decimals) in the NIST/SEMATECH e-Handbook of Statistical
/// Methods, §1.3.6.7.4 "Critical Values of the Chi-Square Distribution".
#[test]
fn central_chi_squared_matches_the_nist_table() {
    let table = [
        (1.0, 0.05, 3.841),
        (1.0, 0.001, 10.828),
        (2.0, 0.05, 5.991),
        (2.0, 0.001, 13.816),
        (5.0, 0.01, 15.086),
        (5.0, 0.05, 11.070),
        (10.0, 0.05, 18.307),
        (10.0, 0.001, 29.588),
    ];
    for (df, alpha, critical) in table {
        let dist = ChiSquared::new(df).unwrap();
        close(
            dist.inverse_cdf(1.0 - alpha),
            critical,
            6e-4,
            &format!("df {df} alpha {alpha}"),
        );
        // At the rounded table value the tail is α to within the rounding.
        let slack = dist.pdf(critical) * 5e-4 * 1.01;
        close(dist.sf(critical), alpha, slack, "sf at table value");
    }
}

/// With 2 degrees of freedom the survival function is exactly `e^{−x/2}`.
#[test]
fn central_chi_squared_df2_closed_form() {
    let dist = ChiSquared::new(2.0).unwrap();
    for x in [0.1_f64, 1.0, 5.0, 13.815_510_557_964_274, 40.0, 80.0] {
        let want = (-x / 2.0).exp();
        close(dist.sf(x), want, want * 1e-12, &format!("sf({x})"));
    }
}

/// With 1 degree of freedom the noncentral variable is `(Z + √λ)²`, so
/// `P(X ≤ x) = Φ(√x − √λ) − Φ(−√x − √λ)`: a closed form through the normal
/// CDF, independent of the Poisson series. Includes a large λ, where
/// `e^{−λ/2}` underflows and the series must start at the Poisson mode. The
/// tolerance is statrs' normal CDF's: at λ = 1, x = 3.841 it is 1.5e-11 off
/// the value from Python's `math.erfc` (0.8298949115740846), which the series
/// matches to 1e-15.
#[test]
fn noncentral_df1_matches_the_normal_closed_form() {
    let phi = Normal::standard();
    for (ncp, x) in [
        (0.5, 0.2),
        (1.0, 3.841),
        (31.5, 10.828),
        (10.0, 30.0),
        (2000.0, 1900.0),
        (2000.0, 2100.0),
    ] {
        let (rx, rl) = (f64::sqrt(x), f64::sqrt(ncp));
        let want = phi.cdf(rx - rl) - phi.cdf(-rx - rl);
        let dist = NoncentralChiSquared::new(1.0, ncp).unwrap();
        let got = dist.cdf_with_bound(x);
        assert!(got.truncation_bound <= TRUNCATION_BOUND);
        close(got.value, want, 1e-10, &format!("cdf(x={x}; 1, λ={ncp})"));
        close(
            dist.sf(x),
            1.0 - want,
            1e-10,
            &format!("sf(x={x}; 1, λ={ncp})"),
        );
    }
    let precise = NoncentralChiSquared::new(1.0, 1.0).unwrap().cdf(3.841);
    close(
        precise,
        0.829_894_911_574_084_6,
        1e-15,
        "Python math.erfc value",
    );
}

/// Independent computation for k ≥ 2: X = (Z + √λ)² + C with C central
/// chi-squared on k − 1 degrees of freedom, so
/// `P(X ≤ x) = ∫ φ(z − √λ) F_{k−1}(x − z²) dz` over `|z| ≤ √x`. The
/// substitution `z = √x·sin θ` makes the integrand smooth on [−π/2, π/2];
/// composite Simpson's rule with 4000 panels.
fn convolution_cdf(df: f64, ncp: f64, x: f64) -> f64 {
    let rest = ChiSquared::new(df - 1.0).unwrap();
    let phi = Normal::standard();
    let (rx, rl) = (x.sqrt(), ncp.sqrt());
    let f = |theta: f64| {
        let z = rx * theta.sin();
        let c = theta.cos();
        phi.pdf(z - rl) * rest.cdf(x * c * c) * rx * c
    };
    let panels = 4000;
    let (a, b) = (-std::f64::consts::FRAC_PI_2, std::f64::consts::FRAC_PI_2);
    let h = (b - a) / panels as f64;
    let mut sum = f(a) + f(b);
    for i in 1..panels {
        let weight = if i % 2 == 1 { 4.0 } else { 2.0 };
        sum += weight * f(a + i as f64 * h);
    }
    sum * h / 3.0
}

#[test]
fn noncentral_matches_numerical_integration() {
    for (df, ncp, x) in [
        (2.0, 1.0, 3.0),
        (2.0, 10.0, 8.0),
        (2.0, 36.0, 13.816),
        (3.0, 5.0, 7.5),
        (5.0, 20.0, 25.0),
        (8.0, 3.0, 2.0),
    ] {
        let want = convolution_cdf(df, ncp, x);
        let dist = NoncentralChiSquared::new(df, ncp).unwrap();
        let got = dist.cdf_with_bound(x);
        assert!(got.truncation_bound <= TRUNCATION_BOUND);
        close(got.value, want, 1e-9, &format!("cdf(x={x}; {df}, λ={ncp})"));
        close(
            dist.sf(x),
            1.0 - want,
            1e-9,
            &format!("sf(x={x}; {df}, λ={ncp})"),
        );
    }
}

/// λ = 0 is the central distribution.
#[test]
fn noncentral_with_zero_noncentrality_is_central() {
    for df in [1.0, 2.0, 7.0] {
        let central = ChiSquared::new(df).unwrap();
        let dist = NoncentralChiSquared::new(df, 0.0).unwrap();
        for x in [0.5, 3.0, 12.0] {
            close(dist.cdf(x), central.cdf(x), 1e-15, "cdf");
        }
    }
    assert!(NoncentralChiSquared::new(0.0, 1.0).is_err());
    assert!(NoncentralChiSquared::new(1.0, -1.0).is_err());
}

/// Values computed with exact rational arithmetic (every pmf term as a
/// fraction, summed over the outcomes no more likely than the observed one):
/// - 682 of 925 at p = 3/4 is the example in R's `?binom.test` (Mendel's
///   peas), printed there as `p-value = 0.3825`; exactly 0.382491559574…
/// - n = 5, p = 0.3: pmf 0.16807, 0.36015, 0.3087, 0.1323, 0.02835, 0.00243,
///   so x = 4 gives 0.02835 + 0.00243 and x = 0 gives
///   0.16807 + 0.1323 + 0.02835 + 0.00243, by hand.
/// - n = 10, p = 1/2, x = 2: 2·(1 + 10 + 45)/1024.
#[test]
fn binomial_test_matches_exact_values() {
    close(
        binomial_test(682, 925, 0.75),
        0.382_491_559_574_851_7,
        1e-9,
        "682/925",
    );
    close(binomial_test(4, 5, 0.3), 0.030_78, 1e-12, "4/5");
    close(binomial_test(0, 5, 0.3), 0.331_15, 1e-12, "0/5");
    close(binomial_test(2, 10, 0.5), 0.109_375, 1e-12, "2/10");
    close(binomial_test(5, 10, 0.5), 1.0, 0.0, "5/10");
    // Degenerate shares: only one outcome is possible.
    assert_eq!(binomial_test(0, 7, 0.0), 1.0);
    assert_eq!(binomial_test(1, 7, 0.0), 0.0);
    assert_eq!(binomial_test(7, 7, 1.0), 1.0);
    assert_eq!(binomial_test(6, 7, 1.0), 0.0);
}

/// The tail-search implementation against the definition, summed directly.
#[test]
fn binomial_test_agrees_with_the_definition() {
    use statrs::distribution::{Binomial, Discrete};
    for (n, p) in [
        (1, 0.5),
        (7, 0.3),
        (20, 0.5),
        (33, 0.9),
        (120, 0.25),
        (500, 0.7),
    ] {
        let dist = Binomial::new(p, n).unwrap();
        for x in 0..=n {
            let limit = dist.pmf(x) * (1.0 + 1e-7);
            let want: f64 = (0..=n).map(|y| dist.pmf(y)).filter(|&q| q <= limit).sum();
            close(
                binomial_test(x, n, p),
                want.min(1.0),
                1e-12,
                &format!("x={x} n={n} p={p}"),
            );
        }
    }
}

/// Newcombe (1998), "Two-sided confidence intervals for the single
/// proportion: comparison of seven methods", Statistics in Medicine 17,
/// 857–872, Table II, method 3 (Wilson score, 95%), to 4 decimals.
#[test]
fn wilson_matches_newcombe_1998() {
    for (x, n, lo, hi) in [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ] {
        let interval = wilson(x, n, 0.05);
        close(interval.lo, lo, 5e-5, &format!("{x}/{n} lo"));
        close(interval.hi, hi, 5e-5, &format!("{x}/{n} hi"));
    }
    let all = wilson(0, 0, 0.001);
    assert_eq!((all.lo, all.hi), (0.0, 1.0));
}

/// Pearson's statistic by hand, and statrs' own `chisquare` on the same
/// counts (which agrees while p-values are not tiny).
#[test]
fn chi_squared_test_matches_hand_and_statrs() {
    // 1900 and 751 against 70/30 of 2651: E = 1855.7, 795.3.
    let test = chi_squared_test(&[1900, 751], &[0.7, 0.3]).unwrap();
    let want = 44.3_f64.powi(2) / 1855.7 + 44.3_f64.powi(2) / 795.3;
    close(test.statistic, want, 1e-9, "statistic");
    assert_eq!(test.df, 1);
    let (stat, p) =
        statrs::stats_tests::chisquare::chisquare(&[1900, 751], Some(&[1855.7, 795.3]), None)
            .unwrap();
    close(test.statistic, stat, 1e-9, "statrs statistic");
    close(test.p_value, p, 1e-12, "statrs p-value");
    // Far in the tail the survival function keeps digits that 1 − cdf loses.
    let tail = chi_squared_test(&[2651, 0], &[0.7, 0.3]).unwrap();
    assert!(
        tail.p_value > 0.0 && tail.p_value < 1e-100,
        "{}",
        tail.p_value
    );
    assert!(chi_squared_test(&[0, 0], &[0.5, 0.5]).is_none());
    assert!(chi_squared_test(&[3], &[1.0]).is_none());
}
