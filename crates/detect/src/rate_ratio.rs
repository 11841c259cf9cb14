//! Exact conditional test of a year-on-year rise in a Poisson rate.
//!
//! Given counts X1 (earlier period, exposure e1) and X2 (later period, exposure e2) with equal
//! rates under H0, X2 given X1 + X2 = n is Binomial(n, e2/(e1 + e2)); the one-sided p-value is
//! P(X2 ≥ x2). This is the annual check of alerting.md §2.7 (West Mercia 114 → 213:
//! p = 2.3817e−8). It assumes Poisson variation between years; with large between-year
//! variability a quasi-Poisson or NB comparison is more honest.

use serde::{Deserialize, Serialize};

use crate::DetectError;
use crate::stats::binomial_upper_tail;

/// Result of [`rate_ratio_test`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateRatioTest {
    /// Count in the earlier period.
    pub previous: u64,
    /// Count in the later period.
    pub current: u64,
    /// (current / e2) / (previous / e1); `None` when the earlier count is 0.
    pub rate_ratio: Option<f64>,
    /// One-sided exact p-value P(X2 ≥ current | n) for a rise.
    pub p_value: f64,
    /// Mid-p value: p − P(X2 = current)/2 (less conservative).
    pub mid_p_value: f64,
}

/// Exact one-sided test that the later period's rate is higher, with equal exposures.
pub fn rate_ratio_test(previous: u64, current: u64) -> RateRatioTest {
    // Equal positive exposures cannot fail validation.
    rate_ratio_test_with_exposure(previous, 1.0, current, 1.0).unwrap_or(RateRatioTest {
        previous,
        current,
        rate_ratio: None,
        p_value: f64::NAN,
        mid_p_value: f64::NAN,
    })
}

/// Exact one-sided test with exposures (e.g. weeks observed, or population × time).
pub fn rate_ratio_test_with_exposure(
    previous: u64,
    previous_exposure: f64,
    current: u64,
    current_exposure: f64,
) -> Result<RateRatioTest, DetectError> {
    for (name, e) in [
        ("previous_exposure", previous_exposure),
        ("current_exposure", current_exposure),
    ] {
        if !(e.is_finite() && e > 0.0) {
            return Err(DetectError::control(name, "must be positive and finite"));
        }
    }
    let n = previous.saturating_add(current);
    let p0 = current_exposure / (previous_exposure + current_exposure);
    let (p_value, pmf) = binomial_upper_tail(current, n, p0);
    let rate_ratio = (previous > 0)
        .then(|| (current as f64 / current_exposure) / (previous as f64 / previous_exposure));
    Ok(RateRatioTest {
        previous,
        current,
        rate_ratio,
        p_value,
        mid_p_value: p_value - 0.5 * pmf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// alerting.md §2.7 / recommendation 3: West Mercia 114 → 213 gives one-sided
    /// p = 2.3817e−8, mid-p 1.8162e−8, rate ratio 1.868.
    #[test]
    fn west_mercia_year_on_year() {
        let t = rate_ratio_test(114, 213);
        assert!(
            (t.p_value - 2.3817e-8).abs() / 2.3817e-8 < 1e-4,
            "{}",
            t.p_value
        );
        assert!((t.mid_p_value - 1.8162e-8).abs() / 1.8162e-8 < 1e-4);
        assert!((t.rate_ratio.unwrap() - 1.868).abs() < 5e-4);
    }

    #[test]
    fn edge_cases() {
        let cases = [
            // (previous, current, p-value)
            (0, 0, 1.0),
            (5, 0, 1.0),
            (0, 3, 0.125),
            (1, 1, 0.75),
        ];
        for (previous, current, p) in cases {
            let t = rate_ratio_test(previous, current);
            assert!(
                (t.p_value - p).abs() < 1e-12,
                "{previous} {current}: {}",
                t.p_value
            );
        }
        assert_eq!(rate_ratio_test(0, 3).rate_ratio, None);
        assert!(rate_ratio_test_with_exposure(1, 0.0, 1, 1.0).is_err());
        // Doubling the later exposure halves its rate: 10 vs 20 over twice the time is no rise.
        let t = rate_ratio_test_with_exposure(10, 1.0, 20, 2.0).unwrap();
        assert_eq!(t.rate_ratio, Some(1.0));
        assert!(t.p_value > 0.4);
    }
}
