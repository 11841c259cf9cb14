//! EARS C1, C2 and C3 (CDC; R `surveillance::earsC`): a Shewhart chart against the mean and
//! standard deviation of the last `baseline` points, for series with under a year of history.
//!
//! C3 is implemented as documented (CDC, R's manual): C3(t) = Σ_{i=t−2..t} max(0, C2(i) − 1),
//! alarm when C3 > z. R's code computes something else (its alarm ignores the current count and
//! fires in the two weeks *after* a peak, alerting.md §2.1); that behaviour is available with
//! [`EarsControl::c3_r_compatible`] for comparisons with R only.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::farrington::{check_alpha, finite, resolve_range};
use crate::row::{AlarmRow, EarsDetail, MethodDetail};
use crate::stats::qnorm;
use crate::{DetectError, Series};

/// Which EARS chart (R `method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EarsMethod {
    /// Baseline t−7..t−1 (R default).
    #[default]
    C1,
    /// Baseline t−9..t−3 (two-point guard band).
    C2,
    /// Cumulative C2 over t−2..t.
    C3,
}

/// Control of [`ears`]; `Default` is R's `earsC` default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarsControl {
    /// R `range` (0-based, half-open). `None`: every point with enough history
    /// (from `baseline`, `baseline + 2` or `baseline + 4` for C1, C2, C3).
    pub range: Option<Range<usize>>,
    /// R `method` (default C1).
    pub method: EarsMethod,
    /// R `baseline`: number of reference points, at least 3 (default 7).
    pub baseline: usize,
    /// R `minSigma`: floor of the standard deviation (default 0). Use 0.5–1 for sparse series
    /// (Burkom, cited by R's manual): with σ = 0 a single crime after a quiet week alarms.
    pub min_sigma: f64,
    /// R `alpha`, one-sided: z = qnorm(1 − α). `None`: 0.001 for C1/C2, 0.025 for C3, as R
    /// when `alpha` is not given.
    pub alpha: Option<f64>,
    /// Use R's C3 code instead of the documented C3 (for R comparisons only; default false).
    pub c3_r_compatible: bool,
}

impl Default for EarsControl {
    fn default() -> Self {
        EarsControl {
            range: None,
            method: EarsMethod::C1,
            baseline: 7,
            min_sigma: 0.0,
            alpha: None,
            c3_r_compatible: false,
        }
    }
}

/// Mean and max(sd, minSigma) of the non-missing values of `from..=to`.
/// R would return `NA` as soon as one value is missing; here the remaining values are used,
/// and at least two are needed for a standard deviation.
fn baseline_stats(
    series: &Series,
    from: usize,
    to: usize,
    min_sigma: f64,
) -> Option<(f64, f64, usize)> {
    let values: Vec<f64> = (from..=to)
        .filter_map(|i| series.count(i))
        .map(|c| c as f64)
        .collect();
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some((mean, var.sqrt().max(min_sigma), n))
}

/// The C2 statistic (y_t − ȳ)/σ at `t` with its baseline t−baseline−2..t−3.
fn c2(series: &Series, t: usize, control: &EarsControl) -> Option<(f64, f64, f64, usize)> {
    let (mean, sigma, n) =
        baseline_stats(series, t - control.baseline - 2, t - 3, control.min_sigma)?;
    let y = series.count(t)? as f64;
    Some(((y - mean) / sigma, mean, sigma, n))
}

/// Runs EARS C1/C2/C3 on `series`.
pub fn ears(series: &Series, control: &EarsControl) -> Result<Vec<AlarmRow>, DetectError> {
    if control.baseline < 3 {
        return Err(DetectError::control(
            "baseline",
            "minimum baseline to use is 3",
        ));
    }
    if control.min_sigma.is_nan() || control.min_sigma < 0.0 {
        return Err(DetectError::control("minSigma", "must be non-negative"));
    }
    let alpha = control.alpha.unwrap_or(match control.method {
        EarsMethod::C1 | EarsMethod::C2 => 0.001,
        EarsMethod::C3 => 0.025,
    });
    check_alpha(alpha)?;
    let z = qnorm(1.0 - alpha);
    let max_lag = match control.method {
        EarsMethod::C1 => control.baseline,
        EarsMethod::C2 => control.baseline + 2,
        EarsMethod::C3 => control.baseline + 4,
    };
    let range = resolve_range(control.range.clone(), max_lag, series.len())?;
    if range.start < max_lag {
        return Err(DetectError::InsufficientHistory {
            index: range.start,
            needed: max_lag,
            available: range.start,
        });
    }
    Ok(range.map(|t| ears_row(series, t, control, z)).collect())
}

fn ears_row(series: &Series, t: usize, control: &EarsControl, z: f64) -> AlarmRow {
    let observed = series.count(t);
    let mut row = AlarmRow {
        index: t,
        date: series.date(t),
        observed,
        expected: None,
        upperbound: None,
        alarm: false,
        score: None,
        pvalue: None,
        detail: MethodDetail::Ears(EarsDetail {
            sigma: None,
            baseline_points: 0,
        }),
    };
    let (from, to) = match control.method {
        EarsMethod::C1 => (t - control.baseline, t - 1),
        EarsMethod::C2 | EarsMethod::C3 => (t - control.baseline - 2, t - 3),
    };
    let Some((mean, sigma, n)) = baseline_stats(series, from, to, control.min_sigma) else {
        return row;
    };
    row.expected = Some(mean);
    row.detail = MethodDetail::Ears(EarsDetail {
        sigma: Some(sigma),
        baseline_points: n,
    });
    let y = observed.map(|y| y as f64);
    match control.method {
        EarsMethod::C1 | EarsMethod::C2 => {
            let upper = mean + z * sigma;
            row.upperbound = finite(upper);
            row.score = y.and_then(|y| finite((y - mean) / sigma));
            row.alarm = matches!((y, row.upperbound), (Some(y), Some(u)) if y > u);
        }
        EarsMethod::C3 => {
            // Contributions of the two previous weeks; an unknown one makes the row unknown.
            let previous: Option<Vec<f64>> = [t - 2, t - 1]
                .iter()
                .map(|&i| c2(series, i, control).map(|(c, ..)| (c - 1.0).max(0.0)))
                .collect();
            let Some(previous) = previous else {
                return row;
            };
            let parts: f64 = previous.iter().sum();
            if !parts.is_finite() {
                return row;
            }
            if control.c3_r_compatible {
                // R: U = max(0, y_t + σ_t (z − parts)), alarm y_t > U.
                if let Some(y) = y {
                    let upper = (y + sigma * (z - parts)).max(0.0);
                    row.upperbound = finite(upper);
                    row.alarm = row.upperbound.is_some_and(|u| y > u);
                    row.score = finite(parts + ((y - mean) / sigma - 1.0).max(0.0));
                }
            } else {
                // Documented C3: alarm iff max(0, C2(t) − 1) > z − parts, i.e.
                // y > ȳ + σ (1 + z − parts) while parts ≤ z; past that any count alarms and
                // no bound exists.
                if parts <= z {
                    row.upperbound = finite((mean + sigma * (1.0 + z - parts)).max(0.0));
                }
                if let Some(y) = y {
                    let c3 = parts + ((y - mean) / sigma - 1.0).max(0.0);
                    row.score = finite(c3);
                    row.alarm = c3 > z;
                }
            }
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::testdata::salmonella;

    /// T5 (test-earsC.R): C1, α = 0.05, baseline 7, minSigma 0 on S. Newport (16 states summed),
    /// the 52 weeks of 2011 (R indices 366–417). First four upper bounds
    /// 3.278854, 3.278854, 3.436517, 3.855617 (tolerance 1e-6) and the year's alarms.
    #[test]
    fn t5_c1_salmonella_2011() {
        let series = salmonella();
        let control = EarsControl {
            range: Some(365..417),
            alpha: Some(0.05),
            ..EarsControl::default()
        };
        let rows = ears(&series, &control).unwrap();
        assert_eq!(rows[0].date, NaiveDate::from_ymd_opt(2011, 1, 3));
        let expected = [3.278854, 3.278854, 3.436517, 3.855617];
        for (row, e) in rows.iter().zip(expected) {
            let u = row.upperbound.unwrap();
            assert!((u - e).abs() < 1e-6, "{u} vs {e}");
        }
        let alarms: Vec<(String, u64)> = rows
            .iter()
            .filter(|r| r.alarm)
            .map(|r| (r.date.unwrap().to_string(), r.observed.unwrap()))
            .collect();
        let expected: Vec<(String, u64)> = [
            ("2011-08-01", 5),
            ("2011-08-29", 6),
            ("2011-10-24", 3),
            ("2011-10-31", 9),
            ("2011-11-07", 41),
            ("2011-11-14", 45),
        ]
        .iter()
        .map(|(d, c)| (d.to_string(), *c))
        .collect();
        assert_eq!(alarms, expected);
    }

    fn weekly(counts: &[u64]) -> Series {
        Series::weekly_complete(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(), counts)
    }

    /// Low counts: with σ = 0 one crime after quiet weeks alarms; minSigma = 0.5 stops that.
    #[test]
    fn min_sigma_on_sparse_series() {
        // (counts, minSigma, alarm in the last week)
        let cases: [(&[u64], f64, bool); 4] = [
            (&[0, 0, 0, 0, 0, 0, 0, 1], 0.0, true),
            (&[0, 0, 0, 0, 0, 0, 0, 1], 0.5, false),
            (&[0, 0, 0, 0, 0, 0, 0, 2], 0.5, true),
            (&[0, 0, 0, 0, 0, 0, 0, 0], 0.0, false),
        ];
        for (counts, min_sigma, alarm) in cases {
            let rows = ears(
                &weekly(counts),
                &EarsControl {
                    min_sigma,
                    ..EarsControl::default()
                },
            )
            .unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].alarm, alarm, "{counts:?} minSigma {min_sigma}");
        }
    }

    #[test]
    fn too_little_history_and_bad_controls() {
        let s = weekly(&[1, 2, 3, 4, 5, 6]);
        let cases = [
            EarsControl::default(),
            EarsControl {
                method: EarsMethod::C3,
                ..EarsControl::default()
            },
            EarsControl {
                baseline: 2,
                ..EarsControl::default()
            },
            EarsControl {
                min_sigma: -1.0,
                ..EarsControl::default()
            },
            EarsControl {
                alpha: Some(1.5),
                ..EarsControl::default()
            },
            EarsControl {
                range: Some(2..6),
                baseline: 3,
                ..EarsControl::default()
            },
        ];
        for control in cases {
            assert!(ears(&s, &control).is_err(), "{control:?}");
        }
        assert!(matches!(
            ears(&s, &EarsControl::default()),
            Err(DetectError::InsufficientHistory { .. })
        ));
    }

    /// C3: the documented statistic alarms at a spike; R's code alarms in the weeks after it.
    #[test]
    fn c3_documented_versus_r() {
        let mut counts = vec![2_u64, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3];
        counts.push(20); // index 14: the spike
        counts.extend([2, 3, 2]);
        let s = weekly(&counts);
        let documented = ears(
            &s,
            &EarsControl {
                method: EarsMethod::C3,
                ..EarsControl::default()
            },
        )
        .unwrap();
        let r = ears(
            &s,
            &EarsControl {
                method: EarsMethod::C3,
                c3_r_compatible: true,
                ..EarsControl::default()
            },
        )
        .unwrap();
        let alarm_at = |rows: &[AlarmRow]| {
            rows.iter()
                .filter(|r| r.alarm)
                .map(|r| r.index)
                .collect::<Vec<_>>()
        };
        assert_eq!(alarm_at(&documented), vec![14, 15, 16]);
        assert_eq!(alarm_at(&r), vec![15, 16]);
        // A missing week makes the next C3 rows unknown rather than zero.
        let mut gappy: Vec<Option<u64>> = counts.iter().copied().map(Some).collect();
        gappy[13] = None;
        let s = Series::weekly(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(), gappy);
        let rows = ears(
            &s,
            &EarsControl {
                method: EarsMethod::C3,
                ..EarsControl::default()
            },
        )
        .unwrap();
        let row = rows.iter().find(|r| r.index == 14).unwrap();
        assert!(!row.alarm && row.upperbound.is_none());
    }
}
