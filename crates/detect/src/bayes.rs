//! The Bayes system of the RKI (R `surveillance::algo.bayes`): the upper bound is the (1 − α)
//! quantile of the negative-binomial posterior predictive of a Poisson count with a flat
//! (Jeffreys-like) prior, given the reference counts: NB(size = Σ base + 1/2, prob = n/(n+1)).

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::farrington::{check_alpha, finite, resolve_range};
use crate::row::{AlarmRow, BayesDetail, MethodDetail};
use crate::stats::Discrete;
use crate::{DetectError, Series};

/// Control of [`bayes`]; `Default` is R's `algo.bayes` default ("Bayes 1").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BayesControl {
    /// R `range` (0-based, half-open). `None`: every point with enough history
    /// (R has no default range).
    pub range: Option<Range<usize>>,
    /// R `b`: years back (default 0).
    pub b: usize,
    /// R `w`: half-window (default 6).
    pub w: usize,
    /// R `actY`: include the `w` points before t of the current year (default true).
    pub act_y: bool,
    /// R `alpha`: one-sided level (default 0.05).
    pub alpha: f64,
}

impl Default for BayesControl {
    fn default() -> Self {
        BayesControl {
            range: None,
            b: 0,
            w: 6,
            act_y: true,
            alpha: 0.05,
        }
    }
}

impl BayesControl {
    /// R `algo.bayes2`: b = 1, w = 6, actY = TRUE.
    pub fn bayes2() -> Self {
        BayesControl {
            b: 1,
            ..Self::default()
        }
    }

    /// R `algo.bayes3`: b = 2, w = 4, actY = FALSE.
    pub fn bayes3() -> Self {
        BayesControl {
            b: 2,
            w: 4,
            act_y: false,
            ..Self::default()
        }
    }
}

/// Runs `algo.bayes`. Reference points `t − i·freq ± w` are taken by index, as R does.
/// Missing reference counts are skipped (R sums with `na.rm = TRUE` since 2009).
pub fn bayes(series: &Series, control: &BayesControl) -> Result<Vec<AlarmRow>, DetectError> {
    check_alpha(control.alpha)?;
    if !control.act_y && control.b == 0 {
        return Err(DetectError::control(
            "b",
            "no reference values with b = 0 and actY = FALSE",
        ));
    }
    let freq = series.freq();
    let needed = control.b * freq + control.w;
    let range = resolve_range(control.range.clone(), needed, series.len())?;
    if range.start < needed {
        return Err(DetectError::InsufficientHistory {
            index: range.start,
            needed,
            available: range.start,
        });
    }
    Ok(range
        .map(|t| {
            let mut base: Vec<usize> = Vec::new();
            if control.act_y {
                base.extend(t - control.w..t);
            }
            for i in 1..=control.b {
                let centre = t - i * freq;
                base.extend(centre - control.w..=centre + control.w);
            }
            let values: Vec<u64> = base.iter().filter_map(|&i| series.count(i)).collect();
            let n = values.len();
            let observed = series.count(t);
            let size = values.iter().sum::<u64>() as f64 + 0.5;
            let prob = n as f64 / (n as f64 + 1.0);
            let (upper, pvalue) = if n == 0 {
                (None, None)
            } else {
                let dist = Discrete::NegBin { size, prob };
                (
                    finite(dist.quantile(1.0 - control.alpha)),
                    observed.map(|y| dist.upper_tail(y)),
                )
            };
            AlarmRow {
                index: t,
                date: series.date(t),
                observed,
                expected: (n > 0).then(|| size / n as f64),
                upperbound: upper,
                alarm: matches!((observed, upper), (Some(y), Some(u)) if y as f64 > u),
                score: None,
                pvalue,
                detail: MethodDetail::Bayes(BayesDetail {
                    size,
                    prob,
                    baseline_points: n,
                }),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use statrs::distribution::{DiscreteCDF, NegativeBinomial};

    use super::*;

    fn weekly(counts: Vec<Option<u64>>) -> Series {
        Series::weekly(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(), counts)
    }

    /// Bayes 1: the bound is the 95 % quantile of NB(Σ + 1/2, n/(n+1)) over the 6 previous
    /// weeks; checked against an independent search on statrs's NB CDF.
    #[test]
    fn bayes1_bound_is_the_nb_quantile() {
        let s = weekly(vec![
            Some(2),
            Some(1),
            Some(3),
            Some(2),
            Some(2),
            Some(2),
            Some(9),
        ]);
        let rows = bayes(&s, &BayesControl::default()).unwrap();
        assert_eq!(rows.len(), 1);
        let nb = NegativeBinomial::new(12.5, 6.0 / 7.0).unwrap();
        let q = (0..).find(|&x| nb.cdf(x) >= 0.95).unwrap() as f64;
        assert_eq!(rows[0].upperbound, Some(q));
        assert_eq!(rows[0].alarm, 9.0 > q);
        assert!((rows[0].expected.unwrap() - 12.5 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn missing_reference_values_are_skipped() {
        let s = weekly(vec![
            Some(2),
            None,
            Some(3),
            Some(2),
            Some(2),
            Some(2),
            Some(1),
        ]);
        let rows = bayes(&s, &BayesControl::default()).unwrap();
        match &rows[0].detail {
            MethodDetail::Bayes(d) => assert_eq!((d.baseline_points, d.size), (5, 11.5)),
            other => panic!("{other:?}"),
        }
        let all_missing = weekly(vec![None; 7]);
        let rows = bayes(&all_missing, &BayesControl::default()).unwrap();
        assert!(rows[0].upperbound.is_none() && !rows[0].alarm);
    }

    #[test]
    fn presets_and_errors() {
        let s = weekly(vec![Some(1); 50]);
        assert!(
            bayes(&s, &BayesControl::bayes2()).is_err(),
            "needs a year and w weeks"
        );
        let long = weekly(vec![Some(1); 120]);
        let rows = bayes(&long, &BayesControl::bayes3()).unwrap();
        assert_eq!(rows.first().map(|r| r.index), Some(2 * 52 + 4));
        assert!(
            bayes(
                &s,
                &BayesControl {
                    alpha: 0.0,
                    ..BayesControl::default()
                }
            )
            .is_err()
        );
    }
}
