//! Farrington's method (`algo.farrington`) and its flexible version (`farringtonFlexible`,
//! Noufaily et al. 2013), as implemented in R's `surveillance` 1.26.0.
//!
//! Shared pieces live here: the reference time points, the threshold functions
//! (`algo.farrington.threshold.farrington` and `.noufaily`), Anscombe residuals and the
//! reweighting of past outbreaks. The two variants are in [`flexible`] and [`original`].

pub mod flexible;
pub mod original;
#[cfg(test)]
mod tests;

use chrono::{Datelike, NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};

use crate::glm::{Design, GlmFit};
use crate::row::{AlarmRow, FarringtonDetail, MethodDetail};
use crate::stats::{Discrete, pnorm_upper, qnorm};
use crate::{DetectError, Series, TimeAxis};

/// Power transformation before the normal approximation of the `"delta"` threshold
/// (R `powertrans`). The 2/3 power makes Poisson-like counts nearly symmetric
/// (Farrington et al. 1996).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PowerTransform {
    /// `"none"`: normal approximation on the count scale.
    None,
    /// `"1/2"`: square root.
    Half,
    /// `"2/3"` (R default).
    #[default]
    TwoThirds,
}

/// How `farringtonFlexible` turns the fitted mean into an upper bound (R `thresholdMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ThresholdMethod {
    /// `"delta"` (R default): Farrington 1996, delta method on the power-transformed scale.
    #[default]
    Delta,
    /// `"nbPlugin"` (Noufaily 2013): (1−α) quantile of NB(mean μ0, variance φ̂μ0).
    NbPlugin,
    /// `"muan"`: as `NbPlugin` with μ0 replaced by exp(η0 + z₁₋α se(η0)).
    Muan,
}

/// Output of a threshold function: R's `list(lower, upper, prob, score)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Lower bound L (floored at 0).
    pub lower: f64,
    /// Upper bound U.
    pub upper: f64,
    /// P(count ≥ y) under the predictive distribution (`NaN` without an observation).
    pub pvalue: f64,
    /// Exceedance score (y − fit)/(U − fit).
    pub score: f64,
}

/// R `algo.farrington.threshold.farrington` with one-sided level `alpha`: the delta-method bound
/// U = (μ0^e + z·sd)^(1/e), τ = φ + se(μ0)²/μ0. `algo.farrington` calls it with `alpha / 2`.
pub fn threshold_delta(
    mu0: f64,
    se_mu0: f64,
    phi: f64,
    powertrans: PowerTransform,
    alpha: f64,
    y: Option<u64>,
) -> Threshold {
    let z = qnorm(1.0 - alpha);
    let tau = phi + se_mu0 * se_mu0 / mu0;
    let (sd, exponent) = match powertrans {
        PowerTransform::None => ((mu0 * tau).sqrt(), 1.0),
        PowerTransform::Half => ((0.25 * tau).sqrt(), 0.5),
        PowerTransform::TwoThirds => ((4.0 / 9.0 * mu0.powf(1.0 / 3.0) * tau).sqrt(), 2.0 / 3.0),
    };
    let centre = mu0.powf(exponent);
    let a = (centre - z * sd).powf(1.0 / exponent);
    let b = (centre + z * sd).powf(1.0 / exponent);
    // R sorts with NAs first and then floors the first element at 0 (na.rm).
    let (lower, upper) = match (a.is_nan(), b.is_nan()) {
        (false, false) => (a.min(b).max(0.0), a.max(b)),
        (true, false) => (0.0, b),
        (false, true) => (0.0, a),
        (true, true) => (0.0, f64::NAN),
    };
    let y = y.map_or(f64::NAN, |y| y as f64);
    Threshold {
        lower,
        upper,
        pvalue: pnorm_upper(y.powf(exponent), centre, sd),
        score: (y - mu0) / (upper - mu0),
    }
}

/// R `algo.farrington.threshold.noufaily` for `"nbPlugin"` and `"muan"`, given the linear
/// predictor η0 and its standard error. With `log_scale_score` (R quirk 3) the score is
/// (y − η0)/(U − η0) as R computes it; otherwise (y − μ0)/(U − μ0).
pub fn threshold_nb(
    eta0: f64,
    se_eta0: f64,
    phi: f64,
    method: ThresholdMethod,
    alpha: f64,
    y: Option<u64>,
    log_scale_score: bool,
) -> Threshold {
    let mu_quantile = match method {
        ThresholdMethod::Muan => (eta0 + qnorm(1.0 - alpha) * se_eta0).exp(),
        ThresholdMethod::NbPlugin | ThresholdMethod::Delta => eta0.exp(),
    };
    if !mu_quantile.is_finite() {
        return Threshold {
            lower: f64::NAN,
            upper: f64::NAN,
            pvalue: f64::NAN,
            score: f64::NAN,
        };
    }
    let dist = Discrete::quasi(mu_quantile, phi);
    let lower = dist.quantile(alpha).max(0.0);
    let upper = dist.quantile(1.0 - alpha);
    let pvalue = y.map_or(f64::NAN, |y| dist.upper_tail(y));
    let fit = if log_scale_score { eta0 } else { eta0.exp() };
    let yf = y.map_or(f64::NAN, |y| y as f64);
    Threshold {
        lower,
        upper,
        pvalue,
        score: (yf - fit) / (upper - fit),
    }
}

/// R `algo.farrington.assign.weights`: γ·s⁻² for residuals above the threshold, γ otherwise,
/// with γ making the weights sum to n. A NaN residual (0/0 at a hat value of 1) counts as
/// below the threshold; R would propagate `NA` and fail.
pub(crate) fn assign_weights(s: &[f64], threshold: f64) -> Vec<f64> {
    let above = |s: f64| s > threshold;
    let denominator: f64 = s
        .iter()
        .map(|&s| if above(s) { s.powi(-2) } else { 1.0 })
        .sum();
    let gamma = s.len() as f64 / denominator;
    s.iter()
        .map(|&s| if above(s) { gamma * s.powi(-2) } else { gamma })
        .collect()
}

/// R `anscombe.residuals`: 3/2 (y^(2/3) μ^(−1/6) − μ^(1/2)) / sqrt(φ (1 − h)).
pub(crate) fn anscombe_residuals(fit: &GlmFit, design: &Design, y: &[f64], phi: f64) -> Vec<f64> {
    let hat = fit.hat_values(design);
    y.iter()
        .zip(&fit.fitted)
        .zip(hat)
        .map(|((&y, &mu), h)| {
            let raw = 1.5 * (y.powf(2.0 / 3.0) * mu.powf(-1.0 / 6.0) - mu.sqrt());
            raw / (phi * (1.0 - h)).sqrt()
        })
        .collect()
}

/// `date` minus `years` calendar years as R's `seq(by = "-1 year")`: 29 February becomes
/// 1 March in non-leap years (POSIXlt normalisation).
pub(crate) fn minus_years(date: NaiveDate, years: usize) -> Option<NaiveDate> {
    let year = date.year() - i32::try_from(years).ok()?;
    NaiveDate::from_ymd_opt(year, date.month(), date.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
}

fn shift_days(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    date.checked_add_signed(TimeDelta::try_days(days)?)
}

/// R `algo.farrington.referencetimepoints` for weekly dates: `t0` minus i years, each moved to
/// the nearest date with `t0`'s weekday (3 or 4 days away, so never a tie).
pub(crate) fn reference_dates(t0: NaiveDate, b: usize) -> Vec<Option<NaiveDate>> {
    let day_to_get = i64::from(t0.weekday().num_days_from_sunday());
    (0..=b)
        .map(|i| {
            let reference = minus_years(t0, i)?;
            let actual = i64::from(reference.weekday().num_days_from_sunday());
            let a = shift_days(reference, -(actual - day_to_get))?;
            let b = shift_days(a, if a > reference { -7 } else { 7 })?;
            let da = (a - reference).num_days().abs();
            let db = (b - reference).num_days().abs();
            Some(if da > db { b } else { a })
        })
        .collect()
}

/// Indices `[k, R1, .., Rb]` of the reference time points of `farringtonFlexible`.
pub(crate) fn reference_points(
    series: &Series,
    k: usize,
    b: usize,
) -> Result<Vec<usize>, DetectError> {
    match series.axis() {
        TimeAxis::Weekly { .. } => {
            let t0 = series
                .date(k)
                .ok_or(DetectError::MissingReferencePoint { index: k, years: 0 })?;
            reference_dates(t0, b)
                .into_iter()
                .enumerate()
                .map(|(years, date)| {
                    date.and_then(|d| series.index_of(d))
                        .ok_or(DetectError::MissingReferencePoint { index: k, years })
                })
                .collect()
        }
        TimeAxis::Indexed { freq } => (0..=b)
            .map(|years| {
                years
                    .checked_mul(freq)
                    .and_then(|back| k.checked_sub(back))
                    .ok_or(DetectError::MissingReferencePoint { index: k, years })
            })
            .collect(),
    }
}

/// Inclusive index range `from..=to` as R's `x[from:to] <- v` would accept it: a start of 0
/// in R's 1-based indexing (−1 here) is ignored, anything earlier is an error.
fn r_range(
    k: usize,
    from: i64,
    to: i64,
    n: usize,
) -> Result<std::ops::RangeInclusive<usize>, DetectError> {
    if from < -1 {
        let needed =
            usize::try_from(i64::try_from(k).unwrap_or(i64::MAX) - from).unwrap_or(usize::MAX);
        return Err(DetectError::InsufficientHistory {
            index: k,
            needed,
            available: k,
        });
    }
    let from = usize::try_from(from.max(0)).unwrap_or(0);
    let to = usize::try_from(to.max(0))
        .unwrap_or(0)
        .min(n.saturating_sub(1));
    Ok(from..=to)
}

/// R `blocks()`: the season factor of `farringtonFlexible`. Windows of ±w around each
/// reference point (and w back from `k`) get level `p`; with `p > 1` each gap between windows
/// is cut into `p − 1` consecutive blocks labelled 1..p−1, the first ones one point longer.
pub(crate) fn blocks(
    n: usize,
    refs: &[usize],
    w: usize,
    p: usize,
) -> Result<Vec<Option<usize>>, DetectError> {
    let mut factor = vec![None; n];
    let k = refs.first().copied().unwrap_or(0);
    let (ki, wi) = (to_i64(k), to_i64(w));
    for i in r_range(k, ki - wi, ki, n)? {
        factor[i] = Some(p);
    }
    for pair in refs.windows(2) {
        let (later, reference) = (pair[0], pair[1]);
        let ri = to_i64(reference);
        for i in r_range(k, ri - wi, ri + wi, n)? {
            factor[i] = Some(p);
        }
        if p != 1 {
            let period = to_i64(later) - 2 * wi - 1 - ri;
            let groups = to_i64(p) - 1;
            if period < to_i64(p) - (2 * wi + 1) || period < groups {
                return Err(DetectError::TooManyPeriods {
                    no_periods: p,
                    index: reference,
                    period,
                });
            }
            let (base, rest) = (period / groups, period % groups);
            let mut start = ri + wi + 1;
            for level in 1..=groups {
                let length = base + i64::from(level <= rest);
                for i in r_range(k, start, start + length - 1, n)? {
                    factor[i] = Some(usize::try_from(level).unwrap_or(0));
                }
                start += length;
            }
        }
    }
    Ok(factor)
}

pub(crate) fn to_i64(x: usize) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

/// Everything needed to finish one Farrington row once a model is (or is not) fitted.
pub(crate) struct Prediction {
    pub(crate) mu0: f64,
    pub(crate) threshold: Threshold,
    pub(crate) phi: f64,
    pub(crate) trend: Option<f64>,
    pub(crate) baseline_points: usize,
}

/// Builds the result row: R's `limit54` rule (enough cases in the last `periods` points,
/// current included) gates the alarm and the upper bound; an alarm also needs y > U and y ≠ 0.
pub(crate) fn finish_row(
    series: &Series,
    k: usize,
    limit54: (u64, usize),
    prediction: Option<Prediction>,
) -> AlarmRow {
    let observed = series.count(k);
    let (cases, periods) = limit54;
    let enough = series
        .window_sum(to_i64(k) - to_i64(periods) + 1, k)
        .map(|s| s >= cases);
    let Some(pred) = prediction else {
        return AlarmRow {
            index: k,
            date: series.date(k),
            observed,
            expected: None,
            upperbound: None,
            alarm: false,
            score: None,
            pvalue: None,
            detail: MethodDetail::Farrington(FarringtonDetail {
                fitted: false,
                phi: None,
                trend: None,
                lower: None,
                enough_cases: enough,
                baseline_points: 0,
            }),
        };
    };
    let upper = pred.threshold.upper;
    let upperbound = (enough == Some(true) && upper.is_finite()).then_some(upper);
    let alarm = match (observed, upperbound) {
        (Some(y), Some(u)) => y != 0 && (y as f64) > u,
        _ => false,
    };
    AlarmRow {
        index: k,
        date: series.date(k),
        observed,
        expected: pred.mu0.is_finite().then_some(pred.mu0),
        upperbound,
        alarm,
        score: finite(pred.threshold.score),
        pvalue: finite(pred.threshold.pvalue),
        detail: MethodDetail::Farrington(FarringtonDetail {
            fitted: true,
            phi: finite(pred.phi),
            trend: pred.trend,
            lower: finite(pred.threshold.lower),
            enough_cases: enough,
            baseline_points: pred.baseline_points,
        }),
    }
}

pub(crate) fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Validates a monitored range, or builds R's default one starting at `default_start`.
pub(crate) fn resolve_range(
    range: Option<std::ops::Range<usize>>,
    default_start: usize,
    len: usize,
) -> Result<std::ops::Range<usize>, DetectError> {
    match range {
        Some(r) => {
            if r.start >= r.end || r.end > len {
                return Err(DetectError::RangeOutOfBounds {
                    start: r.start,
                    end: r.end,
                    len,
                });
            }
            Ok(r)
        }
        None => {
            if default_start >= len {
                return Err(DetectError::InsufficientHistory {
                    index: len.saturating_sub(1),
                    needed: default_start,
                    available: len.saturating_sub(1),
                });
            }
            Ok(default_start..len)
        }
    }
}

pub(crate) fn check_alpha(alpha: f64) -> Result<(), DetectError> {
    if alpha > 0.0 && alpha < 1.0 {
        Ok(())
    } else {
        Err(DetectError::control(
            "alpha",
            format!("{alpha} is not in (0, 1)"),
        ))
    }
}

pub(crate) fn check_limit54(limit54: (u64, usize)) -> Result<(), DetectError> {
    if limit54.1 == 0 {
        return Err(DetectError::control(
            "limit54",
            "the limit54 arguments are out of bounds: cases >= 0 and period > 0",
        ));
    }
    Ok(())
}
