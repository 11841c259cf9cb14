//! Rossi's approximate CUSUM for Poisson counts (R `surveillance::algo.cusum`): standardise each
//! count against an in-control mean `m`, then S_t = max(0, S_{t−1} + z_t − k), alarm S_t ≥ h.
//! There is no reset after an alarm (R's default). A CUSUM accumulates evidence over weeks, so
//! it sees a sustained rise that a one-week (Shewhart) test misses.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::glm::{self, Design};
use crate::row::{AlarmRow, CusumDetail, MethodDetail};
use crate::{DetectError, Series};

/// Standardisation of the counts (R `trans`). `"anscombeNegBin"` is not implemented: it needs
/// R's tabulated hypergeometric function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CusumTransform {
    /// `"standard"` (default): (x − m)/√m.
    #[default]
    Standard,
    /// `"rossi"`: (x − 3m + 2√(xm))/(2√m).
    Rossi,
    /// `"anscombe"`: 3/2 (x^(2/3) − m^(2/3))/m^(1/6).
    Anscombe,
    /// `"anscombe2nd"`: second-order Anscombe residual.
    Anscombe2nd,
    /// `"pearsonNegBin"`: (x − m)/√(m + αm²).
    PearsonNegBin,
    /// `"none"`: the raw counts.
    None,
}

/// The in-control mean (R `m`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum CusumMean {
    /// `m = NULL` (default): mean of all points before the range (missing weeks skipped).
    #[default]
    MeanBeforeRange,
    /// A given numeric `m`.
    Fixed(f64),
    /// `m = "glm"`: Poisson GLM `x ~ 1 + cos(2πt/freq) + sin(2πt/freq)` on the points before
    /// the range, predicted for each monitored point.
    HarmonicGlm,
}

/// Control of [`cusum`]; `Default` is R's `algo.cusum` default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CusumControl {
    /// R `range` (0-based, half-open). R has no default: `None` is an error.
    pub range: Option<Range<usize>>,
    /// R `k`: reference value (default 1.04).
    pub k: f64,
    /// R `h`: decision interval (default 2.26).
    pub h: f64,
    /// R `m` (default: mean before the range).
    pub m: CusumMean,
    /// R `trans` (default `"standard"`).
    pub trans: CusumTransform,
    /// R `alpha`: NB dispersion for `"pearsonNegBin"` (default 0.1).
    pub alpha: f64,
}

impl Default for CusumControl {
    fn default() -> Self {
        CusumControl {
            range: None,
            k: 1.04,
            h: 2.26,
            m: CusumMean::MeanBeforeRange,
            trans: CusumTransform::Standard,
            alpha: 0.1,
        }
    }
}

fn in_control_means(
    series: &Series,
    range: &Range<usize>,
    mean: &CusumMean,
) -> Result<Vec<f64>, DetectError> {
    let training: Vec<(usize, f64)> = (0..range.start)
        .filter_map(|i| series.count(i).map(|c| (i, c as f64)))
        .collect();
    match mean {
        CusumMean::Fixed(m) => Ok(vec![*m; range.len()]),
        CusumMean::MeanBeforeRange => {
            if training.is_empty() {
                return Err(DetectError::InsufficientHistory {
                    index: range.start,
                    needed: 1,
                    available: 0,
                });
            }
            let m = training.iter().map(|(_, c)| c).sum::<f64>() / training.len() as f64;
            Ok(vec![m; range.len()])
        }
        CusumMean::HarmonicGlm => {
            let period = series.freq() as f64;
            let offset = series.start_period() as f64;
            let angle = |i: usize| 2.0 * std::f64::consts::PI / period * (offset + i as f64);
            let row = |i: usize| [1.0, angle(i).cos(), angle(i).sin()];
            let columns: Vec<Vec<f64>> = (0..3)
                .map(|j| training.iter().map(|&(i, _)| row(i)[j]).collect())
                .collect();
            let y: Vec<f64> = training.iter().map(|&(_, c)| c).collect();
            let n = y.len();
            let fit = glm::fit(&Design { columns }, &y, &vec![1.0; n], &vec![0.0; n])
                .filter(|f| f.converged)
                .ok_or(DetectError::InsufficientHistory {
                    index: range.start,
                    needed: 4,
                    available: n,
                })?;
            Ok(range
                .clone()
                .map(|i| fit.linear_predictor(&row(i)).exp())
                .collect())
        }
    }
}

/// Runs `algo.cusum`. A missing week leaves the CUSUM unchanged and does not alarm (R would
/// propagate `NA` to all later weeks).
pub fn cusum(series: &Series, control: &CusumControl) -> Result<Vec<AlarmRow>, DetectError> {
    let range = control
        .range
        .clone()
        .ok_or_else(|| DetectError::control("range", "algo.cusum needs an explicit range"))?;
    if range.start >= range.end || range.end > series.len() {
        return Err(DetectError::RangeOutOfBounds {
            start: range.start,
            end: range.end,
            len: series.len(),
        });
    }
    if !(control.h.is_finite() && control.k.is_finite() && control.alpha >= 0.0) {
        return Err(DetectError::control(
            "k",
            "k, h and alpha must be finite, alpha >= 0",
        ));
    }
    let means = in_control_means(series, &range, &control.m)?;
    let (h, k) = (control.h, control.k);
    let mut s_prev = 0.0;
    let mut rows = Vec::with_capacity(range.len());
    for (t, &m) in range.zip(&means) {
        if control.trans != CusumTransform::None && !(m > 0.0 && m.is_finite()) {
            return Err(DetectError::DegenerateBaseline { index: t, mean: m });
        }
        let observed = series.count(t);
        let z = observed.map(|x| standardise(control.trans, x as f64, m, control.alpha));
        let s = match z {
            Some(z) => (s_prev + z - k).max(0.0),
            None => s_prev,
        };
        let mut upper = upper_bound(control.trans, m, h, k, s_prev, s, control.alpha);
        if upper.is_nan() || upper < 0.0 {
            upper = 0.0;
        }
        rows.push(AlarmRow {
            index: t,
            date: series.date(t),
            observed,
            expected: Some(m),
            upperbound: Some(upper),
            alarm: observed.is_some() && s >= h,
            score: Some(s),
            pvalue: None,
            detail: MethodDetail::Cusum(CusumDetail {
                m,
                standardized: z,
                cusum: s,
            }),
        });
        s_prev = s;
    }
    Ok(rows)
}

fn standardise(trans: CusumTransform, x: f64, m: f64, alpha: f64) -> f64 {
    match trans {
        CusumTransform::Standard => (x - m) / m.sqrt(),
        CusumTransform::Rossi => (x - 3.0 * m + 2.0 * (x * m).sqrt()) / (2.0 * m.sqrt()),
        CusumTransform::Anscombe => {
            1.5 * (x.powf(2.0 / 3.0) - m.powf(2.0 / 3.0)) / m.powf(1.0 / 6.0)
        }
        CusumTransform::Anscombe2nd => {
            (x.powf(2.0 / 3.0) - (m.powf(2.0 / 3.0) - m.powf(-1.0 / 3.0) / 9.0))
                / (2.0 / 3.0 * m.powf(1.0 / 6.0))
        }
        CusumTransform::PearsonNegBin => (x - m) / (m + alpha * m * m).sqrt(),
        CusumTransform::None => x,
    }
}

/// R's back-transformed bound: the count that would make S_t reach h, given S_{t−1}
/// (for `"none"` R returns h − S_t instead).
fn upper_bound(
    trans: CusumTransform,
    m: f64,
    h: f64,
    k: f64,
    c_prev: f64,
    c_now: f64,
    alpha: f64,
) -> f64 {
    let r = h + k - c_prev;
    match trans {
        CusumTransform::Standard => (m.sqrt() * r + m).ceil(),
        CusumTransform::Rossi => {
            let m32 = m.powf(1.5);
            2.0 * m.sqrt() * r + 5.0 * m
                - 2.0 * (4.0 * m * m + 2.0 * m32 * h + 2.0 * m32 * k - 2.0 * m32 * c_prev).sqrt()
        }
        CusumTransform::Anscombe => {
            let base = 2.0 / 3.0 * m.powf(1.0 / 6.0) * r + m.powf(2.0 / 3.0);
            if base < 0.0 { 0.0 } else { base.powf(1.5) }
        }
        CusumTransform::Anscombe2nd => {
            // R uses m^(1/3)/9 here but m^(-1/3)/9 in the transform; copied as is.
            let base =
                2.0 / 3.0 * m.powf(1.0 / 6.0) * r + (m.powf(2.0 / 3.0) - m.powf(1.0 / 3.0) / 9.0);
            if base < 0.0 { 0.0 } else { base.powf(1.5) }
        }
        CusumTransform::PearsonNegBin => (m + alpha * m * m).sqrt() * r + m,
        CusumTransform::None => h - c_now,
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::testdata::salmonella;

    fn weekly(counts: Vec<Option<u64>>) -> Series {
        Series::weekly(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(), counts)
    }

    /// Hand-computed: m = 2, counts 2, 5, 6, 2: S = 0, 1.0813, 2.8697 (alarm), 1.8297;
    /// bounds ceil(√2 (h + k − S_{t−1}) + 2) = 7, 7, 6, 3.
    #[test]
    fn standard_cusum_by_hand() {
        let s = weekly(vec![Some(2), Some(5), Some(6), Some(2)]);
        let control = CusumControl {
            range: Some(0..4),
            m: CusumMean::Fixed(2.0),
            ..CusumControl::default()
        };
        let rows = cusum(&s, &control).unwrap();
        let scores: Vec<f64> = rows.iter().map(|r| r.score.unwrap()).collect();
        let expected = [
            0.0,
            5.0_f64.sqrt() * 0.0 + 3.0 / 2.0_f64.sqrt() - 1.04,
            0.0,
            0.0,
        ];
        assert!((scores[1] - expected[1]).abs() < 1e-12);
        assert!((scores[2] - (scores[1] + 4.0 / 2.0_f64.sqrt() - 1.04)).abs() < 1e-12);
        assert!((scores[3] - (scores[2] - 1.04)).abs() < 1e-12);
        assert_eq!(
            rows.iter().map(|r| r.alarm).collect::<Vec<_>>(),
            vec![false, false, true, false]
        );
        let bounds: Vec<f64> = rows.iter().map(|r| r.upperbound.unwrap()).collect();
        assert_eq!(bounds, vec![7.0, 7.0, 6.0, 3.0]);
    }

    #[test]
    fn degenerate_and_missing_inputs() {
        let zeros = weekly(vec![Some(0); 10]);
        let control = CusumControl {
            range: Some(5..10),
            ..CusumControl::default()
        };
        assert!(matches!(
            cusum(&zeros, &control),
            Err(DetectError::DegenerateBaseline { .. })
        ));
        assert!(
            cusum(&zeros, &CusumControl::default()).is_err(),
            "no default range"
        );
        let raw = CusumControl {
            trans: CusumTransform::None,
            ..control.clone()
        };
        assert!(cusum(&zeros, &raw).is_ok());
        let gappy = weekly(vec![Some(2), Some(2), Some(9), None, Some(9)]);
        let control = CusumControl {
            range: Some(2..5),
            ..CusumControl::default()
        };
        let rows = cusum(&gappy, &control).unwrap();
        assert!(!rows[1].alarm);
        assert_eq!(
            rows[1].score, rows[0].score,
            "a missing week carries the CUSUM"
        );
    }

    #[test]
    fn every_transform_runs_on_salmonella() {
        let series = salmonella();
        for trans in [
            CusumTransform::Standard,
            CusumTransform::Rossi,
            CusumTransform::Anscombe,
            CusumTransform::Anscombe2nd,
            CusumTransform::PearsonNegBin,
            CusumTransform::None,
        ] {
            for m in [CusumMean::MeanBeforeRange, CusumMean::HarmonicGlm] {
                let control = CusumControl {
                    range: Some(365..417),
                    trans,
                    m: m.clone(),
                    ..CusumControl::default()
                };
                let rows = cusum(&series, &control).unwrap();
                assert_eq!(rows.len(), 52);
                assert!(rows.iter().all(|r| r.upperbound.is_some_and(|u| u >= 0.0)));
            }
        }
    }
}
